"""Plain gradient descent on least squares, with the trajectory recorded (Lab 8).

Loss and gradient (Lab 8's ``least_squares_reg_gradient``)::

    L(w) = ||X w - y||^2 / (2 m),      grad L(w) = X^T (X w - y) / m

The Hessian is ``H = X^T X / m``. GD ``w <- w - lr grad L(w)`` converges for every start iff
``0 < lr < 2 / lambda_max(H)`` (:func:`step_size_bound`). Each step changes ``w`` by a vector in
the row space of ``X``, so the component of ``w0`` orthogonal to it never moves: the limit is the
least-squares solution closest to ``w0``, ``w0 + pinv(X) (y - X w0)``
(:func:`learnability.linear.least_squares` with ``w0``), i.e. the minimum-norm solution from
``w0 = 0`` — the implicit bias of GD, which matters when ``n > m`` (infinitely many
interpolants).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from learnability._arrays import as_design, as_targets
from learnability._validation import ParameterError, check_choice, check_in_range
from learnability.linear._least_squares import _reference

__all__ = ["GDResult", "gradient_descent_least_squares", "hessian_lambda_max", "step_size_bound"]

#: What :func:`gradient_descent_least_squares` does with ``lr >= 2 / lambda_max``.
ON_UNSTABLE: tuple[str, ...] = ("raise", "warn")


def hessian_lambda_max(X: Any) -> float:
    """Largest eigenvalue of ``X^T X / m``: ``s_max(X)^2 / m``.

    Args:
        X: ``(m, n)`` design matrix.

    Returns:
        ``lambda_max >= 0``.
    """
    x = as_design(X, "X", "hessian_lambda_max")
    s_max = scipy.linalg.svdvals(x)[0]
    return float(s_max**2 / x.shape[0])


def step_size_bound(X: Any) -> float:
    """The stability bound ``2 / lambda_max(X^T X / m)`` of GD on ``||X w - y||^2 / (2 m)``.

    Args:
        X: ``(m, n)`` design matrix, not all zero.

    Returns:
        The supremum of convergent step sizes.

    Raises:
        ParameterError: if ``X`` is all zeros (every step size is stable).
    """
    lam = hessian_lambda_max(X)
    if lam == 0.0:
        raise ParameterError("X", "step_size_bound", "a matrix with a non-zero entry", "all zeros")
    return 2.0 / lam


@dataclass(frozen=True, eq=False)
class GDResult:
    """Outcome of :func:`gradient_descent_least_squares`.

    Attributes:
        w: final weights, ``(n,)`` or ``(n, k)``.
        steps: ``(T,)`` step indices at which the trajectory was recorded (0 and the last
            included).
        weights: ``(T, n)`` or ``(T, n, k)`` recorded weights.
        losses: ``(T,)`` losses ``||X w - y||^2 / (2 m)`` at the recorded steps.
        lr: the step size.
        lambda_max: largest eigenvalue of ``X^T X / m``.
        step_bound: ``2 / lambda_max``.
    """

    w: np.ndarray
    steps: np.ndarray
    weights: np.ndarray
    losses: np.ndarray
    lr: float
    lambda_max: float
    step_bound: float


def gradient_descent_least_squares(
    X: Any,
    y: Any,
    *,
    lr: float,
    n_steps: int,
    w0: Any = None,
    record_every: int = 1,
    on_unstable: str = "raise",
) -> GDResult:
    """Full-batch gradient descent on ``||X w - y||^2 / (2 m)``, recording the trajectory.

    Args:
        X: ``(m, n)`` design matrix.
        y: ``(m,)`` or ``(m, k)`` targets.
        lr: step size; must satisfy ``0 < lr < 2 / lambda_max(X^T X / m)``.
        n_steps: number of GD steps ``>= 0``.
        w0: ``(n,)`` or ``(n, k)`` start; ``None`` means 0.
        record_every: record ``w`` every this many steps (the first and last always).
        on_unstable: ``"raise"`` (default) a :class:`ParameterError` when ``lr`` is at or above
            the bound, or ``"warn"`` (a ``RuntimeWarning``) and run anyway, e.g. to show
            divergence.

    Returns:
        A :class:`GDResult` with the final weights and the recorded trajectory.

    Raises:
        ParameterError: bad shapes or parameters, or an unstable ``lr`` with
            ``on_unstable="raise"``; the message states the bound ``2 / lambda_max``.
    """
    owner = "gradient_descent_least_squares"
    x = as_design(X, "X", owner)
    t = as_targets(y, x.shape[0], "y", owner)
    lr = float(check_in_range(lr, "lr", owner, low=0.0, low_inclusive=False))
    n_steps = check_in_range(n_steps, "n_steps", owner, low=0, kind=int)
    record_every = check_in_range(record_every, "record_every", owner, low=1, kind=int)
    check_choice(on_unstable, "on_unstable", owner, ON_UNSTABLE)
    w = _reference(w0, x.shape[1], t, owner).copy()
    m = x.shape[0]
    lam = hessian_lambda_max(x)
    bound = 2.0 / lam if lam > 0.0 else float("inf")
    if lr >= bound:
        allowed = f"a float in the range (0, {bound!r}) = (0, 2 / lambda_max(X^T X / m))"
        if on_unstable == "raise":
            raise ParameterError("lr", owner, allowed, lr)
        warnings.warn(
            f"gradient_descent_least_squares: lr={lr!r} >= 2 / lambda_max = {bound!r}; "
            "gradient descent will not converge.",
            RuntimeWarning,
            stacklevel=2,
        )

    def loss(v: np.ndarray) -> float:
        r = x @ v - t
        return float(np.sum(r * r) / (2.0 * m))

    steps, weights, losses = [0], [w.copy()], [loss(w)]
    with np.errstate(over="ignore", invalid="ignore"):  # divergence (on_unstable="warn") -> inf
        for step in range(1, n_steps + 1):
            w -= lr * (x.T @ (x @ w - t)) / m
            if step % record_every == 0 or step == n_steps:
                steps.append(step)
                weights.append(w.copy())
                losses.append(loss(w))
    return GDResult(
        w=w,
        steps=np.asarray(steps),
        weights=np.stack(weights),
        losses=np.asarray(losses),
        lr=lr,
        lambda_max=lam,
        step_bound=bound,
    )
