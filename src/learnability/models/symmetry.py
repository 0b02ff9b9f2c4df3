"""Discovering symmetries in data (the older Challenge 2): orbit data, classifier, loss terms.

The challenge: generate 2-D vectors rotated by a finite subgroup ``C_m`` of SO(2) (a rotation
every ``step_degrees``, ``m = 360 / step_degrees``), label them by orbit, shuffle; classify them
with a one-hidden-layer FC + ReLU network; train with

    loss = cross-entropy
         + sort_weight * soft-sort regulariser on the rows and columns of the first-layer Gramian
         + commutator_weight * || [C_data, C_weights] ||^2 ,

then look at the Gramian of the learned first-layer weights (expected: circulant) and test the
invariance of the learned representation.

Why a circulant Gramian: if the hidden units' weight vectors form an orbit of the group,
``w_k = R^k w_0`` (``k = 0..m-1``), then
``G_kl = <R^k w_0, R^l w_0> = |w_0|^2 cos((l - k) 2 pi / m)``
depends on ``l - k mod m`` only: ``G`` is circulant, and the hidden representation of a rotated
input is a cyclic permutation of the original one (pooling it gives invariance).

Our interpretation of the two regularisers (documented choices, see each function):

- **soft-sort term** (:func:`sort_regularizer`): in a circulant matrix every row is a cyclic
  permutation of the first, so all rows have the same *sorted* values, and so do all columns.
  The term is the spread of the soft-sorted rows around their mean, plus the same for the
  columns, divided by ``||G||_F^2`` so that shrinking the weights does not lower it. The soft
  sort (:func:`learnability.models.soft_sort`) makes it differentiable everywhere. For a
  symmetric Gramian the column term equals the row term; both are kept for non-symmetric
  matrices. It is invariant to a simultaneous reordering of the hidden units (as it must be: the
  order of the units is arbitrary) and is only a necessary condition for circulant-ness.
- **commutator term** (:func:`commutator_penalty`): the covariance of the data, ``C_x`` (``d x d``),
  and that of the weight vectors (the rows of ``W``, seen as points of the same space),
  ``C_w``. If the weights are distributed like the data under the group, the two covariances
  share eigenvectors and commute. Caveat: for full orbits of ``C_m`` with ``m >= 3`` in 2-D the
  data covariance is isotropic (``proportional to I``) and the term vanishes identically; it
  carries information when ``C_x`` is anisotropic (a minibatch's covariance, incomplete orbits,
  other groups or dimensions).

The circulant measure (:func:`circulant_distance`) is the relative Frobenius distance to the
nearest circulant matrix, after an optional simultaneous reordering of rows and columns; for
2-D weights the natural order is by angle (:func:`angle_order`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from learnability._validation import ParameterError, check_in_range, check_matrix
from learnability.models._random import init_default_, make_generator, new_layer
from learnability.models.soft_sort import soft_sort

__all__ = [
    "OrbitClassifier",
    "OrbitDataset",
    "SymmetryLoss",
    "angle_order",
    "circulant_distance",
    "circulant_projection",
    "commutator_penalty",
    "covariance",
    "gramian",
    "group_order",
    "make_orbit_dataset",
    "rotate_points",
    "rotation_matrices",
    "sort_regularizer",
    "sorted_rows_spread",
    "symmetry_loss",
]

#: Tolerance for ``360 / step_degrees`` to count as an integer (floating input such as 3.6).
_ORDER_TOL = 1e-9


# ----------------------------------------------------------------------------------------------
# Data: orbits of a finite rotation group
# ----------------------------------------------------------------------------------------------
def group_order(step_degrees: float) -> int:
    """``m = 360 / step_degrees``, which must be an integer (the subgroup ``C_m`` of SO(2))."""
    owner = "group_order"
    check_in_range(step_degrees, "step_degrees", owner, low=0.0, high=360.0, low_inclusive=False)
    m = 360.0 / step_degrees
    if abs(m - round(m)) > _ORDER_TOL * max(1.0, m):
        raise ParameterError("step_degrees", owner, "a divisor of 360 (360 / step is an integer)", step_degrees)
    return round(m)


def rotation_matrices(step_degrees: float, *, dtype: torch.dtype = torch.float64) -> Tensor:
    """The ``m`` rotation matrices ``R^k`` (``k = 0..m-1``) of ``C_m``: ``(m, 2, 2)``."""
    m = group_order(step_degrees)
    angle = torch.arange(m, dtype=torch.float64) * (2 * math.pi / m)
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2).to(dtype)


def rotate_points(x: Tensor, k: int | Tensor, *, step_degrees: float) -> Tensor:
    """Rotate 2-D points by ``k * step_degrees``: ``x (N, 2)``, ``k`` an int or ``(N,)`` ints."""
    owner = "rotate_points"
    check_matrix(x, "x", owner, shape=(None, 2))
    rot = rotation_matrices(step_degrees, dtype=x.dtype).to(x.device)  # (m, 2, 2)
    kk = torch.as_tensor(k, device=x.device).long() % rot.shape[0]
    if kk.ndim == 0:
        return x @ rot[kk].T
    if kk.shape != (x.shape[0],):
        raise ParameterError("k", owner, f"an int or a tensor of shape ({x.shape[0]},)", f"shape {tuple(kk.shape)}")
    return torch.einsum("nij,nj->ni", rot[kk], x)


@dataclass(frozen=True)
class OrbitDataset:
    """Points of ``n_orbits`` full orbits of ``C_m``, shuffled.

    Attributes:
        x: ``(N, 2)`` points, ``N = n_orbits * m``.
        y: ``(N,)`` long orbit labels ``0..n_orbits-1``.
        rotation: ``(N,)`` long: ``x[i] = R^rotation[i] base[y[i]]``.
        base: ``(n_orbits, 2)`` the orbits' base points.
        step_degrees: the rotation step; ``m = 360 / step_degrees``.
    """

    x: Tensor
    y: Tensor
    rotation: Tensor
    base: Tensor
    step_degrees: float

    @property
    def n_orbits(self) -> int:
        """Number of orbits (classes)."""
        return self.base.shape[0]

    @property
    def group_order(self) -> int:
        """``m``, the number of rotations (points per orbit)."""
        return group_order(self.step_degrees)


def make_orbit_dataset(
    n_orbits: int,
    *,
    step_degrees: float = 4.0,
    radii: Sequence[float] | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> OrbitDataset:
    """Full orbits of 2-D points under ``C_m``, labelled by orbit, shuffled.

    Orbit ``c`` is ``{R^k b_c : k = 0..m-1}`` with base point ``b_c = r_c (cos a_c, sin a_c)``: the
    radius ``r_c`` is given (default ``c + 1``: distinct radii make distinct orbits, rotations
    keep the norm), the angle ``a_c`` is drawn uniformly in ``[0, step)`` (one fundamental
    domain). Points are then shuffled with the same generator.

    Args:
        n_orbits: number of orbits = classes.
        step_degrees: the rotation step; must divide 360 (e.g. 3, 3.6, 4).
        radii: ``n_orbits`` distinct positive radii.
        seed: seed (exactly one of ``seed``/``generator``).
        generator: generator.
        dtype: floating dtype of ``x`` (computed in float64).

    Returns:
        :class:`OrbitDataset` with ``N = n_orbits * m`` points.
    """
    owner = "make_orbit_dataset"
    check_in_range(n_orbits, "n_orbits", owner, low=1, kind=int)
    m = group_order(step_degrees)
    gen = make_generator(seed, generator, owner)
    if radii is None:
        r = torch.arange(1, n_orbits + 1, dtype=torch.float64)
    else:
        r = torch.as_tensor(list(radii), dtype=torch.float64)
        if r.shape != (n_orbits,) or not bool((r > 0).all()) or r.unique().numel() != n_orbits:
            raise ParameterError("radii", owner, f"{n_orbits} distinct positive numbers", list(radii))
    start = torch.rand(n_orbits, generator=gen, dtype=torch.float64) * math.radians(step_degrees)
    base = r[:, None] * torch.stack([start.cos(), start.sin()], dim=1)  # (C, 2)
    rot = rotation_matrices(step_degrees)  # (m, 2, 2)
    points = torch.einsum("kij,cj->cki", rot, base).reshape(-1, 2)  # (C * m, 2)
    labels = torch.arange(n_orbits).repeat_interleave(m)
    rotation = torch.arange(m).repeat(n_orbits)
    order = torch.randperm(n_orbits * m, generator=gen)
    return OrbitDataset(
        x=points[order].to(dtype),
        y=labels[order],
        rotation=rotation[order],
        base=base.to(dtype),
        step_degrees=float(step_degrees),
    )


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------
class OrbitClassifier(nn.Module):
    """One hidden FC layer with ReLU, then a linear readout: ``fc2(relu(fc1(x)))``.

    Args:
        n_classes: number of orbits.
        hidden: hidden units (default 90 = ``m`` for the default 4-degree step); with
            ``hidden = m`` the ideal first layer is one orbit ``w_k = R^k w_0``, whose Gramian is
            circulant.
        in_features: input dimension (2 for the challenge).
        seed: seed for the initial weights (exactly one of ``seed``/``generator``).
        generator: generator for the initial weights.

    Shapes:
        ``x``: ``(B, in_features)`` -> logits ``(B, n_classes)``; :meth:`representation`:
        ``(B, hidden)``; :meth:`gramian`: ``(hidden, hidden)``.
    """

    def __init__(
        self,
        n_classes: int,
        *,
        hidden: int = 90,
        in_features: int = 2,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_in_range(n_classes, "n_classes", owner, low=2, kind=int)
        check_in_range(hidden, "hidden", owner, low=1, kind=int)
        self.in_features = check_in_range(in_features, "in_features", owner, low=1, kind=int)
        gen = make_generator(seed, generator, owner)
        self.fc1 = new_layer(nn.Linear, in_features, hidden)
        self.relu = nn.ReLU()
        self.fc2 = new_layer(nn.Linear, hidden, n_classes)
        init_default_(self.fc1, gen)
        init_default_(self.fc2, gen)

    def representation(self, x: Tensor) -> Tensor:
        """Hidden representation ``relu(fc1(x))``: ``(B, hidden)``."""
        check_matrix(x, "x", f"{type(self).__name__}.forward", shape=(None, self.in_features))
        return self.relu(self.fc1(x))

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B, n_classes)``."""
        return self.fc2(self.representation(x))

    def gramian(self) -> Tensor:
        """Gramian of the first-layer weight vectors ``W W^T``: ``(hidden, hidden)``."""
        return gramian(self.fc1.weight)


# ----------------------------------------------------------------------------------------------
# Loss terms
# ----------------------------------------------------------------------------------------------
def gramian(weights: Tensor) -> Tensor:
    """``W W^T`` for weights ``(h, d)`` (one weight vector per row): ``(h, h)``."""
    check_matrix(weights, "weights", "gramian", ndim=2)
    return weights @ weights.T


def covariance(z: Tensor, *, center: bool = True) -> Tensor:
    """Covariance ``(1/N) (z - mean)^T (z - mean)`` of rows ``z (N, d)``: ``(d, d)``.

    Args:
        z: samples as rows (data points, or weight vectors).
        center: subtract the mean (``False``: the second-moment matrix ``z^T z / N``).
    """
    check_matrix(z, "z", "covariance", ndim=2)
    if z.shape[0] < 1:
        raise ParameterError("z", "covariance", "at least one row", "an empty array")
    zc = z - z.mean(dim=0, keepdim=True) if center else z
    return zc.T @ zc / z.shape[0]


def commutator_penalty(a: Tensor, b: Tensor, *, relative: bool = True) -> Tensor:
    """``||A B - B A||_F^2``, divided by ``||A||_F^2 ||B||_F^2`` when ``relative`` (scale-free).

    Zero exactly when ``A`` and ``B`` commute (for symmetric matrices: when they share an
    eigenbasis). ``0`` when either matrix is zero.
    """
    owner = "commutator_penalty"
    check_matrix(a, "a", owner, ndim=2)
    check_matrix(b, "b", owner, shape=tuple(a.shape))
    if a.shape[0] != a.shape[1]:
        raise ParameterError("a", owner, "a square matrix", f"array of shape {tuple(a.shape)}")
    comm = (a @ b - b @ a).square().sum()
    if not relative:
        return comm
    scale = a.square().sum() * b.square().sum()
    return torch.where(scale > 0, comm / torch.where(scale > 0, scale, 1.0), 0.0 * comm)


def sorted_rows_spread(matrix: Tensor, *, temperature: float | None = 1.0, relative: bool = True) -> Tensor:
    """How much the rows' sorted values disagree: ``sum_i ||sort(M_i) - mean_k sort(M_k)||^2``.

    Zero when every row is a permutation of every other (true of circulant matrices).

    Args:
        matrix: ``(h, w)``.
        temperature: soft-sort temperature (:func:`learnability.models.soft_sort`); ``None``
            uses the hard sort (differentiable almost everywhere too, but with jumps in the
            gradient where values cross).
        relative: divide by ``||M||_F^2`` (then the value lies in ``[0, 1]``: a soft sort is a
            convex combination of permutations and never increases norms).

    Returns:
        A scalar tensor.
    """
    check_matrix(matrix, "matrix", "sorted_rows_spread", ndim=2)
    srt = matrix.sort(dim=1).values if temperature is None else soft_sort(matrix, temperature=temperature)
    spread = (srt - srt.mean(dim=0, keepdim=True)).square().sum()
    if not relative:
        return spread
    norm = matrix.square().sum()
    return torch.where(norm > 0, spread / torch.where(norm > 0, norm, 1.0), 0.0 * spread)


def sort_regularizer(matrix: Tensor, *, temperature: float | None = 1.0, relative: bool = True) -> Tensor:
    """Soft-sort regulariser on rows *and* columns: ``spread(M) + spread(M^T)`` (see module doc)."""
    return sorted_rows_spread(matrix, temperature=temperature, relative=relative) + sorted_rows_spread(
        matrix.T, temperature=temperature, relative=relative
    )


@dataclass(frozen=True)
class SymmetryLoss:
    """The challenge's loss and its terms (unweighted), for logging and ablations.

    Attributes:
        total: ``cross_entropy + sort_weight * sort + commutator_weight * commutator``.
        cross_entropy, sort, commutator: scalar tensors (each keeps its graph).
    """

    total: Tensor
    cross_entropy: Tensor
    sort: Tensor
    commutator: Tensor


def symmetry_loss(
    logits: Tensor,
    labels: Tensor,
    first_layer_weights: Tensor,
    data_covariance: Tensor,
    *,
    sort_weight: float = 1.0,
    commutator_weight: float = 1.0,
    temperature: float = 1.0,
    relative: bool = True,
) -> SymmetryLoss:
    """Cross-entropy + soft-sort regulariser on the Gramian + commutator of covariances.

    Args:
        logits: ``(B, C)``.
        labels: ``(B,)`` orbit labels.
        first_layer_weights: ``W (h, d)``; its Gramian ``W W^T`` is regularised and its rows'
            covariance enters the commutator.
        data_covariance: ``(d, d)`` covariance of the inputs (:func:`covariance` of the training
            set or of the batch; see the module docstring for why the choice matters).
        sort_weight: weight of the soft-sort term (0 ablates it; the term is still reported).
        commutator_weight: weight of the commutator term (0 ablates it).
        temperature: soft-sort temperature.
        relative: scale-free versions of both regularisers (see :func:`sorted_rows_spread`,
            :func:`commutator_penalty`).

    Returns:
        :class:`SymmetryLoss`.
    """
    owner = "symmetry_loss"
    check_in_range(sort_weight, "sort_weight", owner, low=0.0)
    check_in_range(commutator_weight, "commutator_weight", owner, low=0.0)
    check_matrix(logits, "logits", owner, ndim=2)
    check_matrix(labels, "labels", owner, ndim=1, shape=(logits.shape[0],))
    check_matrix(first_layer_weights, "first_layer_weights", owner, ndim=2)
    d = first_layer_weights.shape[1]
    check_matrix(data_covariance, "data_covariance", owner, shape=(d, d))
    ce = F.cross_entropy(logits, labels)
    sort_term = sort_regularizer(gramian(first_layer_weights), temperature=temperature, relative=relative)
    comm = commutator_penalty(
        data_covariance.to(first_layer_weights.dtype),
        covariance(first_layer_weights),
        relative=relative,
    )
    total = ce + sort_weight * sort_term + commutator_weight * comm
    return SymmetryLoss(total=total, cross_entropy=ce, sort=sort_term, commutator=comm)


# ----------------------------------------------------------------------------------------------
# How circulant is a matrix
# ----------------------------------------------------------------------------------------------
def circulant_projection(matrix: Tensor) -> Tensor:
    """Nearest circulant matrix in Frobenius norm: average each wrapped diagonal.

    A circulant ``C`` has ``C_ij = c_{(j - i) mod n}``; the orthogonal projection sets
    ``c_k = mean_i M_{i, (i + k) mod n}``.

    Args:
        matrix: ``(n, n)``.

    Returns:
        ``(n, n)``.
    """
    check_matrix(matrix, "matrix", "circulant_projection", ndim=2)
    n = matrix.shape[0]
    if matrix.shape[1] != n:
        raise ParameterError(
            "matrix",
            "circulant_projection",
            "a square matrix",
            f"array of shape {tuple(matrix.shape)}",
        )
    i = torch.arange(n, device=matrix.device)
    offset = (i[None, :] - i[:, None]) % n  # (n, n): k = (j - i) mod n
    c = (
        torch.zeros(n, dtype=matrix.dtype, device=matrix.device).scatter_add(0, offset.reshape(-1), matrix.reshape(-1))
        / n
    )
    return c[offset]


def circulant_distance(matrix: Tensor, *, order: Tensor | None = None) -> Tensor:
    """Relative distance to the circulant matrices: ``||M - Pi(M)||_F / ||M||_F``.

    Args:
        matrix: ``(n, n)``.
        order: optional ``(n,)`` permutation applied to rows and columns together first
            (``M[order][:, order]``): the units of a layer have no natural order, so a Gramian is
            "circulant" only up to such a reordering; for 2-D weight vectors use
            :func:`angle_order`. (Minimising over all ``n!`` orders is not attempted.)

    Returns:
        A scalar tensor in ``[0, 1]``: 0 exactly for circulant matrices (and the zero matrix).
    """
    owner = "circulant_distance"
    check_matrix(matrix, "matrix", owner, ndim=2)
    if order is not None:
        n = matrix.shape[0]
        o = torch.as_tensor(order, device=matrix.device).long()
        if o.shape != (n,) or not bool((o.sort().values == torch.arange(n, device=o.device)).all()):
            raise ParameterError("order", owner, f"a permutation of range({n})", order)
        matrix = matrix[o][:, o]
    resid = torch.linalg.matrix_norm(matrix - circulant_projection(matrix))
    norm = torch.linalg.matrix_norm(matrix)
    return torch.where(norm > 0, resid / torch.where(norm > 0, norm, 1.0), 0.0 * resid)


def angle_order(weights: Tensor) -> Tensor:
    """Order 2-D weight vectors ``(h, 2)`` by their angle ``atan2(w_2, w_1)``: ``(h,)`` long."""
    check_matrix(weights, "weights", "angle_order", shape=(None, 2))
    return torch.atan2(weights[:, 1], weights[:, 0]).argsort()
