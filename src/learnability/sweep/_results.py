"""The results table of a sweep (``results.parquet``): one row per planned run, built from the
run folders; its columns are described in :func:`load_sweep`."""

from __future__ import annotations

import json
import math
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from learnability.sweep._backends import process_alive
from learnability.sweep_folder import (
    RESULTS_FILE,
    RUNS_DIR,
    STATE_FILE,
    attempts_of,
    read_plan,
    read_sweep_run,
    sweep_dir_of,
)

__all__ = ["ResultsTable", "flatten_summary", "load_sweep", "mark_killed", "read_plan", "read_state", "sweep_dir_of"]

LEAD_COLUMNS = ("index", "run_id", "status", "error")
TAIL_COLUMNS = ("wall_seconds", "attempts", "worker_pid", "hostname", "threads", "path")
SUMMARY_PREFIX = "summary."
# Summary values that are bookkeeping, not results.
SUMMARY_SKIP = ("wall_seconds",)
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def flatten_summary(summary: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric leaves of a summary as ``{dotted name: float}``.

    Example:
        >>> flatten_summary({"lr": 0.1, "test": {"mse": 0.5, "curve": [1, 2]}, "ok": True})
        {'lr': 0.1, 'test.mse': 0.5}
    """
    flat: dict[str, float] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if not prefix and key in SUMMARY_SKIP:
            continue
        if isinstance(value, Mapping):
            flat.update(flatten_summary(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
        elif isinstance(value, str) and value in _NON_FINITE:
            flat[name] = _NON_FINITE[value]
    return flat


def axis_cell(value: Any) -> Any:
    """An axis value as a table cell: scalars unchanged, lists and tables as JSON text."""
    if isinstance(value, list | tuple | Mapping):
        return json.dumps(value)
    return value


def _last_line(text: Any) -> str | None:
    """The last non-empty line of a traceback: "TypeName: message"."""
    if not text:
        return None
    lines = [ln for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[-1] if lines else None


def mark_killed(state: dict[str, Any]) -> bool:
    """Mark "killed" each invocation of ``state`` (``sweep.json``) still "running" whose process
    is dead on this host (a ``kill -9``, a lost machine); whether any was marked.

    An invocation of another host is left as it is: its process cannot be looked up from here.
    """
    changed = False
    host = socket.gethostname()
    for inv in state.get("invocations", []):
        if not isinstance(inv, dict) or inv.get("status") != "running" or inv.get("hostname") != host:
            continue
        pid = inv.get("pid")
        if isinstance(pid, int) and pid != os.getpid() and not process_alive(pid):
            inv["status"] = "killed"
            changed = True
    return changed


def read_state(sweep_dir: str | Path) -> dict[str, Any]:
    """``sweep.json`` of a sweep folder, with dead "running" invocations marked "killed"."""
    try:
        state = json.loads((Path(sweep_dir) / STATE_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    if not isinstance(state, dict):
        return {}
    mark_killed(state)
    return state


class ResultsTable:
    """Rows of ``results.parquet``, refreshed run by run as a sweep progresses.

    Args:
        sweep_dir: the sweep folder.
        plan: the contents of ``plan.json``.
    """

    def __init__(self, sweep_dir: Path, plan: Mapping[str, Any]) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.plan = plan
        self.axes = [a["name"] for a in plan["axes"]]
        self._attempts = attempts_of(self.sweep_dir)
        self._planned = {run["run_id"]: run for run in plan["runs"]}
        self.rows: dict[str, dict[str, Any]] = {}
        self._metrics: dict[str, dict[str, float]] = {}
        for run in plan["runs"]:
            self.refresh(run["run_id"])

    def refresh(
        self, run_id: str, outcome: Mapping[str, Any] | None = None, *, recount: bool = False
    ) -> dict[str, Any]:
        """Re-read one run's folder (and this invocation's outcome for it, if any).

        ``recount`` (implied by an outcome) re-counts the attempts moved aside.
        """
        if outcome is not None or recount:
            self._attempts = attempts_of(self.sweep_dir)
        run = self._planned[run_id]
        row: dict[str, Any] = {"index": run["index"], "run_id": run_id, "status": "pending", "error": None}
        row.update({a: axis_cell(run["point"][a]) for a in self.axes})
        row.update(
            seed=run["seed"],
            wall_seconds=math.nan,
            attempts=self._attempts.get(run_id, 0),
            worker_pid=None,
            hostname=None,
            threads=None,
            path=None,
        )
        metrics: dict[str, float] = {}
        entry = read_sweep_run(self.sweep_dir, run)
        loaded, record = entry.run, entry.record
        if loaded is not None:
            prov = loaded.provenance
            row.update(
                status=loaded.status,
                path=f"{RUNS_DIR}/{run_id}",
                worker_pid=record.get("pid"),
                hostname=record.get("hostname"),
                threads=prov.get("threads"),
                wall_seconds=float(prov.get("wall_seconds") or math.nan),
            )
            if loaded.status != "complete":
                row["error"] = (
                    record.get("error")
                    or _last_line(prov.get("error"))
                    or (
                        "the run's process stopped before the end (killed?)"
                        if loaded.status == "incomplete"
                        else loaded.status
                    )
                )
            else:
                metrics = flatten_summary(loaded.summary)
        elif outcome is not None:
            row.update(
                status=outcome["status"],
                error=outcome.get("error"),
                worker_pid=outcome.get("pid"),
                hostname=outcome.get("hostname"),
                threads=outcome.get("threads"),
            )
        self.rows[run_id] = row
        self._metrics[run_id] = metrics
        return row

    @property
    def metric_names(self) -> list[str]:
        """Summary names in order of first appearance along the plan."""
        names: dict[str, None] = {}
        for run in self.plan["runs"]:
            for name in self._metrics.get(run["run_id"], {}):
                names.setdefault(name, None)
        return list(names)

    def metric_columns(self) -> dict[str, str]:
        """Summary name -> column name (prefixed where it clashes with another column)."""
        taken = set(LEAD_COLUMNS) | set(TAIL_COLUMNS) | set(self.axes) | {"seed"}
        return {m: (SUMMARY_PREFIX + m if m in taken else m) for m in self.metric_names}

    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame, in plan order."""
        columns = self.metric_columns()
        records = []
        for run in self.plan["runs"]:
            rid = run["run_id"]
            row = dict(self.rows[rid])
            values = self._metrics.get(rid, {})
            row.update({col: values.get(m, math.nan) for m, col in columns.items()})
            records.append(row)
        order = [*LEAD_COLUMNS, *self.axes, "seed", *columns.values(), *TAIL_COLUMNS]
        df = pd.DataFrame.from_records(records, columns=order)
        for col in ("worker_pid", "threads", "attempts"):
            df[col] = df[col].astype("Int64")
        for col in columns.values():
            df[col] = df[col].astype("float64")
        df["wall_seconds"] = df["wall_seconds"].astype("float64")
        return df

    def write(self) -> Path:
        """Write ``results.parquet`` (through a temporary file: a kill never leaves half a table)."""
        path = self.sweep_dir / RESULTS_FILE
        tmp = path.with_name(path.name + ".tmp")
        self.frame().to_parquet(tmp, index=False)
        tmp.replace(path)
        return path


def load_sweep(path: str | Path, *, refresh: bool = False) -> pd.DataFrame:
    """The results table of a sweep folder: one row per planned run, in plan order.

    The frame's index is each run's position in the plan (0, 1, ...); columns, in order:

    * ``run_id``, ``status`` ("complete", "failed",
      "interrupted", "incomplete" for a run whose process was killed, "pending" for a run not
      tried yet), ``error`` (``"TypeName: message"`` of a run that did not complete; the full
      traceback is in the run folder's ``provenance.json``);
    * one column per axis, named by its dotted config key (``"train.batch_size"``): numbers,
      strings and booleans as they are; lists and tables as their JSON text (``"[16, 16]"``), so
      that every axis column can be grouped on;
    * ``seed``;
    * the headline numbers: every numeric leaf of ``summary.json``, nested tables joined with
      dots (``{"test": {"mse": 0.1}}`` -> ``test.mse``); the strings "nan", "inf", "-inf" that
      run folders write for non-finite floats become floats again; lists, strings and booleans
      are left out, and so is ``wall_seconds`` (a column of its own). A summary name equal to
      one of the other columns gets the prefix ``summary.``. NaN where a run did not complete;
    * ``wall_seconds``, ``attempts`` (earlier attempts moved to ``attempts/``), ``worker_pid``,
      ``hostname``, ``threads`` (torch threads of the run), ``path`` (the run folder).

    Args:
        path: the sweep folder (or a file in it, e.g. its ``results.parquet``).
        refresh: rebuild the table from the run folders instead of reading ``results.parquet``
            (e.g. after the sweep was killed: runs that ended after the last write are then
            included). The file is not rewritten.

    Returns:
        The table, with ``path`` made absolute (missing where no run folder exists);
        ``df.attrs`` holds ``sweep_dir``, ``study``, ``axes`` (axis column names), ``metrics``
        (headline metric column names), ``log_axes`` (axes spaced logarithmically) and
        ``invocations`` (the records of ``sweep.json``; one still "running" whose process is
        dead reads "killed").

    Raises:
        FileNotFoundError: when ``path`` is not a sweep folder.
    """
    sweep_dir = sweep_dir_of(path)
    plan = read_plan(sweep_dir)
    results_file = sweep_dir / RESULTS_FILE
    table: ResultsTable | None = None
    if refresh or not results_file.exists():
        table = ResultsTable(sweep_dir, plan)
        df = table.frame()
    else:
        df = pd.read_parquet(results_file)
    # The plan position is the frame's index, not a column that repeats it.
    positions = df.pop("index").to_numpy(dtype=int)
    df.index = pd.RangeIndex(len(df)) if (positions == np.arange(len(df))).all() else pd.Index(positions)
    axes = [a["name"] for a in plan["axes"]]
    fixed = set(LEAD_COLUMNS) | set(TAIL_COLUMNS) | set(axes) | {"seed"}
    df["path"] = [
        None if p is None or (isinstance(p, float) and math.isnan(p)) else str((sweep_dir / p).resolve())
        for p in df["path"]
    ]
    df.attrs = {
        "sweep_dir": str(sweep_dir.resolve()),
        "study": plan["study"],
        "axes": axes,
        "metrics": [c for c in df.columns if c not in fixed],
        "log_axes": [a["name"] for a in plan["axes"] if a["scale"] == "log"],
        "invocations": read_state(sweep_dir).get("invocations", []),
    }
    return df
