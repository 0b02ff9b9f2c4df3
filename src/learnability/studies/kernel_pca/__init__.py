"""Linear PCA versus RBF kernel PCA on the half moons (Lab 2, exercise 3).

``config.py`` (settings), ``run.py`` (data, PCA, kernel PCA across gamma, the best gamma),
``results.py`` (what is measured) and ``report.py`` (the report from those results).
"""

from learnability.studies import Study, register
from learnability.studies.kernel_pca.config import SMOKE, KernelPCAConfig
from learnability.studies.kernel_pca.report import report
from learnability.studies.kernel_pca.results import KernelPCAResults, Separability
from learnability.studies.kernel_pca.run import kpca_projection, run, separability

__all__ = ["KernelPCAConfig", "KernelPCAResults", "Separability", "kpca_projection", "separability"]

register(
    Study(
        "kernel-pca",
        "Lab 2: PCA vs RBF kernel PCA on half moons; separability of the first component across gamma.",
        KernelPCAConfig,
        run,
        report,
        results=KernelPCAResults,
        smoke=SMOKE,
        devices=("cpu",),
    )
)
