"""Linear, ridge and kernel ridge regression (Lab 2, exercises 1 and 2).

``config.py`` (settings), ``linear.py`` (exercise 1: line fits), ``periodic.py`` (exercise 2:
kernel ridge with cross-validation), ``run.py`` (both exercises over seeds), ``results.py`` (what
is measured) and ``report.py`` (the report from those results).
"""

from learnability.studies import Study, register
from learnability.studies.kernel_regression.config import (
    SMOKE,
    KernelRegressionConfig,
    LinearSection,
    PeriodicSection,
)
from learnability.studies.kernel_regression.linear import fit_line, linear_experiment, no_intercept_slope_limit
from learnability.studies.kernel_regression.periodic import (
    CVResult,
    PeriodicFit,
    cross_validate_kernel_ridge,
    periodic_data,
    periodic_experiment,
)
from learnability.studies.kernel_regression.report import report
from learnability.studies.kernel_regression.results import KernelRegressionResults
from learnability.studies.kernel_regression.run import run

__all__ = [
    "CVResult",
    "KernelRegressionConfig",
    "KernelRegressionResults",
    "LinearSection",
    "PeriodicFit",
    "PeriodicSection",
    "cross_validate_kernel_ridge",
    "fit_line",
    "linear_experiment",
    "no_intercept_slope_limit",
    "periodic_data",
    "periodic_experiment",
]

register(
    Study(
        "kernel-regression",
        "Lab 2: linear and ridge regression; kernel ridge with cross-validated sigma and alpha.",
        KernelRegressionConfig,
        run,
        report,
        results=KernelRegressionResults,
        smoke=SMOKE,
        devices=("cpu",),  # NumPy/scikit-learn: a GPU is refused, not silently ignored
    )
)
