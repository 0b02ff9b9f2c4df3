"""Quasi-stationarity: when has a noisy training loss stopped improving?

The per-step loss of online or mini-batch training is noisy, so the detector compares *window means*:
the steps are cut into consecutive windows of ``window`` steps; after each complete window j the
relative improvement

    r_j = (mean_{j-1} - mean_j) / |mean_{j-1}|

is computed per member. A member is quasi-stationary once ``r_j < rel_tol`` for ``patience``
consecutive windows; its convergence step is the last step of the first of those windows (the
point from which the loss no longer improved by more than ``rel_tol`` per window).

For a curve L(t) = c + a exp(-t / tau) sampled without noise, r_j < rel_tol exactly when
a exp(-t/tau) (1 - exp(-W/tau)) < rel_tol (c + a exp(-t/tau)), which the tests use as a known answer.

**Horizon rule** (``horizon`` set, e.g. 0.25: "the last quarter of training"). Comparing
consecutive windows cannot tell a plateau from convergence: a plateau of a few windows (common
in teacher-student learning, before a sudden drop) looks flat. With ``horizon = h`` the window
ending at step t is compared instead with the window that holds step (1 - h) t:

    r(t) = (mean_{window at (1 - h) t} - mean_{window at t}) / |mean_{window at (1 - h) t}|

so the look-back grows with training: a plateau that begins at step s fools the rule only if it
lasts longer than h / (1 - h) s (a third of the training before it, for h = 1/4); ``min_steps``
guards the start. The window means are the smoothing. :func:`horizon_improvement` gives r at the
end of a finished run (how much the loss was still falling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from learnability._validation import check_in_range

__all__ = ["Stationarity", "StationarityDetector", "horizon_improvement"]


@dataclass(frozen=True)
class Stationarity:
    """Settings of the quasi-stationarity test.

    Args:
        window: steps per window (the loss is averaged over a window before comparing).
        rel_tol: a member is stationary when its windowed loss improves by less than this fraction.
        patience: consecutive windows the condition must hold.
        min_steps: no member is declared stationary before this many steps.
        horizon: ``None`` (default): compare consecutive windows. A fraction in (0, 1): compare
            each window with the one that holds step ``(1 - horizon) t`` (see the module
            docstring: robust to a plateau shorter than ``horizon / (1 - horizon)`` times the
            steps before it began).
    """

    window: int = 500
    rel_tol: float = 0.01
    patience: int = 2
    min_steps: int = 0
    horizon: float | None = None

    def __post_init__(self) -> None:
        check_in_range(self.window, "window", "Stationarity", low=1, kind=int)
        check_in_range(self.rel_tol, "rel_tol", "Stationarity", low=0.0)
        check_in_range(self.patience, "patience", "Stationarity", low=1, kind=int)
        check_in_range(self.min_steps, "min_steps", "Stationarity", low=0, kind=int)
        if self.horizon is not None:
            check_in_range(
                self.horizon, "horizon", "Stationarity", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
            )


class StationarityDetector:
    """Feeds on blocks of per-step losses and records each member's convergence step.

    Args:
        settings: the test's parameters.
        n_members: K.
    """

    def __init__(self, settings: Stationarity, n_members: int) -> None:
        self.settings = settings
        self.K = n_members
        self._pending = np.empty((0, n_members))
        self._steps_seen = 0
        self._prev_mean: np.ndarray | None = None
        self._streak = np.zeros(n_members, dtype=int)
        self._streak_start = np.full(n_members, -1, dtype=np.int64)
        self.converged_step = np.full(n_members, -1, dtype=np.int64)
        self.window_means: list[np.ndarray] = []

    @property
    def converged(self) -> np.ndarray:
        """(K,) bool: members found quasi-stationary."""
        return self.converged_step >= 0

    def update(self, losses: np.ndarray) -> None:
        """Consume the next block of losses, shape (n_steps, K), in step order."""
        losses = np.asarray(losses, dtype=np.float64)
        if losses.ndim != 2 or losses.shape[1] != self.K:
            raise ValueError(f"losses must have shape (n_steps, {self.K}); got {losses.shape}")
        self._pending = np.concatenate([self._pending, losses])
        W = self.settings.window
        while self._pending.shape[0] >= W:
            block, self._pending = self._pending[:W], self._pending[W:]
            self._steps_seen += W
            self._close_window(block)

    def state_dict(self) -> dict[str, object]:
        """Everything :meth:`update` has accumulated (for a checkpoint): arrays and counts."""
        K = self.K
        return {
            "pending": self._pending.copy(),
            "steps_seen": self._steps_seen,
            "prev_mean": None if self._prev_mean is None else self._prev_mean.copy(),
            "streak": self._streak.copy(),
            "streak_start": self._streak_start.copy(),
            "converged_step": self.converged_step.copy(),
            "window_means": np.stack(self.window_means) if self.window_means else np.empty((0, K)),
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Continue from a :meth:`state_dict` (of a detector with the same settings and K)."""
        self._pending = np.asarray(state["pending"], dtype=np.float64).reshape(-1, self.K)
        self._steps_seen = int(state["steps_seen"])  # type: ignore[arg-type]
        prev = state["prev_mean"]
        self._prev_mean = None if prev is None else np.asarray(prev, dtype=np.float64)
        self._streak = np.asarray(state["streak"]).astype(int)
        self._streak_start = np.asarray(state["streak_start"], dtype=np.int64)
        self.converged_step = np.asarray(state["converged_step"], dtype=np.int64).copy()
        self.window_means = list(np.asarray(state["window_means"], dtype=np.float64).reshape(-1, self.K))

    def _close_window(self, block: np.ndarray) -> None:
        with np.errstate(invalid="ignore"):
            finite = np.where(np.isfinite(block), block, np.nan)
            counts = np.isfinite(finite).sum(axis=0)
            mean = np.where(counts > 0, np.nansum(finite, axis=0) / np.maximum(counts, 1), np.nan)
        self.window_means.append(mean)
        end_step = self._steps_seen - 1
        reference = self._prev_mean
        if self.settings.horizon is not None:
            j = _horizon_window(len(self.window_means), self.settings.window, self.settings.horizon)
            reference = self.window_means[j] if j is not None else None
        if reference is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = (reference - mean) / np.abs(reference)
            # Windows ending before min_steps do not count towards a streak.
            flat = np.isfinite(rel) & (rel < self.settings.rel_tol) & (self._steps_seen >= self.settings.min_steps)
            starting = flat & (self._streak == 0)
            self._streak_start[starting] = end_step
            self._streak = np.where(flat, self._streak + 1, 0)
            eligible = (self._streak >= self.settings.patience) & (self.converged_step < 0)
            self.converged_step[eligible] = self._streak_start[eligible]
        self._prev_mean = mean


def _horizon_window(n_windows: int, window: int, horizon: float) -> int | None:
    """Index of the window that holds step ``(1 - horizon) t`` after ``n_windows`` complete windows
    (t = n_windows * window); None when that is the last window itself (too early to compare)."""
    t = n_windows * window
    j = int((1.0 - horizon) * t) // window
    return j if j < n_windows - 1 else None


def horizon_improvement(losses: np.ndarray, window: int, horizon: float) -> np.ndarray:
    """Relative improvement of the windowed loss over the last ``horizon`` of a run, per member.

    The quantity the horizon rule of :class:`Stationarity` thresholds, at the end of a run:
    ``(mean_{window at (1 - h) T} - mean_{last window}) / |mean_{window at (1 - h) T}|`` with T the
    complete windows' steps; NaN when the run is shorter than two windows or a window has no
    finite loss. Positive: the loss was still falling.

    Args:
        losses: (T, K) per-step losses.
        window: steps per window.
        horizon: fraction of the run looked back over, in (0, 1).

    Returns:
        (K,) relative improvements.
    """
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim != 2:
        raise ValueError(f"losses must have shape (n_steps, K); got {losses.shape}")
    n = losses.shape[0] // window
    K = losses.shape[1]
    j = _horizon_window(n, window, horizon) if n >= 2 else None
    if j is None:
        return np.full(K, np.nan)
    blocks = losses[: n * window].reshape(n, window, K)
    finite = np.isfinite(blocks)
    counts = finite.sum(axis=1)  # (n, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, np.where(finite, blocks, 0.0).sum(axis=1) / np.maximum(counts, 1), np.nan)
        return (means[j] - means[-1]) / np.abs(means[j])
