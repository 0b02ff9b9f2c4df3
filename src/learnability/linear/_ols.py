"""Ordinary least squares three ways (Lab 3 basics): closed form, gradient descent, autograd.

All three minimise the same loss ``||X w - y||^2 / (2 m)`` (the scale does not move the
minimiser); gradient descent and autograd run the same iteration from the same start, so they
agree with each other to rounding error and with the closed form once converged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from learnability._arrays import as_design, as_targets
from learnability._validation import check_in_range
from learnability.linear._gradient_descent import gradient_descent_least_squares, hessian_lambda_max
from learnability.linear._least_squares import _reference, least_squares

__all__ = [
    "OLSComparison",
    "ols_autograd",
    "ols_closed_form",
    "ols_gradient_descent",
    "ols_three_ways",
]


def ols_closed_form(X: Any, y: Any) -> np.ndarray:
    """``W* = (X^T X)^{-1} X^T y`` by solving the normal equations (Cholesky), no inverse.

    Args:
        X: ``(m, n)`` design matrix of full column rank (add a bias column with
            :func:`with_bias`).
        y: ``(m,)`` or ``(m, k)`` targets.

    Returns:
        ``(n,)`` or ``(n, k)`` float64 weights.
    """
    return least_squares(X, y, method="solve")


def _default_lr(x: np.ndarray, lr: float | None, owner: str) -> float:
    """``lr=None`` -> ``1 / lambda_max``: half the stability bound, the fastest safe choice for
    the largest eigen-direction."""
    if lr is not None:
        return float(check_in_range(lr, "lr", owner, low=0.0, low_inclusive=False))
    return 1.0 / hessian_lambda_max(x)


def ols_gradient_descent(X: Any, y: Any, *, n_steps: int, lr: float | None = None, w0: Any = None) -> np.ndarray:
    """OLS by NumPy gradient descent on ``||X w - y||^2 / (2 m)``.

    Args:
        X: ``(m, n)`` design matrix.
        y: ``(m,)`` or ``(m, k)`` targets.
        n_steps: number of steps.
        lr: step size below ``2 / lambda_max``; ``None`` means ``1 / lambda_max``.
        w0: start, ``None`` means 0.

    Returns:
        ``(n,)`` or ``(n, k)`` float64 weights after ``n_steps``.
    """
    owner = "ols_gradient_descent"
    x = as_design(X, "X", owner)
    step = _default_lr(x, lr, owner)
    return gradient_descent_least_squares(x, y, lr=step, n_steps=n_steps, w0=w0, record_every=max(int(n_steps), 1)).w


def ols_autograd(X: Any, y: Any, *, n_steps: int, lr: float | None = None, w0: Any = None) -> np.ndarray:
    """OLS by gradient descent with gradients from ``torch.autograd`` (float64).

    The loss ``((X w - y)^2).sum() / (2 m)`` is built in torch, ``backward()`` gives its
    gradient, and ``w`` is updated in place under ``torch.no_grad()`` (plain GD, as
    ``torch.optim.SGD`` without momentum would do).

    Args:
        X: ``(m, n)`` design matrix (NumPy or torch).
        y: ``(m,)`` or ``(m, k)`` targets.
        n_steps: number of steps ``>= 0``.
        lr: step size; ``None`` means ``1 / lambda_max``.
        w0: start, ``None`` means 0.

    Returns:
        ``(n,)`` or ``(n, k)`` float64 NumPy weights after ``n_steps``.
    """
    owner = "ols_autograd"
    x = as_design(X, "X", owner)
    t = as_targets(y, x.shape[0], "y", owner)
    n_steps = check_in_range(n_steps, "n_steps", owner, low=0, kind=int)
    step = _default_lr(x, lr, owner)
    xt = torch.from_numpy(x)  # (m, n) float64
    tt = torch.from_numpy(t)  # (m,) or (m, k)
    w = torch.from_numpy(_reference(w0, x.shape[1], t, owner).copy()).requires_grad_(True)
    m = x.shape[0]
    for _ in range(n_steps):
        loss = ((xt @ w - tt) ** 2).sum() / (2 * m)
        loss.backward()
        with torch.no_grad():
            w -= step * w.grad
        w.grad = None
    return w.detach().numpy().copy()


@dataclass(frozen=True, eq=False)
class OLSComparison:
    """The three OLS solutions of :func:`ols_three_ways`.

    Attributes:
        closed_form: normal-equation solution.
        gradient_descent: NumPy GD after ``n_steps``.
        autograd: torch autograd GD after ``n_steps``.
    """

    closed_form: np.ndarray
    gradient_descent: np.ndarray
    autograd: np.ndarray

    @property
    def max_abs_difference(self) -> float:
        """Largest absolute entry-wise difference between any two of the three solutions."""
        sols = (self.closed_form, self.gradient_descent, self.autograd)
        return float(max(np.max(np.abs(a - b)) for a in sols for b in sols))


def ols_three_ways(X: Any, y: Any, *, n_steps: int, lr: float | None = None) -> OLSComparison:
    """Solve OLS by the closed form, NumPy gradient descent and torch autograd (Lab 3).

    Args:
        X: ``(m, n)`` design matrix of full column rank (e.g. ``with_bias(X)``).
        y: ``(m,)`` or ``(m, k)`` targets.
        n_steps: GD steps for the two iterative methods (enough for convergence: about
            ``kappa * log(1 / tol)`` with ``kappa`` the condition number of ``X^T X``).
        lr: GD step size; ``None`` means ``1 / lambda_max``.

    Returns:
        An :class:`OLSComparison`.
    """
    return OLSComparison(
        closed_form=ols_closed_form(X, y),
        gradient_descent=ols_gradient_descent(X, y, n_steps=n_steps, lr=lr),
        autograd=ols_autograd(X, y, n_steps=n_steps, lr=lr),
    )
