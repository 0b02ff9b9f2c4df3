"""The kernel-regression study (Lab 2, exercises 1-2): linear fits against known answers and
scikit-learn, cross-validated kernel ridge on the periodic data, the smoke run's report, and report
sentences that follow the numbers and the settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from sklearn.linear_model import Ridge

from learnability.analysis import Estimate
from learnability.report import fmt, fmt_est, render_markdown
from learnability.studies import kernel_regression as kr


def test_smoke_run_reports_its_numbers(smoke_run) -> None:
    run = smoke_run("kernel-regression")
    res = run.results
    assert isinstance(res, kr.KernelRegressionResults)
    assert res.test_mse_krr.n == res.seeds == len(res.chosen_sigma)
    md = (run.path / "report.md").read_text()
    assert fmt_est(res.no_intercept_slope, 4) in md
    assert fmt_est(res.test_mse_krr) in md and fmt_est(res.test_mse_linear) in md
    assert fmt(res.no_intercept_slope_limit) in md
    for name in ("linear_fits", "periodic_fit", "cross_validation", "test_mse"):
        assert (run.figures_dir / f"{name}.png").exists()


def test_sentences_follow_the_numbers(smoke_run) -> None:
    """The findings flip when the numbers or the settings do: the no-intercept bias, the recovered
    line, ridge's shrinkage, a singular Gram matrix, and the noise the config draws."""
    run = smoke_run("kernel-regression")
    res = run.results
    text = render_markdown(kr.report(res, run), run)
    for finding in (
        "it absorbs the offset",
        "recovers slope",
        "— negligible",
        "numerically singular",
        "explain why alpha = 0 is singular",
        "The noise 4 U[0, 1] has variance 1.33",
        "variance of 4 U[0, 1]",
    ):
        assert finding in text, finding
    n = run.config.periodic.n
    flipped = res.model_copy(
        update={
            "no_intercept_slope": Estimate(2.0, 1.9, 2.1, 3),
            "with_intercept_intercept": Estimate(40.0, 39.0, 41.0, 3),
            "ridge_alpha": 1e5,
            "gram_numerical_rank": n,
            "alpha0_singular_fits": 0,
            "noise_variance": 1.0 / 3.0,
        }
    )
    # The noise is a setting: a run drawn with 2 U[0, 1] says so.
    periodic = run.config.periodic.model_copy(update={"noise_scale": 2.0})
    run2 = dataclasses.replace(run, config=run.config.model_copy(update={"periodic": periodic}))
    text = render_markdown(kr.report(flipped, run2), run2)
    for finding in (
        "there is no offset to absorb",
        "recovers slope 2.010 [1.970, 2.049] but misses intercept",
        "a visible shrinkage",
        "K is numerically invertible",
        "succeeded in all",
        "alpha = 0 is not singular there",
        "The noise 2 U[0, 1] has variance 0.333",
        "variance of 2 U[0, 1]",
    ):
        assert finding in text, finding
    assert "4 U[0, 1]" not in text and "it absorbs the offset" not in text


def test_linear_fits_known_answers() -> None:
    cfg = kr.LinearSection()
    out = kr.linear_experiment(cfg, np.random.default_rng(7))
    # Without intercept the slope tends to a + b E[x] / E[x^2] = 4.49 on U[2, 30].
    assert abs(kr.no_intercept_slope_limit(cfg) - 4.4896) < 1e-3
    assert abs(out["no_intercept_slope"] - kr.no_intercept_slope_limit(cfg)) < 0.3
    assert abs(out["with_intercept_slope"] - 2.0) < 0.05
    assert abs(out["with_intercept_intercept"] - 50.0) < 1.5
    # Ridge with an unpenalised intercept is scikit-learn's Ridge on the same data.
    rng = np.random.default_rng(7)
    x = rng.uniform(cfg.x_low, cfg.x_high, cfg.n)
    y = rng.normal(cfg.slope * x + cfg.intercept, cfg.noise_sd)
    ref = Ridge(alpha=cfg.ridge_alpha).fit(x[:, None], y)
    assert abs(out["ridge_slope"] - ref.coef_[0]) < 1e-10
    assert abs(out["ridge_intercept"] - ref.intercept_) < 1e-8


def test_cv_picks_positive_alpha_and_beats_linear() -> None:
    cfg = kr.PeriodicSection(num_sigma=7, num_alpha=6)  # coarser grid, same range, alpha = 0 included
    for seed in (0, 1):
        res = kr.periodic_experiment(cfg, data_seed=seed, split_seed=10 + seed, cv_seed=20 + seed)
        assert res.alpha > 0
        assert res.n_singular > 0  # alpha = 0 is numerically singular, as the lab's sigma = 1 shows
        assert res.test_mse_krr < res.test_mse_linear / 2
        assert res.test_mse_krr < 3 * cfg.noise_variance  # near the noise floor 16/12
        # CV only saw the training split: its folds cover exactly the training indices.
        assert len(set(res.train) & set(res.test)) == 0
        assert "cv" not in res.row() and "x" not in res.row() and res.row()["alpha"] == res.alpha


def test_same_seed_same_numbers(tmp_path: Path) -> None:
    import torch

    from learnability._progress import Progress
    from learnability.config import config_to_toml
    from learnability.runner import resolve_config
    from learnability.runs import RunWriter
    from learnability.studies import StudyContext, get_study

    study = get_study("kernel-regression")
    cfg = resolve_config(study, smoke=True)
    out = []
    for i in range(2):
        writer = RunWriter(tmp_path / f"r{i}", study=study.name, config=cfg, config_toml=config_to_toml(cfg))
        ctx = StudyContext(
            writer=writer, progress=Progress(enabled=False), device=torch.device("cpu"), root_seed=cfg.seed
        )
        results = study.run(cfg, ctx)
        writer.finish(results.to_summary())  # closes metrics.jsonl
        out.append(results)
    assert out[0] == out[1]
    assert out[0].test_mse_krr.mean > 0


def test_primal_equals_dual_where_the_inverses_exist() -> None:
    import numpy as np

    from learnability.studies.kernel_regression.config import LinearSection
    from learnability.studies.kernel_regression.dual import primal_dual

    pd_ = primal_dual(LinearSection(), np.random.default_rng(0))
    assert pd_.wide_dual_vs_pinv < 1e-12 and pd_.wide_prediction_gap < 1e-12
    assert pd_.tall_dual_gram_rank == 2 < pd_.tall_n  # X X^T is singular with more points than features
    assert pd_.tall_dual_pinv_vs_primal < 1e-10


def test_primal_dual_and_centring_sentences_follow_the_numbers(smoke_run) -> None:
    from learnability.report import render_markdown
    from learnability.studies import kernel_regression as kr

    run = smoke_run("kernel-regression")
    res = run.results
    text = render_markdown(kr.report(res, run), run)
    assert "Kernel ridge centres the targets" in text
    assert "Primal and dual agree to rounding" in text and "singular, so (X X^T)^-1 does not exist" in text
    off = res.primal_dual.model_copy(update={"wide_prediction_gap": 1e-3, "tall_dual_gram_rank": 100})
    flipped = render_markdown(kr.report(res.model_copy(update={"primal_dual": off}), run), run)
    assert "Primal and dual do NOT agree to rounding" in flipped and "does not exist there" not in flipped
