"""How symmetric a template image is: its correlation with its rotations, flips and shifts."""

from __future__ import annotations

import torch
from torch import Tensor

from learnability.data import hflip, rotate, translate, vflip

__all__ = ["MATCHING", "SYMMETRIES", "template_symmetry"]

#: The symmetry scores of a template.
SYMMETRIES = ("rotation", "hflip", "vflip", "translation")
#: The scores each augmentation should raise.
MATCHING = {
    "rotation": ("rotation",),
    "hflip": ("hflip",),
    "vflip": ("vflip",),
    "hvflip": ("hflip", "vflip"),
    "translation": ("translation",),
}


def _disk_mask(height: int, width: int, margin: int) -> Tensor:
    """Pixels inside the centred disk of radius ``min(H, W)/2 - margin``: ``(H, W)`` bool.

    Rotations fill the corners outside the inscribed disk with zeros, and circular shifts by up to
    ``margin`` pixels never move a pixel across the border into this disk, so correlations on it
    compare template values only.
    """
    ys = torch.arange(height, dtype=torch.float64) + 0.5 - height / 2
    xs = torch.arange(width, dtype=torch.float64) + 0.5 - width / 2
    radius = min(height, width) / 2 - margin
    return (ys[:, None] ** 2 + xs[None, :] ** 2) < radius**2


def _masked_corr(a: Tensor, b: Tensor, mask: Tensor) -> Tensor:
    """Pearson correlation of ``a`` and ``b`` over the pixels in ``mask``: ``(C, H, W)`` -> ``(C,)``."""
    av = a[:, mask].double()
    bv = b[:, mask].double()
    av = av - av.mean(dim=1, keepdim=True)
    bv = bv - bv.mean(dim=1, keepdim=True)
    den = av.norm(dim=1) * bv.norm(dim=1)
    return torch.where(den > 0, (av * bv).sum(dim=1) / torch.where(den > 0, den, 1.0), 0.0)


def template_symmetry(templates: Tensor, *, angles: list[float], shift: int) -> tuple[dict[str, Tensor], Tensor]:
    """How symmetric each template is under rotations, flips and shifts.

    Args:
        templates: ``(C, H, W)`` weights, one image per class (raw, not rescaled: correlations
            ignore affine rescaling).
        angles: rotation angles in degrees (counter-clockwise).
        shift: pixels of the shifts.

    Returns:
        ``(scores, profile)``: ``scores[name]`` is ``(C,)`` for ``name`` in :data:`SYMMETRIES` —
        ``rotation``: mean over ``angles`` of ``corr(w, R_angle w)``; ``hflip``/``vflip``:
        ``corr(w, flip(w))``; ``translation``: mean over the four directions of
        ``corr(w, shift(w))``; correlations over the centred disk (:func:`_disk_mask`). 1 means
        the template is invariant to the transformation. ``profile`` is ``(len(angles), C)``,
        the rotation correlations per angle.
    """
    w = templates.detach().double().cpu()
    c, h, wd = w.shape
    mask = _disk_mask(h, wd, shift)
    x = w[:, None]  # (C, 1, H, W)
    profile = torch.stack([_masked_corr(w, rotate(x, float(a))[:, 0], mask) for a in angles])
    directions = torch.tensor([[shift, 0], [-shift, 0], [0, shift], [0, -shift]])
    shifted = [translate(x, d.expand(c, 2), mode="circular")[:, 0] for d in directions]
    scores = {
        "rotation": profile.mean(dim=0),
        "hflip": _masked_corr(w, hflip(x)[:, 0], mask),
        "vflip": _masked_corr(w, vflip(x)[:, 0], mask),
        "translation": torch.stack([_masked_corr(w, s, mask) for s in shifted]).mean(dim=0),
    }
    return scores, profile
