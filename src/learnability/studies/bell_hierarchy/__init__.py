"""A residual MLP learns Bell's hierarchical B6 and a scrambled twin (Challenge 2, part B).

``config.py`` (settings), ``parts.py`` (building blocks: inputs, the shared-input data source,
least-squares baselines, sweep design), ``training.py`` (both targets in one ensemble, the
learning-rate sweep), ``run.py`` (the study, stage by stage), ``results.py`` (what is measured)
and ``report.py`` (the report from those results).
"""

from learnability.studies import Study, register
from learnability.studies.bell_hierarchy.config import (
    SMOKE,
    STUDY_NAME,
    BellAnalysis,
    BellConfig,
    BellData,
    BellModel,
    BellTrain,
)
from learnability.studies.bell_hierarchy.parts import (
    BellDataSets,
    SharedInputSource,
    compute_baselines,
    draw_inputs,
    legendre_features,
    linear_least_squares,
    make_data,
    polynomial_least_squares,
    relative_mse,
    sweep_design,
    target_names,
)
from learnability.studies.bell_hierarchy.report import report
from learnability.studies.bell_hierarchy.results import BellResults
from learnability.studies.bell_hierarchy.run import build_model, build_targets, run

__all__ = [
    "SMOKE",
    "STUDY",
    "BellAnalysis",
    "BellConfig",
    "BellData",
    "BellDataSets",
    "BellModel",
    "BellResults",
    "BellTrain",
    "SharedInputSource",
    "build_model",
    "build_targets",
    "compute_baselines",
    "draw_inputs",
    "legendre_features",
    "linear_least_squares",
    "make_data",
    "polynomial_least_squares",
    "relative_mse",
    "report",
    "run",
    "sweep_design",
    "target_names",
]

STUDY = register(
    Study(
        STUDY_NAME,
        "Challenge 2B: a residual MLP learns Bell's hierarchical B6 vs a scrambled twin.",
        BellConfig,
        run,
        report,
        results=BellResults,
        smoke=SMOKE,
    )
)
