"""Small helpers shared by the group-symmetry studies (hubel-wiesel, deep-sets, symmetry-discovery).

Private: estimates with confidence intervals as JSON-ready dicts, and their formatting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from learnability.analysis import mean_ci
from learnability.report import fmt, fmt_ci

__all__ = ["estimate", "fmt_est", "machine_eps", "nan_to_none"]


def estimate(values: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """Mean of ``values`` (one per seed) with its 95% Student-t interval, JSON-ready.

    Returns:
        ``{"mean", "low", "high", "n", "values"}``; ``low``/``high`` are ``None`` when undefined
        (a single value), never a zero-width interval quoted as certainty.
    """
    vals = np.asarray(values, dtype=float).reshape(-1)
    mean, low, high = mean_ci(vals)
    return {
        "mean": mean,
        "low": nan_to_none(low),
        "high": nan_to_none(high),
        "n": int(vals.size),
        "values": vals.tolist(),
    }


def fmt_est(est: Mapping[str, Any], digits: int = 3) -> str:
    """``mean [low, high]`` of an :func:`estimate` dict (just the mean when the CI is undefined)."""
    ci = None if est.get("low") is None else (est["low"], est["high"])
    return fmt_ci(est["mean"], ci, digits) if ci is not None else fmt(est["mean"], digits)


def nan_to_none(x: float) -> float | None:
    """``None`` for NaN (JSON-friendly "undefined"), the float otherwise."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def machine_eps(dtype_name: str) -> float:
    """Unit round-off of ``"float32"`` / ``"float64"`` (the scale "exact up to rounding" means)."""
    return float(np.finfo(np.dtype(dtype_name)).eps)
