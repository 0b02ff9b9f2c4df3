"""The local backend: failures, resume, workers, a dying worker and a killed sweep."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from learnability import load_run
from learnability.sweep import load_sweep, run_sweep
from learnability.sweep._layout import attempts_of

from .conftest import PROBE_MODULE, TINY_BASE

# Seconds to wait for the first run of the killed sweep to finish (a cold worker imports torch).
KILL_WAIT_S = 120


def _last_invocation(sweep_dir: Path) -> dict:
    return json.loads((sweep_dir / "sweep.json").read_text())["invocations"][-1]


def _counts(sweep_dir: Path) -> tuple[int, int, int]:
    """(executed, failed, skipped) of the sweep's last invocation."""
    inv = _last_invocation(sweep_dir)
    return inv["executed"], inv["failed"], inv["skipped"]


def test_a_failing_run_is_recorded_and_a_rerun_retries_only_unfinished_runs(write_sweep, tmp_path) -> None:
    # lr_low = 1.0 is a valid config but LRGrid refuses lr_low > lr_high (0.1) at run time.
    path = write_sweep(TINY_BASE + "[axes]\nlr_low = [0.001, 1.0]\n")
    out = tmp_path / "out"
    sweep = run_sweep(path, out=out, progress=False)
    assert sweep == (out / "tiny").resolve()
    df = load_sweep(sweep)
    assert df["status"].tolist() == ["complete", "failed"]
    assert df["lr_low"].tolist() == [0.001, 1.0] and df["seed"].tolist() == [0, 0]
    assert df["error"][1] == (
        "ParameterError: The 'high' parameter of LRGrid must be a float in the range (1, inf). Got 0.1 instead."
    )
    assert df["error"].isna()[0]
    ok, failed = (load_run(p) for p in df["path"])
    assert ok.summary["test_mse"] == df["test_mse"][0] > 0 and ok.summary["lr"] == df["lr"][0]
    assert math.isnan(df["test_mse"][1])
    assert failed.status == "failed" and "Traceback" in failed.provenance["error"]
    assert failed.path.name == df["run_id"][1] and failed.provenance["command"][:2] == ["learnability", "sweep"]
    assert _counts(sweep) == (2, 1, 0)
    assert not (sweep / "staging").exists()
    report = (sweep / "report.md").read_text()
    assert "## Failures" in report and df["run_id"][1] in report and "LRGrid" in report
    agg = pd.read_parquet(sweep / "aggregate.parquet")
    assert agg.loc[agg["lr_low"] == 1.0, "n"].tolist() == [0, 0]  # lr and test_mse

    # Re-run: the complete run is skipped (its folder untouched), the failed one is retried.
    ok_provenance = (ok.path / "provenance.json").read_text()
    run_sweep(path, out=out, progress=False)
    assert _counts(sweep) == (1, 1, 1)
    assert (ok.path / "provenance.json").read_text() == ok_provenance
    assert (sweep / "attempts" / f"{df['run_id'][1]}-1" / "provenance.json").exists()
    assert load_sweep(sweep)["attempts"].tolist() == [0, 1]

    # A new axis value: only the new run and the failed one execute.
    path.write_text(path.read_text().replace("[0.001, 1.0]", "[0.001, 1.0, 0.002]"))
    run_sweep(path, out=out, progress=False)
    assert _counts(sweep) == (2, 1, 1)
    df = load_sweep(sweep)
    assert df["status"].tolist() == ["complete", "failed", "complete"]
    assert df["attempts"].tolist() == [0, 2, 0]
    assert (ok.path / "provenance.json").read_text() == ok_provenance
    assert len(list((sweep / "history").iterdir())) == 1  # the earlier sweep file, kept


def test_the_local_backend_runs_the_requested_workers_at_once(write_sweep, tmp_path) -> None:
    # Each run waits until two distinct worker processes have reached the barrier: the sweep
    # can only finish if two workers run at the same time.
    barrier = tmp_path / "barrier"
    path = write_sweep(
        TINY_BASE + f'barrier_dir = "{barrier}"\nbarrier_n = 2\nbarrier_timeout = 60.0\n[axes]\nn_train = [16, 32]\n',
        study="toy-probe",
        modules=[PROBE_MODULE],
    )
    sweep = run_sweep(path, out=tmp_path / "out", workers=2, progress=False)
    df = load_sweep(sweep)
    assert (df["status"] == "complete").all(), df["error"].tolist()
    pids = set(df["worker_pid"])
    assert len(pids) == 2 and os.getpid() not in pids
    assert {int(p.name) for p in barrier.iterdir()} == pids
    assert df["threads"].tolist() == [1, 1]  # 2 workers x 1 thread on this 2-core machine
    resources = _last_invocation(sweep)["resources"]
    assert (resources["backend"], resources["workers"], resources["threads"]) == ("local", 2, 1)


def test_a_worker_that_dies_fails_only_its_run(write_sweep, tmp_path) -> None:
    path = write_sweep(TINY_BASE + "[axes]\nexit_code = [3, -1]\n", study="toy-probe", modules=[PROBE_MODULE])
    sweep = run_sweep(path, out=tmp_path / "out", workers=1, threads=2, progress=False)
    df = load_sweep(sweep)
    assert df["status"].tolist() == ["failed", "complete"]
    assert df["error"][0].startswith("BrokenProcessPool: a worker process of the local pool died")
    assert pd.isna(df["path"][0])  # no run folder: the worker died before it could publish one
    assert df["threads"][1] == 2 and load_run(df["path"][1]).provenance["threads"] == 2
    assert _last_invocation(sweep)["resources"]["threads"] == 2


def test_killing_the_sweep_loses_no_finished_run(write_sweep, tmp_path) -> None:
    # Runs of ~1-2 s (pauses in the data source); the whole process group is killed with
    # SIGKILL once the first run has finished, as a machine crash or an OOM kill would.
    path = write_sweep("seeds = 3\n" + TINY_BASE + "pause_per_block = 0.3\n")
    out = tmp_path / "out"
    code = (
        f"from learnability.sweep import run_sweep; run_sweep({str(path)!r}, out={str(out)!r}, "
        "workers=1, progress=False)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    runs = out / "tiny" / "runs"
    deadline = time.monotonic() + KILL_WAIT_S
    try:
        while not (runs.is_dir() and any((p / "summary.json").exists() for p in runs.iterdir())):
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no run finished in time"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    sweep = out / "tiny"
    finished = {p.name: (p / "provenance.json").read_text() for p in runs.iterdir() if (p / "summary.json").exists()}
    in_flight = {p.name for p in (sweep / "staging").iterdir()} if (sweep / "staging").exists() else set()
    assert finished and len(finished) < 3
    refreshed = load_sweep(sweep, refresh=True)
    assert set(refreshed.loc[refreshed["status"] == "complete", "run_id"]) == set(finished)

    run_sweep(path, out=out, workers=1, progress=False)
    assert _counts(sweep) == (3 - len(finished), 0, len(finished))
    assert {name: (runs / name / "provenance.json").read_text() for name in finished} == finished
    # A killed attempt with a checkpoint is resumed in its folder; one killed before its first
    # checkpoint is kept aside, as a run folder that stopped while running.
    resumed = {r for r in in_flight if load_run(runs / r).provenance.get("resumes")}
    assert attempts_of(sweep) == {run_id: 1 for run_id in in_flight - resumed}
    for run_id in in_flight - resumed:
        assert load_run(sweep / "attempts" / f"{run_id}-1").status == "incomplete"
    df = load_sweep(sweep)
    assert (df["status"] == "complete").all() and df["seed"].tolist() == [0, 1, 2]

    run_sweep(path, out=out, progress=False)  # nothing left to do: no worker starts
    assert _counts(sweep) == (0, 0, 3)
    assert _last_invocation(sweep)["status"] == "complete"
