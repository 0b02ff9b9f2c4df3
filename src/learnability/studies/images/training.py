"""Training and shared bookkeeping of the image-symmetry family (Labs 4, 4bis and 5).

- :class:`TrainSettings` and :func:`train_image_ensemble`: one call of the engine's training loop
  for an ensemble whose members each see their own augmentation.
- :func:`weights_file`: where a trained member's weights are saved in a run folder (Lab 4 writes
  them, Lab 4bis can read them back).
- :func:`derangement`: the "unrelated image" control pairing of Labs 4bis and 5.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from pydantic import Field
from torch import Tensor, nn

from learnability._validation import check_in_range
from learnability.config import ConfigSection
from learnability.data import ImageTransform
from learnability.engine import SGD, EvalSet, ModuleEnsemble, TrainResult, TrainSpec, nll, train
from learnability.studies import StudyContext
from learnability.studies.images.data import AugmentedImageSource, ImageSplits

__all__ = ["WEIGHTS_DIR", "TrainSettings", "derangement", "train_image_ensemble", "weights_file"]

#: Folder, inside ``artifacts/``, of the saved member weights.
WEIGHTS_DIR = "weights"


class TrainSettings(ConfigSection):
    """Fixed-learning-rate SGD without momentum (Lab 4), as in the engine's ``SGD``."""

    lr: float = Field(0.05, gt=0, description="SGD learning rate, fixed (chosen on the training loss).")
    batch_size: int = Field(64, ge=1, description="Mini-batch size.")
    epochs: int = Field(30, ge=1, description="Passes over the training images.")
    seeds: int = Field(3, ge=1, description="Independent seeds (initialisation and data order) per model.")
    eval_every_epochs: int = Field(1, ge=1, description="Epochs between evaluations of the test sets.")


def train_image_ensemble(
    factory: Callable[[], nn.Module],
    splits: ImageSplits,
    augmentations: Sequence[ImageTransform | None],
    *,
    init_seeds: Sequence[int],
    data_seeds: Sequence[int],
    settings: TrainSettings,
    eval_sets: dict[str, EvalSet],
    ctx: StudyContext,
    tag: str,
) -> tuple[ModuleEnsemble, list[Tensor], TrainResult]:
    """Train one member per entry of ``augmentations`` with the engine (NLL of log-softmax outputs).

    Member ``k`` starts from ``init_seeds[k]``, shuffles with ``data_seeds[k]`` and augments its
    batches with ``augmentations[k]``; the batch size is capped at the number of training images.
    An epoch is one block of the loop; the test sets are evaluated every
    ``settings.eval_every_epochs`` epochs.

    Returns:
        The ensemble (to extract members), a copy of the initial stacked parameters and the
        engine's :class:`TrainResult` (whose ``params`` are the trained ones).
    """
    batch = min(settings.batch_size, len(splits.train_labels))
    source = AugmentedImageSource(
        splits.train_images,
        splits.train_labels,
        batch_size=batch,
        augmentations=augmentations,
        normalizer=splits.normalizer,
    )
    steps_per_epoch = source.steps_per_epoch
    ensemble = ModuleEnsemble(factory)
    params = ensemble.init(list(init_seeds), device=ctx.device)
    initial = [p.detach().clone() for p in params]  # train() updates params in place
    spec = TrainSpec(
        max_steps=settings.epochs * steps_per_epoch,
        eval_every=settings.eval_every_epochs * steps_per_epoch,
        block=steps_per_epoch,
    )
    result = train(
        ensemble,
        params,
        loss=nll,
        optimizer=SGD(),
        lr=[settings.lr] * len(augmentations),
        data=source,
        seeds=list(data_seeds),
        spec=spec,
        eval_sets=eval_sets,
        sink=ctx.writer,
        tag=tag,
        progress=ctx.progress,
    )
    return ensemble, initial, result


def weights_file(augmentation: str, seed_index: int) -> str:
    """Path, inside ``artifacts/``, of a trained member's weights (``weights/rotation-seed1.pt``)."""
    return f"{WEIGHTS_DIR}/{augmentation}-seed{seed_index}.pt"


def derangement(n: int, *, generator: torch.Generator) -> Tensor:
    """A random permutation of ``range(n)`` with no fixed point (one n-cycle): ``(n,)`` int64.

    Pairs each example with a *different* one, e.g. as the "unrelated image" control.
    """
    check_in_range(n, "n", "derangement", low=2, kind=int)
    perm = torch.randperm(n, generator=generator)
    partner = torch.empty_like(perm)
    partner[perm] = perm.roll(-1)
    return partner
