"""The representation-invariance study, stage by stage: models, distances, scores, comparison.

Two shallow linear FCNs (Lab 4's model) are trained in one engine ensemble, one on
rotation-augmented images and one without augmentation, over several seeds; or they are reused
from an ``augmentation-weights`` run (``weights_from``); see :mod:`.weights`.

Activations of a named layer (``fc`` by default: the logits) are read with forward hooks
(:func:`~learnability.models.get_activations`). Pairs are built from the *same* test images: the
image ``x_i`` and ``g x_i``, its rotation by a fixed angle (several angles) or by a random angle
in the augmentation's range; both are normalised after rotating. The control pairs each image with
an unrelated test image (a random derangement, the same for every model and angle). For each model
and angle the study compares the paired distances ``||f(x_i) - f(g x_i)||`` with the control
distances ``||f(x_i) - f(x'_i)||``: paired t and Wilcoxon tests, Cohen's d_z, and a paired
bootstrap CI of the invariance score ``1 - mean(paired) / mean(control)`` (1 = invariant, 0 = a
rotation moves the representation as far as swapping the image for another).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import torch

from learnability._validation import check_choice
from learnability.analysis import bootstrap_ci, mean_estimate, paired_test
from learnability.models import ShallowFCN, invariance_score, layer_names
from learnability.studies import StudyContext
from learnability.studies.images.data import ImageSplits, load_image_splits
from learnability.studies.images.representation_invariance.config import NAME, RepresentationInvarianceConfig
from learnability.studies.images.representation_invariance.pairs import (
    VARIANTS,
    angle_specs,
    notebook_numbers,
    rotation_pairs,
    score,
    score_gap,
)
from learnability.studies.images.representation_invariance.results import (
    GapEntry,
    NotebookNumbers,
    RepresentationInvarianceResults,
    ScoreEntry,
)
from learnability.studies.images.representation_invariance.weights import Models, load_from_run, train_and_reload
from learnability.studies.images.results import record_dataset

__all__ = ["run"]

R = RepresentationInvarianceResults
# Test images whose rotations are kept for the pairs figure.
EXAMPLES = 1


def distances(
    cfg: RepresentationInvarianceConfig, splits: ImageSplits, models: Models, labels: list[str], ctx: StudyContext
) -> tuple[np.ndarray, np.ndarray]:
    """Pair and control distances of every model at every angle; saved with example images.

    Returns:
        ``(paired, control)``, each ``(variants, angles, seeds, images)``.
    """
    x = splits.test_images  # (N, 1, H, W) in [0, 1]
    xn = splits.normalizer.transform(x)
    n_seeds = len(models.models[VARIANTS[0]])
    control_seed = ctx.seed("control")  # one derangement, shared by every model and angle
    paired = np.zeros((len(VARIANTS), len(labels), n_seeds, x.shape[0]))
    control = np.zeros_like(paired)
    examples = []
    for j, label in enumerate(labels):
        _, gx = rotation_pairs(
            x,
            label,
            degrees=tuple(cfg.augment.rotation_degrees),
            generator=torch.Generator().manual_seed(ctx.seed("angles", label)),
        )
        examples.append(gx[:EXAMPLES, 0].numpy())
        gxn = splits.normalizer.transform(gx)
        for i, v in enumerate(VARIANTS):
            for s, model in enumerate(models.models[v]):
                res = invariance_score(
                    model, xn, gxn, layer=cfg.layer, generator=torch.Generator().manual_seed(control_seed)
                )
                paired[i, j, s], control[i, j, s] = res.paired.numpy(), res.control.numpy()
    ctx.writer.save_arrays(
        R.DISTANCES,
        paired=paired,
        control=control,
        labels=np.array(labels),
        example=x[:EXAMPLES, 0].numpy(),
        rotated=np.stack(examples),
    )
    return paired, control


def paired_fields(a: np.ndarray, b: np.ndarray, alternative: str) -> dict[str, object]:
    """The :class:`PairedTest` fields of ``paired_test(a, b)`` (per-image differences not kept)."""
    t = paired_test(a, b, alternative=alternative)
    return {
        "t_pvalue": t.t_pvalue,
        "wilcoxon_pvalue": t.wilcoxon_pvalue,
        "cohens_dz": t.cohens_dz,
        "t_statistic": t.t_statistic,
        "mean_difference": dataclasses.replace(t.difference, values=()),
    }


def model_scores(
    cfg: RepresentationInvarianceConfig,
    paired: np.ndarray,
    control: np.ndarray,
    labels: list[str],
    ctx: StudyContext,
) -> dict[str, dict[str, ScoreEntry]]:
    """Per model and angle: the invariance score (bootstrap over images, t over seeds) and the tests."""
    n_seeds = paired.shape[2]
    scores: dict[str, dict[str, ScoreEntry]] = {v: {} for v in VARIANTS}
    rows = []
    for i, v in enumerate(VARIANTS):
        for j, label in enumerate(labels):
            a, b = paired[i, j].mean(axis=0), control[i, j].mean(axis=0)  # (N,) averaged over seeds
            boot = bootstrap_ci(
                score,
                a,
                b,
                paired=True,
                vectorized=True,
                n_resamples=cfg.n_bootstrap,
                seed=ctx.seed("bootstrap", v, label),
            )
            e = ScoreEntry(
                score_images=boot.estimate(),
                score_seeds=mean_estimate([float(score(paired[i, j, s], control[i, j, s])) for s in range(n_seeds)]),
                mean_pair=float(a.mean()),
                mean_control=float(b.mean()),
                **paired_fields(a, b, "less"),
            )
            scores[v][label] = e
            rows.append(
                {
                    "model": v,
                    "angle": label,
                    "score": e.score,
                    "low": boot.low,
                    "high": boot.high,
                    "t_pvalue": e.t_pvalue,
                    "cohens_dz": e.cohens_dz,
                }
            )
    ctx.writer.save_table(R.SCORES_TABLE, pd.DataFrame(rows))
    return scores


def compare_models(
    cfg: RepresentationInvarianceConfig,
    paired: np.ndarray,
    control: np.ndarray,
    labels: list[str],
    ctx: StudyContext,
) -> dict[str, GapEntry]:
    """Per angle: score(rotation) - score(none) on the same images, and a paired test of the
    relative pair distances."""
    n_seeds = paired.shape[2]
    i0, i1 = VARIANTS.index("none"), VARIANTS.index("rotation")
    comparison = {}
    for j, label in enumerate(labels):
        a1, b1 = paired[i1, j].mean(axis=0), control[i1, j].mean(axis=0)
        a0, b0 = paired[i0, j].mean(axis=0), control[i0, j].mean(axis=0)
        boot = bootstrap_ci(
            score_gap,
            a1,
            b1,
            a0,
            b0,
            paired=True,
            vectorized=True,
            n_resamples=cfg.n_bootstrap,
            seed=ctx.seed("bootstrap-gap", label),
        )
        per_seed = [
            float(score(paired[i1, j, s], control[i1, j, s]) - score(paired[i0, j, s], control[i0, j, s]))
            for s in range(n_seeds)
        ]
        # Per image: distance to the rotated copy in units of the model's mean control distance.
        rel1, rel0 = a1 / b1.mean(), a0 / b0.mean()
        comparison[label] = GapEntry(
            gap_images=boot.estimate(), gap_seeds=mean_estimate(per_seed), **paired_fields(rel1, rel0, "two-sided")
        )
    return comparison


def notebook(
    cfg: RepresentationInvarianceConfig, splits: ImageSplits, models: Models, ctx: StudyContext
) -> dict[str, NotebookNumbers]:
    """What the solved notebook's pairing would report, per variant (mean over the seeds' models)."""
    xn = splits.normalizer.transform(splits.test_images)
    seed = ctx.seed("notebook-noise")
    out = {}
    for v in VARIANTS:
        per = [
            notebook_numbers(m, xn, cfg.layer, cfg.notebook_batch_size, torch.Generator().manual_seed(seed))
            for m in models.models[v]
        ]
        out[v] = NotebookNumbers(**{k: float(np.mean([p[k] for p in per])) for k in per[0]})
    return out


def run(cfg: RepresentationInvarianceConfig, ctx: StudyContext) -> RepresentationInvarianceResults:
    """Get the two models, measure pair and control distances at every angle, score and compare."""
    splits = load_image_splits(cfg.data)
    record_dataset(splits, ctx)
    c, h, w = splits.image_shape
    # Refuse an unknown layer before any training (the message lists the model's layers).
    check_choice(cfg.layer, "layer", NAME, layer_names(ShallowFCN(c * h * w, len(splits.classes), seed=0)))
    models = load_from_run(cfg, splits) if cfg.weights_from else train_and_reload(cfg, splits, ctx)
    labels = angle_specs(cfg)
    paired, control = distances(cfg, splits, models, labels, ctx)
    return RepresentationInvarianceResults(
        **splits.info(),
        weights_source=models.source,
        seeds=paired.shape[2],
        layer=cfg.layer,
        angles=labels,
        rotation_degrees=tuple(cfg.augment.rotation_degrees),
        reload_max_abs_diff=models.reload_max_abs_diff,
        test_accuracy=models.test_accuracy,
        scores=model_scores(cfg, paired, control, labels, ctx),
        comparison=compare_models(cfg, paired, control, labels, ctx),
        notebook=notebook(cfg, splits, models, ctx),
        notebook_batch_size=cfg.notebook_batch_size,
    )
