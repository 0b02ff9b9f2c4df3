"""The run folder: everything a run produces, written as it is produced.

Layout of a run folder::

    config.toml         the resolved config (defaults + every override)
    provenance.json     versions, git commit, device, threads, seed, command line, times, status
    metrics.jsonl       one JSON record per line, appended and flushed as values are produced
    metrics.parquet     the same records as a long table, consolidated when the run ends
    summary.json        the final numbers (written last: its presence means the run completed)
    artifacts/          arrays (.npz) and tables (.parquet) the report needs
    figures/            PNG and SVG figures
    report.md           the report, rebuilt from the folder alone by ``learnability report``

A crash, Ctrl-C or ``kill`` leaves ``metrics.jsonl`` readable (at worst its last line is cut, and
that line is skipped when reading), so a partial run can still be inspected and reported.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from learnability._version import __version__

__all__ = ["Run", "RunWriter", "jsonable", "load_runs", "new_run_dir", "read_run"]

CONFIG_FILE = "config.toml"
PROVENANCE_FILE = "provenance.json"
METRICS_FILE = "metrics.jsonl"
METRICS_PARQUET = "metrics.parquet"
SUMMARY_FILE = "summary.json"
ARTIFACTS_DIR = "artifacts"
FIGURES_DIR = "figures"
REPORT_FILE = "report.md"

# Floats in metrics.jsonl keep this many significant digits: enough for float32 losses.
_METRIC_DIGITS = 7


def _now() -> str:
    # Milliseconds: runs started within one second (a sweep, a test) still sort in start order.
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def jsonable(obj: Any) -> Any:
    """Convert numpy/torch scalars and arrays, tuples and paths into JSON-ready values.

    Non-finite floats become the strings "nan", "inf", "-inf" so the files stay strict JSON.
    """
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "detach"):  # torch tensor
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        if math.isnan(obj):
            return "nan"
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _round_metric(v: Any) -> Any:
    if isinstance(v, float) and math.isfinite(v) and v != 0.0:
        return float(f"{v:.{_METRIC_DIGITS}g}")
    return v


def _installed_packages() -> dict[str, str]:
    """Name -> version of every distribution installed in this environment (a ``pip freeze``)."""
    import importlib.metadata

    out = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out[name.lower()] = dist.version
    return dict(sorted(out.items()))


def _git_commit() -> dict[str, Any]:
    """The source tree's commit; for a dirty tree, a hash of ``git diff HEAD`` identifies the edits."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(here), *args], capture_output=True, text=True, timeout=5, check=True
        ).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        dirty = bool(git("status", "--porcelain", "--untracked-files=no").strip())
        diff_hash = hashlib.sha256(git("diff", "HEAD").encode()).hexdigest()[:16] if dirty else None
        return {"commit": commit, "dirty": dirty, "diff_sha256": diff_hash}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None, "diff_sha256": None}


def new_run_dir(out: str | Path, study: str, seed: int, *, smoke: bool = False) -> Path:
    """A fresh, unique folder ``OUT/STUDY-YYYYmmdd-HHMMSS-sSEED[-smoke][-n]``."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(out) / f"{study}-{stamp}-s{seed}{'-smoke' if smoke else ''}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


class RunWriter:
    """Writes one run folder. Metrics are appended and flushed as they are produced.

    Args:
        path: the run folder (created; must not already hold a run).
        study: the study's registered name.
        config: the resolved config (a pydantic model).
        config_toml: its TOML text, written to ``config.toml``.
        argv: the command line to record (defaults to ``sys.argv``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        study: str,
        config: Any,
        config_toml: str,
        argv: Sequence[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=False)
        (self.path / ARTIFACTS_DIR).mkdir()
        (self.path / FIGURES_DIR).mkdir()
        self.study = study
        self.config = config
        (self.path / CONFIG_FILE).write_text(config_toml)
        self._t0 = time.perf_counter()
        self._metrics = open(self.path / METRICS_FILE, "a", encoding="utf-8")  # noqa: SIM115
        self.provenance: dict[str, Any] = self._provenance(argv)
        self._write_provenance()

    # ----------------------------------------------------------------- provenance

    def _provenance(self, argv: Sequence[str] | None) -> dict[str, Any]:
        import torch

        device = getattr(self.config, "device", "cpu")
        device_name = (
            torch.cuda.get_device_name(torch.device(device))
            if str(device).startswith("cuda") and torch.cuda.is_available()
            else (platform.processor() or platform.machine())
        )
        return {
            "study": self.study,
            "status": "running",
            "package": "learnability",
            "version": __version__,
            "git": _git_commit(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "platform": platform.platform(),
            "hostname": socket.gethostname(),
            "device": device,
            "device_name": device_name,
            "cpu_count": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
            "packages": _installed_packages(),
            "seed": getattr(self.config, "seed", None),
            "command": list(sys.argv if argv is None else argv),
            "started": _now(),
            "finished": None,
            "wall_seconds": None,
        }

    def _write_provenance(self) -> None:
        tmp = self.path / (PROVENANCE_FILE + ".tmp")
        tmp.write_text(json.dumps(jsonable(self.provenance), indent=2))
        os.replace(tmp, self.path / PROVENANCE_FILE)

    # ----------------------------------------------------------------- metrics

    def log(
        self, series: str, *, step: int | None = None, tag: str | None = None, value: Any = None, **fields: Any
    ) -> None:
        """Append one record and flush it to disk.

        ``value`` may be a scalar or a per-member sequence (one entry per ensemble member);
        other fields of the same length are spread over members when the metrics are read.
        """
        record: dict[str, Any] = {"series": series, "t": round(time.perf_counter() - self._t0, 3)}
        if tag is not None:
            record["tag"] = tag
        if step is not None:
            record["step"] = int(step)
        if value is not None:
            record["value"] = value
        record.update(fields)
        rec = jsonable(record)
        rec = {k: ([_round_metric(x) for x in v] if isinstance(v, list) else _round_metric(v)) for k, v in rec.items()}
        self._metrics.write(json.dumps(rec, separators=(",", ":")) + "\n")
        self._metrics.flush()

    def log_block(
        self,
        series: str,
        steps: Sequence[int] | np.ndarray,
        values: np.ndarray,
        *,
        tag: str | None = None,
        **fields: Any,
    ) -> None:
        """Append one record per step; ``values`` has shape (n_steps, K)."""
        values = np.asarray(values)
        lines = []
        t = round(time.perf_counter() - self._t0, 3)
        for s, row in zip(steps, values, strict=True):
            rec: dict[str, Any] = {"series": series, "t": t, "step": int(s)}
            if tag is not None:
                rec["tag"] = tag
            rec["value"] = [_round_metric(x) for x in jsonable(row)]
            rec.update(jsonable(fields))
            lines.append(json.dumps(rec, separators=(",", ":")))
        self._metrics.write("\n".join(lines) + "\n")
        self._metrics.flush()

    # ----------------------------------------------------------------- artifacts

    def artifact_path(self, name: str) -> Path:
        return self.path / ARTIFACTS_DIR / name

    def save_arrays(self, name: str, **arrays: Any) -> Path:
        """Save arrays to ``artifacts/NAME.npz`` (tensors are moved to CPU)."""
        clean = {k: (v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)) for k, v in arrays.items()}
        path = self.artifact_path(f"{name}.npz")
        np.savez_compressed(path, **clean)
        return path

    def save_table(self, name: str, table: pd.DataFrame) -> Path:
        """Save a table to ``artifacts/NAME.parquet``."""
        path = self.artifact_path(f"{name}.parquet")
        table.to_parquet(path, index=False)
        return path

    def save_json(self, name: str, obj: Any) -> Path:
        path = self.artifact_path(f"{name}.json")
        path.write_text(json.dumps(jsonable(obj), indent=2))
        return path

    # ----------------------------------------------------------------- ending

    def _close(self, status: str, error: str | None = None) -> None:
        if not self._metrics.closed:
            self._metrics.close()
        self.provenance.update(
            status=status,
            finished=_now(),
            wall_seconds=round(time.perf_counter() - self._t0, 2),
        )
        if error is not None:
            self.provenance["error"] = error
        self._write_provenance()

    def finish(self, summary: Mapping[str, Any]) -> None:
        """Write ``summary.json``, consolidate metrics to parquet and mark the run complete."""
        summary = dict(summary)
        summary.setdefault("study", self.study)
        summary["wall_seconds"] = round(time.perf_counter() - self._t0, 2)
        tmp = self.path / (SUMMARY_FILE + ".tmp")
        tmp.write_text(json.dumps(jsonable(summary), indent=2))
        self._metrics.flush()
        consolidate_metrics(self.path)
        os.replace(tmp, self.path / SUMMARY_FILE)
        self._close("complete")

    def fail(self, exc: BaseException) -> None:
        """Mark the run failed (or interrupted, for Ctrl-C) and keep what was written."""
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        error = "".join(traceback.format_exception(exc)) if status == "failed" else None
        # A broken consolidation must not hide the real error.
        with contextlib.suppress(Exception):
            consolidate_metrics(self.path)
        self._close(status, error)


# ------------------------------------------------------------------------- reading


def read_metrics_jsonl(path: str | Path) -> pd.DataFrame:
    """Read ``metrics.jsonl`` into a long table, skipping a truncated last line.

    Records whose ``value`` is a list are spread over members: one row per member with a
    ``member`` column; other list fields of the same length are spread alongside.
    """
    rows: list[dict[str, Any]] = []
    path = Path(path)
    if not path.exists():
        return _empty_metrics()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash or kill
            value = rec.get("value")
            if isinstance(value, list):
                n = len(value)
                spread = {k: v for k, v in rec.items() if isinstance(v, list) and len(v) == n}
                fixed = {k: v for k, v in rec.items() if k not in spread}
                for m in range(n):
                    row = dict(fixed)
                    row.update({k: v[m] for k, v in spread.items()})
                    row["member"] = m
                    rows.append(row)
            else:
                rows.append(rec)
    if not rows:
        return _empty_metrics()
    df = pd.DataFrame(rows)
    return _normalise_metrics(df)


def _empty_metrics() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series": pd.Series(dtype="string"),
            "step": pd.Series(dtype="Int64"),
            "member": pd.Series(dtype="Int64"),
            "value": pd.Series(dtype="float64"),
        }
    )


def _normalise_metrics(df: pd.DataFrame) -> pd.DataFrame:
    for col in ("step", "member"):
        if col not in df:
            df[col] = pd.NA
        df[col] = df[col].astype("Int64")
    if "value" in df:
        df["value"] = pd.to_numeric(
            df["value"].replace({"nan": np.nan, "inf": np.inf, "-inf": -np.inf}), errors="coerce"
        )
    return df


def consolidate_metrics(run_dir: str | Path) -> Path:
    """Write ``metrics.parquet`` from ``metrics.jsonl``."""
    run_dir = Path(run_dir)
    df = read_metrics_jsonl(run_dir / METRICS_FILE)
    out = run_dir / METRICS_PARQUET
    df.to_parquet(out, index=False)
    return out


@dataclass
class Run:
    """A run folder, read back.

    Attributes:
        path: the folder.
        study: the study's name.
        config: the resolved config as the study's config class when the study is known (set by
            :func:`learnability.load_run`; :func:`read_run` leaves the plain dict).
        config_dict: the resolved config as a nested dict.
        provenance: contents of ``provenance.json``.
        summary: contents of ``summary.json`` (empty when the run did not complete).
        status: "complete", "failed", "interrupted" or "incomplete" (killed or still running).
        results: the study's typed results model, validated from ``summary.json`` (set by
            :func:`learnability.load_run` for a complete run of a known study; else None).
    """

    path: Path
    study: str
    config: Any
    config_dict: dict[str, Any]
    provenance: dict[str, Any]
    summary: dict[str, Any]
    status: str
    results: Any = None
    _metrics: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def metrics(self) -> pd.DataFrame:
        """All metrics as a long table (columns: series, tag, step, member, value, t, ...)."""
        if self._metrics is None:
            pq = self.path / METRICS_PARQUET
            jl = self.path / METRICS_FILE
            if pq.exists() and (not jl.exists() or pq.stat().st_mtime >= jl.stat().st_mtime):
                self._metrics = _normalise_metrics(pd.read_parquet(pq))
            else:
                self._metrics = read_metrics_jsonl(jl)
        return self._metrics

    def series(self, name: str, tag: str | None = None) -> pd.DataFrame:
        """Rows of one metric series (optionally one tag)."""
        df = self.metrics
        if "series" not in df:
            return df.iloc[0:0]
        sel = df["series"] == name
        if tag is not None:
            sel &= df.get("tag", pd.Series(index=df.index, dtype="string")) == tag
        return df[sel.fillna(False)]

    @property
    def figures_dir(self) -> Path:
        return self.path / FIGURES_DIR

    def artifact(self, name: str) -> Path:
        return self.path / ARTIFACTS_DIR / name

    def load_arrays(self, name: str) -> dict[str, np.ndarray]:
        """Arrays saved with ``RunWriter.save_arrays(name, ...)``."""
        with np.load(self.artifact(f"{name}.npz"), allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def load_table(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.artifact(f"{name}.parquet"))

    def load_json(self, name: str) -> Any:
        return json.loads(self.artifact(f"{name}.json").read_text())

    def has_artifact(self, name: str) -> bool:
        return self.artifact(name).exists()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def read_run(path: str | Path) -> Run:
    """Read a run folder written by :class:`RunWriter` (complete or not), knowing no study.

    The config stays a plain dict and the results unset: :func:`learnability.load_run` (one floor
    up, where studies are known) types them.

    Raises:
        FileNotFoundError: if ``path`` holds no run (no ``config.toml``).
    """
    import tomllib

    path = Path(path)
    cfg_file = path / CONFIG_FILE
    if not cfg_file.exists():
        raise FileNotFoundError(f"{path} is not a run folder: {CONFIG_FILE} is missing.")
    config_dict = tomllib.loads(cfg_file.read_text())
    provenance = _read_json(path / PROVENANCE_FILE)
    summary = _read_json(path / SUMMARY_FILE)
    study = provenance.get("study") or summary.get("study") or "unknown"
    status = provenance.get("status", "incomplete")
    if summary and status in ("running", "complete"):
        status = "complete"
    elif status == "running":
        status = "incomplete"
    return Run(
        path=path,
        study=study,
        config=config_dict,
        config_dict=config_dict,
        provenance=provenance,
        summary=summary,
        status=status,
    )


def _flat_scalars(obj: Any, prefix: str, out: dict[str, Any]) -> None:
    """Numbers, strings and booleans of a nested mapping under dotted keys (lists are skipped)."""
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            _flat_scalars(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, bool | int | float | str) or obj is None:
        out[prefix] = float(obj) if obj in ("nan", "inf", "-inf") else obj


def load_runs(folder: str | Path) -> pd.DataFrame:
    """One row per run folder found below ``folder`` (any depth): a table of many runs.

    Columns: ``path`` (relative to ``folder``), ``study``, ``seed``, ``status``, ``started``,
    ``wall_seconds``, ``smoke``, then ``config.<key>`` for every setting and ``summary.<key>`` for
    every number of the summary (nested keys dotted; lists left out), so runs of different
    settings line up as columns. Folders that are not runs are skipped; a damaged run keeps a row
    with what could be read.

    Args:
        folder: a folder holding run folders (``runs/``, a sweep's ``runs/``, ...).

    Returns:
        The table, sorted by start time.
    """
    import tomllib

    folder = Path(folder)
    rows = []
    for cfg in sorted(folder.rglob(CONFIG_FILE)):
        path = cfg.parent
        try:
            run = read_run(path)
        except (OSError, tomllib.TOMLDecodeError, ValueError):
            continue
        prov = run.provenance
        row: dict[str, Any] = {
            "path": str(path.relative_to(folder)),
            "study": run.study,
            "seed": run.config_dict.get("seed"),
            "status": run.status,
            "started": prov.get("started"),
            "wall_seconds": run.summary.get("wall_seconds", prov.get("wall_seconds")),
            "smoke": prov.get("smoke"),
        }
        _flat_scalars(run.config_dict, "config", row)
        _flat_scalars({k: v for k, v in run.summary.items() if k not in ("study", "wall_seconds")}, "summary", row)
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=["path", "study", "seed", "status", "started", "wall_seconds", "smoke"])
    return table.sort_values("started", kind="stable", na_position="last", ignore_index=True)
