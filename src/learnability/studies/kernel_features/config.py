"""The kernel-features study's settings (Lab 1): exact maps, the Taylor map, random Fourier features."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from learnability.config import ConfigSection, StudyConfig

__all__ = ["SMOKE", "KernelFeaturesConfig", "QuadraticSection", "RFFSection", "TaylorSection"]


class QuadraticSection(ConfigSection):
    dim: int = Field(100, ge=1, description="input dimension d (Lab 1: v, u = randn(100))")
    n_points: int = Field(50, ge=2, description="random inputs x ~ N(0, I_d); all pairs are compared")


class TaylorSection(ConfigSection):
    sigma: float = Field(10.0, gt=0, description="bandwidth (Lab 1: chosen_sigma = 10)")
    x_max: float = Field(100.0, gt=0, description="inputs in [0, x_max] (Lab 1: 100 * rand(1))")
    lab_terms: int = Field(100, ge=1, description="terms of the lab's map (approx_order = 100 -> order 99)")
    lab_pairs: int = Field(1000, ge=1, description="random pairs for the lab's allclose check (lab: 1)")
    max_order: int = Field(
        200,
        ge=1,
        description="orders 0..max_order are swept: (x_max/sigma)^2 + 10 sd "
        "of Poisson((x_max/sigma)^2), enough for 1e-8 at |x| = x_max",
    )
    grid: int = Field(201, ge=3, description="grid points per axis on [0, x_max] (step x_max / (grid - 1))")
    radii: list[float] = Field(
        default_factory=lambda: [1.0, 2.0, 5.0, 10.0], description="|x| / sigma limits for the error-vs-order curves"
    )
    delta_bins: int = Field(20, ge=1, description="bins of |x - x'| / sigma in [0, x_max / sigma]")
    tolerance: float = Field(1e-8, gt=0, description="error target for 'order needed' (np.allclose atol)")
    dd_dim: int = Field(3, ge=1, description="dimension of the d-D Taylor map check")
    dd_order: int = Field(20, ge=0, description="total degree of the d-D Taylor map")
    dd_sigma: float = Field(2.0, gt=0, description="bandwidth of the d-D check (x ~ N(0, I): |x.x'|/s^2 ~ 1)")


class RFFSection(ConfigSection):
    dim: int = Field(4, ge=1, description="input dimension d; x ~ N(0, I_d)")
    n_points: int = Field(100, ge=2, description="inputs; the error is over all n^2 Gram entries")
    sigma: float = Field(2.0, gt=0, description="RBF bandwidth = sqrt(d): typical k(x, x') ~ exp(-1)")
    min_features: int = Field(10, ge=1, description="smallest number of random features D")
    max_features: int = Field(10_000, ge=2, description="largest D")
    num: int = Field(13, ge=2, description="log-spaced values of D (4 per decade by default)")
    seeds: int = Field(5, ge=2, description="independent draws of the random features")


class KernelFeaturesConfig(StudyConfig):
    """Kernel values versus feature-map inner products: quadratic, Taylor-Gaussian, random Fourier.

    Command:  learnability run kernel-features        (smoke: learnability run kernel-features --smoke)
    Runtime:  compute 2.7 s wall (4.2 s at load ~8); 18 s in all with imports and figures,
              8.5 s CPU (shared 2-core machine, load ~5); smoke: compute 0.2 s, ~6-8 s in all
    Expected: quadratic map exact (max error 7.9e-16 of the largest kernel value); the lab's
              100-term Taylor check passes for only 92.5% of random pairs in [0, 100] with
              sigma = 10 (worst error 0.42, at x ~ x' ~ 100); the measured error equals
              k P(Poisson(x x' / sigma^2) > n) to 6e-14, and error 1e-8 needs order 11, 20, 58, 161
              at |x| <= 1, 2, 5, 10 sigma; random Fourier features: RMS error slope
              -0.499 [-0.510, -0.488] against -1/2, measured / predicted RMS 0.99 [0.94, 1.03].
    """

    quadratic: QuadraticSection = Field(default_factory=QuadraticSection)
    taylor: TaylorSection = Field(default_factory=TaylorSection)
    rff: RFFSection = Field(default_factory=RFFSection)


# The CI size: a 20-D quadratic check, a 41 x 41 Taylor grid, RFF up to D = 1000 with 3 seeds.
SMOKE: dict[str, Any] = {
    "quadratic": {"dim": 20, "n_points": 10},
    "taylor": {"lab_pairs": 200, "grid": 41},
    "rff": {"n_points": 40, "max_features": 1000, "num": 5, "seeds": 3},
}
