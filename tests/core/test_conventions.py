"""What users of the field expect around the studies: `python -m`, --version, help that lists the
studies, "did you mean", devices refused with a reason, sweep exit codes, a table of many runs,
export to CSV/Parquet/TensorBoard, and provenance that records the environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from learnability import load_runs
from learnability._version import __version__
from learnability.cli import app
from learnability.studies import get_study

runner = CliRunner()


def test_python_dash_m_version_in_a_subprocess() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "learnability", "--version"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"learnability {__version__}"


def test_run_help_lists_the_studies_and_prints_no_bool_types() -> None:
    res = runner.invoke(app, ["run", "--help"], terminal_width=200)
    assert res.exit_code == 0
    assert "teacher-student" in res.output and "bell-hierarchy" in res.output
    assert "<bool>" not in res.output


def test_a_mistyped_study_name_gets_did_you_mean() -> None:
    res = runner.invoke(app, ["run", "teacher-studnt", "--smoke"])
    assert res.exit_code == 2
    assert "Did you mean 'teacher-student'?" in res.output


def test_study_names_complete_in_the_shell() -> None:
    from learnability.cli import _complete_study

    assert _complete_study("kernel-") == ["kernel-features", "kernel-pca", "kernel-regression"]


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "CPU"])
def test_a_malformed_device_is_refused_by_the_config(device: str) -> None:
    res = runner.invoke(app, ["run", "kernel-pca", "--smoke", "--device", device])
    assert res.exit_code == 2 and "device" in res.output


def test_devices_are_refused_with_what_this_machine_allows(monkeypatch) -> None:
    from learnability import runner as runner_mod

    torch_study, numpy_study = get_study("teacher-student"), get_study("kernel-pca")
    monkeypatch.setattr(runner_mod, "available_devices", lambda: ["cpu"])
    assert runner_mod.device_problem("cpu", torch_study) is None
    assert "on this machine" in runner_mod.device_problem("cuda", torch_study)
    assert "on this machine" in runner_mod.device_problem("mps", torch_study)
    monkeypatch.setattr(runner_mod, "available_devices", lambda: ["cpu", "cuda", "cuda:0", "cuda:1"])
    assert runner_mod.device_problem("cuda:1", torch_study) is None
    assert "on this machine" in runner_mod.device_problem("cuda:2", torch_study)
    # A study that computes with NumPy says so instead of silently running on the CPU.
    assert "NumPy" in runner_mod.device_problem("cuda", numpy_study)


def test_cuda_is_refused_through_the_cli_where_absent() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    res = runner.invoke(app, ["run", "teacher-student", "--smoke", "--device", "cuda"])
    assert res.exit_code == 2 and "on this machine" in res.output


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> Path:
    from learnability import run_study

    out = tmp_path_factory.mktemp("runs")
    for seed in (1, 2):
        run_study("kernel-pca", smoke=True, seed=seed, out=out, progress=False)
    return out


def test_load_runs_gives_one_row_per_run_with_config_and_numbers(two_runs: Path) -> None:
    table = load_runs(two_runs)
    assert len(table) == 2 and set(table["seed"]) == {1, 2}
    assert (table["study"] == "kernel-pca").all() and (table["status"] == "complete").all()
    assert "config.num_gamma" in table and "summary.best_gamma" in table and "summary.pca.fisher_ratio" in table
    assert load_runs(two_runs / "nothing-here").empty


def test_export_csv_parquet_and_tensorboard_read_back(two_runs: Path, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = next(p for p in two_runs.iterdir() if p.is_dir())
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    csv = runner.invoke(app, ["export", str(run_dir), "--to", "csv", "--out", str(tmp_path / "m.csv")])
    assert csv.exit_code == 0, csv.output
    assert len(pd.read_csv(tmp_path / "m.csv")) == len(metrics)
    pq = runner.invoke(app, ["export", str(run_dir), "--to", "parquet", "--out", str(tmp_path / "m.parquet")])
    assert pq.exit_code == 0 and len(pd.read_parquet(tmp_path / "m.parquet")) == len(metrics)
    tb = runner.invoke(app, ["export", str(run_dir), "--to", "tensorboard", "--out", str(tmp_path / "tb")])
    assert tb.exit_code == 0, tb.output
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    scalars = acc.Tags()["scalars"]
    assert scalars == ["separability"]
    events = acc.Scalars("separability")
    sep = metrics[metrics["series"] == "separability"]
    assert [e.step for e in events] == sep["step"].astype(int).tolist()
    assert [e.value for e in events] == pytest.approx(sep["value"].tolist(), rel=1e-6)
    bad = runner.invoke(app, ["export", str(run_dir), "--to", "xls"])
    assert bad.exit_code == 2 and "'to'" in bad.output


def test_provenance_records_the_environment_warnings_and_stderr(two_runs: Path) -> None:
    run_dir = next(p for p in two_runs.iterdir() if p.is_dir())
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["packages"]["torch"].startswith("2.") and "numpy" in prov["packages"]
    assert "cuda" in prov and "cudnn" in prov and "diff_sha256" in prov["git"]
    assert prov["warnings"] == []
    assert (run_dir / "stderr.txt").exists()


def test_warnings_raised_during_a_run_are_recorded(tmp_path: Path, toy_study, monkeypatch) -> None:
    import warnings

    from learnability.runner import execute, resolve_config

    def noisy(cfg, ctx):
        warnings.warn("torch.compile failed (test); training eagerly.", RuntimeWarning, stacklevel=1)
        print("a line on stderr", file=sys.stderr)
        return toy_study.run(cfg, ctx)

    study = type(toy_study)(**{**toy_study.__dict__, "run": noisy})
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # the suite turns warnings into errors
        path = execute(study, resolve_config(study, smoke=True), out=tmp_path, progress=False)
    prov = json.loads((path / "provenance.json").read_text())
    assert any("training eagerly" in w and w.startswith("RuntimeWarning") for w in prov["warnings"])
    assert "a line on stderr" in (path / "stderr.txt").read_text()


def test_every_numpy_study_declares_it_computes_on_the_cpu() -> None:
    """The studies that compute with NumPy/scikit-learn refuse a GPU instead of ignoring it."""
    for name in ("kernel-features", "kernel-regression", "kernel-pca", "implicit-bias", "polynomial-regression"):
        assert get_study(name).devices == ("cpu",), name
