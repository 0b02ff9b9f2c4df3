"""Training both targets in one ensemble: tensors on the device, the members, the rate sweep.

Member ``k`` of an ensemble learns target ``groups[k]`` (see
:class:`~learnability.studies.bell_hierarchy.parts.SharedInputSource`); both targets train
together, which halves the per-step Python overhead of the engine on a CPU. Every evaluation
logs, per member, ``<set>_loss`` (training units), ``test_mse`` (original units) and
``<set>_rel`` (MSE / variance of that set's targets) for the test set and a fixed training subset.

Shapes: ``G`` targets, ``N`` training points, ``M`` test points, ``F`` training-subset points,
``K`` members, ``E`` epochs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from learnability.engine import (
    Adam,
    EvalHistory,
    EvalSet,
    LRGrid,
    Selection,
    StackedMLP,
    SweepResult,
    TrainResult,
    TrainSpec,
    lr_sweep,
    make_schedule,
    mse,
    round_tag,
    train,
)
from learnability.studies import StudyContext
from learnability.studies.bell_hierarchy.config import BellConfig
from learnability.studies.bell_hierarchy.parts import BellDataSets, SharedInputSource
from learnability.studies.bell_hierarchy.results import BellResults

__all__ = ["Prepared", "TunedRates", "predict_original", "prepare", "tail_mean", "train_members", "tune_learning_rates"]

# Tags of the metrics: the sweep's joint initial grid, its extensions per target, the final seeds.
SWEEP_TAG = "sweep"
FINAL_TAG = "final"
# The seed column of the members table for sweep members (they all share one seed pair).
SWEEP_SEED = -1


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


def _eval_sets(p: Prepared, groups: Sequence[int]) -> dict[str, EvalSet]:
    """Test set and training subset, each member against its own target: ``y`` is ``(K, N, 1)``."""
    g = torch.as_tensor(list(groups), dtype=torch.long)
    device = p.x_train.device
    scale2 = (p.sd[g] ** 2).to(torch.float32).to(device)  # (K,) training units -> original
    rel_test = (p.sd[g] ** 2 / p.var_test[g]).to(torch.float32).to(device)
    rel_fit = (p.sd[g] ** 2 / p.var_fit[g]).to(torch.float32).to(device)
    g = g.to(device)
    return {
        "test": EvalSet(
            p.x_test,
            p.y_test_units[g],
            metrics={"mse": lambda out, y: mse(out, y) * scale2, "rel": lambda out, y: mse(out, y) * rel_test},
        ),
        "train_eval": EvalSet(p.x_fit, p.y_fit_units[g], metrics={"rel": lambda out, y: mse(out, y) * rel_fit}),
    }


def train_members(
    model: StackedMLP,
    p: Prepared,
    cfg: BellConfig,
    ctx: StudyContext,
    *,
    groups: Sequence[int],
    lrs: Sequence[float],
    init_seeds: Sequence[int],
    data_seeds: Sequence[int],
    tag: str,
) -> TrainResult:
    """Train one ensemble; member ``k`` learns target ``groups[k]`` at rate ``lrs[k]``.

    One evaluation per epoch (step 0 included); metrics go to the run folder under ``tag``.
    """
    t = cfg.train
    source = SharedInputSource(p.x_train, p.y_train_units, groups, batch_size=t.batch_size)
    spe = source.steps_per_epoch
    schedule = None if t.lr_schedule == "constant" else make_schedule(t.lr_schedule, final=t.lr_final_fraction)
    spec = TrainSpec(
        max_steps=t.epochs * spe,
        eval_every=spe,
        block=min(t.log_every, spe),
        compile=t.compile,
        schedule=schedule,
        log_every=t.log_every,
    )
    params = model.init(list(init_seeds), device=p.x_train.device)
    return train(
        model,
        params,
        loss=mse,
        optimizer=Adam(),
        lr=np.asarray(lrs, dtype=np.float64),
        data=source,
        seeds=list(data_seeds),
        spec=spec,
        eval_sets=_eval_sets(p, groups),
        sink=ctx.writer,
        tag=tag,
        progress=ctx.progress,
    )


def _select(res: TrainResult, members: Sequence[int]) -> TrainResult:
    """The members ``members`` of an ensemble's result, as if trained alone (they were
    independent: no operation mixes members)."""
    m = np.asarray(members)
    idx = torch.as_tensor(m, dtype=torch.long, device=res.params[0].device)
    return TrainResult(
        params=[q.index_select(0, idx) for q in res.params],
        lr=res.lr[m],
        seeds=res.seeds[m],
        steps=res.steps,
        train_loss=res.train_loss[:, m],
        evals={k: EvalHistory(h.steps, h.values[:, m]) for k, h in res.evals.items()},
        diverged_step=res.diverged_step[m],
        converged_step=res.converged_step[m],
        wall_seconds=res.wall_seconds,
    )


def tail_mean(values: np.ndarray, tail: int) -> np.ndarray:
    """Mean over the last ``tail`` epoch evaluations of ``values (E + 1, K)`` (row 0, at step 0,
    excluded): ``(K,)``."""
    epochs = values[1:]
    return epochs[-min(tail, len(epochs)) :].mean(axis=0)


def _sweep_score(res: TrainResult, tail: int) -> np.ndarray:
    """Training error of each rate: the training-subset MSE averaged over the last epochs."""
    score = tail_mean(res.evals["train_eval_loss"].values.astype(np.float64), tail)
    return np.where(res.diverged, np.nan, score)


@dataclass
class TunedRates:
    """The learning-rate sweeps: one per target, the members trained, the model-steps spent."""

    sweeps: list[SweepResult]
    member_rows: list[dict[str, Any]]  # rows of the members table
    model_steps: int

    @property
    def chosen(self) -> list[float]:
        return [sw.chosen_lr for sw in self.sweeps]


def tune_learning_rates(
    model: StackedMLP, prep: Prepared, cfg: BellConfig, ctx: StudyContext, names: Sequence[str]
) -> TunedRates:
    """One ``lr_sweep`` per target; the initial grids of both targets train as one ensemble.

    Every rate starts from the same initialisation and data order. ``lr_sweep`` asks for round 0
    (the initial grid) first: it gets that target's members of the joint ensemble; grid extensions
    (a best rate on an edge) train the new rates of that target alone, tagged
    ``sweep/<target>/ext<round>``. Saves the sweep table and the per-epoch curves of every rate.
    """
    grid = LRGrid(cfg.train.lr_low, cfg.train.lr_high, num=cfg.train.lr_points, max_extensions=cfg.train.lr_extensions)
    P = len(grid.rates)
    init, order = ctx.seed("sweep", "init"), ctx.seed("sweep", "data")
    joint = train_members(
        model,
        prep,
        cfg,
        ctx,
        groups=[0] * P + [1] * P,
        lrs=np.concatenate([grid.rates, grid.rates]),
        init_seeds=[init] * 2 * P,
        data_seeds=[order] * 2 * P,
        tag=SWEEP_TAG,
    )
    rows = [
        {"tag": SWEEP_TAG, "member": k, "target": names[k // P], "lr": float(joint.lr[k]), "seed": SWEEP_SEED}
        for k in range(2 * P)
    ]
    tuned = TunedRates([], rows, joint.steps * 2 * P)

    def train_fn_of(g: int, name: str) -> Callable[[np.ndarray, int], TrainResult]:
        """``lr_sweep``'s ``train_fn(rates, round_)`` for target ``g``."""

        def train_fn(lrs: np.ndarray, round_: int) -> TrainResult:
            if round_ == 0:  # the initial grid: already trained together with the other target
                return _select(joint, range(g * P, (g + 1) * P))
            n = len(lrs)
            tag = round_tag(f"{SWEEP_TAG}/{name}", round_)
            return train_members(
                model, prep, cfg, ctx, groups=[g] * n, lrs=lrs, init_seeds=[init] * n, data_seeds=[order] * n, tag=tag
            )

        return train_fn

    step_cap = cfg.train.epochs * (prep.x_train.shape[0] // cfg.train.batch_size)
    for g, name in enumerate(names):
        # a member no better than predicting the mean on the scored subset has collapsed
        failure = float(prep.y_fit_units[g, :, 0].double().var(correction=0))
        sw = lr_sweep(
            train_fn_of(g, name),
            grid,
            score=lambda r: _sweep_score(r, cfg.train.tail_epochs),
            selection=Selection("final_loss"),
            failure_loss=failure,
            step_cap=step_cap,
        )
        tuned.sweeps.append(sw)
        for round_, r in enumerate(sw.results[1:], start=1):
            tag = round_tag(f"{SWEEP_TAG}/{name}", round_)
            tuned.member_rows += [
                {"tag": tag, "member": k, "target": name, "lr": float(v), "seed": SWEEP_SEED}
                for k, v in enumerate(r.lr)
            ]
            tuned.model_steps += r.steps * len(r.lr)
    _save_sweeps(tuned.sweeps, cfg, ctx, names)
    return tuned


def _save_sweeps(sweeps: Sequence[SweepResult], cfg: BellConfig, ctx: StudyContext, names: Sequence[str]) -> None:
    """The sweep table (training score and, for the report only, the test error of every rate)
    and each target's per-epoch curves, rates in increasing order."""
    tables = []
    for name, sw in zip(names, sweeps, strict=True):
        lrs = np.concatenate([r.lr for r in sw.results])
        tail = [
            tail_mean(r.evals["train_eval_rel"].values.astype(np.float64), cfg.train.tail_epochs) for r in sw.results
        ]
        info = pd.DataFrame(
            {
                "lr": lrs,
                "train_eval_rel": np.concatenate(tail),
                "test_rel_final": np.concatenate([r.evals["test_rel"].final for r in sw.results]),
            }
        )  # the test error is for the report only: selection never sees it
        table = sw.table.merge(info, on="lr", how="left")
        table.insert(0, "target", name)
        tables.append(table)
        by_lr = np.argsort(lrs)
        ctx.writer.save_arrays(
            BellResults.SWEEP_CURVES.format(target=name),
            lr=lrs[by_lr],
            steps=sw.results[0].evals["train_eval_rel"].steps,
            train_eval_rel=np.concatenate([r.evals["train_eval_rel"].values for r in sw.results], axis=1)[:, by_lr],
            test_rel=np.concatenate([r.evals["test_rel"].values for r in sw.results], axis=1)[:, by_lr],
        )
    ctx.writer.save_table(BellResults.LR_SWEEP, pd.concat(tables, ignore_index=True))


def predict_original(model: StackedMLP, params: list[Tensor], x: Tensor, p: Prepared, groups: Sequence[int]) -> Tensor:
    """Members' predictions in original units, float64: ``(K, N)`` for shared inputs ``(N, n)``."""
    out = model.predict(params, x.to(torch.float32).to(p.x_train.device))[..., 0]  # (K, N)
    g = torch.as_tensor(list(groups), dtype=torch.long)
    return out.cpu().to(torch.float64) * p.sd[g][:, None] + p.mu[g][:, None]
