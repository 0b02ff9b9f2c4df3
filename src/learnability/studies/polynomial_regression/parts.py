"""Building blocks of the polynomial-regression study: Tutorial 3's data, validation-only
selection, and Lab 3's OLS three ways.

Tutorial 3's workspace: ``x ~ U[0, 1]``, ``t = sin(2 pi x) + 0.1 eps``, 10 training points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from learnability.analysis import Estimate, geometric_mean_ratio
from learnability.linear import (
    fit_polynomial,
    hessian_lambda_max,
    least_squares,
    ols_autograd,
    ols_closed_form,
    ols_gradient_descent,
    with_bias,
)
from learnability.studies.polynomial_regression.config import OLSSection, SelectionSection
from learnability.studies.polynomial_regression.results import OLSThreeWays

__all__ = [
    "MSE_FLOOR",
    "Split",
    "geometric_mean",
    "make_split",
    "mse",
    "ols_three_ways_experiment",
    "select_on_validation",
    "selection_experiment",
    "sin_targets",
]

# MSEs below this are rounding noise for targets of size ~1 (interpolation): they are averaged
# in log space and drawn at this floor.
MSE_FLOOR = 1e-16


def sin_targets(x: np.ndarray, noise_sd: float, rng: np.random.Generator) -> np.ndarray:
    """Tutorial 3's law for ``x: (n,)``: ``t = sin(2 pi x) + noise_sd * eps`` -> ``(n,)``."""
    return np.sin(2.0 * np.pi * x) + noise_sd * rng.standard_normal(x.shape[0])


def mse(fit: Any, x: np.ndarray, t: np.ndarray) -> float:
    """Mean squared error of a fitted polynomial (anything with ``predict``) on ``x, t: (n,)``."""
    return float(np.mean((fit.predict(x) - t) ** 2))


def geometric_mean(values: Any) -> Estimate:
    """Geometric mean of positive ``values: (n,)`` with a 95% CI (a t-interval in log space);
    values below :data:`MSE_FLOOR` count as the floor (exact zeros of an interpolant)."""
    return geometric_mean_ratio(np.maximum(np.asarray(values, dtype=float), MSE_FLOOR))


@dataclass(frozen=True)
class Split:
    """A train / validation / test split of Tutorial 3's data (all arrays ``(n,)``)."""

    x_train: np.ndarray
    t_train: np.ndarray
    x_val: np.ndarray
    t_val: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray


def make_split(cfg: SelectionSection, noise_sd: float, seed: int) -> Split:
    """Draw the three splits independently from ``x ~ U[0, 1]``, ``t = sin(2 pi x) + noise``."""
    rng = np.random.default_rng(seed)
    parts = []
    for n in (cfg.n_train, cfg.n_val, cfg.n_test):
        x = rng.uniform(0.0, 1.0, n)
        parts += [x, sin_targets(x, noise_sd, rng)]
    return Split(*parts)


def select_on_validation(
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_val: np.ndarray,
    t_val: np.ndarray,
    degrees: list[int],
    lambdas: np.ndarray,
) -> tuple[int, float, float, np.ndarray]:
    """Choose ``(degree, lambda)`` by validation MSE; fits on the training split only.

    It never receives the test split. Ties go to the first in (degree, lambda) order, i.e. the
    simplest degree and the smallest lambda.

    Returns:
        ``(degree, lambda, validation MSE, scores)`` with ``scores: (len(degrees), len(lambdas))``.
    """
    scores = np.empty((len(degrees), len(lambdas)))
    for i, d in enumerate(degrees):
        for j, lam in enumerate(lambdas):
            scores[i, j] = mse(fit_polynomial(x_train, t_train, d, alpha=float(lam)), x_val, t_val)
    i, j = np.unravel_index(int(np.argmin(scores)), scores.shape)
    return int(degrees[i]), float(lambdas[j]), float(scores[i, j]), scores


def selection_experiment(split: Split, degrees: list[int], lambdas: np.ndarray) -> dict[str, float]:
    """Select on validation, then evaluate the chosen model on the test split, once.

    Returns:
        A row of the selection table: ``{"degree", "lambda", "val_mse", "test_mse"}``.
    """
    degree, lam, val_mse, _ = select_on_validation(
        split.x_train, split.t_train, split.x_val, split.t_val, degrees, lambdas
    )
    chosen = fit_polynomial(split.x_train, split.t_train, degree, alpha=lam)
    return {
        "degree": degree,
        "lambda": lam,
        "val_mse": val_mse,
        "test_mse": mse(chosen, split.x_test, split.t_test),
    }  # the only read of t_test


def ols_three_ways_experiment(cfg: OLSSection, seed: int) -> OLSThreeWays:
    """Lab 3's data (``X ~ U[0,1]^(N x P)``, ``y = X M + N(0, 1)``) solved three ways.

    The closed form solves the normal equations of the raw design ``[X, 1]`` (the lab's formula).
    GD and autograd run on the centred features ``X - mean(X)`` against ``y - mean(y)`` (no bias
    column needed: it decouples) from 0 with ``lr = 1 / lambda_max``; the bias is recovered as
    ``mean(y) - mean(X) . w``. Both parametrisations have the same minimiser. Centring is an
    exact reparametrisation that GD needs: the raw design is badly conditioned (~1e5 steps).
    """
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(cfg.n, cfg.p, generator=g, dtype=torch.float64)
    M = torch.rand(cfg.p, generator=g, dtype=torch.float64)
    y = (X @ M + torch.randn(cfg.n, generator=g, dtype=torch.float64)).numpy()
    X = X.numpy()
    design = with_bias(X)  # (N, P + 1), bias column on the right as in the lab
    closed = ols_closed_form(design, y)
    svd = least_squares(design, y)  # SVD reference
    x_mean, y_mean = X.mean(axis=0), y.mean()
    Xc = X - x_mean

    def with_bias_term(w: np.ndarray) -> np.ndarray:
        return np.concatenate([w, [y_mean - x_mean @ w]])

    gd = with_bias_term(ols_gradient_descent(Xc, y - y_mean, n_steps=cfg.steps))
    ag = with_bias_term(ols_autograd(Xc, y - y_mean, n_steps=cfg.steps))
    raw_gd = ols_gradient_descent(design, y, n_steps=cfg.steps)  # same budget on the raw design

    def kappa(A: np.ndarray) -> float:
        s = np.linalg.svd(A, compute_uv=False)
        return float((s[0] / s[-1]) ** 2)  # condition number of A^T A (the GD Hessian)

    k_raw, k_c = kappa(design), kappa(Xc)
    tol = float(np.finfo(float).eps)
    # GD at lr = 1 / lambda_max contracts the slowest direction by 1 - 1/kappa per step.
    steps_needed = {name: float(np.log(tol) / np.log1p(-1.0 / k)) for name, k in (("raw", k_raw), ("centred", k_c))}
    sols = {"closed form": closed, "gradient descent": gd, "autograd": ag}
    diffs = {
        f"{a} vs {b}": float(np.max(np.abs(sols[a] - sols[b]))) for i, a in enumerate(sols) for b in list(sols)[i + 1 :]
    }
    return OLSThreeWays(
        max_abs_difference=max(diffs.values()),
        pairwise=diffs,
        closed_vs_svd=float(np.max(np.abs(closed - svd))),
        kappa_raw=k_raw,
        kappa_centred=k_c,
        steps_needed=steps_needed,
        raw_gd_max_error=float(np.max(np.abs(raw_gd - closed))),
        lambda_max_centred=hessian_lambda_max(Xc),
        train_mse=float(np.mean((design @ closed - y) ** 2)),
        bias=float(closed[-1]),
    )
