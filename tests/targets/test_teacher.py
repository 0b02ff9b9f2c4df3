"""The frozen teacher: architecture, N(0, 1) parameters, a reference forward pass, frozenness."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from learnability._validation import ParameterError
from learnability.analysis import mlp_forward
from learnability.engine import MLPSpec
from learnability.targets import TEACHER_D_IN, TEACHER_HIDDEN, Teacher, teacher_spec

# 100*75 + 75 + 75*50 + 50 + 50*10 + 10 + 10*1 + 1, the spec's teacher counted by hand.
SPEC_N_PARAMS = 7_500 + 75 + 3_750 + 50 + 500 + 10 + 10 + 1


def test_architecture_is_the_specs() -> None:
    t = Teacher(seed=0)
    assert (TEACHER_D_IN, TEACHER_HIDDEN) == (100, (75, 50, 10))
    assert t.spec.dims == (100, 75, 50, 10, 1)
    assert t.n_params == SPEC_N_PARAMS == 11_896
    shapes = [(w.shape, b.shape) for w, b in t.layers()]
    assert shapes == [((75, 100), (75,)), ((50, 75), (50,)), ((10, 50), (10,)), ((1, 10), (1,))]
    assert t.flat_parameters().shape == (SPEC_N_PARAMS,)


def test_parameters_are_iid_standard_normal() -> None:
    # Pool four teachers (47,584 values): mean, std and shape of N(0, 1) within sampling error.
    flat = np.concatenate([Teacher(seed=s).flat_parameters() for s in range(4)])
    n = flat.size
    assert abs(flat.mean()) < 4 / np.sqrt(n)
    assert abs(flat.std() - 1.0) < 4 / np.sqrt(2 * n)
    assert stats.kstest(flat, "norm").pvalue > 1e-3
    # Known answer: each layer draws weight (out, in) then bias from the seed's generator.
    g = torch.Generator().manual_seed(5)
    ref_w0 = torch.empty(75, 100).normal_(0.0, 1.0, generator=g)
    ref_b0 = torch.empty(75).normal_(0.0, 1.0, generator=g)
    w0, b0 = Teacher(seed=5).layers()[0]
    np.testing.assert_array_equal(w0, ref_w0.double().numpy())
    np.testing.assert_array_equal(b0, ref_b0.double().numpy())


def test_std_scales_the_parameters() -> None:
    a, b = Teacher(seed=1).flat_parameters(), Teacher(seed=1, std=0.5).flat_parameters()
    np.testing.assert_allclose(b, 0.5 * a, rtol=1e-6)


def test_seed_determines_the_teacher() -> None:
    np.testing.assert_array_equal(Teacher(seed=3).flat_parameters(), Teacher(seed=3).flat_parameters())
    assert not np.allclose(Teacher(seed=3).flat_parameters(), Teacher(seed=4).flat_parameters())


def test_label_matches_a_float64_reference_forward() -> None:
    t = Teacher(seed=2)
    x = torch.rand(500, 100, generator=torch.Generator().manual_seed(0)) * 2  # U[0, 2]^100
    y = t.label(x)
    assert y.shape == (500, 1)
    ref = mlp_forward(t.weights(), t.biases(), x.double().numpy())  # ReLU after every hidden layer
    np.testing.assert_allclose(y.double().numpy(), ref, rtol=1e-4, atol=1e-3 * np.abs(ref).max())
    # Outputs of a N(0, 1) teacher on U[0, 2]^100 are large: order 1e2-1e3 (issue 3).
    assert 10 < float(y.std()) < 1e4


def test_teacher_is_frozen() -> None:
    t = Teacher(seed=0)
    before = t.flat_parameters()
    assert not any(p.requires_grad for p in t.params)
    # Accessors hand out copies: writing into them leaves the teacher unchanged.
    for p in t.params:
        p.add_(1.0)
    t.layers()[0][0][:] = 0.0
    x = torch.rand(64, 100, requires_grad=True)
    y = t.label(x)
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_array_equal(t.flat_parameters(), before)


def test_label_refuses_bad_shapes() -> None:
    t = Teacher(seed=0)
    with pytest.raises(ParameterError, match="'x' parameter of Teacher.label"):
        t.label(torch.rand(100))
    with pytest.raises(ParameterError, match=r"shape \(N, 100\)"):
        t.label(torch.rand(8, 99))


def test_refuses_non_relu_or_residual_specs() -> None:
    with pytest.raises(ParameterError, match="'spec' parameter of Teacher"):
        Teacher(MLPSpec(4, (4, 4), residual=True), seed=0)
    with pytest.raises(ParameterError, match="'spec' parameter of Teacher"):
        Teacher(MLPSpec(4, (4,), activation="tanh"), seed=0)
    with pytest.raises(ParameterError, match="'std' parameter of Teacher"):
        Teacher(seed=0, std=0.0)


def test_other_architectures() -> None:
    t = Teacher(teacher_spec(6, (5, 3)), seed=0)
    assert t.n_params == 6 * 5 + 5 + 5 * 3 + 3 + 3 + 1
    assert t.label(torch.rand(7, 6)).shape == (7, 1)
