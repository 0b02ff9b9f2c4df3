"""The engine on a CUDA GPU (skipped where there is none; never a requirement).

On the GPU a member trained inside an ensemble must still follow the trajectory of the same
network trained alone with ``nn.Module`` + ``torch.optim`` on the same GPU, in eager and compiled
mode, and the data must be drawn on the device. Batched GPU kernels sum in a different order from
single-matrix ones, so trajectories agree to float32 rounding, not bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from learnability.engine import (
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

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CUDA = torch.device("cuda")
STEPS = 150
SPEC = MLPSpec(5, (16, 16, 16), residual=True)
LRS = [2e-3, 5e-3, 1e-2]
SEEDS = [11, 12, 13]


def _teacher(x: torch.Tensor) -> torch.Tensor:
    return x[:, :1] * x[:, 1:2] + x[:, 2:].sin().sum(1, keepdim=True)


def _online() -> OnlineSource:
    return OnlineSource(
        lambda g, n: torch.rand(n, 5, generator=g, device=g.device), _teacher, batch_size=32, chunk_steps=8
    )


def _fixed() -> FixedSource:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(600, 5, generator=g)
    return FixedSource(x, _teacher(x), batch_size=32)


@pytest.fixture(autouse=True)
def _exact_fp32():
    # TF32 would make both sides round differently; the engine's contract is float32.
    previous = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous


@pytest.mark.parametrize("compile_", [False, True])
@pytest.mark.parametrize("regime", ["online", "fixed"])
def test_member_equals_reference_module_on_cuda(regime: str, compile_: bool) -> None:
    model = StackedMLP(SPEC)
    params = [p.to(CUDA) for p in model.init(SEEDS)]
    init = [p.clone() for p in params]
    make = _online if regime == "online" else _fixed
    res = train(
        model,
        params,
        loss=mse,
        optimizer=Adam(),
        lr=LRS,
        data=make(),
        seeds=SEEDS,
        spec=TrainSpec(max_steps=STEPS, block=50, compile=compile_),
    )
    assert all(p.device.type == "cuda" for p in res.params)
    for k in range(len(SEEDS)):
        net = member_module(SPEC, model.layers(init, k)).to(CUDA)
        opt = torch.optim.Adam(net.parameters(), lr=LRS[k])
        src = make()
        src.start([SEEDS[k]], CUDA)
        ref = []
        for _ in range(STEPS):
            x, y = src.next()
            loss = nn.functional.mse_loss(net(x[0]), y[0])
            opt.zero_grad()
            loss.backward()
            opt.step()
            ref.append(loss.item())
        np.testing.assert_allclose(res.train_loss[:, k], ref, rtol=2e-3, atol=1e-6)


def test_online_data_is_drawn_on_the_device() -> None:
    src = _online()
    src.start([1, 2], CUDA)
    x, y = src.next()
    assert x.device.type == "cuda" and y.device.type == "cuda" and x.shape == (2, 32, 5)


def test_cuda_matches_cpu_to_float32_rounding() -> None:
    # Full-batch training: the batch is the whole (permuted) data set, so the loss does not depend
    # on the device's generator and CPU and GPU follow the same trajectory up to rounding.
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 5, generator=g)
    model = StackedMLP(SPEC)
    out = {}
    for dev in ("cpu", "cuda"):
        out[dev] = train(
            model,
            [p.to(dev) for p in model.init(SEEDS)],
            loss=mse,
            optimizer=Adam(),
            lr=LRS,
            data=FixedSource(x, _teacher(x), batch_size=64),
            seeds=SEEDS,
            spec=TrainSpec(max_steps=100, block=50),
        ).train_loss
    np.testing.assert_allclose(out["cuda"], out["cpu"], rtol=1e-3, atol=1e-6)


def test_bench_quick_on_cuda() -> None:
    from learnability.bench import run_bench

    lines: list[str] = []
    res = run_bench(quick=True, members=8, compile_=False, echo=lines.append, device="cuda", repeats=1)
    assert res["device"].startswith("cuda") and res["peak_tf32_gflops"] is not None
    assert {r["method"] for r in res["results"]} >= {"naive", "vmap", "engine-eager"}
