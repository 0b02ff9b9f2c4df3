"""What the implicit-bias study measures: GD's limits and rates against their closed forms."""

from __future__ import annotations

from typing import ClassVar

from learnability.analysis import Estimate
from learnability.studies import ResultsModel, StudyResults

__all__ = ["ImplicitBiasResults", "StepSize"]


class StepSize(ResultsModel):
    """GD on the first over-determined problem at ``lr = fraction * 2 / lambda_max``.

    Attributes:
        warned: the library warned that ``lr`` is above the stability bound.
        final_loss, final_sq_dist: the loss and ``||w_T - w*||^2`` after the last step.
        measured_factor: per-step factor of ``||w_t - w*||`` fitted on the curve;
            predicted_factor: ``max_i |1 - lr lambda_i|``; top_mode_factor: ``|1 - lr lambda_max|``.
    """

    fraction: float
    lr: float
    warned: bool
    final_loss: float
    final_sq_dist: float
    measured_factor: float
    predicted_factor: float
    top_mode_factor: float


class ImplicitBiasResults(StudyResults):
    """The summary of an implicit-bias run (estimates: mean and 95% CI over ``seeds`` problems).

    Attributes:
        over_*: the over-determined (lab's) problems: Hessian's top eigenvalue, the stability
            bound ``2 / lambda_max``, the lab's lr as a fraction of it (largest), the squared
            distance to ``w*`` after the lab's steps and (largest) at the end, the predicted and
            measured rates and their largest relative gap.
        under_*: the under-determined problems: rates, the largest distances of GD's limits to
            ``pinv(X) y`` (from 0) and to the projection formula (from ``w0``), the distance of
            the limit from ``w0`` to ``pinv(X) y``, null-space components, norms, the Pythagoras
            gap and the largest residual; the lab's normal equations: the largest rank of
            ``X^T X`` (singular: below n), the smallest relative residual and distance to
            ``pinv(X) y`` of ``inv(X^T X) X^T y`` (inf where inv refuses) and the largest relative
            distance of the lab's ``inv(X^T X + eps I) X^T y``.
        step_size: one entry per step-size fraction; step_bound_first, lambda_max_first: the
            first over-determined problem's bound and top eigenvalue (the step-size runs use it).
    """

    OVER: ClassVar[str] = "over"  # first over-determined problem: weights, w_star, sq_dist
    UNDER: ClassVar[str] = "under"  # first under-determined problem: trajectories, limits, distances
    STEP_SIZE: ClassVar[str] = "step_size"  # fractions (F,), losses (F, steps + 1)
    UNDER_SEEDS_TABLE: ClassVar[str] = "under_seeds"  # one row per under-determined problem

    seeds: int
    over_lambda_max: Estimate
    over_step_bound: Estimate
    over_lr_over_bound: float
    over_sq_dist_lab_steps: Estimate
    over_sq_dist_final_max: float
    over_rho: Estimate
    over_measured_rate: Estimate
    over_rate_rel_gap_max: float
    under_rho: Estimate
    under_measured_rate: Estimate
    under_rate_rel_gap_max: float
    under_dist_zero_to_pinv_max: float
    under_dist_w0_to_proj_max: float
    under_dist_w0_to_pinv: Estimate
    under_null_component_w0: Estimate
    under_null_component_moved_max: float
    under_null_component_zero_max: float
    under_norm_pinv: Estimate
    under_norm_gd_w0: Estimate
    under_pythagoras_gap_max: float
    under_residual_max: float
    # None in summaries written before they were measured
    under_gram_rank_max: int | None = None
    under_normal_eq_residual_min: float | None = None
    under_normal_eq_dist_min: float | None = None
    under_lab_ridge_dist_max: float | None = None
    step_size: list[StepSize]
    step_bound_first: float
    lambda_max_first: float
