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
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from learnability._version import __version__

__all__ = [
    "CorruptRunError",
    "Run",
    "RunWriter",
    "atomic_path",
    "jsonable",
    "load_runs",
    "new_run_dir",
    "read_run",
    "write_atomic",
]

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


class CorruptRunError(ValueError):
    """A file of a run folder exists but cannot be read (garbled, truncated, wrong format).

    Attributes:
        path: the offending file.
        problem: what is wrong with it, in words.
    """

    def __init__(self, path: object, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")


# --------------------------------------------------------------------------- atomic writes


def _fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (best effort: not every platform can)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path next to ``path``; when the block succeeds, its file replaces ``path``.

    The temporary file is flushed to disk (``fsync``) and renamed over ``path`` (``os.replace``),
    so ``path`` holds either its previous content or the complete new one, never a truncated file
    (a full disk, a kill). On failure the temporary file is removed and an ``OSError`` names
    ``path``.

    Example:
        >>> with atomic_path(run_dir / "metrics.parquet") as tmp:  # doctest: +SKIP
        ...     table.to_parquet(tmp)
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.filename != str(path):
            # The temporary name means nothing to the user: name the file being written.
            raise OSError(exc.errno, exc.strerror or f"could not be written ({exc})", str(path)) from exc
        raise
    _fsync_dir(path.parent)


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
    return path


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back during the block (a status write must not be cut short).

    Only the main thread of a POSIX process receives them; elsewhere the block runs as is.
    """
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


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


# Names tried after the first one is taken (runs started in the same second, into the same --out).
_MAX_NAME_TRIES = 10_000


def new_run_dir(out: str | Path, study: str, seed: int, *, smoke: bool = False) -> Path:
    """Create and return a fresh, unique folder ``OUT/STUDY-YYYYmmdd-HHMMSS-sSEED[-smoke][-n]``.

    The folder is created atomically (``mkdir`` fails when the name exists), so runs started at
    the same instant into the same ``out`` each get their own folder: a name taken between the
    check and the creation is simply skipped.

    Raises:
        ParameterError: when ``out`` is not a folder that can be created and written (a file,
            below a file, a read-only place); nothing is created then.
    """
    from learnability._validation import ParameterError

    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(out)
    allowed = "a folder where run folders can be created"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = "it is a file" if out.is_file() else (exc.strerror or str(exc)).lower()
        raise ParameterError("out", "learnability run", allowed, str(out), hint=f" ({reason})") from None
    base = out / f"{study}-{stamp}-s{seed}{'-smoke' if smoke else ''}"
    for n in range(1, _MAX_NAME_TRIES + 1):
        path = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise ParameterError("out", "learnability run", allowed, str(out), hint=f" ({reason})") from None
        return path
    raise FileExistsError(f"{base}: {_MAX_NAME_TRIES} run folders of this name already exist")


class RunWriter:
    """Writes one run folder. Metrics are appended and flushed as they are produced.

    Args:
        path: the run folder (created if missing, as :func:`new_run_dir` does; it must not
            already hold a run: an existing run is never overwritten).
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
        self.path.mkdir(parents=True, exist_ok=True)
        if (self.path / CONFIG_FILE).exists() or any(self.path.iterdir()):
            raise FileExistsError(f"{self.path} already holds a run (or other files); it is never overwritten.")
        (self.path / ARTIFACTS_DIR).mkdir()
        (self.path / FIGURES_DIR).mkdir()
        self.study = study
        self.config = config
        write_atomic(self.path / CONFIG_FILE, config_toml)
        self._t0 = time.perf_counter()
        self._metrics = open(self.path / METRICS_FILE, "a", encoding="utf-8")  # noqa: SIM115
        #: While True (a resumed run replaying what it had done), records are not written: the
        #: file already holds them.
        self.muted = False
        self.provenance: dict[str, Any] = self._provenance(argv)
        self._write_provenance()

    @classmethod
    def reopen(
        cls, path: str | Path, *, study: str, config: Any, offset: int, elapsed: float, argv: Sequence[str] | None
    ) -> RunWriter:
        """The writer of an existing, unfinished run folder, to resume it.

        ``metrics.jsonl`` is cut back to ``offset`` bytes (its length at the checkpoint the run
        resumes from: later records would be written again), the clock continues from
        ``elapsed`` seconds, and ``provenance.json`` records the resume under ``resumes``.
        """
        self = cls.__new__(cls)
        self.path = Path(path)
        self.study, self.config = study, config
        prov_file = self.path / PROVENANCE_FILE
        try:
            provenance = json.loads(prov_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            provenance = None
        if not isinstance(provenance, dict):
            provenance = self._provenance(argv)
        metrics = self.path / METRICS_FILE
        if metrics.exists() and metrics.stat().st_size > offset:
            with open(metrics, "r+b") as f:
                f.truncate(offset)
                f.flush()
                os.fsync(f.fileno())
        (self.path / ARTIFACTS_DIR).mkdir(exist_ok=True)
        (self.path / FIGURES_DIR).mkdir(exist_ok=True)
        for stale in (SUMMARY_FILE, METRICS_PARQUET):  # an incomplete run's consolidation is redone
            with contextlib.suppress(OSError):
                (self.path / stale).unlink()
        self._t0 = time.perf_counter() - elapsed
        self._metrics = open(metrics, "a", encoding="utf-8")  # noqa: SIM115
        self.muted = False
        previous = {k: provenance.get(k) for k in ("status", "finished", "wall_seconds")}
        current = self._provenance(argv)
        provenance.setdefault("resumes", []).append(
            {
                "at": _now(),
                "previous_status": previous["status"],
                "previous_finished": previous["finished"],
                "from_seconds": round(elapsed, 2),
                "metrics_bytes_kept": offset,
                "command": current["command"],
                "pid": current["pid"],
                "hostname": current["hostname"],
                "threads": current["threads"],
                "git": current["git"],
                "version": current["version"],
            }
        )
        provenance.update(status="running", finished=None, wall_seconds=None)
        provenance.pop("error", None)
        self.provenance = provenance
        self._write_provenance()
        return self

    def elapsed(self) -> float:
        """Seconds since the run started (a resumed run counts from its checkpoint's time)."""
        return time.perf_counter() - self._t0

    def mark(self) -> int:
        """Flush the records written so far to disk (fsync); the file's length in bytes."""
        self._metrics.flush()
        os.fsync(self._metrics.fileno())
        return self._metrics.tell()

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
            "pid": os.getpid(),
            "started": _now(),
            "finished": None,
            "wall_seconds": None,
        }

    def _write_provenance(self) -> None:
        write_atomic(self.path / PROVENANCE_FILE, json.dumps(jsonable(self.provenance), indent=2))

    # ----------------------------------------------------------------- metrics

    def log(
        self, series: str, *, step: int | None = None, tag: str | None = None, value: Any = None, **fields: Any
    ) -> None:
        """Append one record and flush it to disk.

        ``value`` may be a scalar or a per-member sequence (one entry per ensemble member);
        other fields of the same length are spread over members when the metrics are read.
        """
        if self.muted:
            return
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
        if self.muted:
            return
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
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **clean)
        return path

    def save_table(self, name: str, table: pd.DataFrame) -> Path:
        """Save a table to ``artifacts/NAME.parquet``."""
        path = self.artifact_path(f"{name}.parquet")
        with atomic_path(path) as tmp:
            table.to_parquet(tmp, index=False)
        return path

    def save_json(self, name: str, obj: Any) -> Path:
        """Save ``obj`` to ``artifacts/NAME.json``."""
        return write_atomic(self.artifact_path(f"{name}.json"), json.dumps(jsonable(obj), indent=2))

    # ----------------------------------------------------------------- ending

    def _close(self, status: str, error: str | None = None) -> None:
        """Record the final status first (signals held back), then close the metrics file."""
        self.provenance.update(
            status=status,
            finished=_now(),
            wall_seconds=round(time.perf_counter() - self._t0, 2),
        )
        if error is not None:
            self.provenance["error"] = error
        try:
            with _signals_deferred():
                self._write_provenance()
        finally:
            if not self._metrics.closed:
                with contextlib.suppress(OSError):  # a full disk: the records flushed so far stay
                    self._metrics.close()

    def finish(self, summary: Mapping[str, Any]) -> None:
        """Consolidate metrics to parquet, write ``summary.json`` and mark the run complete.

        ``summary.json`` is written last of the data files: its presence means the run completed.
        """
        summary = dict(summary)
        summary.setdefault("study", self.study)
        summary["wall_seconds"] = round(time.perf_counter() - self._t0, 2)
        text = json.dumps(jsonable(summary), indent=2)
        self._metrics.flush()
        consolidate_metrics(self.path)
        write_atomic(self.path / SUMMARY_FILE, text)
        self._close("complete")

    def fail(self, exc: BaseException) -> None:
        """Mark the run failed (or interrupted, for Ctrl-C) and keep what was written.

        The status is recorded first: a second Ctrl-C during the rest of the cleanup (the
        consolidation of the metrics) stops the cleanup but never leaves the run "running".
        """
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        error = "".join(traceback.format_exception(exc)) if status == "failed" else None
        self._close(status, error)
        # A broken consolidation (a full disk) must not hide the real error.
        with contextlib.suppress(Exception):
            consolidate_metrics(self.path)


# ------------------------------------------------------------------------- reading


def read_metrics_jsonl(path: str | Path) -> pd.DataFrame:
    """Read ``metrics.jsonl`` into a long table, skipping a truncated last line.

    Records whose ``value`` is a list are spread over members: one row per member with a
    ``member`` column; other list fields of the same length are spread alongside. Lines that
    cannot be parsed before the last one (a damaged file) are skipped too, and counted in
    ``df.attrs["lost_lines"]`` (a cut last line is normal after a kill and is not counted).
    """
    rows: list[dict[str, Any]] = []
    path = Path(path)
    if not path.exists():
        return _empty_metrics()
    bad: list[int] = []
    last = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            last = number
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                bad.append(number)  # a line cut by a crash or kill, or a damaged line
                continue
            if not isinstance(rec, dict):
                bad.append(number)
                continue
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
    lost = len([n for n in bad if n != last])
    df = _normalise_metrics(pd.DataFrame(rows)) if rows else _empty_metrics()
    df.attrs["lost_lines"] = lost
    return df


#: The leading columns of ``Run.metrics``, in this order (then any extra fields, then ``t``).
METRIC_COLUMNS = ("series", "tag", "step", "member", "value")


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
    for col in ("series", "tag"):
        if col not in df:
            df[col] = pd.Series(pd.NA, index=df.index, dtype="string")
    for col in ("step", "member"):
        if col not in df:
            df[col] = pd.NA
        df[col] = df[col].astype("Int64")
    if "value" in df:
        df["value"] = pd.to_numeric(
            df["value"].replace({"nan": np.nan, "inf": np.inf, "-inf": -np.inf}), errors="coerce"
        )
    # One column order for every run: the record's identity and value first, extra fields after,
    # the wall-clock time last.
    lead = [c for c in METRIC_COLUMNS if c in df]
    tail = [c for c in ("t",) if c in df]
    return df[lead + [c for c in df.columns if c not in lead and c not in tail] + tail]


def consolidate_metrics(run_dir: str | Path) -> Path:
    """Write ``metrics.parquet`` from ``metrics.jsonl`` (atomically: never a truncated table)."""
    run_dir = Path(run_dir)
    df = read_metrics_jsonl(run_dir / METRICS_FILE)
    df.attrs.clear()
    out = run_dir / METRICS_PARQUET
    with atomic_path(out) as tmp:
        df.to_parquet(tmp, index=False)
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
        status: "complete", "failed", "interrupted", "incomplete" (killed or still running) or
            "corrupt" (a file that a complete run has is missing or garbled: see ``problem``).
        problem: why the folder reads as "corrupt" (None otherwise).
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
    problem: str | None = None
    _metrics: pd.DataFrame | None = field(default=None, repr=False)
    _lost_lines: int | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def metrics(self) -> pd.DataFrame:
        """All metrics as a long table (columns: series, tag, step, member, value, t, ...).

        Read from the consolidated ``metrics.parquet`` only when it is valid (readable, and not
        older than ``metrics.jsonl``); otherwise from ``metrics.jsonl``, the record of truth.
        """
        if self._metrics is None:
            pq = self.path / METRICS_PARQUET
            jl = self.path / METRICS_FILE
            table = None
            if pq.exists() and (not jl.exists() or pq.stat().st_mtime >= jl.stat().st_mtime):
                try:
                    table = _normalise_metrics(pd.read_parquet(pq))
                except Exception:  # noqa: BLE001 - a truncated or garbled file: fall back to the jsonl
                    table = None
            if table is None:
                table = read_metrics_jsonl(jl)
            self._metrics = table
        return self._metrics

    @property
    def lost_metric_lines(self) -> int:
        """Lines of ``metrics.jsonl`` that could not be read (a cut last line is not counted)."""
        if self._lost_lines is None:
            self._lost_lines = int(read_metrics_jsonl(self.path / METRICS_FILE).attrs.get("lost_lines", 0))
        return self._lost_lines

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
        """Arrays saved with ``RunWriter.save_arrays(name, ...)``.

        Raises:
            FileNotFoundError: when the artifact is missing.
            CorruptRunError: naming the file, when it cannot be read.
        """
        path = self.artifact(f"{name}.npz")
        try:
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001 - zipfile, zlib, numpy format errors
            raise CorruptRunError(path, f"not a readable .npz archive ({type(exc).__name__}: {exc})") from None

    def load_table(self, name: str) -> pd.DataFrame:
        """A table saved with ``RunWriter.save_table(name, ...)`` (errors as :meth:`load_arrays`)."""
        path = self.artifact(f"{name}.parquet")
        try:
            return pd.read_parquet(path)
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001 - pyarrow's errors for a garbled file
            raise CorruptRunError(path, f"not a readable Parquet file ({type(exc).__name__}: {exc})") from None

    def load_json(self, name: str) -> Any:
        """An object saved with ``RunWriter.save_json(name, ...)`` (errors as :meth:`load_arrays`)."""
        path = self.artifact(f"{name}.json")
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CorruptRunError(path, f"not valid JSON ({exc})") from None

    def has_artifact(self, name: str) -> bool:
        return self.artifact(name).exists()


def _read_json(path: Path) -> tuple[dict[str, Any], str | None]:
    """A JSON object file's contents, and what is wrong with it (None when it reads fine or is
    missing: a missing file is judged by the caller)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, f"{path.name} is not readable JSON ({exc})"
    if not isinstance(data, dict):
        return {}, f"{path.name} does not hold a JSON object"
    return data, None


def read_run(path: str | Path) -> Run:
    """Read a run folder written by :class:`RunWriter` (complete or not), knowing no study.

    The config stays a plain dict and the results unset: :func:`learnability.load_run` (one floor
    up, where studies are known) types them. A folder whose ``summary.json`` or
    ``provenance.json`` is garbled, or that lacks the summary its provenance says was written,
    reads as "corrupt" with the reason in ``run.problem``: never as complete.

    Raises:
        FileNotFoundError: if ``path`` holds no run (no ``config.toml``).
        CorruptRunError: naming ``config.toml`` when it is not valid TOML.
    """
    import tomllib

    path = Path(path)
    cfg_file = path / CONFIG_FILE
    if not cfg_file.exists():
        raise FileNotFoundError(f"{path} is not a run folder: {CONFIG_FILE} is missing.")
    try:
        config_dict = tomllib.loads(cfg_file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorruptRunError(cfg_file, f"not valid TOML ({exc})") from None
    provenance, prov_problem = _read_json(path / PROVENANCE_FILE)
    summary, summary_problem = _read_json(path / SUMMARY_FILE)
    study = provenance.get("study") or summary.get("study") or "unknown"
    recorded = provenance.get("status", "incomplete")
    problem = summary_problem or prov_problem
    if problem is None and (path / SUMMARY_FILE).exists() and not summary:
        problem = f"{SUMMARY_FILE} is empty"
    if problem is None and recorded == "complete" and not summary:
        problem = f"{SUMMARY_FILE} is missing although {PROVENANCE_FILE} records a complete run"
    if problem is not None:
        status = "corrupt"
    elif summary and recorded in ("running", "complete"):
        status = "complete"
    elif recorded == "running":
        status = "incomplete"
    else:
        status = recorded
    return Run(
        path=path,
        study=study,
        config=config_dict,
        config_dict=config_dict,
        provenance=provenance,
        summary=summary,
        status=status,
        problem=problem,
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
        except (OSError, tomllib.TOMLDecodeError, ValueError):  # CorruptRunError is a ValueError
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
