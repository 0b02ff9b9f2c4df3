"""Datasets returning dicts of tensors, and an online sampler that stays on the training device.

Which one fits (Tutorial 3, "PyTorch Dataset" and "Troubleshooting bottlenecks"):

- :class:`TensorDictDataset` -- **in memory**. The default whenever the data fit in RAM (every
  fixed data set of the project: the Bell data, MNIST, CIFAR-10 are a few hundred MB at most).
  Fastest: an item is an index into tensors, so ``num_workers=0`` is usually best (workers only
  add start-up and inter-process copies). Better still for tiny models: skip the DataLoader and
  index whole batches (``tensors["x"][perm[i:i + B]]``) -- the probe measures the difference.
- :class:`ItemFilesDataset` -- **lazy, one file per item** (``.pt``, ``.npz`` or ``.npy``). For
  data larger than memory or items of different shapes; each ``__getitem__`` opens a file, so
  it needs ``num_workers > 0`` to keep up, and pre-processing should be done once, when the
  files are written (:func:`save_item_files`), not on the fly.
- :class:`MemmapDataset` -- **lazy, memory-mapped arrays** (one ``.npy`` per key with all
  items). For data larger than memory with fixed-shape items: reads touch only the pages they
  need and the OS caches hot pages, so it is nearly as fast as in-memory once warm. Each worker
  opens its own maps (nothing big is pickled to workers).
- Online data (fresh inputs every step, e.g. ``U[a, b]^d``): no Dataset at all -- draw the batch
  on the training device with :func:`sample_uniform` / :class:`UniformSampler` and an explicit
  ``torch.Generator`` (no host-to-device copies, no workers).

Items are dicts of CPU tensors: never return GPU tensors from a Dataset (it breaks worker
processes); use ``pin_memory=True`` in the DataLoader and ``.to(device, non_blocking=True)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from learnability._validation import ParameterError, check_choice, check_in_range
from learnability.data._errors import DataFileError

__all__ = [
    "ItemFilesDataset",
    "MemmapDataset",
    "TensorDictDataset",
    "UniformSampler",
    "sample_uniform",
    "save_item_files",
    "save_memmap",
]

_ITEM_FORMATS = ("pt", "npz")
_ITEM_SUFFIXES = (".pt", ".npz", ".npy")
# File name of item i: zero-padded so that lexicographic order is index order.
_ITEM_NAME = "item_{:08d}.{}"
# Key given to the array of a ``.npy`` item file (it holds one unnamed array).
NPY_ITEM_KEY = "x"


def _check_index(index: Any, length: int, owner: str) -> int:
    if isinstance(index, torch.Tensor | np.integer) and getattr(index, "ndim", 0) == 0:
        index = int(index)
    if isinstance(index, bool) or not isinstance(index, int) or not -length <= index < length:
        raise IndexError(f"{owner} index {index!r} is out of range for {length} items")
    return index % length


class TensorDictDataset(Dataset[dict[str, torch.Tensor]]):
    """In-memory dataset over named tensors sharing their first dimension.

    Args:
        tensors: e.g. ``{"x": (N, d), "y": (N, 1)}``; every tensor has ``N`` rows.

    Item ``i`` is ``{name: tensor[i]}`` (views, no copies), which the DataLoader's default
    ``collate_fn`` stacks into ``{name: (B, ...)}``.
    """

    def __init__(self, tensors: Mapping[str, torch.Tensor]) -> None:
        owner = "TensorDictDataset"
        if not isinstance(tensors, Mapping) or not tensors:
            raise ParameterError("tensors", owner, "a non-empty mapping name -> tensor", tensors)
        lengths = {}
        for key, value in tensors.items():
            if not isinstance(key, str):
                raise ParameterError("tensors", owner, "a mapping with str keys", key)
            if not isinstance(value, torch.Tensor) or value.ndim == 0:
                raise ParameterError(f"tensors[{key!r}]", owner, "a tensor with at least one dimension", value)
            lengths[key] = int(value.shape[0])
        if len(set(lengths.values())) != 1:
            raise ParameterError("tensors", owner, "tensors with the same number of rows", f"rows {lengths}")
        self.tensors: dict[str, torch.Tensor] = dict(tensors)
        self._length = next(iter(lengths.values()))

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        i = _check_index(index, self._length, "TensorDictDataset")
        return {key: value[i] for key, value in self.tensors.items()}


# --------------------------------------------------------------------------------------------
# Lazy: one file per item
# --------------------------------------------------------------------------------------------


def save_item_files(
    dataset: Dataset[Mapping[str, torch.Tensor]] | Sequence[Mapping[str, torch.Tensor]],
    directory: str | os.PathLike[str],
    *,
    format: str = "pt",
) -> list[Path]:
    """Write each item (a dict of tensors) of ``dataset`` to its own file in ``directory``.

    Pre-process here, once, rather than in ``__getitem__`` on every epoch.

    Args:
        dataset: anything with ``len`` and integer indexing returning dicts of tensors.
        directory: created if needed; files are ``item_00000000.pt`` (or ``.npz``), ...
        format: ``"pt"`` (``torch.save``, read back with ``weights_only=True``) or ``"npz"``.

    Returns:
        The paths written, in index order.
    """
    check_choice(format, "format", "save_item_files", _ITEM_FORMATS)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(len(dataset)):  # type: ignore[arg-type]
        item = {k: torch.as_tensor(v).detach().cpu() for k, v in dataset[i].items()}
        path = directory / _ITEM_NAME.format(i, format)
        if format == "pt":
            torch.save(item, path)
        else:
            np.savez(path, **{k: v.numpy() for k, v in item.items()})
        paths.append(path)
    return paths


class ItemFilesDataset(Dataset[dict[str, torch.Tensor]]):
    """Lazy dataset: item ``i`` is read from ``paths[i]`` when asked for.

    Args:
        source: a directory (every ``.pt``/``.npz``/``.npy`` file in it, sorted by name) or an
            explicit sequence of files.

    File formats: ``.pt`` holds a dict of tensors (loaded with ``weights_only=True``: safe);
    ``.npz`` a set of named arrays (``allow_pickle=False``); ``.npy`` one array, returned under
    the key ``"x"``.

    Raises:
        ParameterError: no item files found, or a file with another suffix.
        DataFileError: (when an item is read) naming a file that cannot be read or does not hold
            a dict of tensors.
    """

    def __init__(self, source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> None:
        owner = "ItemFilesDataset"
        if isinstance(source, str | os.PathLike):
            directory = Path(source)
            if not directory.is_dir():
                raise ParameterError("source", owner, "an existing directory or a list of files", str(source))
            paths = sorted(p for p in directory.iterdir() if p.suffix in _ITEM_SUFFIXES)
        else:
            paths = [Path(p) for p in source]
        if not paths:
            raise ParameterError(
                "source", owner, "a directory or list holding at least one .pt/.npz/.npy file",
                str(source) if isinstance(source, str | os.PathLike) else list(source),
            )  # fmt: skip
        for p in paths:
            if p.suffix not in _ITEM_SUFFIXES:
                raise ParameterError("source", owner, "files ending in .pt, .npz or .npy", str(p))
        self.paths: list[Path] = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        path = self.paths[_check_index(index, len(self.paths), "ItemFilesDataset")]
        try:
            if path.suffix == ".pt":
                item = torch.load(path, map_location="cpu", weights_only=True)
            elif path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as npz:
                    item = {k: torch.from_numpy(npz[k]) for k in npz.files}
            else:
                item = {NPY_ITEM_KEY: torch.from_numpy(np.load(path, allow_pickle=False))}
        except Exception as exc:  # any reader failure is a bad file; name it
            raise DataFileError(path, f"cannot be read as an item ({type(exc).__name__}: {exc})") from exc
        if not isinstance(item, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in item.items()
        ):
            raise DataFileError(path, "does not hold a dict of tensors")
        return item


# --------------------------------------------------------------------------------------------
# Lazy: memory-mapped arrays
# --------------------------------------------------------------------------------------------


def save_memmap(tensors: Mapping[str, torch.Tensor | np.ndarray], directory: str | os.PathLike[str]) -> Path:
    """Write each named array to ``directory/<name>.npy`` for :class:`MemmapDataset`.

    Args:
        tensors: e.g. ``{"image": (N, C, H, W), "label": (N,)}``, same ``N`` for all.

    Returns:
        The directory.
    """
    owner = "save_memmap"
    if not isinstance(tensors, Mapping) or not tensors:
        raise ParameterError("tensors", owner, "a non-empty mapping name -> array", tensors)
    lengths = set()
    for key, value in tensors.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ParameterError("tensors", owner, "keys that are identifiers (file names)", key)
        lengths.add(int(np.shape(value)[0]) if np.ndim(value) else -1)
    if len(lengths) != 1 or -1 in lengths:
        raise ParameterError("tensors", owner, "arrays with the same number of rows", lengths)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for key, value in tensors.items():
        array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        np.save(directory / f"{key}.npy", np.ascontiguousarray(array), allow_pickle=False)
    return directory


class MemmapDataset(Dataset[dict[str, torch.Tensor]]):
    """Lazy dataset over memory-mapped ``.npy`` arrays (one file per key, all items in it).

    Args:
        directory: holds ``<key>.npy`` files with the same first dimension
            (see :func:`save_memmap`).
        keys: which keys to serve; ``None`` means every ``.npy`` file.

    The maps are opened on first use in each process (and dropped when the dataset is pickled
    to a DataLoader worker), so workers never receive a copy of the data.
    """

    def __init__(self, directory: str | os.PathLike[str], keys: Sequence[str] | None = None) -> None:
        owner = "MemmapDataset"
        self.directory = Path(directory)
        available = sorted(p.stem for p in self.directory.glob("*.npy"))
        if not available:
            raise ParameterError("directory", owner, "a directory holding <key>.npy files", str(directory))
        if keys is None:
            keys = available
        for key in keys:
            check_choice(key, "keys", owner, available)
        self.keys: tuple[str, ...] = tuple(keys)
        self._arrays: dict[str, np.ndarray] | None = None
        lengths = {key: len(arr) for key, arr in self._open().items()}
        if len(set(lengths.values())) != 1:
            raise DataFileError(self.directory, f"its arrays have different lengths {lengths}")
        self._length = next(iter(lengths.values()))

    def _open(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            arrays = {}
            for key in self.keys:
                path = self.directory / f"{key}.npy"
                try:
                    arr = np.load(path, mmap_mode="r", allow_pickle=False)
                except Exception as exc:  # a bad header or a pickled object array
                    raise DataFileError(path, f"cannot be memory-mapped ({exc})") from exc
                if arr.ndim == 0:
                    raise DataFileError(path, "holds a scalar, expected one row per item")
                arrays[key] = arr
            self._arrays = arrays
        return self._arrays

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_arrays"] = None  # each process maps the files itself
        return state

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        i = _check_index(index, self._length, "MemmapDataset")
        # np.array copies the row out of the read-only map (torch needs writable memory).
        return {key: torch.from_numpy(np.array(arr[i])) for key, arr in self._open().items()}


# --------------------------------------------------------------------------------------------
# Online sampling on the training device
# --------------------------------------------------------------------------------------------


def _resolve_device(device: torch.device | str | None, generator: torch.Generator, owner: str) -> torch.device:
    gen_device = generator.device
    if device is None:
        return gen_device
    device = torch.device(device)
    if device.type != gen_device.type:
        raise ParameterError("device", owner, f"the generator's device type ({gen_device.type!r})", str(device))
    return device


def sample_uniform(
    n: int,
    d: int,
    *,
    low: float = -1.0,
    high: float = 1.0,
    generator: torch.Generator,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Draw ``n`` points from ``U[low, high]^d`` directly on the training device.

    Args:
        n: number of points.
        d: dimension.
        low, high: the interval, ``low < high``.
        generator: the source of randomness; it lives on the device the numbers are drawn on
            (``torch.Generator(device="cuda")`` for GPU training).
        device: defaults to the generator's device; must have the same type.
        dtype: floating dtype of the result.

    Returns:
        ``(n, d)`` tensor on ``device``. Same generator state, same numbers.
    """
    owner = "sample_uniform"
    check_in_range(n, "n", owner, low=0, kind=int)
    check_in_range(d, "d", owner, low=1, kind=int)
    check_in_range(low, "low", owner)
    check_in_range(high, "high", owner, low=low, low_inclusive=False)
    if not isinstance(generator, torch.Generator):
        raise ParameterError("generator", owner, "a torch.Generator (randomness is explicit)", generator)
    if not dtype.is_floating_point:
        raise ParameterError("dtype", owner, "a floating-point dtype", dtype)
    dev = _resolve_device(device, generator, owner)
    u = torch.rand(n, d, generator=generator, device=dev, dtype=dtype)  # (n, d) in [0, 1)
    return u.mul_(high - low).add_(low)


@dataclass(frozen=True)
class UniformSampler:
    """Online inputs ``x ~ U[low, high]^d`` drawn on ``device``; a fresh batch every call.

    Example::

        gen = torch.Generator(device="cuda").manual_seed(0)
        sampler = UniformSampler(d=100, low=-1.0, high=1.0, device="cuda")
        for x in sampler.batches(128, n_batches=1000, generator=gen):  # x: (128, 100) on cuda
            ...
    """

    d: int
    low: float = -1.0
    high: float = 1.0
    device: str = "cpu"
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        owner = "UniformSampler"
        check_in_range(self.d, "d", owner, low=1, kind=int)
        check_in_range(self.low, "low", owner)
        check_in_range(self.high, "high", owner, low=self.low, low_inclusive=False)

    def __call__(self, n: int, *, generator: torch.Generator) -> torch.Tensor:
        """``(n, d)`` points on ``device``."""
        return sample_uniform(
            n, self.d, low=self.low, high=self.high, generator=generator,
            device=self.device, dtype=self.dtype,
        )  # fmt: skip

    def batches(
        self, batch_size: int, *, generator: torch.Generator, n_batches: int | None = None
    ) -> Iterator[torch.Tensor]:
        """Yield ``(batch_size, d)`` batches; forever when ``n_batches`` is None."""
        check_in_range(batch_size, "batch_size", "UniformSampler.batches", low=1, kind=int)
        if n_batches is not None:
            check_in_range(n_batches, "n_batches", "UniformSampler.batches", low=0, kind=int)
        count = 0
        while n_batches is None or count < n_batches:
            yield self(batch_size, generator=generator)
            count += 1
