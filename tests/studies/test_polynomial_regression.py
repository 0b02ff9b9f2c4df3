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


# ------------------------------------------------------------------------------------------
# Lab 3's basics and Tutorial 3's exercises
# ------------------------------------------------------------------------------------------
def test_lab3_autograd_gives_the_closed_form_gradients() -> None:
    from learnability.studies.polynomial_regression.exercises import autograd_check

    check = autograd_check()
    assert check.exact and check.max_abs_error == 0.0
    assert check.grad_a == [9 * a**2 for a in check.a] and check.grad_b == [-2 * b for b in check.b]


def test_matmul_timing_says_whether_cuda_ran() -> None:
    import torch

    from learnability.studies.polynomial_regression.exercises import matmul_timing

    timing = matmul_timing(32, 2, seed=0)
    assert timing.cpu_ms > 0 and (timing.cuda_ms is None) == (not torch.cuda.is_available())


def test_leave_one_out_closed_form_matches_refitting() -> None:
    from learnability.linear import fit_polynomial
    from learnability.studies.polynomial_regression.exercises import loo_error

    rng = np.random.default_rng(1)
    x = rng.random(12)
    t = np.sin(2 * np.pi * x) + 0.1 * rng.standard_normal(12)
    for degree in (0, 3, 6):
        held_out = [
            (fit_polynomial(np.delete(x, i), np.delete(t, i), degree)(x[i : i + 1])[0] - t[i]) ** 2 for i in range(12)
        ]
        assert np.isclose(loo_error(x, t, degree), np.mean(held_out), rtol=1e-8)


def test_scenario_ranking_follows_the_information_in_each_scenario() -> None:
    """Tutorial 3's exercise: the known form (E) beats everything, more data (C) beats fewer (A),
    more noise (B) is worse, and a narrow range (D) is worst: extrapolation."""
    from learnability.studies.polynomial_regression.exercises import scenario_errors, summarise_scenarios

    ranked = summarise_scenarios([scenario_errors(seed, 500) for seed in range(20)])
    assert [s.name for s in ranked] == ["E", "C", "A", "B", "D"]
    by = {s.name: s for s in ranked}
    assert by["E"].test_mse.high < by["A"].test_mse.low and by["B"].test_mse.high < by["D"].test_mse.low
    assert abs(by["E"].median_k - 2 * np.pi) < 0.1  # the fitted k is the truth's 2 pi


def test_f1_f2_f3_are_linear_in_theta_not_in_x_and_torch_fits_match() -> None:
    from learnability.studies.polynomial_regression.exercises import linear_in_theta, torch_fits

    rng = np.random.default_rng(0)
    x = rng.random(10)
    t = np.sin(2 * np.pi * x) + 0.1 * rng.standard_normal(10)
    lt = linear_in_theta(x, t, seed=0)
    assert max(lt.theta_superposition_error.values()) < 1e-12
    assert min(lt.x_superposition_error.values()) > 1e-2
    assert lt.train_mse["f3"] < lt.train_mse["f2"] < lt.train_mse["f1"] + 1e-12  # f3 contains the truth
    tf = torch_fits(x, t, 15)
    assert len(tf.max_prediction_gap) == 10 and max(tf.max_prediction_gap[:6]) < 1e-10
    assert max(tf.max_prediction_gap) < 1e-6


def test_exercise_sentences_follow_the_numbers(smoke_run) -> None:
    run = smoke_run("polynomial-regression")
    res = run.results
    text = render_markdown(pr.report(res, run), run)
    assert "identical to the closed forms" in text and fmt(res.ols.train_mse) in text
    assert "no CUDA device here" in text and "linear in theta, to rounding" in text
    assert "so torch gives the same fits" in text
    flipped = res.model_copy(
        update={
            "autograd": res.autograd.model_copy(update={"exact": False, "max_abs_error": 1.0}),
            "matmul": res.matmul.model_copy(update={"cuda_ms": res.matmul.cpu_ms / 10, "cuda_device": "H200"}),
            "linear_in_theta": res.linear_in_theta.model_copy(update={"theta_superposition_error": {"f1": 1.0}}),
            "torch_fits": res.torch_fits.model_copy(update={"max_prediction_gap": [1.0]}),
            "scenarios": [
                s.model_copy(update={"test_mse": Estimate(10.0**i, 10.0**i * 0.9, 10.0**i * 1.1, 3)})
                for i, s in enumerate(res.scenarios)
            ],
        }
    )
    text = render_markdown(pr.report(flipped, run), run)
    assert "NOT identical to the closed forms" in text and "On the GPU (H200)" in text and "10 times faster" in text
    assert "NOT linear in theta" in text and "the two solvers give different fits" in text
    assert "(each 95% CI below the next)" in text
