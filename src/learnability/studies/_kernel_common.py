"""Small helpers shared by the kernel and linear-model studies (Labs 1, 2, 3, 8; Tutorial 3).

Nothing here trains anything: confidence intervals packed as JSON-ready dicts, their formatting,
log-log slopes, and chart traces for labelled point clouds.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from learnability.analysis import mean_estimate
from learnability.report import Line, fmt_ci

__all__ = ["CLASS_COLOURS", "class_scatter", "estimate", "fmt_est", "loglog_slope", "single_threaded_blas", "spread"]

F = TypeVar("F", bound=Callable[..., Any])

# The two classes of a binary data set, in the report palette's first two colours.
CLASS_COLOURS = ("#0072B2", "#D55E00")


def estimate(values: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Mean and 95% Student-t interval of ``values: (n,)`` as ``{"mean", "low", "high", "n"}``.

    With one value the interval is NaN (one observation says nothing about spread).
    """
    est = mean_estimate(np.asarray(values, dtype=float))
    return {"mean": est.mean, "low": est.low, "high": est.high, "n": est.n}


def _num(v: Any) -> float:
    """JSON read-back: NaN is stored as the string "nan"."""
    return float("nan") if isinstance(v, str) else float(v)


def fmt_est(e: dict[str, Any], digits: int = 3) -> str:
    """``mean [low, high]`` from an :func:`estimate` dict (read back from JSON or not)."""
    low, high = _num(e["low"]), _num(e["high"])
    ci = None if (math.isnan(low) or math.isnan(high)) else (low, high)
    return fmt_ci(_num(e["mean"]), ci, digits)


def spread(e: dict[str, Any]) -> tuple[float, float]:
    """``(low, high)`` of an :func:`estimate` dict, NaN-safe (falls back to the mean)."""
    m, low, high = _num(e["mean"]), _num(e["low"]), _num(e["high"])
    return (m if math.isnan(low) else low, m if math.isnan(high) else high)


def loglog_slope(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (``x, y: (n,)``, positive)."""
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    return float(np.polyfit(lx, ly, 1)[0])


def class_scatter(points: np.ndarray, labels: np.ndarray, names: Sequence[str] = ("class 0", "class 1")) -> list[Line]:
    """Marker traces of ``points: (N, 2)`` coloured by binary ``labels: (N,)``."""
    out = []
    for c, (name, colour) in enumerate(zip(names, CLASS_COLOURS, strict=True)):
        sel = labels == c
        out.append(Line(points[sel, 0], points[sel, 1], label=name, mode="markers", color=colour))
    return out


def single_threaded_blas(fn: F) -> F:
    """Run ``fn`` with BLAS/LAPACK limited to one thread.

    These studies solve thousands of tiny systems (10 x 16 SVDs, 80 x 80 Cholesky factorisations):
    extra BLAS threads only add synchronisation, and on a shared machine their spin-waiting made
    runs several times slower (polynomial-regression: 18.7 s with OpenBLAS' 2 threads, 7.3 s with
    one, same load).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
