"""Corrupted images for restoration (Tutorial 3's CIFAR-10 exercise), reproducible per index.

A model that restores corrupted images needs, per item, the corrupted input, the clean target
(and the label, for analysis): :class:`CorruptedImageDataset` returns
``{"corrupted": (C, H, W), "clean": (C, H, W), "label": ()}``.

Corruptions are batched transforms with the :class:`~learnability.data.ImageTransform` contract
(``(N, C, H, W) -> (N, C, H, W)``, explicit generator): :class:`GaussianNoise`,
:class:`RandomBlackPatches`, :class:`RandomCropResize`, reflections with
:class:`~learnability.data.RandomFlip`, and compositions with :class:`~learnability.data.Compose`
(or by name with :func:`corruption_from_names`).

Reproducibility: the corruption of item ``i`` is drawn from a generator seeded from
``(seed, i)`` alone (``numpy.random.SeedSequence`` spawn keys), so it is the same whatever the
order of access, the batch it lands in, or the DataLoader worker that builds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch.utils.data import Dataset

from learnability._validation import ParameterError, check_choice, check_in_range
from learnability.data._datasets import _check_index
from learnability.data._images import ImageData
from learnability.data._transforms import (
    Compose,
    ImageTransform,
    RandomFlip,
    _check_images,
    _pair,
    _require_generator,
)

__all__ = [
    "CORRUPTION_NAMES",
    "CorruptedImageDataset",
    "GaussianNoise",
    "RandomBlackPatches",
    "RandomCropResize",
    "corruption_from_names",
    "item_generator",
    "plot_corrupted_batch",
]


def _draw(shape: tuple[int, ...], generator: torch.Generator, like: torch.Tensor, normal: bool = False) -> torch.Tensor:
    """Uniform [0, 1) (or standard normal) draws on the generator's device, moved to ``like``'s."""
    fn = torch.randn if normal else torch.rand
    return fn(shape, generator=generator, device=generator.device, dtype=like.dtype).to(like.device)


@dataclass(frozen=True)
class GaussianNoise:
    """Add ``N(0, std^2)`` noise to every pixel; clip to ``[0, 1]`` when ``clip``."""

    std: float = 0.1
    clip: bool = True

    def __post_init__(self) -> None:
        check_in_range(self.std, "std", "GaussianNoise", low=0)

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        x = _check_images(x, "GaussianNoise")
        gen = _require_generator(generator, "GaussianNoise")
        out = x + self.std * _draw(tuple(x.shape), gen, x, normal=True)
        return out.clamp_(0.0, 1.0) if self.clip else out


@dataclass(frozen=True)
class RandomBlackPatches:
    """Set ``n_patches`` random rectangles per image to 0.

    Each patch's height and width are fractions of the image's, drawn from ``U[size]``
    independently (at least one pixel); its position is uniform among those inside the image.
    """

    n_patches: int = 1
    size: tuple[float, float] = (0.1, 0.3)

    def __post_init__(self) -> None:
        owner = "RandomBlackPatches"
        check_in_range(self.n_patches, "n_patches", owner, low=1, kind=int)
        low, high = _pair(self.size, "size", owner)
        check_in_range(low, "size", owner, low=0, high=1, low_inclusive=False)
        check_in_range(high, "size", owner, low=low, high=1)
        object.__setattr__(self, "size", (float(low), float(high)))

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        x = _check_images(x, "RandomBlackPatches")
        gen = _require_generator(generator, "RandomBlackPatches")
        n, _, height, width = x.shape
        low, high = self.size
        u = _draw((n, self.n_patches, 4), gen, x).double()  # (N, P, 4): h, w, top, left
        sizes = torch.tensor([height, width], device=x.device, dtype=torch.float64)
        hw = torch.clamp(torch.round((low + (high - low) * u[..., :2]) * sizes), min=1)  # (N, P, 2)
        # Top-left corner uniform over the positions keeping the patch inside the image.
        corner = torch.floor(u[..., 2:] * (sizes - hw + 1))  # (N, P, 2)
        rows = torch.arange(height, device=x.device, dtype=torch.float64)
        cols = torch.arange(width, device=x.device, dtype=torch.float64)
        in_rows = (rows >= corner[..., :1]) & (rows < corner[..., :1] + hw[..., :1])  # (N, P, H)
        in_cols = (cols >= corner[..., 1:]) & (cols < corner[..., 1:] + hw[..., 1:])  # (N, P, W)
        covered = (in_rows[..., :, None] & in_cols[..., None, :]).any(dim=1)  # (N, H, W)
        return x.masked_fill(covered[:, None], 0.0)


@dataclass(frozen=True)
class RandomCropResize:
    """Crop a random window and resize it back to the full size (bilinear): a random zoom-in.

    The window's sides are ``s * H`` and ``s * W`` with ``s ~ U[scale]`` per image, placed
    uniformly inside the image; ``scale=(1, 1)`` is the identity (up to interpolation).
    """

    scale: tuple[float, float] = (0.5, 1.0)

    def __post_init__(self) -> None:
        owner = "RandomCropResize"
        low, high = _pair(self.scale, "scale", owner)
        check_in_range(low, "scale", owner, low=0, high=1, low_inclusive=False)
        check_in_range(high, "scale", owner, low=low, high=1)
        object.__setattr__(self, "scale", (float(low), float(high)))

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        x = _check_images(x, "RandomCropResize")
        gen = _require_generator(generator, "RandomCropResize")
        n = x.shape[0]
        low, high = self.scale
        u = _draw((n, 3), gen, x)  # (N, 3): scale, centre x, centre y
        s = low + (high - low) * u[:, 0]
        # In normalised coordinates the window [c - s, c + s] stays in [-1, 1] iff |c| <= 1 - s.
        cx = (2 * u[:, 1] - 1) * (1 - s)
        cy = (2 * u[:, 2] - 1) * (1 - s)
        zero = torch.zeros_like(s)
        theta = torch.stack(
            [torch.stack([s, zero, cx], dim=-1), torch.stack([zero, s, cy], dim=-1)], dim=-2
        )  # (N, 2, 3): output grid -> window in the input
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


CORRUPTION_NAMES = ("noise", "patches", "crop", "hflip", "vflip")


def corruption_from_names(names: str | Sequence[str]) -> Compose:
    """A composition of default-parameter corruptions, by name, applied in the order given.

    Args:
        names: e.g. ``"crop+hflip+patches+noise"`` or ``["noise"]``; names from
            ``CORRUPTION_NAMES``: ``noise`` (:class:`GaussianNoise`), ``patches``
            (:class:`RandomBlackPatches`), ``crop`` (:class:`RandomCropResize`), ``hflip`` /
            ``vflip`` (``RandomFlip`` with p = 0.5).

    Returns:
        A :class:`Compose` (configs can name corruptions instead of building objects).
    """
    parts = names.split("+") if isinstance(names, str) else list(names)
    if not parts:
        raise ParameterError("names", "corruption_from_names", f"names from {CORRUPTION_NAMES}", names)
    table: dict[str, ImageTransform] = {
        "noise": GaussianNoise(),
        "patches": RandomBlackPatches(),
        "crop": RandomCropResize(),
        "hflip": RandomFlip("horizontal"),
        "vflip": RandomFlip("vertical"),
    }
    for part in parts:
        check_choice(part, "names", "corruption_from_names", CORRUPTION_NAMES)
    return Compose(tuple(table[p] for p in parts))


def item_generator(seed: int, index: int) -> torch.Generator:
    """A CPU generator seeded from ``(seed, index)`` alone.

    ``SeedSequence(seed, spawn_key=(index,))`` gives statistically independent streams for
    different indices (unlike ``seed + index``, which makes neighbouring seeds share streams).
    """
    state = np.random.SeedSequence(seed, spawn_key=(index,)).generate_state(1, dtype=np.uint64)
    # torch seeds are 64-bit; keep 63 bits so the value is a non-negative Python int.
    return torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))


class CorruptedImageDataset(Dataset[dict[str, torch.Tensor]]):
    """Items ``{"corrupted": (C, H, W), "clean": (C, H, W), "label": ()}`` over an ImageData.

    Args:
        data: the clean images (e.g. ``load_images("cifar10", root)`` or the offline digits).
        corruption: any :class:`ImageTransform`; default ``crop+hflip+patches+noise``.
        seed: item ``i``'s corruption depends only on ``(seed, i)``.

    The clean image is the target; ``clean`` and ``label`` are the stored tensors, so keep the
    corruption on the input side only.
    """

    def __init__(
        self,
        data: ImageData,
        corruption: ImageTransform | None = None,
        *,
        seed: int,
    ) -> None:
        owner = "CorruptedImageDataset"
        if not isinstance(data, ImageData):
            raise ParameterError("data", owner, "an ImageData (see load_images)", type(data).__name__)
        check_in_range(seed, "seed", owner, low=0, kind=int)
        if corruption is not None and not callable(corruption):
            raise ParameterError("corruption", owner, "a transform (x, *, generator)", corruption)
        self.data = data
        self.corruption: ImageTransform = (
            corruption if corruption is not None else corruption_from_names("crop+hflip+patches+noise")
        )
        self.seed = seed

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        i = _check_index(index, len(self.data), "CorruptedImageDataset")
        clean = self.data.images[i : i + 1]  # (1, C, H, W)
        corrupted = self.corruption(clean, generator=item_generator(self.seed, i))
        return {"corrupted": corrupted[0], "clean": clean[0], "label": self.data.labels[i]}


def _as_image(x: torch.Tensor) -> np.ndarray:
    """``(C, H, W)`` in [0, 1] -> what ``imshow`` wants: ``(H, W)`` or ``(H, W, 3)``."""
    x = x.detach().float().cpu().clamp(0.0, 1.0)
    return x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy()


# Inches per image cell in the figure.
_CELL_INCHES = 1.3


def plot_corrupted_batch(
    batch: Mapping[str, torch.Tensor],
    *,
    n: int = 8,
    classes: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Draw a batch: corrupted images on the top row, the clean ones below.

    Args:
        batch: ``{"corrupted": (B, C, H, W), "clean": (B, C, H, W)}`` and optionally
            ``"label": (B,)`` (a DataLoader batch of :class:`CorruptedImageDataset`).
        n: at most this many columns.
        classes: class names to title the columns with the labels.
        title: figure title.

    Returns:
        A matplotlib Figure on the Agg canvas (no pyplot state; save it with ``savefig``).
    """
    owner = "plot_corrupted_batch"
    check_in_range(n, "n", owner, low=1, kind=int)
    for key in ("corrupted", "clean"):
        if key not in batch:
            raise ParameterError("batch", owner, "a mapping with 'corrupted' and 'clean'", sorted(batch))
        _check_images(batch[key], owner, name=f"batch[{key!r}]")
    if batch["corrupted"].shape != batch["clean"].shape:
        raise ParameterError(
            "batch", owner, "'corrupted' and 'clean' of the same shape",
            f"{tuple(batch['corrupted'].shape)} and {tuple(batch['clean'].shape)}",
        )  # fmt: skip
    cols = min(n, batch["clean"].shape[0])
    fig = Figure(figsize=(_CELL_INCHES * cols, 2 * _CELL_INCHES + 0.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, cols, squeeze=False)
    labels = batch.get("label")
    for j in range(cols):
        for row, key in enumerate(("corrupted", "clean")):
            ax = axes[row, j]
            image = _as_image(batch[key][j])
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(key)
        if labels is not None:
            label = int(labels[j])
            axes[0, j].set_title(classes[label] if classes is not None else str(label), fontsize=8)
    if title is not None:
        fig.suptitle(title)
    return fig
