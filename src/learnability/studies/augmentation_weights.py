"""Lab 4: what data augmentation does to the weights of a shallow linear FCN.

A shallow linear FCN (``log_softmax(W x + b)``, 784 -> 10 on 28x28 images) is trained with
fixed-learning-rate SGD (no momentum) on images augmented by random rotations in [0, 180] degrees
(the lab's task), by random flips and by random translations (the lab's "Optional I"), with
un-augmented training as the reference. Every (augmentation, seed) pair is one member of a single
engine ensemble: each member's batch source applies its own augmentation with its own generator,
and the members of one seed share their initial weights and the order of their images, so the
augmentations are compared on paired runs.

Each class's row of ``W`` is a template image. The study shows them scaled to [0, 1] (one row of
10 templates per augmentation) and measures, per template, how symmetric it is: the correlation
between a template and its rotations, its flips and its shifts. Augmenting with a transformation
should raise the matching symmetry score; the report says by how much, from the numbers.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field, field_validator
from torch import Tensor

from learnability.analysis import mean_ci
from learnability.config import StudyConfig
from learnability.data import RandomRotation, RandomTranslation, hflip, rotate, translate, vflip
from learnability.engine import EvalSet, accuracy
from learnability.models import ShallowFCN, save_weights
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
    curve_lines,
    fmt,
)
from learnability.runs import Run
from learnability.studies import Study, StudyContext, register
from learnability.studies._images_common import (
    AugmentationName,
    AugmentationSettings,
    ImageDataSettings,
    ImageSplits,
    TrainSettings,
    ci_dict,
    ci_text,
    load_image_splits,
    make_augmentation,
    num,
    train_image_ensemble,
)

__all__ = ["SYMMETRIES", "AugmentationWeightsConfig", "template_symmetry", "weights_file"]

NAME = "augmentation-weights"
TAG = "train"
#: The symmetry scores of a template, and the augmentation each one answers to.
SYMMETRIES = ("rotation", "hflip", "vflip", "translation")
_MATCHING = {
    "rotation": ("rotation",),
    "hflip": ("hflip",),
    "vflip": ("vflip",),
    "hvflip": ("hflip", "vflip"),
    "translation": ("translation",),
}
# Templates drawn per row of the weight figure: those of the first seed.
_SHOWN_SEED = 0
# Training-loss curves are noisy per step: moving average over about one epoch of steps.
_MIN_SMOOTH = 5


class AugmentationWeightsConfig(StudyConfig):
    """Lab 4: a shallow linear FCN trained with and without augmentation; its weights as images.

    Command:  learnability run augmentation-weights     (smoke: learnability run augmentation-weights --smoke)
    Runtime:  ~30 s of training and analysis on the shared 2-core CPU with the offline digits
              (5 augmentations x 3 seeds = 15 members, 630 SGD steps; measured: run 31 s, whole
              command with start-up and figures 57 s under a load of 8); smoke ~5 s. With MNIST files
              present (dataset 'auto'), 30 epochs are 28,000 steps: expect ~15-25 min.
    Expected: (digits, seed 0) upright test accuracy 0.966 without augmentation, 0.93 / 0.91 with
              horizontal / vertical flips, 0.91 with 2-pixel shifts and 0.52 with rotations (a linear
              model cannot fit every orientation: it scores 0.74 on rotated test digits, against
              0.30 for the un-augmented model). The learned change of each template becomes
              symmetric under its own augmentation: rotational score 0.19 -> 0.53 (the templates
              turn into rings), mirror scores 0.40 -> 0.99 (hflip) and 0.26 -> 0.99 (vflip), shift
              score 0.56 -> 0.61 (translation); every paired change has a 95% CI above 0.
    """

    data: ImageDataSettings = Field(default_factory=ImageDataSettings)
    augmentations: list[AugmentationName] = Field(
        default_factory=lambda: ["none", "rotation", "hflip", "vflip", "translation"],
        min_length=1,
        description="One row of templates per augmentation; 'none' is the reference.",
    )
    augment: AugmentationSettings = Field(default_factory=AugmentationSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    test_transforms: list[Literal["rotation", "hflip", "vflip", "hvflip", "translation"]] = Field(
        default_factory=lambda: ["rotation", "hflip", "vflip", "translation"],
        description="Transformed copies of the test set also evaluated (flips applied to every "
        "image; rotations and shifts drawn per image from the augmentation's range).",
    )
    symmetry_angles: list[float] = Field(
        default_factory=lambda: [float(a) for a in range(15, 181, 15)],
        min_length=1,
        description="Angles (degrees) of the rotational symmetry score: mean correlation of a "
        "template with its rotations by these angles.",
    )
    symmetry_shift: int = Field(
        2,
        ge=1,
        description="Shift (pixels) of the translation symmetry score: mean correlation "
        "of a template with its shifts by this many pixels up, down, left and right.",
    )

    @field_validator("augmentations")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("augmentations must be distinct")
        return v


def weights_file(augmentation: str, seed_index: int) -> str:
    """Path, inside ``artifacts/``, of a trained member's weights (read by representation-invariance)."""
    return f"weights/{augmentation}-seed{seed_index}.pt"


# ------------------------------------------------------------------------------------------
# Symmetry of templates
# ------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------
# Run
# ------------------------------------------------------------------------------------------
def _test_sets(cfg: AugmentationWeightsConfig, splits: ImageSplits, ctx: StudyContext) -> dict[str, EvalSet]:
    """The test set and its transformed copies, normalised; fixed once (their own seed)."""
    x = splits.test_images
    out = {"test": x}
    for name in cfg.test_transforms:
        g = torch.Generator().manual_seed(ctx.seed("test-transform", name))
        if name == "rotation":
            out[f"test_{name}"] = RandomRotation(tuple(cfg.augment.rotation_degrees))(x, generator=g)
        elif name == "translation":
            out[f"test_{name}"] = RandomTranslation(cfg.augment.max_shift, mode="zeros")(x, generator=g)
        elif name == "hflip":
            out[f"test_{name}"] = hflip(x)
        elif name == "vflip":
            out[f"test_{name}"] = vflip(x)
        else:  # hvflip: both flips, i.e. a half turn
            out[f"test_{name}"] = vflip(hflip(x))
    y = splits.test_labels.to(ctx.device)
    return {
        k: EvalSet(splits.normalizer.transform(v).to(ctx.device), y, metrics={"accuracy": accuracy})
        for k, v in out.items()
    }


def run(cfg: AugmentationWeightsConfig, ctx: StudyContext) -> dict[str, Any]:
    splits = load_image_splits(cfg.data)
    c, h, w = splits.image_shape
    n_classes = len(splits.classes)
    augs, n_seeds = list(cfg.augmentations), cfg.train.seeds
    # Member k = (augmentation k // n_seeds, seed k % n_seeds); the members of one seed share their
    # initial weights and data order (paired comparisons between augmentations).
    init_seeds, data_seeds = ctx.seeds(n_seeds, "init"), ctx.seeds(n_seeds, "data")
    members = [(a, s) for a in augs for s in range(n_seeds)]
    transforms = [make_augmentation(a, cfg.augment) for a, _ in members]
    ctx.writer.save_table(
        "members",
        pd.DataFrame(
            {
                "member": range(len(members)),
                "augmentation": [a for a, _ in members],
                "seed_index": [s for _, s in members],
                "init_seed": [init_seeds[s] for _, s in members],
                "data_seed": [data_seeds[s] for _, s in members],
            }
        ),
    )

    eval_sets = _test_sets(cfg, splits, ctx)
    ensemble, initial, result = train_image_ensemble(
        lambda: ShallowFCN(c * h * w, n_classes, seed=0),
        splits,
        transforms,
        init_seeds=[init_seeds[s] for _, s in members],
        data_seeds=[data_seeds[s] for _, s in members],
        settings=cfg.train,
        eval_sets=eval_sets,
        ctx=ctx,
        tag=TAG,
    )

    # Templates, symmetry scores and weights files, member by member.
    templates = np.zeros((len(augs), n_seeds, n_classes, h, w))
    scaled = np.zeros_like(templates)
    scores = np.zeros((len(augs), n_seeds, len(SYMMETRIES), n_classes))
    profile = np.zeros((len(augs), n_seeds, len(cfg.symmetry_angles)))
    for k, (a, s) in enumerate(members):
        model = ensemble.member(result.params, k).cpu()
        i = augs.index(a)
        weight = model.fc.weight.detach().reshape(n_classes, h, w)
        templates[i, s] = weight.numpy()
        scaled[i, s] = model.weight_images((h, w)).numpy()
        # Symmetry of what training changed: the initial weights (shared by the augmentations of a
        # seed) are random noise that would dilute every score.
        w0 = initial[ensemble.names.index("fc.weight")][k].detach().cpu()
        learned = weight - w0.reshape(n_classes, h, w)
        sym, prof = template_symmetry(learned, angles=cfg.symmetry_angles, shift=cfg.symmetry_shift)
        scores[i, s] = np.stack([sym[n].numpy() for n in SYMMETRIES])
        profile[i, s] = prof.mean(dim=1).numpy()
        save_weights(
            model,
            ctx.writer.artifact_path(weights_file(a, s)),
            config={
                "study": NAME,
                "model": "ShallowFCN",
                "in_features": c * h * w,
                "num_classes": n_classes,
                "augmentation": a,
                "seed_index": s,
                "init_seed": init_seeds[s],
                "data_seed": data_seeds[s],
                "data": cfg.data.model_dump(),
                "augment": cfg.augment.model_dump(),
                **splits.info(),
            },
        )
    ctx.writer.save_arrays(
        "templates",
        weights=templates,
        scaled=scaled,
        scores=scores,
        rotation_profile=profile,
        angles=np.asarray(cfg.symmetry_angles),
    )

    # End numbers per augmentation, with CIs over seeds.
    def per_aug(values: np.ndarray, a: str) -> np.ndarray:  # (K,) -> (n_seeds,)
        return values[[k for k, (b, _) in enumerate(members) if b == a]]

    results: dict[str, Any] = {}
    class_mean = scores.mean(axis=3)  # (A, S, n_symmetries)
    for i, a in enumerate(augs):
        r: dict[str, Any] = {}
        for key, hist in (("test_loss", "test_loss"), ("test_acc", "test_accuracy")):
            r[f"{key}_start"] = ci_dict(per_aug(result.evals[hist].values[0], a))
            r[f"{key}_end"] = ci_dict(per_aug(result.evals[hist].final, a))
        r["accuracy"] = {name: ci_dict(per_aug(result.evals[f"{name}_accuracy"].final, a)) for name in eval_sets}
        r["symmetry"] = {n: ci_dict(class_mean[i, :, j]) for j, n in enumerate(SYMMETRIES)}
        if "none" in augs:
            ref = augs.index("none")
            r["symmetry_gain"] = {
                n: ci_dict(class_mean[i, :, j] - class_mean[ref, :, j]) for j, n in enumerate(SYMMETRIES)
            }
        results[a] = r
    return {
        **splits.info(),
        "augmentations": augs,
        "seeds": n_seeds,
        "members": len(members),
        "steps": result.steps,
        "lr": cfg.train.lr,
        "batch_size": min(cfg.train.batch_size, len(splits.train_labels)),
        "test_sets": list(eval_sets),
        "diverged_members": int(result.diverged.sum()),
        "train_seconds": result.wall_seconds,
        "results": results,
    }


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------
def _mosaic(images: np.ndarray) -> np.ndarray:
    """``(C, H, W)`` -> one ``(H, C*W + C-1)`` image with NaN (blank) separators."""
    c, h, w = images.shape
    out = np.full((h, c * w + c - 1), np.nan)
    for j in range(c):
        out[:, j * (w + 1) : j * (w + 1) + w] = images[j]
    return out


def _excludes_zero(d: dict[str, Any]) -> bool:
    low, high = num(d["low"]), num(d["high"])
    return bool(np.isfinite(low) and np.isfinite(high) and (low > 0 or high < 0))


def report(run_: Run) -> Report:
    s = run_.summary
    augs: list[str] = s["augmentations"]
    res = s["results"]
    arrays = run_.load_arrays("templates")
    members = run_.load_table("members")
    rep = Report("Lab 4 — data augmentation and the weights of a shallow linear FCN")
    n_seeds = s["seeds"]

    headline = {"data": s["dataset"]}
    for a in augs:
        headline[f"test accuracy ({a})"] = ci_text(res[a]["test_acc_end"])
    if "rotation" in augs:
        headline["rotational symmetry (rotation)"] = ci_text(res["rotation"]["symmetry"]["rotation"])
    if "none" in augs:
        headline["rotational symmetry (none)"] = ci_text(res["none"]["symmetry"]["rotation"])
    rep.headline = headline

    rep.add(
        Heading("Setup"),
        Text(
            f"**Data:** {s['dataset_description']}. Images are normalised with the training set's "
            f"mean {fmt(s['normalizer_mean'][0])} and std {fmt(s['normalizer_std'][0])} after "
            f"augmentation (so the fill of rotations and shifts is black).\n\n"
            f"**Model and training:** a shallow linear FCN ({s['image_shape'][1]}x{s['image_shape'][2]} "
            f"= {s['image_shape'][1] * s['image_shape'][2]} inputs -> {arrays['weights'].shape[2]} "
            f"log-softmax outputs), fixed-learning-rate SGD without momentum (rate {fmt(s['lr'])}, "
            f"batch {s['batch_size']}, {s['steps']} steps), negative log-likelihood. The "
            f"{len(augs)} augmentations x {n_seeds} seeds are the {s['members']} members of one "
            f"ensemble; each member's batch source applies its own augmentation with its own "
            f"generator, and the members of one seed share initial weights and image order. "
            f"{s['diverged_members']} members diverged. Intervals are 95% Student-t intervals over "
            f"the {n_seeds} seeds."
        ),
    )

    # Weights as images.
    panels = []
    for i, a in enumerate(augs):
        sym = res[a]["symmetry"]["rotation"]
        panels.append(
            Panel(
                [Heatmap(_mosaic(arrays["scaled"][i, _SHOWN_SEED]), cmap="gray", vmin=0.0, vmax=1.0, colorbar=False)],
                title=f"{a} — rotational symmetry score {fmt(num(sym['mean']))}",
                image=True,
            )
        )
    rep.add(
        Heading("Learned weights"),
        Figure(
            Chart(
                "weights",
                panels,
                ncols=1,
                panel_size=(10.0, 1.35),
                title="Weights of each class (0 to 9, left to right), scaled to [0, 1]",
                caption=f"One row per augmentation, seed {_SHOWN_SEED}; each template is min-max scaled on "
                "its own (black = most negative weight, white = most positive).",
            )
        ),
    )

    # Curves.
    train_df = run_.series("train_loss", TAG)
    test_df = run_.series("test_loss", TAG)
    steps_per_epoch = max(1, s["steps"] // max(1, int(run_.config_dict["train"]["epochs"])))
    window = max(_MIN_SMOOTH, steps_per_epoch)
    train_lines, test_lines = [], []
    for a in augs:
        ids = members.loc[members["augmentation"] == a, "member"].tolist()
        train_lines += curve_lines(train_df[train_df["member"].isin(ids)], label=a, smooth_window=window)
        test_lines += curve_lines(test_df[test_df["member"].isin(ids)], label=a)
    rep.add(
        Heading("Training"),
        Figure(
            Chart(
                "loss_curves",
                [
                    Panel(
                        train_lines,
                        title="training loss (augmented batches)",
                        xlabel="step",
                        ylabel="NLL",
                        yscale="log",
                    ),
                    Panel(
                        test_lines, title="test loss (upright test images)", xlabel="step", ylabel="NLL", yscale="log"
                    ),
                ],
                caption=f"Median over the {n_seeds} seeds with the 10-90% band; training loss smoothed "
                f"over {window} steps.",
            )
        ),
    )
    rows = [
        [
            a,
            ci_text(res[a]["test_loss_start"]),
            ci_text(res[a]["test_loss_end"]),
            ci_text(res[a]["test_acc_start"]),
            ci_text(res[a]["test_acc_end"]),
        ]
        for a in augs
    ]
    rep.add(
        Table(
            [
                "augmentation",
                "test loss at start",
                "test loss at end",
                "test accuracy at start",
                "test accuracy at end",
            ],
            rows,
            caption="Upright (un-transformed) test images; mean [95% CI] over seeds.",
        )
    )

    test_sets = s["test_sets"]
    rows = [[a] + [ci_text(res[a]["accuracy"][t]) for t in test_sets] for a in augs]
    rep.add(
        Heading("Accuracy on transformed test images"),
        Table(
            ["trained with"] + [t.replace("test_", "test: ") if t != "test" else "test: upright" for t in test_sets],
            rows,
            caption="Flipped sets flip every image; rotated and shifted sets draw one angle or shift per "
            "image from the augmentation's range. Mean [95% CI] over seeds.",
        ),
    )

    # Symmetry.
    rows = [[a] + [ci_text(res[a]["symmetry"][n]) for n in SYMMETRIES] for a in augs]
    rep.add(
        Heading("How symmetric the templates are"),
        Text(
            "Each score is a correlation between a template's learned change (final minus initial "
            "weights, so that the random initial weights do not dilute it) and its transformed copy "
            "over the centred disk, averaged over the classes: rotation = mean over rotations by "
            f"{fmt(float(arrays['angles'][0]))}..{fmt(float(arrays['angles'][-1]))} degrees, hflip/vflip = "
            "mirror images, translation = shifts by "
            f"{run_.config_dict.get('symmetry_shift', 2)} pixels in the four directions. 1 = invariant."
        ),
        Table(["trained with"] + list(SYMMETRIES), rows, caption="Mean [95% CI] over seeds."),
    )
    profile = arrays["rotation_profile"]  # (A, S, n_angles)
    lines = []
    for i, a in enumerate(augs):
        mean = profile[i].mean(axis=0)
        band = None
        if n_seeds > 1:
            cis = np.array([mean_ci(profile[i, :, j]) for j in range(profile.shape[2])])  # (n, 3)
            band = (cis[:, 1], cis[:, 2])
        lines.append(Line(arrays["angles"], mean, label=a, band=band, mode="lines+markers"))
    rep.add(
        Figure(
            Chart(
                "rotation_profile",
                [
                    Panel(
                        lines,
                        title="template vs its rotation",
                        xlabel="rotation angle (degrees)",
                        ylabel="correlation (mean over classes)",
                    )
                ],
                caption="95% CI band over seeds.",
            )
        )
    )

    # Commentary from the numbers.
    if "none" in augs:
        sentences = []
        none = res["none"]
        for a in augs:
            if a == "none":
                continue
            for n in _MATCHING[a]:
                gain = res[a]["symmetry_gain"][n]
                verdict = (
                    "an increase whose 95% CI excludes 0"
                    if _excludes_zero(gain) and num(gain["mean"]) > 0
                    else "a decrease whose 95% CI excludes 0"
                    if _excludes_zero(gain)
                    else "a change not distinguishable from 0 with these seeds"
                )
                sentences.append(
                    f"- **{a}**: the {n} symmetry score of the templates goes from "
                    f"{ci_text(none['symmetry'][n])} without augmentation to "
                    f"{ci_text(res[a]['symmetry'][n])} (paired change {ci_text(gain)}: {verdict})."
                )
            acc_up = res[a]["test_acc_end"]
            own = f"test_{a}"
            own_text = ""
            if own in res[a]["accuracy"]:
                own_text = (
                    f" On test images transformed like its training data it scores "
                    f"{ci_text(res[a]['accuracy'][own])}, against "
                    f"{ci_text(none['accuracy'][own])} for the un-augmented model."
                )
            sentences.append(
                f"  Accuracy on upright test images: {ci_text(acc_up)} (un-augmented: "
                f"{ci_text(none['test_acc_end'])}).{own_text}"
            )
        rep.add(Heading("What the numbers say"), Text("\n".join(sentences)))
    return rep


register(
    Study(
        NAME,
        "Lab 4: augmentation (rotation, flips, shifts) and the weights of a shallow linear FCN.",
        AugmentationWeightsConfig,
        run,
        report,
        smoke={
            "data": {"n_train": 256, "n_test": 128},
            "augmentations": ["none", "rotation", "hflip"],
            "test_transforms": ["rotation", "hflip"],
            "train": {"epochs": 2, "seeds": 2, "batch_size": 32},
            "symmetry_angles": [45.0, 90.0, 180.0],
        },
    )
)
