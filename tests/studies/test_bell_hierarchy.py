"""Study bell-hierarchy: network shape (both readings), targets (scrambles, the control), data,
continued training (successive halving), the across-scramble statistics on synthetic answers,
sweeps, baselines, and the session's smoke run (schema, report, sentences that follow the numbers)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from learnability._progress import Progress
from learnability.analysis import Estimate, sobol_indices
from learnability.config import config_to_toml
from learnability.engine import FixedSource
from learnability.report import fmt, render_markdown
from learnability.runner import resolve_config
from learnability.runs import RunWriter
from learnability.studies import StudyContext
from learnability.studies.bell_hierarchy import (
    SMOKE,
    STUDY,
    BellConfig,
    BellResults,
    SharedInputSource,
    across_scrambles,
    build_model,
    build_targets,
    compute_baselines,
    derangement,
    effect_regression,
    legendre_features,
    linear_least_squares,
    make_data,
    polynomial_least_squares,
    relabel_inputs,
    sweep_design,
    target_names,
)
from learnability.studies.bell_hierarchy import report as bell_report
from learnability.studies.bell_hierarchy.training import Member, prepare, train_members
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


def test_the_other_reading_has_nine_linear_layers_and_seven_skips() -> None:
    spec = build_model(BellConfig(model={"reading": "9_linear"})).spec
    assert spec.n_layers == 9 and spec.skips == (False,) + (True,) * 7 + (False,)
    assert spec.n_params == 6 * 50 + 50 + 7 * (50 * 50 + 50) + 50 + 1 == 18_251


def test_depth_and_width_are_configurable() -> None:
    spec = build_model(BellConfig(model={"hidden_layers": 3, "width": 20})).spec
    assert spec.n_layers == 5 and sum(spec.skips) == 3
    assert spec.n_params == 6 * 20 + 20 + 3 * (20 * 20 + 20) + 20 + 1


# ------------------------------------------------------------------------------ config


def test_defaults_are_the_spec_and_smoke_is_small() -> None:
    cfg = BellConfig()
    assert cfg.data.order == 6 and cfg.data.n_train >= 100_000 and cfg.data.n_test >= 60_000
    assert cfg.train.batch_size == 20 and cfg.train.epochs >= 30 and cfg.train.seeds >= 3
    assert cfg.train.lr_points >= 5 and cfg.train.lr_high / cfg.train.lr_low >= 100
    assert cfg.train.schedules[0] == "constant" and set(cfg.train.schedules) == {"constant", "cosine"}
    assert cfg.data.n_scrambles >= 8 and cfg.model.reading == "10_linear"
    assert cfg.train.compile and not cfg.data.standardize_targets
    assert cfg.analysis.n_base >= 50 and cfg.analysis.grid_points >= 200
    smoke = BellConfig.model_validate(SMOKE)
    assert smoke.data.n_train * smoke.train.epochs <= 10_000 and not smoke.train.compile
    with pytest.raises(ValueError, match="lr_high"):
        BellConfig(train={"lr_low": 1e-2, "lr_high": 1e-3})
    with pytest.raises(ValueError, match="seeds"):
        BellConfig(train={"seeds": 2})  # a t-interval over 2 seeds has one degree of freedom
    with pytest.raises(ValueError, match="halving_epochs"):
        BellConfig(train={"halving_epochs": [4, 4]})
    with pytest.raises(ValueError, match="scramble_seeds"):
        BellConfig(data={"n_scrambles": 2, "scramble_seeds": [1, 2, 3]})


# ------------------------------------------------------------------------------ targets and data


@pytest.mark.parametrize("seed", [0, 1])
def test_study_targets_are_b6_its_control_and_valid_distinct_scrambles(seed: int) -> None:
    tg = build_targets(BellConfig(seed=seed))
    assert tg.polys[0] == bell_polynomial(6) and len(tg.scrambles) == 8 and len(tg.polys) == 10
    assert tg.names[:3] == ["B6", "B6_control", "B6_scrambled"]
    for r in tg.scrambles:
        assert check_scrambled(r.original, r) == [] and r.scrambled.depends_on_all
    assert len({r.scrambled for r in tg.scrambles}) == 8 and len({r.seed for r in tg.scrambles}) == 8
    assert all(tg.control_sigma[j] != j for j in range(6))  # a derangement
    assert tg.polys[1] == relabel_inputs(tg.polys[0], tg.control_sigma) != tg.polys[0]


def test_scramble_seeds_override_and_default_from_run_seed() -> None:
    fixed = build_targets(BellConfig(data={"n_scrambles": 2, "scramble_seeds": [11, 12]}))
    assert [r.scrambled for r in fixed.scrambles] == [scramble(bell_polynomial(6), seed=s).scrambled for s in (11, 12)]
    by_root = {build_targets(BellConfig(seed=s, data={"n_scrambles": 2})).scrambles[0].scrambled for s in range(3)}
    assert len(by_root) > 1  # the default scramblings follow the run's seed


def test_control_is_the_same_task_and_a_scramble_is_not() -> None:
    """B6 relabelled by one permutation is B6 of permuted inputs (exactly), so with i.i.d. inputs it
    has B6's variance and B6's Sobol indices moved by the permutation; a scramble has neither."""
    b6 = bell_polynomial(6)
    sigma = derangement(6, seed=5)
    assert sorted(sigma) == list(range(6)) and all(sigma[j] != j for j in range(6))
    control = relabel_inputs(b6, sigma)
    x = 2 * torch.rand(4000, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(control(x), b6(x[:, list(sigma)]))  # the same function of relabelled inputs
    kw = {"low": 0.0, "high": 2.0, "n_samples": 2**13, "seed": 1}
    sb, sc = sobol_indices(b6, 6, **kw), sobol_indices(control, 6, **kw)
    moved_first = sc.first.numpy()[list(sigma)]
    np.testing.assert_allclose(moved_first, sb.first.numpy(), atol=0.02)
    np.testing.assert_allclose(sc.total.numpy()[list(sigma)], sb.total.numpy(), atol=0.02)
    big = 2 * torch.rand(200_000, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert float(control(big).var() / b6(big).var()) == pytest.approx(1.0, abs=0.02)
    scr = scramble(b6, seed=0).scrambled
    assert float(scr(big).var() / b6(big).var()) < 0.9  # the twin differs in variance ...
    s_scr = sobol_indices(scr, 6, **kw).first.numpy()
    assert np.abs(np.sort(s_scr) - np.sort(sb.first.numpy())).max() > 0.1  # ... and in its indices


def test_data_ranges_sizes_targets_and_independent_draws() -> None:
    tg = build_targets(BellConfig(data={"n_scrambles": 2}))
    polys = [tg.polys[0], tg.polys[2]]
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


def test_shared_input_source_resumes_a_stream_mid_run() -> None:
    n = 105  # 5 steps of 20 per epoch, 5 points skipped
    x = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 6)
    y = x[None, :, :1]
    whole = SharedInputSource(x, y, [0, 0], batch_size=20)
    whole.start([3, 4], "cpu")
    batches = [whole.next()[0] for _ in range(17)]
    for start in (5, 7, 10):  # an epoch boundary, mid-epoch, two epochs in
        resumed = SharedInputSource(x, y, [0, 0], batch_size=20, start_step=start)
        resumed.start([3, 4], "cpu")
        for b in batches[start:]:
            assert torch.equal(resumed.next()[0], b)


def test_a_continued_ensemble_is_the_uninterrupted_run() -> None:
    """Successive halving continues members: 1 epoch, then the survivors for 1 more from the
    checkpoint, equals 2 uninterrupted epochs (parameters and evaluations), for both schedules."""
    cfg = BellConfig.model_validate(
        {**SMOKE, "data": {**SMOKE["data"], "n_train": 400, "n_scrambles": 2}, "train": {**SMOKE["train"], "epochs": 2}}
    )
    tg = build_targets(cfg)
    data = make_data(tg.polys[:3], n_train=400, n_test=200, seed_train=1, seed_test=2)
    prep = prepare(data, cfg, torch.device("cpu"), 3)
    model = build_model(cfg)
    ctx = _NullContext()
    members = [Member(0, "constant", 1e-3), Member(1, "cosine", 3e-3), Member(2, "cosine", 1e-3)]
    kw = {"init_seeds": [5, 5, 5], "data_seeds": [6, 6, 6], "tag": "t"}
    whole, _ = train_members(model, prep, cfg, ctx, members=members, **kw)
    first, ck = train_members(model, prep, cfg, ctx, members=members, end_epoch=1, **kw)
    keep = [0, 2]
    second, _ = train_members(
        model, prep, cfg, ctx, members=[members[i] for i in keep], start=ck.select(keep), end_epoch=2,
        init_seeds=[5, 5], data_seeds=[6, 6], tag="t2",
    )  # fmt: skip
    assert ck.step == 20 and second.steps == 20
    for a, b in zip(whole.params, second.params, strict=True):
        torch.testing.assert_close(a[keep], b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        whole.evals["train_eval_rel"].values[-1, keep], second.evals["train_eval_rel"].values[-1], rtol=1e-4
    )
    # the rate matters: a member stopped after one epoch is not the two-epoch member
    assert not torch.allclose(first.params[0][keep], second.params[0])


class _PlanRecorder(Progress):
    """A silent progress that records the phases and every total the bar would show."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.phases: list[str] = []
        self.totals: list[int] = []

    def phase(self, name: str) -> None:
        self.phases.append(name)
        super().phase(name)

    def update(self, n: int) -> None:
        super().update(n)
        self.totals.append(self._planned if self._planned is not None else -1)


class _NullContext:
    """What train_members needs of a StudyContext: a writer that drops records, no progress bar."""

    class _Writer:
        def log(self, *a: object, **k: object) -> None: ...

        def log_block(self, *a: object, **k: object) -> None: ...

    writer = _Writer()
    progress = Progress(enabled=False)


# ------------------------------------------------------------------------------ statistics


def test_across_scramble_interval_on_synthetic_ratios_with_a_known_answer() -> None:
    """Scramble j's errors are B6's times exp(mu + u_j + e_ji): the estimate is exp(mean log ratio),
    the interval is the t-interval over scrambles, and it covers exp(mu) ~95% of the time."""
    rng = np.random.default_rng(0)
    b6 = np.array([1e-5, 2e-5, 0.5e-5])
    u = np.array([0.3, -0.2, 0.5, 0.1, -0.4, 0.2, 0.0, 0.6])
    scr = b6[None, :] * np.exp(1.0 + u[:, None])  # no seed noise: each scramble's ratio is exp(1 + u_j)
    across, welch, per = across_scrambles(scr, b6)
    np.testing.assert_allclose(per, np.exp(1.0 + u))
    t = 2.3646242510102993  # t_{0.975, 7}
    half = t * u.std(ddof=1) / np.sqrt(8)
    assert across.mean == pytest.approx(np.exp(1 + u.mean()))
    assert (across.low, across.high) == pytest.approx((np.exp(1 + u.mean() - half), np.exp(1 + u.mean() + half)))
    assert across.n == 8 and welch.mean == pytest.approx(across.mean)
    assert welch.high - welch.low > across.high - across.low  # B6's seed noise widens it
    # a common factor on B6 divides every ratio (it is not replication: the unit is the scramble)
    assert across_scrambles(scr, 2 * b6)[0].mean == pytest.approx(across.mean / 2)
    covered, reps = 0, 400
    for _ in range(reps):
        uj = rng.normal(0, 0.5, size=(8, 1))
        e = rng.normal(0, 0.3, size=(8, 3))
        est = across_scrambles(b6[None, :] * np.exp(0.7 + uj + e), b6)[0]
        covered += est.low < np.exp(0.7) < est.high
    assert 0.91 < covered / reps < 0.99


def test_effect_regression_recovers_a_known_line() -> None:
    d = np.array([2.5, 3.0, 3.6, 4.1, 4.8, 5.5])
    b6_dim = 2.9
    log_r = 0.4 + 0.25 * (d - b6_dim)
    reg = effect_regression(log_r, d, b6_dim, "constant")
    assert reg.slope_est.mean == pytest.approx(0.25) and reg.at_b6_est.mean == pytest.approx(np.exp(0.4))
    assert reg.correlation == pytest.approx(1.0) and not reg.extrapolated and reg.n == 6
    noisy = effect_regression(log_r + np.array([0.1, -0.1, 0.05, -0.05, 0.1, -0.1]), d, 1.0, "cosine")
    assert noisy.extrapolated and noisy.at_b6_est.low < noisy.at_b6_est.mean < noisy.at_b6_est.high


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
    tg = build_targets(BellConfig(data={"n_scrambles": 2}))
    d = make_data([tg.polys[0], tg.polys[2]], n_train=1500, n_test=500, seed_train=4, seed_test=5)
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
    smoke = BellConfig.model_validate(SMOKE)
    assert res.study == "bell-hierarchy" and list(res.targets) == list(names)  # the legacy pair
    tg = build_targets(smoke)
    assert set(res.baselines) == set(tg.names)
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
    for key in ("scrambles", "control", "schedules", "confounds"):
        assert key in run.summary
    # targets.B6_scrambled is the first scramble
    assert res.targets[names[0]].polynomial == str(bell_polynomial(6))
    assert res.targets[names[1]].polynomial == str(tg.scrambles[0].scrambled) == res.scrambles[0].polynomial
    assert [tuple(p) for p in res.scramble.permutations] == list(tg.scrambles[0].permutations)
    assert res.scramble.seed == res.scrambles[0].seed
    # every scramble: seed, permutations, a paired ratio per schedule whose values are its seeds' ratios
    assert [s.seed for s in res.scrambles] == [r.seed for r in tg.scrambles]
    for s in res.scrambles:
        assert set(s.ratios) == {"constant", "cosine"}
        for r in s.ratios.values():
            assert r.seeds == 3 and len(r.ratio_est.values) == 3 and r.ratio > 0
    for sched, eff in res.schedules.items():
        per = [s.ratios[sched].ratio for s in res.scrambles]
        assert eff.n_scrambles == 3 and eff.harder == sum(p > 1 for p in per)
        assert eff.across == pytest.approx(float(np.exp(np.mean(np.log(per)))))
        assert eff.across_est.n == 3  # the unit is the scramble, not the seed
    # the control: the same task (variance within sampling noise of 1,000 test points)
    assert res.control.variance_ratio == pytest.approx(1.0, abs=0.15)
    assert sorted(res.control.permutation) == list(range(6))
    cf = res.confounds
    assert set(cf.targets) == set(tg.names) and set(cf.regressions) == {"constant", "cosine"}
    for st in cf.targets.values():
        assert 1 <= st.effective_dim <= 6 + 0.5 and -0.2 < st.interaction_share < 1
    assert cf.targets["B6_control"].effective_dim == pytest.approx(cf.targets["B6"].effective_dim, rel=0.2)
    assert res.network.model_dump() == {
        "linear_layers": 10,
        "skips": 8,
        "params": 20_801,
        "dims": [6] + [50] * 9 + [1],
        "reading": "10_linear",
    }
    # B6: x1 and x2 dominate, x5 and x6 are nearly flat (exact indices: 0.60, 0.28, ..., ~1e-3)
    sob = res.targets[names[0]].sobol.target
    assert min(sob[0], sob[1]) > 0.15 and max(abs(sob[4]), abs(sob[5])) < 0.02
    # the halving: every (schedule, target) has one chosen rate, trained for all rungs
    table = run.load_table(BellResults.LR_SWEEP)
    chosen = table[table["chosen"]]
    assert len(chosen) == 2 * len(tg.names) and (chosen["rungs"] == len(smoke.train.halving_epochs)).all()


def test_smoke_report_quotes_numbers_and_every_target(smoke_run) -> None:
    run = smoke_run("bell-hierarchy")
    res: BellResults = run.results
    report = (run.path / "report.md").read_text()
    for t in res.targets.values():
        assert t.polynomial in report and t.polynomial_latex in report
        assert fmt(t.test_rel_mse) in report and fmt(t.lr) in report
    assert fmt(res.comparison.rel_mse_ratio) in report
    assert "20,801 parameters" in report and "10 linear layers (1 input + 8 residual hidden" in report
    for perm in res.scramble.permutations:  # the first scrambling is printed
        assert f"| {format_permutation(perm)} |" in report
    for s in res.scrambles:
        assert s.polynomial in report and str(s.seed) in report
    assert res.control.polynomial in report
    for e in res.schedules.values():
        assert f"holds in {e.harder} of {e.n_scrambles}" in report
    for fig in (
        "learning_curves", "lr_sweep", "sweep_single", "sweep_errors", "sobol", "ratio_distribution", "confounds"
    ):  # fmt: skip
        assert (run.figures_dir / f"{fig}.png").stat().st_size > 1000
        assert f"figures/{fig}.png" in report


def _est(mean: float, low: float, high: float) -> Estimate:
    return Estimate(mean, low, high, 8)


def test_sentences_follow_the_numbers(smoke_run) -> None:
    """The per-schedule findings flip with the across-scramble interval, the control's, and the
    regression at B6's effective dimension."""
    run = smoke_run("bell-hierarchy")
    res: BellResults = run.results

    def with_numbers(across: Estimate, welch: Estimate, control: Estimate, at_b6: Estimate) -> str:
        sched = {
            s: e.model_copy(update={"across_est": across, "across_with_b6_noise_est": welch})
            for s, e in res.schedules.items()
        }
        ctrl = res.control.model_copy(
            update={"ratios": {s: r.model_copy(update={"ratio_est": control}) for s, r in res.control.ratios.items()}}
        )
        regs = {s: r.model_copy(update={"at_b6_est": at_b6}) for s, r in res.confounds.regressions.items()}
        flipped = res.model_copy(
            update={
                "schedules": sched,
                "control": ctrl,
                "confounds": res.confounds.model_copy(update={"regressions": regs}),
            }
        )
        return render_markdown(bell_report(flipped, run), run)

    text = with_numbers(_est(4.0, 2.5, 6.4), _est(4.0, 1.5, 10.0), _est(1.1, 0.6, 2.0), _est(3.0, 1.4, 6.0))
    assert "The scrambled twins are harder to learn than B6: 4x [2.5, 6.4]" in text
    assert "still above 1" in text and "contains 1, as it must" in text
    assert "survives the effective-dimension confound" in text
    assert "The effect does not depend on the schedule" in text
    text = with_numbers(_est(4.0, 2.5, 6.4), _est(4.0, 0.8, 20.0), _est(1.1, 0.6, 2.0), _est(1.5, 0.5, 4.5))
    assert "suggestive, not established" in text and "the effect is not established" in text
    text = with_numbers(_est(1.2, 0.7, 2.0), _est(1.2, 0.6, 2.4), _est(1.6, 1.2, 2.1), _est(1.2, 0.5, 3.0))
    assert "No difference is established" in text and "harder to learn than B6" not in text
    assert "its interval excludes 1, so the comparison carries noise" in text
    text = with_numbers(_est(0.5, 0.3, 0.8), _est(0.5, 0.2, 1.2), _est(1.0, 0.6, 1.6), _est(0.5, 0.3, 0.9))
    assert "the scrambled twins are *easier*" in text


def test_same_seed_gives_the_same_summary(smoke_run, tmp_path: Path) -> None:
    """The study's run function again, with the smoke config, in a fresh folder (no report: the
    CLI path is covered above) must give the CLI run's summary, number for number."""
    cfg = resolve_config(STUDY, smoke=True)
    assert cfg.seed == 0  # the seed of the session's smoke run
    writer = RunWriter(tmp_path / "again", study=STUDY.name, config=cfg, config_toml=config_to_toml(cfg))
    progress = _PlanRecorder()
    progress.plan(STUDY.plan(cfg))  # as the runner does
    ctx = StudyContext(writer=writer, progress=progress, device=torch.device("cpu"), root_seed=cfg.seed)
    results = STUDY.run(cfg, ctx)
    assert isinstance(results, BellResults)
    # The bar's total is the whole run's from the start: it never grows (the bar never jumps
    # back), only shrinks where members stop early, and the run ends at 100%; phases are named.
    R = len(cfg.train.halving_epochs)
    assert [ph.split(":")[0] for ph in progress.phases] == [f"sweep rung {r}/{R}" for r in range(1, R + 1)] + ["final"]
    assert progress.totals[0] == STUDY.plan(cfg) == (2 + 2) * (2000 // 20)  # smoke: rungs to epoch 2, 2 epochs
    assert all(b <= a for a, b in zip(progress.totals, progress.totals[1:], strict=False))
    assert progress._done == progress._planned
    writer.finish(results.to_summary())  # closes the metrics file
    again = json.loads((tmp_path / "again" / "summary.json").read_text())
    first = json.loads((smoke_run("bell-hierarchy").path / "summary.json").read_text())
    for s in (first, again):
        s.pop("timing")
        s.pop("wall_seconds", None)
    assert first == again


def test_an_absurd_training_set_is_refused_before_any_work(tmp_path) -> None:
    from typer.testing import CliRunner

    from learnability.cli import app

    out = tmp_path / "o"
    res = CliRunner().invoke(
        app, ["run", "bell-hierarchy", "--smoke", "--set", "data.n_train=1000000000", "--out", str(out)]
    )
    assert res.exit_code == 2 and "'data.n_train'" in res.output and "fit in memory" in res.output
    assert not out.exists() or not any(out.iterdir())


def test_headline_flags_a_target_whose_seeds_diverged(smoke_run) -> None:
    """B6's headline number is flagged when seeds diverged (it pools fewer seeds), not otherwise."""
    run = smoke_run("bell-hierarchy")
    res = run.results
    name = res.names[0]
    key = f"{name} rel. test MSE ({res.primary})"
    clean = res.model_copy(
        update={"targets": {**res.targets, name: res.targets[name].model_copy(update={"diverged_seeds": 0})}}
    )
    assert key not in STUDY.report(clean, run).flags
    bad = res.model_copy(
        update={"targets": {**res.targets, name: res.targets[name].model_copy(update={"diverged_seeds": 2})}}
    )
    assert STUDY.report(bad, run).flags[key] == f"did not converge: 2 of {res.targets[name].seeds} seeds diverged"
