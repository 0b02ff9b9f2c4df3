"""The polynomial-regression study (Tutorial 3, Lab 3): validation-only selection, OLS three ways,
and a smoke run through the CLI."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from learnability import load_run
from learnability.cli import app
from learnability.report import fmt
from learnability.studies import polynomial_regression as pr
from learnability.studies._kernel_common import fmt_est

runner = CliRunner()


def test_smoke_run_through_cli(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", "polynomial-regression", "--smoke", "--out", str(tmp_path), "--no-progress"])
    assert res.exit_code == 0, res.output
    run = load_run(res.output.strip().splitlines()[-1])
    assert run.complete
    s = run.summary
    for key in (
        "train_mse_by_degree",
        "test_mse_by_degree",
        "best_test_degree",
        "legendre_vs_monomial_max_gap",
        "more_data",
        "decay_none",
        "decay_tutorial",
        "landscape_all_convex",
        "selection_test_mse",
        "ols",
    ):
        assert key in s
    md = (run.path / "report.md").read_text()
    assert fmt_est(s["selection_test_mse"]) in md
    assert fmt(s["ols"]["max_abs_difference"]) in md
    assert fmt(s["landscape_loop_vs_vectorised"]) in md
    assert s["landscape_all_convex"] and "holds for every loss" in md
    assert s["ols"]["max_abs_difference"] < 1e-8
    # One fit per data set behind each regularisation number (the smoke lambda grid contains the
    # tutorial's 1e-4: it must not be counted twice).
    seeds = run.config_dict["sweep"]["seeds"]
    assert s["decay_tutorial"]["eval_mse"]["n"] == seeds and s["decay_none"]["eval_mse"]["n"] == seeds
    assert all(r["eval_mse_small"]["n"] == seeds for r in s["more_data"])
    for name in ("mse_vs_degree", "regularisation", "coefficients", "landscapes", "selection"):
        assert (run.figures_dir / f"{name}.png").exists()


def test_selection_never_reads_the_test_split() -> None:
    cfg = pr.SelectionSection(n_test=50)
    lambdas = np.array([0.0, 1e-6, 1e-3])
    degrees = list(range(8))
    for seed in (0, 1):
        split = pr.make_split(cfg, 0.1, seed)
        honest = pr.selection_experiment(split, degrees, lambdas)
        garbage = replace(split, t_test=np.random.default_rng(99).normal(100.0, 1.0, split.t_test.shape))
        swapped = pr.selection_experiment(garbage, degrees, lambdas)
        assert (honest["degree"], honest["lambda"], honest["val_mse"]) == (
            swapped["degree"],
            swapped["lambda"],
            swapped["val_mse"],
        )
        assert swapped["test_mse"] > 100 * honest["test_mse"]  # the test split was read, once, at the end
        # ... while changing the validation targets does change the choice's score.
        shifted = replace(split, t_val=split.t_val + 1.0)
        assert pr.selection_experiment(shifted, degrees, lambdas)["val_mse"] != honest["val_mse"]


def test_ols_three_ways_agree() -> None:
    out = pr.ols_three_ways_experiment(pr.OLSSection(n=300, p=30, steps=200), seed=0)
    assert out["max_abs_difference"] < 1e-9
    assert out["closed_vs_svd"] < 1e-9
    assert out["kappa_centred"] < out["kappa_raw"] / 10  # why GD runs on centred features
    assert out["raw_gd_max_error"] > 1e3 * out["max_abs_difference"]
