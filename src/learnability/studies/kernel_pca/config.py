"""The kernel-pca study's settings (Lab 2, exercise 3): the data, the gamma grid, the CV."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from learnability.config import StudyConfig

__all__ = ["SMOKE", "KernelPCAConfig"]


class KernelPCAConfig(StudyConfig):
    """PCA vs RBF kernel PCA on half moons; separability of the first component across gamma.

    Command:  learnability run kernel-pca             (smoke: learnability run kernel-pca --smoke)
    Runtime:  compute 4.9 s wall (8.3 s at load ~8); 23 s in all with imports and figures,
              13 s CPU (shared 2-core machine, load ~5); smoke: compute 0.8 s
    Expected: PCA's first component mixes the moons (threshold accuracy 0.77, CV logistic
              0.724 [0.717, 0.731], Fisher ratio 1.48); RBF kernel PCA separates them perfectly
              (CV accuracy 1.0) for gamma from 21.5 to 4,642; best gamma 21.5 (Fisher ratio 11.4,
              7.7x PCA's); gamma = 0.01 reproduces PCA (|corr| = 0.99998); from gamma = 1e4 the
              kernel is the identity to rounding and accuracy drops to chance (0.47). Nested CV
              (gamma chosen inside each outer training fold, kernel PCA fitted there and the test
              fold projected with transform): 0.865 [0.801, 0.929], gammas 4.6 and 10 — the sweep's
              1.0 is transductive and selected on its own folds (run 18 s at load ~8 with it).
    """

    n_samples: int = Field(100, ge=10, description="points (Lab 2: make_moons(n_samples=100))")
    data_seed: int = Field(123, ge=0, description="make_moons random_state (lab: 123)")
    noise: float = Field(0.0, ge=0, description="make_moons noise (lab: none)")
    min_gamma: float = Field(1e-2, gt=0, description="smallest RBF gamma (kernel PCA ~ PCA there)")
    max_gamma: float = Field(1e5, gt=0, description="largest gamma (K = I to rounding: neighbours 0.064 apart)")
    num_gamma: int = Field(22, ge=2, description="log-spaced gammas (3 per decade)")
    reference_gamma: float = Field(15.0, gt=0, description="gamma of the RBF-kPCA blog post the lab links")
    cv_folds: int = Field(5, ge=2, description="stratified folds of the logistic-regression CV")
    cv_repeats: int = Field(5, ge=2, description="reshuffled repetitions of the CV (for a CI)")
    accuracy_tie: float = Field(
        0.01, ge=0, le=1, description="CV accuracies within this of the best count as 'as accurate' (1 point in 100)"
    )
    nested_repeats: int = Field(
        2, ge=2, description="reshuffled repetitions of the nested CV of the best gamma (outer folds: cv_folds)"
    )
    hist_bins: int = Field(20, ge=1, description="histogram bins of the 1-D projections in the report")


# The CI size: six gammas, two repeats of three folds.
SMOKE: dict[str, Any] = {"num_gamma": 6, "cv_repeats": 2, "cv_folds": 3}
