"""The kernel-features study, stage by stage: exact maps, the lab's Taylor check, the Taylor error
surface, and the random-Fourier-feature rate.

Three checks of ``k(x, x') = phi(x) . phi(x')``:

1. **Exact maps.** The non-uniform quadratic kernel ``(1 + x . x')^2`` in ``d = 100`` dimensions
   (the lab's size) against its ``(d + 1)(d + 2) / 2``-dimensional map, and the ``d``-D truncated
   Taylor map of the Gaussian kernel on inputs where the truncation is negligible.
2. **Truncated Taylor map of the 1-D Gaussian kernel** (the lab's ``gaussian_feature_map``). With
   ``u = x / sigma`` and all inputs ``>= 0`` (the lab draws ``x ~ 100 U[0, 1]``) every term of the
   expansion is positive and the truncation error after order ``n`` is exactly::

       k(x, x') - phi_n(x) . phi_n(x') = k(x, x') * P(N > n),   N ~ Poisson(u u')

   (``exp(-(u^2 + u'^2)/2) sum_{j>n} (u u')^j / j!`` rewritten), so the error is largest for
   *nearby points far from the origin*: on the diagonal ``x = x' = r sigma`` it is
   ``P(Poisson(r^2) > n)``, and the lab's 100 terms are far too few at ``r = 10``. The study
   measures the error on a grid against truncation order, ``|x - x'| / sigma`` and ``|x| / sigma``,
   and checks it against the Poisson formula.
3. **Random Fourier features** of the RBF kernel (Rahimi & Recht, NeurIPS 2007): each Gram entry
   of ``z(X) z(X)^T`` has variance ``(1 + k^4 / 2 - k^2) / D``, so the RMS error decays as
   ``D^(-1/2)``. The slope on log-log axes is fitted per seed and compared with -1/2.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from learnability._threads import single_threaded_blas
from learnability.analysis import geometric_mean_ratio, loglog_slope, mean_estimate
from learnability.kernels import gaussian_taylor_feature_map, gaussian_taylor_feature_map_1d, rbf_kernel
from learnability.report import fmt
from learnability.studies import StudyContext
from learnability.studies.kernel_features.config import (
    KernelFeaturesConfig,
    QuadraticSection,
    RFFSection,
    TaylorSection,
)
from learnability.studies.kernel_features.maps import (
    first_below,
    quadratic_check,
    rff_errors,
    rff_predicted_rms,
    taylor_sweep,
)
from learnability.studies.kernel_features.results import KernelFeaturesResults, OrderNeeded

__all__ = ["run"]

# np.allclose's default tolerances: the lab's "Success!" test.
ALLCLOSE_RTOL = 1e-5
ALLCLOSE_ATOL = 1e-8
# The Monte Carlo rate of random features: RMS error ~ D^(-1/2).
RFF_EXPECTED_SLOPE = -0.5


def exact_maps(q: QuadraticSection, t: TaylorSection, ctx: StudyContext) -> dict[str, Any]:
    """The quadratic map on ``N(0, I_d)`` inputs and the d-D Taylor map where truncation is negligible."""
    rng = np.random.default_rng(ctx.seed("quadratic"))
    quad = quadratic_check(rng.standard_normal((q.n_points, q.dim)))
    rng = np.random.default_rng(ctx.seed("gaussian-dd"))
    Xd = rng.standard_normal((q.n_points, t.dd_dim))  # (N, d)
    phi_d = gaussian_taylor_feature_map(Xd, sigma=t.dd_sigma, order=t.dd_order)  # (N, C(d + order, d))
    return {
        "quadratic_dim": q.dim,
        "quadratic_feature_dim": quad["feature_dim"],
        "quadratic_max_abs_error": quad["max_abs_error"],
        "quadratic_max_rel_error": quad["max_rel_error"],
        "gaussian_dd_max_abs_error": float(np.abs(rbf_kernel(Xd, sigma=t.dd_sigma) - phi_d @ phi_d.T).max()),
        "gaussian_dd_feature_dim": int(phi_d.shape[1]),
    }


def lab_check(t: TaylorSection, ctx: StudyContext) -> dict[str, Any]:
    """The lab's ``np.allclose`` check of the 1-D Taylor map on random pairs in ``[0, x_max]``."""
    rng = np.random.default_rng(ctx.seed("taylor-lab"))
    xa, xb = rng.uniform(0.0, t.x_max, t.lab_pairs), rng.uniform(0.0, t.x_max, t.lab_pairs)  # (P,)
    k_ab = np.exp(-((xa - xb) ** 2) / (2.0 * t.sigma**2))
    abs_err, passing = {}, {}
    for name, order in (("lab", t.lab_terms - 1), ("max", t.max_order)):
        approx = np.sum(
            gaussian_taylor_feature_map_1d(xa, sigma=t.sigma, order=order)
            * gaussian_taylor_feature_map_1d(xb, sigma=t.sigma, order=order),
            axis=1,
        )
        abs_err[name] = np.abs(k_ab - approx)
        # The lab's test, np.allclose(kernel_val, feature_map_val), pair by pair.
        passing[name] = np.isclose(k_ab, approx, rtol=ALLCLOSE_RTOL, atol=ALLCLOSE_ATOL)
    worst = int(np.argmax(abs_err["lab"]))
    ctx.writer.save_arrays(
        KernelFeaturesResults.TAYLOR_PAIRS,
        x=xa,
        x_prime=xb,
        kernel=k_ab,
        error_lab=abs_err["lab"],
        error_max=abs_err["max"],
    )
    return {
        "taylor_lab_order": t.lab_terms - 1,
        "taylor_lab_pass_fraction": float(passing["lab"].mean()),
        "taylor_max_order_pass_fraction": float(passing["max"].mean()),
        "taylor_lab_max_abs_error": float(abs_err["lab"].max()),
        "taylor_lab_worst_x_over_sigma": float(max(xa[worst], xb[worst]) / t.sigma),
        "taylor_lab_worst_delta_over_sigma": float(abs(xa[worst] - xb[worst]) / t.sigma),
    }


def error_surface(t: TaylorSection, ctx: StudyContext) -> dict[str, Any]:
    """The Taylor-map error on a grid, for every order: against the Poisson formula, per radius."""
    lab_order = min(t.lab_terms - 1, t.max_order)  # the lab's order, if the sweep reaches it
    sweep = taylor_sweep(
        sigma=t.sigma,
        x_max=t.x_max,
        grid=t.grid,
        max_order=t.max_order,
        radii=list(t.radii),
        delta_bins=t.delta_bins,
        lab_order=lab_order,
    )
    ctx.writer.save_arrays(
        KernelFeaturesResults.TAYLOR_SWEEP,
        u=sweep.u,
        orders=sweep.orders,
        max_error=sweep.max_error,
        radius_error=sweep.radius_error,
        poisson_radius=sweep.poisson_radius,
        radii=np.asarray(t.radii),
        delta_edges=sweep.delta_edges,
        delta_error=sweep.delta_error,
        lab_error=sweep.lab_error,
    )
    needed = {
        fmt(rad): OrderNeeded(
            radius=rad,
            measured=first_below(sweep.radius_error[i], t.tolerance),
            poisson=first_below(sweep.poisson_radius[i], t.tolerance),
            error_at_lab_order=float(sweep.radius_error[i, lab_order]),
        )
        for i, rad in enumerate(t.radii)
    }
    worst_x, worst_delta = sweep.lab_worst
    return {
        "taylor_grid_max_error_at_lab_order": float(sweep.max_error[lab_order]),
        "taylor_grid_worst_x_over_sigma": worst_x,
        "taylor_grid_worst_delta_over_sigma": worst_delta,
        "taylor_formula_max_gap": sweep.formula_gap,
        "taylor_order_needed": needed,
    }


def rff_rate(r: RFFSection, ctx: StudyContext) -> dict[str, Any]:
    """Random Fourier features: RMS and max Gram error against ``D``, per seed; the log-log slopes."""
    rng = np.random.default_rng(ctx.seed("rff-data"))
    Xr = rng.standard_normal((r.n_points, r.dim))  # (N, d)
    n_feat = np.unique(np.round(np.geomspace(r.min_features, r.max_features, r.num)).astype(int))  # (F,)
    rms, worst_abs = rff_errors(Xr, sigma=r.sigma, n_features=n_feat, seeds=ctx.seeds(r.seeds, "rff"))  # (S, F)
    predicted = rff_predicted_rms(rbf_kernel(Xr, sigma=r.sigma), n_feat)  # (F,)
    ratio = (rms / predicted[None, :]).mean(axis=1)  # per seed: measured / predicted, averaged over D
    rows = [
        {"seed": s, "D": int(D), "rms": rms[s, j], "max_abs": worst_abs[s, j], "predicted_rms": predicted[j]}
        for s in range(rms.shape[0])
        for j, D in enumerate(n_feat)
    ]
    ctx.writer.save_table(KernelFeaturesResults.RFF_TABLE, pd.DataFrame(rows))
    slopes = np.array([loglog_slope(n_feat, row) for row in rms])  # (S,)
    max_slopes = np.array([loglog_slope(n_feat, row) for row in worst_abs])  # (S,)
    return {
        "rff_n_features": n_feat.tolist(),
        "rff_slope": mean_estimate(slopes),
        "rff_slope_expected": RFF_EXPECTED_SLOPE,
        "rff_max_abs_slope": mean_estimate(max_slopes),
        "rff_max_minus_rms_slope": mean_estimate(max_slopes - slopes),  # paired: same draws
        "rff_rms_at_max_features": mean_estimate(rms[:, -1], kind="positive"),
        "rff_predicted_rms_at_max_features": float(predicted[-1]),
        "rff_ratio_to_theory": geometric_mean_ratio(ratio),  # a ratio: geometric mean, log-scale interval
    }


@single_threaded_blas
def run(cfg: KernelFeaturesConfig, ctx: StudyContext) -> KernelFeaturesResults:
    """Exact-map checks, the lab's Taylor check, the Taylor error surface and the RFF rate."""
    ctx.progress.add_total(4)
    exact = exact_maps(cfg.quadratic, cfg.taylor, ctx)
    ctx.progress.update(1)
    lab = lab_check(cfg.taylor, ctx)
    ctx.progress.update(1)
    surface = error_surface(cfg.taylor, ctx)
    ctx.progress.update(1)
    rff = rff_rate(cfg.rff, ctx)
    ctx.progress.update(1)
    return KernelFeaturesResults(**exact, **lab, **surface, **rff)
