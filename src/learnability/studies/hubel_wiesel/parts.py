"""Building blocks of the hubel-wiesel study: the groups, the exactness errors, 1-NN accuracy.

For a finite group ``{g_j}`` acting on images by permuting pixels and templates ``w_i``:

- simple cells ``s_ij(x) = <x, g_j w_i>`` (:func:`learnability.models.simple_cells`);
- complex cells ``c_{h,i}(x) = sum_j sigma_h(s_ij(x))`` (:func:`learnability.models.complex_cells`),
  with ``sigma_h(s) = relu(s - h)`` ("threshold", Anselmi et al.) or ``sigmoid(s - h)`` (the
  lab's squashing, applied per cell), the levels ``h`` at quantiles of the training responses.

Each group comes with a "wrong" counterpart for the baseline that must fail (flip up-down for
the flip; C2 = {0, 180 degrees} for C4; horizontal shifts only for the 2-D shifts).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from learnability.models import (
    PermutationGroup,
    complex_cells,
    cyclic_shift_group,
    flip_group,
    rotation90_group,
    simple_cells,
)
from learnability.studies.hubel_wiesel.results import SymmetryErrors

__all__ = [
    "GROUP_LABELS",
    "REPRESENTATIONS",
    "WRONG_LABELS",
    "act_each",
    "features",
    "group_pair",
    "knn_accuracy",
    "quantile_levels",
    "relative_max_error",
    "symmetry_errors",
    "tested_elements",
]

#: Human-readable names of the groups and of their "wrong" counterparts.
GROUP_LABELS = {
    "flip": "flip (left-right mirror)",
    "rotation90": "rotations by 90 degrees (C4)",
    "shift": "cyclic shifts, both axes (Z_H x Z_W)",
}
WRONG_LABELS = {
    "flip": "flip up-down",
    "rotation90": "rotation by 180 degrees only (C2)",
    "shift": "horizontal shifts only (Z_W)",
}
#: Representations compared by nearest neighbours, in report order.
REPRESENTATIONS = {
    "pixels": "pixels",
    "simple": "simple cells",
    "complex": "complex cells",
    "wrong": "complex cells, wrong group",
}
#: Feature standard deviations below this are treated as constant features in the 1-NN metric.
MIN_FEATURE_STD = 1e-8
#: torch.quantile refuses very large inputs: the levels come from a strided subsample this big.
QUANTILE_MAX_INPUT = 2**22


def group_pair(name: str, height: int, width: int) -> tuple[PermutationGroup, PermutationGroup]:
    """The group ``name`` on ``(height, width)`` images and its "wrong" counterpart for the baseline."""
    if name == "flip":
        return flip_group(height, width, mirror="left-right"), flip_group(height, width, mirror="up-down")
    if name == "rotation90":
        c4 = rotation90_group(height)
        c2 = PermutationGroup(c4.perms[[0, 2]], shape=c4.shape, name="rotation180")  # k = 0, 2
        return c4, c2
    return (
        cyclic_shift_group((height, width), dims=(-2, -1)),
        cyclic_shift_group((height, width), dims=-1),
    )


def act_each(group: PermutationGroup, x: Tensor, k: Tensor) -> Tensor:
    """Apply element ``k[b]`` to image ``b``: ``x (B, H, W)``, ``k (B,)`` -> ``(B, H, W)``."""
    flat = x.reshape(x.shape[0], group.dim)
    return flat.gather(1, group.perms[k].to(x.device)).reshape(x.shape)


def relative_max_error(a: Tensor, b: Tensor) -> float:
    """``max |a - b| / max |b|`` over all entries (0 when both are 0)."""
    den = float(b.abs().max())
    num = float((a - b).abs().max())
    return num / den if den > 0 else (0.0 if num == 0 else float("inf"))


def symmetry_errors(
    x: Tensor,
    templates: Tensor,
    group: PermutationGroup,
    wrong: PermutationGroup,
    levels: Tensor,
    nonlinearities: list[str],
    elements: list[int],
) -> SymmetryErrors:
    """Equivariance of simple cells and invariance of complex cells under ``elements`` of ``group``.

    Args:
        x: ``(B, H, W)`` inputs.
        templates: ``(I, D)`` templates.
        group: the group the cells pool over and the inputs are transformed by.
        wrong: the group of the wrong-pooling baseline.
        levels: ``(H,)`` levels of ``sigma_h``.
        nonlinearities: families to check.
        elements: indices of the elements ``g`` of ``group`` applied to ``x``.

    Returns:
        Relative max errors (max over elements; ``*_mean``: mean over elements), as
        :class:`SymmetryErrors`:
        ``equivariance`` (``s(g x)`` vs ``s(x)[..., perm_g]``), ``invariance`` per nonlinearity
        (``c(g x)`` vs ``c(x)``), ``unpermuted`` (``s(g x)`` vs ``s(x)``) and ``wrong_group``
        (complex cells pooled over ``wrong``, first nonlinearity).
    """
    s = simple_cells(x, templates, group)  # (B, I, G)
    s_wrong = simple_cells(x, templates, wrong)  # (B, I, G')
    c = {nl: complex_cells(s, levels, nonlinearity=nl) for nl in nonlinearities}  # (B, H, I)
    c_wrong = complex_cells(s_wrong, levels, nonlinearity=nonlinearities[0])
    errs: dict[str, list[float]] = {
        "equivariance": [],
        "unpermuted": [],
        "wrong_group": [],
        **{f"invariance_{nl}": [] for nl in nonlinearities},
    }
    for k in elements:
        gx = group.act(x, k)
        sg = simple_cells(gx, templates, group)
        errs["equivariance"].append(relative_max_error(sg, s[..., group.response_permutation(k)]))
        errs["unpermuted"].append(relative_max_error(sg, s))
        for nl in nonlinearities:
            errs[f"invariance_{nl}"].append(relative_max_error(complex_cells(sg, levels, nonlinearity=nl), c[nl]))
        cg_wrong = complex_cells(simple_cells(gx, templates, wrong), levels, nonlinearity=nonlinearities[0])
        errs["wrong_group"].append(relative_max_error(cg_wrong, c_wrong))
    out: dict[str, float] = {}
    for key, vals in errs.items():
        out[key] = max(vals)
        out[f"{key}_mean"] = float(np.mean(vals))
    return SymmetryErrors(**out)


def quantile_levels(responses: Tensor, quantiles: list[float]) -> Tensor:
    """Levels ``h (Q,)`` at ``quantiles`` of the ``responses`` (any shape; a deterministic strided
    subsample of about :data:`QUANTILE_MAX_INPUT` entries), in the responses' dtype."""
    flat = responses.reshape(-1)
    stride = max(1, flat.numel() // QUANTILE_MAX_INPUT)
    return torch.quantile(flat[::stride].double(), torch.tensor(quantiles, dtype=torch.float64)).to(responses.dtype)


def tested_elements(group: PermutationGroup, n: int, generator: torch.Generator) -> list[int]:
    """Non-identity elements to test: all of them, or ``n`` drawn without replacement."""
    others = [k for k in range(group.order) if k != group.identity_index]
    if len(others) <= n:
        return others
    pick = torch.randperm(len(others), generator=generator)[:n]
    return sorted(others[int(i)] for i in pick)


def features(
    rep: str,
    x: Tensor,
    templates: Tensor,
    group: PermutationGroup,
    wrong: PermutationGroup,
    levels: Tensor,
    nonlinearity: str,
) -> Tensor:
    """Feature vectors ``(B, F)`` of images ``x (B, H, W)`` for a representation of :data:`REPRESENTATIONS`."""
    if rep == "pixels":
        return x.reshape(len(x), -1)
    if rep == "simple":
        return simple_cells(x, templates, group).flatten(1)
    pool = group if rep == "complex" else wrong
    return complex_cells(simple_cells(x, templates, pool), levels, nonlinearity=nonlinearity).flatten(1)


def knn_accuracy(train_f: Tensor, train_y: Tensor, test_f: Tensor, test_y: Tensor) -> float:
    """1-nearest-neighbour accuracy with features standardised on the training set."""
    mu = train_f.mean(0)
    sd = train_f.std(0).clamp_min(MIN_FEATURE_STD)
    a, b = (train_f - mu) / sd, (test_f - mu) / sd
    nearest = torch.cdist(b.double(), a.double()).argmin(dim=1)
    return float((train_y[nearest] == test_y).double().mean())
