"""Hubel-Wiesel cells: exact equivariance of simple cells, exact invariance of complex cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from learnability._validation import ParameterError
from learnability.models import (
    HubelWiesel,
    PermutationGroup,
    complex_cells,
    cyclic_shift_group,
    flip_group,
    rotation90_group,
    simple_cells,
)

SETTINGS = settings(max_examples=30, deadline=None, database=None)
TOL = {"rtol": 1e-10, "atol": 1e-10}


def _dihedral(size: int) -> PermutationGroup:
    gens = torch.stack([rotation90_group(size).perms[1], flip_group(size, size).perms[1]])
    return PermutationGroup.generated_by(gens, shape=(size, size), name="D4")


def _random_group(n: int, seed: int) -> PermutationGroup:
    """A group given by permutation matrices: Z_n acting on a randomly relabelled signal."""
    gen = torch.Generator().manual_seed(seed)
    relabel = torch.randperm(n, generator=gen)
    shifts = cyclic_shift_group(n).perms  # (n, n)
    inv = relabel.argsort()
    perms = relabel[shifts][:, inv]  # conjugate: still a group
    return PermutationGroup.from_matrices(torch.eye(n)[perms], name="conjugated-Zn")


GROUPS = {
    "flip-lr": lambda: flip_group(5, 4),
    "flip-ud": lambda: flip_group(5, 4, mirror="up-down"),
    "rot90": lambda: rotation90_group(4),
    "shift-1d": lambda: cyclic_shift_group(7),
    "shift-rows": lambda: cyclic_shift_group((3, 5), dims=-1),
    "shift-2d": lambda: cyclic_shift_group((3, 4), dims=(-2, -1)),
    "dihedral": lambda: _dihedral(3),
    "from-matrices": lambda: _random_group(6, 0),
}


@pytest.mark.parametrize(
    ("name", "order"),
    [
        ("flip-lr", 2),
        ("flip-ud", 2),
        ("rot90", 4),
        ("shift-1d", 7),
        ("shift-rows", 5),
        ("shift-2d", 12),
        ("dihedral", 8),
        ("from-matrices", 6),
    ],
)
def test_constructors_build_groups(name, order):
    group = GROUPS[name]()
    assert group.order == order
    PermutationGroup(group.perms, shape=group.shape)  # validation: permutations, identity, closure
    table = group.multiplication_table
    e = group.identity_index
    assert torch.equal(table[e], torch.arange(order)) and torch.equal(table[:, e], torch.arange(order))
    assert torch.equal(table[torch.arange(order), group.inverse], torch.full((order,), e))


def test_group_actions_match_torch_ops():
    x = torch.arange(20.0).reshape(1, 4, 5)
    assert torch.equal(flip_group(4, 5).act(x, 1), torch.from_numpy(np.fliplr(x[0].numpy()).copy())[None])
    assert torch.equal(flip_group(4, 5, mirror="up-down").act(x, 1), torch.flip(x, dims=(-2,)))
    sq = torch.arange(16.0).reshape(1, 4, 4)
    assert torch.equal(rotation90_group(4).act(sq, 1), torch.rot90(sq, 1, dims=(-2, -1)))
    assert torch.equal(cyclic_shift_group((4, 5)).act(x, 2), torch.roll(x, 2, dims=-1))
    mats = rotation90_group(4).matrices(torch.float64)
    assert torch.equal(mats[3] @ sq.reshape(16).double(), rotation90_group(4).act(sq, 3).reshape(16).double())


def test_invalid_groups_are_refused():
    with pytest.raises(ParameterError, match="closed under composition"):
        PermutationGroup([[0, 1, 2], [1, 2, 0]])  # a rotation without its square
    with pytest.raises(ParameterError, match="identity"):
        PermutationGroup([[1, 0]])
    with pytest.raises(ParameterError, match="permutations"):
        PermutationGroup([[0, 1], [0, 0]])
    with pytest.raises(ParameterError, match="distinct"):
        PermutationGroup([[0, 1], [0, 1]])
    with pytest.raises(ParameterError, match="one 1 per row"):
        PermutationGroup.from_matrices(torch.ones(1, 2, 2))
    with pytest.raises(ParameterError, match="mirror"):
        flip_group(3, 3, mirror="diagonal")


def test_lab_flip_example():
    """The lab's solved check: simple cells of x and its flip have equal sorted values, complex
    cells are equal (here over a batch of random images and templates)."""
    group = flip_group(28, 28)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 28, 28, generator=gen, dtype=torch.float64)
    w = torch.rand(2, 28, 28, generator=gen, dtype=torch.float64)
    xf = torch.flip(x, dims=(-1,))
    s, sf = simple_cells(x, w, group), simple_cells(xf, w, group)
    torch.testing.assert_close(s.sort(dim=-1).values, sf.sort(dim=-1).values, **TOL)
    torch.testing.assert_close(sf, s.flip(-1), **TOL)  # the flip swaps the two responses
    assert not torch.allclose(s, sf)
    lv = [0.0, 50.0]
    torch.testing.assert_close(
        complex_cells(s, lv, nonlinearity="sigmoid"),
        complex_cells(sf, lv, nonlinearity="sigmoid"),
        **TOL,
    )


def test_simple_cells_known_values():
    group = cyclic_shift_group(3)
    x = torch.tensor([[1.0, 2.0, 3.0]])
    w = torch.tensor([[1.0, 0.0, 0.0]])
    # element j rolls by j: (g_j w)[d] = w[d - j], so g_j e_0 = e_j and s_j = x[j]
    torch.testing.assert_close(simple_cells(x, w, group), torch.tensor([[[1.0, 2.0, 3.0]]]))
    c = complex_cells(simple_cells(x, w, group), [1.5], nonlinearity="threshold")
    torch.testing.assert_close(c, torch.tensor([[[0.5 + 1.5]]]))
    torch.testing.assert_close(
        complex_cells(simple_cells(x, w, group), [1, 2], nonlinearity="power"),
        torch.tensor([[[6.0], [14.0]]]),
    )


@SETTINGS
@given(name=st.sampled_from(sorted(GROUPS)), seed=st.integers(0, 2**31 - 1), data=st.data())
def test_simple_cells_equivariant_complex_cells_invariant(name, seed, data):
    group = GROUPS[name]()
    k = data.draw(st.integers(0, group.order - 1), label="k")
    n_templates = data.draw(st.integers(1, 3), label="templates")
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(4, *group.shape, generator=gen, dtype=torch.float64)
    w = torch.randn(n_templates, *group.shape, generator=gen, dtype=torch.float64)
    gx = group.act(x, k)
    s, s_g = simple_cells(x, w, group), simple_cells(gx, w, group)  # (B, I, G)
    # Equivariance: transforming the input permutes the responses over the group index j.
    torch.testing.assert_close(s_g, s[..., group.response_permutation(k)], **TOL)
    levels = torch.randn(3, generator=gen, dtype=torch.float64)
    for nonlinearity in ("threshold", "sigmoid", lambda t, h: torch.cos(h * t)):
        c = complex_cells(s, levels, nonlinearity=nonlinearity)
        assert c.shape == (4, 3, n_templates)
        torch.testing.assert_close(complex_cells(s_g, levels, nonlinearity=nonlinearity), c, **TOL)
    powers = [1, 2, 3]
    torch.testing.assert_close(
        complex_cells(s_g, powers, nonlinearity="power"),
        complex_cells(s, powers, nonlinearity="power"),
        **TOL,
    )


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(0, 3))
def test_hubel_wiesel_module_is_invariant(seed, k):
    group = rotation90_group(5)
    model = HubelWiesel.random(group, 4, [0.0, 0.5, 1.0], seed=seed).double()
    x = torch.randn(3, 25, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    out = model(x)
    assert out.shape == (3, 3, 4) and model.simple(x).shape == (3, 4, 4)
    torch.testing.assert_close(model(group.act(x, k)), out, **TOL)
    out.sum().backward()  # templates are learnable
    assert model.templates.grad is not None


def test_non_invariant_pooling_would_fail():
    """Control: without pooling over the whole group, invariance is lost (the test can fail)."""
    group = rotation90_group(4)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 4, generator=gen, dtype=torch.float64)
    w = torch.randn(1, 4, 4, generator=gen, dtype=torch.float64)
    s, s_g = simple_cells(x, w, group), simple_cells(group.act(x, 1), w, group)
    assert not torch.allclose(s[..., :2].sum(-1), s_g[..., :2].sum(-1))


def test_shapes_are_checked():
    group = flip_group(3, 3)
    with pytest.raises(ParameterError, match=r"\(B, 3, 3\) or \(B, 9\)"):
        simple_cells(torch.zeros(2, 3, 4), torch.zeros(1, 9), group)
    with pytest.raises(ParameterError, match="positive integers"):
        complex_cells(torch.zeros(1, 1, 2), [0.5], nonlinearity="power")
    with pytest.raises(ParameterError, match="nonlinearity"):
        complex_cells(torch.zeros(1, 1, 2), [0.5], nonlinearity="tanh")
