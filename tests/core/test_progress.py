"""Progress: named phases, a planned total that never jumps back, plain lines off a terminal."""

from __future__ import annotations

import io

from learnability._progress import Progress, format_duration


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_plain_lines_are_rate_limited_and_never_redraw() -> None:
    out, clock = io.StringIO(), Clock()
    p = Progress(desc="toy", stream=out, interactive=False, interval=30.0, clock=clock)
    p.phase("S_o sweep")
    p.add_total(1000)
    for _ in range(100):  # 100 updates over 100 s: at most one line per 30 s, not 100
        clock.t += 1.0
        p.update(10)
    p.phase("S_o seeds")
    p.add_total(10)
    clock.t += 5.0
    p.update(10)
    p.close()
    text = out.getvalue()
    lines = text.splitlines()
    assert "\r" not in text
    assert lines[0] == "toy: S_o sweep: started"
    progress_lines = [ln for ln in lines if ln.startswith("toy: S_o sweep:") and "left" in ln]
    assert 2 <= len(progress_lines) <= 4
    assert "toy: S_o sweep: 300/1,000 steps (30%), 10.0 steps/s, about 1 min 10 s left" in lines
    assert "toy: S_o seeds: started" in lines
    assert lines[-1] == "toy: S_o seeds: 10/10 steps (100%), 2.0 steps/s, 5 s elapsed"


def test_a_plan_fixes_the_total_so_the_bar_never_jumps_back() -> None:
    out = io.StringIO()
    p = Progress(desc="toy", stream=out, interactive=True)
    p.plan(300)
    p.phase("first")
    p.add_total(100)
    p.update(100)
    assert p._bar.total == 300 and p._bar.n == 100  # 33%, not 100%
    p.phase("second")
    p.add_total(200)
    assert p._bar.total == 300 and p._bar.desc.startswith("toy: second")
    p.update(150)
    p.skip(50)  # early stopping: the plan shrinks
    assert p._bar.total == 250 and p._bar.n == 250
    p.close()


def test_without_a_plan_each_phase_gets_its_own_bar() -> None:
    out = io.StringIO()
    p = Progress(desc="toy", stream=out, interactive=True)
    p.add_total(100)
    p.update(100)
    first = p._bar
    p.add_total(100)  # announced after the first finished: a new bar, not 100/200 = 50%
    assert p._bar is not first and p._bar.total == 100 and p._bar.n == 0
    assert "toy: part 2" in p._bar.desc
    p.update(40)
    p.add_total(100)  # announced while running: the same phase grows
    assert p._bar.total == 200
    p.close()


def test_disabled_progress_prints_nothing() -> None:
    out = io.StringIO()
    p = Progress(enabled=False, stream=out, interactive=False)
    p.phase("x")
    p.add_total(10)
    p.update(10)
    p.close()
    assert out.getvalue() == ""


def test_verbose_logs_phases_on_a_terminal_too() -> None:
    out = io.StringIO()
    p = Progress(desc="toy", stream=out, interactive=True, verbose=True)
    p.phase("S_u")
    p.add_total(5)
    p.update(5)
    p.close()
    assert "toy: S_u: started" in out.getvalue() and "5/5 steps (100%)" in out.getvalue()


def test_durations_read_like_words() -> None:
    assert [format_duration(s) for s in (4.4, 65, 3725)] == ["4 s", "1 min 05 s", "1 h 02 min"]


def test_unplan_withdraws_planned_work_never_announced_and_leaves_phases_alone() -> None:
    """A sweep planned with room for grid extensions it did not need: the plan shrinks before the
    next phase, so the bar ends at 100% without a jump; without a plan nothing changes."""
    out = io.StringIO()
    p = Progress(desc="toy", stream=out, interactive=True)
    p.plan(400)  # sweep 100 + two possible extensions of 100 + seeds 100
    p.phase("S_o sweep: 8 rates")
    p.add_total(100)
    p.update(100)
    p.unplan(200)  # no extension was needed
    assert p._bar.total == 200 and p._bar.n == 100
    p.phase("S_o seeds: 15 runs")
    p.add_total(100)
    p.update(100)
    assert p._bar.total == p._bar.n == 200
    p.close()
    q = Progress(desc="toy", stream=io.StringIO(), interactive=True)
    q.add_total(100)
    q.update(40)
    q.unplan(50)
    assert q._bar.total == 100 and q._bar.n == 40
    q.close()
