"""The challenge's loss, batched over K members, and the grid of loss configurations.

Loss of member ``k``::

    cross-entropy(logits)
    + sort_weight[k]       * soft-sort spread of the rows and columns of the Gramian W W^T
    + commutator_weight[k] * || [C_x, C_w] ||_F^2 / (||C_x||_F^2 ||C_w||_F^2)
    + orbit_weight[k]      * mean_R || sort(W R x) - sort(W x) ||^2 / || W x ||^2   (the alternative)

The third term is the challenge's invitation to try "other constraints": orbit consistency.
``R`` is the group's generator *estimated from the data* (:func:`estimate_generator`: the
orthogonal map that best sends each point to its nearest counter-clockwise neighbour on its
orbit) and ``R`` ranges over its powers ``R, R^2, R^4, ...`` (:func:`generator_powers`), and the
term asks the bias-free first layer to respond to ``R x`` with a permutation of
its response to ``x`` — the property a C_m-equivariant layer has, asked for directly instead of
through the Gramian's circulant structure.

The two regularisers depend on the member's first-layer weights ``W`` (and, for the commutator,
on the data covariance ``C_x``), not on its outputs: they enter the one training loop as the
engine's per-member ``penalty(params, x)`` (:class:`SymmetryPenalty`), next to the
cross-entropy of :class:`OrbitEnsemble`'s logits. Ablations and the sweep of the sort weight are
members of a single ensemble with per-member weights, sharing initialisations and data orders
seed by seed (paired comparisons).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch import Tensor

from learnability.engine import ModuleEnsemble, accuracy, cross_entropy
from learnability.models import OrbitClassifier, covariance, soft_sort
from learnability.report import fmt
from learnability.studies.symmetry_discovery.config import SymmetryDiscoveryConfig

__all__ = [
    "ABLATIONS",
    "ABLATION_LABELS",
    "ORBIT_CONFIG",
    "OrbitEnsemble",
    "SymmetryPenalty",
    "batch_covariance",
    "commutator_penalties",
    "estimate_generator",
    "generator_powers",
    "gramian_sort_penalty",
    "member_grid",
    "orbit_consistency_penalties",
]

#: The four ablations of the loss, in the order the report lists them.
ABLATIONS = ("ce_only", "ce_commutator", "ce_sort", "full")
#: The configuration of the alternative regulariser (CE + orbit consistency).
ORBIT_CONFIG = "ce_orbit"
ABLATION_LABELS = {
    "ce_only": "cross-entropy only",
    "ce_commutator": "CE + commutator (no sort term)",
    "ce_sort": "CE + sort term (no commutator)",
    "full": "full loss",
}


# ----------------------------------------------------------------------------------------------
# Batched regularisers (K members at once)
# ----------------------------------------------------------------------------------------------
def batch_covariance(z: Tensor) -> Tensor:
    """Covariance of each member's rows: ``(K, N, d) -> (K, d, d)`` (as :func:`~learnability.models.covariance`)."""
    zc = z - z.mean(dim=1, keepdim=True)
    return zc.transpose(1, 2) @ zc / z.shape[1]


def commutator_penalties(a: Tensor, b: Tensor) -> Tensor:
    """Relative ``||A_k B_k - B_k A_k||^2 / (||A_k||^2 ||B_k||^2)``: ``(K, d, d) x2 -> (K,)``.

    Member by member equal to :func:`learnability.models.commutator_penalty` (``relative=True``).
    """
    comm = (a @ b - b @ a).square().sum(dim=(1, 2))
    scale = a.square().sum(dim=(1, 2)) * b.square().sum(dim=(1, 2))
    return torch.where(scale > 0, comm / torch.where(scale > 0, scale, 1.0), 0.0 * comm)


def gramian_sort_penalty(weights: Tensor, *, temperature: float | None) -> Tensor:
    """Soft-sort regulariser of each member's Gramian ``W_k W_k^T``: ``(K, h, d) -> (K,)``.

    Member by member equal to ``sort_regularizer(W_k W_k^T, temperature=...)`` (relative form):
    the spread of the soft-sorted rows around their mean plus the same for the columns, over
    ``||G||_F^2``. A Gramian is symmetric, so its column term equals its row term; it is computed
    once and doubled, which halves the cost of the soft sort (the study's dominant cost).

    Args:
        weights: ``(K, h, d)`` first-layer weights, one weight vector per row.
        temperature: soft-sort strength; ``None`` for the hard sort.
    """
    gram = weights @ weights.transpose(1, 2)  # (K, h, h)
    srt = gram.sort(dim=-1).values if temperature is None else soft_sort(gram, temperature=temperature)
    spread = (srt - srt.mean(dim=1, keepdim=True)).square().sum(dim=(1, 2))  # rows around their mean
    norm = gram.square().sum(dim=(1, 2))
    return 2.0 * torch.where(norm > 0, spread / torch.where(norm > 0, norm, 1.0), 0.0 * spread)


def estimate_generator(x: Tensor, y: Tensor) -> Tensor:
    """The rotation that best maps each point to its orbit's next point, from the data: ``(2, 2)``.

    Each point is paired with its nearest neighbour among the points of the same label lying
    counter-clockwise of it (positive cross product); the orthogonal Procrustes solution of
    ``min_R sum ||x_next - R x||^2`` (an SVD) is the estimate. On full orbits of C_m it is the
    rotation by ``360 / m`` degrees; nothing about ``m`` is given to it.

    Args:
        x: ``(N, 2)`` points; y: ``(N,)`` orbit labels.
    """
    x = x.double()
    cross = x[:, None, 0] * x[None, :, 1] - x[:, None, 1] * x[None, :, 0]  # (N, N): x_i x x_j
    dist = torch.cdist(x, x)
    ok = (y[:, None] == y[None, :]) & (cross > 0)
    nxt = torch.where(ok, dist, torch.inf).argmin(dim=1)  # (N,)
    u, _, vt = torch.linalg.svd(x[nxt].T @ x)  # cross-covariance of (next, point)
    d = torch.sign(torch.linalg.det(u @ vt))
    return u @ torch.diag(torch.stack([torch.ones_like(d), d])) @ vt  # a proper rotation


def generator_powers(generator: Tensor) -> Tensor:
    """``R^1, R^2, R^4, ...`` below the estimated group order ``round(360 / angle(R))``: ``(P, 2, 2)``.

    A small step (4 degrees) barely moves ``W x`` whatever ``W``; powers of two of the generator
    reach every scale of the group (up to about half a turn) with a handful of rotations.
    """
    angle = float(torch.atan2(generator[1, 0], generator[0, 0]).abs())
    order = max(2, round(2 * torch.pi / angle)) if angle > 0 else 2
    mats, power = [], generator
    for _ in range(max(1, (order - 1).bit_length())):
        mats.append(power)
        power = power @ power
    return torch.stack(mats)


def orbit_consistency_penalties(weights: Tensor, x: Tensor, rotations: Tensor) -> Tensor:
    """Mean over ``rotations`` of ``||sort(W_k R x) - sort(W_k x)||^2 / ||W_k x||^2`` over each
    member's batch: ``(K,)``.

    Args:
        weights: ``(K, h, 2)`` first-layer weights; x: ``(K, B, 2)`` each member's batch (or
            ``(N, 2)`` shared points); rotations: ``(P, 2, 2)`` (or one ``(2, 2)``) rotations ``R``.
    """
    if x.dim() == 2:
        x = x.expand(weights.shape[0], *x.shape)
    rots = rotations.to(x.dtype).reshape(-1, 2, 2)  # (P, 2, 2)
    a = x @ weights.transpose(1, 2)  # (K, B, h): W x, bias-free
    srt_a = a.sort(dim=-1).values
    norm = a.square().sum(dim=(1, 2))
    terms = []
    for r in rots:
        b = (x @ r.T) @ weights.transpose(1, 2)  # (K, B, h): W R x
        diff = (b.sort(dim=-1).values - srt_a).square().sum(dim=(1, 2))
        terms.append(torch.where(norm > 0, diff / torch.where(norm > 0, norm, 1.0), 0.0 * diff))
    return torch.stack(terms).mean(dim=0)


# ----------------------------------------------------------------------------------------------
# The model and the penalty
# ----------------------------------------------------------------------------------------------
class OrbitEnsemble:
    """K :class:`~learnability.models.OrbitClassifier` members (an engine ``Model``: logits
    ``(K, B, C)``) and the three regularisers of their first layers.

    Args:
        n_classes: ``C``.
        hidden: hidden units.
        temperature: soft-sort strength.
        covariance: ``"batch"`` — ``C_x`` is the covariance of the inputs the regularisers are
            given (each member's mini-batch in training, an evaluation set's points in
            evaluations); ``"full"`` — the fixed ``full_covariance``.
        full_covariance: ``(2, 2)`` covariance of the training set (used with ``"full"``).
        generator: ``(2, 2)`` the rotation of the orbit-consistency term (estimated from data).
    """

    def __init__(
        self,
        n_classes: int,
        hidden: int,
        *,
        temperature: float,
        covariance: str,
        full_covariance: Tensor,
        generator: Tensor,
    ) -> None:
        self.n_classes, self.hidden = n_classes, hidden
        self.temperature, self.covariance = temperature, covariance
        self.full_covariance = full_covariance
        self.generator = generator
        self.rotations = generator_powers(generator)  # (P, 2, 2) the term's rotations
        # Members are re-initialised from their own seeds by ModuleEnsemble.init.
        self.ensemble = ModuleEnsemble(lambda: OrbitClassifier(n_classes, hidden=hidden, seed=0))
        self.weight_index = self.ensemble.names.index("fc1.weight")

    def init(self, seeds: Sequence[int], *, device: torch.device | str = "cpu") -> list[Tensor]:
        """Stacked parameters, one member per seed (PyTorch's default initialisation)."""
        return self.ensemble.init(seeds, device=device)

    def member(self, params: Sequence[Tensor], k: int) -> OrbitClassifier:
        """Member ``k`` as a plain module (a copy, in eval mode)."""
        return self.ensemble.member(params, k).eval()

    def forward(self, params: Sequence[Tensor], x: Tensor) -> Tensor:
        """``x (K, B, 2)`` one batch per member -> logits ``(K, B, C)``."""
        return self.ensemble.forward(params, x)

    def predict(self, params: Sequence[Tensor], x: Tensor) -> Tensor:
        """``x (N, 2)`` shared by every member -> logits ``(K, N, C)``."""
        return self.ensemble.predict(params, x)

    def data_covariance(self, x: Tensor, K: int) -> Tensor:
        """``C_x`` of each member, ``(K, 2, 2)``, from its batch ``x (K, B, 2)`` or shared points ``(N, 2)``."""
        if self.covariance == "full":
            return self.full_covariance.expand(K, 2, 2)
        return batch_covariance(x) if x.dim() == 3 else covariance(x).expand(K, 2, 2)

    def regularisers(self, params: Sequence[Tensor], x: Tensor) -> Tensor:
        """``(K, 3)``: the (unweighted, relative) sort, commutator and orbit-consistency terms."""
        w = params[self.weight_index]  # (K, h, 2)
        sort = gramian_sort_penalty(w, temperature=self.temperature)
        comm = commutator_penalties(self.data_covariance(x, w.shape[0]).to(w.dtype), batch_covariance(w))
        orbit = orbit_consistency_penalties(w, x.to(w.dtype), self.rotations.to(w.device))
        return torch.stack([sort, comm, orbit], dim=-1)


@dataclass(frozen=True)
class SymmetryPenalty:
    """The regularisers, weighted per member: ``sort_weight[k] * sort_k + commutator_weight[k] *
    comm_k + orbit_weight[k] * orbit_k`` — the engine's ``penalty(params, x) -> (K,)``.

    Args:
        model: the ensemble (its first layers and covariance mode).
        sort_weight: ``(K,)`` weights of the sort term (0 ablates it).
        commutator_weight: ``(K,)`` weights of the commutator term (0 ablates it).
        orbit_weight: ``(K,)`` weights of the orbit-consistency term (None: 0 for every member).
    """

    model: OrbitEnsemble
    sort_weight: Tensor
    commutator_weight: Tensor
    orbit_weight: Tensor | None = None

    def weighted(self, terms: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``terms (K, 3)`` -> the weighted sort, commutator and orbit terms, each ``(K,)``."""
        sw, cw = self.sort_weight.to(terms.dtype), self.commutator_weight.to(terms.dtype)
        ow = torch.zeros_like(sw) if self.orbit_weight is None else self.orbit_weight.to(terms.dtype)
        return sw * terms[:, 0], cw * terms[:, 1], ow * terms[:, 2]

    def __call__(self, params: Sequence[Tensor], x: Tensor) -> Tensor:
        """``x (K, B, 2)`` each member's batch -> ``(K,)``."""
        sort, comm, orbit = self.weighted(self.model.regularisers(params, x))
        return sort + comm + orbit

    def objective(self, logits: Tensor, labels: Tensor, terms: Tensor) -> Tensor:
        """The whole loss ``CE + sort + commutator + orbit`` per member, ``(K,)``, from precomputed terms."""
        sort, comm, orbit = self.weighted(terms)
        # Summed left to right, as the loss has always been evaluated (the same float rounding).
        return cross_entropy(logits, labels) + sort + comm + orbit

    def metrics(self, params: list[Tensor], x: Tensor) -> dict[str, Callable[[Tensor, Tensor], Tensor]]:
        """Evaluation metrics on the points ``x (N, 2)``, each ``(logits, labels) -> (K,)``.

        ``params`` is the live list that :func:`~learnability.engine.train` updates in place: an
        engine metric sees only the outputs, and the regularisers need the weights. ``"loss"``
        replaces the engine's evaluation loss (the cross-entropy alone) with the whole objective,
        so the logged ``<set>_loss`` stays what this study has always logged.
        """
        memo: dict[str, Tensor] = {}

        def terms(o: Tensor) -> Tensor:
            # One evaluation calls every metric with the same outputs `o` (held here, so a later
            # evaluation's outputs are another object): the regularisers are computed once per set.
            if memo.get("outputs") is not o:
                memo.update(outputs=o, terms=self.model.regularisers(params, x))
            return memo["terms"]

        return {
            "accuracy": lambda o, y: accuracy(o, y),
            "cross_entropy": lambda o, y: cross_entropy(o, y),
            "sort": lambda o, y: terms(o)[:, 0],
            "commutator": lambda o, y: terms(o)[:, 1],
            "orbit": lambda o, y: terms(o)[:, 2],
            "loss": lambda o, y: self.objective(o, y, terms(o)),
        }


def member_grid(cfg: SymmetryDiscoveryConfig) -> pd.DataFrame:
    """The loss configurations trained as one ensemble: the sweep of the sort weight (commutator
    at its full-loss weight) and the ablations; one row per distinct ``(sort, commutator)`` pair.

    With ``cfg.orbit_weight > 0`` one more configuration, ``"ce_orbit"``: cross-entropy plus the
    orbit-consistency term alone, the alternative to the sort term (``"ce_sort"``).

    Returns:
        Columns ``config, sort_weight, commutator_weight, orbit_weight, ablation`` (``ablation``
        is one of :data:`ABLATIONS`, ``"ce_orbit"`` or ``""`` for sweep-only points).
    """
    sw, cw = cfg.sort_weight, cfg.commutator_weight
    wanted = {
        "full": (sw, cw),
        "ce_sort": (sw, 0.0),
        "ce_commutator": (0.0, cw),
        "ce_only": (0.0, 0.0),
    }
    pairs = [(float(s), cw) for s in sorted(set(cfg.sort_weights) | {0.0, sw})]
    pairs += [(sw, 0.0), (0.0, 0.0)]
    rows = []
    for s, c in dict.fromkeys(pairs):
        ablation = next((a for a, p in wanted.items() if p == (s, c)), "")
        rows.append(
            {
                "config": f"sort={fmt(s)}, comm={fmt(c)}",
                "sort_weight": s,
                "commutator_weight": c,
                "orbit_weight": 0.0,
                "ablation": ablation,
            }
        )
    if cfg.orbit_weight > 0:
        rows.append(
            {
                "config": f"orbit={fmt(cfg.orbit_weight)}",
                "sort_weight": 0.0,
                "commutator_weight": 0.0,
                "orbit_weight": cfg.orbit_weight,
                "ablation": ORBIT_CONFIG,
            }
        )
    return pd.DataFrame(rows)
