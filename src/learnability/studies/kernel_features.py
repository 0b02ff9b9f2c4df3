"""Kernels versus explicit feature maps (Lab 1): exact, truncated and random features.

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

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import Field
from scipy.stats import poisson

from learnability.config import ConfigSection, StudyConfig
from learnability.kernels import (
    RandomFourierFeatures,
    gaussian_taylor_feature_map,
    gaussian_taylor_feature_map_1d,
    quadratic_feature_map,
    quadratic_kernel,
    rbf_kernel,
)
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
)
from learnability.runs import Run
from learnability.studies import Study, StudyContext, register
from learnability.studies._kernel_common import (
    estimate,
    fmt_est,
    loglog_slope,
    single_threaded_blas,
    spread,
)

__all__ = [
    "KernelFeaturesConfig",
    "TaylorSweep",
    "quadratic_check",
    "rff_errors",
    "rff_predicted_rms",
    "taylor_sweep",
]

# np.allclose's default tolerances: the lab's "Success!" test.
ALLCLOSE_RTOL = 1e-5
ALLCLOSE_ATOL = 1e-8
# "Exact up to rounding": relative error of an exact map, and absolute error (kernel values <= 1)
# of a closed-form error formula; float64 rounding sits 3-4 orders of magnitude below both.
EXACT_REL_TOL = 1e-12
EXACT_ABS_TOL = 1e-12
# Errors are drawn on log axes; exact zeros (no truncation error left) are shown at this floor.
ERROR_FLOOR = 1e-17


class QuadraticSection(ConfigSection):
    dim: int = Field(100, ge=1, description="input dimension d (Lab 1: v, u = randn(100))")
    n_points: int = Field(50, ge=2, description="random inputs x ~ N(0, I_d); all pairs are compared")


class TaylorSection(ConfigSection):
    sigma: float = Field(10.0, gt=0, description="bandwidth (Lab 1: chosen_sigma = 10)")
    x_max: float = Field(100.0, gt=0, description="inputs in [0, x_max] (Lab 1: 100 * rand(1))")
    lab_terms: int = Field(100, ge=1, description="terms of the lab's map (approx_order = 100 -> order 99)")
    lab_pairs: int = Field(1000, ge=1, description="random pairs for the lab's allclose check (lab: 1)")
    max_order: int = Field(
        200,
        ge=1,
        description="orders 0..max_order are swept: (x_max/sigma)^2 + 10 sd "
        "of Poisson((x_max/sigma)^2), enough for 1e-8 at |x| = x_max",
    )
    grid: int = Field(201, ge=3, description="grid points per axis on [0, x_max] (step x_max / (grid - 1))")
    radii: list[float] = Field(
        default_factory=lambda: [1.0, 2.0, 5.0, 10.0], description="|x| / sigma limits for the error-vs-order curves"
    )
    delta_bins: int = Field(20, ge=1, description="bins of |x - x'| / sigma in [0, x_max / sigma]")
    tolerance: float = Field(1e-8, gt=0, description="error target for 'order needed' (np.allclose atol)")
    dd_dim: int = Field(3, ge=1, description="dimension of the d-D Taylor map check")
    dd_order: int = Field(20, ge=0, description="total degree of the d-D Taylor map")
    dd_sigma: float = Field(2.0, gt=0, description="bandwidth of the d-D check (x ~ N(0, I): |x.x'|/s^2 ~ 1)")


class RFFSection(ConfigSection):
    dim: int = Field(4, ge=1, description="input dimension d; x ~ N(0, I_d)")
    n_points: int = Field(100, ge=2, description="inputs; the error is over all n^2 Gram entries")
    sigma: float = Field(2.0, gt=0, description="RBF bandwidth = sqrt(d): typical k(x, x') ~ exp(-1)")
    min_features: int = Field(10, ge=1, description="smallest number of random features D")
    max_features: int = Field(10_000, ge=2, description="largest D")
    num: int = Field(13, ge=2, description="log-spaced values of D (4 per decade by default)")
    seeds: int = Field(5, ge=2, description="independent draws of the random features")


class KernelFeaturesConfig(StudyConfig):
    """Kernel values versus feature-map inner products: quadratic, Taylor-Gaussian, random Fourier.

    Command:  learnability run kernel-features        (smoke: learnability run kernel-features --smoke)
    Runtime:  compute 2.7 s wall (4.2 s at load ~8); 18 s in all with imports and figures,
              8.5 s CPU (shared 2-core machine, load ~5); smoke: compute 0.2 s, ~6-8 s in all
    Expected: quadratic map exact (max error 7.9e-16 of the largest kernel value); the lab's
              100-term Taylor check passes for only 92.5% of random pairs in [0, 100] with
              sigma = 10 (worst error 0.42, at x ~ x' ~ 100); the measured error equals
              k P(Poisson(x x' / sigma^2) > n) to 6e-14, and error 1e-8 needs order 11, 20, 58, 161
              at |x| <= 1, 2, 5, 10 sigma; random Fourier features: RMS error slope
              -0.499 [-0.510, -0.488] against -1/2, measured / predicted RMS 0.99 [0.94, 1.03].
    """

    quadratic: QuadraticSection = Field(default_factory=QuadraticSection)
    taylor: TaylorSection = Field(default_factory=TaylorSection)
    rff: RFFSection = Field(default_factory=RFFSection)


# --------------------------------------------------------------------------- computations


def quadratic_check(X: np.ndarray) -> dict[str, float]:
    """``(1 + x . x')^2`` against ``phi(x) . phi(x')`` on all pairs of ``X: (N, d)``.

    Returns:
        ``{"max_abs_error", "max_rel_error", "feature_dim"}``; the relative error is relative to
        ``max |K|`` (entries near 0, where x . x' ~ -1, make entry-wise ratios meaningless).
    """
    K = quadratic_kernel(X)  # (N, N)
    phi = quadratic_feature_map(X)  # (N, (d+1)(d+2)/2)
    err = np.abs(K - phi @ phi.T)
    return {
        "max_abs_error": float(err.max()),
        "max_rel_error": float(err.max() / np.abs(K).max()),
        "feature_dim": int(phi.shape[1]),
    }


@dataclass(frozen=True)
class TaylorSweep:
    """Truncation error of the 1-D Gaussian Taylor map on a grid ``x, x'`` in ``[0, x_max]``.

    Attributes:
        u: ``(G,)`` grid in units of sigma.
        orders: ``(M + 1,)`` truncation orders ``0..max_order``.
        max_error: ``(M + 1,)`` largest absolute error over the grid.
        radius_error: ``(R, M + 1)`` largest error over pairs with ``max(u, u') <= radii[r]``.
        poisson_radius: ``(R, M + 1)`` the prediction ``P(Poisson(r^2) > n)`` of that maximum.
        delta_edges: ``(B + 1,)`` bin edges of ``|u - u'|``.
        delta_error: ``(B, M + 1)`` largest error per bin of ``|u - u'|``.
        formula_gap: largest ``|measured signed error - k P(Poisson(u u') > n)|`` over all pairs
            and orders (rounding level if the derivation is right).
        lab_error: ``(G, G)`` absolute error at the lab's order.
    """

    u: np.ndarray
    orders: np.ndarray
    max_error: np.ndarray
    radius_error: np.ndarray
    poisson_radius: np.ndarray
    delta_edges: np.ndarray
    delta_error: np.ndarray
    formula_gap: float
    lab_error: np.ndarray


def taylor_sweep(
    *, sigma: float, x_max: float, grid: int, max_order: int, radii: list[float], delta_bins: int, lab_order: int
) -> TaylorSweep:
    """Measure the Taylor-map error for every order ``0..max_order`` on a ``grid x grid`` mesh.

    The 1-D maps are nested (order ``n`` keeps the first ``n + 1`` features), so the approximate
    Gram matrix of every order is a running sum of rank-one terms.
    """
    x = np.linspace(0.0, x_max, grid)  # (G,)
    u = x / sigma
    phi = gaussian_taylor_feature_map_1d(x, sigma=sigma, order=max_order)  # (G, M+1)
    K = rbf_kernel(x[:, None], sigma=sigma)  # (G, G)
    z = np.outer(u, u)  # (G, G): x x' / sigma^2
    radius = np.maximum(u[:, None], u[None, :])  # (G, G)
    delta = np.abs(u[:, None] - u[None, :])  # (G, G)
    edges = np.linspace(0.0, float(u[-1]), delta_bins + 1)
    bins = np.clip(np.digitize(delta.ravel(), edges[1:-1]), 0, delta_bins - 1)  # (G^2,)
    order_idx = np.argsort(bins, kind="stable")
    starts = np.searchsorted(bins[order_idx], np.arange(delta_bins))
    filled = np.bincount(bins, minlength=delta_bins) > 0
    masks = [radius <= r + 1e-12 for r in radii]  # tolerance: grid points at exactly r count

    n_orders = max_order + 1
    max_error = np.empty(n_orders)
    radius_error = np.empty((len(radii), n_orders))
    delta_error = np.full((delta_bins, n_orders), np.nan)
    approx = np.zeros_like(K)
    gap = 0.0
    lab_error = np.zeros_like(K)
    for n in range(n_orders):
        approx += np.outer(phi[:, n], phi[:, n])
        err = K - approx  # >= 0 in exact arithmetic: every term is positive for x, x' >= 0
        gap = max(gap, float(np.max(np.abs(err - K * poisson.sf(n, z)))))
        abs_err = np.abs(err)
        max_error[n] = abs_err.max()
        for i, m in enumerate(masks):
            radius_error[i, n] = abs_err[m].max()
        per_bin = np.maximum.reduceat(abs_err.ravel()[order_idx], np.minimum(starts, bins.size - 1))
        delta_error[filled, n] = per_bin[filled]
        if n == lab_order:
            lab_error = abs_err.copy()
    poisson_radius = np.stack([poisson.sf(np.arange(n_orders), r * r) for r in radii])
    return TaylorSweep(
        u=u,
        orders=np.arange(n_orders),
        max_error=max_error,
        radius_error=radius_error,
        poisson_radius=poisson_radius,
        delta_edges=edges,
        delta_error=delta_error,
        formula_gap=gap,
        lab_error=lab_error,
    )


def first_below(values: np.ndarray, tol: float) -> int | None:
    """Index of the first entry ``<= tol`` of a decreasing curve (None if never)."""
    hit = np.flatnonzero(values <= tol)
    return int(hit[0]) if hit.size else None


def rff_predicted_rms(K: np.ndarray, n_features: np.ndarray) -> np.ndarray:
    """RMS error of ``z z^T`` over the entries of ``K`` predicted by the variance formula.

    Each entry's variance is ``(1 + k^4 / 2 - k^2) / D`` (Rahimi & Recht's features with a random
    phase), so the expected mean squared error is its mean over the entries.
    """
    per_feature = float(np.mean(1.0 + K**4 / 2.0 - K**2))
    return np.sqrt(per_feature / np.asarray(n_features, dtype=float))


def rff_errors(
    X: np.ndarray, *, sigma: float, n_features: np.ndarray, seeds: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """RMS and max absolute error of random Fourier features for each seed and each ``D``.

    Returns:
        ``(rms, max_abs)``, each ``(S, F)`` for ``S`` seeds and ``F`` values of ``D``.
    """
    K = rbf_kernel(X, sigma=sigma)  # (N, N)
    rms = np.empty((len(seeds), len(n_features)))
    worst = np.empty_like(rms)
    for s, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        for j, D in enumerate(n_features):
            z = RandomFourierFeatures.sample(X.shape[1], int(D), sigma=sigma, rng=rng).transform(X)
            err = z @ z.T - K  # (N, N)
            rms[s, j] = np.sqrt(np.mean(err**2))
            worst[s, j] = np.abs(err).max()
    return rms, worst


# --------------------------------------------------------------------------- run


@single_threaded_blas
def run(cfg: KernelFeaturesConfig, ctx: StudyContext) -> dict:
    """Exact-map checks, the lab's Taylor check, the Taylor error surface and the RFF rate; returns the summary."""
    ctx.progress.add_total(4)
    q, t, r = cfg.quadratic, cfg.taylor, cfg.rff

    # 1. exact maps
    rng = np.random.default_rng(ctx.seed("quadratic"))
    quad = quadratic_check(rng.standard_normal((q.n_points, q.dim)))
    rng = np.random.default_rng(ctx.seed("gaussian-dd"))
    Xd = rng.standard_normal((q.n_points, t.dd_dim))
    phi_d = gaussian_taylor_feature_map(Xd, sigma=t.dd_sigma, order=t.dd_order)
    dd_err = float(np.abs(rbf_kernel(Xd, sigma=t.dd_sigma) - phi_d @ phi_d.T).max())
    ctx.progress.update(1)

    # 2a. the lab's check on random pairs
    lab_order = t.lab_terms - 1
    rng = np.random.default_rng(ctx.seed("taylor-lab"))
    xa, xb = rng.uniform(0.0, t.x_max, t.lab_pairs), rng.uniform(0.0, t.x_max, t.lab_pairs)
    k_ab = np.exp(-((xa - xb) ** 2) / (2.0 * t.sigma**2))
    lab_abs, passing = {}, {}
    for name, order in (("lab", lab_order), ("max", t.max_order)):
        approx = np.sum(
            gaussian_taylor_feature_map_1d(xa, sigma=t.sigma, order=order)
            * gaussian_taylor_feature_map_1d(xb, sigma=t.sigma, order=order),
            axis=1,
        )
        lab_abs[name] = np.abs(k_ab - approx)
        # The lab's test, np.allclose(kernel_val, feature_map_val), pair by pair.
        passing[name] = np.isclose(k_ab, approx, rtol=ALLCLOSE_RTOL, atol=ALLCLOSE_ATOL)
    passes, passes_max = passing["lab"], passing["max"]
    worst = int(np.argmax(lab_abs["lab"]))
    ctx.writer.save_arrays(
        "taylor_pairs", x=xa, x_prime=xb, kernel=k_ab, error_lab=lab_abs["lab"], error_max=lab_abs["max"]
    )
    ctx.progress.update(1)

    # 2b. the error surface
    sweep = taylor_sweep(
        sigma=t.sigma,
        x_max=t.x_max,
        grid=t.grid,
        max_order=t.max_order,
        radii=list(t.radii),
        delta_bins=t.delta_bins,
        lab_order=min(lab_order, t.max_order),
    )
    ctx.writer.save_arrays(
        "taylor_sweep",
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
    needed = {}
    for i, rad in enumerate(t.radii):
        needed[fmt(rad)] = {
            "radius": rad,
            "measured": first_below(sweep.radius_error[i], t.tolerance),
            "poisson": first_below(sweep.poisson_radius[i], t.tolerance),
            "error_at_lab_order": float(sweep.radius_error[i, min(lab_order, t.max_order)]),
        }
    ctx.progress.update(1)

    # 3. random Fourier features
    rng = np.random.default_rng(ctx.seed("rff-data"))
    Xr = rng.standard_normal((r.n_points, r.dim))
    n_feat = np.unique(np.round(np.geomspace(r.min_features, r.max_features, r.num)).astype(int))
    rms, worst_abs = rff_errors(Xr, sigma=r.sigma, n_features=n_feat, seeds=ctx.seeds(r.seeds, "rff"))
    predicted = rff_predicted_rms(rbf_kernel(Xr, sigma=r.sigma), n_feat)
    slopes = [loglog_slope(n_feat, row) for row in rms]
    ratio = (rms / predicted[None, :]).mean(axis=1)  # per seed: measured / predicted, averaged over D
    rows = [
        {"seed": s, "D": int(D), "rms": rms[s, j], "max_abs": worst_abs[s, j], "predicted_rms": predicted[j]}
        for s in range(rms.shape[0])
        for j, D in enumerate(n_feat)
    ]
    ctx.writer.save_table("rff", pd.DataFrame(rows))
    ctx.progress.update(1)

    slope = estimate(slopes)
    return {
        "quadratic_dim": q.dim,
        "quadratic_feature_dim": quad["feature_dim"],
        "quadratic_max_abs_error": quad["max_abs_error"],
        "quadratic_max_rel_error": quad["max_rel_error"],
        "gaussian_dd_max_abs_error": dd_err,
        "gaussian_dd_feature_dim": int(phi_d.shape[1]),
        "taylor_lab_order": lab_order,
        "taylor_lab_pass_fraction": float(passes.mean()),
        "taylor_max_order_pass_fraction": float(passes_max.mean()),
        "taylor_lab_max_abs_error": float(lab_abs["lab"].max()),
        "taylor_lab_worst_x_over_sigma": float(max(xa[worst], xb[worst]) / t.sigma),
        "taylor_lab_worst_delta_over_sigma": float(abs(xa[worst] - xb[worst]) / t.sigma),
        "taylor_grid_max_error_at_lab_order": float(sweep.max_error[min(lab_order, t.max_order)]),
        "taylor_formula_max_gap": sweep.formula_gap,
        "taylor_order_needed": needed,
        "rff_n_features": n_feat.tolist(),
        "rff_slope": slope,
        "rff_slope_expected": -0.5,
        "rff_slope_ci_contains_expected": bool(slope["low"] <= -0.5 <= slope["high"]),
        "rff_rms_at_max_features": estimate(rms[:, -1]),
        "rff_predicted_rms_at_max_features": float(predicted[-1]),
        "rff_ratio_to_theory": estimate(ratio),
    }


# --------------------------------------------------------------------------- report


def report(run_: Run) -> Report:
    """The report, from the run folder alone."""
    s = run_.summary
    cfg = run_.config_dict
    t = cfg["taylor"]
    slope = s["rff_slope"]
    rep = Report(
        "Kernels and feature maps (Lab 1)",
        headline={
            "quadratic map, max rel. error": fmt(s["quadratic_max_rel_error"]),
            "lab Taylor check, pairs passing": f"{100 * s['taylor_lab_pass_fraction']:.1f}%",
            "RFF error slope (expected -0.5)": fmt_est(slope),
        },
    )

    # exact maps
    exact = s["quadratic_max_rel_error"] < EXACT_REL_TOL
    rep.add(
        Heading("Exact feature maps"),
        Text(
            f"The non-uniform quadratic kernel (1 + x.x')^2 in d = {s['quadratic_dim']} dimensions equals the "
            f"inner product of its {s['quadratic_feature_dim']}-dimensional explicit map to within "
            f"{fmt(s['quadratic_max_abs_error'])} (relative to the largest kernel value: "
            f"{fmt(s['quadratic_max_rel_error'])}) on all pairs "
            f"of {cfg['quadratic']['n_points']} random inputs: "
            + ("exact up to floating-point rounding." if exact else "NOT exact — a bug in the map.")
            + f" The {t['dd_dim']}-D truncated Taylor map of the Gaussian kernel (total degree "
            f"{t['dd_order']}, {s['gaussian_dd_feature_dim']} features, sigma = {fmt(t['dd_sigma'])}) matches "
            f"the kernel to {fmt(s['gaussian_dd_max_abs_error'])} on standard normal inputs, where "
            "|x.x'| / sigma^2 is small and the truncated terms are negligible."
        ),
    )

    # Taylor: lab check
    sw = run_.load_arrays("taylor_sweep")
    needed = s["taylor_order_needed"]
    rep.add(
        Heading("Truncated Taylor map of the 1-D Gaussian kernel"),
        Text(
            f"The lab's check draws x, x' uniformly in [0, {fmt(t['x_max'])}] with sigma = {fmt(t['sigma'])} and "
            f"keeps {t['lab_terms']} terms (order {s['taylor_lab_order']}). Over {t['lab_pairs']} random pairs "
            f"{'only ' if s['taylor_lab_pass_fraction'] < 1 else ''}{100 * s['taylor_lab_pass_fraction']:.1f}% "
            "pass np.allclose; the worst pair has "
            f"max(x, x')/sigma = {fmt(s['taylor_lab_worst_x_over_sigma'])} and |x - x'|/sigma = "
            f"{fmt(s['taylor_lab_worst_delta_over_sigma'])}, with error {fmt(s['taylor_lab_max_abs_error'])} "
            f"on a kernel value of at most 1. With order {t['max_order']}, "
            f"{100 * s['taylor_max_order_pass_fraction']:.1f}% pass."
        ),
    )
    formula_ok = s["taylor_formula_max_gap"] < EXACT_ABS_TOL
    rows = []
    for v in needed.values():
        rows.append(
            [
                fmt(v["radius"]),
                v["error_at_lab_order"],
                "—" if v["measured"] is None else v["measured"],
                "—" if v["poisson"] is None else v["poisson"],
            ]
        )
    rep.add(
        Text(
            "For x, x' >= 0 every term of the expansion is positive and the truncation error after order n "
            "is exactly k(x, x') P(N > n) with N ~ Poisson(x x'/sigma^2). On the "
            f"{len(sw['u'])} x {len(sw['u'])} grid and all orders 0..{t['max_order']} the measured error "
            f"differs from this formula by at most {fmt(s['taylor_formula_max_gap'])} — "
            + ("the derivation holds to rounding. " if formula_ok else "more than rounding: check the map. ")
            + "So the error does not depend on |x - x'| / sigma alone: the kernel factor exp(-(x - x')^2 / "
            "2 sigma^2) damps it for distant points, while the Poisson tail makes it grow with x x' / sigma^2. "
            "It is largest for nearby points far from the origin, and on the diagonal x = x' = r sigma it "
            f"equals P(Poisson(r^2) > n). The order needed for an error below {fmt(t['tolerance'])} is a "
            "far-tail quantile of Poisson(r^2) (mean r^2, standard deviation r):"
        ),
        Table(
            [
                "max |x| / sigma",
                f"max error at order {s['taylor_lab_order']}",
                f"order needed (measured, error <= {fmt(t['tolerance'])})",
                "order needed (Poisson formula)",
            ],
            rows,
            caption="Largest error over grid pairs with both inputs at most r sigma.",
        ),
    )
    orders = sw["orders"]
    lines = []
    for i, rad in enumerate(sw["radii"]):
        colour = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")[i % 6]
        lines.append(
            Line(
                orders,
                np.maximum(sw["radius_error"][i], ERROR_FLOOR),
                label=f"|x| <= {fmt(float(rad))} sigma",
                color=colour,
            )
        )
        lines.append(Line(orders, np.maximum(sw["poisson_radius"][i], ERROR_FLOOR), dash=True, color=colour))
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
                        hlines=[(t["tolerance"], "tolerance")],
                        vlines=[(s["taylor_lab_order"], "lab's order")],
                    )
                ],
                caption="Worst error over pairs within |x| <= r sigma; exact zeros are drawn at 1e-17.",
            )
        )
    )

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
                        [Heatmap(np.log10(np.maximum(sw["lab_error"], ERROR_FLOOR)), cmap="magma")],
                        title=f"log10 error at order {s['taylor_lab_order']}",
                        xlabel=f"index j: x' / sigma = {fmt(du)} j",
                        ylabel=f"index i: x / sigma = {fmt(du)} i",
                    ),
                    Panel(
                        [Heatmap(np.log10(np.maximum(sw["delta_error"], ERROR_FLOOR)), cmap="magma")],
                        title="log10 max error per |x - x'| / sigma bin",
                        xlabel="truncation order n",
                        ylabel=f"bin b: |x - x'| / sigma in [{fmt(width)} b, {fmt(width)} (b + 1))",
                    ),
                ],
                panel_size=(5.2, 4.4),
                caption="Left: the error concentrates on the diagonal (nearby points) at "
                "large |x|. Right: the worst error in each distance bin against the truncation order.",
            )
        )
    )

    # RFF
    table = run_.load_table("rff")
    by_d = table.groupby("D")
    Ds = np.array(sorted(table["D"].unique()))
    ests = [estimate(by_d.get_group(D)["rms"].to_numpy()) for D in Ds]
    worst = [estimate(by_d.get_group(D)["max_abs"].to_numpy()) for D in Ds]
    pred = by_d["predicted_rms"].first().loc[Ds].to_numpy()
    lo, hi = zip(*(spread(e) for e in ests), strict=True)
    wlo, whi = zip(*(spread(e) for e in worst), strict=True)
    rcfg = cfg["rff"]
    ok = s["rff_slope_ci_contains_expected"]
    rep.add(
        Heading("Random Fourier features"),
        Text(
            f"On {rcfg['n_points']} standard normal inputs in d = {rcfg['dim']} (sigma = {fmt(rcfg['sigma'])}), "
            f"the RMS "
            f"error of z(X) z(X)^T over all Gram entries falls from {fmt_est(ests[0])} at D = {Ds[0]} to "
            f"{fmt_est(ests[-1])} at D = {Ds[-1]} (mean over {rcfg['seeds']} seeds, 95% CI). The fitted log-log "
            f"slope is {fmt_est(slope)} against the expected -1/2: the interval "
            + ("contains -1/2." if ok else "does NOT contain -1/2.")
            + f" The variance formula (1 + k^4/2 - k^2)/D predicts the RMS error itself: measured / predicted = "
            f"{fmt_est(s['rff_ratio_to_theory'])}. The worst entry is larger (it is a maximum over "
            f"{rcfg['n_points'] ** 2} entries) but falls at the same rate."
        ),
        Figure(
            Chart(
                "rff_error_vs_features",
                [
                    Panel(
                        [
                            Line(
                                Ds,
                                [e["mean"] for e in ests],
                                band=(lo, hi),
                                label="RMS error (mean, 95% CI)",
                                mode="lines+markers",
                            ),
                            Line(Ds, pred, label="predicted sqrt(mean(1 + k^4/2 - k^2) / D)", dash=True),
                            Line(
                                Ds,
                                [e["mean"] for e in worst],
                                band=(wlo, whi),
                                label="max |error|",
                                mode="lines+markers",
                            ),
                        ],
                        xscale="log",
                        yscale="log",
                        xlabel="number of random features D",
                        ylabel="error",
                        title=f"RFF error vs D (slope {fmt(slope['mean'])})",
                    )
                ],
                caption="A slope of -1/2 on these log-log axes is the O(1/sqrt(D)) rate.",
            )
        ),
    )
    return rep


register(
    Study(
        "kernel-features",
        "Lab 1: kernel values vs explicit, truncated-Taylor and random Fourier feature maps.",
        KernelFeaturesConfig,
        run,
        report,
        smoke={
            "quadratic": {"dim": 20, "n_points": 10},
            "taylor": {"lab_pairs": 200, "grid": 41},
            "rff": {"n_points": 40, "max_features": 1000, "num": 5, "seeds": 3},
        },
    )
)
