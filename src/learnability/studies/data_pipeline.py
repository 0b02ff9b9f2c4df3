"""Study ``data-pipeline``: Datasets, DataLoaders and finding loading bottlenecks (Tutorial 3).

Tutorial 3's recipe -- count the items per second the DataLoader delivers, count the items per
second the training step consumes, and compare -- applied to the project's own data with the
project's own training step (the engine's step on a stacked ensemble, not a toy):

1. **Bell data** (Challenge 2 part B: 100,000 inputs from U[0, 2]^6, y = B6(x), batch 20, the
   residual MLP 6->50, 8 x (50->50 skip), 50->1, Adam): in memory (``TensorDictDataset``) vs
   lazy (memory-mapped arrays, one ``.pt`` file per item), several ``num_workers``, one model
   and K models trained at once; plus the engine training from its ``FixedSource`` (the data
   set as one tensor, indexed on the device), the alternative to a DataLoader.
2. **Images** (scikit-learn's digits offline, CIFAR-10 when its files are present) with Lab 4's
   ``ShallowFCN`` trained by the engine.
3. **Corrupted images** (the tutorial's CIFAR-10 exercise): a batch drawn corrupted above clean;
   determinism per ``(seed, index)`` measured; corruption on the fly vs pre-processed once.
4. **ARC tasks** on a generated directory of task JSON files: padding and masks of the collate
   function checked, a format error shown, and the probe run with a per-cell colour model.
5. A sweep over ``num_workers`` x batch size.

The probe is :func:`learnability.data.probe_loading`; this module adds the engine step
(:class:`EngineStep`), repeats with a median (:func:`bench_loading`), and the ``data-bench``
command's API (:func:`data_bench`). Every sentence of the report is generated from the
measurements: on another machine the verdicts may differ, and they should.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from learnability._validation import ParameterError, check_choice, check_in_range
from learnability.config import ConfigSection, StudyConfig
from learnability.data import (
    ARC_COLOURS,
    ARCFormatError,
    ARCTaskDataset,
    CorruptedImageDataset,
    ImageData,
    ItemFilesDataset,
    LoadingProbe,
    MemmapDataset,
    TensorDictDataset,
    collate_arc_tasks,
    corruption_from_names,
    image_files_available,
    item_generator,
    load_images,
    probe_loading,
    save_item_files,
    save_memmap,
)
from learnability.engine import (
    Adam,
    FixedSource,
    MLPSpec,
    ModuleEnsemble,
    StackedMLP,
    TrainSpec,
    cross_entropy,
    make_step,
    mse,
    nll,
    train,
)
from learnability.models import ShallowFCN
from learnability.report import (
    Chart,
    Figure,
    Heading,
    Heatmap,
    Line,
    Panel,
    Report,
    Table,
    Text,
    fmt,
)
from learnability.runs import Run
from learnability.studies import Study, StudyContext, register
from learnability.targets import bell_polynomial

__all__ = [
    "BENCH_DATASETS",
    "BenchProbe",
    "DataBench",
    "DataPipelineConfig",
    "EngineStep",
    "Workload",
    "arc_padding_check",
    "arc_workload",
    "bell_data",
    "bell_workload",
    "bench_loading",
    "bench_sweep",
    "corruption_determinism",
    "data_bench",
    "format_bench",
    "image_workload",
    "restoration_workload",
    "write_arc_tasks",
]

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

# Challenge 2 part B: inputs are drawn from U[0, BELL_HIGH]^BELL_VARS, targets are B6(x), and
# the training set holds BELL_N_TRAIN points.
BELL_VARS = 6
BELL_N_TRAIN = 100_000
BELL_LOW, BELL_HIGH = 0.0, 2.0
# Learning rate of the timed steps: any small stable rate; speed does not depend on it.
PROBE_LR = 1e-4
# A repeat agrees with the verdict when its ratio falls on the same side of the probe's
# threshold; the library calls a side the bottleneck beyond this factor (see data._probe).
BOTTLENECK_RATIO = 1.25
# Fewest timed batches a time budget may leave (below this a rate is mostly noise).
MIN_PROBE_BATCHES = 3
# Items read in the main process to estimate the per-item cost before choosing n_batches.
PILOT_ITEMS = 8
# End to end slower than the step alone by more than this fraction (the noise margin of the
# bottleneck ratio, 1 - 1/1.25): the note about time spent loading even when loading is not the
# bottleneck (with num_workers=0, loading and the step alternate in one process).
E2E_LOSS_NOTE = 0.20
# ARC tasks written by write_arc_tasks: pairs per section (inclusive ranges).
ARC_TRAIN_PAIRS = (2, 4)
ARC_TEST_PAIRS = (1, 2)
# ARC task kinds of the generated set; "recolour" is learnable cell by cell.
ARC_KINDS = ("recolour", "flip", "transpose")
# Token of padded cells in the ARC probe: one past the last colour, so the per-cell model has
# ARC_COLOURS + 1 classes and padding is never confused with colour 0.
ARC_PAD = ARC_COLOURS

BENCH_DATASETS = ("bell", "digits", "cifar10", "corrupted", "arc")
LAZY_FORMATS = ("files", "memmap")
# data-bench --dataset arc without --arc-dir: this many generated tasks.
ARC_GENERATED_TASKS = 64
_DEFAULT_BATCH = {"bell": 20, "digits": 64, "cifar10": 64, "corrupted": 64, "arc": 4}
# data-bench's default sweep: the batch size times these factors.
SWEEP_FACTORS = (1, 4, 16)


def _accelerator_available() -> bool:
    return torch.cuda.is_available()


# --------------------------------------------------------------------------------------------
# The engine step, as the probe's step_fn
# --------------------------------------------------------------------------------------------

XY = Callable[[Any, int], tuple[Tensor, Tensor]]


class EngineStep:
    """One engine training step (forward, backward, masked Adam update of K members) per batch.

    The DataLoader batch holds ``K * B`` items; ``to_xy(batch, K)`` reshapes it into the
    engine's per-member inputs ``(K, B, ...)`` and targets, so member k trains on its own ``B``
    items, exactly as the engine's ``FixedSource`` would feed it. The step is the one
    :func:`learnability.engine.train` runs (eager), with persistent parameters and optimizer
    state, so repeated calls time the steady state.

    Args:
        model: a ``StackedMLP`` or ``ModuleEnsemble``.
        loss: per-member loss (``mse``, ``nll``, ``cross_entropy``).
        to_xy: ``(batch, K) -> (x (K, B, ...), y (K, B, ...))``.
        members: K, members trained at once.
        seed: initial parameters of member k come from ``seed + k``.
        device: where parameters live (batches are moved there by the probe).
        lr: learning rate of every member.
    """

    def __init__(
        self,
        model: StackedMLP | ModuleEnsemble,
        loss: Callable[[Tensor, Tensor], Tensor],
        to_xy: XY,
        *,
        members: int,
        seed: int,
        device: torch.device | str = "cpu",
        lr: float = PROBE_LR,
    ) -> None:
        owner = "EngineStep"
        check_in_range(members, "members", owner, low=1, kind=int)
        check_in_range(seed, "seed", owner, low=0, kind=int)
        self.model, self.loss, self.to_xy, self.members = model, loss, to_xy, members
        device = torch.device(device)
        self.params = model.init([seed + k for k in range(members)], device=device)
        optimizer = Adam()
        self.state = optimizer.init(self.params)
        self._step = make_step(model, loss, optimizer, compile=False)
        self.lr = torch.full((members,), float(lr), dtype=torch.float64, device=device)
        self.active = torch.ones(members, dtype=torch.bool, device=device)
        self.ceiling = torch.full((members,), math.inf, device=device)
        self.steps = 0

    def __call__(self, batch: Any) -> Tensor:
        """Train one step on ``batch``; returns the (K,) losses before the update."""
        x, y = self.to_xy(batch, self.members)
        with torch.no_grad():  # as in the engine's loop: the step takes its own gradients
            losses, self.active = self._step(self.params, self.state, x, y, self.lr, self.active, self.ceiling)
        self.steps += 1
        return losses


# --------------------------------------------------------------------------------------------
# Workloads: a data set and the engine model that trains on it
# --------------------------------------------------------------------------------------------


@dataclass
class Workload:
    """A data set, the model the engine trains on it, and how batches become ``(x, y)``.

    Attributes:
        name: short name (``"bell"``, ``"digits"``, ...).
        dataset: the map-style Dataset the DataLoader reads.
        description: one line for tables (what the data are, in memory or not).
        make_step: ``(members, seed, device) -> EngineStep``.
        collate_fn: the DataLoader's collate function (None: the default).
        in_memory: whether the items live in memory (None: unknown).
    """

    name: str
    dataset: Dataset
    description: str
    make_step: Callable[[int, int, torch.device | str], EngineStep]
    collate_fn: Callable[[list[Any]], Any] | None = None
    in_memory: bool | None = None


def bell_data(n: int, *, seed: int) -> dict[str, Tensor]:
    """The Bell data set: ``x ~ U[0, 2]^6`` (N, 6) and ``y = B6(x)`` (N, 1), float32.

    Args:
        n: number of points (Challenge 2 part B uses 100,000 for training).
        seed: seed of the inputs.

    Returns:
        ``{"x": (n, 6), "y": (n, 1)}``.
    """
    check_in_range(n, "n", "bell_data", low=1, kind=int)
    g = torch.Generator().manual_seed(seed)
    x = BELL_LOW + (BELL_HIGH - BELL_LOW) * torch.rand(n, BELL_VARS, generator=g)  # (N, 6)
    y = bell_polynomial(BELL_VARS)(x)  # (N, 1)
    return {"x": x, "y": y}


def _bell_xy(batch: Mapping[str, Tensor], k: int) -> tuple[Tensor, Tensor]:
    return batch["x"].view(k, -1, BELL_VARS), batch["y"].view(k, -1, 1)  # (K, B, 6), (K, B, 1)


def bell_workload(
    dataset: Dataset,
    *,
    width: int = 50,
    hidden_layers: int = 9,
    description: str = "Bell data",
    in_memory: bool | None = None,
) -> Workload:
    """The Bell study's network on Bell data items ``{"x": (6,), "y": (1,)}``.

    Args:
        dataset: items with keys ``x`` and ``y``.
        width: hidden width (50).
        hidden_layers: hidden widths; 9 = an input layer 6 -> 50 and 8 residual 50 -> 50 layers.
        description: for tables.
        in_memory: whether ``dataset`` holds its items in memory.
    """
    model = StackedMLP(MLPSpec(BELL_VARS, (width,) * hidden_layers, residual=True))

    def make_step(members: int, seed: int, device: torch.device | str) -> EngineStep:
        return EngineStep(model, mse, _bell_xy, members=members, seed=seed, device=device)

    return Workload("bell", dataset, description, make_step, in_memory=in_memory)


def image_workload(
    data: ImageData, dataset: Dataset | None = None, *, description: str | None = None, in_memory: bool | None = True
) -> Workload:
    """Lab 4's ``ShallowFCN`` (flatten, linear, log-softmax) on ``{"image", "label"}`` items.

    Args:
        data: the images (sizes the model).
        dataset: the Dataset to read (default: ``data.to_dataset()``, in memory).
        description: for tables.
        in_memory: whether ``dataset`` holds its items in memory.
    """
    c, h, w = data.image_shape
    n_classes = len(data.classes)
    model = ModuleEnsemble(lambda: ShallowFCN(c * h * w, n_classes, seed=0))

    def to_xy(batch: Mapping[str, Tensor], k: int) -> tuple[Tensor, Tensor]:
        return batch["image"].view(k, -1, c, h, w), batch["label"].view(k, -1)  # (K, B, C, H, W)

    def make_step(members: int, seed: int, device: torch.device | str) -> EngineStep:
        return EngineStep(model, nll, to_xy, members=members, seed=seed, device=device)

    return Workload(
        data.name,
        dataset if dataset is not None else data.to_dataset(),
        description or f"{data.name} images {c}x{h}x{w}",
        make_step,
        in_memory=in_memory,
    )


def restoration_workload(
    dataset: Dataset,
    image_shape: tuple[int, int, int],
    *,
    hidden: int = 128,
    description: str = "corrupted images",
    in_memory: bool | None = None,
) -> Workload:
    """A one-hidden-layer MLP restoring ``corrupted`` to ``clean`` (MSE), per member.

    Args:
        dataset: items ``{"corrupted": (C, H, W), "clean": (C, H, W), "label": ()}``.
        image_shape: ``(C, H, W)``.
        hidden: hidden width.
        description: for tables.
        in_memory: whether items are precomputed in memory (False: corrupted on the fly).
    """
    d = math.prod(image_shape)
    model = StackedMLP(MLPSpec(d, (hidden,), d_out=d))

    def to_xy(batch: Mapping[str, Tensor], k: int) -> tuple[Tensor, Tensor]:
        return batch["corrupted"].reshape(k, -1, d), batch["clean"].reshape(k, -1, d)  # (K, B, D)

    def make_step(members: int, seed: int, device: torch.device | str) -> EngineStep:
        return EngineStep(model, mse, to_xy, members=members, seed=seed, device=device)

    return Workload("corrupted", dataset, description, make_step, in_memory=in_memory)


def _collate_arc_padded(items: list[dict[str, Any]]) -> dict[str, Any]:
    # Module-level (not a lambda) so DataLoader workers can receive it under any start method.
    return collate_arc_tasks(items, pad_value=ARC_PAD)


def arc_workload(dataset: ARCTaskDataset, *, hidden: int = 32) -> Workload:
    """A per-cell colour model on ARC tasks: each cell of a train input predicts the same cell of
    its output (``ARC_COLOURS + 1`` classes, the last one = padding).

    The collate function pads to the batch's canvas with the token ``ARC_PAD``; the model sees
    every canvas cell, so the shapes are regular and members split the batch evenly.
    """
    classes = ARC_COLOURS + 1
    model = StackedMLP(MLPSpec(classes, (hidden,), d_out=classes))

    def to_xy(batch: Mapping[str, Any], k: int) -> tuple[Tensor, Tensor]:
        grids = batch["train_input"]  # (K*B, P, H, W)
        x = F.one_hot(grids, classes).to(torch.float32).reshape(k, -1, classes)  # (K, N, 11)
        return x, batch["train_output"].reshape(k, -1)  # (K, N)

    def make_step(members: int, seed: int, device: torch.device | str) -> EngineStep:
        return EngineStep(model, cross_entropy, to_xy, members=members, seed=seed, device=device)

    return Workload(
        "arc",
        dataset,
        f"ARC tasks ({len(dataset)} JSON files, read at start)",
        make_step,
        collate_fn=_collate_arc_padded,
        in_memory=True,
    )


# --------------------------------------------------------------------------------------------
# Probing: the library probe with the engine step, repeats and a time budget
# --------------------------------------------------------------------------------------------


def _side(ratio: float) -> str:
    if ratio > BOTTLENECK_RATIO:
        return "loader"
    if ratio < 1 / BOTTLENECK_RATIO:
        return "compute"
    return "balanced"


@dataclass(frozen=True)
class BenchProbe:
    """The probe of one configuration, over repeats.

    Attributes:
        probe: the repeat whose ratio is the median (its numbers and verdict are quoted).
        ratios: every repeat's ``step_items_per_s / loader_items_per_s``.
        members: K, models trained at once (the loader batch holds ``K * batch`` items).
        batch: items per member per step.
        label: what was measured (data set, variant).
        notes: extra measured remarks (e.g. time lost to loading end to end).
    """

    probe: LoadingProbe
    ratios: tuple[float, ...]
    members: int
    batch: int
    label: str
    notes: tuple[str, ...] = ()

    @property
    def consistent(self) -> bool:
        """Whether every repeat put the bottleneck on the same side."""
        return len({_side(r) for r in self.ratios}) == 1

    @property
    def e2e_loss(self) -> float:
        """Fraction of the step-alone rate lost end to end (0: loading costs nothing)."""
        p = self.probe
        return 1.0 - p.end_to_end_items_per_s / p.step_items_per_s if p.step_items_per_s else 0.0

    def row(self) -> dict[str, Any]:
        """One flat row for tables (JSON/parquet friendly)."""
        p = self.probe
        return {
            "label": self.label,
            "members": self.members,
            "batch": self.batch,
            "loader_batch": p.batch_size,
            "num_workers": p.num_workers,
            "pin_memory": p.pin_memory,
            "in_memory": p.in_memory,
            "n_batches": p.n_batches,
            "getitem_items_per_s": p.getitem_items_per_s,
            "loader_items_per_s": p.loader_items_per_s,
            "step_items_per_s": p.step_items_per_s,
            "end_to_end_items_per_s": p.end_to_end_items_per_s,
            "first_batch_s": p.first_batch_s,
            "ratio": p.ratio,
            "ratio_min": min(self.ratios),
            "ratio_max": max(self.ratios),
            "repeats": len(self.ratios),
            "consistent": self.consistent,
            "bottleneck": p.bottleneck,
            "e2e_loss": self.e2e_loss,
            "verdict": p.verdict,
            # One per line: the library's sentences contain semicolons themselves.
            "suggestions": "\n".join(p.suggestions),
            "notes": "\n".join(self.notes),
        }


def _budget_batches(dataset: Dataset, loader_batch: int, n_batches: int, time_budget_s: float | None) -> int:
    """``n_batches``, lowered so that one timed pass reads for about ``time_budget_s``."""
    if time_budget_s is None:
        return n_batches
    n_pilot = min(PILOT_ITEMS, len(dataset))  # type: ignore[arg-type]
    t0 = time.perf_counter()
    for i in range(n_pilot):
        dataset[i]
    per_batch = (time.perf_counter() - t0) / n_pilot * loader_batch
    affordable = int(time_budget_s / per_batch) if per_batch > 0 else n_batches
    return max(MIN_PROBE_BATCHES, min(n_batches, affordable))


def bench_loading(
    workload: Workload,
    step: EngineStep,
    *,
    batch_size: int,
    num_workers: int = 0,
    pin_memory: bool = False,
    device: torch.device | str | None = None,
    n_batches: int = 30,
    warmup_batches: int = 3,
    repeats: int = 1,
    time_budget_s: float | None = None,
    seed: int = 0,
    label: str | None = None,
) -> BenchProbe:
    """Probe one DataLoader configuration against the engine step, ``repeats`` times.

    Runs :func:`learnability.data.probe_loading` with ``step`` as the training step and a loader
    batch of ``step.members * batch_size`` items; keeps the repeat with the median ratio, so
    the verdict and the numbers quoted come from one measurement, and records every ratio.

    Args:
        workload: data set and collate function.
        step: the engine step (its ``members`` sets the loader batch).
        batch_size: items per member per step.
        num_workers: DataLoader workers.
        pin_memory: DataLoader ``pin_memory``; ignored (and noted) without an accelerator,
            where it does nothing but warn.
        device: where batches are moved before the step (None: leave them on the CPU).
        n_batches: timed batches per measurement (at most; see ``time_budget_s``).
        warmup_batches: untimed batches first.
        repeats: probes run; the median-ratio one is kept.
        time_budget_s: lower ``n_batches`` so one timed pass over the loader reads for about
            this long (slow lazy data); None keeps ``n_batches``.
        seed: shuffling seed of repeat 0 (repeat r uses ``seed + r``).
        label: what is measured, for tables (default: the workload's description).

    Returns:
        A :class:`BenchProbe`.

    Raises:
        ParameterError: for a bad parameter (the loader batch larger than the data set, ...).
    """
    owner = "bench_loading"
    check_in_range(batch_size, "batch_size", owner, low=1, kind=int)
    check_in_range(repeats, "repeats", owner, low=1, kind=int)
    check_in_range(n_batches, "n_batches", owner, low=1, kind=int)
    if time_budget_s is not None:
        check_in_range(time_budget_s, "time_budget_s", owner, low=0, low_inclusive=False)
    loader_batch = step.members * batch_size
    n_items = len(workload.dataset)  # type: ignore[arg-type]
    if loader_batch > n_items:
        raise ParameterError(
            "batch_size",
            owner,
            f"at most {n_items // step.members} (the data set's {n_items} items split over {step.members} members)",
            batch_size,
        )
    notes: list[str] = []
    if pin_memory and not _accelerator_available():
        notes.append(
            "pin_memory was requested but there is no GPU: it only speeds up copies to a GPU, so it was left off"
        )
        pin_memory = False
    n = _budget_batches(workload.dataset, loader_batch, n_batches, time_budget_s)
    probes = [
        probe_loading(
            workload.dataset,
            batch_size=loader_batch,
            num_workers=num_workers,
            pin_memory=pin_memory,
            step_fn=step,
            n_batches=n,
            warmup_batches=warmup_batches,
            device=device,
            seed=seed + r,
            collate_fn=workload.collate_fn,
            in_memory=workload.in_memory,
        )
        for r in range(repeats)
    ]
    ordered = sorted(probes, key=lambda p: p.ratio)
    chosen = ordered[(len(ordered) - 1) // 2]
    e2e_loss = 1.0 - chosen.end_to_end_items_per_s / chosen.step_items_per_s if chosen.step_items_per_s else 0.0
    if e2e_loss > E2E_LOSS_NOTE and chosen.bottleneck != "loader":
        why = (
            ": with num_workers=0 loading and the step take turns in one process, so loading "
            "costs time even when it is not the bottleneck; indexing an in-memory tensor on "
            "the device (the engine's FixedSource) avoids the DataLoader"
            if num_workers == 0
            else ": the workers compete with the training step for the CPU cores"
        )
        notes.append(
            f"end to end the step runs {100 * e2e_loss:.0f}% slower than alone "
            f"({chosen.end_to_end_items_per_s:,.0f} vs "
            f"{chosen.step_items_per_s:,.0f} items/s){why}"
        )
    return BenchProbe(
        chosen, tuple(p.ratio for p in probes), step.members, batch_size, label or workload.description, tuple(notes)
    )


def bench_sweep(
    workload: Workload, step: EngineStep, *, num_workers: Sequence[int], batch_sizes: Sequence[int], **kwargs: Any
) -> pd.DataFrame:
    """:func:`bench_loading` for every ``(num_workers, batch_size)`` pair.

    Returns:
        One row per pair (:meth:`BenchProbe.row` plus ``batch_size`` = the loader batch, the
        columns :func:`learnability.data.plot_loading_sweep` draws), sorted by workers then
        batch size.
    """
    for name, values in (("num_workers", num_workers), ("batch_sizes", batch_sizes)):
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise ParameterError(name, "bench_sweep", "a non-empty sequence of ints", values)
    rows = []
    for workers in sorted(set(num_workers)):
        for size in sorted(set(batch_sizes)):
            res = bench_loading(workload, step, batch_size=size, num_workers=workers, **kwargs)
            row = res.row()
            row["batch_size"] = row["loader_batch"]
            rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Lazy copies of in-memory data
# --------------------------------------------------------------------------------------------


def _lazy_copy(tensors: Mapping[str, Tensor], fmt_: str, directory: Path, *, max_items: int) -> Dataset:
    """Write ``tensors`` to ``directory`` and return the lazy Dataset reading them back.

    ``"memmap"`` writes every item (one ``.npy`` per key); ``"files"`` writes the first
    ``max_items`` items, one ``.pt`` file each (a per-item read costs the same whatever the
    number of files, and writing 100,000 files takes minutes).
    """
    check_choice(fmt_, "lazy_format", "data-pipeline", LAZY_FORMATS)
    if fmt_ == "memmap":
        return MemmapDataset(save_memmap(tensors, directory))
    n = min(max_items, len(next(iter(tensors.values()))))
    save_item_files(TensorDictDataset({k: v[:n] for k, v in tensors.items()}), directory)
    return ItemFilesDataset(directory)


# --------------------------------------------------------------------------------------------
# Corruptions: determinism per (seed, index), pre-processing once
# --------------------------------------------------------------------------------------------


def _stack_items(dataset: Dataset, indices: Sequence[int]) -> dict[str, Tensor]:
    items = [dataset[i] for i in indices]
    return {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in items[0]}


def corruption_determinism(
    dataset: CorruptedImageDataset, *, n: int, other_seed: int, workers: int = 2, batch_size: int = 8
) -> dict[str, float]:
    """Measure that item ``i``'s corruption depends on ``(seed, i)`` only.

    Reads the first ``n`` items in index order in the main process, then again in reverse
    order, then through a DataLoader with ``workers`` processes and a shuffled order, and with
    a dataset of another seed.

    Returns:
        ``max_abs_diff_reverse`` and ``max_abs_diff_workers`` (0 when deterministic),
        ``mean_abs_diff_other_seed`` (> 0: another seed, other corruptions),
        ``mean_abs_diff_neighbour`` (one image corrupted with the streams of indices i and
        i + 1; > 0: every index has its own stream), ``frac_items_changed`` (items whose
        corrupted image differs from the clean one), ``n``.
    """
    owner = "corruption_determinism"
    check_in_range(n, "n", owner, low=2, high=len(dataset), kind=int)
    check_in_range(workers, "workers", owner, low=0, kind=int)
    idx = list(range(n))
    forward = _stack_items(dataset, idx)["corrupted"]  # (n, C, H, W)
    backward = _stack_items(dataset, idx[::-1])["corrupted"].flip(0)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(other_seed)).tolist()
    loader = DataLoader(dataset, batch_size=batch_size, sampler=order, num_workers=workers)
    via_workers = torch.cat([b["corrupted"] for b in loader])[torch.argsort(torch.tensor(order))]
    other = CorruptedImageDataset(dataset.data, dataset.corruption, seed=other_seed)
    other_c = _stack_items(other, idx)["corrupted"]
    clean = _stack_items(dataset, idx)["clean"]
    changed = ((forward - clean).abs().flatten(1).amax(1) > 0).float().mean()
    # Same image, streams of consecutive indices: isolates the per-index generator.
    image = dataset.data.images[:1]  # (1, C, H, W)
    streams = torch.cat(
        [dataset.corruption(image, generator=item_generator(dataset.seed, i)) for i in idx]
    )  # (n, C, H, W)
    return {
        "n": float(n),
        "max_abs_diff_reverse": float((forward - backward).abs().max()),
        "max_abs_diff_workers": float((forward - via_workers).abs().max()),
        "mean_abs_diff_other_seed": float((forward - other_c).abs().mean()),
        "mean_abs_diff_neighbour": float((streams[1:] - streams[:-1]).abs().mean()),
        "frac_items_changed": float(changed),
    }


def _precompute(dataset: Dataset) -> TensorDictDataset:
    """Every item computed once and kept in memory (the tutorial's "do not preprocess on the
    fly")."""
    return TensorDictDataset(_stack_items(dataset, range(len(dataset))))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# ARC: a generated directory of tasks, padding and masks checked
# --------------------------------------------------------------------------------------------


def write_arc_tasks(directory: str | os.PathLike[str], n_tasks: int, *, seed: int, max_size: int = 10) -> list[Path]:
    """Write ``n_tasks`` small ARC task files (``task_000.json``, ...) to ``directory``.

    Each task applies one rule to random grids of random sizes 1..``max_size``: a recolouring
    (a permutation of the 10 colours), a left-right flip, or a transpose (output shape differs).

    Returns:
        The files written, in order.
    """
    owner = "write_arc_tasks"
    check_in_range(n_tasks, "n_tasks", owner, low=1, kind=int)
    check_in_range(max_size, "max_size", owner, low=1, high=30, kind=int)
    rng = np.random.default_rng(seed)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for t in range(n_tasks):
        kind = ARC_KINDS[t % len(ARC_KINDS)]
        colours = rng.permutation(ARC_COLOURS)

        def pair(kind: str = kind, colours: np.ndarray = colours) -> dict[str, list[list[int]]]:
            h, w = (int(v) for v in rng.integers(1, max_size + 1, size=2))
            grid = rng.integers(0, ARC_COLOURS, size=(h, w))
            out = {"recolour": lambda g: colours[g], "flip": lambda g: g[:, ::-1], "transpose": lambda g: g.T}[kind](
                grid
            )
            return {"input": grid.tolist(), "output": np.asarray(out).tolist()}

        task = {
            "train": [pair() for _ in range(int(rng.integers(ARC_TRAIN_PAIRS[0], ARC_TRAIN_PAIRS[1] + 1)))],
            "test": [pair() for _ in range(int(rng.integers(ARC_TEST_PAIRS[0], ARC_TEST_PAIRS[1] + 1)))],
        }
        path = directory / f"task_{t:03d}.json"
        path.write_text(json.dumps(task))
        paths.append(path)
    return paths


def arc_padding_check(dataset: ARCTaskDataset, *, batch_size: int) -> dict[str, Any]:
    """Collate every batch of ``dataset`` and check padding and masks against the items.

    Returns:
        ``n_tasks``, ``n_batches``, ``canvases`` (list of ``[H, W]``), ``real_cell_fraction``
        (real cells / canvas cells over all grids), ``pair_slot_fraction`` (real pairs / pair
        slots), ``roundtrip_exact`` (every grid recovered exactly from its batch with the
        sizes), ``masks_exact`` (every mask True exactly on real cells), ``padding_exact``
        (every padded cell holds the pad token), ``first_batch`` (the first batch, for figures).
    """
    keys = ("train_input", "train_output", "test_input", "test_output")
    real = total = pairs_real = pairs_total = 0
    roundtrip = masks_ok = pads_ok = True
    canvases: list[list[int]] = []
    first: dict[str, Any] | None = None
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        batch = collate_arc_tasks(items, pad_value=ARC_PAD)
        first = first if first is not None else batch
        canvases.append(list(batch["train_input"].shape[-2:]))
        for key in keys:
            grids, mask, sizes = batch[key], batch[f"{key}_mask"], batch[f"{key}_size"]
            real += int(mask.sum())
            total += mask.numel()
            pads_ok &= bool((grids[~mask] == ARC_PAD).all())
            for i, item in enumerate(items):
                for p, grid in enumerate(item[key]):
                    h, w = (int(v) for v in sizes[i, p])
                    roundtrip &= (h, w) == tuple(grid.shape) and torch.equal(grids[i, p, :h, :w], grid)
                    masks_ok &= int(mask[i, p].sum()) == h * w and bool(mask[i, p, :h, :w].all())
        for section in ("train", "test"):
            pairs_real += int(batch[f"{section}_pairs"].sum())
            pairs_total += batch[f"{section}_pairs"].numel()
    return {
        "n_tasks": len(dataset),
        "n_batches": len(canvases),
        "canvases": canvases,
        "real_cell_fraction": real / total,
        "pair_slot_fraction": pairs_real / pairs_total,
        "roundtrip_exact": roundtrip,
        "masks_exact": masks_ok,
        "padding_exact": pads_ok,
        "first_batch": first,
    }


def _arc_format_error(directory: Path) -> str:
    """Write one broken task (a ragged grid) and return the error message, file name only."""
    bad = directory / "broken_task.json"
    bad.write_text(
        json.dumps({"train": [{"input": [[1, 2], [3]], "output": [[1]]}], "test": [{"input": [[0]], "output": [[0]]}]})
    )
    try:
        ARCTaskDataset([bad])
    except ARCFormatError as exc:
        return str(exc).replace(str(directory) + os.sep, "")
    finally:
        bad.unlink()
    raise AssertionError("a ragged grid was accepted")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# The data-bench command's API
# --------------------------------------------------------------------------------------------


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


# Owner named in data-bench's error messages (the command, not the Python function).
_OWNER = "data-bench"


def _int_list(values: Sequence[int] | None, name: str, low: int) -> list[int] | None:
    if values is None:
        return None
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ParameterError(name, _OWNER, "a non-empty list of ints", values)
    for v in values:
        check_in_range(v, name, _OWNER, low=low, kind=int)
    return list(values)


def _build_workload(
    dataset: str,
    *,
    lazy: bool,
    lazy_format: str,
    precompute: bool,
    n_items: int | None,
    lazy_items: int,
    arc_dir: str | os.PathLike[str] | None,
    root: str | os.PathLike[str] | None,
    corruptions: str,
    seed: int,
    workdir: Path,
) -> tuple[Workload, list[str]]:
    owner = _OWNER
    notes: list[str] = []
    if dataset == "bell":
        n = n_items if n_items is not None else BELL_N_TRAIN
        tensors = bell_data(n, seed=seed)
        if lazy:
            ds = _lazy_copy(tensors, lazy_format, workdir / "bell", max_items=lazy_items)
            m = len(ds)  # type: ignore[arg-type]
            if m < n:
                notes.append(
                    f"lazy item files: the first {m:,} of {n:,} items were written "
                    "(one .pt file each); the per-item cost does not depend on their "
                    "number"
                )
            desc = f"Bell data, {m:,} x 6, lazy ({lazy_format})"
            return bell_workload(ds, description=desc, in_memory=False), notes
        desc = f"Bell data, {n:,} x 6, in memory"
        return bell_workload(TensorDictDataset(tensors), description=desc, in_memory=True), notes
    if dataset in ("digits", "cifar10", "corrupted"):
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
            if precompute:
                corrupted = _precompute(corrupted)
            state = "pre-processed once, in memory" if precompute else "corrupted on the fly"
            desc = f"{len(data):,} {name} images ({corruptions}), {state}"
            return restoration_workload(
                corrupted, data.image_shape, description=desc, in_memory=True if precompute else None
            ), notes
        if lazy:
            ds = _lazy_copy(
                {"image": data.images, "label": data.labels}, lazy_format, workdir / name, max_items=lazy_items
            )
            desc = f"{len(ds):,} {name} images, lazy ({lazy_format})"  # type: ignore[arg-type]
            return image_workload(data, ds, description=desc, in_memory=False), notes
        desc = f"{len(data):,} {name} images {'x'.join(map(str, data.image_shape))}, in memory"
        return image_workload(data, description=desc), notes
    # arc
    if arc_dir is None:
        directory = workdir / "arc"
        n_tasks = n_items or ARC_GENERATED_TASKS
        write_arc_tasks(directory, n_tasks, seed=seed)
        notes.append(f"no --arc-dir given: {n_tasks} small tasks were generated")
    else:
        directory = Path(arc_dir)
        if not directory.is_dir():
            raise ParameterError("arc_dir", owner, "an existing directory of ARC task files", str(arc_dir))
    return arc_workload(ARCTaskDataset(directory)), notes


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
        n_batches, warmup_batches, repeats, time_budget_s: as in :func:`bench_loading`.
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
    if device == "cuda" and not _accelerator_available():
        raise ParameterError("device", owner, "'cpu' on this machine (CUDA is not available)", device)
    batch = batch_size if batch_size is not None else _DEFAULT_BATCH[dataset]
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
            if workload is None:
                work, notes = _build_workload(
                    dataset,
                    lazy=lazy,
                    lazy_format=lazy_format,
                    precompute=precompute,
                    n_items=n_items,
                    lazy_items=lazy_items,
                    arc_dir=arc_dir,
                    root=root,
                    corruptions=corruptions,
                    seed=seed,
                    workdir=Path(tmp),
                )
            else:
                work, notes = workload, []
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
        f"  batch {r.batch} per model x {r.members} model(s) trained at once = {p.batch_size} "
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


# --------------------------------------------------------------------------------------------
# The study's configuration
# --------------------------------------------------------------------------------------------


class ProbeSettings(ConfigSection):
    """How each configuration is timed."""

    n_batches: int = Field(30, ge=1, description="Timed batches per measurement (at most).")
    warmup_batches: int = Field(3, ge=0, description="Untimed batches first.")
    repeats: int = Field(
        3,
        ge=1,
        description="Probes per configuration; the median ratio is "
        "quoted and all ratios are kept (the machine is shared and noisy).",
    )
    time_budget_s: float = Field(
        1.5,
        gt=0,
        description="Seconds one timed pass over a slow loader may take; n_batches is lowered to fit (lazy files).",
    )
    pin_memory: bool = Field(False, description="DataLoader pin_memory (used only on a GPU).")
    threads: int = Field(
        1,
        ge=1,
        description=(
            "torch intra-op threads while probing. Steps this small run fastest on one thread, "
            "the other cores go to DataLoader workers, and on a busy machine two threads spin-wait "
            "for each other (measured: a batch-20 Bell step 4 ms on 1 thread, 200 ms on 2)."
        ),
    )


class BellSection(ConfigSection):
    """The Bell data of Challenge 2 part B and the network of the Bell study."""

    n_train: int = Field(100_000, ge=1, description="Training points (the spec's 100,000).")
    batch_size: int = Field(20, ge=1, description="Items per model per step (the spec's 20).")
    width: int = Field(50, ge=1, description="Hidden width (the spec's 50).")
    hidden_layers: int = Field(
        9,
        ge=1,
        description="Hidden widths: input layer 6->50 and "
        "8 residual 50->50 layers (the Bell study's reading of the spec).",
    )
    members: list[int] = Field(
        default_factory=lambda: [1, 16],
        min_length=1,
        description=(
            "K, models trained at once: 1 as in the notebook; 16 as the engine trains a sweep "
            "(e.g. 8 learning rates x 2 targets)."
        ),
    )
    workers: list[int] = Field(
        default_factory=lambda: [0, 1, 2], min_length=1, description="num_workers tried; 2 = the machine's cores."
    )
    lazy_formats: list[Literal["memmap", "files"]] = Field(
        default_factory=lambda: ["memmap", "files"], description="Lazy copies probed."
    )
    lazy_items: int = Field(
        1024,
        ge=1,
        description="Items written as .pt files (a per-item "
        "read costs the same for any count; 100,000 files take minutes).",
    )
    files_members: list[int] = Field(
        default_factory=lambda: [1],
        description=(
            "K values probed on the .pt files: a loader batch of K x 20 files takes K x 20 x ~2 ms "
            "to read, so K=16 adds minutes and shows the same verdict, only stronger."
        ),
    )
    fixed_steps: int = Field(200, ge=1, description="Engine steps timed with FixedSource.")


class ImageSection(ConfigSection):
    """The image data (offline digits unless CIFAR-10 files are present)."""

    dataset: Literal["auto", "digits", "cifar10"] = Field(
        "auto", description="auto: CIFAR-10 when its files are found, else digits."
    )
    root: str | None = Field(None, description="Folder of image files (None: $LEARNABILITY_DATA or ./data).")
    limit: int | None = Field(None, ge=1, description="Keep the first images only (None: all).")
    batch_size: int = Field(64, ge=1, description="Items per model per step (Lab 4's 64).")
    workers: list[int] = Field(default_factory=lambda: [0, 2], min_length=1)
    lazy_items: int = Field(
        10_000,
        ge=1,
        description="Images copied to the memory-mapped "
        "variant (CIFAR-10's 50,000 would write 600 MB for a few batches).",
    )


class CorruptionSection(ConfigSection):
    """The corrupted-image dataset of the tutorial's exercise."""

    corruptions: str = Field("crop+hflip+patches+noise", description="Names joined by '+'.")
    n_items: int = Field(
        4096,
        ge=2,
        description="First images corrupted (pre-processing all of "
        "CIFAR-10 once would hold 1.2 GB of corrupted and clean copies).",
    )
    batch_size: int = Field(64, ge=1)
    hidden: int = Field(128, ge=1, description="Hidden width of the restoration MLP.")
    workers: list[int] = Field(default_factory=lambda: [0, 2], min_length=1)
    n_show: int = Field(8, ge=1, description="Images drawn in the figure.")
    n_check: int = Field(64, ge=2, description="Items compared in the determinism check.")
    check_workers: int = Field(2, ge=0, description="Workers of the determinism check's loader.")


class ARCSection(ConfigSection):
    """Generated ARC tasks."""

    n_tasks: int = Field(24, ge=2, description="Task files generated.")
    max_size: int = Field(10, ge=1, le=30, description="Largest grid side generated.")
    batch_size: int = Field(4, ge=1, description="Tasks per batch.")
    hidden: int = Field(32, ge=1, description="Hidden width of the per-cell colour model.")


class SweepSection(ConfigSection):
    """The num_workers x batch size sweep on the Bell data (in memory, one model)."""

    workers: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    batch_sizes: list[int] = Field(
        default_factory=lambda: [20, 80, 320], min_length=1, description="Items per step: 1x, 4x, 16x the spec's batch."
    )


class DataPipelineConfig(StudyConfig):
    """Datasets, DataLoaders and loading bottlenecks on the project's own data (Tutorial 3).

    Command:  learnability run data-pipeline       (smoke: learnability run data-pipeline --smoke)
    Runtime:  160 s measured on the shared 2-core CPU at load average ~5 (a load of ~10 doubles
              it), most of it in the .pt-file and worker probes; smoke ~10 s plus ~10-20 s of
              figures.
    Expected: (two full runs on the shared 2-core CPU; rates swing up to 2x between runs, so
              read the ratios.) Bell data at batch 20, one model: the in-memory DataLoader with
              num_workers=0 delivers ~20x more items/s than the engine step consumes (29-73k vs
              1.4-3k items/s: the step is the bottleneck); 16 models: ~3.3x (compute-bound, some
              repeats disagree). Memory-mapped arrays: 1.2-2.2x slower than memory, still
              compute-bound; one .pt file per item: 120-175x slower, loader-bound by ~9-10x.
              Workers hurt in-memory data end to end (~0.75x) and help .pt files (1.2-2.6x).
              FixedSource vs DataLoader end to end: 0.8-2.1x (mostly within the noise).
              Corruptions: 0 pixel differences across orders and worker processes; corrupting
              once speeds the loader up 50-110x. ARC: padding round-trips exactly.
    """

    probe: ProbeSettings = Field(default_factory=ProbeSettings)
    bell: BellSection = Field(default_factory=BellSection)
    images: ImageSection = Field(default_factory=ImageSection)
    corruption: CorruptionSection = Field(default_factory=CorruptionSection)
    arc: ARCSection = Field(default_factory=ARCSection)
    sweep: SweepSection = Field(default_factory=SweepSection)


SMOKE: dict[str, Any] = {
    "probe": {"n_batches": 4, "warmup_batches": 1, "repeats": 1, "time_budget_s": 0.3},
    "bell": {"n_train": 2000, "members": [1, 4], "workers": [0, 1], "lazy_items": 96, "fixed_steps": 20},
    "images": {"limit": 256, "workers": [0]},
    "corruption": {"n_check": 8, "check_workers": 1, "workers": [0], "batch_size": 16, "n_show": 3},
    "arc": {"n_tasks": 6, "batch_size": 2},
    "sweep": {"workers": [0], "batch_sizes": [20, 40]},
}


# --------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------


Results = list[tuple[dict[str, Any], BenchProbe]]


def _probe(
    ctx: StudyContext,
    results: Results,
    part: str,
    variant: str,
    work: Workload,
    step: EngineStep,
    *,
    batch_size: int,
    num_workers: int,
    probe_kw: Mapping[str, Any],
) -> BenchProbe:
    """Probe one configuration, log its rates as a metric and append it to ``results``."""
    ctx.progress.describe(f"{part} {variant} K={step.members} workers={num_workers}")
    res = bench_loading(
        work, step, batch_size=batch_size, num_workers=num_workers, seed=ctx.seed(part, "shuffle"), **probe_kw
    )
    p = res.probe
    ctx.log(
        "items_per_s",
        tag=f"{part}/{variant}/K{step.members}/b{batch_size}/w{num_workers}",
        loader=p.loader_items_per_s,
        step_alone=p.step_items_per_s,
        end_to_end=p.end_to_end_items_per_s,
        ratio=p.ratio,
        bottleneck=p.bottleneck,
    )
    results.append(({"part": part, "variant": variant}, res))
    ctx.progress.update(1)
    return res


def _fixed_source_rate(
    cfg: DataPipelineConfig, ctx: StudyContext, tensors: Mapping[str, Tensor], members: int
) -> float:
    """Items/s of the engine training from its FixedSource (the data as one tensor, indexed on
    the device): the median of ``probe.repeats`` timed runs of ``bell.fixed_steps`` steps, each
    after ``probe.warmup_batches`` untimed steps (as the probe warms the DataLoader up)."""
    b = cfg.bell
    model = StackedMLP(MLPSpec(BELL_VARS, (b.width,) * b.hidden_layers, residual=True))
    source = FixedSource(tensors["x"], tensors["y"], batch_size=b.batch_size)
    rates = []
    for r in range(cfg.probe.repeats):
        seeds = ctx.seeds(members, "bell", "fixed-source", r)
        params = model.init(seeds, device=ctx.device)
        kw: dict[str, Any] = {
            "loss": mse,
            "optimizer": Adam(),
            "data": source,
            "seeds": seeds,
            "lr": np.full(members, PROBE_LR),
            "sink": ctx.writer,
        }
        if cfg.probe.warmup_batches:
            train(
                model,
                params,
                spec=TrainSpec(max_steps=cfg.probe.warmup_batches),
                tag=f"bell/fixed-source/K{members}/warmup",
                **kw,
            )
        res = train(
            model,
            params,
            spec=TrainSpec(max_steps=b.fixed_steps, block=b.fixed_steps),
            tag=f"bell/fixed-source/K{members}",
            progress=ctx.progress,
            **kw,
        )
        rates.append(members * b.batch_size * res.steps / res.wall_seconds)
    rate = float(np.median(rates))
    ctx.log("items_per_s", tag=f"bell/fixed-source/K{members}/b{b.batch_size}", end_to_end=rate)
    return rate


def _run_bell(
    cfg: DataPipelineConfig, ctx: StudyContext, tmp: Path, results: Results, probe_kw: Mapping[str, Any]
) -> tuple[dict[str, float], dict[str, Tensor]]:
    """1. The Bell data: in memory and lazy, every K and worker count; FixedSource."""
    b = cfg.bell
    tensors = bell_data(b.n_train, seed=ctx.seed("bell", "data"))
    arch = {"width": b.width, "hidden_layers": b.hidden_layers}
    variants = {
        "memory": bell_workload(
            TensorDictDataset(tensors), in_memory=True, description=f"Bell {b.n_train:,} x 6, in memory", **arch
        )
    }
    for fmt_ in b.lazy_formats:
        ds = _lazy_copy(tensors, fmt_, tmp / f"bell-{fmt_}", max_items=b.lazy_items)
        desc = f"Bell {len(ds):,} x 6, lazy ({fmt_})"  # type: ignore[arg-type]
        variants[fmt_] = bell_workload(ds, in_memory=False, description=desc, **arch)
    fixed: dict[str, float] = {}
    for k in b.members:
        step = variants["memory"].make_step(k, ctx.seed("bell", "init", k), ctx.device)
        for name, work in variants.items():
            if k * b.batch_size > len(work.dataset) or (  # type: ignore[arg-type]
                name == "files" and k not in b.files_members
            ):
                continue  # a lazy copy smaller than one loader batch, or K not asked for
            for w in b.workers:
                _probe(
                    ctx, results, "bell", name, work, step, batch_size=b.batch_size, num_workers=w, probe_kw=probe_kw
                )
                if name == "memory" and w == min(b.workers):
                    # Right after the DataLoader it is compared with: the machine's load drifts.
                    ctx.progress.describe(f"bell K={k} FixedSource")
                    fixed[str(k)] = _fixed_source_rate(cfg, ctx, tensors, k)
    return fixed, tensors


def _image_data(cfg: DataPipelineConfig) -> ImageData:
    im = cfg.images
    name = im.dataset
    if name == "auto":
        name = "cifar10" if image_files_available("cifar10", im.root) else "digits"
    return load_images(name, im.root, limit=im.limit)


def _head(data: ImageData, n: int) -> ImageData:
    """The first ``n`` images of ``data``."""
    return ImageData(data.images[:n], data.labels[:n], data.classes, data.name, data.split)


def _run_images(
    cfg: DataPipelineConfig,
    ctx: StudyContext,
    data: ImageData,
    tmp: Path,
    results: Results,
    probe_kw: Mapping[str, Any],
) -> None:
    """2. Images in memory vs memory-mapped, with Lab 4's ShallowFCN."""
    im = cfg.images
    lazy = _head(data, im.lazy_items)
    mm = _lazy_copy({"image": lazy.images, "label": lazy.labels}, "memmap", tmp / "images", max_items=len(lazy))
    variants = {
        "memory": image_workload(data, in_memory=True),
        "memmap": image_workload(data, mm, in_memory=False, description=f"{data.name} images, lazy (memmap)"),
    }
    step = variants["memory"].make_step(1, ctx.seed("images", "init"), ctx.device)
    for name, work in variants.items():
        for w in im.workers:
            _probe(ctx, results, "images", name, work, step, batch_size=im.batch_size, num_workers=w, probe_kw=probe_kw)


def _run_corruptions(
    cfg: DataPipelineConfig, ctx: StudyContext, data: ImageData, results: Results, probe_kw: Mapping[str, Any]
) -> dict[str, Any]:
    """3. Corrupted images: a batch for the figure, determinism, on the fly vs once."""
    co = cfg.corruption
    corrupted = CorruptedImageDataset(
        _head(data, co.n_items), corruption_from_names(co.corruptions), seed=ctx.seed("corruption")
    )
    loader = DataLoader(
        corrupted,
        batch_size=co.n_show,
        shuffle=True,
        generator=torch.Generator().manual_seed(ctx.seed("corruption", "show")),
    )
    shown = next(iter(loader))
    ctx.writer.save_arrays(
        "corrupted_batch",
        corrupted=shown["corrupted"],
        clean=shown["clean"],
        label=shown["label"],
        classes=np.array(data.classes),
    )
    out: dict[str, Any] = corruption_determinism(
        corrupted,
        n=min(co.n_check, len(corrupted)),
        workers=co.check_workers,
        other_seed=ctx.seed("corruption", "other"),
    )
    t0 = time.perf_counter()
    pre = _precompute(corrupted)
    out["precompute_seconds"] = time.perf_counter() - t0
    again = _stack_items(corrupted, range(len(pre)))
    out["precomputed_identical"] = all(torch.equal(pre.tensors[k], again[k]) for k in ("corrupted", "clean"))
    out["n_items"] = len(corrupted)
    shape = data.image_shape
    variants = {
        "on the fly": restoration_workload(corrupted, shape, hidden=co.hidden, description="corrupted on the fly"),
        "pre-processed once": restoration_workload(
            pre, shape, hidden=co.hidden, in_memory=True, description="pre-processed once"
        ),
    }
    step = variants["on the fly"].make_step(1, ctx.seed("corruption", "init"), ctx.device)
    for name, work in variants.items():
        for w in co.workers:
            _probe(
                ctx, results, "corrupted", name, work, step, batch_size=co.batch_size, num_workers=w, probe_kw=probe_kw
            )
    return out


def _run_arc(
    cfg: DataPipelineConfig, ctx: StudyContext, results: Results, probe_kw: Mapping[str, Any]
) -> dict[str, Any]:
    """4. ARC: generated task files, padding and masks checked, a format error, the probe."""
    arc = cfg.arc
    directory = ctx.writer.artifact_path("arc_tasks")  # kept: small, and the report cites it
    write_arc_tasks(directory, arc.n_tasks, seed=ctx.seed("arc"), max_size=arc.max_size)
    dataset = ARCTaskDataset(directory)
    padding = arc_padding_check(dataset, batch_size=arc.batch_size)
    first = padding.pop("first_batch")
    ctx.writer.save_arrays(
        "arc_batch",
        grids=first["train_input"][:, 0],
        mask=first["train_input_mask"][:, 0],
        outputs=first["train_output"][:, 0],
    )
    padding["format_error"] = _arc_format_error(directory)
    work = arc_workload(dataset, hidden=arc.hidden)
    step = work.make_step(1, ctx.seed("arc", "init"), ctx.device)
    _probe(ctx, results, "arc", "memory", work, step, batch_size=arc.batch_size, num_workers=0, probe_kw=probe_kw)
    ctx.writer.save_json("arc_padding", padding)
    return padding


def _run_sweep(
    cfg: DataPipelineConfig, ctx: StudyContext, tensors: Mapping[str, Tensor], probe_kw: Mapping[str, Any]
) -> pd.DataFrame:
    """5. num_workers x batch size on the Bell data, in memory, one model."""
    b, sw = cfg.bell, cfg.sweep
    work = bell_workload(
        TensorDictDataset(tensors),
        width=b.width,
        in_memory=True,
        hidden_layers=b.hidden_layers,
        description="Bell, in memory",
    )
    step = work.make_step(1, ctx.seed("sweep", "init"), ctx.device)
    rows: Results = []
    for w in sorted(set(sw.workers)):
        for size in sorted({s for s in sw.batch_sizes if s <= b.n_train}):
            _probe(ctx, rows, "sweep", "memory", work, step, batch_size=size, num_workers=w, probe_kw=probe_kw)
    return pd.DataFrame([{**res.row(), "batch_size": res.probe.batch_size} for _, res in rows])


def run(cfg: DataPipelineConfig, ctx: StudyContext) -> dict[str, Any]:
    """Probe the project's data sets against the engine step; save tables, arrays, summary."""
    probe_kw: dict[str, Any] = {
        "pin_memory": cfg.probe.pin_memory,
        "device": ctx.device if ctx.device.type != "cpu" else None,
        "n_batches": cfg.probe.n_batches,
        "warmup_batches": cfg.probe.warmup_batches,
        "repeats": cfg.probe.repeats,
        "time_budget_s": cfg.probe.time_budget_s,
    }
    b, im, co, sw = cfg.bell, cfg.images, cfg.corruption, cfg.sweep
    ctx.progress.add_total(
        len(b.members) * (1 + len(b.lazy_formats)) * len(b.workers)
        + 2 * len(im.workers)
        + 2 * len(co.workers)
        + 1
        + len(sw.workers) * len(sw.batch_sizes)
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.probe.threads)  # restored below: the setting is the probe's
    t_start = time.perf_counter()
    # Lazy copies live in a temporary folder inside the run folder, removed at the end: the run
    # reads from the same disk as the user's runs, and leaves only its results behind.
    tmp = Path(tempfile.mkdtemp(prefix="lazy-", dir=ctx.path))
    results: Results = []
    try:
        fixed, tensors = _run_bell(cfg, ctx, tmp, results, probe_kw)
        data = _image_data(cfg)
        _run_images(cfg, ctx, data, tmp, results, probe_kw)
        corruption = _run_corruptions(cfg, ctx, data, results, probe_kw)
        arc = _run_arc(cfg, ctx, results, probe_kw)
        sweep = _run_sweep(cfg, ctx, tensors, probe_kw)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        torch.set_num_threads(threads)
    probes = pd.DataFrame([{**extra, **res.row()} for extra, res in results])
    ctx.writer.save_table("probes", probes)
    ctx.writer.save_table("sweep", sweep)
    return _summary(cfg, data, probes, sweep, fixed, corruption, arc, time.perf_counter() - t_start)


def _pick(probes: pd.DataFrame, **where: Any) -> pd.Series:
    sel = np.ones(len(probes), dtype=bool)
    for k, v in where.items():
        sel &= (probes[k] == v).to_numpy()
    rows = probes[sel]
    if rows.empty:
        raise KeyError(f"no probe with {where}")
    return rows.iloc[0]


def _summary(
    cfg: DataPipelineConfig,
    data: ImageData,
    probes: pd.DataFrame,
    sweep: pd.DataFrame,
    fixed: Mapping[str, float],
    corruption: Mapping[str, Any],
    arc_check: Mapping[str, Any],
    seconds: float,
) -> dict[str, Any]:
    b = cfg.bell
    w0 = min(b.workers)
    bell: dict[str, Any] = {}
    for k in b.members:
        base = _pick(probes, part="bell", variant="memory", members=k, num_workers=w0)
        dl_e2e = float(base["end_to_end_items_per_s"])
        bell[f"K{k}"] = {
            "loader_items_per_s": float(base["loader_items_per_s"]),
            "step_items_per_s": float(base["step_items_per_s"]),
            "end_to_end_items_per_s": dl_e2e,
            "ratio": float(base["ratio"]),
            "bottleneck": str(base["bottleneck"]),
            "consistent": bool(base["consistent"]),
            "verdict": str(base["verdict"]),
            "fixed_source_items_per_s": fixed[str(k)],
            "fixed_source_speedup": fixed[str(k)] / dl_e2e,
        }
    lazy = {}
    for fmt_ in b.lazy_formats:
        rows = probes[(probes["part"] == "bell") & (probes["variant"] == fmt_)]
        if rows.empty:
            continue
        k = int(rows["members"].min())  # compare like with like: the smallest K probed
        row = _pick(probes, part="bell", variant=fmt_, members=k, num_workers=w0)
        mem = _pick(probes, part="bell", variant="memory", members=k, num_workers=w0)
        lazy[fmt_] = {
            "members": k,
            "loader_items_per_s": float(row["loader_items_per_s"]),
            "slowdown_vs_memory": float(mem["loader_items_per_s"] / row["loader_items_per_s"]),
            "bottleneck": str(row["bottleneck"]),
        }
    img = _pick(probes, part="images", variant="memory", num_workers=min(cfg.images.workers))
    cw0 = min(cfg.corruption.workers)
    fly = _pick(probes, part="corrupted", variant="on the fly", num_workers=cw0)
    pre = _pick(probes, part="corrupted", variant="pre-processed once", num_workers=cw0)
    arc = _pick(probes, part="arc")
    best = sweep.loc[sweep["end_to_end_items_per_s"].idxmax()]
    return {
        "machine": {"cpu_count": os.cpu_count(), "probe_threads": cfg.probe.threads},
        "n_probes": int(len(probes) + len(sweep)),
        "probe_seconds": seconds,
        "bell": bell,
        "bell_lazy": lazy,
        "images": {
            "dataset": data.name,
            "n_items": len(data),
            "shape": list(data.image_shape),
            "loader_items_per_s": float(img["loader_items_per_s"]),
            "step_items_per_s": float(img["step_items_per_s"]),
            "ratio": float(img["ratio"]),
            "bottleneck": str(img["bottleneck"]),
            "verdict": str(img["verdict"]),
        },
        "corruption": {
            **corruption,
            "corruptions": cfg.corruption.corruptions,
            "on_the_fly_loader_items_per_s": float(fly["loader_items_per_s"]),
            "precomputed_loader_items_per_s": float(pre["loader_items_per_s"]),
            "precompute_speedup": float(pre["loader_items_per_s"] / fly["loader_items_per_s"]),
            "on_the_fly_bottleneck": str(fly["bottleneck"]),
            "precomputed_bottleneck": str(pre["bottleneck"]),
        },
        "arc": {
            **arc_check,
            "loader_items_per_s": float(arc["loader_items_per_s"]),
            "step_items_per_s": float(arc["step_items_per_s"]),
            "bottleneck": str(arc["bottleneck"]),
        },
        "sweep_best": {
            "num_workers": int(best["num_workers"]),
            "batch_size": int(best["batch_size"]),
            "end_to_end_items_per_s": float(best["end_to_end_items_per_s"]),
        },
    }


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------

_BOTTLENECK_WORDS = {
    "loader": "loading is the bottleneck",
    "compute": "the step is the bottleneck",
    "balanced": "loading and the step are balanced",
}


def _times(a: float, b: float) -> str:
    """``a`` relative to ``b`` in words, calling differences inside the noise margin so."""
    if b <= 0 or a <= 0:
        return "n/a"
    hi, lo = max(a, b), min(a, b)
    words = f"{fmt(hi / lo)}x {'faster' if a >= b else 'slower'}"
    return words if hi / lo > BOTTLENECK_RATIO else f"{words}, within the noise margin"


def _e2e_words(d: Mapping[str, Any], workers: int) -> str:
    """How far end to end falls below the step alone, in words."""
    loss = 1 - d["end_to_end_items_per_s"] / d["step_items_per_s"]
    if loss <= E2E_LOSS_NOTE:
        return "within the noise margin of the step alone"
    why = (
        "loading and the step take turns in one process"
        if workers == 0
        else "the workers compete with the step for the cores"
    )
    return f"{fmt(100 * loss)}% below the step alone: with num_workers={workers} {why}"


def _same(diff: float) -> str:
    return "changes no pixel" if diff == 0 else f"CHANGES PIXELS (max |difference| {fmt(diff)})"


def _probe_table(rows: pd.DataFrame, caption: str) -> Table:
    cols = [
        "data",
        "K",
        "loader batch",
        "workers",
        "loader items/s",
        "step items/s",
        "end to end items/s",
        "step / loader",
        "bottleneck",
    ]
    body = []
    for _, r in rows.iterrows():
        spread = (
            f"{fmt(r['ratio'])} [{fmt(r['ratio_min'])}, {fmt(r['ratio_max'])}]" if r["repeats"] > 1 else fmt(r["ratio"])
        )
        body.append(
            [
                r["variant"],
                int(r["members"]),
                int(r["loader_batch"]),
                int(r["num_workers"]),
                float(r["loader_items_per_s"]),
                float(r["step_items_per_s"]),
                float(r["end_to_end_items_per_s"]),
                spread,
                str(r["bottleneck"]) + ("" if r["consistent"] else " (repeats disagree)"),
            ]
        )
    return Table(cols, body, caption)


def _rates_chart(probes: pd.DataFrame, members: Sequence[int], bell: Mapping[str, Any]) -> Chart:
    panels = []
    for k in members:
        rows = probes[(probes["part"] == "bell") & (probes["members"] == k)]
        span = [float(rows["num_workers"].min()), float(rows["num_workers"].max())]
        loader, e2e = [], []
        for variant, g in rows.groupby("variant", sort=False):
            g = g.sort_values("num_workers")
            x = g["num_workers"].tolist()
            loader.append(Line(x, g["loader_items_per_s"].tolist(), label=str(variant), mode="lines+markers"))
            e2e.append(Line(x, g["end_to_end_items_per_s"].tolist(), label=str(variant), mode="lines+markers"))
        step = float(rows["step_items_per_s"].median())
        fixed = float(bell[f"K{k}"]["fixed_source_items_per_s"])
        loader.append(Line(span, [step, step], label="engine step alone", dash=True, color="#000000"))
        e2e.append(Line(span, [fixed, fixed], label="engine + FixedSource (no DataLoader)", dash=True, color="#000000"))
        kw: dict[str, Any] = {"xlabel": "num_workers", "ylabel": "items / s", "yscale": "log"}
        batch = int(rows["batch"].iloc[0])
        panels += [
            Panel(loader, title=f"K={k} x batch {batch}: DataLoader alone", **kw),
            Panel(e2e, title=f"K={k} x batch {batch}: DataLoader + engine step", **kw),
        ]
    return Chart(
        "bell_rates",
        panels,
        ncols=2,
        title="Bell data: items per second by data layout and num_workers",
        caption="Left: the DataLoader alone (dashed: what the engine step consumes); "
        "right: the DataLoader feeding the engine step (dashed: the engine "
        "training from its FixedSource, no DataLoader). Log scale.",
    )


def _sweep_chart(sweep: pd.DataFrame) -> Chart:
    left, right = [], []
    for w, g in sweep.sort_values("batch_size").groupby("num_workers"):
        left.append(
            Line(
                g["batch_size"].tolist(),
                g["loader_items_per_s"].tolist(),
                label=f"{int(w)} workers",
                mode="lines+markers",
            )
        )
        right.append(
            Line(
                g["batch_size"].tolist(),
                g["end_to_end_items_per_s"].tolist(),
                label=f"{int(w)} workers",
                mode="lines+markers",
            )
        )
    step = sweep.groupby("batch_size")["step_items_per_s"].median()
    for traces in (left, right):
        traces.append(Line(step.index.tolist(), step.tolist(), label="engine step alone", dash=True, color="#000000"))
    kw: dict[str, Any] = {
        "xlabel": "loader batch size (items)",
        "ylabel": "items / s",
        "xscale": "log",
        "yscale": "log",
    }
    return Chart(
        "loader_sweep",
        [Panel(left, title="DataLoader alone", **kw), Panel(right, title="end to end (loader + engine step)", **kw)],
        title="Bell data in memory: num_workers x batch size",
        caption="Items per second against the batch size, one line per num_workers; dashed: the engine step alone.",
    )


def _image_panel(x: np.ndarray, title: str) -> Panel:
    img = np.clip(x, 0.0, 1.0)
    z = img[0] if img.shape[0] == 1 else np.transpose(img, (1, 2, 0))  # (H, W) or (H, W, 3)
    return Panel([Heatmap(z, cmap="gray", vmin=0.0, vmax=1.0, colorbar=False)], title=title, image=True, legend=False)


def _corrupted_chart(arrays: Mapping[str, np.ndarray]) -> Chart:
    n = arrays["corrupted"].shape[0]
    classes = [str(c) for c in arrays["classes"]]
    top = [_image_panel(arrays["corrupted"][j], f"corrupted: {classes[int(arrays['label'][j])]}") for j in range(n)]
    bottom = [_image_panel(arrays["clean"][j], "clean") for j in range(n)]
    return Chart(
        "corrupted_batch",
        top + bottom,
        ncols=n,
        panel_size=(1.6, 1.7),
        title="Corrupted (top), clean (bottom)",
        caption="Each column is one item; the corruption of item i depends only on (seed, i).",
    )


def _arc_chart(arrays: Mapping[str, np.ndarray]) -> Chart:
    n = arrays["grids"].shape[0]
    top = [
        Panel(
            [Heatmap(arrays["grids"][j], cmap="tab20", vmin=0, vmax=ARC_PAD, colorbar=False)],
            title=f"task {j}: input, padded",
            image=True,
        )
        for j in range(n)
    ]
    bottom = [
        Panel(
            [Heatmap(arrays["mask"][j].astype(float), cmap="gray", vmin=0, vmax=1, colorbar=False)],
            title="mask (white = real)",
            image=True,
        )
        for j in range(n)
    ]
    return Chart(
        "arc_padding",
        top + bottom,
        ncols=n,
        panel_size=(2.0, 2.1),
        title="ARC batch: padded inputs, masks",
        caption="The first train input of each task of a batch, padded to the batch's "
        "canvas (the light colour is the pad token), and its mask.",
    )


def report(run_: Run) -> Report:
    """The report, from the run folder alone."""
    s = run_.summary
    cfg = run_.config_dict
    probes = run_.load_table("probes")
    sweep = run_.load_table("sweep")
    b = cfg["bell"]
    members = list(b["members"])
    k1, kn = min(members), max(members)
    bell = s["bell"]
    head = {
        f"Bell K={k} (batch {b['batch_size']})": f"{_BOTTLENECK_WORDS[bell[f'K{k}']['bottleneck']]} "
        f"(step/loader {fmt(bell[f'K{k}']['ratio'])})"
        for k in members
    }
    head["FixedSource vs DataLoader, end to end"] = f"{fmt(bell[f'K{kn}']['fixed_source_speedup'])}x at K={kn}"
    c = s["corruption"]
    head["corruptions deterministic per (seed, index)"] = fmt(
        c["max_abs_diff_reverse"] == 0 and c["max_abs_diff_workers"] == 0
    )
    rep = Report("Data pipeline: where training waits for data", headline=head)

    rep.add(
        Text(
            "Tutorial 3's recipe, measured: the items per second the DataLoader delivers, the items "
            "per second the engine's training step consumes when the batch is already there, and "
            "the two together. A side is called the bottleneck when it is slower than the other by "
            f"more than {BOTTLENECK_RATIO}x. Each configuration was probed "
            f"{cfg['probe']['repeats']} time(s); the table quotes the median ratio with its range. "
            f"The machine has {s['machine']['cpu_count']} CPU cores, shared with other jobs, and "
            f"the probes ran torch on {s['machine']['probe_threads']} thread(s): absolute rates are "
            "noisy, and worker processes compete with the training step for the same cores."
        )
    )

    # --- Bell
    rep.add(Heading(f"Bell data: {b['n_train']:,} x 6 inputs, batch {b['batch_size']}"))
    paragraphs = []
    for k in members:
        d = bell[f"K{k}"]
        who = "one model" if k == 1 else f"{k} models trained at once by the engine"
        paragraphs.append(
            f"For the Bell data at batch {b['batch_size']} with {who} (loader batch "
            f"{k * b['batch_size']}), the in-memory DataLoader with "
            f"num_workers={min(b['workers'])} "
            f"delivers {fmt(d['loader_items_per_s'])} items/s while the engine step consumes "
            f"{fmt(d['step_items_per_s'])} items/s: "
            + (
                f"loading is the bottleneck by {fmt(d['ratio'])}x."
                if d["bottleneck"] == "loader"
                else f"the step is the bottleneck (the loader is {fmt(1 / d['ratio'])}x faster)."
                if d["bottleneck"] == "compute"
                else f"the two are within {BOTTLENECK_RATIO}x (ratio {fmt(d['ratio'])})."
            )
            + ("" if d["consistent"] else " The repeats disagreed on this verdict.")
            + f" End to end the DataLoader-fed engine reaches {fmt(d['end_to_end_items_per_s'])} "
            f"items/s ({_e2e_words(d, min(b['workers']))}); keeping the data as one in-memory "
            f"tensor indexed on the device (the engine's FixedSource) reaches "
            f"{fmt(d['fixed_source_items_per_s'])} items/s, "
            f"{_times(d['fixed_source_items_per_s'], d['end_to_end_items_per_s'])}."
        )
    rep.add(*[Text(p) for p in paragraphs])
    lazy_words = []
    for fmt_, d in s["bell_lazy"].items():
        what = {"memmap": "memory-mapped .npy arrays", "files": "one .pt file per item"}[fmt_]
        lazy_words.append(
            f"from {what} (K={d['members']}) the DataLoader delivers "
            f"{fmt(d['loader_items_per_s'])} items/s, "
            f"{fmt(d['slowdown_vs_memory'])}x slower than from memory "
            f"({_BOTTLENECK_WORDS[d['bottleneck']]})"
        )
    if lazy_words:
        rep.add(Text(f"In memory vs lazy (num_workers={min(b['workers'])}): " + "; ".join(lazy_words) + "."))
    rep.add(Text(_workers_sentence(probes[probes["part"] == "bell"], k1)))
    lazy_files = probes[(probes["part"] == "bell") & (probes["variant"] == "files") & (probes["members"] == k1)]
    if not lazy_files.empty:
        r = lazy_files.iloc[0]
        rep.add(
            Text(
                f"The probe's advice for one .pt file per item (num_workers="
                f"{int(r['num_workers'])}): {r['verdict']} "
                + " ".join(f"({i + 1}) {t}" for i, t in enumerate(str(r["suggestions"]).splitlines()))
            )
        )
    rep.add(
        _probe_table(
            probes[probes["part"] == "bell"],
            "Every Bell configuration; step / loader > 1 means the step waits for "
            "data (median [min, max] over the repeats).",
        )
    )
    rep.add(Figure(_rates_chart(probes, members, bell)))

    # --- Sweep
    best = s["sweep_best"]
    rep.add(Heading("Sweep: num_workers x batch size (Bell data, in memory, one model)"))
    rep.add(Text(_sweep_sentence(sweep, best)))
    rep.add(Figure(_sweep_chart(sweep)))

    # --- Images
    img = s["images"]
    rep.add(
        Heading(
            f"Images: {img['dataset']} ({img['n_items']:,} images "
            f"{'x'.join(map(str, img['shape']))}), Lab 4's ShallowFCN"
        )
    )
    rep.add(
        Text(
            f"At batch {cfg['images']['batch_size']}, in memory: {img['verdict']}"
            + (
                ""
                if img["dataset"] == "cifar10"
                else " (CIFAR-10 files were not found; the offline digits stand in for them)."
            )
        )
    )
    rep.add(_probe_table(probes[probes["part"] == "images"], "Images in memory vs memory-mapped."))

    # --- Corruptions
    c = s["corruption"]
    rep.add(Heading(f"Corrupted images ({c['corruptions']})"))
    rep.add(Figure(_corrupted_chart(run_.load_arrays("corrupted_batch"))))
    det = c["max_abs_diff_reverse"] == 0 and c["max_abs_diff_workers"] == 0
    rep.add(
        Text(
            f"Determinism per (seed, index), over the first {int(c['n'])} items: reading them in "
            f"reverse order {_same(c['max_abs_diff_reverse'])}, and reading them through a shuffled "
            f"DataLoader with {cfg['corruption']['check_workers']} worker process(es) "
            f"{_same(c['max_abs_diff_workers'])}; "
            + (
                "so the corruption of an item depends on (seed, index) alone. "
                if det
                else "THE CORRUPTIONS ARE NOT REPRODUCIBLE. "
            )
            + f"Another seed gives other corruptions (mean |difference| "
            f"{fmt(c['mean_abs_diff_other_seed'])}), and every index has its own stream (one image "
            f"corrupted with the streams of consecutive indices: mean |difference| "
            f"{fmt(c['mean_abs_diff_neighbour'])}); "
            f"{fmt(100 * c['frac_items_changed'])}% of the items differ from their clean image."
        )
    )
    rep.add(
        Text(
            f"Pre-processing once: corrupting every item up front took "
            f"{fmt(c['precompute_seconds'])} s "
            + (
                "and gives identical items (the corruptions are a function of (seed, index)); "
                if c["precomputed_identical"]
                else "and gives DIFFERENT items; "
            )
            + f"the DataLoader then delivers "
            f"{fmt(c['precomputed_loader_items_per_s'])} items/s instead of "
            f"{fmt(c['on_the_fly_loader_items_per_s'])} ({fmt(c['precompute_speedup'])}x); with the "
            f"restoration MLP's step, on the fly {_BOTTLENECK_WORDS[c['on_the_fly_bottleneck']]}, "
            f"pre-processed {_BOTTLENECK_WORDS[c['precomputed_bottleneck']]}. "
            "Pre-processing once fixes each item's corruption for every epoch; drawing fresh "
            "corruptions every epoch needs the on-the-fly dataset (with the epoch in the seed)."
        )
    )
    rep.add(_probe_table(probes[probes["part"] == "corrupted"], "Corrupted images: on the fly vs pre-processed once."))

    # --- ARC
    a = s["arc"]
    rep.add(Heading(f"ARC tasks ({a['n_tasks']} generated task files)"))
    counts = Counter(f"{h}x{w}" for h, w in a["canvases"])
    canv = ", ".join(f"{c_} in {n} batch{'es' if n > 1 else ''}" for c_, n in counts.items())
    rep.add(
        Text(
            f"One task per item; collate_arc_tasks pads every grid of a batch to the batch's canvas "
            f"(here {canv}) with masks. Over {a['n_batches']} batches, "
            f"{fmt(100 * a['real_cell_fraction'])}% of the padded cells are real and "
            f"{fmt(100 * a['pair_slot_fraction'])}% of the pair slots hold a real pair. Every grid "
            f"was {'recovered exactly' if a['roundtrip_exact'] else 'NOT recovered'} from the batch "
            f"with its size; the masks are {'exactly' if a['masks_exact'] else 'NOT'} the real "
            f"cells; padded cells {'all' if a['padding_exact'] else 'do NOT all'} hold the pad "
            f"token {ARC_PAD}. A broken file is refused with: `{a['format_error']}`. Loading "
            f"{fmt(a['loader_items_per_s'])} tasks/s against a per-cell model consuming "
            f"{fmt(a['step_items_per_s'])} tasks/s: {_BOTTLENECK_WORDS[a['bottleneck']]}."
        )
    )
    rep.add(Figure(_arc_chart(run_.load_arrays("arc_batch"))))

    # --- What helps
    rep.add(Heading("Which change helps, measured"))
    rep.add(_helps_table(s, probes, sweep, members))
    return rep


def _effect(before: float, after: float) -> str:
    """ "helped" / "hurt" / "made no clear difference", with the noise margin."""
    if after > before * BOTTLENECK_RATIO:
        return "helped"
    if after * BOTTLENECK_RATIO < before:
        return "hurt"
    return "made no clear difference"


def _workers_sentence(rows: pd.DataFrame, k: int) -> str:
    parts, verdicts = [], {}
    for variant, g in rows[rows["members"] == k].groupby("variant", sort=False):
        g = g.sort_values("num_workers")
        if len(g) < 2:
            continue
        lo, hi = g.iloc[0], g.iloc[-1]
        best = g.iloc[1:].loc[g.iloc[1:]["end_to_end_items_per_s"].idxmax()]
        verdicts.setdefault(_effect(lo["end_to_end_items_per_s"], best["end_to_end_items_per_s"]), []).append(
            str(variant)
        )
        parts.append(
            f"{variant}: num_workers {int(lo['num_workers'])} -> {int(hi['num_workers'])} "
            f"changes the loader from {fmt(lo['loader_items_per_s'])} to "
            f"{fmt(hi['loader_items_per_s'])} items/s and end to end from "
            f"{fmt(lo['end_to_end_items_per_s'])} to "
            f"{fmt(hi['end_to_end_items_per_s'])}"
        )
    if not parts:
        return "Only one worker count was probed."
    summary = "; ".join(f"for {', '.join(v)} they {e}" for e, v in verdicts.items())
    return (
        f"More workers (K={k}): " + "; ".join(parts) + f". End to end (best worker count "
        f"against none): {summary}. Workers run __getitem__ and collation in other processes "
        "and send every batch back through a pipe; they pay off when an item is expensive to "
        "produce and cores are free, and they compete with the training step when not."
    )


def _sweep_sentence(sweep: pd.DataFrame, best: Mapping[str, Any]) -> str:
    parts = []
    for w, g in sweep.sort_values("batch_size").groupby("num_workers"):
        lo, hi = g.iloc[0], g.iloc[-1]
        parts.append(
            f"with {int(w)} workers the loader goes from {fmt(lo['loader_items_per_s'])} "
            f"items/s at batch {int(lo['batch_size'])} to "
            f"{fmt(hi['loader_items_per_s'])} at batch {int(hi['batch_size'])} "
            f"({fmt(hi['loader_items_per_s'] / lo['loader_items_per_s'])}x)"
        )
    step = sweep.groupby("batch_size")["step_items_per_s"].median().sort_index()
    step_gain = step.iloc[-1] / step.iloc[0]
    w0 = sweep[sweep["num_workers"] == sweep["num_workers"].min()].sort_values("batch_size")
    loader_gain = w0["loader_items_per_s"].iloc[-1] / w0["loader_items_per_s"].iloc[0]
    where = (
        "the engine step, whose cost is mostly per step (Python and kernel launches), not "
        "the DataLoader, whose cost is mostly per item (__getitem__, collation)"
        if step_gain > loader_gain * BOTTLENECK_RATIO
        else "the DataLoader more than the step"
        if loader_gain > step_gain * BOTTLENECK_RATIO
        else "the DataLoader and the step alike"
    )
    return (
        f"Bigger batches: {'; '.join(parts)}; the engine step goes from {fmt(step.iloc[0])} "
        f"to {fmt(step.iloc[-1])} items/s ({fmt(step_gain)}x). A bigger batch speeds up "
        f"{where}. Fastest end to end: num_workers={best['num_workers']} at batch "
        f"{best['batch_size']}, {fmt(best['end_to_end_items_per_s'])} items/s. A bigger batch "
        "changes training itself (fewer steps per epoch; retune the learning rate)."
    )


def _change(before: float, after: float) -> list[str]:
    """``["before -> after", "factor x"]`` table cells."""
    return [f"{fmt(before)} -> {fmt(after)}", f"{fmt(after / before)}x" if before else "n/a"]


def _helps_table(s: Mapping[str, Any], probes: pd.DataFrame, sweep: pd.DataFrame, members: Sequence[int]) -> Table:
    rows = []
    k1, kn = min(members), max(members)
    for fmt_, d in s["bell_lazy"].items():
        rows.append(
            [
                f"in memory instead of lazy ({fmt_})",
                f"Bell, K={d['members']}",
                "loader items/s",
                *_change(d["loader_items_per_s"], d["loader_items_per_s"] * d["slowdown_vs_memory"]),
            ]
        )
    bell = probes[(probes["part"] == "bell") & (probes["members"] == k1)]
    for variant in ("files", "memory"):
        g = bell[bell["variant"] == variant]
        none, some = g[g["num_workers"] == 0], g[g["num_workers"] > 0]
        if len(none) and len(some):
            lo, hi = none.iloc[0], some.loc[some["end_to_end_items_per_s"].idxmax()]
            rows.append(
                [
                    f"workers (0 -> {int(hi['num_workers'])}, the best > 0)",
                    f"Bell {variant}, K={k1}",
                    "end to end items/s",
                    *_change(lo["end_to_end_items_per_s"], hi["end_to_end_items_per_s"]),
                ]
            )
    c = s["corruption"]
    rows.append(
        [
            "pre-process once",
            "corrupted images",
            "loader items/s",
            *_change(c["on_the_fly_loader_items_per_s"], c["precomputed_loader_items_per_s"]),
        ]
    )
    w0 = sweep[sweep["num_workers"] == sweep["num_workers"].min()].sort_values("batch_size")
    if len(w0) >= 2:
        lo, hi = w0.iloc[0], w0.iloc[-1]
        rows.append(
            [
                f"bigger batch ({int(lo['batch_size'])} -> {int(hi['batch_size'])})",
                f"Bell, in memory, K=1, {int(lo['num_workers'])} workers",
                "end to end items/s",
                *_change(lo["end_to_end_items_per_s"], hi["end_to_end_items_per_s"]),
            ]
        )
    for k in sorted({k1, kn}):
        d = s["bell"][f"K{k}"]
        rows.append(
            [
                "engine FixedSource instead of a DataLoader",
                f"Bell, K={k}",
                "end to end items/s",
                *_change(d["end_to_end_items_per_s"], d["fixed_source_items_per_s"]),
            ]
        )
    return Table(
        ["change", "data", "measured", "before -> after", "factor"],
        rows,
        "Factors > 1 help; all from this run (one machine, noisy: differences below "
        f"{BOTTLENECK_RATIO}x are within the noise).",
    )


register(
    Study(
        "data-pipeline",
        "Datasets, DataLoaders and loading bottlenecks on the project's data (Tutorial 3).",
        DataPipelineConfig,
        run,
        report,
        smoke=SMOKE,
    )
)
