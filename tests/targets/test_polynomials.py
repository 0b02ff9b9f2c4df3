"""Exact polynomials, complete Bell polynomials and scrambling: known answers and references.

References used here: sympy's incomplete Bell polynomials (B_n = sum_k B_{n,k}) and its grevlex
order, Bell numbers, partition counts, Faa di Bruno's coefficient formula.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections import Counter

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from learnability._validation import ParameterError
from learnability.targets import (
    Monomial,
    Polynomial,
    ScrambleResult,
    ScrambleRule,
    apply_permutations,
    bell_polynomial,
    check_scrambled,
    format_permutation,
    monomial_exponents,
    monomial_features,
    scramble,
)
from learnability.targets.polynomials import relabelling

# The spec's B6, verbatim (AdvML Challenge 2024 #2, part B).
SPEC_B6 = "x1^6 + 15x2x1^4 + 20x3x1^3 + 45x2^2x1^2 + 15x2^3 + 60x3x2x1 + 15x4x1^2 + 10x3^2 + 15x4x2 + 6x5x1 + x6"
# Our canonical (grevlex) order: the spec's, with 45x2^2x1^2 and 20x3x1^3 swapped.
CANONICAL_B6 = "x1^6 + 15x2x1^4 + 45x2^2x1^2 + 20x3x1^3 + 15x2^3 + 60x3x2x1 + 15x4x1^2 + 10x3^2 + 15x4x2 + 6x5x1 + x6"
# Pinned: scramble(B6, seed=0) must never change (it defines a study's target function).
SCRAMBLED_B6_SEED0 = (
    "x5^6 + 15x2^4x1 + 20x5x3^3 + 45x6^2x5^2 + 15x6x4^2 + 60x6x5x4 + 15x6^3 + 10x1^2 + 15x3x1 + 6x6x2 + x3"
)
BELL_NUMBERS = [1, 1, 2, 5, 15, 52, 203, 877, 4140]  # OEIS A000110
PARTITIONS = [1, 1, 2, 3, 5, 7, 11, 15, 22]  # OEIS A000041


def parse_text(text: str, n: int) -> Counter:
    """Independent parser of the spec's notation -> Counter{exponents: coefficient}."""
    out: Counter = Counter()
    for term in text.split(" + "):
        m = re.fullmatch(r"(\d*)((?:x\d+(?:\^\d+)?)*)", term)
        assert m is not None, term
        exps = [0] * n
        for var, power in re.findall(r"x(\d+)(?:\^(\d+))?", m.group(2)):
            exps[int(var) - 1] += int(power or 1)
        out[tuple(exps)] += int(m.group(1) or 1)
    return out


def sympy_bell(n: int) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    xs = sp.symbols(f"x1:{n + 1}")
    expr = sum(sp.bell(n, k, xs[: n - k + 1]) for k in range(1, n + 1))
    return sp.expand(expr), xs


def to_sympy(poly: Polynomial, xs: tuple[sp.Symbol, ...]) -> sp.Expr:
    return sum(
        (m.coefficient * sp.Mul(*[x**e for x, e in zip(xs, m.exponents, strict=True)]) for m in poly.terms),
        sp.Integer(0),
    )


def perms_for(poly: Polynomial, by_text: dict[str, tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Permutations aligned with poly.terms, given per monomial text (with coefficient)."""
    assert set(by_text) == {str(m) for m in poly.terms}
    return [by_text[str(m)] for m in poly.terms]


def rules(violations) -> set[ScrambleRule]:
    return {v.rule for v in violations}


# --------------------------------------------------------------------------------------------
# Bell polynomials
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 9))
def test_bell_matches_sympy_exactly_and_numerically(n):
    ours = bell_polynomial(n)
    expected, xs = sympy_bell(n)
    assert sp.expand(to_sympy(ours, xs) - expected) == 0
    # Same terms in the same (grevlex) order as sympy's Poly.
    ref_terms = sp.Poly(expected, *xs).terms(order="grevlex")
    assert [(m.exponents, m.coefficient) for m in ours.terms] == [(tuple(e), int(c)) for e, c in ref_terms]
    x = np.random.default_rng(n).uniform(-2, 2, size=(64, n))
    ref = sp.lambdify(xs, expected, "numpy")(*x.T)
    np.testing.assert_allclose(ours(x)[:, 0], ref, rtol=1e-12, atol=1e-9)


def test_b6_equals_spec_term_for_term():
    b6 = bell_polynomial(6)
    assert b6.n_vars == 6 and b6.n_terms == 11 and b6.degree == 6
    assert Counter({m.exponents: m.coefficient for m in b6.terms}) == parse_text(SPEC_B6, 6)
    assert str(b6) == CANONICAL_B6
    assert Counter(CANONICAL_B6.split(" + ")) == Counter(SPEC_B6.split(" + "))
    assert b6.to_latex().startswith("x_{1}^{6} + 15 x_{2} x_{1}^{4} + 45 x_{2}^{2} x_{1}^{2}")
    assert b6.to_latex().endswith("6 x_{5} x_{1} + x_{6}")


@pytest.mark.parametrize("n", range(1, 9))
def test_bell_known_answers(n):
    b = bell_polynomial(n)
    assert b.n_terms == PARTITIONS[n]  # one monomial per partition of n
    assert b(torch.ones(1, n, dtype=torch.float64)).item() == BELL_NUMBERS[n]
    # Faa di Bruno: coefficient of prod x_j^{k_j} (sum j k_j = n) is n! / prod (j!^k_j k_j!).
    for m in b.terms:
        assert sum((j + 1) * k for j, k in enumerate(m.exponents)) == n
        denom = math.prod(math.factorial(j + 1) ** k * math.factorial(k) for j, k in enumerate(m.exponents))
        assert m.coefficient == math.factorial(n) // denom


def test_bell_recurrence_numerically():
    # B_{m+1}(x) = sum_i C(m, i) B_{m-i}(x) x_{i+1}, checked on values, not on our algebra.
    x = torch.rand(50, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2
    vals = [torch.ones(50, dtype=torch.float64)] + [bell_polynomial(k)(x[:, :k])[:, 0] for k in range(1, 9)]
    for m in range(8):
        rhs = sum(math.comb(m, i) * vals[m - i] * x[:, i] for i in range(m + 1))
        torch.testing.assert_close(vals[m + 1], rhs, rtol=1e-12, atol=0)


def test_bell_refuses_bad_order():
    for bad in (0, -1, 2.0, True, "6"):
        with pytest.raises(ParameterError, match="'n' parameter of bell_polynomial"):
            bell_polynomial(bad)


# --------------------------------------------------------------------------------------------
# The polynomial type
# --------------------------------------------------------------------------------------------


def test_polynomial_is_canonical_immutable_hashable():
    p = Polynomial(2, [(3, (1, 1)), (1, (0, 2)), (-1, (1, 1)), (0, (5, 0))])
    q = Polynomial(2, [Monomial(1, (0, 2)), Monomial(2, (1, 1))])
    assert p == q and hash(p) == hash(q) and len({p, q}) == 1
    assert str(p) == "2x2x1 + x2^2" and p.n_terms == 2
    assert Polynomial(3, [(1, (1, 0, 0))]) != Polynomial(2, [(1, (1, 0))])
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.terms = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.terms[0].coefficient = 5  # type: ignore[misc]
    assert Polynomial(2, [(1, (1, 0)), (-1, (1, 0))]) == Polynomial(2)
    assert str(Polynomial(2)) == "0" and Polynomial(2).degree == 0


def test_polynomial_properties_and_text():
    p = Polynomial(4, [(-1, (0, 0, 0, 1)), (7, (0, 0, 0, 0)), (-3, (2, 1, 0, 0))])
    assert p.degree == 3 and p.variables == (0, 1, 3) and not p.depends_on_all
    assert str(p) == "-3x2x1^2 - x4 + 7"
    assert p.to_latex() == "-3 x_{2} x_{1}^{2} - x_{4} + 7"
    assert p.coefficients == (-3, -1, 7)
    assert bell_polynomial(5).depends_on_all


def test_polynomial_refuses_bad_terms():
    with pytest.raises(ParameterError, match="'terms' parameter of Polynomial"):
        Polynomial(2, [(1, (1, 0, 0))])
    with pytest.raises(ParameterError, match="'coefficient'"):
        Polynomial(2, [(1.5, (1, 0))])
    with pytest.raises(ParameterError, match="'exponents'"):
        Polynomial(2, [(1, (-1, 0))])
    with pytest.raises(ParameterError, match="'n_vars'"):
        Polynomial(0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-5, 5), st.tuples(*[st.integers(0, 3)] * 3)), max_size=6),
    st.lists(st.tuples(st.integers(-5, 5), st.tuples(*[st.integers(0, 3)] * 3)), max_size=6),
    st.randoms(use_true_random=False),
)
def test_arithmetic_matches_values_and_order_invariance(terms_p, terms_q, rnd):
    p, q = Polynomial(3, terms_p), Polynomial(3, terms_q)
    shuffled = list(terms_p)
    rnd.shuffle(shuffled)
    assert Polynomial(3, shuffled) == p
    x = torch.linspace(-1.5, 1.5, 21, dtype=torch.float64).reshape(7, 3)
    torch.testing.assert_close((p + q)(x), p(x) + q(x))
    torch.testing.assert_close((p - q)(x), p(x) - q(x))
    torch.testing.assert_close((p * q)(x), p(x) * q(x))
    torch.testing.assert_close((3 * p + 1)(x), 3 * p(x) + 1)


# --------------------------------------------------------------------------------------------
# Evaluation and monomial features
# --------------------------------------------------------------------------------------------


def test_evaluation_dtypes_agree_and_types_are_kept():
    b6 = bell_polynomial(6)
    x64 = torch.rand(1000, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    y64 = b6(x64)
    y32 = b6(x64.float())
    assert y64.shape == (1000, 1) and y64.dtype == torch.float64 and y32.dtype == torch.float32
    torch.testing.assert_close(y32.double(), y64, rtol=1e-5, atol=1e-5)
    y_np = b6(x64.numpy())
    assert isinstance(y_np, np.ndarray) and y_np.shape == (1000, 1) and y_np.dtype == np.float64
    np.testing.assert_array_equal(y_np, y64.numpy())
    read_only = x64.numpy().copy()
    read_only.flags.writeable = False
    np.testing.assert_array_equal(b6(read_only), y_np)
    # Exact at integer points: B6(1, 1, 1, 1, 1, 1) = 203, B6(2, 0, ..., 0) = 64.
    pts = torch.tensor([[1.0] * 6, [2.0, 0, 0, 0, 0, 0]])
    assert b6(pts)[:, 0].tolist() == [203.0, 64.0]


@pytest.mark.parametrize("shape", [(6,), (10, 5), (10, 7), (10, 6, 1), (1, 10, 6)])
def test_evaluation_refuses_wrong_shapes(shape):
    with pytest.raises(ParameterError, match=r"'x' parameter of Polynomial.* shape \(any, 6\)"):
        bell_polynomial(6)(torch.zeros(shape))


@pytest.mark.parametrize(
    "x", [torch.zeros(3, 6, dtype=torch.int64), torch.zeros(3, 6).half(), np.zeros((3, 6), dtype=np.int32), [[0.0] * 6]]
)
def test_evaluation_refuses_wrong_types(x):
    with pytest.raises(ParameterError, match="'x' parameter of Polynomial"):
        bell_polynomial(6)(x)


def test_evaluation_has_finite_gradients_at_zero():
    x = torch.zeros(2, 6, dtype=torch.float64, requires_grad=True)
    bell_polynomial(6)(x).sum().backward()
    # dB6/dx6 = 1 and every other partial derivative vanishes at 0.
    assert x.grad.tolist() == [[0, 0, 0, 0, 0, 1.0]] * 2


def test_monomial_exponents_known_counts_and_order():
    assert monomial_exponents(2, 2) == ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2))
    for n, d in [(1, 4), (3, 3), (6, 6)]:
        exps = monomial_exponents(n, d)
        assert len(exps) == len(set(exps)) == math.comb(n + d, d)
        assert [sum(e) for e in exps] == sorted(sum(e) for e in exps)
    assert len(monomial_exponents(6, 6, min_degree=1)) == math.comb(12, 6) - 1
    with pytest.raises(ParameterError, match="'min_degree'"):
        monomial_exponents(3, 2, min_degree=3)


def test_monomial_features_against_direct_products_and_least_squares():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 2, size=(40, 3))
    exps = monomial_exponents(3, 3)
    feats = monomial_features(x, exps)
    direct = np.stack([np.prod(x ** np.array(e), axis=1) for e in exps], axis=1)
    np.testing.assert_allclose(feats, direct, rtol=1e-13)
    b3 = bell_polynomial(3)
    torch.testing.assert_close(
        b3.monomial_features(torch.from_numpy(x)) @ torch.tensor(b3.coefficients, dtype=torch.float64),
        b3(torch.from_numpy(x))[:, 0],
    )
    # The degree-3 least-squares fit recovers B3 = x1^3 + 3x2x1 + x3 exactly.
    coef, *_ = np.linalg.lstsq(feats, b3(x)[:, 0], rcond=None)
    expected = np.array([dict(zip(b3.exponents, b3.coefficients, strict=True)).get(e, 0) for e in exps])
    np.testing.assert_allclose(coef, expected, atol=1e-9)
    with pytest.raises(ParameterError, match="'exponents'"):
        monomial_features(x, [(1, 0)])
    with pytest.raises(ParameterError, match="'exponents'"):
        monomial_features(x, np.ones((2, 3)))  # float exponents


# --------------------------------------------------------------------------------------------
# Scrambling
# --------------------------------------------------------------------------------------------


def test_scramble_b6_always_valid_over_many_seeds():
    b6 = bell_polynomial(6)
    seen = set()
    for seed in range(200):
        res = scramble(b6, seed=seed)
        assert check_scrambled(b6, res) == [], seed
        s = res.scrambled
        # Direct checks, independent of check_scrambled.
        assert s.n_terms == 11 and s.variables == tuple(range(6))
        assert sorted(s.coefficients) == sorted(b6.coefficients)
        assert sorted(m.degree for m in s.terms) == sorted(m.degree for m in b6.terms)
        assert len(set(res.permutations)) == 11
        for m, sigma, new in zip(b6.terms, res.permutations, res.scrambled_terms, strict=True):
            assert sorted(sigma) == list(range(6))
            assert all(sigma[j] != j for j in m.variables)
            assert new != m
        seen.add(s)
    assert len(seen) == 200  # seeds really select different scramblings


def test_scramble_is_deterministic_and_pinned():
    b6 = bell_polynomial(6)
    assert scramble(b6, seed=7) == scramble(b6, seed=7)
    res = scramble(b6, seed=0)
    assert str(res.scrambled) == SCRAMBLED_B6_SEED0
    assert res.seed == 0 and res.original == b6
    assert apply_permutations(b6, res.permutations) == res.scrambled
    text = str(res)
    assert CANONICAL_B6 in text and SCRAMBLED_B6_SEED0 in text and "seed 0" in text
    assert format_permutation(res.permutations[0]) in text
    record = json.loads(json.dumps(res.to_dict()))
    assert record["scrambled"] == SCRAMBLED_B6_SEED0 and len(record["permutations"]) == 11


@pytest.mark.parametrize("n", [3, 4, 5, 7, 8, 9])
def test_scramble_other_bell_polynomials(n):
    b = bell_polynomial(n)
    assert check_scrambled(b, scramble(b, seed=n)) == []


@pytest.mark.parametrize(
    ("poly", "match"),
    [
        (Polynomial(1, [(1, (2,))]), "one variable"),
        (Polynomial(3, [(1, (1, 1, 1)), (2, (0, 0, 0))]), "constant term"),
        (Polynomial(3, [(1, (1, 0, 0)), (1, (0, 1, 0))]), "fewer than the 3 variables"),
        (bell_polynomial(2), "exhaustive search"),  # x1^2 -> x2^2 and x2 -> x1 share (1 2)
        (Polynomial(2), "zero polynomial"),
    ],
)
def test_scramble_refuses_impossible_polynomials(poly, match):
    with pytest.raises(ParameterError, match=match):
        scramble(poly, seed=0)


def test_scramble_search_budget_and_arguments():
    with pytest.raises(ParameterError, match="'max_nodes' parameter of scramble"):
        scramble(bell_polynomial(6), seed=0, max_nodes=3)
    for bad in (-1, 1.0, None):
        with pytest.raises(ParameterError, match="'seed' parameter of scramble"):
            scramble(bell_polynomial(6), seed=bad)
    with pytest.raises(TypeError):
        scramble(bell_polynomial(6), 0)  # seed is keyword-only


def test_format_permutation():
    assert format_permutation((1, 2, 0, 3)) == "(1 2 3)"
    assert format_permutation((0, 1)) == "()"
    assert format_permutation((1, 0, 3, 2)) == "(1 2)(3 4)"


# ---- check_scrambled: one counterexample per rule ------------------------------------------


def test_check_rejects_non_permutation():
    b6 = bell_polynomial(6)
    res = scramble(b6, seed=0)
    perms = list(res.permutations)
    perms[3] = (0, 0, 1, 2, 3, 4)
    v = check_scrambled(b6, (res.scrambled, perms))
    assert rules(v) == {ScrambleRule.PERMUTATION}
    assert "permutation" in str(v[0]) and str(b6.terms[3]) in str(v[0])


def test_check_rejects_shared_permutations():
    p = Polynomial(3, [(1, (1, 0, 0)), (1, (0, 1, 0)), (1, (0, 0, 1))])
    perms = perms_for(p, {"x1": (1, 2, 0), "x2": (1, 2, 0), "x3": (2, 1, 0)})
    v = check_scrambled(p, (apply_permutations(p, perms), perms))
    assert rules(v) == {ScrambleRule.DISTINCT_PERMUTATIONS}
    assert "distinct permutations" in str(v[0]) and "x1" in str(v[0]) and "x2" in str(v[0])


def test_check_rejects_permutations_equal_on_the_monomials_variables():
    """Rule 2 on the support: x1x2 and x1^2x2 both sent through x1 -> x2, x2 -> x3 by 4-permutations
    that differ only on x3, x4 (absent from both) act identically on them: a violation."""
    p = Polynomial(4, [(1, (1, 1, 0, 0)), (1, (2, 1, 0, 0)), (1, (0, 0, 1, 0)), (1, (0, 0, 0, 1))])
    same_action = {"x2x1": (1, 2, 0, 3), "x2x1^2": (1, 2, 3, 0), "x3": (0, 1, 3, 2), "x4": (3, 2, 1, 0)}
    perms = perms_for(p, same_action)
    assert len(set(perms)) == 4  # distinct as whole permutations: the old check passed it
    v = check_scrambled(p, (apply_permutations(p, perms), perms))
    assert rules(v) == {ScrambleRule.DISTINCT_PERMUTATIONS}
    assert v[0].terms == (0, 1) and "x1 -> x2, x2 -> x3" in str(v[0])
    # the same images on different supports are different relabellings: no violation
    assert relabelling(p.terms[0], perms[0]) != relabelling(p.terms[2], (1, 2, 0, 3))
    # a different image of x2 for the second monomial: valid
    ok = perms_for(p, {**same_action, "x2x1^2": (1, 3, 2, 0)})
    assert check_scrambled(p, (apply_permutations(p, ok), ok)) == []


def test_scramble_seed_36_no_longer_repeats_a_relabelling():
    """Seed 36 sent 15x2x1^4 and 45x2^2x1^2 both through x1 -> x2, x2 -> x6 (whole permutations
    (1,5,2,3,0,4) and (1,5,0,4,2,3)); the checker flags that assignment, the search avoids it."""
    b6 = bell_polynomial(6)
    old = [(3, 2, 0, 4, 1, 5), (1, 5, 2, 3, 0, 4), (1, 5, 0, 4, 2, 3), (5, 0, 4, 2, 1, 3), (0, 4, 5, 1, 3, 2),
           (1, 2, 5, 4, 0, 3), (2, 1, 0, 5, 4, 3), (4, 3, 5, 2, 0, 1), (2, 5, 1, 0, 3, 4), (5, 3, 4, 0, 2, 1),
           (5, 3, 0, 2, 4, 1)]  # fmt: skip
    assert [str(b6.terms[i]) for i in (1, 2)] == ["15x2x1^4", "45x2^2x1^2"]
    v = check_scrambled(b6, (apply_permutations(b6, old), old))
    assert rules(v) == {ScrambleRule.DISTINCT_PERMUTATIONS} and v[0].terms == (1, 2)
    assert "x1 -> x2, x2 -> x6" in str(v[0])
    res = scramble(b6, seed=36)
    assert check_scrambled(b6, res) == []
    assert list(res.permutations[:2]) == old[:2]  # the search differs only where it must
    actions = [relabelling(m, s) for m, s in zip(b6.terms, res.permutations, strict=True)]
    assert len(set(actions)) == len(actions)
    for seed in range(300):  # no seed repeats a relabelling any more
        r = scramble(b6, seed=seed)
        acts = [relabelling(m, s) for m, s in zip(b6.terms, r.permutations, strict=True)]
        assert len(set(acts)) == len(acts), seed


def test_check_rejects_kept_variable():
    p = Polynomial(3, [(1, (1, 2, 0)), (1, (0, 0, 1)), (1, (1, 0, 0))])
    perms = perms_for(p, {"x2^2x1": (0, 2, 1), "x3": (2, 0, 1), "x1": (2, 1, 0)})
    v = check_scrambled(p, (apply_permutations(p, perms), perms))
    assert rules(v) == {ScrambleRule.EVERY_VARIABLE_REPLACED}
    assert "every variable replaced" in str(v[0]) and "keeps x1" in str(v[0])
    assert "x2^2x1" in str(v[0])


def test_check_rejects_unchanged_monomial_spec_example():
    # The spec's example: x1x2x3 permuted within {1, 2, 3} moves every variable, stays equal.
    p = Polynomial(4, [(60, (1, 1, 1, 0)), (1, (0, 0, 0, 1)), (1, (1, 0, 0, 0))])
    perms = perms_for(p, {"60x3x2x1": (1, 2, 0, 3), "x4": (0, 3, 2, 1), "x1": (3, 1, 2, 0)})
    v = check_scrambled(p, (apply_permutations(p, perms), perms))
    assert rules(v) == {ScrambleRule.MONOMIAL_CHANGED}
    assert "monomial changed" in str(v[0]) and "60x3x2x1" in str(v[0])
    # Same within B6: replace the valid sigma of 60x3x2x1 by the 3-cycle (1 2 3).
    b6 = bell_polynomial(6)
    perms = list(scramble(b6, seed=0).permutations)
    k = [str(m) for m in b6.terms].index("60x3x2x1")
    perms[k] = (1, 2, 0, 3, 4, 5)
    v = check_scrambled(b6, (apply_permutations(b6, perms), perms))
    assert ScrambleRule.MONOMIAL_CHANGED in rules(v)
    assert any("60x3x2x1" in str(x) for x in v if x.rule is ScrambleRule.MONOMIAL_CHANGED)


def test_check_rejects_commuting_duplicates_spec_warning():
    # The spec's warning: 15x4x2 and 6x5x1 must not both become the same x_a x_b.
    b6 = bell_polynomial(6)
    perms = list(scramble(b6, seed=0).permutations)  # 15x4x2 -> 15x3x1, 6x5x1 -> 6x6x2
    texts = [str(m) for m in b6.terms]
    perms[texts.index("6x5x1")] = (2, 1, 3, 5, 0, 4)  # x1 -> x3, x5 -> x1: 6x3x1
    v = check_scrambled(b6, (apply_permutations(b6, perms), perms))
    assert rules(v) == {ScrambleRule.DISTINCT_MONOMIALS}
    assert "distinct monomials" in str(v[0])
    assert "15x4x2 -> 15x3x1" in str(v[0]) and "6x5x1 -> 6x3x1" in str(v[0])
    assert apply_permutations(b6, perms).n_terms == 10  # they merged into 21x3x1


def test_check_rejects_missing_variable():
    p = Polynomial(3, [(1, (1, 0, 0)), (1, (0, 1, 0))])
    perms = perms_for(p, {"x1": (1, 0, 2), "x2": (2, 0, 1)})
    v = check_scrambled(p, (apply_permutations(p, perms), perms))
    assert rules(v) == {ScrambleRule.ALL_VARIABLES}
    assert "all variables" in str(v[0]) and "x3" in str(v[0])


def test_check_rejects_inconsistent_results():
    b6 = bell_polynomial(6)
    res = scramble(b6, seed=0)
    v = check_scrambled(b6, (b6, res.permutations))
    assert rules(v) == {ScrambleRule.CONSISTENT} and "consistent" in str(v[0])
    v = check_scrambled(b6, (res.scrambled, res.permutations[:-1]))
    assert rules(v) == {ScrambleRule.CONSISTENT} and "expected 11 permutations" in str(v[0])
    other = ScrambleResult(bell_polynomial(5), res.scrambled, res.permutations)
    assert ScrambleRule.CONSISTENT in rules(check_scrambled(b6, other))
    with pytest.raises(ParameterError, match="'scrambled' parameter of check_scrambled"):
        check_scrambled(b6, res.scrambled)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 9), st.tuples(*[st.integers(0, 2)] * 4)), min_size=1, max_size=7),
    st.integers(0, 2**32),
)
def test_scramble_returns_valid_or_refuses(terms, seed):
    poly = Polynomial(4, terms)
    try:
        res = scramble(poly, seed=seed)
    except ParameterError as err:
        assert "scramble" in str(err)
    else:
        assert check_scrambled(poly, res) == []
