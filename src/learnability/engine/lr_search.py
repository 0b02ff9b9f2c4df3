"""Learning-rate sweeps: a log-spaced grid trained as one ensemble, with honest selection.

Selection follows the Challenge's instruction "tune the learning rate to minimise time to
convergence", made precise:

1. *feasible* rates: not diverged, finite final loss, and (when ``failure_loss`` is given) a final
   loss clearly below it — a student that collapsed to predicting the mean is not a solution;
2. *good* rates: feasible, with a final loss within ``tolerance`` (relative) of the best feasible;
3. the chosen rate: among the good ones, the fewest steps to quasi-stationarity (a rate that never
   became stationary counts as the step cap); ties go to the lower final loss.

With ``criterion="final_loss"`` step 3 is skipped and the lowest final loss wins (the Challenge's
part B: "tuned to minimise training error").

If the chosen rate lies on an edge of the rates tried so far, the grid is extended past that edge
with the same log spacing and only the new points are trained; this repeats up to
``max_extensions`` times. Final losses come from training (or validation) data supplied by the
caller's ``score`` function — never from the test set.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from learnability._validation import ParameterError, check_choice, check_in_range
from learnability.engine.loop import TrainResult

__all__ = ["LRGrid", "Selection", "SweepResult", "TunedResult", "lr_sweep", "round_tag", "select_lr", "tune_then_train"]


@dataclass(frozen=True)
class LRGrid:
    """A log-spaced grid of learning rates.

    Args:
        low, high: first and last rate.
        num: number of rates (>= 2).
        max_extensions: how many times the grid may be extended past an edge.
        extend_by: points added per extension.
    """

    low: float
    high: float
    num: int = 8
    max_extensions: int = 3
    extend_by: int = 2

    def __post_init__(self) -> None:
        check_in_range(self.low, "low", "LRGrid", low=0.0, low_inclusive=False)
        check_in_range(self.high, "high", "LRGrid", low=self.low, low_inclusive=False)
        check_in_range(self.num, "num", "LRGrid", low=2, kind=int)
        check_in_range(self.max_extensions, "max_extensions", "LRGrid", low=0, kind=int)
        check_in_range(self.extend_by, "extend_by", "LRGrid", low=1, kind=int)

    @property
    def rates(self) -> np.ndarray:
        return np.geomspace(self.low, self.high, self.num)

    @property
    def log_step(self) -> float:
        """Ratio between consecutive rates, in log10."""
        return (np.log10(self.high) - np.log10(self.low)) / (self.num - 1)


@dataclass(frozen=True)
class Selection:
    """How the rate is chosen.

    Args:
        criterion: ``"time_to_convergence"`` or ``"final_loss"``.
        tolerance: rates whose final loss is within this relative margin of the best are "good".
        failure_margin: with ``failure_loss`` given, a final loss above
            ``(1 - failure_margin) * failure_loss`` marks a failed (collapsed) member.
        if_none_feasible: when every rate diverged or collapsed: ``"raise"`` an error, or take
            the ``"least_bad"`` rate (lowest finite final loss among those that did not diverge)
            and report it as infeasible — for studies where "no better than the trivial
            predictor" is itself a result (a tiny model), not a broken grid.
    """

    criterion: Literal["time_to_convergence", "final_loss"] = "time_to_convergence"
    tolerance: float = 0.1
    failure_margin: float = 0.05
    if_none_feasible: Literal["raise", "least_bad"] = "raise"

    def __post_init__(self) -> None:
        check_choice(self.criterion, "criterion", "Selection", ("time_to_convergence", "final_loss"))
        check_choice(self.if_none_feasible, "if_none_feasible", "Selection", ("raise", "least_bad"))
        check_in_range(self.tolerance, "tolerance", "Selection", low=0.0)
        check_in_range(self.failure_margin, "failure_margin", "Selection", low=0.0, high=1.0)


@dataclass
class SweepResult:
    """Outcome of :func:`lr_sweep`.

    Attributes:
        table: one row per rate tried: ``lr, final_loss, steps_to_converge, converged, diverged,
            diverged_step, collapsed, feasible, good, chosen, round`` (round 0 is the initial grid).
        chosen_lr: the selected rate.
        at_edge: the chosen rate is still on an edge of the rates tried (extensions exhausted).
        results: the :class:`TrainResult` of each round, in order.
        feasible: the chosen rate is feasible (False only for a ``"least_bad"`` fallback).
    """

    table: pd.DataFrame
    chosen_lr: float
    at_edge: bool
    results: list[TrainResult] = field(default_factory=list)
    feasible: bool = True

    @property
    def chosen_row(self) -> pd.Series:
        return self.table.loc[self.table["chosen"]].iloc[0]


def select_lr(table: pd.DataFrame, selection: Selection, failure_loss: float | None, step_cap: int) -> int:
    """Index (into ``table``) of the chosen rate; fills ``feasible``, ``good``, ``collapsed``.

    Raises:
        RuntimeError: when no rate is feasible (and ``selection.if_none_feasible == "raise"``, or
            every rate diverged or was non-finite).
    """
    final = table["final_loss"].to_numpy(dtype=float)
    collapsed = np.zeros(len(table), dtype=bool)
    if failure_loss is not None:
        collapsed = final >= (1 - selection.failure_margin) * failure_loss
    feasible = ~table["diverged"].to_numpy() & np.isfinite(final) & ~collapsed
    table["collapsed"] = collapsed
    table["feasible"] = feasible
    if not feasible.any():
        table["good"] = False
        usable = ~table["diverged"].to_numpy() & np.isfinite(final)
        if selection.if_none_feasible == "least_bad" and usable.any():
            return int(np.flatnonzero(usable)[np.argmin(final[usable])])
        raise RuntimeError(
            "no learning rate in the sweep trained successfully (all diverged, "
            "non-finite or no better than the failure level); lower the grid"
        )
    best = final[feasible].min()
    good = feasible & (final <= best + selection.tolerance * abs(best))
    table["good"] = good
    if selection.criterion == "final_loss":
        return int(np.flatnonzero(feasible)[np.argmin(final[feasible])])
    steps = np.where(table["converged"].to_numpy(), table["steps_to_converge"].to_numpy(dtype=float), float(step_cap))
    candidates = np.flatnonzero(good)
    order = np.lexsort((final[candidates], steps[candidates]))
    return int(candidates[order[0]])


def _round_table(result: TrainResult, final_loss: np.ndarray, round_: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lr": result.lr,
            "final_loss": final_loss,
            "steps_to_converge": np.where(result.converged, result.converged_step, -1),
            "converged": result.converged,
            "diverged": result.diverged,
            "diverged_step": result.diverged_step,
            "round": round_,
        }
    )


def _train_round(train_fn: Callable[..., TrainResult], rates: np.ndarray, round_: int) -> TrainResult:
    """``train_fn(rates, round_=round_)`` when ``train_fn`` has a parameter named ``round_``,
    else ``train_fn(rates)``.

    By name, not by position: a closure that binds loop variables through default arguments
    (``def fn(lrs, g=g)``) must not receive the round in ``g``.
    """
    try:
        takes_round = "round_" in inspect.signature(train_fn).parameters
    except (TypeError, ValueError):  # a builtin or C callable: no round
        takes_round = False
    return train_fn(rates, round_=round_) if takes_round else train_fn(rates)


def round_tag(base: str, round_: int) -> str:
    """The metric tag of a sweep round: ``base`` for the initial grid, ``base/extN`` for extension N.

    Each round logs under its own tag so that no (tag, step, member) record repeats.
    """
    return base if round_ == 0 else f"{base}/ext{round_}"


def lr_sweep(
    train_fn: Callable[..., TrainResult],
    grid: LRGrid,
    *,
    score: Callable[[TrainResult], np.ndarray],
    selection: Selection = Selection(),
    failure_loss: float | None = None,
    step_cap: int,
) -> SweepResult:
    """Train the grid as one ensemble, choose a rate, extend past edges when needed.

    Args:
        train_fn: ``train_fn(rates, round_)`` trains one ensemble with the given (K,) rates and
            returns its result; ``round_`` is 0 for the initial grid and N for the N-th extension
            (name the round's metrics with :func:`round_tag`). The round is passed by name, to a
            parameter called ``round_`` only; a ``train_fn(rates)`` without it is accepted too.
            Every member should share the same initialisation and data seed so the rates are
            compared on equal terms (the caller decides).
        grid: the initial grid and extension policy.
        score: (K,) final loss of each member on training or validation data (never test data).
        selection: the selection rule.
        failure_loss: the loss of a trivial predictor (e.g. the variance of the targets); members
            not clearly below it are marked collapsed and infeasible.
        step_cap: the step cap used in training (time of members that never became stationary).

    Returns:
        A :class:`SweepResult` with the table of every rate tried.
    """
    if step_cap < 1:
        raise ParameterError("step_cap", "lr_sweep", "an int in the range [1, inf)", step_cap)
    results = [_train_round(train_fn, grid.rates, 0)]
    table = _round_table(results[0], score(results[0]), 0)
    ratio = 10**grid.log_step
    extensions = 0
    while True:
        table = table.sort_values("lr", ignore_index=True)
        chosen = select_lr(table, selection, failure_loss, step_cap)
        at_low, at_high = chosen == 0, chosen == len(table) - 1
        if not (at_low or at_high) or extensions >= grid.max_extensions:
            break
        extensions += 1
        k = np.arange(1, grid.extend_by + 1)
        new = table["lr"].iloc[0] / ratio**k if at_low else table["lr"].iloc[-1] * ratio**k
        res = _train_round(train_fn, np.sort(new), extensions)
        results.append(res)
        table = pd.concat([table, _round_table(res, score(res), extensions)], ignore_index=True)
    table["chosen"] = False
    table.loc[chosen, "chosen"] = True
    return SweepResult(
        table=table,
        chosen_lr=float(table.loc[chosen, "lr"]),
        at_edge=bool(at_low or at_high),
        results=results,
        feasible=bool(table.loc[chosen, "feasible"]),
    )


@dataclass
class TunedResult:
    """Outcome of :func:`tune_then_train`: the sweep, and the fresh members trained at its rate."""

    sweep: SweepResult
    final: TrainResult

    @property
    def lr(self) -> float:
        """The chosen learning rate."""
        return self.sweep.chosen_lr


def tune_then_train(
    sweep_fn: Callable[..., TrainResult],
    final_fn: Callable[[float], TrainResult],
    grid: LRGrid,
    *,
    score: Callable[[TrainResult], np.ndarray],
    selection: Selection = Selection(),
    failure_loss: float | None = None,
    step_cap: int,
) -> TunedResult:
    """Sweep the learning rate, then train fresh members (new seeds) at the chosen rate.

    The pattern every study follows: the sweep's members are discarded (they were selected on,
    so their numbers are optimistic); the reported numbers come from ``final_fn(chosen_lr)``,
    which trains new members (typically several seeds) at the chosen rate.

    Args:
        sweep_fn: ``sweep_fn(rates, round_)`` as ``train_fn`` of :func:`lr_sweep`.
        final_fn: ``final_fn(lr)`` trains the reported members at rate ``lr``.
        grid, score, selection, failure_loss, step_cap: as :func:`lr_sweep`.

    Returns:
        A :class:`TunedResult` with the sweep and the final members' result.
    """
    sweep = lr_sweep(sweep_fn, grid, score=score, selection=selection, failure_loss=failure_loss, step_cap=step_cap)
    return TunedResult(sweep=sweep, final=final_fn(sweep.chosen_lr))
