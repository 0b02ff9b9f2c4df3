"""What the deep-sets study measures: the lab's layer check, and per model the learned set task."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import computed_field

from learnability.analysis import Estimate
from learnability.studies import ResultsModel, StudyResults

__all__ = ["DeepSetsResults", "LabCheckResults", "LayerErrors", "MseRatio", "SetModelResults"]


class LayerErrors(ResultsModel):
    """Equivariance of a set map on one set under many permutations (``parts.lab_layer_errors``).

    Attributes:
        equivariance: ``max_p max |f(x[p]) - f(x)[p]| / max |f(x)|``.
        sorted: the lab's test, the same with both sides sorted over the elements.
    """

    equivariance: float
    sorted: float


class LabCheckResults(ResultsModel):
    """The lab's check, in float64.

    Attributes:
        layer: the lab's layer ``sigma(x (lambda I + gamma 1 1^T))``.
        perturbed_layer: the same plus ``delta R`` (a generic layer, must be caught).
        deep_sets_invariance: relative max change of an untrained Deep Sets model's output.
    """

    layer: LayerErrors
    perturbed_layer: LayerErrors
    deep_sets_invariance: float


class SetModelResults(ResultsModel):
    """One model trained on the set task: its rate, and estimates over the members that did not
    diverge (None when every member diverged).

    Attributes:
        chosen_lr, lr_at_edge: the sweep's rate and whether it lies at an edge of the grid.
        n_members, n_diverged: members trained, and those that diverged (left out of estimates).
        n_collapsed: members no better than predicting the mean (kept in the estimates).
        test_mse: MSE on the test sets of the training size.
        relative_test_mse: the same divided by the variance of the test targets.
        invariance_error: mean relative change of the output on permuted test sets.
        relative_mse_by_size: relative test MSE per set size (``str(size)``; the MLP only at the
            training size).
    """

    label: str
    n_params: int
    chosen_lr: float
    lr_at_edge: bool
    n_members: int
    n_diverged: int
    n_collapsed: int = 0
    test_mse: Estimate | None
    relative_test_mse: Estimate | None
    invariance_error: Estimate | None
    relative_mse_by_size: dict[str, Estimate | None]


class MseRatio(ResultsModel):
    """MLP / Deep Sets ratio of geometric-mean relative test MSE (Welch interval in log space);
    ``ratio``, ``low``, ``high`` are the estimate's numbers, written for readers of summary.json."""

    estimate: Estimate

    @computed_field
    @property
    def ratio(self) -> float:
        return self.estimate.mean

    @computed_field
    @property
    def low(self) -> float:
        return self.estimate.low

    @computed_field
    @property
    def high(self) -> float:
        return self.estimate.high


class DeepSetsResults(StudyResults):
    """The summary of a deep-sets run.

    Attributes:
        lab: the lab's check.
        target, train_size: the set function learned and the training set size.
        test_variance: the variance of the test targets at the training size.
        models: per model key (``deep_sets_<pooling>`` ..., ``mlp``), in training order.
        mlp_over_deep_sets_mse_ratio: per Deep Sets model with surviving members.
        eps_float64, eps_float32: machine epsilons, the scale of "exact up to rounding".
    """

    LR_SWEEP: ClassVar[str] = "lr_sweep_{}"  # .format(model): the table of every rate tried
    INVARIANCE: ClassVar[str] = "invariance_{}"  # .format(model): per_set (K, N) relative changes
    SWEEP_TAG: ClassVar[str] = "{}/sweep"  # metric tag of a model's sweep (round_tag adds /extN)
    FINAL_TAG: ClassVar[str] = "{}/final"  # metric tag of a model's reported members
    MLP: ClassVar[str] = "mlp"  # the key of the baseline in ``models``
    #: A member whose relative test MSE is at least this is no better than predicting the mean
    #: (counted in ``n_collapsed``).
    COLLAPSED: ClassVar[float] = 0.95

    lab: LabCheckResults
    target: str
    train_size: int
    test_variance: float
    models: dict[str, SetModelResults]
    mlp_over_deep_sets_mse_ratio: dict[str, MseRatio]

    @computed_field
    @property
    def eps_float64(self) -> float:
        return float(np.finfo(np.float64).eps)

    @computed_field
    @property
    def eps_float32(self) -> float:
        return float(np.finfo(np.float32).eps)
