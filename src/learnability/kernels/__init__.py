"""Kernels, explicit feature maps, kernel ridge regression and kernel PCA (Labs 1 and 2).

Array convention: inputs are NumPy arrays or torch tensors of shape ``(N, d)``; every output is a
NumPy ``float64`` array. Kernel conventions follow scikit-learn (RBF ``exp(-gamma ||x - y||^2)``
with ``gamma = 1 / (2 sigma^2)``), so results can be checked against it.

Example:
    >>> import numpy as np
    >>> from learnability.kernels import KernelRidge, rbf_kernel, gamma_from_sigma
    >>> X = np.linspace(2, 30, 100)[:, None]
    >>> K = rbf_kernel(X, sigma=1.0)                      # (100, 100)
    >>> model = KernelRidge(alpha=0.1, kernel="rbf", gamma=gamma_from_sigma(1.0)).fit(X, X[:, 0])
"""

from learnability.kernels._estimators import KernelPCA, KernelRidge, center_gram
from learnability.kernels._feature_maps import (
    RandomFourierFeatures,
    gaussian_taylor_feature_map,
    gaussian_taylor_feature_map_1d,
    monomial_exponents,
    quadratic_feature_map,
)
from learnability.kernels._functions import (
    KERNELS,
    gamma_from_sigma,
    gram_matrix,
    laplacian_kernel,
    linear_kernel,
    polynomial_kernel,
    quadratic_kernel,
    rbf_kernel,
    sigma_from_gamma,
)

__all__ = [
    "KERNELS",
    "KernelPCA",
    "KernelRidge",
    "RandomFourierFeatures",
    "center_gram",
    "gamma_from_sigma",
    "gaussian_taylor_feature_map",
    "gaussian_taylor_feature_map_1d",
    "gram_matrix",
    "laplacian_kernel",
    "linear_kernel",
    "monomial_exponents",
    "polynomial_kernel",
    "quadratic_feature_map",
    "quadratic_kernel",
    "rbf_kernel",
    "sigma_from_gamma",
]
