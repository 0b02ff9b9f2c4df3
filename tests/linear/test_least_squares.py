"""Least squares and ridge against NumPy/scikit-learn references and closed forms."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression, Ridge

from learnability._validation import ParameterError
from learnability.linear import least_squares, ridge, with_bias


def _problem(m: int, n: int, seed: int, k: int | None = None):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, n)), rng.normal(size=(m,) if k is None else (m, k))


@pytest.mark.parametrize(("m", "n"), [(50, 5), (5, 50), (30, 30)])
@pytest.mark.parametrize("k", [None, 3])
def test_least_squares_is_the_pseudo_inverse_solution(m: int, n: int, k: int | None) -> None:
    X, y = _problem(m, n, seed=m + n, k=k)
    w = least_squares(X, y)
    np.testing.assert_allclose(w, np.linalg.pinv(X) @ y, rtol=1e-8, atol=1e-10)
    assert w.shape == ((n,) if k is None else (n, k))


def test_normal_equations_agree_with_lstsq_when_well_conditioned() -> None:
    X, y = _problem(200, 10, seed=1)
    np.testing.assert_allclose(least_squares(X, y, method="solve"), least_squares(X, y), rtol=1e-10)


def test_least_squares_closest_to_w0_in_the_underdetermined_case() -> None:
    """Among the interpolants, the one nearest w0 is w0 + pinv(X)(y - X w0)."""
    X, y = _problem(8, 20, seed=2)
    w0 = np.random.default_rng(3).normal(size=20)
    w = least_squares(X, y, w0=w0)
    np.testing.assert_allclose(X @ w, y, atol=1e-10)  # an interpolant
    # w - w0 lies in the row space of X, so no other interpolant is closer to w0
    P_row = np.linalg.pinv(X) @ X
    np.testing.assert_allclose(P_row @ (w - w0), w - w0, atol=1e-10)
    other = w + (np.eye(20) - P_row) @ np.random.default_rng(4).normal(size=20)  # another interpolant
    np.testing.assert_allclose(X @ other, y, atol=1e-9)
    assert np.linalg.norm(w - w0) < np.linalg.norm(other - w0)


def test_intercept_with_a_bias_column_matches_sklearn() -> None:
    """Lab 2, exercise 1: x ~ U[2, 30], y ~ N(2x + 50, 1); with and without intercept."""
    rng = np.random.default_rng(5)
    x = rng.uniform(2, 30, size=(100, 1))
    y = rng.normal(2 * x[:, 0] + 50, 1.0)
    w = least_squares(with_bias(x), y)
    ref = LinearRegression().fit(x, y)
    np.testing.assert_allclose(w, [ref.coef_[0], ref.intercept_], rtol=1e-10)
    w_no_bias = least_squares(x, y)
    np.testing.assert_allclose(w_no_bias, LinearRegression(fit_intercept=False).fit(x, y).coef_, rtol=1e-10)
    assert abs(w[0] - 2.0) < 0.05 and abs(w[1] - 50.0) < 1.0


@pytest.mark.parametrize(("m", "n"), [(40, 6), (6, 40)])
@pytest.mark.parametrize("alpha", [1e-3, 1.0, 100.0])
def test_ridge_matches_sklearn_and_the_closed_form(m: int, n: int, alpha: float) -> None:
    X, y = _problem(m, n, seed=6)
    w = ridge(X, y, alpha=alpha)
    np.testing.assert_allclose(
        w,
        Ridge(alpha=alpha, fit_intercept=False, solver="svd").fit(X, y).coef_,
        rtol=1e-9,
        atol=1e-12,
    )
    np.testing.assert_allclose(w, np.linalg.solve(X.T @ X + alpha * np.eye(n), X.T @ y), rtol=1e-8, atol=1e-12)


def test_ridge_limits() -> None:
    X, y = _problem(10, 30, seed=7)
    np.testing.assert_allclose(ridge(X, y, alpha=0.0), np.linalg.pinv(X) @ y, rtol=1e-8, atol=1e-12)
    # alpha -> inf: w ~ X^T y / alpha
    np.testing.assert_allclose(ridge(X, y, alpha=1e12) * 1e12, X.T @ y, rtol=1e-6)
    norms = [np.linalg.norm(ridge(X, y, alpha=a)) for a in (0.0, 0.1, 1.0, 10.0)]
    assert all(b < a for a, b in itertools.pairwise(norms))


def test_torch_inputs_and_errors() -> None:
    X, y = _problem(20, 3, seed=8)
    w = least_squares(torch.from_numpy(X), torch.from_numpy(y)[:, None])
    assert isinstance(w, np.ndarray) and w.shape == (3, 1)
    with pytest.raises(
        ParameterError,
        match=r"The 'alpha' parameter of ridge must be a float in the range \[0, inf\)\. Got -1\.0 instead\.",
    ):
        ridge(X, y, alpha=-1.0)
    with pytest.raises(
        ParameterError,
        match=r"The 'y' parameter of least_squares must be an array of shape \(20,\) or \(20, k\)",
    ):
        least_squares(X, y[:5])
    with pytest.raises(
        ParameterError,
        match=r"The 'X' parameter of least_squares must be an array with 2 dimensions",
    ):
        least_squares(X[:, 0], y)
    with pytest.raises(
        ParameterError,
        match=r"The 'w0' parameter of least_squares must be an array of shape \(3,\)",
    ):
        least_squares(X, y, w0=np.zeros(4))
    with pytest.raises(ParameterError, match="The 'method' parameter of least_squares must be one of"):
        least_squares(X, y, method="inv")
