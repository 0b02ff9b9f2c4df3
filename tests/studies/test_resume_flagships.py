"""Kill a study, resume it, and get the same ``summary.json`` numbers as the run never killed.

The flagship studies are cut several times in one run (inside a learning-rate sweep, between two
stages, inside the seed training), resumed after each cut, and compared with the session's
uninterrupted smoke run (same seed, same thread count). Every other study is cut once mid-run
(``-m slow``; two of them in the default suite), and the flagships once more at full size
(``-m slow``). The core cases (SIGKILL, refusals, the report) are in ``tests/core/test_resume.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import learnability.runner as runner
from learnability.engine.checkpoints import CheckpointStore
from learnability.runner import execute, resolve_config, resume_run
from learnability.runs import RunWriter, read_run
from learnability.studies import get_study, list_studies

# Timings and what is decided from them (a benchmark study measures speed): not numbers a resume
# must reproduce.
TIMING = ("wall_seconds", "seconds", "timing", "_ms", "_per_s", "slowdown", "bottleneck")


def numbers(path: Path) -> dict:
    """``summary.json`` without timings."""

    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if not any(t in k for t in TIMING)}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    return strip(json.loads((Path(path) / "summary.json").read_text()))


def records(path: Path) -> list[str]:
    """The records of ``metrics.jsonl`` without their clock."""
    out = []
    for line in (Path(path) / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        rec.pop("t", None)
        out.append(json.dumps(rec, sort_keys=True))
    return out


Cut = Callable[[dict], bool]


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint after every block; no report drawn on the cut runs (the reports are tested
    on the smoke runs)."""
    monkeypatch.setenv("LEARNABILITY_CHECKPOINT_SECONDS", "0")
    monkeypatch.setattr(runner, "rebuild_report", lambda path: Path(path) / "report.md")


def cut_and_resume(name: str, out: Path, cuts: list[Cut], monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list]:
    """Run ``name`` at smoke size with seed 0, stopping after the first checkpoint that each cut
    accepts (one cut per segment: the run, then each resume); resume until complete."""
    study = get_study(name)
    cfg = resolve_config(study, smoke=True, overrides={"seed": 0})
    pending = list(cuts)
    seen: list[dict] = []

    def hook(n: int, entry: dict) -> None:
        seen.append(entry)
        if pending and pending[0](entry):
            pending.pop(0)
            raise KeyboardInterrupt(f"test: cut after {entry}")

    monkeypatch.setattr(CheckpointStore, "after_save", hook)
    with pytest.raises(KeyboardInterrupt):
        execute(study, cfg, out=out, progress=False, smoke=True)
    (folder,) = out.iterdir()
    for _ in range(len(cuts)):
        if not pending:
            resume_run(folder, progress=False)
            break
        with pytest.raises(KeyboardInterrupt):
            resume_run(folder, progress=False)
    assert not pending, f"cuts never reached: {len(pending)} (checkpoints seen: {seen})"
    assert read_run(folder).complete
    return folder, seen


def _inside(tag_part: str) -> Cut:
    return lambda e: tag_part in (e["tag"] or "") and e["part"]


def _after(tag: str) -> Cut:
    return lambda e: e["tag"] == tag and not e["part"]


FLAGSHIP_CUTS = {
    # S_u's sweep (inside), S_e's sweep done (between stages), S_o's seeds (inside)
    "teacher-student": [_inside("S_u/sweep"), _after("S_e/sweep"), _inside("S_o/seeds")],
    # the first rung (inside), the halving done (between stages), the final training (inside)
    "bell-hierarchy": [_inside("sweep/rung0"), _after("sweep/rung1"), _inside("final")],
}


@pytest.mark.parametrize("name", sorted(FLAGSHIP_CUTS))
def test_a_flagship_cut_three_times_resumes_to_the_same_numbers(name, smoke_run, tmp_path, monkeypatch, quick) -> None:
    reference = smoke_run(name).path
    folder, _ = cut_and_resume(name, tmp_path, FLAGSHIP_CUTS[name], monkeypatch)
    assert numbers(folder) == numbers(reference)
    assert records(folder) == records(reference)  # no record lost, none twice
    resumes = read_run(folder).provenance["resumes"]
    assert [r["previous_status"] for r in resumes] == ["interrupted"] * 3


def _cut_mid_run(name: str, reference, monkeypatch: pytest.MonkeyPatch) -> list[Cut]:
    """One cut in the middle of a study: at the first checkpoint of its middle training call;
    a study that never trains through the engine is cut at its first record or artifact."""
    calls = int((reference.provenance.get("checkpoints") or {}).get("train_calls", 0))
    if calls:
        return [lambda e, c=calls // 2: e["call"] >= c]
    state = {"armed": True}
    for method in ("log", "log_block", "save_arrays", "save_table", "save_json"):
        real = getattr(RunWriter, method)

        def cut(self, *args, _real=real, **kwargs):
            if state["armed"] and not self.muted:
                state["armed"] = False
                raise KeyboardInterrupt("test: cut at the first record")
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(RunWriter, method, cut)
    return [lambda e: False]


DEFAULT_SUITE = {"deep-sets", "kernel-regression"}
# A benchmark whose findings are measured speeds (loader vs compute): they differ run to run.
MEASURES_SPEED = {"data-pipeline"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(s.name, marks=() if s.name in DEFAULT_SUITE else pytest.mark.slow)
        for s in list_studies()
        if s.name not in FLAGSHIP_CUTS
    ],
)
def test_every_study_cut_mid_run_resumes_to_the_same_numbers(name, smoke_run, tmp_path, monkeypatch, quick) -> None:
    reference = smoke_run(name)
    cuts = _cut_mid_run(name, reference, monkeypatch)
    study = get_study(name)
    cfg = resolve_config(study, smoke=True, overrides={"seed": 0})
    pending = list(cuts)

    def hook(n: int, entry: dict) -> None:
        if pending and pending[0](entry):
            pending.pop(0)
            raise KeyboardInterrupt("test: cut")

    monkeypatch.setattr(CheckpointStore, "after_save", hook)
    with pytest.raises(KeyboardInterrupt):
        execute(study, cfg, out=tmp_path, progress=False, smoke=True)
    monkeypatch.undo()  # no cut, the real writer and report from here on
    monkeypatch.setenv("LEARNABILITY_CHECKPOINT_SECONDS", "0")
    monkeypatch.setattr(runner, "rebuild_report", lambda path: Path(path) / "report.md")
    (folder,) = tmp_path.iterdir()
    resume_run(folder, progress=False)
    if name in MEASURES_SPEED:  # its numbers are speeds: the same summary, other values
        assert read_run(folder).complete and numbers(folder).keys() == numbers(reference.path).keys()
        return
    assert numbers(folder) == numbers(reference.path)
    assert records(folder) == records(reference.path)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FLAGSHIP_CUTS))
def test_a_flagship_at_full_size_cut_twice_resumes_to_the_same_numbers(name, tmp_path, monkeypatch) -> None:
    """Full size (the study's own runtime, twice): an uninterrupted run, then one cut inside a
    sweep and inside the seed training (checkpoints at the default pace) and resumed."""
    monkeypatch.setattr(runner, "rebuild_report", lambda path: Path(path) / "report.md")
    study = get_study(name)
    cfg = resolve_config(study, overrides={"seed": 0})
    reference = execute(study, cfg, out=tmp_path / "reference", progress=False)
    checkpoints = json.loads((reference / "provenance.json").read_text())["checkpoints"]
    assert checkpoints["seconds"] < 0.02 * json.loads((reference / "summary.json").read_text())["wall_seconds"]
    monkeypatch.setenv("LEARNABILITY_CHECKPOINT_SECONDS", "30")
    first, last = FLAGSHIP_CUTS[name][0], FLAGSHIP_CUTS[name][-1]
    pending = [first, last]

    def hook(n: int, entry: dict) -> None:
        if pending and pending[0](entry):
            pending.pop(0)
            raise KeyboardInterrupt("test: cut")

    monkeypatch.setattr(CheckpointStore, "after_save", hook)
    with pytest.raises(KeyboardInterrupt):
        execute(study, cfg, out=tmp_path / "cut", progress=False)
    (folder,) = (tmp_path / "cut").iterdir()
    with pytest.raises(KeyboardInterrupt):
        resume_run(folder, progress=False)
    resume_run(folder, progress=False)
    assert numbers(folder) == numbers(reference)
    assert records(folder) == records(reference)
