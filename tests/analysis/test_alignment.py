"""Exact-invariance tests for learnability.analysis.alignment."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from learnability._validation import ParameterError
from learnability.analysis.alignment import (
    LayerAlignment,
    MLPAlignment,
    align_mlp,
    aligned_student,
    mlp_forward,
)

TEACHER_SIZES = (100, 75, 50, 10, 1)  # the teacher of issue 3


def random_mlp(sizes: tuple[int, ...], rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    weights = [rng.normal(size=(o, i)) for i, o in itertools.pairwise(sizes)]
    biases = [rng.normal(size=o) for o in sizes[1:]]
    return weights, biases


def torch_forward(weights: list[np.ndarray], biases: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Reference forward pass with torch.nn.Linear layers, independent of mlp_forward."""
    layers: list[torch.nn.Module] = []
    for l, (w, b) in enumerate(zip(weights, biases, strict=True)):
        lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if l < len(weights) - 1:
            layers.append(torch.nn.ReLU())
    with torch.no_grad():
        return torch.nn.Sequential(*layers)(torch.from_numpy(x)).numpy()


def permute_and_rescale(
    weights: list[np.ndarray],
    biases: list[np.ndarray],
    rng: np.random.Generator,
    scale_range: tuple[float, float] = (0.1, 10.0),
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Apply a random hidden permutation pi and positive scaling c to every hidden layer.

    New unit i of layer l is old unit pi[i], with incoming weights times c_i and outgoing / c_i.
    """
    w = [x.copy() for x in weights]
    b = [x.copy() for x in biases]
    perms = []
    for l in range(len(w) - 1):
        n = w[l].shape[0]
        pi = rng.permutation(n)
        c = rng.uniform(*scale_range, size=n)
        w[l], b[l] = w[l][pi] * c[:, None], b[l][pi] * c
        w[l + 1] = w[l + 1][:, pi] / c[None, :]
        perms.append(pi)
    return w, b, perms


@pytest.fixture
def teacher() -> tuple[list[np.ndarray], list[np.ndarray]]:
    return random_mlp(TEACHER_SIZES, np.random.default_rng(0))


def test_torch_reference_agrees_with_mlp_forward(teacher) -> None:
    x = np.random.default_rng(1).uniform(0, 2, size=(64, 100))
    np.testing.assert_allclose(mlp_forward(*teacher, x), torch_forward(*teacher, x), rtol=1e-12)


def test_recovers_permuted_rescaled_teacher_exactly(teacher) -> None:
    tw, tb = teacher
    sw, sb, perms = permute_and_rescale(tw, tb, np.random.default_rng(2))
    res = align_mlp(sw, sb, tw, tb)
    assert isinstance(res, MLPAlignment)
    assert res.recovered == [75, 50, 10]
    np.testing.assert_allclose(res.mean_cosine, 1.0, atol=1e-12)
    for layer, pi in zip(res.layers, perms, strict=True):
        assert isinstance(layer, LayerAlignment)
        np.testing.assert_allclose(layer.cosines, 1.0, atol=1e-12)
        assert np.array_equal(layer.permutation, np.argsort(pi))  # the inverse of pi
        assert layer.matching == "bijection" and layer.unmatched_student == ()
    np.testing.assert_allclose(res.output.cosines, 1.0, atol=1e-12)
    # The aligned student is the teacher itself.
    aw, ab = aligned_student(sw, sb, tw, tb)
    for a, t in zip(aw + ab, tw + tb, strict=True):
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-12)


def test_aligned_student_computes_the_same_function() -> None:
    rng = np.random.default_rng(3)
    tw, tb = random_mlp(TEACHER_SIZES, rng)
    sw, sb = random_mlp(TEACHER_SIZES, rng)  # an unrelated "trained" student
    aw, ab = aligned_student(sw, sb, tw, tb)
    x = rng.uniform(0, 2, size=(256, 100))
    ref = torch_forward(sw, sb, x)
    np.testing.assert_allclose(torch_forward(aw, ab, x), ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())
    # Incoming norms now equal the teacher's (every unit is matched when widths agree).
    for l in range(3):
        np.testing.assert_allclose(
            np.hypot(np.linalg.norm(aw[l], axis=1), ab[l]), np.hypot(np.linalg.norm(tw[l], axis=1), tb[l]), rtol=1e-12
        )
    # The reported cosines are the row cosines of the aligned student against the teacher.
    res = align_mlp(sw, sb, tw, tb)
    for l, layer in enumerate(res.layers):
        va = np.column_stack([aw[l], ab[l]])
        vt = np.column_stack([tw[l], tb[l]])
        cos = np.sum(va * vt, axis=1) / np.linalg.norm(va, axis=1) / np.linalg.norm(vt, axis=1)
        np.testing.assert_allclose(layer.cosines, cos, atol=1e-12)


def test_unrelated_networks_give_low_recovery(teacher) -> None:
    sw, sb = random_mlp(TEACHER_SIZES, np.random.default_rng(4))
    res = align_mlp(sw, sb, *teacher)
    assert res.recovered == [0, 0, 0]
    assert max(res.mean_cosine) < 0.4
    # ... while a copy with small noise is recovered (but not exactly).
    rng = np.random.default_rng(5)
    tw, tb = teacher
    noisy_w = [w + 0.05 * rng.normal(size=w.shape) for w in tw]
    noisy = align_mlp(noisy_w, tb, tw, tb)
    assert noisy.recovered == [75, 50, 10]
    assert all(0.99 < m < 1.0 for m in noisy.mean_cosine)


def test_assignment_is_optimal_on_small_layer() -> None:
    # Brute force over all 4! matchings of a single hidden layer.
    from itertools import permutations

    rng = np.random.default_rng(6)
    tw, tb = random_mlp((3, 4, 1), rng)
    sw, sb = random_mlp((3, 4, 1), rng)
    res = align_mlp(sw, sb, tw, tb)
    vs = np.column_stack([sw[0], sb[0]])
    vt = np.column_stack([tw[0], tb[0]])
    cos = (vs / np.linalg.norm(vs, axis=1, keepdims=True)) @ (vt / np.linalg.norm(vt, axis=1, keepdims=True)).T
    best = max(sum(cos[p[j], j] for j in range(4)) for p in permutations(range(4)))
    assert sum(res.layers[0].cosines) == pytest.approx(best, rel=1e-12)


def test_wider_student_is_matched_on_a_subset(teacher) -> None:
    # Student = permuted, rescaled teacher plus 5 extra units in the first hidden layer whose
    # outgoing weights are zero: same function, teacher recovered exactly, extras unmatched.
    tw, tb = teacher
    rng = np.random.default_rng(7)
    sw, sb, perms = permute_and_rescale(tw, tb, rng)
    extra = 5
    sw[0] = np.vstack([sw[0], rng.normal(size=(extra, 100))])
    sb[0] = np.concatenate([sb[0], rng.normal(size=extra)])
    sw[1] = np.hstack([sw[1], np.zeros((50, extra))])
    res = align_mlp(sw, sb, tw, tb)
    first = res.layers[0]
    assert first.matching == "student_wider"
    assert (first.n_student, first.n_teacher) == (80, 75)
    assert first.unmatched_student == (75, 76, 77, 78, 79)
    assert np.array_equal(first.permutation, np.argsort(perms[0]))
    assert res.recovered == [75, 50, 10]
    np.testing.assert_allclose(res.mean_cosine, 1.0, atol=1e-12)
    aw, ab = aligned_student(sw, sb, tw, tb)
    assert aw[0].shape == (80, 100) and aw[1].shape == (50, 80)
    x = rng.uniform(0, 2, size=(50, 100))
    np.testing.assert_allclose(mlp_forward(aw, ab, x), mlp_forward(sw, sb, x), rtol=1e-10)
    np.testing.assert_allclose(aw[0][:75], tw[0], rtol=1e-10)
    # Weight on an unmatched input lowers the next layer's cosine (conservative comparison).
    sw[1][:, 75:] = rng.normal(size=(50, extra))
    assert align_mlp(sw, sb, tw, tb).layers[1].mean_cosine < 1.0 - 1e-3


def test_narrower_student_leaves_teacher_units_unmatched(teacher) -> None:
    tw, tb = teacher
    rng = np.random.default_rng(8)
    keep = np.sort(rng.choice(75, size=60, replace=False))
    sw = [tw[0][keep], tw[1][:, keep], tw[2], tw[3]]
    sb = [tb[0][keep], tb[1], tb[2], tb[3]]
    res = align_mlp(sw, sb, tw, tb)
    first = res.layers[0]
    assert first.matching == "student_narrower" and first.recovered == 60
    assert [j for j, s in enumerate(first.permutation) if s == -1] == sorted(set(range(75)) - set(keep.tolist()))
    assert sum(math.isnan(c) for c in first.cosines) == 15
    assert first.fraction_recovered == pytest.approx(60 / 75)
    assert first.mean_cosine == pytest.approx(1.0, abs=1e-12)
    x = rng.uniform(0, 2, size=(20, 100))
    aw, ab = aligned_student(sw, sb, tw, tb)
    np.testing.assert_allclose(mlp_forward(aw, ab, x), mlp_forward(sw, sb, x), rtol=1e-10)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    sizes=st.lists(st.integers(1, 12), min_size=1, max_size=3),
    low=st.floats(1e-3, 1.0),
    ratio=st.floats(1.0, 1e3),
)
def test_property_random_permutations_and_scalings(seed: int, sizes: list[int], low: float, ratio: float) -> None:
    rng = np.random.default_rng(seed)
    arch = (4, *sizes, 2)
    tw, tb = random_mlp(arch, rng)
    sw, sb, perms = permute_and_rescale(tw, tb, rng, (low, low * ratio))
    res = align_mlp(sw, sb, tw, tb)
    assert res.recovered == list(sizes)
    for layer, pi in zip(res.layers, perms, strict=True):
        np.testing.assert_allclose(layer.cosines, 1.0, atol=1e-9)
        assert np.array_equal(layer.permutation, np.argsort(pi))
    aw, ab = aligned_student(sw, sb, tw, tb)
    for a, t in zip(aw + ab, tw + tb, strict=True):
        np.testing.assert_allclose(a, t, rtol=1e-8, atol=1e-9)
    x = rng.normal(size=(16, 4))
    np.testing.assert_allclose(mlp_forward(aw, ab, x), mlp_forward(sw, sb, x), rtol=1e-8, atol=1e-9)


def test_torch_parameters_and_serialisation() -> None:
    gen = torch.Generator().manual_seed(0)
    weights = [
        torch.randn(4, 5, generator=gen, requires_grad=True),
        torch.randn(1, 4, generator=gen, requires_grad=True),
    ]
    biases = [torch.randn(4, generator=gen, requires_grad=True), torch.randn(1, generator=gen, requires_grad=True)]
    res = align_mlp(weights, biases, weights, biases)
    assert res.recovered == [4]
    d = json.loads(json.dumps(res.to_dict()))
    assert d["recovered"] == [4] and d["threshold"] == 0.9
    assert d["layers"][0]["permutation"] == [0, 1, 2, 3]
    assert d["output"]["matching"] == "identity"
    with pytest.raises(AttributeError):
        res.threshold = 0.5  # type: ignore[misc]


def test_threshold_and_zero_units() -> None:
    rng = np.random.default_rng(9)
    tw, tb = random_mlp((3, 4, 1), rng)
    sw, sb = [w.copy() for w in tw], [b.copy() for b in tb]
    sw[0][2], sb[0][2] = 0.0, 0.0  # a dead unit: cosine 0 with everything, no division warning
    res = align_mlp(sw, sb, tw, tb, threshold=0.5)
    assert res.layers[0].recovered == 3 and res.layers[0].threshold == 0.5
    assert res.layers[0].cosines[2] == 0.0
    aw, ab = aligned_student(sw, sb, tw, tb)
    x = rng.normal(size=(8, 3))
    np.testing.assert_allclose(mlp_forward(aw, ab, x), mlp_forward(sw, sb, x), rtol=1e-12)


def test_no_hidden_layer() -> None:
    rng = np.random.default_rng(10)
    tw, tb = random_mlp((3, 2), rng)
    res = align_mlp([2 * tw[0]], [2 * tb[0]], tw, tb)
    assert res.layers == () and res.recovered == []
    np.testing.assert_allclose(res.output.cosines, 1.0)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda w, b: (w[:-1], b[:-1]), "'student_weights' parameter of align_mlp.*teacher's depth"),
        (lambda w, b: (w, b[:-1]), "'student_biases' parameter of align_mlp"),
        (lambda w, b: ([w[0][:, :-1]] + w[1:], b), r"'student_weights\[0\]'.*input dimension"),
        (lambda w, b: ([w[0][:-1]] + w[1:], [b[0][:-1]] + b[1:]), r"'student_weights\[1\]'.*columns"),
        (lambda w, b: (w[:-1] + [w[-1][:0]], b[:-1] + [b[-1][:0]]), "output dimension"),
        (lambda w, b: (w, b[:1] + [b[1][:, None]] + b[2:]), r"'student_biases\[1\]'"),
        (lambda w, b: ([w[0] * np.nan] + w[1:], b), "finite"),
        (lambda w, b: (np.zeros((2, 2, 2)), b), "a list of per-layer arrays"),
    ],
)
def test_bad_input(teacher, mutate, match: str) -> None:
    tw, tb = teacher
    sw, sb = mutate(list(tw), list(tb))
    with pytest.raises(ParameterError, match=match):
        align_mlp(sw, sb, tw, tb)


def test_bad_threshold_and_forward_input(teacher) -> None:
    with pytest.raises(ParameterError, match="'threshold' parameter of align_mlp"):
        align_mlp(*teacher, *teacher, threshold=1.5)
    with pytest.raises(ParameterError, match="'x' parameter of mlp_forward"):
        mlp_forward(*teacher, np.zeros(100))
