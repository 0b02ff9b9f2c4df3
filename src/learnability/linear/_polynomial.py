"""Polynomial feature matrices and polynomial least-squares / ridge fits (Tutorial 3).

A degree-``p`` fit solves a least-squares problem on the ``(N, p + 1)`` feature matrix of the
chosen basis, with :func:`learnability.linear.least_squares` (SVD, never an explicit inverse) or
:func:`learnability.linear.ridge` when ``alpha > 0``.

Conditioning: the monomial (Vandermonde) matrix of points in ``[0, 1]`` has a condition number
growing roughly like ``10^(0.7 p)`` (about ``1e11`` at ``p = 15``), so high-degree coefficients
carry few correct digits. Two remedies, both documented options:

* ``domain=(lo, hi)`` maps ``[lo, hi]`` affinely onto ``[-1, 1]`` before evaluating the basis
  (monomials on ``[-1, 1]`` are far better conditioned than on ``[0, 1]``);
* ``basis="chebyshev"`` or ``"legendre"`` with that domain: orthogonal polynomials on
  ``[-1, 1]``, whose feature matrix stays well conditioned at every degree used here.

The fitted function does not depend on the basis (it is the same least-squares polynomial), but
a ridge penalty ``alpha ||c||^2`` acts on the coefficients ``c`` *of the chosen basis*.
:attr:`PolynomialFit.coef` always reports the monomial coefficients in ``x``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.polynomial import Chebyshev, Legendre, Polynomial
from numpy.polynomial import chebyshev as _cheb
from numpy.polynomial import legendre as _leg
from numpy.polynomial import polynomial as _poly

from learnability._arrays import as_vector
from learnability._validation import ParameterError, check_choice, check_in_range
from learnability.linear._least_squares import least_squares, ridge

__all__ = ["POLYNOMIAL_BASES", "PolynomialFit", "fit_polynomial", "polynomial_features"]

#: Bases of :func:`polynomial_features`.
POLYNOMIAL_BASES: tuple[str, ...] = ("monomial", "chebyshev", "legendre")

_VANDER = {"monomial": _poly.polyvander, "chebyshev": _cheb.chebvander, "legendre": _leg.legvander}
_SERIES = {"monomial": Polynomial, "chebyshev": Chebyshev, "legendre": Legendre}


def _check_domain(domain: Any, owner: str) -> tuple[float, float] | None:
    if domain is None:
        return None
    try:
        lo, hi = (float(v) for v in domain)
    except (TypeError, ValueError):
        raise ParameterError("domain", owner, "None or a pair (lo, hi) with lo < hi", domain) from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ParameterError("domain", owner, "None or a pair (lo, hi) with lo < hi", domain)
    return lo, hi


def _to_window(x: np.ndarray, domain: tuple[float, float] | None) -> np.ndarray:
    """Affine map of ``domain`` onto ``[-1, 1]`` (identity when ``domain`` is None)."""
    if domain is None:
        return x
    lo, hi = domain
    return (2.0 * x - (lo + hi)) / (hi - lo)


def polynomial_features(
    x: Any,
    degree: int,
    *,
    basis: str = "monomial",
    domain: tuple[float, float] | None = None,
) -> np.ndarray:
    """Feature matrix ``[P_0(u), P_1(u), ..., P_degree(u)]`` of a batch of scalars.

    ``u = x`` when ``domain`` is None, else ``u = (2 x - lo - hi) / (hi - lo)`` (``[lo, hi]`` ->
    ``[-1, 1]``). Columns are in increasing degree (NumPy's ``polyvander`` order; Tutorial 3 and
    ``numpy.polyfit`` use decreasing order, i.e. ``features[:, ::-1]``).

    Args:
        x: ``(N,)`` inputs.
        degree: largest degree ``>= 0``.
        basis: ``"monomial"`` (``u^j``), ``"chebyshev"`` (``T_j(u)``) or ``"legendre"``
            (``P_j(u)``).
        domain: the interval mapped onto ``[-1, 1]``, or None for no mapping. Use the input
            range (e.g. ``(0, 1)``) for a well-conditioned matrix.

    Returns:
        ``(N, degree + 1)`` float64 feature matrix.

    Raises:
        ParameterError: bad shape, degree, basis or domain.
    """
    owner = "polynomial_features"
    xs = as_vector(x, "x", owner)
    degree = check_in_range(degree, "degree", owner, low=0, kind=int)
    check_choice(basis, "basis", owner, POLYNOMIAL_BASES)
    dom = _check_domain(domain, owner)
    return _VANDER[basis](_to_window(xs, dom), degree)


@dataclass(frozen=True, eq=False)
class PolynomialFit:
    """A fitted polynomial ``f(x) = sum_j basis_coef[j] P_j(u(x))``.

    Attributes:
        degree: the degree.
        basis: ``"monomial"``, ``"chebyshev"`` or ``"legendre"``.
        domain: the interval mapped onto ``[-1, 1]``, or None.
        alpha: the ridge penalty used (0 for plain least squares).
        basis_coef: ``(degree + 1,)`` coefficients in the chosen basis, increasing degree.
    """

    degree: int
    basis: str
    domain: tuple[float, float] | None
    alpha: float
    basis_coef: np.ndarray

    @property
    def coef(self) -> np.ndarray:
        """``(degree + 1,)`` monomial coefficients in ``x``, increasing degree.

        ``coef[::-1]`` is ``numpy.polyfit``'s order. For a mapped domain or an orthogonal basis
        this change of basis is itself ill-conditioned at high degree; evaluate with
        :meth:`predict`, which never forms these coefficients.
        """
        if self.basis == "monomial" and self.domain is None:
            return self.basis_coef.copy()
        dom = self.domain if self.domain is not None else (-1.0, 1.0)
        series = _SERIES[self.basis](self.basis_coef, domain=list(dom), window=[-1.0, 1.0])
        coef = series.convert(kind=Polynomial, domain=[-1.0, 1.0], window=[-1.0, 1.0]).coef
        out = np.zeros(self.degree + 1)
        out[: coef.shape[0]] = coef  # convert() trims trailing zeros
        return out

    def predict(self, x: Any) -> np.ndarray:
        """Evaluate at ``x: (N,)``; returns ``(N,)`` float64."""
        features = polynomial_features(x, self.degree, basis=self.basis, domain=self.domain)
        return features @ self.basis_coef

    __call__ = predict


def fit_polynomial(
    x: Any,
    t: Any,
    degree: int,
    *,
    alpha: float = 0.0,
    basis: str = "monomial",
    domain: tuple[float, float] | None = None,
) -> PolynomialFit:
    """Least-squares (``alpha = 0``) or ridge polynomial fit of a given degree.

    Minimises ``||t - F c||^2 + alpha ||c||^2`` with ``F = polynomial_features(x, degree, ...)``.
    With ``alpha = 0`` and fewer points than coefficients the minimum-norm interpolant is
    returned.

    Args:
        x: ``(N,)`` inputs.
        t: ``(N,)`` targets.
        degree: polynomial degree ``>= 0``.
        alpha: ridge penalty (weight decay) ``>= 0`` on the basis coefficients.
        basis: see :func:`polynomial_features`.
        domain: see :func:`polynomial_features`.

    Returns:
        The fitted :class:`PolynomialFit`.

    Raises:
        ParameterError: bad shapes or parameters.
    """
    owner = "fit_polynomial"
    xs = as_vector(x, "x", owner)
    ts = as_vector(t, "t", owner)
    if ts.shape != xs.shape:
        raise ParameterError("t", owner, f"an array of shape {xs.shape}", f"array of shape {ts.shape}")
    alpha = float(check_in_range(alpha, "alpha", owner, low=0.0))
    features = polynomial_features(xs, degree, basis=basis, domain=domain)  # (N, degree + 1)
    coef = least_squares(features, ts) if alpha == 0.0 else ridge(features, ts, alpha=alpha)
    return PolynomialFit(
        degree=int(degree),
        basis=basis,
        domain=_check_domain(domain, owner),
        alpha=alpha,
        basis_coef=coef,
    )
