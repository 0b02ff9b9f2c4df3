"""What the polynomial-regression study measures: errors by degree, regularisation, landscapes,
honest selection and OLS three ways.

MSEs and coefficient sizes span many decades, so their estimates are geometric means with a 95%
CI computed in log space (``analysis.geometric_mean_ratio`` of the values).
"""

from __future__ import annotations

from typing import ClassVar

from learnability.analysis import Estimate
from learnability.studies import ResultsModel, StudyResults

__all__ = [
    "AutogradCheck",
    "Decay",
    "LinearInTheta",
    "MatmulTiming",
    "MoreData",
    "OLSThreeWays",
    "PolynomialRegressionResults",
    "Scenario",
    "TorchFits",
]


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


class AutogradCheck(ResultsModel):
    """Lab 3: autograd's gradients of ``Q = 3 a^3 - b^2`` against ``9 a^2`` and ``-2 b``."""

    a: list[float]
    b: list[float]
    grad_a: list[float]
    grad_b: list[float]
    expected_a: list[float]
    expected_b: list[float]
    max_abs_error: float
    exact: bool


class MatmulTiming(ResultsModel):
    """Lab 3: milliseconds per ``size x size`` float32 matmul; ``cuda_ms`` None without CUDA."""

    size: int
    repeats: int
    cpu_threads: int
    cpu_ms: float
    cuda_ms: float | None
    cuda_device: str | None


class Scenario(ResultsModel):
    """Tutorial 3's ranking exercise: one scenario and its best fit's test MSE on ``[0, 1]``.

    Attributes:
        n_train, noise_sd, x_max: the scenario's points, noise and range ``[0, x_max]``.
        known_form: the form ``sin(k x)`` is known (E): ``k`` is fitted, else a polynomial whose
            degree is chosen by leave-one-out on the scenario's points.
        test_mse: geometric mean over draws (95% CI) of the MSE against ``sin(2 pi x)``.
        median_degree, median_k: medians over draws of the chosen degree / fitted ``k``.
    """

    name: str
    n_train: int
    noise_sd: float
    x_max: float
    known_form: bool
    test_mse: Estimate
    median_degree: float | None
    median_k: float | None


class LinearInTheta(ResultsModel):
    """Tutorial 3's f1, f2, f3: largest superposition errors in ``theta`` and in ``x``; fits' MSE."""

    theta_superposition_error: dict[str, float]
    x_superposition_error: dict[str, float]
    train_mse: dict[str, float]


class TorchFits(ResultsModel):
    """The tutorial's fits in torch against the stable solver: per degree, the largest prediction
    gap on ``[0, 1]`` and the monomial design's condition number."""

    max_prediction_gap: list[float]
    condition_number: list[float]


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
        autograd, matmul: Lab 3's autograd check and matmul timing; scenarios: Tutorial 3's
            ranking exercise, best first; linear_in_theta, torch_fits: Tutorial 3's f1/f2/f3 and
            its fits in torch (None in summaries written before they were measured).
    """

    DEGREE_SWEEP_TABLE: ClassVar[str] = "degree_sweep"  # one row per (seed, degree)
    MORE_DATA_TABLE: ClassVar[str] = "more_data"  # one row per (seed, n, degree)
    WEIGHT_DECAY_TABLE: ClassVar[str] = "weight_decay"  # one row per (seed, degree, lambda)
    LANDSCAPES_TABLE: ClassVar[str] = "landscapes"  # one row per loss
    SELECTION_TABLE: ClassVar[str] = "selection"  # one row per split
    FIRST_SEED: ClassVar[str] = "first_seed"  # first data set, grid and fits on it
    LANDSCAPE_MAPS: ClassVar[str] = "landscape_maps"  # a, b grids and the MSE, L1, L_pmax maps
    SCENARIOS_TABLE: ClassVar[str] = "scenarios"  # one row per (draw, scenario): test MSE, degree, k

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
    autograd: AutogradCheck | None = None
    matmul: MatmulTiming | None = None
    scenarios: list[Scenario] | None = None
    linear_in_theta: LinearInTheta | None = None
    torch_fits: TorchFits | None = None
