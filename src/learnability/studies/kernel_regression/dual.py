"""Lab 2's primal = dual identity, measured: ``w = (X^T X)^-1 X^T y = X^T (X X^T)^-1 y`` and
``f(z) = z^T w = k(z, X) K^-1 y`` with the linear kernel ``K = X X^T``.

Each inverse exists on one side only. With more features than points (``P > N``) ``X X^T``
(``N x N``) is invertible, ``X^T (X X^T)^-1 y`` is the least-norm interpolant ``pinv(X) y`` and the
dual predictions ``k(z, X) K^-1 y`` equal the primal ``z^T w`` to rounding. With more points than
features (exercise 1: ``N = 100`` points, ``P = 2`` columns ``[x, 1]``) ``X^T X`` is invertible and
``X X^T`` has rank ``P < N``: the dual formula holds only with the pseudo-inverse ``(X X^T)^+``.
"""

from __future__ import annotations

import numpy as np

from learnability.studies.kernel_regression.config import LinearSection
from learnability.studies.kernel_regression.linear import linear_data
from learnability.studies.kernel_regression.results import PrimalDual

__all__ = ["WIDE_N", "WIDE_P", "primal_dual"]

# The wide problem: more features than points, so that X X^T is invertible.
WIDE_N, WIDE_P = 20, 50
# Points at which primal and dual predictions are compared.
_N_QUERIES = 30


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def primal_dual(lin: LinearSection, rng: np.random.Generator) -> PrimalDual:
    """Primal against dual weights and predictions on a wide Gaussian problem and on exercise 1's data."""
    X = rng.standard_normal((WIDE_N, WIDE_P))  # (N, P), P > N
    y = rng.standard_normal(WIDE_N)
    Z = rng.standard_normal((_N_QUERIES, WIDE_P))
    K = X @ X.T  # (N, N): the linear kernel's Gram matrix
    w_dual = X.T @ np.linalg.solve(K, y)
    w_pinv = np.linalg.pinv(X) @ y
    f_dual = (Z @ X.T) @ np.linalg.solve(K, y)  # k(z, X) K^-1 y
    # Exercise 1's design [x, 1]: X^T X (2 x 2) is invertible, X X^T (N x N) has rank 2.
    x, t = linear_data(lin, rng, lin.n)
    D = np.stack([x, np.ones_like(x)], axis=1)  # (N, 2)
    w_primal = np.linalg.solve(D.T @ D, D.T @ t)
    w_dual_pinv = D.T @ np.linalg.pinv(D @ D.T) @ t
    return PrimalDual(
        wide_n=WIDE_N,
        wide_p=WIDE_P,
        wide_dual_vs_pinv=_rel(w_dual, w_pinv),
        wide_prediction_gap=_rel(f_dual, Z @ w_pinv),
        tall_n=lin.n,
        tall_p=D.shape[1],
        tall_dual_gram_rank=int(np.linalg.matrix_rank(D @ D.T)),
        tall_dual_pinv_vs_primal=_rel(w_dual_pinv, w_primal),
    )
