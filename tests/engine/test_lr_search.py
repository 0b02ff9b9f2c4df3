"""Learning-rate selection and the extension of the grid past an edge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from learnability.engine import LRGrid, Selection, lr_sweep, round_tag, select_lr, tune_then_train
from learnability.engine.loop import TrainResult

CAP = 1000


def _fake(lrs: np.ndarray, *, best: float, diverge_above: float = np.inf) -> TrainResult:
    """Synthetic training: loss minimal at ``best`` (log-quadratic), time falls with the rate."""
    lrs = np.asarray(lrs, dtype=float)
    final = 1.0 + (np.log10(lrs) - np.log10(best)) ** 2
    conv = np.clip((CAP * 1e-3 / lrs), 1, CAP - 1).astype(int)
    diverged = lrs > diverge_above
    return TrainResult(
        params=[],
        lr=lrs,
        seeds=np.zeros(len(lrs)),
        steps=CAP,
        train_loss=np.tile(final, (CAP, 1)),
        evals={},
        diverged_step=np.where(diverged, 5, -1),
        converged_step=np.where(diverged, -1, conv),
        wall_seconds=0.0,
    )


def _score(r: TrainResult) -> np.ndarray:
    return np.where(r.diverged, np.nan, r.train_loss[-1])


def test_interior_optimum_needs_no_extension() -> None:
    calls = []

    def fn(lrs):
        calls.append(lrs)
        return _fake(lrs, best=1e-2)

    res = lr_sweep(fn, LRGrid(1e-4, 1, num=9), score=_score, selection=Selection("final_loss"), step_cap=CAP)
    assert len(calls) == 1 and res.chosen_lr == pytest.approx(1e-2) and not res.at_edge
    assert res.table["chosen"].sum() == 1 and len(res.table) == 9


def test_edge_extends_upwards_until_interior() -> None:
    calls = []

    def fn(lrs):
        calls.append(np.asarray(lrs))
        return _fake(lrs, best=30.0)

    grid = LRGrid(1e-3, 1.0, num=4, max_extensions=5, extend_by=2)  # spacing x10
    res = lr_sweep(fn, grid, score=_score, selection=Selection("final_loss"), step_cap=CAP)
    np.testing.assert_allclose(calls[1], [10.0, 100.0])  # only the new points are trained
    assert res.chosen_lr == pytest.approx(10.0) or res.chosen_lr == pytest.approx(100.0)
    assert not res.at_edge
    lrs = res.table["lr"].to_numpy()
    assert lrs.max() > res.chosen_lr > lrs.min()
    assert set(res.table["round"]) == {0, 1}


def test_edge_extends_downwards() -> None:
    res = lr_sweep(
        lambda lrs: _fake(lrs, best=1e-6),
        LRGrid(1e-4, 1e-1, num=4, extend_by=1, max_extensions=5),
        score=_score,
        selection=Selection("final_loss"),
        step_cap=CAP,
    )
    assert res.chosen_lr == pytest.approx(1e-6) and not res.at_edge
    assert res.table["lr"].min() == pytest.approx(1e-7)


def test_extensions_are_capped() -> None:
    res = lr_sweep(
        lambda lrs: _fake(lrs, best=1e9),
        LRGrid(1e-3, 1.0, num=4, max_extensions=2, extend_by=1),
        score=_score,
        selection=Selection("final_loss"),
        step_cap=CAP,
    )
    assert res.at_edge and res.table["lr"].max() == pytest.approx(100.0)


def test_time_to_convergence_picks_fastest_good_rate() -> None:
    # Loss flat within 10% over [1e-3, 1e-1]: fastest (largest) good rate wins; 1.0 is worse.
    table = pd.DataFrame(
        {
            "lr": [1e-3, 1e-2, 1e-1, 1.0],
            "final_loss": [1.0, 1.05, 1.08, 2.0],
            "steps_to_converge": [900, 300, 100, 50],
            "converged": [True] * 4,
            "diverged": [False] * 4,
        }
    )
    idx = select_lr(table, Selection("time_to_convergence", tolerance=0.1), None, CAP)
    assert idx == 2 and table["good"].tolist() == [True, True, True, False]


def test_diverged_and_collapsed_are_infeasible() -> None:
    table = pd.DataFrame(
        {
            "lr": [1e-3, 1e-2, 1e-1, 1.0],
            "final_loss": [0.5, 0.3, 0.99, np.nan],
            "steps_to_converge": [900, 300, 10, -1],
            "converged": [True, True, True, False],
            "diverged": [False, False, False, True],
        }
    )
    idx = select_lr(table, Selection(), failure_loss=1.0, step_cap=CAP)
    assert idx == 1
    assert table["collapsed"].tolist() == [False, False, True, False]
    assert table["feasible"].tolist() == [True, True, False, False]


def test_unconverged_counts_as_the_cap() -> None:
    table = pd.DataFrame(
        {
            "lr": [1e-3, 1e-2],
            "final_loss": [1.0, 1.0],
            "steps_to_converge": [-1, 800],
            "converged": [False, True],
            "diverged": [False, False],
        }
    )
    assert select_lr(table, Selection(), None, CAP) == 1


def test_all_infeasible_raises() -> None:
    with pytest.raises(RuntimeError, match="no learning rate"):
        lr_sweep(
            lambda lrs: _fake(lrs, best=1.0, diverge_above=0.0), LRGrid(1e-3, 1.0, num=3), score=_score, step_cap=CAP
        )


def test_least_bad_fallback_when_every_rate_collapsed() -> None:
    # Every finite loss is at the trivial predictor's level: "raise" refuses, "least_bad" keeps the
    # lowest finite, non-diverged loss and says it is infeasible; all diverged still raises.
    def table() -> pd.DataFrame:
        return pd.DataFrame(
            {
                "lr": [1e-3, 1e-2, 1e-1, 1.0],
                "final_loss": [1.0, 0.97, 0.99, 0.5],
                "steps_to_converge": [900, 300, 10, -1],
                "converged": [True, True, True, False],
                "diverged": [False, False, False, True],
            }
        )

    with pytest.raises(RuntimeError, match="no learning rate"):
        select_lr(table(), Selection(), failure_loss=1.0, step_cap=CAP)
    t = table()
    assert select_lr(t, Selection(if_none_feasible="least_bad"), failure_loss=1.0, step_cap=CAP) == 1
    assert not t["feasible"].any() and not t["good"].any()
    with pytest.raises(RuntimeError, match="no learning rate"):
        lr_sweep(
            lambda lrs: _fake(lrs, best=1.0, diverge_above=0.0),
            LRGrid(1e-3, 1.0, num=3),
            score=_score,
            step_cap=CAP,
            selection=Selection(if_none_feasible="least_bad"),
        )


def test_least_bad_choice_is_reported_infeasible() -> None:
    res = lr_sweep(
        lambda lrs: _fake(lrs, best=1e-2),
        LRGrid(1e-3, 1e-1, num=3),
        score=_score,
        selection=Selection("final_loss", if_none_feasible="least_bad"),
        failure_loss=1e-9,
        step_cap=CAP,
    )
    assert not res.feasible and res.chosen_row["lr"] == res.chosen_lr
    ok = lr_sweep(
        lambda lrs: _fake(lrs, best=1e-2),
        LRGrid(1e-3, 1e-1, num=3),
        score=_score,
        selection=Selection("final_loss"),
        step_cap=CAP,
    )
    assert ok.feasible


def test_train_fn_is_told_its_round_and_round_tags_are_distinct() -> None:
    rounds = []

    def fn(lrs, round_):
        rounds.append(round_)
        return _fake(lrs, best=3000.0)  # two extensions upwards reach it

    lr_sweep(
        fn, LRGrid(1e-3, 1.0, num=4, max_extensions=3), score=_score, selection=Selection("final_loss"), step_cap=CAP
    )
    assert rounds == [0, 1, 2]  # the initial grid, then each extension in order
    assert [round_tag("S_o/sweep", r) for r in rounds] == ["S_o/sweep", "S_o/sweep/ext1", "S_o/sweep/ext2"]


def test_tune_then_train_trains_fresh_members_at_the_chosen_rate() -> None:
    finals = []

    def final(lr):
        finals.append(lr)
        return _fake(np.full(3, lr), best=1e-2)

    out = tune_then_train(
        lambda lrs: _fake(lrs, best=1e-2),
        final,
        LRGrid(1e-4, 1, num=9),
        score=_score,
        selection=Selection("final_loss"),
        step_cap=CAP,
    )
    assert finals == [out.lr] and out.lr == pytest.approx(1e-2)
    assert out.final.lr.tolist() == [out.lr] * 3 and out.sweep.chosen_lr == out.lr


def test_a_closure_with_default_arguments_does_not_receive_the_round() -> None:
    """The round goes to a parameter named round_ only: loop variables bound as defaults
    (``def fn(lrs, g=g)``) keep their values."""
    seen = []

    def fn(lrs, g=7, name="B6"):
        seen.append((g, name))
        return _fake(lrs, best=3000.0)

    lr_sweep(
        fn, LRGrid(1e-3, 1.0, num=4, max_extensions=2), score=_score, selection=Selection("final_loss"), step_cap=CAP
    )
    assert seen == [(7, "B6")] * 3
