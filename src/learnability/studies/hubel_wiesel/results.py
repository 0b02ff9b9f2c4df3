"""What the hubel-wiesel study measures: exactness errors per group, 1-NN accuracy on digits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np
from pydantic import computed_field

from learnability.analysis import Estimate
from learnability.studies import ResultsModel, StudyResults
from learnability.studies.hubel_wiesel.config import GroupName

__all__ = ["DigitsGroup", "DigitsResults", "HubelWieselResults", "KnnAccuracy", "SymmetryErrors", "SyntheticGroup"]


class SymmetryErrors(ResultsModel):
    """Relative max errors ``max|a - b| / max|b|`` under a set of group elements.

    Each measure is the worst case over the tested elements and images; its ``*_mean`` twin is
    the mean over elements (of the per-element worst over images).

    Attributes:
        equivariance: simple cells, ``s(g x)`` against the permuted responses ``s(x)[..., perm_g]``.
        unpermuted: baseline, ``s(g x)`` against ``s(x)`` (no permutation): must be far from 0.
        wrong_group: baseline, complex cells pooled over the wrong group (first nonlinearity).
        invariance_threshold, invariance_sigmoid: complex cells ``c(g x)`` against ``c(x)`` per
            nonlinearity (None for a nonlinearity the run did not check).
    """

    equivariance: float
    equivariance_mean: float
    unpermuted: float
    unpermuted_mean: float
    wrong_group: float
    wrong_group_mean: float
    invariance_threshold: float | None = None
    invariance_threshold_mean: float | None = None
    invariance_sigmoid: float | None = None
    invariance_sigmoid_mean: float | None = None

    def invariance(self, nonlinearity: str) -> float:
        """The complex-cell invariance error of one nonlinearity (``"threshold"``/``"sigmoid"``)."""
        return getattr(self, f"invariance_{nonlinearity}")

    @classmethod
    def worst(cls, errors: Sequence[SymmetryErrors]) -> Self:
        """The worst case of each measure over several measurements (e.g. template draws)."""
        fields = errors[0].model_dump(exclude_none=True)
        return cls(**{k: max(getattr(e, k) for e in errors) for k in fields})


class SyntheticGroup(SymmetryErrors):
    """Exactness on the synthetic (float64 noise) images for one group.

    Attributes:
        order, wrong_order: the orders of the group and of its wrong counterpart.
        n_elements_tested: non-identity elements applied (all of them, or a random sample).
    """

    order: int
    wrong_order: int
    n_elements_tested: int


class KnnAccuracy(ResultsModel):
    """1-NN test accuracy of one representation, mean over template draws with a 95% CI."""

    original: Estimate  # the test digits as they are
    transformed: Estimate  # each test digit moved by a random non-identity element


class DigitsGroup(ResultsModel):
    """The digits (float32) for one group: exactness and discriminability.

    Attributes:
        knn: per representation (``parts.REPRESENTATIONS``), accuracy on original and
            transformed test digits.
        knn_transformed_minus_original: the per-draw difference (0 for exactly invariant features).
        exact: exactness on ``n_exact`` test digits, every non-identity element, worst over draws.
    """

    order: int
    knn: dict[str, KnnAccuracy]
    knn_transformed_minus_original: dict[str, Estimate]
    exact: SymmetryErrors


class DigitsResults(ResultsModel):
    """The digits part: the data's size and one entry per group studied (None if not studied)."""

    n_train: int
    n_test: int
    image_shape: tuple[int, int]
    flip: DigitsGroup | None = None
    rotation90: DigitsGroup | None = None
    shift: DigitsGroup | None = None

    def group(self, name: GroupName) -> DigitsGroup | None:
        """The entry of group ``name``."""
        return getattr(self, name)


class HubelWieselResults(StudyResults):
    """The summary of a hubel-wiesel run.

    Attributes:
        synthetic: exactness on float64 noise images, per group (in the config's order).
        digits: exactness and 1-NN accuracy on the digits (None when disabled).
        eps_float64, eps_float32: machine epsilons, the scale of "exact up to rounding".
    """

    EXAMPLE: ClassVar[str] = "example_{}"  # .format(group): one test digit, its cells, per group

    synthetic: dict[GroupName, SyntheticGroup]
    digits: DigitsResults | None = None

    @computed_field
    @property
    def eps_float64(self) -> float:
        return float(np.finfo(np.float64).eps)

    @computed_field
    @property
    def eps_float32(self) -> float:
        return float(np.finfo(np.float32).eps)
