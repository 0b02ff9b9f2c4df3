"""Loss landscapes of ``f(x) = a x + b`` over an ``(a, b)`` grid, and a discrete convexity check.

Tutorial 3's landscapes, vectorised (no Python loop over grid points)::

    "mse": E(a, b) = mean_i (a x_i + b - t_i)^2
    "l1":  E(a, b) = ||r||_1 / N
    "lp":  E(a, b) = ||r||_p / N         (the tutorial's slider: (sum |r|^p)^(1/p) / N)

with residuals ``r_i = a x_i + b - t_i``. For large ``p`` (the tutorial goes to 50) ``|r|^p``
overflows (``|r| > ~1.4e6`` at ``p = 50``) or underflows to 0; the ``p``-norm is computed as
``max|r| * ||r / max|r|||_p``, which does neither. All three are convex in ``(a, b)`` (a norm of
an affine function); :func:`is_midpoint_convex` checks that on the grid.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from learnability._arrays import as_float64, as_vector, check_finite
from learnability._validation import ParameterError, check_choice, check_in_range

__all__ = ["LANDSCAPE_LOSSES", "is_midpoint_convex", "loss_landscape", "midpoint_convexity_gap"]

#: Losses of :func:`loss_landscape`.
LANDSCAPE_LOSSES: tuple[str, ...] = ("mse", "l1", "lp")

# Residual tensors (A, B, N) are built in blocks of at most this many entries (~32 MB of float64)
# so that fine grids over many points do not exhaust memory.
_MAX_BLOCK_ENTRIES = 4_000_000


def _p_norm(r: np.ndarray, p: float) -> np.ndarray:
    """``||r||_p`` along the last axis, scaled by ``max|r|`` to avoid overflow and underflow."""
    a = np.abs(r)
    scale = a.max(axis=-1, keepdims=True)  # (..., 1)
    safe = np.where(scale > 0, scale, 1.0)
    return (scale * np.sum((a / safe) ** p, axis=-1, keepdims=True) ** (1.0 / p))[..., 0]


def loss_landscape(
    x: Any,
    t: Any,
    a_grid: Any,
    b_grid: Any,
    *,
    loss: str = "mse",
    p: float = 2.0,
) -> np.ndarray:
    """Loss of ``f(x) = a x + b`` on every grid point ``(a_i, b_j)``.

    Args:
        x: ``(N,)`` inputs.
        t: ``(N,)`` targets.
        a_grid: ``(A,)`` slopes.
        b_grid: ``(B,)`` intercepts.
        loss: ``"mse"``, ``"l1"`` or ``"lp"`` (see the module docstring).
        p: exponent of ``"lp"``, ``>= 1`` (``p < 1`` is not a norm and not convex); ignored by the
            other losses.

    Returns:
        ``(A, B)`` float64 array, ``L[i, j] = E(a_grid[i], b_grid[j])``.

    Raises:
        ParameterError: bad shapes, loss or ``p``.
    """
    owner = "loss_landscape"
    xs = as_vector(x, "x", owner)
    ts = as_vector(t, "t", owner)
    if ts.shape != xs.shape:
        raise ParameterError("t", owner, f"an array of shape {xs.shape}", f"array of shape {ts.shape}")
    a = as_vector(a_grid, "a_grid", owner)
    b = as_vector(b_grid, "b_grid", owner)
    check_choice(loss, "loss", owner, LANDSCAPE_LOSSES)
    p = float(check_in_range(p, "p", owner, low=1.0))
    n = xs.shape[0]
    out = np.empty((a.shape[0], b.shape[0]))
    rows = max(1, _MAX_BLOCK_ENTRIES // (b.shape[0] * n))
    for start in range(0, a.shape[0], rows):
        a_blk = a[start : start + rows]
        # (A_blk, 1, 1) * (1, 1, N) + (1, B, 1) - (1, 1, N) -> (A_blk, B, N)
        r = a_blk[:, None, None] * xs[None, None, :] + b[None, :, None] - ts[None, None, :]
        if loss == "mse":
            out[start : start + rows] = np.mean(r * r, axis=-1)
        elif loss == "l1":
            out[start : start + rows] = np.sum(np.abs(r), axis=-1) / n
        else:
            out[start : start + rows] = _p_norm(r, p) / n
    return out


def _check_uniform(coords: Sequence[Any] | None, shape: tuple[int, ...], owner: str) -> None:
    """Midpoints in index space are midpoints in (a, b) only on uniformly spaced axes."""
    if coords is None:
        return
    if len(coords) != len(shape):
        raise ParameterError("coords", owner, f"{len(shape)} coordinate arrays", f"{len(coords)}")
    for axis, (c, size) in enumerate(zip(coords, shape, strict=True)):
        arr = as_float64(c)
        if arr.shape != (size,):
            raise ParameterError("coords", owner, f"axis {axis} of shape ({size},)", f"array of shape {arr.shape}")
        steps = np.diff(arr)
        if steps.size and not np.allclose(steps, steps[0], rtol=1e-9, atol=0.0):
            raise ParameterError("coords", owner, "uniformly spaced grids", f"axis {axis}")


def midpoint_convexity_gap(values: Any, *, coords: Sequence[Any] | None = None) -> float:
    """Largest violation of midpoint convexity on a uniform grid.

    For every pair of grid points ``p``, ``q`` whose midpoint ``c`` is a grid point (i.e.
    ``c = p + delta``, ``q = c + delta`` for an integer offset ``delta``), a convex function
    satisfies ``f(c) <= (f(p) + f(q)) / 2``. Returns ``max (f(c) - (f(p) + f(q)) / 2)`` over all
    such triples: ``<= 0`` (up to rounding) for a convex function, ``> 0`` where it is not. All
    offsets are checked (``O(n^2)`` vectorised operations for an ``n x n`` grid), which on a
    grid is the complete discrete form of midpoint convexity along every line.

    Args:
        values: ``(A,)`` or ``(A, B)`` function values on a uniformly spaced grid.
        coords: optional coordinate arrays per axis, checked to be uniformly spaced.

    Returns:
        The largest gap (``-inf`` if the grid has no triple, i.e. fewer than 3 points per axis).

    Raises:
        ParameterError: bad shape, non-finite values or non-uniform ``coords``.
    """
    owner = "midpoint_convexity_gap"
    f = check_finite(as_float64(values), "values", owner)
    if f.ndim not in (1, 2):
        raise ParameterError("values", owner, "an array with 1 or 2 dimensions", f"array of shape {f.shape}")
    _check_uniform(coords, f.shape, owner)
    halves = [range(-((n - 1) // 2), (n - 1) // 2 + 1) for n in f.shape]
    worst = -np.inf
    for delta in itertools.product(*halves):
        # Each unordered pair {p, q} once: keep offsets whose first non-zero entry is positive.
        nonzero = [d for d in delta if d != 0]
        if not nonzero or nonzero[0] < 0:
            continue
        centre = tuple(slice(abs(d), n - abs(d)) for d, n in zip(delta, f.shape, strict=True))
        lo = tuple(slice(abs(d) - d, n - abs(d) - d) for d, n in zip(delta, f.shape, strict=True))
        hi = tuple(slice(abs(d) + d, n - abs(d) + d) for d, n in zip(delta, f.shape, strict=True))
        gap = f[centre] - 0.5 * (f[lo] + f[hi])
        if gap.size:
            worst = max(worst, float(gap.max()))
    return worst


def is_midpoint_convex(
    values: Any,
    *,
    rtol: float = 1e-9,
    atol: float = 0.0,
    coords: Sequence[Any] | None = None,
) -> bool:
    """Whether grid values are midpoint convex up to rounding.

    True iff :func:`midpoint_convexity_gap` ``<= atol + rtol * max|values|`` (the tolerance
    absorbs floating-point error in the loss evaluation).

    Args:
        values: ``(A,)`` or ``(A, B)`` values on a uniformly spaced grid.
        rtol: tolerance relative to ``max|values|``, ``>= 0``.
        atol: absolute tolerance, ``>= 0``.
        coords: optional coordinate arrays per axis, checked to be uniformly spaced.

    Returns:
        ``True`` if no midpoint lies above its chord by more than the tolerance.
    """
    owner = "is_midpoint_convex"
    rtol = float(check_in_range(rtol, "rtol", owner, low=0.0))
    atol = float(check_in_range(atol, "atol", owner, low=0.0))
    f = as_float64(values)
    gap = midpoint_convexity_gap(f, coords=coords)
    return bool(gap <= atol + rtol * float(np.max(np.abs(f))))
