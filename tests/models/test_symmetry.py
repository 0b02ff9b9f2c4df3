"""Symmetry discovery: orbit data, classifier, loss terms, circulant measure."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from learnability._validation import ParameterError
from learnability.models import (
    OrbitClassifier,
    angle_order,
    circulant_distance,
    circulant_projection,
    commutator_penalty,
    covariance,
    equivariance_error,
    gramian,
    group_order,
    make_orbit_dataset,
    rotate_points,
    rotation_matrices,
    sort_regularizer,
    sorted_rows_spread,
    symmetry_loss,
)

SETTINGS = settings(max_examples=25, deadline=None, database=None)
F64 = torch.float64


def _circulant(c: torch.Tensor) -> torch.Tensor:
    n = c.shape[0]
    i = torch.arange(n)
    return c[(i[None, :] - i[:, None]) % n]


def _orbit_weights(m: int, angle: float = 0.3, radius: float = 1.7) -> torch.Tensor:
    """Hidden weights forming one orbit w_k = R^k w_0 (k = 0..m-1): (m, 2)."""
    w0 = radius * torch.tensor([math.cos(angle), math.sin(angle)], dtype=F64)
    return torch.einsum("kij,j->ki", rotation_matrices(360 / m), w0)


# -- data -----------------------------------------------------------------------------------------
def test_group_order():
    assert group_order(4) == 90 and group_order(3.6) == 100 and group_order(3) == 120
    for bad in (7, 0, -4, 400):
        with pytest.raises(ParameterError, match="step_degrees"):
            group_order(bad)


def test_rotation_matrices_form_the_cyclic_group():
    rot = rotation_matrices(30)  # C_12
    assert rot.shape == (12, 2, 2)
    eye = torch.eye(2, dtype=F64)
    torch.testing.assert_close(rot[0], eye)
    torch.testing.assert_close(rot @ rot.transpose(1, 2), eye.expand(12, 2, 2))
    torch.testing.assert_close(torch.linalg.det(rot), torch.ones(12, dtype=F64))
    torch.testing.assert_close(torch.linalg.matrix_power(rot[1], 5), rot[5])
    torch.testing.assert_close(torch.linalg.matrix_power(rot[1], 12), eye)
    torch.testing.assert_close(rot[3] @ torch.tensor([1.0, 0.0], dtype=F64), torch.tensor([0.0, 1.0], dtype=F64))


def test_orbit_dataset_sizes_labels_and_orbits():
    data = make_orbit_dataset(4, step_degrees=4, seed=0, dtype=F64)
    m = 90
    assert data.x.shape == (4 * m, 2) and data.y.shape == (4 * m,) and data.group_order == m
    assert torch.equal(torch.bincount(data.y), torch.full((4,), m))
    # default radii 1..n_orbits; rotations keep the norm
    torch.testing.assert_close(data.x.norm(dim=1), (data.y + 1).to(F64))
    # each point is its orbit's base point rotated by its recorded rotation
    torch.testing.assert_close(data.x, rotate_points(data.base[data.y], data.rotation, step_degrees=4))
    # every orbit is complete: all m rotations, each once
    for c in range(4):
        assert torch.equal(data.rotation[data.y == c].sort().values, torch.arange(m))
    # shuffled, and reproducible
    assert not torch.equal(data.y, data.y.sort().values)
    again = make_orbit_dataset(4, step_degrees=4, seed=0, dtype=F64)
    assert torch.equal(again.x, data.x) and torch.equal(again.y, data.y)
    assert not torch.equal(make_orbit_dataset(4, step_degrees=4, seed=1, dtype=F64).x, data.x)


def test_orbit_dataset_is_closed_under_the_group():
    data = make_orbit_dataset(3, step_degrees=3.6, radii=[0.5, 1.0, 2.0], seed=0, dtype=F64)
    rotated = rotate_points(data.x, 1, step_degrees=3.6)
    # rotating by one step maps the data set onto itself, with the same labels
    dist = torch.cdist(rotated, data.x, compute_mode="donot_use_mm_for_euclid_dist")
    nearest = dist.argmin(dim=1)
    assert dist.min(dim=1).values.max() < 1e-12
    assert torch.equal(data.y[nearest], data.y)
    assert torch.equal(nearest.sort().values, torch.arange(len(data.y)))
    with pytest.raises(ParameterError, match="radii"):
        make_orbit_dataset(2, radii=[1.0, 1.0], seed=0)


# -- model and representation --------------------------------------------------------------------
def test_classifier_shapes_and_gramian():
    model = OrbitClassifier(5, hidden=12, seed=0)
    x = make_orbit_dataset(5, step_degrees=30, seed=0).x
    assert model(x).shape == (60, 5) and model.representation(x).shape == (60, 12)
    torch.testing.assert_close(model.gramian(), model.fc1.weight @ model.fc1.weight.T)
    with pytest.raises(ParameterError, match="x"):
        model(torch.zeros(3, 3))


def test_orbit_weights_give_an_equivariant_representation():
    """With first-layer weights forming one orbit (and no bias), rotating the input by one step
    cyclically shifts the hidden representation; summing it over units is invariant."""
    m = 12
    model = OrbitClassifier(3, hidden=m, seed=0).double()
    with torch.no_grad():
        model.fc1.weight.copy_(_orbit_weights(m))
        model.fc1.bias.zero_()
    x = make_orbit_dataset(3, step_degrees=30, seed=0, dtype=F64).x

    def rotate(t: torch.Tensor) -> torch.Tensor:
        return rotate_points(t, 1, step_degrees=30)

    def shift(h: torch.Tensor) -> torch.Tensor:
        return torch.roll(h, 1, dims=1)

    err = equivariance_error(model, x, rotate, layer="relu", output_transform=shift)
    assert err.max() < 1e-12
    pooled = model.representation(x).sum(dim=1)
    torch.testing.assert_close(model.representation(rotate(x)).sum(dim=1), pooled)
    assert circulant_distance(model.gramian().detach()) < 1e-12


# -- regularisers ---------------------------------------------------------------------------------
@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 9))
def test_circulant_distance(seed, n):
    gen = torch.Generator().manual_seed(seed)
    c = _circulant(torch.randn(n, generator=gen, dtype=F64))
    assert circulant_distance(c) < 1e-12
    torch.testing.assert_close(circulant_projection(c), c)
    noisy = c + torch.randn(n, n, generator=gen, dtype=F64)
    d = circulant_distance(noisy)
    assert 0 < d <= 1
    proj = circulant_projection(noisy)
    torch.testing.assert_close(circulant_projection(proj), proj)  # a projection
    # the residual is orthogonal to every circulant matrix
    torch.testing.assert_close((noisy - proj).mul(c).sum(), torch.tensor(0.0, dtype=F64), atol=1e-10, rtol=0)


def test_circulant_distance_known_value_and_order():
    assert circulant_distance(torch.zeros(3, 3)) == 0
    # identity is circulant; a single off-diagonal 1 is not: its projection spreads it over a
    # wrapped diagonal of n entries (1/n each); residual^2 = (1 - 1/n)^2 + (n - 1)/n^2 = 1 - 1/n.
    m = torch.zeros(4, 4, dtype=F64)
    m[0, 1] = 1.0
    torch.testing.assert_close(circulant_distance(m), torch.tensor(math.sqrt(1 - 1 / 4), dtype=F64))
    gram = gramian(_orbit_weights(10))
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    shuffled_w = _orbit_weights(10)[perm]
    assert circulant_distance(gramian(shuffled_w)) > 0.1  # the units' order hides the structure
    assert circulant_distance(gramian(shuffled_w), order=angle_order(shuffled_w)) < 1e-12
    assert circulant_distance(gram) < 1e-12
    with pytest.raises(ParameterError, match="order"):
        circulant_distance(gram, order=torch.zeros(10, dtype=torch.long))


@pytest.mark.parametrize("temperature", [None, 0.1, 1.0, 10.0])
def test_sort_regularizer_vanishes_on_circulant_matrices(temperature):
    gen = torch.Generator().manual_seed(0)
    c = _circulant(torch.randn(7, generator=gen, dtype=F64))
    assert sort_regularizer(c, temperature=temperature) < 1e-12
    # invariant to relabelling the units (a simultaneous permutation of rows and columns)
    perm = torch.randperm(7, generator=gen)
    assert sort_regularizer(c[perm][:, perm], temperature=temperature) < 1e-12
    other = torch.randn(7, 7, generator=gen, dtype=F64)
    assert sort_regularizer(other, temperature=temperature) > 1e-3


def test_sorted_rows_spread_known_value_and_columns():
    m = torch.tensor([[0.0, 1.0], [0.0, 3.0]], dtype=F64)
    # hard-sorted rows (0, 1) and (0, 3); mean (0, 2); spread 1 + 1 = 2; ||M||^2 = 10
    torch.testing.assert_close(sorted_rows_spread(m, temperature=None, relative=False), torch.tensor(2.0, dtype=F64))
    torch.testing.assert_close(sorted_rows_spread(m, temperature=None), torch.tensor(0.2, dtype=F64))
    # columns (0, 0) and (1, 3): spread 2 * ((1 - 0.5)^2 + (3 - 1.5)^2) = 5 -> relative 0.5
    torch.testing.assert_close(sort_regularizer(m, temperature=None), torch.tensor(0.2 + 0.5, dtype=F64))
    # relative values are scale-free
    torch.testing.assert_close(sort_regularizer(5 * m, temperature=None), sort_regularizer(m, temperature=None))


def test_commutator_penalty():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(3, 3, generator=gen, dtype=F64)
    a = a @ a.T
    commuting = 2 * a @ a - a + 0.5 * torch.eye(3, dtype=F64)  # a polynomial in a
    assert commutator_penalty(a, commuting) < 1e-20
    assert commutator_penalty(torch.diag(torch.tensor([1.0, 2.0])), torch.diag(torch.tensor([5.0, -1.0]))) == 0
    b = torch.randn(3, 3, generator=gen, dtype=F64)
    b = b @ b.T
    assert commutator_penalty(a, b) > 1e-3
    # [[1,0],[0,-1]] and [[0,1],[1,0]] anticommute: AB - BA = 2 [[0,1],[-1,0]], norm^2 = 8
    s, x = torch.tensor([[1.0, 0.0], [0.0, -1.0]]), torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert commutator_penalty(s, x, relative=False) == 8.0
    assert commutator_penalty(s, x) == 8.0 / (2 * 2)
    assert commutator_penalty(torch.zeros(2, 2), x) == 0


def test_covariance():
    z = torch.tensor([[1.0, 2.0], [3.0, 6.0]], dtype=F64)
    torch.testing.assert_close(covariance(z), torch.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=F64))
    torch.testing.assert_close(covariance(z, center=False), z.T @ z / 2)
    # full orbits of C_m (m >= 3) have an isotropic covariance: the commutator term vanishes
    data = make_orbit_dataset(3, step_degrees=30, seed=0, dtype=F64)
    cov = covariance(data.x)
    torch.testing.assert_close(cov, cov.trace() / 2 * torch.eye(2, dtype=F64))


def test_symmetry_loss_terms_and_ablation():
    data = make_orbit_dataset(3, step_degrees=30, seed=0)
    model = OrbitClassifier(3, hidden=12, seed=0)
    batch = slice(0, 16)
    cov = covariance(data.x[batch])  # a minibatch's covariance is anisotropic
    loss = symmetry_loss(
        model(data.x[batch]),
        data.y[batch],
        model.fc1.weight,
        cov,
        sort_weight=0.5,
        commutator_weight=2.0,
        temperature=0.3,
    )
    torch.testing.assert_close(
        loss.cross_entropy, torch.nn.functional.cross_entropy(model(data.x[batch]), data.y[batch])
    )
    torch.testing.assert_close(loss.sort, sort_regularizer(model.gramian(), temperature=0.3))
    torch.testing.assert_close(loss.commutator, commutator_penalty(cov, covariance(model.fc1.weight)))
    torch.testing.assert_close(loss.total, loss.cross_entropy + 0.5 * loss.sort + 2.0 * loss.commutator)
    assert loss.sort > 0 and loss.commutator > 0
    loss.total.backward()
    assert model.fc1.weight.grad is not None and model.fc1.weight.grad.abs().sum() > 0
    ablated = symmetry_loss(model(data.x), data.y, model.fc1.weight, cov, sort_weight=0.0, commutator_weight=0.0)
    torch.testing.assert_close(ablated.total, ablated.cross_entropy)
    with pytest.raises(ParameterError, match="labels"):
        symmetry_loss(model(data.x), data.y[:5], model.fc1.weight, cov)
