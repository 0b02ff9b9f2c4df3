"""The hubel-wiesel study's settings (Lab 6): groups, nonlinearities, synthetic and digits checks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from learnability._validation import parameter_message
from learnability.config import ConfigSection, StudyConfig

__all__ = ["NAME", "SMOKE", "DigitsSection", "GroupName", "HubelWieselConfig", "Nonlinearity", "SyntheticSection"]

NAME = "hubel-wiesel"
GroupName = Literal["flip", "rotation90", "shift"]
Nonlinearity = Literal["threshold", "sigmoid"]


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
    nonlinearities: list[Nonlinearity] = Field(
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


# Small images (8 x 8 noise: the shift group has 64 elements), few templates, two template draws
# (the smallest number with a CI) on the first 120 digits of each split.
SMOKE: dict[str, Any] = {
    "synthetic": {"image_size": 8, "n_images": 4, "n_templates": 4, "max_elements": 4},
    "digits": {"n_templates": 8, "template_draws": 2, "n_exact": 16, "limit": 120},
}
