"""Known-answer tests for learnability.analysis.distributions against scipy references."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from learnability._validation import ParameterError
from learnability.analysis.distributions import (
    DistributionComparison,
    SampleSummary,
    compare_distributions,
    qq_probabilities,
    standardized_wasserstein_distance,
    summarize_sample,
)


@pytest.fixture
def samples() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(0.0, 1.0, size=3000), rng.gamma(2.0, 1.5, size=(40, 50))  # b: 2000 values


def test_statistics_match_scipy(samples: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = samples
    res = compare_distributions(a, b)
    flat_b = b.ravel()
    for summary, x in ((res.a, a), (res.b, flat_b)):
        assert summary.n == x.size
        assert summary.mean == pytest.approx(np.mean(x), rel=1e-12)
        assert summary.std == pytest.approx(np.std(x), rel=1e-12)
        assert summary.skewness == pytest.approx(sps.skew(x), rel=1e-10)
        assert summary.excess_kurtosis == pytest.approx(sps.kurtosis(x), rel=1e-10)
    ks = sps.ks_2samp(a, flat_b)
    assert res.ks == ks.statistic and res.ks_pvalue == ks.pvalue
    assert res.wasserstein == pytest.approx(sps.wasserstein_distance(a, flat_b), rel=1e-12)
    za, zb = sps.zscore(a), sps.zscore(flat_b)
    assert res.wasserstein_standardized == pytest.approx(sps.wasserstein_distance(za, zb), rel=1e-10)


def test_known_answers_for_gaussians() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(0.0, 1.0, size=20000), rng.normal(1.0, 1.0, size=20000)
    res = compare_distributions(x, y)
    assert res.wasserstein == pytest.approx(1.0, abs=0.03)  # W1(N(0,1), N(1,1)) = 1
    assert res.wasserstein_standardized < 0.03  # same shape
    assert res.ks == pytest.approx(2 * sps.norm.cdf(0.5) - 1, abs=0.02)  # sup|Phi(t)-Phi(t-1)|
    assert res.ks_pvalue < 1e-100
    assert abs(res.a.skewness) < 0.05 and abs(res.a.excess_kurtosis) < 0.1
    # Scale only: W1(N(0,1), N(0,3)) = 2 E|Z| = 2 sqrt(2/pi); standardised distance ~ 0.
    wide = compare_distributions(x, 3.0 * rng.normal(size=20000))
    assert wide.wasserstein == pytest.approx(2 * math.sqrt(2 / math.pi), rel=0.03)
    assert wide.wasserstein_standardized < 0.03
    # Shape: uniform vs Gaussian differ after standardisation; the uniform's excess kurtosis -1.2.
    unif = compare_distributions(rng.uniform(-1, 1, size=20000), x)
    assert unif.a.excess_kurtosis == pytest.approx(-1.2, abs=0.03)
    assert unif.wasserstein_standardized > 0.05


def test_identical_samples() -> None:
    x = np.random.default_rng(2).normal(size=500)
    res = compare_distributions(x, x.copy())
    assert res.ks == 0.0 and res.ks_pvalue == 1.0
    assert res.wasserstein == 0.0 and res.wasserstein_standardized == pytest.approx(0.0, abs=1e-12)
    assert res.quantiles_a == res.quantiles_b


def test_qq_data() -> None:
    assert qq_probabilities(4).tolist() == [0.125, 0.375, 0.625, 0.875]
    x = np.arange(101.0)  # quantile p of 0..100 with linear interpolation is 100 p
    res = compare_distributions(x, 2.0 * x, n_quantiles=4)
    assert res.probabilities == (0.125, 0.375, 0.625, 0.875)
    assert res.quantiles_a == pytest.approx((12.5, 37.5, 62.5, 87.5))
    assert res.quantiles_b == pytest.approx((25.0, 75.0, 125.0, 175.0))
    assert len(compare_distributions(x, x).probabilities) == 100


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 10_000),
    st.floats(0.1, 10.0),
    st.floats(-5.0, 5.0),
    st.floats(0.1, 10.0),
    st.floats(-5.0, 5.0),
)
def test_standardized_w1_ignores_location_and_scale(seed: int, sa: float, ma: float, sb: float, mb: float) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.exponential(size=200), rng.normal(size=150)
    base = standardized_wasserstein_distance(a, b)
    assert standardized_wasserstein_distance(sa * a + ma, sb * b + mb) == pytest.approx(base, rel=1e-9, abs=1e-12)
    # Raw W1 scales with the data.
    assert compare_distributions(sa * a, sa * b).wasserstein == pytest.approx(
        sa * sps.wasserstein_distance(a, b), rel=1e-9
    )


def test_degenerate_samples_without_warnings() -> None:
    # A single output bias against a single teacher bias; a constant sample.
    one = compare_distributions([0.3], [-1.2])
    assert one.a.n == 1 and one.a.std == 0.0
    assert math.isnan(one.a.skewness) and math.isnan(one.a.excess_kurtosis)
    assert one.wasserstein == pytest.approx(1.5)
    assert math.isnan(one.wasserstein_standardized)
    assert one.ks == 1.0
    nearly = np.array([1.0, 1.0 + 2**-52, 1.0, 1.0])  # m2 ~ 1e-32: rounding, not spread
    assert np.var(nearly) > 0.0
    const = summarize_sample(nearly)  # scipy.stats.skew would warn of cancellation here
    assert math.isnan(const.skewness) and math.isnan(const.excess_kurtosis)
    assert const.std == pytest.approx(0.0, abs=1e-15)
    assert math.isnan(standardized_wasserstein_distance(np.full(5, 2.0), [1.0, 2.0]))


def test_summarize_sample_accepts_torch_weight_matrices() -> None:
    w = torch.randn(30, 20, generator=torch.Generator().manual_seed(0))
    s = summarize_sample(w)
    ref = w.double().numpy().ravel()
    assert isinstance(s, SampleSummary)
    assert s.n == 600 and s.skewness == pytest.approx(sps.skew(ref), rel=1e-10)


def test_result_is_frozen_and_json_ready(samples: tuple[np.ndarray, np.ndarray]) -> None:
    res = compare_distributions(*samples, n_quantiles=5)
    assert isinstance(res, DistributionComparison)
    with pytest.raises(AttributeError):
        res.ks = 0.0  # type: ignore[misc]
    d = json.loads(json.dumps(res.to_dict()))
    assert set(d) == {"a", "b", "ks", "ks_pvalue", "wasserstein", "wasserstein_standardized", "qq"}
    assert d["a"]["n"] == 3000 and len(d["qq"]["a"]) == 5
    assert d["ks"] == res.ks


def test_nan_policy() -> None:
    a = [1.0, np.nan, 2.0, 3.0]
    with pytest.raises(ParameterError, match="'a' parameter of compare_distributions.*NaN"):
        compare_distributions(a, [1.0, 2.0])
    res = compare_distributions(a, [1.0, 2.0], nan_policy="omit")
    assert res.a.n == 3


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "match"),
    [
        ([], [1.0], {}, "'a' parameter of compare_distributions must be an array with at least 1"),
        ([1.0], [np.inf], {}, "'b'.*finite"),
        ([1.0], [2.0], {"n_quantiles": 0}, "'n_quantiles' parameter of compare_distributions"),
        ([1.0], [2.0], {"nan_policy": "ignore"}, "'nan_policy'"),
    ],
)
def test_bad_input(a: list, b: list, kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        compare_distributions(a, b, **kwargs)
