"""A sweep folder, read back: its plan and one record per planned run (status, config, summary).

``learnability.sweep`` writes a sweep folder; this module only reads one, so that whatever needs a
finished sweep's numbers (a study that summarises a sweep in its report, a notebook) can read
them without importing the machinery that runs sweeps. It knows the folder layout and the run
folder (:mod:`learnability.runs`), no study and nothing else of the sweep.

Layout of a sweep folder (``OUT/NAME``)::

    sweep.toml          the sweep file, copied as it was run
    plan.json           the expanded plan: every run's id, axis values, seed, overrides, config
    sweep.json          how the sweep was run: one record per invocation (backend, workers,
                        threads per worker, runs executed / skipped / failed, times)
    runs/RUN_ID/        one ordinary run folder per run (plus sweep_run.json: its place in the
                        sweep and the worker that ran it)
    attempts/RUN_ID-K/  earlier failed, interrupted or killed attempts, moved aside before a retry
    staging/RUN_ID/     a run in progress (moved into runs/ when it ends, failed or not)
    results.parquet     one row per planned run (see learnability.sweep.load_sweep)
    aggregate.parquet   mean and 95% CI over seeds per group of axis values and metric
    figures/            one figure per headline metric and numeric axis (PNG and SVG)
    report.md           the sweep report

Example::

    >>> from learnability.sweep_folder import read_sweep_folder
    >>> sweep = read_sweep_folder("sweeps/parameter-count")        # doctest: +SKIP
    >>> [(r.run_id, r.status) for r in sweep.runs]                  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from learnability.runs import PROVENANCE_FILE, Run, read_run

__all__ = [
    "AGGREGATE_FILE",
    "ATTEMPTS_DIR",
    "FIGURES_DIR",
    "LOCK_FILE",
    "PLAN_FILE",
    "REPORT_FILE",
    "RESULTS_FILE",
    "RUNS_DIR",
    "RUN_RECORD",
    "STAGING_DIR",
    "STATE_FILE",
    "SWEEP_FILE",
    "SweepFolder",
    "SweepRun",
    "attempts_of",
    "read_plan",
    "read_sweep_folder",
    "read_sweep_run",
    "sweep_dir_of",
]

SWEEP_FILE = "sweep.toml"
PLAN_FILE = "plan.json"
STATE_FILE = "sweep.json"
RESULTS_FILE = "results.parquet"
AGGREGATE_FILE = "aggregate.parquet"
REPORT_FILE = "report.md"
RUNS_DIR = "runs"
ATTEMPTS_DIR = "attempts"
STAGING_DIR = "staging"
FIGURES_DIR = "figures"
LOCK_FILE = ".lock"
RUN_RECORD = "sweep_run.json"
# A planned run with no run folder under runs/ yet (not tried, or still in staging/).
PENDING = "pending"


@dataclass(frozen=True)
class SweepRun:
    """One planned run of a sweep and what its run folder holds so far.

    Attributes:
        index: position in the plan.
        run_id: the run's id (its folder name under ``runs/``).
        seed: the run's root seed.
        point: the axis values of the run (dotted config key -> value).
        config: the run's resolved config as planned (a plain dict).
        run: the run folder read back (:func:`learnability.runs.read_run`); None while no run
            folder exists.
        record: the run folder's ``sweep_run.json`` (worker, host, error); empty when absent.
    """

    index: int
    run_id: str
    seed: int
    point: dict[str, Any]
    config: dict[str, Any]
    run: Run | None
    record: dict[str, Any]

    @property
    def status(self) -> str:
        """ "complete", "failed", "interrupted", "incomplete" (killed) or "pending" (no folder)."""
        return PENDING if self.run is None else self.run.status

    @property
    def path(self) -> Path | None:
        """The run folder (absolute), or None while there is none."""
        return None if self.run is None else self.run.path.resolve()

    @property
    def summary(self) -> dict[str, Any]:
        """The run's ``summary.json`` (empty unless the run completed)."""
        return {} if self.run is None or not self.run.complete else self.run.summary


@dataclass(frozen=True)
class SweepFolder:
    """A sweep folder read back: :attr:`plan` (``plan.json``) and one :class:`SweepRun` per
    planned run, in plan order."""

    path: Path
    plan: dict[str, Any]
    runs: list[SweepRun]

    @property
    def study(self) -> str | None:
        """The swept study's registered name."""
        return self.plan.get("study")

    @property
    def name(self) -> str:
        """The sweep's name (the folder's name when the plan has none)."""
        return self.plan.get("name", self.path.name)


def sweep_dir_of(path: str | Path) -> Path:
    """The sweep folder from the folder itself or any file directly inside it."""
    path = Path(path)
    return path.parent if path.is_file() else path


def read_plan(sweep_dir: str | Path) -> dict[str, Any]:
    """The contents of ``plan.json``.

    Raises:
        FileNotFoundError: when ``sweep_dir`` holds no ``plan.json``.
    """
    plan_file = Path(sweep_dir) / PLAN_FILE
    if not plan_file.exists():
        raise FileNotFoundError(f"{sweep_dir} is not a sweep folder: {PLAN_FILE} is missing.")
    return json.loads(plan_file.read_text())


def attempts_of(sweep_dir: str | Path) -> dict[str, int]:
    """How many earlier attempts of each run id were moved aside to ``attempts/``."""
    counts: dict[str, int] = {}
    folder = Path(sweep_dir) / ATTEMPTS_DIR
    if folder.is_dir():
        for p in folder.iterdir():
            run_id, _, k = p.name.rpartition("-")
            if k.isdigit():
                counts[run_id] = counts.get(run_id, 0) + 1
    return counts


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def read_sweep_run(sweep_dir: str | Path, planned: Mapping[str, Any]) -> SweepRun:
    """One planned run (an entry of ``plan["runs"]``) with its run folder as it is now."""
    run_id = planned["run_id"]
    folder = Path(sweep_dir) / RUNS_DIR / run_id
    # A run folder exists once its provenance is written (the worker moves it from staging/).
    exists = (folder / PROVENANCE_FILE).exists()
    return SweepRun(
        index=planned["index"],
        run_id=run_id,
        seed=planned["seed"],
        point=dict(planned.get("point", {})),
        config=planned["config"],
        run=read_run(folder) if exists else None,
        record=_read_json(folder / RUN_RECORD) if exists else {},
    )


def read_sweep_folder(path: str | Path) -> SweepFolder:
    """The plan and every planned run of a sweep folder, read from the run folders.

    Args:
        path: the sweep folder (or a file directly inside it).

    Raises:
        FileNotFoundError: when ``path`` is not a sweep folder (no ``plan.json``).
    """
    sweep_dir = sweep_dir_of(path)
    plan = read_plan(sweep_dir)
    return SweepFolder(sweep_dir, plan, [read_sweep_run(sweep_dir, r) for r in plan["runs"]])
