"""The implicit-bias study (Lab 8): GD limits against pinv and the projection formula, the rate and
the step-size bound, and the smoke run's report."""

from __future__ import annotations

import numpy as np

from learnability.report import fmt, render_markdown
from learnability.studies import implicit_bias as ib


def test_smoke_run_reports_its_numbers(smoke_run) -> None:
    run = smoke_run("implicit-bias")
    assert run.complete
    res = run.results
    assert isinstance(res, ib.ImplicitBiasResults)
    assert res.over_step_bound.has_interval and res.over_rho.n == res.seeds
    assert [r.fraction for r in res.step_size] == list(run.config.step_size.fractions)
    md = (run.path / "report.md").read_text()
    assert fmt(res.under_dist_zero_to_pinv_max) in md
    assert fmt(res.under_dist_w0_to_proj_max) in md
    assert fmt(res.step_bound_first) in md
    assert "equal to rounding: GD from 0 converges to the minimum-norm solution" in md
    for name in ("distance_to_solution", "weight_trajectories", "step_size"):
        assert (run.figures_dir / f"{name}.png").exists()


def test_sentences_follow_the_numbers(smoke_run) -> None:
    """The findings flip when the numbers do: the rate match, the untouched null space, the
    projection limit (text and caption) and the divergence above the step-size bound."""
    run = smoke_run("implicit-bias")
    res = run.results
    text = render_markdown(ib.report(res, run), run)
    for phrase in (
        " matches the measured",
        "is never touched",
        "converges to the projection of w0, and its distance to pinv(X) y levels off at",
        "depend on w0",
        "Above 2 / lambda_max the loss grows geometrically",
    ):
        assert phrase in text, phrase
    assert "NOT" not in text
    steps = [r.model_copy(update={"measured_factor": 0.9}) if r.fraction > 1 else r for r in res.step_size]
    flipped = res.model_copy(
        update={
            "over_rate_rel_gap_max": 0.5,
            "under_null_component_moved_max": 1.0,
            "under_dist_w0_to_proj_max": 1.0,
            "under_dist_w0_to_pinv": res.under_dist_w0_to_pinv.__class__.point(0.0),
            "step_size": steps,
        }
    )
    text = render_markdown(ib.report(flipped, run), run)
    assert "does NOT match the measured" in text and " matches the measured" not in text
    assert "DID move" in text and "is never touched" not in text
    assert "NOT equal: the claim fails here" in text
    assert "converges NOT to the projection of w0" in text and "does NOT level off at" in text
    assert "limits from 0 and from w0 coincide" in text
    assert "does NOT grow geometrically" in text


def test_gd_limit_is_pinv_and_projection_when_underdetermined() -> None:
    cfg = ib.UnderSection(m=15, n=40, steps=600)
    r = ib.underdetermined_experiment(cfg, seed=3)
    # Independent reference: numpy's pseudo-inverse.
    assert np.linalg.norm(r.w_pinv - np.linalg.pinv(r.X) @ r.y) < 1e-10
    w0_limit = r.w0 + np.linalg.pinv(r.X) @ (r.y - r.X @ r.w0)
    assert r.dist_zero_to_pinv < 1e-10
    assert np.linalg.norm(r.weights_w0[-1] - w0_limit) < 1e-10
    assert r.dist_w0_to_pinv > 1.0  # from w0 != 0, NOT the minimum-norm solution
    assert abs(r.dist_w0_to_pinv - r.null_component_w0) < 1e-10
    assert r.null_component_moved < 1e-10 and r.pythagoras_gap < 1e-9
    assert r.norm_gd_w0 > r.norm_pinv
    assert abs(r.measured_rate / r.rho - 1) < 0.02


def test_overdetermined_converges_at_the_predicted_rate() -> None:
    r = ib.overdetermined_experiment(ib.OverSection(m=300), seed=0)
    assert r.sq_dist_final < 1e-20
    assert abs(r.measured_rate / r.rho - 1) < 0.02
    assert r.sq_dist_lab > r.sq_dist_final


def test_step_size_bound() -> None:
    r = ib.overdetermined_experiment(ib.OverSection(m=300, steps=10), seed=1)
    runs = ib.step_size_runs(r.X, r.y, [0.5, 0.98, 1.02], steps=200)
    assert [x.warned for x in runs] == [False, False, True]
    assert runs[0].final_loss < 1e-20 and runs[1].final_loss < runs[1].losses[0]
    above = runs[2]
    assert above.losses[-1] > 1e3 * above.losses[0]  # diverges
    assert abs(above.measured_factor - above.top_mode_factor) < 1e-3
    assert above.top_mode_factor > 1


def test_lab_normal_equations_are_not_least_norm_with_more_weights_than_points() -> None:
    from learnability.studies.implicit_bias.parts import lab_normal_equations

    rng = np.random.default_rng(0)
    wide = rng.standard_normal((10, 30))  # n > m: X^T X is 30 x 30 of rank 10
    y = wide @ rng.standard_normal(30)
    out = lab_normal_equations(wide, y, np.linalg.pinv(wide) @ y, eps=1e-6)
    assert out["gram_rank"] == 10
    assert out["normal_eq_dist"] > 1e-3 or not np.isfinite(out["normal_eq_dist"])
    assert out["lab_ridge_dist"] < 1e-4  # ridge with a small eps tends to pinv(X) y
    tall = rng.standard_normal((30, 10))  # n < m: the formula is the (unique) least-squares solution
    y = tall @ rng.standard_normal(10)
    out = lab_normal_equations(tall, y, np.linalg.pinv(tall) @ y, eps=1e-6)
    assert out["gram_rank"] == 10 and out["normal_eq_dist"] < 1e-10 and out["normal_eq_residual"] < 1e-10


def test_normal_equations_sentence_follows_the_numbers(smoke_run) -> None:
    run = smoke_run("implicit-bias")
    res = run.results
    text = render_markdown(ib.report(res, run), run)
    assert "is not the least-norm solution here" in text and "< n: singular" in text
    assert fmt(res.under_lab_ridge_dist_max) in text
    exact = res.model_copy(
        update={"under_gram_rank_max": 60, "under_normal_eq_residual_min": 0.0, "under_normal_eq_dist_min": 0.0}
    )
    flipped = render_markdown(ib.report(exact, run), run)
    assert "agrees with pinv(X) y to rounding" in flipped and "singular" not in flipped
    refused = res.model_copy(update={"under_normal_eq_residual_min": float("inf")})
    assert "np.linalg.inv refuses it" in render_markdown(ib.report(refused, run), run)
