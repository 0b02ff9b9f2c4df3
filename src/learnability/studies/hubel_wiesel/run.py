"""The hubel-wiesel study, stage by stage: exactness on noise, then exactness and 1-NN on digits.

Three groups: the lab's flip (mirror about the vertical axis, ``np.fliplr`` in the lab's
solution), the rotations by multiples of 90 degrees (C4), and the cyclic shifts along both image
axes (Z_H x Z_W). For each, on synthetic images (the lab's 28 x 28 uniform noise, float64) and on
the 8 x 8 digits (float32), the study measures the relative max errors

- equivariance: ``s(g x)`` against the *permuted* responses ``s(x)[..., perm_g]``;
- invariance: ``c(g x)`` against ``c(x)``;

and two baselines that must fail, to show the measurement can see non-invariance: the simple
cells compared *without* the permutation, and complex cells pooled over a *wrong* group
(:func:`~learnability.studies.hubel_wiesel.parts.group_pair`).

Discriminability: 1-nearest-neighbour accuracy on the digits' test split for pixels, simple cells,
complex cells and wrong-group complex cells, on the test images as they are and with each test
image transformed by a random group element (training images untouched), over several random
template draws (95% CIs). An exactly invariant representation gives the same accuracy on both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from learnability.analysis import mean_estimate
from learnability.data import load_images
from learnability.models import PermutationGroup, complex_cells, simple_cells
from learnability.studies import StudyContext
from learnability.studies.hubel_wiesel.config import GroupName, HubelWieselConfig
from learnability.studies.hubel_wiesel.parts import (
    REPRESENTATIONS,
    act_each,
    features,
    group_pair,
    knn_accuracy,
    quantile_levels,
    symmetry_errors,
    tested_elements,
)
from learnability.studies.hubel_wiesel.results import (
    DigitsGroup,
    DigitsResults,
    HubelWieselResults,
    KnnAccuracy,
    SymmetryErrors,
    SyntheticGroup,
)

__all__ = ["run"]


def run(cfg: HubelWieselConfig, ctx: StudyContext) -> HubelWieselResults:
    """Exactness on synthetic noise for every group, then the digits part (when enabled)."""
    draws = cfg.digits.template_draws if cfg.digits.enabled else 0
    ctx.progress.add_total(len(cfg.groups) * (1 + draws))
    synthetic = synthetic_exactness(cfg, ctx)
    digits = digits_part(cfg, ctx) if cfg.digits.enabled else None
    return HubelWieselResults(synthetic=synthetic, digits=digits)


def synthetic_exactness(cfg: HubelWieselConfig, ctx: StudyContext) -> dict[GroupName, SyntheticGroup]:
    """The lab's check on float64 uniform-noise images: random templates, up to ``max_elements``
    non-identity elements per group."""
    sc = cfg.synthetic
    n = sc.image_size
    g = torch.Generator().manual_seed(ctx.seed("synthetic"))
    x = torch.rand(sc.n_images, n, n, generator=g, dtype=torch.float64)  # the lab's np.random.rand
    out: dict[GroupName, SyntheticGroup] = {}
    for name in cfg.groups:
        group, wrong = group_pair(name, n, n)
        templates = torch.randn(sc.n_templates, group.dim, generator=g, dtype=torch.float64) / group.dim**0.5
        levels = quantile_levels(simple_cells(x, templates, group), cfg.level_quantiles)
        elements = tested_elements(group, sc.max_elements, g)
        errors = symmetry_errors(x, templates, group, wrong, levels, list(cfg.nonlinearities), elements)
        out[name] = SyntheticGroup(
            order=group.order,
            wrong_order=wrong.order,
            n_elements_tested=len(elements),
            **errors.model_dump(exclude_none=True),
        )
        ctx.progress.update(1)
    return out


@dataclass(frozen=True)
class Digits:
    """The digits' splits as images (float32) and the mean training image the templates subtract."""

    x_train: Tensor  # (N, H, W)
    y_train: Tensor  # (N,)
    x_test: Tensor  # (M, H, W)
    y_test: Tensor  # (M,)
    mean_image: Tensor  # (H * W,)


def load_digits(cfg: HubelWieselConfig, ctx: StudyContext) -> Digits:
    """scikit-learn's 8 x 8 digits (bundled, offline), split by the run's seed."""
    split_seed = ctx.seed("digits-split")
    tr = load_images("digits", split="train", seed=split_seed, limit=cfg.digits.limit)
    te = load_images("digits", split="test", seed=split_seed, limit=cfg.digits.limit)
    x_train = tr.images[:, 0]  # (N, 8, 8): one channel
    return Digits(x_train, tr.labels, te.images[:, 0], te.labels, x_train.reshape(len(x_train), -1).mean(0))


def digits_part(cfg: HubelWieselConfig, ctx: StudyContext) -> DigitsResults:
    """Every group on the digits; one example digit per group saved as an artifact."""
    data = load_digits(cfg, ctx)
    h, w = data.x_train.shape[1:]
    per_group: dict[str, DigitsGroup] = {}
    for name in cfg.groups:
        per_group[name], example = digits_group(cfg, ctx, data, name)
        ctx.writer.save_arrays(HubelWieselResults.EXAMPLE.format(name), **example)
    return DigitsResults(n_train=len(data.x_train), n_test=len(data.x_test), image_shape=(h, w), **per_group)


def digits_group(
    cfg: HubelWieselConfig, ctx: StudyContext, data: Digits, name: GroupName
) -> tuple[DigitsGroup, dict[str, Tensor]]:
    """1-NN accuracy and exactness of one group over the template draws.

    Each test digit is moved by one random non-identity element (the same for every draw).

    Returns:
        The group's results and the arrays of its example digit (first draw).
    """
    dc = cfg.digits
    group, wrong = group_pair(name, *data.x_train.shape[1:])
    g = torch.Generator().manual_seed(ctx.seed("digits", name))
    k_test = torch.randint(0, group.order - 1, (len(data.x_test),), generator=g)
    k_test = k_test + (k_test >= group.identity_index).long()  # a non-identity element per image
    x_test_g = act_each(group, data.x_test, k_test)
    acc: dict[str, dict[str, list[float]]] = {r: {"original": [], "transformed": []} for r in REPRESENTATIONS}
    exact: list[SymmetryErrors] = []
    example: dict[str, Tensor] = {}
    for draw in range(dc.template_draws):
        gd = torch.Generator().manual_seed(ctx.seed("digits", name, "templates", draw))
        idx = torch.randperm(len(data.x_train), generator=gd)[: dc.n_templates]
        templates = data.x_train[idx].reshape(len(idx), -1) - data.mean_image  # (I, D)
        levels = quantile_levels(simple_cells(data.x_train, templates, group), cfg.level_quantiles)
        for rep in REPRESENTATIONS:
            ftr, fte, fte_g = (
                features(rep, z, templates, group, wrong, levels, cfg.nonlinearities[0])
                for z in (data.x_train, data.x_test, x_test_g)
            )
            acc[rep]["original"].append(knn_accuracy(ftr, data.y_train, fte, data.y_test))
            acc[rep]["transformed"].append(knn_accuracy(ftr, data.y_train, fte_g, data.y_test))
        elements = [k for k in range(group.order) if k != group.identity_index]
        x_exact = data.x_test[: dc.n_exact]
        exact.append(symmetry_errors(x_exact, templates, group, wrong, levels, list(cfg.nonlinearities), elements))
        if draw == 0:
            k_ex = elements[len(elements) // 2]  # a non-identity element away from the ends
            example = example_arrays(data.x_test[:1], templates, group, levels, cfg.nonlinearities[0], k_ex)
        ctx.progress.update(1)
    result = DigitsGroup(
        order=group.order,
        knn={
            r: KnnAccuracy(
                original=mean_estimate(d["original"], kind="unit"),
                transformed=mean_estimate(d["transformed"], kind="unit"),
            )
            for r, d in acc.items()
        },
        knn_transformed_minus_original={
            r: mean_estimate(np.subtract(d["transformed"], d["original"])) for r, d in acc.items()
        },
        exact=SymmetryErrors.worst(exact),
    )
    return result, example


def example_arrays(
    x0: Tensor, templates: Tensor, group: PermutationGroup, levels: Tensor, nonlinearity: str, k: int
) -> dict[str, Tensor]:
    """One digit ``x0 (1, H, W)`` and element ``k``: the images, simple cells ``(I, G)`` of both,
    the permuted responses and the complex cells ``(H_levels, I)`` of both."""
    gx0 = group.act(x0, k)
    s0 = simple_cells(x0, templates, group)[0]  # (I, G)
    s0_g = simple_cells(gx0, templates, group)  # (1, I, G)
    return {
        "image": x0[0],
        "transformed": gx0[0],
        "simple": s0,
        "simple_transformed": s0_g[0],
        "simple_permuted": s0[:, group.response_permutation(k)],
        "complex": complex_cells(s0[None], levels, nonlinearity=nonlinearity)[0],
        "complex_transformed": complex_cells(s0_g, levels, nonlinearity=nonlinearity)[0],
    }
