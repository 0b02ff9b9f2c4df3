"""Conversion of array-likes at the boundary of the NumPy-float64 packages (kernels, linear).

Inputs may be NumPy arrays, nested sequences or ``torch.Tensor`` (detached and moved to the CPU);
outputs are NumPy ``float64`` arrays: kernel values and least-squares solutions are differences of
large numbers, so float32 inputs are upcast. Every check raises the project's ``ParameterError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from learnability._validation import ParameterError, check_matrix

__all__ = ["as_design", "as_float64", "as_matrix", "as_targets", "as_vector", "check_finite"]


def as_float64(array: Any) -> np.ndarray:
    """Convert a NumPy array, sequence or torch tensor to a float64 ndarray (no shape check)."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    return np.asarray(array, dtype=np.float64)


def as_matrix(array: Any, name: str, owner: str, *, n_features: int | None = None) -> np.ndarray:
    """Convert to a finite float64 matrix of shape ``(N, d)``.

    Args:
        array: the data, ``(N, d)``. A ``(N,)`` vector is refused (ambiguous: N samples of one
            feature or one sample of N features).
        name: parameter name used in the error message.
        owner: function or estimator name used in the error message.
        n_features: if given, the required number of columns ``d``.

    Returns:
        The data as a float64 array of shape ``(N, d)``.

    Raises:
        ParameterError: wrong number of dimensions, wrong ``d``, empty, or non-finite values.
    """
    out = as_float64(array)
    check_matrix(out, name, owner, ndim=2, shape=None if n_features is None else (None, n_features))
    if out.shape[0] == 0 or out.shape[1] == 0:
        raise ParameterError(name, owner, "a non-empty array", f"array of shape {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ParameterError(name, owner, "an array of finite values", "an array with NaN or inf")
    return out


def check_finite(array: np.ndarray, name: str, owner: str) -> np.ndarray:
    """Refuse empty arrays and NaN/inf values."""
    if array.size == 0:
        raise ParameterError(name, owner, "a non-empty array", f"array of shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ParameterError(name, owner, "an array of finite values", "an array with NaN or inf")
    return array


def as_design(X: Any, name: str, owner: str) -> np.ndarray:
    """A finite float64 design matrix ``(m, n)``; ``(m,)`` is refused."""
    out = as_float64(X)
    check_matrix(out, name, owner, ndim=2)
    return check_finite(out, name, owner)


def as_targets(y: Any, n_rows: int, name: str, owner: str) -> np.ndarray:
    """Finite float64 targets ``(m,)`` or ``(m, k)`` matching ``n_rows`` samples."""
    out = as_float64(y)
    if out.ndim not in (1, 2) or out.shape[0] != n_rows:
        raise ParameterError(
            name,
            owner,
            f"an array of shape ({n_rows},) or ({n_rows}, k)",
            f"array of shape {out.shape}",
        )
    return check_finite(out, name, owner)


def as_vector(x: Any, name: str, owner: str) -> np.ndarray:
    """A finite float64 vector ``(N,)`` (a batch of scalars); other shapes are refused."""
    out = as_float64(x)
    check_matrix(out, name, owner, ndim=1)
    return check_finite(out, name, owner)
