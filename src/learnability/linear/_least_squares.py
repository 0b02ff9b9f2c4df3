"""Numerically stable least squares and closed-form ridge regression.

Nothing here forms an explicit inverse: least squares uses the SVD-based LAPACK driver behind
``scipy.linalg.lstsq`` (the minimum-norm solution, also in the rank-deficient and
under-determined cases), the normal equations are solved by a Cholesky ``solve``, and ridge uses
the SVD of ``X``. Inputs are NumPy arrays or torch tensors; outputs are NumPy float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg

from learnability._arrays import as_design, as_float64, as_targets
from learnability._validation import ParameterError, check_choice, check_in_range

__all__ = ["least_squares", "ridge", "with_bias"]

#: Solvers of :func:`least_squares`.
LSTSQ_METHODS: tuple[str, ...] = ("lstsq", "solve")


def with_bias(X: Any) -> np.ndarray:
    """Append a column of ones on the right (Lab 3's bias column): ``(m, n) -> (m, n + 1)``."""
    x = as_design(X, "X", "with_bias")
    return np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)


def _cutoff(s: np.ndarray, shape: tuple[int, int]) -> float:
    """Singular values below this are treated as 0 (NumPy's ``pinv``/``lstsq`` default)."""
    return float(np.finfo(np.float64).eps * max(shape) * (s[0] if s.size else 0.0))


def least_squares(X: Any, y: Any, *, w0: Any = None, method: str = "lstsq") -> np.ndarray:
    """Least-squares solution of ``X w ~ y`` closest to ``w0``.

    Among all minimisers of ``||X w - y||^2`` returns the one minimising ``||w - w0||``:
    ``w = w0 + pinv(X) (y - X w0)``. With ``w0 = 0`` this is the minimum-norm (pseudo-inverse)
    solution. It is also the limit of gradient descent on the squared loss started at ``w0``
    (Lab 8; see :func:`gradient_descent_least_squares`).

    Args:
        X: ``(m, n)`` design matrix.
        y: ``(m,)`` or ``(m, k)`` targets.
        w0: ``(n,)`` or ``(n, k)`` reference point; ``None`` means 0.
        method: ``"lstsq"`` (SVD-based, any rank, recommended) or ``"solve"`` (the normal
            equations ``X^T X w = X^T y`` by Cholesky: the labs' closed form; squares the
            condition number and needs full column rank).

    Returns:
        ``(n,)`` or ``(n, k)`` float64 weights (trailing shape follows ``y``).

    Raises:
        ParameterError: bad shapes or method.
        numpy.linalg.LinAlgError: ``method="solve"`` with a singular ``X^T X``.
    """
    owner = "least_squares"
    x = as_design(X, "X", owner)
    t = as_targets(y, x.shape[0], "y", owner)
    check_choice(method, "method", owner, LSTSQ_METHODS)
    w_ref = _reference(w0, x.shape[1], t, owner)
    r = t - x @ w_ref  # residual of the reference point
    if method == "lstsq":
        delta = scipy.linalg.lstsq(x, r)[0]
    else:
        delta = scipy.linalg.solve(x.T @ x, x.T @ r, assume_a="pos")
    return w_ref + delta


def _reference(w0: Any, n: int, t: np.ndarray, owner: str) -> np.ndarray:
    """``w0`` checked against the weight shape ``(n,) + t.shape[1:]`` (``None`` -> zeros)."""
    shape = (n, *t.shape[1:])
    if w0 is None:
        return np.zeros(shape)
    w = as_float64(w0)
    if w.shape != shape:
        raise ParameterError("w0", owner, f"an array of shape {shape}", f"array of shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ParameterError("w0", owner, "an array of finite values", "an array with NaN or inf")
    return w


def ridge(X: Any, y: Any, *, alpha: float) -> np.ndarray:
    """Closed-form ridge regression (weight decay), via the SVD of ``X``.

    Minimises ``||y - X w||^2 + alpha ||w||^2`` (Tutorial 3's ``E'`` up to the factor ``1/N`` on
    the data term; scikit-learn's ``Ridge(alpha, fit_intercept=False)``). The solution
    ``(X^T X + alpha I)^{-1} X^T y`` is computed as ``V diag(s / (s^2 + alpha)) U^T y``, stable for
    any shape and rank; ``alpha = 0`` gives the minimum-norm least-squares solution. Every column
    is penalised, a bias column included (append it with :func:`with_bias`).

    Args:
        X: ``(m, n)`` design matrix.
        y: ``(m,)`` or ``(m, k)`` targets.
        alpha: penalty ``>= 0``.

    Returns:
        ``(n,)`` or ``(n, k)`` float64 weights.

    Raises:
        ParameterError: bad shapes or ``alpha``.
    """
    owner = "ridge"
    x = as_design(X, "X", owner)
    t = as_targets(y, x.shape[0], "y", owner)
    alpha = float(check_in_range(alpha, "alpha", owner, low=0.0))
    u, s, vt = scipy.linalg.svd(x, full_matrices=False)  # (m, r), (r,), (r, n)
    keep = s > _cutoff(s, x.shape)
    filt = np.zeros_like(s)
    filt[keep] = s[keep] / (s[keep] ** 2 + alpha)  # spectral filter s / (s^2 + alpha)
    uty = u.T @ t  # (r,) or (r, k)
    scaled = filt * uty if t.ndim == 1 else filt[:, None] * uty
    return vt.T @ scaled
