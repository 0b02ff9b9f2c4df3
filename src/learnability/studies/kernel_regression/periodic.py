"""Exercise 2 of Lab 2: kernel ridge regression on periodic data, with (sigma, alpha) by K-fold CV.

``x = linspace(2, 30, 100)``, ``y = x + 4 sin(x) + 4 U[0, 1]``. The Gaussian Gram matrix at
``sigma = 1`` has a spectrum that decays so fast that ``alpha = 0`` is numerically singular (the
library's ``KernelRidge`` then falls back to least squares with a ``LinAlgWarning``, counted here).
Kernel ridge regression chooses ``sigma`` and ``alpha`` by K-fold cross-validation on the
*training split only*; the held-out split is used once, at the end, for kernel ridge and for the
linear baseline. The noise ``c U[0, 1]`` has variance ``c^2 / 12``: no model can have a lower
expected test MSE.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, fields

import numpy as np
import scipy.linalg

from learnability.kernels import KernelRidge, gamma_from_sigma
from learnability.studies.kernel_regression.config import PeriodicSection
from learnability.studies.kernel_regression.linear import fit_line

__all__ = [
    "CVResult",
    "PeriodicFit",
    "cross_validate_kernel_ridge",
    "cv_grids",
    "krr_fit_predict",
    "periodic_data",
    "periodic_experiment",
]


def periodic_data(cfg: PeriodicSection, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The lab's data: ``x = linspace``, ``y = x + A sin(x) + c U[0, 1]``; shapes ``(n,)``."""
    x = np.linspace(cfg.x_low, cfg.x_high, cfg.n)
    return x, x + cfg.amplitude * np.sin(x) + cfg.noise_scale * rng.uniform(0.0, 1.0, cfg.n)


def krr_fit_predict(
    x_tr: np.ndarray, y_tr: np.ndarray, x_new: np.ndarray, sigma: float, alpha: float
) -> tuple[np.ndarray, bool]:
    """Kernel ridge on targets centred by their training mean.

    Args:
        x_tr, y_tr: ``(n,)`` training inputs and targets.
        x_new: ``(m,)`` inputs to predict at.

    Returns:
        ``(predictions (m,), singular)``: ``singular`` when ``K + alpha I`` was numerically
        singular and ``KernelRidge`` fell back to least squares.
    """
    mean = float(y_tr.mean())
    with warnings.catch_warnings(record=True) as caught:
        # alpha = 0 can be numerically singular; KernelRidge then warns and uses least squares.
        warnings.simplefilter("always", scipy.linalg.LinAlgWarning)
        model = KernelRidge(alpha=alpha, kernel="rbf", gamma=gamma_from_sigma(sigma))
        model.fit(x_tr[:, None], y_tr - mean)
    singular = any(issubclass(w.category, scipy.linalg.LinAlgWarning) for w in caught)
    for w in caught:  # anything else is not ours to swallow
        if not issubclass(w.category, scipy.linalg.LinAlgWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model.predict(x_new[:, None]) + mean, singular


@dataclass(frozen=True)
class CVResult:
    """K-fold cross-validation of kernel ridge over a (sigma, alpha) grid.

    Attributes:
        sigmas: ``(S,)`` bandwidths.
        alphas: ``(A,)`` penalties.
        scores: ``(S, A)`` mean validation MSE over the folds.
        n_singular: fits where ``K + alpha I`` was numerically singular.
        n_fits: fits in all.
        n_zero_alpha_fits: fits with ``alpha = 0`` (the only ones that can be singular).
    """

    sigmas: np.ndarray
    alphas: np.ndarray
    scores: np.ndarray
    n_singular: int
    n_fits: int
    n_zero_alpha_fits: int

    @property
    def best(self) -> tuple[float, float, float]:
        """(sigma, alpha, CV MSE) of the lowest CV MSE."""
        i, j = np.unravel_index(int(np.argmin(self.scores)), self.scores.shape)
        return float(self.sigmas[i]), float(self.alphas[j]), float(self.scores[i, j])


def cross_validate_kernel_ridge(
    x: np.ndarray, y: np.ndarray, *, sigmas: np.ndarray, alphas: np.ndarray, folds: int, seed: int
) -> CVResult:
    """K-fold CV (shuffled folds) of kernel ridge on ``x, y: (n,)`` — training data only."""
    order = np.random.default_rng(seed).permutation(x.shape[0])
    parts = np.array_split(order, folds)
    scores = np.zeros((len(sigmas), len(alphas)))
    singular = 0
    for k in range(folds):
        val = parts[k]
        tr = np.concatenate([parts[j] for j in range(folds) if j != k])
        for i, sigma in enumerate(sigmas):
            for j, alpha in enumerate(alphas):
                pred, sing = krr_fit_predict(x[tr], y[tr], x[val], float(sigma), float(alpha))
                scores[i, j] += np.mean((pred - y[val]) ** 2) / folds
                singular += int(sing)
    alphas = np.asarray(alphas, dtype=float)
    return CVResult(
        np.asarray(sigmas, dtype=float),
        alphas,
        scores,
        singular,
        folds * len(sigmas) * len(alphas),
        folds * len(sigmas) * int(np.sum(alphas == 0)),
    )


def cv_grids(cfg: PeriodicSection) -> tuple[np.ndarray, np.ndarray]:
    """The CV grid: ``(S,)`` log-spaced bandwidths and ``(A,)`` penalties (0 first if included)."""
    sigmas = np.geomspace(cfg.min_sigma, cfg.max_sigma, cfg.num_sigma)
    alphas = np.geomspace(cfg.min_alpha, cfg.max_alpha, cfg.num_alpha)
    if cfg.include_zero_alpha:
        alphas = np.concatenate([[0.0], alphas])
    return sigmas, alphas


@dataclass(frozen=True)
class PeriodicFit:
    """Exercise 2 on one noise draw and split.

    Attributes:
        sigma, alpha, cv_mse: the CV choice and its CV MSE.
        alpha_lab_sigma, cv_mse_lab_sigma: alpha chosen by CV at the lab's sigma, and its CV MSE.
        test_mse_krr, test_mse_krr_lab_sigma, test_mse_linear: held-out MSEs of kernel ridge (CV
            choice; lab's sigma) and of linear regression with an intercept.
        linear_slope, linear_intercept: the linear fit on the training split.
        n_singular, n_fits, n_zero_alpha_fits: counts of the (sigma, alpha) CV.
        cv: the (sigma, alpha) CV itself; x, y: ``(n,)`` the data; train, test: sorted indices.
    """

    sigma: float
    alpha: float
    cv_mse: float
    alpha_lab_sigma: float
    cv_mse_lab_sigma: float
    test_mse_krr: float
    test_mse_krr_lab_sigma: float
    test_mse_linear: float
    linear_slope: float
    linear_intercept: float
    n_singular: int
    n_fits: int
    n_zero_alpha_fits: int
    cv: CVResult
    x: np.ndarray
    y: np.ndarray
    train: np.ndarray
    test: np.ndarray

    def row(self) -> dict[str, float]:
        """The numbers (everything but the CV object and the arrays), as a table row."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in values.items() if not isinstance(v, CVResult | np.ndarray)}


def periodic_experiment(cfg: PeriodicSection, *, data_seed: int, split_seed: int, cv_seed: int) -> PeriodicFit:
    """Exercise 2 on one noise draw: CV on the training split, then the test split once."""
    x, y = periodic_data(cfg, np.random.default_rng(data_seed))
    perm = np.random.default_rng(split_seed).permutation(cfg.n)
    test, train = np.sort(perm[: cfg.n_test]), np.sort(perm[cfg.n_test :])
    sigmas, alphas = cv_grids(cfg)
    cv = cross_validate_kernel_ridge(x[train], y[train], sigmas=sigmas, alphas=alphas, folds=cfg.folds, seed=cv_seed)
    sigma, alpha, cv_mse = cv.best
    # The lab's bandwidth, with only alpha chosen by CV (same folds).
    cv_lab = cross_validate_kernel_ridge(
        x[train], y[train], sigmas=np.array([cfg.gram_sigma]), alphas=alphas, folds=cfg.folds, seed=cv_seed
    )
    _, alpha_lab, cv_mse_lab = cv_lab.best
    # ---- the test split is used from here on, once per model
    pred, _ = krr_fit_predict(x[train], y[train], x[test], sigma, alpha)
    pred_lab, _ = krr_fit_predict(x[train], y[train], x[test], cfg.gram_sigma, alpha_lab)
    a, b = fit_line(x[train], y[train], None)
    return PeriodicFit(
        sigma=sigma,
        alpha=alpha,
        cv_mse=cv_mse,
        alpha_lab_sigma=alpha_lab,
        cv_mse_lab_sigma=cv_mse_lab,
        test_mse_krr=float(np.mean((pred - y[test]) ** 2)),
        test_mse_krr_lab_sigma=float(np.mean((pred_lab - y[test]) ** 2)),
        test_mse_linear=float(np.mean((a * x[test] + b - y[test]) ** 2)),
        linear_slope=a,
        linear_intercept=b,
        n_singular=cv.n_singular,
        n_fits=cv.n_fits,
        n_zero_alpha_fits=cv.n_zero_alpha_fits,
        cv=cv,
        x=x,
        y=y,
        train=train,
        test=test,
    )
