"""What the kernel-features study measures: exact-map errors, the Taylor-map error, the RFF rate."""

from __future__ import annotations

from typing import ClassVar

from pydantic import computed_field

from learnability.analysis import Estimate
from learnability.studies import ResultsModel, StudyResults

__all__ = ["KernelFeaturesResults", "OrderNeeded"]


class OrderNeeded(ResultsModel):
    """The truncation order the Taylor map needs within ``|x| / sigma <= radius``.

    Attributes:
        radius: the limit ``r`` on ``max(x, x') / sigma``.
        measured: first order whose largest grid error is at most the tolerance (None: none of
            the orders swept).
        poisson: the same from the formula ``P(Poisson(r^2) > n)``.
        error_at_lab_order: the largest grid error there at the lab's order.
    """

    radius: float
    measured: int | None
    poisson: int | None
    error_at_lab_order: float


class KernelFeaturesResults(StudyResults):
    """The summary of a kernel-features run.

    Attributes:
        quadratic_*: the quadratic kernel against its explicit map (relative error: to max |K|).
        gaussian_dd_*: the d-D truncated Taylor map of the Gaussian kernel.
        taylor_lab_*: the lab's check on random pairs (order ``lab_terms - 1``), its pass rate
            with ``np.allclose``, the worst pair; ``taylor_max_order_pass_fraction`` the same
            check at ``max_order``.
        taylor_grid_*: the grid sweep: the largest error at the lab's order and where it is
            (``max(x, x') / sigma`` and ``|x - x'| / sigma``).
        taylor_formula_max_gap: largest gap between the measured error and the Poisson formula.
        taylor_order_needed: per radius (keyed by the formatted radius), the order needed.
        rff_slope, rff_max_abs_slope: log-log slopes of the RMS and the max error against D
            (mean over seeds, 95% CI); ``rff_slope_expected`` is -1/2;
            ``rff_max_minus_rms_slope`` their difference, paired by seed.
        rff_ratio_to_theory: measured / predicted RMS (per seed, averaged over D).
    """

    TAYLOR_PAIRS: ClassVar[str] = "taylor_pairs"  # x, x_prime, kernel, error_lab, error_max
    TAYLOR_SWEEP: ClassVar[str] = "taylor_sweep"  # the TaylorSweep arrays and the radii
    RFF_TABLE: ClassVar[str] = "rff"  # one row per (seed, D): rms, max_abs, predicted_rms

    quadratic_dim: int
    quadratic_feature_dim: int
    quadratic_max_abs_error: float
    quadratic_max_rel_error: float
    gaussian_dd_max_abs_error: float
    gaussian_dd_feature_dim: int
    taylor_lab_order: int
    taylor_lab_pass_fraction: float
    taylor_max_order_pass_fraction: float
    taylor_lab_max_abs_error: float
    taylor_lab_worst_x_over_sigma: float
    taylor_lab_worst_delta_over_sigma: float
    taylor_grid_max_error_at_lab_order: float
    taylor_grid_worst_x_over_sigma: float
    taylor_grid_worst_delta_over_sigma: float
    taylor_formula_max_gap: float
    taylor_order_needed: dict[str, OrderNeeded]
    rff_n_features: list[int]
    rff_slope: Estimate
    rff_slope_expected: float
    rff_max_abs_slope: Estimate
    rff_max_minus_rms_slope: Estimate
    rff_rms_at_max_features: Estimate
    rff_predicted_rms_at_max_features: float
    rff_ratio_to_theory: Estimate

    @computed_field
    @property
    def rff_slope_ci_contains_expected(self) -> bool:
        """The RMS slope's interval contains -1/2 (False without an interval)."""
        return bool(self.rff_slope.low <= self.rff_slope_expected <= self.rff_slope.high)
