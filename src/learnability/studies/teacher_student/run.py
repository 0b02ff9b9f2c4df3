"""The teacher-student run: the task (teacher, test set, baselines), then per student a
learning-rate sweep, fresh seeds at the chosen rate, and the comparisons with the teacher.

Stages, top to bottom: :func:`make_task` -> per student :func:`sweep_student` (one ensemble of
every rate), :func:`train_seeds` (fresh seeds), :func:`student_results` (errors, distributions,
alignment) -> :func:`run`. The test set is touched only to report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from learnability._validation import ParameterError
from learnability.data import sample_uniform
from learnability.engine import (
    EvalSet,
    LRGrid,
    MLPSpec,
    OnlineSource,
    Selection,
    StackedMLP,
    Stationarity,
    TrainResult,
    TrainSpec,
    TunedResult,
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
    SharedStreamSource,
    TargetScaling,
    align_to_teacher,
    alignment_cosines,
    alignment_summary,
    compare_with_teacher,
    fit_baselines,
    seed_estimate,
    student_layers,
)
from learnability.studies.teacher_student.results import (
    Alignment,
    ParameterCountInfo,
    StudentResults,
    SweepFacts,
    TeacherFacts,
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


@dataclass
class Task:
    """Everything the students share: teacher, data, scaling, evaluation set."""

    cfg: TeacherStudentConfig
    ctx: StudyContext
    teacher: Teacher
    scaling: TargetScaling
    failure_loss: float  # Var(y) of the reference sample, training units
    var_test: float  # Var(y_test), original units
    test: EvalSet

    def sample(self, generator: torch.Generator, n: int) -> Tensor:
        t = self.cfg.teacher
        return sample_uniform(n, t.d_in, low=t.input_low, high=t.input_high, generator=generator)  # (n, d)

    def label(self, x: Tensor) -> Tensor:
        return self.scaling.to_train(self.teacher.label(x))  # (n, 1), training units

    def source(self) -> OnlineSource:
        return OnlineSource(self.sample, self.label, batch_size=self.cfg.train.batch_size)

    def stationarity(self) -> Stationarity:
        tr = self.cfg.train
        return Stationarity(window=tr.window, rel_tol=tr.rel_tol, patience=tr.patience)


def make_task(cfg: TeacherStudentConfig, ctx: StudyContext) -> tuple[Task, dict[str, Any]]:
    """Build the teacher, draw the test set and the reference sample, fit the baselines.

    Returns:
        The task and the facts of :class:`TeacherStudentResults` it determines (``teacher``,
        ``test_set``, ``targets``, ``baselines``).
    """
    t = cfg.teacher
    teacher = Teacher(teacher_spec(t.d_in, t.hidden), seed=t.seed, std=t.init_std, device=ctx.device)

    def draw(n: int, stream: str) -> tuple[Tensor, Tensor]:
        g = torch.Generator().manual_seed(ctx.seed(stream))
        x = sample_uniform(n, t.d_in, low=t.input_low, high=t.input_high, generator=g).to(ctx.device)
        return x, teacher.label(x)  # (n, d), (n, 1)

    x_test, y_test = draw(cfg.n_test, "test")
    x_ref, y_ref = draw(cfg.n_reference, "reference")
    scaling = TargetScaling.fit(y_ref.cpu().numpy(), standardize=cfg.standardize_targets)
    y_test_np = y_test.double().cpu().numpy()
    var_test = float(y_test_np.var())
    failure = float(scaling.to_train(y_ref.double()).var(unbiased=False))
    scale = scaling.loss_scale

    def mse_original(out: Tensor, y: Tensor) -> Tensor:
        return mse(out, y) * scale  # (K,) squared error in the teacher's units

    test = EvalSet(x_test, scaling.to_train(y_test), metrics={"mse": mse_original})
    facts = {
        "teacher": TeacherFacts(
            hidden=list(t.hidden),
            d_in=t.d_in,
            seed=t.seed,
            init_std=t.init_std,
            n_params=teacher.n_params,
            n_layers=teacher.n_layers,
            test_var=var_test,
            test_mean=float(y_test_np.mean()),
            test_min=float(y_test_np.min()),
            test_max=float(y_test_np.max()),
            reference_var=float(y_ref.double().var(unbiased=False)),
        ),
        "test_set": TestSetFacts(n=cfg.n_test, input_low=float(x_test.min()), input_high=float(x_test.max())),
        "targets": scaling.facts(failure),
        "baselines": fit_baselines(x_ref, y_ref, x_test, y_test),
    }
    ctx.writer.save_arrays(
        R.TEACHER_ARRAYS,
        **{f"W{l}": w for l, (w, _) in enumerate(teacher.layers())},
        **{f"b{l}": b for l, (_, b) in enumerate(teacher.layers())},
    )
    return Task(cfg, ctx, teacher, scaling, failure, var_test, test), facts


def tune_student(task: Task, name: str, model: StackedMLP) -> TunedResult:
    """The learning-rate sweep (one ensemble of every rate), then fresh seeds at the chosen rate.

    Sweep: every rate shares one initialisation and one data stream, so rates compete on equal
    terms, scored on the final training loss (fresh batches: never the test set). Seeds: neither
    the sweep's initialisations nor its data streams; test loss every ``eval_every`` steps.
    """
    cfg, ctx = task.cfg, task.ctx
    sw, tr = cfg.sweep, cfg.train
    init_seed, data_seed = ctx.seed(name, "sweep", "init"), ctx.seed(name, "sweep", "data")

    def sweep_fn(lrs: np.ndarray, round_: int) -> TrainResult:
        k = len(lrs)
        return train(
            model,
            model.init([init_seed] * k),
            loss=mse,
            optimizer=make_optimizer(tr.optimizer),
            lr=lrs,
            data=SharedStreamSource(task.source()),
            seeds=[data_seed] * k,
            spec=TrainSpec(
                max_steps=sw.max_steps, block=ENGINE_BLOCK, stationarity=task.stationarity(), compile=cfg.compile
            ),
            sink=ctx.writer,
            tag=round_tag(R.SWEEP_TAG.format(name), round_),
            progress=ctx.progress,
        )

    def seeds_fn(lr: float) -> TrainResult:
        n = tr.seeds
        return train(
            model,
            model.init(ctx.seeds(n, name, "seeds", "init")),
            loss=mse,
            optimizer=make_optimizer(tr.optimizer),
            lr=[lr] * n,
            data=task.source(),
            seeds=ctx.seeds(n, name, "seeds", "data"),
            spec=TrainSpec(
                max_steps=tr.max_steps,
                eval_every=tr.eval_every,
                block=ENGINE_BLOCK,
                stationarity=task.stationarity(),
                compile=cfg.compile,
            ),
            eval_sets={"test": task.test},
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
        failure_loss=task.failure_loss,
        step_cap=sw.max_steps,
    )


def sweep_facts(task: Task, tuned: TunedResult, name: str) -> SweepFacts:
    """Save the sweep's table (``final_rel`` added: final loss over Var(y)) and summarise it."""
    cfg, sweep = task.cfg, tuned.sweep
    table = sweep.table.copy()
    table["final_rel"] = table["final_loss"] / task.failure_loss
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
        chosen_steps_to_converge=int(row["steps_to_converge"]),
        chosen_converged=bool(row["converged"]),
        chosen_final_rel=float(row["final_loss"] / task.failure_loss),
        best_final_rel=float(np.nanmin(table["final_rel"].where(~table["diverged"]))),
        n_diverged=int(table["diverged"].sum()),
        n_collapsed=int(table["collapsed"].sum()),
        n_collapsed_above=int((alive_collapsed & (table["lr"] > sweep.chosen_lr)).sum()),
        n_collapsed_below=int((alive_collapsed & (table["lr"] < sweep.chosen_lr)).sum()),
        n_good=int(table["good"].sum()),
        step_cap=cfg.sweep.max_steps,
        steps_run=[int(r.steps) for r in sweep.results],
    )


def student_results(task: Task, name: str, hidden: Sequence[int]) -> StudentResults:
    """Tune and train one student, then measure it against the test set and the teacher."""
    cfg, ctx = task.cfg, task.ctx
    model = StackedMLP(MLPSpec(cfg.teacher.d_in, tuple(hidden)))
    tuned = tune_student(task, name, model)
    sweep_summary = sweep_facts(task, tuned, name)
    res, lr = tuned.final, tuned.lr
    ok = ~res.diverged
    if not ok.any():
        raise RuntimeError(f"every seed of {name} diverged at the chosen rate {lr:.3g}")
    members = np.flatnonzero(ok)
    test_mse = res.evals["test_mse"].final[ok].astype(float)
    train_mse = res.final_train_loss(cfg.train.window)[ok] * task.scaling.loss_scale
    test_rel, train_rel = test_mse / task.var_test, train_mse / task.var_test
    W, b = model.split(res.params)  # W[l]: (K, in, out), b[l]: (K, 1, out)
    ctx.writer.save_arrays(
        R.PARAMS_ARRAYS.format(name), **{f"W{l}": w for l, w in enumerate(W)}, **{f"b{l}": v for l, v in enumerate(b)}
    )
    trained = [student_layers(model, res.params, k) for k in members]
    comparison = compare_with_teacher(trained, task.teacher.layers(), n_quantiles=cfg.n_quantiles)
    ctx.writer.save_json(R.DISTRIBUTIONS_JSON.format(name), comparison.to_json())
    return StudentResults(
        hidden=list(hidden),
        n_params=model.spec.n_params,
        members=[int(k) for k in members],
        params_ratio=model.spec.n_params / task.teacher.n_params,
        lr=lr,
        steps=int(res.steps),
        seeds=int(ok.sum()),
        seeds_diverged=int(res.diverged.sum()),
        converged_step=[int(s) for s in res.converged_step[ok]],
        step_cap=cfg.train.max_steps,
        test_mse_per_seed=test_mse.tolist(),
        test_rel_mse_per_seed=test_rel.tolist(),
        train_mse_per_seed=train_mse.tolist(),
        test_mse_est=seed_estimate(test_mse),
        test_rel_mse_est=seed_estimate(test_rel),
        train_mse_est=seed_estimate(train_mse),
        train_rel_mse_est=seed_estimate(train_rel),
        sweep=sweep_summary,
        distribution=comparison.distribution,
        alignment=student_alignment(task, name, model, trained, members),
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
    members: np.ndarray,
) -> Alignment | None:
    """For a student of the teacher's depth: its hidden units matched to the teacher's, next to
    the same matching at initialisation (chance); None for other depths."""
    if model.spec.n_layers != task.teacher.n_layers:
        return None
    # The seeds' initial parameters, drawn again from their seeds (the same draws as training's).
    init = model.init(task.ctx.seeds(task.cfg.train.seeds, name, "seeds", "init"))
    teacher_layers = task.teacher.layers()
    aligned = align_to_teacher(trained, teacher_layers)
    chance = align_to_teacher([student_layers(model, init, int(k)) for k in members], teacher_layers)
    summary = alignment_summary(aligned, chance)
    task.ctx.writer.save_json(R.ALIGNMENT_JSON.format(name), alignment_cosines(summary, aligned, chance))
    return summary


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
        eval_every=cfg.train.eval_every,
        window=cfg.train.window,
        parameter_count=pc,
    )
