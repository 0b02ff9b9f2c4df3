"""Study ``symmetry-discovery`` (the older Challenge 2): can a loss make a network discover C_m?

Data: full orbits of 2-D points under the rotation group ``C_m`` (a rotation every
``step_degrees``), labelled by orbit, shuffled (:func:`learnability.models.make_orbit_dataset`).
Model: one hidden fully connected layer with ReLU and a linear readout
(:class:`learnability.models.OrbitClassifier`, ``hidden = m`` units by default). Loss, per member:

    cross-entropy
    + sort_weight       * soft-sort spread of the rows and columns of the Gramian W W^T
    + commutator_weight * || [C_x, C_w] ||_F^2 / (||C_x||_F^2 ||C_w||_F^2)

(:func:`learnability.models.symmetry_loss` documents both regularisers). Which data covariance
``C_x`` enters the commutator is a choice the challenge leaves open, and it matters: on *full*
orbits of ``C_m`` (``m >= 3``) the covariance of the whole data set is a multiple of the identity,
so the commutator with it is identically zero. The default (``covariance="batch"``) uses each
member's mini-batch covariance, which is anisotropic; since a matrix that commutes with every
symmetric 2 x 2 matrix is a multiple of the identity, on average over batches the term pushes the
weights' covariance ``C_w`` towards isotropy (weight vectors spread evenly over the directions,
as an orbit of C_m is). ``covariance="full"`` uses the whole training set's covariance; the report
quotes the value of the term under both.

How the weight-dependent terms go through the one training loop: the engine's loss sees only the
model's outputs, so :class:`RegularisedOrbitEnsemble` (an engine ``Model``) appends the two
regulariser values of each member to its logits, ``(K, B, C + 2)``, and
:class:`SymmetryObjective` weights them with per-member weights. Ablations and the sweep of the
sort weight are therefore members of a single ensemble that share initialisations and data
orders seed by seed (paired comparisons).

Measured per member: the circulant distance of the learned Gramian after ordering the units by
angle (:func:`learnability.models.circulant_distance`), how evenly the weight vectors cover the
circle, the invariance of the representation under the group (the lab's sorted-values test on
the hidden layer, with and without the first layer's biases; the relative change of the logits;
the fraction of unchanged predictions), accuracy on the training orbits and on off-grid points
of the same circles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field, field_validator
from torch import Tensor

from learnability._validation import ParameterError, parameter_message
from learnability.analysis import paired_test
from learnability.config import ConfigSection, StudyConfig
from learnability.engine import (
    Adam,
    EvalSet,
    FixedSource,
    LRGrid,
    ModuleEnsemble,
    Selection,
    TrainResult,
    TrainSpec,
    accuracy,
    cross_entropy,
    lr_sweep,
    train,
)
from learnability.models import (
    OrbitClassifier,
    angle_order,
    circulant_distance,
    commutator_penalty,
    covariance,
    group_order,
    make_orbit_dataset,
    rotate_points,
    rotation_matrices,
    soft_sort,
    sort_regularizer,
)
from learnability.report import (
    Chart,
    Figure,
    Heading,
    Heatmap,
    Line,
    Panel,
    Report,
    Table,
    Text,
    fmt,
)
from learnability.runs import Run
from learnability.studies import Study, StudyContext, register
from learnability.studies._groups_common import estimate, fmt_est

__all__ = [
    "RegularisedOrbitEnsemble",
    "SymmetryDiscoveryConfig",
    "SymmetryObjective",
    "batch_covariance",
    "commutator_penalties",
    "gramian_sort_penalty",
    "member_grid",
]

NAME = "symmetry-discovery"
#: The four ablations of the loss, in the order the report lists them.
ABLATIONS = ("ce_only", "ce_commutator", "ce_sort", "full")
ABLATION_LABELS = {
    "ce_only": "cross-entropy only",
    "ce_commutator": "CE + commutator (no sort term)",
    "ce_sort": "CE + sort term (no commutator)",
    "full": "full loss",
}
#: Number of packed regulariser columns after the logits: sort term, commutator term.
N_PACKED = 2
#: Anisotropy below which the report calls a weight covariance "nearly isotropic".
NEARLY_ISOTROPIC = 0.1
#: Anisotropy below which the data covariance counts as a multiple of the identity (float32 data).
NEARLY_ISOTROPIC_DATA = 1e-4
#: Mini-batches drawn to estimate the expected mini-batch commutator of a trained member.
COMMUTATOR_BATCHES = 64


# ----------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------
class SymmetryTrain(ConfigSection):
    """Optimisation settings shared by every member (Adam, one learning rate chosen by a sweep)."""

    steps: int = Field(1000, ge=1, description="Adam steps per member (~90 epochs of the 720 default points).")
    batch_size: int = Field(64, ge=2, description="Mini-batch size (>= 2: it has a covariance).")
    seeds: int = Field(3, ge=1, description="Seeds per loss configuration (paired across configs).")
    lr_low: float = Field(1e-3, gt=0, description="Lowest rate of the learning-rate sweep.")
    lr_high: float = Field(1e-1, gt=0, description="Highest rate of the learning-rate sweep.")
    lr_num: int = Field(5, ge=2, description="Rates in the sweep (log-spaced).")
    eval_every: int = Field(100, ge=1, description="Steps between logged evaluations.")


class SymmetryDiscoveryConfig(StudyConfig):
    """Discovering the rotation symmetry C_m of 2-D orbit data through a regularised loss.

    Command:  learnability run symmetry-discovery          (smoke: learnability run symmetry-discovery --smoke)
    Runtime:  ~2.5-3 min on the shared 2-core CPU (measured: 124-167 s of training + ~25 s of
              report, one thread, depending on the load; 24 members x 1000 steps plus the rate
              sweep; the soft sort of the 24 90 x 90 Gramians per step dominates); smoke ~5 s.
    Expected: the sort term makes the angle-ordered Gramian circulant (relative distance 0.006
              with the full loss, 0.004 with CE + sort, against 0.77-0.79 without it and 0.57 at
              initialisation; 0.11 -> 0.0013 as its weight goes 0.1 -> 10), the weight vectors
              evenly cover a circle, and the bias-free layer W x permutes under rotations
              (sorted-values error 0.005 vs 0.16); the commutator term changes nothing measurable
              (paired difference 0.003 [-0.009, 0.015]); the hidden layer with its unconstrained
              biases is not invariant (0.2) and every variant classifies perfectly (accuracy 1).
    """

    step_degrees: float = Field(
        4.0,
        gt=0,
        le=120,
        description="Rotation step; 360/step must be an integer (the challenge: every 3-4 degrees).",
    )
    n_orbits: int = Field(8, ge=2, description="Orbits = classes; orbit c has radius c + 1.")
    hidden: int | None = Field(
        None,
        ge=1,
        description="Hidden units; None: the group order m = 360/step (one unit per rotation).",
    )
    n_test_per_orbit: int = Field(
        100,
        ge=1,
        description="Off-grid test points per orbit (uniform random angles on the same circles).",
    )
    sort_weight: float = Field(1.0, gt=0, description="Weight of the soft-sort term in the full loss.")
    commutator_weight: float = Field(1.0, gt=0, description="Weight of the commutator term in the full loss.")
    sort_weights: list[float] = Field(
        default_factory=lambda: [0.0, 0.1, 0.3, 1.0, 3.0, 10.0],
        min_length=1,
        description="Sweep of the sort weight (with the commutator at its full-loss weight).",
    )
    temperature: float = Field(1.0, gt=0, description="Soft-sort regularisation strength (0: hard sort).")
    covariance: Literal["batch", "full"] = Field(
        "batch",
        description="Data covariance in the commutator: each mini-batch's, or the whole training set's "
        "(isotropic: the term is 0).",
    )
    train: SymmetryTrain = Field(default_factory=SymmetryTrain)

    @field_validator("step_degrees")
    @classmethod
    def _divides_360(cls, v: float) -> float:
        try:
            group_order(v)
        except ParameterError:
            raise ValueError(
                parameter_message("step_degrees", NAME, "a divisor of 360 (360 / step_degrees an integer)", v)
            ) from None
        return v

    @field_validator("sort_weights")
    @classmethod
    def _non_negative(cls, v: list[float]) -> list[float]:
        if any(not math.isfinite(w) or w < 0 for w in v):
            raise ValueError(parameter_message("sort_weights", NAME, "a list of finite floats >= 0", v))
        return v


# ----------------------------------------------------------------------------------------------
# Batched loss terms (K members at once) and the engine Model
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


class RegularisedOrbitEnsemble:
    """K :class:`~learnability.models.OrbitClassifier` members whose output also carries the
    regulariser values, so that the engine's loss (a function of outputs) can weight them.

    Output layout: ``(K, B, C + 2)`` — the ``C`` logits of each example, then the member's sort
    term and commutator term (unweighted, relative), repeated on every row because they depend on
    the weights (and, for the commutator, the batch), not on the example.

    Args:
        n_classes: ``C``.
        hidden: hidden units.
        temperature: soft-sort strength.
        covariance: ``"batch"`` — ``C_x`` is the covariance of the inputs of the call (each
            member's mini-batch in training, the evaluation set in :meth:`predict`); ``"full"`` —
            the fixed ``full_covariance``.
        full_covariance: ``(2, 2)`` covariance of the training set (used with ``"full"``).
    """

    def __init__(
        self,
        n_classes: int,
        hidden: int,
        *,
        temperature: float,
        covariance: str,
        full_covariance: Tensor,
    ) -> None:
        self.n_classes, self.hidden = n_classes, hidden
        self.temperature, self.covariance = temperature, covariance
        self.full_covariance = full_covariance
        # Members are re-initialised from their own seeds by ModuleEnsemble.init.
        self.ensemble = ModuleEnsemble(lambda: OrbitClassifier(n_classes, hidden=hidden, seed=0))
        self.weight_index = self.ensemble.names.index("fc1.weight")

    def init(self, seeds: Sequence[int], *, device: torch.device | str = "cpu") -> list[Tensor]:
        """Stacked parameters, one member per seed (PyTorch's default initialisation)."""
        return self.ensemble.init(seeds, device=device)

    def member(self, params: Sequence[Tensor], k: int) -> OrbitClassifier:
        """Member ``k`` as a plain module (a copy, in eval mode)."""
        return self.ensemble.member(params, k).eval()

    def regularisers(self, params: Sequence[Tensor], data_cov: Tensor) -> Tensor:
        """``(K, 2)``: sort term and commutator term of each member; ``data_cov (K, 2, 2)``."""
        w = params[self.weight_index]  # (K, h, 2)
        sort = gramian_sort_penalty(w, temperature=self.temperature)
        comm = commutator_penalties(data_cov.to(w.dtype), batch_covariance(w))
        return torch.stack([sort, comm], dim=-1)

    def _pack(self, logits: Tensor, regs: Tensor) -> Tensor:
        K, B = logits.shape[:2]
        return torch.cat([logits, regs[:, None, :].expand(K, B, N_PACKED)], dim=-1)

    def forward(self, params: Sequence[Tensor], x: Tensor) -> Tensor:
        """``x (K, B, 2)`` one batch per member -> ``(K, B, C + 2)``."""
        logits = self.ensemble.forward(params, x)  # (K, B, C)
        K = x.shape[0]
        cov = batch_covariance(x) if self.covariance == "batch" else self.full_covariance.expand(K, 2, 2)
        return self._pack(logits, self.regularisers(params, cov))

    def predict(self, params: Sequence[Tensor], x: Tensor) -> Tensor:
        """``x (N, 2)`` shared by every member -> ``(K, N, C + 2)``."""
        logits = self.ensemble.predict(params, x)  # (K, N, C)
        K = logits.shape[0]
        cov = covariance(x) if self.covariance == "batch" else self.full_covariance
        return self._pack(logits, self.regularisers(params, cov.expand(K, 2, 2)))


@dataclass(frozen=True)
class SymmetryObjective:
    """The challenge's loss per member: ``CE + sort_weight[k] * sort_k + commutator_weight[k] * comm_k``.

    Args:
        n_classes: ``C`` (the packed columns follow the ``C`` logits).
        sort_weight: ``(K,)`` weights of the sort term (0 ablates it).
        commutator_weight: ``(K,)`` weights of the commutator term (0 ablates it).
    """

    n_classes: int
    sort_weight: Tensor
    commutator_weight: Tensor

    def logits(self, out: Tensor) -> Tensor:
        return out[..., : self.n_classes]

    def sort(self, out: Tensor) -> Tensor:
        return out[:, 0, self.n_classes]

    def commutator(self, out: Tensor) -> Tensor:
        return out[:, 0, self.n_classes + 1]

    def __call__(self, out: Tensor, labels: Tensor) -> Tensor:
        """``out (K, B, C + 2)``, ``labels (K, B)`` or ``(B,)`` -> ``(K,)``."""
        ce = cross_entropy(self.logits(out), labels)
        sw = self.sort_weight.to(out.dtype)
        cw = self.commutator_weight.to(out.dtype)
        return ce + sw * self.sort(out) + cw * self.commutator(out)

    def metrics(self) -> dict:
        """Evaluation metrics (each ``(K,)``): accuracy, cross-entropy and both raw terms."""
        return {
            "accuracy": lambda o, y: accuracy(self.logits(o), y),
            "cross_entropy": lambda o, y: cross_entropy(self.logits(o), y),
            "sort": lambda o, y: self.sort(o),
            "commutator": lambda o, y: self.commutator(o),
        }


def member_grid(cfg: SymmetryDiscoveryConfig) -> pd.DataFrame:
    """The loss configurations trained as one ensemble: the sweep of the sort weight (commutator
    at its full-loss weight) and the ablations; one row per distinct ``(sort, commutator)`` pair.

    Returns:
        Columns ``config, sort_weight, commutator_weight, ablation`` (``ablation`` is one of
        :data:`ABLATIONS` or ``""`` for sweep-only points).
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
                "ablation": ablation,
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# Measurements of a trained member
# ----------------------------------------------------------------------------------------------
def covariance_anisotropy(cov: Tensor) -> float:
    """``(l_max - l_min) / (l_max + l_min)`` of a ``(2, 2)`` covariance: 0 for a multiple of I."""
    ev = torch.linalg.eigvalsh(cov.to(torch.float64))
    return float((ev[-1] - ev[0]) / (ev[-1] + ev[0])) if ev.sum() > 0 else 0.0


def weight_geometry(w: Tensor) -> dict[str, float]:
    """How close weight vectors ``(h, 2)`` are to an orbit of C_h.

    Returns:
        ``circulant_distance`` (angle-ordered Gramian), ``angle_gap_ratio`` (largest gap between
        consecutive angles over ``2 pi / h``: 1 for a regular polygon), ``norm_spread`` (std/mean
        of the norms) and ``anisotropy`` of the weights' covariance (``(l_max - l_min) /
        (l_max + l_min)``: 0 when isotropic).
    """
    w = w.detach().to(torch.float64)
    h = w.shape[0]
    angles = torch.atan2(w[:, 1], w[:, 0]).sort().values
    gaps = torch.diff(torch.cat([angles, angles[:1] + 2 * math.pi]))
    norms = w.norm(dim=1)
    return {
        "circulant_distance": float(circulant_distance(w @ w.T, order=angle_order(w))),
        "angle_gap_ratio": float(gaps.max() / (2 * math.pi / h)),
        "norm_spread": float(norms.std() / norms.mean()) if h > 1 else 0.0,
        "anisotropy": covariance_anisotropy(covariance(w)),
    }


def _pooled_relative(num: Tensor, den: Tensor) -> float:
    """``mean(num) / mean(den)``: a relative error that points with ``f(x) = 0`` cannot make
    infinite (dead units give such points); 0 when both are 0."""
    d = float(den.mean())
    n = float(num.mean())
    return n / d if d > 0 else (0.0 if n == 0 else math.inf)


def representation_invariance(net: OrbitClassifier, x: Tensor, gx: Tensor) -> dict[str, float]:
    """Invariance of a member's representation under the group: ``x`` and ``gx = R^k x`` ``(N, 2)``.

    Relative errors are pooled over the points: ``mean_i ||a_i - b_i|| / mean_i ||b_i||``.

    Returns:
        ``sorted_error_hidden`` — the lab's sorted-values test on ``h = relu(W x + b)``:
        ``sort(h(g x))`` against ``sort(h(x))`` (0 when rotating the input only permutes the
        units); ``sorted_error_linear`` — the same on ``W x`` (biases removed: what the Gramian
        regulariser acts on); ``logit_change`` — the logits of ``g x`` against those of ``x``;
        ``prediction_agreement`` — fraction of points whose predicted orbit is unchanged.
    """
    w = net.fc1.weight.detach()
    with torch.no_grad():
        h, hg = net.representation(x), net.representation(gx)  # (N, hidden)
        lin, ling = x @ w.T, gx @ w.T  # (N, hidden)
        out, outg = net(x), net(gx)  # (N, C)

    def sorted_error(a: Tensor, b: Tensor) -> float:
        diff = (a.sort(dim=1).values - b.sort(dim=1).values).norm(dim=1)
        return _pooled_relative(diff, b.norm(dim=1))

    return {
        "sorted_error_hidden": sorted_error(hg, h),
        "sorted_error_linear": sorted_error(ling, lin),
        "logit_change": _pooled_relative((outg - out).norm(dim=1), out.norm(dim=1)),
        "prediction_agreement": float((out.argmax(1) == outg.argmax(1)).double().mean()),
    }


def ideal_orbit_classifier(n_classes: int, step_degrees: float, *, norm: float, bias: float) -> OrbitClassifier:
    """A hand-built member whose first layer is one orbit ``w_k = R^k w_0`` with equal biases:
    the exact solution the regulariser aims at (calibrates what "zero" reads as)."""
    rot = rotation_matrices(step_degrees, dtype=torch.float32)  # (m, 2, 2)
    w0 = torch.tensor([norm, 0.0])
    net = OrbitClassifier(n_classes, hidden=rot.shape[0], seed=0)
    with torch.no_grad():
        net.fc1.weight.copy_(rot @ w0)  # (m, 2): row k = R^k w0
        net.fc1.bias.fill_(bias)
    return net.eval()


# ----------------------------------------------------------------------------------------------
# Run
# ----------------------------------------------------------------------------------------------
def _off_grid_test(base: Tensor, per_orbit: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Points on each orbit's circle at uniformly random angles (not on the C_m grid)."""
    radii = base.norm(dim=1)  # (C,)
    angle = torch.rand(radii.shape[0], per_orbit, generator=generator, dtype=torch.float64) * 2 * math.pi
    pts = radii[:, None, None].double() * torch.stack([angle.cos(), angle.sin()], dim=-1)  # (C, n, 2)
    labels = torch.arange(radii.shape[0]).repeat_interleave(per_orbit)
    return pts.reshape(-1, 2).to(base.dtype), labels


def run(cfg: SymmetryDiscoveryConfig, ctx: StudyContext) -> dict:
    m = group_order(cfg.step_degrees)
    hidden = cfg.hidden or m
    tc = cfg.train
    data = make_orbit_dataset(cfg.n_orbits, step_degrees=cfg.step_degrees, seed=ctx.seed("data"))
    x, y = data.x.to(ctx.device), data.y.to(ctx.device)
    x_test, y_test = _off_grid_test(data.base, cfg.n_test_per_orbit, torch.Generator().manual_seed(ctx.seed("test")))
    x_test, y_test = x_test.to(ctx.device), y_test.to(ctx.device)
    full_cov = covariance(x)
    model = RegularisedOrbitEnsemble(
        cfg.n_orbits,
        hidden,
        temperature=cfg.temperature,
        covariance=cfg.covariance,
        full_covariance=full_cov,
    )
    window = max(1, min(50, tc.steps // 5))  # final-loss window of the sweep: the last steps
    eval_every = min(tc.eval_every, tc.steps)

    def fit(
        sort_w: Sequence[float],
        comm_w: Sequence[float],
        seeds: Sequence[int],
        lrs: Sequence[float],
        tag: str,
        params: list[Tensor] | None = None,
    ) -> TrainResult:
        objective = SymmetryObjective(
            cfg.n_orbits,
            torch.tensor(sort_w, device=ctx.device),
            torch.tensor(comm_w, device=ctx.device),
        )
        params = model.init(seeds, device=ctx.device) if params is None else params
        metrics = objective.metrics()
        return train(
            model,
            params,
            loss=objective,
            optimizer=Adam(),
            lr=lrs,
            data=FixedSource(x, y, batch_size=min(tc.batch_size, x.shape[0])),
            seeds=seeds,
            spec=TrainSpec(max_steps=tc.steps, eval_every=eval_every, block=min(100, tc.steps)),
            eval_sets={"train": EvalSet(x, y, metrics), "test": EvalSet(x_test, y_test, metrics)},
            sink=ctx.writer,
            tag=tag,
            progress=ctx.progress,
        )

    # 1. Learning rate: one sweep with the full loss, scored on the training objective.
    sweep_seed = ctx.seed("sweep")

    rounds: list[int] = []  # the grid's extensions log under their own tags (no duplicate steps)

    def sweep_fn(lrs: np.ndarray) -> TrainResult:
        k = len(lrs)
        tag = "sweep" + (f"/ext{len(rounds)}" if rounds else "")
        rounds.append(k)
        return fit([cfg.sort_weight] * k, [cfg.commutator_weight] * k, [sweep_seed] * k, lrs, tag)

    sweep = lr_sweep(
        sweep_fn,
        LRGrid(tc.lr_low, tc.lr_high, num=tc.lr_num, max_extensions=1),
        score=lambda r: r.final_train_loss(window),
        selection=Selection("final_loss"),
        step_cap=tc.steps,
    )
    ctx.writer.save_table("lr_sweep", sweep.table)

    # 2. Every loss configuration x seed as one ensemble (same seeds across configurations).
    grid = member_grid(cfg)
    seeds = ctx.seeds(tc.seeds, "members")
    members = pd.DataFrame(
        [{**row, "seed_index": j, "seed": seeds[j]} for row in grid.to_dict("records") for j in range(tc.seeds)]
    )
    member_seeds = members["seed"].tolist()
    params = model.init(member_seeds, device=ctx.device)
    init_weights = params[model.weight_index].detach().clone()
    res = fit(
        members["sort_weight"].tolist(),
        members["commutator_weight"].tolist(),
        member_seeds,
        [sweep.chosen_lr] * len(members),
        "members",
        params=params,
    )

    # 3. Measurements on each trained member (CPU, float32 as trained).
    params_cpu = [p.detach().cpu() for p in res.params]
    xc = data.x
    g = torch.Generator().manual_seed(ctx.seed("invariance"))
    shift = torch.randint(1, m, (xc.shape[0],), generator=g)  # a non-identity rotation per point
    gx = rotate_points(xc, shift, step_degrees=cfg.step_degrees)
    batch_idx = torch.stack(
        [torch.randperm(xc.shape[0], generator=g)[: min(tc.batch_size, xc.shape[0])] for _ in range(COMMUTATOR_BATCHES)]
    )  # (n_batches, B)
    batch_covs = batch_covariance(xc[batch_idx])  # (n_batches, 2, 2)
    rows = []
    for k in range(len(members)):
        net = model.member(params_cpu, k)
        w = net.fc1.weight.detach()
        cw_k = covariance(w)
        init_geo = weight_geometry(init_weights[k].cpu())
        row = {
            **members.iloc[k].to_dict(),
            **weight_geometry(w),
            "init_circulant_distance": init_geo["circulant_distance"],
            "init_anisotropy": init_geo["anisotropy"],
            **representation_invariance(net, xc, gx),
            "train_accuracy": float(res.evals["train_accuracy"].final[k]),
            "test_accuracy": float(res.evals["test_accuracy"].final[k]),
            "sort_term": float(sort_regularizer(w @ w.T, temperature=cfg.temperature)),
            "commutator_full": float(commutator_penalty(full_cov.cpu(), cw_k)),
            "commutator_batch_mean": float(commutator_penalties(batch_covs, cw_k.expand_as(batch_covs)).mean()),
            "bias_std": float(net.fc1.bias.detach().std()),
            "diverged": bool(res.diverged[k]),
        }
        rows.append(row)
    table = pd.DataFrame(rows)
    ctx.writer.save_table("members", table)

    # Example Gramians and weights for the report: seed 0 of each ablation.
    examples = {}
    for a in ABLATIONS:
        k = int(table.index[(table["ablation"] == a) & (table["seed_index"] == 0)][0])
        w = params_cpu[model.weight_index][k]
        order = angle_order(w)
        examples[f"{a}_gram"] = (w @ w.T)[order][:, order]
        examples[f"{a}_weights"] = w
    w0 = init_weights[0].cpu()
    examples["init_gram"] = (w0 @ w0.T)[angle_order(w0)][:, angle_order(w0)]
    ctx.writer.save_arrays("examples", **examples)

    # 4. Calibration: the exact orbit solution, and how soft the soft sort is at this scale.
    full_rows = table[table["ablation"] == "full"]
    ideal = None
    if hidden == m:
        full_k = int(full_rows.index[0])
        net_full = model.member(params_cpu, full_k)
        ideal_net = ideal_orbit_classifier(
            cfg.n_orbits,
            cfg.step_degrees,
            norm=float(net_full.fc1.weight.detach().norm(dim=1).mean()),
            bias=float(net_full.fc1.bias.detach().mean()),
        )
        wi = ideal_net.fc1.weight.detach()
        inv = representation_invariance(ideal_net, xc, gx)
        # Only the first layer is hand-built (the readout is untrained): keep first-layer measures.
        ideal = {
            **weight_geometry(wi),
            "sorted_error_hidden": inv["sorted_error_hidden"],
            "sorted_error_linear": inv["sorted_error_linear"],
        }
    gram0 = w0 @ w0.T
    hard = gram0.sort(dim=1).values
    soft_gap = float((soft_sort(gram0, temperature=cfg.temperature) - hard).abs().max() / hard.abs().max())

    # 5. Summary: estimates over seeds per configuration, paired effects of each term.
    keys = [
        "circulant_distance",
        "angle_gap_ratio",
        "norm_spread",
        "anisotropy",
        "sorted_error_hidden",
        "sorted_error_linear",
        "logit_change",
        "prediction_agreement",
        "train_accuracy",
        "test_accuracy",
        "sort_term",
        "commutator_full",
        "commutator_batch_mean",
        "bias_std",
    ]
    per_config = {}
    # A diverged member is frozen where it blew up: counted in the summary, left out of estimates.
    for cname, sub in table[~table["diverged"]].groupby("config", sort=False):
        sub = sub.sort_values("seed_index")
        per_config[cname] = {
            "sort_weight": float(sub["sort_weight"].iloc[0]),
            "commutator_weight": float(sub["commutator_weight"].iloc[0]),
            "ablation": sub["ablation"].iloc[0],
            **{key: estimate(sub[key].to_numpy()) for key in keys},
        }
    ablation = {a: next(v for v in per_config.values() if v["ablation"] == a) for a in ABLATIONS}

    ok = table[~table["diverged"]]

    def effect(a: str, b: str, key: str) -> dict:
        """Paired difference a - b over the seeds where neither diverged (same initialisation and
        data order)."""
        pair = ok[ok["ablation"].isin([a, b])].pivot(index="seed_index", columns="ablation", values=key).dropna()
        va, vb = pair[a].to_numpy(), pair[b].to_numpy()
        out = estimate(va - vb)
        if len(va) >= 2 and np.any(va != vb):
            out["p_value"] = paired_test(va, vb).t_pvalue
        return out

    effects = {
        f"{term}:{key}": effect(a, b, key)
        for term, (a, b) in {
            "sort": ("full", "ce_commutator"),
            "commutator": ("full", "ce_sort"),
        }.items()
        for key in (
            "circulant_distance",
            "sorted_error_linear",
            "sorted_error_hidden",
            "test_accuracy",
        )
    }
    sweep_rows = table[(table["commutator_weight"] == cfg.commutator_weight) & ~table["diverged"]]
    sweep_summary = [
        {
            "sort_weight": float(s),
            **{
                key: estimate(sub.sort_values("seed_index")[key].to_numpy())
                for key in (
                    "circulant_distance",
                    "sorted_error_linear",
                    "angle_gap_ratio",
                    "test_accuracy",
                )
            },
        }
        for s, sub in sweep_rows.groupby("sort_weight", sort=True)
    ]
    return {
        "group_order": m,
        "hidden": hidden,
        "n_train": int(x.shape[0]),
        "n_test": int(x_test.shape[0]),
        "covariance": cfg.covariance,
        "full_data_covariance": full_cov.cpu().tolist(),
        "full_data_anisotropy": covariance_anisotropy(full_cov.cpu()),
        "temperature": cfg.temperature,
        "soft_vs_hard_sort_gap": soft_gap,
        "chosen_lr": sweep.chosen_lr,
        "lr_at_edge": sweep.at_edge,
        "n_members": len(members),
        "n_diverged": int(table["diverged"].sum()),
        "init_circulant_distance": estimate(table.groupby("seed_index")["init_circulant_distance"].first().to_numpy()),
        "init_anisotropy": estimate(table.groupby("seed_index")["init_anisotropy"].first().to_numpy()),
        "ablation": ablation,
        "effects": effects,
        "sort_weight_sweep": sweep_summary,
        "ideal_orbit": ideal,
        "configs": per_config,
    }


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------
def _ratio_words(a: float, b: float) -> str:
    """ "3.2x lower" / "1.5x higher" / "equal" comparing a to b."""
    if a == b:
        return "equal to"
    if a < b:
        return f"{fmt(b / a) if a > 0 else 'infinitely'}x lower than"
    return f"{fmt(a / b) if b > 0 else 'infinitely'}x higher than"


def _significant(eff: dict) -> bool:
    return eff.get("low") is not None and (eff["low"] > 0 or eff["high"] < 0)


def report(run_: Run) -> Report:
    s = run_.summary
    cfg = run_.config_dict
    ab = s["ablation"]
    full, ce = ab["full"], ab["ce_only"]
    rep = Report(
        "Symmetry discovery: a regularised loss for the rotation group C_m",
        headline={
            "circulant distance (full loss)": fmt_est(full["circulant_distance"]),
            "circulant distance (CE only)": fmt_est(ce["circulant_distance"]),
            "sorted-values error of W x (full / CE only)": f"{fmt(full['sorted_error_linear']['mean'])} / "
            f"{fmt(ce['sorted_error_linear']['mean'])}",
            "off-grid test accuracy (full loss)": fmt_est(full["test_accuracy"]),
        },
    )
    m, h = s["group_order"], s["hidden"]
    cov_words = (
        "each member's mini-batch covariance (anisotropic batch by batch)"
        if s["covariance"] == "batch"
        else "the covariance of the whole training set"
    )
    rep.add(
        Heading("Setup"),
        Text(
            f"{s['n_train']} points: {cfg['n_orbits']} full orbits of C_{m} (a rotation every "
            f"{fmt(cfg['step_degrees'])} degrees), labelled by orbit and shuffled; a one-hidden-layer "
            f"ReLU classifier with {h} hidden units; {s['n_members']} members trained together with Adam at "
            f"the rate {fmt(s['chosen_lr'])} chosen by a sweep on the training objective of the full loss"
            f"{' (at the edge of the grid)' if s['lr_at_edge'] else ''}; {cfg['train']['steps']} steps, "
            f"{cfg['train']['seeds']} seeds per loss configuration, the same initialisation and data order "
            f"for the same seed in every configuration (paired comparisons). "
            f"The off-grid test set has {s['n_test']} points of the same circles at random angles."
        ),
    )
    zero_words = (
        ", so with it the commutator term is identically zero up to rounding"
        if s["full_data_anisotropy"] < NEARLY_ISOTROPIC_DATA
        else ""
    )
    rep.add(
        Text(
            f"**Commutator: which covariance.** The data covariance is {cov_words}. The covariance of "
            f"the full training set has anisotropy {fmt(s['full_data_anisotropy'])} (0 for a multiple of "
            f"the identity){zero_words}: for the full-loss members "
            f"the term evaluates to {fmt_est(full['commutator_full'])} with it, against "
            f"{fmt_est(full['commutator_batch_mean'])} on average over {COMMUTATOR_BATCHES} mini-batches. "
            f"**Soft sort.** At temperature {fmt(s['temperature'])} the soft-sorted rows of the initial "
            f"Gramian differ from the hard-sorted ones by {fmt(s['soft_vs_hard_sort_gap'])} (relative max), "
            "so at this scale the soft sort is "
            f"{'effectively the hard sort' if s['soft_vs_hard_sort_gap'] < 1e-3 else 'a smoothed sort'}."
        )
    )

    # Ablation table.
    rep.add(Heading("Ablation of the loss terms"))
    cols = [
        "loss",
        "circulant dist.",
        "max angle gap / ideal",
        "norm spread",
        "sorted err. W x",
        "sorted err. hidden",
        "logit change",
        "same prediction",
        "train acc.",
        "off-grid test acc.",
    ]
    rows = []
    for a in ("ce_only", "ce_commutator", "ce_sort", "full"):
        v = ab[a]
        rows.append(
            [ABLATION_LABELS[a]]
            + [
                fmt_est(v[k])
                for k in (
                    "circulant_distance",
                    "angle_gap_ratio",
                    "norm_spread",
                    "sorted_error_linear",
                    "sorted_error_hidden",
                    "logit_change",
                    "prediction_agreement",
                    "train_accuracy",
                    "test_accuracy",
                )
            ]
        )
    if s.get("ideal_orbit"):
        io = s["ideal_orbit"]
        rows.append(
            ["(reference) hand-built orbit layer, equal biases"]
            + [
                fmt(io[k])
                for k in (
                    "circulant_distance",
                    "angle_gap_ratio",
                    "norm_spread",
                    "sorted_error_linear",
                    "sorted_error_hidden",
                )
            ]
            + ["—"] * 4
        )
    rows.append(["(reference) initialisation", fmt_est(s["init_circulant_distance"])] + ["—"] * 8)
    rep.add(
        Table(
            cols,
            rows,
            caption="Means over seeds with 95% CIs. Circulant distance: relative "
            "Frobenius distance of the angle-ordered Gramian to the nearest circulant matrix. Sorted "
            "error: the lab's test, distance between the sorted activations of x and of a rotated "
            "x, averaged over the points and divided by the mean norm of the activations (0 when "
            "the rotation only permutes the units).",
        )
    )

    eff = s["effects"]
    se = eff["sort:circulant_distance"]
    ce_eff = eff["commutator:circulant_distance"]
    txt = (
        f"Adding the sort term to cross-entropy + commutator changes the circulant distance by "
        f"{fmt_est(se)} (paired over seeds; "
        f"{'an interval excluding 0' if _significant(se) else 'an interval including 0'}): "
        f"{fmt(full['circulant_distance']['mean'])} with it, "
        f"{_ratio_words(full['circulant_distance']['mean'], ab['ce_commutator']['circulant_distance']['mean'])} "
        f"{fmt(ab['ce_commutator']['circulant_distance']['mean'])} without it, and "
        f"{fmt(s['init_circulant_distance']['mean'])} at initialisation. "
        f"Adding the commutator term to cross-entropy + sort changes it by {fmt_est(ce_eff)} "
        f"({'an interval excluding 0' if _significant(ce_eff) else 'an interval including 0'}). "
    )
    txt += (
        f"The mini-batch commutator pushes the weights' covariance towards isotropy; its anisotropy "
        f"((l_max - l_min) / (l_max + l_min)) is "
        f"{fmt_est(s['init_anisotropy'])} at initialisation, {fmt_est(ab['ce_only']['anisotropy'])} after "
        f"training with cross-entropy only, {fmt_est(ab['ce_commutator']['anisotropy'])} with CE + commutator "
        f"and {fmt_est(full['anisotropy'])} with the full loss"
        + (
            ", so cross-entropy alone already leaves it nearly isotropic."
            if ab["ce_only"]["anisotropy"]["mean"] < NEARLY_ISOTROPIC
            else "."
        )
    )
    rep.add(Text(txt))
    lin_f, lin_c = full["sorted_error_linear"]["mean"], ce["sorted_error_linear"]["mean"]
    rep.add(
        Text(
            f"**Invariance of the representation.** Rotating the input by a group element permutes the "
            f"bias-free responses W x of the full-loss members up to a sorted-values error of "
            f"{fmt_est(full['sorted_error_linear'])}, {_ratio_words(lin_f, lin_c)} with cross-entropy only "
            f"({fmt_est(ce['sorted_error_linear'])}). The hidden layer relu(W x + b) reaches "
            f"{fmt_est(full['sorted_error_hidden'])}: no term constrains the biases (their standard deviation "
            f"is {fmt_est(full['bias_std'])}), and a unit's response is permuted to another unit's only "
            f"if their biases match. "
            + (
                f"The hand-built orbit layer with equal biases scores {fmt(s['ideal_orbit']['sorted_error_hidden'])} "
                f"on the same test, which is what exact equivariance reads as in float32. "
                if s.get("ideal_orbit")
                else ""
            )
            + f"The logits change by {fmt_est(full['logit_change'])} (relative) under rotations and "
            f"{fmt(100 * full['prediction_agreement']['mean'])}% of the predictions are unchanged "
            f"(cross-entropy only: {fmt_est(ce['logit_change'])}, {fmt(100 * ce['prediction_agreement']['mean'])}%). "
            f"Off-grid test accuracy: {fmt_est(full['test_accuracy'])} with the full loss, "
            f"{fmt_est(ce['test_accuracy'])} with cross-entropy only."
        )
    )

    # Sweep.
    sw = s["sort_weight_sweep"]
    rep.add(Heading("Sweep of the sort weight"))
    best = min(sw, key=lambda r: r["circulant_distance"]["mean"])
    rep.add(
        Text(
            f"With the commutator at weight {fmt(cfg['commutator_weight'])}, the circulant distance goes from "
            f"{fmt_est(sw[0]['circulant_distance'])} at sort weight {fmt(sw[0]['sort_weight'])} to "
            f"{fmt_est(sw[-1]['circulant_distance'])} at {fmt(sw[-1]['sort_weight'])}; the lowest mean, "
            f"{fmt(best['circulant_distance']['mean'])}, is at weight {fmt(best['sort_weight'])}, where the "
            f"off-grid test accuracy is {fmt_est(best['test_accuracy'])} (at weight {fmt(sw[0]['sort_weight'])}: "
            f"{fmt_est(sw[0]['test_accuracy'])})."
        )
    )
    rep.add(
        Table(
            [
                "sort weight",
                "circulant dist.",
                "sorted err. W x",
                "max angle gap / ideal",
                "off-grid test acc.",
            ],
            [
                [
                    fmt(r["sort_weight"]),
                    fmt_est(r["circulant_distance"]),
                    fmt_est(r["sorted_error_linear"]),
                    fmt_est(r["angle_gap_ratio"]),
                    fmt_est(r["test_accuracy"]),
                ]
                for r in sw
            ],
        )
    )
    # Positive weights on a log axis; weight 0 and the initialisation as reference lines.
    pos = [r for r in sw if r["sort_weight"] > 0]
    zero = next((r for r in sw if r["sort_weight"] == 0), None)
    if pos:
        panels = []
        for key, title, ylabel in (
            ("circulant_distance", "Gramian vs circulant", "relative distance"),
            ("sorted_error_linear", "equivariance of W x", "sorted-values error"),
        ):
            means = np.array([r[key]["mean"] for r in pos])
            floor = 0.1 * float(means[means > 0].min()) if (means > 0).any() else 1e-12
            lo = [max(r[key]["low"] if r[key]["low"] is not None else r[key]["mean"], floor) for r in pos]
            hi = [max(r[key]["high"] if r[key]["high"] is not None else r[key]["mean"], floor) for r in pos]
            hl = [(zero[key]["mean"], f"sort weight 0: {fmt(zero[key]['mean'])}")] if zero else []
            if key == "circulant_distance":
                init = s["init_circulant_distance"]["mean"]
                hl.append((init, f"initialisation: {fmt(init)}"))
            panels.append(
                Panel(
                    [
                        Line(
                            [r["sort_weight"] for r in pos],
                            np.maximum(means, floor),
                            band=(lo, hi),
                            mode="lines+markers",
                            label="mean over seeds, 95% CI",
                        )
                    ],
                    title=title,
                    xlabel="sort weight",
                    ylabel=ylabel,
                    xscale="log",
                    yscale="log",
                    hlines=hl,
                )
            )
        rep.add(
            Figure(
                Chart(
                    "sort_weight_sweep",
                    panels,
                    caption="Commutator at its full-loss weight. "
                    "Lower CI bounds below a tenth of the smallest mean are clipped there (log axis).",
                )
            )
        )

    # Gramians and weights.
    ex = run_.load_arrays("examples")
    rep.add(Heading("Learned Gramians"))
    rep.add(
        Figure(
            Chart(
                "gramians",
                [
                    Panel(
                        [Heatmap(ex["init_gram"], cmap="RdBu_r", symmetric=True)],
                        title="initialisation",
                    ),
                    Panel(
                        [Heatmap(ex["ce_only_gram"], cmap="RdBu_r", symmetric=True)],
                        title="cross-entropy only",
                    ),
                    Panel([Heatmap(ex["full_gram"], cmap="RdBu_r", symmetric=True)], title="full loss"),
                ],
                caption="Gramians W W^T of the first layer (seed 0), units ordered by the angle of their weight "
                "vector. A circulant matrix is constant along each wrapped diagonal.",
            )
        )
    )
    panels = []
    for a in ("ce_only", "full"):
        w = ex[f"{a}_weights"]
        panels.append(
            Panel(
                [Line(w[:, 0], w[:, 1], mode="markers", label=ABLATION_LABELS[a])],
                title=f"weight vectors: {ABLATION_LABELS[a]}",
                xlabel="w_1",
                ylabel="w_2",
            )
        )
    rep.add(
        Figure(
            Chart(
                "weights",
                panels,
                caption="First-layer weight vectors (seed 0); an orbit of C_m is m points evenly spaced on one circle.",
            )
        )
    )

    # Training curves of the sort term per configuration.
    members = run_.load_table("members")
    df = run_.series("train_sort", "members")
    if not df.empty:
        lines = []
        for cname, sub in members.groupby("config", sort=False):
            idx = sub.index.to_numpy()  # member index = row index of the members table
            d = df[df["member"].isin(idx)]
            curve = d.groupby("step")["value"].median()
            if (curve > 0).all():
                lines.append(Line(curve.index.to_numpy(float), curve.to_numpy(float), label=cname))
        if lines:
            rep.add(
                Figure(
                    Chart(
                        "sort_term_curves",
                        [
                            Panel(
                                lines,
                                title="sort term on the training set",
                                xlabel="step",
                                ylabel="relative spread",
                                yscale="log",
                            )
                        ],
                        caption="Median over seeds of the (unweighted) sort term during training.",
                    )
                )
            )
    return rep


register(
    Study(
        NAME,
        "Challenge 2: discover the rotation group C_m with a soft-sort + commutator loss; ablations.",
        SymmetryDiscoveryConfig,
        run,
        report,
        smoke={
            "step_degrees": 30.0,
            "n_orbits": 3,
            "n_test_per_orbit": 20,
            "sort_weights": [0.0, 1.0],
            "train": {"steps": 60, "batch_size": 16, "seeds": 2, "lr_num": 2, "eval_every": 30},
        },
    )
)
