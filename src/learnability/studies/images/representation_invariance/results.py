"""What the representation-invariance study measures: invariance scores per model and angle."""

from __future__ import annotations

from typing import ClassVar

from pydantic import computed_field

from learnability.analysis import Estimate
from learnability.studies import ResultsModel
from learnability.studies.images.results import ImageStudyResults

__all__ = ["GapEntry", "NotebookNumbers", "PairedTest", "RepresentationInvarianceResults", "ScoreEntry"]


class PairedTest(ResultsModel):
    """A paired comparison over test images (``analysis.paired_test``).

    Attributes:
        t_pvalue, wilcoxon_pvalue: p-values of the paired t and Wilcoxon signed-rank tests.
        cohens_dz: mean paired difference over its standard deviation.
        t_statistic: the paired t statistic.
        mean_difference: mean of the paired differences with its 95% t-interval (per-image values
            not kept).
    """

    t_pvalue: float
    wilcoxon_pvalue: float
    cohens_dz: float
    t_statistic: float
    mean_difference: Estimate


class ScoreEntry(PairedTest):
    """One model and one angle: the invariance score ``1 - mean(pair) / mean(control)``.

    The paired test is one-sided: "pair distance < control distance" over images.

    Attributes:
        score_images: the score with its 95% paired bootstrap interval over images (per-image
            distances averaged over seeds).
        score_seeds: the score per seed, mean with a 95% t-interval over seeds.
        mean_pair, mean_control: mean distances of the pairs and of the controls.
    """

    score_images: Estimate
    score_seeds: Estimate
    mean_pair: float
    mean_control: float

    @computed_field
    @property
    def score(self) -> float:
        return self.score_images.mean

    @computed_field
    @property
    def score_ci_images(self) -> list[float]:
        return list(self.score_images.ci)


class GapEntry(PairedTest):
    """One angle: score(rotation) - score(none) on the same images.

    The paired test (two-sided) compares each image's pair distance in units of its model's mean
    control distance.

    Attributes:
        gap_images: the gap with its 95% paired bootstrap interval over images.
        gap_seeds: the gap per seed, mean with a 95% t-interval over seeds.
    """

    gap_images: Estimate
    gap_seeds: Estimate

    @computed_field
    @property
    def gap(self) -> float:
        return self.gap_images.mean

    @computed_field
    @property
    def gap_ci_images(self) -> list[float]:
        return list(self.gap_images.ci)


class NotebookNumbers(ResultsModel):
    """What the solved notebook's pairing would print, averaged over the seeds' models."""

    mean_pair: float
    mean_control: float
    score: float
    self_pairs: int


class RepresentationInvarianceResults(ImageStudyResults):
    """The summary of a representation-invariance run.

    Attributes:
        weights_source: where the models come from, in words.
        seeds: models per variant.
        layer: the module whose output is the representation.
        angles: labels of the pair sets (``"90"``, ..., ``"random"``).
        rotation_degrees: the augmentation's angle range.
        reload_max_abs_diff: largest output difference trained vs reloaded (None when loaded).
        test_accuracy: per variant, test accuracy over seeds (None when loaded).
        scores: ``variant -> angle label -> ScoreEntry``.
        comparison: ``angle label -> GapEntry``.
        notebook: per variant, the notebook pairing's numbers.
        notebook_batch_size: the notebook's batch size.
    """

    TRAIN_TAG: ClassVar[str] = "train"  # metrics tag of the training loop
    # paired, control (variants, angles, seeds, images); labels; example (1, H, W); rotated (angles, 1, H, W)
    DISTANCES: ClassVar[str] = "distances"
    SCORES_TABLE: ClassVar[str] = "scores"  # one row per (model, angle)

    weights_source: str
    seeds: int
    layer: str
    angles: list[str]
    rotation_degrees: tuple[float, float]
    reload_max_abs_diff: float | None
    test_accuracy: dict[str, Estimate] | None
    scores: dict[str, dict[str, ScoreEntry]]
    comparison: dict[str, GapEntry]
    notebook: dict[str, NotebookNumbers]
    notebook_batch_size: int
