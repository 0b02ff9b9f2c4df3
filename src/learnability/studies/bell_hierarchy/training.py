"""Training every target in one ensemble: tensors on the device, the members, the rate search.

Member ``k`` of an ensemble is a :class:`Member`: it learns target ``target`` (see
:class:`~learnability.studies.bell_hierarchy.parts.SharedInputSource`) under its own schedule
(:func:`~learnability.engine.per_member_schedule`) at its own rate, so B6, the control, every
scramble, both schedules and several rates share one ensemble (one Python step for K members).
Every evaluation logs, per member, ``<set>_loss`` (training units) and ``<set>_rel`` (MSE /
variance of that set's targets) for a fixed training subset and (final members) ``test_mse``,
``test_rel`` for the test set.

The rate search is successive halving (Jamieson & Talwalkar, AISTATS 2016; Li et al., JMLR 2018)
on *training* error: every (target, schedule) starts with the whole grid; at each epoch of
``halving_epochs`` the rates are ranked by the training-subset error and the best
``ceil(n / halving_eta)`` continue -- a continuation, not a restart: parameters, Adam moments,
data order and the schedule's position carry over, so a surviving member is exactly a run of the
full protocol stopped early (tests check it) -- and after the last rung the best is chosen.

Shapes: ``G`` targets, ``N`` training points, ``M`` test points, ``F`` training-subset points,
``K`` members, ``E`` epochs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from learnability._words import plural
from learnability.engine import (
    Adam,
    EvalSet,
    LRGrid,
    OptState,
    Schedule,
    StackedMLP,
    TrainResult,
    TrainSpec,
    make_schedule,
    mse,
    per_member_schedule,
    train,
)
from learnability.studies import StudyContext
from learnability.studies.bell_hierarchy.config import BellConfig
from learnability.studies.bell_hierarchy.parts import BellDataSets, SharedInputSource
from learnability.studies.bell_hierarchy.results import BellResults

__all__ = [
    "Checkpoint",
    "Halving",
    "Member",
    "Prepared",
    "predict_original",
    "prepare",
    "tail_mean",
    "train_members",
    "tune_learning_rates",
]

# Tags of the metrics: the halving rungs (``sweep/rung<r>``) and the final seeds.
SWEEP_TAG = "sweep"
FINAL_TAG = "final"
# A continued (resumed) member starts with a batch loss ~1e-5 of its initial one that swings over
# decades between batches: the engine's "100x its first loss" divergence rule would freeze healthy
# members, so a continuation flags only non-finite losses and absurd blow-ups.
RESUMED_DIVERGENCE_FACTOR = 1e12
# A member whose training-subset error is not clearly below the mean predictor's (relative MSE 1)
# has collapsed: it is ranked last.
COLLAPSED_REL = 0.95


@dataclass
class Prepared:
    """Training-unit tensors on the device, per target ``g``.

    ``y_*_units[g]`` = ``(y - mu[g]) / sd[g]`` as ``(N, 1)`` float32; ``x_fit`` the fixed
    training subset of the sweep's score.
    """

    x_train: Tensor
    x_test: Tensor
    x_fit: Tensor
    y_train_units: Tensor  # (G, N, 1)
    y_test_units: Tensor  # (G, M, 1)
    y_fit_units: Tensor  # (G, F, 1)
    mu: Tensor  # (G,) float64
    sd: Tensor  # (G,) float64
    var_test: Tensor  # (G,) float64, population variance of the test targets
    var_fit: Tensor  # (G,) float64, of the training subset


def prepare(data: BellDataSets, cfg: BellConfig, device: torch.device, fit_seed: int) -> Prepared:
    """Scale the float64 targets to training units (the identity unless
    ``data.standardize_targets``), draw the training subset with ``fit_seed``, move to ``device``."""
    x_train, x_test, y_train, y_test = data.x_train, data.x_test, data.y_train, data.y_test
    G, N = y_train.shape
    if cfg.data.standardize_targets:
        mu, sd = y_train.mean(1), y_train.std(1, correction=0)
    else:
        mu, sd = torch.zeros(G, dtype=torch.float64), torch.ones(G, dtype=torch.float64)
    n_fit = min(cfg.train.n_train_eval, N)
    fit_idx = torch.randperm(N, generator=torch.Generator().manual_seed(fit_seed))[:n_fit]

    def units(y: Tensor) -> Tensor:  # (G, N) float64 -> (G, N, 1) float32
        return ((y - mu[:, None]) / sd[:, None]).to(torch.float32).unsqueeze(-1).to(device)

    return Prepared(
        x_train=x_train.to(device),
        x_test=x_test.to(device),
        x_fit=x_train[fit_idx].to(device),
        y_train_units=units(y_train),
        y_test_units=units(y_test),
        y_fit_units=units(y_train[:, fit_idx]),
        mu=mu,
        sd=sd,
        var_test=y_test.var(1, correction=0),
        var_fit=y_train[:, fit_idx].var(1, correction=0),
    )


@dataclass(frozen=True)
class Member:
    """One ensemble member's recipe: target index, schedule name, base learning rate."""

    target: int
    schedule: str
    lr: float


def schedule_of(name: str, cfg: BellConfig) -> Schedule:
    """The engine schedule of ``name`` ("constant" or "cosine" to ``lr_final_fraction``)."""
    return make_schedule(name, final=cfg.train.lr_final_fraction)


@dataclass(frozen=True)
class _Shifted:
    """``schedule`` seen from step ``offset`` of a run of ``total`` steps: a continued member
    keeps the position on its schedule (the engine counts steps from 0 in each call)."""

    schedule: Schedule
    offset: int
    total: int

    def __call__(self, step: int, total: int) -> float | Tensor:
        return self.schedule(step + self.offset, self.total)


class _OffsetSink:
    """Forwards records to ``sink`` with their steps shifted by ``offset`` (a continuation logs
    the steps of the whole run, not of its own call)."""

    def __init__(self, sink: Any, offset: int) -> None:
        self.sink, self.offset = sink, offset

    def log(self, series: str, *, step: int | None = None, tag: str | None = None, value: object = None) -> None:
        self.sink.log(series, step=None if step is None else step + self.offset, tag=tag, value=value)

    def log_block(
        self, series: str, steps: Sequence[int] | np.ndarray, values: np.ndarray, *, tag: str | None = None
    ) -> None:
        self.sink.log_block(series, np.asarray(steps) + self.offset, values, tag=tag)


class _StatefulAdam(Adam):
    """The engine's Adam, starting from ``start`` (a continuation) and keeping its state in
    ``self.state`` after training (``train`` updates it in place). Same update, same compiled step."""

    def __init__(self, start: OptState | None = None) -> None:
        super().__init__()
        self.start = start
        self.state: OptState | None = None

    def init(self, params: list[Tensor]) -> OptState:
        self.state = self.start if self.start is not None else super().init(params)
        return self.state


@dataclass
class Checkpoint:
    """Where an ensemble stopped: parameters, Adam state, the step reached (for a continuation)."""

    params: list[Tensor]
    state: OptState
    step: int

    def select(self, members: Sequence[int]) -> Checkpoint:
        """The members ``members`` only (they are independent: nothing mixes members)."""
        idx = torch.as_tensor(list(members), dtype=torch.long, device=self.params[0].device)
        return Checkpoint(
            [p.index_select(0, idx) for p in self.params],
            OptState(
                {k: [b.index_select(0, idx) for b in bufs] for k, bufs in self.state.buffers.items()},
                self.state.step.clone(),
            ),
            self.step,
        )


def _eval_sets(p: Prepared, groups: Sequence[int], *, test: bool) -> dict[str, EvalSet]:
    """Training subset (and test set), each member against its own target: ``y`` is ``(K, N, 1)``."""
    g = torch.as_tensor(list(groups), dtype=torch.long)
    device = p.x_train.device
    scale2 = (p.sd[g] ** 2).to(torch.float32).to(device)  # (K,) training units -> original
    rel_test = (p.sd[g] ** 2 / p.var_test[g]).to(torch.float32).to(device)
    rel_fit = (p.sd[g] ** 2 / p.var_fit[g]).to(torch.float32).to(device)
    g = g.to(device)
    sets = {"train_eval": EvalSet(p.x_fit, p.y_fit_units[g], metrics={"rel": lambda out, y: mse(out, y) * rel_fit})}
    if test:
        sets["test"] = EvalSet(
            p.x_test,
            p.y_test_units[g],
            metrics={"mse": lambda out, y: mse(out, y) * scale2, "rel": lambda out, y: mse(out, y) * rel_test},
        )
    return sets


def train_members(
    model: StackedMLP,
    p: Prepared,
    cfg: BellConfig,
    ctx: StudyContext,
    *,
    members: Sequence[Member],
    init_seeds: Sequence[int],
    data_seeds: Sequence[int],
    tag: str,
    start: Checkpoint | None = None,
    end_epoch: int | None = None,
    test: bool = True,
) -> tuple[TrainResult, Checkpoint]:
    """Train one ensemble of ``members`` from scratch (or continue ``start``) up to ``end_epoch``.

    The schedule always spans the full ``epochs`` (a member stopped at epoch ``e`` and continued
    is the same run as one never stopped). One evaluation per epoch (and at the call's first
    step); metrics go to the run folder under ``tag`` with the run's absolute steps.

    Returns:
        The engine's result of this call and the checkpoint where it stopped.
    """
    t = cfg.train
    groups = [m.target for m in members]
    begin = start.step if start is not None else 0
    source = SharedInputSource(p.x_train, p.y_train_units, groups, batch_size=t.batch_size, start_step=begin)
    spe = source.steps_per_epoch
    total = t.epochs * spe
    end = (t.epochs if end_epoch is None else end_epoch) * spe
    schedule = _Shifted(per_member_schedule([schedule_of(m.schedule, cfg) for m in members]), begin, total)
    spec = TrainSpec(
        max_steps=end - begin,
        eval_every=spe,
        block=min(t.log_every, spe),
        compile=t.compile,
        schedule=schedule,
        log_every=t.log_every,
        **({} if start is None else {"divergence_factor": RESUMED_DIVERGENCE_FACTOR}),
    )
    params = model.init(list(init_seeds), device=p.x_train.device) if start is None else start.params
    optimizer = _StatefulAdam(None if start is None else start.state)
    res = train(
        model,
        params,
        loss=mse,
        optimizer=optimizer,
        lr=np.asarray([m.lr for m in members], dtype=np.float64),
        data=source,
        seeds=list(data_seeds),
        spec=spec,
        eval_sets=_eval_sets(p, groups, test=test),
        sink=ctx.writer if begin == 0 else _OffsetSink(ctx.writer, begin),
        tag=tag,
        progress=ctx.progress,
    )
    assert optimizer.state is not None
    return res, Checkpoint(res.params, optimizer.state, begin + res.steps)


def tail_mean(values: np.ndarray, tail: int) -> np.ndarray:
    """Mean over the last ``tail`` epoch evaluations of ``values (E + 1, K)`` (row 0, at step 0,
    excluded): ``(K,)``."""
    epochs = values[1:]
    return epochs[-min(tail, len(epochs)) :].mean(axis=0)


# --------------------------------------------------------------------------------------------
# Successive halving
# --------------------------------------------------------------------------------------------


@dataclass
class Halving:
    """The rate search: every (schedule, target, rate) member, its scores, who survived.

    Attributes:
        members: the grid's members, schedule-major then target then rate.
        rates: the grid.
        curves: ``(E + 1, len(members))`` relative training-subset error at each epoch (NaN after a
            member was dropped).
        scores: ``(rungs, len(members))`` score at each rung (NaN where not trained).
        chosen: ``(schedule, target) -> rate``.
        model_steps: model-steps spent.
    """

    members: list[Member]
    rates: np.ndarray
    curves: np.ndarray
    scores: np.ndarray
    rung_epochs: list[int]
    chosen: dict[tuple[str, int], float] = field(default_factory=dict)
    collapsed: dict[tuple[str, int], bool] = field(default_factory=dict)
    model_steps: int = 0

    def at_edge(self, schedule: str, target: int) -> bool:
        """The chosen rate is the lowest or highest of the grid."""
        lr = self.chosen[(schedule, target)]
        return bool(np.isclose(lr, self.rates[0]) or np.isclose(lr, self.rates[-1]))

    def table(self, names: Sequence[str]) -> pd.DataFrame:
        """One row per member: schedule, target, rate, the score at each rung, survived rungs, chosen."""
        rows = []
        for k, m in enumerate(self.members):
            rows.append(
                {
                    "schedule": m.schedule,
                    "target": names[m.target],
                    "lr": m.lr,
                    **{f"score_epoch{e}": float(self.scores[r, k]) for r, e in enumerate(self.rung_epochs)},
                    "rungs": int(np.sum(~np.isnan(self.scores[:, k]))),
                    "chosen": bool(np.isclose(self.chosen[(m.schedule, m.target)], m.lr)),
                }
            )
        return pd.DataFrame(rows)


def rung_score(curves: np.ndarray, end_epoch: int, length: int, tail: int) -> np.ndarray:
    """Score of each member at a rung ending at ``end_epoch``: the mean relative training-subset
    error over the last ``min(tail, length)`` epochs (``curves (E + 1, K)``, row ``e`` after epoch
    ``e``); NaN or collapsed (>= ``COLLAPSED_REL``) members score ``inf``."""
    window = curves[end_epoch - min(tail, length) + 1 : end_epoch + 1]  # (w, K)
    with np.errstate(invalid="ignore"):
        score = window.mean(axis=0)
    return np.where(np.isfinite(score) & (score < COLLAPSED_REL), score, np.inf)


def survivors(scores: np.ndarray, keys: Sequence[Any], keep: int | None) -> list[int]:
    """Indices (into ``scores``) kept per key (a (schedule, target) pair): the best
    ``ceil(n / keep)`` of its ``n`` members, or the single best when ``keep`` is None; ties go to
    the lower index (the lower rate)."""
    out = []
    for key in dict.fromkeys(keys):
        idx = [i for i, k in enumerate(keys) if k == key]
        n_keep = 1 if keep is None else math.ceil(len(idx) / keep)
        order = sorted(idx, key=lambda i: (scores[i], i))
        out += sorted(order[:n_keep])
    return sorted(out)


def tune_learning_rates(
    model: StackedMLP, prep: Prepared, cfg: BellConfig, ctx: StudyContext, names: Sequence[str]
) -> Halving:
    """Successive halving for every (schedule, target) at once, all members in one ensemble per
    rung (see the module docstring). Every member starts from the same initialisation and data
    order. Saves the halving table and the per-epoch training-subset curves."""
    t = cfg.train
    rates = LRGrid(t.lr_low, t.lr_high, num=t.lr_points).rates
    members = [Member(g, s, float(lr)) for s in t.schedules for g in range(len(names)) for lr in rates]
    init, order = ctx.seed("sweep", "init"), ctx.seed("sweep", "data")
    E, R = t.epochs, len(t.halving_epochs)
    hv = Halving(
        members, rates, np.full((E + 1, len(members)), np.nan), np.full((R, len(members)), np.nan), t.halving_epochs
    )
    alive = list(range(len(members)))
    ck: Checkpoint | None = None
    begin = 0
    for r, end in enumerate(t.halving_epochs):
        sub = [members[i] for i in alive]
        ctx.progress.phase(f"sweep rung {r + 1}/{R}: {plural(len(sub), 'run')} to epoch {end}")
        res, ck = train_members(
            model,
            prep,
            cfg,
            ctx,
            members=sub,
            init_seeds=[init] * len(sub),
            data_seeds=[order] * len(sub),
            tag=f"{SWEEP_TAG}/rung{r}",
            start=ck,
            end_epoch=end,
            test=False,
        )
        hv.model_steps += res.steps * len(sub)
        ev = res.evals["train_eval_rel"]
        epochs = (ev.steps // (prep.x_train.shape[0] // t.batch_size)) + begin
        values = ev.values.astype(np.float64)
        values[:, res.diverged] = np.nan
        hv.curves[np.ix_(epochs, alive)] = values
        score = rung_score(hv.curves[:, alive], end, end - begin, t.tail_epochs)
        hv.scores[r, alive] = score
        keys = [(m.schedule, m.target) for m in sub]
        kept = survivors(score, keys, None if r == R - 1 else t.halving_eta)
        if r == R - 1:
            for i in kept:
                m = sub[i]
                hv.chosen[(m.schedule, m.target)] = m.lr
                hv.collapsed[(m.schedule, m.target)] = not np.isfinite(score[i])
        ck = ck.select(kept)
        alive = [alive[i] for i in kept]
        begin = end
    ctx.writer.save_table(BellResults.LR_SWEEP, hv.table(names))
    ctx.writer.save_arrays(
        BellResults.SWEEP_CURVES,
        train_eval_rel=hv.curves,
        scores=hv.scores,
        rung_epochs=np.asarray(t.halving_epochs),
        lr=np.asarray([m.lr for m in members]),
        target=np.asarray([m.target for m in members]),
        schedule=np.asarray([t.schedules.index(m.schedule) for m in members]),
    )
    return hv


def predict_original(model: StackedMLP, params: list[Tensor], x: Tensor, p: Prepared, groups: Sequence[int]) -> Tensor:
    """Members' predictions in original units, float64: ``(K, N)`` for shared inputs ``(N, n)``."""
    out = model.predict(params, x.to(torch.float32).to(p.x_train.device))[..., 0]  # (K, N)
    g = torch.as_tensor(list(groups), dtype=torch.long)
    return out.cpu().to(torch.float64) * p.sd[g][:, None] + p.mu[g][:, None]
