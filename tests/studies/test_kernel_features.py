"""The kernel-features study (Lab 1): exact maps, the Taylor error formula, the RFF rate, the smoke
run's report, and report sentences that follow the numbers."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import poisson

from learnability.analysis import Estimate
from learnability.kernels import rbf_kernel
from learnability.report import fmt, fmt_est, render_markdown
from learnability.studies import kernel_features as kf


def test_smoke_run_reports_its_numbers(smoke_run) -> None:
    run = smoke_run("kernel-features")
    res = run.results
    assert isinstance(res, kf.KernelFeaturesResults)
    assert set(res.taylor_order_needed) == {fmt(r) for r in run.config.taylor.radii}
    assert "rff_slope_ci_contains_expected" in run.summary  # the legacy key, derived from rff_slope
    md = (run.path / "report.md").read_text()
    assert fmt(res.quadratic_max_rel_error) in md
    assert fmt_est(res.rff_slope) in md
    assert f"{100 * res.taylor_lab_pass_fraction:.1f}%" in md
    assert fmt(res.taylor_formula_max_gap) in md
    for name in ("taylor_error_vs_order", "taylor_error_maps", "rff_error_vs_features"):
        assert (run.figures_dir / f"{name}.png").exists()
    # The smoke data are small but the known answers hold at any size.
    assert res.quadratic_max_rel_error < 1e-13
    assert res.taylor_formula_max_gap < 1e-12
    # The grid's worst pair at the lab's order is the far corner of the diagonal, u = u' = x_max / sigma.
    assert res.taylor_grid_worst_delta_over_sigma == 0.0
    assert math.isclose(res.taylor_grid_worst_x_over_sigma, run.config.taylor.x_max / run.config.taylor.sigma)


def test_sentences_follow_the_numbers(smoke_run) -> None:
    """The findings flip when the numbers do: an exact map, a negligible d-D truncation, where the
    Taylor error is largest, the RFF slope against -1/2, the variance formula, the max-error rate."""
    run = smoke_run("kernel-features")
    res = run.results
    text = render_markdown(kf.report(res, run), run)
    for finding in (
        "exact up to floating-point rounding",
        "the truncated terms are negligible",
        "on the diagonal (nearby points) far from the origin",
        "the interval contains -1/2",
        "is consistent with it",
        "predicts the RMS error itself",
        "but falls at the same rate",
    ):
        assert finding in text, finding
    far = Estimate(-0.3, -0.35, -0.25, 3)  # excludes -1/2 and 0 and 1
    flipped = res.model_copy(
        update={
            "quadratic_max_rel_error": 1e-3,
            "gaussian_dd_max_abs_error": 1e-3,
            "taylor_grid_worst_x_over_sigma": 1.0,
            "taylor_grid_worst_delta_over_sigma": 5.0,
            "rff_slope": far,
            "rff_ratio_to_theory": Estimate(2.0, 1.8, 2.2, 3),
            "rff_max_minus_rms_slope": far,
        }
    )
    assert not flipped.rff_slope_ci_contains_expected  # the legacy key follows the estimate
    text = render_markdown(kf.report(flipped, run), run)
    for finding in (
        "NOT exact",
        "the truncated terms are not negligible",
        "off the diagonal (distant points) close to the origin",
        "does NOT contain -1/2",
        "NOT consistent with it",
        "does not predict the RMS error",
        "and falls at a different rate",
    ):
        assert finding in text, finding
    exhausted = res.model_copy(update={"taylor_grid_max_error_at_lab_order": 0.0})
    assert "at rounding level on the whole grid" in render_markdown(kf.report(exhausted, run), run)


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
    # The lab-order map at the grid corner u = u' = 5: the Poisson tail again, and the worst pair.
    assert math.isclose(sw.lab_error[-1, -1], poisson.sf(20, 25.0), rel_tol=1e-9)
    assert sw.lab_worst == (5.0, 0.0)
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
