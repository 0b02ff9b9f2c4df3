"""Aggregation over seeds against a hand-computed table; results columns; figures; the report."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from learnability.runs import RunWriter
from learnability.sweep import aggregate, flatten_summary, load_sweep, report_sweep, sweep_charts

# Student-t quantiles t_{0.975, df} from a table (df = 1, 2).
T975 = {1: 12.706204736174, 2: 4.302652729749}


def _results() -> pd.DataFrame:
    """Runs of a 2-axis sweep: width (numeric) x opt (text), up to three seeds each."""
    rows = [  # width, opt, seed, status, loss
        (2, "adam", 0, "complete", 1.0),
        (2, "adam", 1, "complete", 2.0),
        (2, "adam", 2, "complete", 3.0),
        (2, "sgd", 0, "complete", 1.0),
        (2, "sgd", 1, "complete", 3.0),
        (2, "sgd", 2, "failed", math.nan),
        (4, "adam", 0, "complete", 0.5),
        (4, "adam", 1, "complete", 0.5),
        (4, "adam", 2, "complete", 0.5),
        (4, "sgd", 0, "complete", math.inf),
        (4, "sgd", 1, "complete", 4.0),
        (4, "sgd", 2, "complete", 6.0),
        (8, "adam", 0, "failed", math.nan),
        (8, "adam", 1, "failed", math.nan),
    ]
    return pd.DataFrame(rows, columns=["width", "opt", "seed", "status", "loss"])


def _log_t(values: list[float]) -> tuple[float, float]:
    """By hand: exp(mean(log x) +/- t_{0.975, n-1} * sd(log x) / sqrt(n)), high raised to the mean."""
    logs = [math.log(v) for v in values]
    n = len(logs)
    m = sum(logs) / n
    s = math.sqrt(sum((v - m) ** 2 for v in logs) / (n - 1))
    h = T975[n - 1] * s / math.sqrt(n)
    return math.exp(m - h), max(math.exp(m + h), sum(values) / n)


def test_aggregate_matches_a_hand_computed_table() -> None:
    # Every loss is > 0: a positive metric, log-scale intervals (never below zero).
    agg = aggregate(_results(), axes=["width", "opt"], metrics=["loss"])
    cis = [_log_t([1.0, 2.0, 3.0]), _log_t([1.0, 3.0]), (0.5, 0.5), _log_t([4.0, 6.0]), (math.nan, math.nan)]
    expected = pd.DataFrame(
        {
            "width": [2, 2, 4, 4, 8],
            "opt": ["adam", "sgd", "adam", "sgd", "adam"],
            "metric": ["loss"] * 5,
            "n": [3, 2, 3, 2, 0],  # the failed run and the inf are left out
            "mean": [2.0, 2.0, 0.5, 5.0, math.nan],
            "low": [c[0] for c in cis],
            "high": [c[1] for c in cis],
            "kind": ["positive"] * 5,
        }
    )
    pd.testing.assert_frame_equal(agg, expected, check_dtype=False, rtol=1e-11)
    assert (agg["low"].dropna() > 0).all()


def test_aggregate_of_a_signed_metric_uses_the_t_interval() -> None:
    results = _results().assign(loss=lambda d: d["loss"] - 2.5)  # some values now negative
    agg = aggregate(results, axes=["width", "opt"], metrics=["loss"])
    # mean +/- t_{0.975, n-1} * s / sqrt(n), with s the sample standard deviation:
    h3 = T975[2] * 1.0 / math.sqrt(3)  # [1, 2, 3]: s = 1
    h2 = T975[1] * math.sqrt(2) / math.sqrt(2)  # [1, 3] and [4, 6]: s = sqrt(2)
    expected = pd.DataFrame(
        {
            "width": [2, 2, 4, 4, 8],
            "opt": ["adam", "sgd", "adam", "sgd", "adam"],
            "metric": ["loss"] * 5,
            "n": [3, 2, 3, 2, 0],
            "mean": [-0.5, -0.5, -2.0, 2.5, math.nan],
            "low": [-0.5 - h3, -0.5 - h2, -2.0, 2.5 - h2, math.nan],
            "high": [-0.5 + h3, -0.5 + h2, -2.0, 2.5 + h2, math.nan],
            "kind": ["real"] * 5,
        }
    )
    pd.testing.assert_frame_equal(agg, expected, check_dtype=False, rtol=1e-11)
    assert agg["n"].dtype == np.int64


def test_aggregate_without_axes_pools_every_complete_run() -> None:
    agg = aggregate(_results(), axes=[], metrics=["loss"])
    values = np.array([1, 2, 3, 1, 3, 0.5, 0.5, 0.5, 4, 6])
    assert agg["n"].tolist() == [10] and agg["mean"][0] == pytest.approx(values.mean())


def test_flatten_summary_keeps_numeric_leaves_with_dotted_names() -> None:
    summary = {
        "study": "x",
        "wall_seconds": 3.2,
        "lr": 0.1,
        "steps": 100,
        "diverged": False,
        "test": {"mse": "nan", "rel": {"mse": 0.25}, "curve": [1.0, 2.0]},
        "worst": "-inf",
    }
    flat = flatten_summary(summary)
    assert list(flat) == ["lr", "steps", "test.mse", "test.rel.mse", "worst"]
    assert flat["steps"] == 100.0 and math.isnan(flat["test.mse"]) and flat["worst"] == -math.inf


def test_charts_one_per_metric_and_numeric_axis_with_log_x_where_log_spaced() -> None:
    agg = aggregate(_results(), axes=["width", "opt"], metrics=["loss"])
    axes = [
        {"name": "width", "values": [2, 4, 8], "scale": "log", "numeric": True},
        {"name": "opt", "values": ["adam", "sgd"], "scale": None, "numeric": False},
    ]
    (chart,) = sweep_charts(agg, axes, ["loss"])
    panel = chart.panels[0]
    assert chart.name == "loss-vs-width" and panel.xscale == "log" and panel.xlabel == "width"
    adam, sgd = panel.traces
    assert (adam.label, sgd.label) == ("opt=adam", "opt=sgd")
    np.testing.assert_array_equal(adam.x, [2, 4, 8])
    np.testing.assert_array_equal(adam.y, [2.0, 0.5, math.nan])
    # The band of a positive metric is the log-scale interval: above zero.
    np.testing.assert_allclose(sgd.band[1], [_log_t([1.0, 3.0])[1], _log_t([4.0, 6.0])[1]], rtol=1e-11)
    assert (np.asarray(sgd.band[0]) > 0).all()
    axes[0]["scale"] = "linear"
    assert sweep_charts(agg, axes, ["loss"])[0].panels[0].xscale == "linear"


def _handmade_sweep(folder: Path) -> Path:
    """A sweep folder written by hand: plan.json and two run folders (one a name clash)."""
    runs = []
    for i, (width, seed, summary) in enumerate(
        [(2, 0, {"loss": 1.0, "seed": 7.0}), (2, 1, {"loss": 3.0, "seed": 7.0})]
    ):
        run_id = f"width={width}_s{seed}-0000000000"
        writer = RunWriter(
            folder / "runs" / run_id,
            study="handmade",
            config=SimpleNamespace(seed=seed, device="cpu"),
            config_toml=f"seed = {seed}\n",
            argv=["test"],
        )
        writer.finish(summary)
        runs.append(
            {
                "index": i,
                "run_id": run_id,
                "point": {"width": width},
                "seed": seed,
                "overrides": {"width": width, "seed": seed},
                "config": {},
            }
        )
    plan = {
        "format": 1,
        "name": "handmade",
        "study": "handmade",
        "description": "",
        "smoke": False,
        "source": "handmade.toml",
        "base": {},
        "zip": [],
        "seeds": [0, 1],
        "metrics": None,
        "modules": [],
        "resources": {"threads": None, "gpus": 1.0},
        "axes": [{"name": "width", "values": [2], "scale": "log", "numeric": True}],
        "runs": runs,
    }
    (folder / "plan.json").write_text(json.dumps(plan))
    return folder


def test_report_from_the_sweep_folder_alone(tmp_path) -> None:
    sweep = _handmade_sweep(tmp_path / "handmade")
    df = load_sweep(sweep)  # no results.parquet yet: built from the run folders
    # A summary value named like a fixed column gets the prefix "summary.".
    assert list(df.columns) == [
        "run_id",
        "status",
        "error",
        "width",
        "seed",
        "loss",
        "summary.seed",
        "wall_seconds",
        "attempts",
        "worker_pid",
        "hostname",
        "threads",
        "path",
    ]
    assert df["loss"].tolist() == [1.0, 3.0] and df["seed"].tolist() == [0, 1]
    assert df.attrs["metrics"] == ["loss", "summary.seed"] and df.attrs["log_axes"] == ["width"]
    report = report_sweep(sweep).read_text()
    agg = pd.read_parquet(sweep / "aggregate.parquet")
    assert agg.set_index("metric").loc["loss", "mean"] == 2.0
    # loss [1, 3] is positive: exp(mean(log) +/- 12.706 sd(log) / sqrt(2)), never below zero;
    # summary.seed is 7 in both runs (a positive metric with a zero-width interval).
    assert "| 2 | 2.00 [0.0016, 1861.06] (n=2) | 7 (all equal, n=2) |" in report
    assert "No run failed." in report and "| width | loss | summary.seed |" in report
    # width has a single value: no figure against it.
    assert not (sweep / "figures").exists() or not list((sweep / "figures").iterdir())
