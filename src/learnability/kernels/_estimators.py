"""Kernel ridge regression and kernel PCA, following the scikit-learn estimator contract.

Both estimators are written from the formulas (Lab 2) with SciPy's linear algebra; they do not
wrap scikit-learn's implementations, but use the same conventions and numerical safeguards, so
their outputs equal ``sklearn.kernel_ridge.KernelRidge`` and ``sklearn.decomposition.KernelPCA``
to rounding error (kernel PCA components up to sign, and with the same sign convention).

Inputs are NumPy arrays or torch tensors; outputs are NumPy float64 arrays. Hyper-parameters are
checked with the project's :class:`~learnability._validation.ParameterError`; data (``X``,
``y``) with scikit-learn's ``validate_data``, so that the estimators pass scikit-learn's own
estimator checks (``sklearn.utils.estimator_checks``) and interoperate with its tools
(``clone``, ``GridSearchCV``, pipelines).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.linalg
import torch
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from learnability._arrays import as_matrix
from learnability._validation import ParameterError, check_choice, check_in_range
from learnability.kernels._functions import KERNELS, gram_matrix

if TYPE_CHECKING:
    from sklearn.utils import Tags

__all__ = ["KernelPCA", "KernelRidge", "center_gram"]

# Eigenvalue safeguards of kernel PCA, the same as scikit-learn's `_check_psd_eigenvalues` for
# float64, so that the number of kept components matches scikit-learn's:
# a negative eigenvalue is "significant" (the kernel is not PSD) below both of these ...
_SIGNIFICANT_NEG_RATIO = 1e-5  # ... relative to the largest eigenvalue,
_SIGNIFICANT_NEG_VALUE = 1e-10  # ... and in absolute value; smaller negatives are rounding -> 0.
# Positive eigenvalues below this fraction of the largest are numerical noise of a null space.
_SMALL_POS_RATIO = 1e-12


def center_gram(K: Any, *, K_fit: Any = None) -> np.ndarray:
    """Centre a Gram matrix in feature space (Lab 2).

    Training points (``K_fit=None``, ``K: (N, N)``), with ``1_N`` the ``N x N`` matrix of
    entries ``1/N``::

        K_c = K - 1_N K - K 1_N + 1_N K 1_N

    This is ``<phi(x_i) - m, phi(x_j) - m>`` with ``m`` the mean training feature. (The lab's
    ``K - 2 1_N K + 1_N K 1_N`` is a typo: ``1_N K != K 1_N``.)

    New points (``K: (M, N)`` with ``K[a, j] = k(x'_a, x_j)``, ``K_fit: (N, N)`` the training
    Gram matrix), centred with the *training* mean ``m``, with ``1'`` the ``M x N`` matrix of
    entries ``1/N``::

        K'_c = K' - 1' K_fit - K' 1_N + 1' K_fit 1_N

    The products with ``1_N`` are means, computed as such (``O(N^2)``, not ``O(N^3)``).

    Args:
        K: ``(N, N)`` training Gram matrix, or ``(M, N)`` new-versus-training Gram matrix.
        K_fit: ``(N, N)`` training Gram matrix when ``K`` holds new points; ``None`` otherwise.

    Returns:
        The centred matrix, same shape as ``K``, float64.

    Raises:
        ParameterError: shapes that do not match.
    """
    owner = "center_gram"
    if K_fit is None:
        k = as_matrix(K, "K", owner)
        if k.shape[0] != k.shape[1]:
            raise ParameterError("K", owner, "a square (N, N) matrix when K_fit is None", f"array of shape {k.shape}")
        col_means = k.mean(axis=0)  # (N,)
    else:
        k_fit = as_matrix(K_fit, "K_fit", owner)
        if k_fit.shape[0] != k_fit.shape[1]:
            raise ParameterError("K_fit", owner, "a square (N, N) matrix", f"array of shape {k_fit.shape}")
        k = as_matrix(K, "K", owner, n_features=k_fit.shape[0])
        col_means = k_fit.mean(axis=0)  # (N,)
    return _center_with(k, col_means, float(col_means.mean()))


def _from_torch(array: Any) -> Any:
    """Torch tensors -> NumPy (detached, CPU); anything else unchanged for ``validate_data``."""
    if isinstance(array, torch.Tensor):
        return array.detach().cpu().numpy()
    return array


def _center_with(k: np.ndarray, fit_col_means: np.ndarray, fit_mean: float) -> np.ndarray:
    """``K - 1' K_fit - K 1_N + 1' K_fit 1_N`` from the training column means and grand mean."""
    row_means = k.mean(axis=1, keepdims=True)  # (M, 1): K 1_N
    return k - fit_col_means[None, :] - row_means + fit_mean


class _KernelParamsMixin:
    """Validation and evaluation of the kernel hyper-parameters shared by both estimators."""

    kernel: str
    gamma: float | None
    degree: int
    coef0: float

    def _check_kernel_params(self) -> None:
        owner = type(self).__name__
        check_choice(self.kernel, "kernel", owner, KERNELS)
        if self.gamma is not None:
            check_in_range(self.gamma, "gamma", owner, low=0.0, low_inclusive=False)
        check_in_range(self.degree, "degree", owner, low=0, kind=int)
        check_in_range(self.coef0, "coef0", owner)

    def _kernel(self, X: np.ndarray, Y: np.ndarray | None = None) -> np.ndarray:
        """Gram matrix ``(N, M)``; with ``kernel="precomputed"``, ``X`` already is one."""
        if self.kernel == "precomputed":
            return X
        return gram_matrix(X, Y, kernel=self.kernel, gamma=self.gamma, degree=self.degree, coef0=self.coef0)

    def _check_precomputed(self, x: np.ndarray) -> None:
        if self.kernel == "precomputed" and x.shape[0] != x.shape[1]:
            raise ParameterError(
                "X",
                type(self).__name__,
                "a square (N, N) Gram matrix with kernel='precomputed'",
                f"array of shape {x.shape}",
            )

    def _check_new_input(self, X: Any) -> np.ndarray:
        # reset=False checks the feature count against n_features_in_ (with "precomputed", X is
        # (M, N_train) kernel values against the training points, and n_features_in_ = N_train).
        return validate_data(self, _from_torch(X), dtype=np.float64, reset=False)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.input_tags.pairwise = self.kernel == "precomputed"
        return tags


class KernelRidge(_KernelParamsMixin, RegressorMixin, BaseEstimator):
    """Kernel ridge regression: ``min_f sum_i (y_i - f(x_i))^2 + alpha ||f||_H^2``.

    By the representer theorem ``f(x) = sum_i c_i k(x, x_i)`` with
    ``(K + alpha I) c = y`` (Lab 2: ``f(z) = k(z, X) (K + alpha I)^{-1} y``). The system is solved
    by a Cholesky factorisation, never an explicit inverse; if ``K + alpha I`` is numerically
    singular (``alpha = 0`` with a rank-deficient ``K``) the minimum-norm least-squares solution
    is used and a ``scipy.linalg.LinAlgWarning`` is emitted. With ``kernel="linear"`` this is
    ridge regression without intercept (:func:`learnability.linear.ridge`).

    Args:
        alpha: regularisation strength, ``>= 0``.
        kernel: one of ``"linear"``, ``"polynomial"``/``"poly"``, ``"rbf"``, ``"laplacian"``,
            ``"precomputed"`` (conventions of :mod:`learnability.kernels`).
        gamma: kernel scale (RBF: ``1 / (2 sigma^2)``, see :func:`gamma_from_sigma`); ``None``
            means ``1 / d``. Ignored by the linear kernel.
        degree: polynomial degree.
        coef0: polynomial constant.

    Attributes:
        dual_coef_: ``(N,)`` or ``(N, k)`` coefficients ``c`` (shape follows ``y``).
        X_fit_: ``(N, d)`` training inputs (the ``(N, N)`` Gram matrix if precomputed).
        n_features_in_: ``d``.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        kernel: str = "linear",
        gamma: float | None = None,
        degree: int = 3,
        coef0: float = 1.0,
    ) -> None:
        self.alpha = alpha
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y may be (N, k): one solve for all k targets
        return tags

    def fit(self, X: Any, y: Any) -> KernelRidge:
        """Fit on ``X: (N, d)`` and targets ``y: (N,)`` or ``(N, k)``.

        Returns:
            ``self``.

        Raises:
            ParameterError: bad hyper-parameters, or a non-square precomputed ``X``.
            ValueError: bad data (scikit-learn's ``validate_data``: 1-D, empty, NaN, sparse...).
        """
        owner = type(self).__name__
        alpha = float(check_in_range(self.alpha, "alpha", owner, low=0.0))
        self._check_kernel_params()
        # Data validation is scikit-learn's (its messages, n_features_in_, sparse/complex refusal).
        x, t = validate_data(
            self,
            _from_torch(X),
            _from_torch(y),
            dtype=np.float64,
            multi_output=True,
            y_numeric=True,
        )
        self._check_precomputed(x)
        K = self._kernel(x)  # (N, N)
        A = K + alpha * np.eye(K.shape[0])
        try:
            factor = scipy.linalg.cho_factor(A, lower=True)
            dual = scipy.linalg.cho_solve(factor, t)
        except np.linalg.LinAlgError:
            warnings.warn(
                "KernelRidge: K + alpha I is singular; using the minimum-norm least-squares solution.",
                scipy.linalg.LinAlgWarning,
                stacklevel=2,
            )
            dual = scipy.linalg.lstsq(A, t)[0]
        self.dual_coef_ = dual
        self.X_fit_ = x
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predict ``f(X) = k(X, X_fit) c``.

        Args:
            X: ``(M, d)`` (``(M, N)`` kernel values against the training points if precomputed).

        Returns:
            ``(M,)`` or ``(M, k)`` float64 predictions.

        Raises:
            sklearn.exceptions.NotFittedError: before :meth:`fit`.
            ValueError: bad data, e.g. a feature count other than ``n_features_in_``.
        """
        check_is_fitted(self)
        x = self._check_new_input(X)
        return self._kernel(x, self.X_fit_) @ self.dual_coef_


class KernelPCA(_KernelParamsMixin, TransformerMixin, BaseEstimator):
    """Kernel principal component analysis (Lab 2).

    The training Gram matrix is centred explicitly, ``K_c = K - 1_N K - K 1_N + 1_N K 1_N``
    (:func:`center_gram`), and diagonalised, ``K_c a_j = lambda_j a_j`` with ``||a_j|| = 1``
    (the lab's ``N lambda a = K a`` up to the factor ``N``). The principal axis ``v_j`` in feature
    space has unit norm when ``a_j`` is divided by ``sqrt(lambda_j)``, so the projection of a point
    ``x`` is ``sum_i k_c(x, x_i) a_ij / sqrt(lambda_j)``, with ``k_c`` centred by the *training*
    mean; on the training points this equals ``a_ij sqrt(lambda_j)``.

    Eigenvalues are those of ``K_c`` (scikit-learn's ``eigenvalues_``). Negative eigenvalues from
    rounding are set to 0, significant ones raise (the kernel is not positive semi-definite);
    each eigenvector's sign makes its largest-magnitude entry positive (scikit-learn's rule).

    Args:
        n_components: number of components; ``None`` keeps every component with a non-zero
            eigenvalue. Values above ``N`` are reduced to ``N``.
        kernel: one of ``"linear"``, ``"polynomial"``/``"poly"``, ``"rbf"``, ``"laplacian"``,
            ``"precomputed"``.
        gamma: kernel scale; ``None`` means ``1 / d``.
        degree: polynomial degree.
        coef0: polynomial constant.
        remove_zero_eig: drop components with a zero eigenvalue even when ``n_components`` is
            given (their projections are 0).

    Attributes:
        eigenvalues_: ``(n,)`` eigenvalues of the centred Gram matrix, decreasing.
        eigenvectors_: ``(N, n)`` unit eigenvectors ``a_j``.
        X_fit_: ``(N, d)`` training inputs (the ``(N, N)`` Gram matrix if precomputed).
        n_features_in_: ``d``.
        K_fit_col_means_: ``(N,)`` column means of the training Gram matrix (``1_N K``).
        K_fit_mean_: grand mean of the training Gram matrix (``1_N K 1_N``); with the column
            means, what centring a new point needs.
    """

    def __init__(
        self,
        n_components: int | None = None,
        *,
        kernel: str = "linear",
        gamma: float | None = None,
        degree: int = 3,
        coef0: float = 1.0,
        remove_zero_eig: bool = False,
    ) -> None:
        self.n_components = n_components
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.remove_zero_eig = remove_zero_eig

    def fit(self, X: Any, y: Any = None) -> KernelPCA:
        """Fit on ``X: (N, d)``; ``y`` is ignored.

        Returns:
            ``self``.

        Raises:
            ParameterError: bad hyper-parameters, or a kernel that is not PSD on ``X``.
            ValueError: bad data (scikit-learn's ``validate_data``).
        """
        owner = type(self).__name__
        if self.n_components is not None:
            check_in_range(self.n_components, "n_components", owner, low=1, kind=int)
        check_choice(self.remove_zero_eig, "remove_zero_eig", owner, (True, False))
        self._check_kernel_params()
        x = validate_data(self, _from_torch(X), dtype=np.float64)
        self._check_precomputed(x)
        K = self._kernel(x)  # (N, N)
        n = K.shape[0]
        col_means = K.mean(axis=0)  # (N,) kept to centre new points with the training mean
        K_c = _center_with(K, col_means, float(col_means.mean()))
        n_comp = n if self.n_components is None else min(n, int(self.n_components))
        # eigh returns ascending eigenvalues; ask only for the n_comp largest.
        eigvals, eigvecs = scipy.linalg.eigh(K_c, subset_by_index=(n - n_comp, n - 1))
        if eigvals.shape[0] < n_comp:
            # LAPACK's subset driver can return nothing on a flat spectrum (K = I to rounding,
            # e.g. an RBF kernel with a huge gamma): fall back to the full decomposition.
            eigvals, eigvecs = scipy.linalg.eigh(K_c)
            eigvals, eigvecs = eigvals[n - n_comp :], eigvecs[:, n - n_comp :]
        eigvals = self._fix_spectrum(eigvals)
        # Deterministic sign: the largest-magnitude entry of each eigenvector is positive.
        pivots = np.argmax(np.abs(eigvecs), axis=0)  # (n_comp,)
        eigvecs = eigvecs * np.sign(eigvecs[pivots, np.arange(n_comp)])[None, :]
        order = np.argsort(eigvals)[::-1]  # decreasing
        eigvals, eigvecs = eigvals[order], eigvecs[:, order]
        if self.remove_zero_eig or self.n_components is None:
            keep = eigvals > 0
            eigvals, eigvecs = eigvals[keep], eigvecs[:, keep]
        self.eigenvalues_ = eigvals
        self.eigenvectors_ = eigvecs
        self.X_fit_ = x
        self.K_fit_col_means_ = col_means
        self.K_fit_mean_ = float(col_means.mean())
        return self

    def _fix_spectrum(self, eigvals: np.ndarray) -> np.ndarray:
        """Zero rounding-level negative/tiny eigenvalues; raise on significant negative ones."""
        eigvals = eigvals.copy()
        # The requested subset always contains the largest eigenvalue.
        top = float(eigvals.max())
        low = float(eigvals.min())
        if top < 0 or (low < -_SIGNIFICANT_NEG_RATIO * top and low < -_SIGNIFICANT_NEG_VALUE):
            raise ParameterError(
                "kernel",
                type(self).__name__,
                f"a positive semi-definite kernel on X (centred Gram eigenvalues range from {low:.3g} to {top:.3g})",
                self.kernel,
            )
        eigvals[eigvals < 0] = 0.0
        eigvals[(eigvals > 0) & (eigvals < _SMALL_POS_RATIO * top)] = 0.0
        return eigvals

    def _scaled_eigenvectors(self) -> np.ndarray:
        """``a_j / sqrt(lambda_j)`` (0 for a zero eigenvalue): unit principal axes."""
        scaled = np.zeros_like(self.eigenvectors_)
        nz = self.eigenvalues_ > 0
        scaled[:, nz] = self.eigenvectors_[:, nz] / np.sqrt(self.eigenvalues_[nz])
        return scaled

    def transform(self, X: Any) -> np.ndarray:
        """Project ``X: (M, d)`` on the principal axes.

        Returns:
            ``(M, n_components)`` float64 projections.

        Raises:
            sklearn.exceptions.NotFittedError: before :meth:`fit`.
            ValueError: bad data, e.g. a feature count other than ``n_features_in_``.
        """
        check_is_fitted(self)
        x = self._check_new_input(X)
        K = self._kernel(x, self.X_fit_)  # (M, N)
        K_c = _center_with(K, self.K_fit_col_means_, self.K_fit_mean_)
        return K_c @ self._scaled_eigenvectors()

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit and project the training points: ``a_j sqrt(lambda_j)``.

        Returns:
            ``(N, n_components)`` float64 projections.
        """
        self.fit(X)
        return self.eigenvectors_ * np.sqrt(self.eigenvalues_)[None, :]
