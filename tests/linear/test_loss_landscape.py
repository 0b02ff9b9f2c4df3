"""Loss landscapes of f(x) = a x + b (Tutorial 3) and the discrete convexity check."""

from __future__ import annotations

import numpy as np
import pytest

from learnability._validation import ParameterError
from learnability.linear import is_midpoint_convex, loss_landscape, midpoint_convexity_gap

A_GRID = np.linspace(-5, 5, 41)
B_GRID = np.linspace(-5, 5, 31)


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random(10)
    return x, np.sin(2 * np.pi * x) + 0.1 * rng.normal(size=10)


def _loop_landscape(x, t, loss: str, p: float = 2.0) -> np.ndarray:
    """Tutorial 3's double loop, the reference for the vectorised version."""
    out = np.empty((len(A_GRID), len(B_GRID)))
    for i, a in enumerate(A_GRID):
        for j, b in enumerate(B_GRID):
            r = a * x + b - t
            if loss == "mse":
                out[i, j] = np.mean(r**2)
            elif loss == "l1":
                out[i, j] = np.sum(np.abs(r)) / len(x)
            else:
                out[i, j] = np.sum(np.abs(r) ** p) ** (1 / p) / len(x)
    return out


@pytest.mark.parametrize(("loss", "p"), [("mse", 2.0), ("l1", 1.0), ("lp", 1.0), ("lp", 3.0), ("lp", 50.0)])
def test_vectorised_landscape_equals_the_loop(data, loss: str, p: float) -> None:
    x, t = data
    L = loss_landscape(x, t, A_GRID, B_GRID, loss=loss, p=p)
    assert L.shape == (41, 31)
    np.testing.assert_allclose(L, _loop_landscape(x, t, loss, p), rtol=1e-12)


def test_lp_is_safe_for_large_and_small_residuals() -> None:
    x = np.array([0.0, 1.0])
    for scale in (1e8, 1e-9):  # |r|^50 would overflow / underflow to 0
        L = loss_landscape(x, scale * np.array([1.0, 2.0]), [0.0], [0.0], loss="lp", p=50.0)
        expected = scale * 2.0 * (1 + 0.5**50) ** (1 / 50) / 2
        assert np.isfinite(L[0, 0]) and L[0, 0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("loss", "p"), [("mse", 2.0), ("l1", 1.0), ("lp", 4.0), ("lp", 50.0)])
def test_landscapes_are_midpoint_convex(data, loss: str, p: float) -> None:
    x, t = data
    L = loss_landscape(x, t, A_GRID, B_GRID, loss=loss, p=p)
    assert is_midpoint_convex(L, coords=(A_GRID, B_GRID))


def test_convexity_check_rejects_non_convex_functions() -> None:
    a, b = np.meshgrid(A_GRID, B_GRID, indexing="ij")
    assert not is_midpoint_convex(np.sin(a) + b**2)
    assert not is_midpoint_convex(-(a**2) - b**2)
    # convex along each axis but not jointly: (a b) is a saddle
    assert not is_midpoint_convex(a * b)
    assert is_midpoint_convex(np.abs(a - 1) + (a + b) ** 2)
    # a single bump on a convex bowl: the gap is the bump minus the bowl's curvature term h^2
    bowl = a**2 + b**2
    bumped = bowl.copy()
    bumped[20, 15] += 0.5
    assert is_midpoint_convex(bowl) and not is_midpoint_convex(bumped)
    assert midpoint_convexity_gap(bumped) == pytest.approx(0.5 - (A_GRID[1] - A_GRID[0]) ** 2, rel=1e-9)


def test_convexity_gap_known_values_1d() -> None:
    z = np.linspace(-1, 1, 21)
    # for +-z^2 the gap of the triple (c - delta, c, c + delta) is -+delta^2
    assert midpoint_convexity_gap(z**2) == pytest.approx(-(0.1**2), rel=1e-9)  # smallest delta
    assert midpoint_convexity_gap(-(z**2)) == pytest.approx(1.0, rel=1e-9)  # delta = 1
    assert midpoint_convexity_gap(np.array([1.0, 2.0])) == -np.inf


def test_errors(data) -> None:
    x, t = data
    with pytest.raises(
        ParameterError,
        match=r"The 'p' parameter of loss_landscape must be a float in the range \[1, inf\)\. Got 0\.5 instead\.",
    ):
        loss_landscape(x, t, A_GRID, B_GRID, loss="lp", p=0.5)
    with pytest.raises(ParameterError, match="The 'loss' parameter of loss_landscape must be one of"):
        loss_landscape(x, t, A_GRID, B_GRID, loss="huber")
    with pytest.raises(
        ParameterError,
        match="The 'coords' parameter of midpoint_convexity_gap must be uniformly spaced grids",
    ):
        midpoint_convexity_gap(np.zeros((3, 3)), coords=(np.array([0.0, 1.0, 3.0]), np.arange(3.0)))
