"""Exercise 1 of Lab 2: least squares with and without an intercept, and ridge, on linear data.

``x ~ U[2, 30]``, ``y ~ N(2 x + 50, 1)``, 100 points. Least squares without an intercept must
absorb the offset 50 into the slope: its estimate tends to ``2 + 50 E[x] / E[x^2]`` (about 4.49 on
``U[2, 30]``), not 2. With an intercept both true values are recovered; ridge (the intercept
unpenalised, as in scikit-learn's ``Ridge``) shrinks the slope by about ``S_xx / (S_xx + alpha)``,
negligible at ``alpha = 1`` where ``S_xx ~ 6500``; the ridge path over ``alpha`` shows where
shrinkage starts to matter.
"""

from __future__ import annotations

import numpy as np

from learnability.linear import least_squares, ridge, with_bias
from learnability.studies.kernel_regression.config import LinearSection

__all__ = ["FITS", "fit_line", "linear_data", "linear_experiment", "no_intercept_slope_limit"]

# The three fits of exercise 1, in the order of the table's columns.
FITS = ("no_intercept", "with_intercept", "ridge")


def linear_data(cfg: LinearSection, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points ``x ~ U[x_low, x_high]``, ``y ~ N(slope x + intercept, noise_sd^2)``; shapes ``(n,)``."""
    x = rng.uniform(cfg.x_low, cfg.x_high, n)
    return x, rng.normal(cfg.slope * x + cfg.intercept, cfg.noise_sd)


def fit_line(x: np.ndarray, y: np.ndarray, alpha: float | None) -> tuple[float, float]:
    """(slope, intercept): least squares with intercept, or ridge with an unpenalised intercept.

    Ridge with an unpenalised intercept is ridge on centred data (scikit-learn's ``Ridge``).
    """
    if alpha is None:
        slope, intercept = least_squares(with_bias(x[:, None]), y)
        return float(slope), float(intercept)
    xm, ym = x.mean(), y.mean()
    slope = float(ridge((x - xm)[:, None], y - ym, alpha=alpha)[0])
    return slope, float(ym - slope * xm)


def linear_experiment(cfg: LinearSection, rng: np.random.Generator) -> dict[str, float]:
    """Exercise 1 on one data set: slopes, intercepts and MSEs of the three fits.

    Returns:
        ``{f"{fit}_{q}"}`` for each fit of :data:`FITS` and ``q`` in slope, intercept, train_mse,
        test_mse (the no-intercept fit's intercept is 0).
    """
    x, y = linear_data(cfg, rng, cfg.n)
    xt, yt = linear_data(cfg, rng, cfg.n_test)  # fresh points for the test MSE
    out: dict[str, float] = {}
    fits = {
        "no_intercept": (float(least_squares(x[:, None], y)[0]), 0.0),
        "with_intercept": fit_line(x, y, None),
        "ridge": fit_line(x, y, cfg.ridge_alpha),
    }
    for name, (a, b) in fits.items():
        out[f"{name}_slope"] = a
        out[f"{name}_intercept"] = b
        out[f"{name}_train_mse"] = float(np.mean((a * x + b - y) ** 2))
        out[f"{name}_test_mse"] = float(np.mean((a * xt + b - yt) ** 2))
    return out


def no_intercept_slope_limit(cfg: LinearSection) -> float:
    """Population limit of the no-intercept slope: ``a + b E[x] / E[x^2]`` for ``x ~ U[lo, hi]``."""
    mean = (cfg.x_low + cfg.x_high) / 2.0
    second = mean**2 + (cfg.x_high - cfg.x_low) ** 2 / 12.0
    return cfg.slope + cfg.intercept * mean / second
