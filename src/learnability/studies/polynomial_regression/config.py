"""The polynomial-regression study's settings (Tutorial 3, Lab 3): one section per part of the study."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from learnability.config import ConfigSection, StudyConfig

__all__ = [
    "SMOKE",
    "ExercisesSection",
    "LandscapeSection",
    "OLSSection",
    "PolynomialRegressionConfig",
    "RegularisationSection",
    "SelectionSection",
    "SweepSection",
]


class SweepSection(ConfigSection):
    n_train: int = Field(10, ge=2, description="training points (Tutorial 3: 10)")
    n_test: int = Field(10, ge=1, description="test points (Tutorial 3: 10 'magically appearing')")
    max_degree: int = Field(15, ge=1, description="degrees 0..max_degree (Tutorial 3's sliders: 0-15)")
    noise_sd: float = Field(0.1, ge=0, description="t = sin(2 pi x) + noise_sd eps (Tutorial 3: 0.1)")
    seeds: int = Field(20, ge=2, description="independent data sets for the CIs")
    eval_points: int = Field(1000, ge=1, description="fresh points for the regularisation curves")


class RegularisationSection(ConfigSection):
    sizes: list[int] = Field(
        default_factory=lambda: [10, 20, 40, 75, 100],
        description="training sizes (Tutorial 3's slider: 1-100, default 75)",
    )
    data_degrees: list[int] = Field(
        default_factory=lambda: [2, 6, 13], description="degrees for 'more data' (Tutorial 3's sliders)"
    )
    decay_degrees: list[int] = Field(
        default_factory=lambda: [2, 6, 15], description="degrees for weight decay (Tutorial 3's sliders)"
    )
    tutorial_lambda: float = Field(1e-4, gt=0, description="the tutorial's lambda")
    min_lambda: float = Field(1e-12, gt=0, description="smallest lambda of the sweep")
    max_lambda: float = Field(1e1, gt=0, description="largest lambda of the sweep")
    num_lambda: int = Field(27, ge=2, description="log-spaced lambdas (2 per decade)")


class LandscapeSection(ConfigSection):
    resolution: int = Field(51, ge=3, description="grid points per axis (Tutorial 3: 51)")
    low: float = Field(-5.0, description="a and b range from low (Tutorial 3: linspace(-5, 5, 51))")
    high: float = Field(5.0, description="... to high")
    p_values: list[float] = Field(
        default_factory=lambda: [1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0],
        description="exponents of the L_p landscapes (Tutorial 3's slider: 1-50)",
    )


class SelectionSection(ConfigSection):
    n_train: int = Field(10, ge=2, description="training points (as in the tutorial)")
    n_val: int = Field(10, ge=1, description="validation points: degree and lambda are chosen here")
    n_test: int = Field(100, ge=1, description="test points: touched once, for the chosen model")
    min_lambda: float = Field(1e-10, gt=0, description="smallest positive lambda (lambda = 0 also tried)")
    max_lambda: float = Field(1.0, gt=0, description="largest lambda")
    num_lambda: int = Field(11, ge=1, description="log-spaced positive lambdas (1 per decade)")
    seeds: int = Field(20, ge=2, description="independent splits for the CIs")


class OLSSection(ConfigSection):
    n: int = Field(1000, ge=2, description="data points (Lab 3: N = 1000)")
    p: int = Field(100, ge=1, description="features (Lab 3: P = 100), plus a bias column")
    steps: int = Field(300, ge=1, description="GD / autograd steps on the centred design (kappa ~ 4)")


class ExercisesSection(ConfigSection):
    matmul_size: int = Field(1000, ge=1, description="side of Lab 3's timed matmul (Lab 3: 1000)")
    matmul_repeats: int = Field(10, ge=1, description="timed matmuls per device (Lab 3: 1000; 10 keep it ~1 s)")
    scenario_seeds: int = Field(20, ge=2, description="draws of each of Tutorial 3's scenarios A-E")
    scenario_test: int = Field(1000, ge=1, description="test points on U[0, 1] per draw")


class PolynomialRegressionConfig(StudyConfig):
    """Polynomial fits of noisy sin(2 pi x), regularisation, loss landscapes, OLS three ways.

    Command:  learnability run polynomial-regression  (smoke: learnability run polynomial-regression --smoke)
    Runtime:  compute 3.3 s wall (6.9 s at load ~8); 25 s in all with imports and figures,
              15 s CPU (shared 2-core machine, load ~5); smoke: compute 0.6 s
    Expected: train MSE at rounding level from degree 9 (10 points); test MSE lowest at degree 3
              (0.035, noise variance 0.01), ~1e4 at degree 15; 100 points fix degree 13
              (MSE 9e4 -> 0.015); lambda = 1e-4 at degree 15: MSE 2e5 -> 0.15, max|theta| 4e5 -> 12;
              every landscape convex (gap <= 4e-15); validation-selected models: test MSE
              0.024 [0.018, 0.032]; OLS three ways agree to 2.4e-12, training MSE 0.959 (noise
              variance 1 times (N - P - 1) / N = 0.899 expected, sd ~0.045). Lab 3: autograd's
              gradients equal 9 a^2 and -2 b exactly; a 1000 x 1000 matmul ~54 ms on 2 CPU threads at
              load ~8 (no CUDA here). Tutorial 3's scenarios, best first: E (sin(kx), k = 6.31) 1.3e-4,
              C 0.0042, A 0.011, B 0.080, D 506 (extrapolation; each CI below the next); torch's
              lstsq fits within 1e-7 of the stable solver.
    """

    sweep: SweepSection = Field(default_factory=SweepSection)
    regularisation: RegularisationSection = Field(default_factory=RegularisationSection)
    landscape: LandscapeSection = Field(default_factory=LandscapeSection)
    selection: SelectionSection = Field(default_factory=SelectionSection)
    ols: OLSSection = Field(default_factory=OLSSection)
    exercises: ExercisesSection = Field(default_factory=ExercisesSection)


# Three data sets and splits, two sizes, a coarser grid and a smaller OLS problem.
SMOKE: dict[str, Any] = {
    "sweep": {"seeds": 3, "eval_points": 200},
    "regularisation": {"sizes": [10, 40], "num_lambda": 14},  # 1 per decade: contains 1e-4
    "landscape": {"resolution": 21, "p_values": [1.0, 2.0, 50.0]},
    "selection": {"seeds": 3, "n_test": 20, "num_lambda": 4},
    "ols": {"n": 200, "p": 20, "steps": 100},
    "exercises": {"matmul_size": 200, "matmul_repeats": 3, "scenario_seeds": 3, "scenario_test": 200},
}
