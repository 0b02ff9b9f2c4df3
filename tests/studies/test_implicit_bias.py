"""The implicit-bias study (Lab 8): GD limits against pinv and the projection formula, the rate and
the step-size bound, and a smoke run through the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from learnability import load_run
from learnability.cli import app
from learnability.report import fmt
from learnability.studies import implicit_bias as ib

runner = CliRunner()


def test_smoke_run_through_cli(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", "implicit-bias", "--smoke", "--out", str(tmp_path), "--no-progress"])
    assert res.exit_code == 0, res.output
    run = load_run(res.output.strip().splitlines()[-1])
    assert run.complete
    s = run.summary
    for key in (
        "over_step_bound",
        "over_sq_dist_lab_steps",
        "over_rho",
        "over_measured_rate",
        "under_dist_zero_to_pinv_max",
        "under_dist_w0_to_proj_max",
        "under_dist_w0_to_pinv",
        "under_pythagoras_gap_max",
        "step_size",
    ):
        assert key in s
    md = (run.path / "report.md").read_text()
    assert fmt(s["under_dist_zero_to_pinv_max"]) in md
    assert fmt(s["under_dist_w0_to_proj_max"]) in md
    assert fmt(s["step_bound_first"]) in md
    assert "equal to rounding: GD from 0 converges to the minimum-norm solution" in md
    for name in ("distance_to_solution", "weight_trajectories", "step_size"):
        assert (run.figures_dir / f"{name}.png").exists()


def test_gd_limit_is_pinv_and_projection_when_underdetermined() -> None:
    cfg = ib.UnderSection(m=15, n=40, steps=600)
    r = ib.underdetermined_experiment(cfg, seed=3)
    # Independent reference: numpy's pseudo-inverse.
    assert np.linalg.norm(r["w_pinv"] - np.linalg.pinv(r["X"]) @ r["y"]) < 1e-10
    w0_limit = r["w0"] + np.linalg.pinv(r["X"]) @ (r["y"] - r["X"] @ r["w0"])
    assert r["dist_zero_to_pinv"] < 1e-10
    assert np.linalg.norm(r["weights_w0"][-1] - w0_limit) < 1e-10
    assert r["dist_w0_to_pinv"] > 1.0  # from w0 != 0, NOT the minimum-norm solution
    assert abs(r["dist_w0_to_pinv"] - r["null_component_w0"]) < 1e-10
    assert r["null_component_moved"] < 1e-10 and r["pythagoras_gap"] < 1e-9
    assert r["norm_gd_w0"] > r["norm_pinv"]
    assert abs(r["measured_rate"] / r["rho"] - 1) < 0.02


def test_overdetermined_converges_at_the_predicted_rate() -> None:
    r = ib.overdetermined_experiment(ib.OverSection(m=300), seed=0)
    assert r["sq_dist_final"] < 1e-20
    assert abs(r["measured_rate"] / r["rho"] - 1) < 0.02
    assert r["sq_dist_lab"] > r["sq_dist_final"]


def test_step_size_bound() -> None:
    r = ib.overdetermined_experiment(ib.OverSection(m=300, steps=10), seed=1)
    runs = ib.step_size_runs(r["X"], r["y"], [0.5, 0.98, 1.02], steps=200)
    assert [x["warned"] for x in runs] == [False, False, True]
    assert runs[0]["final_loss"] < 1e-20 and runs[1]["final_loss"] < runs[1]["losses"][0]
    above = runs[2]
    assert above["losses"][-1] > 1e3 * above["losses"][0]  # diverges
    assert abs(above["measured_factor"] - above["top_mode_factor"]) < 1e-3
    assert above["top_mode_factor"] > 1
