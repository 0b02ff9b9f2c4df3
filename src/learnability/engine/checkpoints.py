"""Checkpoints of a run's training, for resuming a killed run to the same numbers.

A study's ``run`` is a deterministic function of its config: all randomness is seeded and every
training goes through :func:`~learnability.engine.train`. Resuming is therefore a *memoised
replay*: the study runs again from the top, and

* each call of ``train`` gets an index (its rank among the run's calls, the same in every replay);
* a call that completed before the kill returns its saved result (final parameters, optimizer
  state, histories, divergence and stationarity marks) without training;
* the call that was interrupted restores its last mid-call checkpoint (parameters, optimizer
  state, step counter, divergence and stationarity state, the data source's position and
  generator states, the histories so far) and continues;
* everything the run logs before it reaches the last checkpoint is muted, and ``metrics.jsonl`` is
  cut back to its length at that checkpoint, so no record is written twice.

Non-training work (NumPy, scikit-learn, evaluation) is simply recomputed: it is deterministic.

Files, in the run folder's ``checkpoints/``::

    index.json            the key (config and code version) and the last checkpoint taken
    call-00007.pt         the result of completed call 7
    call-00007-part.pt    call 7's state at the last mid-call checkpoint (removed when it completes)

Every file is written atomically (temporary file, fsync, rename), the ``.pt`` file before the
index that points to it, so a kill during a checkpoint leaves the previous one valid. Files are read
with ``torch.load(..., weights_only=True)``: tensors, numbers, strings, lists and dicts only.

The store is handed to the engine with :func:`checkpointing` (a context variable), so the engine
never imports the runner and studies need no change.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from learnability.runs import atomic_path, write_atomic

__all__ = [
    "CHECKPOINTS_DIR",
    "CallCheckpoints",
    "CheckpointStore",
    "MetricsJournal",
    "ResumeError",
    "active_store",
    "checkpointing",
    "has_checkpoint",
    "load_checkpoint",
    "load_source_state",
    "source_state",
]

CHECKPOINTS_DIR = "checkpoints"
INDEX_FILE = "index.json"

#: Default fraction of the run's time that mid-call checkpoints may cost: the next one is taken no
#: sooner than ``cost / budget`` seconds after the previous one (``cost``: what it took to write).
DEFAULT_BUDGET = 0.02
#: Default least time between two mid-call checkpoints, in seconds (what a kill may lose at most,
#: plus one block).
DEFAULT_INTERVAL_S = 60.0


class ResumeError(RuntimeError):
    """A run cannot be resumed from its checkpoints (another config or code version, a replay that
    does not match what was saved)."""


class MetricsJournal(Protocol):
    """The run's metric file as the checkpoints see it (a :class:`~learnability.runs.RunWriter`)."""

    muted: bool

    def mark(self) -> int:
        """Flush the records written so far to disk; return the file's length in bytes."""
        ...


_ACTIVE: contextvars.ContextVar[CheckpointStore | None] = contextvars.ContextVar(
    "learnability_checkpoints", default=None
)


@contextlib.contextmanager
def checkpointing(store: CheckpointStore | None) -> Iterator[None]:
    """Every :func:`~learnability.engine.train` call inside the block checkpoints into ``store``."""
    token = _ACTIVE.set(store)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active_store() -> CheckpointStore | None:
    """The store of the run being executed, or None (no checkpoints: a plain ``train`` call)."""
    return _ACTIVE.get()


# --------------------------------------------------------------------------- serialisation

_ND = "__ndarray__"


def _to_saveable(obj: Any) -> Any:
    """Nested dicts/lists of tensors, arrays and plain values -> what ``weights_only`` loads."""
    if isinstance(obj, Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, np.ndarray):
        return {_ND: torch.from_numpy(np.ascontiguousarray(obj).copy())}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Mapping):
        return {str(k): _to_saveable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_to_saveable(v) for v in obj]
    return obj


def _from_saved(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_ND}:
            return obj[_ND].numpy()
        return {k: _from_saved(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_saved(v) for v in obj]
    return obj


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint file's content, loaded with ``weights_only=True`` (no code is unpickled).

    Raises:
        ResumeError: naming the file, when it cannot be read as a checkpoint.
    """
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle's, zipfile's and torch's errors
        raise ResumeError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise ResumeError(f"{path}: not a checkpoint (it holds a {type(data).__name__}, not a dict)")
    return _from_saved(data)


# --------------------------------------------------------------------------- data sources


class _Unsupported(Exception):
    """A source attribute that cannot be captured (the call is then checkpointed only when done)."""


def _snap(v: Any) -> Any:
    if isinstance(v, torch.Generator):
        return {"__generator__": v.get_state()}
    if isinstance(v, Tensor):
        return v.detach().to("cpu", copy=True)
    if isinstance(v, list | tuple):
        return [_snap(x) for x in v]
    if v is None or isinstance(v, bool | int | float | str):
        return v
    raise _Unsupported(type(v).__name__)


def _is_source(v: Any) -> bool:
    return callable(getattr(v, "start", None)) and callable(getattr(v, "next", None))


def source_state(source: Any) -> dict[str, Any]:
    """The position of a started batch source: its ``state_dict()`` when it has one, else its
    private attributes (generators' states, tensors such as the current epoch's order, counters)
    and those of the sources it wraps.

    Raises:
        _Unsupported: when a private attribute is of a kind that cannot be captured.
    """
    if callable(getattr(source, "state_dict", None)):
        return {"state_dict": source.state_dict()}
    out: dict[str, Any] = {}
    for name, v in vars(source).items():
        if _is_source(v):
            out[name] = {"__source__": source_state(v)}
        elif name.startswith("_"):
            out[name] = _snap(v)
    return out


def _restore(current: Any, saved: Any, device: torch.device) -> Any:
    if isinstance(saved, dict) and "__generator__" in saved:
        current.set_state(saved["__generator__"])
        return current
    if isinstance(saved, Tensor):
        return saved.to(current.device if isinstance(current, Tensor) else device)
    if isinstance(saved, list):
        if isinstance(current, list | tuple) and len(current) == len(saved):
            return [_restore(c, s, device) for c, s in zip(current, saved, strict=True)]
        return [_restore(None, s, device) for s in saved]
    return saved


def load_source_state(source: Any, state: Mapping[str, Any], device: torch.device) -> None:
    """Put a source (already ``start``-ed with the same seeds) back at the position ``state``."""
    if "state_dict" in state and callable(getattr(source, "load_state_dict", None)):
        source.load_state_dict(state["state_dict"])
        return
    for name, saved in state.items():
        if isinstance(saved, dict) and "__source__" in saved:
            load_source_state(getattr(source, name), saved["__source__"], device)
        else:
            setattr(source, name, _restore(getattr(source, name, None), saved, device))


# --------------------------------------------------------------------------- the store


def fingerprint_hash(obj: Any) -> str:
    """A short digest of a JSON-able value (a call's identity)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class CheckpointStore:
    """The checkpoints of one run folder.

    Args:
        folder: the run folder (checkpoints go to ``folder/checkpoints``).
        key: what a checkpoint must match to be used: the config's digest and the code version
            (package version, git commit and edits). Stored in every file.
        journal: the run's metric file (muted during a replay; its length is saved with each
            checkpoint).
        resume: continue from the checkpoints already in the folder (else the folder must hold
            none).
        interval_s: least seconds between two mid-call checkpoints (0: one after every block,
            whatever it costs, as tests use).
        budget: most fraction of the run's time that mid-call checkpoints may cost.

    Raises:
        ResumeError: on ``resume``, when the folder's checkpoints were written with another key.
    """

    #: Called after every checkpoint written, with ``(number of checkpoints written, entry)``:
    #: a hook for tests that interrupt a run at a given checkpoint.
    after_save: Callable[[int, dict[str, Any]], None] | None = None

    def __init__(
        self,
        folder: str | Path,
        key: Mapping[str, Any],
        journal: MetricsJournal | None = None,
        *,
        resume: bool = False,
        interval_s: float = DEFAULT_INTERVAL_S,
        budget: float = DEFAULT_BUDGET,
    ) -> None:
        self.dir = Path(folder) / CHECKPOINTS_DIR
        self.key = dict(key)
        self.journal = journal
        self.interval_s, self.budget = float(interval_s), float(budget)
        self.calls = 0  # train() calls begun in this process
        self.saved = 0  # checkpoints written in this process
        self.seconds = 0.0  # time spent writing them
        self.target: dict[str, Any] | None = None  # the last checkpoint, to reach before logging
        self._next_due = 0.0
        #: seconds the run has been running (set by the runner; saved with each checkpoint)
        self.clock: Callable[[], float] = lambda: 0.0
        if resume:
            self.target = self._read_index()
        elif self.dir.exists() and any(self.dir.iterdir()):
            raise ResumeError(f"{self.dir} already holds checkpoints; resume the run instead of starting it here")
        self.dir.mkdir(exist_ok=True)
        if self.target is not None and journal is not None:
            journal.muted = True
        self._next_due = time.perf_counter() + self.interval_s

    # ----------------------------------------------------------------- reading

    def _read_index(self) -> dict[str, Any] | None:
        path = self.dir / INDEX_FILE
        if not path.exists():
            return None
        try:
            index = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ResumeError(f"{path}: not readable ({exc})") from None
        self._check_key(index.get("key"), path)
        return index.get("last")

    def _check_key(self, found: Any, path: Path) -> None:
        if found == self.key:
            return
        found = found if isinstance(found, dict) else {}
        diffs = [
            f"{name}: checkpoint {found.get(name)!r}, now {self.key.get(name)!r}"
            for name in sorted(set(found) | set(self.key))
            if found.get(name) != self.key.get(name)
        ]
        raise ResumeError(
            f"{path} was written by another config or code version, so resuming would mix two runs; "
            "refused (" + "; ".join(diffs) + "). Start a new run with the folder's config.toml instead."
        )

    @property
    def offset(self) -> int:
        """Length of ``metrics.jsonl`` at the last checkpoint (0: none, start from scratch)."""
        return int(self.target["offset"]) if self.target else 0

    @property
    def elapsed(self) -> float:
        """Seconds the run had been running at the last checkpoint."""
        return float(self.target.get("elapsed", 0.0)) if self.target else 0.0

    @property
    def replaying(self) -> bool:
        """Whether the run has not yet reached its last checkpoint (records are muted)."""
        return self.target is not None

    def _file(self, index: int, part: bool) -> Path:
        return self.dir / f"call-{index:05d}{'-part' if part else ''}.pt"

    def _load(self, path: Path, fingerprint: Mapping[str, Any]) -> dict[str, Any]:
        data = load_checkpoint(path)
        self._check_key(data.get("key"), path)
        if data.get("fingerprint") != dict(fingerprint):
            saved = data.get("fingerprint") or {}
            diffs = [k for k in sorted(set(saved) | set(fingerprint)) if saved.get(k) != fingerprint.get(k)]
            raise ResumeError(
                f"{path} holds another training call than the one the study makes now "
                f"(differs in: {', '.join(diffs)}); the replay is not deterministic, so the run cannot be resumed"
            )
        return data

    def _reached(self) -> None:
        self.target = None
        if self.journal is not None:
            self.journal.muted = False

    # ----------------------------------------------------------------- calls

    def begin(self, fingerprint: Mapping[str, Any]) -> CallCheckpoints:
        """The next ``train`` call's checkpoints (its index is its rank in the run)."""
        index = self.calls
        self.calls += 1
        if self.target is not None and index > int(self.target["call"]):
            raise ResumeError(
                f"the replay passed call {self.target['call']} of the last checkpoint without reaching it; "
                "the run is not deterministic, so it cannot be resumed"
            )
        return CallCheckpoints(self, index, dict(fingerprint))

    def due(self) -> bool:
        """Whether a mid-call checkpoint is due (time and cost budget); never while replaying."""
        return self.target is None and time.perf_counter() >= self._next_due

    def _save(self, index: int, part: bool, payload: Mapping[str, Any], fingerprint: Mapping[str, Any]) -> None:
        t0 = time.perf_counter()
        path = self._file(index, part)
        with atomic_path(path) as tmp:
            torch.save(_to_saveable({**payload, "key": self.key, "fingerprint": fingerprint}), tmp)
        offset = self.journal.mark() if self.journal is not None else 0
        entry = {
            "call": index,
            "tag": fingerprint.get("tag"),
            "part": part,
            "step": int(payload.get("steps", payload.get("done", 0))),
            "file": path.name,
            "offset": offset,
            "elapsed": float(self.clock()),
            "written": time.time(),
        }
        write_atomic(self.dir / INDEX_FILE, json.dumps({"key": self.key, "last": entry}, indent=2))
        if not part:
            with contextlib.suppress(OSError):
                self._file(index, True).unlink()
        cost = time.perf_counter() - t0
        self.saved += 1
        self.seconds += cost
        # interval 0 (tests): after every block; else no sooner than the budget allows.
        wait = 0.0 if self.interval_s == 0 else max(self.interval_s, cost / self.budget)
        self._next_due = time.perf_counter() + wait
        hook = type(self).after_save
        if hook is not None:
            hook(self.saved, entry)


class CallCheckpoints:
    """One ``train`` call's view of the store (made by :meth:`CheckpointStore.begin`)."""

    def __init__(self, store: CheckpointStore, index: int, fingerprint: dict[str, Any]) -> None:
        self.store, self.index, self.fingerprint = store, index, fingerprint

    def completed(self) -> dict[str, Any] | None:
        """The saved result of this call when it completed before (during a replay), else None."""
        target = self.store.target
        if target is None:
            return None
        path = self.store._file(self.index, False)
        if not path.exists():
            return None
        data = self.store._load(path, self.fingerprint)
        if self.index == int(target["call"]):
            self.store._reached()
        return data

    def partial(self) -> dict[str, Any] | None:
        """This call's mid-call state when the last checkpoint was taken inside it, else None."""
        target = self.store.target
        if target is None or int(target["call"]) != self.index or not target.get("part"):
            return None
        data = self.store._load(self.store.dir / target["file"], self.fingerprint)
        self.store._reached()
        return data

    def due(self) -> bool:
        return self.store.due()

    def save(self, payload: Mapping[str, Any], *, part: bool) -> None:
        """Write this call's state (``part``) or result; ignored while replaying."""
        if self.store.target is not None:
            return
        self.store._save(self.index, part, payload, self.fingerprint)


def has_checkpoint(run_dir: str | Path) -> bool:
    """Whether a run folder holds a checkpoint to resume from."""
    return (Path(run_dir) / CHECKPOINTS_DIR / INDEX_FILE).is_file()


def env_interval(default: float = DEFAULT_INTERVAL_S) -> float:
    """``LEARNABILITY_CHECKPOINT_SECONDS`` (least seconds between mid-call checkpoints; 0: every
    block, as tests use), else ``default``."""
    raw = os.environ.get("LEARNABILITY_CHECKPOINT_SECONDS")
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"LEARNABILITY_CHECKPOINT_SECONDS must be a number of seconds >= 0; got {raw!r}") from None
    if not value >= 0:
        raise ValueError(f"LEARNABILITY_CHECKPOINT_SECONDS must be a number of seconds >= 0; got {raw!r}")
    return value
