"""What the augmentation-weights study measures: accuracies and template symmetry per augmentation."""

from __future__ import annotations

from typing import ClassVar

from learnability.analysis import Estimate
from learnability.studies import ResultsModel
from learnability.studies.images.results import ImageStudyResults

__all__ = ["AugmentationResult", "AugmentationWeightsResults"]


class AugmentationResult(ResultsModel):
    """The models trained with one augmentation: means over seeds with 95% Student-t intervals.

    Attributes:
        test_loss_start, test_loss_end: NLL on the upright test images before and after training.
        test_acc_start, test_acc_end: accuracy on the upright test images.
        accuracy: final accuracy per test set (``"test"``, ``"test_rotation"``, ...).
        symmetry: per symmetry score (``SYMMETRIES``), the class-averaged score of the templates'
            learned change.
        symmetry_gain: the paired change of each score against the un-augmented models of the
            same seeds (None when ``"none"`` is not trained).
    """

    test_loss_start: Estimate
    test_loss_end: Estimate
    test_acc_start: Estimate
    test_acc_end: Estimate
    accuracy: dict[str, Estimate]
    symmetry: dict[str, Estimate]
    symmetry_gain: dict[str, Estimate] | None = None


class AugmentationWeightsResults(ImageStudyResults):
    """The summary of an augmentation-weights run.

    Attributes:
        augmentations: the augmentations trained, in config order.
        seeds: seeds per augmentation; ``members`` = augmentations x seeds.
        steps, lr, batch_size: the training run (batch capped at the training set size).
        test_sets: the evaluation sets, upright first.
        diverged_members: members whose loss became non-finite.
        train_seconds: wall time of the training loop.
        results: per augmentation, its :class:`AugmentationResult`.
    """

    TRAIN_TAG: ClassVar[str] = "train"  # metrics tag of the training loop
    MEMBERS_TABLE: ClassVar[str] = "members"  # member -> augmentation, seed index, seeds
    # weights, scaled (A, S, C, H, W); scores (A, S, n_symmetries, C); rotation_profile (A, S, n_angles); angles
    TEMPLATES: ClassVar[str] = "templates"
    # samples (A, n, H, W): the same first training images under each augmentation, in [0, 1]
    SAMPLES: ClassVar[str] = "augmented_samples"
    #: How rotations resample (torchvision's RandomRotation defaults to nearest neighbour).
    ROTATION_INTERPOLATION: ClassVar[str] = (
        "bilinear with zero fill (exact for multiples of 90 degrees); torchvision's RandomRotation "
        "defaults to nearest-neighbour"
    )

    augmentations: list[str]
    seeds: int
    members: int
    steps: int
    lr: float
    batch_size: int
    test_sets: list[str]
    diverged_members: int
    train_seconds: float
    results: dict[str, AugmentationResult]
