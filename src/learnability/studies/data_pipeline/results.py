"""The data-pipeline study's typed results (what ``summary.json`` holds) and its artifact names.

Rates are items per second; a ratio is ``step_items_per_s / loader_items_per_s`` (> 1: the step
waits for data); a bottleneck is the probe's verdict, ``"loader"``, ``"compute"`` or
``"balanced"``. Every number is a measurement of this machine at the time of the run.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from learnability.studies._results import ResultsModel, StudyResults

__all__ = [
    "ARCResult",
    "BellLazy",
    "BellMembers",
    "Bottleneck",
    "CorruptionResult",
    "DataPipelineResults",
    "ImagesResult",
    "Machine",
    "SweepBest",
]

Bottleneck = Literal["loader", "compute", "balanced"]


class Machine(ResultsModel):
    """Where the probes ran: the CPU cores (shared with other jobs), torch's threads, the device
    the steps ran on and whether batches came through pinned memory."""

    cpu_count: int | None
    probe_threads: int
    device: str = "cpu"  # absent from summaries written before it was recorded
    pin_memory: bool = False  # DataLoader pin_memory and non_blocking copies (CUDA only)


class BellMembers(ResultsModel):
    """The Bell data in memory, K models at once, the fewest workers probed; and FixedSource."""

    loader_items_per_s: float
    step_items_per_s: float
    end_to_end_items_per_s: float
    ratio: float
    bottleneck: Bottleneck
    consistent: bool
    verdict: str
    fixed_source_items_per_s: float
    fixed_source_speedup: float


class BellLazy(ResultsModel):
    """A lazy copy of the Bell data against memory, at the smallest K it was probed with."""

    members: int
    loader_items_per_s: float
    slowdown_vs_memory: float
    bottleneck: Bottleneck


class ImagesResult(ResultsModel):
    """The images in memory with Lab 4's ShallowFCN (fewest workers probed)."""

    dataset: str
    n_items: int
    shape: list[int]
    loader_items_per_s: float
    step_items_per_s: float
    ratio: float
    bottleneck: Bottleneck
    verdict: str
    dataset_reason: str = ""  # why this data set (absent from summaries written before it was recorded)


class CorruptionResult(ResultsModel):
    """Determinism per ``(seed, index)``, pre-processing once, and the two loaders' rates.

    The first six fields are :func:`~learnability.studies.data_pipeline.corruption_determinism`'s
    (``n`` is a float there, as it always was in ``summary.json``).
    """

    n: float
    max_abs_diff_reverse: float
    max_abs_diff_workers: float
    mean_abs_diff_other_seed: float
    mean_abs_diff_neighbour: float
    frac_items_changed: float
    precompute_seconds: float
    precomputed_identical: bool
    n_items: int
    corruptions: str
    on_the_fly_loader_items_per_s: float
    precomputed_loader_items_per_s: float
    precompute_speedup: float
    on_the_fly_bottleneck: Bottleneck
    precomputed_bottleneck: Bottleneck

    @property
    def deterministic(self) -> bool:
        """Whether reading in reverse and through workers changed no pixel."""
        return self.max_abs_diff_reverse == 0 and self.max_abs_diff_workers == 0


class ARCResult(ResultsModel):
    """The padding check of :func:`~learnability.studies.data_pipeline.arc_padding_check`, the
    format error of a broken file, and the probe of the per-cell colour model."""

    n_tasks: int
    n_batches: int
    canvases: list[list[int]]
    real_cell_fraction: float
    pair_slot_fraction: float
    roundtrip_exact: bool
    masks_exact: bool
    padding_exact: bool
    format_error: str
    loader_items_per_s: float
    step_items_per_s: float
    bottleneck: Bottleneck


class SweepBest(ResultsModel):
    """The fastest end-to-end point of the num_workers x batch size sweep."""

    num_workers: int
    batch_size: int
    end_to_end_items_per_s: float


class ToyExample(ResultsModel):
    """Tutorial 3's ToyDataset (``y = x^3 + noise``, dict items), its first steps measured.

    Attributes:
        n_points, noise: the data set's size and noise sd; ``len(dataset)`` is ``n_points``.
        item_index, item: the item the tutorial looks at and its values ``{"x", "y"}``.
        iterated: items a plain ``for`` loop over the data set visits.
        batch_size, n_batches, batch_keys, batch_shape: the DataLoader's collated dict batches.
        residual_sd: sd of ``y - x^3`` (close to ``noise``); max_abs_x: ``x`` spans ``[-1, 1]``.
    """

    n_points: int
    noise: float
    item_index: int
    item: dict[str, float]
    iterated: int
    batch_size: int
    n_batches: int
    batch_keys: list[str]
    batch_shape: list[int]
    residual_sd: float
    max_abs_x: float


class DataPipelineResults(StudyResults):
    """What the data-pipeline study measured.

    Attributes:
        machine: cores and probe threads.
        n_probes: configurations probed (the sweep's included).
        probe_seconds: wall time of every probe together.
        bell: per K (keys ``"K1"``, ``"K16"``, ...), the in-memory Bell probe and FixedSource.
        bell_lazy: per lazy format probed (``"memmap"``, ``"files"``), against memory.
        images, corruption, arc, sweep_best: the other parts.
    """

    # Artifacts, written by run and read by report.
    PROBES_TABLE: ClassVar[str] = "probes"
    SWEEP_TABLE: ClassVar[str] = "sweep"
    CORRUPTED_ARRAYS: ClassVar[str] = "corrupted_batch"
    ARC_ARRAYS: ClassVar[str] = "arc_batch"
    ARC_PADDING_JSON: ClassVar[str] = "arc_padding"
    ARC_TASKS_DIR: ClassVar[str] = "arc_tasks"

    machine: Machine
    toy: ToyExample | None = None  # None in summaries written before the first example was added
    n_probes: int
    probe_seconds: float
    bell: dict[str, BellMembers]
    bell_lazy: dict[str, BellLazy]
    images: ImagesResult
    corruption: CorruptionResult
    arc: ARCResult
    sweep_best: SweepBest

    def bell_k(self, k: int) -> BellMembers:
        """The Bell results of ``k`` models trained at once."""
        return self.bell[f"K{k}"]
