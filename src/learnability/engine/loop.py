"""The one training loop. Every study, sweep and ensemble trains through :func:`train`.

A step computes each member's loss on its own batch, the gradient of their sum (which, member by
member, is each member's own gradient), checks each member for divergence, and applies the
optimizer with per-member learning rates. This module is the only place gradients are taken.

Per step, on the device and without host synchronisation:
    loss (K,) -> grads -> active &= finite(loss) & (loss <= ceiling) -> optimizer update (masked)

Every ``block`` steps, on the host: the block's losses are logged, fed to the quasi-stationarity
detector and, when due, the members are evaluated on the evaluation sets (in chunks). A member whose
loss is NaN/inf or exceeds ``divergence_factor`` times its first loss is frozen and marked diverged
at that step; the others continue unaffected.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from learnability._progress import NULL_PROGRESS, Progress
from learnability._validation import ParameterError, check_in_range
from learnability.engine.checkpoints import (
    CallCheckpoints,
    active_store,
    fingerprint_hash,
    load_source_state,
    source_state,
)
from learnability.engine.losses import LossFn
from learnability.engine.optim import Optimizer, OptState
from learnability.engine.processes import (
    RecordingSink,
    ShardError,
    StopBoard,
    fork_available,
    merge_records,
    run_shards,
    split_members,
)
from learnability.engine.schedules import Schedule
from learnability.engine.sources import BatchSource
from learnability.engine.stationarity import Stationarity, StationarityDetector

#: ``penalty(params, x) -> (K,)``: a per-member term added to the training loss (a regulariser).
Penalty = Callable[[list[Tensor], Tensor], Tensor]

__all__ = [
    "EvalSet",
    "MetricSink",
    "Model",
    "Penalty",
    "PerMemberEvalSet",
    "TrainResult",
    "TrainSpec",
    "make_step",
    "train",
]


class Model(Protocol):
    """What the loop needs of a model: batched forward and shared-input prediction."""

    def forward(self, params: list[Tensor], x: Tensor) -> Tensor:
        """(K, B, ...) -> (K, B, ...)."""
        ...

    def predict(self, params: list[Tensor], x: Tensor) -> Tensor:
        """(N, ...) shared inputs -> (K, N, ...)."""
        ...


class MetricSink(Protocol):
    """Where the loop writes metrics (a :class:`~learnability.runs.RunWriter` is one)."""

    def log_block(
        self, series: str, steps: Sequence[int] | np.ndarray, values: np.ndarray, *, tag: str | None = None
    ) -> None: ...

    def log(self, series: str, *, step: int | None = None, tag: str | None = None, value: object = None) -> None: ...


@dataclass(frozen=True)
class EvalSet:
    """A fixed evaluation set shared by every member.

    Args:
        x: (N, ...) inputs.
        y: (N, ...) targets.
        metrics: extra metrics ``name -> fn(outputs (K, N, ...), y) -> (K,)`` logged beside the loss.
    """

    x: Tensor
    y: Tensor
    metrics: Mapping[str, Callable[[Tensor, Tensor], Tensor]] = field(default_factory=dict)


@dataclass(frozen=True)
class PerMemberEvalSet:
    """One evaluation set per group of members: member k is scored on ``sets[groups[k]]``.

    For ensembles whose members learn different targets (each its own teacher, with its own test
    set): every member is evaluated only on its own group's set, at the cost of evaluating it on
    one set. Each set's ``metrics`` apply to its own members (e.g. a per-teacher scale). Members
    must be stacked along the first dimension of every parameter tensor (as in every engine model).

    Args:
        sets: the groups' evaluation sets.
        groups: (K,) index into ``sets`` of each member.
    """

    sets: tuple[EvalSet, ...]
    groups: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "sets", tuple(self.sets))
        object.__setattr__(self, "groups", tuple(int(g) for g in self.groups))
        if not self.sets:
            raise ParameterError("sets", "PerMemberEvalSet", "a non-empty sequence of EvalSet", "empty")
        bad = [g for g in self.groups if not 0 <= g < len(self.sets)]
        if bad or not self.groups:
            raise ParameterError(
                "groups", "PerMemberEvalSet", f"a non-empty sequence of indices in [0, {len(self.sets)})", self.groups
            )
        names = [set(es.metrics) for es in self.sets]
        if any(n != names[0] for n in names):
            raise ParameterError("sets", "PerMemberEvalSet", "sets with the same metric names", names)


@dataclass(frozen=True)
class TrainSpec:
    """How long and how to train.

    Args:
        max_steps: step cap.
        eval_every: steps between evaluations (``None``: at the start and the end only).
        block: steps between host synchronisations (logging, divergence bookkeeping, stationarity).
        divergence_factor: a member whose loss exceeds this multiple of its first loss is frozen.
        stationarity: quasi-stationarity test (``None``: none).
        stop_when_stationary: stop once every member is stationary or diverged.
        compile: fuse the step with ``torch.compile`` (cached per shape; eager fallback on failure).
        schedule: learning-rate multiplier ``schedule(step, max_steps)`` (see
            :func:`~learnability.engine.schedules.make_schedule`), a float or, from
            :func:`~learnability.engine.schedules.per_member_schedule`, a ``(K,)`` tensor (one
            factor per member); ``None`` keeps rates constant.
        log_every: the sink receives ``train_loss`` as the mean of each group of this many steps
            (recorded at the group's last step); 1 logs every step. The returned
            :class:`TrainResult` always holds every step's loss.
        processes: 1 trains every member in this process (torch's threads); n > 1 splits the
            members into n shards trained by single-thread worker processes, with the same
            numbers for every member (see :mod:`learnability.engine.processes`; CPU only, falls
            back to 1 elsewhere). :func:`~learnability.engine.processes.pick_processes` picks it
            by model size.
    """

    max_steps: int
    eval_every: int | None = None
    block: int = 100
    divergence_factor: float = 100.0
    stationarity: Stationarity | None = None
    stop_when_stationary: bool = True
    compile: bool = False
    schedule: Schedule | None = None
    log_every: int = 1
    processes: int = 1

    def __post_init__(self) -> None:
        check_in_range(self.max_steps, "max_steps", "TrainSpec", low=1, kind=int)
        if self.eval_every is not None:
            check_in_range(self.eval_every, "eval_every", "TrainSpec", low=1, kind=int)
        check_in_range(self.block, "block", "TrainSpec", low=1, kind=int)
        check_in_range(self.log_every, "log_every", "TrainSpec", low=1, kind=int)
        check_in_range(self.processes, "processes", "TrainSpec", low=1, kind=int)
        check_in_range(self.divergence_factor, "divergence_factor", "TrainSpec", low=1.0, low_inclusive=False)


@dataclass
class EvalHistory:
    """Evaluations of one metric on one set: ``steps`` (n,), ``values`` (n, K)."""

    steps: np.ndarray
    values: np.ndarray

    @property
    def final(self) -> np.ndarray:
        return self.values[-1]


@dataclass
class TrainResult:
    """What a call to :func:`train` produced.

    Attributes:
        params: final stacked parameters.
        lr: (K,) learning rates.
        seeds: (K,) data-order seeds.
        steps: steps run.
        train_loss: (steps, K) loss of every step (on the step's batch, before its update).
        evals: ``"test_loss"``-style names -> :class:`EvalHistory`.
        diverged_step: (K,) step at which each member diverged, -1 if it did not.
        converged_step: (K,) step at which each member became quasi-stationary, -1 if it did not.
        wall_seconds: training time.
    """

    params: list[Tensor]
    lr: np.ndarray
    seeds: np.ndarray
    steps: int
    train_loss: np.ndarray
    evals: dict[str, EvalHistory]
    diverged_step: np.ndarray
    converged_step: np.ndarray
    wall_seconds: float

    @property
    def diverged(self) -> np.ndarray:
        return self.diverged_step >= 0

    @property
    def converged(self) -> np.ndarray:
        return self.converged_step >= 0

    def final_train_loss(self, window: int) -> np.ndarray:
        """(K,) mean training loss over the last ``window`` steps; NaN for diverged members."""
        tail = self.train_loss[-window:]
        with np.errstate(invalid="ignore"):
            out = tail.mean(axis=0)
        return np.where(self.diverged, np.nan, out)

    def epoch_means(self, steps_per_epoch: int) -> np.ndarray:
        """(epochs, K) mean training loss of each complete epoch."""
        n = self.steps // steps_per_epoch
        return self.train_loss[: n * steps_per_epoch].reshape(n, steps_per_epoch, -1).mean(axis=1)


# Compiled steps, reused across calls of train() with equivalent model, loss and optimizer, so a
# sweep followed by seed runs compiles once per shape instead of once per call.
_COMPILED: dict[tuple[object, ...], Callable[..., tuple[Tensor, Tensor]]] = {}

# torch keeps at most ``recompile_limit`` graphs per code object (default 8) and then silently runs
# the function uncompiled. Every compiled step shares the code object of ``fused`` below, so one
# process that trains many shapes (a sweep worker over widths, a study with several students and
# grid extensions) needs more; each graph is one (model, K, batch) configuration.
RECOMPILE_LIMIT = 256


def make_step(
    model: Model, loss: LossFn, optimizer: Optimizer, *, compile: bool = False, penalty: Penalty | None = None
) -> Callable[..., tuple[Tensor, Tensor]]:
    """The training step :func:`train` uses, for code that must time or drive single steps.

    Returns ``step(params, state, x, y, lr, active, ceiling) -> (losses (K,), active (K,))``:
    one optimizer step of every active member on batch ``(x, y)``, updating ``params`` and the
    optimizer ``state`` (from ``optimizer.init(params)``) in place; members whose loss is
    non-finite or above ``ceiling`` (K,) become inactive. Call it under ``torch.no_grad()``.
    With ``penalty``, each member's loss is its data loss plus ``penalty(params, x)`` (K,).
    Compiled steps are cached per (model, loss, optimizer, penalty) configuration.
    """
    return _step_fn(model, loss, optimizer, compile, penalty)


def _step_fn(
    model: Model, loss_fn: LossFn, optimizer: Optimizer, compile_: bool, penalty: Penalty | None = None
) -> Callable[..., tuple[Tensor, Tensor]]:
    if not compile_:
        return _make_step(model, loss_fn, optimizer, False, penalty)
    model_key, opt_key = getattr(model, "cache_key", None), getattr(optimizer, "cache_key", None)
    if model_key is None or opt_key is None:
        return _make_step(model, loss_fn, optimizer, True, penalty)
    key = (model_key, loss_fn, opt_key, penalty)
    if key not in _COMPILED:
        _COMPILED[key] = _make_step(model, loss_fn, optimizer, True, penalty)
    return _COMPILED[key]


def _make_step(
    model: Model, loss_fn: LossFn, optimizer: Optimizer, compile_: bool, penalty: Penalty | None = None
) -> Callable[..., tuple[Tensor, Tensor]]:
    """One training step, eager or fused into a single compiled graph.

    The compiled variant takes gradients with ``torch.func.grad_and_value`` so that forward,
    backward, divergence masking and the in-place optimizer update form one graph: on a CPU this
    removes most per-operation overhead (see ``benchmarks/engine_bench.py``).
    """

    def losses_and_total(params: list[Tensor], x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        losses = loss_fn(model.forward(params, x), y)  # (K,)
        if penalty is not None:
            losses = losses + penalty(params, x)  # (K,): a member's penalty touches only its own parameters
        return losses.sum(), losses

    def fused(
        params: list[Tensor], state: OptState, x: Tensor, y: Tensor, lr: Tensor, active: Tensor, ceiling: Tensor
    ) -> tuple[Tensor, Tensor]:
        grads, (_, losses) = torch.func.grad_and_value(losses_and_total, has_aux=True)(params, x, y)
        active = active & torch.isfinite(losses) & (losses <= ceiling)
        optimizer.update_(params, grads, state, lr, active)
        return losses, active

    def eager(
        params: list[Tensor], state: OptState, x: Tensor, y: Tensor, lr: Tensor, active: Tensor, ceiling: Tensor
    ) -> tuple[Tensor, Tensor]:
        with torch.enable_grad():
            for p in params:
                p.requires_grad_(True)
            total, losses = losses_and_total(params, x, y)
            grads = torch.autograd.grad(total, params)
        for p in params:
            p.requires_grad_(False)
        losses = losses.detach()
        active = active & torch.isfinite(losses) & (losses <= ceiling)
        optimizer.update_(params, grads, state, lr, active)
        return losses, active

    if not compile_:
        return eager
    import torch._dynamo.config as dynamo_config

    # Raising a limit only: other compiled code in the process keeps its behaviour.
    dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, RECOMPILE_LIMIT)
    dynamo_config.accumulated_recompile_limit = max(dynamo_config.accumulated_recompile_limit, RECOMPILE_LIMIT)
    # Shapes are static within a run; the compiled graph is cached per shape by torch.
    return torch.compile(fused, dynamic=False)


def _evaluate_one(model: Model, params: list[Tensor], loss_fn: LossFn, es: EvalSet) -> dict[str, np.ndarray]:
    pred = model.predict(params, es.x)  # (K, N, ...)
    out = {"loss": loss_fn(pred, es.y).cpu().numpy()}
    for mname, fn in es.metrics.items():
        out[mname] = fn(pred, es.y).cpu().numpy()
    return out


def _evaluate(
    model: Model, params: list[Tensor], loss_fn: LossFn, eval_sets: Mapping[str, EvalSet | PerMemberEvalSet]
) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with torch.no_grad():
        detached = [p.detach() for p in params]
        K = int(detached[0].shape[0])
        for name, es in eval_sets.items():
            if isinstance(es, EvalSet):
                vals = _evaluate_one(model, detached, loss_fn, es)
            else:
                if len(es.groups) != K:
                    raise ParameterError(
                        "eval_sets", "train", f"a PerMemberEvalSet with {K} groups, one per member", len(es.groups)
                    )
                groups = np.asarray(es.groups)
                vals = {}
                for g in np.unique(groups):
                    members = np.flatnonzero(groups == g)
                    idx = torch.as_tensor(members, dtype=torch.long, device=detached[0].device)
                    sub = [p.index_select(0, idx) for p in detached]
                    for key, v in _evaluate_one(model, sub, loss_fn, es.sets[int(g)]).items():
                        vals.setdefault(key, np.full(K, np.nan, dtype=np.float64))[members] = v
            for key, v in vals.items():
                out[f"{name}_{key}"] = v
    return out


@contextlib.contextmanager
def _compiling() -> Iterator[None]:
    """Around a step that may compile: Inductor warns on TF32-capable GPUs that float32 products
    could use TF32. The engine computes in exact float32 on purpose (member k must follow the
    reference module), so the hint is not a problem of the run and must not fail the compile
    where warnings are errors."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="TensorFloat32 tensor cores", category=UserWarning)
        yield


def _on(factor: float | Tensor, device: torch.device) -> float | Tensor:
    """A schedule's factor where the rates live: a float as it is, a per-member tensor moved."""
    return factor.to(device) if isinstance(factor, Tensor) else factor


def _first_bad(losses: np.ndarray, ceiling: np.ndarray, already: np.ndarray, offset: int) -> np.ndarray:
    """Step of each member's first divergent loss in a block (-1 if none); keeps earlier marks."""
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(losses) | (losses > ceiling)
    first = np.where(bad.any(axis=0), bad.argmax(axis=0) + offset, -1)
    return np.where(already >= 0, already, first)


def _flush_train_loss(
    sink: MetricSink, pending: list[np.ndarray], done: int, every: int, tag: str | None, *, final: bool
) -> None:
    """Send complete groups of ``every`` steps (their mean) to the sink; keep the remainder.

    ``pending`` holds the losses of the steps just before ``done``. With ``final`` the last,
    possibly shorter group is sent too.
    """
    rows = np.concatenate(pending) if len(pending) > 1 else pending[0] if pending else None
    pending.clear()
    if rows is None or len(rows) == 0:
        return
    first = done - len(rows)
    n_groups = len(rows) // every
    if final and len(rows) % every:
        n_groups += 1
    if n_groups:
        used = min(n_groups * every, len(rows))
        if every == 1:
            values, steps = rows[:used], np.arange(first, first + used)
        else:
            with np.errstate(invalid="ignore", over="ignore"):  # diverged members: inf/nan
                values = np.stack([rows[i : i + every].astype(np.float64).mean(axis=0) for i in range(0, used, every)])
            steps = np.minimum(np.arange(first + every - 1, first + used + every - 1, every), done - 1)
        sink.log_block("train_loss", steps, values, tag=tag)
        rows = rows[used:]
    if len(rows):
        pending.append(rows)


def train(
    model: Model,
    params: list[Tensor],
    *,
    loss: LossFn,
    optimizer: Optimizer,
    lr: Sequence[float] | np.ndarray | Tensor,
    data: BatchSource,
    seeds: Sequence[int],
    spec: TrainSpec,
    eval_sets: Mapping[str, EvalSet | PerMemberEvalSet] | None = None,
    sink: MetricSink | None = None,
    tag: str | None = None,
    progress: Progress | None = None,
    penalty: Penalty | None = None,
) -> TrainResult:
    """Train K members at once; return their final parameters and full history.

    Args:
        model: a :class:`~learnability.engine.stacked.StackedMLP`, a
            :class:`~learnability.engine.modules.ModuleEnsemble`, or anything with ``forward`` and
            ``predict``.
        params: stacked initial parameters (K, ...); trained in place.
        loss: per-member loss, ``(outputs, targets) -> (K,)``.
        optimizer: :class:`~learnability.engine.optim.Adam` or ``SGD``.
        lr: (K,) learning rate of each member.
        data: the batch source; started here with ``seeds``.
        seeds: (K,) data-order seed of each member.
        spec: step cap, evaluation period, divergence and stationarity settings.
        eval_sets: fixed sets evaluated at step 0, every ``spec.eval_every`` steps and at the end;
            a :class:`PerMemberEvalSet` scores each member on its own group's set.
        sink: receives ``train_loss`` every step and ``<set>_<metric>`` at evaluations.
        tag: label attached to every logged record (e.g. ``"S_u/sweep"``).
        progress: the run's progress bar.
        penalty: optional ``penalty(params, x) -> (K,)`` added to each member's training loss (a
            regulariser of the member's own parameters, possibly of the batch ``x``); it is part
            of the optimised and logged ``train_loss``, not of the evaluations.

    Returns:
        A :class:`TrainResult`.

    Raises:
        ShardError: with ``spec.processes > 1``, when worker processes failed; its ``result`` holds
            the other members' results.
    """
    eval_sets = dict(eval_sets or {})
    progress = progress or NULL_PROGRESS
    K = int(params[0].shape[0])
    device = params[0].device
    lr_t = torch.as_tensor(np.asarray(lr, dtype=np.float64), device=device)
    if lr_t.shape != (K,):
        raise ParameterError(
            "lr", "train", f"an array of shape ({K},), one rate per member", f"array of shape {tuple(lr_t.shape)}"
        )
    if len(seeds) != K:
        raise ParameterError("seeds", "train", f"a sequence of {K} ints, one per member", list(seeds))
    if torch.any(lr_t < 0) or not torch.all(torch.isfinite(lr_t)):
        raise ParameterError("lr", "train", "finite non-negative rates", lr_t.tolist())

    # Inside a run, the call is checkpointed; on a resume, a call that completed before returns
    # its saved result (see learnability.engine.checkpoints).
    store = active_store()
    call = None
    if store is not None:
        call = store.begin(_fingerprint(params, lr_t, seeds, spec, tag))
        memo = call.completed()
        if memo is not None:
            return _replayed(memo, params, optimizer, spec, progress)

    if spec.processes > 1 and device.type == "cpu" and fork_available() and K > 1:
        # The workers' states stay in the workers: such a call is checkpointed when it completes.
        res = _train_sharded(
            model, params, loss=loss, optimizer=optimizer, lr_t=lr_t, data=data, seeds=seeds, spec=spec,
            eval_sets=eval_sets, sink=sink, tag=tag, progress=progress, penalty=penalty,
        )  # fmt: skip
        if call is not None:
            call.save(_result_payload(res, None), part=False)
        return res
    return _train_here(
        model, params, loss=loss, optimizer=optimizer, lr_t=lr_t, data=data, seeds=seeds, spec=spec,
        eval_sets=eval_sets, sink=sink, tag=tag, progress=progress, penalty=penalty, call=call,
    )  # fmt: skip


def _fingerprint(
    params: list[Tensor], lr_t: Tensor, seeds: Sequence[int], spec: TrainSpec, tag: str | None
) -> dict[str, object]:
    """What identifies a call of :func:`train` within a run, checked when a checkpoint is reused:
    its tag, shapes, rates, seeds, step cap and a checksum of the initial parameters."""
    with torch.no_grad():
        checksum = float(sum(float(p.detach().double().sum()) for p in params))
    return {
        "tag": tag,
        "shapes": [list(p.shape) for p in params],
        "max_steps": spec.max_steps,
        "lr": fingerprint_hash(lr_t.cpu().numpy().tolist()),
        "seeds": fingerprint_hash([int(s) for s in seeds]),
        "params": repr(checksum),
    }


def _state_payload(state: OptState) -> dict[str, object]:
    return {"buffers": {k: list(v) for k, v in state.buffers.items()}, "step": state.step}


def _load_state(state: OptState, saved: Mapping[str, object]) -> None:
    """Copy a saved optimizer state into ``state`` in place (a study may hold a reference to it)."""
    with torch.no_grad():
        buffers = saved["buffers"]
        assert isinstance(buffers, dict)
        for name, tensors in buffers.items():
            for b, v in zip(state.buffers[name], tensors, strict=True):
                b.copy_(v)
        step = saved["step"]
        assert isinstance(step, Tensor)
        state.step.copy_(step)


def _copy_params(params: list[Tensor], saved: Sequence[Tensor]) -> None:
    with torch.no_grad():
        for p, v in zip(params, saved, strict=True):
            p.copy_(v)


def _result_payload(res: TrainResult, state: OptState | None) -> dict[str, object]:
    """A completed call's result, as a checkpoint holds it."""
    return {
        "params": list(res.params),
        "opt_state": None if state is None else _state_payload(state),
        "lr": res.lr,
        "seeds": res.seeds,
        "steps": res.steps,
        "train_loss": res.train_loss,
        "evals": {name: {"steps": h.steps, "values": h.values} for name, h in res.evals.items()},
        "diverged_step": res.diverged_step,
        "converged_step": res.converged_step,
        "wall_seconds": res.wall_seconds,
    }


def _replayed(
    memo: Mapping[str, object], params: list[Tensor], optimizer: Optimizer, spec: TrainSpec, progress: Progress
) -> TrainResult:
    """The result of a call that completed before the run was resumed, without training: the
    parameters (in place) and the optimizer state are those the call ended with."""
    saved_params = memo["params"]
    assert isinstance(saved_params, list)
    _copy_params(params, saved_params)
    state = optimizer.init(params)
    if memo.get("opt_state") is not None:
        _load_state(state, memo["opt_state"])  # type: ignore[arg-type]
    steps = int(memo["steps"])  # type: ignore[arg-type]
    progress.add_total(spec.max_steps)
    progress.update(steps)
    if steps < spec.max_steps:
        progress.skip(spec.max_steps - steps)
    evals = memo["evals"]
    assert isinstance(evals, dict)
    return TrainResult(
        params=params,
        lr=np.asarray(memo["lr"]),
        seeds=np.asarray(memo["seeds"]),
        steps=steps,
        train_loss=np.asarray(memo["train_loss"]),
        evals={name: EvalHistory(np.asarray(h["steps"]), np.asarray(h["values"])) for name, h in evals.items()},
        diverged_step=np.asarray(memo["diverged_step"], dtype=np.int64),
        converged_step=np.asarray(memo["converged_step"], dtype=np.int64),
        wall_seconds=float(memo["wall_seconds"]),  # type: ignore[arg-type]
    )


def _train_here(
    model: Model,
    params: list[Tensor],
    *,
    loss: LossFn,
    optimizer: Optimizer,
    lr_t: Tensor,
    data: BatchSource,
    seeds: Sequence[int],
    spec: TrainSpec,
    eval_sets: dict[str, EvalSet],
    sink: MetricSink | None,
    tag: str | None,
    progress: Progress,
    penalty: Penalty | None,
    board: Callable[[int, bool], bool] | None = None,
    call: CallCheckpoints | None = None,
) -> TrainResult:
    """:func:`train` in this process. ``board(done, finished)``: a worker's shared stop decision.
    ``call``: where the call checkpoints (every block when due) and from where it resumes."""
    K = int(params[0].shape[0])
    device = params[0].device
    state = optimizer.init(params)
    data.start(seeds, device)
    active = torch.ones(K, dtype=torch.bool, device=device)
    ceiling = torch.full((K,), float("inf"), device=device, dtype=params[0].dtype)
    ceiling_np = np.full(K, np.inf)
    diverged_step = np.full(K, -1, dtype=np.int64)
    detector = StationarityDetector(spec.stationarity, K) if spec.stationarity else None

    step_fn = _step_fn(model, loss, optimizer, spec.compile, penalty)
    eager_fn = _step_fn(model, loss, optimizer, False, penalty) if spec.compile else step_fn

    eval_steps: list[int] = []
    eval_values: dict[str, list[np.ndarray]] = {}

    def run_eval(at: int) -> None:
        if not eval_sets:
            return
        vals = _evaluate(model, params, loss, eval_sets)
        eval_steps.append(at)
        for name, v in vals.items():
            eval_values.setdefault(name, []).append(v)
            if sink is not None:
                sink.log(name, step=at, tag=tag, value=v)

    progress.add_total(spec.max_steps)
    t0 = time.perf_counter()
    history: list[np.ndarray] = []
    pending: list[np.ndarray] = []  # training losses not yet sent to the sink
    done = 0
    elapsed_before = 0.0  # training time before a resume
    # A source whose position cannot be captured is checkpointed only when the call completes.
    can_snapshot = True
    snap = call.partial() if call is not None else None
    if snap is None:
        run_eval(0)
    else:  # resume inside this call: everything as it was at the checkpoint
        _copy_params(params, snap["params"])
        _load_state(state, snap["opt_state"])
        active = snap["active"].to(device)
        ceiling = snap["ceiling"].to(device=device, dtype=params[0].dtype)
        ceiling_np = np.asarray(snap["ceiling_np"], dtype=np.float64)
        diverged_step = np.asarray(snap["diverged_step"], dtype=np.int64).copy()
        if detector is not None:
            detector.load_state_dict(snap["detector"])
        load_source_state(data, snap["source"], device)
        history = [np.asarray(snap["history"])]
        pending = [np.asarray(snap["pending"])] if len(snap["pending"]) else []
        eval_steps = [int(s) for s in snap["eval_steps"]]
        eval_values.update({name: list(np.asarray(v)) for name, v in snap["eval_values"].items()})
        done = int(snap["done"])
        elapsed_before = float(snap["elapsed"])
        if snap["eager"]:
            step_fn = eager_fn
        progress.update(done)

    def snapshot(source: dict[str, object]) -> dict[str, object]:
        """The call's whole state between two blocks (``source``: the data source's position)."""
        return {
            "done": done,
            "params": list(params),
            "opt_state": _state_payload(state),
            "active": active,
            "ceiling": ceiling,
            "ceiling_np": ceiling_np,
            "diverged_step": diverged_step,
            "detector": None if detector is None else detector.state_dict(),
            "source": source,
            "history": np.concatenate(history) if history else np.empty((0, K), dtype=np.float32),
            "pending": np.concatenate(pending) if pending else np.empty((0, K), dtype=np.float32),
            "eval_steps": list(eval_steps),
            "eval_values": {name: np.stack(v) for name, v in eval_values.items()},
            "eager": step_fn is eager_fn and spec.compile,
            "elapsed": elapsed_before + time.perf_counter() - t0,
        }

    while done < spec.max_steps:
        n = min(spec.block, spec.max_steps - done)
        if spec.eval_every:
            n = min(n, spec.eval_every - done % spec.eval_every)
        block = torch.empty(n, K, device=device, dtype=params[0].dtype)
        for i in range(n):
            x, y = data.next()
            lr_now = lr_t if spec.schedule is None else lr_t * _on(spec.schedule(done + i, spec.max_steps), device)
            with torch.no_grad():
                try:
                    with _compiling() if done + i == 0 else contextlib.nullcontext():
                        block[i], active = step_fn(params, state, x, y, lr_now, active, ceiling)
                except Exception as exc:
                    if step_fn is eager_fn or done + i > 0:
                        raise
                    warnings.warn(
                        f"torch.compile failed ({type(exc).__name__}: {exc}); training eagerly.",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    step_fn = eager_fn
                    block[i], active = step_fn(params, state, x, y, lr_now, active, ceiling)
            if done + i == 0:
                # Divergence is measured against each member's first loss.
                ceiling = block[0] * spec.divergence_factor
                ceiling_np = ceiling.cpu().numpy().astype(np.float64)
                ceiling = torch.where(torch.isfinite(ceiling), ceiling, torch.full_like(ceiling, float("inf")))
        losses = block.cpu().numpy()
        diverged_step = _first_bad(losses, np.where(np.isfinite(ceiling_np), ceiling_np, np.inf), diverged_step, done)
        history.append(losses)
        if sink is not None:
            pending.append(losses)
            _flush_train_loss(sink, pending, done + n, spec.log_every, tag, final=False)
        if detector is not None:
            detector.update(np.where(np.isfinite(losses), losses, np.nan))
        done += n
        progress.update(n)
        if spec.eval_every and done % spec.eval_every == 0 and done < spec.max_steps:
            run_eval(done)
        finished = False
        if detector is not None and spec.stop_when_stationary:
            finished = bool((detector.converged | (diverged_step >= 0)).all())
        if board is not None:  # a shard: stop when every shard is finished at this step
            finished = board(done, finished)
        if finished:
            progress.skip(spec.max_steps - done)
            break
        if call is not None and can_snapshot and done < spec.max_steps and call.due():
            try:
                source = source_state(data)
            except Exception:  # noqa: BLE001 - a source with state we cannot capture
                can_snapshot = False
            else:
                call.save(snapshot(source), part=True)
    if sink is not None:
        _flush_train_loss(sink, pending, done, spec.log_every, tag, final=True)
    if not eval_steps or eval_steps[-1] != done:  # an early stop right after an evaluation: not twice
        run_eval(done)
    wall = elapsed_before + time.perf_counter() - t0

    evals = {name: EvalHistory(np.asarray(eval_steps), np.stack(v)) for name, v in eval_values.items()}
    train_loss = np.concatenate(history) if history else np.empty((0, K))
    converged = detector.converged_step.copy() if detector else np.full(K, -1, dtype=np.int64)
    converged[diverged_step >= 0] = -1
    result = TrainResult(
        params=params,
        lr=lr_t.cpu().numpy(),
        seeds=np.asarray(seeds),
        steps=done,
        train_loss=train_loss,
        evals=evals,
        diverged_step=diverged_step,
        converged_step=converged,
        wall_seconds=wall,
    )
    if call is not None:
        call.save(_result_payload(result, state), part=False)
    return result


def _train_sharded(
    model: Model,
    params: list[Tensor],
    *,
    loss: LossFn,
    optimizer: Optimizer,
    lr_t: Tensor,
    data: BatchSource,
    seeds: Sequence[int],
    spec: TrainSpec,
    eval_sets: dict[str, EvalSet],
    sink: MetricSink | None,
    tag: str | None,
    progress: Progress,
    penalty: Penalty | None,
) -> TrainResult:
    """:func:`train` with the members split over ``spec.processes`` forked single-thread workers.

    Each worker runs :func:`_train_here` on its slice of members, writing their parameters in
    place into shared memory; the parent merges the results and replays the workers' metric calls
    (see :mod:`learnability.engine.processes`).
    """
    K = int(params[0].shape[0])
    slices = split_members(K, spec.processes)
    shared = [p.detach().clone().share_memory_() for p in params]
    seeds = list(seeds)

    def work(k: int, board: StopBoard) -> tuple[TrainResult, list | None]:
        sl = slices[k]
        recorder = RecordingSink() if sink is not None else None
        res = _train_here(
            model, [p[sl] for p in shared], loss=loss, optimizer=optimizer, lr_t=lr_t[sl], data=data,
            seeds=seeds[sl], spec=spec, eval_sets=eval_sets, sink=recorder, tag=tag, progress=NULL_PROGRESS,
            penalty=penalty, board=lambda done, finished: board.should_stop(k, done, finished),
        )  # fmt: skip
        res.params = []  # in shared memory already
        return res, None if recorder is None else recorder.calls

    progress.add_total(spec.max_steps)
    reported = 0

    def on_progress(done: int) -> None:
        nonlocal reported
        if done > reported:
            progress.update(done - reported)
            reported = done

    t0 = time.perf_counter()
    outcomes = run_shards(work, len(slices), on_progress=on_progress)
    wall = time.perf_counter() - t0
    with torch.no_grad():
        for p, s in zip(params, shared, strict=True):
            p.copy_(s)
    done_ok = [(sl, o) for sl, o in zip(slices, outcomes, strict=True) if isinstance(o, tuple)]
    errors = [o.message for o in outcomes if not isinstance(o, tuple)]
    if not done_ok:
        raise RuntimeError("every worker process failed:\n" + "\n".join(errors))
    steps = max(o[0].steps for _, o in done_ok)
    on_progress(steps)
    if steps < spec.max_steps:
        progress.skip(spec.max_steps - steps)

    dtype = done_ok[0][1][0].train_loss.dtype
    train_loss = np.full((steps, K), np.nan, dtype=dtype)
    diverged_step = np.full(K, -1, dtype=np.int64)
    converged_step = np.full(K, -1, dtype=np.int64)
    longest = max((o[0] for _, o in done_ok), key=lambda r: len(next(iter(r.evals.values())).steps) if r.evals else 0)
    evals = {
        name: EvalHistory(
            h.steps.copy(), np.full((len(h.steps), K), np.nan, dtype=np.result_type(h.values, np.float32))
        )
        for name, h in longest.evals.items()
    }
    for sl, (res, _) in done_ok:
        train_loss[: res.steps, sl] = res.train_loss
        diverged_step[sl] = res.diverged_step
        converged_step[sl] = res.converged_step
        for name, h in res.evals.items():
            evals[name].values[: len(h.steps), sl] = h.values
    merged = TrainResult(
        params=params,
        lr=lr_t.cpu().numpy(),
        seeds=np.asarray(seeds),
        steps=steps,
        train_loss=train_loss,
        evals=evals,
        diverged_step=diverged_step,
        converged_step=converged_step,
        wall_seconds=wall,
    )
    if sink is not None:
        records = [o[1] if isinstance(o, tuple) else None for o in outcomes]
        merge_records(records, [sl.stop - sl.start for sl in slices], sink)
    if errors:
        failed = np.concatenate(
            [np.arange(sl.start, sl.stop) for sl, o in zip(slices, outcomes, strict=True) if not isinstance(o, tuple)]
        )
        raise ShardError(merged, failed, errors)
    return merged
