"""Optimizers on problems with known optima, and agreement with torch.optim step by step."""

from __future__ import annotations

import pytest
import torch

from learnability._validation import ParameterError
from learnability.engine import SGD, Adam, make_optimizer


def _quadratic_grad(p: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 2 * (p - target)  # gradient of |p - target|^2


@pytest.mark.parametrize("opt", [Adam(), SGD(), SGD(momentum=0.9), SGD(momentum=0.5, nesterov=True)])
def test_reaches_known_minimum(opt) -> None:
    target = torch.tensor([[[1.0, -2.0, 3.0]]]).expand(2, 1, 3)
    p = [torch.zeros(2, 1, 3)]
    state = opt.init(p)
    lr = torch.tensor([0.05, 0.02], dtype=torch.float64)
    active = torch.ones(2, dtype=torch.bool)
    for _ in range(3000):
        opt.update_(p, [_quadratic_grad(p[0], target)], state, lr, active)
    torch.testing.assert_close(p[0], target, atol=1e-3, rtol=0)


@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_matches_torch_optim_per_member(name: str) -> None:
    g = torch.Generator().manual_seed(0)
    p0 = torch.randn(3, 4, 5, generator=g)
    grads = [torch.randn(3, 4, 5, generator=g) for _ in range(25)]
    lrs = [1e-3, 1e-2, 1e-1]
    ours = make_optimizer(name, **({"momentum": 0.9} if name == "sgd" else {}))
    p = [p0.clone()]
    st = ours.init(p)
    for gr in grads:
        ours.update_(p, [gr], st, torch.tensor(lrs, dtype=torch.float64), torch.ones(3, dtype=torch.bool))
    for k in range(3):
        ref = p0[k].clone().requires_grad_(True)
        opt = torch.optim.Adam([ref], lr=lrs[k]) if name == "adam" else torch.optim.SGD([ref], lr=lrs[k], momentum=0.9)
        for gr in grads:
            ref.grad = gr[k].clone()
            opt.step()
        torch.testing.assert_close(p[0][k], ref.detach(), rtol=1e-5, atol=1e-6)


def test_inactive_members_frozen_even_with_nan_gradients() -> None:
    p = [torch.ones(2, 3)]
    opt = Adam()
    st = opt.init(p)
    grad = torch.tensor([[1.0, 1.0, 1.0], [float("nan")] * 3])
    opt.update_(p, [grad], st, torch.tensor([0.1, 0.1], dtype=torch.float64), torch.tensor([True, False]))
    assert torch.equal(p[0][1], torch.ones(3)) and (p[0][0] < 1).all()
    assert torch.isfinite(st.buffers["m"][0]).all() and torch.isfinite(st.buffers["v"][0]).all()


def test_bad_hyperparameters() -> None:
    with pytest.raises(ParameterError, match=r"'betas\[0\]' parameter of Adam must be a float in the range \[0, 1\)"):
        Adam(betas=(1.0, 0.999))
    with pytest.raises(ParameterError, match="'momentum' parameter of SGD"):
        SGD(momentum=-0.1)
    with pytest.raises(ParameterError, match="'optimizer' parameter of make_optimizer"):
        make_optimizer("rmsprop")


def test_schedules_known_values() -> None:
    from learnability.engine import make_schedule

    cos = make_schedule("cosine", final=0.1)
    assert cos(0, 101) == pytest.approx(1.0) and cos(100, 101) == pytest.approx(0.1)
    assert cos(50, 101) == pytest.approx(0.55)
    lin = make_schedule("linear", final=0.0)
    assert lin(25, 101) == pytest.approx(0.75)
    assert make_schedule("constant")(7, 10) == 1.0
    with pytest.raises(ParameterError, match="'schedule' parameter of make_schedule"):
        make_schedule("exp")


def test_schedule_scales_sgd_steps_exactly() -> None:
    # SGD on f(p) = p (gradient 1): p_T = p_0 - lr * sum_t factor(t).
    from learnability.engine import MLPSpec, StackedMLP, TrainSpec, make_schedule, train
    from learnability.engine.sources import FixedSource

    model = StackedMLP(MLPSpec(1, ()))  # y = w x + b
    params = model.init([0])
    w0 = params[0].clone()
    x = torch.ones(10, 1)
    sched = make_schedule("linear", final=0.0)
    res = train(
        model,
        params,
        loss=lambda out, y: out.mean(dim=(1, 2)),
        optimizer=SGD(),
        lr=[0.1],
        data=FixedSource(x, x, batch_size=10),
        seeds=[0],
        spec=TrainSpec(max_steps=11, schedule=sched),
    )
    expected = w0 - 0.1 * sum(sched(t, 11) for t in range(11))
    torch.testing.assert_close(res.params[0], expected)


def test_per_member_schedule_equals_each_member_trained_alone() -> None:
    """Members with their own schedules in one ensemble follow exactly the trajectory each has alone
    (SGD on f(p) = p: p_T = p_0 - lr * sum_t factor_k(t)), and Adam members match lone runs."""
    from learnability.engine import MLPSpec, StackedMLP, TrainSpec, make_schedule, per_member_schedule, train
    from learnability.engine.sources import FixedSource

    scheds = [make_schedule("constant"), make_schedule("cosine", final=0.1), make_schedule("linear", final=0.0)]
    pm = per_member_schedule([scheds[1], scheds[0], scheds[1], scheds[2]])
    f = pm(5, 11)
    assert f.shape == (4,) and f.dtype == torch.float64
    assert f.tolist() == pytest.approx([scheds[1](5, 11), 1.0, scheds[1](5, 11), scheds[2](5, 11)])
    model = StackedMLP(MLPSpec(1, ()))
    params = model.init([0, 0, 0, 0])
    w0 = params[0].clone()
    x = torch.ones(10, 1)
    res = train(
        model,
        params,
        loss=lambda out, y: out.mean(dim=(1, 2)),
        optimizer=SGD(),
        lr=[0.1] * 4,
        data=FixedSource(x, x, batch_size=10),
        seeds=[0] * 4,
        spec=TrainSpec(max_steps=11, schedule=pm),
    )
    for k, sch in enumerate(pm.schedules):
        torch.testing.assert_close(res.params[0][k], w0[k] - 0.1 * sum(sch(t, 11) for t in range(11)))
    # Adam, a real network: the mixed ensemble equals the lone runs member by member
    g = torch.Generator().manual_seed(0)
    xs, ys = torch.rand(64, 3, generator=g), torch.rand(64, 1, generator=g)
    net = StackedMLP(MLPSpec(3, (8,)))

    def fit(schedule, k: int):
        return train(
            net,
            net.init([1] * k),
            loss=lambda out, y: ((out - y) ** 2).mean(dim=(1, 2)),
            optimizer=Adam(),
            lr=[1e-2] * k,
            data=FixedSource(xs, ys, batch_size=8),
            seeds=[2] * k,
            spec=TrainSpec(max_steps=30, schedule=schedule),
        ).params

    mixed = fit(per_member_schedule([scheds[0], scheds[1]]), 2)
    for k, sch in enumerate(scheds[:2]):
        alone = fit(sch, 1)
        for a, b in zip(mixed, alone, strict=True):
            torch.testing.assert_close(a[k], b[0])
    with pytest.raises(ParameterError, match="'schedules' parameter of per_member_schedule"):
        per_member_schedule([])
