"""The sweep folder: names of its files, and moving an unfinished run folder aside.

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
"""

from __future__ import annotations

import os
from pathlib import Path

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
    "attempts_of",
    "move_aside",
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


def move_aside(folder: Path, sweep_dir: Path, run_id: str) -> Path:
    """Move an unfinished attempt of ``run_id`` to ``attempts/RUN_ID-K`` (K = 1, 2, ...)."""
    attempts = Path(sweep_dir) / ATTEMPTS_DIR
    attempts.mkdir(parents=True, exist_ok=True)
    k = 1
    while (attempts / f"{run_id}-{k}").exists():
        k += 1
    target = attempts / f"{run_id}-{k}"
    os.rename(folder, target)
    return target


def attempts_of(sweep_dir: Path) -> dict[str, int]:
    """How many earlier attempts of each run id were moved aside."""
    counts: dict[str, int] = {}
    folder = Path(sweep_dir) / ATTEMPTS_DIR
    if folder.is_dir():
        for p in folder.iterdir():
            run_id, _, k = p.name.rpartition("-")
            if k.isdigit():
                counts[run_id] = counts.get(run_id, 0) + 1
    return counts
