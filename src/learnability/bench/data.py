"""``learnability data-bench``: is data loading the bottleneck for this data set and DataLoader?

Tutorial 3's recipe on one data set of the project: build it (in memory, or a lazy copy in a
temporary folder), build the engine step that trains on it, and probe the DataLoader against the
step (:func:`data_bench`); :func:`format_bench` writes the measurements, the verdict and what
helps as plain text. The probe and the workloads come from :mod:`learnability.data`.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch.utils.data import Dataset

from learnability._validation import ParameterError, check_choice, check_in_range
from learnability._words import plural
from learnability.data import (
    LAZY_FORMATS,
    ARCTaskDataset,
    BenchProbe,
    CorruptedImageDataset,
    EngineStep,
    TensorDictDataset,
    Workload,
    accelerator_available,
    arc_workload,
    bell_data,
    bell_workload,
    bench_loading,
    bench_sweep,
    corruption_from_names,
    image_files_available,
    image_workload,
    lazy_copy,
    load_images,
    precompute,
    restoration_workload,
    write_arc_tasks,
)

__all__ = ["BENCH_DATASETS", "DataBench", "data_bench", "format_bench"]

BENCH_DATASETS = ("bell", "digits", "cifar10", "corrupted", "arc")
# Challenge 2 part B's training set: data-bench's default Bell size.
BELL_N_TRAIN = 100_000
# data-bench --dataset arc without --arc-dir: this many generated tasks.
ARC_GENERATED_TASKS = 64
_DEFAULT_BATCH = {"bell": 20, "digits": 64, "cifar10": 64, "corrupted": 64, "arc": 4}
# data-bench's default sweep: the batch size times these factors.
SWEEP_FACTORS = (1, 4, 16)
# Owner named in data-bench's error messages (the command, not the Python function).
_OWNER = "data-bench"


@dataclass
class DataBench:
    """What :func:`data_bench` measured.

    Attributes:
        dataset: the data set's name; description: what was read (size, in memory or lazy).
        result: the probe of the requested configuration.
        sweep: the sweep table when asked for, else None.
        notes: remarks about the set-up (pin_memory ignored, lazy copy size, ...).
    """

    dataset: str
    description: str
    result: BenchProbe
    sweep: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def _int_list(values: Sequence[int] | None, name: str, low: int) -> list[int] | None:
    if values is None:
        return None
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ParameterError(name, _OWNER, "a non-empty list of ints", values)
    for v in values:
        check_in_range(v, name, _OWNER, low=low, kind=int)
    return list(values)


def _bell(
    *, lazy: bool, lazy_format: str, n_items: int | None, lazy_items: int, seed: int, workdir: Path
) -> tuple[Workload, list[str]]:
    notes: list[str] = []
    n = n_items if n_items is not None else BELL_N_TRAIN
    tensors = bell_data(n, seed=seed)
    if not lazy:
        desc = f"Bell data, {n:,} x 6, in memory"
        return bell_workload(TensorDictDataset(tensors), description=desc, in_memory=True), notes
    ds = lazy_copy(tensors, lazy_format, workdir / "bell", max_items=lazy_items, owner=_OWNER)
    m = len(ds)  # type: ignore[arg-type]
    if m < n:
        notes.append(
            f"lazy item files: the first {m:,} of {n:,} items were written "
            "(one .pt file each); the per-item cost does not depend on their "
            "number"
        )
    desc = f"Bell data, {m:,} x 6, lazy ({lazy_format})"
    return bell_workload(ds, description=desc, in_memory=False), notes


def _images(
    dataset: str,
    *,
    lazy: bool,
    lazy_format: str,
    precompute_: bool,
    n_items: int | None,
    lazy_items: int,
    root: str | os.PathLike[str] | None,
    corruptions: str,
    seed: int,
    workdir: Path,
) -> tuple[Workload, list[str]]:
    notes: list[str] = []
    name = dataset
    if dataset == "corrupted":
        name = "cifar10" if image_files_available("cifar10", root) else "digits"
        notes.append(
            f"corrupted images built on {name}"
            + ("" if name == "cifar10" else " (CIFAR-10 files not found: offline default)")
        )
    data = load_images(name, root, limit=n_items)
    if dataset == "corrupted":
        corrupted: Dataset = CorruptedImageDataset(data, corruption_from_names(corruptions), seed=seed)
        if precompute_:
            corrupted = precompute(corrupted)
        state = "pre-processed once, in memory" if precompute_ else "corrupted on the fly"
        desc = f"{len(data):,} {name} images ({corruptions}), {state}"
        return restoration_workload(
            corrupted, data.image_shape, description=desc, in_memory=True if precompute_ else None
        ), notes
    if lazy:
        tensors = {"image": data.images, "label": data.labels}
        ds = lazy_copy(tensors, lazy_format, workdir / name, max_items=lazy_items, owner=_OWNER)
        desc = f"{len(ds):,} {name} images, lazy ({lazy_format})"  # type: ignore[arg-type]
        return image_workload(data, ds, description=desc, in_memory=False), notes
    desc = f"{len(data):,} {name} images {'x'.join(map(str, data.image_shape))}, in memory"
    return image_workload(data, description=desc), notes


def _arc(
    *, arc_dir: str | os.PathLike[str] | None, n_items: int | None, seed: int, workdir: Path
) -> tuple[Workload, list[str]]:
    notes: list[str] = []
    if arc_dir is None:
        directory = workdir / "arc"
        n_tasks = n_items or ARC_GENERATED_TASKS
        write_arc_tasks(directory, n_tasks, seed=seed)
        notes.append(f"no --arc-dir given: {n_tasks} small tasks were generated")
    else:
        directory = Path(arc_dir)
        if not directory.is_dir():
            raise ParameterError("arc_dir", _OWNER, "an existing directory of ARC task files", str(arc_dir))
    return arc_workload(ARCTaskDataset(directory)), notes


def _check_options(
    dataset: str,
    *,
    lazy: bool,
    precompute: bool,
    batch: int,
    workers: int,
    members: int,
    n_batches: int,
    warmup_batches: int,
    repeats: int,
    time_budget_s: float | None,
    n_items: int | None,
    lazy_items: int,
    arc_dir: str | os.PathLike[str] | None,
    threads: int | None,
    seed: int,
) -> None:
    """Refuse a bad option or combination with the project's message shape."""
    owner = _OWNER
    check_in_range(batch, "batch_size", owner, low=1, kind=int)
    check_in_range(workers, "workers", owner, low=0, kind=int)
    check_in_range(members, "members", owner, low=1, kind=int)
    check_in_range(n_batches, "n_batches", owner, low=1, kind=int)
    check_in_range(warmup_batches, "warmup_batches", owner, low=0, kind=int)
    check_in_range(repeats, "repeats", owner, low=1, kind=int)
    check_in_range(lazy_items, "lazy_items", owner, low=1, kind=int)
    check_in_range(seed, "seed", owner, low=0, kind=int)
    if threads is not None:
        check_in_range(threads, "threads", owner, low=1, kind=int)
    if time_budget_s is not None:
        check_in_range(time_budget_s, "time_budget_s", owner, low=0, low_inclusive=False)
    if n_items is not None:
        check_in_range(n_items, "n_items", owner, low=1, kind=int)
    if lazy and dataset in ("corrupted", "arc"):
        why = (
            "its items are computed on the fly; --precompute computes them once"
            if dataset == "corrupted"
            else "ARCTaskDataset reads and validates every file when it is built"
        )
        raise ParameterError("lazy", owner, f"False for dataset {dataset!r} ({why})", lazy)
    if precompute and dataset != "corrupted":
        raise ParameterError("precompute", owner, "False unless dataset is 'corrupted'", precompute)
    if arc_dir is not None and dataset != "arc":
        raise ParameterError("arc_dir", owner, "None unless dataset is 'arc'", str(arc_dir))


def data_bench(
    dataset: str = "bell",
    *,
    lazy: bool = False,
    lazy_format: str = "files",
    precompute: bool = False,
    batch_size: int | None = None,
    workers: int = 0,
    pin_memory: bool = False,
    members: int = 1,
    n_batches: int = 30,
    warmup_batches: int = 3,
    repeats: int = 1,
    time_budget_s: float | None = 5.0,
    sweep: bool = False,
    sweep_workers: Sequence[int] = (0, 1, 2),
    sweep_batch_sizes: Sequence[int] | None = None,
    n_items: int | None = None,
    lazy_items: int = 1024,
    arc_dir: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
    corruptions: str = "crop+hflip+patches+noise",
    device: str = "cpu",
    threads: int | None = 1,
    seed: int = 0,
    step_factory: Callable[[Workload, int], EngineStep] | None = None,
    workload: Workload | None = None,
) -> DataBench:
    """Is loading the bottleneck for this data set, DataLoader setting and engine step?

    Builds the data set (in memory, or a lazy copy in a temporary folder), the engine step that
    trains on it, and probes the DataLoader against the step (``learnability data-bench``).

    Args:
        dataset: ``"bell"`` (100,000 x 6, the Bell study's MLP), ``"digits"``, ``"cifar10"``
            (Lab 4's ShallowFCN), ``"corrupted"`` (restoration MLP on corrupted images),
            ``"arc"`` (per-cell colour model; ``arc_dir`` or a generated set).
        lazy: read items from files on demand instead of memory (``bell``, ``digits``,
            ``cifar10``).
        lazy_format: ``"files"`` (one ``.pt`` per item) or ``"memmap"`` (``.npy`` arrays).
        precompute: ``corrupted`` only: corrupt every item once, up front, and keep it in memory.
        batch_size: items per member per step (default: 20 for bell, 64 for images, 4 for arc).
        workers: DataLoader ``num_workers``.
        pin_memory: DataLoader ``pin_memory`` (only useful with a GPU).
        members: K models trained at once (the loader batch is ``K * batch_size``).
        n_batches, warmup_batches, repeats, time_budget_s: as in
            :func:`learnability.data.bench_loading`.
        sweep: also probe every ``(sweep_workers, sweep_batch_sizes)`` pair.
        sweep_workers: worker counts of the sweep.
        sweep_batch_sizes: per-member batch sizes of the sweep (default: 1x, 4x, 16x the batch).
        n_items: data set size (bell: points; images: first images; arc: generated tasks).
        lazy_items: most item files written for ``lazy_format="files"``.
        arc_dir: directory of ARC task JSON files.
        root: where image files are looked for (see :func:`learnability.data.load_images`).
        corruptions: ``corrupted`` only: names joined by ``+`` (noise, patches, crop, hflip,
            vflip).
        device: ``"cpu"`` or ``"cuda"``.
        threads: torch intra-op threads while probing (restored afterwards); None keeps the
            current setting. One thread suits these small steps and leaves cores to workers.
        seed: data, initial parameters and shuffling.
        step_factory: ``(workload, members) -> EngineStep`` replacing the workload's step (tests
            use it to make a step slow on purpose).
        workload: a ready workload replacing ``dataset`` (tests: a deliberately slow dataset).

    Returns:
        A :class:`DataBench`.

    Raises:
        ParameterError: for a bad option (message shape of the project).
        MissingDataError: CIFAR-10 asked for and its files absent.
    """
    owner = _OWNER
    check_choice(dataset, "dataset", owner, BENCH_DATASETS)
    check_choice(lazy_format, "lazy_format", owner, LAZY_FORMATS)
    check_choice(device, "device", owner, ("cpu", "cuda"))
    if device == "cuda" and not accelerator_available():
        raise ParameterError("device", owner, "'cpu' on this machine (CUDA is not available)", device)
    batch = batch_size if batch_size is not None else _DEFAULT_BATCH[dataset]
    _check_options(
        dataset,
        lazy=lazy,
        precompute=precompute,
        batch=batch,
        workers=workers,
        members=members,
        n_batches=n_batches,
        warmup_batches=warmup_batches,
        repeats=repeats,
        time_budget_s=time_budget_s,
        n_items=n_items,
        lazy_items=lazy_items,
        arc_dir=arc_dir,
        threads=threads,
        seed=seed,
    )
    s_workers = _int_list(list(sweep_workers), "sweep_workers", 0) if sweep else None
    s_batches = (
        _int_list(None if sweep_batch_sizes is None else list(sweep_batch_sizes), "sweep_batch_sizes", 1)
        if sweep
        else None
    )

    dev = torch.device(device)
    probe_kw: dict[str, Any] = {
        "pin_memory": pin_memory,
        "device": dev if dev.type != "cpu" else None,
        "n_batches": n_batches,
        "warmup_batches": warmup_batches,
        "repeats": repeats,
        "time_budget_s": time_budget_s,
        "seed": seed,
    }
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)  # restored below: the setting is the probe's
    try:
        with tempfile.TemporaryDirectory(prefix="learnability-data-bench-") as tmp:
            if workload is not None:
                work, notes = workload, []
            elif dataset == "bell":
                work, notes = _bell(
                    lazy=lazy,
                    lazy_format=lazy_format,
                    n_items=n_items,
                    lazy_items=lazy_items,
                    seed=seed,
                    workdir=Path(tmp),
                )
            elif dataset == "arc":
                work, notes = _arc(arc_dir=arc_dir, n_items=n_items, seed=seed, workdir=Path(tmp))
            else:
                work, notes = _images(
                    dataset,
                    lazy=lazy,
                    lazy_format=lazy_format,
                    precompute_=precompute,
                    n_items=n_items,
                    lazy_items=lazy_items,
                    root=root,
                    corruptions=corruptions,
                    seed=seed,
                    workdir=Path(tmp),
                )
            n_data = len(work.dataset)  # type: ignore[arg-type]
            if members * batch > n_data:
                raise ParameterError(
                    "batch_size",
                    owner,
                    f"at most {n_data // members} (the data set's {n_data} items split over {members} members)",
                    batch,
                )
            step = step_factory(work, members) if step_factory is not None else work.make_step(members, seed, dev)
            result = bench_loading(
                work, step, batch_size=batch, num_workers=workers, label=work.description, **probe_kw
            )
            table = None
            if sweep:
                sizes = [b for b in (s_batches or [batch * f for f in SWEEP_FACTORS]) if b * members <= n_data]
                if not sizes:
                    raise ParameterError(
                        "sweep_batch_sizes",
                        owner,
                        f"sizes with at most {n_data // members} items per member",
                        s_batches,
                    )
                table = bench_sweep(work, step, num_workers=s_workers or [0], batch_sizes=sizes, **probe_kw)
    finally:
        torch.set_num_threads(previous_threads)
    return DataBench(work.name, work.description, result, table, notes + list(result.notes))


def _col(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _rate(x: float) -> str:
    return f"{x:,.0f}" if math.isfinite(x) else "inf"


def format_bench(bench: DataBench) -> str:
    """The measurements as a plain-text table, the verdict and what helps, in plain words."""
    r, p = bench.result, bench.result.probe
    lines = [
        f"data-bench: {bench.description}",
        f"  batch {r.batch} per model x {plural(r.members, 'model')} trained at once = {p.batch_size} "
        f"items per loader batch; num_workers={p.num_workers}; pin_memory={p.pin_memory}; "
        f"{p.n_batches} timed batches" + (f", median of {len(r.ratios)} repeats" if len(r.ratios) > 1 else ""),
        "",
    ]
    rows = [
        ["dataset[i] in the main process", _rate(p.getitem_items_per_s)],
        ["DataLoader alone", _rate(p.loader_items_per_s)],
        ["training step alone (engine)", _rate(p.step_items_per_s)],
        ["DataLoader + step (end to end)", _rate(p.end_to_end_items_per_s)],
    ]
    lines += _col(rows, ["measurement", "items/s"])
    lines.append(f"first batch after creating the iterator: {p.first_batch_s:.3f} s")
    lines.append("")
    answer = {"loader": "YES", "compute": "NO", "balanced": "NOT CLEARLY (balanced)"}
    lines.append(f"Is loading the bottleneck? {answer[p.bottleneck]}. {p.verdict}")
    if not r.consistent:
        lines.append(
            "Caution: the repeats disagree (ratios "
            + ", ".join(f"{x:.2f}" for x in r.ratios)
            + "); the machine is busy or the two rates are close."
        )
    lines.append("What helps:")
    lines += [f"  - {s}" for s in p.suggestions]
    if bench.notes:
        lines.append("Notes:")
        lines += [f"  - {n}" for n in bench.notes]
    if bench.sweep is not None:
        lines += ["", "Sweep (items/s):"]
        rows = [
            [
                str(int(row.num_workers)),
                str(int(row.loader_batch)),
                _rate(row.loader_items_per_s),
                _rate(row.step_items_per_s),
                _rate(row.end_to_end_items_per_s),
                str(row.bottleneck),
            ]
            for row in bench.sweep.itertuples()
        ]
        lines += _col(rows, ["workers", "loader batch", "loader", "step", "end to end", "bottleneck"])
        best = bench.sweep.loc[bench.sweep["end_to_end_items_per_s"].idxmax()]
        lines.append(
            f"Fastest end to end: num_workers={int(best.num_workers)}, loader batch "
            f"{int(best.loader_batch)}: {_rate(best.end_to_end_items_per_s)} items/s."
        )
    return "\n".join(lines)
