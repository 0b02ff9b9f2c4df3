"""Batched image transforms: tensor operations on a whole batch, on CPU or GPU.

Every transform takes images ``x: (N, C, H, W)`` (floating point) and returns a tensor of the
same shape, dtype and device. Random transforms draw one parameter per image from an explicit
``torch.Generator`` (keyword-only ``generator``); the draws are made on the generator's device
and moved to ``x``'s device, so a CPU generator can drive GPU data and results do not depend on
where the images live. Same generator state, same output.

Transforms compose like optax's pieces: each is a small frozen object with
``__call__(x, *, generator=None)``; :class:`Compose` chains them and hands the same generator to
each in turn.

Exact cases are exact: rotations by multiples of 90 degrees are ``torch.rot90`` (square images;
180 degrees for any shape), flips are ``torch.flip`` and integer circular shifts are
``torch.roll``. Other angles use ``affine_grid`` + ``grid_sample`` (bilinear, zero fill) in pixel
units, so a rotation of a non-square image is a rotation, not a shear.

Apply geometric transforms *before* normalisation: their zero fill is black only in ``[0, 1]``
intensities (Lab 4 normalises last, too).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from learnability._validation import ParameterError, check_choice, check_in_range

__all__ = [
    "Compose",
    "ImageNormalizer",
    "ImageTransform",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "hflip",
    "rotate",
    "translate",
    "vflip",
]

_QUARTER_TURN = 90.0  # degrees
_FLIP_AXES = ("horizontal", "vertical")
_SHIFT_MODES = ("zeros", "circular")


@runtime_checkable
class ImageTransform(Protocol):
    """What every transform (and corruption) is: ``(N, C, H, W) -> (N, C, H, W)``."""

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor: ...


def _check_images(x: Any, owner: str, name: str = "x") -> torch.Tensor:
    if isinstance(x, torch.Tensor) and x.ndim == 4 and x.is_floating_point():
        return x
    got = f"tensor of shape {tuple(x.shape)} and dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
    raise ParameterError(name, owner, "a floating-point tensor of shape (N, C, H, W)", got)


def _require_generator(generator: Any, owner: str) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise ParameterError("generator", owner, "a torch.Generator (randomness is explicit)", generator)
    return generator


def _uniform(n: int, low: float, high: float, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """``n`` float64 draws from U[low, high] made on the generator's device, returned on
    ``like``'s device."""
    u = torch.rand(n, generator=generator, device=generator.device, dtype=torch.float64)
    return (low + (high - low) * u).to(device=like.device)


# --------------------------------------------------------------------------------------------
# Functional forms
# --------------------------------------------------------------------------------------------


def hflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror left-right: ``torch.flip(x, dims=(-1,))``. ``x: (N, C, H, W)``."""
    return torch.flip(_check_images(x, "hflip"), dims=(-1,))


def vflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror top-bottom: ``torch.flip(x, dims=(-2,))``. ``x: (N, C, H, W)``."""
    return torch.flip(_check_images(x, "vflip"), dims=(-2,))


def _rotation_theta(angles: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``(N, 2, 3)`` affine_grid matrices rotating the content counter-clockwise by ``angles``.

    ``affine_grid`` maps *output* normalised coordinates (x right, y down) to *input* ones, so the
    matrix is the inverse rotation; ``S = diag(W/2, H/2)`` converts to pixel units so that the
    rotation is a rotation in pixels: theta = S^-1 R^-1 S.
    """
    rad = torch.deg2rad(angles)
    cos, sin = torch.cos(rad), torch.sin(rad)
    zero = torch.zeros_like(cos)
    row_x = torch.stack([cos, -sin * (height / width), zero], dim=-1)
    row_y = torch.stack([sin * (width / height), cos, zero], dim=-1)
    return torch.stack([row_x, row_y], dim=-2)  # (N, 2, 3)


def rotate(x: torch.Tensor, angles: torch.Tensor | float | Sequence[float]) -> torch.Tensor:
    """Rotate each image counter-clockwise (as displayed, row 0 on top) by its own angle.

    Args:
        x: ``(N, C, H, W)`` floating point.
        angles: degrees, ``(N,)`` (one per image) or a scalar for all.

    Returns:
        ``(N, C, H, W)`` on ``x``'s device. Multiples of 90 degrees on square images (and of 180
        on any image) are exact (``torch.rot90``); other angles are bilinear with zero fill.
    """
    owner = "rotate"
    x = _check_images(x, owner)
    n, _, height, width = x.shape
    angles_t = torch.as_tensor(angles, dtype=torch.float64).to(x.device)
    if angles_t.ndim == 0:
        angles_t = angles_t.expand(n)
    if angles_t.shape != (n,):
        raise ParameterError(
            "angles",
            owner,
            f"a scalar or a tensor of shape ({n},)",
            f"shape {tuple(angles_t.shape)}",
        )
    if not bool(torch.isfinite(angles_t).all()):
        raise ParameterError("angles", owner, "finite numbers of degrees", angles)

    quarter_turns = torch.remainder(torch.round(angles_t / _QUARTER_TURN), 4).long()
    exact = torch.remainder(angles_t, _QUARTER_TURN) == 0
    if height != width:  # a quarter turn would change the shape: only half turns are exact
        exact &= quarter_turns % 2 == 0
    out = torch.empty_like(x)
    for k in range(4):
        idx = exact & (quarter_turns == k)
        if bool(idx.any()):
            out[idx] = torch.rot90(x[idx], k=k, dims=(-2, -1))
    general = ~exact
    if bool(general.any()):
        xs = x[general]
        theta = _rotation_theta(angles_t[general], height, width).to(x.dtype)
        grid = F.affine_grid(theta, list(xs.shape), align_corners=False)
        out[general] = F.grid_sample(xs, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out


def translate(x: torch.Tensor, shifts: torch.Tensor, *, mode: str = "zeros") -> torch.Tensor:
    """Shift each image by its own integer number of pixels.

    Args:
        x: ``(N, C, H, W)``.
        shifts: ``(N, 2)`` integers ``(dy, dx)``: content moves down by ``dy`` and right by
            ``dx`` (``torch.roll`` convention; negative values move up/left).
        mode: ``"zeros"`` (pixels shifted in are 0) or ``"circular"`` (wrap around; equal to
            ``torch.roll(x[i], (dy, dx), dims=(-2, -1))`` for every image).

    Returns:
        ``(N, C, H, W)``, exact (pure indexing).
    """
    owner = "translate"
    x = _check_images(x, owner)
    check_choice(mode, "mode", owner, _SHIFT_MODES)
    n, _, height, width = x.shape
    if (
        not isinstance(shifts, torch.Tensor)
        or shifts.shape != (n, 2)
        or shifts.is_floating_point()
        or shifts.is_complex()
    ):
        got = (
            f"tensor of shape {tuple(shifts.shape)} and dtype {shifts.dtype}"
            if isinstance(shifts, torch.Tensor)
            else shifts
        )
        raise ParameterError("shifts", owner, f"an integer tensor of shape ({n}, 2)", got)
    shifts = shifts.to(device=x.device, dtype=torch.long)
    rows = torch.arange(height, device=x.device)[None, :] - shifts[:, :1]  # (N, H) source rows
    cols = torch.arange(width, device=x.device)[None, :] - shifts[:, 1:]  # (N, W) source cols
    batch = torch.arange(n, device=x.device)[:, None, None]
    # Advanced indices separated by a slice put their broadcast dims first: (N, H, W, C).
    out = x[batch, :, (rows % height)[:, :, None], (cols % width)[:, None, :]]
    out = out.permute(0, 3, 1, 2)
    if mode == "zeros":
        inside_rows = (rows >= 0) & (rows < height)  # (N, H)
        inside_cols = (cols >= 0) & (cols < width)  # (N, W)
        inside = inside_rows[:, None, :, None] & inside_cols[:, None, None, :]  # (N, 1, H, W)
        out = out * inside.to(out.dtype)
    return out.contiguous()


# --------------------------------------------------------------------------------------------
# Transform objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RandomRotation:
    """Rotate each image by an angle drawn uniformly from ``degrees = (low, high)``.

    Lab 4 uses ``(0, 180)``. See :func:`rotate` for the convention (counter-clockwise, zero fill).
    """

    degrees: tuple[float, float] = (0.0, 180.0)

    def __post_init__(self) -> None:
        owner = "RandomRotation"
        low, high = _pair(self.degrees, "degrees", owner)
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ParameterError("degrees", owner, "a pair (low, high) with low <= high", self.degrees)
        object.__setattr__(self, "degrees", (float(low), float(high)))

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        x = _check_images(x, "RandomRotation")
        gen = _require_generator(generator, "RandomRotation")
        low, high = self.degrees
        return rotate(x, _uniform(x.shape[0], low, high, gen, x))


@dataclass(frozen=True)
class RandomFlip:
    """Flip each image along ``axis`` with probability ``p`` (independently per image).

    ``p=1`` always flips (``torch.flip``) and needs no generator; ``p=0`` is the identity.
    """

    axis: str = "horizontal"
    p: float = 0.5

    def __post_init__(self) -> None:
        check_choice(self.axis, "axis", "RandomFlip", _FLIP_AXES)
        check_in_range(self.p, "p", "RandomFlip", low=0, high=1)

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        x = _check_images(x, "RandomFlip")
        dims = (-1,) if self.axis == "horizontal" else (-2,)
        if self.p == 0:
            return x.clone()
        if self.p == 1:
            return torch.flip(x, dims=dims)
        gen = _require_generator(generator, "RandomFlip")
        u = torch.rand(x.shape[0], generator=gen, device=gen.device).to(x.device)
        chosen = (u < self.p)[:, None, None, None]  # (N, 1, 1, 1)
        return torch.where(chosen, torch.flip(x, dims=dims), x)


@dataclass(frozen=True)
class RandomTranslation:
    """Shift each image by integers ``dy ~ U{-max_dy..max_dy}``, ``dx ~ U{-max_dx..max_dx}``.

    ``max_shift`` is an int (both axes) or ``(max_dy, max_dx)``; ``mode`` is ``"zeros"`` or
    ``"circular"`` (see :func:`translate`).
    """

    max_shift: int | tuple[int, int] = 2
    mode: str = "zeros"

    def __post_init__(self) -> None:
        owner = "RandomTranslation"
        pair = (self.max_shift, self.max_shift) if isinstance(self.max_shift, int) else self.max_shift
        dy, dx = _pair(pair, "max_shift", owner)
        for v in (dy, dx):
            check_in_range(v, "max_shift", owner, low=0, kind=int)
        check_choice(self.mode, "mode", owner, _SHIFT_MODES)
        object.__setattr__(self, "max_shift", (int(dy), int(dx)))

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        x = _check_images(x, "RandomTranslation")
        gen = _require_generator(generator, "RandomTranslation")
        max_dy, max_dx = self.max_shift  # type: ignore[misc]
        n = x.shape[0]
        dy = torch.randint(-max_dy, max_dy + 1, (n,), generator=gen, device=gen.device)
        dx = torch.randint(-max_dx, max_dx + 1, (n,), generator=gen, device=gen.device)
        return translate(x, torch.stack([dy, dx], dim=1), mode=self.mode)


def _pair(value: Any, name: str, owner: str) -> tuple[Any, Any]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ParameterError(name, owner, "a pair of numbers", value)
    return value[0], value[1]


@dataclass(frozen=True)
class Compose:
    """Apply ``transforms`` in order, handing each the same generator.

    Deterministic pieces ignore the generator; random ones advance it, so the composition is
    reproducible from the generator's state.
    """

    transforms: tuple[ImageTransform, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        transforms = tuple(self.transforms)
        for t in transforms:
            if not callable(t):
                raise ParameterError("transforms", "Compose", "a sequence of callables (x, *, generator)", t)
        object.__setattr__(self, "transforms", transforms)

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        for t in self.transforms:
            x = t(x, generator=generator)
        return x


class ImageNormalizer(BaseEstimator):
    """Standardise images with the training set's mean and std: ``(x - mean) / std``.

    Fit on the training images only, then apply anywhere (test set, GPU batches): the statistics
    are moved to the input's device and dtype. Follows the scikit-learn contract (``fit`` returns
    self; learned ``mean_``, ``std_``; "not fitted" error before fit). A zero std (a constant
    channel) is replaced by 1, like ``sklearn.preprocessing.StandardScaler``.

    Args:
        per_channel: one mean/std per channel (``(C,)``); False pools all channels (scalars).

    Attributes:
        mean_: ``(C,)`` float64 (``(1,)`` when pooled).
        std_: ``(C,)`` float64, population std over images and pixels (what torchvision's
            MNIST constants 0.1307 / 0.3081 are).
    """

    def __init__(self, per_channel: bool = True) -> None:
        self.per_channel = per_channel

    def fit(self, x: torch.Tensor, y: Any = None) -> ImageNormalizer:
        """Learn the statistics from ``x: (N, C, H, W)``; returns self."""
        x = _check_images(x, "ImageNormalizer")
        if x.shape[0] == 0:
            raise ParameterError("x", "ImageNormalizer", "a non-empty batch of images", "0 images")
        dims = (0, 2, 3) if self.per_channel else (0, 1, 2, 3)
        xd = x.detach().to(torch.float64)
        mean = xd.mean(dim=dims).reshape(-1).cpu()
        std = xd.std(dim=dims, correction=0).reshape(-1).cpu()
        self.mean_, self.std_ = mean, torch.where(std > 0, std, torch.ones_like(std))
        return self

    @classmethod
    def from_stats(cls, mean: float | Sequence[float], std: float | Sequence[float]) -> ImageNormalizer:
        """A fitted normaliser with known statistics (e.g. MNIST's 0.1307, 0.3081 in Lab 4)."""
        mean_t = torch.as_tensor(mean, dtype=torch.float64).reshape(-1)
        std_t = torch.as_tensor(std, dtype=torch.float64).reshape(-1)
        if mean_t.shape != std_t.shape or not bool((std_t > 0).all()):
            raise ParameterError("std", "ImageNormalizer", "positive, with as many entries as mean", std)
        self = cls(per_channel=mean_t.numel() > 1)
        self.mean_, self.std_ = mean_t, std_t
        return self

    def _stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_is_fitted(self, ("mean_", "std_"))
        x = _check_images(x, "ImageNormalizer")
        if self.mean_.numel() not in (1, x.shape[1]):
            raise ParameterError(
                "x",
                "ImageNormalizer",
                f"images with {self.mean_.numel()} channels (as fitted)",
                f"tensor of shape {tuple(x.shape)}",
            )
        shape = (1, -1, 1, 1)
        mean = self.mean_.to(device=x.device, dtype=x.dtype).reshape(shape)
        std = self.std_.to(device=x.device, dtype=x.dtype).reshape(shape)
        return mean, std

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` on ``x``'s device; ``x: (N, C, H, W)``."""
        mean, std = self._stats(x)
        return (x - mean) / std

    def inverse_transform(self, x: torch.Tensor) -> torch.Tensor:
        """``x * std + mean``: back to intensities."""
        mean, std = self._stats(x)
        return x * std + mean

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.transform(x)
