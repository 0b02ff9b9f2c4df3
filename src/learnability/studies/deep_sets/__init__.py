"""Study ``deep-sets`` (Lab 7): permutation equivariance by construction, and a set task learned.

``config.py`` (settings), ``parts.py`` (the MLP baseline, the lab's layer check, invariance
errors, the models), ``run.py`` (the lab's check, then each model: rate sweep, fresh seeds,
measures), ``results.py`` (the typed summary) and ``report.py``.

Reference: M. Zaheer et al., "Deep Sets", NeurIPS 2017 (arXiv:1703.06114); AdvML UniTS 2024, Lab 7.
"""

from learnability.studies import Study, register
from learnability.studies.deep_sets.config import NAME, SMOKE, DeepSetsConfig, memory_bytes
from learnability.studies.deep_sets.parts import (
    SetMLP,
    invariance_errors,
    lab_layer_errors,
    model_factories,
    model_labels,
    perturbed_layer,
    random_perms,
)
from learnability.studies.deep_sets.report import report
from learnability.studies.deep_sets.results import (
    DeepSetsResults,
    LabCheckResults,
    LayerErrors,
    MseRatio,
    SetModelResults,
)
from learnability.studies.deep_sets.run import run

__all__ = [
    "DeepSetsConfig",
    "DeepSetsResults",
    "LabCheckResults",
    "LayerErrors",
    "MseRatio",
    "SetMLP",
    "SetModelResults",
    "invariance_errors",
    "lab_layer_errors",
    "model_factories",
    "model_labels",
    "perturbed_layer",
    "random_perms",
]

register(
    Study(
        NAME,
        "Lab 7: permutation-equivariant layers, Deep Sets vs an MLP on a set task, unseen set sizes.",
        DeepSetsConfig,
        run,
        report,
        results=DeepSetsResults,
        smoke=SMOKE,
        memory_bytes=memory_bytes,
    )
)
