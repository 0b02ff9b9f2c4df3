"""Kernels versus explicit feature maps (Lab 1): exact, truncated and random features.

``config.py`` (settings), ``maps.py`` (the error measurements), ``run.py`` (exact maps, the lab's
Taylor check, the Taylor error surface, the RFF rate), ``results.py`` (what is measured) and
``report.py`` (the report from those results).
"""

from learnability.studies import Study, register
from learnability.studies.kernel_features.config import SMOKE, KernelFeaturesConfig
from learnability.studies.kernel_features.maps import (
    TaylorSweep,
    first_below,
    quadratic_check,
    rff_errors,
    rff_predicted_rms,
    taylor_sweep,
)
from learnability.studies.kernel_features.report import report
from learnability.studies.kernel_features.results import KernelFeaturesResults, OrderNeeded
from learnability.studies.kernel_features.run import run

__all__ = [
    "KernelFeaturesConfig",
    "KernelFeaturesResults",
    "OrderNeeded",
    "TaylorSweep",
    "first_below",
    "quadratic_check",
    "rff_errors",
    "rff_predicted_rms",
    "taylor_sweep",
]

register(
    Study(
        "kernel-features",
        "Lab 1: kernel values vs explicit, truncated-Taylor and random Fourier feature maps.",
        KernelFeaturesConfig,
        run,
        report,
        results=KernelFeaturesResults,
        smoke=SMOKE,
        devices=("cpu",),  # NumPy/scikit-learn: a GPU is refused, not silently ignored
    )
)
