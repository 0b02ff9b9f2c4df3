"""The compiled (fused) step computes what the eager step computes."""

from __future__ import annotations

import numpy as np
import torch

from learnability.engine import Adam, FixedSource, MLPSpec, StackedMLP, TrainSpec, mse, train


def test_compiled_equals_eager() -> None:
    model = StackedMLP(MLPSpec(3, (16, 16), residual=True))
    g = torch.Generator().manual_seed(0)
    x = torch.rand(400, 3, generator=g)
    data = FixedSource(x, x.prod(1, keepdim=True), batch_size=20)
    seeds = [1, 2, 3]
    runs = [
        train(
            model,
            model.init(seeds),
            loss=mse,
            optimizer=Adam(),
            lr=[1e-3, 1e-2, 1e5],
            data=data,
            seeds=seeds,
            spec=TrainSpec(max_steps=60, block=20, compile=c),
        )
        for c in (False, True)
    ]
    eager, fused = runs
    np.testing.assert_allclose(eager.train_loss[:, :2], fused.train_loss[:, :2], rtol=1e-4)
    assert eager.diverged.tolist() == fused.diverged.tolist() == [False, False, True]
    for a, b in zip(eager.params, fused.params, strict=True):
        torch.testing.assert_close(a[:2], b[:2], rtol=1e-4, atol=1e-5)


def test_many_shapes_stay_compiled() -> None:
    # Every compiled step shares one code object; torch's default of 8 graphs per code object
    # would silently run later shapes (a sweep worker over widths) uncompiled.
    import torch._dynamo.config as dynamo_config

    from learnability.engine import make_step
    from learnability.engine.loop import RECOMPILE_LIMIT

    make_step(StackedMLP(MLPSpec(2, (3,))), mse, Adam(), compile=True)
    assert dynamo_config.recompile_limit >= RECOMPILE_LIMIT >= 64
    assert dynamo_config.accumulated_recompile_limit >= RECOMPILE_LIMIT
