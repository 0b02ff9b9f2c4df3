"""The symmetry-discovery study's settings: the orbit data, the loss weights, the training."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, field_validator

from learnability._validation import ParameterError, parameter_message
from learnability.config import ConfigSection, OrderedPair, StudyConfig
from learnability.models import group_order

__all__ = ["NAME", "SMOKE", "SymmetryDiscoveryConfig", "SymmetryTrain"]

NAME = "symmetry-discovery"


class SymmetryTrain(ConfigSection):
    """Optimisation settings shared by every member (Adam, one learning rate chosen by a sweep)."""

    ordered_pairs = (OrderedPair("lr_low", "lr_high"),)

    steps: int = Field(1000, ge=1, description="Adam steps per member (~90 epochs of the 720 default points).")
    batch_size: int = Field(64, ge=2, description="Mini-batch size (>= 2: it has a covariance).")
    seeds: int = Field(3, ge=1, description="Seeds per loss configuration (paired across configs).")
    lr_low: float = Field(1e-3, gt=0, description="Lowest rate of the learning-rate sweep.")
    lr_high: float = Field(1e-1, gt=0, description="Highest rate of the learning-rate sweep.")
    lr_num: int = Field(5, ge=2, description="Rates in the sweep (log-spaced).")
    lr_extensions: int = Field(1, ge=0, description="Times the rate grid may be extended past an edge.")
    eval_every: int = Field(100, ge=1, description="Steps between logged evaluations.")
    block: int = Field(100, ge=1, description="Steps between host synchronisations (logging, divergence checks).")
    score_window: int = Field(
        50, ge=1, description="The sweep scores a rate by its mean training loss over the last steps (at most steps/5)."
    )


class SymmetryDiscoveryConfig(StudyConfig):
    """Discovering the rotation symmetry C_m of 2-D orbit data through a regularised loss.

    Command:  learnability run symmetry-discovery          (smoke: learnability run symmetry-discovery --smoke)
    Runtime:  ~2.5-3 min on the shared 2-core CPU (measured: 124-167 s of training + ~25 s of
              report, one thread, depending on the load; 24 members x 1000 steps plus the rate
              sweep; the soft sort of the 24 90 x 90 Gramians per step dominates); smoke ~5 s.
    Expected: the sort term makes the angle-ordered Gramian circulant (relative distance 0.006
              with the full loss, 0.004 with CE + sort, against 0.77-0.79 without it and 0.57 at
              initialisation; 0.11 -> 0.0013 as its weight goes 0.1 -> 10), the weight vectors
              evenly cover a circle, and the bias-free layer W x permutes under rotations
              (sorted-values error 0.005 vs 0.16); the commutator term changes nothing measurable
              (paired difference 0.003 [-0.009, 0.015]); the hidden layer with its unconstrained
              biases is not invariant (0.2) and every variant classifies perfectly (accuracy 1).
              The alternative, orbit consistency (weight 1, generator estimated at 4.000 degrees; 27
              members, 239 s wall at load 3-5 with tests running beside it): W x's sorted-values
              error 0.052 against 0.16 with CE only and 0.006 with CE + sort, circulant distance
              0.69 (CE only 0.79, CE + sort 0.008): it makes W x permute under rotations without
              making the Gramian circulant; accuracy 1.
    """

    step_degrees: float = Field(
        4.0,
        gt=0,
        le=120,
        description="Rotation step; 360/step must be an integer (the challenge: every 3-4 degrees).",
    )
    n_orbits: int = Field(8, ge=2, description="Orbits = classes; orbit c has radius c + 1.")
    hidden: int | None = Field(
        None,
        ge=1,
        description="Hidden units; None: the group order m = 360/step (one unit per rotation).",
    )
    n_test_per_orbit: int = Field(
        100,
        ge=1,
        description="Off-grid test points per orbit (uniform random angles on the same circles).",
    )
    sort_weight: float = Field(1.0, gt=0, description="Weight of the soft-sort term in the full loss.")
    commutator_weight: float = Field(1.0, gt=0, description="Weight of the commutator term in the full loss.")
    orbit_weight: float = Field(
        1.0,
        ge=0,
        description="Weight of the orbit-consistency term (the alternative regulariser: the first layer "
        "responds to R x, R the generator estimated from the data, with a permutation of its response to x) "
        "in the extra 'ce_orbit' configuration; 0 leaves it out.",
    )
    sort_weights: list[float] = Field(
        default_factory=lambda: [0.0, 0.1, 0.3, 1.0, 3.0, 10.0],
        min_length=1,
        description="Sweep of the sort weight (with the commutator at its full-loss weight).",
    )
    temperature: float = Field(1.0, gt=0, description="Soft-sort regularisation strength (0: hard sort).")
    covariance: Literal["batch", "full"] = Field(
        "batch",
        description="Data covariance in the commutator: each mini-batch's, or the whole training set's "
        "(isotropic: the term is 0).",
    )
    train: SymmetryTrain = Field(default_factory=SymmetryTrain)

    @field_validator("step_degrees")
    @classmethod
    def _divides_360(cls, v: float) -> float:
        try:
            group_order(v)
        except ParameterError:
            raise ValueError(
                parameter_message("step_degrees", NAME, "a divisor of 360 (360 / step_degrees an integer)", v)
            ) from None
        return v

    @field_validator("sort_weights")
    @classmethod
    def _non_negative(cls, v: list[float]) -> list[float]:
        if any(not math.isfinite(w) or w < 0 for w in v):
            raise ValueError(parameter_message("sort_weights", NAME, "a list of finite floats >= 0", v))
        return v


# C_12 (30-degree steps), 3 orbits, two seeds of 60 steps: ~5 s.
SMOKE: dict[str, Any] = {
    "step_degrees": 30.0,
    "n_orbits": 3,
    "n_test_per_orbit": 20,
    "sort_weights": [0.0, 1.0],
    "train": {"steps": 60, "batch_size": 16, "seeds": 2, "lr_num": 2, "eval_every": 30},
}
