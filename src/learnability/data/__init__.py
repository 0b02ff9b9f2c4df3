"""The data layer: image files, batched transforms, Datasets, corruptions, ARC tasks and the
loading-bottleneck probe.

- Images: :func:`load_images` (``"digits"`` offline default, ``"mnist"``, ``"fashion-mnist"``,
  ``"cifar10"`` from their standard files; never downloads) -> :class:`ImageData`.
- Transforms (batched, any device, explicit ``torch.Generator``): :func:`rotate`,
  :func:`hflip`, :func:`vflip`, :func:`translate`, :class:`RandomRotation`, :class:`RandomFlip`,
  :class:`RandomTranslation`, :class:`ImageNormalizer`, :class:`Compose`.
- Datasets of dicts of tensors: :class:`TensorDictDataset` (in memory), :class:`ItemFilesDataset`
  and :class:`MemmapDataset` (lazy; see ``_datasets`` for when each fits); online inputs:
  :func:`sample_uniform`, :class:`UniformSampler`.
- Restoration data: :class:`CorruptedImageDataset` with :class:`GaussianNoise`,
  :class:`RandomBlackPatches`, :class:`RandomCropResize`, flips; :func:`plot_corrupted_batch`.
- ARC: :class:`ARCTaskDataset`, :func:`collate_arc_tasks`, :func:`validate_arc_task`.
- Devices: :func:`to_device` (pinned memory, ``non_blocking`` copies on CUDA), :func:`pin_memory_for`.
- Bottlenecks: :func:`probe_loading` -> :class:`LoadingProbe`, :func:`sweep_loading`,
  :func:`plot_loading_sweep`; against the engine's own training step: :class:`EngineStep`,
  the :class:`Workload` s of the data-pipeline study and ``data-bench`` (:func:`bell_workload`,
  :func:`image_workload`, :func:`restoration_workload`, :func:`arc_workload`), and
  :func:`bench_loading` -> :class:`BenchProbe` (repeats, time budget), :func:`bench_sweep`.
"""

from learnability.data._arc import (
    ARC_COLOURS,
    ARC_MAX_SIZE,
    ARCFormatError,
    ARCTaskDataset,
    collate_arc_tasks,
    validate_arc_task,
)
from learnability.data._corruption import (
    CORRUPTION_NAMES,
    CorruptedImageDataset,
    GaussianNoise,
    RandomBlackPatches,
    RandomCropResize,
    corruption_from_names,
    item_generator,
    plot_corrupted_batch,
)
from learnability.data._datasets import (
    ItemFilesDataset,
    MemmapDataset,
    TensorDictDataset,
    UniformSampler,
    sample_uniform,
    save_item_files,
    save_memmap,
)
from learnability.data._device import pin_memory_for, to_device
from learnability.data._errors import DataFileError, MissingDataError
from learnability.data._images import (
    IMAGE_DATASETS,
    SYSTEM_DATA_DIRS,
    ImageData,
    default_data_root,
    find_image_root,
    image_files_available,
    install_hint,
    load_cifar_batch,
    load_images,
    read_idx,
    write_cifar_batch,
    write_idx,
)
from learnability.data._loading_bench import (
    BOTTLENECK_RATIO,
    E2E_LOSS_NOTE,
    BenchProbe,
    accelerator_available,
    bench_loading,
    bench_sweep,
)
from learnability.data._probe import LoadingProbe, plot_loading_sweep, probe_loading, sweep_loading
from learnability.data._transforms import (
    Compose,
    ImageNormalizer,
    ImageTransform,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    hflip,
    rotate,
    translate,
    vflip,
)
from learnability.data._workloads import (
    ARC_PAD,
    LAZY_FORMATS,
    PROBE_LR,
    EngineStep,
    Workload,
    arc_workload,
    bell_data,
    bell_model,
    bell_workload,
    image_workload,
    lazy_copy,
    precompute,
    restoration_workload,
    stack_items,
    write_arc_tasks,
)

__all__ = [
    "ARC_COLOURS",
    "ARC_MAX_SIZE",
    "ARC_PAD",
    "BOTTLENECK_RATIO",
    "CORRUPTION_NAMES",
    "E2E_LOSS_NOTE",
    "IMAGE_DATASETS",
    "LAZY_FORMATS",
    "PROBE_LR",
    "SYSTEM_DATA_DIRS",
    "ARCFormatError",
    "ARCTaskDataset",
    "BenchProbe",
    "Compose",
    "CorruptedImageDataset",
    "DataFileError",
    "EngineStep",
    "GaussianNoise",
    "ImageData",
    "ImageNormalizer",
    "ImageTransform",
    "ItemFilesDataset",
    "LoadingProbe",
    "MemmapDataset",
    "MissingDataError",
    "RandomBlackPatches",
    "RandomCropResize",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "TensorDictDataset",
    "UniformSampler",
    "Workload",
    "accelerator_available",
    "arc_workload",
    "bell_data",
    "bell_model",
    "bell_workload",
    "bench_loading",
    "bench_sweep",
    "collate_arc_tasks",
    "corruption_from_names",
    "default_data_root",
    "find_image_root",
    "hflip",
    "image_files_available",
    "image_workload",
    "install_hint",
    "item_generator",
    "lazy_copy",
    "load_cifar_batch",
    "load_images",
    "pin_memory_for",
    "plot_corrupted_batch",
    "plot_loading_sweep",
    "precompute",
    "probe_loading",
    "read_idx",
    "restoration_workload",
    "rotate",
    "sample_uniform",
    "save_item_files",
    "save_memmap",
    "stack_items",
    "sweep_loading",
    "to_device",
    "translate",
    "validate_arc_task",
    "vflip",
    "write_arc_tasks",
    "write_cifar_batch",
    "write_idx",
]
