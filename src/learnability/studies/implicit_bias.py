"""Implicit bias of gradient descent on least squares (Lab 8).

Gradient descent on ``L(w) = ||X w - y||^2 / (2 m)`` moves ``w`` only inside the row space of
``X`` (every gradient ``X^T r / m`` lies there), so the part of ``w0`` orthogonal to it never
changes. Hence GD converges to the least-squares solution *closest to* ``w0``::

    w_inf = w0 + pinv(X) (y - X w0),        and w_inf = pinv(X) y  (minimum norm) from w0 = 0.

* **Over-determined** (the lab: ``m = 1000`` points, ``n = 10`` weights, ``y = X w_true``): the
  solution is unique; GD converges to it at the linear rate ``rho = max_i |1 - lr lambda_i|``
  (``lambda_i`` the eigenvalues of ``X^T X / m``), checked against the measured rate.
* **Under-determined** (``n > m``): infinitely many interpolants. From ``w0 = 0`` GD finds the
  pseudo-inverse solution; from a random ``w0`` it finds the projection above — not the
  pseudo-inverse — and ``||w_inf||^2 = ||pinv(X) y||^2 + ||P_null w0||^2`` (Pythagoras).
* **Step size.** GD is stable iff ``0 < lr < 2 / lambda_max``; runs at 0.5, 0.98 and 1.02 times
  that bound show fast convergence, slow convergence and divergence at the predicted growth
  factor ``|1 - lr lambda_max|``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from pydantic import Field

from learnability.config import ConfigSection, StudyConfig
from learnability.linear import gradient_descent_least_squares, least_squares, step_size_bound
from learnability.report import Chart, Figure, Heading, Line, Panel, Report, Table, Text, fmt
from learnability.runs import Run
from learnability.studies import Study, StudyContext, register
from learnability.studies._kernel_common import estimate, fmt_est, single_threaded_blas

__all__ = [
    "ImplicitBiasConfig",
    "contraction_factor",
    "measured_rate",
    "overdetermined_experiment",
    "underdetermined_experiment",
]

# Squared distances below this are rounding noise (float64 weights of norm ~10): the measured
# convergence rate is fitted on the part of a curve above it.
ROUNDING_FLOOR = 1e-24
# Distances below this count as "equal to rounding" in the report's verdicts.
EQUAL_TOL = 1e-10
# Weight coordinates drawn in the under-determined trajectory plots.
N_TRAJECTORY_COORDS = 8


class OverSection(ConfigSection):
    m: int = Field(1000, ge=1, description="data points (Lab 8: m = 1000)")
    n: int = Field(10, ge=1, description="weights (Lab 8: n = 10)")
    lr: float = Field(0.1, gt=0, description="step size (Lab 8: 0.1)")
    lab_steps: int = Field(50, ge=1, description="the lab's number of steps (distance reported there)")
    steps: int = Field(400, ge=1, description="steps run: 8x the lab's, enough to reach rounding level")


class UnderSection(ConfigSection):
    m: int = Field(50, ge=1, description="data points, fewer than weights")
    n: int = Field(200, ge=2, description="weights (n > m: infinitely many interpolants)")
    lr_fraction: float = Field(0.5, gt=0, lt=1, description="lr as a fraction of 2 / lambda_max (0.5: 1/lambda_max)")
    steps: int = Field(400, ge=1, description="GD steps (rho ~ 0.87 at m/n = 1/4: rounding level by ~250)")
    w0_scale: float = Field(1.0, gt=0, description="w0 ~ N(0, w0_scale^2 I) for the run from w0 != 0")


class StepSizeSection(ConfigSection):
    fractions: list[float] = Field(
        default_factory=lambda: [0.5, 0.98, 1.02], description="step sizes as fractions of the bound 2 / lambda_max"
    )
    steps: int = Field(300, ge=1, description="GD steps per step size (1.04^300 ~ 1e5 growth above the bound)")


class ImplicitBiasConfig(StudyConfig):
    """GD on least squares converges to the solution closest to its start (Lab 8).

    Command:  learnability run implicit-bias          (smoke: learnability run implicit-bias --smoke)
    Runtime:  compute 0.5 s wall (1.0 s at load ~8); 16 s in all with imports and figures,
              8 s CPU (shared 2-core machine, load ~5); smoke: compute 0.6 s
    Expected: over-determined: ||w_t - w*||^2 = 5e-4 after the lab's 50 steps and < 1e-28 after
              400; rate 0.913 measured vs 0.916 predicted (within 1%). Under-determined: GD from 0
              equals pinv(X) y to 2e-14; GD from w0 equals w0 + pinv(X)(y - X w0) to 3e-14 and is
              11.8 [11.1, 12.5] from pinv(X) y (its null-space part). Step bound 2 / lambda_max ~1.6;
              at 1.02x the bound the error grows by 1.0400 per step, as predicted.
    """

    seeds: int = Field(5, ge=1, description="independent problems (X, w_true, w0) per case")
    over: OverSection = Field(default_factory=OverSection)
    under: UnderSection = Field(default_factory=UnderSection)
    step_size: StepSizeSection = Field(default_factory=StepSizeSection)


# --------------------------------------------------------------------------- computations


def hessian_eigenvalues(X: np.ndarray) -> np.ndarray:
    """Non-zero eigenvalues of ``X^T X / m``, decreasing (squared singular values over ``m``)."""
    s = np.linalg.svd(X, compute_uv=False)
    keep = s > np.finfo(float).eps * max(X.shape) * s[0]
    return s[keep] ** 2 / X.shape[0]


def contraction_factor(X: np.ndarray, lr: float) -> float:
    """``max_i |1 - lr lambda_i|`` over the non-zero eigenvalues: GD's asymptotic rate per step.

    Directions of the null space are never touched, so they do not count.
    """
    return float(np.max(np.abs(1.0 - lr * hessian_eigenvalues(X))))


def measured_rate(sq_dist: np.ndarray) -> float:
    """Per-step factor of ``||w_t - w*||`` fitted on the second half of the curve above rounding."""
    above = np.flatnonzero(sq_dist > ROUNDING_FLOOR)
    if above.size < 4:
        return float("nan")
    t = above[above.size // 2 :]
    slope = np.polyfit(t, 0.5 * np.log(sq_dist[t]), 1)[0]
    return float(np.exp(slope))


def _sq_dist(weights: np.ndarray, target: np.ndarray) -> np.ndarray:
    return np.sum((weights - target[None, :]) ** 2, axis=1)


def overdetermined_experiment(cfg: OverSection, seed: int) -> dict:
    """The lab's problem: ``X ~ N(0, 1)^(m x n)``, ``y = X w_true``, GD from 0 at the lab's step size."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((cfg.m, cfg.n))
    y = X @ rng.standard_normal(cfg.n)
    w_star = least_squares(X, y)  # unique (full column rank): the lab's least_norm_reg without eps
    gd = gradient_descent_least_squares(X, y, lr=cfg.lr, n_steps=cfg.steps)
    d = _sq_dist(gd.weights, w_star)
    return {
        "X": X,
        "y": y,
        "w_star": w_star,
        "weights": gd.weights,
        "sq_dist": d,
        "losses": gd.losses,
        "lambda_max": gd.lambda_max,
        "step_bound": gd.step_bound,
        "rho": contraction_factor(X, cfg.lr),
        "measured_rate": measured_rate(d),
        "sq_dist_lab": float(d[min(cfg.lab_steps, cfg.steps)]),
        "sq_dist_final": float(d[-1]),
    }


def underdetermined_experiment(cfg: UnderSection, seed: int) -> dict:
    """``n > m``: GD from 0 and from a random ``w0``, compared with pinv and the projection formula."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((cfg.m, cfg.n))
    y = X @ rng.standard_normal(cfg.n)
    w0 = cfg.w0_scale * rng.standard_normal(cfg.n)
    w_pinv = least_squares(X, y)  # minimum-norm interpolant (SVD)
    w_proj = least_squares(X, y, w0=w0)  # w0 + pinv(X) (y - X w0): the interpolant closest to w0
    lr = cfg.lr_fraction * step_size_bound(X)
    from_zero = gradient_descent_least_squares(X, y, lr=lr, n_steps=cfg.steps)
    from_w0 = gradient_descent_least_squares(X, y, lr=lr, n_steps=cfg.steps, w0=w0)
    # Projector onto the null space of X: I - pinv(X) X, applied as v - V_r V_r^T v.
    _, s, vt = np.linalg.svd(X, full_matrices=False)
    v_row = vt[s > np.finfo(float).eps * max(X.shape) * s[0]]  # (r, n) orthonormal row-space basis

    def null(v: np.ndarray) -> np.ndarray:
        return v - v_row.T @ (v_row @ v)

    d0 = _sq_dist(from_zero.weights, w_pinv)
    dw = _sq_dist(from_w0.weights, w_proj)
    return {
        "X": X,
        "y": y,
        "w0": w0,
        "w_pinv": w_pinv,
        "w_proj": w_proj,
        "lr": lr,
        "weights_zero": from_zero.weights,
        "weights_w0": from_w0.weights,
        "sq_dist_zero_to_pinv": d0,
        "sq_dist_w0_to_proj": dw,
        "sq_dist_w0_to_pinv": _sq_dist(from_w0.weights, w_pinv),
        "rho": contraction_factor(X, lr),
        "measured_rate": measured_rate(d0),
        "dist_zero_to_pinv": float(np.linalg.norm(from_zero.w - w_pinv)),
        "dist_w0_to_proj": float(np.linalg.norm(from_w0.w - w_proj)),
        "dist_w0_to_pinv": float(np.linalg.norm(from_w0.w - w_pinv)),
        "null_component_w0": float(np.linalg.norm(null(w0))),
        "null_component_moved": float(np.linalg.norm(null(from_w0.w - w0))),
        "null_component_zero": float(np.linalg.norm(null(from_zero.w))),
        "norm_pinv": float(np.linalg.norm(w_pinv)),
        "norm_gd_zero": float(np.linalg.norm(from_zero.w)),
        "norm_gd_w0": float(np.linalg.norm(from_w0.w)),
        "pythagoras_gap": float(
            abs(np.linalg.norm(from_w0.w) ** 2 - np.linalg.norm(w_pinv) ** 2 - np.linalg.norm(null(w0)) ** 2)
        ),
        "residual_zero": float(np.linalg.norm(X @ from_zero.w - y)),
        "residual_w0": float(np.linalg.norm(X @ from_w0.w - y)),
    }


def step_size_runs(X: np.ndarray, y: np.ndarray, fractions: list[float], steps: int) -> list[dict]:
    """GD at ``fraction * 2 / lambda_max`` for each fraction; above the bound the library warns."""
    bound = step_size_bound(X)
    lam_max = 2.0 / bound
    w_star = least_squares(X, y)
    out = []
    for f in fractions:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            gd = gradient_descent_least_squares(X, y, lr=f * bound, n_steps=steps, on_unstable="warn")
        warned = any(issubclass(w.category, RuntimeWarning) for w in caught)
        d = _sq_dist(gd.weights, w_star)
        out.append(
            {
                "fraction": f,
                "lr": f * bound,
                "losses": gd.losses,
                "sq_dist": d,
                "warned": warned,
                "final_loss": float(gd.losses[-1]),
                "final_sq_dist": float(d[-1]),
                "measured_factor": measured_rate(d),
                "predicted_factor": contraction_factor(X, f * bound),
                "top_mode_factor": abs(1.0 - f * bound * lam_max),
            }
        )
    return out


# --------------------------------------------------------------------------- run


@single_threaded_blas
def run(cfg: ImplicitBiasConfig, ctx: StudyContext) -> dict:
    """Over- and under-determined GD runs over ``cfg.seeds`` problems, then the step-size runs; returns the summary."""
    ctx.progress.add_total(2 * cfg.seeds + 1)
    over, under = [], []
    for s, seed in enumerate(ctx.seeds(cfg.seeds, "over")):
        res = overdetermined_experiment(cfg.over, seed)
        over.append(res)
        ctx.log_block("over_sq_dist", np.arange(res["sq_dist"].size), res["sq_dist"][:, None], tag=f"seed{s}")
        ctx.progress.update(1)
    for s, seed in enumerate(ctx.seeds(cfg.seeds, "under")):
        res = underdetermined_experiment(cfg.under, seed)
        under.append(res)
        ctx.log_block(
            "under_sq_dist_zero_to_pinv",
            np.arange(res["sq_dist_zero_to_pinv"].size),
            res["sq_dist_zero_to_pinv"][:, None],
            tag=f"seed{s}",
        )
        ctx.progress.update(1)
    o0, u0 = over[0], under[0]
    steps = step_size_runs(o0["X"], o0["y"], list(cfg.step_size.fractions), cfg.step_size.steps)
    ctx.progress.update(1)

    ctx.writer.save_arrays("over", weights=o0["weights"], w_star=o0["w_star"], sq_dist=o0["sq_dist"])
    ctx.writer.save_arrays(
        "under",
        weights_zero=u0["weights_zero"][:, :N_TRAJECTORY_COORDS],
        weights_w0=u0["weights_w0"][:, :N_TRAJECTORY_COORDS],
        w_pinv=u0["w_pinv"][:N_TRAJECTORY_COORDS],
        w_proj=u0["w_proj"][:N_TRAJECTORY_COORDS],
        sq_dist_zero_to_pinv=u0["sq_dist_zero_to_pinv"],
        sq_dist_w0_to_proj=u0["sq_dist_w0_to_proj"],
        sq_dist_w0_to_pinv=u0["sq_dist_w0_to_pinv"],
        null_component_w0=u0["null_component_w0"],
    )
    ctx.writer.save_arrays(
        "step_size", fractions=np.array([r["fraction"] for r in steps]), losses=np.stack([r["losses"] for r in steps])
    )
    keys = (
        "dist_zero_to_pinv",
        "dist_w0_to_proj",
        "dist_w0_to_pinv",
        "null_component_w0",
        "null_component_moved",
        "null_component_zero",
        "norm_pinv",
        "norm_gd_zero",
        "norm_gd_w0",
        "pythagoras_gap",
        "residual_zero",
        "residual_w0",
        "rho",
        "measured_rate",
        "lr",
    )
    ctx.writer.save_table(
        "under_seeds", pd.DataFrame([{"seed": i, **{k: r[k] for k in keys}} for i, r in enumerate(under)])
    )
    col = {k: np.array([r[k] for r in under]) for k in keys}
    return {
        "seeds": cfg.seeds,
        "over_lambda_max": estimate([r["lambda_max"] for r in over]),
        "over_step_bound": estimate([r["step_bound"] for r in over]),
        "over_lr_over_bound": float(max(cfg.over.lr / r["step_bound"] for r in over)),
        "over_sq_dist_lab_steps": estimate([r["sq_dist_lab"] for r in over]),
        "over_sq_dist_final_max": float(max(r["sq_dist_final"] for r in over)),
        "over_rho": estimate([r["rho"] for r in over]),
        "over_measured_rate": estimate([r["measured_rate"] for r in over]),
        "over_rate_rel_gap_max": float(max(abs(r["measured_rate"] / r["rho"] - 1.0) for r in over)),
        "under_rho": estimate(col["rho"]),
        "under_measured_rate": estimate(col["measured_rate"]),
        "under_rate_rel_gap_max": float(np.max(np.abs(col["measured_rate"] / col["rho"] - 1.0))),
        "under_dist_zero_to_pinv_max": float(col["dist_zero_to_pinv"].max()),
        "under_dist_w0_to_proj_max": float(col["dist_w0_to_proj"].max()),
        "under_dist_w0_to_pinv": estimate(col["dist_w0_to_pinv"]),
        "under_null_component_w0": estimate(col["null_component_w0"]),
        "under_null_component_moved_max": float(col["null_component_moved"].max()),
        "under_null_component_zero_max": float(col["null_component_zero"].max()),
        "under_norm_pinv": estimate(col["norm_pinv"]),
        "under_norm_gd_w0": estimate(col["norm_gd_w0"]),
        "under_pythagoras_gap_max": float(col["pythagoras_gap"].max()),
        "under_residual_max": float(max(col["residual_zero"].max(), col["residual_w0"].max())),
        "step_size": [{k: v for k, v in r.items() if k not in ("losses", "sq_dist")} for r in steps],
        "step_bound_first": float(o0["step_bound"]),
        "lambda_max_first": float(o0["lambda_max"]),
    }


# --------------------------------------------------------------------------- report


def report(run_: Run) -> Report:
    """The report, from the run folder alone."""
    s = run_.summary
    c = run_.config_dict
    o, u = c["over"], c["under"]
    n = s["seeds"]
    gd_is_pinv = s["under_dist_zero_to_pinv_max"] < EQUAL_TOL
    w0_is_proj = s["under_dist_w0_to_proj_max"] < EQUAL_TOL
    rep = Report(
        "Implicit bias of gradient descent on least squares (Lab 8)",
        headline={
            "GD from 0 vs pinv(X) y (max distance)": fmt(s["under_dist_zero_to_pinv_max"]),
            "GD from w0 vs projection formula (max distance)": fmt(s["under_dist_w0_to_proj_max"]),
            "GD from w0 vs pinv(X) y": fmt_est(s["under_dist_w0_to_pinv"]),
        },
    )

    rep.add(
        Heading("Over-determined: the lab's problem"),
        Text(
            f"X is {o['m']} x {o['n']} with N(0, 1) entries and y = X w_true, so the least-squares solution w* "
            f"is unique. "
            f"The Hessian X^T X / m has largest eigenvalue {fmt_est(s['over_lambda_max'])}, so GD is stable for "
            f"lr < 2 / lambda_max = {fmt_est(s['over_step_bound'])}; the lab's lr = {fmt(o['lr'])} is at most "
            f"{fmt(s['over_lr_over_bound'])} of that bound. After the lab's {o['lab_steps']} steps "
            f"||w_t - w*||^2 = {fmt_est(s['over_sq_dist_lab_steps'])} (mean over {n} problems); after {o['steps']} "
            f"steps at most {fmt(s['over_sq_dist_final_max'])}. The predicted linear rate max_i |1 - lr lambda_i| = "
            f"{fmt_est(s['over_rho'], 4)} per step matches the measured {fmt_est(s['over_measured_rate'], 4)} (largest "
            f"relative gap {fmt(s['over_rate_rel_gap_max'])})."
        ),
    )

    rep.add(Heading("Under-determined: which interpolant GD finds"))
    verdict0 = (
        "equal to rounding: GD from 0 converges to the minimum-norm solution."
        if gd_is_pinv
        else "NOT equal: the claim fails here."
    )
    verdictw = "equal to rounding." if w0_is_proj else "NOT equal: the claim fails here."
    rep.add(
        Text(
            f"X is {u['m']} x {u['n']} (n > m): every interpolant w_pinv + z with z in the "
            f"{u['n'] - u['m']}-dimensional "
            f"null space of X fits the data exactly. GD runs {u['steps']} steps at lr = {fmt(u['lr_fraction'])} x "
            f"2 / lambda_max, over {n} random problems. From w0 = 0 the largest distance to pinv(X) y is "
            f"{fmt(s['under_dist_zero_to_pinv_max'])} — {verdict0} From a random w0 ~ N(0, "
            f"{fmt(u['w0_scale'])}^2 I) the "
            f"largest distance to w0 + pinv(X)(y - X w0) is {fmt(s['under_dist_w0_to_proj_max'])} — {verdictw} That "
            f"limit is {fmt_est(s['under_dist_w0_to_pinv'])} away from pinv(X) y: the component of w0 in the "
            f"null space "
            f"(norm {fmt_est(s['under_null_component_w0'])}) is never touched (it moved by at most "
            f"{fmt(s['under_null_component_moved_max'])}), and from 0 the null-space component stays at most "
            f"{fmt(s['under_null_component_zero_max'])}."
        )
    )
    rep.add(
        Table(
            ["quantity", "value"],
            [
                ["||pinv(X) y|| (minimum norm)", fmt_est(s["under_norm_pinv"])],
                ["||GD limit from w0||", fmt_est(s["under_norm_gd_w0"])],
                [
                    "max | ||w_GD(w0)||^2 - ||pinv(X) y||^2 - ||P_null w0||^2 | (Pythagoras)",
                    fmt(s["under_pythagoras_gap_max"]),
                ],
                ["max ||X w - y|| of the GD limits (interpolation)", fmt(s["under_residual_max"])],
                ["max distance GD(0) - pinv(X) y", fmt(s["under_dist_zero_to_pinv_max"])],
                ["max distance GD(w0) - (w0 + pinv(X)(y - X w0))", fmt(s["under_dist_w0_to_proj_max"])],
                ["distance GD(w0) - pinv(X) y", fmt_est(s["under_dist_w0_to_pinv"])],
                ["predicted rate rho = max |1 - lr lambda_i| over non-zero lambda_i", fmt_est(s["under_rho"], 4)],
                ["measured rate", fmt_est(s["under_measured_rate"], 4)],
            ],
            caption=f"Means with 95% CIs, or maxima, over {n} problems.",
        )
    )

    ov = run_.load_arrays("over")
    un = run_.load_arrays("under")
    t_over = np.arange(ov["sq_dist"].size)
    t_under = np.arange(un["sq_dist_zero_to_pinv"].size)
    floor = ROUNDING_FLOOR * 1e-6  # exact zeros drawn just below the rounding floor
    rho_o = s["over_rho"]["mean"]
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
                        vlines=[(o["lab_steps"], "lab's steps")],
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
                caption="From w0 != 0, GD converges to the projection of w0, and its distance to pinv(X) y "
                "levels off at the null-space part of w0.",
            )
        )
    )
    k = un["weights_zero"].shape[1]
    colours = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

    def traj(weights: np.ndarray, targets: np.ndarray, t: np.ndarray) -> list[Line]:
        out = []
        for i in range(weights.shape[1]):
            col = colours[i % len(colours)]
            out += [
                Line(t, weights[:, i], color=col, width=1.2),
                Line([t[0], t[-1]], [targets[i]] * 2, dash=True, color=col, width=0.8),
            ]
        return out

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
                caption="Each weight approaches its limit; in the under-determined case the limits depend on w0.",
            )
        )
    )

    rows = []
    for r in s["step_size"]:
        rows.append(
            [
                fmt(r["fraction"]),
                fmt(r["lr"]),
                fmt(r["predicted_factor"], 4),
                fmt(r["measured_factor"], 4),
                fmt(r["final_loss"]),
                "yes" if r["warned"] else "no",
            ]
        )
    above = [r for r in s["step_size"] if r["fraction"] > 1]
    below = [r for r in s["step_size"] if r["fraction"] < 1]
    text = (
        f"On the first over-determined problem lambda_max = {fmt(s['lambda_max_first'])}, so the bound is "
        f"2 / lambda_max = {fmt(s['step_bound_first'])}. "
        "GD contracts the error by max_i |1 - lr lambda_i| per step."
    )
    if below:
        text += (
            " Below the bound the final losses are "
            + ", ".join(f"{fmt(r['final_loss'])} at {fmt(r['fraction'])}x" for r in below)
            + "."
        )
    if above:
        text += (
            " Above it: "
            + "; ".join(
                f"at {fmt(r['fraction'])}x the top eigen-direction grows by the predicted |1 - lr lambda_max| = "
                f"{fmt(r['top_mode_factor'], 4)} per step (measured {fmt(r['measured_factor'], 4)}), the loss reaches "
                f"{fmt(r['final_loss'])}" + (" and the library warned" if r["warned"] else "")
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
    ss = run_.load_arrays("step_size")
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
                caption="Just above 2 / lambda_max the loss grows geometrically.",
            )
        )
    )
    return rep


register(
    Study(
        "implicit-bias",
        "Lab 8: GD on least squares converges to the minimum-norm (or closest-to-w0) solution.",
        ImplicitBiasConfig,
        run,
        report,
        smoke={
            "seeds": 2,
            "over": {"m": 200, "steps": 200},
            "under": {"m": 20, "n": 60, "steps": 400},
            "step_size": {"steps": 100},
        },
    )
)
