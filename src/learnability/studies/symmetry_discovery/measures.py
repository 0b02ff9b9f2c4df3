"""Measurements of a trained member: geometry of its weight vectors, invariance of its layers.

Per member: the circulant distance of the learned Gramian after ordering the units by angle
(:func:`learnability.models.circulant_distance`), how evenly the weight vectors cover the circle,
and the invariance of the representation under the group (the lab's sorted-values test on the
hidden layer, with and without the first layer's biases; the relative change of the logits; the
fraction of unchanged predictions). :func:`ideal_orbit_classifier` is the exact solution the
regulariser aims at, to calibrate what "zero" reads as in float32.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from learnability.models import (
    OrbitClassifier,
    angle_order,
    circulant_distance,
    covariance,
    rotation_matrices,
)

__all__ = [
    "COMMUTATOR_BATCHES",
    "covariance_anisotropy",
    "ideal_orbit_classifier",
    "off_grid_test",
    "representation_invariance",
    "weight_geometry",
]

#: Mini-batches drawn to estimate the expected mini-batch commutator of a trained member.
COMMUTATOR_BATCHES = 64


def covariance_anisotropy(cov: Tensor) -> float:
    """``(l_max - l_min) / (l_max + l_min)`` of a ``(2, 2)`` covariance: 0 for a multiple of I."""
    ev = torch.linalg.eigvalsh(cov.to(torch.float64))
    return float((ev[-1] - ev[0]) / (ev[-1] + ev[0])) if ev.sum() > 0 else 0.0


def weight_geometry(w: Tensor) -> dict[str, float]:
    """How close weight vectors ``(h, 2)`` are to an orbit of C_h.

    Returns:
        ``circulant_distance`` (angle-ordered Gramian), ``angle_gap_ratio`` (largest gap between
        consecutive angles over ``2 pi / h``: 1 for a regular polygon), ``norm_spread`` (std/mean
        of the norms) and ``anisotropy`` of the weights' covariance (``(l_max - l_min) /
        (l_max + l_min)``: 0 when isotropic).
    """
    w = w.detach().to(torch.float64)
    h = w.shape[0]
    angles = torch.atan2(w[:, 1], w[:, 0]).sort().values
    gaps = torch.diff(torch.cat([angles, angles[:1] + 2 * math.pi]))
    norms = w.norm(dim=1)
    return {
        "circulant_distance": float(circulant_distance(w @ w.T, order=angle_order(w))),
        "angle_gap_ratio": float(gaps.max() / (2 * math.pi / h)),
        "norm_spread": float(norms.std() / norms.mean()) if h > 1 else 0.0,
        "anisotropy": covariance_anisotropy(covariance(w)),
    }


def _pooled_relative(num: Tensor, den: Tensor) -> float:
    """``mean(num) / mean(den)``: a relative error that points with ``f(x) = 0`` cannot make
    infinite (dead units give such points); 0 when both are 0."""
    d = float(den.mean())
    n = float(num.mean())
    return n / d if d > 0 else (0.0 if n == 0 else math.inf)


def representation_invariance(net: OrbitClassifier, x: Tensor, gx: Tensor) -> dict[str, float]:
    """Invariance of a member's representation under the group: ``x`` and ``gx = R^k x`` ``(N, 2)``.

    Relative errors are pooled over the points: ``mean_i ||a_i - b_i|| / mean_i ||b_i||``.

    Returns:
        ``sorted_error_hidden`` — the lab's sorted-values test on ``h = relu(W x + b)``:
        ``sort(h(g x))`` against ``sort(h(x))`` (0 when rotating the input only permutes the
        units); ``sorted_error_linear`` — the same on ``W x`` (biases removed: what the Gramian
        regulariser acts on); ``logit_change`` — the logits of ``g x`` against those of ``x``;
        ``prediction_agreement`` — fraction of points whose predicted orbit is unchanged.
    """
    w = net.fc1.weight.detach()
    with torch.no_grad():
        h, hg = net.representation(x), net.representation(gx)  # (N, hidden)
        lin, ling = x @ w.T, gx @ w.T  # (N, hidden)
        out, outg = net(x), net(gx)  # (N, C)

    def sorted_error(a: Tensor, b: Tensor) -> float:
        diff = (a.sort(dim=1).values - b.sort(dim=1).values).norm(dim=1)
        return _pooled_relative(diff, b.norm(dim=1))

    return {
        "sorted_error_hidden": sorted_error(hg, h),
        "sorted_error_linear": sorted_error(ling, lin),
        "logit_change": _pooled_relative((outg - out).norm(dim=1), out.norm(dim=1)),
        "prediction_agreement": float((out.argmax(1) == outg.argmax(1)).double().mean()),
    }


def ideal_orbit_classifier(n_classes: int, step_degrees: float, *, norm: float, bias: float) -> OrbitClassifier:
    """A hand-built member whose first layer is one orbit ``w_k = R^k w_0`` with equal biases:
    the exact solution the regulariser aims at (calibrates what "zero" reads as)."""
    rot = rotation_matrices(step_degrees, dtype=torch.float32)  # (m, 2, 2)
    w0 = torch.tensor([norm, 0.0])
    net = OrbitClassifier(n_classes, hidden=rot.shape[0], seed=0)
    with torch.no_grad():
        net.fc1.weight.copy_(rot @ w0)  # (m, 2): row k = R^k w0
        net.fc1.bias.fill_(bias)
    return net.eval()


def off_grid_test(base: Tensor, per_orbit: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Points on each orbit's circle at uniformly random angles (not on the C_m grid).

    Args:
        base: ``(C, 2)`` one point per orbit (its radius is the orbit's).
        per_orbit: points per circle.

    Returns:
        ``x (C * per_orbit, 2)`` in ``base``'s dtype and the orbit labels ``(C * per_orbit,)``.
    """
    radii = base.norm(dim=1)  # (C,)
    angle = torch.rand(radii.shape[0], per_orbit, generator=generator, dtype=torch.float64) * 2 * math.pi
    pts = radii[:, None, None].double() * torch.stack([angle.cos(), angle.sin()], dim=-1)  # (C, n, 2)
    labels = torch.arange(radii.shape[0]).repeat_interleave(per_orbit)
    return pts.reshape(-1, 2).to(base.dtype), labels
