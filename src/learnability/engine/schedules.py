"""Learning-rate schedules: ``factor(step, total_steps) -> multiplier`` of each member's base rate.

Constant rates leave the final error of small-batch training noisy (it can swing ~10x between
epochs); a decay to a small fraction of the base rate averages that noise out. Schedules are plain
functions of the step, so the compiled training step sees only a changing rate tensor.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from learnability._validation import check_choice, check_in_range

__all__ = ["Schedule", "make_schedule"]

Schedule = Callable[[int, int], float]


@dataclass(frozen=True)
class _Constant:
    def __call__(self, step: int, total: int) -> float:
        return 1.0


@dataclass(frozen=True)
class _Cosine:
    """Half a cosine from 1 down to ``final`` over the run (Loshchilov & Hutter, 2017)."""

    final: float

    def __call__(self, step: int, total: int) -> float:
        t = min(step / max(total - 1, 1), 1.0)
        return self.final + (1 - self.final) * 0.5 * (1 + math.cos(math.pi * t))


@dataclass(frozen=True)
class _Linear:
    """Linear decay from 1 to ``final`` over the run."""

    final: float

    def __call__(self, step: int, total: int) -> float:
        t = min(step / max(total - 1, 1), 1.0)
        return 1 + (self.final - 1) * t


def make_schedule(name: str, *, final: float = 0.01) -> Schedule:
    """A schedule by name: ``"constant"``, ``"cosine"`` or ``"linear"`` (decaying to ``final``)."""
    check_choice(name, "schedule", "make_schedule", ("constant", "cosine", "linear"))
    check_in_range(final, "final", "make_schedule", low=0.0, high=1.0)
    return {"constant": _Constant(), "cosine": _Cosine(final), "linear": _Linear(final)}[name]
