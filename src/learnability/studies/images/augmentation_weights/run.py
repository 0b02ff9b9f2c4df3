"""The augmentation-weights study, stage by stage: members, test sets, training, templates, summary.

A shallow linear FCN (``log_softmax(W x + b)``, 784 -> 10 on 28x28 images) is trained with
fixed-learning-rate SGD (no momentum) on images augmented by random rotations in [0, 180] degrees
(the lab's task), by random flips and by random translations (the lab's "Optional I"), with
un-augmented training as the reference. Every (augmentation, seed) pair is one member of a single
engine ensemble: each member's batch source applies its own augmentation with its own generator,
and the members of one seed share their initial weights and the order of their images, so the
augmentations are compared on paired runs.

Each class's row of ``W`` is a template image. The study keeps them scaled to [0, 1] (one row of
10 templates per augmentation) and measures, per template, how symmetric it is: the correlation
between a template and its rotations, its flips and its shifts (:mod:`.symmetry`). Augmenting
with a transformation should raise the matching symmetry score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from learnability.analysis import mean_estimate
from learnability.data import RandomRotation, RandomTranslation, hflip, to_device, vflip
from learnability.engine import EvalSet, ModuleEnsemble, TrainResult, accuracy
from learnability.models import ShallowFCN, save_weights
from learnability.studies import StudyContext
from learnability.studies.images.augmentation_weights.config import NAME, AugmentationWeightsConfig
from learnability.studies.images.augmentation_weights.results import AugmentationResult, AugmentationWeightsResults
from learnability.studies.images.augmentation_weights.symmetry import SYMMETRIES, template_symmetry
from learnability.studies.images.data import ImageSplits, load_image_splits, make_augmentation
from learnability.studies.images.results import record_dataset
from learnability.studies.images.training import train_image_ensemble, weights_file

__all__ = ["run"]

R = AugmentationWeightsResults


@dataclass(frozen=True)
class Members:
    """The ensemble's members: member ``k`` = (augmentation ``k // S``, seed index ``k % S``).

    The members of one seed index share their initial weights and data order, so augmentations
    are compared on paired runs.
    """

    pairs: list[tuple[str, int]]  # (augmentation, seed index) per member
    init_seeds: list[int]  # one per seed index
    data_seeds: list[int]

    def of(self, augmentation: str) -> list[int]:
        """The member indices trained with ``augmentation``, in seed order."""
        return [k for k, (a, _) in enumerate(self.pairs) if a == augmentation]


def plan_members(cfg: AugmentationWeightsConfig, ctx: StudyContext) -> Members:
    """Every (augmentation, seed) pair and its seeds; saved as the members table."""
    n_seeds = cfg.train.seeds
    m = Members(
        [(a, s) for a in cfg.augmentations for s in range(n_seeds)],
        ctx.seeds(n_seeds, "init"),
        ctx.seeds(n_seeds, "data"),
    )
    table = {
        "member": range(len(m.pairs)),
        "augmentation": [a for a, _ in m.pairs],
        "seed_index": [s for _, s in m.pairs],
        "init_seed": [m.init_seeds[s] for _, s in m.pairs],
        "data_seed": [m.data_seeds[s] for _, s in m.pairs],
    }
    ctx.writer.save_table(R.MEMBERS_TABLE, pd.DataFrame(table))
    return m


def make_test_sets(cfg: AugmentationWeightsConfig, splits: ImageSplits, ctx: StudyContext) -> dict[str, EvalSet]:
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
    y = to_device(splits.test_labels, ctx.device)
    return {
        k: EvalSet(to_device(splits.normalizer.transform(v), ctx.device), y, metrics={"accuracy": accuracy})
        for k, v in out.items()
    }


# Training images drawn per augmentation in the report's figure of augmented samples.
SHOWN_SAMPLES = 8


def augmented_samples(cfg: AugmentationWeightsConfig, splits: ImageSplits, ctx: StudyContext) -> None:
    """The first training images as each augmentation draws them (Lab 4: "visualise the augmented
    set"); saved as the samples array ``(A, n, H, W)`` in ``[0, 1]``, before normalisation."""
    x = splits.train_images[:SHOWN_SAMPLES]
    rows = []
    for a in cfg.augmentations:
        aug = make_augmentation(a, cfg.augment)
        g = torch.Generator().manual_seed(ctx.seed("samples", a))
        rows.append((x if aug is None else aug(x, generator=g))[:, 0].numpy())
    ctx.writer.save_arrays(R.SAMPLES, samples=np.stack(rows))


def templates(
    cfg: AugmentationWeightsConfig,
    splits: ImageSplits,
    members: Members,
    trained: tuple[ModuleEnsemble, list[torch.Tensor], TrainResult],
    ctx: StudyContext,
) -> np.ndarray:
    """Each member's templates and their symmetry scores; saves the weights files and arrays.

    Returns:
        The symmetry scores ``(A, S, n_symmetries, C)`` of the templates' learned change.
    """
    ensemble, initial, result = trained
    _, h, w = splits.image_shape
    n_classes, augs, n_seeds = len(splits.classes), list(cfg.augmentations), cfg.train.seeds
    weights = np.zeros((len(augs), n_seeds, n_classes, h, w))
    scaled = np.zeros_like(weights)
    scores = np.zeros((len(augs), n_seeds, len(SYMMETRIES), n_classes))
    profile = np.zeros((len(augs), n_seeds, len(cfg.symmetry_angles)))
    for k, (a, s) in enumerate(members.pairs):
        model = ensemble.member(result.params, k).cpu()
        i = augs.index(a)
        weight = model.fc.weight.detach().reshape(n_classes, h, w)
        weights[i, s] = weight.numpy()
        scaled[i, s] = model.weight_images((h, w)).numpy()
        # Symmetry of what training changed: the initial weights (shared by the augmentations of a
        # seed) are random noise that would dilute every score.
        w0 = initial[ensemble.names.index("fc.weight")][k].detach().cpu()
        learned = weight - w0.reshape(n_classes, h, w)
        sym, prof = template_symmetry(learned, angles=cfg.symmetry_angles, shift=cfg.symmetry_shift)
        scores[i, s] = np.stack([sym[n].numpy() for n in SYMMETRIES])
        profile[i, s] = prof.mean(dim=1).numpy()
        save_member(cfg, splits, members, model, a, s, ctx)
    ctx.writer.save_arrays(
        R.TEMPLATES,
        weights=weights,
        scaled=scaled,
        scores=scores,
        rotation_profile=profile,
        angles=np.asarray(cfg.symmetry_angles),
    )
    return scores


def save_member(
    cfg: AugmentationWeightsConfig,
    splits: ImageSplits,
    members: Members,
    model: ShallowFCN,
    augmentation: str,
    seed_index: int,
    ctx: StudyContext,
) -> None:
    """Save a trained member's weights with what a reader needs to rebuild and check it."""
    c, h, w = splits.image_shape
    save_weights(
        model,
        ctx.writer.artifact_path(weights_file(augmentation, seed_index)),
        config={
            "study": NAME,
            "model": "ShallowFCN",
            "in_features": c * h * w,
            "num_classes": len(splits.classes),
            "augmentation": augmentation,
            "seed_index": seed_index,
            "init_seed": members.init_seeds[seed_index],
            "data_seed": members.data_seeds[seed_index],
            "data": cfg.data.model_dump(),
            "augment": cfg.augment.model_dump(),
            **splits.info(),
        },
    )


def summarise(
    augs: list[str], members: Members, result: TrainResult, test_names: list[str], scores: np.ndarray
) -> dict[str, AugmentationResult]:
    """Per augmentation: losses, accuracies and symmetry scores as means over seeds (95% CI)."""
    class_mean = scores.mean(axis=3)  # (A, S, n_symmetries)
    ref = augs.index("none") if "none" in augs else None
    out = {}
    for i, a in enumerate(augs):
        ids = members.of(a)
        evals = result.evals
        gain = None
        if ref is not None:
            gain = {n: mean_estimate(class_mean[i, :, j] - class_mean[ref, :, j]) for j, n in enumerate(SYMMETRIES)}
        out[a] = AugmentationResult(
            test_loss_start=mean_estimate(evals["test_loss"].values[0][ids], kind="positive"),
            test_loss_end=mean_estimate(evals["test_loss"].final[ids], kind="positive"),
            test_acc_start=mean_estimate(evals["test_accuracy"].values[0][ids], kind="unit"),
            test_acc_end=mean_estimate(evals["test_accuracy"].final[ids], kind="unit"),
            accuracy={name: mean_estimate(evals[f"{name}_accuracy"].final[ids], kind="unit") for name in test_names},
            symmetry={n: mean_estimate(class_mean[i, :, j]) for j, n in enumerate(SYMMETRIES)},
            symmetry_gain=gain,
        )
    return out


def run(cfg: AugmentationWeightsConfig, ctx: StudyContext) -> AugmentationWeightsResults:
    """Train every (augmentation, seed) member in one ensemble, then measure its templates."""
    splits = load_image_splits(cfg.data)
    record_dataset(splits, ctx)
    c, h, w = splits.image_shape
    n_classes = len(splits.classes)
    members = plan_members(cfg, ctx)
    augmented_samples(cfg, splits, ctx)
    eval_sets = make_test_sets(cfg, splits, ctx)
    trained = train_image_ensemble(
        lambda: ShallowFCN(c * h * w, n_classes, seed=0),
        splits,
        [make_augmentation(a, cfg.augment) for a, _ in members.pairs],
        init_seeds=[members.init_seeds[s] for _, s in members.pairs],
        data_seeds=[members.data_seeds[s] for _, s in members.pairs],
        settings=cfg.train,
        eval_sets=eval_sets,
        ctx=ctx,
        tag=R.TRAIN_TAG,
    )
    scores = templates(cfg, splits, members, trained, ctx)
    result = trained[2]
    return AugmentationWeightsResults(
        **splits.info(),
        augmentations=list(cfg.augmentations),
        seeds=cfg.train.seeds,
        members=len(members.pairs),
        steps=result.steps,
        lr=cfg.train.lr,
        batch_size=min(cfg.train.batch_size, len(splits.train_labels)),
        test_sets=list(eval_sets),
        diverged_members=int(result.diverged.sum()),
        train_seconds=result.wall_seconds,
        results=summarise(list(cfg.augmentations), members, result, list(eval_sets), scores),
    )
