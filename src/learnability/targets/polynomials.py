"""Exact polynomials with integer coefficients: the complete Bell polynomial and its scrambled twin.

Challenge 2, part B compares a network trained on the hierarchical polynomial ``B6`` (the sixth
complete Bell polynomial) with the same network trained on a *scrambled* counterpart whose
monomials keep their coefficients and degrees but lose the hierarchical structure. This module
holds everything about those targets that can be exact:

* :class:`Monomial` and :class:`Polynomial` -- immutable, hashable, canonically ordered, equal as
  polynomials; evaluated on ``(N, n)`` torch tensors or numpy arrays (float32 / float64) to
  ``(N, 1)``; printed as text (``15x2x1^4``) and LaTeX.
* :func:`monomial_exponents` / :func:`monomial_features` -- the monomial feature matrix used by a
  least-squares polynomial baseline.
* :func:`bell_polynomial` -- ``B_n`` from its recurrence, in exact integer arithmetic.
* :func:`scramble` / :func:`check_scrambled` -- the spec's non-hierarchical counterpart and the
  rules it must satisfy.

Conventions:
    * In Python, variables are indexed from 0 (exponent vectors, :attr:`Polynomial.variables`,
      permutations); in text and LaTeX they are named from 1 like in the spec: index ``j`` prints
      as ``x{j+1}``. Inside a monomial the variables print from the highest index down
      (``60x3x2x1``), as in the spec.
    * Canonical order of the monomials of a polynomial: degree-graded reverse lexicographic order
      (grevlex, ``x1 > x2 > ... > xn``), largest first -- sympy's ``order='grevlex'``. For ``B6``
      this is the spec's order except that ``45x2^2x1^2`` comes before ``20x3x1^3`` (the spec's
      listing, taken from the literature, follows no single monomial order).
    * A permutation ``sigma`` of the variables is a tuple of length ``n`` with ``sigma[j]`` the
      index that variable ``j`` is sent to. Applied to a monomial, ``x_j -> x_sigma(j)`` with the
      exponents carried along. Printed in 1-based cycle notation, e.g. ``(1 3 2)(4 6)``.

References:
    E. T. Bell, "Exponential polynomials", Annals of Mathematics 35(2):258-277, 1934 (complete
    Bell polynomials and the recurrence used here).
    D. Cox, J. Little and D. O'Shea, *Ideals, Varieties, and Algorithms*, ch. 2.2 (grevlex order).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import operator
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import torch

from learnability._validation import ParameterError, check_in_range, check_matrix

__all__ = [
    "Monomial",
    "Polynomial",
    "RuleViolation",
    "ScrambleResult",
    "ScrambleRule",
    "apply_permutations",
    "bell_polynomial",
    "check_scrambled",
    "format_permutation",
    "monomial_exponents",
    "monomial_features",
    "relabelling",
    "scramble",
]

Exponents = tuple[int, ...]
Permutation = tuple[int, ...]

# Evaluation works in these dtypes only: integer tensors would overflow silently on high powers,
# and half precision spaces its values 2 apart near B6(2, ..., 2) = 2430, the largest value of B6
# on the spec's domain [0, 2]^6.
_FLOAT_DTYPES_TORCH = (torch.float32, torch.float64)
_FLOAT_DTYPES_NUMPY = (np.dtype(np.float32), np.dtype(np.float64))

# scramble(): below this many variables every permutation is enumerated (7! = 5040 per monomial),
# so that a search that ends without a result proves that no valid scrambling exists. Above it,
# candidates are drawn pseudo-randomly and a failed search only means "not found".
EXHAUSTIVE_MAX_VARIABLES = 7
# scramble(): with more variables, at most this many candidate permutations per monomial.
SAMPLED_CANDIDATES = 4096
# scramble(): default bound on the number of candidate permutations examined by the search.
# B6 needs about a dozen (one per monomial, rarely a retry); the bound only stops hopeless searches.
DEFAULT_MAX_NODES = 200_000


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _as_int(value: Any, name: str, owner: str, *, low: int | None = None) -> int:
    """An exact int (Python or numpy integer, not bool), optionally >= low; else ParameterError."""
    allowed = "an int" if low is None else f"an int >= {low}"
    if isinstance(value, bool):
        raise ParameterError(name, owner, allowed, value)
    try:
        out = operator.index(value)
    except TypeError:
        raise ParameterError(name, owner, allowed, value) from None
    if low is not None and out < low:
        raise ParameterError(name, owner, allowed, value)
    return out


def _var(j: int) -> str:
    return f"x{j + 1}"


def _grevlex_key(exponents: Exponents) -> tuple[int, Exponents]:
    """Sort key putting the grevlex-largest monomial first (ascending sort)."""
    # Higher degree first; among equal degrees the larger monomial has the *smaller* exponent in
    # the last variable where the two differ, i.e. the reversed exponent vector sorts ascending.
    return (-sum(exponents), exponents[::-1])


def format_permutation(sigma: Sequence[int]) -> str:
    """1-based cycle notation of a permutation, fixed points omitted; ``()`` for the identity.

    Example: ``(1, 2, 0, 3)`` (0 -> 1 -> 2 -> 0) prints as ``(1 2 3)``.
    """
    seen: set[int] = set()
    cycles = []
    for start in range(len(sigma)):
        if start in seen or sigma[start] == start:
            continue
        cycle, j = [], start
        while j not in seen:
            seen.add(j)
            cycle.append(j + 1)
            j = sigma[j]
        cycles.append("(" + " ".join(map(str, cycle)) + ")")
    return "".join(cycles) or "()"


def _is_permutation(sigma: Any, n: int) -> bool:
    try:
        values = [operator.index(v) for v in sigma]
    except TypeError:
        return False
    return len(values) == n and sorted(values) == list(range(n))


# --------------------------------------------------------------------------------------------
# Monomials and polynomials
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Monomial:
    """``coefficient * prod_j x_j ** exponents[j]`` with an integer coefficient.

    Attributes:
        coefficient: the integer coefficient (may be 0; a :class:`Polynomial` drops such terms).
        exponents: non-negative integer exponent of each of the ``n`` variables (0-based).
    """

    coefficient: int
    exponents: Exponents

    def __post_init__(self) -> None:
        coef = _as_int(self.coefficient, "coefficient", "Monomial")
        if isinstance(self.exponents, str | bytes) or not isinstance(self.exponents, Iterable):
            raise ParameterError("exponents", "Monomial", "a sequence of non-negative ints", self.exponents)
        exps = tuple(_as_int(e, "exponents", "Monomial", low=0) for e in self.exponents)
        if not exps:
            raise ParameterError("exponents", "Monomial", "a non-empty sequence of non-negative ints", self.exponents)
        object.__setattr__(self, "coefficient", coef)
        object.__setattr__(self, "exponents", exps)

    @property
    def n_vars(self) -> int:
        """Number of variables ``n`` (length of the exponent vector)."""
        return len(self.exponents)

    @property
    def degree(self) -> int:
        """Total degree ``sum_j exponents[j]``."""
        return sum(self.exponents)

    @property
    def variables(self) -> tuple[int, ...]:
        """0-based indices of the variables that appear (exponent > 0), ascending."""
        return tuple(j for j, e in enumerate(self.exponents) if e > 0)

    def permuted(self, sigma: Sequence[int]) -> Monomial:
        """The monomial with ``x_j -> x_sigma(j)``, exponents and coefficient carried along.

        Raises:
            ParameterError: if ``sigma`` is not a permutation of ``range(n)``.
        """
        if not _is_permutation(sigma, self.n_vars):
            raise ParameterError("sigma", "Monomial.permuted", f"a permutation of range({self.n_vars})", sigma)
        new = [0] * self.n_vars
        for j, e in enumerate(self.exponents):
            new[operator.index(sigma[j])] = e
        return Monomial(self.coefficient, tuple(new))

    def power_text(self) -> str:
        """The power product without coefficient, e.g. ``x2x1^4``; ``1`` for a constant."""
        parts = [_var(j) + (f"^{e}" if e > 1 else "") for j, e in reversed(list(enumerate(self.exponents))) if e > 0]
        return "".join(parts) or "1"

    def to_text(self) -> str:
        """Plain text, e.g. ``15x2x1^4``, ``-x6``, ``3``."""
        if self.degree == 0:
            return str(self.coefficient)
        prefix = {1: "", -1: "-"}.get(self.coefficient, str(self.coefficient))
        return prefix + self.power_text()

    def to_latex(self) -> str:
        """LaTeX, e.g. ``15 x_{2} x_{1}^{4}``."""
        if self.degree == 0:
            return str(self.coefficient)
        parts = [
            f"x_{{{j + 1}}}" + (f"^{{{e}}}" if e > 1 else "")
            for j, e in reversed(list(enumerate(self.exponents)))
            if e > 0
        ]
        prefix = {1: "", -1: "-"}.get(self.coefficient, f"{self.coefficient} ")
        return prefix + " ".join(parts)

    def __str__(self) -> str:
        return self.to_text()


TermLike = Monomial | tuple[int, Sequence[int]]


@dataclass(frozen=True, repr=False)
class Polynomial:
    """An exact polynomial in ``n_vars`` variables with integer coefficients.

    Construction accepts any iterable of :class:`Monomial` or ``(coefficient, exponents)`` pairs;
    like terms are combined, zero terms dropped and the rest stored in canonical (grevlex) order,
    so two polynomials compare and hash equal exactly when they are the same polynomial in the
    same number of variables. ``x1`` in 2 variables and ``x1`` in 3 variables differ: they are
    functions of ``(N, 2)`` and ``(N, 3)`` inputs.

    Evaluation: ``poly(x)`` with ``x: (N, n)`` float32/float64 torch tensor or numpy array returns
    ``(N, 1)`` of the same type and dtype.

    Example:
        >>> p = Polynomial(2, [(3, (1, 1)), (1, (0, 2)), (-1, (1, 1))])
        >>> str(p)
        '2x2x1 + x2^2'

    Attributes:
        n_vars: number of variables ``n >= 1``.
        terms: the monomials, canonical order, non-zero coefficients, distinct exponent vectors.
    """

    n_vars: int
    terms: tuple[Monomial, ...] = field(default=())

    def __post_init__(self) -> None:
        n = _as_int(self.n_vars, "n_vars", "Polynomial", low=1)
        if isinstance(self.terms, Monomial) or not isinstance(self.terms, Iterable):
            raise ParameterError(
                "terms",
                "Polynomial",
                "an iterable of Monomial or (coefficient, exponents)",
                self.terms,
            )
        combined: dict[Exponents, int] = defaultdict(int)
        for term in self.terms:
            mono = term if isinstance(term, Monomial) else _monomial_from_pair(term)
            if mono.n_vars != n:
                raise ParameterError("terms", "Polynomial", f"monomials with exactly {n} exponents", term)
            combined[mono.exponents] += mono.coefficient
        monos = [Monomial(c, e) for e, c in combined.items() if c != 0]
        monos.sort(key=lambda m: _grevlex_key(m.exponents))
        object.__setattr__(self, "n_vars", n)
        object.__setattr__(self, "terms", tuple(monos))

    # ---- constructors ------------------------------------------------------------------------

    @classmethod
    def variable(cls, j: int, n_vars: int) -> Polynomial:
        """The polynomial ``x_{j+1}`` (0-based index ``j``) in ``n_vars`` variables."""
        n = _as_int(n_vars, "n_vars", "Polynomial.variable", low=1)
        j = _as_int(j, "j", "Polynomial.variable", low=0)
        if j >= n:
            raise ParameterError("j", "Polynomial.variable", f"an int in the range [0, {n})", j)
        return cls(n, [Monomial(1, tuple(int(i == j) for i in range(n)))])

    @classmethod
    def constant(cls, c: int, n_vars: int) -> Polynomial:
        """The constant polynomial ``c`` in ``n_vars`` variables."""
        n = _as_int(n_vars, "n_vars", "Polynomial.constant", low=1)
        return cls(n, [Monomial(_as_int(c, "c", "Polynomial.constant"), (0,) * n)])

    # ---- properties --------------------------------------------------------------------------

    @property
    def n_terms(self) -> int:
        """Number of monomials with non-zero coefficient."""
        return len(self.terms)

    @property
    def coefficients(self) -> tuple[int, ...]:
        """Coefficients in canonical order."""
        return tuple(m.coefficient for m in self.terms)

    @property
    def exponents(self) -> tuple[Exponents, ...]:
        """Exponent vectors in canonical order, ``T`` tuples of length ``n``."""
        return tuple(m.exponents for m in self.terms)

    @property
    def degree(self) -> int:
        """Total degree (0 for constants and, as in numpy.polynomial, for the zero polynomial)."""
        return max((m.degree for m in self.terms), default=0)

    @property
    def variables(self) -> tuple[int, ...]:
        """0-based indices of the variables the polynomial depends on, ascending."""
        return tuple(sorted({j for m in self.terms for j in m.variables}))

    @property
    def depends_on_all(self) -> bool:
        """Whether every one of the ``n_vars`` variables appears."""
        return len(self.variables) == self.n_vars

    # ---- arithmetic (exact) ------------------------------------------------------------------

    def _coerce(self, other: Any, op: str) -> Polynomial | None:
        if isinstance(other, Polynomial):
            if other.n_vars != self.n_vars:
                raise ParameterError(
                    "other",
                    f"Polynomial.{op}",
                    f"a polynomial in {self.n_vars} variables",
                    f"one in {other.n_vars}",
                )
            return other
        if isinstance(other, int | np.integer) and not isinstance(other, bool):
            return Polynomial.constant(int(other), self.n_vars)
        return None

    def __add__(self, other: Any) -> Polynomial:
        o = self._coerce(other, "__add__")
        if o is None:
            return NotImplemented
        return Polynomial(self.n_vars, self.terms + o.terms)

    __radd__ = __add__  # so that sum(polys) works (0 + p)

    def __neg__(self) -> Polynomial:
        return Polynomial(self.n_vars, [Monomial(-m.coefficient, m.exponents) for m in self.terms])

    def __sub__(self, other: Any) -> Polynomial:
        o = self._coerce(other, "__sub__")
        if o is None:
            return NotImplemented
        return self + (-o)

    def __rsub__(self, other: Any) -> Polynomial:
        return (-self) + other

    def __mul__(self, other: Any) -> Polynomial:
        o = self._coerce(other, "__mul__")
        if o is None:
            return NotImplemented
        return Polynomial(
            self.n_vars,
            [
                Monomial(
                    a.coefficient * b.coefficient, tuple(x + y for x, y in zip(a.exponents, b.exponents, strict=True))
                )
                for a in self.terms
                for b in o.terms
            ],
        )

    __rmul__ = __mul__

    # ---- evaluation --------------------------------------------------------------------------

    def monomial_features(self, x: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """The values of this polynomial's monomials (coefficients excluded) at ``x``.

        Args:
            x: ``(N, n)`` float32/float64 tensor or array.

        Returns:
            ``(N, T)`` of the same type and dtype, column ``t`` = ``prod_j x_j ** exponents[t][j]``
            in canonical order, so that ``poly(x) == features @ coefficients``.
        """
        exps = np.array(self.exponents, dtype=np.int64).reshape(self.n_terms, self.n_vars)
        return monomial_features(x, exps)

    def __call__(self, x: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """Evaluate at ``x: (N, n)`` (float32/float64 torch tensor or numpy array) -> ``(N, 1)``.

        Raises:
            ParameterError: if ``x`` is not 2-D with ``n`` columns or has another dtype.
        """
        owner = "Polynomial.__call__"
        xt, back = _to_torch(x, "x", owner)
        # (n,) is refused like (N, n + 1): no silent broadcasting.
        check_matrix(xt, "x", owner, ndim=2, shape=(None, self.n_vars))
        exps = torch.tensor(self.exponents, dtype=torch.long, device=xt.device)
        feats = _features(xt, exps.reshape(self.n_terms, self.n_vars))  # (N, T)
        coefs = torch.tensor(self.coefficients, dtype=xt.dtype, device=xt.device)
        coefs = coefs.reshape(self.n_terms, 1)
        return back(feats @ coefs)  # (N, 1)

    # ---- printing ----------------------------------------------------------------------------

    def to_text(self) -> str:
        """Plain text in canonical order, e.g. ``x1^6 + 15x2x1^4 + ... + x6``; ``0`` if zero."""
        return _join_signed([m.to_text() for m in self.terms])

    def to_latex(self) -> str:
        """LaTeX, e.g. ``x_{1}^{6} + 15 x_{2} x_{1}^{4} + \\dots``; ``0`` if zero."""
        return _join_signed([m.to_latex() for m in self.terms])

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"Polynomial(n_vars={self.n_vars}, {self.to_text()!r})"


def _monomial_from_pair(term: Any) -> Monomial:
    try:
        coef, exps = term
    except (TypeError, ValueError):
        raise ParameterError(
            "terms", "Polynomial", "an iterable of Monomial or (coefficient, exponents)", term
        ) from None
    return Monomial(coef, exps)


def _join_signed(parts: list[str]) -> str:
    if not parts:
        return "0"
    out = parts[0]
    for p in parts[1:]:
        out += f" - {p[1:]}" if p.startswith("-") else f" + {p}"
    return out


# --------------------------------------------------------------------------------------------
# Monomial features (least-squares baselines) and evaluation
# --------------------------------------------------------------------------------------------


def _to_torch(x: Any, name: str, owner: str) -> tuple[torch.Tensor, Any]:
    """A float32/float64 torch view of ``x`` and a function mapping results back to x's type."""
    if isinstance(x, torch.Tensor):
        if x.dtype not in _FLOAT_DTYPES_TORCH:
            raise ParameterError(name, owner, "a float32 or float64 tensor", f"dtype {x.dtype}")
        return x, lambda t: t
    if isinstance(x, np.ndarray):
        if x.dtype not in _FLOAT_DTYPES_NUMPY:
            raise ParameterError(name, owner, "a float32 or float64 array", f"dtype {x.dtype}")
        # torch.from_numpy warns on read-only arrays; a copy is cheap next to the evaluation.
        arr = x if x.flags.writeable else x.copy()
        return torch.from_numpy(arr), lambda t: t.detach().numpy()
    raise ParameterError(name, owner, "a torch.Tensor or numpy.ndarray", type(x).__name__)


def _features(x: torch.Tensor, exps: torch.Tensor) -> torch.Tensor:
    """``x: (N, n)``, ``exps: (T, n)`` long -> ``(N, T)`` monomial values in x's dtype."""
    n_rows, n = x.shape
    max_deg = int(exps.max()) if exps.numel() else 0
    # Power table by repeated multiplication: powers[:, j, k] = x_j ** k.  # (N, n, D + 1)
    powers = torch.cat(
        [
            torch.ones(n_rows, n, 1, dtype=x.dtype, device=x.device),
            torch.cumprod(x.unsqueeze(-1).expand(n_rows, n, max_deg), dim=-1),
        ],
        dim=-1,
    )
    exps = exps.to(x.device)
    feats = torch.ones(n_rows, exps.shape[0], dtype=x.dtype, device=x.device)  # (N, T)
    for j in range(n):
        if exps.shape[0] and bool((exps[:, j] > 0).any()):
            feats = feats * powers[:, j, exps[:, j]]  # (N, T)
    return feats


def monomial_exponents(n: int, max_degree: int, *, min_degree: int = 0) -> tuple[Exponents, ...]:
    """All exponent vectors of ``n`` variables with ``min_degree <= total degree <= max_degree``.

    Ordered by ascending total degree, and within a degree in canonical (grevlex) order: for
    ``n = 2, max_degree = 2``: ``1, x1, x2, x1^2, x2x1, x2^2``. There are
    ``C(n + max_degree, n) - C(n + min_degree - 1, n)`` of them (924 for ``n = 6``, degree <= 6).

    Args:
        n: number of variables, ``>= 1``.
        max_degree: largest total degree, ``>= 0``.
        min_degree: smallest total degree, in ``[0, max_degree]`` (``1`` drops the constant).

    Returns:
        Tuple of ``T`` exponent tuples of length ``n``.
    """
    owner = "monomial_exponents"
    n = check_in_range(n, "n", owner, low=1, kind=int)
    max_degree = check_in_range(max_degree, "max_degree", owner, low=0, kind=int)
    min_degree = check_in_range(min_degree, "min_degree", owner, low=0, high=max_degree, kind=int)
    out: list[Exponents] = []
    for deg in range(min_degree, max_degree + 1):
        level = []
        for combo in itertools.combinations_with_replacement(range(n), deg):
            e = [0] * n
            for j in combo:
                e[j] += 1
            level.append(tuple(e))
        out.extend(sorted(level, key=_grevlex_key))
    return tuple(out)


def monomial_features(
    x: torch.Tensor | np.ndarray, exponents: Sequence[Sequence[int]] | np.ndarray | torch.Tensor
) -> torch.Tensor | np.ndarray:
    """Monomial feature matrix ``F[i, t] = prod_j x[i, j] ** exponents[t][j]``.

    With ``exponents = monomial_exponents(6, 6)`` this is the design matrix of the degree-6
    least-squares "ceiling" baseline. Its size is ``N * T`` (``T = 924`` there: 0.74 GB in
    float64 for ``N = 1e5``); build it in row chunks and accumulate ``F^T F`` for larger ``N``.

    Args:
        x: ``(N, n)`` float32/float64 torch tensor or numpy array.
        exponents: ``(T, n)`` non-negative integer exponents (sequence of tuples or array).

    Returns:
        ``(N, T)`` of the same type and dtype as ``x``.

    Raises:
        ParameterError: on a wrong shape or dtype of ``x``, or exponents that are not a
            ``(T, n)`` array of non-negative integers.
    """
    owner = "monomial_features"
    xt, back = _to_torch(x, "x", owner)
    check_matrix(xt, "x", owner, ndim=2)
    n = xt.shape[1]
    exps = _exponent_matrix(exponents, n, owner)
    return back(_features(xt, exps))


def _exponent_matrix(exponents: Any, n: int, owner: str) -> torch.Tensor:
    allowed = f"a (T, {n}) array of non-negative integers"
    if isinstance(exponents, torch.Tensor):
        arr = exponents.detach().cpu().numpy()
    else:
        try:
            arr = np.asarray(exponents)
        except ValueError:  # ragged sequences
            raise ParameterError("exponents", owner, allowed, exponents) from None
    if arr.size == 0:
        arr = arr.reshape(0, n)
    if arr.ndim != 2 or arr.shape[1] != n or not np.issubdtype(arr.dtype, np.integer):
        raise ParameterError("exponents", owner, allowed, f"array of shape {arr.shape}, dtype {arr.dtype}")
    if (arr < 0).any():
        raise ParameterError("exponents", owner, allowed, "negative exponents")
    return torch.as_tensor(arr, dtype=torch.long)


# --------------------------------------------------------------------------------------------
# Complete Bell polynomials
# --------------------------------------------------------------------------------------------


def bell_polynomial(n: int) -> Polynomial:
    """The complete exponential Bell polynomial ``B_n(x_1, ..., x_n)``, exactly.

    Computed with the recurrence ``B_{m+1} = sum_{i=0}^{m} C(m, i) B_{m-i} x_{i+1}``, ``B_0 = 1``,
    in exact integer arithmetic. ``B_n`` has one monomial per integer partition of ``n``
    (``p(6) = 11``) and ``B_n(1, ..., 1)`` is the Bell number (203 for ``n = 6``).

    Args:
        n: order, ``>= 1``; the result is a polynomial in ``n`` variables.

    Returns:
        ``B_n`` as a :class:`Polynomial` with ``n_vars = n``. ``str(bell_polynomial(6))`` is
        ``x1^6 + 15x2x1^4 + 45x2^2x1^2 + 20x3x1^3 + 15x2^3 + 60x3x2x1 + 15x4x1^2 + 10x3^2 +
        15x4x2 + 6x5x1 + x6``.

    Raises:
        ParameterError: if ``n`` is not an int ``>= 1``.
    """
    n = check_in_range(n, "n", "bell_polynomial", low=1, kind=int)
    x = [Polynomial.variable(j, n) for j in range(n)]
    bell = [Polynomial.constant(1, n)]  # B_0
    for m in range(n):
        bell.append(sum(math.comb(m, i) * bell[m - i] * x[i] for i in range(m + 1)))
    return bell[n]


# --------------------------------------------------------------------------------------------
# Scrambling
# --------------------------------------------------------------------------------------------


class ScrambleRule(StrEnum):
    """The rules a scrambled polynomial must satisfy (Challenge 2, part B, step 1)."""

    PERMUTATION = "permutation"  # every sigma_i is a permutation of the n variables
    # sigma_i != sigma_k for i != k, as whole permutations AND as relabellings of the monomials'
    # own variables: two monomials with the same variables must not map them the same way
    # (permutations that differ only on variables a monomial does not contain act on it identically)
    DISTINCT_PERMUTATIONS = "distinct permutations"
    EVERY_VARIABLE_REPLACED = "every variable replaced"  # sigma_i(j) != j for x_j in monomial i
    MONOMIAL_CHANGED = "monomial changed"  # no monomial is mapped to itself
    DISTINCT_MONOMIALS = "distinct monomials"  # no two results equal up to commutativity
    ALL_VARIABLES = "all variables"  # the result depends on all n variables
    CONSISTENT = "consistent"  # the result is the original with the permutations applied


@dataclass(frozen=True)
class RuleViolation:
    """One broken rule.

    Attributes:
        rule: which rule.
        terms: 0-based indices of the monomials involved (in ``original.terms``); empty for rules
            about the whole polynomial.
        reason: a readable explanation naming the monomials.
    """

    rule: ScrambleRule
    terms: tuple[int, ...]
    reason: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.reason}"


@dataclass(frozen=True)
class ScrambleResult:
    """A scrambled polynomial with its provenance.

    Attributes:
        original: the polynomial that was scrambled.
        scrambled: ``sum_i original.terms[i].permuted(permutations[i])``.
        permutations: ``sigma_i`` for each monomial of ``original`` (canonical order), 0-based.
        seed: the seed :func:`scramble` used, ``None`` for a hand-made result.
    """

    original: Polynomial
    scrambled: Polynomial
    permutations: tuple[Permutation, ...]
    seed: int | None = None

    def __post_init__(self) -> None:
        perms = tuple(tuple(int(v) for v in p) for p in self.permutations)
        object.__setattr__(self, "permutations", perms)

    @property
    def scrambled_terms(self) -> tuple[Monomial, ...]:
        """``original.terms[i]`` with ``sigma_i`` applied, aligned with ``original.terms``."""
        return tuple(m.permuted(s) for m, s in zip(self.original.terms, self.permutations, strict=True))

    def to_text(self, name: str = "P") -> str:
        """Both polynomials and the per-monomial permutations, e.g. for a report."""
        lines = [f"{name} = {self.original}", f"{name}~ = {self.scrambled}"]
        head = "permutations sigma_i (1-based cycles), x_j -> x_sigma_i(j)"
        lines.append(head + (f", seed {self.seed}:" if self.seed is not None else ":"))
        new = self.scrambled_terms
        w_old = max((len(str(m)) for m in self.original.terms), default=0)
        w_sig = max((len(format_permutation(s)) for s in self.permutations), default=0)
        for m, s, r in zip(self.original.terms, self.permutations, new, strict=True):
            lines.append(f"  {m!s:<{w_old}}  {format_permutation(s):<{w_sig}}  ->  {r}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record: text and LaTeX of both polynomials, 0-based permutations, seed."""
        return {
            "original": self.original.to_text(),
            "scrambled": self.scrambled.to_text(),
            "original_latex": self.original.to_latex(),
            "scrambled_latex": self.scrambled.to_latex(),
            "permutations": [list(p) for p in self.permutations],
            "seed": self.seed,
        }

    def __str__(self) -> str:
        return self.to_text()


def apply_permutations(poly: Polynomial, permutations: Sequence[Sequence[int]]) -> Polynomial:
    """``sum_i poly.terms[i].permuted(permutations[i])`` (one permutation per monomial).

    Raises:
        ParameterError: if the number of permutations differs from ``poly.n_terms`` or one is not
            a permutation of ``range(poly.n_vars)``.
    """
    if len(permutations) != poly.n_terms:
        raise ParameterError(
            "permutations",
            "apply_permutations",
            f"a sequence of {poly.n_terms} permutations (one per monomial)",
            f"{len(permutations)} permutations",
        )
    return Polynomial(poly.n_vars, [m.permuted(s) for m, s in zip(poly.terms, permutations, strict=True)])


def relabelling(mono: Monomial, sigma: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """The action of ``sigma`` on ``mono``: ``((j, sigma(j)) for x_j in mono)``, 0-based.

    Two monomials "share the same permutation" in the sense that matters (Rule 2 of the spec)
    when their relabellings are equal: the same variables, sent to the same places. Permutations
    that differ only on variables the monomial does not contain have the same relabelling.
    """
    return tuple((j, operator.index(sigma[j])) for j in mono.variables)


def _describe(poly: Polynomial, i: int) -> str:
    return f"monomial {poly.terms[i]} (term {i + 1} of {poly.n_terms})"


def check_scrambled(
    original: Polynomial,
    scrambled: ScrambleResult | tuple[Polynomial, Sequence[Sequence[int]]],
) -> list[RuleViolation]:
    """Every rule of :class:`ScrambleRule` that ``scrambled`` breaks; empty when it is valid.

    Args:
        original: the polynomial before scrambling; its monomials are numbered in canonical order.
        scrambled: a :class:`ScrambleResult`, or a pair ``(scrambled_polynomial, permutations)``
            with one 0-based permutation per monomial of ``original``.

    Returns:
        The violations, grouped by rule, each naming the monomials involved.
        The "distinct monomials" rule compares the permuted monomials with each other regardless
        of coefficients (``15x4x2`` and ``6x5x1`` must not both become ``x_a x_b``), so a valid
        result has exactly as many monomials as the original.

    Raises:
        ParameterError: if the arguments have the wrong types.
    """
    owner = "check_scrambled"
    if not isinstance(original, Polynomial):
        raise ParameterError("original", owner, "a Polynomial", type(original).__name__)
    out: list[RuleViolation] = []
    if isinstance(scrambled, ScrambleResult):
        poly, perms = scrambled.scrambled, list(scrambled.permutations)
        if scrambled.original != original:
            out.append(
                RuleViolation(
                    ScrambleRule.CONSISTENT,
                    (),
                    (f"the result was built from {scrambled.original}, not from {original}"),
                )
            )
    elif isinstance(scrambled, tuple | list) and len(scrambled) == 2 and isinstance(scrambled[0], Polynomial):
        poly, perms = scrambled[0], list(scrambled[1])
    else:
        raise ParameterError(
            "scrambled", owner, "a ScrambleResult or a pair (Polynomial, permutations)", type(scrambled).__name__
        )
    n, n_terms = original.n_vars, original.n_terms
    if poly.n_vars != n:
        out.append(
            RuleViolation(
                ScrambleRule.CONSISTENT, (), (f"the scrambled polynomial has {poly.n_vars} variables, the original {n}")
            )
        )
        return out
    if len(perms) != n_terms:
        out.append(
            RuleViolation(
                ScrambleRule.CONSISTENT, (), (f"expected {n_terms} permutations (one per monomial), got {len(perms)}")
            )
        )
        return out

    valid: dict[int, Permutation] = {}
    for i, sigma in enumerate(perms):
        if _is_permutation(sigma, n):
            valid[i] = tuple(operator.index(v) for v in sigma)
        else:
            out.append(
                RuleViolation(
                    ScrambleRule.PERMUTATION,
                    (i,),
                    (
                        f"sigma_{i + 1} = {sigma!r} for {_describe(original, i)} is not a permutation "
                        f"of the {n} variables"
                    ),
                )
            )

    by_perm: dict[Permutation, list[int]] = defaultdict(list)
    for i, sigma in valid.items():
        by_perm[sigma].append(i)
    for sigma, idx in by_perm.items():
        if len(idx) > 1:
            names = ", ".join(str(original.terms[i]) for i in idx)
            out.append(
                RuleViolation(
                    ScrambleRule.DISTINCT_PERMUTATIONS,
                    tuple(idx),
                    (f"monomials {names} share the permutation {format_permutation(sigma)}"),
                )
            )

    by_relabelling: dict[tuple[tuple[int, int], ...], list[int]] = defaultdict(list)
    for i, sigma in valid.items():
        by_relabelling[relabelling(original.terms[i], sigma)].append(i)
    for action, idx in by_relabelling.items():
        if len(idx) > 1 and len({valid[i] for i in idx}) > 1:  # equal whole permutations: reported above
            names = ", ".join(str(original.terms[i]) for i in idx)
            moves = ", ".join(f"{_var(j)} -> {_var(k)}" for j, k in action)
            out.append(
                RuleViolation(
                    ScrambleRule.DISTINCT_PERMUTATIONS,
                    tuple(idx),
                    (
                        f"monomials {names} have permutations that differ only on variables they do not "
                        f"contain: both relabel {moves}"
                    ),
                )
            )

    new = {i: original.terms[i].permuted(sigma) for i, sigma in valid.items()}
    for i, sigma in valid.items():
        kept = [j for j in original.terms[i].variables if sigma[j] == j]
        if kept:
            out.append(
                RuleViolation(
                    ScrambleRule.EVERY_VARIABLE_REPLACED,
                    (i,),
                    (
                        f"{format_permutation(sigma)} keeps {', '.join(_var(j) for j in kept)} in place "
                        f"in {_describe(original, i)}"
                    ),
                )
            )
    for i in valid:
        if new[i].exponents == original.terms[i].exponents:
            out.append(
                RuleViolation(
                    ScrambleRule.MONOMIAL_CHANGED,
                    (i,),
                    (f"{format_permutation(valid[i])} maps {_describe(original, i)} to itself"),
                )
            )

    by_powers: dict[Exponents, list[int]] = defaultdict(list)
    for i, m in new.items():
        by_powers[m.exponents].append(i)
    for powers, idx in by_powers.items():
        if len(idx) > 1:
            pairs = ", ".join(f"{original.terms[i]} -> {new[i]}" for i in idx)
            out.append(
                RuleViolation(
                    ScrambleRule.DISTINCT_MONOMIALS,
                    tuple(idx),
                    (
                        f"{pairs}: the same monomial {Monomial(1, powers).power_text()} up to "
                        f"commutativity and coefficient"
                    ),
                )
            )

    missing = [j for j in range(n) if j not in poly.variables]
    if missing:
        out.append(
            RuleViolation(
                ScrambleRule.ALL_VARIABLES,
                (),
                (f"the scrambled polynomial {poly} does not depend on {', '.join(_var(j) for j in missing)}"),
            )
        )

    if len(valid) == n_terms:
        expected = Polynomial(n, list(new.values()))
        if expected != poly:
            out.append(
                RuleViolation(
                    ScrambleRule.CONSISTENT,
                    (),
                    (f"the scrambled polynomial {poly} is not the original with the permutations applied ({expected})"),
                )
            )
    return out


# SplitMix64 (G. L. Steele, D. Lea and C. H. Flood, "Fast splittable pseudorandom number
# generators", OOPSLA 2014): a tiny generator written out here so that the scrambling chosen by a
# seed never changes with the numpy or Python version -- it defines a study's target function.
_MASK64 = (1 << 64) - 1
_SPLITMIX_GAMMA = 0x9E3779B97F4A7C15
_SPLITMIX_MUL1 = 0xBF58476D1CE4E5B9
_SPLITMIX_MUL2 = 0x94D049BB133111EB


def _splitmix64(seed: int, stream: int) -> Iterator[int]:
    """Uniform 64-bit integers; the state starts at BLAKE2b(seed, stream) (independent streams)."""
    digest = hashlib.blake2b(f"{seed}/{stream}".encode(), digest_size=8).digest()
    state = int.from_bytes(digest, "little")
    while True:
        state = (state + _SPLITMIX_GAMMA) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * _SPLITMIX_MUL1) & _MASK64
        z = ((z ^ (z >> 27)) * _SPLITMIX_MUL2) & _MASK64
        yield z ^ (z >> 31)


def _lazy_shuffle(size: int, rng: Iterator[int]) -> Iterator[int]:
    """``range(size)`` in Fisher-Yates order, produced one element at a time (O(1) per element).

    The modulo bias of ``z % m`` is below ``m / 2**64``: irrelevant here, the order only has to be
    deterministic and well mixed.
    """
    swapped: dict[int, int] = {}  # sparse Fisher-Yates array: position -> value where moved
    for k in range(size):
        r = k + next(rng) % (size - k)
        value = swapped.get(r, r)
        swapped[r] = swapped.get(k, k)
        yield value


def _candidates(
    mono: Monomial, i: int, seed: int, perms: Sequence[Permutation] | None
) -> Iterator[tuple[Permutation, Exponents]]:
    """``(sigma, permuted exponents)`` for monomial ``i``, in seeded pseudo-random order, for the
    ``sigma`` that move every variable of ``mono`` and change it.

    ``perms``: all permutations (exhaustive search), or ``None`` for pseudo-random draws.
    """
    n, exps, support = mono.n_vars, mono.exponents, mono.variables
    rng = _splitmix64(seed, i)
    stream: Iterable[Permutation]
    if perms is not None:
        stream = (perms[r] for r in _lazy_shuffle(len(perms), rng))
    else:
        stream = (tuple(_lazy_shuffle(n, rng)) for _ in range(SAMPLED_CANDIDATES))
    for sigma in stream:
        if any(sigma[j] == j for j in support):
            continue
        new = [0] * n
        for j in support:
            new[sigma[j]] = exps[j]
        if tuple(new) != exps:
            yield sigma, tuple(new)


def scramble(poly: Polynomial, *, seed: int, max_nodes: int = DEFAULT_MAX_NODES) -> ScrambleResult:
    """The spec's non-hierarchical counterpart of ``poly``: each monomial permuted on its own.

    Monomial ``i`` (canonical order) gets a permutation ``sigma_i`` of the variables and becomes
    ``x_j -> x_sigma_i(j)``, coefficient and exponents carried along, such that every rule of
    :func:`check_scrambled` holds: the ``sigma_i`` are distinct (as permutations and as
    relabellings of their monomial's variables, :func:`relabelling`), each moves every variable of its
    monomial and changes the monomial, no two results are the same monomial, and the result
    depends on all ``n`` variables.

    Search (deterministic given ``seed``, independent of numpy/Python versions): a depth-first
    search over the monomials in canonical order. For monomial ``i`` the candidate permutations
    are visited in a pseudo-random order drawn from a SplitMix64 stream seeded with
    BLAKE2b(seed, i) -- a lazy Fisher-Yates shuffle of all ``n!`` permutations when ``n <= 7``,
    otherwise up to 4096 independently shuffled permutations -- skipping those
    that keep one of the monomial's variables in place, leave the monomial unchanged, repeat an
    earlier ``sigma``, an earlier relabelling or an earlier resulting monomial, or leave fewer
    variable slots than needed to cover all ``n`` variables. A dead end backtracks. The first
    complete assignment is returned; for ``B6`` that is essentially one independent draw per
    monomial.

    Args:
        poly: the polynomial to scramble (e.g. ``bell_polynomial(6)``).
        seed: non-negative int selecting the scrambling; same seed, same result.
        max_nodes: bound on the number of candidate permutations examined.

    Returns:
        A :class:`ScrambleResult` for which ``check_scrambled(poly, result) == []``.

    Raises:
        ParameterError: if ``poly`` admits no valid scrambling (one variable only, a constant
            term, too few variable slots to cover all variables, or an exhaustive search without
            result) or none was found within ``max_nodes``.
    """
    owner = "scramble"
    if not isinstance(poly, Polynomial):
        raise ParameterError("poly", owner, "a Polynomial", type(poly).__name__)
    seed = check_in_range(seed, "seed", owner, low=0, kind=int)
    max_nodes = check_in_range(max_nodes, "max_nodes", owner, low=1, kind=int)
    n, terms = poly.n_vars, poly.terms

    def impossible(reason: str) -> ParameterError:
        return ParameterError("poly", owner, f"a polynomial that admits a valid scrambling ({reason})", poly.to_text())

    if n == 1:
        raise impossible("with one variable the only permutation is the identity")
    if not terms:
        raise impossible("the zero polynomial depends on no variable")
    if any(m.degree == 0 for m in terms):
        raise impossible("a constant term has no variable to replace and stays unchanged")
    # slots[i]: variables that monomials i.. can still contribute to the coverage of all n.
    slots = [0] * (len(terms) + 1)
    for i in range(len(terms) - 1, -1, -1):
        slots[i] = slots[i + 1] + len(terms[i].variables)
    if slots[0] < n:
        raise impossible(f"its monomials have {slots[0]} variable occurrences, fewer than the {n} variables to cover")

    perms = list(itertools.permutations(range(n))) if n <= EXHAUSTIVE_MAX_VARIABLES else None

    def candidates(i: int) -> Iterator[tuple[Permutation, Exponents]]:
        return _candidates(terms[i], i, seed, perms)

    chosen: list[tuple[Permutation, Exponents]] = []
    used_perms: set[Permutation] = set()
    used_actions: set[tuple[tuple[int, int], ...]] = set()  # relabellings of the chosen monomials
    used_powers: set[Exponents] = set()
    cover = [0] * n  # cover[j]: chosen results containing x_j
    stack = [candidates(0)]
    nodes = 0
    while stack:
        i = len(stack) - 1
        for sigma, powers in stack[-1]:
            nodes += 1
            if nodes > max_nodes:
                raise ParameterError(
                    "max_nodes",
                    owner,
                    "large enough for the search to find a valid scrambling of " + poly.to_text(),
                    max_nodes,
                )
            action = relabelling(terms[i], sigma)
            if sigma in used_perms or powers in used_powers or action in used_actions:
                continue
            covered = sum(c > 0 for c in cover) + sum(1 for j, e in enumerate(powers) if e > 0 and cover[j] == 0)
            if covered + slots[i + 1] < n:
                continue
            break
        else:  # dead end: undo the previous choice and try its next candidate
            stack.pop()
            if chosen:
                sigma, powers = chosen.pop()
                used_perms.discard(sigma)
                used_powers.discard(powers)
                used_actions.discard(relabelling(terms[len(chosen)], sigma))
                for j, e in enumerate(powers):
                    cover[j] -= e > 0
            continue
        chosen.append((sigma, powers))
        used_perms.add(sigma)
        used_powers.add(powers)
        used_actions.add(relabelling(terms[i], sigma))
        for j, e in enumerate(powers):
            cover[j] += e > 0
        if len(chosen) == len(terms):
            perms = tuple(s for s, _ in chosen)
            return ScrambleResult(poly, apply_permutations(poly, perms), perms, seed)
        stack.append(candidates(i + 1))
    if n <= EXHAUSTIVE_MAX_VARIABLES:
        raise impossible("an exhaustive search found no assignment satisfying all rules")
    raise impossible(f"none found among {SAMPLED_CANDIDATES} sampled permutations per monomial")
