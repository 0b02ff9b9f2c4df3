"""What the kernel-pca study measures: separability of the first component, per projection."""

from __future__ import annotations

from typing import ClassVar

from pydantic import computed_field

from learnability.analysis import Estimate
from learnability.studies import ResultsModel, StudyResults

__all__ = ["BestGamma", "KernelPCAResults", "LargestGamma", "Separability", "SmallestGamma", "Worse"]


class Separability(ResultsModel):
    """How well a 1-D projection separates the two moons.

    Attributes:
        threshold_accuracy: best single threshold, either orientation (optimistic: chosen on the
            same points).
        fisher_ratio: ``(m1 - m0)^2 / (s1^2 + s0^2)``.
        cv: accuracy of a standardised logistic regression, mean over CV repeats with a 95% CI.
    """

    threshold_accuracy: float
    fisher_ratio: float
    cv: Estimate

    @computed_field
    @property
    def cv_accuracy(self) -> float:
        return self.cv.mean

    @computed_field
    @property
    def cv_low(self) -> float:
        return self.cv.low

    @computed_field
    @property
    def cv_high(self) -> float:
        return self.cv.high


class BestGamma(Separability):
    """Separability at the best gamma, with the kernel diagnostics there."""

    abs_corr_with_pca: float
    eigenvalue_ratio: float
    mean_off_diagonal_kernel: float


class Worse(ResultsModel):
    """The first gamma above the top range whose accuracy drops."""

    gamma: float
    cv_accuracy: float
    neighbour_kernel: float
    fisher_ratio: float


class SmallestGamma(ResultsModel):
    """The smallest gamma: how close kernel PCA is to PCA there."""

    gamma: float
    cv_accuracy: float
    abs_corr_with_pca: float
    mean_off_diagonal_kernel: float


class LargestGamma(ResultsModel):
    """The largest gamma: how close the kernel is to the identity there."""

    gamma: float
    cv_accuracy: float
    eigenvalue_ratio: float
    mean_off_diagonal_kernel: float
    fisher_ratio: float


class KernelPCAResults(StudyResults):
    """The summary of a kernel-pca run.

    Attributes:
        pca: separability of linear PCA's first component.
        best_gamma, best: the gamma with the best CV accuracy (ties: larger Fisher ratio).
        reference_gamma, reference: the blog post's gamma.
        top_gamma_range, top_gamma_count: the gammas within ``accuracy_tie`` of the best.
        onset_gamma: the smallest of them.
        first_worse_above: the first gamma above them that is worse (None if none).
        smallest_gamma, largest_gamma: the ends of the grid.
        fisher_gain_over_pca: best Fisher ratio / PCA's.
    """

    SWEEP_TABLE: ClassVar[str] = "sweep"  # one row per gamma
    PROJECTIONS: ClassVar[str] = "projections"  # X, labels, pca, kpca_best, kpca_reference

    n_samples: int
    neighbour_spacing: float
    moon_gap: float
    pca: Separability
    pca_explained_variance_ratio: list[float]
    best_gamma: float
    best: BestGamma
    reference_gamma: float
    reference: Separability
    top_gamma_range: tuple[float, float]
    top_gamma_count: int
    onset_gamma: float
    first_worse_above: Worse | None
    last_top_neighbour_kernel: float
    smallest_gamma: SmallestGamma
    largest_gamma: LargestGamma
    fisher_gain_over_pca: float
    # Nested CV (None in summaries written before it was measured): gamma chosen inside each outer
    # training fold, kernel PCA fitted on it, the outer test fold projected with transform.
    nested_cv: Estimate | None = None
    nested_gammas: list[float] | None = None
