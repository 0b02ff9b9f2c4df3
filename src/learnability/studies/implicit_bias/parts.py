"""The implicit-bias experiments: GD on one least-squares problem, compared with its closed forms.

Gradient descent on ``L(w) = ||X w - y||^2 / (2 m)`` moves ``w`` only inside the row space of
``X`` (every gradient ``X^T r / m`` lies there), so the part of ``w0`` orthogonal to it never
changes. Hence GD converges to the least-squares solution *closest to* ``w0``::

    w_inf = w0 + pinv(X) (y - X w0),        and w_inf = pinv(X) y  (minimum norm) from w0 = 0.

Each experiment draws one problem from a seed and returns every array and number the study
needs from it; nothing here logs or writes.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from learnability.linear import gradient_descent_least_squares, least_squares, step_size_bound
from learnability.studies.implicit_bias.config import OverSection, UnderSection

__all__ = [
    "ROUNDING_FLOOR",
    "OverExperiment",
    "StepSizeRun",
    "UnderExperiment",
    "contraction_factor",
    "hessian_eigenvalues",
    "measured_rate",
    "overdetermined_experiment",
    "step_size_runs",
    "underdetermined_experiment",
]

# Squared distances below this are rounding noise (float64 weights of norm ~10): the measured
# convergence rate is fitted on the part of a curve above it.
ROUNDING_FLOOR = 1e-24


def hessian_eigenvalues(X: np.ndarray) -> np.ndarray:
    """Non-zero eigenvalues of ``X^T X / m`` for ``X: (m, n)``, decreasing (squared singular values over ``m``)."""
    s = np.linalg.svd(X, compute_uv=False)
    keep = s > np.finfo(float).eps * max(X.shape) * s[0]
    return s[keep] ** 2 / X.shape[0]


def contraction_factor(X: np.ndarray, lr: float) -> float:
    """``max_i |1 - lr lambda_i|`` over the non-zero eigenvalues: GD's asymptotic rate per step.

    Directions of the null space are never touched, so they do not count.
    """
    return float(np.max(np.abs(1.0 - lr * hessian_eigenvalues(X))))


def measured_rate(sq_dist: np.ndarray) -> float:
    """Per-step factor of ``||w_t - w*||`` fitted on the second half of ``sq_dist: (T,)`` above rounding.

    NaN when fewer than four points lie above :data:`ROUNDING_FLOOR`.
    """
    above = np.flatnonzero(sq_dist > ROUNDING_FLOOR)
    if above.size < 4:
        return float("nan")
    t = above[above.size // 2 :]
    slope = np.polyfit(t, 0.5 * np.log(sq_dist[t]), 1)[0]
    return float(np.exp(slope))


def _sq_dist(weights: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``||w_t - target||^2`` for ``weights: (T, n)``, ``target: (n,)`` -> ``(T,)``."""
    return np.sum((weights - target[None, :]) ** 2, axis=1)


@dataclass(frozen=True)
class OverExperiment:
    """GD on the lab's over-determined problem (``X: (m, n)``, ``m > n``) from 0.

    Attributes:
        weights: ``(steps + 1, n)`` iterates; ``sq_dist``, ``losses``: ``(steps + 1,)``.
        w_star: ``(n,)`` the unique least-squares solution.
        rho: predicted rate ``max_i |1 - lr lambda_i|``; measured_rate: fitted on ``sq_dist``.
        sq_dist_lab, sq_dist_final: ``||w_t - w*||^2`` after the lab's steps and at the end.
    """

    X: np.ndarray
    y: np.ndarray
    w_star: np.ndarray
    weights: np.ndarray
    sq_dist: np.ndarray
    losses: np.ndarray
    lambda_max: float
    step_bound: float
    rho: float
    measured_rate: float
    sq_dist_lab: float
    sq_dist_final: float


def overdetermined_experiment(cfg: OverSection, seed: int) -> OverExperiment:
    """The lab's problem: ``X ~ N(0, 1)^(m x n)``, ``y = X w_true``, GD from 0 at the lab's step size."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((cfg.m, cfg.n))
    y = X @ rng.standard_normal(cfg.n)
    w_star = least_squares(X, y)  # unique (full column rank): the lab's least_norm_reg without eps
    gd = gradient_descent_least_squares(X, y, lr=cfg.lr, n_steps=cfg.steps)
    d = _sq_dist(gd.weights, w_star)
    return OverExperiment(
        X=X,
        y=y,
        w_star=w_star,
        weights=gd.weights,
        sq_dist=d,
        losses=gd.losses,
        lambda_max=gd.lambda_max,
        step_bound=gd.step_bound,
        rho=contraction_factor(X, cfg.lr),
        measured_rate=measured_rate(d),
        sq_dist_lab=float(d[min(cfg.lab_steps, cfg.steps)]),
        sq_dist_final=float(d[-1]),
    )


@dataclass(frozen=True)
class UnderExperiment:
    """GD from 0 and from a random ``w0`` on an under-determined problem (``X: (m, n)``, ``n > m``).

    Attributes:
        w0, w_pinv, w_proj: ``(n,)`` the start, ``pinv(X) y`` and ``w0 + pinv(X)(y - X w0)``.
        weights_zero, weights_w0: ``(steps + 1, n)`` the iterates from 0 and from ``w0``.
        sq_dist_*: ``(steps + 1,)`` squared distances of those iterates to the two limits.
        dist_*: final distances; null_component_*: norms of null-space parts (``w0``, what GD
            moved of it, the limit from 0); norm_*: norms of the limits; pythagoras_gap:
            ``| ||w_GD(w0)||^2 - ||pinv(X) y||^2 - ||P_null w0||^2 |``; residual_*: ``||X w - y||``.
        gram_rank: rank of ``X^T X`` (``n x n``; at most ``m < n``: singular).
        normal_eq_residual: ``||X w - y|| / ||y||`` for the lab's formula without eps,
            ``w = inv(X^T X) X^T y`` (``inf`` when ``inv`` refuses the singular matrix).
        normal_eq_dist: ``||w - pinv(X) y|| / ||pinv(X) y||`` for that ``w`` (``inf`` likewise).
        lab_ridge_dist: the same distance for the lab's ``inv(X^T X + eps I) X^T y``.
    """

    X: np.ndarray
    y: np.ndarray
    w0: np.ndarray
    w_pinv: np.ndarray
    w_proj: np.ndarray
    lr: float
    weights_zero: np.ndarray
    weights_w0: np.ndarray
    sq_dist_zero_to_pinv: np.ndarray
    sq_dist_w0_to_proj: np.ndarray
    sq_dist_w0_to_pinv: np.ndarray
    rho: float
    measured_rate: float
    dist_zero_to_pinv: float
    dist_w0_to_proj: float
    dist_w0_to_pinv: float
    null_component_w0: float
    null_component_moved: float
    null_component_zero: float
    norm_pinv: float
    norm_gd_zero: float
    norm_gd_w0: float
    pythagoras_gap: float
    residual_zero: float
    residual_w0: float
    gram_rank: int
    normal_eq_residual: float
    normal_eq_dist: float
    lab_ridge_dist: float


# The per-problem numbers of UnderExperiment (one column each of the "under_seeds" table).
UNDER_NUMBERS = (
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
    "gram_rank",
    "normal_eq_residual",
    "normal_eq_dist",
    "lab_ridge_dist",
    "rho",
    "measured_rate",
    "lr",
)


def lab_normal_equations(X: np.ndarray, y: np.ndarray, w_pinv: np.ndarray, eps: float) -> dict[str, float]:
    """Lab 8's ``inv(X^T X) X^T y`` (and its ``+ eps I`` version) against ``pinv(X) y`` when ``n > m``.

    ``X^T X`` is ``n x n`` of rank at most ``m < n``: singular, so the plain formula is not the
    least-norm solution (``inv`` fails, or returns rounding noise amplified by ~1/eps_machine);
    adding ``eps I`` gives ridge regression, which tends to ``pinv(X) y`` as ``eps -> 0``.

    Returns:
        ``gram_rank``, ``normal_eq_residual`` (``||X w - y|| / ||y||``), ``normal_eq_dist`` and
        ``lab_ridge_dist`` (``||w - pinv(X) y|| / ||pinv(X) y||``); ``inf`` where ``inv`` refuses.
    """
    gram = X.T @ X  # (n, n)
    scale = float(np.linalg.norm(w_pinv))
    try:
        w = np.linalg.inv(gram) @ (X.T @ y)
        residual = float(np.linalg.norm(X @ w - y) / np.linalg.norm(y))
        dist = float(np.linalg.norm(w - w_pinv) / scale)
    except np.linalg.LinAlgError:
        residual = dist = math.inf
    w_eps = np.linalg.inv(gram + eps * np.eye(gram.shape[0])) @ (X.T @ y)
    return {
        "gram_rank": int(np.linalg.matrix_rank(gram)),
        "normal_eq_residual": residual if math.isfinite(residual) else math.inf,
        "normal_eq_dist": dist if math.isfinite(dist) else math.inf,
        "lab_ridge_dist": float(np.linalg.norm(w_eps - w_pinv) / scale),
    }


def underdetermined_experiment(cfg: UnderSection, seed: int) -> UnderExperiment:
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
    return UnderExperiment(
        X=X,
        y=y,
        w0=w0,
        w_pinv=w_pinv,
        w_proj=w_proj,
        lr=lr,
        weights_zero=from_zero.weights,
        weights_w0=from_w0.weights,
        sq_dist_zero_to_pinv=d0,
        sq_dist_w0_to_proj=_sq_dist(from_w0.weights, w_proj),
        sq_dist_w0_to_pinv=_sq_dist(from_w0.weights, w_pinv),
        rho=contraction_factor(X, lr),
        measured_rate=measured_rate(d0),
        dist_zero_to_pinv=float(np.linalg.norm(from_zero.w - w_pinv)),
        dist_w0_to_proj=float(np.linalg.norm(from_w0.w - w_proj)),
        dist_w0_to_pinv=float(np.linalg.norm(from_w0.w - w_pinv)),
        null_component_w0=float(np.linalg.norm(null(w0))),
        null_component_moved=float(np.linalg.norm(null(from_w0.w - w0))),
        null_component_zero=float(np.linalg.norm(null(from_zero.w))),
        norm_pinv=float(np.linalg.norm(w_pinv)),
        norm_gd_zero=float(np.linalg.norm(from_zero.w)),
        norm_gd_w0=float(np.linalg.norm(from_w0.w)),
        pythagoras_gap=float(
            abs(np.linalg.norm(from_w0.w) ** 2 - np.linalg.norm(w_pinv) ** 2 - np.linalg.norm(null(w0)) ** 2)
        ),
        residual_zero=float(np.linalg.norm(X @ from_zero.w - y)),
        residual_w0=float(np.linalg.norm(X @ from_w0.w - y)),
        **lab_normal_equations(X, y, w_pinv, cfg.lab_eps),
    )


@dataclass(frozen=True)
class StepSizeRun:
    """GD at ``lr = fraction * 2 / lambda_max``: ``losses``, ``sq_dist``: ``(steps + 1,)``.

    Attributes:
        warned: the library warned that ``lr`` is above the stability bound.
        measured_factor: per-step factor fitted on ``sq_dist``; predicted_factor:
            ``max_i |1 - lr lambda_i|``; top_mode_factor: ``|1 - lr lambda_max|``.
    """

    fraction: float
    lr: float
    losses: np.ndarray
    sq_dist: np.ndarray
    warned: bool
    final_loss: float
    final_sq_dist: float
    measured_factor: float
    predicted_factor: float
    top_mode_factor: float


def step_size_runs(X: np.ndarray, y: np.ndarray, fractions: list[float], steps: int) -> list[StepSizeRun]:
    """GD at ``fraction * 2 / lambda_max`` for each fraction; above the bound the library warns."""
    bound = step_size_bound(X)
    lam_max = 2.0 / bound
    w_star = least_squares(X, y)
    out = []
    for f in fractions:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            gd = gradient_descent_least_squares(X, y, lr=f * bound, n_steps=steps, on_unstable="warn")
        d = _sq_dist(gd.weights, w_star)
        out.append(
            StepSizeRun(
                fraction=f,
                lr=f * bound,
                losses=gd.losses,
                sq_dist=d,
                warned=any(issubclass(w.category, RuntimeWarning) for w in caught),
                final_loss=float(gd.losses[-1]),
                final_sq_dist=float(d[-1]),
                measured_factor=measured_rate(d),
                predicted_factor=contraction_factor(X, f * bound),
                top_mode_factor=abs(1.0 - f * bound * lam_max),
            )
        )
    return out
