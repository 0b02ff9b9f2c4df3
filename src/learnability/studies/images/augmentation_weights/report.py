"""The augmentation-weights report: the templates as images, training curves, accuracies, symmetry."""

from __future__ import annotations

import numpy as np

from learnability.analysis import mean_estimate
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
    fmt_est,
)
from learnability.runs import Run
from learnability.studies.images.augmentation_weights.config import AugmentationWeightsConfig
from learnability.studies.images.augmentation_weights.results import AugmentationWeightsResults
from learnability.studies.images.augmentation_weights.symmetry import MATCHING, SYMMETRIES

__all__ = ["report"]

# Templates drawn per row of the weight figure: those of the first seed.
SHOWN_SEED = 0
# Training-loss curves are noisy per step: moving average over about one epoch of steps, at least this.
MIN_SMOOTH = 5


def _mosaic(images: np.ndarray) -> np.ndarray:
    """``(C, H, W)`` -> one ``(H, C*W + C-1)`` image with NaN (blank) separators."""
    c, h, w = images.shape
    out = np.full((h, c * w + c - 1), np.nan)
    for j in range(c):
        out[:, j * (w + 1) : j * (w + 1) + w] = images[j]
    return out


def report(res: AugmentationWeightsResults, run: Run) -> Report:
    """The report, from the typed results and the run folder alone."""
    cfg: AugmentationWeightsConfig = run.config
    augs, r = res.augmentations, res.results
    arrays = run.load_arrays(AugmentationWeightsResults.TEMPLATES)
    headline = {"data": res.dataset}
    for a in augs:
        headline[f"test accuracy ({a})"] = fmt_est(r[a].test_acc_end)
    if "rotation" in augs:
        headline["rotational symmetry (rotation)"] = fmt_est(r["rotation"].symmetry["rotation"])
    if "none" in augs:
        headline["rotational symmetry (none)"] = fmt_est(r["none"].symmetry["rotation"])
    rep = Report("Lab 4 — data augmentation and the weights of a shallow linear FCN", headline=headline)
    _, height, width = res.image_shape
    rep.add(
        Heading("Setup"),
        Text(
            f"**Data:** {res.dataset_description}. Images are normalised with the training set's "
            f"mean {fmt(res.normalizer_mean[0])} and std {fmt(res.normalizer_std[0])} after "
            f"augmentation (so the fill of rotations and shifts is black). Rotations are "
            f"{AugmentationWeightsResults.ROTATION_INTERPOLATION}.\n\n"
            f"**Model and training:** a shallow linear FCN ({height}x{width} "
            f"= {height * width} inputs -> {arrays['weights'].shape[2]} "
            f"log-softmax outputs), fixed-learning-rate SGD without momentum (rate {fmt(res.lr)}, "
            f"batch {res.batch_size}, {res.steps} steps), negative log-likelihood. The "
            f"{len(augs)} augmentations x {res.seeds} seeds are the {res.members} members of one "
            f"ensemble; each member's batch source applies its own augmentation with its own "
            f"generator, and the members of one seed share initial weights and image order. "
            f"{res.diverged_members} members diverged. Intervals are 95% Student-t intervals over "
            f"the {res.seeds} seeds."
        ),
    )
    _samples_figure(rep, res, run)
    _weights_figure(rep, res, arrays)
    _training(rep, res, cfg, run)
    _symmetry(rep, res, cfg, arrays)
    if "none" in augs:
        rep.add(Heading("What the numbers say"), Text("\n".join(_sentences(res))))
    return rep


def _samples_figure(rep: Report, res: AugmentationWeightsResults, run: Run) -> None:
    """The first training images under each augmentation (absent from runs made before it)."""
    if not run.has_artifact(f"{AugmentationWeightsResults.SAMPLES}.npz"):
        return
    samples = run.load_arrays(AugmentationWeightsResults.SAMPLES)["samples"]  # (A, n, H, W)
    panels = [
        Panel([Heatmap(_mosaic(samples[i]), cmap="gray", vmin=0.0, vmax=1.0, colorbar=False)], title=a, image=True)
        for i, a in enumerate(res.augmentations)
    ]
    rep.add(
        Heading("Augmented training images"),
        Figure(
            Chart(
                "augmented_samples",
                panels,
                ncols=1,
                panel_size=(10.0, 1.35),
                title=f"The first {samples.shape[1]} training images as each augmentation draws them",
                caption="One row per augmentation, intensities in [0, 1] before normalisation; rotations "
                f"are {AugmentationWeightsResults.ROTATION_INTERPOLATION}.",
            )
        ),
    )


def _weights_figure(rep: Report, res: AugmentationWeightsResults, arrays: dict[str, np.ndarray]) -> None:
    """One row of min-max scaled templates per augmentation."""
    panels = [
        Panel(
            [Heatmap(_mosaic(arrays["scaled"][i, SHOWN_SEED]), cmap="gray", vmin=0.0, vmax=1.0, colorbar=False)],
            title=f"{a} — rotational symmetry score {fmt(res.results[a].symmetry['rotation'].mean)}",
            image=True,
        )
        for i, a in enumerate(res.augmentations)
    ]
    rep.add(
        Heading("Learned weights"),
        Figure(
            Chart(
                "weights",
                panels,
                ncols=1,
                panel_size=(10.0, 1.35),
                title="Weights of each class (0 to 9, left to right), scaled to [0, 1]",
                caption=f"One row per augmentation, seed {SHOWN_SEED}; each template is min-max scaled on "
                "its own (black = most negative weight, white = most positive).",
            )
        ),
    )


def _training(rep: Report, res: AugmentationWeightsResults, cfg: AugmentationWeightsConfig, run: Run) -> None:
    """Loss curves, start/end test numbers and the accuracy on every transformed test set."""
    augs, r = res.augmentations, res.results
    members = run.load_table(AugmentationWeightsResults.MEMBERS_TABLE)
    train_df = run.series("train_loss", AugmentationWeightsResults.TRAIN_TAG)
    test_df = run.series("test_loss", AugmentationWeightsResults.TRAIN_TAG)
    steps_per_epoch = max(1, res.steps // max(1, cfg.train.epochs))
    window = max(MIN_SMOOTH, steps_per_epoch)
    train_lines, test_lines = [], []
    for a in augs:
        ids = members.loc[members["augmentation"] == a, "member"].tolist()
        train_lines += curve_lines(train_df[train_df["member"].isin(ids)], label=a, smooth_window=window)
        test_lines += curve_lines(test_df[test_df["member"].isin(ids)], label=a)
    panels = [
        Panel(train_lines, title="training loss (augmented batches)", xlabel="step", ylabel="NLL", yscale="log"),
        Panel(test_lines, title="test loss (upright test images)", xlabel="step", ylabel="NLL", yscale="log"),
    ]
    caption = f"Median over the {res.seeds} seeds with the 10-90% band; training loss smoothed over {window} steps."
    rep.add(Heading("Training"), Figure(Chart("loss_curves", panels, caption=caption)))
    rows = [
        [a] + [fmt_est(e) for e in (r[a].test_loss_start, r[a].test_loss_end, r[a].test_acc_start, r[a].test_acc_end)]
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
    names = res.test_sets
    rep.add(
        Heading("Accuracy on transformed test images"),
        Table(
            ["trained with"] + [t.replace("test_", "test: ") if t != "test" else "test: upright" for t in names],
            [[a] + [fmt_est(r[a].accuracy[t]) for t in names] for a in augs],
            caption="Flipped sets flip every image; rotated and shifted sets draw one angle or shift per "
            "image from the augmentation's range. Mean [95% CI] over seeds.",
        ),
    )


def _symmetry(
    rep: Report, res: AugmentationWeightsResults, cfg: AugmentationWeightsConfig, arrays: dict[str, np.ndarray]
) -> None:
    """The symmetry scores per augmentation and the rotation profile (correlation vs angle)."""
    augs, angles = res.augmentations, arrays["angles"]
    rows = [[a] + [fmt_est(res.results[a].symmetry[n]) for n in SYMMETRIES] for a in augs]
    rep.add(
        Heading("How symmetric the templates are"),
        Text(
            "Each score is a correlation between a template's learned change (final minus initial "
            "weights, so that the random initial weights do not dilute it) and its transformed copy "
            "over the centred disk, averaged over the classes: rotation = mean over rotations by "
            f"{fmt(float(angles[0]))}..{fmt(float(angles[-1]))} degrees, hflip/vflip = "
            "mirror images, translation = shifts by "
            f"{cfg.symmetry_shift} pixels in the four directions. 1 = invariant."
        ),
        Table(["trained with"] + list(SYMMETRIES), rows, caption="Mean [95% CI] over seeds."),
    )
    profile = arrays["rotation_profile"]  # (A, S, n_angles)
    lines = []
    for i, a in enumerate(augs):
        ests = [mean_estimate(profile[i, :, j]) for j in range(profile.shape[2])]
        band = None
        if res.seeds > 1:
            band = (np.array([e.low for e in ests]), np.array([e.high for e in ests]))
        lines.append(Line(angles, profile[i].mean(axis=0), label=a, band=band, mode="lines+markers"))
    panel = Panel(
        lines,
        title="template vs its rotation",
        xlabel="rotation angle (degrees)",
        ylabel="correlation (mean over classes)",
    )
    rep.add(Figure(Chart("rotation_profile", [panel], caption="95% CI band over seeds.")))


def _sentences(res: AugmentationWeightsResults) -> list[str]:
    """For each augmentation, how its matching symmetry score and its accuracy moved (needs 'none')."""
    none = res.results["none"]
    sentences = []
    for a in res.augmentations:
        if a == "none":
            continue
        ra = res.results[a]
        for n in MATCHING[a]:
            gain = ra.symmetry_gain[n]
            verdict = (
                "an increase whose 95% CI excludes 0"
                if gain.excludes(0.0) and gain.mean > 0
                else "a decrease whose 95% CI excludes 0"
                if gain.excludes(0.0)
                else "a change not distinguishable from 0 with these seeds"
            )
            sentences.append(
                f"- **{a}**: the {n} symmetry score of the templates goes from "
                f"{fmt_est(none.symmetry[n])} without augmentation to "
                f"{fmt_est(ra.symmetry[n])} (paired change {fmt_est(gain)}: {verdict})."
            )
        own = f"test_{a}"
        own_text = ""
        if own in ra.accuracy:
            own_text = (
                f" On test images transformed like its training data it scores "
                f"{fmt_est(ra.accuracy[own])}, against "
                f"{fmt_est(none.accuracy[own])} for the un-augmented model."
            )
        sentences.append(
            f"  Accuracy on upright test images: {fmt_est(ra.test_acc_end)} (un-augmented: "
            f"{fmt_est(none.test_acc_end)}).{own_text}"
        )
    return sentences
