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

The partition comes from the min-max formula of isotonic regression, evaluated with torch on the
input's device for every row at once (``O(n^2)`` memory per row, no loop, no copy to the host):
the soft sort runs inside a compiled graph and on a GPU without a synchronisation per call.
"""

from __future__ import annotations

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


# Adjacent positions whose isotonic values differ by less than this (relative to the row's
# largest |y|) are one block: the min-max formula's cumulative sums round at ~1e-16, and a true
# step this small changes the soft sort's output by less than the same relative amount.
_BLOCK_TOL = 1e-10


@torch.no_grad()
def isotonic_blocks(y: Tensor) -> Tensor:
    """Blocks of the decreasing isotonic regression of each row.

    The solution of ``min_{v_1 >= ... >= v_n} ||v - y||^2`` is constant on consecutive blocks,
    equal to the mean of ``y`` there, and given by the min-max formula (Barlow et al. 1972,
    Robertson et al. 1988, Thm 1.4.4)

        v_i = min_{j <= i} max_{k >= i} mean(y_j, ..., y_k),

    evaluated for every row at once from cumulative sums: all ``(j, k)`` block means, a reverse
    cumulative max over ``k`` and a min over ``j`` (float64, on ``y``'s device). A new block starts
    where ``v`` steps down.

    Args:
        y: ``(B, n)`` rows to regress (any device; no gradient flows through the partition).

    Returns:
        ``(B, n)`` long tensor on ``y``'s device: for each position, the index (0, 1, ...) of
        its block.
    """
    y = y.detach().to(torch.float64)
    batch, n = y.shape
    csum = torch.cat([y.new_zeros(batch, 1), y.cumsum(dim=1)], dim=1)  # (B, n + 1)
    j = torch.arange(n, device=y.device)[:, None]  # block start
    k = torch.arange(n, device=y.device)[None, :]  # block end
    length = (k - j + 1).clamp_min(1).to(y.dtype)  # (n, n)
    means = (csum[:, None, 1:] - csum[:, :n, None]) / length  # (B, j, k) = mean(y_j..y_k)
    means = means.masked_fill(k < j, float("-inf"))
    # max over k >= i of mean(y_j..y_k): a cumulative max from the right, along k.
    right_max = means.flip(-1).cummax(dim=-1).values.flip(-1)  # (B, j, i)
    v = right_max.masked_fill(j > k, float("inf")).min(dim=1).values  # (B, i): min over j <= i
    scale = y.abs().amax(dim=1, keepdim=True).clamp_min(torch.finfo(y.dtype).tiny)
    steps = (v[:, :-1] - v[:, 1:]) > _BLOCK_TOL * scale  # (B, n - 1): a new block starts after i
    return torch.cat([steps.new_zeros(batch, 1), steps], dim=1).long().cumsum(dim=1)
