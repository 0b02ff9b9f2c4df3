"""Sweeps and Sobol indices: exact invariances and closed-form indices.

Known answers: additive functions (S_i = S_Ti = c_i^2 Var(x_i) / sum_j c_j^2 Var(x_j)), the Ishigami
function (Ishigami & Homma 1990; closed forms e.g. in Saltelli et al., *Global Sensitivity
Analysis: The Primer*, 2008), and B6 on U[0, 2]^6 with indices computed exactly from the moments
E[x^k] = 2^k / (k + 1) of the uniform distribution.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from learnability._validation import ParameterError
from learnability.analysis.sensitivity import (
    evaluate_sweeps,
    saltelli_design,
    sobol_from_evaluations,
    sobol_indices,
    sweep_inputs,
    sweep_summary,
)
from learnability.targets import Polynomial, bell_polynomial

F64 = torch.float64

# Ishigami function, standard parameters, inputs U[-pi, pi]^3.
ISHIGAMI_A, ISHIGAMI_B = 7.0, 0.1


def ishigami(x: torch.Tensor) -> torch.Tensor:
    a, b = ISHIGAMI_A, ISHIGAMI_B
    return torch.sin(x[:, 0]) + a * torch.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * torch.sin(x[:, 0])


def ishigami_indices() -> tuple[list[float], list[float]]:
    a, b, pi = ISHIGAMI_A, ISHIGAMI_B, math.pi
    var = a**2 / 8 + b * pi**4 / 5 + b**2 * pi**8 / 18 + 0.5
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    return [v1 / var, v2 / var, 0.0], [(v1 + v13) / var, v2 / var, v13 / var]


def exact_uniform_sobol(poly: Polynomial, half_width: int = 2) -> tuple[list[float], list[float]]:
    """Exact first/total indices of a polynomial on U[0, w]^n from uniform moments."""

    def moment(k: int) -> Fraction:
        return Fraction(half_width**k, k + 1)

    terms = list(zip(poly.coefficients, poly.exponents, strict=True))

    def second_moment_of_conditional(keep: set[int]) -> Fraction:
        # E[(E[f | x_keep])^2]: integrate the other variables out term by term, then square.
        g: dict[tuple[int, ...], Fraction] = {}
        for c, e in terms:
            w = Fraction(c) * math.prod((moment(k) for j, k in enumerate(e) if j not in keep), start=Fraction(1))
            key = tuple(k if j in keep else 0 for j, k in enumerate(e))
            g[key] = g.get(key, Fraction(0)) + w
        return sum(
            (
                ca * cb * math.prod((moment(p + q) for p, q in zip(ea, eb, strict=True)), start=Fraction(1))
                for ea, ca in g.items()
                for eb, cb in g.items()
            ),
            Fraction(0),
        )

    n = poly.n_vars
    mean_sq = second_moment_of_conditional(set())
    var = second_moment_of_conditional(set(range(n))) - mean_sq
    first = [float((second_moment_of_conditional({i}) - mean_sq) / var) for i in range(n)]
    total = [float(1 - (second_moment_of_conditional(set(range(n)) - {i}) - mean_sq) / var) for i in range(n)]
    return first, total


# --------------------------------------------------------------------------------------------
# Sweeps
# --------------------------------------------------------------------------------------------


def test_sweep_inputs_hold_other_coordinates_fixed():
    base = torch.rand(5, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    grid = torch.linspace(0, 2, 7, dtype=F64)
    x = sweep_inputs(base, grid)
    assert x.shape == (5, 4, 7, 4)
    for m in range(5):
        for v in range(4):
            for g in range(7):
                expected = base[m].clone()
                expected[v] = grid[g]
                assert torch.equal(x[m, v, g], expected)
    # Subset of variables, single base point, dtype kept, base untouched.
    one = sweep_inputs(base[0].float(), grid, variables=[3, 1])
    assert one.shape == (2, 7, 4) and one.dtype == torch.float32
    assert torch.equal(one[0, :, 3], grid.float()) and torch.equal(one[1, :, 1], grid.float())
    assert torch.equal(one[0, :, :3], base[0, :3].float().expand(7, 3))
    assert torch.equal(base, torch.rand(5, 4, generator=torch.Generator().manual_seed(0), dtype=F64))


def test_sweep_inputs_refuses_bad_arguments():
    base, grid = torch.zeros(3, 4), torch.linspace(0, 1, 5)
    with pytest.raises(ParameterError, match="'variables' parameter of sweep_inputs"):
        sweep_inputs(base, grid, variables=[4])
    with pytest.raises(ParameterError, match="'grid' parameter of sweep_inputs"):
        sweep_inputs(base, grid[:, None])
    with pytest.raises(ParameterError, match="'base' parameter of sweep_inputs"):
        sweep_inputs(torch.zeros(2, 3, 4), grid)


def test_evaluate_sweeps_matches_direct_evaluation():
    b6 = bell_polynomial(6)
    base = torch.rand(3, 6, generator=torch.Generator().manual_seed(1), dtype=F64) * 2
    x = sweep_inputs(base, torch.linspace(0, 2, 11, dtype=F64))
    y = evaluate_sweeps(b6, x, batch_size=17)  # (N, 1) outputs, uneven chunks
    assert y.shape == (3, 6, 11) and y.dtype == F64
    torch.testing.assert_close(y, b6(x.reshape(-1, 6)).reshape(3, 6, 11))
    # B6 = x6 + (terms without x6): the sweep along x6 is a line of slope 1.
    torch.testing.assert_close(y[:, 5, -1] - y[:, 5, 0], torch.full((3,), 2.0, dtype=F64))
    with pytest.raises(ParameterError, match="'fn' parameter of evaluate_sweeps"):
        evaluate_sweeps(lambda z: z[:, :2], x)


def test_sweep_summary_known_answers():
    grid = torch.linspace(0, 2, 9, dtype=F64)
    target = torch.stack(
        [torch.stack([grid**2, 3 * grid, torch.sin(grid)]), torch.stack([grid, -grid, grid**3])]
    )  # (M=2, V=3, G=9)
    model = target + 0.5
    s = sweep_summary(target, model)
    torch.testing.assert_close(s.mae.per_point, torch.full((2, 3), 0.5, dtype=F64))
    span = target.amax(-1) - target.amin(-1)
    torch.testing.assert_close(s.rel_error.per_point, 0.5 / span)
    torch.testing.assert_close(s.corr.per_point, torch.ones(2, 3, dtype=F64))
    torch.testing.assert_close(s.rel_error.mean, (0.5 / span).mean(0))
    torch.testing.assert_close(s.rel_error.std, (0.5 / span).std(0))
    assert s.abs_error.mean.shape == (3, 9) and s.n_base == 2
    # Anti-correlated and affine sweeps.
    ones = torch.ones(2, 3, dtype=F64)
    assert torch.allclose(sweep_summary(target, -target).corr.per_point, -ones)
    assert torch.allclose(sweep_summary(target, 2 * target + 1).corr.mean, ones[0])
    d = s.to_dict()
    assert set(d) == {"x1", "x2", "x3"} and d["x2"]["mae"] == pytest.approx(0.5)
    assert d["x1"]["corr"] == pytest.approx(1.0) and len(d["x1"]["mae_band"]) == 2


def test_sweep_summary_band_and_flat_sweeps():
    g = 5
    target = torch.zeros(4, 1, g, dtype=F64)  # flat target: range 0
    errors = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=F64)
    model = target + errors[:, None, None]
    s = sweep_summary(target, model, band=(0.0, 1.0))
    assert torch.isnan(s.rel_error.per_point).all() and torch.isnan(s.corr.mean).all()
    assert s.mae.mean.item() == 2.5
    assert (s.mae.low.item(), s.mae.high.item()) == (1.0, 4.0)
    # One base point: the spread is undefined, not zero.
    single = sweep_summary(target[0], model[0])
    assert single.n_base == 1 and torch.isnan(single.mae.std).all()


def test_sweep_summary_refuses_mismatched_shapes():
    t = torch.zeros(2, 3, 5)
    with pytest.raises(ParameterError, match="'model_values' parameter of sweep_summary"):
        sweep_summary(t, t[..., None])
    with pytest.raises(ParameterError, match="'model_values'"):
        sweep_summary(t, t[:1])
    with pytest.raises(ParameterError, match="'band'"):
        sweep_summary(t, t, band=(0.9, 0.1))


# --------------------------------------------------------------------------------------------
# Sobol indices
# --------------------------------------------------------------------------------------------


def test_saltelli_design_structure():
    d = saltelli_design(3, n_samples=64, low=[0, -1, 2], high=[1, 1, 5], seed=0)
    assert d.a.shape == d.b.shape == (64, 3) and d.ab.shape == (3, 64, 3)
    assert d.n_evaluations == 64 * 5
    for i in range(3):
        others = [j for j in range(3) if j != i]
        assert torch.equal(d.ab[i][:, i], d.b[:, i])
        assert torch.equal(d.ab[i][:, others], d.a[:, others])
    for m in (d.a, d.b):
        assert (m >= torch.tensor([0, -1, 2])).all() and (m <= torch.tensor([1, 1, 5])).all()
    values = torch.arange(64 * 5, dtype=F64)
    f_a, _f_b, f_ab = d.split(values)
    assert torch.equal(f_a, values[:64]) and torch.equal(f_ab[:, 1], values[192:256])
    assert d.stacked().shape == (320, 3)
    # Explicit randomness: same seed, same design; a generator seeded alike is equivalent.
    again = saltelli_design(3, n_samples=64, low=[0, -1, 2], high=[1, 1, 5], generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.a, d.a) and torch.equal(again.b, d.b)
    mc = saltelli_design(3, n_samples=64, sampler="mc", seed=0)
    assert not torch.equal(mc.a, saltelli_design(3, n_samples=64, sampler="mc", seed=1).a)


@pytest.mark.parametrize("sampler", ["qmc", "mc"])
def test_sobol_additive_function(sampler):
    coef = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=F64)
    expected = coef**2 / (coef**2).sum()  # equal variances on U[0, 1]
    tol = 0.01 if sampler == "qmc" else 0.05
    s = sobol_indices(lambda x: x @ coef, 4, n_samples=2**13, sampler=sampler, seed=3)
    torch.testing.assert_close(s.first, expected, atol=tol, rtol=0)
    torch.testing.assert_close(s.total, expected, atol=tol, rtol=0)
    assert s.n_evaluations == 2**13 * 6
    assert s.variance == pytest.approx(float((coef**2).sum() / 12), rel=0.02)


def test_sobol_additive_unequal_ranges_with_bootstrap():
    # f = x1 + x2 on [0, 1] x [0, 3]: Var = 1/12 + 9/12, S = (0.1, 0.9).
    s = sobol_indices(
        lambda x: x.sum(1, keepdim=True),
        2,
        n_samples=2**12,
        low=0.0,
        high=[1.0, 3.0],
        sampler="mc",
        seed=0,
        n_bootstrap=200,
        confidence=0.99,
    )
    truth = torch.tensor([0.1, 0.9], dtype=F64)
    assert s.first_ci is not None and s.first_ci.shape == (2, 2)
    assert bool(((s.first_ci[:, 0] <= truth) & (truth <= s.first_ci[:, 1])).all())
    assert bool(((s.total_ci[:, 0] <= truth) & (truth <= s.total_ci[:, 1])).all())
    assert s.to_dict()["confidence"] == 0.99
    # The intervals are informative: narrower than 0.1 at N = 4096.
    assert bool((s.first_ci[:, 1] - s.first_ci[:, 0] < 0.1).all())


def test_sobol_ishigami_closed_form():
    first, total = ishigami_indices()
    s = sobol_indices(ishigami, 3, n_samples=2**14, low=-math.pi, high=math.pi, seed=0)
    torch.testing.assert_close(s.first, torch.tensor(first, dtype=F64), atol=0.01, rtol=0)
    torch.testing.assert_close(s.total, torch.tensor(total, dtype=F64), atol=0.01, rtol=0)
    again = sobol_indices(ishigami, 3, n_samples=2**14, low=-math.pi, high=math.pi, seed=0)
    assert torch.equal(again.first, s.first)


def test_sobol_b6_matches_exact_indices():
    b6 = bell_polynomial(6)
    first, total = exact_uniform_sobol(b6)
    assert first[0] > first[1] > first[2] > first[3] > first[4] > first[5]
    s = sobol_indices(b6, 6, n_samples=2**13, low=0.0, high=2.0, seed=0)
    torch.testing.assert_close(s.first, torch.tensor(first, dtype=F64), atol=0.01, rtol=0)
    torch.testing.assert_close(s.total, torch.tensor(total, dtype=F64), atol=0.01, rtol=0)


def test_sobol_refuses_bad_arguments():
    f = ishigami
    with pytest.raises(ParameterError, match="'seed' parameter of sobol_indices"):
        sobol_indices(f, 3, n_samples=64)
    with pytest.raises(ParameterError, match="'seed'"):
        sobol_indices(f, 3, n_samples=64, seed=0, generator=torch.Generator())
    with pytest.raises(ParameterError, match="'high'"):
        sobol_indices(f, 3, n_samples=64, seed=0, low=1.0, high=1.0)
    with pytest.raises(ParameterError, match="'sampler'"):
        sobol_indices(f, 3, n_samples=64, seed=0, sampler="lhs")
    with pytest.raises(ParameterError, match="'fn' parameter of sobol_indices"):
        sobol_indices(lambda x: x, 3, n_samples=64, seed=0)
    with pytest.raises(ParameterError, match="not constant"):
        sobol_indices(lambda x: torch.ones(x.shape[0]), 3, n_samples=64, seed=0)
    with pytest.raises(ParameterError, match="'f_ab' parameter of sobol_from_evaluations"):
        sobol_from_evaluations(np.ones(8), np.zeros(8), np.ones((7, 2)))
