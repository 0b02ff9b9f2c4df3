"""The teacher-student study (issues 3, 15): config, data, replication over teachers (each run
learns its own teacher, the rate is tuned on a separate tuning teacher that no evaluation test set
reaches), sweep and seed wiring, scaling, baselines, distribution comparison, symmetry-aware
alignment (Hungarian and many-to-one), unrecoverable teacher units, sentences that flip with the
numbers, and the session's smoke run (through the CLI)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy import stats

from learnability import load_run
from learnability._progress import Progress
from learnability.config import ConfigError, build_config, config_to_toml
from learnability.engine import Adam, MLPSpec, OnlineSource, StackedMLP, TrainSpec, mse, train
from learnability.runs import Run, RunWriter
from learnability.studies import StudyContext
from learnability.studies import teacher_student as ts
from learnability.targets import Teacher

# A tiny configuration run directly (no report): one small and one teacher-shaped student.
TINY: dict[str, Any] = {
    "students": {"S_u": [4], "S_e": [75, 50, 10]},
    "n_test": 500,
    "n_reference": 500,
    "compile": False,
    # Raw targets of scale 1e2: rates from 1e-2 let every seed leave the mean predictor in 60 steps.
    "sweep": {"points": 3, "max_steps": 60, "max_extensions": 0, "lr_low": 1e-2, "lr_high": 1.0},
    "teachers": {"n_eval": 2},
    "train": {"max_steps": 60, "eval_every": 20, "window": 10, "min_steps": 20},
}


def _config(**over: Any) -> ts.TeacherStudentConfig:
    layers: list[dict[str, Any]] = [TINY, over] if over else [TINY]
    return build_config(ts.TeacherStudentConfig, owner="teacher-student", layers=layers)


class PlanRecorder(Progress):
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


def _run_direct(cfg: ts.TeacherStudentConfig, path: Path, progress: Progress | None = None) -> Run:
    """Run the study's ``run`` into a folder without building the report (fast)."""
    writer = RunWriter(path, study="teacher-student", config=cfg, config_toml=config_to_toml(cfg))
    progress = Progress(enabled=False) if progress is None else progress
    ctx = StudyContext(writer=writer, progress=progress, device=torch.device("cpu"), root_seed=cfg.seed)
    try:
        results = ts.run(cfg, ctx)
    except BaseException as exc:
        writer.fail(exc)
        raise
    writer.finish(results.to_summary())
    return load_run(path)


TINY_PROGRESS = PlanRecorder()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    cfg = _config()
    TINY_PROGRESS.plan(ts.plan(cfg))  # as the runner does
    return _run_direct(cfg, tmp_path_factory.mktemp("tiny") / "run", TINY_PROGRESS)


def test_progress_names_each_phase_and_its_planned_total_never_grows(tiny_run: Run) -> None:
    """The bar's total is the whole run's, known before it starts: it only shrinks (early stops,
    unused grid extensions) and the run ends at 100%; each phase is named for the user."""
    p = TINY_PROGRESS
    cfg = _config()
    runs = cfg.teachers.n_eval * cfg.train.seeds
    assert p.phases == [f"{n} {part}" for n in cfg.students for part in ("sweep: 3 rates", f"seeds: {runs} runs")]
    assert p.totals[0] <= ts.plan(cfg) == 2 * (60 + 60)
    assert all(b <= a for a, b in zip(p.totals, p.totals[1:], strict=False)), "the total grew: the bar jumps back"
    assert p._done == p._planned  # 100% at the end, not 40%


def test_the_plan_counts_grid_extensions_the_sweep_may_need() -> None:
    cfg = _config(sweep={"max_extensions": 2})
    assert ts.plan(cfg) == 2 * (60 * 3 + 60)


def _without_timing(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _without_timing(v) for k, v in obj.items() if k not in ("timing", "wall_seconds")}
    return obj


# ------------------------------------------------------------------------------------ config


def test_defaults_are_the_spec() -> None:
    cfg = ts.TeacherStudentConfig()
    assert cfg.teacher.d_in == 100 and cfg.teacher.hidden == [75, 50, 10]
    assert (cfg.teacher.input_low, cfg.teacher.input_high, cfg.teacher.init_std) == (0.0, 2.0, 1.0)
    assert cfg.students == {"S_u": [10], "S_e": [75, 50, 10], "S_o": [200, 200, 200, 100]}
    assert cfg.n_test >= 60_000 and cfg.train.batch_size == 128 and cfg.train.optimizer == "adam"
    assert cfg.train.seeds >= 3 and cfg.sweep.points >= 8
    # Issue 15: >= 5 evaluation teachers; the tuning teacher is none of them.
    assert cfg.teachers.n_eval >= 5
    assert cfg.teachers.tuning_seed not in range(cfg.teacher.seed, cfg.teacher.seed + cfg.teachers.n_eval)
    assert cfg.train.horizon == 0.25 and cfg.train.min_steps > 0
    assert not cfg.standardize_targets and cfg.compile
    # Calibration: optimal Adam rates from ~7e-4 to ~0.1, strictly inside the grid.
    assert cfg.sweep.lr_low < 7e-4 and cfg.sweep.lr_high > 0.1
    # The default students: under-, exactly- and over-parameterised (teacher: 11,896).
    counts = {n: MLPSpec(100, tuple(h)).n_params for n, h in cfg.students.items()}
    assert counts["S_u"] < 11_896 == counts["S_e"] < counts["S_o"]


@pytest.mark.parametrize(
    "students, message",
    [
        ({"S u": [10]}, "'students.S u' parameter of teacher-student"),
        ({"S_x": []}, "'students.S_x' parameter of teacher-student must be a non-empty list"),
        ({}, "'students' parameter of teacher-student must be a non-empty table"),
    ],
)
def test_bad_students_are_refused(students: dict[str, list[int]], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_config(ts.TeacherStudentConfig, owner="teacher-student", layers=[{"students": students}])


def test_a_tuning_teacher_among_the_evaluation_teachers_is_refused() -> None:
    with pytest.raises(ConfigError, match=re.escape("'teachers.tuning_seed' parameter of teacher-student")):
        build_config(
            ts.TeacherStudentConfig, owner="teacher-student", layers=[{"teachers": {"n_eval": 5, "tuning_seed": 3}}]
        )


def test_fewer_than_three_seeds_is_refused() -> None:
    with pytest.raises(ConfigError, match=re.escape("'train.seeds' parameter of teacher-student")):
        build_config(ts.TeacherStudentConfig, owner="teacher-student", layers=[{"train": {"seeds": 2}}])


# ------------------------------------------------------------------------------------ data


def test_online_batches_are_fresh_and_labelled_by_the_teacher() -> None:
    teacher = Teacher(seed=0)
    source = OnlineSource(lambda g, n: torch.rand(n, 100, generator=g) * 2, teacher.label, batch_size=128)
    shared = ts.SharedStreamSource(OnlineSource(source.sample, source.label, batch_size=128))
    source.start([7, 8], torch.device("cpu"))
    shared.start([7, 7, 8], torch.device("cpu"))
    seen = []
    for _ in range(20):  # crosses a refill of the 16-step chunk
        x, y = source.next()
        xs, ys = shared.next()
        assert x.shape == (2, 128, 100) and y.shape == (2, 128, 1)
        # A shared stream gives each member exactly its own OnlineSource stream.
        torch.testing.assert_close(xs, x[[0, 0, 1]], rtol=0, atol=0)
        torch.testing.assert_close(ys, y[[0, 0, 1]], rtol=0, atol=0)
        torch.testing.assert_close(y[0], teacher.label(x[0]))
        assert float(x.min()) >= 0.0 and float(x.max()) <= 2.0
        seen.append(x[0])
    # Every batch is new: no two of the 20 batches share an input.
    flat = torch.cat(seen)
    assert torch.unique(flat, dim=0).shape[0] == flat.shape[0]


def test_teacher_labels_unchanged_by_student_training() -> None:
    teacher = Teacher(seed=1)
    x = torch.rand(256, 100, generator=torch.Generator().manual_seed(0)) * 2
    before, params_before = teacher.label(x).clone(), teacher.flat_parameters()
    student = StackedMLP(MLPSpec(100, (75, 50, 10)))
    src = OnlineSource(lambda g, n: torch.rand(n, 100, generator=g) * 2, teacher.label, batch_size=32)
    res = train(
        student,
        student.init([0, 1]),
        loss=mse,
        optimizer=Adam(),
        lr=[1e-2, 1e-2],
        data=src,
        seeds=[3, 4],
        spec=TrainSpec(max_steps=30, block=10),
    )
    assert res.train_loss[-1].mean() < res.train_loss[0].mean()  # the student did learn
    torch.testing.assert_close(teacher.label(x), before, rtol=0, atol=0)
    np.testing.assert_array_equal(teacher.flat_parameters(), params_before)


def test_target_scaling_round_trip() -> None:
    y = np.random.default_rng(0).normal(400.0, 200.0, size=(5000, 1))
    sc = ts.TargetScaling.fit(y, standardize=True)
    z = sc.to_train(torch.as_tensor(y)).numpy()
    assert abs(z.mean()) < 1e-9 and abs(z.std() - 1.0) < 1e-9
    assert sc.loss_scale == pytest.approx(y.std() ** 2)
    raw = ts.TargetScaling.fit(y, standardize=False)
    assert raw.loss_scale == 1.0 and raw.to_train(torch.as_tensor(y)).numpy() is not None
    np.testing.assert_array_equal(raw.to_train(torch.as_tensor(y)).numpy(), y)


def test_baselines_known_answers() -> None:
    g = torch.Generator().manual_seed(0)
    x_ref, x_test = torch.rand(400, 5, generator=g), torch.rand(300, 5, generator=g)
    w = torch.tensor([[1.0], [-2.0], [0.5], [3.0], [0.0]])
    b = ts.fit_baselines(x_ref, x_ref @ w + 7.0, x_test, x_test @ w + 7.0)
    # An affine teacher is fitted exactly by OLS; the mean predictor has relative MSE ~1.
    assert b.linear.test_rel_mse < 1e-10 and b.linear.train_rel_mse < 1e-10
    y_test = (x_test @ w + 7.0).double().numpy()
    expected = np.mean((y_test - float((x_ref @ w + 7.0).double().mean())) ** 2) / y_test.var()
    assert b.mean.test_rel_mse == pytest.approx(expected, rel=1e-9)


# ------------------------------------------------------------------------------------ analysis


def test_layer_pairing() -> None:
    pairs = [(p.student_layer, p.teacher_layers, p.role) for p in ts.layer_pairing(5, 4)]
    assert pairs == [
        (0, (0,), "input"),
        (1, (1, 2), "hidden"),
        (2, (1, 2), "hidden"),
        (3, (1, 2), "hidden"),
        (4, (3,), "output"),
    ]
    assert [(p.student_layer, p.teacher_layers) for p in ts.layer_pairing(2, 4)] == [(0, (0,)), (1, (3,))]
    assert [p.teacher_layers for p in ts.layer_pairing(4, 4)] == [(0,), (1,), (2,), (3,)]


def test_distribution_statistics_against_scipy() -> None:
    teacher = Teacher(seed=0).layers()
    shift = 0.5
    shifted = [(w + shift, b + shift) for w, b in teacher]  # known answer: W1 = 0.5, shape equal
    res = ts.compare_with_teacher([teacher, shifted], teacher, n_quantiles=20)
    all_p = res.distribution.all
    t_flat = np.concatenate([w.ravel() for w, _ in teacher] + [b.ravel() for _, b in teacher])
    ks = [0.0, stats.ks_2samp(t_flat + shift, t_flat).statistic]
    assert all_p.ks == pytest.approx(np.mean(ks))
    assert all_p.wasserstein == pytest.approx(shift / 2)  # mean of 0 and 0.5 over the two "seeds"
    assert all_p.ks_est.values == pytest.approx(ks) and all_p.ks_est.n == 2
    assert all_p.wasserstein_standardized == pytest.approx(0.0, abs=1e-9)
    assert all_p.ks_pvalues[0] == pytest.approx(1.0)
    assert all_p.student.std == pytest.approx(t_flat.std())
    first_w = res.distribution.layers[0]
    assert first_w.name == "layer 1 weights" and first_w.n_student == 7_500
    assert first_w.wasserstein == pytest.approx(shift / 2)
    assert len(res.distribution.layers) == 8  # four layers, weights and biases
    # The QQ data of every group: the teacher's quantiles against each seed's.
    assert len(res.qq["all parameters"].student) == 2 and len(res.qq["layer 1 weights"].p) == 20


def _permuted_rescaled(layers: list[tuple[np.ndarray, np.ndarray]], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The same function: hidden units permuted, incoming weights x c > 0, outgoing / c."""
    rng = np.random.default_rng(seed)
    ws, bs = [w.copy() for w, _ in layers], [b.copy() for _, b in layers]
    for l in range(len(ws) - 1):
        perm = rng.permutation(ws[l].shape[0])
        c = rng.uniform(0.2, 5.0, size=ws[l].shape[0])
        ws[l], bs[l] = ws[l][perm] * c[:, None], bs[l][perm] * c
        ws[l + 1] = ws[l + 1][:, perm] / c[None, :]
    return list(zip(ws, bs, strict=True))


def test_alignment_recovers_a_permuted_rescaled_teacher() -> None:
    teacher = Teacher(seed=2)
    tl = teacher.layers()
    copy = _permuted_rescaled(tl, seed=0)
    # Through the study's path: stacked student parameters -> layers -> alignment -> summary.
    model = StackedMLP(MLPSpec(100, (75, 50, 10)))
    params = [torch.as_tensor(w.T[None], dtype=torch.float64) for w, _ in copy] + [
        torch.as_tensor(b[None, None], dtype=torch.float64) for _, b in copy
    ]
    student = ts.student_layers(model, params, 0)
    x = torch.rand(50, 100, generator=torch.Generator().manual_seed(1)).double() * 2
    torch.testing.assert_close(model.predict(params, x)[0], teacher.label(x).double(), rtol=1e-4, atol=1e-2)
    random_student = ts.student_layers(model, model.init([9]), 0)
    aligned = ts.align_to_teacher([student], tl)
    chance = ts.align_to_teacher([random_student], tl)
    activity = ts.unit_activity(tl, (torch.rand(2_000, 100, generator=torch.Generator().manual_seed(2)) * 2).numpy())
    best = ts.best_match_summary(
        [ts.best_match_layers(student, tl)], [ts.best_match_layers(random_student, tl)], [activity], [0]
    )
    summary = ts.alignment_summary(aligned, chance, best)
    assert summary.n_units == 135
    assert summary.recovered == [135]
    assert summary.mean_cosine[0] == pytest.approx(1.0, abs=1e-9)
    assert summary.output_cosine[0] == pytest.approx(1.0, abs=1e-9)
    assert [layer.recovered_per_seed for layer in summary.layers] == [[75], [50], [10]]
    # An unrelated network is not "recovered": the check can fail.
    assert summary.chance.recovered[0] < 20 and summary.chance.mean_cosine[0] < 0.5
    # Many-to-one agrees on a one-to-one copy: every unit of every layer, one specialist each.
    assert best.recovered_est.mean == 135 and best.chance_recovered_est.mean < 20
    assert [l.specialists_est.mean for l in best.layers] == [75, 50, 10]


def _duplicated(layers: list[tuple[np.ndarray, np.ndarray]], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The same function through a wider network: every hidden unit split into two positively
    rescaled copies whose outgoing weights share the original's (fractions a and 1 - a)."""
    rng = np.random.default_rng(seed)
    ws, bs = [w.copy() for w, _ in layers], [b.copy() for _, b in layers]
    for l in range(len(ws) - 1):
        n = ws[l].shape[0]
        c1, c2 = rng.uniform(0.3, 3.0, n), rng.uniform(0.3, 3.0, n)
        a = rng.uniform(0.2, 0.8, n)
        w_in = np.concatenate([ws[l] * c1[:, None], ws[l] * c2[:, None]])
        b_in = np.concatenate([bs[l] * c1, bs[l] * c2])
        w_out = np.concatenate([ws[l + 1] * (a / c1)[None, :], ws[l + 1] * ((1 - a) / c2)[None, :]], axis=1)
        ws[l], bs[l], ws[l + 1] = w_in, b_in, w_out
    return list(zip(ws, bs, strict=True))


def test_many_to_one_alignment_of_a_permuted_rescaled_duplicated_teacher() -> None:
    from learnability.analysis import mlp_forward

    tl = Teacher(seed=3).layers()
    wide = _permuted_rescaled(_duplicated(tl, seed=1), seed=2)  # widths 150, 100, 20: S_o-like
    x = np.random.default_rng(0).uniform(0, 2, size=(64, 100))
    np.testing.assert_allclose(
        mlp_forward([w for w, _ in wide], [b for _, b in wide], x),
        mlp_forward([w for w, _ in tl], [b for _, b in tl], x),
        rtol=1e-9,
        atol=1e-6,
    )
    res = ts.best_match_layers(wide, tl)
    assert res.student_width == [150, 100, 20]
    for l, width in enumerate((75, 50, 10)):
        # Every teacher unit found (cosine 1) in every layer, by exactly its two copies.
        np.testing.assert_allclose(res.cosines[l], np.ones(width), atol=1e-9)
        assert res.specialists[l].tolist() == [2] * width
    # A deeper student is compared on its first hidden layer only (no common coordinates after).
    deeper = [*wide[:-1], (np.eye(20), np.zeros(20)), wide[-1]]  # an extra identity layer (ReLU of h >= 0)
    assert len(ts.best_match_layers(deeper, tl).cosines) == 1
    # An unrelated wide network recovers (almost) nothing: the check can fail.
    model = StackedMLP(MLPSpec(100, (150, 100, 20)))
    rand = ts.best_match_layers(ts.student_layers(model, model.init([4]), 0), tl)
    assert sum(int(np.sum(c > 0.9)) for c in rand.cosines) < 5


def test_dead_and_always_active_units_of_a_hand_built_network() -> None:
    d = 6
    w0 = np.array([-np.ones(d), np.ones(d), np.r_[1.0, -1.0, np.zeros(d - 2)], np.zeros(d)])
    b0 = np.array([-0.1, 0.5, 0.0, -1.0])  # dead on [0, 2]^d; always active; mixed; dead (constant)
    w1 = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    b1 = np.array([1.0, -0.5])  # unit 0 >= 1.5 > 0: always active; unit 1 mixed
    net = [(w0, b0), (w1, b1), (np.ones((1, 2)), np.zeros(1))]
    x = np.random.default_rng(0).uniform(0, 2, size=(5_000, d))
    act = ts.unit_activity(net, x)
    assert act.width == [4, 2] and act.n_points == 5_000
    assert act.dead == [2, 0] and act.always_active == [1, 1]
    assert act.recoverable == [1, 1]


# ------------------------------------------------------------------------------------ the run


def test_sweep_and_seed_wiring(tiny_run: Run) -> None:
    res = tiny_run.results
    n_teachers, seeds = 2, 3
    for name in ("S_u", "S_e"):
        st = res.students[name]
        table = tiny_run.load_table(f"sweep_{name}")
        assert st.lr == pytest.approx(float(table.loc[table["chosen"], "lr"].iloc[0]))
        assert st.lr == st.sweep.chosen_lr and table["chosen"].sum() == 1
        assert st.sweep.tuning_teacher_seed == res.tuning_teacher.seed == 1_000
        assert st.sweep.criterion == ("time_to_convergence" if st.sweep.chosen_converged else "final_loss_at_cap")
        np.testing.assert_allclose(np.sort(table["lr"]), np.geomspace(1e-2, 1.0, 3))
        sweep = tiny_run.series("train_loss", f"{name}/sweep")
        runs = tiny_run.series("train_loss", f"{name}/seeds")
        first_sweep = sweep[sweep["step"] == 0]["value"].to_numpy()
        first_runs = runs[runs["step"] == 0]["value"].to_numpy()
        # Sweep: every rate starts from the same init on the same batch -> equal first losses.
        assert len(first_sweep) == 3 and np.ptp(first_sweep) == 0.0
        # Runs: evaluation teachers x seeds, fresh inits and data streams, none of them the sweep's.
        assert st.seeds == len(first_runs) == n_teachers * seeds and st.teachers == n_teachers
        assert st.member_teacher == [0, 0, 0, 1, 1, 1] and st.unit == "teacher"
        assert len(np.unique(first_runs)) == len(first_runs)
        assert not np.isin(first_runs, first_sweep).any()
        # Test loss logged every eval_every steps, on the runs only (never in the sweep).
        test = tiny_run.series("test_mse", f"{name}/seeds")
        assert sorted(test["step"].unique()) == [0, 20, 40, 60]
        assert tiny_run.series("test_mse", f"{name}/sweep").empty
        # Each run is scored relative to its own teacher's Var(y_test).
        var = np.array([res.teachers[t].facts.test_var for t in st.member_teacher])
        np.testing.assert_allclose(st.test_rel_mse_per_seed, np.array(st.test_mse_per_seed) / var)
        rel = tiny_run.series("test_rel_mse", f"{name}/seeds")
        last = rel[rel["step"] == 60].sort_values("member")["value"].to_numpy()
        np.testing.assert_allclose(last, st.test_rel_mse_per_seed, rtol=1e-5)
        # The teacher is the unit: the estimate's values are the per-teacher seed means.
        per_teacher = [np.mean(st.test_rel_mse_per_seed[3 * t : 3 * t + 3]) for t in range(n_teachers)]
        assert st.test_rel_mse_est.values == pytest.approx(per_teacher) and st.test_rel_mse_est.n == n_teachers
        assert [t.test_rel_mse for t in st.per_teacher] == pytest.approx(per_teacher)
        assert st.test_rel_mse_est.low <= st.test_rel_mse <= st.test_rel_mse_est.high
        assert 0.0 <= st.stationary <= 1.0 and all(len(t.still_falling) == seeds for t in st.per_teacher)


def test_teachers_are_independent_and_each_run_learns_its_own(tiny_run: Run) -> None:
    res = tiny_run.results
    seeds = [t.facts.seed for t in res.teachers]
    assert seeds == [0, 1] and res.tuning_teacher.seed not in seeds
    # Different teachers: different outputs, different test sets.
    assert res.teachers[0].facts.test_var != res.teachers[1].facts.test_var
    assert res.teachers[0].facts.test_mean != res.teachers[1].facts.test_mean
    # The tuning teacher has no test set.
    assert res.tuning_teacher.test_var is None
    # A run's test error is its own teacher's: re-scoring the final parameters on each teacher's
    # test set, the logged value matches the run's own teacher only.
    params = tiny_run.load_arrays("params_S_e")
    model = StackedMLP(MLPSpec(100, (75, 50, 10)))
    stacked = [torch.as_tensor(params[f"W{l}"]) for l in range(4)] + [
        torch.as_tensor(params[f"b{l}"]) for l in range(4)
    ]
    x = torch.rand(4_000, 100, generator=torch.Generator().manual_seed(5)) * 2
    pred = model.predict(stacked, x)[:, :, 0].double()  # (K, N)
    y = [Teacher(seed=s).label(x)[:, 0].double() for s in seeds]
    err = np.array([[float(((pred[k] - y[t]) ** 2).mean() / y[t].var()) for t in range(2)] for k in range(6)])
    st = res.students["S_e"]
    own = err[np.arange(6), st.member_teacher]
    other = err[np.arange(6), 1 - np.asarray(st.member_teacher)]
    assert np.all(own < other)  # every run fits its own teacher better than the other one
    np.testing.assert_allclose(own, st.test_rel_mse_per_seed, rtol=0.3)  # another sample of the same risk


def test_tuning_never_sees_an_evaluation_test_set(
    tiny_run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Corrupt every evaluation teacher's test labels: the sweeps (tables, chosen rates) are
    unchanged while the test errors are not. Would fail if any sweep scored on a test set."""
    import importlib

    run_module = importlib.import_module("learnability.studies.teacher_student.run")
    real = run_module._teacher_data

    def corrupted(*args: Any, **kwargs: Any) -> Any:
        td = real(*args, **kwargs)
        if td.y_test is not None:
            td.y_test = -3.0 * td.y_test + 1e4  # (n, 1): labels no student was trained on
        return td

    monkeypatch.setattr(run_module, "_teacher_data", corrupted)
    bad = _run_direct(_config(), tmp_path / "corrupt")
    for name in ("S_u", "S_e"):
        assert tiny_run.load_table(f"sweep_{name}").equals(bad.load_table(f"sweep_{name}")), name
        assert bad.results.students[name].lr == tiny_run.results.students[name].lr
        assert bad.results.students[name].test_mse != tiny_run.results.students[name].test_mse


def test_same_seed_same_summary(tiny_run: Run, tmp_path: Path) -> None:
    again = _run_direct(_config(), tmp_path / "again")
    assert _without_timing(again.summary) == _without_timing(tiny_run.summary)
    # Each student's streams derive from (seed, its name): alone it trains exactly as beside others,
    # and another seed changes it.
    alone = _run_direct(_config(students={"S_u": [4]}), tmp_path / "alone")
    assert _without_timing(alone.summary["students"]["S_u"]) == _without_timing(tiny_run.summary["students"]["S_u"])
    other = _run_direct(_config(seed=1, students={"S_u": [4]}), tmp_path / "other")
    assert other.results.students["S_u"].test_mse != tiny_run.results.students["S_u"].test_mse


def test_standardised_targets_are_reported_in_original_units(tiny_run: Run, tmp_path: Path) -> None:
    run_ = _run_direct(_config(standardize_targets=True, students={"S_u": [4]}), tmp_path / "std")
    res = run_.results
    st = res.students["S_u"]
    scales = np.array([res.teachers[t].targets.loss_scale for t in st.member_teacher])  # per run
    for t in res.teachers:
        assert t.targets.standardized and t.targets.loss_scale == pytest.approx(t.targets.std**2)
        # The teachers' outputs are large, so the loss scale is far from 1 and a unit slip shows.
        assert t.targets.loss_scale > 100 and t.targets.failure_loss == pytest.approx(1.0, rel=1e-6)
    # Each teacher standardised with its own (m, s): different scales.
    assert res.teachers[0].targets.std != res.teachers[1].targets.std
    # Test: the logged original-unit MSE is the training-unit loss times the run's teacher's std^2.
    loss = run_.series("test_loss", "S_u/seeds")
    raw = run_.series("test_mse", "S_u/seeds")
    loss, raw = (d.sort_values(["step", "member"]) for d in (loss, raw))
    np.testing.assert_allclose(
        raw["value"].to_numpy(), loss["value"].to_numpy() * scales[loss["member"].to_numpy()], rtol=1e-4
    )
    # At initialisation a standardised student predicts ~the mean: relative test MSE ~1, in
    # original units (raw-target students start far above: their output ignores the mean).
    start = run_.series("test_rel_mse", "S_u/seeds")
    rel0 = start[start["step"] == 0]["value"].to_numpy()
    assert np.all((rel0 > 0.9) & (rel0 < 2.0))
    assert 0 < st.test_rel_mse < 2 and 0 < st.train_rel_mse < 2
    # Same teachers and test sets as the raw run: the variances agree.
    assert [t.facts.test_var for t in res.teachers] == [t.facts.test_var for t in tiny_run.results.teachers]


def test_train_error_is_at_the_final_parameters_on_a_fresh_sample(tiny_run: Run) -> None:
    res = tiny_run.results
    st = res.students["S_e"]
    params = tiny_run.load_arrays("params_S_e")
    model = StackedMLP(MLPSpec(100, (75, 50, 10)))
    stacked = [torch.as_tensor(params[f"W{l}"]) for l in range(4)] + [
        torch.as_tensor(params[f"b{l}"]) for l in range(4)
    ]
    # An independent fresh sample of the training distribution gives the same risk within noise,
    # and not the trajectory average of the last window's batches.
    x = torch.rand(20_000, 100, generator=torch.Generator().manual_seed(11)) * 2
    pred = model.predict(stacked, x)[:, :, 0].double()
    for k, t in enumerate(st.member_teacher):
        y = Teacher(seed=res.teachers[t].facts.seed).label(x)[:, 0].double()
        mse_k = float(((pred[k] - y) ** 2).mean())
        assert mse_k == pytest.approx(st.train_mse_per_seed[k], rel=0.15)


def test_smoke_run_through_the_cli(smoke_run: Callable[[str], Run]) -> None:
    run_ = smoke_run("teacher-student")
    res = run_.results
    assert isinstance(res, ts.TeacherStudentResults) and res.study == "teacher-student"
    assert res.teacher.n_params == 11_896 and res.teacher.test_var > 0
    assert res.test_set.n == 2_000
    assert 0.0 <= res.test_set.input_low < res.test_set.input_high <= 2.0
    assert res.baselines.mean.test_rel_mse == pytest.approx(1.0, abs=0.05)
    assert 0 < res.baselines.linear.test_rel_mse < 1
    assert set(res.students) == {"S_u", "S_e", "S_o"}
    for name, hidden in (("S_u", [10]), ("S_e", [75, 50, 10]), ("S_o", [200, 200, 200, 100])):
        st = res.students[name]
        assert st.hidden == hidden and st.n_params == MLPSpec(100, tuple(hidden)).n_params
        # summary.json keeps the flat keys that notebooks and sweeps read.
        for key in (
            "lr",
            "steps",
            "seeds",
            "test_mse",
            "test_mse_ci",
            "test_rel_mse",
            "test_rel_mse_ci",
            "train_mse",
            "train_mse_ci",
            "converged_step",
            "sweep",
            # Issue 15: replication over teachers.
            "teachers",
            "per_teacher",
            "stationary",
            "alignment",
        ):
            assert key in run_.summary["students"][name], key
        assert {"ks", "wasserstein"} <= set(run_.summary["students"][name]["distribution"]["all"])
        assert st.teachers == 2 and st.seeds == 6 and st.test_mse_est.n == st.teachers
        assert st.test_mse_est.low <= st.test_mse <= st.test_mse_est.high
        assert 0 <= st.distribution.all.ks <= 1
        assert st.distribution.all.wasserstein_init_est is not None
        assert st.alignment.best_match.layers[0].width == 75
    assert {(o["a"], o["b"]) for o in run_.summary["orderings"]} == {("S_o", "S_e"), ("S_o", "S_u"), ("S_e", "S_u")}
    al = res.students["S_e"].alignment
    assert al.mean_cosine is not None and len(al.mean_cosine) == len(al.recovered or []) == 6
    assert res.students["S_u"].alignment.mean_cosine is None
    figures = {p.name for p in run_.figures_dir.glob("*.png")}
    assert {"curves.png", "sweep_S_u.png", "sweep_S_o.png", "dist_S_o.png", "alignment_S_e.png"} <= figures
    md = (run_.path / "report.md").read_text()
    # Sentences carry the measured numbers.
    from learnability.report import fmt_est

    assert f"Relative test MSE {fmt_est(res.students['S_o'].test_rel_mse_est)}" in md
    assert re.search(r"The teacher has 11,896 frozen parameters\. \*\*S_u\*\* \[10\] has 1021", md)
    assert re.search(r"Ordering of the means by relative test MSE: S_\w \([\d.e+-]+ \[", md)
    assert re.search(r"S_o / S_e = [\d.e+-]+ \[[\d.e+-]+, [\d.e+-]+\] \(paired within teacher", md)
    assert re.search(r"S_o's error is lower in \d of 2 teachers", md)
    assert re.search(r"units recovered \(cosine > 0\.9\) [\d.]+ \[", md)
    assert "W1 = " in md and "KS distance = " in md and "p <" not in md
    # The report is a function of the folder alone: rebuilt from a fresh load, same blocks.
    again = load_run(run_.path)
    assert [c.name for c in ts.report(again.results, again).charts] == [
        "sweep_S_u",
        "sweep_S_e",
        "sweep_S_o",
        "curves",
        "dist_S_u",
        "dist_S_e",
        "dist_S_o",
        "alignment_S_e",
    ]


def _report_text(results: ts.TeacherStudentResults, run_: Run) -> str:
    from learnability.report import Text

    return "\n".join(b.markdown for b in ts.report(results, run_).blocks if isinstance(b, Text))


def test_sentences_flip_with_the_numbers(smoke_run: Callable[[str], Run]) -> None:
    from learnability.analysis import Estimate

    run_ = smoke_run("teacher-student")
    res = run_.results
    o = res.orderings[0]
    below = o.model_copy(update={"ratio_est": Estimate(0.5, 0.4, 0.6, 5), "holds": 5, "n": 5})
    above = o.model_copy(update={"ratio_est": Estimate(2.0, 1.5, 2.5, 5), "holds": 0, "n": 5})
    text = _report_text(res.model_copy(update={"orderings": [below, *res.orderings[1:]]}), run_)
    assert f"{o.a} < {o.b} is resolved (the interval lies below 1)" in text
    assert f"{o.a}'s error is lower in 5 of 5 teachers" in text
    text = _report_text(res.model_copy(update={"orderings": [above, *res.orderings[1:]]}), run_)
    assert f"**{o.a} > {o.b}** (the interval lies above 1)" in text
    # The train/test gap: zero within noise, or not.
    name = "S_e"
    st = res.students[name]
    for gap, phrase in (
        (Estimate(0.001, -0.01, 0.012, 5), "zero within noise"),
        (Estimate(0.05, 0.04, 0.06, 5), "**not zero within noise**"),
    ):
        changed = res.model_copy(
            update={"students": {**res.students, name: st.model_copy(update={"gap_rel_mse_est": gap})}}
        )
        assert phrase in _report_text(changed, run_).split(f"**{name}.** Relative test MSE")[1].split("\n")[0]
    # The sweep's criterion: time to convergence, or the fallback, said per student.
    sw = st.sweep
    by_time = sw.model_copy(
        update={"criterion": "time_to_convergence", "chosen_converged": True, "chosen_steps_to_converge": 900}
    )
    by_loss = sw.model_copy(update={"criterion": "final_loss_at_cap", "chosen_converged": False})
    for facts, phrase in (
        (by_time, "chosen by time to convergence"),
        (by_loss, "fell back to 'lowest loss at the cap'"),
    ):
        changed = res.model_copy(update={"students": {**res.students, name: st.model_copy(update={"sweep": facts})}})
        para = _report_text(changed, run_).split(f"**{name}.** The sweep trained")[1].split("\n")[0]
        assert phrase in para
    # Stationarity: every run stationary, or which teachers' runs were still falling and by how much.
    stat = st.model_copy(update={"converged_step": [100] * st.seeds, "stationary": 1.0})
    changed = res.model_copy(update={"students": {**res.students, name: stat}})
    assert f"all {st.seeds} runs became quasi-stationary" in _report_text(changed, run_)
    falling = [
        t.model_copy(update={"converged_step": [None] * 3, "still_falling": [0.1, 0.2, 0.3]}) for t in st.per_teacher
    ]
    moving = st.model_copy(update={"converged_step": [None] * st.seeds, "stationary": 0.0, "per_teacher": falling})
    changed = res.model_copy(update={"students": {**res.students, name: moving}})
    text = _report_text(changed, run_)
    assert f"teacher {st.per_teacher[0].teacher_seed}: 3 runs still falling by 10%, 20%, 30%" in text


def test_never_stationary_is_null_not_minus_one(smoke_run) -> None:
    """summary.json says "did not converge" with null (the engine's -1 never leaks into it)."""
    s = smoke_run("teacher-student").summary
    for student in s["students"].values():
        assert all(c is None or c >= 0 for c in student["converged_step"])
        for t in student["per_teacher"]:
            assert all(c is None or c >= 0 for c in t["converged_step"])


# ------------------------------------------------------------------------------------ figures


def test_histogram_bins_cover_the_teacher_and_the_student() -> None:
    """Many student parameters near 0 must not clip the teacher's N(0, 1) to the student's range."""
    from learnability.studies.teacher_student.charts import _bins

    rng = np.random.default_rng(0)
    student, teacher = rng.normal(0.0, 0.05, 50_000), rng.normal(0.0, 1.0, 2_000)
    edges = _bins(student, teacher)
    assert edges[0] < -2.3 and edges[-1] > 2.3  # the teacher's central 99%: +-2.58
    assert np.mean((teacher >= edges[0]) & (teacher <= edges[-1])) >= 0.98


def test_sweep_chart_never_colours_a_capped_rate_feasible(tiny_run: Run, monkeypatch) -> None:
    """A feasible rate that never became stationary (it hit the step cap) is drawn as "not
    stationary", not among the feasible ones."""
    from learnability.studies.teacher_student.charts import sweep_chart

    name, res = "S_e", tiny_run.results
    table = tiny_run.load_table(f"sweep_{name}")
    table["feasible"], table["diverged"], table["converged"], table["steps_to_converge"] = True, False, True, 30
    capped = float(table.sort_values("lr")["lr"].iloc[0])
    table.loc[table["lr"] == capped, "converged"] = False
    load = tiny_run.load_table
    monkeypatch.setattr(tiny_run, "load_table", lambda n: table.copy() if n == f"sweep_{name}" else load(n))
    chart = sweep_chart(tiny_run, name, res.students[name], res, tolerance=0.1)
    steps = {t.label: t for t in chart.panels[1].traces}
    assert capped not in list(np.asarray(steps["feasible (stationary)"].x, float))
    assert capped in list(np.asarray(steps["not stationary (cap)"].x, float))
    styles = chart.panels[0]
    assert styles.hlines[0][1] == "mean predictor" and styles.vlines[0][1] == "chosen"


def test_headline_flags_runs_that_did_not_converge_and_null_not_minus_one(tiny_run: Run) -> None:
    """A student whose runs hit the step cap (or diverged) has its headline number flagged, and so
    has every ratio that involves it; a chosen rate that did not converge has no step count in
    summary.json (None, left out like every None of this study's summary), never -1."""
    from learnability.studies.teacher_student.report import _headline_flags

    res = tiny_run.results
    flags = _headline_flags(res)
    for name, st in res.students.items():
        capped = sum(c is None for c in st.converged_step)
        bad = capped or st.seeds_diverged or not st.sweep.chosen_feasible
        key = f"{name} relative test MSE"
        assert (key in flags) == bool(bad)
        if capped:
            assert f"{capped} of {len(st.converged_step)} runs not quasi-stationary" in flags[key]
        assert (st.sweep.chosen_steps_to_converge is None) == (not st.sweep.chosen_converged)
    for o in res.orderings:
        assert (f"{o.a} / {o.b}" in flags) == any(f"{n} relative test MSE" in flags for n in (o.a, o.b))
    # Flip one run of S_u to "never stationary": its number gets flagged with the count.
    st = res.students["S_u"]
    steps = [None, *st.converged_step[1:]]
    flipped = res.model_copy(
        update={"students": {**res.students, "S_u": st.model_copy(update={"converged_step": steps})}}
    )
    assert "runs not quasi-stationary within the" in _headline_flags(flipped)["S_u relative test MSE"]
    assert "S_e / S_u" in _headline_flags(flipped) or "S_u / S_e" in _headline_flags(flipped)
    summary = json.loads((tiny_run.path / "summary.json").read_text())
    assert all(s["sweep"].get("chosen_steps_to_converge") != -1 for s in summary["students"].values())


def test_the_parameter_conclusion_never_outruns_its_caveat(smoke_run: Callable[[str], Run]) -> None:
    """ "The error decreases monotonically with the number of parameters" only when every step
    between neighbours is resolved; an unresolved step (S_e vs S_o) is named in the same sentence."""
    from learnability.analysis import Estimate
    from learnability.studies.teacher_student.report import _parameters_sentence

    res = smoke_run("teacher-student").results
    st = res.students
    by_params = sorted(st, key=lambda n: st[n].n_params)
    assert len(by_params) == 3
    # Means falling with the parameter count: 0.3, 0.2, 0.1.
    students = {
        n: st[n].model_copy(update={"test_rel_mse_est": Estimate(0.3 - 0.1 * i, 0.05, 0.5, 5)})
        for i, n in enumerate(by_params)
    }

    def with_ratios(highs: dict[tuple[str, str], float]) -> str:
        ords = [
            o.model_copy(update={"ratio_est": Estimate(0.7, 0.5, highs.get((o.a, o.b), 0.9), 5)}) for o in res.orderings
        ]
        return _parameters_sentence(res.model_copy(update={"students": students, "orderings": ords}))

    _, mid, large = by_params
    text = with_ratios({})
    assert "decreases monotonically with the number of parameters" in text and "every step is resolved" in text
    text = with_ratios({(large, mid): 1.3})  # S_o vs S_e: the interval contains 1
    assert "decreases monotonically" not in text
    assert f"{large} < {mid} is not resolved" in text and "**not established**" in text
    rising = {**students, large: students[large].model_copy(update={"test_rel_mse_est": Estimate(0.25, 0.1, 0.4, 5)})}
    text = _parameters_sentence(res.model_copy(update={"students": rising}))
    assert "does **not** decrease monotonically" in text and f"from {mid} to {large}" in text
    # The report states the run's own sentence, caveat included.
    assert _parameters_sentence(res) in _report_text(res, smoke_run("teacher-student"))


def test_the_plan_withdraws_grid_extensions_not_needed(tmp_path: Path) -> None:
    """Planned with one extension per student: whether the sweep used it or not, the bar's total
    never grows and the run ends at exactly 100%."""
    cfg = _config(sweep={"max_extensions": 1, "lr_low": 1e-4, "lr_high": 1e-3})
    p = PlanRecorder()
    p.plan(ts.plan(cfg))
    run = _run_direct(cfg, tmp_path / "run", p)
    for name in cfg.students:
        rounds = int(run.load_table(f"sweep_{name}")["round"].max()) + 1
        sweeps = [ph for ph in p.phases if ph.startswith(f"{name} sweep")]
        assert sweeps == [f"{name} sweep: 3 rates", f"{name} sweep extension 1/1: 2 rates"][:rounds]
    assert all(b <= a for a, b in zip(p.totals, p.totals[1:], strict=False))
    assert p._done == p._planned
