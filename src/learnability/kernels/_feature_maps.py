"""Explicit feature maps ``phi`` with ``phi(x) . phi(y) = k(x, y)`` (exactly or approximately).

* :func:`quadratic_feature_map` — exact map of ``(gamma x . y + coef0)^2`` in any dimension
  (Lab 1, first exercise, generalised to ``gamma`` and ``coef0``).
* :func:`gaussian_taylor_feature_map` — truncated Taylor map of the Gaussian kernel in ``d``
  dimensions (multi-index expansion up to a total degree); :func:`gaussian_taylor_feature_map_1d`
  is Lab 1's one-dimensional version.
* :class:`RandomFourierFeatures` — Rahimi & Recht's random features for the RBF kernel.

Inputs are NumPy arrays or torch tensors ``(N, d)``; outputs are NumPy float64 ``(N, D)``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import gammaln

from learnability._arrays import as_float64, as_matrix
from learnability._validation import ParameterError, check_in_range
from learnability.kernels._functions import resolve_rbf_gamma

__all__ = [
    "RandomFourierFeatures",
    "gaussian_taylor_feature_map",
    "gaussian_taylor_feature_map_1d",
    "monomial_exponents",
    "quadratic_feature_map",
]

# Refuse Taylor maps larger than this many features: C(d + order, order) grows fast with d and
# the order, and a silent multi-GB allocation is worse than a clear error.
_MAX_TAYLOR_FEATURES = 2_000_000


def quadratic_feature_map(X: Any, *, gamma: float = 1.0, coef0: float = 1.0) -> np.ndarray:
    """Exact feature map of the quadratic kernel ``k(x, y) = (gamma x . y + coef0)^2``.

    Expanding the square, ``k = c^2 + 2 c g sum_i x_i y_i + g^2 sum_i x_i^2 y_i^2
    + 2 g^2 sum_{i<j} x_i x_j y_i y_j``, hence (Lab 1 with ``g = c = 1``)::

        phi(x) = [c, sqrt(2 c g) x_1..x_d, g x_1^2..x_d^2, sqrt(2) g x_i x_j (i < j)]

    Args:
        X: ``(N, d)``.
        gamma: inner-product scale ``g > 0``.
        coef0: constant ``c >= 0`` (a negative constant has no real feature map of this form).

    Returns:
        ``(N, (d + 1)(d + 2) / 2)`` float64 features; ``phi(X) @ phi(Y).T`` equals
        ``polynomial_kernel(X, Y, degree=2, gamma=gamma, coef0=coef0)`` to rounding error.

    Raises:
        ParameterError: bad shape or parameters.
    """
    owner = "quadratic_feature_map"
    x = as_matrix(X, "X", owner)
    g = float(check_in_range(gamma, "gamma", owner, low=0.0, low_inclusive=False))
    c = float(check_in_range(coef0, "coef0", owner, low=0.0))
    n, d = x.shape
    rows, cols = np.triu_indices(d, k=1)  # pairs i < j
    return np.concatenate(
        [
            np.full((n, 1), c),  # (N, 1)
            math.sqrt(2.0 * c * g) * x,  # (N, d)
            g * x**2,  # (N, d)
            math.sqrt(2.0) * g * x[:, rows] * x[:, cols],  # (N, d(d-1)/2)
        ],
        axis=1,
    )


def monomial_exponents(n_features: int, order: int) -> np.ndarray:
    """All multi-indices ``alpha`` in ``N^d`` with ``|alpha| <= order``.

    Ordered by total degree, then lexicographically within a degree (for ``d = 1``: ``0..order``).

    Args:
        n_features: the dimension ``d >= 1``.
        order: the largest total degree ``>= 0``.

    Returns:
        ``(C(d + order, order), d)`` int64 array, one multi-index per row.

    Raises:
        ParameterError: bad ``n_features`` or ``order``.
    """
    owner = "monomial_exponents"
    d = check_in_range(n_features, "n_features", owner, low=1, kind=int)
    order = check_in_range(order, "order", owner, low=0, kind=int)
    rows = []
    for degree in range(order + 1):
        for combo in itertools.combinations_with_replacement(range(d), degree):
            rows.append(np.bincount(np.asarray(combo, dtype=np.int64), minlength=d))
    return np.asarray(rows, dtype=np.int64).reshape(-1, d)


def gaussian_taylor_feature_map(X: Any, *, sigma: float, order: int) -> np.ndarray:
    """Truncated Taylor feature map of the Gaussian kernel ``exp(-||x - y||^2 / (2 sigma^2))``.

    Write ``k(x, y) = exp(-||x||^2/2s^2) exp(-||y||^2/2s^2) exp(x . y / s^2)`` and expand the last
    factor with the multinomial theorem: ``exp(x . y / s^2) = sum_alpha (x/s)^alpha (y/s)^alpha
    / alpha!``. Keeping the multi-indices with ``|alpha| <= order`` gives::

        phi_alpha(x) = exp(-||x||^2 / (2 s^2)) (x / s)^alpha / sqrt(alpha!)

    The truncation error at ``z = x . y / s^2`` is ``exp(-(||x||^2 + ||y||^2)/2s^2)`` times the
    Taylor remainder of ``exp(z)``, bounded by ``|z|^(order+1) / (order+1)! * exp(max(z, 0))``:
    it decreases with the order once ``order + 1 > |z|``. Features are computed in log space, so
    large ``||x|| / s`` neither overflows nor underflows into NaN.

    Args:
        X: ``(N, d)``.
        sigma: bandwidth ``s > 0``.
        order: largest total degree kept, ``>= 0`` (Lab 1's ``approx_order`` counts terms, i.e.
            ``approx_order = order + 1`` in 1-D).

    Returns:
        ``(N, C(d + order, order))`` float64 features, columns ordered as
        :func:`monomial_exponents`.

    Raises:
        ParameterError: bad shape or parameters, or more than 2,000,000 features.
    """
    owner = "gaussian_taylor_feature_map"
    x = as_matrix(X, "X", owner)
    s = float(check_in_range(sigma, "sigma", owner, low=0.0, low_inclusive=False))
    order = check_in_range(order, "order", owner, low=0, kind=int)
    n, d = x.shape
    n_out = math.comb(d + order, order)
    if n_out > _MAX_TAYLOR_FEATURES:
        raise ParameterError("order", owner, f"small enough for at most {_MAX_TAYLOR_FEATURES} features", order)
    alpha = monomial_exponents(d, order)  # (D, d)
    u = x / s  # (N, d)
    k = np.arange(order + 1)  # powers 0..order
    # log|u_j^k / sqrt(k!)|, with the k = 0 entry exactly 0 (0^0 = 1, and no 0 * log 0 = NaN).
    with np.errstate(divide="ignore"):
        log_abs_u = np.log(np.abs(u))  # (N, d), -inf where u == 0
    log_pow = np.zeros((n, d, order + 1))  # (N, d, order+1)
    log_pow[:, :, 1:] = k[None, None, 1:] * log_abs_u[:, :, None]
    log_pow -= 0.5 * gammaln(k + 1.0)[None, None, :]
    sign_pow = np.where(k[None, None, :] % 2 == 1, np.sign(u)[:, :, None], 1.0)  # (N, d, order+1)
    # sum_j log|u_j^alpha_j / sqrt(alpha_j!)| and prod_j sign, one dimension at a time so that
    # memory stays O(N D) rather than O(N D d).
    log_feat = np.zeros((n, alpha.shape[0]))  # (N, D)
    sign_feat = np.ones((n, alpha.shape[0]))  # (N, D)
    for j in range(d):
        log_feat += log_pow[:, j, alpha[:, j]]
        sign_feat *= sign_pow[:, j, alpha[:, j]]
    log_env = -0.5 * np.sum(u**2, axis=1, keepdims=True)  # (N, 1): log exp(-||x||^2 / 2s^2)
    return sign_feat * np.exp(log_feat + log_env)


def gaussian_taylor_feature_map_1d(x: Any, *, sigma: float, order: int) -> np.ndarray:
    """Lab 1's truncated Taylor map of the 1-D Gaussian kernel.

    ``phi_i(x) = exp(-x^2 / (2 sigma^2)) (x / sigma)^i / sqrt(i!)`` for ``i = 0..order``; this is
    :func:`gaussian_taylor_feature_map` with ``d = 1``.

    Args:
        x: ``(N,)`` or ``(N, 1)`` scalar inputs.
        sigma: bandwidth ``> 0``.
        order: largest power kept (``order + 1`` features).

    Returns:
        ``(N, order + 1)`` float64 features.

    Raises:
        ParameterError: bad shape or parameters.
    """
    arr = as_float64(x)
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim != 2 or arr.shape[1] != 1:
        raise ParameterError(
            "x",
            "gaussian_taylor_feature_map_1d",
            "an array of shape (N,) or (N, 1)",
            f"array of shape {arr.shape}",
        )
    return gaussian_taylor_feature_map(arr, sigma=sigma, order=order)


def resolve_rng(seed: int | None, rng: np.random.Generator | None, owner: str) -> np.random.Generator:
    """Exactly one of ``seed`` / ``rng`` -> a Generator (randomness is never implicit)."""
    if (seed is None) == (rng is None):
        raise ParameterError("seed", owner, "an int, or None when rng=np.random.Generator is given", seed)
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise ParameterError("rng", owner, "a numpy.random.Generator", rng)
        return rng
    seed = check_in_range(seed, "seed", owner, low=0, kind=int)
    return np.random.default_rng(seed)


@dataclass(frozen=True, eq=False)
class RandomFourierFeatures:
    """Random Fourier features of the RBF kernel ``exp(-gamma ||x - y||^2)``.

    Bochner's theorem writes the kernel as ``E_w[cos(w . (x - y))]`` with ``w ~ N(0, 2 gamma I)``;
    with a random phase ``b ~ U[0, 2 pi)``, ``z(x) = sqrt(2 / D) cos(W^T x + b)`` satisfies
    ``E[z(x) . z(y)] = k(x, y)`` and each entry has variance ``(1 + k^4/2 - k^2) / D``, so the
    error decays as ``O(1 / sqrt(D))`` (Rahimi & Recht, "Random Features for Large-Scale Kernel
    Machines", NeurIPS 2007).

    Build with :meth:`sample`; apply with :meth:`transform` (or call the object).

    Attributes:
        weights: ``(d, D)`` frequencies ``W``.
        offsets: ``(D,)`` phases ``b``.
        gamma: the RBF ``gamma`` they approximate.
    """

    weights: np.ndarray
    offsets: np.ndarray
    gamma: float

    @classmethod
    def sample(
        cls,
        n_features_in: int,
        n_components: int,
        *,
        gamma: float | None = None,
        sigma: float | None = None,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> RandomFourierFeatures:
        """Draw ``W`` and ``b`` for inputs of dimension ``d``.

        Args:
            n_features_in: input dimension ``d``.
            n_components: number of random features ``D``.
            gamma: RBF ``gamma > 0``; or give ``sigma`` (``gamma = 1/(2 sigma^2)``); neither
                means ``1 / d``.
            sigma: Gaussian bandwidth ``> 0``.
            seed: integer seed (give exactly one of ``seed`` and ``rng``).
            rng: a NumPy Generator, advanced in place.

        Returns:
            The sampled feature map.

        Raises:
            ParameterError: bad sizes, bad ``gamma``/``sigma``, or not exactly one of
                ``seed``/``rng``.
        """
        owner = "RandomFourierFeatures"
        d = check_in_range(n_features_in, "n_features_in", owner, low=1, kind=int)
        n_comp = check_in_range(n_components, "n_components", owner, low=1, kind=int)
        g = resolve_rbf_gamma(gamma, sigma, d, owner)
        gen = resolve_rng(seed, rng, owner)
        weights = gen.normal(0.0, math.sqrt(2.0 * g), size=(d, n_comp))  # (d, D)
        offsets = gen.uniform(0.0, 2.0 * math.pi, size=n_comp)  # (D,)
        return cls(weights=weights, offsets=offsets, gamma=g)

    @property
    def n_components(self) -> int:
        """Number of random features ``D``."""
        return int(self.offsets.shape[0])

    def transform(self, X: Any) -> np.ndarray:
        """Features ``z(X) = sqrt(2 / D) cos(X W + b)``.

        Args:
            X: ``(N, d)``.

        Returns:
            ``(N, D)`` float64 features; ``z(X) @ z(Y).T`` approximates ``rbf_kernel(X, Y)``.

        Raises:
            ParameterError: bad shape.
        """
        x = as_matrix(X, "X", "RandomFourierFeatures", n_features=self.weights.shape[0])
        return math.sqrt(2.0 / self.n_components) * np.cos(x @ self.weights + self.offsets)

    __call__ = transform
