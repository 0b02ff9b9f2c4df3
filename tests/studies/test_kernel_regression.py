"""The kernel-regression study (Lab 2, exercises 1-2): linear fits against known answers and
scikit-learn, cross-validated kernel ridge on the periodic data, and a smoke run through the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.linear_model import Ridge
from typer.testing import CliRunner

from learnability import load_run
from learnability.cli import app
from learnability.report import fmt
from learnability.studies import kernel_regression as kr
from learnability.studies._kernel_common import fmt_est

runner = CliRunner()


def test_smoke_run_through_cli(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", "kernel-regression", "--smoke", "--out", str(tmp_path), "--no-progress"])
    assert res.exit_code == 0, res.output
    run = load_run(res.output.strip().splitlines()[-1])
    assert run.complete
    s = run.summary
    for key in (
        "no_intercept_slope",
        "with_intercept_slope",
        "with_intercept_intercept",
        "ridge_slope",
        "test_mse_krr",
        "test_mse_linear",
        "cv_alpha_positive_fraction",
        "alpha0_singular_fits",
        "noise_variance",
        "linear_over_krr_test_mse",
    ):
        assert key in s
    md = (run.path / "report.md").read_text()
    assert fmt_est(s["no_intercept_slope"], 4) in md
    assert fmt_est(s["test_mse_krr"]) in md and fmt_est(s["test_mse_linear"]) in md
    assert fmt(s["no_intercept_slope_limit"]) in md
    for name in ("linear_fits", "periodic_fit", "cross_validation", "test_mse"):
        assert (run.figures_dir / f"{name}.png").exists()


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
        assert res["alpha"] > 0
        assert res["n_singular"] > 0  # alpha = 0 is numerically singular, as the lab's sigma = 1 shows
        assert res["test_mse_krr"] < res["test_mse_linear"] / 2
        assert res["test_mse_krr"] < 3 * cfg.noise_scale**2 / 12  # near the noise floor 16/12
        # CV only saw the training split: its folds cover exactly the training indices.
        assert len(set(res["train"]) & set(res["test"])) == 0


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
        summary = study.run(cfg, ctx)
        writer.finish(summary)  # closes metrics.jsonl
        out.append(summary)
    assert out[0] == out[1]
    assert out[0]["test_mse_krr"]["mean"] > 0
