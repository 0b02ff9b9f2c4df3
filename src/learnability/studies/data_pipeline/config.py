"""The data-pipeline study's configuration: what is probed, at which size, and how it is timed."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from learnability.config import ConfigSection, StudyConfig

__all__ = [
    "SMOKE",
    "ARCSection",
    "BellSection",
    "CorruptionSection",
    "DataPipelineConfig",
    "ImageSection",
    "ProbeSettings",
    "SweepSection",
]


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
    pin_memory: bool | None = Field(
        None,
        description="DataLoader pin_memory, with non_blocking copies to the device (None: on exactly "
        "when the run's device is CUDA; True is honoured on CUDA only, where pinning has a copy to speed up).",
    )
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
    """The image data: the first real data set found, else the offline digits."""

    dataset: Literal["auto", "digits", "mnist", "fashion-mnist", "cifar10"] = Field(
        "auto",
        description="auto: CIFAR-10 when its files are found (the data root, then /usr/share/datasets), "
        "else MNIST, else Fashion-MNIST (Debian package dataset-fashion-mnist), else the offline "
        "digits; the report and the provenance say which and why. Or name one explicitly.",
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


class ToySection(ConfigSection):
    """Tutorial 3's first example: ToyDataset, y = x^3 + noise on linspace(-1, 1, n_points)."""

    n_points: int = Field(20, ge=1, description="Items (Tutorial 3: ToyDataset(20, noise=.1)).")
    noise: float = Field(0.1, ge=0, description="Noise sd on y (Tutorial 3: 0.1).")
    batch_size: int = Field(4, ge=1, description="DataLoader batch size of the collation example.")


class DataPipelineConfig(StudyConfig):
    """Datasets, DataLoaders and loading bottlenecks on the project's own data (Tutorial 3).

    Command:  learnability run data-pipeline       (smoke: learnability run data-pipeline --smoke)
    Data:     images.dataset 'auto' as the image labs: CIFAR-10 if found, else MNIST, else
              Fashion-MNIST (Debian's dataset-fashion-mnist, /usr/share/datasets/fashion-mnist), else
              the offline digits; the report and the provenance say which and why. The first example
              is Tutorial 3's ToyDataset (x^3 + noise, dict items). On CUDA the loaders pin memory and
              copy with non_blocking=True (probe.pin_memory=None), and the runner sets cuDNN's flags.
    Runtime:  160 s measured on the shared 2-core CPU at load average ~5 (a load of ~10 doubles
              it), most of it in the .pt-file and worker probes, with the digits as images (before
              'auto' found Fashion-MNIST; its 60,000 images add a few seconds of loading, not
              measured); smoke ~10 s plus ~10-20 s of figures.
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
    toy: ToySection = Field(default_factory=ToySection)
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
