"""Compare two samples as distributions (e.g. a student's weights against its teacher's).

:func:`compare_distributions` reports, for samples ``a`` and ``b``:

* the first four moments of each (:class:`SampleSummary`): mean, standard deviation, skewness and
  excess kurtosis, all plug-in (population) estimators -- ``np.std(ddof=0)`` and the defaults of
  ``scipy.stats.skew`` / ``scipy.stats.kurtosis`` (``bias=True``, Fisher's excess kurtosis);
* the two-sample Kolmogorov-Smirnov statistic and p-value (``scipy.stats.ks_2samp``, ``method
  ="auto"``);
* the 1-Wasserstein distance ``W1(a, b) = integral |F_a - F_b|`` (``scipy.stats
  .wasserstein_distance``), in the units of the data;
* the *standardised* 1-Wasserstein distance, ``W1`` between the z-scored samples
  ``(a - mean_a) / std_a`` and ``(b - mean_b) / std_b``. It is blind to location and scale and
  measures shape only: two Gaussians of any means and variances are at standardised distance ~0,
  while ``W1`` itself is at least ``|mean_a - mean_b|`` and grows with the scale difference
  (for Gaussians, ``W1 >= |std_a - std_b| * sqrt(2/pi)``). Report both: a student whose weights
  have the teacher's shape at the wrong scale shows a large ``W1`` and a small standardised one;
* QQ data: quantiles of each sample at the same probabilities (Hazen plotting positions
  ``(k - 0.5) / n_quantiles``, ``k = 1..n_quantiles``), for QQ plots.

Degenerate samples are handled deliberately, without warnings: ``std`` is 0 for a single value;
skewness, kurtosis and the standardised distance are NaN when a sample has (numerically) zero
variance, the same criterion under which scipy would warn of catastrophic cancellation.

References:
    C. Villani, *Optimal Transport, Old and New*, 2009 (W1 of distributions on the line is the
    L1 distance between their CDFs).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from learnability._validation import check_in_range
from learnability.analysis.stats import _as_sample

__all__ = [
    "DistributionComparison",
    "SampleSummary",
    "compare_distributions",
    "qq_probabilities",
    "standardized_wasserstein_distance",
    "summarize_sample",
]

# Variance below (resolution * mean)^2 is indistinguishable from rounding of a constant sample;
# scipy.stats.skew/kurtosis use the same threshold (numpy float64 resolution 1e-15, times 10).
_CONSTANT_RTOL = 10 * float(np.finfo(np.float64).resolution)


@dataclass(frozen=True)
class SampleSummary:
    """Plug-in moments of one sample.

    Attributes:
        n: number of values.
        mean: sample mean.
        std: standard deviation with ddof = 0 (0 for a single value).
        skewness: ``m3 / m2^1.5`` (NaN for zero variance).
        excess_kurtosis: ``m4 / m2^2 - 3`` (NaN for zero variance); 0 for a Gaussian.
    """

    n: int
    mean: float
    std: float
    skewness: float
    excess_kurtosis: float

    def to_dict(self) -> dict[str, float | int]:
        """All fields as plain Python numbers."""
        return asdict(self)


@dataclass(frozen=True)
class DistributionComparison:
    """Result of :func:`compare_distributions`.

    Attributes:
        a: moments of the first sample.
        b: moments of the second sample.
        ks: two-sample Kolmogorov-Smirnov statistic ``sup |F_a - F_b|``.
        ks_pvalue: its p-value (two-sided).
        wasserstein: 1-Wasserstein distance, in the units of the data.
        wasserstein_standardized: 1-Wasserstein distance between the z-scored samples (shape
            only); NaN when a sample has zero variance.
        probabilities: ``(n_quantiles,)`` probabilities of the QQ data.
        quantiles_a: ``(n_quantiles,)`` quantiles of ``a`` at ``probabilities``.
        quantiles_b: ``(n_quantiles,)`` quantiles of ``b`` at ``probabilities``.
    """

    a: SampleSummary
    b: SampleSummary
    ks: float
    ks_pvalue: float
    wasserstein: float
    wasserstein_standardized: float
    probabilities: tuple[float, ...]
    quantiles_a: tuple[float, ...]
    quantiles_b: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``a``, ``b`` (moments), ``ks``, ``ks_pvalue``, ``wasserstein``,
        ``wasserstein_standardized`` and ``qq`` = ``{"p", "a", "b"}`` (lists)."""
        return {
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "ks": self.ks,
            "ks_pvalue": self.ks_pvalue,
            "wasserstein": self.wasserstein,
            "wasserstein_standardized": self.wasserstein_standardized,
            "qq": {
                "p": list(self.probabilities),
                "a": list(self.quantiles_a),
                "b": list(self.quantiles_b),
            },
        }


def _is_constant(x: np.ndarray, mean: float, m2: float) -> bool:
    return m2 <= (_CONSTANT_RTOL * mean) ** 2


def _summary(x: np.ndarray) -> SampleSummary:
    mean = float(np.mean(x))
    centred = x - mean
    m2 = float(np.mean(centred**2))
    if _is_constant(x, mean, m2):
        skew = kurt = math.nan
    else:
        skew = float(np.mean(centred**3)) / m2**1.5
        kurt = float(np.mean(centred**4)) / m2**2 - 3.0
    return SampleSummary(int(x.size), mean, math.sqrt(m2), skew, kurt)


def _zscore(x: np.ndarray) -> np.ndarray | None:
    """``(x - mean) / std`` (ddof = 0), or None for a (numerically) constant sample."""
    mean = float(np.mean(x))
    m2 = float(np.mean((x - mean) ** 2))
    if _is_constant(x, mean, m2):
        return None
    return (x - mean) / math.sqrt(m2)


def summarize_sample(values: Any, *, nan_policy: str = "raise") -> SampleSummary:
    """Mean, std (ddof = 0), skewness and excess kurtosis of a sample.

    Args:
        values: array of any shape (numpy or torch); all entries form the sample.
        nan_policy: ``"raise"`` refuses NaN; ``"omit"`` drops NaN values.

    Returns:
        :class:`SampleSummary`; skewness and kurtosis equal ``scipy.stats.skew(x)`` and
        ``scipy.stats.kurtosis(x)`` (NaN for zero variance).

    Raises:
        ParameterError: empty sample, infinite values, NaN under ``"raise"``.
    """
    x = _as_sample(values, "values", "summarize_sample", nan_policy=nan_policy, flatten=True)
    return _summary(x)


def standardized_wasserstein_distance(a: Any, b: Any, *, nan_policy: str = "raise") -> float:
    """1-Wasserstein distance between the z-scored samples: a distance between shapes.

    ``W1((a - mean_a) / std_a, (b - mean_b) / std_b)`` with ddof = 0 standard deviations; it is
    invariant to shifting and positively rescaling either sample (and 0 for two samples that are
    affine images of each other with positive slope).

    Args:
        a: first sample, any shape (flattened).
        b: second sample, any shape (flattened).
        nan_policy: ``"raise"`` refuses NaN; ``"omit"`` drops NaN values.

    Returns:
        The distance, or NaN when either sample has zero variance (no shape to compare).

    Raises:
        ParameterError: empty samples, infinite values, NaN under ``"raise"``.
    """
    owner = "standardized_wasserstein_distance"
    x = _as_sample(a, "a", owner, nan_policy=nan_policy, flatten=True)
    y = _as_sample(b, "b", owner, nan_policy=nan_policy, flatten=True)
    return _standardized_w1(x, y)


def _standardized_w1(x: np.ndarray, y: np.ndarray) -> float:
    zx, zy = _zscore(x), _zscore(y)
    if zx is None or zy is None:
        return math.nan
    return float(sps.wasserstein_distance(zx, zy))


def qq_probabilities(n_quantiles: int) -> np.ndarray:
    """Hazen plotting positions ``(k - 0.5) / n_quantiles`` for ``k = 1..n_quantiles``.

    They avoid the extreme probabilities 0 and 1 (the sample minimum and maximum, which are the
    noisiest quantiles) and are symmetric around 0.5.

    Args:
        n_quantiles: number of probabilities (>= 1).

    Returns:
        ``(n_quantiles,)`` increasing probabilities in (0, 1).
    """
    n_quantiles = check_in_range(n_quantiles, "n_quantiles", "qq_probabilities", low=1, kind=int)
    return (np.arange(1, n_quantiles + 1) - 0.5) / n_quantiles


def compare_distributions(
    a: Any, b: Any, n_quantiles: int = 100, *, nan_policy: str = "raise"
) -> DistributionComparison:
    """Compare two samples as distributions: moments, KS, W1 (raw and standardised), QQ data.

    Typical use: a layer's weights (or all parameters pooled) of a student ``a`` against the
    teacher's ``b``. Samples of different sizes are fine; a single value (an output bias) is
    accepted, with the statistics that need a spread set to NaN (see the module docstring).

    Args:
        a: first sample, numpy or torch array of any shape (flattened), e.g. ``W: (out, in)``.
        b: second sample, any shape (flattened).
        n_quantiles: number of matched quantiles in the QQ data (>= 1).
        nan_policy: ``"raise"`` refuses NaN (a diverged run should not pass silently);
            ``"omit"`` drops NaN values from each sample.

    Returns:
        :class:`DistributionComparison`.

    Raises:
        ParameterError: empty samples, infinite values, NaN under ``"raise"``, bad
            ``n_quantiles``.
    """
    owner = "compare_distributions"
    n_quantiles = check_in_range(n_quantiles, "n_quantiles", owner, low=1, kind=int)
    x = _as_sample(a, "a", owner, nan_policy=nan_policy, flatten=True)
    y = _as_sample(b, "b", owner, nan_policy=nan_policy, flatten=True)
    ks = sps.ks_2samp(x, y)
    p = qq_probabilities(n_quantiles)
    return DistributionComparison(
        a=_summary(x),
        b=_summary(y),
        ks=float(ks.statistic),
        ks_pvalue=float(ks.pvalue),
        wasserstein=float(sps.wasserstein_distance(x, y)),
        wasserstein_standardized=_standardized_w1(x, y),
        probabilities=tuple(float(v) for v in p),
        quantiles_a=tuple(float(v) for v in np.quantile(x, p)),
        quantiles_b=tuple(float(v) for v in np.quantile(y, p)),
    )
