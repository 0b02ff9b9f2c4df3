"""Study ``hubel-wiesel`` (Lab 6): simple cells are equivariant, complex cells exactly invariant.

``config.py`` (settings), ``parts.py`` (the groups and their "wrong" counterparts, the
exactness errors, 1-NN accuracy), ``run.py`` (synthetic noise, then the digits), ``results.py``
(the typed summary) and ``report.py``.

Reference: AdvML UniTS 2024, Lab 6; F. Anselmi, J. Z. Leibo, L. Rosasco, J. Mutch, A. Tacchetti,
T. Poggio, "Unsupervised learning of invariant representations", Theor. Comput. Sci. (2016).
"""

from learnability.studies import Study, register
from learnability.studies.hubel_wiesel.config import NAME, SMOKE, HubelWieselConfig
from learnability.studies.hubel_wiesel.parts import (
    act_each,
    features,
    group_pair,
    knn_accuracy,
    quantile_levels,
    relative_max_error,
    symmetry_errors,
    tested_elements,
)
from learnability.studies.hubel_wiesel.report import report
from learnability.studies.hubel_wiesel.results import (
    DigitsGroup,
    DigitsResults,
    HubelWieselResults,
    KnnAccuracy,
    SymmetryErrors,
    SyntheticGroup,
)
from learnability.studies.hubel_wiesel.run import run

__all__ = [
    "DigitsGroup",
    "DigitsResults",
    "HubelWieselConfig",
    "HubelWieselResults",
    "KnnAccuracy",
    "SymmetryErrors",
    "SyntheticGroup",
    "act_each",
    "features",
    "group_pair",
    "knn_accuracy",
    "quantile_levels",
    "relative_max_error",
    "symmetry_errors",
    "tested_elements",
]

register(
    Study(
        NAME,
        "Lab 6: Hubel-Wiesel simple cells (equivariant) and complex cells (invariant) for flips, C4, shifts.",
        HubelWieselConfig,
        run,
        report,
        results=HubelWieselResults,
        smoke=SMOKE,
    )
)
