"""A residual MLP learns Bell's hierarchical B6 and a scrambled twin (Challenge 2, part B).

``config.py`` (settings), ``parts.py`` (building blocks: inputs, the shared-input data source,
the control's relabelling, least-squares baselines, sweep design), ``training.py`` (every target x
schedule in one ensemble, successive halving of the rates), ``run.py`` (the study, stage by stage:
many scrambles, the control, both schedules, the confounds), ``results.py`` (what is measured),
``report.py`` and ``charts.py`` (the report from those results).
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
    memory_bytes,
)
from learnability.studies.bell_hierarchy.parts import (
    BellDataSets,
    SharedInputSource,
    compute_baselines,
    derangement,
    draw_inputs,
    family_names,
    legendre_features,
    linear_least_squares,
    make_data,
    polynomial_least_squares,
    relabel_inputs,
    relative_mse,
    sweep_design,
    target_names,
)
from learnability.studies.bell_hierarchy.report import report
from learnability.studies.bell_hierarchy.results import BellResults
from learnability.studies.bell_hierarchy.run import (
    BellTargets,
    across_scrambles,
    build_model,
    build_targets,
    effect_regression,
    plan,
    run,
)

__all__ = [
    "SMOKE",
    "STUDY",
    "BellAnalysis",
    "BellConfig",
    "BellData",
    "BellDataSets",
    "BellModel",
    "BellResults",
    "BellTargets",
    "BellTrain",
    "SharedInputSource",
    "across_scrambles",
    "build_model",
    "build_targets",
    "compute_baselines",
    "derangement",
    "draw_inputs",
    "effect_regression",
    "family_names",
    "legendre_features",
    "linear_least_squares",
    "make_data",
    "polynomial_least_squares",
    "relabel_inputs",
    "relative_mse",
    "report",
    "run",
    "sweep_design",
    "target_names",
]

STUDY = register(
    Study(
        STUDY_NAME,
        "Challenge 2B: a residual MLP learns Bell's hierarchical B6 vs many scrambled twins and a control.",
        BellConfig,
        run,
        report,
        results=BellResults,
        smoke=SMOKE,
        memory_bytes=memory_bytes,
        plan=plan,
    )
)
