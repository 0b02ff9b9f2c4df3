"""Known-answer tests for learnability.analysis.stats against scipy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from learnability._validation import ParameterError
from learnability.analysis.stats import (
    BootstrapCI,
    Estimate,
    PairedComparison,
    bootstrap_ci,
    format_interval,
    geometric_mean_ratio,
    mean_ci,
    mean_estimate,
    paired_test,
)

# ------------------------------------------------------------------------------ mean_ci


@pytest.mark.parametrize("confidence", [0.5, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("n", [2, 3, 10, 57])
def test_mean_ci_equals_t_interval_by_hand(n: int, confidence: float) -> None:
    x = np.random.default_rng(n).normal(3.0, 2.0, size=n)
    mean = x.mean()
    se = x.std(ddof=1) / math.sqrt(n)
    t = sps.t.ppf((1 + confidence) / 2, df=n - 1)
    got = mean_ci(x, confidence)
    np.testing.assert_allclose(got, (mean, mean - t * se, mean + t * se), rtol=1e-12)
    ref = sps.t.interval(confidence, df=n - 1, loc=mean, scale=se)
    np.testing.assert_allclose(got[1:], ref, rtol=1e-12)


def test_mean_ci_known_numbers() -> None:
    # mean 2, s = 1, n = 3: half-width t_{0.975, 2} / sqrt(3) = 4.302652729749464 / 1.7320508
    mean, low, high = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert high - mean == pytest.approx(4.302652729749464 / math.sqrt(3), rel=1e-12)
    assert mean - low == pytest.approx(high - mean, rel=1e-12)


def test_mean_ci_single_value_has_undefined_interval() -> None:
    mean, low, high = mean_ci([4.5])
    assert mean == 4.5 and math.isnan(low) and math.isnan(high)
    est = mean_estimate([4.5])
    assert est.n == 1 and str(est) == "4.50 [nan, nan]"


def test_mean_ci_constant_values_collapse_without_warning() -> None:
    assert mean_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)


def test_mean_ci_nan_policy() -> None:
    with pytest.raises(ParameterError, match="'values' parameter of mean_ci.*NaN"):
        mean_ci([1.0, float("nan"), 3.0])
    assert mean_ci([1.0, float("nan"), 3.0], nan_policy="omit") == mean_ci([1.0, 3.0])
    est = mean_estimate([1.0, float("nan"), 3.0], nan_policy="omit")
    assert est.n == 2
    with pytest.raises(ParameterError, match="at least 1 non-NaN"):
        mean_ci([float("nan")], nan_policy="omit")
    with pytest.raises(ParameterError, match="'nan_policy' parameter of mean_ci"):
        mean_ci([1.0, 2.0], nan_policy="propagate")


@pytest.mark.parametrize(
    ("values", "confidence", "match"),
    [
        ([], 0.95, "'values' parameter of mean_ci must be an array with at least 1"),
        ([[1.0, 2.0]], 0.95, "'values' parameter of mean_ci must be a 1-D array"),
        ([1.0, float("inf")], 0.95, "finite"),
        ([1.0, 2.0], 1.0, r"'confidence' parameter of mean_ci must be a float in the range \(0, 1\)"),
        ([1.0, 2.0], 0.0, "'confidence'"),
        (["a", "b"], 0.95, "array of real numbers"),
    ],
)
def test_mean_ci_bad_input(values: list, confidence: float, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        mean_ci(values, confidence)


def test_mean_ci_accepts_torch() -> None:
    x = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float32, requires_grad=True)
    assert mean_ci(x) == pytest.approx(mean_ci([1.0, 2.0, 4.0]))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=30),
    st.floats(0.1, 10.0),
    st.floats(-100.0, 100.0),
)
def test_mean_ci_is_affine_equivariant(values: list[float], scale: float, shift: float) -> None:
    x = np.asarray(values)
    mean, low, high = mean_ci(x)
    m2, l2, h2 = mean_ci(scale * x + shift)
    tol = 1e-9 * (1 + scale * np.abs(x).max() + abs(shift))
    assert low <= mean <= high
    assert m2 == pytest.approx(scale * mean + shift, abs=tol)
    assert l2 == pytest.approx(scale * low + shift, abs=tol)
    assert h2 == pytest.approx(scale * high + shift, abs=tol)


def test_mean_ci_coverage_is_nominal() -> None:
    # 2000 normal samples of size 5: the 90% interval covers 0 in 90% +/- 3 sd of cases.
    rng = np.random.default_rng(0)
    trials, n, conf = 2000, 5, 0.9
    hits = sum(lo <= 0.0 <= hi for _, lo, hi in (mean_ci(rng.normal(size=n), conf) for _ in range(trials)))
    assert abs(hits / trials - conf) < 3 * math.sqrt(conf * (1 - conf) / trials)


# ------------------------------------------------------------------------------ formatting


@pytest.mark.parametrize(
    ("triple", "expected"),
    [
        ((0.0812, 0.0791, 0.0833), "0.0812 [0.0791, 0.0833]"),
        ((1234.5, 1234.4, 1234.6), "1234.50 [1234.40, 1234.60]"),  # narrow: more digits
        ((0.5, 0.1, 0.9), "0.500 [0.100, 0.900]"),
        ((8.12e-5, 7.91e-5, 8.33e-5), "8.12e-05 [7.91e-05, 8.33e-05]"),
        ((1.5e6, 1.2e6, 1.8e6), "1.50e+06 [1.20e+06, 1.80e+06]"),
        ((-2.0, -3.5, -0.5), "-2.00 [-3.50, -0.50]"),
        ((3.0, math.nan, math.nan), "3.00 [nan, nan]"),
        ((0.0, 0.0, 0.0), "0.00 [0.00, 0.00]"),
    ],
)
def test_format_interval(triple: tuple[float, float, float], expected: str) -> None:
    assert format_interval(*triple) == expected


def test_estimate_is_frozen_and_serialises() -> None:
    est = Estimate(0.0812, 0.0791, 0.0833, 5)
    assert str(est) == "0.0812 [0.0791, 0.0833]"
    assert est.format(digits=2) == "0.0812 [0.0791, 0.0833]"
    assert est.to_dict() == {
        "mean": 0.0812,
        "low": 0.0791,
        "high": 0.0833,
        "n": 5,
        "confidence": 0.95,
        "values": [],
        "kind": "real",
    }
    assert est.half_width == pytest.approx(0.0021)
    with pytest.raises(AttributeError):
        est.mean = 1.0  # type: ignore[misc]


def test_estimate_keeps_its_values_and_round_trips_through_json_with_nan() -> None:
    import json

    from pydantic import BaseModel

    from learnability.runs import jsonable

    est = mean_estimate([1.9, 2.0, 2.1])
    assert est.values == (1.9, 2.0, 2.1)
    ratio = geometric_mean_ratio([2.0, 8.0])
    assert ratio.values == pytest.approx((2.0, 8.0))
    single = Estimate.point(3.0)
    assert single.n == 1 and math.isnan(single.low) and not single.has_interval
    assert not single.excludes(0.0) and est.excludes(0.0) and not est.excludes(2.0)

    class Holder(BaseModel):
        a: Estimate
        b: Estimate

    text = json.dumps(jsonable(Holder(a=est, b=single).model_dump()))  # NaN stored as "nan"
    back = Holder.model_validate(json.loads(text))
    assert back.a == est
    assert back.b.mean == 3.0 and math.isnan(back.b.low) and math.isnan(back.b.high)
    assert Estimate.from_dict(json.loads(text)["b"]).values == (3.0,)


# ------------------------------------------------------------------------------ bootstrap


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_bootstrap_matches_scipy_on_normal_sample(method: str) -> None:
    x = np.random.default_rng(1).normal(1.0, 2.0, size=80)
    ours = bootstrap_ci(np.mean, x, n_resamples=4000, method=method, vectorized=True, seed=3)
    ref = sps.bootstrap((x,), np.mean, n_resamples=4000, method=method, rng=4)
    # Different resamples: agreement within Monte Carlo error (a few % of the width).
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert ours.low == pytest.approx(ref.confidence_interval.low, abs=0.05 * width)
    assert ours.high == pytest.approx(ref.confidence_interval.high, abs=0.05 * width)
    assert ours.standard_error == pytest.approx(x.std(ddof=1) / math.sqrt(80), rel=0.05)
    assert ours.statistic == x.mean()
    # ... and close to the t interval for a mean of normal data.
    _, lo, hi = mean_ci(x)
    assert ours.low == pytest.approx(lo, abs=0.1 * width)
    assert ours.high == pytest.approx(hi, abs=0.1 * width)


def test_bootstrap_bca_equals_scipy_given_same_resamples() -> None:
    # scipy draws its resamples as rng.integers(0, n, (n_resamples, n)) from the same generator
    # stream; with the same seed both see the same bootstrap distribution, so BCa (including
    # the jackknife acceleration) must agree to rounding.
    x = np.random.default_rng(2).exponential(size=40)
    ours = bootstrap_ci(np.std, x, n_resamples=2000, method="bca", vectorized=True, seed=11)
    ref = sps.bootstrap((x,), np.std, n_resamples=2000, method="BCa", rng=np.random.default_rng(11))
    np.testing.assert_allclose(ref.bootstrap_distribution.shape, (2000,))
    np.testing.assert_allclose(
        (ours.low, ours.high), (ref.confidence_interval.low, ref.confidence_interval.high), rtol=1e-10
    )
    assert ours.standard_error == pytest.approx(ref.standard_error, rel=1e-10)


def test_bootstrap_two_independent_samples_and_paired_bca_match_scipy() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=30), rng.normal(0.5, 1.0, size=25)

    def diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(x, axis=axis) - np.mean(y, axis=axis)

    ours = bootstrap_ci(diff, a, b, n_resamples=1000, vectorized=True, seed=7)
    ref = sps.bootstrap((a, b), diff, n_resamples=1000, rng=np.random.default_rng(7))
    np.testing.assert_allclose((ours.low, ours.high), tuple(ref.confidence_interval), rtol=1e-10)

    c = a + rng.normal(size=30)
    ours = bootstrap_ci(diff, a, c, n_resamples=1000, paired=True, vectorized=True, seed=7)
    ref = sps.bootstrap((a, c), diff, n_resamples=1000, paired=True, rng=np.random.default_rng(7))
    np.testing.assert_allclose((ours.low, ours.high), tuple(ref.confidence_interval), rtol=1e-10)


def test_bootstrap_in_chunks_equals_scipy_in_one_batch() -> None:
    # 1000 resamples x 2500 values exceed the 1e6-value chunk: resamples and jackknife values
    # are evaluated in several chunks, which must not change the answer.
    x = np.random.default_rng(8).normal(size=2500)
    ours = bootstrap_ci(np.mean, x, n_resamples=1000, vectorized=True, seed=3)
    ref = sps.bootstrap((x,), np.mean, n_resamples=1000, rng=np.random.default_rng(3))
    np.testing.assert_allclose((ours.low, ours.high), tuple(ref.confidence_interval), rtol=1e-12)


def test_bootstrap_scalar_and_vectorized_statistics_agree() -> None:
    x = np.random.default_rng(3).normal(size=25)
    scalar = bootstrap_ci(lambda s: float(np.median(s)), x, n_resamples=500, seed=0)
    vector = bootstrap_ci(np.median, x, n_resamples=500, vectorized=True, seed=0)
    assert scalar == vector
    assert isinstance(scalar, BootstrapCI)


def test_bootstrap_is_reproducible_and_seed_dependent() -> None:
    x = np.random.default_rng(4).normal(size=20)
    one = bootstrap_ci(np.mean, x, n_resamples=300, vectorized=True, seed=1)
    assert one == bootstrap_ci(np.mean, x, n_resamples=300, vectorized=True, seed=1)
    assert one != bootstrap_ci(np.mean, x, n_resamples=300, vectorized=True, seed=2)
    assert one.to_dict()["n"] == [20]


def test_bootstrap_degenerate_cases_are_deliberate() -> None:
    const = bootstrap_ci(np.mean, np.full(10, 3.0), n_resamples=200, vectorized=True, seed=0)
    assert (const.low, const.high) == (3.0, 3.0)
    # The minimum: every resample is >= the estimate, half of them tied; BCa still defined
    # here, and the percentile interval lies above the sample minimum.
    x = np.arange(10.0)
    pct = bootstrap_ci(np.min, x, n_resamples=500, method="percentile", vectorized=True, seed=0)
    assert pct.low == 0.0 and pct.high >= 0.0

    # The number of distinct values: every resample of 20 distinct values has fewer (all
    # distinct has probability 20!/20^20 ~ 2e-8), so BCa's bias correction is infinite -> NaN.
    def distinct(s: np.ndarray) -> float:
        return float(np.unique(s).size)

    y = np.arange(20.0)
    bca = bootstrap_ci(distinct, y, n_resamples=200, seed=0)
    assert math.isnan(bca.low) and math.isnan(bca.high) and bca.statistic == 20.0
    pct = bootstrap_ci(distinct, y, n_resamples=200, method="percentile", seed=0)
    assert 0.0 < pct.low <= pct.high < 20.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_resamples": 1}, "'n_resamples' parameter of bootstrap_ci"),
        ({"method": "basic"}, "'method' parameter of bootstrap_ci"),
        ({"confidence": 1.5}, "'confidence'"),
        ({"seed": -1}, "'seed'"),
    ],
)
def test_bootstrap_bad_parameters(kwargs: dict, match: str) -> None:
    args = {"seed": 0, **kwargs}
    with pytest.raises(ParameterError, match=match):
        bootstrap_ci(np.mean, [1.0, 2.0, 3.0], **args)


def test_bootstrap_bad_samples_and_missing_seed() -> None:
    with pytest.raises(ParameterError, match=r"'samples\[0\]'.*at least 2"):
        bootstrap_ci(np.mean, [1.0], seed=0)
    with pytest.raises(ParameterError, match="equal length"):
        bootstrap_ci(np.mean, [1.0, 2.0], [1.0, 2.0, 3.0], paired=True, seed=0)
    with pytest.raises(ParameterError, match="returning a scalar"):
        bootstrap_ci(lambda s: s, [1.0, 2.0, 3.0], n_resamples=10, seed=0)
    with pytest.raises(ParameterError, match="'samples'"):
        bootstrap_ci(np.mean, seed=0)
    with pytest.raises(TypeError):
        bootstrap_ci(np.mean, [1.0, 2.0, 3.0])  # type: ignore[call-arg]


# ------------------------------------------------------------------------------ paired_test


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
@pytest.mark.parametrize("n", [6, 30, 120])
def test_paired_test_matches_scipy(n: int, alternative: str) -> None:
    rng = np.random.default_rng(n)
    a = rng.normal(size=n)
    b = a + rng.normal(0.3, 1.0, size=n)
    res = paired_test(a, b, 0.9, alternative=alternative)
    t_ref = sps.ttest_rel(a, b, alternative=alternative)
    w_ref = sps.wilcoxon(a, b, alternative=alternative)
    assert isinstance(res, PairedComparison)
    assert res.t_statistic == pytest.approx(t_ref.statistic, rel=1e-12)
    assert res.t_pvalue == pytest.approx(t_ref.pvalue, rel=1e-10)
    assert res.df == t_ref.df == n - 1
    assert res.wilcoxon_statistic == w_ref.statistic
    assert res.wilcoxon_pvalue == pytest.approx(w_ref.pvalue, rel=1e-12)
    ci = sps.ttest_rel(a, b).confidence_interval(0.9)
    assert (res.difference.low, res.difference.high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    d = a - b
    assert res.difference.mean == pytest.approx(d.mean(), rel=1e-12)
    assert res.cohens_dz == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-12)
    assert res.cohens_dz == pytest.approx(res.t_statistic / math.sqrt(n), rel=1e-12)
    assert res.mean_a == pytest.approx(a.mean()) and res.mean_b == pytest.approx(b.mean())


def test_paired_test_detects_a_shift_and_serialises() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=50)
    res = paired_test(a + 1.0 + 0.1 * rng.normal(size=50), a)
    assert res.t_pvalue < 1e-10 and res.wilcoxon_pvalue < 1e-8 and res.cohens_dz > 5
    d = res.to_dict()
    assert d["difference"]["n"] == 50 and d["alternative"] == "two-sided"


def test_paired_test_degenerate_differences() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    same = paired_test(x, x)
    assert math.isnan(same.t_statistic) and math.isnan(same.t_pvalue)
    assert math.isnan(same.wilcoxon_pvalue) and math.isnan(same.cohens_dz)
    assert (same.difference.mean, same.difference.low, same.difference.high) == (0.0, 0.0, 0.0)
    shifted = paired_test(x + 1.0, x)
    assert shifted.t_statistic == math.inf and shifted.t_pvalue == 0.0
    assert shifted.cohens_dz == math.inf
    assert shifted.wilcoxon_pvalue == pytest.approx(sps.wilcoxon(np.ones(4)).pvalue)


def test_paired_test_nan_policy_drops_pairs() -> None:
    a = np.array([1.0, 2.0, np.nan, 4.0, 5.0])
    b = np.array([1.5, np.nan, 3.0, 3.0, 6.5])
    with pytest.raises(ParameterError, match="'a' parameter of paired_test.*NaN"):
        paired_test(a, b)
    res = paired_test(a, b, nan_policy="omit")
    assert res.n == 3
    assert res.t_statistic == pytest.approx(sps.ttest_rel([1.0, 4.0, 5.0], [1.5, 3.0, 6.5]).statistic)


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        ([1.0, 2.0], [1.0, 2.0, 3.0], "'b' parameter of paired_test.*shape"),
        ([1.0], [2.0], "at least 2 complete pair"),
        ([[1.0, 2.0]], [[1.0, 2.0]], "1-D"),
    ],
)
def test_paired_test_bad_input(a: list, b: list, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        paired_test(a, b)


def test_paired_test_bad_alternative() -> None:
    with pytest.raises(ParameterError, match="'alternative' parameter of paired_test"):
        paired_test([1.0, 2.0], [2.0, 1.0], alternative="bigger")


# ------------------------------------------------------------------------------ ratios


def test_geometric_mean_ratio_one_sample_and_paired() -> None:
    ratios = np.array([2.0, 4.0, 8.0])  # logs: ln2 * [1, 2, 3]; geometric mean 4
    est = geometric_mean_ratio(ratios)
    _, lo, hi = mean_ci(np.log(ratios))
    assert est.mean == pytest.approx(4.0, rel=1e-12)
    assert (est.low, est.high) == pytest.approx((math.exp(lo), math.exp(hi)), rel=1e-12)
    assert est.low * est.high == pytest.approx(est.mean**2, rel=1e-12)  # symmetric in logs
    num, den = np.array([2.0, 8.0, 24.0]), np.array([1.0, 2.0, 3.0])
    paired = geometric_mean_ratio(num, den, paired=True)
    assert (paired.mean, paired.low, paired.high) == pytest.approx((est.mean, est.low, est.high), rel=1e-12)
    assert paired.n == 3


def test_geometric_mean_ratio_welch_matches_scipy() -> None:
    rng = np.random.default_rng(9)
    a = np.exp(rng.normal(1.0, 0.3, size=8))
    b = np.exp(rng.normal(0.0, 0.6, size=13))
    est = geometric_mean_ratio(a, b, 0.9)
    ref = sps.ttest_ind(np.log(a), np.log(b), equal_var=False).confidence_interval(0.9)
    assert est.mean == pytest.approx(math.exp(np.log(a).mean() - np.log(b).mean()), rel=1e-12)
    assert (est.low, est.high) == pytest.approx((math.exp(ref.low), math.exp(ref.high)), rel=1e-10)
    assert est.n == 21 and est.confidence == 0.9


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.01, 100.0), min_size=2, max_size=20), st.floats(0.01, 100.0))
def test_geometric_mean_ratio_is_scale_equivariant(values: list[float], c: float) -> None:
    x = np.asarray(values)
    base = geometric_mean_ratio(x)
    scaled = geometric_mean_ratio(c * x)
    assert scaled.mean == pytest.approx(c * base.mean, rel=1e-9)
    assert scaled.low == pytest.approx(c * base.low, rel=1e-9)


def test_geometric_mean_ratio_edge_cases_and_errors() -> None:
    one = geometric_mean_ratio([3.0], [1.5])
    assert one.mean == pytest.approx(2.0) and math.isnan(one.low)
    flat = geometric_mean_ratio([2.0, 2.0], [1.0, 1.0])
    assert (flat.mean, flat.low, flat.high) == pytest.approx((2.0, 2.0, 2.0))
    with pytest.raises(ParameterError, match="'numerator' parameter.*positive"):
        geometric_mean_ratio([1.0, 0.0])
    with pytest.raises(ParameterError, match="'denominator' parameter.*positive"):
        geometric_mean_ratio([1.0, 2.0], [1.0, -2.0], paired=True)
    with pytest.raises(ParameterError, match="'denominator'.*shape"):
        geometric_mean_ratio([1.0, 2.0], [1.0], paired=True)
    omit = geometric_mean_ratio([2.0, np.nan, 8.0], [1.0, 1.0, 2.0], paired=True, nan_policy="omit")
    assert omit.n == 2 and omit.mean == pytest.approx(math.sqrt(2.0 * 4.0))


# --------------------------------------------------------------------------- Estimate kinds


def test_positive_estimate_covers_the_geometric_mean_and_never_reaches_zero() -> None:
    # 2,000 log-normal samples of size 3 (the usual number of seeds): the log-scale t-interval
    # covers the true geometric mean exp(mu) at the nominal 95% (binomial sd ~0.5%), and no
    # interval of a positive quantity has low <= 0 (the plain t-interval does, often).
    rng = np.random.default_rng(0)
    mu, sigma = 1.0, 1.0
    draws = rng.lognormal(mu, sigma, size=(2000, 3))
    ests = [mean_estimate(x, kind="positive") for x in draws]
    coverage = np.mean([e.low <= math.exp(mu) <= e.high for e in ests])
    assert 0.93 <= coverage <= 0.97
    assert all(e.low > 0 and e.kind == "positive" for e in ests)
    assert all(e.low <= e.mean <= e.high for e in ests)  # widened to hold the arithmetic mean
    assert np.mean([mean_estimate(x).low <= 0 for x in draws]) > 0.2  # what "real" would print


def test_positive_estimate_matches_a_hand_computed_log_interval() -> None:
    x = [2.0, 8.0]  # logs ln2, ln8: mean ln4, sd ln4 * sqrt(2)... computed directly below
    logs = np.log(x)
    half = 12.706204736174 * np.std(logs, ddof=1) / math.sqrt(2)
    est = mean_estimate(x, kind="positive")
    assert est.mean == 5.0
    assert est.low == pytest.approx(math.exp(logs.mean() - half), rel=1e-9)
    assert est.high == pytest.approx(math.exp(logs.mean() + half), rel=1e-9)


def test_positive_estimate_high_is_raised_to_the_mean_when_it_falls_outside() -> None:
    # Nearly equal logs except one large value: AM far above GM, and above the GM interval at 50%.
    est = mean_estimate([1.0, 1.0, 1.0, 1.0, 100.0], confidence=0.5, kind="positive")
    logs = np.log([1.0, 1.0, 1.0, 1.0, 100.0])
    gm_high = math.exp(logs.mean() + sps.t.ppf(0.75, 4) * logs.std(ddof=1) / math.sqrt(5))
    assert gm_high < est.mean and est.high == est.mean == pytest.approx(20.8)


def test_unit_estimate_stays_in_the_unit_interval() -> None:
    est = mean_estimate([0.9, 1.0, 0.7], kind="unit")
    assert est.high == 1.0 and 0.0 <= est.low < est.mean
    plain = mean_estimate([0.9, 1.0, 0.7])
    assert plain.high > 1.0 and est.low == plain.low  # only the impossible part is cut
    low = mean_estimate([0.0, 0.0, 0.1], kind="unit")
    assert low.low == 0.0 and low.high < 1.0
    assert mean_estimate([1.0, 1.0], kind="unit").ci == (1.0, 1.0)  # logit would fail here


def test_estimate_kind_round_trips_and_defaults_to_real() -> None:
    from pydantic import BaseModel

    class Holder(BaseModel):
        est: Estimate

    est = mean_estimate([1.0, 2.0, 4.0], kind="positive")
    assert Estimate.from_dict(est.to_dict()) == est
    assert Holder.model_validate_json(Holder(est=est).model_dump_json()).est == est
    old = {k: v for k, v in est.to_dict().items() if k != "kind"}  # a summary written before kinds
    assert Estimate.from_dict(old).kind == "real" and Holder.model_validate({"est": old}).est.kind == "real"


def test_estimate_kind_refuses_values_outside_its_domain() -> None:
    with pytest.raises(ParameterError, match="values > 0 with kind='positive'"):
        mean_estimate([1.0, 0.0, 2.0], kind="positive")
    with pytest.raises(ParameterError, match=r"values in \[0, 1\] with kind='unit'"):
        mean_estimate([0.5, 1.2], kind="unit")
    with pytest.raises(ParameterError, match="'kind' parameter of mean_estimate"):
        mean_estimate([1.0, 2.0], kind="ratio")  # type: ignore[arg-type]


def test_format_interval_hides_rounding_noise_and_keeps_positive_lows_positive() -> None:
    # The mean of three equal 0.1 carries ~1e-17 of rounding: not 15 printed digits.
    assert format_interval(0.1, 0.1 - 1e-15, 0.1 + 1e-15) == "0.100 [0.100, 0.100]"
    assert format_interval(2.0, 0.00163, 1861.06) == "2.00 [0.0016, 1861.06]"
