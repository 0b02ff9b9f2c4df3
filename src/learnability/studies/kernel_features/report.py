"""The kernel-features report: exact maps, the truncated Taylor map, random Fourier features."""

from __future__ import annotations

import numpy as np

from learnability.analysis import Estimate, mean_estimate
from learnability.report import (
    Chart,
    Figure,
    Heading,
    Heatmap,
    Line,
    Panel,
    Report,
    Table,
    Text,
    fmt,
    fmt_est,
)
from learnability.report.charts import PALETTE
from learnability.runs import Run
from learnability.studies.kernel_features.config import KernelFeaturesConfig
from learnability.studies.kernel_features.results import KernelFeaturesResults

__all__ = ["report"]

# "Exact up to rounding": relative error of an exact map, and absolute error (kernel values <= 1)
# of a closed-form error formula; float64 rounding sits 3-4 orders of magnitude below both.
EXACT_REL_TOL = 1e-12
EXACT_ABS_TOL = 1e-12
# Errors are drawn on log axes; exact zeros (no truncation error left) are shown at this floor.
ERROR_FLOOR = 1e-17
# Grid pairs within this many sigma of each other are "nearby" (kernel factor exp(-1/2) or more).
NEARBY = 1.0
# One colour per radius: the error curve solid, the Poisson prediction dashed.
RADIUS_COLOURS = PALETTE[:6]


def _contains(est: Estimate, value: float) -> bool:
    """The estimate's interval contains ``value`` (False without an interval)."""
    return bool(est.low <= value <= est.high)


def _band(ests: list[Estimate]) -> tuple[list[float], list[float]]:
    """``(lows, highs)`` of a curve of estimates; the mean where an interval is undefined."""
    lo = [e.low if e.has_interval else e.mean for e in ests]
    hi = [e.high if e.has_interval else e.mean for e in ests]
    return lo, hi


def report(res: KernelFeaturesResults, run: Run) -> Report:
    """The report, from the typed results and the run folder alone."""
    cfg: KernelFeaturesConfig = run.config
    rep = Report(
        "Kernels and feature maps (Lab 1)",
        headline={
            "quadratic map, max rel. error": fmt(res.quadratic_max_rel_error),
            "lab Taylor check, pairs passing": f"{100 * res.taylor_lab_pass_fraction:.1f}%",
            "RFF error slope (expected -0.5)": fmt_est(res.rff_slope),
        },
    )
    rep.add(Heading("Exact feature maps"), Text(_exact_maps(res, cfg)))
    _taylor(rep, res, run)
    _random_features(rep, res, run)
    return rep


def _exact_maps(res: KernelFeaturesResults, cfg: KernelFeaturesConfig) -> str:
    t = cfg.taylor
    exact = res.quadratic_max_rel_error < EXACT_REL_TOL
    negligible = res.gaussian_dd_max_abs_error <= t.tolerance
    return (
        f"The non-uniform quadratic kernel (1 + x.x')^2 in d = {res.quadratic_dim} dimensions equals the "
        f"inner product of its {res.quadratic_feature_dim}-dimensional explicit map to within "
        f"{fmt(res.quadratic_max_abs_error)} (relative to the largest kernel value: "
        f"{fmt(res.quadratic_max_rel_error)}) on all pairs of {cfg.quadratic.n_points} random inputs: "
        + ("exact up to floating-point rounding." if exact else "NOT exact — a bug in the map.")
        + f" The {t.dd_dim}-D truncated Taylor map of the Gaussian kernel (total degree "
        f"{t.dd_order}, {res.gaussian_dd_feature_dim} features, sigma = {fmt(t.dd_sigma)}) matches "
        f"the kernel to {fmt(res.gaussian_dd_max_abs_error)} on standard normal inputs, "
        + (
            "where |x.x'| / sigma^2 is small and the truncated terms are negligible."
            if negligible
            else f"above the tolerance {fmt(t.tolerance)}: at this degree and bandwidth the truncated "
            "terms are not negligible."
        )
    )


def _taylor(rep: Report, res: KernelFeaturesResults, run: Run) -> None:
    """The lab's check, the Poisson formula, the order needed, and the error figures."""
    t = run.config.taylor
    sw = run.load_arrays(KernelFeaturesResults.TAYLOR_SWEEP)
    n_lab = res.taylor_lab_order
    rep.add(
        Heading("Truncated Taylor map of the 1-D Gaussian kernel"),
        Text(
            f"The lab's check draws x, x' uniformly in [0, {fmt(t.x_max)}] with sigma = {fmt(t.sigma)} and "
            f"keeps {t.lab_terms} terms (order {n_lab}). Over {t.lab_pairs} random pairs "
            f"{'only ' if res.taylor_lab_pass_fraction < 1 else ''}{100 * res.taylor_lab_pass_fraction:.1f}% "
            "pass np.allclose; the worst pair has "
            f"max(x, x')/sigma = {fmt(res.taylor_lab_worst_x_over_sigma)} and |x - x'|/sigma = "
            f"{fmt(res.taylor_lab_worst_delta_over_sigma)}, with error {fmt(res.taylor_lab_max_abs_error)} "
            f"on a kernel value of at most 1. With order {t.max_order}, "
            f"{100 * res.taylor_max_order_pass_fraction:.1f}% pass."
        ),
    )
    formula_ok = res.taylor_formula_max_gap < EXACT_ABS_TOL
    rows = [
        [
            fmt(v.radius),
            v.error_at_lab_order,
            "—" if v.measured is None else v.measured,
            "—" if v.poisson is None else v.poisson,
        ]
        for v in res.taylor_order_needed.values()
    ]
    rep.add(
        Text(
            "For x, x' >= 0 every term of the expansion is positive and the truncation error after order n "
            "is exactly k(x, x') P(N > n) with N ~ Poisson(x x'/sigma^2). On the "
            f"{len(sw['u'])} x {len(sw['u'])} grid and all orders 0..{t.max_order} the measured error "
            f"differs from this formula by at most {fmt(res.taylor_formula_max_gap)} — "
            + ("the derivation holds to rounding. " if formula_ok else "more than rounding: check the map. ")
            + "So the error does not depend on |x - x'| / sigma alone: the kernel factor exp(-(x - x')^2 / "
            "2 sigma^2) damps it for distant points, while the Poisson tail makes it grow with x x' / sigma^2. "
            "It is largest for nearby points far from the origin, and on the diagonal x = x' = r sigma it "
            f"equals P(Poisson(r^2) > n). The order needed for an error below {fmt(t.tolerance)} is a "
            "far-tail quantile of Poisson(r^2) (mean r^2, standard deviation r):"
        ),
        Table(
            [
                "max |x| / sigma",
                f"max error at order {n_lab}",
                f"order needed (measured, error <= {fmt(t.tolerance)})",
                "order needed (Poisson formula)",
            ],
            rows,
            caption="Largest error over grid pairs with both inputs at most r sigma.",
        ),
    )
    lines = []
    for i, rad in enumerate(sw["radii"]):
        colour = RADIUS_COLOURS[i % len(RADIUS_COLOURS)]
        lines.append(
            Line(
                sw["orders"],
                np.maximum(sw["radius_error"][i], ERROR_FLOOR),
                label=f"|x| <= {fmt(float(rad))} sigma",
                color=colour,
            )
        )
        lines.append(Line(sw["orders"], np.maximum(sw["poisson_radius"][i], ERROR_FLOOR), dash=True, color=colour))
    rep.add(
        Figure(
            Chart(
                "taylor_error_vs_order",
                [
                    Panel(
                        lines,
                        xlabel="truncation order n",
                        ylabel="max |k - phi.phi'|",
                        yscale="log",
                        title="Taylor-map error vs order (dashed: Poisson tail)",
                        hlines=[(t.tolerance, "tolerance")],
                        vlines=[(n_lab, "lab's order")],
                    )
                ],
                caption=f"Worst error over pairs within |x| <= r sigma; exact zeros are drawn at {fmt(ERROR_FLOOR)}.",
            )
        )
    )
    _error_maps(rep, res, sw, u_max=t.x_max / t.sigma)


def _worst_grid_pair(res: KernelFeaturesResults, u_max: float) -> str:
    """Where the grid error at the lab's order is largest, in words."""
    n_lab = res.taylor_lab_order
    if res.taylor_grid_max_error_at_lab_order < EXACT_ABS_TOL:
        return f"at order {n_lab} the error is at rounding level on the whole grid"
    x, d = res.taylor_grid_worst_x_over_sigma, res.taylor_grid_worst_delta_over_sigma
    return (
        f"the largest error at order {n_lab} ({fmt(res.taylor_grid_max_error_at_lab_order)}) is at "
        f"max(x, x')/sigma = {fmt(x)}, |x - x'|/sigma = {fmt(d)}: "
        + ("on the diagonal (nearby points)" if d <= NEARBY else "off the diagonal (distant points)")
        + (" far from the origin" if x >= u_max / 2 else " close to the origin")
    )


def _error_maps(rep: Report, res: KernelFeaturesResults, sw: dict[str, np.ndarray], u_max: float) -> None:
    # Heatmap axes are cell indices, mapped to values in the axis titles: per-cell tick labels
    # would also draw one grid line per cell (report/charts.py puts a tick on every cell).
    u = sw["u"]
    du = float(u[1] - u[0])
    width = float(sw["delta_edges"][1] - sw["delta_edges"][0])
    rep.add(
        Figure(
            Chart(
                "taylor_error_maps",
                [
                    Panel(
                        [
                            Heatmap(
                                np.log10(np.maximum(sw["lab_error"], ERROR_FLOOR)),
                                cmap="magma",
                                colorbar_label="log10 |error|",
                            )
                        ],
                        title=f"log10 error at order {res.taylor_lab_order}",
                        xlabel=f"index j: x' / sigma = {fmt(du)} j",
                        ylabel=f"index i: x / sigma = {fmt(du)} i",
                    ),
                    Panel(
                        [
                            Heatmap(
                                np.log10(np.maximum(sw["delta_error"], ERROR_FLOOR)),
                                cmap="magma",
                                colorbar_label="log10 max |error|",
                            )
                        ],
                        title="log10 max error per |x - x'| / sigma bin",
                        xlabel="truncation order n",
                        ylabel=f"bin b: |x - x'| / sigma in [{fmt(width)} b, {fmt(width)} (b + 1))",
                    ),
                ],
                panel_size=(5.2, 4.4),
                caption=f"Left: {_worst_grid_pair(res, u_max)}. Right: the worst error in each distance bin "
                "against the truncation order.",
            )
        )
    )


def _random_features(rep: Report, res: KernelFeaturesResults, run: Run) -> None:
    r = run.config.rff
    table = run.load_table(KernelFeaturesResults.RFF_TABLE)
    Ds = np.array(res.rff_n_features)
    by_d = [table[table["D"] == D] for D in Ds]  # one row per seed
    rms_ci = [mean_estimate(t["rms"].to_numpy(), kind="positive") for t in by_d]
    worst_ci = [mean_estimate(t["max_abs"].to_numpy(), kind="positive") for t in by_d]
    pred = [float(t["predicted_rms"].iloc[0]) for t in by_d]
    slope = res.rff_slope
    ok = res.rff_slope_ci_contains_expected
    predicts = _contains(res.rff_ratio_to_theory, 1.0)
    same_rate = _contains(res.rff_max_minus_rms_slope, 0.0)
    rep.add(
        Heading("Random Fourier features"),
        Text(
            f"On {r.n_points} standard normal inputs in d = {r.dim} (sigma = {fmt(r.sigma)}), the RMS "
            f"error of z(X) z(X)^T over all Gram entries falls from {fmt_est(rms_ci[0])} at D = {Ds[0]} to "
            f"{fmt_est(rms_ci[-1])} at D = {Ds[-1]} (mean over {r.seeds} seeds, 95% CI). The fitted log-log "
            f"slope is {fmt_est(slope)} against the expected -1/2: the interval "
            + ("contains -1/2." if ok else "does NOT contain -1/2.")
            + " The variance formula (1 + k^4/2 - k^2)/D "
            + ("predicts the RMS error itself" if predicts else "does not predict the RMS error to within the CI")
            + f": measured / predicted = {fmt_est(res.rff_ratio_to_theory)}. The worst entry is larger (it is "
            f"a maximum over {r.n_points**2} entries) "
            + ("but falls at the same rate" if same_rate else "and falls at a different rate")
            + f" (slope {fmt_est(res.rff_max_abs_slope)}; minus the RMS slope, seed by seed: "
            f"{fmt_est(res.rff_max_minus_rms_slope)})."
        ),
        Figure(
            Chart(
                "rff_error_vs_features",
                [
                    Panel(
                        [
                            Line(
                                Ds,
                                [e.mean for e in rms_ci],
                                band=_band(rms_ci),
                                label="RMS error (mean, 95% CI)",
                                mode="lines+markers",
                            ),
                            Line(Ds, pred, label="predicted sqrt(mean(1 + k^4/2 - k^2) / D)", dash=True),
                            Line(
                                Ds,
                                [e.mean for e in worst_ci],
                                band=_band(worst_ci),
                                label="max |error|",
                                mode="lines+markers",
                            ),
                        ],
                        xscale="log",
                        yscale="log",
                        xlabel="number of random features D",
                        ylabel="error",
                        title=f"RFF error vs D (slope {fmt(slope.mean)})",
                    )
                ],
                caption="A slope of -1/2 on these log-log axes is the O(1/sqrt(D)) rate: the fitted slope "
                f"{fmt_est(slope)} is " + ("consistent with it." if ok else "NOT consistent with it."),
            )
        ),
    )
