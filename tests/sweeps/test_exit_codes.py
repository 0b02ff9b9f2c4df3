"""`learnability sweep` exits non-zero when a run failed, and --fail-fast stops at the first."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from learnability.cli import app

from .conftest import TINY_BASE

runner = CliRunner()


def test_sweep_exits_non_zero_and_names_each_failed_run(write_sweep, tmp_path) -> None:
    # lr_low = 1.0 is a valid config that fails at run time (LRGrid refuses lr_low > lr_high).
    path = write_sweep(TINY_BASE + "[axes]\nlr_low = [0.001, 1.0]\n")
    res = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "out"), "--no-progress"])
    assert res.exit_code == 1, res.output
    assert "LRGrid" in res.output and "1 run did not complete" in res.output
    table = pd.read_parquet(tmp_path / "out" / "tiny" / "results.parquet")
    assert table["status"].tolist() == ["complete", "failed"]  # the other run still finished


def test_sweep_fail_fast_stops_at_the_first_failure(write_sweep, tmp_path) -> None:
    path = write_sweep(TINY_BASE + "[axes]\nlr_low = [1.0, 2.0, 0.001]\n")
    res = runner.invoke(
        app, ["sweep", str(path), "--out", str(tmp_path / "out"), "--no-progress", "--fail-fast", "--workers", "1"]
    )
    assert res.exit_code == 1, res.output
    sweep = json.loads((tmp_path / "out" / "tiny" / "sweep.json").read_text())
    assert sweep["invocations"][-1]["status"] == "stopped"
    assert sweep["invocations"][-1]["executed"] < 3
