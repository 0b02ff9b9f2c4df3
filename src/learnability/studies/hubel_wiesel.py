"""Study ``hubel-wiesel`` (Lab 6): simple cells are equivariant, complex cells exactly invariant.

For a finite group ``{g_j}`` acting on images by permuting pixels and templates ``w_i``:

- simple cells ``s_ij(x) = <x, g_j w_i>`` (:func:`learnability.models.simple_cells`);
- complex cells ``c_{h,i}(x) = sum_j sigma_h(s_ij(x))`` (:func:`learnability.models.complex_cells`),
  with ``sigma_h(s) = relu(s - h)`` ("threshold", Anselmi et al.) or ``sigmoid(s - h)`` (the
  lab's squashing, applied per cell), the levels ``h`` at quantiles of the training responses.

Three groups: the lab's flip (mirror about the vertical axis, ``np.fliplr`` in the lab's
solution), the rotations by multiples of 90 degrees (C4), and the cyclic shifts along both image
axes (Z_H x Z_W). For each, on synthetic images (the lab's 28 x 28 uniform noise, float64) and on
the 8 x 8 digits (float32), the study measures the relative max errors

- equivariance: ``s(g x)`` against the *permuted* responses ``s(x)[..., perm_g]``;
- invariance: ``c(g x)`` against ``c(x)``;

and two baselines that must fail, to show the measurement can see non-invariance: the simple
cells compared *without* the permutation, and complex cells pooled over a *wrong* group (flip
up-down for the flip; C2 = {0, 180 degrees} for C4; horizontal shifts only for the 2-D shifts).

Discriminability: 1-nearest-neighbour accuracy on the digits' test split for pixels, simple cells,
complex cells and wrong-group complex cells, on the test images as they are and with each test
image transformed by a random group element (training images untouched), over several random
template draws (95% CIs). An exactly invariant representation gives the same accuracy on both.

Reference: AdvML UniTS 2024, Lab 6; F. Anselmi, J. Z. Leibo, L. Rosasco, J. Mutch, A. Tacchetti,
T. Poggio, "Unsupervised learning of invariant representations", Theor. Comput. Sci. (2016).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field, field_validator
from torch import Tensor

from learnability._validation import parameter_message
from learnability.config import ConfigSection, StudyConfig
from learnability.data import load_images
from learnability.models import (
    PermutationGroup,
    complex_cells,
    cyclic_shift_group,
    flip_group,
    rotation90_group,
    simple_cells,
)
from learnability.report import (
    Chart,
    Figure,
    Heading,
    Heatmap,
    Line,
    Panel,
    Report,
    Table,
    Text,
    fmt,
)
from learnability.runs import Run
from learnability.studies import Study, StudyContext, register
from learnability.studies._groups_common import estimate, fmt_est, machine_eps

__all__ = [
    "HubelWieselConfig",
    "act_each",
    "features",
    "group_pair",
    "knn_accuracy",
    "relative_max_error",
    "symmetry_errors",
]

NAME = "hubel-wiesel"
GroupName = Literal["flip", "rotation90", "shift"]
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
#: Exact zeros are drawn at this fraction of the float64 machine epsilon on log-scale charts.
LOG_FLOOR_FRACTION = 1e-2
#: A baseline error this many times above the worst exactness error (or epsilon) counts as detected.
SEPARATION = 1e6
#: Feature standard deviations below this are treated as constant features in the 1-NN metric.
MIN_FEATURE_STD = 1e-8


class SyntheticSection(ConfigSection):
    """The lab's synthetic check: uniform-noise images."""

    image_size: int = Field(28, ge=2, description="Images are image_size x image_size (the lab: 28).")
    n_images: int = Field(32, ge=1, description="Random images U[0, 1) (the lab used one and its flip).")
    n_templates: int = Field(16, ge=1, description="Templates w_i ~ N(0, I/D).")
    max_elements: int = Field(
        16,
        ge=1,
        description="Group elements tested per group (a random sample when the group is larger; "
        "invariance under a sample of elements is checked element by element).",
    )


class DigitsSection(ConfigSection):
    """The digits check: exactness in float32 and 1-nearest-neighbour discriminability."""

    enabled: bool = Field(True, description="Run the digits part (scikit-learn's bundled 8 x 8 digits, offline).")
    n_templates: int = Field(32, ge=1, description="Templates: random training images minus the mean training image.")
    template_draws: int = Field(5, ge=1, description="Independent template draws (the CIs are over draws).")
    n_exact: int = Field(128, ge=1, description="Test images used for the exactness measurements.")
    limit: int | None = Field(
        None,
        ge=20,
        description="Keep only the first images of each split (smoke runs); None keeps all.",
    )


class HubelWieselConfig(StudyConfig):
    """Simple cells permute, complex cells are exactly invariant, for flips, C4 and cyclic shifts.

    Command:  learnability run hubel-wiesel            (smoke: learnability run hubel-wiesel --smoke)
    Runtime:  ~45 s on the shared 2-core CPU (measured: 30 s of computation + 15 s of report,
              one thread, no training); smoke ~3 s.
    Expected: every equivariance/invariance error a few machine epsilons (measured worst:
              3.8e-15 in float64 on 28 x 28 noise, 5.2e-7 in float32 on digits) for the three
              groups and both nonlinearities, against >= 0.77 for unpermuted simple cells and
              >= 0.19 for cells pooled over the wrong group; 1-NN accuracy of complex cells on
              digits 0.97 (flip), 0.97 (C4), 0.90 (shifts), identical on transformed test digits,
              while pixels drop from 0.98 to 0.34 / 0.20 / 0.14.
    """

    groups: list[GroupName] = Field(
        default_factory=lambda: ["flip", "rotation90", "shift"],
        min_length=1,
        description="Groups studied.",
    )
    nonlinearities: list[Literal["threshold", "sigmoid"]] = Field(
        default_factory=lambda: ["threshold", "sigmoid"],
        min_length=1,
        description="Families sigma_h; the first one is used for the nearest-neighbour features.",
    )
    level_quantiles: list[float] = Field(
        default_factory=lambda: [0.1, 0.3, 0.5, 0.7, 0.9],
        min_length=1,
        description="Levels h at these quantiles of the training simple-cell responses.",
    )
    synthetic: SyntheticSection = Field(default_factory=SyntheticSection)
    digits: DigitsSection = Field(default_factory=DigitsSection)

    @field_validator("level_quantiles")
    @classmethod
    def _in_unit_interval(cls, v: list[float]) -> list[float]:
        if any(not 0.0 <= q <= 1.0 for q in v):
            allowed = "a list of floats in the range [0, 1]"
            raise ValueError(parameter_message("level_quantiles", NAME, allowed, v))
        return v


# ----------------------------------------------------------------------------------------------
# Groups and measurements
# ----------------------------------------------------------------------------------------------
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
) -> dict:
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
        Relative max errors (max over elements; ``*_mean``: mean over elements):
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
    out: dict = {}
    for key, vals in errs.items():
        out[key] = max(vals)
        out[f"{key}_mean"] = float(np.mean(vals))
    return out


def _levels(responses: Tensor, quantiles: list[float]) -> Tensor:
    """Levels ``h`` at quantiles of the responses (a deterministic subsample of at most 2^22)."""
    flat = responses.reshape(-1)
    stride = max(1, flat.numel() // 2**22)  # torch.quantile refuses very large inputs
    return torch.quantile(flat[::stride].double(), torch.tensor(quantiles, dtype=torch.float64)).to(responses.dtype)


def _elements(group: PermutationGroup, n: int, generator: torch.Generator) -> list[int]:
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


# ----------------------------------------------------------------------------------------------
# Run
# ----------------------------------------------------------------------------------------------
def _synthetic(cfg: HubelWieselConfig, ctx: StudyContext) -> dict:
    sc = cfg.synthetic
    n = sc.image_size
    g = torch.Generator().manual_seed(ctx.seed("synthetic"))
    x = torch.rand(sc.n_images, n, n, generator=g, dtype=torch.float64)  # the lab's np.random.rand
    out = {}
    for name in cfg.groups:
        group, wrong = group_pair(name, n, n)
        templates = torch.randn(sc.n_templates, group.dim, generator=g, dtype=torch.float64) / group.dim**0.5
        levels = _levels(simple_cells(x, templates, group), cfg.level_quantiles)
        elements = _elements(group, sc.max_elements, g)
        out[name] = {
            "order": group.order,
            "wrong_order": wrong.order,
            "n_elements_tested": len(elements),
            **symmetry_errors(x, templates, group, wrong, levels, list(cfg.nonlinearities), elements),
        }
        ctx.progress.update(1)
    return out


def _digits(cfg: HubelWieselConfig, ctx: StudyContext) -> tuple[dict, dict]:
    dc = cfg.digits
    split_seed = ctx.seed("digits-split")
    tr = load_images("digits", split="train", seed=split_seed, limit=dc.limit)
    te = load_images("digits", split="test", seed=split_seed, limit=dc.limit)
    xtr, ytr = tr.images[:, 0], tr.labels  # (N, 8, 8)
    xte, yte = te.images[:, 0], te.labels
    h, w = xtr.shape[1:]
    mean_image = xtr.reshape(len(xtr), -1).mean(0)
    nl = cfg.nonlinearities[0]
    out: dict = {"n_train": len(xtr), "n_test": len(xte), "image_shape": [h, w]}
    examples: dict = {}
    for name in cfg.groups:
        group, wrong = group_pair(name, h, w)
        g = torch.Generator().manual_seed(ctx.seed("digits", name))
        k_test = torch.randint(0, group.order - 1, (len(xte),), generator=g)
        k_test = k_test + (k_test >= group.identity_index).long()  # a non-identity element per image
        xte_g = act_each(group, xte, k_test)
        acc: dict[str, dict[str, list[float]]] = {r: {"original": [], "transformed": []} for r in REPRESENTATIONS}
        exact: list[dict] = []
        for draw in range(dc.template_draws):
            gd = torch.Generator().manual_seed(ctx.seed("digits", name, "templates", draw))
            idx = torch.randperm(len(xtr), generator=gd)[: dc.n_templates]
            templates = xtr[idx].reshape(len(idx), -1) - mean_image  # (I, D)
            s_tr = simple_cells(xtr, templates, group)
            levels = _levels(s_tr, cfg.level_quantiles)
            for rep in REPRESENTATIONS:
                ftr, fte, fte_g = (features(rep, z, templates, group, wrong, levels, nl) for z in (xtr, xte, xte_g))
                acc[rep]["original"].append(knn_accuracy(ftr, ytr, fte, yte))
                acc[rep]["transformed"].append(knn_accuracy(ftr, ytr, fte_g, yte))
            elements = [k for k in range(group.order) if k != group.identity_index]
            exact.append(
                symmetry_errors(
                    xte[: dc.n_exact],
                    templates,
                    group,
                    wrong,
                    levels,
                    list(cfg.nonlinearities),
                    elements,
                )
            )
            if draw == 0:
                k_ex = elements[len(elements) // 2]
                x0 = xte[:1]
                s0 = simple_cells(x0, templates, group)[0]  # (I, G)
                examples[name] = {
                    "image": x0[0],
                    "transformed": group.act(x0, k_ex)[0],
                    "simple": s0,
                    "simple_transformed": simple_cells(group.act(x0, k_ex), templates, group)[0],
                    "simple_permuted": s0[:, group.response_permutation(k_ex)],
                    "complex": complex_cells(s0[None], levels, nonlinearity=nl)[0],
                    "complex_transformed": complex_cells(
                        simple_cells(group.act(x0, k_ex), templates, group), levels, nonlinearity=nl
                    )[0],
                }
            ctx.progress.update(1)
        out[name] = {
            "order": group.order,
            "knn": {rep: {cond: estimate(v) for cond, v in d.items()} for rep, d in acc.items()},
            "knn_transformed_minus_original": {
                rep: estimate(np.subtract(d["transformed"], d["original"])) for rep, d in acc.items()
            },
            # Worst case over template draws.
            "exact": {key: max(e[key] for e in exact) for key in exact[0]},
        }
    return out, examples


def run(cfg: HubelWieselConfig, ctx: StudyContext) -> dict:
    ctx.progress.add_total(len(cfg.groups) * (1 + (cfg.digits.template_draws if cfg.digits.enabled else 0)))
    summary: dict = {
        "eps_float64": machine_eps("float64"),
        "eps_float32": machine_eps("float32"),
        "synthetic": _synthetic(cfg, ctx),
    }
    if cfg.digits.enabled:
        digits, examples = _digits(cfg, ctx)
        summary["digits"] = digits
        for name, ex in examples.items():
            ctx.writer.save_arrays(f"example_{name}", **ex)
    return summary


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------
def _eps_units(err: float, eps: float) -> str:
    return "exactly 0" if err == 0 else f"{fmt(err)} ({fmt(err / eps)} eps)"


def report(run_: Run) -> Report:
    s = run_.summary
    cfg = run_.config_dict
    syn = s["synthetic"]
    groups = list(syn)
    nls = cfg["nonlinearities"]
    eps64, eps32 = s["eps_float64"], s["eps_float32"]
    worst_eq = max(syn[g]["equivariance"] for g in groups)
    worst_inv = max(syn[g][f"invariance_{nl}"] for g in groups for nl in nls)
    least_unperm = min(syn[g]["unpermuted"] for g in groups)
    least_wrong = min(syn[g]["wrong_group"] for g in groups)
    exact_worst = max(worst_eq, worst_inv)
    baseline_least = min(least_unperm, least_wrong)
    rep = Report(
        "Hubel-Wiesel cells: equivariant simple cells, invariant complex cells",
        headline={
            "worst simple-cell equivariance error (float64)": fmt(worst_eq),
            "worst complex-cell invariance error (float64)": fmt(worst_inv),
            "smallest baseline error (must be > 0)": fmt(baseline_least),
        },
    )
    rep.add(
        Heading("Exactness on synthetic images"),
        Text(
            f"{cfg['synthetic']['n_images']} uniform-noise images of {cfg['synthetic']['image_size']} x "
            f"{cfg['synthetic']['image_size']} pixels in float64 (machine epsilon {fmt(eps64)}), "
            f"{cfg['synthetic']['n_templates']} random templates, levels at the quantiles "
            f"{', '.join(fmt(q) for q in cfg['level_quantiles'])} of the simple-cell responses; up to "
            f"{cfg['synthetic']['max_elements']} non-identity group elements tested per group. "
            f"Across the {len(groups)} groups, transforming the input permutes the simple-cell responses up to a "
            f"relative max error of {_eps_units(worst_eq, eps64)}, and the complex cells "
            f"({', '.join(nls)}) change by at most {_eps_units(worst_inv, eps64)}. The baselines are far from "
            f"zero: simple cells compared without the permutation differ by at least {fmt(least_unperm)}, "
            f"and complex cells pooled over the wrong group by at least {fmt(least_wrong)} — "
            + (
                f"{fmt(baseline_least / exact_worst)}x the largest exactness error"
                if exact_worst > 0
                else "while every exactness error is exactly 0"
            )
            + (
                ", so the measurement separates invariance from non-invariance."
                if baseline_least > SEPARATION * max(exact_worst, eps64)
                else ", which does NOT separate invariance from non-invariance clearly."
            )
        ),
    )
    cols = (
        ["group", "order", "simple: s(gx) vs permuted s(x)"]
        + [f"complex ({nl})" for nl in nls]
        + ["baseline: s(gx) vs s(x)", "baseline: pooled over wrong group"]
    )
    rows = [
        [GROUP_LABELS[g], syn[g]["order"], fmt(syn[g]["equivariance"])]
        + [fmt(syn[g][f"invariance_{nl}"]) for nl in nls]
        + [fmt(syn[g]["unpermuted"]), f"{fmt(syn[g]['wrong_group'])} ({WRONG_LABELS[g]})"]
        for g in groups
    ]
    rep.add(
        Table(
            cols,
            rows,
            caption="Relative max errors max|a - b| / max|b|, worst over the tested elements and images (float64).",
        )
    )
    floor = LOG_FLOOR_FRACTION * eps64
    keys = [
        ("equivariance", "simple cells, permuted"),
        (f"invariance_{nls[0]}", f"complex cells ({nls[0]})"),
        ("unpermuted", "baseline: simple, unpermuted"),
        ("wrong_group", "baseline: wrong group"),
    ]
    dig = s.get("digits")
    dgroups = [g for g in groups if dig and g in dig]

    def error_panel(errs: dict, gs: list[str], title: str, eps: float, eps_label: str) -> Panel:
        # One line per measure against the group's order (a numeric axis keeps the groups apart).
        gs = sorted(gs, key=lambda g: errs[g]["order"])
        x = [float(np.log2(errs[g]["order"])) for g in gs]
        src = [errs[g] if "exact" not in errs[g] else errs[g]["exact"] for g in gs]
        lines = [Line(x, [max(e[k], floor) for e in src], label=lab, mode="lines+markers") for k, lab in keys]
        names = ", ".join(f"{g} {fmt(v)}" for g, v in zip(gs, x, strict=True))
        return Panel(
            lines,
            title=title,
            xlabel=f"log2 group order ({names})",
            ylabel="relative max error",
            yscale="log",
            hlines=[(eps, eps_label)],
        )

    panels = [error_panel(syn, groups, "synthetic, float64", eps64, "float64 eps")]
    if dgroups:
        panels.append(error_panel(dig, dgroups, "digits, float32", eps32, "float32 eps"))
    rep.add(
        Figure(
            Chart(
                "exactness",
                panels,
                caption=f"Relative max errors (log scale) by group; exact zeros "
                f"are drawn at {fmt(floor)}; dotted line: machine epsilon of the dtype.",
            )
        )
    )

    if dgroups:
        rep.add(Heading("Digits: exactness in float32 and discriminability"))
        d_eq = max(dig[g]["exact"]["equivariance"] for g in dgroups)
        d_inv = max(dig[g]["exact"][f"invariance_{nl}"] for g in dgroups for nl in nls)
        rep.add(
            Text(
                f"{dig['n_train']} training and {dig['n_test']} test digits ({dig['image_shape'][0]} x "
                f"{dig['image_shape'][1]}, float32, machine epsilon {fmt(eps32)}); "
                f"{cfg['digits']['n_templates']} templates per draw (random training digits minus the mean "
                f"digit), {cfg['digits']['template_draws']} draws. On {cfg['digits']['n_exact']} test digits "
                f"and every non-identity element, the worst equivariance error is {_eps_units(d_eq, eps32)} and "
                f"the worst invariance error {_eps_units(d_inv, eps32)}."
            )
        )
        rows = []
        sentences = []
        for g in dgroups:
            knn = dig[g]["knn"]
            for r, lab in REPRESENTATIONS.items():
                rows.append(
                    [
                        GROUP_LABELS[g],
                        lab,
                        fmt_est(knn[r]["original"]),
                        fmt_est(knn[r]["transformed"]),
                        fmt_est(dig[g]["knn_transformed_minus_original"][r]),
                    ]
                )
            c, p = knn["complex"], knn["pixels"]
            diff_c = dig[g]["knn_transformed_minus_original"]["complex"]
            same = c["original"]["values"] == c["transformed"]["values"]
            cost = p["original"]["mean"] - c["original"]["mean"]
            sentences.append(
                f"{GROUP_LABELS[g]}: complex cells {fmt_est(c['original'])} on the test digits and "
                f"{fmt_est(c['transformed'])} on transformed ones ("
                f"{'identical for every template draw' if same else 'difference ' + fmt(diff_c['mean'])}), "
                f"{fmt(abs(cost))} {'below' if cost > 0 else 'above'} the pixels on untransformed digits; pixels "
                f"{fmt(p['original']['mean'])} -> {fmt(p['transformed']['mean'])}; simple cells "
                f"{fmt(knn['simple']['original']['mean'])} -> {fmt(knn['simple']['transformed']['mean'])}; "
                f"wrong-group pooling {fmt(knn['wrong']['original']['mean'])} -> "
                f"{fmt(knn['wrong']['transformed']['mean'])}."
            )
        rep.add(
            Text(
                "1-nearest-neighbour accuracy, training digits untransformed, each test digit "
                "transformed by a random non-identity element. " + " ".join(sentences)
            )
        )
        rep.add(
            Table(
                [
                    "group",
                    "representation",
                    "test digits",
                    "transformed test digits",
                    "transformed - original",
                ],
                rows,
                caption="Mean over template draws with 95% CI (pixels do not depend on the draw).",
            )
        )
        kpanels = []
        for g in dgroups:
            knn = dig[g]["knn"]
            traces = [
                Line(
                    [knn[r]["original"]["mean"]],
                    [knn[r]["transformed"]["mean"]],
                    mode="markers",
                    label=lab,
                )
                for r, lab in REPRESENTATIONS.items()
            ]
            traces.append(Line([0, 1], [0, 1], dash=True, color="#999999", label="no change"))
            kpanels.append(
                Panel(
                    traces,
                    title=GROUP_LABELS[g],
                    xlabel="accuracy, test digits",
                    ylabel="accuracy, transformed test digits",
                )
            )
        rep.add(
            Figure(
                Chart(
                    "knn_accuracy",
                    kpanels,
                    ncols=min(3, len(kpanels)),
                    caption="1-NN test accuracy (mean over template draws): an exactly invariant "
                    "representation lies on the diagonal.",
                )
            )
        )
        panels, notes = [], []
        for g in dgroups:
            if not run_.has_artifact(f"example_{g}.npz"):
                continue
            ex = run_.load_arrays(f"example_{g}")
            s_err = float(np.abs(ex["simple_transformed"] - ex["simple_permuted"]).max())
            s_raw = float(np.abs(ex["simple_transformed"] - ex["simple"]).max())
            c_err = float(np.abs(ex["complex_transformed"] - ex["complex"]).max())
            notes.append(
                f"{g}: max |s(g x) - s(x)[:, perm]| = {fmt(s_err)}, max |s(g x) - s(x)| = "
                f"{fmt(s_raw)}, max |c(g x) - c(x)| = {fmt(c_err)}"
            )
            sim = {"cmap": "RdBu_r", "symmetric": True, "colorbar": False}
            panels += [
                Panel([Heatmap(ex["image"], cmap="gray", colorbar=False)], title=f"{g}: x", image=True),
                Panel(
                    [Heatmap(ex["transformed"], cmap="gray", colorbar=False)],
                    title="g x",
                    image=True,
                ),
                Panel([Heatmap(ex["simple"], **sim)], title="s(x)", xlabel="j (element)", ylabel="i"),
                Panel(
                    [Heatmap(ex["simple_transformed"], **sim)],
                    title="s(g x)",
                    xlabel="j",
                    ylabel="i",
                ),
            ]
        if panels:
            rep.add(
                Figure(
                    Chart(
                        "examples",
                        panels,
                        ncols=4,
                        caption="One test digit x and one element g per group; simple cells s[i, j] "
                        "(template i, element j; same colour scale in a row). " + "; ".join(notes) + ".",
                    )
                )
            )
    return rep


register(
    Study(
        NAME,
        "Lab 6: Hubel-Wiesel simple cells (equivariant) and complex cells (invariant) for flips, C4, shifts.",
        HubelWieselConfig,
        run,
        report,
        smoke={
            "synthetic": {"image_size": 8, "n_images": 4, "n_templates": 4, "max_elements": 4},
            "digits": {"n_templates": 8, "template_draws": 2, "n_exact": 16, "limit": 120},
        },
    )
)
