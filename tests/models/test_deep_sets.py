"""Deep Sets: equivariant layer, invariant model, set task."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from learnability._validation import ParameterError
from learnability.models import POOLINGS, DeepSets, PermutationEquivariant, make_set_task

SETTINGS = settings(max_examples=30, deadline=None, database=None)
TOL = {"rtol": 1e-10, "atol": 1e-10}


def test_scalar_layer_is_the_labs_formula():
    """Lab 7's solution: mish(x @ (lam I + gamma 1 1^T)) for a set of numbers x."""
    lam, gamma, n = 0.25, 0.4, 200
    x = np.random.default_rng(0).random(n)
    theta = lam * np.eye(n) + gamma * np.ones((n, n))
    out = x @ theta
    expected = out * np.tanh(np.log1p(np.exp(out)))
    layer = PermutationEquivariant.from_coefficients(lam, gamma, dtype=torch.float64)
    got = layer(torch.from_numpy(x).reshape(1, n, 1))
    np.testing.assert_allclose(got.detach().numpy().reshape(n), expected, rtol=1e-12)


def test_layer_known_values_for_each_pooling():
    layer = PermutationEquivariant.from_coefficients(1.0, 1.0, activation="identity")
    x = torch.tensor([[[1.0], [2.0], [4.0]]])
    torch.testing.assert_close(layer(x), x + 7.0)  # sum
    layer.pooling = "mean"
    torch.testing.assert_close(layer(x), x + 7.0 / 3)
    layer.pooling = "max"
    torch.testing.assert_close(layer(x), x + 4.0)


@SETTINGS
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 9),
    pooling=st.sampled_from(POOLINGS),
    d_in=st.integers(1, 4),
    d_out=st.integers(1, 4),
    data=st.data(),
)
def test_layer_is_permutation_equivariant(seed, n, pooling, d_in, d_out, data):
    perm = torch.tensor(data.draw(st.permutations(range(n)), label="perm"))
    layer = PermutationEquivariant(d_in, d_out, pooling=pooling, activation="tanh", seed=seed).double()
    x = torch.randn(3, n, d_in, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    torch.testing.assert_close(layer(x[:, perm]), layer(x)[:, perm], **TOL)


@SETTINGS
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 9),
    readout=st.sampled_from(POOLINGS),
    pooling=st.sampled_from(POOLINGS),
    data=st.data(),
)
def test_deep_sets_is_permutation_invariant(seed, n, readout, pooling, data):
    perm = torch.tensor(data.draw(st.permutations(range(n)), label="perm"))
    model = DeepSets(2, 3, phi_hidden=(8, 8), rho_hidden=(8,), pooling=pooling, readout=readout, seed=seed).double()
    x = torch.randn(4, n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    out = model(x)
    assert out.shape == (4, 3)
    torch.testing.assert_close(model(x[:, perm]), out, **TOL)
    torch.testing.assert_close(model.embed(x[:, perm]), model.embed(x)[:, perm], **TOL)


def test_a_non_symmetric_model_fails_the_same_check():
    """Control: flattening the set into an MLP breaks invariance (the property test can fail)."""
    gen = torch.Generator().manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(5, 1)).double()
    with torch.no_grad():
        mlp[1].weight.copy_(torch.randn(1, 5, generator=gen))
    x = torch.randn(2, 5, 1, generator=gen, dtype=torch.float64)
    assert not torch.allclose(mlp(x[:, [1, 0, 2, 3, 4]]), mlp(x))


def test_deep_sets_structure():
    model = DeepSets(1, phi_hidden=(), rho_hidden=(), seed=0)
    x = torch.rand(3, 6, 1, generator=torch.Generator().manual_seed(0))
    # no phi, no hidden rho: a linear function of the sum
    torch.testing.assert_close(model(x), model.rho[0](x.sum(dim=1)))
    model = DeepSets(2, 4, phi_hidden=(5, 6), rho_hidden=(7,), seed=0)
    assert [type(m).__name__ for m in model.phi] == ["PermutationEquivariant"] * 2
    assert [type(m).__name__ for m in model.rho] == ["Linear", "ReLU", "Linear"]
    with pytest.raises(ParameterError, match=r"\(B, n, 2\)"):
        model(torch.zeros(3, 2))
    with pytest.raises(ParameterError, match="readout"):
        DeepSets(2, readout="median", seed=0)


def test_set_task():
    x, y = make_set_task(50, 7, target="sum", low=-1.0, high=2.0, seed=0)
    assert x.shape == (50, 7, 1) and y.shape == (50, 1)
    assert x.min() >= -1.0 and x.max() < 2.0
    torch.testing.assert_close(y, x.sum(dim=1))
    x2, y2 = make_set_task(50, 7, target="max", low=-1.0, high=2.0, seed=0)
    assert torch.equal(x2, x)  # same seed, same numbers
    torch.testing.assert_close(y2, x.amax(dim=1))
    x3, _ = make_set_task(50, 7, seed=1)
    assert not torch.equal(x3, make_set_task(50, 7, seed=0)[0])
    with pytest.raises(ParameterError, match="high"):
        make_set_task(5, 3, low=1.0, high=1.0, seed=0)


@pytest.fixture
def one_thread():
    """Tiny models train ~40x faster on one thread when the 2 cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_deep_sets_learns_the_sum(one_thread):
    """A short Adam run fits the sum of 5 numbers far below the variance of the target."""
    x, y = make_set_task(512, 5, target="sum", seed=0)
    model = DeepSets(1, phi_hidden=(16,), rho_hidden=(16,), seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    x_test, y_test = make_set_task(256, 5, target="sum", seed=1)
    with torch.no_grad():
        rel = torch.nn.functional.mse_loss(model(x_test), y_test) / y_test.var()
    assert rel < 0.02
