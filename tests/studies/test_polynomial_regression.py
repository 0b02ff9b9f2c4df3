"""The polynomial-regression study (Tutorial 3, Lab 3): validation-only selection, OLS three ways,
and the smoke run's report."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from learnability.analysis import Estimate
from learnability.report import fmt, fmt_est, render_markdown
from learnability.studies import polynomial_regression as pr


def test_smoke_run_reports_its_numbers(smoke_run) -> None:
    run = smoke_run("polynomial-regression")
    assert run.complete
    res = run.results
    assert isinstance(res, pr.PolynomialRegressionResults)
    seeds = run.config.sweep.seeds
    assert len(res.train_mse_by_degree) == len(res.test_mse_by_degree) == run.config.sweep.max_degree + 1
    md = (run.path / "report.md").read_text()
    assert fmt_est(res.selection_test_mse) in md
    assert fmt(res.ols.max_abs_difference) in md
    assert fmt(res.landscape_loop_vs_vectorised) in md
    assert res.landscape_all_convex and "holds for every loss" in md
    assert res.ols.max_abs_difference < 1e-8
    # One fit per data set behind each regularisation number (the smoke lambda grid contains the
    # tutorial's 1e-4: it must not be counted twice).
    assert res.decay_tutorial.eval_mse.n == seeds and res.decay_none.eval_mse.n == seeds
    assert all(r.eval_mse_small.n == seeds for r in res.more_data)
    for name in ("mse_vs_degree", "regularisation", "coefficients", "landscapes", "selection"):
        assert (run.figures_dir / f"{name}.png").exists()


def test_sentences_follow_the_numbers(smoke_run) -> None:
    """The findings flip when the numbers do: interpolation (text and caption), weight decay
    (caption), convexity (text and caption), the OLS agreement and the selection's optimism."""
    run = smoke_run("polynomial-regression")
    res = run.results
    text = render_markdown(pr.report(res, run), run)
    for phrase in (
        f"reaches rounding level (drawn at 1.00e-16) from degree {res.interpolation_degree}",
        "Weight decay keeps the high-order coefficients small",
        "holds for every loss",
        "every landscape passed the midpoint-convexity check",
        "the three methods agree",
    ):
        assert phrase in text, phrase
    big = Estimate.point(1e9)
    flipped = res.model_copy(
        update={
            "interpolation_degree": None,
            "decay_tutorial": res.decay_tutorial.model_copy(update={"max_abs_coef": big}),
            "landscape_all_convex": False,
            "ols": res.ols.model_copy(update={"max_abs_difference": 1.0}),
            "selection_test_over_val": Estimate(2.0, 1.5, 2.5, 3),
        }
    )
    text = render_markdown(pr.report(flipped, run), run)
    assert "never reaches rounding level" in text and "no degree interpolates" in text
    assert "does NOT keep the coefficients small" in text and "keeps the high-order" not in text
    assert "FAILS for at least one loss" in text and "FAILED the midpoint-convexity check" in text
    assert "they do NOT agree" in text and "the three methods agree" not in text
    assert "validation score is optimistic" in text


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
    assert out.max_abs_difference < 1e-9
    assert out.closed_vs_svd < 1e-9
    assert out.kappa_centred < out.kappa_raw / 10  # why GD runs on centred features
    assert out.raw_gd_max_error > 1e3 * out.max_abs_difference
