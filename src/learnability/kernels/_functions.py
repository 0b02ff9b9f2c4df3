"""Kernel functions on batches: Gram matrices ``K[i, j] = k(X[i], Y[j])``.

Conventions (identical to :mod:`sklearn.metrics.pairwise`, so that the estimators in this package
reproduce scikit-learn's):

* linear       ``k(x, y) = x . y``
* polynomial   ``k(x, y) = (gamma * x . y + coef0) ** degree``; the non-uniform quadratic kernel
  of Lab 1, ``(1 + x . y) ** 2``, is ``degree=2, gamma=1, coef0=1`` (:func:`quadratic_kernel`).
* RBF/Gaussian ``k(x, y) = exp(-gamma * ||x - y||_2^2) = exp(-||x - y||_2^2 / (2 sigma^2))``, so
  ``gamma = 1 / (2 sigma^2)`` (:func:`gamma_from_sigma`). Pass either ``gamma`` (scikit-learn's
  parameter) or ``sigma`` (the labs' bandwidth), not both.
* Laplacian    ``k(x, y) = exp(-gamma * ||x - y||_1)``.

``gamma=None`` means ``1 / d`` (scikit-learn's default), ``d`` the number of features.

All functions accept NumPy arrays or torch tensors of shape ``(N, d)`` and ``(M, d)`` and return a
NumPy float64 array of shape ``(N, M)``; ``Y=None`` means ``Y = X``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.spatial.distance import cdist

from learnability._arrays import as_matrix
from learnability._validation import ParameterError, check_choice, check_in_range

__all__ = [
    "KERNELS",
    "gamma_from_sigma",
    "gram_matrix",
    "laplacian_kernel",
    "linear_kernel",
    "polynomial_kernel",
    "quadratic_kernel",
    "rbf_kernel",
    "sigma_from_gamma",
]

#: Kernel names understood by :func:`gram_matrix` and the estimators ("poly" is scikit-learn's
#: alias of "polynomial"; "precomputed" means X already is a Gram matrix).
KERNELS: tuple[str, ...] = ("linear", "polynomial", "poly", "rbf", "laplacian", "precomputed")


def _pair(X: Any, Y: Any, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``X: (N, d)`` and ``Y: (M, d)`` (``Y=None`` -> ``X``)."""
    x = as_matrix(X, "X", owner)
    y = x if Y is None else as_matrix(Y, "Y", owner, n_features=x.shape[1])
    return x, y


def gamma_from_sigma(sigma: float) -> float:
    """The RBF ``gamma`` of a Gaussian bandwidth: ``gamma = 1 / (2 sigma^2)``.

    Raises:
        ParameterError: if ``sigma`` is not a float in ``(0, inf)``.
    """
    sigma = check_in_range(sigma, "sigma", "gamma_from_sigma", low=0.0, low_inclusive=False)
    return 1.0 / (2.0 * float(sigma) ** 2)


def sigma_from_gamma(gamma: float) -> float:
    """The Gaussian bandwidth of an RBF ``gamma``: ``sigma = 1 / sqrt(2 gamma)``.

    Raises:
        ParameterError: if ``gamma`` is not a float in ``(0, inf)``.
    """
    gamma = check_in_range(gamma, "gamma", "sigma_from_gamma", low=0.0, low_inclusive=False)
    return 1.0 / math.sqrt(2.0 * float(gamma))


def _resolve_gamma(gamma: float | None, n_features: int, owner: str) -> float:
    """``gamma=None`` -> ``1 / d`` (scikit-learn's default); otherwise a float in ``(0, inf)``."""
    if gamma is None:
        return 1.0 / n_features
    return float(check_in_range(gamma, "gamma", owner, low=0.0, low_inclusive=False))


def resolve_rbf_gamma(gamma: float | None, sigma: float | None, n_features: int, owner: str) -> float:
    """The RBF ``gamma`` from exactly one of ``gamma``/``sigma`` (both ``None`` -> ``1 / d``)."""
    if sigma is None:
        return _resolve_gamma(gamma, n_features, owner)
    if gamma is not None:
        raise ParameterError("sigma", owner, "None when 'gamma' is given", sigma)
    sigma = check_in_range(sigma, "sigma", owner, low=0.0, low_inclusive=False)
    return 1.0 / (2.0 * float(sigma) ** 2)


def linear_kernel(X: Any, Y: Any = None) -> np.ndarray:
    """Linear kernel ``K = X Y^T``.

    Args:
        X: ``(N, d)``.
        Y: ``(M, d)``, or ``None`` for ``X``.

    Returns:
        ``(N, M)`` float64 Gram matrix.

    Raises:
        ParameterError: bad shapes or non-finite values.
    """
    x, y = _pair(X, Y, "linear_kernel")
    return x @ y.T


def polynomial_kernel(
    X: Any,
    Y: Any = None,
    *,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
) -> np.ndarray:
    """Polynomial kernel ``K = (gamma X Y^T + coef0) ** degree`` (scikit-learn's convention).

    Args:
        X: ``(N, d)``.
        Y: ``(M, d)``, or ``None`` for ``X``.
        degree: integer power, ``>= 0``.
        gamma: scale of the inner product, ``> 0``; ``None`` means ``1 / d``.
        coef0: additive constant (the "non-uniform" part: ``coef0 > 0`` weights all lower
            degrees in; ``coef0 = 0`` gives the homogeneous kernel).

    Returns:
        ``(N, M)`` float64 Gram matrix.

    Raises:
        ParameterError: bad shapes or parameters.
    """
    owner = "polynomial_kernel"
    x, y = _pair(X, Y, owner)
    degree = check_in_range(degree, "degree", owner, low=0, kind=int)
    g = _resolve_gamma(gamma, x.shape[1], owner)
    c = float(check_in_range(coef0, "coef0", owner))
    return (g * (x @ y.T) + c) ** degree


def quadratic_kernel(X: Any, Y: Any = None) -> np.ndarray:
    """Non-uniform quadratic kernel of Lab 1: ``k(x, y) = (1 + x . y) ** 2``.

    Its exact feature map is :func:`learnability.kernels.quadratic_feature_map`.

    Args:
        X: ``(N, d)``.
        Y: ``(M, d)``, or ``None`` for ``X``.

    Returns:
        ``(N, M)`` float64 Gram matrix.
    """
    return polynomial_kernel(X, Y, degree=2, gamma=1.0, coef0=1.0)


def rbf_kernel(
    X: Any,
    Y: Any = None,
    *,
    gamma: float | None = None,
    sigma: float | None = None,
) -> np.ndarray:
    """Gaussian (RBF) kernel ``K = exp(-gamma ||x - y||^2) = exp(-||x - y||^2 / (2 sigma^2))``.

    With ``gamma`` it equals :func:`sklearn.metrics.pairwise.rbf_kernel`; with ``sigma`` it is the
    labs' Gaussian kernel. Give at most one of the two.

    Args:
        X: ``(N, d)``.
        Y: ``(M, d)``, or ``None`` for ``X``.
        gamma: inverse squared length scale, ``> 0``. ``None`` (with ``sigma=None``) -> ``1 / d``.
        sigma: bandwidth, ``> 0``; ``gamma = 1 / (2 sigma^2)``.

    Returns:
        ``(N, M)`` float64 Gram matrix with entries in ``(0, 1]``.

    Raises:
        ParameterError: bad shapes, a bad parameter, or both ``gamma`` and ``sigma`` given.
    """
    owner = "rbf_kernel"
    x, y = _pair(X, Y, owner)
    g = resolve_rbf_gamma(gamma, sigma, x.shape[1], owner)
    # cdist computes each difference directly: no cancellation in ||x||^2 + ||y||^2 - 2 x.y.
    return np.exp(-g * cdist(x, y, "sqeuclidean"))


def laplacian_kernel(X: Any, Y: Any = None, *, gamma: float | None = None) -> np.ndarray:
    """Laplacian kernel ``K = exp(-gamma ||x - y||_1)`` (scikit-learn's convention).

    Args:
        X: ``(N, d)``.
        Y: ``(M, d)``, or ``None`` for ``X``.
        gamma: inverse length scale, ``> 0``; ``None`` means ``1 / d``.

    Returns:
        ``(N, M)`` float64 Gram matrix with entries in ``(0, 1]``.

    Raises:
        ParameterError: bad shapes or parameters.
    """
    owner = "laplacian_kernel"
    x, y = _pair(X, Y, owner)
    g = _resolve_gamma(gamma, x.shape[1], owner)
    return np.exp(-g * cdist(x, y, "cityblock"))


def gram_matrix(
    X: Any,
    Y: Any = None,
    *,
    kernel: str = "rbf",
    gamma: float | None = None,
    degree: int = 3,
    coef0: float = 1.0,
) -> np.ndarray:
    """Gram matrix of a kernel chosen by name (the dispatcher used by the estimators).

    Parameters irrelevant to the chosen kernel are ignored, as in scikit-learn's
    ``pairwise_kernels`` with ``filter_params=True``.

    Args:
        X: ``(N, d)``.
        Y: ``(M, d)``, or ``None`` for ``X``.
        kernel: one of :data:`KERNELS` except ``"precomputed"``.
        gamma: see the individual kernels.
        degree: polynomial degree.
        coef0: polynomial constant.

    Returns:
        ``(N, M)`` float64 Gram matrix.

    Raises:
        ParameterError: unknown kernel, bad shapes or parameters.
    """
    names = tuple(k for k in KERNELS if k != "precomputed")
    check_choice(kernel, "kernel", "gram_matrix", names)
    if kernel == "linear":
        return linear_kernel(X, Y)
    if kernel in ("polynomial", "poly"):
        return polynomial_kernel(X, Y, degree=degree, gamma=gamma, coef0=coef0)
    if kernel == "rbf":
        return rbf_kernel(X, Y, gamma=gamma)
    return laplacian_kernel(X, Y, gamma=gamma)
