"""The command line: listing, running, config errors before any work, report rebuilding."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from learnability.cli import EXIT_CONFIG, app

runner = CliRunner()


def test_list_shows_studies(toy_study) -> None:
    res = runner.invoke(app, ["list"])
    assert res.exit_code == 0
    assert "toy-regression" in res.output and "Toy regression used by the core tests." in res.output


def test_run_prints_folder_last(toy_study, tmp_path) -> None:
    res = runner.invoke(
        app,
        [
            "run",
            "toy-regression",
            "--smoke",
            "--seed",
            "2",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--set",
            "train.seeds=3",
        ],
    )
    assert res.exit_code == 0, res.output
    last = res.output.strip().splitlines()[-1]
    summary = json.loads((tmp_path / last.split("/")[-1] / "summary.json").read_text())
    assert len(summary["test_mse_members"]) == 3


def test_config_errors_exit_before_work(toy_study, tmp_path) -> None:
    res = runner.invoke(
        app, ["run", "toy-regression", "--out", str(tmp_path), "--set", "train.steps=0", "--set", "bogus=1"]
    )
    assert res.exit_code == EXIT_CONFIG
    assert (
        "The 'train.steps' parameter of toy-regression must be an int in the range [1, inf). Got 0 instead."
    ) in res.output
    assert "Unknown parameter 'bogus' for toy-regression" in res.output
    assert not any(tmp_path.iterdir())  # nothing was started


def test_unknown_study(toy_study) -> None:
    res = runner.invoke(app, ["run", "no-such-study"])
    assert res.exit_code == EXIT_CONFIG and "'study' parameter of learnability must be one of" in res.output


def test_cuda_refused_without_gpu(toy_study) -> None:
    import torch

    if torch.cuda.is_available():
        return  # the refusal only applies to machines without CUDA
    res = runner.invoke(app, ["run", "toy-regression", "--device", "cuda"])
    assert res.exit_code == EXIT_CONFIG and "must be 'cpu' on this machine" in res.output


def test_config_command_prints_resolved_toml(toy_study) -> None:
    res = runner.invoke(app, ["config", "toy-regression", "--smoke", "--set", "n_train=64"])
    assert res.exit_code == 0
    assert "n_train = 64" in res.output and "steps = 100" in res.output


def test_report_rebuilds(toy_study, tmp_path) -> None:
    res = runner.invoke(app, ["run", "toy-regression", "--smoke", "--out", str(tmp_path), "--no-progress"])
    run_dir = res.output.strip().splitlines()[-1]
    (tmp_path / run_dir.split("/")[-1] / "report.md").unlink()
    res = runner.invoke(app, ["report", run_dir])
    lines = res.output.strip().splitlines()
    assert res.exit_code == 0 and lines[-2].endswith("report.md") and lines[-1].endswith("report.html")
    assert (tmp_path / run_dir.split("/")[-1] / "report.md").exists()
    res = runner.invoke(app, ["report", "--index", str(tmp_path)])
    assert res.exit_code == 0 and (tmp_path / "index.html").exists()
    assert "toy-regression" in (tmp_path / "index.html").read_text()
    res = runner.invoke(app, ["report", str(tmp_path / "nothing")])
    assert res.exit_code == EXIT_CONFIG


def test_sweep_command_runs_and_reports(toy_study, toy_script, tmp_path) -> None:
    sweep_file = tmp_path / "tiny.toml"
    sweep_file.write_text(
        'study = "toy-regression"\n'
        f'modules = ["{toy_script}"]\n'
        "smoke = true\n"
        "seeds = 2\n"
        "[base]\n"
        '"train.steps" = 20\n'
        "[axes]\n"
        "n_train = [64, 128]\n"
    )
    res = runner.invoke(
        app,
        [
            "sweep",
            str(sweep_file),
            "--workers",
            "1",
            "--threads",
            "1",
            "--out",
            str(tmp_path / "sweeps"),
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    from learnability import load_sweep

    *_, report_line, folder = res.output.strip().splitlines()
    table = load_sweep(folder)
    assert len(table) == 4 and set(table["status"]) == {"complete"}
    # A sweep writes report.html like a run, and says where; no redundant "index" column.
    assert report_line == f"report: {folder}/report.html" and (tmp_path / "sweeps").exists()
    from pathlib import Path

    assert (Path(folder) / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert "index" not in table.columns and list(table.index) == [0, 1, 2, 3]
    assert sorted(table["n_train"].unique()) == [64, 128]


def test_sweep_command_rejects_bad_plan(toy_study, toy_script, tmp_path) -> None:
    sweep_file = tmp_path / "bad.toml"
    sweep_file.write_text(f'study = "toy-regression"\nmodules = ["{toy_script}"]\n[axes]\nn_train = [1, 64]\n')
    res = runner.invoke(app, ["sweep", str(sweep_file), "--out", str(tmp_path / "sweeps")])
    assert res.exit_code == EXIT_CONFIG
    assert "'n_train' parameter of toy-regression must be an int in the range [16, inf). Got 1" in res.output
    assert not (tmp_path / "sweeps").exists()
