"""Lab 4: what data augmentation does to the weights of a shallow linear FCN.

``config.py`` (settings), ``symmetry.py`` (symmetry scores of a template image), ``run.py``
(members, test sets, training, templates), ``results.py`` (what is measured) and ``report.py``
(the report from those results).
"""

from learnability.studies import Study, register
from learnability.studies.images.augmentation_weights.config import NAME, SMOKE, AugmentationWeightsConfig
from learnability.studies.images.augmentation_weights.report import report
from learnability.studies.images.augmentation_weights.results import AugmentationResult, AugmentationWeightsResults
from learnability.studies.images.augmentation_weights.run import run
from learnability.studies.images.augmentation_weights.symmetry import MATCHING, SYMMETRIES, template_symmetry
from learnability.studies.images.training import weights_file

__all__ = [
    "MATCHING",
    "SYMMETRIES",
    "AugmentationResult",
    "AugmentationWeightsConfig",
    "AugmentationWeightsResults",
    "template_symmetry",
    "weights_file",
]

register(
    Study(
        NAME,
        "Lab 4: augmentation (rotation, flips, shifts) and the weights of a shallow linear FCN.",
        AugmentationWeightsConfig,
        run,
        report,
        results=AugmentationWeightsResults,
        smoke=SMOKE,
    )
)
