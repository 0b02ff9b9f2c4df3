"""Learning-rate schedules: ``factor(step, total_steps) -> multiplier`` of each member's base rate.

Constant rates leave the final error of small-batch training noisy (it can swing ~10x between
epochs); a decay to a small fraction of the base rate averages that noise out. Schedules are plain
functions of the step, so the compiled training step sees only a changing rate tensor.

:func:`per_member_schedule` gives each member of an ensemble its own schedule (e.g. constant-rate
and cosine-decay members trained in one ensemble); its factor is a ``(K,)`` tensor, which
:func:`~learnability.engine.train` multiplies into the members' rates like a scalar factor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from learnability._validation import ParameterError, check_choice, check_in_range

__all__ = ["PerMemberSchedule", "Schedule", "make_schedule", "per_member_schedule"]

# ``factor(step, total_steps)``: one multiplier for every member (a float) or one per member
# (a ``(K,)`` tensor, see :func:`per_member_schedule`).
Schedule = Callable[[int, int], "float | Tensor"]


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


class PerMemberSchedule:
    """Member ``k`` follows ``schedules[k]``: ``factor(step, total)`` is a ``(K,)`` float64 tensor.

    Each distinct schedule is evaluated once per step (members sharing one cost nothing extra), so
    member ``k`` gets exactly the factor ``schedules[k](step, total)`` it would get alone.
    Build it with :func:`per_member_schedule`.
    """

    def __init__(self, schedules: Sequence[Schedule]) -> None:
        self.schedules = tuple(schedules)
        distinct: list[Schedule] = []
        index = []
        for sch in self.schedules:
            if sch not in distinct:
                distinct.append(sch)
            index.append(distinct.index(sch))
        self._distinct = tuple(distinct)
        self._index = torch.tensor(index, dtype=torch.long)

    def __call__(self, step: int, total: int) -> Tensor:
        values = torch.tensor([float(sch(step, total)) for sch in self._distinct], dtype=torch.float64)
        return values[self._index]  # (K,)


def per_member_schedule(schedules: Sequence[Schedule]) -> PerMemberSchedule:
    """One schedule per member of an ensemble (``TrainSpec(schedule=per_member_schedule([...]))``).

    Args:
        schedules: ``(K,)`` schedules, e.g. ``[make_schedule("constant")] * 4 +
            [make_schedule("cosine")] * 4``; each returns a float.

    Raises:
        ParameterError: on an empty sequence or an entry that is not callable.
    """
    items = list(schedules)
    if not items or not all(callable(s) for s in items):
        raise ParameterError("schedules", "per_member_schedule", "a non-empty sequence of schedules", schedules)
    return PerMemberSchedule(items)
