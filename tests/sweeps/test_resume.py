"""A sweep resumes an interrupted run from its checkpoint instead of restarting it."""

from __future__ import annotations

import json

import pytest

from learnability import load_run
from learnability.engine.checkpoints import CheckpointStore
from learnability.sweep import load_sweep, run_sweep
from learnability.sweep._backends import choose_resources
from learnability.sweep._layout import attempts_of
from learnability.sweep._plan import plan_sweep
from learnability.sweep._sweep import build_tasks
from learnability.sweep._worker import run_one

from .conftest import TINY_BASE


def _numbers(run) -> dict:
    return {k: v for k, v in run.summary.items() if k != "wall_seconds"}


def test_an_interrupted_run_resumes_from_its_checkpoint(write_sweep, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LEARNABILITY_CHECKPOINT_SECONDS", "0")  # a checkpoint after every block
    path = write_sweep(TINY_BASE)
    plan = plan_sweep(path)
    resources = choose_resources("local", 1, workers=1, threads=1)
    # The reference: the same run never interrupted, by the same worker function (in this process).
    (ref_task,) = build_tasks(plan, plan.runs, (tmp_path / "reference").resolve(), resources)
    reference = run_one(ref_task)
    assert reference["status"] == "complete"

    # The run is interrupted inside its training (as by Ctrl-C in its worker) ...
    sweep = (tmp_path / "out" / plan.name).resolve()
    sweep.mkdir(parents=True)
    (task,) = build_tasks(plan, plan.runs, sweep, resources)
    saved: list[dict] = []

    def cut(n: int, entry: dict) -> None:
        saved.append(entry)
        if n == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(CheckpointStore, "after_save", cut)
    with pytest.raises(KeyboardInterrupt):
        run_one(task)
    monkeypatch.setattr(CheckpointStore, "after_save", None)
    folder = sweep / "runs" / task.run_id
    assert load_run(folder).status == "interrupted" and (folder / "checkpoints" / "index.json").exists()
    kept = json.loads((folder / "checkpoints" / "index.json").read_text())["last"]
    assert kept["call"] == saved[-1]["call"] and kept["step"] == saved[-1]["step"]

    # ... and running the sweep again continues it in its folder, to the same numbers.
    run_sweep(path, out=tmp_path / "out", workers=1, progress=False)
    df = load_sweep(sweep)
    assert df["status"].tolist() == ["complete"]
    assert attempts_of(sweep) == {}  # nothing restarted, nothing moved aside
    run = load_run(folder)
    (resume,) = run.provenance["resumes"]
    assert resume["previous_status"] == "interrupted" and resume["metrics_bytes_kept"] > 0
    assert _numbers(run) == _numbers(load_run(tmp_path / "reference" / reference["path"]))
