"""Lab 5: translation equivariance of a CNN's conv layer and (non-)invariance of its fc layer.

The lab's CNN — ``conv1`` (1 -> 1 channel, kernel 2, no padding: 28x28 -> 27x27), ReLU, ``fc1``
(729 -> 10), log-softmax — is trained without augmentation, over several seeds, together with a
variant whose conv pads circularly (28x28 -> 28x28, ``fc1`` 784 -> 10). Both read their
representations with forward hooks: the ``conv1`` output before the ReLU and the ``fc1`` output
before the log-softmax (the lab's ``conv2repr`` and ``fc1repr``).

Pairs ``(x, g x)`` are test images and their translations by ``s = (dy, dx)`` (one of the eight
compass directions per image, ``max(|dy|, |dx|)`` = the shift magnitude), either circular
(``torch.roll``: the group action) or with zero fill (content shifted out is lost). Measured per
image:

- **shift back and compare**: ``||roll(conv(g x), -s) - conv(x)|| / ||conv(x)||``, split into
  the *interior* (output positions whose receptive fields lie inside both images without wrapping
  or padding: the architecture alone, equivariant by construction) and the *border* (the rest:
  boundary effects), so that ``total^2 = interior^2 + border^2``;
- **sorted values** (the lab's hint: a translation permutes conv activations and sorting forgets
  the order): ``||sort(conv(g x)) - sort(conv(x))|| / ||conv(x)||``;
- **fc invariance**: ``||fc(g x) - fc(x)|| / ||fc(x)||``, against the control ``||fc(x') - fc(x)||
  / ||fc(x)||`` for an unrelated test image ``x'``, and how often the predicted class is unchanged.

With circular padding and circular shifts the conv is exactly equivariant (the errors are float
rounding); with the lab's valid conv the error lives at the border only, so comparing the two
separates the boundary effects from the architecture.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field, field_validator
from torch import Tensor

from learnability._validation import ParameterError
from learnability.config import StudyConfig
from learnability.data import translate
from learnability.engine import EvalSet, accuracy
from learnability.models import LabCNN, get_activations
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
from learnability.studies._images_common import (
    ImageDataSettings,
    TrainSettings,
    ci_dict,
    ci_text,
    derangement,
    load_image_splits,
    num,
    train_image_ensemble,
)

__all__ = [
    "MEASURES",
    "CNNEquivarianceConfig",
    "compass_shifts",
    "conv_equivariance",
    "interior_mask",
    "pair_measures",
]

NAME = "cnn-equivariance"
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
_WORDS = {
    "conv_total": "conv: shift back and compare",
    "conv_interior": "conv: interior part",
    "conv_border": "conv: border part",
    "conv_sorted": "conv: sorted values",
    "conv_control": "conv: control (unrelated image)",
    "sorted_control": "conv sorted: control",
    "fc_invariance": "fc: invariance error",
    "fc_control": "fc: control (unrelated image)",
    "same_prediction": "same predicted class",
}
# The eight compass directions (dy, dx) of a shift: each image moves along one of them.
_DIRECTIONS = torch.tensor([[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 0], [1, 1]])
# A relative error below this is float32 rounding (eps = 1.2e-7, summed over a few hundred terms),
# and the report calls the equivariance exact.
EXACT_TOL = 1e-5


class CNNEquivarianceConfig(StudyConfig):
    """Lab 5: translation equivariance (conv) and invariance (fc) of the lab's CNN, valid vs circular.

    Command:  learnability run cnn-equivariance     (smoke: learnability run cnn-equivariance --smoke)
    Runtime:  ~35 s of training and analysis on the shared 2-core CPU with the offline digits (2
              paddings x 3 seeds, 630 SGD steps each; 6 shifts x 2 shift modes on 450 test images;
              measured: run 34 s, whole command with start-up and figures 64 s under a load of 8);
              smoke ~5 s.
    Expected: (digits, whose 20x20 digits sit in a 4-pixel black margin; seed 0) the interior error
              is exactly 0 for both models at every shift. Circular padding with circular shifts:
              the conv error is exactly 0 at every shift. The lab's valid conv: 0 up to 3 pixels,
              then 0.13 at 4 and 0.26 at 8 pixels, all of it at the border (the seam pair of rows
              it never computes); with zero-fill shifts the circular model breaks too once content
              leaves the frame (0.33 at 6 pixels). The sorted-values test is 0 exactly where the
              shift-back test is. fc is far from invariant: relative change 0.52 for a 1-pixel
              shift, as large as for an unrelated image (~1.37) from 4 pixels on; the predicted
              class survives a 1-pixel shift for 79% of the images and a 4-pixel shift for 14%.
    """

    data: ImageDataSettings = Field(default_factory=ImageDataSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    padding_modes: list[Literal["valid", "zeros", "circular"]] = Field(
        default_factory=lambda: ["valid", "circular"],
        min_length=1,
        description="CNN variants: 'valid' is the lab's (no padding); 'circular' makes the conv "
        "exactly shift-equivariant; 'zeros' pads with zeros to the same size.",
    )
    kernel_size: int = Field(2, ge=1, description="Side of the conv kernel (the lab's: 2).")
    shifts: list[int] = Field(
        default_factory=lambda: [1, 2, 3, 4, 6, 8],
        min_length=1,
        description="Shift magnitudes max(|dy|, |dx|) in pixels; each image moves along one of "
        "the 8 compass directions, drawn once per magnitude.",
    )
    shift_modes: list[Literal["circular", "zeros"]] = Field(
        default_factory=lambda: ["circular", "zeros"],
        min_length=1,
        description="How the pairs are translated: 'circular' (wrap around, the group action) or "
        "'zeros' (content shifted out is lost, zero fill).",
    )
    n_pairs: int | None = Field(None, ge=2, description="Test images used for the pairs (None = all).")

    @field_validator("shifts")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(s < 1 for s in v) or len(set(v)) != len(v):
            raise ValueError("shifts must be distinct positive ints")
        return sorted(v)


# ------------------------------------------------------------------------------------------
# Pairs and measures
# ------------------------------------------------------------------------------------------
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
    """Shift-back errors of conv maps ``(N, 1, H', W')``, each ``(N,)``, relative to ``||conv(x)||``.

    ``total``: ``||roll(conv(g x), -s) - conv(x)||``; ``interior``/``border``: the same norm on
    the positions inside/outside ``mask`` (``total^2 = interior^2 + border^2``); ``sorted``:
    ``||sort(conv(g x)) - sort(conv(x))||``.
    """
    n = conv_x.shape[0]
    back = translate(conv_gx, -shifts, mode="circular")
    diff = (back - conv_x).reshape(n, -1)
    m = mask.reshape(n, -1)
    den = conv_x.reshape(n, -1).norm(dim=1)
    sorted_diff = conv_gx.reshape(n, -1).sort(dim=1).values - conv_x.reshape(n, -1).sort(dim=1).values
    return {
        "total": _rel(diff.norm(dim=1), den),
        "interior": _rel((diff * m).norm(dim=1), den),
        "border": _rel((diff * ~m).norm(dim=1), den),
        "sorted": _rel(sorted_diff.norm(dim=1), den),
    }


def pair_measures(model: LabCNN, xn: Tensor, gxn: Tensor, shifts: Tensor, partner: Tensor) -> dict[str, Tensor]:
    """Every per-image measure of :data:`MEASURES` for normalised pairs ``(xn, gxn)``.

    Args:
        model: a trained :class:`~learnability.models.LabCNN` (any padding mode).
        xn, gxn: ``(N, 1, H, W)`` normalised images and their translations by ``shifts``.
        shifts: ``(N, 2)`` integer ``(dy, dx)``.
        partner: ``(N,)`` index of the unrelated image paired with each image (control).

    Returns:
        ``name -> (N,)`` float64 tensors (``same_prediction`` is 0/1).
    """
    acts = get_activations(model, torch.cat([xn, gxn]), ["conv1", "fc1"])
    n = xn.shape[0]
    conv_x, conv_gx = acts["conv1"][:n].double(), acts["conv1"][n:].double()  # (N, 1, H', W')
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


# ------------------------------------------------------------------------------------------
# Run
# ------------------------------------------------------------------------------------------
def run(cfg: CNNEquivarianceConfig, ctx: StudyContext) -> dict[str, Any]:
    splits = load_image_splits(cfg.data)
    _, h, w = splits.image_shape
    if h < cfg.kernel_size or w < cfg.kernel_size:
        raise ParameterError("kernel_size", NAME, f"an int no larger than the images ({h}x{w})", cfg.kernel_size)
    n_classes, n_seeds = len(splits.classes), cfg.train.seeds
    init_seeds, data_seeds = ctx.seeds(n_seeds, "init"), ctx.seeds(n_seeds, "data")
    xt = splits.normalizer.transform(splits.test_images).to(ctx.device)
    yt = splits.test_labels.to(ctx.device)

    models: dict[str, list[LabCNN]] = {}
    accs: dict[str, Any] = {}
    for mode in cfg.padding_modes:

        def factory(mode: str = mode) -> LabCNN:
            return LabCNN((h, w), n_classes, kernel_size=cfg.kernel_size, padding_mode=mode, seed=0)

        ensemble, _, result = train_image_ensemble(
            factory,
            splits,
            [None] * n_seeds,
            init_seeds=init_seeds,
            data_seeds=data_seeds,
            settings=cfg.train,
            eval_sets={"test": EvalSet(xt, yt, metrics={"accuracy": accuracy})},
            ctx=ctx,
            tag=f"train/{mode}",
        )
        models[mode] = [ensemble.member(result.params, k).cpu().eval() for k in range(n_seeds)]
        accs[mode] = ci_dict(result.evals["test_accuracy"].final)

    n = min(cfg.n_pairs or len(splits.test_labels), len(splits.test_labels))
    x = splits.test_images[:n]
    xn = splits.normalizer.transform(x)
    partner = derangement(n, generator=torch.Generator().manual_seed(ctx.seed("control")))
    # values[p, m, d, s, measure, image]
    values = np.zeros((len(cfg.padding_modes), len(cfg.shift_modes), len(cfg.shifts), n_seeds, len(MEASURES), n))
    example: dict[str, np.ndarray] = {}
    for d_i, d in enumerate(cfg.shifts):
        # The same shifts for every model and shift mode: the comparisons are paired.
        shifts = compass_shifts(n, d, generator=torch.Generator().manual_seed(ctx.seed("shifts", d)))
        for m_i, shift_mode in enumerate(cfg.shift_modes):
            gxn = splits.normalizer.transform(translate(x, shifts, mode=shift_mode))
            for p_i, mode in enumerate(cfg.padding_modes):
                for s, model in enumerate(models[mode]):
                    res = pair_measures(model, xn, gxn, shifts, partner)
                    values[p_i, m_i, d_i, s] = np.stack([res[k].numpy() for k in MEASURES])
                if d == cfg.shifts[-1] and shift_mode == cfg.shift_modes[0]:
                    example.update(_example_maps(models[mode][0], xn, gxn, shifts, mode))
    ctx.writer.save_arrays("measures", values=values, shifts=np.asarray(cfg.shifts))
    ctx.writer.save_arrays("example", **example)

    results: dict[str, Any] = {}
    rows = []
    for p_i, mode in enumerate(cfg.padding_modes):
        results[mode] = {}
        for m_i, shift_mode in enumerate(cfg.shift_modes):
            results[mode][shift_mode] = {}
            for d_i, d in enumerate(cfg.shifts):
                cell = {}
                for k, name in enumerate(MEASURES):
                    v = values[p_i, m_i, d_i, :, k]  # (seeds, images)
                    cell[name] = {
                        "images": ci_dict(v.mean(axis=0)),
                        "seeds": ci_dict(v.mean(axis=1)) if n_seeds > 1 else None,
                        "max": float(v.max()),
                    }
                    rows.append(
                        {
                            "padding": mode,
                            "shift_mode": shift_mode,
                            "shift": d,
                            "measure": name,
                            "mean": float(v.mean()),
                            "max": float(v.max()),
                        }
                    )
                results[mode][shift_mode][str(d)] = cell
    ctx.writer.save_table("measures", pd.DataFrame(rows))
    models_info = {
        mode: {
            "conv_shape": list(models[mode][0].conv_shape),
            "fc_in": int(models[mode][0].fc1.in_features),
            "fc_out": int(models[mode][0].fc1.out_features),
        }
        for mode in cfg.padding_modes
    }
    return {
        **splits.info(),
        "padding_modes": list(cfg.padding_modes),
        "shift_modes": list(cfg.shift_modes),
        "shifts": list(cfg.shifts),
        "seeds": n_seeds,
        "n_pairs": n,
        "kernel_size": cfg.kernel_size,
        "models": models_info,
        "test_accuracy": accs,
        "exact_tolerance": EXACT_TOL,
        "results": results,
    }


def _example_maps(model: LabCNN, xn: Tensor, gxn: Tensor, shifts: Tensor, mode: str) -> dict[str, np.ndarray]:
    """Pictures of the first pair for the report: images, conv maps, shifted-back map, difference."""
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


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------
def _cell(cell: dict[str, Any], name: str) -> str:
    return ci_text(cell[name]["images"])


def report(run_: Run) -> Report:
    s = run_.summary
    res = s["results"]
    paddings, modes, shifts = s["padding_modes"], s["shift_modes"], s["shifts"]
    tol = s["exact_tolerance"]
    rep = Report("Lab 5 — translation equivariance and invariance in the lab's CNN")
    big = str(shifts[-1])
    first_mode = modes[0]
    rep.headline = {"data": s["dataset"]}
    for p in paddings:
        rep.headline[f"conv shift-back error, {p}, {first_mode} shift {big}"] = _cell(
            res[p][first_mode][big], "conv_total"
        )
    for p in paddings:
        rep.headline[f"fc invariance error, {p}, shift {shifts[0]}"] = _cell(
            res[p][first_mode][str(shifts[0])], "fc_invariance"
        )

    arch = "; ".join(
        f"`{p}`: conv output {m['conv_shape'][0]}x{m['conv_shape'][1]}, fc {m['fc_in']} -> {m['fc_out']}"
        for p, m in s["models"].items()
    )
    acc = ", ".join(f"{p} {ci_text(s['test_accuracy'][p])}" for p in paddings)
    rep.add(
        Heading("Setup"),
        Text(
            f"**Data:** {s['dataset_description']}.\n\n"
            f"**Models:** the lab's CNN (conv 1 -> 1 channel, kernel {s['kernel_size']}, ReLU, fc, "
            f"log-softmax) with padding {', '.join(f'`{p}`' for p in paddings)} ({arch}); trained "
            f"without augmentation, {s['seeds']} seeds each. Test accuracy: {acc}.\n\n"
            f"**Pairs:** {s['n_pairs']} test images, each with its translation by one of the eight "
            f"compass directions times the shift magnitude ({', '.join(map(str, shifts))} pixels), "
            f"{' and '.join(modes)} (circular = wrap around; zeros = content shifted out is lost). "
            f"Representations: the conv output before the ReLU and the fc output before the "
            f"log-softmax, read with forward hooks. Numbers are means over images with a 95% "
            f"t-interval over images (per-image values averaged over seeds)"
            + (f"; the tables also give the interval over the {s['seeds']} seeds." if s["seeds"] > 1 else ".")
        ),
    )

    # Example pictures.
    ex = run_.load_arrays("example")
    if "x" in ex:
        shift = tuple(int(v) for v in ex["shift"])
        panels = [
            Panel([Heatmap(ex["x"], cmap="gray", colorbar=False)], title="x", image=True),
            Panel([Heatmap(ex["gx"], cmap="gray", colorbar=False)], title=f"g x, shift {shift}", image=True),
            Panel([Heatmap(ex["gx_back"], cmap="gray", colorbar=False)], title="g x, back", image=True),
        ]
        for p in paddings:
            if f"{p}_conv_x" in ex:
                largest = float(np.max(ex[f"{p}_diff"]))
                vmax = largest or 1.0  # an all-zero difference is drawn black
                panels += [
                    Panel([Heatmap(ex[f"{p}_conv_x"], cmap="gray", colorbar=False)], title=f"{p}: conv(x)", image=True),
                    Panel(
                        [Heatmap(ex[f"{p}_back"], cmap="gray", colorbar=False)],
                        title=f"{p}: conv(g x), back",
                        image=True,
                    ),
                    Panel(
                        [Heatmap(ex[f"{p}_diff"], cmap="magma", vmin=0, vmax=vmax, colorbar=False)],
                        title=f"|difference|, max {fmt(largest)}",
                        image=True,
                    ),
                ]
        rep.add(
            Figure(
                Chart(
                    "example",
                    panels,
                    ncols=3,
                    panel_size=(2.4, 2.4),
                    caption=f"First row: one test image, its {modes[0]} shift and that shift "
                    "undone. Then, per padding: the conv map of x, the conv map of g x shifted back, "
                    "and their absolute difference (seed 0).",
                )
            )
        )

    # Side-by-side tables.
    for shift_mode in modes:
        rows = []
        for d in shifts:
            for p in paddings:
                cell = res[p][shift_mode][str(d)]
                rows.append(
                    [d, p]
                    + [
                        _cell(cell, k)
                        for k in (
                            "conv_total",
                            "conv_interior",
                            "conv_border",
                            "conv_sorted",
                            "sorted_control",
                            "fc_invariance",
                            "fc_control",
                            "same_prediction",
                        )
                    ]
                )
        rep.add(
            Heading(f"{shift_mode.capitalize()} shifts"),
            Table(
                [
                    "shift",
                    "padding",
                    "conv shift-back",
                    "interior",
                    "border",
                    "sorted values",
                    "sorted: control",
                    "fc invariance",
                    "fc: control",
                    "same class",
                ],
                rows,
                caption="Relative errors (0 = equivariant / invariant), mean [95% CI over images].",
            ),
        )
        if s["seeds"] > 1:
            rows = [
                [d, p]
                + [
                    ci_text(res[p][shift_mode][str(d)][k]["seeds"])
                    for k in ("conv_total", "conv_sorted", "fc_invariance", "same_prediction")
                ]
                for d in shifts
                for p in paddings
            ]
            rep.add(
                Table(
                    ["shift", "padding", "conv shift-back", "sorted values", "fc invariance", "same class"],
                    rows,
                    caption=f"The same, 95% CI over the {s['seeds']} seeds.",
                )
            )

    # Curves against the shift.
    def lines(measure: str) -> list[Line]:
        out = []
        for p in paddings:
            for j, shift_mode in enumerate(modes):
                cells = [res[p][shift_mode][str(d)][measure]["images"] for d in shifts]
                out.append(
                    Line(
                        shifts,
                        [num(c["mean"]) for c in cells],
                        label=f"{p}, {shift_mode} shift",
                        band=([num(c["low"]) for c in cells], [num(c["high"]) for c in cells]),
                        mode="lines+markers",
                        dash=j > 0,
                    )
                )
        return out

    fc_lines = lines("fc_invariance")
    for p in paddings:
        cells = [res[p][modes[0]][str(d)]["fc_control"]["images"] for d in shifts]
        fc_lines.append(
            Line(shifts, [num(c["mean"]) for c in cells], label=f"{p}: control", color="#777777", dash=True)
        )
    rep.add(
        Heading("Side by side"),
        Figure(
            Chart(
                "equivariance",
                [
                    Panel(
                        lines("conv_total"),
                        title="conv: shift back and compare",
                        xlabel="shift (pixels)",
                        ylabel="relative error",
                    ),
                    Panel(
                        lines("conv_border"),
                        title="conv: border part",
                        xlabel="shift (pixels)",
                        ylabel="relative error",
                    ),
                    Panel(
                        lines("conv_sorted"),
                        title="conv: sorted values",
                        xlabel="shift (pixels)",
                        ylabel="relative error",
                    ),
                    Panel(fc_lines, title="fc: invariance error", xlabel="shift (pixels)", ylabel="relative error"),
                    Panel(
                        lines("same_prediction"),
                        title="same predicted class",
                        xlabel="shift (pixels)",
                        ylabel="fraction of images",
                    ),
                ],
                ncols=3,
                caption="Dashed: zero-fill shifts (coloured), controls (grey). Bands: 95% CI over images.",
            )
        ),
    )

    # Sentences from the numbers.
    def worst(p: str, shift_mode: str, measure: str) -> float:
        return max(res[p][shift_mode][str(d)][measure]["max"] for d in shifts)

    sentences = []
    interior = max(worst(p, m, "conv_interior") for p in paddings for m in modes)
    sentences.append(
        f"- **Architecture.** Away from the border the conv is equivariant for every model and shift: "
        f"the largest interior error over all images, seeds and shifts is {fmt(interior)} "
        + ("(float rounding)." if interior <= tol else f"(above the {fmt(tol)} rounding tolerance).")
    )
    for shift_mode in modes:
        for p in paddings:
            total = [num(res[p][shift_mode][str(d)]["conv_total"]["images"]["mean"]) for d in shifts]
            exact = [d for d in shifts if res[p][shift_mode][str(d)]["conv_total"]["max"] <= tol]
            if len(exact) == len(shifts):
                sentences.append(
                    f"- **{p}, {shift_mode} shifts:** the conv is equivariant to float "
                    f"rounding at every shift (largest error {fmt(worst(p, shift_mode, 'conv_total'))})."
                )
            else:
                first_bad = next(d for d in shifts if d not in exact)
                border_share = [num(res[p][shift_mode][str(d)]["conv_border"]["images"]["mean"]) for d in shifts]
                sentences.append(
                    f"- **{p}, {shift_mode} shifts:** exact for shifts "
                    f"{', '.join(map(str, exact)) or 'none'}; from {first_bad} pixels on the shift-back "
                    f"error is non-zero, reaching {fmt(total[-1])} at {shifts[-1]} pixels, of which the "
                    f"border part is {fmt(border_share[-1])} (largest interior error "
                    f"{fmt(worst(p, shift_mode, 'conv_interior'))}): a boundary effect."
                )
        for p in paddings:
            sv = [num(res[p][shift_mode][str(d)]["conv_sorted"]["images"]["mean"]) for d in shifts]
            ctrl = num(res[p][shift_mode][big]["sorted_control"]["images"]["mean"])
            sentences.append(
                f"  Sorted-values test ({p}, {shift_mode}): {fmt(sv[0])} at {shifts[0]} "
                f"pixel(s) to {fmt(sv[-1])} at {shifts[-1]}, against {fmt(ctrl)} for "
                f"unrelated images."
            )
    for p in paddings:
        c1 = res[p][modes[0]][str(shifts[0])]
        cN = res[p][modes[0]][big]
        ratios = ", ".join(
            fmt(
                num(res[p][modes[0]][str(d)]["fc_invariance"]["images"]["mean"])
                / num(res[p][modes[0]][str(d)]["fc_control"]["images"]["mean"])
            )
            for d in shifts
        )
        sentences.append(
            f"- **fc ({p}, {modes[0]} shifts).** The fc output changes by "
            f"{ci_text(c1['fc_invariance']['images'])} of its norm for a {shifts[0]}-pixel shift and "
            f"{ci_text(cN['fc_invariance']['images'])} for {big} pixels, against "
            f"{ci_text(cN['fc_control']['images'])} for an unrelated image (ratio to the control at "
            f"shifts {', '.join(map(str, shifts))}: {ratios}); the predicted class is unchanged for "
            f"{fmt(num(c1['same_prediction']['images']['mean']))} and "
            f"{fmt(num(cN['same_prediction']['images']['mean']))} of the images. This model has no "
            f"pooling, so nothing in it makes fc invariant: the numbers measure how far it is."
        )
    rep.add(Heading("What the numbers say"), Text("\n".join(sentences)))
    return rep


register(
    Study(
        NAME,
        "Lab 5: translation equivariance of the conv layer and invariance of the fc layer of a CNN.",
        CNNEquivarianceConfig,
        run,
        report,
        smoke={
            "data": {"n_train": 256, "n_test": 64},
            "train": {"epochs": 2, "seeds": 2, "batch_size": 32},
            "shifts": [1, 6],
        },
    )
)
