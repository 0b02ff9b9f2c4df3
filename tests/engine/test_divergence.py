"""Divergence isolation: a member with a huge learning rate is frozen; the others are unaffected."""

from __future__ import annotations

import numpy as np
import torch

from learnability.engine import Adam, EvalSet, FixedSource, MLPSpec, StackedMLP, TrainSpec, mse, train

SPEC = MLPSpec(4, (32, 32))


def _data() -> FixedSource:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(500, 4, generator=g)
    return FixedSource(x, 50 * x.square().sum(1, keepdim=True), batch_size=25)


def _run(lrs: list[float]):
    model = StackedMLP(SPEC)
    seeds = [1, 2, 3]
    xt = torch.rand(100, 4, generator=torch.Generator().manual_seed(1))
    return train(
        model,
        model.init(seeds),
        loss=mse,
        optimizer=Adam(),
        lr=lrs,
        data=_data(),
        seeds=seeds,
        spec=TrainSpec(max_steps=300, block=40, divergence_factor=10.0),
        eval_sets={"test": EvalSet(xt, 50 * xt.square().sum(1, keepdim=True))},
    )


def test_huge_learning_rate_diverges_and_others_are_untouched() -> None:
    bad = _run([1e-3, 1e4, 3e-3])
    good = _run([1e-3, 1e-2, 3e-3])
    assert bad.diverged.tolist() == [False, True, False]
    assert 0 < bad.diverged_step[1] < 300 and not good.diverged.any()
    step = bad.diverged_step[1]
    # The recorded step is the first whose loss broke the rule (non-finite or > 10x the first loss).
    first = bad.train_loss[0, 1]
    assert not (np.isfinite(bad.train_loss[step, 1]) and bad.train_loss[step, 1] <= 10 * first)
    assert np.all(bad.train_loss[:step, 1] <= 10 * first)
    for k in (0, 2):  # identical, not merely close: nothing crosses between members
        assert np.array_equal(bad.train_loss[:, k], good.train_loss[:, k])
        assert np.array_equal(bad.evals["test_loss"].values[:, k], good.evals["test_loss"].values[:, k])
        for a, b in zip(bad.params, good.params, strict=True):
            assert torch.equal(a[k], b[k])
    assert np.isnan(bad.final_train_loss(50)[1])


def test_frozen_member_stops_changing() -> None:
    res = _run([1e-3, 1e4, 3e-3])
    model = StackedMLP(SPEC)
    # Run again but stop right after the divergence: the frozen member's parameters must match.
    seeds = [1, 2, 3]
    stop = int(res.diverged_step[1]) + 5
    short = train(
        model,
        model.init(seeds),
        loss=mse,
        optimizer=Adam(),
        lr=[1e-3, 1e4, 3e-3],
        data=_data(),
        seeds=seeds,
        spec=TrainSpec(max_steps=stop, block=40, divergence_factor=10.0),
    )
    for a, b in zip(res.params, short.params, strict=True):
        torch.testing.assert_close(a[1], b[1], rtol=0, atol=0, equal_nan=True)


def test_log_every_sends_group_means() -> None:
    class Sink:
        def __init__(self) -> None:
            self.rows: list[tuple[int, np.ndarray]] = []

        def log_block(self, series, steps, values, *, tag=None):
            self.rows += list(zip(steps, values, strict=True))

        def log(self, *args, **kwargs):
            pass

    model = StackedMLP(SPEC)
    sink = Sink()
    # 7-step groups do not align with 40-step blocks; 250 steps leave a final short group of 5.
    res = train(
        model,
        model.init([1, 2]),
        loss=mse,
        optimizer=Adam(),
        lr=[1e-3, 2e-3],
        data=_data(),
        seeds=[1, 2],
        spec=TrainSpec(max_steps=250, block=40, log_every=7),
        sink=sink,
    )
    steps = [int(s) for s, _ in sink.rows]
    assert steps == list(range(6, 250, 7)) + [249]
    for s, v in sink.rows:
        start = (s // 7) * 7
        np.testing.assert_allclose(v, res.train_loss[start : s + 1].mean(axis=0), rtol=1e-6)


def test_frozen_member_with_nan_moments_keeps_finite_parameters() -> None:
    """A member frozen after its moments went NaN keeps its parameters: the masked update is a
    select, not a multiplication by zero (0 * NaN is NaN)."""
    from learnability.engine import SGD

    for opt in (Adam(), SGD(momentum=0.9)):
        params = [torch.ones(2, 3, 3), torch.ones(2, 3)]
        state = opt.init(params)
        for buf in state.buffers.values():
            for b in buf:
                b[1] = float("nan")  # member 1's moments are NaN
        grads = [torch.full_like(p, 0.5) for p in params]
        opt.update_(params, grads, state, torch.tensor([0.1, 0.1]), torch.tensor([True, False]))
        for p in params:
            assert torch.all(p[1] == 1.0), type(opt).__name__  # frozen: untouched, finite
            assert torch.all(p[0] < 1.0)  # the active member moved


def test_early_stop_right_after_an_evaluation_records_it_once() -> None:
    from learnability.engine import Stationarity

    model = StackedMLP(SPEC)
    seeds = [1, 2]
    xt = torch.rand(50, 4, generator=torch.Generator().manual_seed(1))
    records = []

    class Sink:
        def log_block(self, series, steps, values, *, tag=None):
            pass

        def log(self, series, *, step=None, tag=None, **values):
            records.append((series, step))

    res = train(
        model,
        model.init(seeds),
        loss=mse,
        optimizer=Adam(),
        lr=[1e-3, 1e-3],
        data=_data(),
        seeds=seeds,
        # Stationary at once (any loss passes a huge tolerance), checked at block ends = eval steps.
        spec=TrainSpec(
            max_steps=10_000,
            block=50,
            eval_every=100,
            stationarity=Stationarity(window=50, rel_tol=10.0, patience=1),
            stop_when_stationary=True,
        ),
        eval_sets={"test": EvalSet(xt, xt.sum(1, keepdim=True))},
        sink=Sink(),
    )
    assert res.steps < 10_000 and res.steps % 100 == 0  # stopped early, right after an evaluation
    steps = res.evals["test_loss"].steps.tolist()
    assert steps == sorted(set(steps)) and steps[-1] == res.steps
    assert len(records) == len(set(records))
