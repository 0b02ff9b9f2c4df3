"""Polynomial features and fits: numpy.polyfit where well conditioned, basis invariance, ridge."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from learnability._validation import ParameterError
from learnability.linear import fit_polynomial, polynomial_features, ridge


def _tutorial3_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Tutorial 3: t = sin(2 pi x) + 0.1 eps, x ~ U[0, 1]."""
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    return x, np.sin(2 * np.pi * x) + 0.1 * rng.normal(size=n)


@pytest.mark.parametrize("degree", [0, 1, 3, 5])
def test_fit_matches_numpy_polyfit(degree: int) -> None:
    x, t = _tutorial3_data(40, seed=degree)
    fit = fit_polynomial(x, t, degree)
    np.testing.assert_allclose(fit.coef[::-1], np.polyfit(x, t, degree), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(fit(x), np.polyval(np.polyfit(x, t, degree), x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("basis", ["monomial", "chebyshev", "legendre"])
def test_bases_give_the_same_least_squares_polynomial(basis: str) -> None:
    x, t = _tutorial3_data(60, seed=1)
    x_test = np.linspace(0, 1, 101)
    reference = fit_polynomial(x, t, 6)
    fit = fit_polynomial(x, t, 6, basis=basis, domain=(0.0, 1.0))
    np.testing.assert_allclose(fit.predict(x_test), reference.predict(x_test), atol=1e-9)
    np.testing.assert_allclose(fit.coef, reference.coef, rtol=1e-7, atol=1e-7)


def test_orthogonal_basis_is_well_conditioned_at_degree_15() -> None:
    x = np.random.default_rng(2).random(50)
    cond_monomial = np.linalg.cond(polynomial_features(x, 15))
    cond_cheb = np.linalg.cond(polynomial_features(x, 15, basis="chebyshev", domain=(0, 1)))
    assert cond_monomial > 1e9
    assert cond_cheb < 1e3  # random points leave gaps, so not O(1), but ~1e7 times better
    assert cond_monomial / cond_cheb > 1e6


def test_high_degree_fit_is_a_true_least_squares_solution() -> None:
    """At degree 15 (cond ~1e11) the fitted values still satisfy the normal equations."""
    x, t = _tutorial3_data(30, seed=3)
    fit = fit_polynomial(x, t, 15, basis="chebyshev", domain=(0, 1))
    F = polynomial_features(x, 15, basis="chebyshev", domain=(0, 1))
    r = t - fit(x)
    np.testing.assert_allclose(F.T @ r, 0.0, atol=1e-10)
    # The monomial basis (cond ~1e11) gives the same fit to ~cond * eps: a few digits lost, no
    # more, because lstsq (SVD) never squares the condition number as X^T X would.
    monomial = fit_polynomial(x, t, 15)
    np.testing.assert_allclose(monomial(x), fit(x), atol=1e-4)
    assert np.sum((t - monomial(x)) ** 2) == pytest.approx(np.sum(r**2), rel=1e-6)


def test_interpolation_when_degree_reaches_n_minus_one() -> None:
    x, t = _tutorial3_data(8, seed=4)
    fit = fit_polynomial(x, t, 7, basis="legendre", domain=(0, 1))
    np.testing.assert_allclose(fit(x), t, atol=1e-9)


def test_ridge_fit_is_ridge_on_the_features_and_shrinks_coefficients() -> None:
    x, t = _tutorial3_data(20, seed=5)
    F = polynomial_features(x, 9)
    fit = fit_polynomial(x, t, 9, alpha=1e-3)
    np.testing.assert_allclose(fit.basis_coef, ridge(F, t, alpha=1e-3), rtol=1e-12)
    norms = [np.abs(fit_polynomial(x, t, 9, alpha=a).coef).max() for a in (0.0, 1e-6, 1e-3, 1.0)]
    assert all(b < a for a, b in itertools.pairwise(norms))


def test_feature_columns_and_errors() -> None:
    x = np.array([0.0, 0.5, 1.0])
    np.testing.assert_array_equal(polynomial_features(x, 2), [[1, 0, 0], [1, 0.5, 0.25], [1, 1, 1]])
    np.testing.assert_allclose(polynomial_features(x, 2, domain=(0, 1)), [[1, -1, 1], [1, 0, 0], [1, 1, 1]])
    np.testing.assert_allclose(polynomial_features(x, 2, basis="chebyshev", domain=(0, 1))[:, 2], [1, -1, 1])
    with pytest.raises(
        ParameterError,
        match=r"The 'x' parameter of polynomial_features must be an array with 1 dimensions",
    ):
        polynomial_features(x[:, None], 2)
    with pytest.raises(ParameterError, match="The 'basis' parameter of polynomial_features must be one of"):
        polynomial_features(x, 2, basis="hermite")
    with pytest.raises(ParameterError, match="The 'domain' parameter of polynomial_features"):
        polynomial_features(x, 2, domain=(1, 0))
    with pytest.raises(ParameterError, match="The 't' parameter of fit_polynomial"):
        fit_polynomial(x, x[:2], 1)
