"""The loading probe against the engine step, with repeats and a time budget.

:func:`bench_loading` runs :func:`learnability.data.probe_loading` with a
:class:`~learnability.data.EngineStep` as the training step and a loader batch of
``members * batch_size`` items, ``repeats`` times, and keeps the median repeat
(:class:`BenchProbe`); :func:`bench_sweep` does it over ``num_workers`` x batch size. Both the
``data-pipeline`` study and the ``learnability data-bench`` command measure with them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch.utils.data import Dataset

from learnability._validation import ParameterError, check_in_range
from learnability.data._probe import BOTTLENECK_RATIO, LoadingProbe, probe_loading
from learnability.data._workloads import EngineStep, Workload

__all__ = ["BOTTLENECK_RATIO", "E2E_LOSS_NOTE", "BenchProbe", "accelerator_available", "bench_loading", "bench_sweep"]

# Fewest timed batches a time budget may leave (below this a rate is mostly noise).
MIN_PROBE_BATCHES = 3
# Items read in the main process to estimate the per-item cost before choosing n_batches.
PILOT_ITEMS = 8
# End to end slower than the step alone by more than this fraction (the noise margin of the
# bottleneck ratio, 1 - 1/1.25): the note about time spent loading even when loading is not the
# bottleneck (with num_workers=0, loading and the step alternate in one process).
E2E_LOSS_NOTE = 0.20


def accelerator_available() -> bool:
    """Whether a GPU is there (``pin_memory`` and ``device="cuda"`` need one)."""
    return torch.cuda.is_available()


def _side(ratio: float) -> str:
    """The probe's verdict for a step/loader ratio (see ``data._probe``)."""
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


def _e2e_note(probe: LoadingProbe, num_workers: int) -> str | None:
    """A note when end to end runs clearly slower than the step alone without loading being the
    bottleneck (None otherwise)."""
    e2e_loss = 1.0 - probe.end_to_end_items_per_s / probe.step_items_per_s if probe.step_items_per_s else 0.0
    if e2e_loss <= E2E_LOSS_NOTE or probe.bottleneck == "loader":
        return None
    why = (
        ": with num_workers=0 loading and the step take turns in one process, so loading "
        "costs time even when it is not the bottleneck; indexing an in-memory tensor on "
        "the device (the engine's FixedSource) avoids the DataLoader"
        if num_workers == 0
        else ": the workers compete with the training step for the CPU cores"
    )
    return (
        f"end to end the step runs {100 * e2e_loss:.0f}% slower than alone "
        f"({probe.end_to_end_items_per_s:,.0f} vs "
        f"{probe.step_items_per_s:,.0f} items/s){why}"
    )


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
    if pin_memory and not accelerator_available():
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
    note = _e2e_note(chosen, num_workers)
    if note is not None:
        notes.append(note)
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
