"""Ensemble == single model: member k trained in an ensemble follows the same trajectory as the same
network trained alone with nn.Module + torch.optim, for both optimizers, both data regimes and both
layouts (in one process, or sharded over worker processes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from learnability.engine import (
    SGD,
    Adam,
    FixedSource,
    MLPSpec,
    OnlineSource,
    StackedMLP,
    TrainSpec,
    member_module,
    mse,
    train,
)
from learnability.engine.processes import fork_available

STEPS = 200
SPEC = MLPSpec(5, (16, 16, 16), residual=True)
LRS = [2e-3, 5e-3, 1e-2]
SEEDS = [11, 12, 13]


def _teacher(x: torch.Tensor) -> torch.Tensor:
    return x[:, :1] * x[:, 1:2] + x[:, 2:].sin().sum(1, keepdim=True)


def _source(regime: str):
    if regime == "online":
        return OnlineSource(lambda g, n: torch.rand(n, 5, generator=g), _teacher, batch_size=32, chunk_steps=8)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(600, 5, generator=g)
    return FixedSource(x, _teacher(x), batch_size=32)


def _optimizers(name: str):
    if name == "adam":
        return Adam(), lambda p, lr: torch.optim.Adam(p, lr=lr)
    return SGD(momentum=0.9), lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9)


@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("regime", ["online", "fixed"])
@pytest.mark.parametrize("opt_name", ["adam", "sgd"])
def test_member_equals_reference_module(regime: str, opt_name: str, processes: int) -> None:
    if processes > 1 and not fork_available():
        pytest.skip("the process layout forks")
    model = StackedMLP(SPEC)
    ours, make_ref = _optimizers(opt_name)
    lrs = LRS if opt_name == "adam" else [x * 5 for x in LRS]
    params = model.init(SEEDS)
    init = [p.clone() for p in params]
    res = train(
        model,
        params,
        loss=mse,
        optimizer=ours,
        lr=lrs,
        data=_source(regime),
        seeds=SEEDS,
        spec=TrainSpec(max_steps=STEPS, block=64, processes=processes),
    )
    for k in range(len(SEEDS)):
        net = member_module(SPEC, model.layers(init, k))
        opt = make_ref(net.parameters(), lrs[k])
        src = _source(regime)
        src.start([SEEDS[k]], torch.device("cpu"))
        ref_losses = []
        for _ in range(STEPS):
            x, y = src.next()
            loss = nn.functional.mse_loss(net(x[0]), y[0])
            opt.zero_grad()
            loss.backward()
            opt.step()
            ref_losses.append(loss.item())
        np.testing.assert_allclose(res.train_loss[:, k], ref_losses, rtol=1e-4, atol=1e-7)
        for (w, b), lin in zip(model.layers(res.params, k), net.linears, strict=True):
            torch.testing.assert_close(w, lin.weight.detach(), rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(b, lin.bias.detach(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("regime", ["online", "fixed"])
def test_member_equals_itself_trained_alone(regime: str) -> None:
    model = StackedMLP(SPEC)
    kw = dict(loss=mse, optimizer=Adam(), spec=TrainSpec(max_steps=STEPS, block=50))
    ens = train(model, model.init(SEEDS), lr=LRS, data=_source(regime), seeds=SEEDS, **kw)
    alone = train(model, model.init(SEEDS[1:2]), lr=LRS[1:2], data=_source(regime), seeds=SEEDS[1:2], **kw)
    np.testing.assert_allclose(ens.train_loss[:, 1], alone.train_loss[:, 0], rtol=1e-4, atol=1e-7)
    for a, b in zip(ens.params, alone.params, strict=True):
        torch.testing.assert_close(a[1], b[0], rtol=1e-4, atol=1e-5)


def test_online_source_draws_fresh_batches() -> None:
    src = _source("online")
    src.start([1, 2], torch.device("cpu"))
    seen = [src.next()[0] for _ in range(20)]  # crosses chunk boundaries (chunk_steps=8)
    flat = torch.stack(seen)  # (20, K, B, d)
    assert len({tuple(v.tolist()) for v in flat.reshape(-1, 5)}) == flat.reshape(-1, 5).shape[0]
    assert not torch.equal(flat[:, 0], flat[:, 1])  # members have their own streams


def test_fixed_source_epochs_are_permutations() -> None:
    x = torch.arange(100.0).unsqueeze(1)
    src = FixedSource(x, x, batch_size=10)
    src.start([3, 4], torch.device("cpu"))
    epoch = torch.cat([src.next()[0] for _ in range(src.steps_per_epoch)], dim=1)  # (K, 100, 1)
    for k in range(2):
        assert sorted(epoch[k, :, 0].tolist()) == list(range(100))
    assert not torch.equal(epoch[0], epoch[1])


@pytest.mark.parametrize("compile_", [False, True])
def test_penalty_equals_reference_module_with_l2_in_the_loss(compile_: bool) -> None:
    """A per-member penalty is that member's own regulariser: the same trajectory as nn.Module +
    torch.optim with ``loss + c_k * sum(w^2)`` written into the loss, member by member."""
    model = StackedMLP(SPEC)
    coef = torch.tensor([0.0, 1e-2, 1e-1])  # a different strength per member

    def l2(params, x):
        return coef * sum(p.square().flatten(1).sum(1) for p in params)  # (K,)

    params = model.init(SEEDS)
    init = [p.clone() for p in params]
    steps = 60
    res = train(
        model,
        params,
        loss=mse,
        optimizer=Adam(),
        lr=LRS,
        data=_source("fixed"),
        seeds=SEEDS,
        spec=TrainSpec(max_steps=steps, block=20, compile=compile_),
        penalty=l2,
    )
    for k in range(len(SEEDS)):
        net = member_module(SPEC, model.layers(init, k))
        opt = torch.optim.Adam(net.parameters(), lr=LRS[k])
        src = _source("fixed")
        src.start([SEEDS[k]], torch.device("cpu"))
        ref = []
        for _ in range(steps):
            x, y = src.next()
            loss = nn.functional.mse_loss(net(x[0]), y[0]) + coef[k] * sum(p.square().sum() for p in net.parameters())
            opt.zero_grad()
            loss.backward()
            opt.step()
            ref.append(loss.item())
        np.testing.assert_allclose(res.train_loss[:, k], ref, rtol=2e-4, atol=1e-6)
    assert not np.allclose(res.train_loss[:, 0], res.train_loss[:, 2])  # the penalty mattered
