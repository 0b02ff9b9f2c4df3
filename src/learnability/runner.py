"""Running a study end to end: resolve the config, write the run folder, build the report.

The CLI and the Python API both go through :func:`execute`, so a notebook run and a command-line
run produce the same folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import socket
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from learnability._progress import Progress
from learnability._threads import auto_threads
from learnability._validation import ParameterError, check_in_range, parameter_message
from learnability._version import __version__
from learnability.config import (
    ConfigError,
    StudyConfig,
    build_config,
    config_from_toml,
    config_to_toml,
    parse_assignments,
)
from learnability.engine.checkpoints import CHECKPOINTS_DIR, CheckpointStore, ResumeError, checkpointing, env_interval
from learnability.report.curves import incomplete_report
from learnability.report.document import fmt
from learnability.report.html import HEADLINE_FILE, REPORT_HTML
from learnability.report.write import write_report
from learnability.runs import (
    ARTIFACTS_DIR,
    CONFIG_FILE,
    METRICS_FILE,
    CorruptRunError,
    Run,
    RunWriter,
    _git_commit,
    new_run_dir,
    read_run,
)
from learnability.studies import MemoryEstimate, Study, StudyContext, get_study

__all__ = [
    "ResumeError",
    "available_memory",
    "check_memory",
    "execute",
    "load_run",
    "rebuild_report",
    "resolve_config",
    "resume",
    "resume_run",
    "run_study",
]


def resolve_config(
    study: Study,
    *,
    smoke: bool = False,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    assignments: Sequence[str] = (),
) -> StudyConfig:
    """The study's config: defaults < TOML file < smoke size < overrides < ``key=value`` pairs.

    ``--smoke`` applies on top of a file, so ``--config my.toml --smoke`` runs at smoke size
    whatever the file pins (a file written by ``learnability config --full`` pins every size);
    ``--set`` pairs apply last.

    Raises:
        ConfigError: for unknown keys, wrong types or out-of-range values (all listed at once),
            and for ``device="cuda"`` where CUDA is not available.
    """
    layers: list[Mapping[str, Any]] = []
    if config_file is not None:
        layers.append(config_from_toml(config_file))
    if smoke:
        layers.append(study.smoke)
    if overrides:
        layers.append(overrides)
    if assignments:
        layers.append(parse_assignments(study.config_cls, assignments))
    config = build_config(study.config_cls, owner=study.name, layers=layers)
    problem = device_problem(config.device, study)
    if problem is not None:
        raise ConfigError([parameter_message("device", study.name, problem, config.device)])
    return config


def available_devices() -> list[str]:
    """The devices this machine offers: ``cpu``, ``cuda`` and ``cuda:N`` per GPU, ``mps``."""
    out = ["cpu"]
    if torch.cuda.is_available():
        out += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        out.append("mps")
    return out


def device_problem(device: str, study: Study) -> str | None:
    """Why ``device`` cannot run ``study`` here (the allowed values, for the error), or None."""
    kind = device.split(":")[0]
    if kind not in study.devices:
        return "'cpu' for this study (it computes with NumPy/scikit-learn, not torch devices)"
    here = [d for d in available_devices() if d.split(":")[0] in study.devices]
    if device not in here:
        allowed = repr(here[0]) if len(here) == 1 else "one of {" + ", ".join(repr(d) for d in here) + "}"
        return f"{allowed} on this machine"
    return None


def load_run(path: str | Path) -> Run:
    """Read a run folder (complete or not), with its config and results typed where possible.

    ``run.config`` is the study's frozen config class and ``run.results`` its typed results model
    when the study is registered and the files match it; otherwise ``run.config`` stays the plain
    dict and ``run.results`` None (a run of another version, or of a study not installed here).
    ``run.summary`` is always the plain ``summary.json`` mapping.

    Raises:
        FileNotFoundError: if ``path`` holds no run (no ``config.toml``).
    """
    run = read_run(path)
    try:
        study = get_study(run.study)
    except ValueError:
        return run
    with contextlib.suppress(ValueError):  # pydantic's ValidationError is a ValueError
        run.config = study.config_cls.model_validate(run.config_dict)
    if run.complete and study.results is not None:
        with contextlib.suppress(ValueError):
            run.results = study.results.from_summary(run.summary)
    return run


def rebuild_report(path: str | Path) -> Path:
    """(Re)build ``report.md`` and the figures of a run folder from the folder alone.

    A run that did not complete, or whose folder is corrupt (a garbled or missing
    ``summary.json``, a summary that lacks what the study's report reads), gets the report of an
    incomplete run, which says why.

    Raises:
        FileNotFoundError: if ``path`` holds no run.
        CorruptRunError: naming the file, when a file the report needs (``config.toml``, an
            artifact) is garbled.
    """
    run = load_run(path)
    try:
        study: Study | None = get_study(run.study)
    except ValueError:
        study = None
    report = None
    if study is not None and run.complete:
        try:
            report = study.build_report(run)
        except CorruptRunError:
            raise
        except (KeyError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            run.status = "corrupt"
            run.problem = f"summary.json does not hold what the {study.name} report reads ({type(exc).__name__}: {exc})"
    if report is None:
        report = incomplete_report(run)
    return write_report(report, run)


def _cgroup_memory_left() -> int | None:
    """Bytes this process's cgroup (v2) may still allocate, when it has a limit."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        used = int((root / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    if limit == "max" or not limit.isdigit():
        return None
    return max(0, int(limit) - used)


def available_memory() -> int | None:
    """Bytes of memory available to a new run: ``MemAvailable`` of ``/proc/meminfo`` (Linux),
    lowered to the container's (cgroup) limit where there is one; None where unknown."""
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    available = None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            available = int(line.split()[1]) * 1024  # kB
            break
    if available is None:
        return None
    cgroup = _cgroup_memory_left()
    return available if cgroup is None else min(available, cgroup)


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB"


def _setting_value(config: Any, dotted: str) -> Any:
    value = config
    for part in dotted.split("."):
        value = getattr(value, part, None)
    return value


def check_memory(study: Study, config: StudyConfig, *, available: int | None = None) -> None:
    """Refuse a config whose memory estimate (``study.memory_bytes``) exceeds what is available.

    Args:
        study: the study (no estimate when its ``memory_bytes`` hook is None or returns None).
        config: the resolved config.
        available: bytes available (default :func:`available_memory`; unknown: no check).

    Raises:
        ParameterError: naming the setting that dominates the estimate (when the hook names
            it), the estimate and the limit.
    """
    if study.memory_bytes is None:
        return
    estimate = study.memory_bytes(config)
    if estimate is None:
        return
    if not isinstance(estimate, MemoryEstimate):
        estimate = MemoryEstimate(int(estimate))
    have = available_memory() if available is None else available
    if have is None or estimate.bytes <= have:
        return
    allowed = (
        f"small enough for the run to fit in memory (the run needs an estimated {_gib(estimate.bytes)}; "
        f"{_gib(have)} is available)"
    )
    if estimate.setting is None:
        raise ParameterError("config", study.name, allowed, "a config of this size")
    raise ParameterError(estimate.setting, study.name, allowed, _setting_value(config, estimate.setting))


def is_data_error(exc: BaseException) -> bool:
    """Whether ``exc`` says a data file is missing or corrupt (its message names the file).

    Looked up without importing the data package: if it was never imported, no data file was read.
    """
    errors = sys.modules.get("learnability.data._errors")
    return errors is not None and isinstance(exc, errors.DataFileError | errors.MissingDataError)


def _nothing_recorded(path: Path) -> bool:
    """Whether a run folder holds no metric and no artifact yet."""
    metrics = path / METRICS_FILE
    no_metrics = not metrics.exists() or metrics.stat().st_size == 0
    return no_metrics and not any((path / ARTIFACTS_DIR).iterdir())


def _denormals_flushed() -> bool:
    """Whether this thread's floating-point unit currently flushes subnormal float32 to zero."""
    smallest_normal = np.finfo(np.float32).tiny
    return bool(np.float32(smallest_normal) / np.float32(2) == 0)


@contextlib.contextmanager
def flushing_denormals() -> Iterator[bool]:
    """Flush subnormal floats to zero inside the block; restore the previous mode after it.

    Subnormals (tiny Adam second moments late in training) are many times slower on CPUs;
    flushing them changes values below 1.2e-38 only. The mode is process state that other code
    (numpy, hypothesis, a notebook) relies on, so it never outlives the run. Yields whether the
    CPU supports flushing (recorded in provenance).
    """
    before = _denormals_flushed()
    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        torch.set_flush_denormal(before)


@contextlib.contextmanager
def deterministic_cudnn(device: str) -> Iterator[dict[str, bool] | None]:
    """On CUDA, cuDNN's deterministic algorithms and no autotuning for the run (restored after).

    ``torch.backends.cudnn.deterministic = True`` and ``benchmark = False`` make convolutions
    repeatable run to run (same seed, same numbers), at some speed; on the CPU nothing changes.
    Yields the flags set (for the provenance), or None off CUDA.
    """
    if torch.device(device).type != "cuda":
        yield None
        return
    cudnn = torch.backends.cudnn
    before = (cudnn.deterministic, cudnn.benchmark)
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield {"cudnn_deterministic": True, "cudnn_benchmark": False}
    finally:
        cudnn.deterministic, cudnn.benchmark = before


def execute(
    study: Study,
    config: StudyConfig,
    *,
    out: str | Path = "runs",
    progress: bool = True,
    argv: Sequence[str] | None = None,
    verbose: bool = False,
    smoke: bool = False,
) -> Path:
    """Run ``study`` with ``config``; return the run folder.

    Args:
        progress: show progress (a bar on a terminal, a few plain lines a minute elsewhere).
        verbose: also log each phase's start and end.
        smoke: the config is the study's smoke size: the folder's name ends in ``-smoke`` and
            provenance records ``"smoke": true``.

    Metrics are flushed as they are produced. On an error or Ctrl-C the folder is marked failed or
    interrupted, an incomplete-run report is written, and the exception propagates.
    """
    if study.check is not None:  # refuse before creating anything
        study.check(config)
    check_memory(study, config)
    with flushing_denormals() as flush, deterministic_cudnn(config.device) as cudnn_flags:
        path = new_run_dir(out, study.name, config.seed, smoke=smoke)
        header = (
            f"learnability run {study.name}: resolved configuration\n"
            f"re-run with: learnability run {study.name} --config config.toml"
        )
        try:
            writer = RunWriter(
                path, study=study.name, config=config, config_toml=config_to_toml(config, header=header), argv=argv
            )
        except BaseException:  # e.g. a full disk: leave no half-made folder behind
            shutil.rmtree(path, ignore_errors=True)
            raise
        writer.provenance["flush_denormal"] = flush
        if cudnn_flags is not None:
            writer.provenance["cudnn"] = cudnn_flags
        writer.provenance["smoke"] = smoke
        writer.provenance["load_average"] = {"start": load_average(), "end": None, "cores": available_cores()}
        writer._write_provenance()  # with the settings above, should the run be killed
        store = CheckpointStore(path, checkpoint_key(writer.provenance["git"], path), writer, interval_s=env_interval())
        store.clock = writer.elapsed
        _run_in(study, config, writer, store, progress=progress, verbose=verbose, stderr_mode="w")
    rebuild_report(path)
    return path


def checkpoint_key(git: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """What a run's checkpoints must match to be reused: the digest of its ``config.toml`` and
    the code version (package version, git commit, whether the tree had edits and their digest)."""
    text = (Path(path) / CONFIG_FILE).read_bytes()
    return {
        "config_sha256": hashlib.sha256(text).hexdigest()[:16],
        "version": __version__,
        "git_commit": git.get("commit"),
        "git_dirty": git.get("dirty"),
        "git_diff_sha256": git.get("diff_sha256"),
    }


def _run_in(
    study: Study,
    config: StudyConfig,
    writer: RunWriter,
    store: CheckpointStore,
    *,
    progress: bool,
    verbose: bool,
    stderr_mode: str,
) -> None:
    """Run the study into ``writer``'s folder, checkpointing into ``store``; finish or fail it."""
    path = writer.path
    caught: list[str] = writer.provenance.setdefault("warnings", [])
    with _recording_warnings(caught), _teeing_stderr(path / STDERR_FILE, mode=stderr_mode):
        bar = Progress(enabled=progress, desc=study.name, verbose=verbose)
        if study.plan is not None:
            bar.plan(study.plan(config))
        ctx = StudyContext(writer=writer, progress=bar, device=torch.device(config.device), root_seed=config.seed)
        try:
            with checkpointing(store):
                output = study.run(config, ctx)
            if store.replaying:
                raise ResumeError(
                    f"the run ended without reaching its last checkpoint (call {store.target['call']}); "
                    "it is not deterministic, so it cannot be resumed"  # type: ignore[index]
                )
            summary = study.summary_of(output)
            bar.close()
            writer.provenance.setdefault("load_average", {})["end"] = load_average()
            writer.provenance["checkpoints"] = {
                "written": store.saved,
                "seconds": round(store.seconds, 3),
                "train_calls": store.calls,
            }
            writer.finish(summary)
            # A complete run needs no checkpoint: its numbers are in summary.json.
            shutil.rmtree(path / CHECKPOINTS_DIR, ignore_errors=True)
        except BaseException as exc:
            if is_data_error(exc) and _nothing_recorded(path):
                # The data files are missing or corrupt and the run recorded nothing: the
                # message names the files; a folder would only hide the next attempt.
                writer.fail(exc)
                bar.close()
                shutil.rmtree(path, ignore_errors=True)
                raise
            exc.add_note(f"run folder: {path}")
            if not isinstance(exc, ResumeError):
                exc.add_note(f"continue it with: learnability resume {path}")
            # The status first: a second Ctrl-C (or a full disk) during the rest of the
            # cleanup stops the cleanup, never leaves the run "running", and the original
            # error is the one raised.
            with contextlib.suppress(Exception, KeyboardInterrupt):
                writer.muted = False
                writer.fail(exc)
                bar.close()
                with contextlib.suppress(Exception):
                    rebuild_report(path)
            raise


def _still_running(provenance: Mapping[str, Any]) -> int | None:
    """The pid of the process still running this run on this machine, else None."""
    if provenance.get("status") != "running":
        return None
    latest = (provenance.get("resumes") or [provenance])[-1]
    pid, host = latest.get("pid"), latest.get("hostname")
    if not isinstance(pid, int) or host != socket.gethostname() or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def resume_run(
    path: str | Path,
    *,
    progress: bool = True,
    verbose: bool = False,
    threads: int | None = None,
    argv: Sequence[str] | None = None,
) -> Path:
    """Continue a killed, interrupted or failed run from its last checkpoint, in its own folder.

    The study runs again from the top: training calls that completed return their saved
    results, the interrupted one continues from its last mid-call checkpoint, and the records of
    ``metrics.jsonl`` written after that checkpoint are dropped (the run writes them again), so no
    record appears twice. With the same machine and thread count the run ends with the same
    ``summary.json`` numbers as one never interrupted. A complete run is not run again: its
    report is rebuilt.

    Args:
        path: the run folder.
        threads: torch intra-op threads (default: the run's own, from its provenance, since the
            numbers are bit-identical only for the same thread count).

    Raises:
        FileNotFoundError: if ``path`` holds no run.
        ResumeError: when the checkpoints were written by another config or code version, or the
            run is still running.
    """
    path = Path(path)
    run = read_run(path)
    if run.complete:
        rebuild_report(path)
        return path
    pid = _still_running(run.provenance)
    if pid is not None:
        raise ResumeError(f"{path} is still being run by process {pid}; resume it once that process has ended")
    try:
        study = get_study(run.study)
    except ValueError:
        raise ResumeError(f"{path} is a run of study {run.study!r}, which is not installed here") from None
    config = resolve_config(study, config_file=path / CONFIG_FILE)
    if study.check is not None:
        study.check(config)
    store = CheckpointStore(path, checkpoint_key(_git_commit(), path), None, resume=True, interval_s=env_interval())
    for tmp in (path / CHECKPOINTS_DIR).glob(".*.tmp"):  # a checkpoint cut by the kill
        tmp.unlink(missing_ok=True)
    recorded = run.provenance.get("threads")
    want = threads if threads is not None else recorded if isinstance(recorded, int) and recorded > 0 else None
    before = torch.get_num_threads()
    if want is not None:
        torch.set_num_threads(want)
    try:
        with flushing_denormals(), deterministic_cudnn(config.device):
            writer = RunWriter.reopen(
                path, study=study.name, config=config, offset=store.offset, elapsed=store.elapsed, argv=argv
            )
            store.journal = writer
            writer.muted = store.replaying
            store.clock = writer.elapsed
            _run_in(study, config, writer, store, progress=progress, verbose=verbose, stderr_mode="a")
    finally:
        torch.set_num_threads(before)
    rebuild_report(path)
    return path


def resume(path: str | Path, *, progress: bool = True, threads: int | None = None) -> Run:
    """Continue a killed, interrupted or failed run (see :func:`resume_run`); return it loaded.

    Example:
        >>> run = learnability.resume("runs/teacher-student-20261204-101500-s0")  # doctest: +SKIP
    """
    return load_run(resume_run(path, progress=progress, threads=threads, argv=["<python>", "resume", str(path)]))


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def load_average() -> float | None:
    """The 1-minute load average (runnable processes), or None where the OS has none (Windows)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def busy_machine_warning(provenance: Mapping[str, Any]) -> str | None:
    """A warning when the machine was busy during the run (1-minute load average above the cores
    available, at the start or at the end), else None."""
    load = provenance.get("load_average") or {}
    cores = load.get("cores") or available_cores()
    seen = [v for v in (load.get("start"), load.get("end")) if isinstance(v, int | float)]
    if not seen or max(seen) <= cores:
        return None
    return (
        f"warning: the machine was busy during this run (1-minute load average {fmt(max(seen))} on "
        f"{cores} cores available), so its runtime is not comparable to the documented one. "
        "Re-run when the machine is idle, or with fewer parallel jobs or --threads 1, to compare runtimes; "
        "the results (timings aside) do not depend on the load."
    )


def run_epilogue(path: str | Path) -> list[str]:
    """What ``learnability run`` prints after a run, before the folder: the headline numbers (from
    ``headline.json``), the path of ``report.html``, and a busy-machine warning where one applies."""
    path = Path(path)
    lines: list[str] = []
    try:
        entry = json.loads((path / HEADLINE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        entry = {}
    head = entry.get("headline") if isinstance(entry, dict) else None
    if isinstance(head, dict) and head:
        width = max(len(str(k)) for k in head)
        lines += [f"  {k!s:<{width}}  {v if isinstance(v, str) else fmt(v)}" for k, v in head.items()]
    if (path / REPORT_HTML).exists():
        lines.append(f"report: {path / REPORT_HTML}")
    try:
        provenance = json.loads((path / "provenance.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        provenance = {}
    warning = busy_machine_warning(provenance)
    if warning is not None:
        lines.append(warning)
    return lines


# The run's standard error (progress, warnings, library messages), as it was printed.
STDERR_FILE = "stderr.txt"


@contextlib.contextmanager
def _recording_warnings(into: list[str]) -> Iterator[None]:
    """Append every warning shown during the block to ``into`` (and still show it).

    A silent fallback (a compiled step that went eager, a library's numerical warning) then stays
    visible in the run's provenance.
    """
    previous = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, *args: Any) -> None:
        into.append(f"{category.__name__}: {message} ({Path(filename).name}:{lineno})")
        previous(message, category, filename, lineno, *args)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


class _Tee(io.TextIOBase):
    """Writes to a stream and to a file (the file gets everything, the stream stays as it was)."""

    def __init__(self, stream: Any, file: Any) -> None:
        self._stream, self._file = stream, file

    def write(self, text: str) -> int:
        self._file.write(text)
        return self._stream.write(text)

    def flush(self) -> None:
        self._file.flush()
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()


@contextlib.contextmanager
def _teeing_stderr(path: Path, mode: str = "w") -> Iterator[None]:
    """Copy what Python code writes to ``sys.stderr`` during the block into ``path``."""
    previous = sys.stderr
    with open(path, mode, encoding="utf-8") as f:
        sys.stderr = _Tee(previous, f)
        try:
            yield
        finally:
            sys.stderr = previous


def run_study(
    name: str,
    *,
    smoke: bool = False,
    config: str | Path | Mapping[str, Any] | None = None,
    out: str | Path = "runs",
    progress: bool = True,
    threads: int | None = None,
    **overrides: Any,
) -> Run:
    """Run a study from Python, exactly as ``learnability run`` does; return the loaded run.

    Args:
        name: the study's name (see ``learnability list``).
        smoke: use the study's small CI size.
        config: a TOML file, or a nested mapping of settings.
        out: parent folder of the run folder.
        progress: show the progress bar.
        threads: torch intra-op threads for this run (``learnability run --threads``); the
            process's setting is restored afterwards. On a busy machine 1 is often several times
            faster for small models than 2 threads competing for a core.
        **overrides: settings by key; nested keys as dicts (``train={"max_steps": 100}``) or
            dotted strings passed via ``**{"train.max_steps": 100}``.

    Example:
        >>> run = learnability.run_study("teacher-student", smoke=True, seed=1)  # doctest: +SKIP
        >>> run.metrics.query("series == 'test_loss'")  # doctest: +SKIP
    """
    study = get_study(name)
    file = None
    layers: dict[str, Any] = {}
    if isinstance(config, Mapping):
        layers.update(config)
    elif isinstance(config, str | os.PathLike):
        file = config
    elif config is not None:  # an int would be opened as a file descriptor
        raise ParameterError("config", "run_study", "a TOML file (str or Path), a mapping of settings or None", config)
    layers.update(overrides)
    if threads is not None:
        check_in_range(threads, "threads", "run_study", low=1, kind=int)
    cfg = resolve_config(study, smoke=smoke, config_file=file, overrides=layers)
    before = torch.get_num_threads()
    torch.set_num_threads(threads if threads is not None else auto_threads())
    try:
        path = execute(
            study,
            cfg,
            out=out,
            progress=progress,
            smoke=smoke,
            argv=["<python>", "run_study", name, *(f"{k}={v!r}" for k, v in layers.items())],
        )
    finally:
        torch.set_num_threads(before)
    return load_run(path)
