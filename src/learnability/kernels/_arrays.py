"""Input conversion shared by the kernel functions, feature maps and estimators.

The array type of :mod:`learnability.kernels` is **NumPy float64**: inputs may be NumPy arrays,
nested sequences or ``torch.Tensor`` (detached and moved to the CPU); every output is a NumPy
``float64`` array. Kernel values are differences of large numbers (distances, centred Gram
matrices), so float64 is used throughout and float32 inputs are upcast.
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
