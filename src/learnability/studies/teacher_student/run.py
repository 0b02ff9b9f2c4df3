"""The teacher-student run: the task (teacher, test set, baselines), then per student a
learning-rate sweep, fresh seeds at the chosen rate, and the comparisons with the teacher.

Stages, top to bottom: :func:`make_task` -> per student :func:`sweep_student` (one ensemble of
every rate), :func:`train_seeds` (fresh seeds), :func:`student_results` (errors, distributions,
alignment) -> :func:`run`. The test set is touched only to report.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from learnability._validation import ParameterError
from learnability._words import plural
from learnability.analysis import geometric_mean_ratio
from learnability.data import sample_uniform
from learnability.engine import (
    EvalSet,
    LRGrid,
    MLPSpec,
    OnlineSource,
    PerMemberEvalSet,
    Selection,
    StackedMLP,
    Stationarity,
    TrainResult,
    TrainSpec,
    TunedResult,
    horizon_improvement,
    make_optimizer,
    mse,
    round_tag,
    train,
    tune_then_train,
)
from learnability.studies import StudyContext
from learnability.studies.teacher_student.config import STUDY_NAME, TeacherStudentConfig
from learnability.studies.teacher_student.parameter_count import config_differences, parameter_count_table
from learnability.studies.teacher_student.parts import (
    RECOVERY_THRESHOLD,
    SharedStreamSource,
    TargetScaling,
    align_to_teacher,
    alignment_cosines,
    alignment_summary,
    best_match_layers,
    best_match_summary,
    combine_distributions,
    compare_with_teacher,
    fit_baselines,
    nested_estimate,
    seed_estimate,
    student_layers,
    unit_activity,
)
from learnability.studies.teacher_student.results import (
    Alignment,
    Baseline,
    Baselines,
    EvalTeacher,
    Ordering,
    ParameterCountInfo,
    StudentResults,
    SweepFacts,
    TeacherFacts,
    TeacherRun,
    TeacherStudentResults,
    TestSetFacts,
    Timing,
)
from learnability.targets import Teacher, teacher_spec

__all__ = ["check", "run"]

R = TeacherStudentResults  # artifact names and metric tags
# Steps between host synchronisations of the engine (logging, divergence, stationarity).
ENGINE_BLOCK = 100
# A student too small to beat the mean predictor is a result, not a broken grid: keep the least
# bad rate instead of failing the run.
IF_NONE_FEASIBLE = "least_bad"
# What chose a student's rate (SweepFacts.criterion).
BY_TIME = "time_to_convergence"
BY_FINAL_LOSS = "final_loss_at_cap"


@dataclass
class TeacherData:
    """One teacher with its data: the reference sample (a training-distribution sample never
    trained on: baselines, target scaling, collapse level, train error at the final parameters)
    and, for an evaluation teacher, its own fixed test set."""

    teacher: Teacher
    scaling: TargetScaling
    failure_loss: float  # Var(y_ref), training units
    x_ref: Tensor  # (n_reference, d)
    y_ref: Tensor  # (n_reference, 1), original units
    facts: TeacherFacts
    x_test: Tensor | None = None  # (n_test, d)
    y_test: Tensor | None = None  # (n_test, 1), original units
    var_test: float = math.nan

    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return self.teacher.layers()


@dataclass
class Task:
    """Everything the students share: the tuning teacher, the evaluation teachers and their data."""

    cfg: TeacherStudentConfig
    ctx: StudyContext
    tuning: TeacherData
    evaluation: list[TeacherData]

    def sample(self, generator: torch.Generator, n: int) -> Tensor:
        t = self.cfg.teacher
        return sample_uniform(n, t.d_in, low=t.input_low, high=t.input_high, generator=generator)  # (n, d)

    def tuning_source(self) -> OnlineSource:
        """Fresh batches of the tuning teacher (training units)."""
        tt = self.tuning

        def label(x: Tensor) -> Tensor:
            return tt.scaling.to_train(tt.teacher.label(x))  # (n, 1)

        return OnlineSource(self.sample, label, batch_size=self.cfg.train.batch_size)

    def member_source(self, groups: Sequence[int]) -> OnlineSource:
        """Fresh batches where run m is labelled by evaluation teacher ``groups[m]`` (training units)."""
        spec = self.evaluation[0].teacher.spec
        model = StackedMLP(spec)
        stacked = [torch.cat(ps) for ps in zip(*(td.teacher.params for td in self.evaluation), strict=True)]
        device = stacked[0].device
        idx = torch.as_tensor(list(groups), dtype=torch.long, device=device)
        params = [p.index_select(0, idx) for p in stacked]  # (K, ...) each run's teacher
        sc = [self.evaluation[g].scaling for g in groups]
        mean = torch.tensor([s.mean if s.standardized else 0.0 for s in sc], device=device).view(-1, 1, 1)
        std = torch.tensor([s.std if s.standardized else 1.0 for s in sc], device=device).view(-1, 1, 1)

        def label(x: Tensor) -> Tensor:  # (K, N, d) -> (K, N, 1)
            return (model.forward(params, x.to(params[0].dtype)) - mean) / std

        return OnlineSource(self.sample, label, batch_size=self.cfg.train.batch_size, per_member=True)

    def test_sets(self, groups: Sequence[int]) -> PerMemberEvalSet:
        """Each run scored on its own teacher's test set: loss (training units), ``mse`` (original
        units) and ``rel_mse`` (over that teacher's Var(y_test))."""
        sets = []
        for td in self.evaluation:
            assert td.x_test is not None and td.y_test is not None
            scale, var = td.scaling.loss_scale, td.var_test

            def mse_original(out: Tensor, y: Tensor, scale: float = scale) -> Tensor:
                return mse(out, y) * scale  # (K,)

            def rel(out: Tensor, y: Tensor, scale: float = scale, var: float = var) -> Tensor:
                return mse(out, y) * (scale / var)  # (K,)

            sets.append(
                EvalSet(td.x_test, td.scaling.to_train(td.y_test), metrics={"mse": mse_original, "rel_mse": rel})
            )
        return PerMemberEvalSet(tuple(sets), tuple(groups))

    def stationarity(self) -> Stationarity:
        tr = self.cfg.train
        return Stationarity(
            window=tr.window, rel_tol=tr.rel_tol, patience=tr.patience, min_steps=tr.min_steps, horizon=tr.horizon
        )

    def groups(self) -> list[int]:
        """The evaluation teacher of every run of a student's ensemble (teacher-major)."""
        return [t for t in range(len(self.evaluation)) for _ in range(self.cfg.train.seeds)]


def _teacher_data(cfg: TeacherStudentConfig, ctx: StudyContext, seed: int, *, with_test: bool) -> TeacherData:
    """Build one teacher and draw its samples (streams named by the teacher's seed)."""
    t = cfg.teacher
    teacher = Teacher(teacher_spec(t.d_in, t.hidden), seed=seed, std=t.init_std, device=ctx.device)

    def draw(n: int, stream: str) -> tuple[Tensor, Tensor]:
        g = torch.Generator().manual_seed(ctx.seed("teacher", seed, stream))
        x = sample_uniform(n, t.d_in, low=t.input_low, high=t.input_high, generator=g).to(ctx.device)
        return x, teacher.label(x)  # (n, d), (n, 1)

    x_ref, y_ref = draw(cfg.n_reference, "reference")
    scaling = TargetScaling.fit(y_ref.cpu().numpy(), standardize=cfg.standardize_targets)
    failure = float(scaling.to_train(y_ref.double()).var(unbiased=False))
    base = {
        "hidden": list(t.hidden),
        "d_in": t.d_in,
        "seed": seed,
        "init_std": t.init_std,
        "n_params": teacher.n_params,
        "n_layers": teacher.n_layers,
        "reference_var": float(y_ref.double().var(unbiased=False)),
    }
    if not with_test:
        return TeacherData(teacher, scaling, failure, x_ref, y_ref, TeacherFacts(**base))
    x_test, y_test = draw(cfg.n_test, "test")
    yt = y_test.double().cpu().numpy()
    facts = TeacherFacts(
        **base, test_var=float(yt.var()), test_mean=float(yt.mean()), test_min=float(yt.min()), test_max=float(yt.max())
    )
    return TeacherData(teacher, scaling, failure, x_ref, y_ref, facts, x_test, y_test, float(yt.var()))


def make_task(cfg: TeacherStudentConfig, ctx: StudyContext) -> tuple[Task, dict[str, Any]]:
    """Build the tuning teacher and the evaluation teachers, draw their samples, fit the baselines.

    The tuning teacher gets no test set at all: nothing the sweeps see can come from one.

    Returns:
        The task and the facts of :class:`TeacherStudentResults` it determines (``teacher``,
        ``test_set``, ``targets``, ``baselines``, ``teachers``, ``tuning_teacher``).
    """
    tuning = _teacher_data(cfg, ctx, cfg.teachers.tuning_seed, with_test=False)
    evaluation = [_teacher_data(cfg, ctx, cfg.teacher.seed + i, with_test=True) for i in range(cfg.teachers.n_eval)]
    teachers = []
    for td in evaluation:
        assert td.x_test is not None and td.y_test is not None
        teachers.append(
            EvalTeacher(
                facts=td.facts,
                targets=td.scaling.facts(td.failure_loss),
                baselines=fit_baselines(td.x_ref, td.y_ref, td.x_test, td.y_test),
                activity=unit_activity(td.layers(), td.x_ref.double().cpu().numpy()),
            )
        )
    first = evaluation[0]
    assert first.x_test is not None

    def mean_of(key: str) -> float:
        return float(np.mean([getattr(t.facts, key) for t in teachers]))

    def mean_baseline(kind: str) -> Baseline:
        bs = [getattr(t.baselines, kind) for t in teachers]
        return Baseline(
            test_mse=float(np.mean([b.test_mse for b in bs])),
            test_rel_mse=float(np.mean([b.test_rel_mse for b in bs])),
            train_rel_mse=float(np.mean([b.train_rel_mse for b in bs])),
            value=float(np.mean([b.value for b in bs])) if kind == "mean" else None,
            test_rel_mse_est=seed_estimate([b.test_rel_mse for b in bs], "positive"),
        )

    facts = {
        "teacher": first.facts.model_copy(
            update={k: mean_of(k) for k in ("test_var", "test_mean", "test_min", "test_max", "reference_var")}
        ),
        "test_set": TestSetFacts(
            n=cfg.n_test,
            input_low=float(min(td.x_test.min() for td in evaluation if td.x_test is not None)),
            input_high=float(max(td.x_test.max() for td in evaluation if td.x_test is not None)),
        ),
        "targets": tuning.scaling.facts(tuning.failure_loss),
        "baselines": Baselines(
            mean=mean_baseline("mean"),
            linear=mean_baseline("linear"),
        ),
        "teachers": teachers,
        "tuning_teacher": tuning.facts,
    }
    ctx.writer.save_arrays(
        R.TEACHER_ARRAYS,
        **{f"W{l}": w for l, (w, _) in enumerate(first.layers())},
        **{f"b{l}": b for l, (_, b) in enumerate(first.layers())},
    )
    return Task(cfg, ctx, tuning, evaluation), facts


def tune_student(task: Task, name: str, model: StackedMLP) -> TunedResult:
    """The learning-rate sweep on the tuning teacher, then every evaluation teacher x seed at the
    chosen rate as one ensemble.

    Sweep: every rate shares one initialisation and one data stream of the *tuning* teacher, so
    rates compete on equal terms, scored on the final training loss (fresh batches; the tuning
    teacher has no test set). Runs: run m learns evaluation teacher ``groups[m]`` from its own
    initialisation and data stream (none of the sweep's); test loss on its own teacher's test
    set every ``eval_every`` steps.
    """
    cfg, ctx = task.cfg, task.ctx
    sw, tr = cfg.sweep, cfg.train
    init_seed, data_seed = ctx.seed(name, "sweep", "init"), ctx.seed(name, "sweep", "data")
    groups = task.groups()

    rounds = [0]  # sweep rounds run so far (the plan counted every extension the grid allows)

    def sweep_fn(lrs: np.ndarray, round_: int) -> TrainResult:
        k = len(lrs)
        rounds[0] += 1
        extension = f" extension {round_}/{sw.max_extensions}" if round_ else ""
        ctx.progress.phase(f"{name} sweep{extension}: {plural(k, 'rate')}")
        return train(
            model,
            model.init([init_seed] * k),
            loss=mse,
            optimizer=make_optimizer(tr.optimizer),
            lr=lrs,
            data=SharedStreamSource(task.tuning_source()),
            seeds=[data_seed] * k,
            spec=TrainSpec(
                max_steps=sw.max_steps,
                block=ENGINE_BLOCK,
                stationarity=task.stationarity(),
                compile=cfg.compile,
            ),
            sink=ctx.writer,
            tag=round_tag(R.SWEEP_TAG.format(name), round_),
            progress=ctx.progress,
        )

    def seeds_fn(lr: float) -> TrainResult:
        n = len(groups)
        ctx.progress.unplan((1 + sw.max_extensions - rounds[0]) * sw.max_steps)  # extensions not needed
        ctx.progress.phase(f"{name} seeds: {plural(n, 'run')}")
        return train(
            model,
            model.init(ctx.seeds(n, name, "seeds", "init")),
            loss=mse,
            optimizer=make_optimizer(tr.optimizer),
            lr=[lr] * n,
            data=task.member_source(groups),
            seeds=ctx.seeds(n, name, "seeds", "data"),
            spec=TrainSpec(
                max_steps=tr.max_steps,
                eval_every=tr.eval_every,
                block=ENGINE_BLOCK,
                stationarity=task.stationarity(),
                compile=cfg.compile,
            ),
            eval_sets={"test": task.test_sets(groups)},
            sink=ctx.writer,
            tag=R.SEEDS_TAG.format(name),
            progress=ctx.progress,
        )

    return tune_then_train(
        sweep_fn,
        seeds_fn,
        LRGrid(sw.lr_low, sw.lr_high, num=sw.points, max_extensions=sw.max_extensions),
        score=lambda r: r.final_train_loss(tr.window),
        selection=Selection(
            "time_to_convergence",
            tolerance=sw.tolerance,
            failure_margin=sw.failure_margin,
            if_none_feasible=IF_NONE_FEASIBLE,
        ),
        failure_loss=task.tuning.failure_loss,
        step_cap=sw.max_steps,
    )


def plan(cfg: TeacherStudentConfig) -> int:
    """The run's whole work in engine steps, for the progress bar: per student, the sweep's grid
    and every extension it may need (unused ones are withdrawn after the sweep), then the seeds.

    Each ``train`` call announces its ``max_steps`` (one step trains every member at once).
    """
    per_student = cfg.sweep.max_steps * (1 + cfg.sweep.max_extensions) + cfg.train.max_steps
    return len(cfg.students) * per_student


def sweep_facts(task: Task, tuned: TunedResult, name: str) -> SweepFacts:
    """Save the sweep's table (``final_rel``: final loss over the tuning teacher's Var(y)) and
    summarise it, with the criterion that chose the rate."""
    cfg, sweep = task.cfg, tuned.sweep
    table = sweep.table.copy()
    table["final_rel"] = table["final_loss"] / task.tuning.failure_loss
    task.ctx.writer.save_table(R.SWEEP_TABLE.format(name), table)
    row = sweep.chosen_row
    alive_collapsed = table["collapsed"] & ~table["diverged"]
    return SweepFacts(
        grid=[float(v) for v in LRGrid(cfg.sweep.lr_low, cfg.sweep.lr_high, num=cfg.sweep.points).rates],
        rates_tried=len(table),
        extensions=len(sweep.results) - 1,
        lr_min=float(table["lr"].min()),
        lr_max=float(table["lr"].max()),
        chosen_lr=sweep.chosen_lr,
        at_edge=bool(sweep.at_edge),
        chosen_feasible=bool(sweep.feasible),
        chosen_steps_to_converge=int(row["steps_to_converge"]) if row["converged"] else None,
        chosen_converged=bool(row["converged"]),
        chosen_final_rel=float(row["final_loss"] / task.tuning.failure_loss),
        best_final_rel=float(np.nanmin(table["final_rel"].where(~table["diverged"]))),
        n_diverged=int(table["diverged"].sum()),
        n_collapsed=int(table["collapsed"].sum()),
        n_collapsed_above=int((alive_collapsed & (table["lr"] > sweep.chosen_lr)).sum()),
        n_collapsed_below=int((alive_collapsed & (table["lr"] < sweep.chosen_lr)).sum()),
        n_good=int(table["good"].sum()),
        step_cap=cfg.sweep.max_steps,
        steps_run=[int(r.steps) for r in sweep.results],
        # A good rate that became stationary always beats one that did not (the cap counts as
        # its time), so a chosen rate that did not means none of the good ones did.
        criterion=BY_TIME if bool(row["converged"]) else BY_FINAL_LOSS,
        tuning_teacher_seed=cfg.teachers.tuning_seed,
    )


def _train_mse(task: Task, model: StackedMLP, params: Sequence[Tensor], groups: Sequence[int]) -> np.ndarray:
    """(K,) MSE (original units) of every run at its final parameters on its teacher's reference
    sample: a fresh sample of the training distribution that no run trained on."""
    out = np.full(len(groups), np.nan)
    g = np.asarray(groups)
    for t, td in enumerate(task.evaluation):
        members = np.flatnonzero(g == t)
        pred = model.predict(model.select(list(params), members), td.x_ref)  # (k, n, 1)
        y = td.scaling.to_train(td.y_ref)
        out[members] = mse(pred, y).double().cpu().numpy() * td.scaling.loss_scale
    return out


def student_results(task: Task, name: str, hidden: Sequence[int]) -> StudentResults:
    """Tune and train one student, then measure it against the test sets and the teachers."""
    cfg, ctx = task.cfg, task.ctx
    tr = cfg.train
    model = StackedMLP(MLPSpec(cfg.teacher.d_in, tuple(hidden)))
    tuned = tune_student(task, name, model)
    sweep_summary = sweep_facts(task, tuned, name)
    res, lr = tuned.final, tuned.lr
    groups = np.asarray(task.groups())
    ok = ~res.diverged
    if not ok.any():
        raise RuntimeError(f"every run of {name} diverged at the chosen rate {lr:.3g}")
    members = np.flatnonzero(ok)
    var = np.array([task.evaluation[t].var_test for t in groups])  # (K,)
    # Diverged runs: NaN (left out of every estimate and ordering).
    test_mse_all = np.where(ok, res.evals["test_mse"].final.astype(float), np.nan)
    train_mse_all = np.where(ok, _train_mse(task, model, res.params, groups), np.nan)
    falling = horizon_improvement(res.train_loss, tr.window, tr.horizon)
    g_ok = groups[ok]
    test_mse, train_mse = test_mse_all[ok], train_mse_all[ok]
    test_rel, train_rel = test_mse / var[ok], train_mse / var[ok]
    W, b = model.split(res.params)  # W[l]: (K, in, out), b[l]: (K, 1, out)
    ctx.writer.save_arrays(
        R.PARAMS_ARRAYS.format(name), **{f"W{l}": w for l, w in enumerate(W)}, **{f"b{l}": v for l, v in enumerate(b)}
    )
    init = model.init(ctx.seeds(len(groups), name, "seeds", "init"))  # the runs' initial parameters, redrawn
    trained = [student_layers(model, res.params, int(k)) for k in members]
    at_init = [student_layers(model, init, int(k)) for k in members]
    per_teacher, dists, dists0 = [], [], []
    for t, td in enumerate(task.evaluation):
        sel = [i for i, k in enumerate(members) if groups[k] == t]
        runs = np.flatnonzero(groups == t)
        if sel:
            dists.append(compare_with_teacher([trained[i] for i in sel], td.layers(), n_quantiles=cfg.n_quantiles))
            dists0.append(compare_with_teacher([at_init[i] for i in sel], td.layers(), n_quantiles=cfg.n_quantiles))
        per_teacher.append(
            TeacherRun(
                teacher_seed=td.facts.seed,
                members=[int(k) for k in runs],
                test_rel_mse_per_seed=(test_mse_all[runs] / td.var_test).tolist(),
                train_rel_mse_per_seed=(train_mse_all[runs] / td.var_test).tolist(),
                test_rel_mse_est=seed_estimate(test_mse_all[runs] / td.var_test, "positive"),
                train_rel_mse_est=seed_estimate(train_mse_all[runs] / td.var_test, "positive"),
                converged_step=_steps_or_none(res.converged_step[runs]),
                still_falling=[float(f) for f in falling[runs]],
            )
        )
    ctx.writer.save_json(R.DISTRIBUTIONS_JSON.format(name), dists[0].to_json())
    distribution = combine_distributions([d.distribution for d in dists], [d.distribution for d in dists0])
    test_mse_est, unit = nested_estimate(test_mse, g_ok, "positive")
    return StudentResults(
        hidden=list(hidden),
        n_params=model.spec.n_params,
        members=[int(k) for k in members],
        member_teacher=[int(t) for t in groups],
        params_ratio=model.spec.n_params / task.tuning.teacher.n_params,
        lr=lr,
        steps=int(res.steps),
        seeds=int(ok.sum()),
        seeds_diverged=int(res.diverged.sum()),
        teachers=len(set(g_ok.tolist())),
        unit=unit,
        converged_step=_steps_or_none(res.converged_step[ok]),
        step_cap=tr.max_steps,
        stationary=float(np.mean(res.converged_step[ok] >= 0)),
        test_mse_per_seed=test_mse.tolist(),
        test_rel_mse_per_seed=test_rel.tolist(),
        train_mse_per_seed=train_mse.tolist(),
        test_mse_est=test_mse_est,
        test_rel_mse_est=nested_estimate(test_rel, g_ok, "positive")[0],
        train_mse_est=nested_estimate(train_mse, g_ok, "positive")[0],
        train_rel_mse_est=nested_estimate(train_rel, g_ok, "positive")[0],
        gap_rel_mse_est=nested_estimate(test_rel - train_rel, g_ok)[0],
        per_teacher=per_teacher,
        sweep=sweep_summary,
        distribution=distribution,
        alignment=student_alignment(task, name, model, trained, at_init, g_ok),
        timing=Timing(
            sweep_seconds=float(sum(r.wall_seconds for r in tuned.sweep.results)),
            seeds_seconds=float(res.wall_seconds),
        ),
    )


def student_alignment(
    task: Task,
    name: str,
    model: StackedMLP,
    trained: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]],
    at_init: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]],
    groups: np.ndarray,
) -> Alignment:
    """Every run's hidden units matched to its own teacher's, next to the same matching at
    initialisation (chance): many-to-one for every student; Hungarian (one-to-one, every layer)
    too for students of the teacher's depth."""
    teachers = [task.evaluation[int(t)].layers() for t in groups]
    activity = [unit_activity(td.layers(), td.x_ref.double().cpu().numpy()) for td in task.evaluation]
    best = best_match_summary(
        [best_match_layers(s, t) for s, t in zip(trained, teachers, strict=True)],
        [best_match_layers(s, t) for s, t in zip(at_init, teachers, strict=True)],
        activity,
        groups.tolist(),
    )
    n_units = int(sum(task.cfg.teacher.hidden))
    if model.spec.n_layers != task.tuning.teacher.n_layers:
        return Alignment(threshold=RECOVERY_THRESHOLD, n_units=n_units, best_match=best)
    aligned = [align_to_teacher([s], t)[0] for s, t in zip(trained, teachers, strict=True)]
    chance = [align_to_teacher([s], t)[0] for s, t in zip(at_init, teachers, strict=True)]
    summary = alignment_summary(aligned, chance, best, groups.tolist())
    task.ctx.writer.save_json(R.ALIGNMENT_JSON.format(name), alignment_cosines(summary, aligned, chance))
    return summary


def orderings(students: dict[str, StudentResults], n_teachers: int) -> list[Ordering]:
    """Within-teacher comparisons of every pair of students, the larger (more parameters) first.

    Per teacher, the log-ratio of the two students' relative test MSE (each averaged over its
    seeds in log space); the geometric mean over teachers with a t-interval in log space, and the
    count of teachers where the larger student's error is lower. With one teacher, Welch over seeds.
    """
    out = []
    names = sorted(students, key=lambda n: -students[n].n_params)
    for a, b in itertools.combinations(names, 2):
        sa, sb = students[a], students[b]
        per = []
        for ta, tb in zip(sa.per_teacher, sb.per_teacher, strict=True):
            va = np.asarray(ta.test_rel_mse_per_seed, float)
            vb = np.asarray(tb.test_rel_mse_per_seed, float)
            va, vb = va[np.isfinite(va) & (va > 0)], vb[np.isfinite(vb) & (vb > 0)]
            if va.size and vb.size:
                per.append(float(np.exp(np.log(va).mean() - np.log(vb).mean())))
        if not per:
            continue
        if n_teachers >= 2 and len(per) >= 2:
            est, unit = geometric_mean_ratio(per), "teacher"
        else:
            est = geometric_mean_ratio(sa.test_rel_mse_per_seed, sb.test_rel_mse_per_seed)
            unit = "seed"
        out.append(
            Ordering(
                a=a, b=b, unit=unit, ratio_est=est, per_teacher=per, holds=int(sum(r < 1 for r in per)), n=len(per)
            )
        )
    return out


def _load_parameter_count(cfg: TeacherStudentConfig) -> pd.DataFrame:
    """The parameter-count sweep's table, checked against this run's teacher.

    Raises:
        ParameterError: (naming ``parameter_count``) for a folder that is not a teacher-student
            sweep with a complete run, or a sweep of another teacher than this run's.
    """
    assert cfg.parameter_count is not None
    table = parameter_count_table(cfg.parameter_count)
    teacher = cfg.teacher.model_dump(mode="json")
    if table.attrs["teacher"] != teacher:
        raise ParameterError(
            "parameter_count",
            STUDY_NAME,
            f"a sweep of this run's teacher {teacher} (the sweep's runs have {table.attrs['teacher']})",
            cfg.parameter_count,
        )
    return table


def check(cfg: TeacherStudentConfig) -> None:
    """Refuse a ``parameter_count`` folder that cannot be used, before the run folder exists."""
    if cfg.parameter_count is not None:
        _load_parameter_count(cfg)


def copy_parameter_count(cfg: TeacherStudentConfig, ctx: StudyContext) -> ParameterCountInfo:
    """Copy the parameter-count sweep's table into the run folder (see :func:`check`)."""
    table = _load_parameter_count(cfg)
    info = ParameterCountInfo(
        sweep=table.attrs["sweep_dir"],
        name=table.attrs["name"],
        runs_planned=table.attrs["planned"],
        runs_complete=table.attrs["complete"],
        rows=len(table),
        differs=config_differences(cfg.model_dump(mode="json"), table.attrs["config"]),
    )
    table.attrs = {}  # the artifact is the table alone; its facts are in the summary
    ctx.writer.save_table(R.PARAMETER_COUNT_TABLE, table)
    return info


def run(cfg: TeacherStudentConfig, ctx: StudyContext) -> TeacherStudentResults:
    """Train every student (sweep, then seeds), evaluate, compare with the teacher.

    With ``parameter_count`` set, the sweep folder is read (and refused) first, before training.
    """
    pc = copy_parameter_count(cfg, ctx) if cfg.parameter_count is not None else None
    task, facts = make_task(cfg, ctx)
    students = {name: student_results(task, name, hidden) for name, hidden in cfg.students.items()}
    return TeacherStudentResults(
        **facts,
        students=students,
        orderings=orderings(students, cfg.teachers.n_eval),
        eval_every=cfg.train.eval_every,
        window=cfg.train.window,
        parameter_count=pc,
    )


def _steps_or_none(steps: np.ndarray) -> list[int | None]:
    """The engine's converged steps with its -1 ("never stationary") as None (null in JSON)."""
    return [int(c) if c >= 0 else None for c in steps]
