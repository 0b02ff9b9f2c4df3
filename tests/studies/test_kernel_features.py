"""The kernel-features study (Lab 1): exact maps, the Taylor error formula, the RFF rate, and a smoke
run end to end through the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy.stats import poisson
from typer.testing import CliRunner

from learnability import load_run
from learnability.cli import app
from learnability.kernels import rbf_kernel
from learnability.report import fmt
from learnability.studies import kernel_features as kf
from learnability.studies._kernel_common import fmt_est

runner = CliRunner()


def test_smoke_run_through_cli(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", "kernel-features", "--smoke", "--out", str(tmp_path), "--no-progress"])
    assert res.exit_code == 0, res.output
    run = load_run(res.output.strip().splitlines()[-1])
    assert run.complete
    s = run.summary
    for key in (
        "quadratic_max_rel_error",
        "taylor_lab_pass_fraction",
        "taylor_formula_max_gap",
        "taylor_order_needed",
        "rff_slope",
        "rff_ratio_to_theory",
        "rff_slope_ci_contains_expected",
    ):
        assert key in s
    md = (run.path / "report.md").read_text()
    assert fmt(s["quadratic_max_rel_error"]) in md
    assert fmt_est(s["rff_slope"]) in md
    assert f"{100 * s['taylor_lab_pass_fraction']:.1f}%" in md
    assert fmt(s["taylor_formula_max_gap"]) in md
    for name in ("taylor_error_vs_order", "taylor_error_maps", "rff_error_vs_features"):
        assert (run.figures_dir / f"{name}.png").exists()
    # The smoke data are small but the known answers hold at any size.
    assert s["quadratic_max_rel_error"] < 1e-13
    assert s["taylor_formula_max_gap"] < 1e-12


def test_quadratic_map_is_exact() -> None:
    X = np.random.default_rng(0).standard_normal((12, 7))
    out = kf.quadratic_check(X)
    assert out["feature_dim"] == (7 + 1) * (7 + 2) // 2
    assert out["max_rel_error"] < 1e-14


def test_taylor_error_is_the_poisson_tail() -> None:
    # u = x / sigma on a grid over [0, 5]: the worst pair within |u| <= r is (r, r), with error
    # exactly P(Poisson(r^2) > n).
    sw = kf.taylor_sweep(
        sigma=2.0, x_max=10.0, grid=41, max_order=80, radii=[1.0, 2.0, 5.0], delta_bins=5, lab_order=20
    )
    assert sw.formula_gap < 1e-12
    assert np.max(np.abs(sw.radius_error - sw.poisson_radius)) < 1e-12
    # Error decreases with the order (up to rounding once it is exhausted).
    assert np.all(np.diff(sw.max_error) <= 1e-13)
    assert sw.max_error[0] > 0.5 and sw.max_error[-1] < 1e-12
    # The lab-order map at the grid corner u = u' = 5: the Poisson tail again.
    assert math.isclose(sw.lab_error[-1, -1], poisson.sf(20, 25.0), rel_tol=1e-9)
    # Order needed for 1e-8 at r = 5 matches the formula (58).
    assert kf.first_below(sw.radius_error[2], 1e-8) == kf.first_below(poisson.sf(np.arange(81), 25.0), 1e-8)


def test_random_fourier_features_rate() -> None:
    X = np.random.default_rng(1).standard_normal((40, 3))
    D = np.array([16, 64, 256, 1024, 4096])
    rms, worst = kf.rff_errors(X, sigma=1.5, n_features=D, seeds=[1, 2, 3])
    pred = kf.rff_predicted_rms(rbf_kernel(X, sigma=1.5), D)
    ratio = rms.mean(axis=0) / pred
    assert np.all((ratio > 0.7) & (ratio < 1.3)), ratio
    slope = np.polyfit(np.log(D), np.log(rms.mean(axis=0)), 1)[0]
    assert abs(slope + 0.5) < 0.08, slope
    assert np.all(worst >= rms)
