"""Is data loading the bottleneck? Measure it (Tutorial 3, "Troubleshooting bottlenecks").

The tutorial's recipe, automated: count the items per second the DataLoader delivers when
nothing else runs, the items per second the training step processes when the data are already
there, and the items per second of the two together. If the loader is slower than the step, the
step waits for data (loader-bound) and the fixes are, in the tutorial's order: in-memory data,
more workers / a bigger batch, pre-processing once instead of on the fly, faster file formats.

:func:`probe_loading` measures one configuration and says which case it is, with the ratio and
suggestions chosen from the measurements; :func:`sweep_loading` runs it over ``num_workers`` x
``batch_size`` and returns a table; :func:`plot_loading_sweep` draws that table.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler

from learnability._validation import ParameterError, check_in_range
from learnability.data._datasets import ItemFilesDataset, MemmapDataset, TensorDictDataset

__all__ = ["LoadingProbe", "plot_loading_sweep", "probe_loading", "sweep_loading"]

# One side is "the bottleneck" when it is slower than the other by more than this factor;
# within it the two are called balanced (timings on shared machines jitter by ~10-20%).
BOTTLENECK_RATIO = 1.25
# When the loader's per-batch overhead (collation, worker IPC) exceeds this fraction of its time
# per batch, a bigger batch amortises it.
BATCH_OVERHEAD_FRACTION = 0.5
# The per-item read cost in the main process is timed over this many batches' worth of items.
GETITEM_PROBE_BATCHES = 2


@dataclass(frozen=True)
class LoadingProbe:
    """What :func:`probe_loading` measured and concluded. Rates are items per second.

    Attributes:
        batch_size, num_workers, pin_memory, n_batches: the configuration measured.
        in_memory: whether the dataset holds its data in memory (None: unknown type).
        getitem_items_per_s: ``dataset[i]`` in the main process, no collation.
        loader_items_per_s: iterating the DataLoader alone (no training).
        step_items_per_s: the training step alone, on a batch already loaded (and on device).
        end_to_end_items_per_s: loader and step together, as in training.
        first_batch_s: seconds from creating the iterator to the first batch (worker start-up).
        ratio: ``step_items_per_s / loader_items_per_s``; > 1 means the loader is slower.
        bottleneck: ``"loader"``, ``"compute"`` or ``"balanced"``.
        verdict: one sentence, in plain words, with the numbers.
        suggestions: what to change, chosen from the measurements (most useful first).
    """

    batch_size: int
    num_workers: int
    pin_memory: bool
    n_batches: int
    in_memory: bool | None
    getitem_items_per_s: float
    loader_items_per_s: float
    step_items_per_s: float
    end_to_end_items_per_s: float
    first_batch_s: float
    ratio: float
    bottleneck: str
    verdict: str
    suggestions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (suggestions as a list), ready for JSON."""
        d = asdict(self)
        d["suggestions"] = list(self.suggestions)
        return d


def _batch_len(batch: Any) -> int:
    """Number of items in a collated batch (first tensor's rows, or first list's length)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else 1
    if isinstance(batch, dict):
        for value in batch.values():
            return _batch_len(value)
    if isinstance(batch, list | tuple) and batch:
        first = batch[0]
        return _batch_len(first) if isinstance(first, torch.Tensor | dict | list | tuple) else len(batch)
    raise ParameterError(
        "dataset",
        "probe_loading",
        "items that collate to tensors/dicts/lists",
        type(batch).__name__,
    )


def _to_device(batch: Any, device: torch.device | None, non_blocking: bool) -> Any:
    if device is None:
        return batch
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, dict):
        return {k: _to_device(v, device, non_blocking) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(_to_device(v, device, non_blocking) for v in batch)
    return batch


def _sync(device: torch.device | None) -> None:
    # CUDA kernels run asynchronously: stop the clock only when they are done.
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def _cycle(loader: DataLoader) -> Iterator[Any]:
    """Batches forever, starting new epochs as needed (small datasets)."""
    while True:
        yielded = False
        for batch in loader:
            yielded = True
            yield batch
        if not yielded:
            return


def _in_memory(dataset: Dataset) -> bool | None:
    if isinstance(dataset, TensorDictDataset):
        return True
    if isinstance(dataset, ItemFilesDataset | MemmapDataset):
        return False
    return None


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _rate(items: int, seconds: float) -> float:
    return items / seconds if seconds > 0 else math.inf


def _suggest(
    *,
    bottleneck: str,
    ratio: float,
    in_memory: bool | None,
    getitem_rate: float,
    loader_rate: float,
    step_rate: float,
    batch_size: int,
    num_workers: int,
    pin_memory: bool,
    device: torch.device | None,
) -> tuple[str, ...]:
    if bottleneck == "compute":
        return (
            "Loading is not the bottleneck: keep the loader as it is and speed up the training "
            "step instead (fewer Python-level operations per step, a bigger batch if the "
            "hardware is underused, torch.compile).",
        )
    out: list[str] = []
    item_ms = 1e3 / getitem_rate if getitem_rate > 0 else math.inf
    step_item_ms = 1e3 / step_rate if step_rate > 0 else 0.0
    if in_memory is False:
        out.append(
            f"Load the data set in memory (TensorDictDataset) if it fits: it reads files lazily "
            f"and one item costs {item_ms:.3g} ms to fetch."
        )
    elif in_memory is None:
        out.append("If __getitem__ reads files, load the whole data set in memory (TensorDictDataset) when it fits.")
    if getitem_rate < step_rate:
        out.append(
            f"Pre-process once and save the result (save_item_files / save_memmap) instead of "
            f"working in __getitem__: fetching one item takes {item_ms:.3g} ms while the step "
            f"needs only {step_item_ms:.3g} ms per item."
        )
    cores = _available_cores()
    if num_workers < cores:
        # Workers scale the fetch rate roughly linearly until the cores run out.
        wanted = min(cores, max(num_workers + 1, math.ceil(max(num_workers, 1) * ratio)))
        out.append(
            f"Use more DataLoader workers: num_workers={num_workers} -> {wanted} ({cores} cores "
            f"available). Workers multiply the fetch rate by at most their number; the loader "
            f"must get {ratio:.1f}x faster to keep up with the step."
        )
    batch_s = batch_size / loader_rate if loader_rate > 0 else 0.0
    fetch_s = batch_size / getitem_rate if getitem_rate > 0 else 0.0
    if batch_s > 0 and (batch_s - fetch_s) / batch_s > BATCH_OVERHEAD_FRACTION:
        out.append(
            f"Use a bigger batch (e.g. batch_size={2 * batch_size}): "
            f"{100 * (batch_s - fetch_s) / batch_s:.0f}% of the loader's time per batch is "
            "per-batch overhead (collation, worker transfer), which a bigger batch spreads over "
            "more items (retune the learning rate; for small in-memory data, index whole "
            "batches without a DataLoader)."
        )
    if device is not None and device.type == "cuda" and not pin_memory:
        out.append("Set pin_memory=True and copy with .to(device, non_blocking=True).")
    if not out:
        out.append("Store the files in a faster format (memory-mapped arrays, MemmapDataset) or on faster storage.")
    return tuple(out)


def _verdict(bottleneck: str, loader: float, step: float, e2e: float, ratio: float) -> str:
    numbers = f"(end to end: {e2e:,.0f} items/s)"
    if bottleneck == "loader":
        return (
            f"Loader-bound: the DataLoader delivers {loader:,.0f} items/s but the training step "
            f"could process {step:,.0f} items/s, {ratio:.1f}x more; the step waits for data "
            f"{numbers}."
        )
    if bottleneck == "compute":
        return (
            f"Compute-bound: the training step processes {step:,.0f} items/s and the DataLoader "
            f"could deliver {loader:,.0f} items/s, {1 / ratio:.1f}x more; loading is not the "
            f"bottleneck {numbers}."
        )
    return (
        f"Balanced: the DataLoader delivers {loader:,.0f} items/s and the training step "
        f"processes {step:,.0f} items/s, within {BOTTLENECK_RATIO}x of each other; speeding up "
        f"either alone helps little {numbers}."
    )


def probe_loading(
    dataset: Dataset,
    *,
    batch_size: int,
    num_workers: int = 0,
    pin_memory: bool = False,
    step_fn: Callable[[Any], Any],
    n_batches: int = 20,
    warmup_batches: int = 2,
    device: torch.device | str | None = None,
    shuffle: bool = True,
    seed: int = 0,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    in_memory: bool | None = None,
) -> LoadingProbe:
    """Measure whether loading or the training step limits throughput, and say what helps.

    Three timings over ``n_batches`` batches each, after ``warmup_batches`` untimed ones:
    the DataLoader alone (iterate, no training); the step alone (``step_fn`` called repeatedly
    on one pre-loaded batch, already on ``device``); and both together (load, move, step). Plus
    ``dataset[i]`` in the main process, to separate per-item cost from per-batch overhead.

    Args:
        dataset: any map-style Dataset.
        batch_size: items per batch.
        num_workers: DataLoader worker processes (kept alive between epochs while probing).
        pin_memory: DataLoader's ``pin_memory``.
        step_fn: the training step, called as ``step_fn(batch)`` (e.g. forward, backward,
            optimizer step); it must not keep references that grow memory.
        n_batches: timed batches per measurement.
        warmup_batches: untimed batches first (worker start-up, allocator, caches).
        device: where batches are moved before the step; ``None`` leaves them where they are.
        shuffle: sample in random order (as in training), from ``seed``.
        seed: seed of the shuffling generator.
        collate_fn: passed to the DataLoader (e.g. ``collate_arc_tasks``).
        in_memory: whether the data live in memory; ``None`` infers it for the project's
            Dataset classes (used only to choose suggestions).

    Returns:
        A :class:`LoadingProbe` with the rates, the verdict and the suggestions.
    """
    owner = "probe_loading"
    check_in_range(batch_size, "batch_size", owner, low=1, kind=int)
    check_in_range(num_workers, "num_workers", owner, low=0, kind=int)
    check_in_range(n_batches, "n_batches", owner, low=1, kind=int)
    check_in_range(warmup_batches, "warmup_batches", owner, low=0, kind=int)
    check_in_range(seed, "seed", owner, low=0, kind=int)
    if not callable(step_fn):
        raise ParameterError("step_fn", owner, "a callable step_fn(batch)", step_fn)
    n_items = len(dataset)  # type: ignore[arg-type]
    if n_items < batch_size:
        raise ParameterError("batch_size", owner, f"at most the dataset's length ({n_items})", batch_size)
    dev = torch.device(device) if device is not None else None
    if in_memory is None:
        in_memory = _in_memory(dataset)

    # 1. Per-item fetch in the main process.
    n_fetch = min(n_items, batch_size * GETITEM_PROBE_BATCHES)
    t0 = time.perf_counter()
    for i in range(n_fetch):
        dataset[i]
    getitem_rate = _rate(n_fetch, time.perf_counter() - t0)

    sampler = (
        RandomSampler(dataset, generator=torch.Generator().manual_seed(seed)) if shuffle else SequentialSampler(dataset)
    )
    # 2. The step alone, on one batch already loaded and moved — timed before any worker
    #    process exists, so loader workers do not compete with it for the cores.
    single = DataLoader(dataset, batch_size=batch_size, collate_fn=collate_fn, drop_last=True)
    resident = _to_device(next(iter(single)), dev, non_blocking=False)
    per_batch = _batch_len(resident)
    for _ in range(warmup_batches):
        step_fn(resident)
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(n_batches):
        step_fn(resident)
    _sync(dev)
    step_rate = _rate(per_batch * n_batches, time.perf_counter() - t0)

    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        collate_fn=collate_fn,
        drop_last=True,  # equal batch sizes: the rates compare like with like
        persistent_workers=num_workers > 0,  # no re-spawn at epoch boundaries while timing
    )

    # 3. The loader alone.
    t0 = time.perf_counter()
    batches = _cycle(loader)
    next(batches)
    first_batch_s = time.perf_counter() - t0
    for _ in range(max(warmup_batches - 1, 0)):
        next(batches)
    items = 0
    t0 = time.perf_counter()
    for _ in range(n_batches):
        items += _batch_len(next(batches))
    loader_rate = _rate(items, time.perf_counter() - t0)

    # 4. End to end: what training sees.
    for _ in range(warmup_batches):
        step_fn(_to_device(next(batches), dev, non_blocking=pin_memory))
    _sync(dev)
    items = 0
    t0 = time.perf_counter()
    for _ in range(n_batches):
        batch = next(batches)
        items += _batch_len(batch)
        step_fn(_to_device(batch, dev, non_blocking=pin_memory))
    _sync(dev)
    e2e_rate = _rate(items, time.perf_counter() - t0)
    batches.close()
    del loader  # shuts persistent workers down

    ratio = step_rate / loader_rate if loader_rate > 0 else math.inf
    if ratio > BOTTLENECK_RATIO:
        bottleneck = "loader"
    elif ratio < 1 / BOTTLENECK_RATIO:
        bottleneck = "compute"
    else:
        bottleneck = "balanced"
    suggestions = _suggest(
        bottleneck=bottleneck, ratio=ratio, in_memory=in_memory, getitem_rate=getitem_rate,
        loader_rate=loader_rate, step_rate=step_rate, batch_size=batch_size,
        num_workers=num_workers, pin_memory=pin_memory, device=dev,
    )  # fmt: skip
    return LoadingProbe(
        batch_size=batch_size,
        num_workers=num_workers,
        pin_memory=pin_memory,
        n_batches=n_batches,
        in_memory=in_memory,
        getitem_items_per_s=getitem_rate,
        loader_items_per_s=loader_rate,
        step_items_per_s=step_rate,
        end_to_end_items_per_s=e2e_rate,
        first_batch_s=first_batch_s,
        ratio=ratio,
        bottleneck=bottleneck,
        verdict=_verdict(bottleneck, loader_rate, step_rate, e2e_rate, ratio),
        suggestions=suggestions,
    )


def sweep_loading(
    dataset: Dataset,
    *,
    step_fn: Callable[[Any], Any],
    num_workers: Sequence[int] = (0, 1, 2),
    batch_sizes: Sequence[int] = (32, 128, 512),
    **probe_kwargs: Any,
) -> pd.DataFrame:
    """Run :func:`probe_loading` for every ``(num_workers, batch_size)`` pair.

    Args:
        dataset: as for :func:`probe_loading`.
        step_fn: the training step.
        num_workers: worker counts to try.
        batch_sizes: batch sizes to try (each at most ``len(dataset)``).
        **probe_kwargs: passed on (``pin_memory``, ``n_batches``, ``device``, ...).

    Returns:
        One row per pair with every field of :class:`LoadingProbe` (suggestions joined by
        ``"; "``), sorted by ``num_workers`` then ``batch_size``.
    """
    owner = "sweep_loading"
    for name, values in (("num_workers", num_workers), ("batch_sizes", batch_sizes)):
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise ParameterError(name, owner, "a non-empty sequence of ints", values)
    rows = []
    for workers in sorted(set(num_workers)):
        for size in sorted(set(batch_sizes)):
            probe = probe_loading(dataset, batch_size=size, num_workers=workers, step_fn=step_fn, **probe_kwargs)
            row = probe.to_dict()
            row["suggestions"] = "; ".join(probe.suggestions)
            rows.append(row)
    return pd.DataFrame(rows)


_SWEEP_COLUMNS = (
    "num_workers",
    "batch_size",
    "loader_items_per_s",
    "step_items_per_s",
    "end_to_end_items_per_s",
)


def plot_loading_sweep(frame: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Items/s against batch size, one line per ``num_workers``: the loader alone (left, with
    the step alone dashed for reference) and end to end (right).

    Args:
        frame: the table of :func:`sweep_loading`.
        title: figure title.

    Returns:
        A matplotlib Figure on the Agg canvas.
    """
    missing = [c for c in _SWEEP_COLUMNS if c not in frame.columns]
    if missing or frame.empty:
        raise ParameterError(
            "frame", "plot_loading_sweep", f"a non-empty sweep_loading table with {_SWEEP_COLUMNS}",
            f"columns {list(frame.columns)}" if not frame.empty else "an empty table",
        )  # fmt: skip
    fig = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax_loader, ax_e2e = fig.subplots(1, 2, sharey=True)
    for workers, group in frame.sort_values("batch_size").groupby("num_workers"):
        ax_loader.plot(group["batch_size"], group["loader_items_per_s"], "o-", label=f"{workers} workers")
        ax_e2e.plot(group["batch_size"], group["end_to_end_items_per_s"], "o-", label=f"{workers} workers")
    step = frame.groupby("batch_size")["step_items_per_s"].median()
    for ax in (ax_loader, ax_e2e):
        ax.plot(step.index, step.values, "k--", label="training step alone")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.grid(True, which="both", alpha=0.3)
    ax_loader.set_ylabel("items / s")
    ax_loader.set_title("DataLoader alone")
    ax_e2e.set_title("end to end (loader + step)")
    ax_e2e.legend(fontsize=8)
    if title is not None:
        fig.suptitle(title)
    return fig
