"""OLS by closed form, NumPy gradient descent and torch autograd agree (Lab 3 basics)."""

from __future__ import annotations

import numpy as np
import torch

from learnability.linear import (
    ols_autograd,
    ols_closed_form,
    ols_gradient_descent,
    ols_three_ways,
    with_bias,
)


def _lab3_data(n: int, p: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Lab 3: y = X M + N(0, 1) with a bias column; features centred so that GD converges fast."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n, p, generator=gen, dtype=torch.float64)
    X = X - X.mean(dim=0)  # uncentred U[0, 1) features give cond(X^T X) ~ 1e4
    M = torch.rand(p, 1, generator=gen, dtype=torch.float64)
    y = X @ M + torch.randn(n, 1, generator=gen, dtype=torch.float64)
    return torch.from_numpy(with_bias(X)), y


def test_three_ways_agree_on_lab3_style_data() -> None:
    X, y = _lab3_data(1000, 100, seed=0)
    result = ols_three_ways(X, y, n_steps=800)
    assert result.closed_form.shape == (101, 1)
    np.testing.assert_allclose(result.closed_form, np.linalg.lstsq(X.numpy(), y.numpy(), rcond=None)[0], rtol=1e-10)
    # GD and autograd run the same iteration: equal to rounding
    np.testing.assert_allclose(result.gradient_descent, result.autograd, rtol=1e-12, atol=1e-12)
    assert result.max_abs_difference < 1e-8


def test_gd_and_autograd_match_step_by_step_before_convergence() -> None:
    X, y = _lab3_data(200, 10, seed=1)
    w_gd = ols_gradient_descent(X, y[:, 0], n_steps=5, lr=0.05)
    w_ag = ols_autograd(X, y[:, 0], n_steps=5, lr=0.05)
    np.testing.assert_allclose(w_gd, w_ag, rtol=1e-13, atol=1e-15)
    assert np.abs(w_gd - ols_closed_form(X, y[:, 0])).max() > 1e-2  # not converged yet
