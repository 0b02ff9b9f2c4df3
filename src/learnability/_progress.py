"""Progress of a run: named phases, a planned total, and plain lines where there is no terminal.

The engine and the studies announce work (``add_total(n)``), report it (``update(n)``) and withdraw
work that will not run (``skip(n)``, early stopping). Two more calls make the bar honest:

- ``plan(total)``: the whole run's work, known up front (the runner calls it when the study can
  say). The bar then keeps that total and never jumps back from 100% to 40%.
- ``phase(name)``: the name of what runs now ("S_o sweep", "S_o seeds"). With a plan the one bar
  shows it; without a plan each phase gets its own bar, so a total announced late starts a new bar
  instead of growing a finished one (work announced after the current bar finished also starts a
  new, numbered phase).

Where stderr is a terminal the bar is tqdm's (``tqdm.auto``'s widget in notebooks with ipywidgets);
elsewhere (CI, a log file, a notebook's captured stderr) progress is plain lines: one when a phase
starts and ends, and at most one every ``interval`` seconds in between, never carriage-return
redraws. ETAs use the phase's average rate since it started (tqdm ``smoothing=0``), not the last
few updates, so they do not swing with one slow block.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["NULL_PROGRESS", "Progress", "format_duration"]

# Plain-line mode: at most one line per this many seconds within a phase (phase changes always print).
LINE_INTERVAL_S = 30.0


def _in_notebook_with_widgets() -> bool:
    try:
        from IPython import get_ipython  # type: ignore[attr-defined]

        shell = get_ipython()
        if shell is None or "IPKernelApp" not in shell.config:
            return False
        import ipywidgets  # noqa: F401
    except Exception:  # noqa: BLE001 - any failure means: use the text bar
        return False
    return True


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``: durations for people, not ``0:03:05.412``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Progress:
    """Progress of one run, shared by every training phase of a study.

    Args:
        enabled: show anything at all (``--quiet`` / ``--no-progress`` turn it off).
        desc: label of the run (the study's name).
        unit: what ``update`` counts.
        verbose: also log each phase's start and end as a line (``--verbose``), bar or not.
        stream: where to write (default ``sys.stderr`` at the time of writing).
        interactive: draw a redrawing bar (True) or plain lines (False); default: whether the
            stream is a terminal, or a notebook with widgets.
        interval: plain-line mode, the least number of seconds between two lines within a phase.
        clock: seconds, monotonic (tests pass a fake).
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        desc: str = "",
        unit: str = "step",
        verbose: bool = False,
        stream: TextIO | None = None,
        interactive: bool | None = None,
        interval: float = LINE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self.verbose = verbose
        self._desc = desc
        self._unit = unit
        self._stream = stream
        self._interactive = interactive
        self._interval = interval
        self._clock = clock
        self._bar: Any = None
        self._planned: int | None = None  # the run's whole work, when known up front
        self._total = 0  # work announced in the current phase (the run, with a plan)
        self._done = 0
        self._phase = ""
        self._phase_index = 0
        self._named = False  # the current phase was named by phase(), not numbered
        self._t0 = clock()
        self._last_line = -float("inf")

    # ----------------------------------------------------------------- output

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    @property
    def interactive(self) -> bool:
        if self._interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            self._interactive = bool(isatty and isatty()) or _in_notebook_with_widgets()
        return self._interactive

    def _label(self) -> str:
        if self._desc and self._phase:
            return f"{self._desc}: {self._phase}"
        return self._desc or self._phase

    def _write_line(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _status(self) -> str:
        """``S_o sweep: 1,200/4,000 steps (30%), 95.1 steps/s, 29 s left`` (plain-line mode)."""
        elapsed = self._clock() - self._t0
        total = self._planned if self._planned is not None else self._total
        rate = self._done / elapsed if elapsed > 0 else 0.0
        parts = [f"{self._done:,}/{total:,} {self._unit}s"]
        if total > 0:
            parts[0] += f" ({100 * self._done / total:.0f}%)"
        if rate > 0:
            parts.append(f"{rate:,.1f} {self._unit}s/s")
            if total > self._done:
                parts.append(f"about {format_duration((total - self._done) / rate)} left")
        return f"{self._label()}: " + ", ".join(parts)

    def _ensure_bar(self) -> Any:
        if self._bar is None and self.enabled and self.interactive:
            if _in_notebook_with_widgets():
                from tqdm.notebook import tqdm
            else:
                from tqdm import tqdm
            total = self._planned if self._planned is not None else self._total
            self._bar = tqdm(
                total=total,
                initial=self._done,
                desc=self._label(),
                unit=self._unit,
                dynamic_ncols=True,
                file=self.stream,
                leave=True,
                smoothing=0,
            )
        return self._bar

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    # ----------------------------------------------------------------- phases

    def plan(self, total: int) -> None:
        """Announce the whole run's work up front: one bar of fixed total for every phase.

        Later ``add_total`` calls do not grow it (they are part of the plan) unless the work
        announced exceeds it; ``skip`` shrinks it.
        """
        self._planned = int(total)
        if self._bar is not None:
            self._bar.total = self._planned
            self._bar.refresh()

    def phase(self, name: str) -> None:
        """Start the phase ``name`` ("S_o sweep", "S_o seeds"): shown by the bar and the lines."""
        self._start_phase(name, named=True)

    def _start_phase(self, name: str, *, named: bool) -> None:
        if not self.enabled:
            self._phase, self._named = name, named
            return
        self._end_phase()
        self._phase, self._named = name, named
        self._phase_index += 1
        if self._planned is None:  # a new bar (and counts) per phase
            self._total = self._done = 0
            self._t0 = self._clock()
        if self.verbose or not self.interactive:
            self._write_line(f"{self._label()}: started")
            self._last_line = self._clock()
        if self._bar is not None:
            self._bar.set_description(self._label())

    def _end_phase(self) -> None:
        if not self._phase_index:
            return
        if self.verbose or not self.interactive:
            self._write_line(self._status() + f", {format_duration(self._clock() - self._t0)} elapsed")
        if self._planned is None:
            self._close_bar()

    # ----------------------------------------------------------------- work

    def add_total(self, n: int) -> None:
        """Announce ``n`` more steps of work in the current phase."""
        n = int(n)
        if self._planned is None and (self._phase_index == 0 or (self._total and self._done >= self._total)):
            # Work announced after the current bar finished: a new phase, not a bar that jumps back.
            self._start_phase(f"part {self._phase_index + 1}", named=False)
        self._total += n
        if self._planned is not None and self._total > self._planned:
            self._planned = self._total  # the plan was short: grow, do not overflow
        bar = self._ensure_bar()
        if bar is not None:
            bar.total = self._planned if self._planned is not None else self._total
            bar.refresh()

    def update(self, n: int) -> None:
        """``n`` steps done."""
        self._done += int(n)
        if not self.enabled:
            return
        bar = self._ensure_bar()
        if bar is not None:
            bar.update(int(n))
        elif self._clock() - self._last_line >= self._interval:
            self._write_line(self._status())
            self._last_line = self._clock()

    def skip(self, n: int) -> None:
        """Remove ``n`` announced steps that will not run (early stopping)."""
        self._total -= int(n)
        if self._planned is not None:
            self._planned -= int(n)
        if self._bar is not None:
            self._bar.total = self._planned if self._planned is not None else self._total
            self._bar.refresh()

    def unplan(self, n: int) -> None:
        """Withdraw ``n`` units of planned work that will never be announced (a grid extension the
        sweep did not need); no effect without a plan. Unlike :meth:`skip`, the current phase's
        announced work is left as it is."""
        if self._planned is None:
            return
        self._planned -= int(n)
        if self._bar is not None:
            self._bar.total = self._planned
            self._bar.refresh()

    def describe(self, text: str) -> None:
        """Name what runs now without starting a new bar (a detail within a phase)."""
        self._phase = text
        if self._bar is not None:
            self._bar.set_description(self._label())

    def close(self) -> None:
        """End the last phase (a final line in plain-line mode) and close the bar."""
        if self.enabled:
            self._end_phase()
            self._phase_index = 0
        self._close_bar()


NULL_PROGRESS = Progress(enabled=False)
