"""The best gamma chosen by nested cross-validation: an honest estimate of the accuracy it gives.

The gamma sweep scores every gamma with one cross-validation and reports the best score: the same
folds both choose gamma and measure it, which is optimistic. Here each outer training fold chooses
its own gamma by an inner cross-validation on its points only (kernel PCA fitted on them, the
logistic regression on their first component), and the outer test fold — projected with that
kernel PCA's ``transform``, never seen while choosing — scores the choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold

from learnability.analysis import Estimate, mean_estimate
from learnability.kernels import center_gram, rbf_kernel

__all__ = ["NestedCV", "nested_cv"]

# Newton's method for the 1-D logistic regression: converges in ~10 steps on separable-ish data
# (the L2 penalty keeps the optimum finite).
_NEWTON_STEPS = 50
_NEWTON_TOL = 1e-10


@dataclass(frozen=True)
class NestedCV:
    """Outer-fold accuracies of the gamma chosen inside each outer training fold.

    Attributes:
        accuracy: mean over repeats of the outer-fold accuracy (95% CI over repeats).
        gammas: the gamma chosen in each outer fold, ``folds * repeats`` of them.
    """

    accuracy: Estimate
    gammas: list[float]


def _first_component(K: np.ndarray, fit: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First kernel-PCA component of the ``fit`` points and of the ``new`` points, up to sign and scale.

    ``K`` is the RBF Gram matrix of every point of the outer training fold; kernel PCA is fitted on
    ``K[fit][:, fit]`` (centred with the fit points' mean feature) and the new points are projected
    with the same centring, as :class:`~learnability.kernels.KernelPCA` does (``transform``). Sign
    and scale do not matter to a standardised 1-D classifier.
    """
    k_fit = K[np.ix_(fit, fit)]
    kc = center_gram(k_fit)
    # A full eigh (small matrices): LAPACK's subset drivers can return no vector for a flat spectrum.
    v = np.linalg.eigh(kc)[1][:, -1]  # (n_fit,) top eigenvector
    return kc @ v, center_gram(K[np.ix_(new, fit)], K_fit=k_fit) @ v


def _logistic_1d(z: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """L2-penalised (C = 1) logistic regression on standardised ``z``: scikit-learn's default
    ``LogisticRegression`` in one dimension, by Newton's method; returns (mean, sd, w, b)."""
    mu, sd = float(z.mean()), float(z.std()) or 1.0
    u = (z - mu) / sd
    A = np.stack([u, np.ones_like(u)], axis=1)  # (n, 2)
    theta = np.zeros(2)
    reg = np.diag([1.0, 0.0])  # the intercept is not penalised
    for _ in range(_NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-(A @ theta)))
        grad = A.T @ (p - y) + reg @ theta
        hess = (A * (p * (1 - p))[:, None]).T @ A + reg
        step = np.linalg.solve(hess, grad)
        theta -= step
        if float(np.abs(step).max()) < _NEWTON_TOL:
            break
    return mu, sd, float(theta[0]), float(theta[1])


def _score(z_tr: np.ndarray, y_tr: np.ndarray, z_te: np.ndarray, y_te: np.ndarray) -> float:
    mu, sd, w, b = _logistic_1d(z_tr, y_tr)
    return float(np.mean(((z_te - mu) / sd * w + b > 0).astype(int) == y_te))


def _fisher(z: np.ndarray, y: np.ndarray) -> float:
    z0, z1 = z[y == 0], z[y == 1]
    spread = z0.var() + z1.var()
    return float((z1.mean() - z0.mean()) ** 2 / spread) if spread > 0 else float("inf")


def _inner(K: np.ndarray, y: np.ndarray, folds: int, seed: int) -> tuple[float, float]:
    """Inner CV accuracy of one gamma (its Gram matrix ``K`` on the outer training points) and
    the Fisher ratio of their first component (the tie-break of the gamma sweep)."""
    everyone = np.arange(len(y))
    scores = []
    for tr, te in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(everyone, y):
        z_tr, z_te = _first_component(K, tr, te)
        scores.append(_score(z_tr, y[tr], z_te, y[te]))
    z_all, _ = _first_component(K, everyone, everyone)
    return float(np.mean(scores)), _fisher(z_all, y)


def nested_cv(
    X: np.ndarray, labels: np.ndarray, gammas: np.ndarray, *, folds: int, repeats: int, seed: int
) -> NestedCV:
    """Nested cross-validation of "RBF kernel PCA's first component + logistic regression, gamma
    chosen by inner CV" on ``X: (N, d)``, ``labels: (N,)``.

    Gamma is chosen as the sweep chooses it, on the outer training points only: the best inner CV
    accuracy, ties broken by the larger Fisher ratio of the first component.
    """
    outer = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    scores, chosen = [], []
    for i, (tr, te) in enumerate(outer.split(X, labels)):
        grams = [rbf_kernel(X, gamma=float(g)) for g in gammas]  # (N, N) each; only tr rows/cols are read
        inner = [_inner(K[np.ix_(tr, tr)], labels[tr], folds, seed + i) for K in grams]
        best = max(range(len(gammas)), key=lambda j: inner[j])  # accuracy, then Fisher ratio
        z_tr, z_te = _first_component(grams[best], tr, te)
        scores.append(_score(z_tr, labels[tr], z_te, labels[te]))
        chosen.append(float(gammas[best]))
    per_repeat = np.asarray(scores).reshape(repeats, folds).mean(axis=1)
    return NestedCV(accuracy=mean_estimate(per_repeat, kind="unit"), gammas=chosen)
