"""The cnn-equivariance study's settings (Lab 5): the CNN variants, the shifts, the pairs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from learnability.config import StudyConfig
from learnability.studies.images.data import ImageDataSettings
from learnability.studies.images.training import TrainSettings

__all__ = ["NAME", "SMOKE", "CNNEquivarianceConfig"]

NAME = "cnn-equivariance"


class CNNEquivarianceConfig(StudyConfig):
    """Lab 5: translation equivariance (conv) and invariance (fc) of the lab's CNN, valid vs circular,
    beside globally pooled variants (the lab's premise: pooling makes fc invariant).

    Command:  learnability run cnn-equivariance     (smoke: learnability run cnn-equivariance --smoke)
    Data:     dataset 'auto': MNIST if found, else Fashion-MNIST (Debian's dataset-fashion-mnist), else
              the offline digits; the report says which.
    Size:     the lab's values are kept for the lab's CNN (1 channel, kernel 2, no padding, batch
              64, fixed-rate SGD) and so are the study's own for it (30 epochs, 3 seeds, shifts
              1-8 in both shift modes). Reduced, to fit the ~30 minutes a default may take here:
              the pooled models (not in the lab) train 10 epochs (pooled_epochs; the report gives
              how much each model's test loss still fell over its last quarter of epochs), and the
              pairs use the first 1,000 test images (n_pairs; a full run: --set n_pairs=null
              --set pooled_epochs=null).
    Runtime:  Fashion-MNIST, pinned to one core of the 2-core CPU (`taskset -c 1 ... --threads 1`)
              while other jobs ran beside it: one epoch of the lab's two CNNs measured (--set
              train.epochs=1 --set 'pooling=[]', load 1.3-3): valid 10 s, circular 5 s of training,
              then 178 s measuring 10,000 pairs (12 shift settings x 3 seeds per model); one
              pooled model (avg, 8 channels) 93 steps in 5.3 s with one evaluation (load ~3, --set
              data.n_train=6000): ~30 s per 937-step epoch; measuring 500 pairs once: 0.44 s
              (lab's CNN) and 2.8 s (pooled, three quarters of it sorting the maps). Estimate for
              the default (not measured): training 30 x 15 s + 2 x 10 x 30 s = ~18 min, measuring
              1,000 pairs 2 x 36 x (0.9 + 5.6) s = ~8 min, so ~25 min on one core shared as above
              (less on a quiet one; an earlier one-epoch measurement with torch's default two
              threads at load 5-6 took ~20 min per epoch of the four models, so on a busy machine
              use --threads 1). After one epoch the lab's CNN reaches 0.80-0.82 test accuracy,
              avg-pool 0.26-0.29. Smoke ~8-20 s of run at load 4-8. Digits fallback: ~35 s of
              training and analysis on the shared 2-core CPU for the 2 paddings (3 seeds, 630 SGD
              steps each; 6 shifts x 2 shift modes on 450 test images; measured: run 34 s, whole
              command with start-up and figures 64 s under a load of 8; the pooled variants were
              added after that measurement); smoke ~5 s.
    Expected: Fashion-MNIST at the size of the conclusions test (512 training images, 3 epochs, 2
              seeds, circular shifts of 1 and 4 pixels, pooled models with circular padding; not the
              full size; the test of that size checks them within 0.03-0.05): the circular conv's
              shift-back error is exactly 0; the lab's fc changes by
              0.24 of its norm for 1 pixel and 0.76 for 4, the class survives for 80% / 25%; global
              average and max pooling make fc exactly invariant (7e-8 and 0), but after so few
              steps they classify at chance (0.11-0.15 against the lab's 0.72): pooling all
              positions of a 2x2 conv keeps little to classify with.
              Digits fallback (whose 20x20 digits sit in a 4-pixel black margin; seed 0) the interior error
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
    n_pairs: int | None = Field(
        1000,
        ge=2,
        description="First test images used for the pairs (None = all 10,000 of Fashion-MNIST/MNIST). "
        "1,000 keep the 95% CIs of the means narrow at a tenth of the measuring time of 10,000 "
        "(sorting the pooled models' 8-channel maps dominates it); test accuracy is always on "
        "the whole test set.",
    )
    pooling: list[Literal["avg", "max"]] = Field(
        default_factory=lambda: ["avg", "max"],
        description="Lab 5's premise, 'a CNN with pooling': also train the lab's conv followed by a "
        "global average ('avg') or max ('max') pool over positions before fc (models 'avg-pool', "
        "'max-pool'), measured with the same statistics ([] = none).",
    )
    pooled_padding: Literal["valid", "zeros", "circular"] = Field(
        "valid",
        description="Padding of the pooled models' conv ('valid' = the lab's; 'circular' makes their "
        "fc exactly invariant to circular shifts).",
    )
    pooled_epochs: int | None = Field(
        10,
        ge=1,
        description="Epochs of the pooled models (None = train.epochs). They are not the lab's "
        "network and each of their epochs costs ~3x one of the lab's CNN on a CPU (8 channels), so "
        "they get fewer; the report says how much their test loss was still falling.",
    )
    pooled_channels: int = Field(
        8,
        ge=1,
        description="Conv channels of the pooled models (a single channel pooled to one number "
        "cannot tell ten classes apart).",
    )

    def epochs_of(self, model: str) -> int:
        """Training epochs of ``model`` (a name of :meth:`model_names`)."""
        if model.endswith("-pool") and self.pooled_epochs is not None:
            return self.pooled_epochs
        return self.train.epochs

    def model_names(self) -> list[str]:
        """Every model trained: the padding variants of the lab's CNN, then the pooled ones."""
        return [*self.padding_modes, *(f"{p}-pool" for p in self.pooling)]

    @field_validator("pooling")
    @classmethod
    def _distinct_pools(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("pooling entries must be distinct")
        return v

    @field_validator("shifts")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(s < 1 for s in v) or len(set(v)) != len(v):
            raise ValueError("shifts must be distinct positive ints")
        return sorted(v)


# The CI size: 256 training digits, two seeds of two epochs, a shift within the margin and one across it.
SMOKE: dict[str, Any] = {
    "data": {"n_train": 256, "n_test": 64},
    "train": {"epochs": 2, "seeds": 2, "batch_size": 32},
    "pooled_epochs": None,
    "n_pairs": None,
    "shifts": [1, 6],
}
