"""Study symmetry-discovery: smoke run, loss wiring through the engine's penalty, batched terms,
measurements."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from typer.testing import CliRunner

from learnability.cli import EXIT_CONFIG, app
from learnability.engine import Adam, FixedSource, TrainSpec, cross_entropy, train
from learnability.models import (
    OrbitClassifier,
    commutator_penalty,
    covariance,
    make_orbit_dataset,
    rotation_matrices,
    sort_regularizer,
)
from learnability.studies import get_study
from learnability.studies.symmetry_discovery import (
    ABLATIONS,
    ORBIT_CONFIG,
    OrbitEnsemble,
    SymmetryDiscoveryResults,
    SymmetryPenalty,
    batch_covariance,
    commutator_penalties,
    gramian_sort_penalty,
    ideal_orbit_classifier,
    member_grid,
    representation_invariance,
    weight_geometry,
)

runner = CliRunner()
F64 = torch.float64


def test_smoke_run_summary_report_and_figures(smoke_run) -> None:
    run = smoke_run("symmetry-discovery")
    res: SymmetryDiscoveryResults = run.results
    assert res.group_order == 12 and res.hidden == 12  # smoke: 30-degree steps
    assert set(res.ablation) == set(ABLATIONS)
    # 4 distinct (sort, commutator) pairs from sort_weights [0, 1] and the ablations, and the
    # orbit-consistency configuration, x 2 seeds.
    assert res.n_members == 5 * 2 and res.n_diverged == 0
    # Full-orbit data: the covariance of the whole set is isotropic, so that commutator vanishes.
    assert res.full_data_anisotropy < 1e-5
    assert res.ablation["full"].commutator_full.mean < 1e-10
    # The constructed orbit layer is the exact answer: circulant and permuted by rotations.
    assert res.ideal_orbit is not None
    assert res.ideal_orbit.circulant_distance < 1e-6
    assert res.ideal_orbit.sorted_error_linear < 1e-5
    # Known effect on this fixed tiny configuration: seed by seed, the sort term makes the
    # Gramian closer to circulant than cross-entropy + commutator alone (0.06/0.28 vs 0.77/0.60).
    with_sort = res.ablation["full"].circulant_distance.values
    without = res.ablation["ce_commutator"].circulant_distance.values
    assert all(a < 0.5 * b for a, b in zip(with_sort, without, strict=True))
    assert res.effects["sort:circulant_distance"].difference.mean < 0
    report = (run.path / "report.md").read_text()
    assert "Ablation of the loss terms" in report and "Sweep of the sort weight" in report
    assert "full orbits of C_12" in report
    for name in ("gramians", "weights", "sort_weight_sweep", "sort_term_curves"):
        assert (run.figures_dir / f"{name}.png").stat().st_size > 0
    assert len(res.configs) == 5


def test_smoke_run_members_table_has_ablations_at_zero_weight(smoke_run) -> None:
    table = smoke_run("symmetry-discovery").load_table(SymmetryDiscoveryResults.MEMBERS_TABLE)
    ce_only = table[table["ablation"] == "ce_only"]
    assert len(ce_only) == 2 and (ce_only["sort_weight"] == 0).all() and (ce_only["commutator_weight"] == 0).all()
    assert (table.loc[table["ablation"] == "ce_sort", "commutator_weight"] == 0).all()
    assert (table.loc[table["ablation"] == "ce_commutator", "sort_weight"] == 0).all()
    # Paired design: the same seeds in every configuration.
    assert table.groupby("config")["seed"].apply(tuple).nunique() == 1


def test_logged_evaluation_loss_is_the_whole_objective(smoke_run) -> None:
    """The engine evaluates the data loss only; the study's "loss" metric replaces it with
    cross-entropy + weighted regularisers (what train_loss/test_loss evaluations have always been)."""
    run = smoke_run("symmetry-discovery")
    table = run.load_table(SymmetryDiscoveryResults.MEMBERS_TABLE)
    series = {
        name: run.series(name, SymmetryDiscoveryResults.MEMBERS_TAG)
        for name in ("test_loss", "test_cross_entropy", "test_sort", "test_commutator", "test_orbit")
    }
    final = {name: df[df["step"] == df["step"].max()].set_index("member")["value"] for name, df in series.items()}
    for k, row in table.iterrows():
        want = (
            final["test_cross_entropy"][k]
            + row["sort_weight"] * final["test_sort"][k]
            + row["commutator_weight"] * final["test_commutator"][k]
            + row["orbit_weight"] * final["test_orbit"][k]
        )
        assert math.isclose(final["test_loss"][k], want, rel_tol=1e-5, abs_tol=1e-6)
    assert (final["test_sort"] > 0).all()


def test_member_grid_covers_sweep_and_ablations() -> None:
    cfg = get_study("symmetry-discovery").config_cls(
        sort_weight=2.0, commutator_weight=0.5, sort_weights=[0.0, 1.0, 2.0]
    )
    grid = member_grid(cfg)
    plain = grid[grid["orbit_weight"] == 0]
    pairs = set(zip(plain["sort_weight"], plain["commutator_weight"], strict=True))
    assert pairs == {(0.0, 0.5), (1.0, 0.5), (2.0, 0.5), (2.0, 0.0), (0.0, 0.0)}
    orbit = grid[grid["orbit_weight"] > 0]
    assert orbit["ablation"].tolist() == [ORBIT_CONFIG] and bool(
        orbit[["sort_weight", "commutator_weight"]].eq(0).all(axis=None)
    )
    assert len(member_grid(cfg.model_copy(update={"orbit_weight": 0.0}))) == len(plain)
    ab = grid.set_index("ablation").loc[list(ABLATIONS)]
    assert ab.loc["full"].tolist()[1:3] == [2.0, 0.5]
    assert ab.loc["ce_only"].tolist()[1:3] == [0.0, 0.0]
    assert grid["config"].is_unique


def test_batched_terms_equal_the_library_member_by_member() -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 7, 2, generator=g, dtype=F64)
    x = torch.randn(3, 11, 2, generator=g, dtype=F64)
    for temperature in (None, 0.5, 5.0):
        got = gramian_sort_penalty(w, temperature=temperature)
        for k in range(3):
            torch.testing.assert_close(got[k], sort_regularizer(w[k] @ w[k].T, temperature=temperature))
    cov_x, cov_w = batch_covariance(x), batch_covariance(w)
    for k in range(3):
        torch.testing.assert_close(cov_x[k], covariance(x[k]))
        torch.testing.assert_close(commutator_penalties(cov_x, cov_w)[k], commutator_penalty(cov_x[k], cov_w[k]))
    assert float(commutator_penalties(torch.eye(2, dtype=F64)[None], cov_w[:1])) == 0.0  # I commutes


def test_penalty_wiring_weights_and_gradients() -> None:
    data = make_orbit_dataset(3, step_degrees=30.0, seed=0)
    model = OrbitEnsemble(
        3, 12, temperature=1.0, covariance="batch", full_covariance=covariance(data.x), generator=torch.eye(2)
    )
    params = model.init([5, 5, 5])  # three identical members, different loss weights
    x = data.x[:16].expand(3, 16, 2)
    y = data.y[:16]
    out = model.forward(params, x)
    assert out.shape == (3, 16, 3)
    net = model.member(params, 0)
    torch.testing.assert_close(out[0], net(data.x[:16]))
    terms = model.regularisers(params, x)
    assert terms.shape == (3, 3)
    assert torch.equal(terms[:, 2], torch.zeros(3))  # R = I: W R x is W x
    w = net.fc1.weight.detach()
    torch.testing.assert_close(terms[0, 0], sort_regularizer(w @ w.T, temperature=1.0))
    torch.testing.assert_close(terms[0, 1], commutator_penalty(covariance(data.x[:16]), covariance(w)))
    # Shared points (an evaluation set) use their own covariance, the same for every member.
    torch.testing.assert_close(model.regularisers(params, data.x[:16]), terms)
    penalty = SymmetryPenalty(model, torch.tensor([0.0, 2.0, 0.0]), torch.tensor([0.0, 0.0, 3.0]))
    torch.testing.assert_close(penalty(params, x), torch.stack([0 * terms[0, 0], 2 * terms[1, 0], 3 * terms[2, 1]]))
    # The evaluation metrics: "loss" is the whole objective on the evaluation points.
    metrics = penalty.metrics(params, data.x[:16])
    ce = cross_entropy(model.predict(params, data.x[:16]), y)
    torch.testing.assert_close(metrics["loss"](out, y), ce + penalty(params, x))
    torch.testing.assert_close(metrics["sort"](out, y), terms[:, 0])
    # A member whose weights are 0 gets exactly the cross-entropy gradient (the engine's loss + penalty).
    for p in params:
        p.requires_grad_(True)
    grads = torch.autograd.grad((cross_entropy(model.forward(params, x), y) + penalty(params, x)).sum(), params)
    ce_grads = torch.autograd.grad(cross_entropy(model.forward(params, x), y).sum(), params)
    i = model.weight_index
    torch.testing.assert_close(grads[i][0], ce_grads[i][0])
    assert not torch.allclose(grads[i][1], ce_grads[i][1])  # the sort term moves member 1


def test_zero_weights_train_exactly_as_cross_entropy_alone() -> None:
    """Through the engine: a penalty with both weights 0 leaves training bit for bit unchanged."""
    data = make_orbit_dataset(3, step_degrees=30.0, seed=0)
    model = OrbitEnsemble(
        3, 12, temperature=1.0, covariance="batch", full_covariance=covariance(data.x), generator=torch.eye(2)
    )
    zero = SymmetryPenalty(model, torch.zeros(2), torch.zeros(2))
    runs = [
        train(
            model,
            model.init([3, 4]),
            loss=cross_entropy,
            penalty=pen,
            optimizer=Adam(),
            lr=[0.05, 0.05],
            data=FixedSource(data.x, data.y, batch_size=8),
            seeds=[3, 4],
            spec=TrainSpec(max_steps=5),
        )
        for pen in (zero, None)
    ]
    for a, b in zip(runs[0].params, runs[1].params, strict=True):
        assert torch.equal(a, b)


def test_full_covariance_mode_makes_the_commutator_vanish_on_full_orbits() -> None:
    data = make_orbit_dataset(4, step_degrees=10.0, seed=1, dtype=F64)
    model = OrbitEnsemble(
        4, 36, temperature=1.0, covariance="full", full_covariance=covariance(data.x), generator=torch.eye(2)
    )
    params = [p.double() for p in model.init([0, 1])]
    x = data.x[:20].expand(2, 20, 2)
    assert float(model.regularisers(params, x)[:, 1].abs().max()) < 1e-20  # C_x = c I commutes with everything
    batch = OrbitEnsemble(
        4, 36, temperature=1.0, covariance="batch", full_covariance=covariance(data.x), generator=torch.eye(2)
    )
    assert float(batch.regularisers(params, x)[:, 1].min()) > 1e-8


def test_weight_geometry_and_invariance_known_answers() -> None:
    net = ideal_orbit_classifier(3, 15.0, norm=2.0, bias=0.3)  # an orbit of C_24, equal biases
    geo = weight_geometry(net.fc1.weight)
    assert geo["circulant_distance"] < 1e-6 and abs(geo["angle_gap_ratio"] - 1) < 1e-6
    assert geo["norm_spread"] < 1e-6 and geo["anisotropy"] < 1e-6
    data = make_orbit_dataset(3, step_degrees=15.0, seed=0)
    gx = data.x @ rotation_matrices(15.0, dtype=torch.float32)[5].T
    inv = representation_invariance(net, data.x, gx)
    assert inv["sorted_error_hidden"] < 1e-5 and inv["sorted_error_linear"] < 1e-5
    # A random layer is neither circulant nor equivariant: the measures see it.
    rnd = OrbitClassifier(3, hidden=24, seed=0)
    assert weight_geometry(rnd.fc1.weight)["circulant_distance"] > 0.1
    assert representation_invariance(rnd, data.x, gx)["sorted_error_linear"] > 0.05
    # Two clusters of weights: anisotropic, with a large angular gap.
    w = torch.tensor([[1.0, 0.0], [1.1, 0.05], [-1.0, 0.0], [-0.9, -0.05]])
    geo = weight_geometry(w)
    assert geo["anisotropy"] > 0.9 and geo["angle_gap_ratio"] > 1.5 and math.isfinite(geo["norm_spread"])


def test_step_that_does_not_divide_360_is_a_config_error(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        ["run", "symmetry-discovery", "--smoke", "--out", str(tmp_path), "--set", "step_degrees=7"],
    )
    assert res.exit_code == EXIT_CONFIG
    assert "The 'step_degrees' parameter of symmetry-discovery must be a divisor of 360" in res.output
    assert not any(tmp_path.iterdir())


def test_the_generator_is_estimated_from_the_orbits() -> None:
    from learnability.studies.symmetry_discovery.parts import estimate_generator

    for step in (4.0, 30.0, 45.0):
        data = make_orbit_dataset(4, step_degrees=step, seed=1)
        r = estimate_generator(data.x, data.y)
        assert math.isclose(math.degrees(math.atan2(float(r[1, 0]), float(r[0, 0]))), step, abs_tol=1e-4)
        torch.testing.assert_close(r @ r.T, torch.eye(2, dtype=r.dtype))


def test_orbit_consistency_is_zero_exactly_for_an_orbit_layer() -> None:
    """Known answer: rows w_k = R^k w_0 make W R x a cyclic shift of W x (the term is 0), random
    rows do not; the batched term equals the member-by-member formula."""
    from learnability.models import rotation_matrices
    from learnability.studies.symmetry_discovery.parts import orbit_consistency_penalties

    rot = rotation_matrices(30.0, dtype=F64)  # (12, 2, 2)
    orbit_layer = (rot @ torch.tensor([1.5, 0.0], dtype=F64))[None]  # (1, 12, 2)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 20, 2, generator=g, dtype=F64)
    assert float(orbit_consistency_penalties(orbit_layer, x, rot[1])) < 1e-28
    w = torch.randn(3, 12, 2, generator=g, dtype=F64)
    xs = torch.randn(3, 20, 2, generator=g, dtype=F64)
    got = orbit_consistency_penalties(w, xs, rot[1])
    for k in range(3):
        a, b = xs[k] @ w[k].T, (xs[k] @ rot[1].T) @ w[k].T
        want = (b.sort(dim=1).values - a.sort(dim=1).values).square().sum() / a.square().sum()
        torch.testing.assert_close(got[k], want)
    assert float(got.min()) > 1e-3
    # Powers of the generator (an orbit layer is consistent under all of them, a random one is not).
    from learnability.studies.symmetry_discovery.parts import generator_powers

    powers = generator_powers(rot[1])
    torch.testing.assert_close(powers, rot[[1, 2, 4, 8]])  # 30, 60, 120, 240 degrees: C_12
    assert float(orbit_consistency_penalties(orbit_layer, x, powers)) < 1e-28
    assert float(orbit_consistency_penalties(w, xs, powers).min()) > 1e-3


def test_alternative_sentences_follow_the_numbers(smoke_run) -> None:
    from learnability.analysis import Estimate
    from learnability.report import render_markdown
    from learnability.studies import symmetry_discovery as sd

    run = smoke_run("symmetry-discovery")
    res = run.results
    assert res.orbit is not None and res.orbit.orbit_weight == run.config.orbit_weight
    assert math.isclose(res.generator_degrees, run.config.step_degrees, abs_tol=1e-3)
    text = render_markdown(sd.report(res, run), run)
    assert "An alternative regulariser: orbit consistency" in text

    def with_effect(key: str, est: Estimate) -> str:
        effects = {**res.orbit_effects, key: res.orbit_effects[key].model_copy(update={"difference": est})}
        return render_markdown(sd.report(res.model_copy(update={"orbit_effects": effects}), run), run)

    key = "ce_sort:circulant_distance"
    assert "circulant distance is lower (" in with_effect(key, Estimate(-0.5, -0.6, -0.4, 3))
    assert "circulant distance is higher (" in with_effect(key, Estimate(0.5, 0.4, 0.6, 3))
    assert "circulant distance is not distinguishable" in with_effect(key, Estimate(0.1, -0.4, 0.6, 3))
