"""What the cnn-equivariance study measures: per padding, shift mode, shift and measure, a cell."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from learnability.analysis import Estimate
from learnability.studies import ResultsModel
from learnability.studies.images.results import ImageStudyResults

__all__ = ["CNNEquivarianceResults", "MeasureCell", "ModelShape"]


class MeasureCell(ResultsModel):
    """One measure of one (padding, shift mode, shift).

    Attributes:
        images: mean over test images (per-image values averaged over seeds), 95% t-interval;
            the per-image values are in the ``measures`` arrays.
        seeds: mean over seeds (per-seed values averaged over images), 95% t-interval; None with
            one seed.
        max: the largest value over images and seeds.
    """

    images: Estimate
    seeds: Estimate | None
    max: float


class ModelShape(ResultsModel):
    """The shapes of one CNN variant: conv output ``(H', W')``, the fc layer, padding and pooling."""

    conv_shape: tuple[int, int]
    fc_in: int
    fc_out: int
    padding: str = ""  # "" in summaries written before the pooled variants
    pool: str = "none"  # "none" (the lab's CNN), "avg" or "max" (global pooling before fc)
    channels: int = 1


class CNNEquivarianceResults(ImageStudyResults):
    """The summary of a cnn-equivariance run.

    Attributes:
        padding_modes, shift_modes, shifts: the grid (shifts sorted).
        model_names: every model measured: the padding modes of the lab's CNN, then the globally
            pooled variants (``"avg-pool"``, ``"max-pool"``).
        seeds: seeds per model; ``n_pairs``: test images paired.
        kernel_size: the conv kernel's side.
        models: per model, its shapes.
        test_accuracy: per model, test accuracy over seeds.
        epochs: per model, the epochs it was trained (the pooled models may get fewer).
        test_loss_drop: per model, the relative fall of its test loss over the last quarter of its
            epochs, over seeds (a stationarity check: near 0 = no longer falling).
        exact_tolerance: relative error below which the report calls equivariance exact.
        results: ``model -> shift mode -> str(shift) -> measure -> MeasureCell``; read it with
            :meth:`cell`.
    """

    # values (models, shift modes, shifts, seeds, measures, images); shifts
    MEASURES_ARRAYS: ClassVar[str] = "measures"
    MEASURES_TABLE: ClassVar[str] = "measures"  # one row per (model, shift mode, shift, measure)
    EXAMPLE: ClassVar[str] = "example"  # the first pair's images and conv maps

    padding_modes: list[str]
    model_names: list[str] = Field(
        default_factory=list
    )  # [] in summaries written before the pooled variants: the padding modes
    shift_modes: list[str]
    shifts: list[int]
    seeds: int
    n_pairs: int
    kernel_size: int
    models: dict[str, ModelShape]
    test_accuracy: dict[str, Estimate]
    # Absent from summaries written before they were recorded.
    epochs: dict[str, int] = Field(default_factory=dict)
    test_loss_drop: dict[str, Estimate] = Field(default_factory=dict)
    exact_tolerance: float
    results: dict[str, dict[str, dict[str, dict[str, MeasureCell]]]]

    @property
    def variants(self) -> list[str]:
        """The models measured, in order (the padding modes for older summaries)."""
        return self.model_names or self.padding_modes

    def cell(self, padding: str, shift_mode: str, shift: int, measure: str) -> MeasureCell:
        """The results of ``measure`` for ``padding``, ``shift_mode`` and ``shift`` pixels."""
        return self.results[padding][shift_mode][str(shift)][measure]
