"""A small but real study used by the core tests: fit y = |x|^2 on [0, 1]^4 with an MLP ensemble.

It exercises the whole stack — config, learning-rate sweep, seeds, metrics, artifacts, report — in
about a second. Run as a script (``python tests/toy_study.py OUT_DIR [key=value ...]``) it registers
itself and runs, which the kill test uses from a subprocess.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from pydantic import Field

from learnability.config import ConfigSection, StudyConfig
from learnability.engine import (
    Adam,
    EvalSet,
    FixedSource,
    LRGrid,
    MLPSpec,
    Selection,
    StackedMLP,
    TrainSpec,
    lr_sweep,
    mse,
    train,
)
from learnability.report import Chart, Figure, Panel, Report, Table, Text, curve_lines, fmt
from learnability.studies import Study, StudyContext, register


class ToyTrain(ConfigSection):
    steps: int = Field(300, ge=1)
    batch_size: int = Field(16, ge=1)
    seeds: int = Field(2, ge=1)


class ToyConfig(StudyConfig):
    """Toy regression (tests only)."""

    n_train: int = Field(512, ge=16)
    hidden: list[int] = Field(default_factory=lambda: [16, 16])
    lr_low: float = Field(1e-3, gt=0)
    lr_high: float = Field(1e-1, gt=0)
    train: ToyTrain = Field(default_factory=ToyTrain)
    pause_per_block: float = Field(0.0, ge=0, description="seconds slept per block (kill test)")


def run(cfg: ToyConfig, ctx: StudyContext) -> dict:
    g = torch.Generator().manual_seed(ctx.seed("data"))
    x = torch.rand(cfg.n_train, 4, generator=g)
    y = x.square().sum(1, keepdim=True)
    xt = torch.rand(256, 4, generator=g)
    yt = xt.square().sum(1, keepdim=True)
    model = StackedMLP(MLPSpec(4, tuple(cfg.hidden)))

    class Slow(FixedSource):
        def next(self):
            if cfg.pause_per_block and self._i % 10 == 0:
                time.sleep(cfg.pause_per_block)
            return super().next()

    def train_fn(lrs: np.ndarray):
        seeds = [ctx.seed("sweep")] * len(lrs)
        return train(
            model,
            model.init(seeds),
            loss=mse,
            optimizer=Adam(),
            lr=lrs,
            data=Slow(x, y, batch_size=cfg.train.batch_size),
            seeds=seeds,
            spec=TrainSpec(max_steps=cfg.train.steps, eval_every=50, block=10),
            eval_sets={"test": EvalSet(xt, yt)},
            sink=ctx.writer,
            tag="sweep",
            progress=ctx.progress,
        )

    sweep = lr_sweep(
        train_fn,
        LRGrid(cfg.lr_low, cfg.lr_high, num=4, max_extensions=1),
        score=lambda r: r.final_train_loss(50),
        selection=Selection("final_loss"),
        step_cap=cfg.train.steps,
    )
    ctx.writer.save_table("sweep", sweep.table)
    seeds = ctx.seeds(cfg.train.seeds, "final")
    res = train(
        model,
        model.init(seeds),
        loss=mse,
        optimizer=Adam(),
        lr=[sweep.chosen_lr] * len(seeds),
        data=Slow(x, y, batch_size=cfg.train.batch_size),
        seeds=seeds,
        spec=TrainSpec(max_steps=cfg.train.steps, eval_every=50, block=10),
        eval_sets={"test": EvalSet(xt, yt)},
        sink=ctx.writer,
        tag="final",
        progress=ctx.progress,
    )
    test = res.evals["test_loss"].final
    return {"lr": sweep.chosen_lr, "test_mse": float(np.mean(test)), "test_mse_members": test.tolist()}


def report(run_) -> Report:
    s = run_.summary
    rep = Report("Toy regression", headline={"test MSE": fmt(s["test_mse"])})
    rep.add(Text(f"The chosen rate {fmt(s['lr'])} reaches a test MSE of {fmt(s['test_mse'])}."))
    rep.add(Table(["member", "test MSE"], [[i, v] for i, v in enumerate(s["test_mse_members"])]))
    df = run_.series("train_loss", "final")
    rep.add(
        Figure(
            Chart(
                "curves",
                [Panel(curve_lines(df, label="final", smooth_window=10), yscale="log", xlabel="step", ylabel="MSE")],
            )
        )
    )
    return rep


TOY = Study(
    "toy-regression", "Toy regression used by the core tests.", ToyConfig, run, report, smoke={"train": {"steps": 100}}
)


def ensure_registered() -> Study:
    return register(TOY)


if __name__ == "__main__":
    from learnability.runner import execute, resolve_config

    ensure_registered()
    out, *assign = sys.argv[1:]
    cfg = resolve_config(TOY, assignments=assign)
    print(execute(TOY, cfg, out=out, progress=False))
