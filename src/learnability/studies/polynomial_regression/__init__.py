"""Polynomial regression, regularisation and loss landscapes (Tutorial 3) and OLS three ways (Lab 3).

``config.py`` (settings), ``parts.py`` (the data, validation-only selection, OLS three ways),
``run.py`` (the five stages), ``results.py`` (what is measured) and ``report.py`` (the report
from those results).
"""

from learnability.studies import Study, register
from learnability.studies.polynomial_regression.config import (
    SMOKE,
    LandscapeSection,
    OLSSection,
    PolynomialRegressionConfig,
    RegularisationSection,
    SelectionSection,
    SweepSection,
)
from learnability.studies.polynomial_regression.parts import (
    Split,
    make_split,
    ols_three_ways_experiment,
    select_on_validation,
    selection_experiment,
)
from learnability.studies.polynomial_regression.report import report
from learnability.studies.polynomial_regression.results import (
    Decay,
    MoreData,
    OLSThreeWays,
    PolynomialRegressionResults,
)
from learnability.studies.polynomial_regression.run import run

__all__ = [
    "Decay",
    "LandscapeSection",
    "MoreData",
    "OLSSection",
    "OLSThreeWays",
    "PolynomialRegressionConfig",
    "PolynomialRegressionResults",
    "RegularisationSection",
    "SelectionSection",
    "Split",
    "SweepSection",
    "make_split",
    "ols_three_ways_experiment",
    "select_on_validation",
    "selection_experiment",
]

register(
    Study(
        "polynomial-regression",
        "Tutorial 3 / Lab 3: polynomial fits vs degree, regularisation, loss landscapes, honest selection, OLS "
        "three ways.",
        PolynomialRegressionConfig,
        run,
        report,
        results=PolynomialRegressionResults,
        smoke=SMOKE,
        devices=("cpu",),  # NumPy/scikit-learn: a GPU is refused, not silently ignored
    )
)
