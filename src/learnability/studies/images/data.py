"""The images of the image-symmetry family (Labs 4, 4bis and 5) and their augmentations.

- :class:`ImageDataSettings`, :func:`resolve_dataset` and :func:`load_image_splits`: which data set
  a study uses (``"auto"`` picks MNIST when its files are found, else Fashion-MNIST, else the
  offline scikit-learn digits laid out like MNIST; the data root is searched first, then the
  system locations such as Debian's ``/usr/share/datasets``), the train/test images in ``[0, 1]``
  and a normaliser fitted on the training images.
- :class:`AugmentationSettings`, :data:`AUGMENTATIONS` and :func:`make_augmentation`: the named
  augmentations of Lab 4 (random rotation, flips, translations) as batched transforms.
- :class:`AugmentedImageSource`: the engine's ``BatchSource`` for an ensemble whose members each
  apply their own augmentation with their own generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor

from learnability._seeds import derive_seed
from learnability._validation import ParameterError, check_in_range
from learnability.config import ConfigSection
from learnability.data import (
    SYSTEM_DATA_DIRS,
    Compose,
    ImageNormalizer,
    ImageTransform,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    default_data_root,
    find_image_root,
    install_hint,
    load_images,
    to_device,
)

__all__ = [
    "AUGMENTATIONS",
    "AugmentationName",
    "AugmentationSettings",
    "AugmentedImageSource",
    "DatasetChoice",
    "DatasetName",
    "ImageDataSettings",
    "ImageSplits",
    "load_image_splits",
    "make_augmentation",
    "resolve_dataset",
]

DatasetName = Literal["auto", "digits", "mnist", "fashion-mnist"]
AugmentationName = Literal["none", "rotation", "hflip", "vflip", "hvflip", "translation"]
#: The augmentations a study can name (Lab 4 and its "Optional I").
AUGMENTATIONS: tuple[str, ...] = ("none", "rotation", "hflip", "vflip", "hvflip", "translation")

# Key of the augmentation stream derived from a member's data seed: the shuffling and the
# augmentation draws come from two generators, so that members that share a data seed see the
# same images in the same order whatever their augmentation consumes.
_AUGMENT_STREAM = "augment"
# MNIST centres each digit's 20x20 bounding box in a 28x28 frame (LeCun et al. 1998).
_MNIST_BOX = 20
_MNIST_SIZE = 28
# What "auto" prefers, in order, before the offline digits.
_AUTO_ORDER = ("mnist", "fashion-mnist")


# ------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------
class ImageDataSettings(ConfigSection):
    """Which images a study uses and at what size."""

    dataset: DatasetName = Field(
        "auto",
        description="'auto' uses MNIST when its four IDX files are found (data_root, then "
        "/usr/share/datasets), else Fashion-MNIST (Debian package dataset-fashion-mnist), else "
        "the offline scikit-learn digits; or name one explicitly.",
    )
    data_root: str = Field(
        "",
        description="Folder holding the MNIST/Fashion-MNIST files ('' = $LEARNABILITY_DATA or "
        "./data); searched before the system locations.",
    )
    image_size: int = Field(_MNIST_SIZE, ge=4, description="Side of the square images (MNIST: 28).")
    digits_box: int = Field(
        _MNIST_BOX,
        ge=1,
        description="digits only: the 8x8 digit is resized to this side and centred in "
        "image_size x image_size with zero padding, as MNIST centres its digits in a 20x20 box "
        "inside 28x28 (set it to image_size for a plain resize filling the frame).",
    )
    digits_split_seed: int = Field(
        0,
        ge=0,
        description="digits only: seed of the fixed stratified train/test split (a data "
        "set property, not an experiment seed: runs with other seeds keep the same split).",
    )
    n_train: int | None = Field(None, ge=2, description="Use only the first n training images (None = all).")
    n_test: int | None = Field(None, ge=2, description="Use only the first n test images (None = all).")

    @model_validator(mode="after")
    def _box_fits(self) -> ImageDataSettings:
        if self.digits_box > self.image_size:
            raise ValueError(f"digits_box ({self.digits_box}) must not exceed image_size ({self.image_size})")
        return self


@dataclass(frozen=True)
class ImageSplits:
    """Train and test images of one data set, with the normaliser fitted on the training images.

    Attributes:
        name: the data set actually loaded (``"digits"``, ``"mnist"``, ...).
        description: one sentence for the report (what was loaded and why).
        root: the folder its files were read from (``""`` for the bundled digits).
        train_images: ``(N, 1, H, W)`` float32 in ``[0, 1]`` (un-normalised: augmentations act on
            intensities, so their zero fill is black).
        train_labels: ``(N,)`` int64.
        test_images: ``(M, 1, H, W)`` in ``[0, 1]``.
        test_labels: ``(M,)``.
        classes: class names.
        normalizer: ``ImageNormalizer`` fitted on ``train_images`` (for MNIST its statistics are
            Lab 4's 0.1307 and 0.3081).
    """

    name: str
    description: str
    root: str
    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    classes: tuple[str, ...]
    normalizer: ImageNormalizer

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.train_images.shape[1:]
        return int(c), int(h), int(w)

    def info(self) -> dict[str, Any]:
        """JSON-ready facts for the summary and the report."""
        return {
            "dataset": self.name,
            "dataset_description": self.description,
            "dataset_root": self.root,
            "n_train": len(self.train_labels),
            "n_test": len(self.test_labels),
            "image_shape": list(self.image_shape),
            "normalizer_mean": self.normalizer.mean_.tolist(),
            "normalizer_std": self.normalizer.std_.tolist(),
        }


@dataclass(frozen=True)
class DatasetChoice:
    """The data set a study loads, from where, and why (for the report and the provenance).

    Attributes:
        name: ``"mnist"``, ``"fashion-mnist"``, ``"digits"``, ...
        root: the folder holding its files (``None`` for the bundled digits, or for an explicitly
            named data set found nowhere: loading then fails with the message naming the files).
        reason: one sentence: why this data set (and, for the fallback, how to get real images).
    """

    name: str
    root: Path | None
    reason: str


def resolve_dataset(
    name: str, root: str | Path | None, *, system_dirs: Sequence[str | Path] | None = None
) -> DatasetChoice:
    """The data set to load for ``name``, the folder holding it and the reason, in words.

    Folders are searched in order: ``root`` (``None``: ``$LEARNABILITY_DATA`` or ``./data``), then
    ``system_dirs`` (``None``: :data:`~learnability.data.SYSTEM_DATA_DIRS`; Debian's
    ``dataset-fashion-mnist`` installs in ``/usr/share/datasets/fashion-mnist``). ``"auto"`` gives
    MNIST when both its splits are found in one folder, else Fashion-MNIST, else the offline
    ``"digits"`` with a hint on how to get real images. Explicit names are kept (loading then
    fails loudly if their files are absent).
    """
    where = Path(root) if root else default_data_root()
    roots = [where, *map(Path, SYSTEM_DATA_DIRS if system_dirs is None else system_dirs)]
    searched = ", ".join(str(r) for r in roots)
    if name == "digits":
        return DatasetChoice("digits", None, "chosen in the config")
    if name != "auto":
        found = find_image_root(name, roots)
        return DatasetChoice(name, found or where, "chosen in the config")
    for candidate in _AUTO_ORDER:
        found = find_image_root(candidate, roots)
        if found is not None:
            before = _AUTO_ORDER[: _AUTO_ORDER.index(candidate)]
            absent = f" (no {' or '.join(before)} files in {searched})" if before else ""
            return DatasetChoice(
                candidate, found, f"dataset='auto' and the {candidate} files were found in {found}{absent}"
            )
    return DatasetChoice(
        "digits",
        None,
        f"dataset='auto' and no MNIST or Fashion-MNIST files were found in {searched}, so the "
        f"offline default is used; {install_hint('fashion-mnist')}",
    )


def _layout_digits(images: Tensor, box: int, size: int) -> Tensor:
    """Resize ``(N, 1, 8, 8)`` digits to ``box x box`` and centre them in ``size x size``."""
    resized = F.interpolate(
        images, size=(box, box), mode="bilinear", align_corners=False, antialias=box < images.shape[-1]
    ).clamp_(0.0, 1.0)
    before = (size - box) // 2
    after = size - box - before
    return F.pad(resized, (before, after, before, after))  # zero (black) margin


def load_image_splits(settings: ImageDataSettings) -> ImageSplits:
    """Load the train and test images named by ``settings``; fit the normaliser on train.

    Raises:
        MissingDataError: an explicitly named data set whose files are absent (the message says
            which files were expected where).
    """
    choice = resolve_dataset(settings.dataset, settings.data_root or None)
    name, root, reason = choice.name, choice.root, choice.reason
    size = settings.image_size
    if name == "digits":
        split = {"seed": settings.digits_split_seed}
        train = load_images(name, root, split="train", limit=settings.n_train, **split)
        test = load_images(name, root, split="test", limit=settings.n_test, **split)
        x_train = _layout_digits(train.images, settings.digits_box, size)
        x_test = _layout_digits(test.images, settings.digits_box, size)
        layout = (
            f"the 8x8 images resized to {settings.digits_box}x{settings.digits_box} and centred "
            f"in {size}x{size}, as MNIST centres its digits in a 20x20 box"
            if settings.digits_box < size
            else f"the 8x8 images resized to {size}x{size}"
        )
        what = f"scikit-learn's bundled digits ({layout})"
    else:
        train = load_images(name, root, split="train", limit=settings.n_train, resize=size)
        test = load_images(name, root, split="test", limit=settings.n_test, resize=size)
        x_train, x_test = train.images, test.images
        what = f"{name} from its IDX files ({size}x{size})"
    if train.image_shape[0] != 1:
        raise ParameterError("data.dataset", "the image studies", "a greyscale data set", name)
    description = f"{what}: {len(train):,} training and {len(test):,} test images; {reason}"
    normalizer = ImageNormalizer(per_channel=True).fit(x_train)
    return ImageSplits(
        name=name,
        description=description,
        root=str(root) if root is not None else "",
        train_images=x_train.contiguous(),
        train_labels=train.labels,
        test_images=x_test.contiguous(),
        test_labels=test.labels,
        classes=train.classes,
        normalizer=normalizer,
    )


# ------------------------------------------------------------------------------------------
# Augmentations
# ------------------------------------------------------------------------------------------
class AugmentationSettings(ConfigSection):
    """Parameters of the named augmentations (Lab 4)."""

    rotation_degrees: tuple[float, float] = Field(
        (0.0, 180.0), description="'rotation': angle range in degrees, counter-clockwise (Lab 4: [0, 180])."
    )
    flip_p: float = Field(
        0.5,
        ge=0,
        le=1,
        description="'hflip'/'vflip'/'hvflip': probability of each flip (torchvision's RandomHorizontalFlip default).",
    )
    max_shift: int = Field(
        2,
        ge=0,
        description="'translation': largest shift in pixels along each axis, zero fill "
        "(torchvision's usual RandomAffine(translate=(0.1, 0.1)) on 28 pixels, in whole pixels).",
    )


def make_augmentation(name: str, settings: AugmentationSettings) -> ImageTransform | None:
    """The batched random transform called ``name`` (``None`` for ``"none"``).

    Raises:
        ParameterError: an unknown name.
    """
    if name == "none":
        return None
    if name == "rotation":
        return RandomRotation(degrees=tuple(settings.rotation_degrees))
    if name == "hflip":
        return RandomFlip("horizontal", p=settings.flip_p)
    if name == "vflip":
        return RandomFlip("vertical", p=settings.flip_p)
    if name == "hvflip":
        return Compose((RandomFlip("horizontal", p=settings.flip_p), RandomFlip("vertical", p=settings.flip_p)))
    if name == "translation":
        return RandomTranslation(max_shift=settings.max_shift, mode="zeros")
    raise ParameterError("augmentation", "make_augmentation", "one of " + ", ".join(AUGMENTATIONS), name)


class AugmentedImageSource:
    """Mini-batches of a fixed image set where every member applies its own augmentation.

    Implements the engine's ``BatchSource`` protocol. Member ``k`` shuffles the images with a
    generator seeded by ``seeds[k]`` (a fresh permutation every epoch; the ``N % B`` left-over
    images of an epoch are skipped, as :class:`~learnability.engine.FixedSource` does), augments
    its batch with ``augmentations[k]`` drawing from a second generator derived from ``seeds[k]``,
    then normalises. Member ``k``'s batches therefore depend on ``seeds[k]`` and
    ``augmentations[k]`` only: it gets the same batches trained alone or in any ensemble, and
    members sharing a seed see the same images in the same order whatever their augmentation.

    Args:
        images: ``(N, C, H, W)`` intensities in ``[0, 1]`` (augment before normalising, so the
            zero fill of rotations and translations is black).
        labels: ``(N,)`` int64.
        batch_size: B.
        augmentations: one transform (or ``None``) per member.
        normalizer: applied after augmentation (``None``: none).

    Shapes:
        ``next()`` returns inputs ``(K, B, C, H, W)`` and labels ``(K, B)``.
    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        *,
        batch_size: int,
        augmentations: Sequence[ImageTransform | None],
        normalizer: ImageNormalizer | None = None,
    ) -> None:
        owner = "AugmentedImageSource"
        if not isinstance(images, Tensor) or images.ndim != 4 or not images.is_floating_point():
            raise ParameterError(
                "images", owner, "a float tensor of shape (N, C, H, W)", getattr(images, "shape", images)
            )
        if not isinstance(labels, Tensor) or labels.shape != (images.shape[0],):
            raise ParameterError(
                "labels", owner, f"a tensor of shape ({images.shape[0]},)", getattr(labels, "shape", labels)
            )
        check_in_range(batch_size, "batch_size", owner, low=1, high=images.shape[0], kind=int)
        if len(augmentations) == 0:
            raise ParameterError("augmentations", owner, "one entry per member (at least one)", [])
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.augmentations = list(augmentations)
        self.normalizer = normalizer
        self._order_gens: list[torch.Generator] = []
        self._aug_gens: list[torch.Generator] = []
        self._order: Tensor | None = None
        self._i = 0

    @property
    def steps_per_epoch(self) -> int:
        return self.images.shape[0] // self.batch_size

    def start(self, seeds: Sequence[int], device: torch.device) -> None:
        if len(seeds) != len(self.augmentations):
            raise ParameterError(
                "seeds",
                "AugmentedImageSource.start",
                f"{len(self.augmentations)} seeds, one per augmentation",
                list(seeds),
            )
        device = torch.device(device)
        # The whole set moves once (pinned, non-blocking on CUDA); batches are then cut on the device.
        self.images, self.labels = to_device(self.images, device), to_device(self.labels, device)
        self._order_gens = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
        self._aug_gens = [
            torch.Generator(device=device).manual_seed(derive_seed(int(s), _AUGMENT_STREAM)) for s in seeds
        ]
        self._order = None
        self._i = 0

    def next(self) -> tuple[Tensor, Tensor]:
        if not self._order_gens:
            raise RuntimeError("AugmentedImageSource.next() called before start().")
        n = self.images.shape[0]
        if self._order is None or self._i == self.steps_per_epoch:
            self._order = torch.stack(
                [torch.randperm(n, generator=g, device=self.images.device) for g in self._order_gens]
            )  # (K, N)
            self._i = 0
        b = self.batch_size
        idx = self._order[:, self._i * b : (self._i + 1) * b]  # (K, B)
        self._i += 1
        batches = []
        for k, aug in enumerate(self.augmentations):
            xb = self.images[idx[k]]  # (B, C, H, W)
            if aug is not None:
                xb = aug(xb, generator=self._aug_gens[k])
            batches.append(xb)
        x = torch.stack(batches)  # (K, B, C, H, W)
        if self.normalizer is not None:
            x = self.normalizer.transform(x.flatten(0, 1)).view_as(x)
        return x, self.labels[idx]
