"""Lab 4bis: is the representation of a rotation-augmented shallow FCN invariant to rotations?

``config.py`` (settings), ``pairs.py`` (rotation pairs, the invariance score, the solved
notebook's pairing), ``weights.py`` (the two models: trained and reloaded, or loaded from a Lab 4
run), ``run.py`` (distances, scores, comparison), ``results.py`` (what is measured) and
``report.py`` (the report from those results).
"""

from learnability.studies import Study, register
from learnability.studies.images.representation_invariance.config import (
    NAME,
    SMOKE,
    RepresentationInvarianceConfig,
)
from learnability.studies.images.representation_invariance.pairs import (
    RANDOM_ANGLE,
    VARIANTS,
    angle_specs,
    notebook_partners,
    rotation_pairs,
)
from learnability.studies.images.representation_invariance.report import report
from learnability.studies.images.representation_invariance.results import RepresentationInvarianceResults
from learnability.studies.images.representation_invariance.run import run
from learnability.studies.images.representation_invariance.weights import load_from_run

__all__ = [
    "RANDOM_ANGLE",
    "VARIANTS",
    "RepresentationInvarianceConfig",
    "RepresentationInvarianceResults",
    "angle_specs",
    "load_from_run",
    "notebook_partners",
    "rotation_pairs",
]

register(
    Study(
        NAME,
        "Lab 4bis: invariance of a shallow FCN's representation to rotations, augmented vs not.",
        RepresentationInvarianceConfig,
        run,
        report,
        results=RepresentationInvarianceResults,
        smoke=SMOKE,
    )
)
