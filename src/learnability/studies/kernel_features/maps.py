"""The kernel-features study's building blocks: exact-map, Taylor-map and random-feature errors.

Nothing here touches the run folder: each function takes arrays and settings and returns numbers,
so the tests can check them against closed forms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import poisson

from learnability.kernels import (
    RandomFourierFeatures,
    gaussian_taylor_feature_map_1d,
    quadratic_feature_map,
    quadratic_kernel,
    rbf_kernel,
)

__all__ = ["TaylorSweep", "first_below", "quadratic_check", "rff_errors", "rff_predicted_rms", "taylor_sweep"]

# Grid points at exactly |x| / sigma = r count as "within r" (the grid is r * k / (G - 1)).
RADIUS_TOL = 1e-12


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

    @property
    def lab_worst(self) -> tuple[float, float]:
        """``(max(u, u'), |u - u'|)`` of the grid pair with the largest error at the lab's order."""
        i, j = np.unravel_index(int(np.argmax(self.lab_error)), self.lab_error.shape)
        return float(max(self.u[i], self.u[j])), float(abs(self.u[i] - self.u[j]))


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
    masks = [radius <= r + RADIUS_TOL for r in radii]

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
    """Index of the first entry ``<= tol`` of a decreasing curve ``values: (M,)`` (None if never)."""
    hit = np.flatnonzero(values <= tol)
    return int(hit[0]) if hit.size else None


def rff_predicted_rms(K: np.ndarray, n_features: np.ndarray) -> np.ndarray:
    """RMS error ``(F,)`` of ``z z^T`` over the entries of ``K: (N, N)`` predicted for each ``D``.

    Each entry's variance is ``(1 + k^4 / 2 - k^2) / D`` (Rahimi & Recht's features with a random
    phase), so the expected mean squared error is its mean over the entries.
    """
    per_feature = float(np.mean(1.0 + K**4 / 2.0 - K**2))
    return np.sqrt(per_feature / np.asarray(n_features, dtype=float))


def rff_errors(
    X: np.ndarray, *, sigma: float, n_features: np.ndarray, seeds: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """RMS and max absolute error of random Fourier features for each seed and each ``D``.

    Args:
        X: ``(N, d)`` inputs.
        sigma: RBF bandwidth.
        n_features: ``(F,)`` numbers of random features ``D``.
        seeds: one seed per independent draw (the draws for all ``D`` of a seed share a generator).

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
