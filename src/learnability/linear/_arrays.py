"""Input conversion for :mod:`learnability.linear`.

The array type of this package is **NumPy float64** (inputs may be NumPy arrays, sequences or
torch tensors); least squares on polynomial features loses digits quickly, so float32 inputs are
upcast. (The same helper exists in ``learnability.kernels._arrays``; the two packages are kept
independent of each other.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from learnability._validation import ParameterError, check_matrix


def as_float64(array: Any) -> np.ndarray:
    """Convert a NumPy array, sequence or torch tensor to a float64 ndarray (no shape check)."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    return np.asarray(array, dtype=np.float64)


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
