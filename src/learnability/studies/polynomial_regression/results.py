"""What the polynomial-regression study measures: errors by degree, regularisation, landscapes,
honest selection and OLS three ways.

MSEs and coefficient sizes span many decades, so their estimates are geometric means with a 95%
CI computed in log space (``analysis.geometric_mean_ratio`` of the values).
"""

from __future__ import annotations

from typing import ClassVar

from learnability.analysis import Estimate
from learnability.studies import ResultsModel, StudyResults

__all__ = ["Decay", "MoreData", "OLSThreeWays", "PolynomialRegressionResults"]


class MoreData(ResultsModel):
    """One degree fitted on the fewest and on the most training points (errors on fresh points)."""

    degree: int
    n_small: int
    n_large: int
    eval_mse_small: Estimate
    eval_mse_large: Estimate
    max_abs_coef_small: Estimate
    max_abs_coef_large: Estimate


class Decay(ResultsModel):
    """The top weight-decay degree at one lambda: error on fresh points and largest coefficient."""

    eval_mse: Estimate
    max_abs_coef: Estimate


class OLSThreeWays(ResultsModel):
    """Lab 3's OLS solved by the closed form, gradient descent and autograd.

    Attributes:
        max_abs_difference: the largest ``max |w_a - w_b|`` over the pairs in ``pairwise``.
        closed_vs_svd: closed form (normal equations) against the SVD solution.
        kappa_raw, kappa_centred: condition numbers of the GD Hessian, raw design with its bias
            column and centred features; steps_needed: GD steps to machine precision for each.
        raw_gd_max_error: GD on the raw design after the same steps, against the closed form.
        lambda_max_centred: top Hessian eigenvalue of the centred features (GD uses 1 / it).
        train_mse, bias: of the closed-form solution.
    """

    max_abs_difference: float
    pairwise: dict[str, float]
    closed_vs_svd: float
    kappa_raw: float
    kappa_centred: float
    steps_needed: dict[str, float]
    raw_gd_max_error: float
    lambda_max_centred: float
    train_mse: float
    bias: float


class PolynomialRegressionResults(StudyResults):
    """The summary of a polynomial-regression run.

    Attributes:
        train_mse_by_degree, test_mse_by_degree: one estimate per degree 0..max_degree (over data sets).
        best_test_degree: the degree of the lowest test MSE; interpolation_degree: the first
            degree whose median train MSE is at rounding level (None if none).
        max_abs_coef_by_degree, condition_number_by_degree: medians over data sets.
        legendre_vs_monomial_max_gap: largest relative change of a fit refitted in a Legendre
            basis; legendre_gap_bound: eps x the worst condition number (what rounding allows).
        more_data: per 'more data' degree; decay_none / decay_tutorial: the top decay degree at
            lambda = 0 and at the tutorial's lambda.
        landscape_*: loop vs vectorised gap, midpoint convexity of every loss, largest gap;
            ols_line: least-squares ``(a, b)`` of the landscape's line.
        selection_*: per split the chosen degree and lambda; validation and test MSE of the
            chosen models and their paired ratio.
        ols: OLS three ways.
    """

    DEGREE_SWEEP_TABLE: ClassVar[str] = "degree_sweep"  # one row per (seed, degree)
    MORE_DATA_TABLE: ClassVar[str] = "more_data"  # one row per (seed, n, degree)
    WEIGHT_DECAY_TABLE: ClassVar[str] = "weight_decay"  # one row per (seed, degree, lambda)
    LANDSCAPES_TABLE: ClassVar[str] = "landscapes"  # one row per loss
    SELECTION_TABLE: ClassVar[str] = "selection"  # one row per split
    FIRST_SEED: ClassVar[str] = "first_seed"  # first data set, grid and fits on it
    LANDSCAPE_MAPS: ClassVar[str] = "landscape_maps"  # a, b grids and the MSE, L1, L_pmax maps

    noise_variance: float
    n_train: int
    train_mse_by_degree: list[Estimate]
    test_mse_by_degree: list[Estimate]
    best_test_degree: int
    interpolation_degree: int | None
    max_abs_coef_by_degree: list[float]
    condition_number_by_degree: list[float]
    legendre_vs_monomial_max_gap: float
    legendre_gap_bound: float
    more_data: list[MoreData]
    decay_degree: int
    tutorial_lambda: float
    decay_none: Decay
    decay_tutorial: Decay
    landscape_loop_vs_vectorised: float
    landscape_all_convex: bool
    landscape_max_gap: float
    ols_line: tuple[float, float]
    selection_degrees: list[int]
    selection_lambdas: list[float]
    selection_val_mse: Estimate
    selection_test_mse: Estimate
    selection_test_over_val: Estimate
    ols: OLSThreeWays
