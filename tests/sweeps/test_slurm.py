"""The Slurm backend (submitit), run with submitit's local executor: the same run folders,
results table, failure handling and resume as the local pool."""

from __future__ import annotations

import json

import pytest

from learnability.sweep import load_sweep, run_sweep

from .conftest import TINY_BASE

submitit = pytest.importorskip("submitit")


def test_slurm_backend_runs_each_run_as_a_job_and_resumes(write_sweep, tmp_path) -> None:
    # lr_low = 1.0 is a valid config that fails at run time (LRGrid refuses lr_low > lr_high).
    path = write_sweep(TINY_BASE + "[axes]\nlr_low = [0.001, 1.0]\n")
    out = tmp_path / "out"
    sweep = run_sweep(path, backend="slurm", out=out, progress=False, slurm={"cluster": "local", "timeout_min": 5})
    df = load_sweep(sweep)
    assert df["status"].tolist() == ["complete", "failed"]
    assert "LRGrid" in df["error"][1]
    assert (sweep / "slurm").is_dir() and any((sweep / "slurm").iterdir())  # submitit's job files
    first = (sweep / df["path"][0] / "summary.json").stat().st_mtime_ns
    # Resume: the complete run is kept, only the failed one is submitted again.
    run_sweep(path, backend="slurm", out=out, progress=False, slurm={"cluster": "local", "timeout_min": 5})
    df2 = load_sweep(sweep)
    assert df2["status"].tolist() == ["complete", "failed"]
    assert (sweep / df2["path"][0] / "summary.json").stat().st_mtime_ns == first
    last = json.loads((sweep / "sweep.json").read_text())["invocations"][-1]
    assert (last["executed"], last["failed"], last["skipped"]) == (1, 1, 1)
