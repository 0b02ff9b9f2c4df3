"""The run folder: contents after a run, reproducibility, and survival of crashes and kills."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from learnability import load_run
from learnability.runner import execute, flushing_denormals, rebuild_report, resolve_config, run_study
from learnability.runs import RunWriter, read_metrics_jsonl


def test_run_folder_contents(toy_study, tmp_path) -> None:
    run = run_study("toy-regression", smoke=True, out=tmp_path, progress=False, seed=3)
    p = run.path
    for name in (
        "config.toml",
        "provenance.json",
        "metrics.jsonl",
        "metrics.parquet",
        "summary.json",
        "report.md",
        "figures/curves.png",
        "figures/curves.svg",
        "artifacts/sweep.parquet",
    ):
        assert (p / name).exists(), name
    prov = json.loads((p / "provenance.json").read_text())
    for key in (
        "version",
        "git",
        "python",
        "torch",
        "numpy",
        "device",
        "threads",
        "seed",
        "command",
        "started",
        "finished",
        "wall_seconds",
    ):
        assert key in prov, key
    assert prov["status"] == "complete" and prov["seed"] == 3
    assert run.status == "complete" and run.complete
    assert run.config.seed == 3 and run.config.train.steps == 100  # smoke size applied
    m = run.metrics
    assert set(m["series"]) >= {"train_loss", "test_loss"}
    final = m[(m["series"] == "train_loss") & (m["tag"] == "final")]
    assert sorted(final["member"].unique()) == [0, 1]
    assert final.groupby("member")["step"].max().tolist() == [99, 99]
    assert run.summary["study"] == "toy-regression" and run.summary["test_mse"] > 0
    report = (p / "report.md").read_text()
    assert "status:** complete" in report and f"{run.summary['test_mse']:.3g}" in report
    assert isinstance(run.load_table("sweep"), pd.DataFrame)


def test_same_seed_same_numbers(toy_study, tmp_path) -> None:
    a = run_study("toy-regression", smoke=True, out=tmp_path / "a", progress=False, seed=5)
    b = run_study("toy-regression", smoke=True, out=tmp_path / "b", progress=False, seed=5)
    c = run_study("toy-regression", smoke=True, out=tmp_path / "c", progress=False, seed=6)
    cols = ["series", "tag", "step", "member", "value"]
    pd.testing.assert_frame_equal(a.metrics[cols], b.metrics[cols])
    assert a.summary["test_mse"] == b.summary["test_mse"]
    assert a.summary["test_mse"] != c.summary["test_mse"]


def test_flushing_denormals_is_scoped_to_the_run(toy_study, tmp_path) -> None:
    """Runs flush subnormals for speed but leave the process's floating-point mode as they found it."""
    subnormal = np.float32(np.finfo(np.float32).tiny) / np.float32(2)
    assert subnormal != 0  # IEEE default before
    seen: list[bool] = []
    with flushing_denormals() as supported:
        seen.append(bool(np.float32(np.finfo(np.float32).tiny) / np.float32(2) == 0))
    if supported:
        assert seen == [True]
    run_study("toy-regression", smoke=True, out=tmp_path, progress=False)
    assert np.float32(np.finfo(np.float32).tiny) / np.float32(2) != 0  # restored after a run


def test_run_study_threads_apply_to_the_run_only(toy_study, tmp_path) -> None:
    import torch

    from learnability._validation import ParameterError

    before = torch.get_num_threads()
    run = run_study("toy-regression", smoke=True, out=tmp_path, progress=False, threads=2)
    assert run.provenance["threads"] == 2 and torch.get_num_threads() == before
    with pytest.raises(ParameterError, match=r"The 'threads' parameter of run_study must be an int"):
        run_study("toy-regression", smoke=True, out=tmp_path, progress=False, threads=0)


def test_metrics_survive_a_cut_last_line(tmp_path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"series":"a","step":0,"value":[1.0,2.0]}\n{"series":"a","step":1,"va')
    df = read_metrics_jsonl(path)
    assert len(df) == 2 and df["member"].tolist() == [0, 1] and df["value"].tolist() == [1.0, 2.0]


def test_non_finite_values_round_trip(tmp_path) -> None:
    from learnability.config import StudyConfig

    w = RunWriter(tmp_path / "r", study="x", config=StudyConfig(), config_toml="seed = 0\n")
    w.log_block("train_loss", [0, 1], np.array([[1.0, np.nan], [0.5, np.inf]]), tag="t")
    w.finish({"best": float("nan")})
    df = read_metrics_jsonl(tmp_path / "r" / "metrics.jsonl")
    assert np.isnan(df["value"].iloc[1]) and np.isinf(df["value"].iloc[3])
    json.loads((tmp_path / "r" / "summary.json").read_text())  # strict JSON


def test_exception_marks_failed_and_keeps_metrics(toy_study, tmp_path, monkeypatch) -> None:
    import learnability.engine.lr_search as sweep_mod

    def boom(*args, **kwargs):
        raise RuntimeError("selection exploded")

    monkeypatch.setattr(sweep_mod, "select_lr", boom)
    cfg = resolve_config(toy_study, smoke=True)
    with pytest.raises(RuntimeError, match="selection exploded"):
        execute(toy_study, cfg, out=tmp_path, progress=False)
    (run_dir,) = tmp_path.iterdir()
    run = load_run(run_dir)
    assert run.status == "failed" and not run.summary
    assert "selection exploded" in run.provenance["error"]
    assert (run.metrics["series"] == "train_loss").any()
    text = (run_dir / "report.md").read_text()
    assert "incomplete run" in text and "FAILED" in text


def test_killed_run_is_readable_and_reportable(toy_study, toy_script, tmp_path) -> None:
    out = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, str(toy_script), str(out), "pause_per_block=0.02", "train.steps=100000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.time() + 60
        metrics = None
        while time.time() < deadline:
            found = list(out.glob("*/metrics.jsonl")) if out.exists() else []
            if found and found[0].stat().st_size > 2000:
                metrics = found[0]
                break
            time.sleep(0.2)
        assert metrics is not None, "the run never wrote metrics"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    run = load_run(metrics.parent)
    assert run.status == "incomplete" and not run.complete
    assert (run.metrics["series"] == "train_loss").sum() > 0
    rebuild_report(run.path)
    text = (run.path / "report.md").read_text()
    assert "This run is incomplete" in text and "recorded_curves.png" in text
    assert (run.path / "figures" / "recorded_curves.png").exists()


def test_load_run_rejects_non_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        load_run(tmp_path)
