"""Gradient descent on least squares: implicit bias (Lab 8) and the step-size bound."""

from __future__ import annotations

import numpy as np
import pytest

from learnability._validation import ParameterError
from learnability.linear import (
    gradient_descent_least_squares,
    hessian_lambda_max,
    least_squares,
    step_size_bound,
)


def test_lab8_overdetermined_case() -> None:
    """m = 1000, n = 10, lr = 0.1, 50 steps: ||w_t - w*||^2 decreases to ~0."""
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (1000, 10))
    b = X @ rng.normal(0, 1, 10)
    result = gradient_descent_least_squares(X, b, lr=0.1, n_steps=50)
    w_star = least_squares(X, b)
    dist = np.sum((result.weights - w_star) ** 2, axis=1)
    assert result.weights.shape == (51, 10) and result.steps[-1] == 50
    assert np.all(np.diff(dist) < 0)
    assert dist[-1] < 1e-3 * dist[0]


def test_underdetermined_gd_from_zero_converges_to_pinv() -> None:
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(20, 60)), rng.normal(size=20)
    result = gradient_descent_least_squares(X, y, lr=step_size_bound(X) / 2, n_steps=3000, record_every=100)
    w_pinv = np.linalg.pinv(X) @ y
    np.testing.assert_allclose(result.w, w_pinv, atol=1e-9)
    np.testing.assert_allclose(X @ result.w, y, atol=1e-9)
    # the iterates never leave the row space of X (w0 = 0)
    P_null = np.eye(60) - np.linalg.pinv(X) @ X
    np.testing.assert_allclose(result.weights @ P_null, 0.0, atol=1e-10)
    assert result.steps[0] == 0 and result.steps[-1] == 3000 and len(result.steps) == 31


def test_underdetermined_gd_from_w0_converges_to_the_closest_interpolant() -> None:
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(15, 40)), rng.normal(size=15)
    w0 = rng.normal(size=40)
    result = gradient_descent_least_squares(X, y, lr=step_size_bound(X) / 2, n_steps=3000, w0=w0)
    closest = w0 + np.linalg.pinv(X) @ (y - X @ w0)
    np.testing.assert_allclose(result.w, closest, atol=1e-9)
    np.testing.assert_allclose(result.w, least_squares(X, y, w0=w0), atol=1e-9)
    # and it is not the minimum-norm interpolant
    assert np.linalg.norm(result.w - np.linalg.pinv(X) @ y) > 1.0


def test_multi_target_gd() -> None:
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(10, 25)), rng.normal(size=(10, 2))
    result = gradient_descent_least_squares(X, Y, lr=step_size_bound(X) / 2, n_steps=2000)
    np.testing.assert_allclose(result.w, np.linalg.pinv(X) @ Y, atol=1e-9)
    assert result.weights.shape == (2001, 25, 2)


def test_step_size_bound_is_two_over_lambda_max() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 5))
    lam = np.linalg.eigvalsh(X.T @ X / 30).max()
    assert hessian_lambda_max(X) == pytest.approx(lam, rel=1e-12)
    assert step_size_bound(X) == pytest.approx(2 / lam, rel=1e-12)


def test_step_size_above_the_bound_raises_or_warns_and_diverges() -> None:
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(30, 5)), rng.normal(size=30)
    bound = step_size_bound(X)
    with pytest.raises(
        ParameterError,
        match=r"The 'lr' parameter of gradient_descent_least_squares must be a float in the range \(0, .*\) = \(0, 2 / lambda_max\(X\^T X / m\)\)\. Got",
    ):
        gradient_descent_least_squares(X, y, lr=1.01 * bound, n_steps=5)
    with pytest.warns(RuntimeWarning, match="will not converge"):
        diverging = gradient_descent_least_squares(X, y, lr=1.1 * bound, n_steps=200, on_unstable="warn")
    assert diverging.losses[-1] > 1e3 * diverging.losses[0]
    converging = gradient_descent_least_squares(X, y, lr=0.99 * bound, n_steps=2000)
    assert converging.losses[-1] < converging.losses[0]
    assert converging.step_bound == pytest.approx(bound)


def test_losses_are_recorded_and_parameters_checked() -> None:
    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(12, 3)), rng.normal(size=12)
    result = gradient_descent_least_squares(X, y, lr=0.1, n_steps=7, record_every=3)
    np.testing.assert_array_equal(result.steps, [0, 3, 6, 7])
    for step_w, loss in zip(result.weights, result.losses, strict=True):
        assert loss == pytest.approx(np.sum((X @ step_w - y) ** 2) / 24)
    np.testing.assert_array_equal(result.weights[-1], result.w)
    with pytest.raises(
        ParameterError,
        match=r"The 'n_steps' parameter of gradient_descent_least_squares must be an int in the range \[0, inf\)",
    ):
        gradient_descent_least_squares(X, y, lr=0.1, n_steps=-1)
    with pytest.raises(ParameterError, match="The 'on_unstable' parameter"):
        gradient_descent_least_squares(X, y, lr=0.1, n_steps=1, on_unstable="ignore")
