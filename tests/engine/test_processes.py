"""The process layout trains every member exactly as the in-process layout does.

``TrainSpec(processes=n)`` splits the members over n forked single-thread workers. Reference: the
same run in one process. Checked: every member's losses, parameters and evaluations (equal up to
one float32 rounding: a batched product of 1 member and of 5 may round differently),
divergence and stationarity bookkeeping, an early stop at the same step, the metric sink's calls,
and a crashed worker that loses only its own members.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch

from learnability.engine import (
    Adam,
    EvalSet,
    FixedSource,
    MLPSpec,
    StackedMLP,
    Stationarity,
    TrainSpec,
    mse,
    train,
)
from learnability.engine.processes import ShardError, fork_available, pick_processes, split_members

pytestmark = pytest.mark.skipif(not fork_available(), reason="the process layout forks")

SPEC = MLPSpec(4, (12, 12), residual=True)
SEEDS = [21, 22, 23, 24, 25]
# One member diverges (lr 1e5) and the others become stationary at different steps.
LRS = [1e-3, 3e-3, 1e5, 1e-2, 3e-2]
RTOL = 1e-6  # float32 rounding of one operation; the in-process/ensemble tests allow 1e-4


def _data() -> FixedSource:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(400, 4, generator=g)
    return FixedSource(x, x.prod(1, keepdim=True), batch_size=16)


class _ListSink:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def log_block(self, series, steps, values, *, tag=None) -> None:
        self.calls.append(("block", series, np.asarray(steps).tolist(), np.asarray(values).copy(), tag))

    def log(self, series, *, step=None, tag=None, value=None) -> None:
        self.calls.append(("log", series, step, np.asarray(value).copy(), tag))


def _run(processes: int, data=None, **spec_kw):
    model = StackedMLP(SPEC)
    sink = _ListSink()
    x_eval = torch.rand(50, 4, generator=torch.Generator().manual_seed(1))
    kw = dict(max_steps=240, block=20, eval_every=60, log_every=7, processes=processes) | spec_kw
    res = train(
        model,
        model.init(SEEDS),
        loss=mse,
        optimizer=Adam(),
        lr=LRS,
        data=data or _data(),
        seeds=SEEDS,
        spec=TrainSpec(**kw),
        eval_sets={"test": EvalSet(x_eval, x_eval.prod(1, keepdim=True))},
        sink=sink,
        tag="t",
    )
    return res, sink


def _close(a, b) -> None:
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=0)


def _assert_same(a, b) -> None:
    assert a.steps == b.steps
    _close(a.train_loss, b.train_loss)
    np.testing.assert_array_equal(a.diverged_step, b.diverged_step)
    np.testing.assert_array_equal(a.converged_step, b.converged_step)
    assert a.evals.keys() == b.evals.keys()
    for name in a.evals:
        np.testing.assert_array_equal(a.evals[name].steps, b.evals[name].steps)
        _close(a.evals[name].values, b.evals[name].values)
    for p, q in zip(a.params, b.params, strict=True):
        _close(p.numpy(), q.numpy())


@pytest.mark.parametrize("processes", [2, 3])
def test_sharded_equals_in_process(processes: int) -> None:
    (ref, ref_sink), (res, sink) = _run(1), _run(processes)
    _assert_same(ref, res)
    assert ref.diverged.tolist() == [False, False, True, False, False]
    assert len(sink.calls) == len(ref_sink.calls)
    for c, d in zip(ref_sink.calls, sink.calls, strict=True):
        assert c[:3] == d[:3] and c[4] == d[4]
        _close(c[3], d[3])


def test_sharded_early_stop_at_the_same_step() -> None:
    # Members become stationary at different steps, in different shards: all stop together.
    kw = dict(max_steps=2000, stationarity=Stationarity(window=20, rel_tol=0.3, patience=2))
    (ref, _), (res, _) = _run(1, **kw), _run(2, **kw)
    assert ref.steps < 2000 and len(set(ref.converged_step[ref.converged_step >= 0].tolist())) > 1
    _assert_same(ref, res)


class _DyingSource(FixedSource):
    """Kills its worker process (as the OOM killer would) when it trains member seed 25."""

    def __init__(self, how: str) -> None:
        d = _data()
        super().__init__(d.x, d.y, batch_size=16)
        self.how, self.n = how, 0

    def next(self):
        self.n += 1
        if self.n == 30 and 25 in self.seeds:
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("boom")
        return super().next()

    def start(self, seeds, device):
        self.seeds = list(seeds)
        super().start(seeds, device)


@pytest.mark.parametrize("how", ["kill", "raise"])
def test_crashed_worker_loses_only_its_members(how: str) -> None:
    (ref, _) = _run(1)
    with pytest.raises(ShardError) as info:
        _run(2, data=_DyingSource(how))
    err = info.value
    lost = err.failed.tolist()
    assert 4 in lost and 0 not in lost  # split_members(5, 2): [0, 3), [3, 5)
    kept = [k for k in range(len(SEEDS)) if k not in lost]
    _close(err.result.train_loss[:, kept], ref.train_loss[:, kept])
    assert np.isnan(err.result.train_loss[:, lost]).all()
    for p, q in zip(err.result.params, ref.params, strict=True):
        _close(p[kept].numpy(), q[kept].numpy())
    assert ("exit code" in str(err)) if how == "kill" else ("boom" in str(err))


def test_split_members_is_balanced_and_contiguous() -> None:
    slices = split_members(10, 3)
    assert [(s.start, s.stop) for s in slices] == [(0, 3), (3, 7), (7, 10)]
    assert len(split_members(2, 8)) == 2


def test_pick_processes_shards_small_models_on_cpu_only() -> None:
    assert pick_processes(2.4e6, 32, cores=2) == 2
    assert pick_processes(9.5e7, 32, cores=2) == 1  # compute-bound: threads
    assert pick_processes(2.4e6, 32, device="cuda", cores=2) == 1
    assert pick_processes(2.4e6, 4, cores=2) == 1  # too few members to split
    with pytest.raises(ValueError, match="processes"):
        TrainSpec(max_steps=1, processes=0)
