"""Soft sort: the projection it is defined as, its limits, and its gradient."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from learnability._validation import ParameterError
from learnability.models import isotonic_blocks, soft_sort

SETTINGS = settings(max_examples=30, deadline=None, database=None)


def _projection_reference(theta: np.ndarray, eps: float) -> np.ndarray:
    """argmin_{mu in P(theta)} ||mu - rho/eps||^2 as a generic QP (SLSQP), independent of PAV.

    The permutahedron P(theta) is {mu : sum(mu) = sum(theta), and for every subset S,
    sum_S mu <= sum of the |S| largest theta} (Rado's theorem)."""
    n = len(theta)
    top = np.cumsum(np.sort(theta)[::-1])  # top[k-1] = sum of the k largest
    target = np.arange(n, 0, -1) / eps
    subsets = [list(c) for k in range(1, n) for c in itertools.combinations(range(n), k)]
    constraints = [{"type": "eq", "fun": lambda mu: mu.sum() - theta.sum()}] + [
        {"type": "ineq", "fun": lambda mu, c=c: top[len(c) - 1] - mu[c].sum()} for c in subsets
    ]
    res = minimize(
        lambda mu: float((mu - target) @ (mu - target)),
        np.full(n, theta.mean()),
        jac=lambda mu: 2 * (mu - target),
        method="SLSQP",
        constraints=constraints,
        options={"ftol": 1e-12, "maxiter": 500},
    )
    return res.x  # (SLSQP may report a line-search stop at the optimum; the tolerance below decides)


@pytest.mark.parametrize("eps", [1.0, 2.0, 3.0])  # all three pool some values
def test_soft_sort_is_the_permutahedron_projection(eps):
    theta = np.array([0.3, -1.2, 2.0, 0.9, 0.5])
    got = soft_sort(torch.from_numpy(theta), temperature=eps, descending=True).numpy()
    np.testing.assert_allclose(got, _projection_reference(theta, eps), atol=1e-7)
    assert np.abs(got - np.sort(theta)[::-1]).max() > 0.1  # not the hard sort


def test_isotonic_blocks_match_scipy():
    try:
        from scipy.optimize import isotonic_regression  # scipy >= 1.12 (pyproject allows 1.11)
    except ImportError:
        pytest.skip("scipy.optimize.isotonic_regression needs scipy >= 1.12")

    gen = torch.Generator().manual_seed(0)
    y = torch.randn(40, 9, generator=gen, dtype=torch.float64)
    y[0] = torch.arange(9.0)  # one block
    y[1] = -torch.arange(9.0)  # all singletons
    blocks = isotonic_blocks(y)
    for row, b in zip(y, blocks, strict=True):
        fit = isotonic_regression(row.numpy(), increasing=False).x
        means = torch.zeros(9, dtype=torch.float64).index_add_(0, b, row) / torch.bincount(b, minlength=9).clamp_min(1)
        np.testing.assert_allclose(means[b].numpy(), fit, atol=1e-12)
    assert blocks[0].max() == 0 and torch.equal(blocks[1], torch.arange(9))


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 12), descending=st.booleans())
def test_small_temperature_is_the_hard_sort(seed, n, descending):
    theta = torch.randn(3, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    hard = theta.sort(dim=-1, descending=descending).values
    gaps = hard.diff(dim=-1).abs().max()
    # exact once eps < 1 / (largest gap between consecutive sorted values)
    exact = soft_sort(theta, temperature=0.5 / gaps.item(), descending=descending)
    torch.testing.assert_close(exact, hard, rtol=0, atol=1e-12)


def test_converges_to_hard_sort_and_to_mean():
    theta = torch.tensor([[3.0, 1.0, 2.5, -0.5, 1.1]], dtype=torch.float64)
    hard = theta.sort(dim=-1).values
    errors = [(soft_sort(theta, temperature=t) - hard).abs().max().item() for t in (100.0, 10.0, 1.0, 0.5)]
    assert all(a >= b for a, b in itertools.pairwise(errors)) and errors[0] > errors[-1]
    assert soft_sort(theta, temperature=0.01).equal(hard)
    far = soft_sort(theta, temperature=1e9)
    torch.testing.assert_close(far, theta.mean(dim=-1, keepdim=True).expand_as(theta), atol=1e-8, rtol=0)


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 10), eps=st.floats(0.01, 100.0))
def test_output_is_sorted_and_keeps_the_sum(seed, n, eps):
    theta = torch.randn(2, 3, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    out = soft_sort(theta, temperature=eps)
    assert out.shape == theta.shape
    assert (out.diff(dim=-1) >= -1e-12).all()
    torch.testing.assert_close(out.sum(dim=-1), theta.sum(dim=-1))
    # invariant to permutations of the input (it only sees the multiset of values)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1))
    torch.testing.assert_close(soft_sort(theta[..., perm], temperature=eps), out)


@pytest.mark.parametrize("eps", [0.1, 0.7, 5.0])
@pytest.mark.parametrize("descending", [False, True])
def test_gradient_matches_finite_differences(eps, descending):
    theta = torch.randn(3, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    theta.requires_grad_()
    assert torch.autograd.gradcheck(lambda t: soft_sort(t, temperature=eps, descending=descending), (theta,))
    assert torch.autograd.gradgradcheck(lambda t: soft_sort(t, temperature=eps, descending=descending), (theta,))


def test_jacobian_is_block_averaging():
    """Blondel et al. eq. (9): the Jacobian averages within pooled blocks (large eps: 1/n)."""
    theta = torch.tensor([0.2, -0.4, 0.9], dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda t: soft_sort(t, temperature=1e3), theta)
    torch.testing.assert_close(jac, torch.full((3, 3), 1 / 3, dtype=torch.float64))
    jac_hard = torch.autograd.functional.jacobian(lambda t: soft_sort(t, temperature=1e-3), theta)
    torch.testing.assert_close(jac_hard, torch.eye(3, dtype=torch.float64)[[1, 0, 2]])


def test_float32_small_temperature_is_accurate():
    theta = torch.rand(4, 50, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(soft_sort(theta, temperature=1e-6), theta.sort(dim=-1).values)


def test_bad_inputs():
    with pytest.raises(ParameterError, match="temperature"):
        soft_sort(torch.zeros(3), temperature=0.0)
    with pytest.raises(ParameterError, match="floating"):
        soft_sort(torch.arange(3))
    assert soft_sort(torch.zeros(2, 0)).shape == (2, 0)
    torch.testing.assert_close(soft_sort(torch.tensor([[4.0]])), torch.tensor([[4.0]]))


def test_soft_sort_compiles_as_one_graph_and_matches_eager() -> None:
    """No host round trip: the whole soft sort (partition included) traces into one graph."""
    x = torch.randn(6, 9, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    compiled = torch.compile(lambda v: soft_sort(v, temperature=0.7), fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(x), soft_sort(x, temperature=0.7), rtol=0, atol=0)
