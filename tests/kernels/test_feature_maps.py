"""Explicit feature maps: exact (quadratic), truncated Taylor (Gaussian), random Fourier features."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import poisson

from learnability._validation import ParameterError
from learnability.kernels import (
    RandomFourierFeatures,
    gaussian_taylor_feature_map,
    gaussian_taylor_feature_map_1d,
    monomial_exponents,
    polynomial_kernel,
    quadratic_feature_map,
    quadratic_kernel,
    rbf_kernel,
)

# ---------------------------------------------------------------- quadratic kernel (exact map)


@pytest.mark.parametrize("d", [1, 2, 5, 30])
def test_quadratic_feature_map_reproduces_kernel(d: int) -> None:
    rng = np.random.default_rng(d)
    X, Y = rng.normal(size=(12, d)), rng.normal(size=(7, d))
    phi_x, phi_y = quadratic_feature_map(X), quadratic_feature_map(Y)
    assert phi_x.shape == (12, (d + 1) * (d + 2) // 2)
    K = quadratic_kernel(X, Y)
    # relative to the kernel's scale: both sides are sums of O(d^2) products
    np.testing.assert_allclose(phi_x @ phi_y.T, K, rtol=0, atol=1e-13 * np.abs(K).max())


def test_quadratic_feature_map_with_gamma_and_coef0() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(10, 3))
    phi = quadratic_feature_map(X, gamma=0.4, coef0=2.5)
    K = polynomial_kernel(X, degree=2, gamma=0.4, coef0=2.5)
    np.testing.assert_allclose(phi @ phi.T, K, rtol=1e-13)


def test_quadratic_feature_map_is_lab_1_map_in_2d() -> None:
    a, b = 0.3, -1.2
    s = math.sqrt(2.0)
    expected = [1.0, s * a, s * b, a * a, b * b, s * a * b]
    np.testing.assert_allclose(quadratic_feature_map(np.array([[a, b]]))[0], expected, rtol=1e-15)


def test_quadratic_feature_map_refuses_negative_coef0() -> None:
    with pytest.raises(
        ParameterError,
        match=r"The 'coef0' parameter of quadratic_feature_map must be a float in the range \[0, inf\)",
    ):
        quadratic_feature_map(np.ones((2, 2)), coef0=-1.0)


# ---------------------------------------------------------------- Gaussian kernel (Taylor map)


def _lab1_gaussian_feature_map(x: float, sigma: float, approx_order: int) -> np.ndarray:
    """Lab 1 (solved), verbatim apart from the scalar input."""
    common_factor = np.exp(-(x**2) / (2 * sigma**2))
    return common_factor * np.asarray([(x / sigma) ** i / math.sqrt(math.factorial(i)) for i in range(approx_order)])


def test_taylor_1d_equals_lab_1() -> None:
    x = np.array([-2.0, -0.3, 0.0, 0.7, 4.0])
    phi = gaussian_taylor_feature_map_1d(x, sigma=1.5, order=20)
    expected = np.stack([_lab1_gaussian_feature_map(v, 1.5, 21) for v in x])
    np.testing.assert_allclose(phi, expected, rtol=1e-13, atol=1e-300)
    np.testing.assert_array_equal(phi, gaussian_taylor_feature_map(x[:, None], sigma=1.5, order=20))


def test_taylor_on_the_diagonal_is_a_poisson_cdf() -> None:
    """phi(x) . phi(x) = exp(-z) sum_{k<=n} z^k / k! = P(Poisson(z) <= n), z = x^2 / sigma^2.

    At Lab 1's setting (x up to 100, sigma = 10, 100 terms: order 99) the truncation is far from
    the kernel value 1: the lab's check only passes for pairs far apart.
    """
    sigma = 10.0
    for x, order in [(100.0, 99), (100.0, 150), (30.0, 5), (5.0, 3)]:
        phi = gaussian_taylor_feature_map_1d(np.array([x]), sigma=sigma, order=order)
        assert float(phi[0] @ phi[0]) == pytest.approx(poisson.cdf(order, (x / sigma) ** 2), rel=1e-10)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_taylor_error_decreases_with_order_and_obeys_the_remainder_bound(d: int) -> None:
    rng = np.random.default_rng(10 + d)
    sigma = 1.3
    X = rng.uniform(-1.0, 1.0, size=(15, d)) * sigma * 1.5 / math.sqrt(d)  # ||x|| / sigma <= 1.5
    K = rbf_kernel(X, sigma=sigma)
    z = (X @ X.T) / sigma**2
    envelope = np.exp(-(np.sum(X**2, 1)[:, None] + np.sum(X**2, 1)[None, :]) / (2 * sigma**2))
    errors = []
    for order in (0, 1, 2, 4, 8, 12, 16, 24):
        phi = gaussian_taylor_feature_map(X, sigma=sigma, order=order)
        assert phi.shape == (15, math.comb(d + order, order))
        err = np.abs(phi @ phi.T - K)
        bound = envelope * np.abs(z) ** (order + 1) / math.factorial(order + 1) * np.exp(np.maximum(z, 0))
        assert np.all(err <= bound + 1e-14)
        errors.append(err.max())
    assert all(later < earlier for earlier, later in itertools.pairwise(errors))
    assert errors[-1] < 1e-13


def test_taylor_is_finite_for_large_inputs_and_zero_coordinates() -> None:
    X = np.array([[0.0, 0.0], [40.0, -35.0], [0.0, 2.0]])
    phi = gaussian_taylor_feature_map(X, sigma=1.0, order=60)
    assert np.all(np.isfinite(phi))
    np.testing.assert_array_equal(phi[0], np.eye(phi.shape[1])[0])  # phi(0) = e_0
    # ||x|| / sigma = 53 at order 60 is truncated badly, but the diagonal is still <= 1
    assert np.all(np.sum(phi**2, axis=1) <= 1.0 + 1e-12)


def test_monomial_exponents() -> None:
    alpha = monomial_exponents(3, 4)
    assert alpha.shape == (math.comb(7, 4), 3)
    assert len({tuple(a) for a in alpha}) == alpha.shape[0]
    assert np.all(alpha.sum(axis=1) <= 4)
    assert np.all(np.diff(alpha.sum(axis=1)) >= 0)  # ordered by total degree
    expected = {a for a in itertools.product(range(5), repeat=3) if sum(a) <= 4}
    assert {tuple(a) for a in alpha} == expected
    np.testing.assert_array_equal(monomial_exponents(1, 3)[:, 0], [0, 1, 2, 3])


def test_taylor_refuses_huge_maps() -> None:
    with pytest.raises(ParameterError, match="The 'order' parameter of gaussian_taylor_feature_map"):
        gaussian_taylor_feature_map(np.ones((1, 50)), sigma=1.0, order=10)


# ---------------------------------------------------------------- random Fourier features


def _rff_squared_errors(X: np.ndarray, gamma: float, n_components: int, seeds: range) -> np.ndarray:
    K = rbf_kernel(X, gamma=gamma)
    out = []
    for seed in seeds:
        z = RandomFourierFeatures.sample(X.shape[1], n_components, gamma=gamma, seed=seed).transform(X)
        out.append(np.mean((z @ z.T - K) ** 2))
    return np.asarray(out)


def test_rff_error_matches_the_theoretical_variance() -> None:
    """Each entry of z(X) z(X)^T has variance (1 + k^4/2 - k^2) / D (cos features with phase)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    gamma = 0.4
    K = rbf_kernel(X, gamma=gamma)
    variance_per_feature = np.mean(1.0 + K**4 / 2.0 - K**2)
    for n_components in (128, 2048):
        mse = _rff_squared_errors(X, gamma, n_components, range(10)).mean()
        # mean of 10 seeds; the per-seed relative spread is ~0.2, so +-30% is ~4 standard errors
        assert mse * n_components / variance_per_feature == pytest.approx(1.0, abs=0.3)


def test_rff_error_decays_as_one_over_sqrt_d() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(25, 2))
    sizes = np.array([64, 256, 1024, 4096])
    rmse = np.array([np.sqrt(_rff_squared_errors(X, 0.5, int(D), range(6)).mean()) for D in sizes])
    slope = np.polyfit(np.log(sizes), np.log(rmse), 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.1)
    assert np.all(np.diff(rmse) < 0)


def test_rff_randomness_is_explicit() -> None:
    a = RandomFourierFeatures.sample(3, 50, sigma=2.0, seed=7)
    b = RandomFourierFeatures.sample(3, 50, sigma=2.0, rng=np.random.default_rng(7))
    c = RandomFourierFeatures.sample(3, 50, sigma=2.0, seed=8)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert not np.array_equal(a.weights, c.weights)
    assert a.gamma == pytest.approx(1.0 / 8.0)
    with pytest.raises(ParameterError, match="The 'seed' parameter of RandomFourierFeatures"):
        RandomFourierFeatures.sample(3, 50, gamma=1.0)
    with pytest.raises(ParameterError, match="The 'seed' parameter of RandomFourierFeatures"):
        RandomFourierFeatures.sample(3, 50, gamma=1.0, seed=1, rng=np.random.default_rng(1))


def test_rff_frequencies_follow_the_gamma_convention() -> None:
    gamma = 0.8
    rff = RandomFourierFeatures.sample(2, 200_000, gamma=gamma, seed=3)
    assert rff.weights.std() == pytest.approx(math.sqrt(2 * gamma), rel=0.01)
    assert rff.n_components == 200_000
    assert rff(np.zeros((1, 2))).shape == (1, 200_000)
