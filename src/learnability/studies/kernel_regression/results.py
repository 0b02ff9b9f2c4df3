"""What the kernel-regression study measures: the three line fits, and kernel ridge against a line."""

from __future__ import annotations

from typing import ClassVar

from learnability.analysis import Estimate
from learnability.studies import ResultsModel, StudyResults

__all__ = ["KernelRegressionResults", "PrimalDual"]


class PrimalDual(ResultsModel):
    """Lab 2's primal = dual identity, measured (relative gaps).

    Attributes:
        wide_n, wide_p: the wide problem (``P > N``: ``X X^T`` invertible).
        wide_dual_vs_pinv: ``X^T (X X^T)^-1 y`` against ``pinv(X) y``.
        wide_prediction_gap: ``k(z, X) K^-1 y`` (linear kernel) against ``z^T pinv(X) y``.
        tall_n, tall_p: exercise 1's design ``[x, 1]`` (``N > P``).
        tall_dual_gram_rank: rank of its ``X X^T`` (``N x N``; ``P < N``: singular).
        tall_dual_pinv_vs_primal: ``X^T (X X^T)^+ y`` against ``(X^T X)^-1 X^T y``.
    """

    wide_n: int
    wide_p: int
    wide_dual_vs_pinv: float
    wide_prediction_gap: float
    tall_n: int
    tall_p: int
    tall_dual_gram_rank: int
    tall_dual_pinv_vs_primal: float


class KernelRegressionResults(StudyResults):
    """The summary of a kernel-regression run; every estimate is a mean over ``seeds`` data sets
    with a 95% CI.

    Attributes:
        seeds: independent data sets (exercise 1) and noise draws + splits (exercise 2).
        true_slope, true_intercept: exercise 1's line; ``no_intercept_slope_limit`` the
            population limit of the slope fitted without an intercept.
        ridge_alpha, ridge_minus_ols_slope_max: the ridge penalty and the largest slope change it
            makes over the data sets.
        gram_*: the Gram matrix at the lab's sigma on the periodic grid: extreme eigenvalues and
            the numerical rank (eigenvalues above ``n eps lambda_max``).
        alpha0_singular_fits, alpha0_fits, cv_fits: CV fits with a singular ``K + alpha I``, with
            alpha = 0, and in all (over bandwidths, folds and seeds).
        cv_alpha_positive_fraction, chosen_sigma, chosen_alpha: the CV choices, per seed.
        noise_variance: the variance of the uniform noise (the floor of any model's test MSE).
        krr_beats_linear_fraction, linear_over_krr_test_mse: kernel ridge against the line.
        no_intercept_*, with_intercept_*, ridge_*: exercise 1's fits (slope, intercept, train
            and test MSE; the no-intercept fit has no intercept).
        test_mse_krr, test_mse_krr_lab_sigma, test_mse_linear, cv_mse: exercise 2's held-out
            MSEs (kernel ridge with CV sigma and alpha; at the lab's sigma; linear) and the CV MSE.
    """

    LINEAR_TABLE: ClassVar[str] = "linear"  # one row per seed: the three fits
    LINEAR_DATA: ClassVar[str] = "linear_data"  # x, y, path_alphas, path_slope, path_intercept, s_xx
    PERIODIC_TABLE: ClassVar[str] = "periodic"  # one row per seed: PeriodicFit.row()
    PERIODIC_FIRST: ClassVar[str] = "periodic_first"  # the first seed's data, CV grid, fit and Gram matrix

    seeds: int
    true_slope: float
    true_intercept: float
    no_intercept_slope_limit: float
    ridge_alpha: float
    ridge_minus_ols_slope_max: float
    gram_sigma: float
    gram_min_eigenvalue: float
    gram_max_eigenvalue: float
    gram_numerical_rank: int
    alpha0_singular_fits: int
    alpha0_fits: int
    cv_fits: int
    cv_alpha_positive_fraction: float
    chosen_sigma: list[float]
    chosen_alpha: list[float]
    noise_variance: float
    krr_beats_linear_fraction: float
    linear_over_krr_test_mse: Estimate
    no_intercept_slope: Estimate
    no_intercept_train_mse: Estimate
    no_intercept_test_mse: Estimate
    with_intercept_slope: Estimate
    with_intercept_intercept: Estimate
    with_intercept_train_mse: Estimate
    with_intercept_test_mse: Estimate
    ridge_slope: Estimate
    ridge_intercept: Estimate
    ridge_train_mse: Estimate
    ridge_test_mse: Estimate
    test_mse_krr: Estimate
    test_mse_krr_lab_sigma: Estimate
    test_mse_linear: Estimate
    cv_mse: Estimate
    primal_dual: PrimalDual | None = None  # None in summaries written before it was measured
