"""The implicit-bias study, stage by stage (Lab 8).

* **Over-determined** (the lab: ``m = 1000`` points, ``n = 10`` weights, ``y = X w_true``): the
  solution is unique; GD converges to it at the linear rate ``rho = max_i |1 - lr lambda_i|``
  (``lambda_i`` the eigenvalues of ``X^T X / m``), checked against the measured rate.
* **Under-determined** (``n > m``): infinitely many interpolants. From ``w0 = 0`` GD finds the
  pseudo-inverse solution; from a random ``w0`` it finds the projection
  ``w0 + pinv(X)(y - X w0)`` — not the pseudo-inverse — and
  ``||w_inf||^2 = ||pinv(X) y||^2 + ||P_null w0||^2`` (Pythagoras).
* **Step size.** GD is stable iff ``0 < lr < 2 / lambda_max``; runs at 0.5, 0.98 and 1.02 times
  that bound show fast convergence, slow convergence and divergence at the predicted growth
  factor ``|1 - lr lambda_max|``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from learnability._threads import single_threaded_blas
from learnability.analysis import mean_estimate
from learnability.studies import StudyContext
from learnability.studies.implicit_bias.config import ImplicitBiasConfig
from learnability.studies.implicit_bias.parts import (
    UNDER_NUMBERS,
    OverExperiment,
    StepSizeRun,
    UnderExperiment,
    overdetermined_experiment,
    step_size_runs,
    underdetermined_experiment,
)
from learnability.studies.implicit_bias.results import ImplicitBiasResults, StepSize

__all__ = ["N_TRAJECTORY_COORDS", "run"]

# Weight coordinates of the first under-determined problem saved for the trajectory plots.
N_TRAJECTORY_COORDS = 8


def solve_problems(cfg: ImplicitBiasConfig, ctx: StudyContext) -> tuple[list[OverExperiment], list[UnderExperiment]]:
    """GD on ``cfg.seeds`` over- and under-determined problems; logs each distance curve."""
    over, under = [], []
    for s, seed in enumerate(ctx.seeds(cfg.seeds, "over")):
        o = overdetermined_experiment(cfg.over, seed)
        over.append(o)
        ctx.log_block("over_sq_dist", np.arange(o.sq_dist.size), o.sq_dist[:, None], tag=f"seed{s}")
        ctx.progress.update(1)
    for s, seed in enumerate(ctx.seeds(cfg.seeds, "under")):
        u = underdetermined_experiment(cfg.under, seed)
        under.append(u)
        d = u.sq_dist_zero_to_pinv
        ctx.log_block("under_sq_dist_zero_to_pinv", np.arange(d.size), d[:, None], tag=f"seed{s}")
        ctx.progress.update(1)
    return over, under


def save_artifacts(o0: OverExperiment, u0: UnderExperiment, steps: list[StepSizeRun], ctx: StudyContext) -> None:
    """The curves and trajectories of the first problem of each case, and the step-size losses."""
    k = N_TRAJECTORY_COORDS
    ctx.writer.save_arrays(ImplicitBiasResults.OVER, weights=o0.weights, w_star=o0.w_star, sq_dist=o0.sq_dist)
    ctx.writer.save_arrays(
        ImplicitBiasResults.UNDER,
        weights_zero=u0.weights_zero[:, :k],
        weights_w0=u0.weights_w0[:, :k],
        w_pinv=u0.w_pinv[:k],
        w_proj=u0.w_proj[:k],
        sq_dist_zero_to_pinv=u0.sq_dist_zero_to_pinv,
        sq_dist_w0_to_proj=u0.sq_dist_w0_to_proj,
        sq_dist_w0_to_pinv=u0.sq_dist_w0_to_pinv,
        null_component_w0=u0.null_component_w0,
    )
    ctx.writer.save_arrays(
        ImplicitBiasResults.STEP_SIZE,
        fractions=np.array([r.fraction for r in steps]),
        losses=np.stack([r.losses for r in steps]),
    )


def summarise(
    cfg: ImplicitBiasConfig, over: list[OverExperiment], under: list[UnderExperiment], steps: list[StepSizeRun]
) -> ImplicitBiasResults:
    """Means with CIs (or worst cases) over the problems of each case. Every estimate is an
    eigenvalue, a step bound, a contraction rate, a distance or a norm: > 0, so its interval is
    computed on the log scale (``kind="positive"``)."""
    ov = {k: np.array([getattr(r, k) for r in over]) for k in ("lambda_max", "step_bound", "rho", "measured_rate")}
    un = {k: np.array([getattr(r, k) for r in under]) for k in UNDER_NUMBERS}
    return ImplicitBiasResults(
        seeds=cfg.seeds,
        over_lambda_max=mean_estimate(ov["lambda_max"], kind="positive"),
        over_step_bound=mean_estimate(ov["step_bound"], kind="positive"),
        over_lr_over_bound=float(max(cfg.over.lr / b for b in ov["step_bound"])),
        over_sq_dist_lab_steps=mean_estimate([r.sq_dist_lab for r in over], kind="positive"),
        over_sq_dist_final_max=float(max(r.sq_dist_final for r in over)),
        over_rho=mean_estimate(ov["rho"], kind="positive"),
        over_measured_rate=mean_estimate(ov["measured_rate"], kind="positive"),
        over_rate_rel_gap_max=float(max(abs(r.measured_rate / r.rho - 1.0) for r in over)),
        under_rho=mean_estimate(un["rho"], kind="positive"),
        under_measured_rate=mean_estimate(un["measured_rate"], kind="positive"),
        under_rate_rel_gap_max=float(np.max(np.abs(un["measured_rate"] / un["rho"] - 1.0))),
        under_dist_zero_to_pinv_max=float(un["dist_zero_to_pinv"].max()),
        under_dist_w0_to_proj_max=float(un["dist_w0_to_proj"].max()),
        under_dist_w0_to_pinv=mean_estimate(un["dist_w0_to_pinv"], kind="positive"),
        under_null_component_w0=mean_estimate(un["null_component_w0"], kind="positive"),
        under_null_component_moved_max=float(un["null_component_moved"].max()),
        under_null_component_zero_max=float(un["null_component_zero"].max()),
        under_norm_pinv=mean_estimate(un["norm_pinv"], kind="positive"),
        under_norm_gd_w0=mean_estimate(un["norm_gd_w0"], kind="positive"),
        under_pythagoras_gap_max=float(un["pythagoras_gap"].max()),
        under_residual_max=float(max(un["residual_zero"].max(), un["residual_w0"].max())),
        under_gram_rank_max=int(un["gram_rank"].max()),
        under_normal_eq_residual_min=float(un["normal_eq_residual"].min()),
        under_normal_eq_dist_min=float(un["normal_eq_dist"].min()),
        under_lab_ridge_dist_max=float(un["lab_ridge_dist"].max()),
        step_size=[StepSize(**{k: getattr(r, k) for k in StepSize.model_fields}) for r in steps],
        step_bound_first=float(over[0].step_bound),
        lambda_max_first=float(over[0].lambda_max),
    )


@single_threaded_blas
def run(cfg: ImplicitBiasConfig, ctx: StudyContext) -> ImplicitBiasResults:
    """Over- and under-determined GD runs over ``cfg.seeds`` problems, then the step-size runs."""
    ctx.progress.add_total(2 * cfg.seeds + 1)
    over, under = solve_problems(cfg, ctx)
    o0 = over[0]
    steps = step_size_runs(o0.X, o0.y, list(cfg.step_size.fractions), cfg.step_size.steps)
    ctx.progress.update(1)
    save_artifacts(o0, under[0], steps, ctx)
    table = pd.DataFrame([{"seed": i, **{k: getattr(u, k) for k in UNDER_NUMBERS}} for i, u in enumerate(under)])
    ctx.writer.save_table(ImplicitBiasResults.UNDER_SEEDS_TABLE, table)
    return summarise(cfg, over, under, steps)
