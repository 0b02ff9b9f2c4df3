"""Building blocks of the ``bell-hierarchy`` study (Challenge 2, part B), each testable alone.

* :class:`SharedInputSource` -- one input set labelled by several targets; member ``k`` of the
  ensemble learns target ``groups[k]``; every target trains in *one* ensemble (one Python step
  for all members); ``start_step`` resumes the streams (continued training).
* :func:`draw_inputs` -- i.i.d. inputs from ``U[0, 2]^n``.
* :func:`family_names`, :func:`derangement`, :func:`relabel_inputs` -- the targets' names and the
  negative control (B_n with its inputs relabelled by one global permutation).
* :func:`legendre_features` / :func:`polynomial_least_squares` -- the degree-``D`` least-squares
  "knows the function class" baseline in an orthonormal (tensor-product Legendre) basis, so the
  normal equations stay well conditioned and the fit is exact to rounding.
* :func:`linear_least_squares`, :func:`relative_mse` -- the other baselines and the error measure.
* :func:`sweep_design` -- base points and the one-variable sweep inputs through the whole domain.
* :func:`make_data` / :class:`BellDataSets` -- the training and test sets shared by the targets;
  :func:`compute_baselines` -- the three baselines of each target on its test set.

Shapes: ``N`` points, ``n`` input variables, ``G`` targets (groups), ``K`` ensemble members,
``B`` batch size, ``T`` basis functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch
from torch import Tensor

from learnability._validation import ParameterError, check_in_range, check_matrix
from learnability.analysis import sweep_inputs
from learnability.linear import least_squares, with_bias
from learnability.targets import Polynomial, monomial_exponents

__all__ = [
    "DOMAIN",
    "BellDataSets",
    "SharedInputSource",
    "compute_baselines",
    "derangement",
    "draw_inputs",
    "family_names",
    "legendre_features",
    "linear_least_squares",
    "make_data",
    "polynomial_least_squares",
    "relabel_inputs",
    "relative_mse",
    "sweep_design",
    "target_names",
]

# The spec's input domain: every coordinate uniform on [0, 2].
DOMAIN = (0.0, 2.0)
# Rows of the feature matrix built at once by the least-squares baseline: 10,000 x 924 float64
# features are 74 MB, well within memory, and large enough for efficient matrix products.
LSQ_CHUNK_ROWS = 10_000


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def draw_inputs(n_points: int, n_vars: int, *, seed: int) -> Tensor:
    """``n_points`` i.i.d. points of ``U[0, 2]^n_vars`` in float32 (the training dtype).

    Args:
        n_points: ``N >= 1``.
        n_vars: ``n >= 1``.
        seed: seed of the ``torch.Generator`` that draws them.

    Returns:
        ``(N, n)`` float32 tensor with entries in ``[0, 2)``.
    """
    owner = "draw_inputs"
    check_in_range(n_points, "n_points", owner, low=1, kind=int)
    check_in_range(n_vars, "n_vars", owner, low=1, kind=int)
    g = torch.Generator().manual_seed(int(seed))
    lo, hi = DOMAIN
    return lo + (hi - lo) * torch.rand(n_points, n_vars, generator=g)


class SharedInputSource:
    """Mini-batches of one input set labelled by ``G`` targets; member ``k`` learns ``groups[k]``.

    Member ``k`` reshuffles the ``N`` points every epoch with its own ``torch.Generator`` seeded
    with ``seeds[k]`` -- exactly as :class:`~learnability.engine.FixedSource` does -- so its
    stream depends only on its seed and its target, never on the other members: member ``k``
    sees the batches that ``FixedSource(x, y[groups[k]])`` gives a lone model with that seed.
    Like ``FixedSource``, the ``N % B`` points left over by an epoch's order are skipped.
    ``start_step`` resumes every stream at that step (the orders of earlier epochs are drawn and
    discarded), so training ``a`` steps and then ``b`` more from ``start_step=a`` sees the batches
    of one uninterrupted run of ``a + b`` steps.

    Args:
        x: ``(N, n)`` inputs shared by every target.
        y: ``(G, N, d_out)`` targets, one row per group.
        groups: ``(K,)`` target index of each member, in ``[0, G)``.
        batch_size: ``B``.
        start_step: the step at which the streams begin (0: a fresh run).

    Raises:
        ParameterError: on mismatched shapes, an empty or out-of-range ``groups``, a bad ``B``.
    """

    def __init__(self, x: Tensor, y: Tensor, groups: Sequence[int], *, batch_size: int, start_step: int = 0) -> None:
        owner = "SharedInputSource"
        check_matrix(x, "x", owner, ndim=2)
        check_matrix(y, "y", owner, ndim=3, shape=(None, x.shape[0], None))
        check_in_range(batch_size, "batch_size", owner, low=1, high=x.shape[0], kind=int)
        g = [int(v) for v in groups]
        if not g or min(g) < 0 or max(g) >= y.shape[0]:
            raise ParameterError("groups", owner, f"a non-empty sequence of ints in [0, {y.shape[0]})", list(groups))
        self.start_step = check_in_range(start_step, "start_step", owner, low=0, kind=int)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.groups = torch.tensor(g, dtype=torch.long)
        self._gens: list[torch.Generator] = []
        self._order: Tensor | None = None
        self._i = 0

    @property
    def n_members(self) -> int:
        return int(self.groups.shape[0])

    @property
    def steps_per_epoch(self) -> int:
        return self.x.shape[0] // self.batch_size

    def start(self, seeds: Sequence[int], device: torch.device) -> None:
        """Begin one stream per member; ``len(seeds)`` must equal ``len(groups)``."""
        if len(seeds) != self.n_members:
            raise ParameterError(
                "seeds",
                "SharedInputSource.start",
                f"a sequence of {self.n_members} seeds (one per member)",
                list(seeds),
            )
        device = torch.device(device)
        self.x, self.y, self.groups = self.x.to(device), self.y.to(device), self.groups.to(device)
        self._gens = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
        self._order = None
        self._i = 0
        epochs, within = divmod(self.start_step, self.steps_per_epoch)
        for _ in range(epochs):  # the orders of the epochs already trained
            self._new_order()
        if within:  # the current epoch's order, partly used
            self._new_order()
            self._i = within
        elif epochs:  # the last epoch is used up: the next batch starts a new order
            self._i = self.steps_per_epoch

    def _new_order(self) -> None:
        n = self.x.shape[0]
        self._order = torch.stack([torch.randperm(n, generator=g, device=self.x.device) for g in self._gens])  # (K, N)
        self._i = 0

    def next(self) -> tuple[Tensor, Tensor]:
        """The next batch: inputs ``(K, B, n)`` and targets ``(K, B, d_out)``."""
        if not self._gens:
            raise RuntimeError("SharedInputSource.next() called before start().")
        if self._order is None or self._i == self.steps_per_epoch:
            self._new_order()
        B = self.batch_size
        idx = self._order[:, self._i * B : (self._i + 1) * B]  # (K, B)
        self._i += 1
        return self.x[idx], self.y[self.groups[:, None], idx]  # (K, B, n), (K, B, d_out)


def relative_mse(pred: np.ndarray, y: np.ndarray) -> float:
    """``mean((pred - y)^2) / Var(y)`` (population variance): 1 for the best constant predictor.

    Args:
        pred: ``(N,)`` predictions.
        y: ``(N,)`` targets (same shape: no broadcasting).
    """
    pred, y = np.asarray(pred, dtype=np.float64), np.asarray(y, dtype=np.float64)
    check_matrix(pred, "pred", "relative_mse", ndim=1, shape=y.shape)
    return float(np.mean((pred - y) ** 2) / np.var(y))


def legendre_features(x: Tensor, exponents: Tensor) -> Tensor:
    """Tensor-product Legendre basis on ``[0, 2]^n``: ``F[i, t] = prod_j q_{e_tj}(x_ij - 1)``.

    ``q_k = sqrt(2k + 1) P_k`` are the Legendre polynomials normalised so that
    ``E[q_k(u)^2] = 1`` for ``u ~ U[-1, 1]``; the products over variables are then orthonormal
    for ``x ~ U[0, 2]^n`` and ``F^T F / N`` is close to the identity. They span exactly the
    polynomials spanned by the monomials ``x^e`` with the same exponent set (every ``q_k`` has
    degree ``k``), so the least-squares fit equals the monomial one without its ill-conditioning.

    Args:
        x: ``(N, n)`` float64 inputs in ``[0, 2]``.
        exponents: ``(T, n)`` long tensor of degrees, e.g. from
            :func:`~learnability.targets.monomial_exponents`.

    Returns:
        ``(N, T)`` float64.
    """
    owner = "legendre_features"
    check_matrix(x, "x", owner, ndim=2)
    check_matrix(exponents, "exponents", owner, ndim=2, shape=(None, x.shape[1]))
    u = x.to(torch.float64) - 1.0  # (N, n) in [-1, 1]
    deg = int(exponents.max()) if exponents.numel() else 0
    table = [torch.ones_like(u), u]  # P_0, P_1; Bonnet: (k+1) P_{k+1} = (2k+1) u P_k - k P_{k-1}
    for k in range(1, deg):
        table.append(((2 * k + 1) * u * table[k] - k * table[k - 1]) / (k + 1))
    norms = torch.sqrt(2.0 * torch.arange(deg + 1, dtype=torch.float64) + 1.0)
    q = torch.stack(table[: deg + 1], dim=-1) * norms  # (N, n, D + 1)
    feats = torch.ones(x.shape[0], exponents.shape[0], dtype=torch.float64)  # (N, T)
    for j in range(x.shape[1]):
        feats = feats * q[:, j, exponents[:, j]]
    return feats


def polynomial_least_squares(
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor,
    *,
    degree: int,
    chunk_rows: int = LSQ_CHUNK_ROWS,
) -> Tensor:
    """Least-squares fit of all polynomials of total degree ``<= degree``; predictions on ``x_test``.

    Accumulates ``F^T F`` and ``F^T y`` over row chunks in float64 (memory ``O(T^2)``, not
    ``O(N T)``) in the orthonormal basis of :func:`legendre_features` and solves the normal
    equations by Cholesky; if ``F^T F`` is singular (``N`` too small) it falls back to the
    minimum-norm solution. For ``n = 6, degree = 6`` there are ``T = C(12, 6) = 924`` basis
    functions and a degree-6 target (``B6`` and its scrambled twin) is fitted to rounding error.

    Args:
        x_train: ``(N, n)`` inputs.
        y_train: ``(N, G)`` targets (several fitted at once; they share ``F^T F``).
        x_test: ``(M, n)`` inputs to predict.
        degree: total degree ``D >= 0``.
        chunk_rows: rows per feature chunk.

    Returns:
        ``(M, G)`` float64 predictions.
    """
    owner = "polynomial_least_squares"
    check_matrix(x_train, "x_train", owner, ndim=2)
    check_matrix(y_train, "y_train", owner, ndim=2, shape=(x_train.shape[0], None))
    check_matrix(x_test, "x_test", owner, ndim=2, shape=(None, x_train.shape[1]))
    degree = check_in_range(degree, "degree", owner, low=0, kind=int)
    chunk_rows = check_in_range(chunk_rows, "chunk_rows", owner, low=1, kind=int)
    exps = torch.tensor(monomial_exponents(x_train.shape[1], degree), dtype=torch.long)
    T = exps.shape[0]
    gram = torch.zeros(T, T, dtype=torch.float64)
    rhs = torch.zeros(T, y_train.shape[1], dtype=torch.float64)
    y64 = y_train.to(torch.float64)
    for start in range(0, x_train.shape[0], chunk_rows):
        f = legendre_features(x_train[start : start + chunk_rows], exps)  # (c, T)
        gram += f.T @ f
        rhs += f.T @ y64[start : start + chunk_rows]
    g, r = gram.numpy(), rhs.numpy()
    try:
        coef = scipy.linalg.solve(g, r, assume_a="pos")
    except np.linalg.LinAlgError:
        coef = scipy.linalg.lstsq(g, r)[0]
    coef_t = torch.from_numpy(np.ascontiguousarray(coef))
    preds = [
        legendre_features(x_test[s : s + chunk_rows], exps) @ coef_t for s in range(0, x_test.shape[0], chunk_rows)
    ]
    return torch.cat(preds)


def linear_least_squares(x_train: Tensor, y_train: Tensor, x_test: Tensor) -> Tensor:
    """Ordinary least squares with an intercept (SVD-based); predictions ``(M, G)`` float64.

    Args:
        x_train: ``(N, n)``; y_train: ``(N, G)``; x_test: ``(M, n)``.
    """
    w = least_squares(with_bias(x_train.to(torch.float64)), y_train.to(torch.float64))  # (n + 1, G)
    return torch.from_numpy(with_bias(x_test.to(torch.float64)) @ w)


# --------------------------------------------------------------------------------------------
# Sweeps
# --------------------------------------------------------------------------------------------


def sweep_design(n_vars: int, *, n_base: int, grid_points: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """Base points, the grid and the one-variable sweep inputs (Challenge 2, part B, steps 6-7).

    Args:
        n_vars: ``n``.
        n_base: ``M`` base points drawn from ``U[0, 2]^n``.
        grid_points: ``G`` uniformly spaced values covering the whole ``[0, 2]`` (ends included).
        seed: seed of the base points.

    Returns:
        ``base (M, n)``, ``grid (G,)``, ``inputs (M, n, G, n)`` in float64, where
        ``inputs[m, v, g]`` is ``base[m]`` with coordinate ``v`` set to ``grid[g]``.
    """
    check_in_range(grid_points, "grid_points", "sweep_design", low=2, kind=int)
    base = draw_inputs(n_base, n_vars, seed=seed).to(torch.float64)
    grid = torch.linspace(DOMAIN[0], DOMAIN[1], grid_points, dtype=torch.float64)
    return base, grid, sweep_inputs(base, grid)


# --------------------------------------------------------------------------------------------
# The data sets and the baselines of the study
# --------------------------------------------------------------------------------------------


def target_names(order: int) -> tuple[str, str]:
    """The summary's legacy ``targets`` keys: B_n and its first scrambled twin, e.g.
    ``("B6", "B6_scrambled")``."""
    return f"B{order}", f"B{order}_scrambled"


def family_names(order: int, n_scrambles: int) -> list[str]:
    """Every target of a run, in ensemble order: ``B6``, the control ``B6_control``, then the
    scrambles ``B6_scrambled`` (the first, the legacy name), ``B6_scrambled_2``, ..."""
    b, first = target_names(order)
    return [b, f"{b}_control", first] + [f"{first}_{i + 1}" for i in range(1, n_scrambles)]


def derangement(n: int, *, seed: int) -> tuple[int, ...]:
    """A uniformly drawn permutation of ``range(n)`` that moves every index (``n >= 2``), 0-based:
    ``x_j -> x_sigma(j)``. Rejection sampling from ``torch.randperm`` with a seeded generator."""
    check_in_range(n, "n", "derangement", low=2, kind=int)
    g = torch.Generator().manual_seed(int(seed))
    while True:
        sigma = tuple(int(v) for v in torch.randperm(n, generator=g))
        if all(sigma[j] != j for j in range(n)):
            return sigma


def relabel_inputs(poly: Polynomial, sigma: Sequence[int]) -> Polynomial:
    """``poly`` with every variable renamed ``x_j -> x_sigma(j)`` -- one permutation for all
    monomials: the negative control. With i.i.d. inputs, ``relabel_inputs(p, s)(x)`` has the
    distribution of ``p(x)`` and the Sobol indices of ``p`` moved by ``sigma``."""
    return Polynomial(poly.n_vars, [m.permuted(sigma) for m in poly.terms])


@dataclass(frozen=True)
class BellDataSets:
    """Inputs shared by both targets and float64 targets in original units.

    Attributes:
        x_train: ``(N, n)`` float32.
        x_test: ``(M, n)`` float32 (an independent draw).
        y_train: ``(G, N)`` float64, ``y_train[g] = polys[g](x_train)``.
        y_test: ``(G, M)`` float64.
    """

    x_train: Tensor
    x_test: Tensor
    y_train: Tensor
    y_test: Tensor


def make_data(
    polys: Sequence[Polynomial], *, n_train: int, n_test: int, seed_train: int, seed_test: int
) -> BellDataSets:
    """Training and test sets from independent draws of ``U[0, 2]^n`` (separate generators).

    Raises:
        ParameterError: if ``seed_train == seed_test``.

    The targets are evaluated in float64 on the float32 inputs the network sees, so the only
    rounding left is that of the float32 targets used in training.
    """
    if seed_train == seed_test:
        raise ParameterError(
            "seed_test",
            "make_data",
            f"an int different from seed_train ({seed_train}) so that training and test inputs are independent draws",
            seed_test,
        )
    n = polys[0].n_vars
    x_train = draw_inputs(n_train, n, seed=seed_train)
    x_test = draw_inputs(n_test, n, seed=seed_test)
    y_train = torch.stack([p(x_train.double())[:, 0] for p in polys])  # (G, N)
    y_test = torch.stack([p(x_test.double())[:, 0] for p in polys])  # (G, M)
    return BellDataSets(x_train, x_test, y_train, y_test)


def compute_baselines(data: BellDataSets, degree: int) -> list[dict[str, float]]:
    """Relative test MSE of the mean, linear and degree-``degree`` least-squares predictors, per
    target: ``[{"mean", "linear", "poly<degree>"}]``."""
    y_tr, y_te = data.y_train.T, data.y_test.T  # (N, G), (M, G)
    linear = linear_least_squares(data.x_train, y_tr, data.x_test)
    poly = polynomial_least_squares(data.x_train.double(), y_tr, data.x_test.double(), degree=degree)
    out = []
    for g in range(y_tr.shape[1]):
        yt = y_te[:, g].numpy()
        mean_pred = np.full_like(yt, float(y_tr[:, g].mean()))
        out.append(
            {
                "mean": relative_mse(mean_pred, yt),
                "linear": relative_mse(linear[:, g].numpy(), yt),
                f"poly{degree}": relative_mse(poly[:, g].numpy(), yt),
            }
        )
    return out
