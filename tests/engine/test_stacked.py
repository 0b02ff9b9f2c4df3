"""Stacked MLPs: architecture bookkeeping, initialisation, and agreement with nn.Module."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from learnability._validation import ParameterError
from learnability.engine import MLPSpec, StackedMLP, member_module


def test_layer_and_parameter_counts_residual() -> None:
    # Challenge 2 part B: 6->50, 8 x (50->50, skip), 50->1: 10 linear layers, 8 skips.
    spec = MLPSpec(6, (50,) * 9, residual=True)
    assert spec.n_layers == 10
    assert spec.skips == (False,) + (True,) * 8 + (False,)
    assert spec.n_params == (6 * 50 + 50) + 8 * (50 * 50 + 50) + (50 + 1) == 20_801
    params = StackedMLP(spec).init([0, 1])
    assert sum(p[0].numel() for p in params) == spec.n_params
    assert len(params) == 20


def test_teacher_parameter_count() -> None:
    spec = MLPSpec(100, (75, 50, 10))
    assert spec.n_params == 100 * 75 + 75 + 75 * 50 + 50 + 50 * 10 + 10 + 10 + 1 == 11_896
    assert spec.skips == (False,) * 4


def test_no_skip_between_layers_of_different_sizes() -> None:
    assert MLPSpec(4, (8, 8, 4, 4), residual=True).skips == (False, True, False, True, False)


def test_default_init_matches_nn_linear_with_same_generator() -> None:
    spec = MLPSpec(5, (7,))
    params = StackedMLP(spec).init([123])
    g = torch.Generator().manual_seed(123)
    ref = [nn.Linear(5, 7), nn.Linear(7, 1)]
    for lin in ref:  # nn.Linear.reset_parameters order: weight then bias, U(-1/sqrt(fan_in), ..)
        bound = 1 / math.sqrt(lin.in_features)
        with torch.no_grad():
            lin.weight.uniform_(-bound, bound, generator=g)
            lin.bias.uniform_(-bound, bound, generator=g)
    for (w, b), lin in zip(StackedMLP(spec).layers(params, 0), ref, strict=True):
        assert torch.equal(w, lin.weight.detach()) and torch.equal(b, lin.bias.detach())


def test_members_depend_only_on_their_seed() -> None:
    m = StackedMLP(MLPSpec(3, (4,)))
    a = m.init([1, 2, 3])
    b = m.init([9, 2])
    assert all(torch.equal(pa[1], pb[1]) for pa, pb in zip(a, b, strict=True))


def test_normal_init_statistics() -> None:
    params = StackedMLP(MLPSpec(100, (75, 50, 10))).init([0], scheme="normal")
    flat = torch.cat([p.flatten() for p in params])
    assert abs(flat.mean().item()) < 0.05 and abs(flat.std().item() - 1) < 0.05


def test_forward_equals_member_module_and_predict() -> None:
    spec = MLPSpec(3, (6, 6, 4), residual=True, activation="tanh")
    m = StackedMLP(spec)
    params = m.init([4, 5])
    x = torch.rand(2, 9, 3)
    out = m.forward(params, x)
    for k in range(2):
        ref = member_module(spec, m.layers(params, k))(x[k])
        torch.testing.assert_close(out[k], ref)
    shared = torch.rand(11, 3)
    pred = m.predict(params, shared, chunk=4)
    assert pred.shape == (2, 11, 1)
    torch.testing.assert_close(pred[1], member_module(spec, m.layers(params, 1))(shared))


def test_bad_specs_and_inputs() -> None:
    with pytest.raises(ParameterError, match=r"'hidden\[1\]' parameter of MLPSpec must be an int"):
        MLPSpec(3, (4, 0))
    with pytest.raises(ParameterError, match="'activation' parameter of MLPSpec"):
        MLPSpec(3, (4,), activation="gelu")  # type: ignore[arg-type]
    m = StackedMLP(MLPSpec(3, (4,)))
    with pytest.raises(ParameterError, match=r"shape \(N, 3\)"):
        m.predict(m.init([0]), torch.rand(5, 2))
    with pytest.raises(ParameterError, match="'seeds' parameter"):
        m.init([])
