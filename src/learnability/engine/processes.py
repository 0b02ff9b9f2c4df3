"""The process layout: the K members split into shards, one single-thread worker process each.

For tiny matrices two single-thread processes train faster than one two-thread process (the
threads of one process synchronise on every small operation; see ``shared/perf-notes.md`` and
``learnability bench``). :func:`~learnability.engine.loop.train` uses this module when
``TrainSpec(processes=n)`` asks for n > 1; nothing else changes for the caller:

- member k's trajectory is the one it has in the in-process run (each worker runs the same loop on
  its members; a member's numbers never depend on the others);
- the metric sink receives the same calls in the same order, with every member's values (each
  worker records its calls; the parent merges them member-wise, see :func:`merge_records`);
- divergence and stationarity are decided per member as in-process; an early stop
  (``stop_when_stationary``) happens at the same step in every shard, the first block end at which
  every member of every shard is finished (:class:`StopBoard`);
- a worker that crashes loses only its own members: the others finish, and the caller receives a
  :class:`ShardError` holding the merged result (the lost members' rows NaN).

Workers are forked (so closures — a teacher, a penalty, metric functions — need not be picklable)
and write the parameters in place into shared memory. Where ``fork`` does not exist (Windows) or
on a GPU (a CUDA context does not survive ``fork``) the layout falls back to one process.

:func:`pick_processes` chooses the layout by size: small models sharded over the cores, large
ones threaded.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np
import torch

__all__ = [
    "SMALL_MODEL_FLOPS",
    "RecordingSink",
    "ShardError",
    "StopBoard",
    "fork_available",
    "merge_records",
    "pick_processes",
    "run_shards",
    "split_members",
]

# Below this many multiply-add FLOPs per model-step (forward + backward of the weight matrices),
# per-operation overhead dominates and single-thread processes win; W_B (2.4 MFLOP) is far below,
# W_A (95 MFLOP) above (see ``learnability bench``).
SMALL_MODEL_FLOPS = 2e7
# Fewest members a shard should hold: below this, per-step overhead is paid for too few members.
MIN_SHARD_MEMBERS = 4
# Seconds between the parent's looks at its workers (progress, deaths).
_POLL_S = 0.2
# Seconds a finished worker sleeps between looks at the other shards' progress.
_WAIT_S = 0.0005


def fork_available() -> bool:
    """Whether worker processes can be forked here (not on Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def pick_processes(
    flops_per_model_step: float, members: int, *, device: str | torch.device = "cpu", cores: int | None = None
) -> int:
    """The process count for a run: >1 shards small models across the cores, 1 keeps them threaded.

    Args:
        flops_per_model_step: forward + backward FLOPs of one member's step (for a stacked MLP,
            ``6 * batch * sum(in * out)``: :func:`learnability.bench.flops_per_model_step`).
        members: K.
        device: the training device; only CPU runs are sharded.
        cores: cores available (default: this process's CPU affinity).

    Returns:
        ``min(cores, members // MIN_SHARD_MEMBERS)`` for a small model on a CPU that can fork,
        otherwise 1. Pass it as ``TrainSpec(processes=...)``.
    """
    cores = _cores() if cores is None else cores
    if torch.device(device).type != "cpu" or not fork_available() or flops_per_model_step >= SMALL_MODEL_FLOPS:
        return 1
    return max(1, min(cores, members // MIN_SHARD_MEMBERS))


def split_members(members: int, shards: int) -> list[slice]:
    """Contiguous, balanced slices of ``range(members)``: sizes differ by at most one."""
    shards = max(1, min(shards, members))
    bounds = np.linspace(0, members, shards + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


class StopBoard:
    """Shared, per-shard progress that lets every shard stop early at the same step.

    In-process, training stops at the first block end at which every member is finished
    (quasi-stationary or diverged). A member's status depends on its own losses only and never
    reverts, so each shard knows when *its* members are all finished; it must then learn whether
    the others are finished at the same step. A shard that is not finished continues regardless, so
    only finished shards wait (they have nothing to lose by waiting).

    For shard k at step ``done``: finished if it reported ``finished_at[k] <= done``; not finished
    if it reported ``steps_done[k] >= done`` without that, or if it died before reporting ``done``
    (its members will not finish); otherwise unknown yet. Every shard reaching ``done`` sees the
    same answer, so all stop at the same step.
    """

    def __init__(self, shards: int, ctx: Any) -> None:
        self.n = shards
        self._done = ctx.RawArray("q", shards)  # steps completed by each shard
        self._finished = ctx.RawArray("q", [-1] * shards)  # first step at which all its members were
        self._dead = ctx.RawArray("b", shards)

    def steps_done(self, live_only: bool = True) -> int:
        vals = [self._done[k] for k in range(self.n) if not (live_only and self._dead[k])]
        return min(vals) if vals else 0

    def mark_dead(self, k: int) -> None:
        self._dead[k] = 1

    def report(self, k: int, done: int, finished: bool) -> None:
        """Shard k completed ``done`` steps; ``finished``: all its members are finished."""
        if finished and self._finished[k] < 0:
            self._finished[k] = done  # written before steps_done: readers that see one see both
        self._done[k] = done

    def should_stop(self, k: int, done: int, finished: bool) -> bool:
        """Report, then whether every shard is finished at ``done`` (waits only when ``finished``)."""
        self.report(k, done, finished)
        if not finished:
            return False
        while True:
            unknown = False
            for j in range(self.n):
                seen = self._done[j]  # read before finished_at (see report)
                fin = self._finished[j]
                if 0 <= fin <= done:
                    continue
                if seen >= done or self._dead[j]:
                    return False
                unknown = True
            if not unknown:
                return True
            time.sleep(_WAIT_S)


class RecordingSink:
    """A metric sink that records its calls, for a worker to send them to the parent."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def log_block(self, series: str, steps: Any, values: np.ndarray, *, tag: str | None = None) -> None:
        self.calls.append(("log_block", (series, np.asarray(steps), np.asarray(values)), {"tag": tag}))

    def log(self, series: str, *, step: int | None = None, tag: str | None = None, value: object = None) -> None:
        self.calls.append(("log", (series,), {"step": step, "tag": tag, "value": value}))


def merge_records(
    records: Sequence[list[tuple[str, tuple[Any, ...], dict[str, Any]]] | None], sizes: Sequence[int], sink: Any
) -> None:
    """Replay the shards' recorded calls on ``sink``, each call's per-member values joined.

    Every shard makes the same sequence of calls (same series, steps and tags) with its own
    members' values: ``log_block`` values (n, K_i), ``log`` values (K_i, ...). A lost shard
    (``None``) contributes NaN.
    """
    template = next((r for r in records if r is not None), None)
    if template is None:
        return
    for c, (method, args, kwargs) in enumerate(template):
        parts = []
        for rec, size in zip(records, sizes, strict=True):
            if rec is not None and c < len(rec):
                parts.append(np.asarray(rec[c][1][2] if method == "log_block" else rec[c][2]["value"]))
            else:  # lost shard: NaN of the right shape
                ref = np.asarray(args[2] if method == "log_block" else kwargs["value"], dtype=np.float64)
                shape = (ref.shape[0], size) if method == "log_block" else (size, *ref.shape[1:])
                parts.append(np.full(shape, np.nan))
        if method == "log_block":
            sink.log_block(args[0], args[1], np.concatenate(parts, axis=1), tag=kwargs["tag"])
        else:
            sink.log(args[0], step=kwargs["step"], tag=kwargs["tag"], value=np.concatenate(parts, axis=0))


class ShardError(RuntimeError):
    """Some worker processes failed; the others' results are kept.

    Attributes:
        result: the merged result (a :class:`~learnability.engine.loop.TrainResult`); the lost
            members' losses and evaluations are NaN and their parameters are as the worker left them.
        failed: (n,) indices of the lost members.
        errors: one message per failed shard.
    """

    def __init__(self, result: Any, failed: np.ndarray, errors: list[str]) -> None:
        self.result, self.failed, self.errors = result, failed, errors
        super().__init__(
            f"{len(errors)} worker process(es) failed; members {failed.tolist()} are lost, the others' "
            "results are in this error's .result:\n" + "\n".join(errors)
        )


@dataclass
class _Failure:
    message: str


def _child(fn: Callable[[int, StopBoard], Any], k: int, board: StopBoard, conn: Connection) -> None:
    # One thread per worker: the point of the layout. Forked children must not use the parent's
    # OpenMP pool anyway (DataLoader workers do the same).
    torch.set_num_threads(1)
    try:
        import torch._inductor.config as inductor_config

        inductor_config.compile_threads = 1  # no compile subprocess pool per worker
    except ImportError:  # pragma: no cover - torch without inductor
        pass
    try:
        out: Any = fn(k, board)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        out = _Failure(f"shard {k}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    conn.send(out)
    conn.close()


def run_shards(
    fn: Callable[[int, StopBoard], Any], shards: int, *, on_progress: Callable[[int], None] | None = None
) -> list[Any]:
    """Run ``fn(k, board)`` for k < shards, each in a forked single-thread process.

    Args:
        fn: the work of shard k; returns a picklable result. It may report its progress on the
            :class:`StopBoard` (``board.report`` / ``board.should_stop``).
        shards: worker processes.
        on_progress: called with the steps every live shard has completed, while waiting.

    Returns:
        One entry per shard: ``fn``'s result, or a :class:`_Failure` naming why it was lost (an
        exception in ``fn``, or the process died: killed, out of memory, a crash in native code).
    """
    ctx = multiprocessing.get_context("fork")
    board = StopBoard(shards, ctx)
    procs, conns = [], []
    try:
        for k in range(shards):
            recv, send = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_child, args=(fn, k, board, send), daemon=True, name=f"learnability-shard-{k}")
            p.start()
            send.close()
            procs.append(p)
            conns.append(recv)
        results: list[Any] = [None] * shards
        pending = set(range(shards))
        while pending:
            ready = wait([conns[k] for k in pending] + [procs[k].sentinel for k in pending], timeout=_POLL_S)
            for k in list(pending):
                if conns[k] in ready or procs[k].sentinel in ready:
                    try:
                        results[k] = conns[k].recv()
                    except (EOFError, OSError):
                        procs[k].join()
                        results[k] = _Failure(f"shard {k}: worker process died (exit code {procs[k].exitcode})")
                    if isinstance(results[k], _Failure):
                        board.mark_dead(k)
                    pending.discard(k)
            if on_progress is not None:
                on_progress(board.steps_done())
        return results
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():  # only on an interrupt of the parent
                p.terminate()
                p.join()
        for c in conns:
            c.close()
