"""``run_sweep``: plan, then run what is not complete yet, recording each run as it finishes.

Resume rules. A run is identified by its run id (a digest of its resolved config), and its
folder is ``runs/RUN_ID``. Running a sweep again into the same sweep folder:

* skips every run whose folder is complete;
* resumes a failed, interrupted or killed run that holds a checkpoint from that checkpoint, in
  its own folder (see ``learnability resume``);
* moves the folder of a failed, interrupted or killed run without a usable checkpoint to
  ``attempts/RUN_ID-K`` (its traceback and partial metrics stay there) and runs it again into a
  fresh folder;
* runs every run that has no folder yet (new axis values, or a changed base config: a
  different config is a different run id).

Runs finish into ``runs/`` with one rename and ``results.parquet`` is rewritten as they finish,
so killing the sweep loses no finished run; the run that was in flight continues from its last
checkpoint next time.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from learnability._validation import check_choice, check_in_range
from learnability.engine.checkpoints import has_checkpoint
from learnability.runs import write_atomic
from learnability.sweep._aggregate import report_sweep
from learnability.sweep._backends import (
    BACKENDS,
    Resources,
    choose_resources,
    iter_local,
    iter_ray,
    iter_slurm,
)
from learnability.sweep._layout import (
    LOCK_FILE,
    PLAN_FILE,
    RUNS_DIR,
    STAGING_DIR,
    STATE_FILE,
    SWEEP_FILE,
    move_aside,
)
from learnability.sweep._plan import PlannedRun, SweepError, SweepPlan, plan_sweep
from learnability.sweep._results import ResultsTable, read_state
from learnability.sweep._worker import RunTask

__all__ = ["DEFAULT_OUT", "build_tasks", "run_sweep"]

DEFAULT_OUT = "sweeps"
SLURM_DIR = "slurm"  # submitit's job scripts and logs, inside the sweep folder
"""Parent folder of sweep folders when ``out`` is not given (``sweeps/NAME``)."""
HISTORY_DIR = "history"
OWNER = "learnability sweep"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _write_atomic(path: Path, text: str) -> None:
    write_atomic(path, text)


@contextlib.contextmanager
def _locked(sweep_dir: Path) -> Iterator[None]:
    """One sweep process per sweep folder at a time (an advisory lock, released on any exit)."""
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform: trust the user
        yield
        return
    with open(sweep_dir / LOCK_FILE, "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            raise SweepError(
                [
                    (
                        f"Another `learnability sweep` is running in {sweep_dir} "
                        f"(pid {holder}); wait for it to end or stop it first."
                    )
                ]
            ) from None
        f.truncate(0)
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _write_plan(sweep_dir: Path, plan: SweepPlan) -> dict[str, Any]:
    """Copy the sweep file and write plan.json; an earlier, different file goes to history/."""
    copy = sweep_dir / SWEEP_FILE
    if copy.exists() and copy.read_text(encoding="utf-8") != plan.text:
        old = sweep_dir / HISTORY_DIR / _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
        old.mkdir(parents=True, exist_ok=True)
        for name in (SWEEP_FILE, PLAN_FILE):
            if (sweep_dir / name).exists():
                os.replace(sweep_dir / name, old / name)
    plan_json = plan.to_json()
    _write_atomic(copy, plan.text)
    _write_atomic(sweep_dir / PLAN_FILE, json.dumps(plan_json, indent=2, default=str))
    return plan_json


def _record_invocation(sweep_dir: Path, plan: SweepPlan, invocation: dict[str, Any], *, new: bool) -> None:
    path = sweep_dir / STATE_FILE
    state = read_state(sweep_dir)
    state.update(name=plan.name, study=plan.study)
    invocations = state.setdefault("invocations", [])
    if new or not invocations:
        invocations.append(invocation)
    else:
        invocations[-1] = invocation
    _write_atomic(path, json.dumps(state, indent=2, default=str))


class _Bar:
    """The sweep's single progress bar: runs done (skipped ones included) out of planned."""

    def __init__(self, *, enabled: bool, total: int, initial: int, desc: str) -> None:
        self._bar = None
        if enabled:
            from learnability._progress import _in_notebook_with_widgets

            if _in_notebook_with_widgets():
                from tqdm.notebook import tqdm
            else:
                from tqdm import tqdm
            self._bar = tqdm(
                total=total, initial=initial, desc=desc, unit="run", dynamic_ncols=True, file=sys.stderr, leave=True
            )

    def update(self, failed: int) -> None:
        if self._bar is not None:
            if failed:
                self._bar.set_postfix(failed=failed, refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def run_sweep(
    path: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    threads: int | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    fail_fast: bool = False,
    slurm: dict[str, Any] | None = None,
) -> Path:
    """Run (or resume) the sweep described by a sweep file; return the sweep folder.

    Every run's config is validated before anything is created. The sweep folder is
    ``OUT/NAME`` (NAME: the file's ``name``, else its stem); running the same file again resumes
    it (see :mod:`learnability.sweep._sweep` for the rules). At the end ``results.parquet``,
    ``aggregate.parquet``, ``figures/`` and ``report.md`` are (re)written; a failed run does
    not stop the sweep and is listed there with its error.

    Args:
        path: the sweep file (TOML).
        backend: ``"local"`` (a process pool on this machine) or ``"ray"`` (one Ray task per run,
            on the Ray instance or cluster this process is connected to, else a new local one).
        workers: local: worker processes (default: one per core, at most one per run); ray: the
            most runs in flight (default: as many as the cluster's CPUs allow).
        threads: torch threads per run (default: the file's ``[resources] threads``, else chosen
            so that workers x threads fills the cores; 1 on Ray).
        out: parent folder of the sweep folder (default ``"sweeps"``).
        progress: show one progress bar of runs done out of runs planned.
        slurm: with ``backend="slurm"``: submitit parameters (``slurm_partition``,
            ``timeout_min``, ``mem_gb``, ...; the key ``cluster`` picks submitit's cluster, e.g.
            ``"local"`` to run the jobs as local processes).
        fail_fast: stop at the first failed run (the runs in flight are stopped and recorded as
            interrupted; running the file again resumes them). By default a failed run does not
            stop the others.

    Returns:
        The sweep folder. Whether every run completed is in its results table
        (:func:`learnability.sweep.failed_runs` lists those that did not).

    Raises:
        SweepError: for an invalid sweep file or run config (all problems listed), a bad
            argument, ray missing for ``backend="ray"``, or another sweep running in the folder.
        KeyboardInterrupt: after recording what finished (workers are stopped).
    """
    check_choice(backend, "backend", OWNER, BACKENDS)
    for name, value in (("workers", workers), ("threads", threads)):
        if value is not None:
            check_in_range(value, name, OWNER, low=1, kind=int)
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise SweepError(
                [("The ray backend needs the optional dependency ray: pip install 'learnability[ray]'.")]
            ) from None
    if backend == "slurm":
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise SweepError(
                ["The slurm backend needs the optional dependency submitit: pip install 'learnability[slurm]'."]
            ) from None
    plan = plan_sweep(path, check_device=backend == "local")
    sweep_dir = (Path(out) if out is not None else Path(DEFAULT_OUT)) / plan.name
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with _locked(sweep_dir):
        return _run_locked(
            sweep_dir.resolve(),
            plan,
            backend=backend,
            workers=workers,
            threads=threads if threads is not None else plan.threads,
            progress=progress,
            fail_fast=fail_fast,
            slurm=slurm,
        )


def build_tasks(plan: SweepPlan, runs: Sequence[PlannedRun], sweep_dir: Path, resources: Resources) -> list[RunTask]:
    """The worker tasks of ``runs``: threads from ``resources``; on Ray, ``plan.gpus`` GPUs for
    each run whose device is ``"cuda"``."""
    return [
        RunTask(
            sweep_dir=str(sweep_dir),
            sweep_file=str(plan.source),
            run_id=r.run_id,
            index=r.index,
            study=plan.study,
            smoke=plan.smoke,
            overrides=r.overrides,
            modules=plan.modules,
            threads=resources.threads,
            backend=resources.backend,
            point=r.point,
            gpus=plan.gpus if str(r.config.get("device", "cpu")).startswith("cuda") else 0.0,
        )
        for r in runs
    ]


def _run_locked(
    sweep_dir: Path,
    plan: SweepPlan,
    *,
    backend: str,
    workers: int | None,
    threads: int | None,
    progress: bool,
    fail_fast: bool = False,
    slurm: dict[str, Any] | None = None,
) -> Path:
    plan_json = _write_plan(sweep_dir, plan)
    table = ResultsTable(sweep_dir, plan_json)
    todo = []
    for run in plan.runs:
        status = table.rows[run.run_id]["status"]
        if status == "complete":
            continue
        folder = sweep_dir / RUNS_DIR / run.run_id
        if folder.exists() and not has_checkpoint(folder):  # with a checkpoint: resumed by the worker
            move_aside(folder, sweep_dir, run.run_id)
            table.refresh(run.run_id, recount=True)
        todo.append(run)
    resources = choose_resources(backend, len(todo), workers=workers, threads=threads)
    tasks = build_tasks(plan, todo, sweep_dir, resources)
    invocation: dict[str, Any] = {
        "started": _now(),
        "finished": None,
        "status": "running",
        "pid": os.getpid(),
        "hostname": socket.gethostname(),
        "resources": resources.to_json(),
        "planned": len(plan.runs),
        "skipped": len(plan.runs) - len(todo),
        "executed": 0,
        "failed": 0,
    }
    _record_invocation(sweep_dir, plan, invocation, new=True)
    table.write()
    bar = _Bar(enabled=progress, total=len(plan.runs), initial=len(plan.runs) - len(todo), desc=f"sweep {plan.name}")
    try:
        if tasks:
            if backend == "local":
                runner = iter_local(tasks, workers=resources.workers)
            elif backend == "ray":
                runner = iter_ray(tasks, max_in_flight=resources.workers)
            else:
                options = dict(slurm or {})
                runner = iter_slurm(
                    tasks,
                    folder=sweep_dir / SLURM_DIR,
                    max_in_flight=resources.workers,
                    parameters=options,
                    cluster=options.pop("cluster", None),
                )
            with contextlib.closing(runner):
                for outcome in runner:
                    table.refresh(outcome["run_id"], outcome)
                    # Rewritten after every run (milliseconds for thousands of rows), so the
                    # table is current whenever the sweep is killed.
                    table.write()
                    invocation["executed"] += 1
                    invocation["failed"] += outcome["status"] != "complete"
                    bar.update(invocation["failed"])
                    if fail_fast and outcome["status"] != "complete":
                        invocation["status"] = "stopped"  # --fail-fast: the rest is not run
                        break
        if invocation["status"] == "running":
            invocation["status"] = "complete"
    except BaseException:
        invocation["status"] = "interrupted"
        raise
    finally:
        bar.close()
        table.write()
        with contextlib.suppress(OSError):  # only when empty: it may hold a killed run's folder
            (sweep_dir / STAGING_DIR).rmdir()
        invocation["finished"] = _now()
        _record_invocation(sweep_dir, plan, invocation, new=False)
        if invocation["status"] in ("complete", "stopped"):
            report_sweep(sweep_dir)
        else:
            with contextlib.suppress(Exception):  # the interruption matters more
                report_sweep(sweep_dir)
    return sweep_dir


def failed_runs(sweep_dir: str | Path) -> list[tuple[str, str, str]]:
    """``(run_id, status, error)`` of every run of a sweep folder that did not complete."""
    from learnability.sweep._results import load_sweep

    table = load_sweep(sweep_dir)
    bad = table[table["status"] != "complete"]
    return [(str(r.run_id), str(r.status), str(r.error or "")) for r in bad.itertuples()]
