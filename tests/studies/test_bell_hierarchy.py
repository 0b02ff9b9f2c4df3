"""Study bell-hierarchy: network shape, targets, data, sweeps, baselines, and the session's smoke run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from learnability._progress import Progress
from learnability.config import config_to_toml
from learnability.engine import FixedSource
from learnability.report import fmt
from learnability.runner import resolve_config
from learnability.runs import RunWriter
from learnability.studies import StudyContext
from learnability.studies.bell_hierarchy import (
    SMOKE,
    STUDY,
    BellConfig,
    BellResults,
    SharedInputSource,
    build_model,
    build_targets,
    compute_baselines,
    legendre_features,
    linear_least_squares,
    make_data,
    polynomial_least_squares,
    sweep_design,
    target_names,
)
from learnability.targets import (
    bell_polynomial,
    check_scrambled,
    format_permutation,
    monomial_exponents,
    monomial_features,
    scramble,
)

SPEC_PARAMS = 6 * 50 + 50 + 8 * (50 * 50 + 50) + 50 + 1  # = 20,801


# ------------------------------------------------------------------------------ network


def test_network_has_ten_linear_layers_eight_skips_and_20801_parameters() -> None:
    model = build_model(BellConfig())
    spec = model.spec
    assert SPEC_PARAMS == 20_801
    assert spec.dims == (6,) + (50,) * 9 + (1,)
    assert spec.n_layers == 10
    assert spec.skips == (False,) + (True,) * 8 + (False,)
    assert spec.n_params == SPEC_PARAMS
    params = model.init([0, 1])
    assert len(params) == 20
    assert sum(p[0].numel() for p in params) == SPEC_PARAMS
    assert [tuple(p.shape[1:]) for p in params[:10]] == [(6, 50)] + [(50, 50)] * 8 + [(50, 1)]


def test_network_computes_input_layer_eight_residual_blocks_and_output() -> None:
    """Against a hand-written forward pass: a network that silently kept one block would differ."""
    model = build_model(BellConfig())
    params = model.init([3])
    W, b = params[:10], params[10:]
    x = torch.rand(7, 6, generator=torch.Generator().manual_seed(0)) * 2
    h = torch.relu(x @ W[0][0] + b[0][0])
    for layer in range(1, 9):
        h = h + torch.relu(h @ W[layer][0] + b[layer][0])
    expected = h @ W[9][0] + b[9][0]
    got = model.predict(params, x)[0]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    # dropping the last hidden block changes the output: the test can fail
    h_short = torch.relu(x @ W[0][0] + b[0][0])
    for layer in range(1, 8):
        h_short = h_short + torch.relu(h_short @ W[layer][0] + b[layer][0])
    assert not torch.allclose(h_short @ W[9][0] + b[9][0], got, atol=1e-4)


def test_depth_and_width_are_configurable() -> None:
    spec = build_model(BellConfig(model={"hidden_layers": 3, "width": 20})).spec
    assert spec.n_layers == 5 and sum(spec.skips) == 3
    assert spec.n_params == 6 * 20 + 20 + 3 * (20 * 20 + 20) + 20 + 1


# ------------------------------------------------------------------------------ config


def test_defaults_are_the_spec_and_smoke_is_small() -> None:
    cfg = BellConfig()
    assert cfg.data.order == 6 and cfg.data.n_train >= 100_000 and cfg.data.n_test >= 60_000
    assert cfg.train.batch_size == 20 and cfg.train.epochs >= 30 and cfg.train.seeds >= 3
    assert cfg.train.lr_points >= 8 and cfg.train.lr_high / cfg.train.lr_low >= 100
    assert cfg.train.lr_schedule == "cosine" and cfg.train.compile and not cfg.data.standardize_targets
    assert cfg.analysis.n_base >= 50 and cfg.analysis.grid_points >= 200
    smoke = BellConfig.model_validate(SMOKE)
    assert smoke.data.n_train * smoke.train.epochs <= 10_000 and not smoke.train.compile
    with pytest.raises(ValueError, match="lr_high"):
        BellConfig(train={"lr_low": 1e-2, "lr_high": 1e-3})


# ------------------------------------------------------------------------------ targets and data


@pytest.mark.parametrize("seed", [0, 1, 2, 7])
def test_study_scrambled_target_passes_check_scrambled(seed: int) -> None:
    result = build_targets(BellConfig(seed=seed))
    assert result.original == bell_polynomial(6)
    assert check_scrambled(result.original, result) == []
    assert result.scrambled != result.original and result.scrambled.depends_on_all


def test_scramble_seed_override_and_default_from_run_seed() -> None:
    fixed = build_targets(BellConfig(data={"scramble_seed": 11}))
    assert fixed.scrambled == scramble(bell_polynomial(6), seed=11).scrambled
    by_root = {build_targets(BellConfig(seed=s)).scrambled for s in range(4)}
    assert len(by_root) > 1  # the default scrambling follows the run's seed


def test_data_ranges_sizes_targets_and_independent_draws() -> None:
    res = build_targets(BellConfig())
    polys = [res.original, res.scrambled]
    d = make_data(polys, n_train=3000, n_test=1000, seed_train=1, seed_test=2)
    assert d.x_train.shape == (3000, 6) and d.x_test.shape == (1000, 6)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.float64
    assert d.y_train.shape == (2, 3000) and d.y_test.shape == (2, 1000)
    for x in (d.x_train, d.x_test):
        assert float(x.min()) >= 0.0 and float(x.max()) < 2.0
        assert abs(float(x.mean()) - 1.0) < 0.05 and abs(float(x.var()) - 1 / 3) < 0.03  # U[0, 2]
    # independent draws: no test point repeats a training point
    assert not (d.x_test[:, None, :] == d.x_train[None, :, :]).all(-1).any()
    for g, p in enumerate(polys):
        torch.testing.assert_close(d.y_train[g], p(d.x_train.double())[:, 0])
        torch.testing.assert_close(d.y_test[g], p(d.x_test.double())[:, 0])
    with pytest.raises(ValueError, match="different from seed_train"):
        make_data(polys, n_train=10, n_test=10, seed_train=3, seed_test=3)


def test_shared_input_source_member_stream_depends_only_on_its_seed_and_target() -> None:
    n = 205
    x = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 6)  # row i holds i
    y = torch.stack([x[:, :1], 1000 + x[:, :1]])  # target g of row i: 1000 g + i
    src = SharedInputSource(x, y, [0, 1, 1], batch_size=20)
    src.start([5, 6, 7], "cpu")
    other = SharedInputSource(x, y, [1, 0, 1], batch_size=20)
    other.start([9, 9, 7], "cpu")
    ref = FixedSource(x, y[1], batch_size=20)
    ref.start([7], "cpu")
    for _ in range(25):  # 2.5 epochs: reshuffles included
        (xa, ya), (xb, yb), (xr, yr) = src.next(), other.next(), ref.next()
        assert xa.shape == (3, 20, 6) and ya.shape == (3, 20, 1)
        # member 2: the same stream as a lone FixedSource, whatever the other members are
        assert torch.equal(xa[2], xr[0]) and torch.equal(ya[2], yr[0])
        assert torch.equal(xb[2], xr[0]) and torch.equal(yb[2], yr[0])
        # every member gets its own target's labels of its own inputs
        torch.testing.assert_close(ya[:, :, 0], xa[:, :, 0] + 1000 * torch.tensor([[0.0], [1.0], [1.0]]))
    with pytest.raises(ValueError, match="seeds"):
        src.start([1, 2], "cpu")


# ------------------------------------------------------------------------------ sweeps


def test_study_sweep_inputs_hold_the_other_coordinates_fixed() -> None:
    base, grid, inputs = sweep_design(6, n_base=5, grid_points=201, seed=3)
    assert base.shape == (5, 6) and inputs.shape == (5, 6, 201, 6)
    assert float(grid[0]) == 0.0 and float(grid[-1]) == 2.0 and len(grid) == 201
    assert torch.allclose(grid.diff(), torch.full((200,), 0.01, dtype=torch.float64))
    for m in range(5):
        for v in range(6):
            assert torch.equal(inputs[m, v, :, v], grid)
            others = [j for j in range(6) if j != v]
            assert torch.equal(inputs[m, v][:, others], base[m, others].expand(201, 5))


# ------------------------------------------------------------------------------ baselines


def test_polynomial_least_squares_recovers_b6_and_its_twin_to_machine_precision() -> None:
    res = build_targets(BellConfig())
    d = make_data([res.original, res.scrambled], n_train=1500, n_test=500, seed_train=4, seed_test=5)
    base = compute_baselines(d, degree=6)
    for b in base:
        assert b["poly6"] < 1e-20
        assert 0.1 < b["linear"] < 0.4  # calibration: linear ~0.21 for B6
        assert 0.99 < b["mean"] < 1.02
    # a degree-5 fit cannot represent the degree-6 targets
    deg5 = polynomial_least_squares(d.x_train.double(), d.y_train.T, d.x_test.double(), degree=5)
    rel5 = ((deg5 - d.y_test.T) ** 2).mean(0) / d.y_test.var(1, correction=0)
    assert (rel5 > 1e-12).all()  # ~1e-8: close, but far from the exact fit's rounding error


def test_polynomial_least_squares_equals_the_monomial_least_squares_reference() -> None:
    g = torch.Generator().manual_seed(2)
    x = 2 * torch.rand(200, 3, generator=g, dtype=torch.float64)
    xt = 2 * torch.rand(50, 3, generator=g, dtype=torch.float64)
    y = torch.randn(200, 2, generator=g, dtype=torch.float64)  # noise: not in the span
    got = polynomial_least_squares(x, y, xt, degree=3, chunk_rows=37)
    exps = monomial_exponents(3, 3)
    coef = np.linalg.lstsq(monomial_features(x.numpy(), exps), y.numpy(), rcond=None)[0]
    np.testing.assert_allclose(got.numpy(), monomial_features(xt.numpy(), exps) @ coef, rtol=1e-8, atol=1e-9)
    # the basis is orthonormal under U[0, 2]^n: F^T F / N is close to the identity
    f = legendre_features(
        2 * torch.rand(200_000, 2, generator=g, dtype=torch.float64), torch.tensor(monomial_exponents(2, 3))
    )
    torch.testing.assert_close(f.T @ f / f.shape[0], torch.eye(f.shape[1], dtype=torch.float64), atol=0.05, rtol=0)


def test_linear_least_squares_equals_numpy_lstsq() -> None:
    g = torch.Generator().manual_seed(1)
    x, xt = torch.rand(100, 4, generator=g), torch.rand(10, 4, generator=g)
    y = torch.randn(100, 2, generator=g, dtype=torch.float64)
    a = np.hstack([x.double().numpy(), np.ones((100, 1))])
    w = np.linalg.lstsq(a, y.numpy(), rcond=None)[0]
    np.testing.assert_allclose(
        linear_least_squares(x, y, xt).numpy(), np.hstack([xt.double().numpy(), np.ones((10, 1))]) @ w, rtol=1e-10
    )


# ------------------------------------------------------------------------------ the smoke run


def _is_float(v: object) -> bool:
    return isinstance(v, float) and math.isfinite(v)


# The flat keys of summary.json that examples/bell_hierarchy.ipynb and users read.
LEGACY_TARGET_KEYS = ("lr", "seeds", "epochs", "test_rel_mse", "test_rel_mse_ci", "test_mse", "test_mse_ci")
LEGACY_COMPARISON_KEYS = ("rel_mse_ratio", "rel_mse_ratio_ci", "seeds_scrambled_worse", "seeds")


def test_smoke_summary_has_the_issue_schema(smoke_run) -> None:
    run = smoke_run("bell-hierarchy")
    res: BellResults = run.results
    names = target_names(6)
    assert res.study == "bell-hierarchy" and set(res.targets) == set(names) == set(res.baselines)
    smoke = BellConfig.model_validate(SMOKE)
    for name in names:
        t = res.targets[name]
        assert "x6" in t.polynomial
        assert _is_float(t.lr) and t.lr > 0
        assert t.epochs == smoke.train.epochs and t.seeds == smoke.train.seeds
        for value in (t.test_mse, t.test_rel_mse, t.train_mse):
            assert _is_float(value) and value > 0
        assert all(_is_float(v) for v in t.test_mse_ci)
        assert t.test_mse_ci[0] <= t.test_mse <= t.test_mse_ci[1]
        # relative = raw / Var(y_test), seed by seed
        np.testing.assert_allclose(
            np.asarray(t.test_rel_mse_per_seed) * t.test_target_var, t.test_mse_per_seed, rtol=1e-9
        )
        assert set(t.sweep) == {f"x{i}" for i in range(1, 7)}
        for v in t.sweep.values():
            assert _is_float(v.mae) and v.mae >= 0 and -1 <= v.corr <= 1
        assert len(t.sobol.target) == 6 and len(t.sobol.model) == 6
        assert all(_is_float(v) for v in t.sobol.target + t.sobol.model)
        b = res.baselines[name]
        assert b.degree == 6 and all(_is_float(v) for v in (b.mean, b.linear, b.poly))
        assert b.poly < 1e-18 < b.linear < b.mean
        # summary.json keeps the flat keys users read (and poly6, not poly/degree)
        assert set(run.summary["baselines"][name]) == {"mean", "linear", "poly6"}
        assert all(k in run.summary["targets"][name] for k in LEGACY_TARGET_KEYS)
    assert all(k in run.summary["comparison"] for k in LEGACY_COMPARISON_KEYS)
    # the targets are B6 and the study's valid scrambling of it
    scr = build_targets(BellConfig.model_validate(SMOKE))
    assert res.targets[names[0]].polynomial == str(bell_polynomial(6))
    assert res.targets[names[1]].polynomial == str(scr.scrambled)
    assert [tuple(p) for p in res.scramble.permutations] == list(scr.permutations)
    assert res.network.model_dump() == {
        "linear_layers": 10,
        "skips": 8,
        "params": 20_801,
        "dims": [6] + [50] * 9 + [1],
    }
    # B6: x1 and x2 dominate, x5 and x6 are nearly flat (exact indices: 0.60, 0.28, ..., ~1e-3)
    sob = res.targets[names[0]].sobol.target
    assert min(sob[0], sob[1]) > 0.15 and max(abs(sob[4]), abs(sob[5])) < 0.02


def test_sweep_extensions_train_their_own_target(smoke_run) -> None:
    """A grid extension of target g trains target g: its members start from the sweep's shared
    initialisation, so at step 0 they have the initial-grid members' error on g's test set."""
    run = smoke_run("bell-hierarchy")
    members = run.load_table(BellResults.MEMBERS)
    step0 = run.series("test_mse").query("step == 0")
    extensions = members[members["tag"].str.contains("/ext")]
    assert not extensions.empty  # the smoke size extends the grid (the best rate is on the edge)
    for tag, ext in extensions.groupby("tag"):
        target = ext["target"].iloc[0]
        assert tag.startswith(f"sweep/{target}/ext")
        grid = members[(members["tag"] == "sweep") & (members["target"] == target)]["member"]
        initial = step0[(step0["tag"] == "sweep") & step0["member"].isin(grid)]["value"]
        extended = step0[(step0["tag"] == tag)]["value"]
        np.testing.assert_allclose(extended.to_numpy(), initial.iloc[0], rtol=1e-6)


def test_smoke_report_quotes_numbers_and_both_polynomials(smoke_run) -> None:
    run = smoke_run("bell-hierarchy")
    res: BellResults = run.results
    report = (run.path / "report.md").read_text()
    for t in res.targets.values():
        assert t.polynomial in report and t.polynomial_latex in report
        assert fmt(t.test_rel_mse) in report and fmt(t.lr) in report
    assert fmt(res.comparison.rel_mse_ratio) in report
    assert "20,801 parameters" in report
    for perm in res.scramble.permutations:  # the scrambling is printed
        assert f"| {format_permutation(perm)} |" in report
    for fig in ("learning_curves", "lr_sweep", "sweep_single", "sweep_errors", "sobol"):
        assert (run.figures_dir / f"{fig}.png").stat().st_size > 1000
        assert f"figures/{fig}.png" in report


def test_same_seed_gives_the_same_summary(smoke_run, tmp_path: Path) -> None:
    """The study's run function again, with the smoke config, in a fresh folder (no report: the
    CLI path is covered above) must give the CLI run's summary, number for number."""
    cfg = resolve_config(STUDY, smoke=True)
    assert cfg.seed == 0  # the seed of the session's smoke run
    writer = RunWriter(tmp_path / "again", study=STUDY.name, config=cfg, config_toml=config_to_toml(cfg))
    ctx = StudyContext(writer=writer, progress=Progress(enabled=False), device=torch.device("cpu"), root_seed=cfg.seed)
    results = STUDY.run(cfg, ctx)
    assert isinstance(results, BellResults)
    writer.finish(results.to_summary())  # closes the metrics file
    again = json.loads((tmp_path / "again" / "summary.json").read_text())
    first = json.loads((smoke_run("bell-hierarchy").path / "summary.json").read_text())
    for s in (first, again):
        s.pop("timing")
        s.pop("wall_seconds", None)
    assert first == again
