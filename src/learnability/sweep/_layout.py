"""The sweep folder: names of its files (from :mod:`learnability.sweep_folder`, where the layout
is described and read), and moving an unfinished run folder aside.
"""

from __future__ import annotations

import os
from pathlib import Path

from learnability.sweep_folder import (
    AGGREGATE_FILE,
    ATTEMPTS_DIR,
    FIGURES_DIR,
    LOCK_FILE,
    PLAN_FILE,
    REPORT_FILE,
    RESULTS_FILE,
    RUN_RECORD,
    RUNS_DIR,
    STAGING_DIR,
    STATE_FILE,
    SWEEP_FILE,
    attempts_of,
)

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
