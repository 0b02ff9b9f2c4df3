"""Differentiable sorting: the quadratic-regularised soft sort of Blondel et al. (2020).

Blondel, Teboul, Berthet, Djolonga, "Fast Differentiable Sorting and Ranking", ICML 2020
(arXiv:2002.08871; reference code: github.com/google-research/fast-soft-sort). With
``rho = (n, n-1, ..., 1)`` and the permutahedron ``P(theta)`` (the convex hull of all
permutations of ``theta``), the soft sort (descending) with regularisation strength
``eps > 0`` is the Euclidean projection

    s_eps(theta) = argmin_{mu in P(theta)} || mu - rho / eps ||^2 .

By Prop. 3 of the paper it reduces to an isotonic regression: with ``theta_s`` the values sorted
in decreasing order,

    s_eps(theta) = rho / eps - v,  v = argmin_{v_1 >= ... >= v_n} || v - (rho / eps - theta_s) ||^2,

which the pool-adjacent-violators algorithm (PAV) solves exactly: it partitions ``1..n`` into
consecutive blocks ``B`` and ``v`` is the block mean. Because ``rho`` decreases by one per
position, the output on block ``B = [k, l]`` is

    s_eps(theta)_i = mean_{j in B} theta_s[j] + ((k + l) / 2 - i) / eps ,

a formula free of the large numbers ``rho / eps`` (numerically safe for small ``eps``). Here PAV
only chooses the partition (a piecewise-constant function of ``theta``, computed without
gradient); the output is then written with differentiable torch operations (sort, gather,
scatter-add), so autograd gives exactly the paper's Jacobian — block averaging, eq. (9) —
including double backward, on the whole open set where the partition does not change (ties
between blocks are the measure-zero set where the soft sort is not differentiable).

Limits: ``eps -> 0`` gives the hard sort, *exactly* once ``eps < 1 / max_i (theta_s[i] -
theta_s[i+1])`` (then every block is a singleton); ``eps -> inf`` gives the mean of ``theta`` at
every position. The output always has the sum of ``theta`` and is sorted.

The batched PAV runs over positions in Python (``n`` steps, each vectorised over the batch, in
NumPy), so the cost is about ``n`` small array operations whatever the batch size.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from learnability._validation import ParameterError, check_in_range

__all__ = ["isotonic_blocks", "soft_sort"]


def soft_sort(values: Tensor, *, temperature: float = 1.0, descending: bool = False) -> Tensor:
    """Soft sort along the last dimension (Blondel et al. 2020, quadratic regularisation).

    Args:
        values: ``(..., n)`` floating tensor.
        temperature: the regularisation strength ``eps > 0``; ``eps -> 0`` is the hard sort,
            large ``eps`` pulls every output towards the mean.
        descending: sort in decreasing order; the ascending soft sort is
            ``-soft_sort(-values, descending=True)`` (as in the reference code).

    Returns:
        ``(..., n)`` soft-sorted values (ascending unless ``descending``), differentiable in
        ``values``.

    Raises:
        ParameterError: non-positive temperature, or a non-floating / 0-d ``values``.
    """
    owner = "soft_sort"
    check_in_range(temperature, "temperature", owner, low=0.0, low_inclusive=False)
    if not isinstance(values, Tensor) or values.ndim < 1 or not values.dtype.is_floating_point:
        raise ParameterError("values", owner, "a floating tensor of shape (..., n)", values)
    n = values.shape[-1]
    if n <= 1 or values.numel() == 0:
        return values.clone()
    theta = values if descending else -values
    out = _soft_sort_descending(theta.reshape(-1, n), float(temperature)).reshape(values.shape)
    return out if descending else -out


def _soft_sort_descending(theta: Tensor, eps: float) -> Tensor:
    """``(B, n) -> (B, n)``: soft sort in decreasing order (see the module docstring)."""
    batch, n = theta.shape
    theta_s = theta.sort(dim=1, descending=True).values  # (B, n), differentiable
    position = torch.arange(n, device=theta.device)
    with torch.no_grad():
        rho = (n - position).to(torch.float64)  # (n,) = n, n-1, ..., 1
        # Isotonic regression is equivariant to positive scaling: PAV on eps * y has the same
        # blocks as on y = rho / eps - theta_s, without the huge values rho / eps.
        block = isotonic_blocks(rho - eps * theta_s.to(torch.float64))  # (B, n) block index
    ones = torch.ones_like(theta_s)
    count = torch.zeros_like(theta_s).scatter_add(1, block, ones)  # (B, n) block sizes
    total = torch.zeros_like(theta_s).scatter_add(1, block, theta_s)  # (B, n) block sums
    pos = position.to(theta_s.dtype).expand(batch, n)
    centre = torch.zeros_like(theta_s).scatter_add(1, block, pos)  # (B, n) sums of positions
    safe = count.clamp_min(1)  # empty block slots are never gathered
    mean_theta = (total / safe).gather(1, block)  # (B, n)
    mean_pos = (centre / safe).gather(1, block)  # (B, n) = (k + l) / 2 on block [k, l]
    return mean_theta + (mean_pos - pos) / eps


@torch.no_grad()
def isotonic_blocks(y: Tensor) -> Tensor:
    """Blocks of the decreasing isotonic regression of each row, by pool-adjacent-violators.

    The solution of ``min_{v_1 >= ... >= v_n} ||v - y||^2`` is constant on consecutive blocks,
    equal to the mean of ``y`` there. PAV scans left to right, keeps a stack of blocks and merges
    the last two while their means increase. Every row is processed at once (vectorised over the
    batch, sequential over positions); the loop runs in NumPy on the CPU because it is made of
    many tiny operations, where NumPy's per-call cost is far below torch's.

    Args:
        y: ``(B, n)`` rows to regress (any device; no gradient flows through the partition).

    Returns:
        ``(B, n)`` long tensor on ``y``'s device: for each position, the index (0, 1, ...) of
        its block.
    """
    values = y.detach().to("cpu", torch.float64).numpy()
    batch, n = values.shape
    block = np.broadcast_to(np.arange(n), (batch, n)).copy()
    # Rows already non-increasing are their own solution (every block a singleton); for the soft
    # sort that is the hard-sort regime, common at small temperatures. Only the others need PAV.
    todo = ~np.all(values[:, 1:] <= values[:, :-1], axis=1)
    if todo.any():
        block[todo] = _pav_blocks(values[todo])
    return torch.from_numpy(block).to(y.device)


def _pav_blocks(values: np.ndarray) -> np.ndarray:
    """Pool-adjacent-violators on each row of ``values`` (B, n); block index of each position."""
    batch, n = values.shape
    rows = np.arange(batch)
    sums = np.zeros((batch, n))  # stack of block sums
    counts = np.zeros((batch, n), dtype=np.int64)  # stack of block sizes
    top = np.zeros(batch, dtype=np.int64)  # blocks on each row's stack
    for j in range(n):
        sums[rows, top] = values[:, j]
        counts[rows, top] = 1
        top += 1
        while True:
            last, prev = np.maximum(top - 1, 0), np.maximum(top - 2, 0)
            s1, c1 = sums[rows, last], counts[rows, last]
            s2, c2 = sums[rows, prev], counts[rows, prev]
            # mean(last) > mean(prev) breaks "decreasing"; compared without division.
            violated = (top >= 2) & (s1 * c2 > s2 * c1)
            if not violated.any():
                break
            r, lo, hi = rows[violated], prev[violated], last[violated]
            sums[r, lo] += s1[violated]
            counts[r, lo] += c1[violated]
            sums[r, hi] = 0.0
            counts[r, hi] = 0
            top -= violated
    # Block k of a row ends (exclusively) at ends[k]; slots past the last block end at n. One
    # searchsorted over all rows: offset row b by b * (n + 1) so the flattened ends stay sorted.
    offset = (rows * (n + 1))[:, None]
    ends = counts.cumsum(axis=1) + offset
    positions = np.arange(n)[None, :] + offset
    block = np.searchsorted(ends.reshape(-1), positions.reshape(-1), side="right").reshape(batch, n)
    block -= rows[:, None] * n  # searchsorted counts the n ends of every earlier row
    return block
