"""Quasi-stationarity on synthetic curves with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from learnability._validation import ParameterError
from learnability.engine import Stationarity, StationarityDetector, horizon_improvement


def _exp_curve(steps: int, c: float, a: float, tau: float) -> np.ndarray:
    t = np.arange(steps)
    return c + a * np.exp(-t / tau)


def _expected_window(c: float, a: float, tau: float, W: int, tol: float, n_windows: int) -> int:
    """First window j (>= 1) whose mean improved by less than tol over window j-1 (exact means)."""
    means = [_exp_curve(W * n_windows, c, a, tau)[j * W : (j + 1) * W].mean() for j in range(n_windows)]
    for j in range(1, n_windows):
        if (means[j - 1] - means[j]) / means[j - 1] < tol:
            return j
    raise AssertionError("never stationary")


@pytest.mark.parametrize("tau", [300.0, 1000.0, 2500.0])
def test_exponential_decay_known_step(tau: float) -> None:
    W, tol, n = 100, 0.01, 200
    curve = _exp_curve(W * n, c=1.0, a=10.0, tau=tau)
    det = StationarityDetector(Stationarity(window=W, rel_tol=tol, patience=1), n_members=1)
    for start in range(0, len(curve), 37):  # blocks not aligned with windows
        det.update(curve[start : start + 37, None])
    j = _expected_window(1.0, 10.0, tau, W, tol, n)
    assert det.converged_step[0] == (j + 1) * W - 1
    # Closed form: a e^{-t/tau} (1 - e^{-W/tau}) ~ tol (c + a e^{-t/tau}) near the detected step.
    t = det.converged_step[0]
    assert 0.3 * tol < 10 * np.exp(-(t - W) / tau) * (1 - np.exp(-W / tau)) / 1.0


def test_members_converge_independently_and_patience() -> None:
    W = 50
    fast = _exp_curve(5000, 1.0, 5.0, 100.0)
    slow = _exp_curve(5000, 1.0, 5.0, 1500.0)
    never = 100.0 * np.exp(-np.arange(5000) / 1000.0)  # improves by 4.9% every window
    losses = np.stack([fast, slow, never], axis=1)
    det1 = StationarityDetector(Stationarity(window=W, rel_tol=0.01, patience=1), 3)
    det3 = StationarityDetector(Stationarity(window=W, rel_tol=0.01, patience=3), 3)
    det1.update(losses)
    det3.update(losses)
    assert 0 < det1.converged_step[0] < det1.converged_step[1]
    assert det1.converged_step[2] == -1
    # With a smooth curve, patience only delays the confirmation, not the recorded onset.
    assert np.array_equal(det1.converged_step[:2], det3.converged_step[:2])


def test_noise_needs_patience() -> None:
    rng = np.random.default_rng(0)
    W = 100
    curve = _exp_curve(20_000, 1.0, 4.0, 3000.0) * (1 + 0.3 * rng.standard_normal(20_000))
    det = StationarityDetector(Stationarity(window=W, rel_tol=0.005, patience=3), 1)
    det.update(curve[:, None])
    onset = det.converged_step[0]
    assert onset > 0
    # At the detected step the true curve's improvement per window is already small (< 5%).
    t = onset
    true_rel = 4.0 * np.exp(-t / 3000.0) * (1 - np.exp(-W / 3000.0)) / (1 + 4.0 * np.exp(-t / 3000.0))
    assert true_rel < 0.05


def test_min_steps_and_nan() -> None:
    flat = np.ones((1000, 2))
    flat[:, 1] = np.nan
    det = StationarityDetector(Stationarity(window=100, rel_tol=0.01, patience=1, min_steps=600), 2)
    det.update(flat)
    assert det.converged_step[0] == 599  # the first window ending at min_steps
    assert det.converged_step[1] == -1  # all-NaN member: never stationary


def test_settings_validated() -> None:
    with pytest.raises(ParameterError, match="'window' parameter of Stationarity"):
        Stationarity(window=0)


# ------------------------------------------------------------------ the horizon rule


def _plateau_then_drop(steps: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """A teacher-student-like curve: a fall (time constant 800) until step 4,000, a plateau until
    5,000, a sudden drop (time constant 300) to a floor of 0.1, flat from ~7,000 on."""
    t = np.arange(steps, dtype=float)
    curve = 1.0 + 9.0 * np.exp(-np.minimum(t, 4_000) / 800.0)
    after = t >= 5_000
    curve[after] = 0.1 + (curve[4_000] - 0.1) * np.exp(-(t[after] - 5_000) / 300.0)
    rng = np.random.default_rng(seed)
    return curve * (1.0 + noise * rng.standard_normal(steps))


def _feed(det: StationarityDetector, curve: np.ndarray, block: int = 100) -> None:
    for start in range(0, len(curve), block):
        det.update(curve[start : start + block, None])


def test_horizon_rule_is_not_fooled_by_a_plateau_that_consecutive_windows_call_stationary() -> None:
    curve = _plateau_then_drop(12_000)
    windows = StationarityDetector(Stationarity(window=100, rel_tol=0.01, patience=2), n_members=1)
    horizon = StationarityDetector(
        Stationarity(window=100, rel_tol=0.01, patience=2, min_steps=1_000, horizon=0.25), n_members=1
    )
    _feed(windows, curve)
    _feed(horizon, curve)
    # Consecutive windows: stationary at the end of the first fall, before the drop at 5,000.
    assert 1_000 <= windows.converged_step[0] < 5_000
    # Horizon: the plateau (1,000 steps) is shorter than a third of the 4,000 steps before it began,
    # so every look-back reaches the fall before it; stationary only after the drop has settled.
    step = horizon.converged_step[0]
    assert step > 5_000
    # Known answer: the first window end t (with patience 2: the start of a 2-window streak)
    # where the exact window means satisfy r(t) < 1%.
    W = 100
    means = curve.reshape(-1, W).mean(axis=1)
    expected = None
    for j in range(1, len(means)):
        t = (j + 1) * W
        ref = int(0.75 * t) // W
        if t >= 1_000 and ref < j and (means[ref] - means[j]) / means[ref] < 0.01:
            expected = t - 1
            break
    assert step == expected
    # The loss is then within 2% of its floor: the rule waited for the real convergence.
    assert curve[step] < 0.1 * 1.02


def test_horizon_rule_with_noise_and_the_final_improvement() -> None:
    curve = _plateau_then_drop(20_000, noise=0.2, seed=1)
    det = StationarityDetector(
        Stationarity(window=500, rel_tol=0.02, patience=2, min_steps=2_000, horizon=0.25), n_members=1
    )
    _feed(det, curve)
    assert det.converged_step[0] > 6_000  # after the drop has settled, despite 20% per-step noise
    # At the end the loss no longer falls: the improvement over the last quarter is ~0 (noise only).
    r = horizon_improvement(curve[:, None], window=500, horizon=0.25)
    assert abs(r[0]) < 0.02
    # Cut inside the drop: still falling, by the known amount of the exact curve.
    clean = _plateau_then_drop(5_600)
    r_drop = horizon_improvement(clean[:, None], window=100, horizon=0.25)
    means = clean.reshape(-1, 100).mean(axis=1)
    ref = int(0.75 * 5_600) // 100
    assert r_drop[0] == pytest.approx((means[ref] - means[-1]) / means[ref])
    assert r_drop[0] > 0.5
    # Too short to compare: NaN.
    assert np.isnan(horizon_improvement(clean[:150, None], window=100, horizon=0.25)[0])


def test_horizon_settings_validated() -> None:
    for bad in (0.0, 1.0, -0.5):
        with pytest.raises(ParameterError, match="'horizon' parameter of Stationarity"):
            Stationarity(horizon=bad)
