"""The pairs of Lab 4bis: an image and its rotation, the invariance score, the notebook's pairing.

The course's solved notebook builds its "rotated" loader from the *un-rotated* data set and
restarts that loader's iterator at every batch, so every "rotated" batch is the first un-rotated
batch: the first batch is compared with itself (distance 0) and every later batch with the first
batch (unrelated images, also used as the control). The study does not repeat that; it
reproduces the notebook's pairing (:func:`notebook_numbers`) only to show, with numbers, what it
would have reported.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from learnability.data import rotate
from learnability.models import get_activations
from learnability.studies.images.representation_invariance.config import RepresentationInvarianceConfig

__all__ = [
    "RANDOM_ANGLE",
    "VARIANTS",
    "angle_specs",
    "notebook_numbers",
    "notebook_partners",
    "rotation_pairs",
    "score",
    "score_gap",
]

#: The two models compared: trained without augmentation and with random rotations.
VARIANTS = ("none", "rotation")
#: Label of the "one random angle per image" pairs (the lab's RandomAffine(degrees=(0, 180))).
RANDOM_ANGLE = "random"


def angle_specs(cfg: RepresentationInvarianceConfig) -> list[str]:
    """Labels of the pair sets: each fixed angle (``"90"``) and ``"random"`` when enabled."""
    labels = [f"{a:g}" for a in cfg.angles]
    return labels + ([RANDOM_ANGLE] if cfg.random_angle else [])


def rotation_pairs(
    x: Tensor, label: str, *, degrees: tuple[float, float], generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """The transformed halves of the pairs ``(x_i, g x_i)``: each image rotated by its angle.

    Args:
        x: ``(N, C, H, W)`` intensities in ``[0, 1]`` (not yet normalised, so the fill is black).
        label: a fixed angle in degrees (``"90"``) or ``"random"`` (one angle per image drawn
            uniformly from ``degrees``).
        degrees: the augmentation's range (for ``"random"``).
        generator: draws the random angles.

    Returns:
        ``(angles, gx)``: ``(N,)`` float64 degrees and ``(N, C, H, W)`` with ``gx[i]`` the rotation
        of ``x[i]`` — the same image, in the same order.
    """
    n = x.shape[0]
    if label == RANDOM_ANGLE:
        low, high = degrees
        angles = low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)
    else:
        angles = torch.full((n,), float(label), dtype=torch.float64)
    return angles, rotate(x, angles)


def score(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """Invariance score ``1 - mean(paired) / mean(control)`` (vectorised for the bootstrap)."""
    return 1.0 - np.mean(a, axis=axis) / np.mean(b, axis=axis)


def score_gap(a1: np.ndarray, b1: np.ndarray, a0: np.ndarray, b0: np.ndarray, axis: int = -1) -> np.ndarray:
    """Score of model 1 minus score of model 0 on the same images (paired bootstrap)."""
    return score(a1, b1, axis) - score(a0, b0, axis)


def notebook_partners(n: int, batch_size: int) -> Tensor:
    """Which image the solved notebook compares image ``i`` with: ``(n,)`` indices.

    Its "rotated" loader reads the un-rotated data set and a new iterator is created every batch,
    so the "rotated" batch is always the first batch: image ``i`` is paired with image
    ``i mod batch_size`` (itself in the first batch, an unrelated image afterwards).
    """
    return torch.arange(n) % batch_size


def notebook_numbers(
    model: torch.nn.Module, xn: Tensor, layer: str, batch_size: int, generator: torch.Generator
) -> dict[str, float]:
    """The two averages the solved notebook prints, with its pairing and its controls.

    Args:
        xn: ``(N, C, H, W)`` normalised test images.

    Returns:
        ``mean_pair``, ``mean_control``, the score ``1 - mean_pair / mean_control`` and
        ``self_pairs`` (images compared with themselves).
    """
    n = xn.shape[0]
    f = get_activations(model, xn, layer).flatten(1)  # (N, F)
    partner = notebook_partners(n, batch_size)
    paired = (f - f[partner]).norm(dim=1)
    first = min(batch_size, n)
    # First batch: Gaussian noise (torch.randn_like on normalised images); later batches: the
    # previous "rotated" batch, which is again the first batch, so control == pair there.
    noise = torch.randn((first, *xn.shape[1:]), generator=generator)
    control = paired.clone()
    control[:first] = (f[:first] - get_activations(model, noise, layer).flatten(1)).norm(dim=1)
    a, b = float(paired.mean()), float(control.mean())
    return {
        "mean_pair": a,
        "mean_control": b,
        "score": 1.0 - a / b if b > 0 else float("nan"),
        "self_pairs": int((partner == torch.arange(n)).sum()),
    }
