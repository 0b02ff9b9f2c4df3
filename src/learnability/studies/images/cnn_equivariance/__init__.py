"""Lab 5: translation equivariance of a CNN's conv layer and (non-)invariance of its fc layer.

``config.py`` (settings), ``measures.py`` (translated pairs and the per-image measures),
``run.py`` (training, measuring, summarising), ``results.py`` (what is measured) and
``report.py`` (the report from those results).
"""

from learnability.studies import Study, register
from learnability.studies.images.cnn_equivariance.config import NAME, SMOKE, CNNEquivarianceConfig
from learnability.studies.images.cnn_equivariance.measures import (
    EXACT_TOL,
    MEASURES,
    compass_shifts,
    conv_equivariance,
    interior_mask,
    pair_measures,
)
from learnability.studies.images.cnn_equivariance.report import report
from learnability.studies.images.cnn_equivariance.results import CNNEquivarianceResults, MeasureCell
from learnability.studies.images.cnn_equivariance.run import run

__all__ = [
    "EXACT_TOL",
    "MEASURES",
    "CNNEquivarianceConfig",
    "CNNEquivarianceResults",
    "MeasureCell",
    "compass_shifts",
    "conv_equivariance",
    "interior_mask",
    "pair_measures",
]

register(
    Study(
        NAME,
        "Lab 5: translation equivariance of the conv layer and invariance of the fc layer of a CNN.",
        CNNEquivarianceConfig,
        run,
        report,
        results=CNNEquivarianceResults,
        smoke=SMOKE,
    )
)
