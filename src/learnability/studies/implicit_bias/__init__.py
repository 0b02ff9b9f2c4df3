"""Implicit bias of gradient descent on least squares (Lab 8).

``config.py`` (settings), ``parts.py`` (one problem: GD against its closed forms), ``run.py``
(the problems over seeds, the step-size runs), ``results.py`` (what is measured) and
``report.py`` (the report from those results).
"""

from learnability.studies import Study, register
from learnability.studies.implicit_bias.config import (
    SMOKE,
    ImplicitBiasConfig,
    OverSection,
    StepSizeSection,
    UnderSection,
)
from learnability.studies.implicit_bias.parts import (
    OverExperiment,
    StepSizeRun,
    UnderExperiment,
    contraction_factor,
    hessian_eigenvalues,
    measured_rate,
    overdetermined_experiment,
    step_size_runs,
    underdetermined_experiment,
)
from learnability.studies.implicit_bias.report import report
from learnability.studies.implicit_bias.results import ImplicitBiasResults, StepSize
from learnability.studies.implicit_bias.run import run

__all__ = [
    "ImplicitBiasConfig",
    "ImplicitBiasResults",
    "OverExperiment",
    "OverSection",
    "StepSize",
    "StepSizeRun",
    "StepSizeSection",
    "UnderExperiment",
    "UnderSection",
    "contraction_factor",
    "hessian_eigenvalues",
    "measured_rate",
    "overdetermined_experiment",
    "step_size_runs",
    "underdetermined_experiment",
]

register(
    Study(
        "implicit-bias",
        "Lab 8: GD on least squares converges to the minimum-norm (or closest-to-w0) solution.",
        ImplicitBiasConfig,
        run,
        report,
        results=ImplicitBiasResults,
        smoke=SMOKE,
        devices=("cpu",),  # NumPy/scikit-learn: a GPU is refused, not silently ignored
    )
)
