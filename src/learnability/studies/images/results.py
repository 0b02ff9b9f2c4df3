"""What every image study reports about its data, and the estimate of a mean over test images."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

from learnability.analysis import Estimate, EstimateKind, mean_estimate
from learnability.data import install_hint
from learnability.studies import StudyContext, StudyResults
from learnability.studies.images.data import ImageSplits

__all__ = ["ImageStudyResults", "image_mean", "record_dataset"]


class ImageStudyResults(StudyResults):
    """The data facts every image study's summary starts with (``ImageSplits.info()``).

    Attributes:
        dataset: the data set loaded (``"digits"``, ``"mnist"``, ...).
        dataset_description: one sentence for the report (what was loaded and why).
        dataset_root: the folder its files were read from (``""``: the bundled digits).
        n_train, n_test: numbers of training and test images.
        image_shape: ``[C, H, W]``.
        normalizer_mean, normalizer_std: per-channel statistics of the training images.
    """

    dataset: str
    dataset_description: str
    dataset_root: str = ""  # absent from summaries written before it was recorded
    n_train: int
    n_test: int
    image_shape: list[int]
    normalizer_mean: list[float]
    normalizer_std: list[float]


def image_mean(values: Any, kind: EstimateKind = "real") -> Estimate:
    """Mean over test images with its Student-t 95% interval, without the per-image values.

    The per-image values (hundreds per estimate) stay in the run's arrays artifact; keeping them in
    ``summary.json`` too would multiply its size for nothing. ``kind``: the quantity's domain.
    """
    return dataclasses.replace(mean_estimate(values, kind=kind), values=())


def record_dataset(splits: ImageSplits, ctx: StudyContext) -> None:
    """Write which data set the run uses, from where and why into the run's ``provenance.json``;
    when 'auto' fell back to the offline digits, say on stderr (one line) how to get real images."""
    if splits.name == "digits" and "apt-get install" in splits.description:
        print(f"note: images: the offline digits; {install_hint('fashion-mnist')}", file=sys.stderr)
    ctx.writer.provenance["dataset"] = {
        "name": splits.name,
        "root": splits.root,
        "description": splits.description,
    }
