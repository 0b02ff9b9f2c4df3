"""The implicit-bias report: which solution GD finds, how fast, and the step-size bound."""

from __future__ import annotations

import math

import numpy as np

from learnability.report import Chart, Figure, Heading, Line, Panel, Report, Table, Text, fmt, fmt_est
from learnability.runs import Run
from learnability.studies.implicit_bias.config import ImplicitBiasConfig
from learnability.studies.implicit_bias.parts import ROUNDING_FLOOR
from learnability.studies.implicit_bias.results import ImplicitBiasResults

__all__ = ["report"]

# Distances below this count as "equal to rounding" in the report's verdicts.
EQUAL_TOL = 1e-10
# A measured rate within this relative gap of the predicted one "matches" it.
RATE_TOL = 0.02
# Trajectory colours (Okabe-Ito), cycled over the weight coordinates drawn.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def report(res: ImplicitBiasResults, run: Run) -> Report:
    """The report, from the typed results and the run folder alone."""
    cfg: ImplicitBiasConfig = run.config
    rep = Report(
        "Implicit bias of gradient descent on least squares (Lab 8)",
        headline={
            "GD from 0 vs pinv(X) y (max distance)": fmt(res.under_dist_zero_to_pinv_max),
            "GD from w0 vs projection formula (max distance)": fmt(res.under_dist_w0_to_proj_max),
            "GD from w0 vs pinv(X) y": fmt_est(res.under_dist_w0_to_pinv),
        },
    )
    overdetermined(res, cfg, rep)
    underdetermined(res, cfg, rep)
    convergence_figures(res, cfg, run, rep)
    step_size(res, run, rep)
    return rep


def overdetermined(res: ImplicitBiasResults, cfg: ImplicitBiasConfig, rep: Report) -> None:
    """The lab's problem: stability bound, distance after the lab's steps, predicted vs measured rate."""
    o = cfg.over
    matches = res.over_rate_rel_gap_max <= RATE_TOL
    rep.add(
        Heading("Over-determined: the lab's problem"),
        Text(
            f"X is {o.m} x {o.n} with N(0, 1) entries and y = X w_true, so the least-squares solution w* is "
            f"unique. The Hessian X^T X / m has largest eigenvalue {fmt_est(res.over_lambda_max)}, so GD is stable "
            f"for lr < 2 / lambda_max = {fmt_est(res.over_step_bound)}; the lab's lr = {fmt(o.lr)} is at most "
            f"{fmt(res.over_lr_over_bound)} of that bound. After the lab's {o.lab_steps} steps "
            f"||w_t - w*||^2 = {fmt_est(res.over_sq_dist_lab_steps)} (mean over {res.seeds} problems); after "
            f"{o.steps} steps at most {fmt(res.over_sq_dist_final_max)}. The predicted linear rate "
            f"max_i |1 - lr lambda_i| = {fmt_est(res.over_rho, 4)} per step "
            + ("matches" if matches else "does NOT match")
            + f" the measured {fmt_est(res.over_measured_rate, 4)} (largest relative gap "
            f"{fmt(res.over_rate_rel_gap_max)})."
        ),
    )


def _normal_equations_text(res: ImplicitBiasResults, cfg: ImplicitBiasConfig) -> str:
    """Lab 8's inv(X^T X) X^T y with more weights than points, from the measured numbers."""
    u = cfg.under
    rank = res.under_gram_rank_max
    singular = rank is not None and rank < u.n
    residual, dist = res.under_normal_eq_residual_min, res.under_normal_eq_dist_min
    plain = (
        "np.linalg.inv refuses it"
        if residual is not None and not math.isfinite(residual)
        else f"np.linalg.inv still returns a matrix (rounding noise), and the resulting w misses the data by "
        f"at least {fmt(residual)} of ||y|| and lies at least {fmt(dist)} x ||pinv(X) y|| from pinv(X) y"
    )
    if singular and (residual is None or not math.isfinite(residual) or residual > EQUAL_TOL or dist > EQUAL_TOL):
        verdict = "so the lab's (X^T X)^-1 X^T y is not the least-norm solution here"
    else:
        verdict = "yet its w agrees with pinv(X) y to rounding on these problems"
    ridge = res.under_lab_ridge_dist_max
    return (
        f"**The lab's formula.** Lab 8 writes the least-norm solution as (X^T X)^-1 X^T y. With n = {u.n} "
        f"weights and m = {u.m} points, X^T X is {u.n} x {u.n} of rank {rank}"
        + (" < n: singular" if singular else "")
        + f"; {plain}, {verdict}. The lab's inv(X^T X + eps I) X^T y with eps = {fmt(u.lab_eps)} is ridge "
        f"regression, which tends to pinv(X) y as eps -> 0: here it is within {fmt(ridge)} x ||pinv(X) y|| of it. "
        "This study computes the least-norm solution with the pseudo-inverse (SVD), which needs no eps."
    )


def underdetermined(res: ImplicitBiasResults, cfg: ImplicitBiasConfig, rep: Report) -> None:
    """Which interpolant GD finds from 0 and from w0, and the null-space bookkeeping behind it."""
    u = cfg.under
    gd_is_pinv = res.under_dist_zero_to_pinv_max < EQUAL_TOL
    w0_is_proj = res.under_dist_w0_to_proj_max < EQUAL_TOL
    untouched = res.under_null_component_moved_max < EQUAL_TOL
    verdict0 = (
        "equal to rounding: GD from 0 converges to the minimum-norm solution."
        if gd_is_pinv
        else "NOT equal: the claim fails here."
    )
    verdictw = "equal to rounding." if w0_is_proj else "NOT equal: the claim fails here."
    rep.add(Heading("Under-determined: which interpolant GD finds"))
    rep.add(
        Text(
            f"X is {u.m} x {u.n} (n > m): every interpolant w_pinv + z with z in the {u.n - u.m}-dimensional "
            f"null space of X fits the data exactly. GD runs {u.steps} steps at lr = {fmt(u.lr_fraction)} x "
            f"2 / lambda_max, over {res.seeds} random problems. From w0 = 0 the largest distance to pinv(X) y is "
            f"{fmt(res.under_dist_zero_to_pinv_max)} — {verdict0} From a random w0 ~ N(0, {fmt(u.w0_scale)}^2 I) "
            f"the largest distance to w0 + pinv(X)(y - X w0) is {fmt(res.under_dist_w0_to_proj_max)} — {verdictw} "
            f"That limit is {fmt_est(res.under_dist_w0_to_pinv)} away from pinv(X) y: the component of w0 in the "
            f"null space (norm {fmt_est(res.under_null_component_w0)}) "
            + ("is never touched (it moved by at most " if untouched else "DID move (by up to ")
            + f"{fmt(res.under_null_component_moved_max)}), and from 0 the null-space component stays at most "
            f"{fmt(res.under_null_component_zero_max)}."
        )
    )
    if res.under_gram_rank_max is not None:
        rep.add(Text(_normal_equations_text(res, cfg)))
    rep.add(
        Table(
            ["quantity", "value"],
            [
                ["||pinv(X) y|| (minimum norm)", fmt_est(res.under_norm_pinv)],
                ["||GD limit from w0||", fmt_est(res.under_norm_gd_w0)],
                [
                    "max | ||w_GD(w0)||^2 - ||pinv(X) y||^2 - ||P_null w0||^2 | (Pythagoras)",
                    fmt(res.under_pythagoras_gap_max),
                ],
                ["max ||X w - y|| of the GD limits (interpolation)", fmt(res.under_residual_max)],
                ["max distance GD(0) - pinv(X) y", fmt(res.under_dist_zero_to_pinv_max)],
                ["max distance GD(w0) - (w0 + pinv(X)(y - X w0))", fmt(res.under_dist_w0_to_proj_max)],
                ["distance GD(w0) - pinv(X) y", fmt_est(res.under_dist_w0_to_pinv)],
                ["predicted rate rho = max |1 - lr lambda_i| over non-zero lambda_i", fmt_est(res.under_rho, 4)],
                ["measured rate", fmt_est(res.under_measured_rate, 4)],
            ],
            caption=f"Means with 95% CIs, or maxima, over {res.seeds} problems.",
        )
    )


def _levels_off_at_null_part(res: ImplicitBiasResults) -> bool:
    """Per problem, the limit from w0 is as far from pinv(X) y as w0's null-space part is long."""
    gaps = np.abs(np.subtract(res.under_dist_w0_to_pinv.values, res.under_null_component_w0.values))
    return bool(gaps.size) and float(gaps.max()) < EQUAL_TOL


def convergence_figures(res: ImplicitBiasResults, cfg: ImplicitBiasConfig, run: Run, rep: Report) -> None:
    """Distance curves of the first problem of each case, and its weight trajectories."""
    ov = run.load_arrays(ImplicitBiasResults.OVER)
    un = run.load_arrays(ImplicitBiasResults.UNDER)
    t_over = np.arange(ov["sq_dist"].size)
    t_under = np.arange(un["sq_dist_zero_to_pinv"].size)
    floor = ROUNDING_FLOOR * 1e-6  # exact zeros drawn just below the rounding floor
    rho_o = res.over_rho.mean
    w0_is_proj = res.under_dist_w0_to_proj_max < EQUAL_TOL
    caption = (
        "From w0 != 0, GD converges "
        + ("to the projection of w0" if w0_is_proj else "NOT to the projection of w0")
        + ", and its distance to pinv(X) y "
        + ("levels off at" if _levels_off_at_null_part(res) else "does NOT level off at")
        + " the null-space part of w0."
    )
    rep.add(
        Figure(
            Chart(
                "distance_to_solution",
                [
                    Panel(
                        [
                            Line(t_over, np.maximum(ov["sq_dist"], floor), label="||w_t - w*||^2"),
                            Line(
                                t_over,
                                ov["sq_dist"][0] * rho_o ** (2 * t_over),
                                dash=True,
                                label="rho^(2t) ||w_0 - w*||^2",
                            ),
                        ],
                        yscale="log",
                        xlabel="step t",
                        ylabel="squared distance",
                        title="Over-determined (lab)",
                        vlines=[(cfg.over.lab_steps, "lab's steps")],
                    ),
                    Panel(
                        [
                            Line(t_under, np.maximum(un["sq_dist_zero_to_pinv"], floor), label="from 0, to pinv(X) y"),
                            Line(t_under, np.maximum(un["sq_dist_w0_to_proj"], floor), label="from w0, to projection"),
                            Line(t_under, np.maximum(un["sq_dist_w0_to_pinv"], floor), label="from w0, to pinv(X) y"),
                        ],
                        yscale="log",
                        xlabel="step t",
                        ylabel="squared distance",
                        title="Under-determined",
                        hlines=[(float(un["null_component_w0"]) ** 2, "||P_null w0||^2")],
                    ),
                ],
                caption=caption,
            )
        )
    )
    k = un["weights_zero"].shape[1]

    def traj(weights: np.ndarray, targets: np.ndarray, t: np.ndarray) -> list[Line]:
        """One solid line per coordinate of ``weights: (T, k)``, its limit ``targets: (k,)`` dashed."""
        out = []
        for i in range(weights.shape[1]):
            col = COLOURS[i % len(COLOURS)]
            out += [
                Line(t, weights[:, i], color=col, width=1.2),
                Line([t[0], t[-1]], [targets[i]] * 2, dash=True, color=col, width=0.8),
            ]
        return out

    depends = res.under_dist_w0_to_pinv.mean > EQUAL_TOL
    rep.add(
        Figure(
            Chart(
                "weight_trajectories",
                [
                    Panel(
                        traj(ov["weights"], ov["w_star"], t_over),
                        xlabel="step t",
                        ylabel="w_i",
                        title=f"Over-determined: all {ov['weights'].shape[1]} weights (dashed: w*)",
                        xscale="linear",
                    ),
                    Panel(
                        traj(un["weights_zero"], un["w_pinv"], t_under),
                        xlabel="step t",
                        ylabel="w_i",
                        title=f"Under-determined from 0: first {k} weights (dashed: pinv)",
                    ),
                    Panel(
                        traj(un["weights_w0"], un["w_proj"], t_under),
                        xlabel="step t",
                        ylabel="w_i",
                        title=f"From w0: first {k} weights (dashed: projection)",
                    ),
                ],
                caption=f"Each weight approaches its limit (final squared distance at most "
                f"{fmt(res.over_sq_dist_final_max)} over-determined); in the under-determined case the limits "
                + (
                    f"depend on w0 ({fmt_est(res.under_dist_w0_to_pinv)} apart)."
                    if depends
                    else "from 0 and from w0 coincide."
                ),
            )
        )
    )


def step_size(res: ImplicitBiasResults, run: Run, rep: Report) -> None:
    """GD below and above the bound 2 / lambda_max on the first over-determined problem."""
    rows = [
        [
            fmt(r.fraction),
            fmt(r.lr),
            fmt(r.predicted_factor, 4),
            fmt(r.measured_factor, 4),
            fmt(r.final_loss),
            "yes" if r.warned else "no",
        ]
        for r in res.step_size
    ]
    above = [r for r in res.step_size if r.fraction > 1]
    below = [r for r in res.step_size if r.fraction < 1]
    text = (
        f"On the first over-determined problem lambda_max = {fmt(res.lambda_max_first)}, so the bound is "
        f"2 / lambda_max = {fmt(res.step_bound_first)}. "
        "GD contracts the error by max_i |1 - lr lambda_i| per step."
    )
    if below:
        text += (
            " Below the bound the final losses are "
            + ", ".join(f"{fmt(r.final_loss)} at {fmt(r.fraction)}x" for r in below)
            + "."
        )
    if above:
        text += (
            " Above it: "
            + "; ".join(
                f"at {fmt(r.fraction)}x the top eigen-direction grows by the predicted |1 - lr lambda_max| = "
                f"{fmt(r.top_mode_factor, 4)} per step (measured {fmt(r.measured_factor, 4)}), the loss reaches "
                f"{fmt(r.final_loss)}" + (" and the library warned" if r.warned else "")
                for r in above
            )
            + "."
        )
    rep.add(
        Heading("Step size bound"),
        Text(text),
        Table(
            ["lr / bound", "lr", "predicted factor per step", "measured factor per step", "final loss", "warning"], rows
        ),
    )
    if not above:
        caption = "No step size above 2 / lambda_max was run."
    elif all(r.measured_factor > 1 for r in above):
        caption = (
            "Above 2 / lambda_max the loss grows geometrically (measured factor "
            + ", ".join(f"{fmt(r.measured_factor, 4)} at {fmt(r.fraction)}x" for r in above)
            + " per step)."
        )
    else:
        caption = "Above 2 / lambda_max the loss does NOT grow geometrically here: see the measured factors."
    ss = run.load_arrays(ImplicitBiasResults.STEP_SIZE)
    rep.add(
        Figure(
            Chart(
                "step_size",
                [
                    Panel(
                        [
                            Line(
                                np.arange(ss["losses"].shape[1]), ss["losses"][i], label=f"lr = {fmt(float(f))} x bound"
                            )
                            for i, f in enumerate(ss["fractions"])
                        ],
                        yscale="log",
                        xlabel="step t",
                        ylabel="loss ||Xw - y||^2 / 2m",
                        title="GD around the step-size bound",
                    )
                ],
                caption=caption,
            )
        )
    )
