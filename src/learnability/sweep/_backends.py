"""Where the runs of a sweep execute: a local process pool, or Ray tasks.

Both backends take the same :class:`~learnability.sweep._worker.RunTask` s and yield one outcome
per run as runs finish (in completion order), so the caller can record each finished run at once.

Threads. On a small CPU, separate single-threaded processes train small models faster than one
process with several threads (measured 1.7-2x on the project's 2-core machine: per-operation
overhead does not parallelise, processes do). So the local backend's default is one worker per
core with one torch thread each, and only a sweep with fewer runs than cores gives the spare cores
to the workers as threads. ``workers x threads`` never exceeds the cores unless both are asked
for explicitly (then a ``RuntimeWarning`` says so).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from learnability._words import plural
from learnability.sweep._worker import RunTask, run_one, short_error

__all__ = [
    "BACKENDS",
    "Resources",
    "available_cores",
    "choose_resources",
    "iter_local",
    "iter_ray",
    "iter_slurm",
    "local_pool",
    "pool_context",
    "process_alive",
]

BACKENDS = ("local", "ray", "slurm")
# Start method of the local pool. A fork server is a fresh interpreter that imports torch and the
# studies once (PRELOAD) and forks every worker from that state: workers start warm, inherit no
# thread pools, locks or CUDA state of the sweep process, and later pools of the same process
# reuse the server. Where fork servers do not exist (Windows), each worker is spawned afresh.
START_METHODS = ("forkserver", "spawn")
PRELOAD = "learnability.sweep._preload"
# Seconds to wait for terminated workers to exit when a sweep is interrupted.
TERMINATE_GRACE_S = 10.0
# Ray retries a task whose worker died (e.g. a lost node) this many times; an error raised by the
# study itself is never retried (run_one returns it as an outcome).
RAY_MAX_RETRIES = 1

# Seconds between two checks, in a worker, that the sweep process is still alive.
PARENT_POLL_S = 1.0
# prctl(2) option: the signal this process gets when its parent dies (Linux).
_PR_SET_PDEATHSIG = 1

_DIED = (
    "BrokenProcessPool: a worker process of the local pool died abruptly (killed, out of "
    "memory, or a crash in native code) while this run was in flight; re-run the sweep to "
    "retry it"
)


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Resources:
    """How a sweep's runs are spread over the machine (recorded in ``sweep.json``).

    Attributes:
        backend: "local" or "ray".
        workers: local: worker processes; ray: the most tasks in flight (0: no limit, the
            cluster's free CPUs decide).
        threads: torch threads per run (= Ray ``num_cpus`` per task).
        cores: CPU cores seen by the sweep process.
        requested_workers, requested_threads: what the caller asked for (None: chosen).
        reason: why, in words.
    """

    backend: str
    workers: int
    threads: int
    cores: int
    requested_workers: int | None
    requested_threads: int | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def choose_resources(
    backend: str, n_runs: int, *, workers: int | None, threads: int | None, cores: int | None = None
) -> Resources:
    """Workers and threads per run for ``n_runs`` runs to execute.

    Local: without ``workers`` and ``threads``, one single-threaded worker per core (at most one
    per run; spare cores become threads). Given one of them, the other fills the cores. Ray:
    ``threads`` (default 1) is each task's ``num_cpus``; ``workers`` only caps the tasks in flight.
    """
    cores = cores or available_cores()
    if backend == "slurm":
        t = threads or 1
        return Resources(
            "slurm",
            workers or 0,
            t,
            cores,
            workers,
            threads,
            f"one Slurm job per run with cpus_per_task={t}; the scheduler decides how many run at once"
            + (f" (at most {workers} in flight)" if workers else ""),
        )
    if backend == "ray":
        t = threads or 1
        return Resources(
            "ray",
            workers or 0,
            t,
            cores,
            workers,
            threads,
            f"one Ray task per run with num_cpus={t}; the cluster's free CPUs decide "
            "how many run at once" + (f" (at most {workers})" if workers else ""),
        )
    runs = max(1, n_runs)
    if workers is None and threads is None:
        used = min(cores, runs)
        t = max(1, cores // used)
        reason = (
            f"{plural(used, 'single-threaded worker')}, one per core: "
            "separate processes beat shared threads for small models"
            if t == 1
            else f"{plural(used, 'worker')} for {plural(runs, 'run')} on {cores} cores: spare cores as threads"
        )
    elif workers is None:
        assert threads is not None
        t = threads
        used = max(1, min(cores // t, runs))
        reason = f"{plural(t, 'thread')} per run as asked; {plural(used, 'worker')} fill the {cores} cores"
    else:
        used = min(workers, runs)
        t = threads if threads is not None else max(1, cores // used)
        reason = (
            f"{plural(used, 'worker')} as asked"
            + (f" (of {workers}: only {plural(runs, 'run')} to do)" if used < workers else "")
            + (
                f"; {plural(t, 'thread')} each as asked"
                if threads is not None
                else f"; {plural(t, 'thread')} each fill the {cores} cores"
            )
        )
    if used * t > cores:
        warnings.warn(
            f"{used} workers x {t} threads oversubscribe the {cores} cores of this machine; "
            "runs will be slower than with fewer workers or threads",
            RuntimeWarning,
            stacklevel=3,
        )
    return Resources("local", used, t, cores, workers, threads, reason)


def _failure(task: RunTask, error: str) -> dict[str, Any]:
    return {
        "run_id": task.run_id,
        "index": task.index,
        "status": "failed",
        "error": error,
        "path": None,
        "pid": None,
        "hostname": None,
        "threads": task.threads,
        "seconds": None,
    }


def _terminate(executor: ProcessPoolExecutor) -> None:
    """Stop the pool's workers now (an interrupted sweep must not wait for runs in flight)."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(TERMINATE_GRACE_S)
        if p.is_alive():
            p.kill()


def pool_context() -> multiprocessing.context.BaseContext:
    """The multiprocessing context of the local pool (see ``START_METHODS``)."""
    methods = multiprocessing.get_all_start_methods()
    method = next(m for m in START_METHODS if m in methods)
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        # Takes effect when this process starts its fork server (its first pool).
        context.set_forkserver_preload([PRELOAD])
    return context


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    except OSError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): kill(pid, 0) said it exists
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _watch_parent(sweep_pid: int) -> None:
    while True:
        time.sleep(PARENT_POLL_S)
        if not process_alive(sweep_pid):
            os._exit(1)  # the sweep is gone: nobody will collect this run; its staging folder is retried


def die_with_sweep(sweep_pid: int) -> None:
    """Worker initializer: end this worker when the sweep process ``sweep_pid`` dies.

    A killed sweep (``kill -9``, a lost terminal, a preempted job) otherwise leaves its workers
    training for minutes, holding memory and the sweep's stdout. Two mechanisms, so that one
    covers what the other cannot: on Linux the kernel sends SIGKILL when the worker's parent (the
    fork server, which exits with the sweep) dies (``prctl(PR_SET_PDEATHSIG)``); everywhere a
    daemon thread checks every ``PARENT_POLL_S`` seconds that the sweep process is alive.
    """
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if not process_alive(sweep_pid):  # died before the guards were in place
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(sweep_pid,), name="die-with-sweep", daemon=True).start()


def local_pool(workers: int) -> ProcessPoolExecutor:
    """The local backend's process pool: ``workers`` processes that die with this process."""
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=pool_context(), initializer=die_with_sweep, initargs=(os.getpid(),)
    )


def iter_local(tasks: Sequence[RunTask], *, workers: int) -> Iterator[dict[str, Any]]:
    """Run ``tasks`` on a pool of ``workers`` processes; yield outcomes as runs finish.

    At most ``workers`` runs are submitted at a time, so the runs in flight are known: if a
    worker process dies (killed, out of memory), those runs are reported failed and a fresh pool
    goes on with the rest. Closing the generator (or Ctrl-C) terminates the workers.
    """
    queue = deque(tasks)
    while queue:
        executor = local_pool(workers)
        in_flight: dict[Future[dict[str, Any]], RunTask] = {}
        try:
            broken = False
            while (queue and not broken) or in_flight:
                while queue and not broken and len(in_flight) < workers:
                    task = queue.popleft()
                    in_flight[executor.submit(run_one, task)] = task
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: in_flight[f].index):
                    task = in_flight.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        broken = True
                        outcome = _failure(task, _DIED)
                    except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable result
                        outcome = _failure(task, short_error(exc))
                    yield outcome
        except BaseException:
            for future in in_flight:
                future.cancel()
            _terminate(executor)
            raise
        finally:
            executor.shutdown(wait=True, cancel_futures=True)


def iter_ray(tasks: Sequence[RunTask], *, max_in_flight: int = 0) -> Iterator[dict[str, Any]]:
    """Run each task as a Ray task with its declared ``num_cpus`` / ``num_gpus``.

    Uses the Ray instance this process is connected to (``ray.init`` called by the user, e.g.
    ``ray.init(address="auto")`` on a cluster), or starts one with ``ray.init()`` — which joins
    the cluster named by ``RAY_ADDRESS`` if set — and shuts it down at the end.

    Raises:
        ImportError: when ray is not installed (``pip install "learnability[ray]"``).
    """
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(logging_level=logging.WARNING)
    remote = ray.remote(run_one)
    queue = deque(tasks)
    in_flight: dict[Any, RunTask] = {}
    try:
        while queue or in_flight:
            while queue and (max_in_flight <= 0 or len(in_flight) < max_in_flight):
                task = queue.popleft()
                ref = remote.options(num_cpus=task.threads, num_gpus=task.gpus, max_retries=RAY_MAX_RETRIES).remote(
                    task
                )
                in_flight[ref] = task
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                task = in_flight.pop(ref)
                try:
                    outcome = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a dead worker, a lost node
                    outcome = _failure(task, short_error(exc).splitlines()[0])
                yield outcome
    except BaseException:
        for ref in in_flight:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


#: Seconds between polls of the Slurm jobs in flight.
SLURM_POLL_S = 1.0


def iter_slurm(
    tasks: Sequence[RunTask],
    *,
    folder: str | Path,
    max_in_flight: int = 0,
    parameters: dict[str, Any] | None = None,
    cluster: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Run each task as a job through ``submitit`` (Slurm on a cluster; ``cluster="local"``
    runs the jobs as local processes, as the tests do).

    Each job runs :func:`~learnability.sweep._worker.run_one` in the sweep folder exactly as a
    local worker does, so resume and aggregation are the same for every backend. A job that
    fails, is preempted or killed yields a failed outcome for its run; the others go on.

    Args:
        tasks: the runs to execute.
        folder: where submitit keeps the jobs' scripts and logs (inside the sweep folder).
        max_in_flight: most jobs submitted and not finished at once (0: all at once).
        parameters: submitit executor parameters, e.g. ``{"slurm_partition": "gpu",
            "timeout_min": 60}`` (``cpus_per_task`` and ``gpus_per_node`` come from each task).
        cluster: submitit's cluster (None: Slurm where ``sbatch`` exists, else local).

    Raises:
        ImportError: when submitit is not installed (``pip install "learnability[slurm]"``).
    """
    import submitit

    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    if parameters:
        executor.update_parameters(**parameters)
    queue = deque(tasks)
    in_flight: dict[Any, RunTask] = {}
    try:
        while queue or in_flight:
            while queue and (max_in_flight <= 0 or len(in_flight) < max_in_flight):
                task = queue.popleft()
                executor.update_parameters(cpus_per_task=task.threads, gpus_per_node=int(task.gpus))
                in_flight[executor.submit(run_one, task)] = task
            done = [job for job in in_flight if job.done()]
            if not done:
                time.sleep(SLURM_POLL_S)
                continue
            for job in done:
                task = in_flight.pop(job)
                try:
                    outcome = job.result()
                except Exception as exc:  # noqa: BLE001 - a failed, preempted or killed job
                    outcome = _failure(task, short_error(exc).splitlines()[0])
                yield outcome
    except BaseException:
        for job in in_flight:
            job.cancel(check=False)
        raise
