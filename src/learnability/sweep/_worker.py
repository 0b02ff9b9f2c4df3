"""One run of a sweep, executed in a worker process (a local pool's or a Ray worker).

The worker runs the study exactly as ``learnability run`` does (:func:`learnability.runner.execute`)
into ``staging/RUN_ID/``, then moves the finished folder — complete, failed or interrupted — to
``runs/RUN_ID`` with one rename, so ``runs/`` only ever holds folders whose run has ended and a
killed sweep loses no finished run. An error inside the study is caught and returned: one failing
run never stops the sweep.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from learnability.sweep._layout import RUN_RECORD, RUNS_DIR, STAGING_DIR, move_aside
from learnability.sweep._modules import load_modules

__all__ = ["RunTask", "prepare_worker", "run_one"]

# Entries already imported by this process (workers are reused across runs).
_loaded_modules: set[str] = set()


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs for one run (plain data: it is pickled to the worker).

    Attributes:
        sweep_dir: absolute path of the sweep folder (on a cluster: on a shared file system).
        sweep_file: the sweep file, recorded as the run's command.
        run_id: the run's id (its folder name under ``runs/``).
        index: position in the plan.
        study: the study's registered name.
        smoke: start from the study's smoke size.
        overrides: flat dotted overrides (base, axis values, seed).
        modules: study modules to import first.
        threads: torch intra-op threads for the run.
        backend: "local" or "ray" (recorded).
        point: the run's axis values (recorded).
        gpus: Ray ``num_gpus`` for the task (0 unless the run's device is "cuda").
    """

    sweep_dir: str
    sweep_file: str
    run_id: str
    index: int
    study: str
    smoke: bool
    overrides: Mapping[str, Any]
    modules: Sequence[str]
    threads: int
    backend: str
    point: Mapping[str, Any] = field(default_factory=dict)
    gpus: float = 0.0


def prepare_worker(threads: int, modules: Sequence[str]) -> None:
    """Set this process's torch threads and import the study modules (once per process)."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    new = [m for m in modules if m not in _loaded_modules]
    if new:
        load_modules(new)
        _loaded_modules.update(new)


def short_error(exc: BaseException) -> str:
    """``"TypeName: message"`` (the full traceback stays in the run's provenance.json)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _publish(task: RunTask, staging: Path, record: dict[str, Any]) -> str | None:
    """Move the run folder written under ``staging`` to ``runs/RUN_ID``; its relative path."""
    sweep_dir = Path(task.sweep_dir)
    inner = [p for p in staging.iterdir() if p.is_dir()] if staging.is_dir() else []
    rel = None
    if len(inner) == 1:
        (inner[0] / RUN_RECORD).write_text(json.dumps(record, indent=2))
        target = sweep_dir / RUNS_DIR / task.run_id
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            move_aside(target, sweep_dir, task.run_id)
        os.rename(inner[0], target)
        rel = f"{RUNS_DIR}/{task.run_id}"
    if staging.is_dir() and not any(staging.iterdir()):
        staging.rmdir()
    return rel


def run_one(task: RunTask) -> dict[str, Any]:
    """Run one planned run; never raises for an error inside the study.

    Returns:
        The outcome: ``run_id``, ``index``, ``status`` ("complete" or "failed"), ``error``
        (``"TypeName: message"`` or None), ``path`` (relative to the sweep folder, None when
        no run folder was made), ``pid``, ``hostname``, ``threads``, ``seconds``.
    """
    from learnability.engine.checkpoints import ResumeError, has_checkpoint
    from learnability.runner import execute, resolve_config, resume_run
    from learnability.studies import get_study

    t0 = time.perf_counter()
    sweep_dir = Path(task.sweep_dir)
    staging = sweep_dir / STAGING_DIR / task.run_id
    # An unfinished attempt with a checkpoint is resumed: left in staging by a killed worker, or
    # in runs/ by an interrupted or failed run. Other unfinished attempts are moved aside.
    leftovers = sorted(p for p in staging.iterdir() if p.is_dir()) if staging.exists() else []
    published = sweep_dir / RUNS_DIR / task.run_id
    if published.is_dir() and has_checkpoint(published):
        leftovers.append(published)
    resumable = None
    for folder in leftovers:
        if resumable is None and has_checkpoint(folder):
            resumable = folder
        else:
            move_aside(folder, sweep_dir, task.run_id)
    if resumable is not None and resumable.parent != staging:
        staging.mkdir(parents=True, exist_ok=True)
        target = staging / resumable.name
        os.rename(resumable, target)
        resumable = target
    if staging.exists():
        for p in staging.iterdir():
            if p != resumable:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    staging.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "run_id": task.run_id,
        "index": task.index,
        "point": dict(task.point),
        "backend": task.backend,
        "pid": os.getpid(),
        "hostname": socket.gethostname(),
        "threads": task.threads,
        "started": _now(),
        "error": None,
    }
    status = "failed"
    try:
        prepare_worker(task.threads, task.modules)
        study = get_study(task.study)
        config = resolve_config(study, smoke=task.smoke, overrides=task.overrides)
        argv = ["learnability", "sweep", task.sweep_file, f"(run {task.run_id})"]
        if resumable is not None:
            try:
                resume_run(resumable, progress=False, threads=task.threads, argv=[*argv, "(resumed)"])
                record["resumed"] = True
            except ResumeError as exc:  # another config or code version: start afresh
                record["resume_refused"] = short_error(exc)
                move_aside(resumable, sweep_dir, task.run_id)
                resumable = None
        if resumable is None:
            execute(study, config, out=staging, progress=False, argv=argv)
        status = "complete"
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - recorded; the sweep goes on
        record["error"] = short_error(exc)
    except BaseException as exc:  # Ctrl-C: keep the folder, then stop
        record["error"] = short_error(exc)
        record["finished"] = _now()
        _publish(task, staging, record)
        raise
    record["finished"] = _now()
    path = _publish(task, staging, record)
    return {
        "run_id": task.run_id,
        "index": task.index,
        "status": status,
        "error": record["error"],
        "path": path,
        "pid": record["pid"],
        "hostname": record["hostname"],
        "threads": task.threads,
        "seconds": round(time.perf_counter() - t0, 3),
    }
