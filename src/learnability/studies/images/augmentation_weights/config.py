"""The augmentation-weights study's settings (Lab 4): data, augmentations, training, symmetry scores."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from learnability.config import StudyConfig
from learnability.studies.images.data import AugmentationName, AugmentationSettings, ImageDataSettings
from learnability.studies.images.training import TrainSettings

__all__ = ["NAME", "SMOKE", "AugmentationWeightsConfig"]

NAME = "augmentation-weights"


class AugmentationWeightsConfig(StudyConfig):
    """Lab 4: a shallow linear FCN trained with and without augmentation; its weights as images.

    Command:  learnability run augmentation-weights     (smoke: learnability run augmentation-weights --smoke)
    Data:     dataset 'auto' uses MNIST if found, else Fashion-MNIST (Debian's dataset-fashion-mnist,
              /usr/share/datasets/fashion-mnist), else the offline digits; the report says which.
    Size:     the lab's values are kept (rotations in [0, 180] degrees, batch 64, fixed-rate SGD
              without momentum) and so are the study's own (30 epochs, all 60,000 training and
              10,000 test images, 3 seeds x 5 augmentations = 15 members in one ensemble): nothing
              was reduced, as the estimate below fits in the ~30 minutes a default may take here.
    Runtime:  Fashion-MNIST: one epoch measured with `taskset -c 1 learnability run
              augmentation-weights --set train.epochs=1 --threads 1` on one core of the 2-core CPU
              at load 0.3-0.5: 10 s of training (937 steps x 15 members, 5 test sets evaluated), 13 s
              of run, 20 s for the whole command. Estimate for the default (30 epochs; not measured):
              ~5 min of training, ~6 min for the command on one quiet core; a core shared with other
              jobs is slower (an earlier one-epoch measurement with torch's default two threads at
              load 4-6 took 239 s: ~2 h for 30 epochs), so on a busy machine use --threads 1.
              Smoke (256 images) 2-5 s of run at load 4-8. Digits fallback: ~30 s of training and
              analysis on the shared 2-core CPU (5 augmentations x 3 seeds = 15 members, 630 SGD
              steps; measured: run 31 s, whole command with start-up and figures 57 s under a load
              of 8); smoke ~5 s.
    Expected: Fashion-MNIST at the size of the conclusions test (1,024 training images, 3 epochs,
              3 seeds, seed 0; not the full size; the test of that size checks them within 0.03):
              rotation raises the templates' rotational score
              by 0.43 [0.41, 0.45] and hflip the mirror score by 0.40 [0.35, 0.45] against no
              augmentation; upright test accuracy 0.76 (none), 0.73 (hflip), 0.34 (rotation); on
              rotated test images 0.53 (rotation) against 0.18 (none). After one full-size epoch
              (seed 0): upright accuracy 0.82 (none), 0.80 (hflip), 0.78 (vflip), 0.76
              (translation), 0.44 (rotation); rotated test images 0.61 (rotation) vs 0.19 (none);
              paired symmetry gains rotation 0.43 [0.42, 0.44], hflip 0.56 [0.55, 0.57], vflip 0.79
              [0.75, 0.83], translation 0.19 [0.17, 0.22].
              Digits fallback (seed 0) upright test accuracy 0.966 without augmentation, 0.93 / 0.91 with
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


# The CI size: 256 training digits, three augmentations, two seeds of two epochs.
SMOKE: dict[str, Any] = {
    "data": {"n_train": 256, "n_test": 128},
    "augmentations": ["none", "rotation", "hflip"],
    "test_transforms": ["rotation", "hflip"],
    "train": {"epochs": 2, "seeds": 2, "batch_size": 32},
    "symmetry_angles": [45.0, 90.0, 180.0],
}
