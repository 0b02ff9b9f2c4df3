"""The implicit-bias study's settings (Lab 8): the over- and under-determined problems, the step sizes."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from learnability.config import ConfigSection, StudyConfig

__all__ = ["SMOKE", "ImplicitBiasConfig", "OverSection", "StepSizeSection", "UnderSection"]


class OverSection(ConfigSection):
    m: int = Field(1000, ge=1, description="data points (Lab 8: m = 1000)")
    n: int = Field(10, ge=1, description="weights (Lab 8: n = 10)")
    lr: float = Field(0.1, gt=0, description="step size (Lab 8: 0.1)")
    lab_steps: int = Field(50, ge=1, description="the lab's number of steps (distance reported there)")
    steps: int = Field(400, ge=1, description="steps run: 8x the lab's, enough to reach rounding level")


class UnderSection(ConfigSection):
    m: int = Field(50, ge=1, description="data points, fewer than weights")
    n: int = Field(200, ge=2, description="weights (n > m: infinitely many interpolants)")
    lr_fraction: float = Field(0.5, gt=0, lt=1, description="lr as a fraction of 2 / lambda_max (0.5: 1/lambda_max)")
    steps: int = Field(400, ge=1, description="GD steps (rho ~ 0.87 at m/n = 1/4: rounding level by ~250)")
    w0_scale: float = Field(1.0, gt=0, description="w0 ~ N(0, w0_scale^2 I) for the run from w0 != 0")
    lab_eps: float = Field(
        1e-6, gt=0, description="the lab's eps in inv(X^T X + eps I) X^T y ('makes the matrix invertible')"
    )


class StepSizeSection(ConfigSection):
    fractions: list[float] = Field(
        default_factory=lambda: [0.5, 0.98, 1.02], description="step sizes as fractions of the bound 2 / lambda_max"
    )
    steps: int = Field(300, ge=1, description="GD steps per step size (1.04^300 ~ 1e5 growth above the bound)")


class ImplicitBiasConfig(StudyConfig):
    """GD on least squares converges to the solution closest to its start (Lab 8).

    Command:  learnability run implicit-bias          (smoke: learnability run implicit-bias --smoke)
    Runtime:  compute 0.5 s wall (1.0 s at load ~8); 16 s in all with imports and figures,
              8 s CPU (shared 2-core machine, load ~5); smoke: compute 0.6 s
    Expected: over-determined: ||w_t - w*||^2 = 5e-4 after the lab's 50 steps and < 1e-28 after
              400; rate 0.913 measured vs 0.916 predicted (within 1%). Under-determined: GD from 0
              equals pinv(X) y to 2e-14; GD from w0 equals w0 + pinv(X)(y - X w0) to 3e-14 and is
              11.8 [11.1, 12.5] from pinv(X) y (its null-space part). The lab's inv(X^T X) X^T y: X^T X
              (200 x 200) has rank 50, inv returns noise, w misses y by >= 16.6 ||y|| and lies >= 263
              ||pinv(X) y|| from pinv(X) y; with the lab's eps = 1e-6 it is within 1.6e-6 (relative) of
              pinv(X) y (ridge -> least norm as eps -> 0). Step bound 2 / lambda_max ~1.6;
              at 1.02x the bound the error grows by 1.0400 per step, as predicted.
    """

    seeds: int = Field(5, ge=1, description="independent problems (X, w_true, w0) per case")
    over: OverSection = Field(default_factory=OverSection)
    under: UnderSection = Field(default_factory=UnderSection)
    step_size: StepSizeSection = Field(default_factory=StepSizeSection)


# Two problems per case, smaller matrices, fewer steps (under: still enough to reach rounding).
SMOKE: dict[str, Any] = {
    "seeds": 2,
    "over": {"m": 200, "steps": 200},
    "under": {"m": 20, "n": 60, "steps": 400},
    "step_size": {"steps": 100},
}
