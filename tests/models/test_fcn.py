"""Lab 4's shallow FCN and Lab 5's CNN: shapes, the lab's architecture, exact conv equivariance."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from learnability._validation import ParameterError
from learnability.models import (
    DeepSets,
    LabCNN,
    OrbitClassifier,
    PermutationEquivariant,
    ShallowFCN,
)

SETTINGS = settings(max_examples=25, deadline=None, database=None)


def test_shallow_fcn_is_log_softmax_of_one_linear_map():
    model = ShallowFCN(64, 10, seed=0)
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    expected = F.log_softmax(x.flatten(1) @ model.fc.weight.T + model.fc.bias, dim=1)
    torch.testing.assert_close(model(x), expected)
    torch.testing.assert_close(model(x).exp().sum(dim=1), torch.ones(5))
    assert [n for n, _ in model.named_parameters()] == ["fc.weight", "fc.bias"]


def test_shallow_fcn_refuses_wrong_feature_count():
    with pytest.raises(ParameterError, match="784 features"):
        ShallowFCN(seed=0)(torch.zeros(2, 1, 8, 8))


def test_weight_images_scaled_to_unit_interval():
    model = ShallowFCN(784, 10, seed=0)
    img = model.weight_images((28, 28))
    assert img.shape == (10, 28, 28)
    flat = img.reshape(10, -1)
    torch.testing.assert_close(flat.min(dim=1).values, torch.zeros(10))
    torch.testing.assert_close(flat.max(dim=1).values, torch.ones(10))
    common = model.weight_images((1, 28, 28), per_class=False)
    assert common.shape == (10, 1, 28, 28)
    assert common.min() == 0 and common.max() == 1
    # per_class=False keeps the order of the raw weights everywhere
    w = model.fc.weight.detach().reshape(-1)
    assert torch.equal(common.reshape(-1).argsort(), w.argsort())
    with pytest.raises(ParameterError, match="image_shape"):
        model.weight_images((27, 28))


def test_lab_cnn_matches_the_lab_architecture():
    model = LabCNN(seed=0)  # the lab's defaults: 28x28, kernel 2, no padding
    assert model.conv_shape == (27, 27)
    assert model.fc1.in_features == 729 and model.fc1.out_features == 10
    assert tuple(model.conv1.weight.shape) == (1, 1, 2, 2)
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    conv = F.conv2d(x, model.conv1.weight, model.conv1.bias)
    fc = F.linear(F.relu(conv).flatten(1), model.fc1.weight, model.fc1.bias)
    out, conv_repr, fc_repr = model.forward_with_representations(x)
    torch.testing.assert_close(conv_repr, conv)  # before the ReLU, as the lab's conv2repr
    torch.testing.assert_close(fc_repr, fc)  # before the log-softmax, as the lab's fc1repr
    torch.testing.assert_close(out, F.log_softmax(fc, dim=1))
    assert not conv_repr.requires_grad and not fc_repr.requires_grad


@pytest.mark.parametrize(
    ("size", "kernel", "mode", "conv_shape"),
    [
        (28, 2, "valid", (27, 27)),
        (28, 2, "circular", (28, 28)),
        ((8, 10), 3, "valid", (6, 8)),
        ((8, 10), 3, "zeros", (8, 10)),
    ],
)
def test_lab_cnn_sizes_follow_the_input(size, kernel, mode, conv_shape):
    model = LabCNN(size, 4, kernel_size=kernel, padding_mode=mode, seed=0)
    assert model.conv_shape == conv_shape
    assert model.fc1.in_features == conv_shape[0] * conv_shape[1]
    h, w = (size, size) if isinstance(size, int) else size
    assert model(torch.zeros(2, 1, h, w)).shape == (2, 4)


def test_lab_cnn_refuses_bad_parameters_and_inputs():
    with pytest.raises(ParameterError, match="padding_mode"):
        LabCNN(padding_mode="reflect", seed=0)
    with pytest.raises(ParameterError, match="image_size"):
        LabCNN(1, kernel_size=2, seed=0)
    with pytest.raises(ParameterError, match=r"\(B, 1, 28, 28\)"):
        LabCNN(seed=0)(torch.zeros(2, 28, 28))


def _roll(t: torch.Tensor, a: int, b: int) -> torch.Tensor:
    return torch.roll(t, shifts=(a, b), dims=(-2, -1))


@SETTINGS
@given(
    seed=st.integers(0, 2**31 - 1),
    a=st.integers(-30, 30),
    b=st.integers(-30, 30),
    kernel=st.integers(1, 4),
)
def test_circular_conv_is_exactly_shift_equivariant(seed, a, b, kernel):
    model = LabCNN(12, kernel_size=kernel, padding_mode="circular", seed=seed).double()
    x = torch.randn(3, 1, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    conv = model.forward_with_representations(x)[1]
    conv_shifted = model.forward_with_representations(_roll(x, a, b))[1]
    torch.testing.assert_close(conv_shifted, _roll(conv, a, b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["valid", "zeros"])
def test_non_circular_conv_is_equivariant_only_away_from_the_boundary(mode):
    size, (a, b) = 12, (3, 2)
    model = LabCNN(size, padding_mode=mode, seed=0).double()
    x = torch.randn(2, 1, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    conv = model.forward_with_representations(x)[1]
    conv_shifted = model.forward_with_representations(_roll(x, a, b))[1]
    # Output pixel (i, j) sees input rows i, i+1 and columns j, j+1 (kernel 2). Away from the
    # wrapped-in rows/columns and from the last row/column (which, with "zeros", sees the
    # padding), the shifted input's output is the shifted output, exactly.
    interior = conv_shifted[..., a : size - 1, b : size - 1]
    torch.testing.assert_close(interior, conv[..., : size - 1 - a, : size - 1 - b], rtol=1e-12, atol=1e-12)
    # Near the boundary it is not: no circular shift of the output matches.
    assert (conv_shifted - _roll(conv, a, b)).abs().max() > 1e-3


def test_models_draw_from_their_own_generator_only():
    state = torch.get_rng_state()
    a = LabCNN(seed=3)
    b = LabCNN(generator=torch.Generator().manual_seed(3))
    c = LabCNN(seed=4)
    (
        ShallowFCN(seed=0),
        DeepSets(2, seed=0),
        OrbitClassifier(3, seed=0),
        PermutationEquivariant(2, 3, seed=0),
    )
    assert torch.equal(torch.get_rng_state(), state)  # the global generator was not touched
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, pc)
    bound = 1 / 729**0.5  # PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert a.fc1.weight.abs().max() <= bound and a.fc1.weight.abs().max() > 0.9 * bound


def test_exactly_one_of_seed_and_generator():
    with pytest.raises(ParameterError, match="'seed'"):
        ShallowFCN()
    with pytest.raises(ParameterError, match="'seed'"):
        ShallowFCN(seed=0, generator=torch.Generator())
    with pytest.raises(ParameterError, match="'seed'"):
        ShallowFCN(seed=-1)
