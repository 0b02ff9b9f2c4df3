"""Image data sets from their standard files, and the offline default (scikit-learn's digits).

One entry point, :func:`load_images`, returns an :class:`ImageData`: images ``(N, C, H, W)``
float32 in ``[0, 1]``, labels ``(N,)`` int64 and the class names.

Supported names and the files they read (nothing is ever downloaded here):

- ``"digits"`` (default, offline): scikit-learn's bundled 8x8 digits (values 0..16, scaled to
  ``[0, 1]``), split into train/test deterministically from ``seed``.
- ``"mnist"`` and ``"fashion-mnist"``: the standard IDX files ``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
  gzipped (``.gz``) or not (LeCun et al., "Gradient-based learning applied to document
  recognition", 1998; Xiao et al., "Fashion-MNIST", 2017).
- ``"cifar10"``: the python batches ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``
  (pickled dicts; Krizhevsky, "Learning multiple layers of features from tiny images", 2009).
  They are read with a restricted unpickler that only builds numpy arrays and builtin containers:
  a pickle asking for anything else is refused.

Files are looked for in ``root`` and in the sub-directories the usual tools create
(``MNIST/raw`` for torchvision, ``cifar-10-batches-py`` for the CIFAR tarball, ...).
:data:`SYSTEM_DATA_DIRS` are the system-wide locations worth a look besides ``root``: Debian's
``dataset-fashion-mnist`` package installs the original gzipped IDX files in
``/usr/share/datasets/fashion-mnist/`` (:func:`find_image_root` searches them in order).

Decoded IDX files are cached per process (keyed by path, size and modification time), so a
second study in the same process does not decompress 30 MB of gzip again.
"""

from __future__ import annotations

import functools
import gzip
import io
import math
import os
import pickle
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from learnability._validation import ParameterError, check_choice, check_in_range
from learnability.data._errors import DataFileError, MissingDataError

if TYPE_CHECKING:
    from learnability.data._datasets import TensorDictDataset

__all__ = [
    "IMAGE_DATASETS",
    "SYSTEM_DATA_DIRS",
    "ImageData",
    "default_data_root",
    "find_image_root",
    "image_files_available",
    "install_hint",
    "load_cifar_batch",
    "load_images",
    "read_idx",
    "write_cifar_batch",
    "write_idx",
]

IMAGE_DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")
_SPLITS = ("train", "test")

# Environment variable consulted when ``root`` is None, then this folder (relative to the cwd).
DATA_ROOT_ENV = "LEARNABILITY_DATA"
_DEFAULT_ROOT = Path("data")
#: System-wide folders that may hold image data sets, searched after the data root: Debian's
#: ``dataset-*`` packages install there (``dataset-fashion-mnist`` -> ``fashion-mnist/``).
SYSTEM_DATA_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets"),)
# Debian packages that install a data set under SYSTEM_DATA_DIRS (none ships MNIST itself).
_DEBIAN_PACKAGES = {"fashion-mnist": "dataset-fashion-mnist"}
# Decoded IDX files kept per process: the four files of MNIST and of Fashion-MNIST.
_IDX_CACHE_SIZE = 8

# Fraction of scikit-learn's 1,797 digits held out as the test split (about 450 images).
DIGITS_TEST_FRACTION = 0.25
# scikit-learn's digits are 4-bit intensities: 0..16.
_DIGITS_MAX_VALUE = 16.0
_UINT8_MAX = 255.0

# --- IDX format (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT") -------------------
# magic = 0x00 0x00 <type code> <number of dimensions>; then the dimensions as big-endian uint32.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_MAGIC_BYTES = 4
_IDX_DIM_BYTES = 4
_GZIP_MAGIC = b"\x1f\x8b"

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CIFAR_TRAIN_BATCHES = 5
_CIFAR_FILES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, _CIFAR_TRAIN_BATCHES + 1)),
    "test": ("test_batch",),
}
_CIFAR_META = "batches.meta"
_CIFAR_SHAPE = (3, 32, 32)  # channels first, as stored: 1024 red, 1024 green, 1024 blue bytes
_CIFAR_ROW = math.prod(_CIFAR_SHAPE)

# Sub-directories of ``root`` searched, in order ("" is root itself).
_SEARCH_DIRS = {
    "mnist": ("", "mnist", "MNIST/raw"),
    "fashion-mnist": ("", "fashion-mnist", "FashionMNIST/raw"),
    "cifar10": ("", "cifar-10-batches-py", "cifar10"),
}
_HOW_TO_GET = {
    "mnist": (
        "Download the four files (gzipped is fine) from a mirror of "
        "http://yann.lecun.com/exdb/mnist/, e.g. https://ossci-datasets.s3.amazonaws.com/mnist/ "
        "(the mirror torchvision uses), on a machine with internet access, and copy them here."
    ),
    "fashion-mnist": (
        "Download the four files from https://github.com/zalandoresearch/fashion-mnist "
        "(folder data/fashion, gzipped is fine) and copy them here."
    ),
    "cifar10": (
        "Download https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz, extract it "
        "(tar xzf) and copy the cifar-10-batches-py folder or its files here."
    ),
}

_CLASSES = {
    "digits": tuple(str(d) for d in range(10)),
    "mnist": tuple(str(d) for d in range(10)),
    "fashion-mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
    "cifar10": (
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    ),
}  # fmt: skip


@dataclass(frozen=True, eq=False)
class ImageData:
    """A labelled image set held in memory.

    Attributes:
        images: ``(N, C, H, W)`` float32 in ``[0, 1]``.
        labels: ``(N,)`` int64 in ``[0, len(classes))``.
        classes: the class names; ``classes[labels[i]]`` names image ``i``.
        name: the data set's name (``"mnist"``, ``"digits"``, ...).
        split: ``"train"`` or ``"test"``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    name: str = "images"
    split: str = "train"

    def __post_init__(self) -> None:
        owner = "ImageData"
        if not isinstance(self.images, torch.Tensor) or self.images.ndim != 4:
            raise ParameterError("images", owner, "a tensor of shape (N, C, H, W)", _describe(self.images))
        if self.images.dtype != torch.float32:
            raise ParameterError("images", owner, "a float32 tensor", self.images.dtype)
        if not isinstance(self.labels, torch.Tensor) or self.labels.shape != (self.images.shape[0],):
            raise ParameterError(
                "labels",
                owner,
                f"a tensor of shape ({self.images.shape[0]},) matching the images",
                _describe(self.labels),
            )
        if self.labels.dtype != torch.int64:
            raise ParameterError("labels", owner, "an int64 tensor", self.labels.dtype)
        if len(self.labels) and (int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.classes)):
            raise ParameterError(
                "labels",
                owner,
                f"integers in the range [0, {len(self.classes) - 1}] (one per class name)",
                f"values from {int(self.labels.min())} to {int(self.labels.max())}",
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def to_dataset(self) -> TensorDictDataset:
        """An in-memory Dataset whose items are ``{"image": (C, H, W), "label": ()}``."""
        from learnability.data._datasets import TensorDictDataset

        return TensorDictDataset({"image": self.images, "label": self.labels})


def _describe(x: Any) -> str:
    shape = getattr(x, "shape", None)
    return f"{type(x).__name__} of shape {tuple(shape)}" if shape is not None else repr(x)


# --------------------------------------------------------------------------------------------
# Low-level readers and writers
# --------------------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when it is gzipped (recognised by content, not name)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataFileError(path, f"is a corrupt or truncated gzip file ({exc}); download it again") from exc
    return raw


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not.

    Args:
        path: the file.

    Returns:
        The array with the shape stored in the header, in native byte order.

    Raises:
        DataFileError: naming the file, when the magic number is wrong, the header or the data
            is truncated, or bytes follow the data.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < _IDX_MAGIC_BYTES:
        raise DataFileError(path, f"is truncated: {len(raw)} bytes, too short for an IDX header")
    zero0, zero1, code, ndim = raw[:_IDX_MAGIC_BYTES]
    if zero0 != 0 or zero1 != 0 or code not in _IDX_DTYPES or ndim == 0:
        raise DataFileError(
            path,
            f"bad magic number 0x{raw[:_IDX_MAGIC_BYTES].hex()}: an IDX file starts with "
            "0x0000, a type code (08 for unsigned bytes) and the number of dimensions "
            "(e.g. 0x00000803 for images, 0x00000801 for labels); is this really an IDX file?",
        )
    header = _IDX_MAGIC_BYTES + _IDX_DIM_BYTES * ndim
    if len(raw) < header:
        raise DataFileError(path, f"is truncated inside its header ({len(raw)} bytes, header needs {header})")
    dims = struct.unpack(f">{ndim}I", raw[_IDX_MAGIC_BYTES:header])
    dtype = _IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    got = len(raw) - header
    if got < expected:
        raise DataFileError(
            path,
            f"is truncated: the header promises shape {dims} ({expected} bytes of data) but "
            f"only {got} bytes follow it; download it again",
        )
    if got > expected:
        raise DataFileError(
            path,
            f"has {got - expected} unexpected bytes after the data of shape {dims}; the file is corrupt",
        )
    array = np.frombuffer(raw, dtype=dtype, count=math.prod(dims), offset=header)
    return array.reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *, compress: bool = False) -> Path:
    """Write an array in the IDX format (the inverse of :func:`read_idx`).

    Useful to build tiny MNIST-format files for tests and smoke runs.

    Args:
        path: destination (``.gz`` is not appended automatically).
        array: any shape with at least one dimension; dtype uint8, int8, int16, int32,
            float32 or float64.
        compress: gzip the file.

    Returns:
        The path written.
    """
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes or array.ndim == 0:
        raise ParameterError(
            "array",
            "write_idx",
            "an array with at least one dimension and an IDX dtype (uint8, int8, int16, int32, float32, float64)",
            f"{array.dtype} array of shape {array.shape}",
        )
    code = codes[native]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    body = array.astype(_IDX_DTYPES[code]).tobytes()
    data = gzip.compress(header + body) if compress else header + body
    path = Path(path)
    path.write_bytes(data)
    return path


def _numpy_global(modules: Sequence[str], name: str) -> Any:
    """``modules[k].name`` for the first module that imports (numpy 2 renamed numpy.core)."""
    for module in modules:
        try:
            return getattr(import_module(module), name)
        except (ImportError, AttributeError):
            continue
    return None


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """The only globals a CIFAR-10 pickle may name, mapped to the objects they stand for."""
    import codecs

    reconstruct = _numpy_global(("numpy._core.multiarray", "numpy.core.multiarray"), "_reconstruct")
    scalar = _numpy_global(("numpy._core.multiarray", "numpy.core.multiarray"), "scalar")
    frombuffer = _numpy_global(("numpy._core.numeric", "numpy.core.numeric"), "_frombuffer")
    table: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }
    # Pickles written before numpy 2 name numpy.core, later ones numpy._core: same objects.
    for prefix in ("numpy._core", "numpy.core"):
        table[(f"{prefix}.multiarray", "_reconstruct")] = reconstruct
        table[(f"{prefix}.multiarray", "scalar")] = scalar
        table[(f"{prefix}.numeric", "_frombuffer")] = frombuffer
    return {key: obj for key, obj in table.items() if obj is not None}


_ALLOWED_GLOBALS = _allowed_globals()


class _UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list."""


class _RestrictedUnpickler(pickle.Unpickler):
    """Builds only numpy arrays, numpy dtypes and builtin containers.

    Pickles can run arbitrary code through ``find_class``; CIFAR-10 batches only need the
    handful of globals in ``_ALLOWED_GLOBALS`` (numpy's array reconstructors and
    ``_codecs.encode``, which protocol 2 uses to store ``bytes``). Anything else is refused.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise _UnsafePickleError(
                f"refusing to load the global {module}.{name}: only numpy arrays and builtin containers are allowed"
            )
        return _ALLOWED_GLOBALS[(module, name)]


def _key(d: dict[Any, Any], name: str) -> Any:
    """``d[name]`` whether the pickle stored the key as str or (Python 2) bytes."""
    if name in d:
        return d[name]
    return d.get(name.encode())


def _safe_unpickle(path: Path) -> Any:
    raw = _read_bytes(path)
    try:
        # encoding="bytes": the official batches were written by Python 2 (str -> bytes).
        return _RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except _UnsafePickleError as exc:
        raise DataFileError(path, f"is not a safe CIFAR-10 pickle: {exc}") from exc
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        AttributeError,
    ) as exc:
        raise DataFileError(
            path, f"is corrupt or truncated and cannot be unpickled ({type(exc).__name__}: {exc})"
        ) from exc


def load_cifar_batch(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 python batch with the restricted (safe) unpickler.

    Args:
        path: e.g. ``.../cifar-10-batches-py/data_batch_1``.

    Returns:
        ``(images, labels)``: uint8 ``(n, 3, 32, 32)`` and int64 ``(n,)``.

    Raises:
        DataFileError: naming the file, when it is not a safe pickle, is truncated, or its dict
            lacks ``data`` (uint8, ``(n, 3072)``) or ``labels`` (``n`` integers in 0..9).
    """
    path = Path(path)
    batch = _safe_unpickle(path)
    if not isinstance(batch, dict):
        raise DataFileError(path, f"holds a {type(batch).__name__}, expected a dict")
    data, labels = _key(batch, "data"), _key(batch, "labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or (data.shape[1] != _CIFAR_ROW):
        raise DataFileError(
            path,
            f"its 'data' entry must be a uint8 array of shape (n, {_CIFAR_ROW}); got "
            f"{_describe(data) if data is not None else 'no data entry'}"
            + (f" of dtype {data.dtype}" if isinstance(data, np.ndarray) else ""),
        )
    if labels is None:
        raise DataFileError(path, "has no 'labels' entry")
    try:
        labels_arr = np.asarray(labels, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise DataFileError(path, f"its 'labels' are not integers ({exc})") from exc
    n_classes = len(_CLASSES["cifar10"])
    if labels_arr.shape[0] != data.shape[0]:
        raise DataFileError(path, f"has {data.shape[0]} images but {labels_arr.shape[0]} labels")
    if labels_arr.size and (labels_arr.min() < 0 or labels_arr.max() >= n_classes):
        raise DataFileError(path, f"has labels outside 0..{n_classes - 1}")
    return data.reshape((-1, *_CIFAR_SHAPE)), labels_arr


def write_cifar_batch(
    path: str | os.PathLike[str],
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    *,
    protocol: int = 2,
) -> Path:
    """Write a CIFAR-10 python batch (a pickled dict, like the official files).

    Useful for tests and smoke runs. ``images`` is uint8 ``(n, 3, 32, 32)`` (or ``(n, 3072)``).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.reshape(len(images), -1).shape[1] != _CIFAR_ROW:
        raise ParameterError(
            "images",
            "write_cifar_batch",
            "a uint8 array of shape (n, 3, 32, 32)",
            f"{images.dtype} array of shape {images.shape}",
        )
    batch = {
        b"batch_label": b"written by learnability",
        b"labels": [int(v) for v in labels],
        b"data": np.ascontiguousarray(images.reshape(len(images), _CIFAR_ROW)),
        b"filenames": [f"image_{i}.png".encode() for i in range(len(images))],
    }
    path = Path(path)
    with path.open("wb") as fh:
        pickle.dump(batch, fh, protocol=protocol)
    return path


# --------------------------------------------------------------------------------------------
# Locating files
# --------------------------------------------------------------------------------------------


def default_data_root() -> Path:
    """``$LEARNABILITY_DATA`` when set, else ``./data``: where :func:`load_images` looks by
    default."""
    env = os.environ.get(DATA_ROOT_ENV)
    return Path(env) if env else _DEFAULT_ROOT


def find_image_root(
    name: str, roots: Sequence[str | os.PathLike[str]], *, splits: Sequence[str] = _SPLITS
) -> Path | None:
    """The first of ``roots`` under which :func:`load_images` finds every split of ``name``.

    Args:
        name: a data set of :data:`IMAGE_DATASETS` (``"digits"`` needs no files: the first root).
        roots: folders in order of preference, e.g. the data root then :data:`SYSTEM_DATA_DIRS`.
        splits: the splits that must all be present.

    Returns:
        The folder to pass as ``root``, or ``None`` when no folder holds them all.
    """
    for root in roots:
        if all(image_files_available(name, root, split=s) for s in splits):
            return Path(root)
    return None


def install_hint(name: str = "fashion-mnist") -> str:
    """One line saying how to get ``name``'s files on this machine (the Debian package if any)."""
    package = _DEBIAN_PACKAGES.get(name)
    if package is not None:
        return (
            f"to use real images, install the Debian package {package} "
            f"(apt-get install {package}; files in {SYSTEM_DATA_DIRS[0] / name})"
        )
    return f"to use real images, put the {name} files in the data root"


def _required_files(name: str, split: str) -> tuple[str, ...]:
    return _IDX_FILES[split] if name in ("mnist", "fashion-mnist") else _CIFAR_FILES[split]


def _find(directory: Path, stem: str, gz_ok: bool) -> Path | None:
    for candidate in (stem, stem + ".gz") if gz_ok else (stem,):
        if (directory / candidate).is_file():
            return directory / candidate
    return None


def _locate(name: str, root: Path, split: str) -> dict[str, Path] | None:
    gz_ok = name != "cifar10"
    for sub in _SEARCH_DIRS[name]:
        directory = root / sub if sub else root
        found = {stem: _find(directory, stem, gz_ok) for stem in _required_files(name, split)}
        if all(found.values()):
            return found  # type: ignore[return-value]
    return None


def image_files_available(name: str, root: str | os.PathLike[str] | None = None, *, split: str = "train") -> bool:
    """Whether :func:`load_images` would find the files of ``name``/``split`` (always True for
    ``"digits"``); lets a study fall back to the offline default without catching errors."""
    check_choice(name, "name", "image_files_available", IMAGE_DATASETS)
    check_choice(split, "split", "image_files_available", _SPLITS)
    if name == "digits":
        return True
    return _locate(name, Path(root) if root is not None else default_data_root(), split) is not None


def _missing_message(name: str, root: Path, split: str) -> str:
    gz = " (each optionally gzipped, with .gz appended)" if name != "cifar10" else ""
    searched = ", ".join(str(root / sub) if sub else str(root) for sub in _SEARCH_DIRS[name])
    files = ", ".join(_required_files(name, split))
    present = sorted(p.name for p in root.iterdir())[:10] if root.is_dir() else None
    listing = (
        f"The directory {root} does not exist."
        if present is None
        else f"{root} contains: {', '.join(present) or 'nothing'}."
    )
    return (
        f"The {name} {split} files were not found. Expected the files {files}{gz} in one of: "
        f"{searched}. {listing} {_HOW_TO_GET[name]} Nothing is downloaded by learnability; pass "
        f"root=... or set ${DATA_ROOT_ENV}, or use name='digits' (offline)."
    )


# --------------------------------------------------------------------------------------------
# The entry point
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=_IDX_CACHE_SIZE)
def _read_idx_cached(path: Path, size: int, mtime_ns: int) -> np.ndarray:
    """:func:`read_idx`, decoded once per (path, size, mtime); read-only (callers index copies)."""
    del size, mtime_ns  # part of the cache key only: a replaced file is read again
    array = read_idx(path)
    array.flags.writeable = False
    return array


def _read_idx_once(path: Path) -> np.ndarray:
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataFileError(path, f"cannot be read ({exc.strerror or exc})") from exc
    return _read_idx_cached(path.resolve(), stat.st_size, stat.st_mtime_ns)


def _load_idx_pair(paths: dict[str, Path], split: str) -> tuple[np.ndarray, np.ndarray]:
    image_stem, label_stem = _IDX_FILES[split]
    images, labels = _read_idx_once(paths[image_stem]), _read_idx_once(paths[label_stem])
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataFileError(
            paths[image_stem],
            f"must hold uint8 images of shape (n, rows, cols); holds {images.dtype} of shape {images.shape}",
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DataFileError(
            paths[label_stem],
            f"must hold uint8 labels of shape (n,); holds {labels.dtype} of shape {labels.shape}",
        )
    if len(labels) != len(images):
        raise DataFileError(
            paths[label_stem],
            f"has {len(labels)} labels but {paths[image_stem].name} has {len(images)} images",
        )
    n_classes = len(_CLASSES["mnist"])
    if labels.size and labels.max() >= n_classes:
        raise DataFileError(paths[label_stem], f"has labels outside 0..{n_classes - 1}")
    return images[:, None], labels.astype(np.int64)  # (n, 1, rows, cols)


def _cifar_classes(directory: Path) -> tuple[str, ...]:
    meta = directory / _CIFAR_META
    if not meta.is_file():
        return _CLASSES["cifar10"]
    content = _safe_unpickle(meta)
    names = _key(content, "label_names") if isinstance(content, dict) else None
    if not isinstance(names, list) or len(names) != len(_CLASSES["cifar10"]):
        raise DataFileError(meta, "must be a dict whose 'label_names' lists the 10 class names")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


@functools.cache
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits, parsed once per process (read-only: callers index copies)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images, target = bunch.images, bunch.target
    images.flags.writeable = False
    target.flags.writeable = False
    return images, target


def _load_digits_split(split: str, seed: int, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    all_images, target = _digits_arrays()
    indices = np.arange(len(target))
    # Stratified so both splits keep the class balance; the split depends on seed alone.
    train_idx, test_idx = train_test_split(indices, test_size=test_fraction, random_state=seed, stratify=target)
    idx = np.sort(train_idx if split == "train" else test_idx)
    images = all_images[idx] / _DIGITS_MAX_VALUE  # (n, 8, 8) in [0, 1]
    return images[:, None], target[idx].astype(np.int64)


def _resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``(N, C, H, W)`` to ``(N, C, *size)``, staying in [0, 1]."""
    if tuple(images.shape[-2:]) == size:
        return images
    shrinking = size[0] < images.shape[-2] or size[1] < images.shape[-1]
    out = F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=shrinking)
    # Antialiased kernels can overshoot by rounding; intensities stay in [0, 1].
    return out.clamp_(0.0, 1.0)


def _check_resize(resize: int | Sequence[int] | None) -> tuple[int, int] | None:
    if resize is None:
        return None
    allowed = "None, a positive int or a pair (height, width) of positive ints"
    if isinstance(resize, int) and not isinstance(resize, bool):
        pair: tuple[Any, ...] = (resize, resize)
    elif isinstance(resize, Sequence) and len(resize) == 2:
        pair = tuple(resize)
    else:
        raise ParameterError("resize", "load_images", allowed, resize)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in pair):
        raise ParameterError("resize", "load_images", allowed, resize)
    return int(pair[0]), int(pair[1])


def load_images(
    name: str = "digits",
    root: str | os.PathLike[str] | None = None,
    *,
    split: str = "train",
    resize: int | Sequence[int] | None = None,
    seed: int = 0,
    test_fraction: float = DIGITS_TEST_FRACTION,
    limit: int | None = None,
) -> ImageData:
    """Load an image data set from its standard files, or the offline default.

    Args:
        name: one of ``"digits"`` (offline, scikit-learn's bundled 8x8 digits), ``"mnist"``,
            ``"fashion-mnist"``, ``"cifar10"``.
        root: directory holding the files (also searched: ``MNIST/raw``, ``FashionMNIST/raw``,
            ``mnist``, ``fashion-mnist``, ``cifar-10-batches-py``, ``cifar10`` under it).
            ``None`` means ``$LEARNABILITY_DATA`` or ``./data``. Ignored for ``"digits"``.
        split: ``"train"`` or ``"test"``.
        resize: ``None`` (keep), ``s`` for ``s x s`` or ``(H, W)``; bilinear interpolation
            (``torch.nn.functional.interpolate``), antialiased when shrinking. ``resize=28``
            turns the digits into MNIST-sized images.
        seed: for ``"digits"`` only: the seed of the stratified train/test split. Use the same
            seed for both splits (they are then disjoint and cover the 1,797 images).
        test_fraction: for ``"digits"`` only: the fraction held out as the test split.
        limit: keep only the first ``limit`` images (smoke runs); ``None`` keeps all.

    Returns:
        :class:`ImageData` with images ``(N, C, H, W)`` float32 in ``[0, 1]`` (``C = 1`` for
        digits/MNIST/Fashion-MNIST, ``3`` for CIFAR-10), labels ``(N,)`` int64, class names.

    Raises:
        ParameterError: for a bad ``name``, ``split``, ``resize``, ``test_fraction`` or ``limit``.
        MissingDataError: when the files are absent; the message names the directories
            searched, the exact files expected and where to get them.
        DataFileError: naming the file, when a file is corrupt (bad magic number, truncated,
            unsafe pickle, inconsistent counts).
    """
    owner = "load_images"
    check_choice(name, "name", owner, IMAGE_DATASETS)
    check_choice(split, "split", owner, _SPLITS)
    size = _check_resize(resize)
    check_in_range(seed, "seed", owner, low=0, kind=int)
    check_in_range(
        test_fraction, "test_fraction", owner, low=0, high=1,
        low_inclusive=False, high_inclusive=False, kind=float,
    )  # fmt: skip
    if limit is not None:
        check_in_range(limit, "limit", owner, low=1, kind=int)

    classes = _CLASSES[name]
    if name == "digits":
        images_np, labels_np = _load_digits_split(split, seed, test_fraction)  # floats in [0, 1]
        scale = 1.0
    else:
        base = Path(root) if root is not None else default_data_root()
        paths = _locate(name, base, split)
        if paths is None:
            raise MissingDataError(_missing_message(name, base, split))
        if name == "cifar10":
            parts = [load_cifar_batch(paths[stem]) for stem in _CIFAR_FILES[split]]
            images_np = np.concatenate([p[0] for p in parts])
            labels_np = np.concatenate([p[1] for p in parts])
            classes = _cifar_classes(next(iter(paths.values())).parent)
        else:
            images_np, labels_np = _load_idx_pair(paths, split)
        scale = _UINT8_MAX  # bytes 0..255
    if limit is not None:  # before the float conversion: only what is kept is converted
        images_np, labels_np = images_np[:limit], labels_np[:limit]
    images = torch.from_numpy(np.ascontiguousarray(images_np, dtype=np.float32)).div_(scale)
    labels = torch.from_numpy(np.ascontiguousarray(labels_np, dtype=np.int64))
    if size is not None:
        images = _resize(images, size)
    return ImageData(images=images, labels=labels, classes=classes, name=name, split=split)
