"""Statistics that studies quote: means with confidence intervals, bootstrap, paired tests.

Everything here works on small samples of scalars (one number per seed, per pair of images, ...)
and returns small frozen dataclasses that print as ``0.0812 [0.0791, 0.0833]`` and serialise with
``to_dict()``.

* :func:`mean_ci` / :func:`mean_estimate` -- Student-t interval for a mean.
* :func:`bootstrap_ci` -- bootstrap interval (BCa by default, or percentile) for any statistic.
* :func:`paired_test` -- paired t-test, Wilcoxon signed-rank test, mean difference with CI and
  Cohen's d_z.
* :func:`geometric_mean_ratio` -- ratio of positive quantities (relative errors, losses) with a
  t-interval computed in log space.

NaN handling is explicit everywhere: ``nan_policy="raise"`` (default) refuses NaN, ``"omit"``
drops NaN values (pairs, for paired data) before computing. Infinite values are always refused.

References:
    B. Efron and R. Tibshirani, *An Introduction to the Bootstrap*, Chapman & Hall, 1993
    (percentile interval: ch. 13; BCa interval: ch. 14.3, eq. 14.14-14.15, and 15.4, eq. 15.36).
    D. Lakens, "Calculating and reporting effect sizes to facilitate cumulative science",
    *Frontiers in Psychology* 4:863, 2013 (Cohen's d_z for paired designs).
"""

from __future__ import annotations

import math
import typing
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy import stats as sps

from learnability._validation import ParameterError, check_choice, check_in_range
from learnability._words import plural

__all__ = [
    "BootstrapCI",
    "Estimate",
    "PairedComparison",
    "bootstrap_ci",
    "format_interval",
    "geometric_mean_ratio",
    "loglog_slope",
    "mean_ci",
    "mean_estimate",
    "paired_test",
]

NAN_POLICIES = ("raise", "omit")
BOOTSTRAP_METHODS = ("bca", "percentile")
ALTERNATIVES = ("two-sided", "less", "greater")

# Formatting: the mean gets at least `digits` significant digits and the interval's half-width
# two, so that low and high never print identical when they differ.
_HALF_WIDTH_DIGITS = 2
# Fixed-point notation for magnitudes in [1e-3, 1e4); scientific notation outside.
_FIXED_LOW = 1e-3
_FIXED_HIGH = 1e4
# Never print more significant digits than a float64 carries.
_MAX_SIGNIFICANT = 15

# Bootstrap resamples are drawn and evaluated in chunks of at most this many values, so that
# memory stays bounded (9999 resamples of 60,000 values would be 4.8 GB of indices at once).
_CHUNK_VALUES = 1_000_000


# --------------------------------------------------------------------------------------------
# Input handling (shared with distributions.py)
# --------------------------------------------------------------------------------------------


def _to_float_array(values: Any, name: str, owner: str) -> np.ndarray:
    """numpy / torch / sequence -> float64 ndarray (a copy), or ParameterError."""
    if hasattr(values, "detach"):  # torch.Tensor, without importing torch here
        values = values.detach().cpu().double().numpy()
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(name, owner, "an array of real numbers", values) from None


def _as_array(values: Any, name: str, owner: str, *, flatten: bool = False) -> np.ndarray:
    """A 1-D float64 copy of ``values`` (NaN kept); refuse other dimensions and inf."""
    x = _to_float_array(values, name, owner)
    if flatten:
        x = x.reshape(-1)
    elif x.ndim != 1:
        raise ParameterError(name, owner, "a 1-D array", f"array of shape {x.shape}")
    if np.isinf(x).any():
        raise ParameterError(name, owner, "an array of finite values", "an array containing inf")
    return x


def _nan_error(name: str, owner: str) -> ParameterError:
    return ParameterError(name, owner, "an array without NaN (or pass nan_policy='omit')", "an array containing NaN")


def _as_sample(
    values: Any,
    name: str,
    owner: str,
    *,
    nan_policy: str = "raise",
    min_size: int = 1,
    flatten: bool = False,
) -> np.ndarray:
    """Validate a sample of scalars; return it as a 1-D float64 array with NaN handled.

    Args:
        values: array-like ``(n,)`` (numpy, torch, list); any shape if ``flatten``.
        name: parameter name used in error messages.
        owner: function name used in error messages.
        nan_policy: ``"raise"`` refuses NaN, ``"omit"`` drops NaN values.
        min_size: the least number of values required after dropping NaN.
        flatten: accept any shape and use all entries (a weight matrix as a sample).

    Raises:
        ParameterError: wrong dimensions, infinite values, NaN under ``"raise"``, too few values.
    """
    check_choice(nan_policy, "nan_policy", owner, NAN_POLICIES)
    x = _as_array(values, name, owner, flatten=flatten)
    nan = np.isnan(x)
    if nan.any():
        if nan_policy == "raise":
            raise _nan_error(name, owner)
        x = x[~nan]
    if x.size < min_size:
        raise ParameterError(
            name,
            owner,
            f"an array with at least {plural(min_size, 'non-NaN value')}",
            plural(x.size, "value"),
        )
    return x


def _as_pairs(
    a: Any,
    b: Any,
    owner: str,
    *,
    nan_policy: str,
    min_size: int,
    names: tuple[str, str] = ("a", "b"),
) -> tuple[np.ndarray, np.ndarray]:
    """Validate paired samples ``a, b: (n,)``; under ``"omit"`` drop pairs with a NaN in either."""
    check_choice(nan_policy, "nan_policy", owner, NAN_POLICIES)
    x = _as_array(a, names[0], owner)
    y = _as_array(b, names[1], owner)
    if x.shape != y.shape:
        raise ParameterError(
            names[1], owner, f"an array of the shape of '{names[0]}' {x.shape}", f"array of shape {y.shape}"
        )
    keep = ~(np.isnan(x) | np.isnan(y))
    if not keep.all():
        if nan_policy == "raise":
            raise _nan_error(names[0] if np.isnan(x).any() else names[1], owner)
        x, y = x[keep], y[keep]
    if x.size < min_size:
        raise ParameterError(
            names[0], owner, f"paired arrays with at least {plural(min_size, 'complete pair')}", plural(x.size, "pair")
        )
    return x, y


def _check_confidence(confidence: Any, owner: str) -> float:
    return float(
        check_in_range(
            confidence, "confidence", owner, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False, kind=float
        )
    )


def _t_interval(mean: float, sd: float, n: int, confidence: float) -> tuple[float, float]:
    """Student-t interval ``mean +/- t_{(1+c)/2, n-1} sd / sqrt(n)``; NaN when n < 2."""
    if n < 2:
        return math.nan, math.nan
    if sd == 0.0:  # all values equal: the interval collapses (scipy would return NaN here)
        return mean, mean
    half = float(sps.t.ppf(0.5 + confidence / 2.0, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def _exponent(v: float) -> int:
    """Decimal exponent of the leading digit of ``v != 0``."""
    # Round to 10 significant digits first: (1234.6 - 1234.4) / 2 is 0.0999999999999 in binary
    # and must count as 0.1.
    return math.floor(math.log10(abs(float(f"{v:.10g}"))))


# A half-width below this fraction of the numbers is floating-point rounding (the mean of three
# equal values 0.1 has sd ~1e-17), not an interval worth 15 printed digits.
_ROUNDING_NOISE = 1e-12


def format_interval(value: float, low: float, high: float, *, digits: int = 3) -> str:
    """Format a point estimate and its interval, e.g. ``"0.0812 [0.0791, 0.0833]"``.

    All three numbers are rounded at the same decimal place: the finer of (``digits`` significant
    digits of the value) and (two significant digits of the half-width), so that narrow intervals
    still print distinct bounds (a half-width at floating-point rounding level counts as zero:
    ``0.1 [0.1 - 1e-15, 0.1 + 1e-15]`` prints ``0.100 [0.100, 0.100]``). Magnitudes in
    ``[1e-3, 1e4)`` print in fixed-point notation, others in scientific notation
    (``"8.12e-05 [7.91e-05, 8.33e-05]"``). NaN prints as ``nan``.

    Args:
        value: the point estimate.
        low: lower bound (may be NaN).
        high: upper bound (may be NaN).
        digits: least number of significant digits of ``value``.

    Returns:
        The formatted string.
    """
    digits = check_in_range(digits, "digits", "format_interval", low=1, high=_MAX_SIGNIFICANT, kind=int)
    numbers = [float(v) for v in (value, low, high)]
    finite = [v for v in numbers if math.isfinite(v) and v != 0.0]
    places = []  # candidate decimal exponents of the last printed digit
    if math.isfinite(numbers[0]) and numbers[0] != 0.0:
        places.append(_exponent(numbers[0]) - (digits - 1))
    noise = _ROUNDING_NOISE * max((abs(v) for v in numbers if math.isfinite(v)), default=0.0)
    if math.isfinite(low) and math.isfinite(high) and high - low > noise:
        places.append(_exponent((high - low) / 2.0) - (_HALF_WIDTH_DIGITS - 1))
    if not places:
        places.append(-(digits - 1))
    place = min(places)
    if finite:
        biggest = max(abs(v) for v in finite)
        place = max(place, _exponent(biggest) - (_MAX_SIGNIFICANT - 1))
        scientific = not (_FIXED_LOW <= biggest < _FIXED_HIGH)
    else:
        scientific = False

    def one(v: float) -> str:
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if scientific:
            if v == 0.0:
                return "0"
            return f"{v:.{max(0, _exponent(v) - place)}e}"
        if v != 0.0 and round(v, -place) == 0.0:  # a log-scale low bound: positive, not "0.00"
            return f"{v:.{_HALF_WIDTH_DIGITS}g}"
        return f"{round(v, -place) if place > 0 else v:.{max(0, -place)}f}"

    return f"{one(numbers[0])} [{one(numbers[1])}, {one(numbers[2])}]"


# --------------------------------------------------------------------------------------------
# Mean with a Student-t interval
# --------------------------------------------------------------------------------------------


EstimateKind = Literal["real", "positive", "unit"]
_KINDS: tuple[str, ...] = typing.get_args(EstimateKind)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval: the one type for "a mean with a 95% CI".

    It is a frozen dataclass, so a study's pydantic results model can hold it as a field: it
    serialises to ``{"mean", "low", "high", "n", "confidence", "values", "kind"}`` and validates back from
    that mapping (NaN and infinities as the strings ``"nan"``, ``"inf"``, ``"-inf"`` too, which is
    how run folders store them). Format it with :meth:`format` or ``learnability.report.fmt_est``.

    Attributes:
        mean: the point estimate (the sample mean for :func:`mean_estimate`, the geometric-mean
            ratio for :func:`geometric_mean_ratio`).
        low: lower bound of the interval (NaN when undefined, e.g. n = 1).
        high: upper bound of the interval (NaN when undefined).
        n: number of observations used (after dropping NaN).
        confidence: the interval's confidence level.
        values: the observations the estimate was computed from (one per seed, per teacher, ...;
            the ratios for a ratio estimate); empty when they were not kept.
        kind: the quantity's domain, which its interval respects: ``"real"`` (any value),
            ``"positive"`` (errors, distances, rates, variances: ``low > 0``) or ``"unit"``
            (fractions, Sobol indices: within [0, 1]); see :func:`mean_estimate`.
    """

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95
    values: tuple[float, ...] = ()
    kind: EstimateKind = "real"

    @classmethod
    def point(cls, value: float) -> Estimate:
        """A single observation: the value, no interval (``n = 1``)."""
        return cls(float(value), math.nan, math.nan, 1, values=(float(value),))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Estimate:
        """The inverse of :meth:`to_dict` (accepts ``"nan"``/``"inf"`` strings for floats)."""
        values = tuple(float(v) for v in d.get("values", ()))
        return cls(
            float(d["mean"]),
            float(d["low"]),
            float(d["high"]),
            int(d["n"]),
            float(d.get("confidence", 0.95)),
            values,
            d.get("kind", "real"),
        )

    @property
    def ci(self) -> tuple[float, float]:
        """``(low, high)``."""
        return (self.low, self.high)

    @property
    def has_interval(self) -> bool:
        """Both bounds are finite numbers."""
        return math.isfinite(self.low) and math.isfinite(self.high)

    @property
    def half_width(self) -> float:
        """``(high - low) / 2`` (NaN when the interval is undefined)."""
        return (self.high - self.low) / 2.0

    def excludes(self, value: float) -> bool:
        """The interval lies entirely above or below ``value`` (False without an interval)."""
        return self.has_interval and (self.low > value or self.high < value)

    def format(self, digits: int = 3) -> str:
        """``"0.0812 [0.0791, 0.0833]"``; see :func:`format_interval`."""
        return format_interval(self.mean, self.low, self.high, digits=digits)

    def __str__(self) -> str:
        return self.format()

    def to_dict(self) -> dict[str, Any]:
        """``{"mean", "low", "high", "n", "confidence", "values", "kind"}`` as plain Python values."""
        d = asdict(self)
        d["values"] = list(self.values)
        return d


def mean_ci(values: Any, confidence: float = 0.95, *, nan_policy: str = "raise") -> tuple[float, float, float]:
    """Sample mean and its Student-t confidence interval.

    ``mean +/- t_{(1+confidence)/2, n-1} * s / sqrt(n)`` with ``s`` the sample standard deviation
    (ddof = 1), the interval ``scipy.stats.t.interval`` gives.

    Edge cases, deliberately:
      * n = 1: the mean is the value and the interval is ``(nan, nan)`` -- one observation says
        nothing about spread, and a zero-width interval would be quoted as certainty.
      * all values equal (n >= 2): the interval collapses to ``(mean, mean)``.

    Args:
        values: ``(n,)`` observations (numpy, torch or a sequence), e.g. one number per seed.
        confidence: confidence level in (0, 1).
        nan_policy: ``"raise"`` (default) refuses NaN; ``"omit"`` drops NaN values first.

    Returns:
        ``(mean, low, high)`` as Python floats.

    Raises:
        ParameterError: ``values`` not 1-D, infinite, NaN under ``"raise"``, or empty (after
            dropping NaN); ``confidence`` outside (0, 1).
    """
    est = _mean_estimate(values, confidence, nan_policy, "mean_ci")
    return est.mean, est.low, est.high


def mean_estimate(
    values: Any, confidence: float = 0.95, *, nan_policy: str = "raise", kind: EstimateKind = "real"
) -> Estimate:
    """The mean of ``values`` with a confidence interval that respects the quantity's domain.

    The point estimate is always the arithmetic mean; ``kind`` chooses the interval:

    * ``"real"``: the Student-t interval of :func:`mean_ci`.
    * ``"positive"`` (errors, distances, rates, variances; every value must be > 0): the Student-t
      interval of the mean of ``log(values)``, mapped back with ``exp`` -- an interval for the
      geometric mean (the median of a log-normal quantity) with the nominal coverage when the
      logs are normal, and whose low bound is > 0 by construction, where the plain t-interval of
      three seeds reaches below zero (``2.36 [-1.18, 5.89]``). The arithmetic mean is at least
      the geometric mean, so it can lie above the mapped-back interval: the high bound is then
      raised to the mean, so that the printed interval always contains the printed point.
    * ``"unit"`` (fractions, Sobol indices; every value must be in [0, 1]): the Student-t interval
      clipped to [0, 1]. Clipping, not a logit-scale interval: values of exactly 0 or 1 are
      common (a test accuracy of 1.0 in every seed, a Sobol index estimated at 0) and have no
      logit, and since the true value lies in [0, 1], removing the impossible part of the
      interval never lowers its coverage.

    Edge cases as :func:`mean_ci`: ``n = 1`` gives NaN bounds, equal values a zero-width interval.

    Args:
        values: ``(n,)`` observations (numpy, torch or a sequence), e.g. one number per seed.
        confidence: confidence level in (0, 1).
        nan_policy: ``"raise"`` (default) refuses NaN; ``"omit"`` drops NaN values first.
        kind: ``"real"``, ``"positive"`` or ``"unit"`` (stored on the estimate).

    Returns:
        An :class:`Estimate` with ``n``, ``confidence``, ``values`` and ``kind``.

    Raises:
        ParameterError: as :func:`mean_ci`; ``kind`` not one of the three; a value <= 0 with
            ``"positive"`` or outside [0, 1] with ``"unit"``.
    """
    if kind not in _KINDS:
        raise ParameterError("kind", "mean_estimate", "one of {" + ", ".join(repr(k) for k in _KINDS) + "}", kind)
    est = _mean_estimate(values, confidence, nan_policy, "mean_estimate")
    x = np.asarray(est.values, dtype=np.float64)
    if kind == "positive":
        if (x <= 0).any():
            raise ParameterError(
                "values", "mean_estimate", "an array of values > 0 with kind='positive'", float(x.min())
            )
        low, high = est.low, est.high
        if est.n >= 2:
            logs = np.log(x)
            sd = float(np.std(logs, ddof=1))
            log_low, log_high = _t_interval(float(np.mean(logs)), sd, est.n, est.confidence)
            low, high = (est.mean, est.mean) if sd == 0.0 else (math.exp(log_low), math.exp(log_high))
            high = max(high, est.mean)  # the arithmetic mean can exceed the geometric mean's interval
        return replace(est, low=low, high=high, kind=kind)
    if kind == "unit":
        if ((x < 0) | (x > 1)).any():
            bad = float(x[(x < 0) | (x > 1)][0])
            raise ParameterError("values", "mean_estimate", "an array of values in [0, 1] with kind='unit'", bad)
        low, high = est.low, est.high
        if est.n >= 2:
            low, high = max(0.0, low), min(1.0, high)
        return replace(est, low=low, high=high, kind=kind)
    return est


def _mean_estimate(values: Any, confidence: float, nan_policy: str, owner: str) -> Estimate:
    confidence = _check_confidence(confidence, owner)
    x = _as_sample(values, "values", owner, nan_policy=nan_policy, min_size=1)
    n = int(x.size)
    mean = float(np.mean(x))
    sd = float(np.std(x, ddof=1)) if n >= 2 else math.nan
    low, high = _t_interval(mean, sd, n, confidence)
    return Estimate(mean, low, high, n, confidence, tuple(float(v) for v in x))


# --------------------------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapCI:
    """A bootstrap confidence interval.

    Attributes:
        statistic: the statistic on the original samples.
        low: lower bound (NaN when the BCa interval is undefined, see :func:`bootstrap_ci`).
        high: upper bound.
        standard_error: standard deviation (ddof = 1) of the bootstrap distribution.
        n: size of each sample.
        n_resamples: number of bootstrap resamples.
        confidence: confidence level.
        method: ``"bca"`` or ``"percentile"``.
    """

    statistic: float
    low: float
    high: float
    standard_error: float
    n: tuple[int, ...]
    n_resamples: int
    confidence: float
    method: str

    def format(self, digits: int = 3) -> str:
        """``"0.0812 [0.0791, 0.0833]"``; see :func:`format_interval`."""
        return format_interval(self.statistic, self.low, self.high, digits=digits)

    def __str__(self) -> str:
        return self.format()

    def estimate(self, values: Any = ()) -> Estimate:
        """The interval as an :class:`Estimate` (``n`` the first sample's size)."""
        return Estimate(
            self.statistic, self.low, self.high, int(self.n[0]), self.confidence, tuple(float(v) for v in values)
        )

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain Python values (``n`` as a list)."""
        d = asdict(self)
        d["n"] = list(self.n)
        return d


def _evaluate(statistic: Callable[..., Any], samples: list[np.ndarray], vectorized: bool) -> np.ndarray:
    """Statistic of a batch: ``samples[i]: (R, n_i)`` -> ``(R,)``."""
    if vectorized:
        out = np.asarray(statistic(*samples, axis=-1), dtype=np.float64)
        if out.shape != (samples[0].shape[0],):
            raise ParameterError(
                "statistic",
                "bootstrap_ci",
                "a callable returning one value per row when vectorized=True",
                f"output of shape {out.shape}",
            )
        return out
    rows = samples[0].shape[0]
    return np.array([_scalar(statistic(*(s[r] for s in samples))) for r in range(rows)])


def _scalar(v: Any) -> float:
    arr = np.asarray(v, dtype=np.float64)
    if arr.size != 1:
        raise ParameterError(
            "statistic", "bootstrap_ci", "a callable returning a scalar", f"output of shape {arr.shape}"
        )
    return float(arr.reshape(()))


def bootstrap_ci(
    statistic: Callable[..., Any],
    *samples: Any,
    n_resamples: int = 9999,
    confidence: float = 0.95,
    method: str = "bca",
    paired: bool = False,
    vectorized: bool = False,
    seed: int,
) -> BootstrapCI:
    """Bootstrap confidence interval of ``statistic(*samples)``.

    Each resample draws every sample with replacement, independently (``paired=False``) or with
    the same indices for all samples (``paired=True``: observations are pairs, e.g. an image and
    its transformed copy).

    Methods (Efron & Tibshirani 1993):
      * ``"bca"`` (default, as ``scipy.stats.bootstrap``): bias-corrected and accelerated
        percentile interval; second-order accurate. The bias correction is
        ``z0 = Phi^-1(fraction of resamples below the estimate, ties counted half)``; the
        acceleration ``a`` comes from the jackknife (eq. 14.15; for several independent samples,
        the sum over samples as in scipy). When the jackknife shows no variation, ``a = 0``.
        When every resample lies strictly on one side of the estimate, BCa is undefined and
        ``low``/``high`` are NaN -- use ``"percentile"`` for such statistics (e.g. the minimum).
      * ``"percentile"``: the ``(1 -/+ confidence) / 2`` quantiles of the bootstrap distribution.
    If all resampled statistics are equal (constant data), the interval is
    ``(statistic, statistic)``; if the statistic is not finite on the data or on some resample,
    it is ``(nan, nan)``.

    Args:
        statistic: ``statistic(*samples) -> float`` on 1-D arrays; with ``vectorized=True``,
            ``statistic(*samples, axis=-1)`` on ``(R, n_i)`` arrays returning ``(R,)``
            (e.g. ``np.mean``), which is much faster.
        *samples: one or more ``(n_i,)`` samples with at least 2 values each and no NaN/inf.
        n_resamples: number of bootstrap resamples (>= 2).
        confidence: confidence level in (0, 1).
        method: ``"bca"`` or ``"percentile"``.
        paired: resample all samples with the same indices (equal lengths required).
        vectorized: see ``statistic``.
        seed: seed of the ``numpy.random.Generator`` that draws the resamples.

    Returns:
        :class:`BootstrapCI`.

    Raises:
        ParameterError: bad samples or parameters; a statistic that does not return a scalar.
    """
    owner = "bootstrap_ci"
    if not callable(statistic):
        raise ParameterError("statistic", owner, "a callable", statistic)
    if not samples:
        raise ParameterError("samples", owner, "one or more 1-D arrays", "no sample")
    data = [_as_sample(s, f"samples[{i}]", owner, min_size=2) for i, s in enumerate(samples)]
    n_resamples = check_in_range(n_resamples, "n_resamples", owner, low=2, kind=int)
    confidence = _check_confidence(confidence, owner)
    check_choice(method, "method", owner, BOOTSTRAP_METHODS)
    seed = check_in_range(seed, "seed", owner, low=0, kind=int)
    sizes = tuple(int(d.size) for d in data)
    if paired and len(set(sizes)) != 1:
        raise ParameterError("samples", owner, "samples of equal length when paired=True", f"lengths {sizes}")

    theta_hat = float(_evaluate(statistic, [d[None, :] for d in data], vectorized)[0])
    # The resampling and both intervals are scipy's; what is ours is the edge rules around them.
    with warnings.catch_warnings():
        # BCa is undefined when every resample lies on one side of the estimate: scipy warns and
        # returns NaN, which is the documented answer here.
        warnings.simplefilter("ignore", sps.DegenerateDataWarning)
        with np.errstate(invalid="ignore", divide="ignore"):
            res = sps.bootstrap(
                tuple(data),
                _axis_statistic(statistic, vectorized),
                n_resamples=n_resamples,
                confidence_level=confidence,
                method="BCa" if method == "bca" else "percentile",
                paired=paired,
                vectorized=True,
                batch=max(1, _CHUNK_VALUES // sum(sizes)),
                rng=np.random.default_rng(seed),
            )
    boot = np.asarray(res.bootstrap_distribution, dtype=np.float64)  # (n_resamples,)
    standard_error = float(np.std(boot, ddof=1))
    if not np.isfinite(boot).all() or not math.isfinite(theta_hat):
        low = high = math.nan  # the statistic is not defined on some resample
    elif boot.min() == boot.max():
        low = high = theta_hat  # constant data: scipy would return NaN for BCa
    else:
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return BootstrapCI(theta_hat, low, high, standard_error, sizes, n_resamples, confidence, method)


def _axis_statistic(statistic: Callable[..., Any], vectorized: bool) -> Callable[..., np.ndarray]:
    """``statistic`` in scipy's vectorised form ``f(*samples, axis=-1) -> (R,)``."""
    if vectorized:
        return lambda *s, axis=-1: np.asarray(statistic(*s, axis=axis), dtype=np.float64)

    def looped(*s: np.ndarray, axis: int = -1) -> np.ndarray:
        s = [np.moveaxis(x, axis, -1) for x in s]
        batch = [x.reshape(-1, x.shape[-1]) for x in s]
        out = _evaluate(statistic, batch, False)
        return out.reshape(s[0].shape[:-1])

    return looped


# --------------------------------------------------------------------------------------------
# Paired comparison
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairedComparison:
    """Result of :func:`paired_test` on pairs ``(a_i, b_i)``; differences are ``a - b``.

    Attributes:
        n: number of complete pairs used.
        mean_a: mean of ``a``.
        mean_b: mean of ``b``.
        difference: mean of ``a - b`` with its Student-t interval (:class:`Estimate`).
        t_statistic: paired t statistic ``mean(d) / (sd(d) / sqrt(n))``.
        t_pvalue: its p-value (Student t with ``n - 1`` degrees of freedom).
        df: degrees of freedom ``n - 1``.
        wilcoxon_statistic: Wilcoxon signed-rank statistic (scipy's convention).
        wilcoxon_pvalue: its p-value (``scipy.stats.wilcoxon`` defaults: zero differences
            dropped, exact or normal approximation chosen by scipy).
        cohens_dz: ``mean(d) / sd(d)`` (ddof = 1), the standardised mean difference of paired
            data (Lakens 2013).
        alternative: ``"two-sided"``, ``"less"`` or ``"greater"`` (the CI is always two-sided).
    """

    n: int
    mean_a: float
    mean_b: float
    difference: Estimate
    t_statistic: float
    t_pvalue: float
    df: int
    wilcoxon_statistic: float
    wilcoxon_pvalue: float
    cohens_dz: float
    alternative: str

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain Python values, ``difference`` as a nested dict."""
        return asdict(self)


def paired_test(
    a: Any,
    b: Any,
    confidence: float = 0.95,
    *,
    alternative: str = "two-sided",
    nan_policy: str = "raise",
) -> PairedComparison:
    """Compare paired measurements: t-test, Wilcoxon signed-rank, mean difference, effect size.

    The t statistic and p-value equal ``scipy.stats.ttest_rel(a, b, alternative=...)``, the
    difference CI equals its ``confidence_interval(confidence)`` (two-sided), and the Wilcoxon
    result equals ``scipy.stats.wilcoxon(a, b, alternative=...)``.

    Degenerate data, deliberately (scipy would warn):
      * all differences zero: t statistic, both p-values and d_z are NaN (no test is possible);
        the difference is ``0 [0, 0]``.
      * equal non-zero differences: t and d_z are +/-inf and the t p-value is its limit
        (0 for a two-sided test); the Wilcoxon test is still defined.

    Args:
        a: ``(n,)`` measurements under condition A (e.g. distance of an image to its transform).
        b: ``(n,)`` paired measurements under condition B (e.g. distance to an unrelated image).
        confidence: confidence level of the difference's interval, in (0, 1).
        alternative: ``"two-sided"``, ``"less"`` (mean of ``a - b`` < 0) or ``"greater"``.
        nan_policy: ``"raise"`` refuses NaN; ``"omit"`` drops pairs with a NaN in either array.

    Returns:
        :class:`PairedComparison`.

    Raises:
        ParameterError: shapes differ, fewer than 2 complete pairs, inf, NaN under ``"raise"``,
            bad ``confidence`` or ``alternative``.
    """
    owner = "paired_test"
    confidence = _check_confidence(confidence, owner)
    check_choice(alternative, "alternative", owner, ALTERNATIVES)
    check_choice(nan_policy, "nan_policy", owner, NAN_POLICIES)
    x, y = _as_pairs(a, b, owner, nan_policy=nan_policy, min_size=2)
    d = x - y
    n = int(d.size)
    difference = mean_estimate(d, confidence)
    mean_d = difference.mean
    sd = float(np.std(d, ddof=1))

    if sd > 0.0:
        t_stat = mean_d / (sd / math.sqrt(n))
        dz = mean_d / sd
    elif mean_d != 0.0:
        t_stat = dz = math.copysign(math.inf, mean_d)
    else:
        t_stat = dz = math.nan
    if math.isnan(t_stat):
        t_p = math.nan
    elif alternative == "two-sided":
        t_p = float(2.0 * sps.t.sf(abs(t_stat), n - 1))
    elif alternative == "greater":
        t_p = float(sps.t.sf(t_stat, n - 1))
    else:
        t_p = float(sps.t.cdf(t_stat, n - 1))

    if np.any(d != 0.0):
        w = sps.wilcoxon(d, alternative=alternative)
        w_stat, w_p = float(w.statistic), float(w.pvalue)
    else:
        w_stat = w_p = math.nan
    return PairedComparison(
        n=n,
        mean_a=float(np.mean(x)),
        mean_b=float(np.mean(y)),
        difference=difference,
        t_statistic=float(t_stat),
        t_pvalue=t_p,
        df=n - 1,
        wilcoxon_statistic=w_stat,
        wilcoxon_pvalue=w_p,
        cohens_dz=float(dz),
        alternative=alternative,
    )


# --------------------------------------------------------------------------------------------
# Ratios of positive quantities
# --------------------------------------------------------------------------------------------


def geometric_mean_ratio(
    numerator: Any,
    denominator: Any = None,
    confidence: float = 0.95,
    *,
    paired: bool = False,
    nan_policy: str = "raise",
) -> Estimate:
    """Geometric-mean ratio of positive quantities with a t-interval computed in log space.

    Ratios of errors or losses are multiplicative, so they are averaged as logarithms and the
    interval is mapped back with ``exp``: the result is asymmetric around the ratio and always
    positive. ``2.0 [1.5, 2.7]`` reads "A's error is about twice B's".

    Three designs:
      * ``denominator=None``: ``numerator`` already holds ratios ``r_i``;
        ratio ``= exp(mean(log r))`` with the Student-t interval of ``mean(log r)``.
      * ``paired=True``: ratios ``numerator_i / denominator_i`` of paired runs (e.g. same seed),
        as above.
      * ``paired=False`` (default): independent samples; ratio
        ``= exp(mean(log a) - mean(log b))`` with Welch's interval for the difference of the log
        means (unequal variances, Welch-Satterthwaite degrees of freedom).

    Edge cases: the interval is ``(nan, nan)`` when a sample (or the ratios) has a single value,
    and collapses to the ratio when the log values have zero spread.

    Args:
        numerator: ``(n,)`` positive values (or ratios when ``denominator`` is None).
        denominator: ``(m,)`` positive values, or None. ``m = n`` when paired.
        confidence: confidence level in (0, 1).
        paired: pair ``numerator[i]`` with ``denominator[i]`` (ignored without denominator).
        nan_policy: ``"raise"`` refuses NaN; ``"omit"`` drops NaN values (whole pairs if paired).

    Returns:
        :class:`Estimate` whose ``mean`` is the geometric-mean ratio; ``n`` is the number of
        ratios (one-sample and paired designs) or ``n + m`` (independent samples).

    Raises:
        ParameterError: non-positive, infinite or (under ``"raise"``) NaN values; shapes that do
            not pair; empty samples; bad ``confidence``.
    """
    owner = "geometric_mean_ratio"
    confidence = _check_confidence(confidence, owner)
    check_choice(nan_policy, "nan_policy", owner, NAN_POLICIES)
    if denominator is None:
        ratios = _as_sample(numerator, "numerator", owner, nan_policy=nan_policy)
        _check_positive(ratios, "numerator", owner)
        return _exp_estimate(mean_estimate(np.log(ratios), confidence))
    if paired:
        x, y = _as_pairs(
            numerator, denominator, owner, nan_policy=nan_policy, min_size=1, names=("numerator", "denominator")
        )
        _check_positive(x, "numerator", owner)
        _check_positive(y, "denominator", owner)
        return _exp_estimate(mean_estimate(np.log(x) - np.log(y), confidence))

    x = _as_sample(numerator, "numerator", owner, nan_policy=nan_policy)
    y = _as_sample(denominator, "denominator", owner, nan_policy=nan_policy)
    _check_positive(x, "numerator", owner)
    _check_positive(y, "denominator", owner)
    lx, ly = np.log(x), np.log(y)
    diff = float(np.mean(lx) - np.mean(ly))
    n_x, n_y = int(x.size), int(y.size)
    if min(n_x, n_y) < 2:
        low = high = math.nan
    else:
        vx, vy = float(np.var(lx, ddof=1)) / n_x, float(np.var(ly, ddof=1)) / n_y
        se = math.sqrt(vx + vy)
        if se == 0.0:
            low = high = diff
        else:
            df = (vx + vy) ** 2 / (vx**2 / (n_x - 1) + vy**2 / (n_y - 1))
            half = float(sps.t.ppf(0.5 + confidence / 2.0, df)) * se
            low, high = diff - half, diff + half
    return _exp_estimate(Estimate(diff, low, high, n_x + n_y, confidence))


def _check_positive(x: np.ndarray, name: str, owner: str) -> None:
    if np.any(x <= 0.0):
        raise ParameterError(name, owner, "an array of positive values", f"minimum {float(np.min(x))!r}")


def _exp_estimate(log_est: Estimate) -> Estimate:
    """Map an estimate of a mean log back to the ratio scale."""
    return Estimate(
        math.exp(log_est.mean),
        math.exp(log_est.low),
        math.exp(log_est.high),
        log_est.n,
        log_est.confidence,
        tuple(math.exp(v) for v in log_est.values),
        "positive",  # a ratio of positive quantities: its interval is > 0 by construction
    )


def loglog_slope(x: Any, y: Any) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (``x, y: (n,)``, positive): the exponent
    of a power law ``y ~ x^slope``."""
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    return float(np.polyfit(lx, ly, 1)[0])
