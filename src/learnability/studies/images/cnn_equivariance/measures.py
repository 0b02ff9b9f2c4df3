"""The measures of Lab 5: translated pairs, the conv's shift-back error and the fc's invariance.

Pairs ``(x, g x)`` are test images and their translations by ``s = (dy, dx)`` (one of the eight
compass directions per image, ``max(|dy|, |dx|)`` = the shift magnitude). Measured per image:

- **shift back and compare**: ``||roll(conv(g x), -s) - conv(x)|| / ||conv(x)||``, split into
  the *interior* (output positions whose receptive fields lie inside both images without wrapping
  or padding: the architecture alone, equivariant by construction) and the *border* (the rest:
  boundary effects), so that ``total^2 = interior^2 + border^2``;
- **sorted values** (the lab's hint: a translation permutes conv activations and sorting forgets
  the order): ``||sort(conv(g x)) - sort(conv(x))|| / ||conv(x)||``;
- **fc invariance**: ``||fc(g x) - fc(x)|| / ||fc(x)||``, against the control ``||fc(x') - fc(x)||
  / ||fc(x)||`` for an unrelated test image ``x'``, and how often the predicted class is unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from learnability.data import translate
from learnability.models import LabCNN, PooledCNN, get_activations

__all__ = [
    "EXACT_TOL",
    "MEASURES",
    "compass_shifts",
    "conv_equivariance",
    "example_maps",
    "interior_mask",
    "pair_measures",
]

#: Per-image measures, in the order of the saved arrays.
MEASURES = (
    "conv_total",
    "conv_interior",
    "conv_border",
    "conv_sorted",
    "conv_control",
    "sorted_control",
    "fc_invariance",
    "fc_control",
    "same_prediction",
)
# The eight compass directions (dy, dx) of a shift: each image moves along one of them.
_DIRECTIONS = torch.tensor([[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 0], [1, 1]])
#: A relative error below this is float32 rounding (eps = 1.2e-7, summed over a few hundred
#: terms), and the report calls the equivariance exact.
EXACT_TOL = 1e-5


def compass_shifts(n: int, magnitude: int, *, generator: torch.Generator) -> Tensor:
    """``(n, 2)`` int64 shifts ``(dy, dx)``: ``magnitude`` times a random compass direction each."""
    idx = torch.randint(len(_DIRECTIONS), (n,), generator=generator)
    return _DIRECTIONS[idx] * magnitude


def interior_mask(shifts: Tensor, image_size: tuple[int, int], conv_shape: tuple[int, int], kernel_size: int) -> Tensor:
    """Conv output positions where equivariance holds by construction: ``(N, 1, H', W')`` bool.

    Position ``(i, j)`` is interior when the receptive field of ``conv(x)`` at ``(i, j)`` and that
    of ``conv(g x)`` at ``(i + dy, j + dx)`` both lie inside the image (no padding, no wrap):
    ``0 <= i, i + dy <= H - k`` (and the same for columns). There ``g x`` equals ``x`` moved by
    ``s`` whatever the boundary handling, so ``roll(conv(g x), -s) == conv(x)`` exactly.

    Args:
        shifts: ``(N, 2)`` integer ``(dy, dx)``.
        image_size: ``(H, W)`` of the input images.
        conv_shape: ``(H', W')`` of the conv output.
        kernel_size: ``k``.
    """
    (h, w), (ho, wo), k = image_size, conv_shape, kernel_size
    rows = torch.arange(ho)[None, :]  # (1, H')
    cols = torch.arange(wo)[None, :]  # (1, W')
    dy, dx = shifts[:, :1], shifts[:, 1:]  # (N, 1)
    ok_r = (rows <= h - k) & (rows + dy >= 0) & (rows + dy <= h - k)  # (N, H')
    ok_c = (cols <= w - k) & (cols + dx >= 0) & (cols + dx <= w - k)  # (N, W')
    return ok_r[:, None, :, None] & ok_c[:, None, None, :]  # (N, 1, H', W')


def _rel(num_: Tensor, den: Tensor) -> Tensor:
    return num_ / den.clamp_min(torch.finfo(den.dtype).tiny)


def conv_equivariance(conv_x: Tensor, conv_gx: Tensor, shifts: Tensor, mask: Tensor) -> dict[str, Tensor]:
    """Shift-back errors of conv maps ``(N, C, H', W')``, each ``(N,)``, relative to ``||conv(x)||``.

    ``total``: ``||roll(conv(g x), -s) - conv(x)||``; ``interior``/``border``: the same norm on
    the positions inside/outside ``mask`` (``total^2 = interior^2 + border^2``); ``sorted``:
    ``||sort(conv(g x)) - sort(conv(x))||``.
    """
    n = conv_x.shape[0]
    back = translate(conv_gx, -shifts, mode="circular")
    diff = (back - conv_x).reshape(n, -1)
    m = mask.expand_as(conv_x).reshape(n, -1)  # one mask for every channel
    den = conv_x.reshape(n, -1).norm(dim=1)
    sorted_diff = conv_gx.reshape(n, -1).sort(dim=1).values - conv_x.reshape(n, -1).sort(dim=1).values
    return {
        "total": _rel(diff.norm(dim=1), den),
        "interior": _rel((diff * m).norm(dim=1), den),
        "border": _rel((diff * ~m).norm(dim=1), den),
        "sorted": _rel(sorted_diff.norm(dim=1), den),
    }


def pair_measures(
    model: LabCNN | PooledCNN, xn: Tensor, gxn: Tensor, shifts: Tensor, partner: Tensor
) -> dict[str, Tensor]:
    """Every per-image measure of :data:`MEASURES` for normalised pairs ``(xn, gxn)``.

    Args:
        model: a trained :class:`~learnability.models.LabCNN` or
            :class:`~learnability.models.PooledCNN` (any padding mode).
        xn, gxn: ``(N, 1, H, W)`` normalised images and their translations by ``shifts``.
        shifts: ``(N, 2)`` integer ``(dy, dx)``.
        partner: ``(N,)`` index of the unrelated image paired with each image (control).

    Returns:
        ``name -> (N,)`` float64 tensors (``same_prediction`` is 0/1).
    """
    acts = get_activations(model, torch.cat([xn, gxn]), ["conv1", "fc1"])
    n = xn.shape[0]
    conv_x, conv_gx = acts["conv1"][:n].double(), acts["conv1"][n:].double()  # (N, C, H', W')
    fc_x, fc_gx = acts["fc1"][:n].double(), acts["fc1"][n:].double()  # (N, C)
    mask = interior_mask(shifts, model.image_size, model.conv_shape, model.kernel_size)
    eq = conv_equivariance(conv_x, conv_gx, shifts, mask)
    flat = conv_x.reshape(n, -1)
    den = flat.norm(dim=1)
    fc_den = fc_x.norm(dim=1)
    return {
        "conv_total": eq["total"],
        "conv_interior": eq["interior"],
        "conv_border": eq["border"],
        "conv_sorted": eq["sorted"],
        "conv_control": _rel((flat[partner] - flat).norm(dim=1), den),
        "sorted_control": _rel((flat[partner].sort(dim=1).values - flat.sort(dim=1).values).norm(dim=1), den),
        "fc_invariance": _rel((fc_gx - fc_x).norm(dim=1), fc_den),
        "fc_control": _rel((fc_x[partner] - fc_x).norm(dim=1), fc_den),
        "same_prediction": (fc_gx.argmax(dim=1) == fc_x.argmax(dim=1)).double(),
    }


def example_maps(
    model: LabCNN | PooledCNN, xn: Tensor, gxn: Tensor, shifts: Tensor, mode: str
) -> dict[str, np.ndarray]:
    """Pictures of the first pair for the report: images, conv maps (channel 0), shifted back, difference."""
    acts = get_activations(model, torch.cat([xn[:1], gxn[:1]]), "conv1")
    back = translate(acts[1:], -shifts[:1], mode="circular")
    gx_back = translate(gxn[:1], -shifts[:1], mode="circular")
    return {
        "x": xn[0, 0].numpy(),
        "gx": gxn[0, 0].numpy(),
        "shift": shifts[0].numpy(),
        "gx_back": gx_back[0, 0].numpy(),
        f"{mode}_conv_x": acts[0, 0].numpy(),
        f"{mode}_back": back[0, 0].numpy(),
        f"{mode}_diff": (back[0, 0] - acts[0, 0]).abs().numpy(),
    }
