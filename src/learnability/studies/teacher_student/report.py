"""The teacher-student report, from the typed results and the run folder alone.

Every sentence that states a finding is computed from the numbers: which students beat OLS,
in how many teachers each ordering holds and whether its paired interval excludes 1, whether the
train/test gap is zero within noise, which runs were still improving at the cap, how far
training moved the parameter distributions relative to initialisation, how many teacher units
were recovered against chance and the recoverable ceiling.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from learnability._words import plural
from learnability.analysis import Estimate
from learnability.report import Figure, Heading, Report, Table, Text, fmt, fmt_est
from learnability.runs import Run
from learnability.studies.teacher_student.charts import alignment_chart, curves_chart, distribution_chart, sweep_chart
from learnability.studies.teacher_student.parameter_count import parameter_count_blocks
from learnability.studies.teacher_student.parts import KS_MIN_N, RECOVERY_THRESHOLD
from learnability.studies.teacher_student.results import (
    Alignment,
    BestMatch,
    Ordering,
    StudentResults,
    TeacherStudentResults,
)

__all__ = ["report"]

R = TeacherStudentResults  # artifact names
# Parameter-count ratio (student / teacher) classes used in the commentary.
PARAM_RATIO_EXACT = 1.0
# How the results table names the criterion that chose a rate (SweepFacts.criterion).
CRITERION_LABEL = {"time_to_convergence": "fastest stationary", "final_loss_at_cap": "lowest loss at cap"}


def _est(est: Estimate) -> str:
    """``mean [low, high]`` of an estimate; "—" when it has no finite mean (nothing measured)."""
    return fmt_est(est) if math.isfinite(est.mean) else "—"


def _unit_phrase(unit: str, n: int) -> str:
    return (
        f"over {n} evaluation teachers (seeds averaged within a teacher, the teacher as the unit)"
        if unit == "teacher"
        else f"over the {n} seeds of the single evaluation teacher"
    )


def _overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    return not (a[1] < b[0] or b[1] < a[0])


def _represents_teacher(hidden: Sequence[int], teacher_hidden: Sequence[int]) -> bool:
    """Sufficient condition for a ReLU student to contain the teacher exactly.

    Post-ReLU activations are non-negative, so an extra layer can copy the teacher's last hidden
    layer unchanged (``relu(h) = h`` for ``h >= 0``). A student at least as deep, whose widths
    dominate the teacher's hidden widths padded by repeating the last one, can therefore compute
    the teacher's function exactly.
    """
    if len(hidden) < len(teacher_hidden):
        return False
    padded = list(teacher_hidden) + [teacher_hidden[-1]] * (len(hidden) - len(teacher_hidden))
    return all(w >= t for w, t in zip(hidden, padded, strict=True))


def _steps_phrase(st: StudentResults, horizon: float) -> str:
    conv, n = st.stationary_steps, st.seeds
    quarter = f"the last {fmt(100 * horizon)}% of training"
    if len(conv) == n:
        return f"all {n} runs became quasi-stationary (at steps {fmt(min(conv))}-{fmt(max(conv))})"
    parts = []
    for t in st.per_teacher:
        falling = [f for f, c in zip(t.still_falling, t.converged_step, strict=True) if c is None and math.isfinite(f)]
        if falling:
            parts.append(
                f"teacher {t.teacher_seed}: {plural(len(falling), 'run')} still falling by "
                f"{', '.join(f'{fmt(100 * f)}%' for f in falling)} over {quarter}"
            )
    head = (
        f"{len(conv)} of {n} runs became quasi-stationary within the cap of {fmt(st.step_cap)} steps"
        if conv
        else f"**none of the {n} runs became quasi-stationary within the cap of {fmt(st.step_cap)} steps**"
    )
    return head + (" — not stationary: " + "; ".join(parts) if parts else "")


def _dist_pair(trained: Estimate, init: Estimate | None) -> str:
    return f"{_est(trained)} (init {_est(init) if init is not None else '—'})"


def _results_table(results: TeacherStudentResults) -> Table:
    rows: list[list[object]] = []
    for name, st in results.students.items():
        all_d = st.distribution.all
        rows.append(
            [
                name,
                str(st.hidden),
                f"{fmt(st.n_params)} ({fmt(st.params_ratio)}x)",
                f"{fmt(st.lr)} ({CRITERION_LABEL.get(st.sweep.criterion, st.sweep.criterion)})",
                f"{fmt(st.steps)} ({fmt(100 * st.stationary)}% stationary)",
                _est(st.train_rel_mse_est),
                _est(st.test_rel_mse_est),
                _est(st.gap_rel_mse_est),
                _dist_pair(all_d.ks_est, all_d.ks_init_est),
                _dist_pair(all_d.wasserstein_est, all_d.wasserstein_init_est),
            ]
        )
    b = results.baselines
    for label, base, n_params in (
        ("mean predictor", b.mean, "1"),
        ("OLS on x", b.linear, str(results.teacher.d_in + 1)),
    ):
        rows.append([label, "—", n_params, "—", "—", fmt(base.train_rel_mse), fmt(base.test_rel_mse), "—", "—", "—"])
    n = len(results.teachers)
    unit = "teachers (seeds averaged within a teacher)" if n > 1 else "seeds of the single teacher"
    return Table(
        [
            "student",
            "hidden",
            "params (x teacher)",
            "lr (chosen by)",
            "steps run",
            "train rel",
            "test rel",
            "test - train rel",
            "KS, all params",
            "W1, all params",
        ],
        rows,
        caption=f"Mean [95% CI] over {n} {unit}. rel = MSE / Var(y_test) of each run's own teacher. "
        "Train rel: at the final parameters on a fresh sample of the training distribution (the "
        "teacher's reference sample, never trained on). KS and W1: descriptive distances of the "
        "pooled parameters to the teacher's, next to the same distance at initialisation. "
        "Baselines: means over teachers, fitted on each teacher's reference sample.",
    )


def _teachers_table(results: TeacherStudentResults) -> Table:
    rows = []
    for i, t in enumerate(results.teachers):
        act = t.activity
        rows.append(
            [
                str(t.facts.seed),
                fmt(t.facts.test_var),
                fmt(t.facts.test_mean),
                fmt(t.baselines.linear.test_rel_mse),
                *[fmt_est(st.per_teacher[i].test_rel_mse_est) for st in results.students.values()],
                ", ".join(f"{d}/{a}" for d, a in zip(act.dead, act.always_active, strict=True)),
            ]
        )
    return Table(
        [
            "teacher seed",
            "Var(y_test)",
            "mean(y_test)",
            "OLS rel",
            *[f"{n} test rel" for n in results.students],
            "dead / always-active units per layer",
        ],
        rows,
        caption="Each evaluation teacher with its own test set. Student columns: mean [95% CI] over "
        "that teacher's seeds. Dead / always active: on the teacher's reference sample of "
        f"{fmt(results.teachers[0].activity.n_points)} inputs (such units cannot be recovered).",
    )


def _distribution_table(name: str, st: StudentResults) -> Table:
    d = st.distribution
    rows = []
    for g in [*d.layers, d.weights, d.biases, d.all]:
        vs = "all" if g.teacher_layers is None else ", ".join(str(l + 1) for l in g.teacher_layers)
        su, te = g.student, g.teacher
        rows.append(
            [
                g.name,
                g.role or "pooled",
                vs,
                f"{g.n_student} / {g.n_teacher}",
                f"{fmt(su.mean)} / {fmt(te.mean)}",
                f"{fmt(su.std)} / {fmt(te.std)}",
                f"{fmt(su.excess_kurtosis)} / {fmt(te.excess_kurtosis)}",
                _dist_pair(g.ks_est, g.ks_init_est),
                _dist_pair(g.wasserstein_est, g.wasserstein_init_est),
                _est(g.wasserstein_standardized_est),
            ]
        )
    return Table(
        [
            "parameters",
            "role",
            "teacher layers",
            "n (student / teacher)",
            "mean (s / t)",
            "std (s / t)",
            "excess kurt. (s / t)",
            "KS (init)",
            "W1 (init)",
            "W1 standardised",
        ],
        rows,
        caption=f"{name} vs its teacher, per layer and pooled. Student moments: mean over runs; "
        f"KS, W1: mean [95% CI] {_unit_phrase(st.unit, st.teachers if st.unit == 'teacher' else st.seeds)}, "
        "each next to the same distance for the same runs at initialisation. Descriptive distances, "
        "not tests: trained parameters are not i.i.d. samples.",
    )


def _params_text(results: TeacherStudentResults) -> str:
    th = results.teacher.hidden
    parts = []
    for name, st in results.students.items():
        r = st.params_ratio
        regime = (
            "fewer than the teacher: under-parameterised"
            if r < PARAM_RATIO_EXACT
            else "exactly the teacher's count"
            if r == PARAM_RATIO_EXACT
            else "more than the teacher: over-parameterised"
        )
        cap = (
            "its architecture contains the teacher's, so zero error is reachable in principle"
            if _represents_teacher(st.hidden, th)
            else f"its architecture cannot copy the teacher's (depth {len(st.hidden) + 1} vs "
            f"{len(th) + 1}, first hidden layer {st.hidden[0]} vs {th[0]} units), so an "
            "approximation error may remain"
        )
        parts.append(
            f"**{name}** {st.hidden} has {fmt(st.n_params)} learnable parameters, "
            f"{fmt(r)}x the teacher's ({regime}); {cap}."
        )
    return f"The teacher has {fmt(results.teacher.n_params)} frozen parameters. " + " ".join(parts)


def _trainability_text(name: str, st: StudentResults, tol: float, horizon: float) -> str:
    sw = st.sweep
    edge = (
        "lies strictly inside the rates tried"
        if not sw.at_edge
        else "**is still at an edge of the rates tried** after the extensions allowed: the optimum may lie beyond"
    )
    if sw.criterion == "time_to_convergence":
        pick = (
            f"chosen by time to convergence: the fastest of them to become quasi-stationary, "
            f"lr = {fmt(st.lr)}, did so after {fmt(sw.chosen_steps_to_converge)} steps"
        )
    else:
        pick = (
            f"**chosen by the lowest final loss at the cap, not by time to convergence**: none of "
            f"them became quasi-stationary within the sweep's {fmt(sw.step_cap)} steps, so "
            f"'fastest to converge' fell back to 'lowest loss at the cap': lr = {fmt(st.lr)}"
        )
    if not sw.chosen_feasible:
        pick = (
            f"**no rate beat the mean predictor** (every final training loss that did not "
            f"diverge was within the failure margin of Var(y); best relative "
            f"{fmt(sw.best_final_rel)}), so the least bad one was kept, lr = {fmt(st.lr)}: "
            f"this student's errors are those of a model that learned (almost) nothing"
        )
    return (
        f"**{name}.** The sweep trained {sw.rates_tried} rates from {fmt(sw.lr_min)} to "
        f"{fmt(sw.lr_max)} as one ensemble on the tuning teacher (seed {sw.tuning_teacher_seed}, "
        f"training batches only; {plural(sw.extensions, 'extension')} past an edge); "
        f"{sw.n_diverged} diverged, {sw.n_collapsed_above} above the chosen rate collapsed "
        f"to the mean predictor and {sw.n_collapsed_below} below it were still no better "
        f"than the mean predictor at the cap (too slow). "
        f"{plural(sw.n_good, 'rate')} came within {fmt(100 * tol)}% of the best final training loss "
        f"(relative {fmt(sw.best_final_rel)}); {pick}, which {edge}. Trained at that rate on "
        f"{plural(st.teachers, 'evaluation teacher')} x seeds ({st.seeds} runs) for "
        f"{fmt(st.steps)} steps: {_steps_phrase(st, horizon)}."
        + (f" {plural(st.seeds_diverged, 'run')} diverged and are excluded." if st.seeds_diverged else "")
    )


def _gap_sentence(st: StudentResults) -> str:
    gap = st.gap_rel_mse_est
    if not gap.has_interval:
        return f"test minus train relative MSE {fmt(gap.mean)} (no interval: a single run)"
    zero = gap.low <= 0.0 <= gap.high
    return f"test minus train relative MSE {fmt_est(gap)}: " + (
        "zero within noise, as expected online (every batch is fresh, so the final parameters "
        "have not fitted any sample the test set lacks)"
        if zero
        else "**not zero within noise** (the interval excludes 0): train and test error at the "
        "final parameters differ although every batch was fresh"
    )


def _generalisation_text(name: str, st: StudentResults, results: TeacherStudentResults) -> str:
    ols = results.baselines.linear.test_rel_mse
    est = st.test_rel_mse_est
    if est.has_interval and est.high < ols:
        vs = f"{fmt(ols / est.mean)}x lower than OLS's {fmt(ols)} (the whole CI is below it)"
    elif est.has_interval and est.low > ols:
        vs = f"{fmt(est.mean / ols)}x *higher* than OLS's {fmt(ols)}: no better than a linear fit"
    elif est.has_interval:
        vs = f"not distinguishable from OLS's {fmt(ols)} (the CI contains it)"
    else:
        vs = f"against OLS's {fmt(ols)} (no interval)"
    n = st.teachers if st.unit == "teacher" else st.seeds
    return (
        f"**{name}.** Relative test MSE {_est(est)} {_unit_phrase(st.unit, n)}: {vs}. At the final "
        f"parameters on a fresh training sample the relative error is {_est(st.train_rel_mse_est)}; "
        f"{_gap_sentence(st)}."
    )


def _moved_phrase(trained: Estimate, init: Estimate | None, what: str) -> str:
    if init is None or not math.isfinite(init.mean) or not math.isfinite(trained.mean):
        return f"{what} {_est(trained)}"
    if trained.has_interval and trained.high < init.mean:
        verdict = (
            f"closer to the teacher's than at initialisation ({fmt(init.mean)}), by "
            f"{fmt(1 - trained.mean / init.mean, 2)} of that distance"
        )
    elif trained.has_interval and trained.low > init.mean:
        verdict = f"**farther** from the teacher's than at initialisation ({fmt(init.mean)})"
    else:
        verdict = f"not distinguishable from its value at initialisation ({fmt(init.mean)})"
    return f"{what} {_est(trained)}, {verdict}"


def _distribution_text(name: str, st: StudentResults) -> str:
    d = st.distribution
    a = d.all
    ratio = a.student.std / a.teacher.std
    layers = [g for g in d.layers if math.isfinite(g.ks)]
    closest = min(layers, key=lambda g: g.wasserstein) if layers else None
    extra = (
        f" Among per-layer groups with at least {KS_MIN_N} values, the closest to the teacher's is "
        f"{closest.name} (W1 {fmt(closest.wasserstein)}; at initialisation "
        f"{fmt(closest.wasserstein_init_est.mean if closest.wasserstein_init_est else math.nan)})."
        if closest
        else ""
    )
    return (
        f"**{name}.** All {fmt(a.n_student)} parameters pooled: "
        f"{_moved_phrase(a.wasserstein_est, a.wasserstein_init_est, 'W1 =')}; "
        f"{_moved_phrase(a.ks_est, a.ks_init_est, 'KS distance =')}. The standardised W1 (shape "
        f"only) is {_est(a.wasserstein_standardized_est)}. The parameters have std "
        f"{fmt(a.student.std)} against the teacher's {fmt(a.teacher.std)} ({fmt(ratio)}x): students "
        "start from U(+-1/sqrt(fan_in)), the teacher is N(0, 1), and a ReLU unit rescaled (in x c, "
        "out x 1/c) computes the same function, so raw marginals are not identifiable; the "
        f"scale-invariant comparison below is the one that asks whether units were found.{extra}"
    )


def _best_match_text(name: str, bm: BestMatch, threshold: float) -> str:
    per_layer = "; ".join(
        f"layer {l.layer + 1} ({l.width} teacher units vs {l.student_width} student units): "
        f"{fmt_est(l.recovered_est)} recovered (at initialisation {fmt_est(l.chance_recovered_est)}; "
        f"recoverable {fmt(l.recoverable)}: {fmt(l.dead)} dead, {fmt(l.always_active)} always active), "
        f"mean best cosine {fmt_est(l.best_cosine_est)} (init {fmt_est(l.chance_best_cosine_est)}), "
        f"{fmt_est(l.specialists_est)} student units specialised, {fmt_est(l.duplicated_est)} teacher "
        "units with two or more specialists"
        for l in bm.layers
    )
    rec, ch = bm.recovered_est, bm.chance_recovered_est
    if rec.has_interval and rec.low > ch.mean:
        verdict = "more teacher units are recovered than at initialisation (the interval lies above chance)"
    elif rec.mean > ch.mean:
        verdict = "slightly more than at initialisation, but not resolved from chance"
    else:
        verdict = "no more than at initialisation: the student computes the function through other units"
    frac = rec.mean / bm.recoverable if bm.recoverable > 0 else math.nan
    return (
        f"**{name}**, many-to-one (each teacher unit's best student unit by the cosine of the unit "
        f"directions of [w, b]; cosine > {fmt(threshold)} counts as recovered): {per_layer}. In total "
        f"{fmt_est(rec)} of {bm.n_units} compared units ({fmt(100 * frac)}% of the {fmt(bm.recoverable)} "
        f"recoverable) against {fmt_est(ch)} at initialisation: {verdict}."
    )


def _alignment_text(name: str, al: Alignment) -> str:
    if not al.hungarian:
        return _best_match_text(name, al.best_match, al.threshold)
    assert al.mean_cosine_est is not None and al.recovered_est is not None and al.chance is not None
    assert al.layers is not None and al.mean_cosine is not None
    n = al.n_units
    chance = al.chance
    per_layer = "; ".join(
        f"layer {j + 1}: {fmt(float(np.mean(layer.recovered_per_seed)))} of {layer.width} on average "
        f"(mean cosine {fmt_est(layer.mean_cosine_est)}, init {fmt(layer.chance_mean_cosine)})"
        for j, layer in enumerate(al.layers)
    )
    frac = al.recovered_est.mean / n
    above_chance = al.mean_cosine_est.has_interval and al.mean_cosine_est.low > float(np.mean(chance.mean_cosine))
    if frac >= RECOVERY_THRESHOLD:
        verdict = "the student found the teacher's units, up to the network's symmetries"
    elif above_chance:
        verdict = (
            "its units are closer to the teacher's than matching alone explains, but most "
            "are not recovered: a similar function through different parameters"
        )
    else:
        verdict = (
            "its units are no closer to the teacher's than at initialisation: the student "
            "found a different parameterisation"
        )
    return (
        f"**{name}** has the teacher's depth, so its hidden units were also matched one-to-one "
        f"(Hungarian assignment on unit directions of [w, b], layer by layer, the rescaling carried "
        f"to the next layer). Mean cosine over the {n} hidden units {fmt_est(al.mean_cosine_est)} "
        f"against {fmt(float(np.mean(chance.mean_cosine)))} for the same runs at initialisation; "
        f"units recovered (cosine > {fmt(al.threshold)}) {fmt_est(al.recovered_est)} of {n} "
        f"({per_layer}); at initialisation {fmt(float(np.mean(chance.recovered)))}. So {verdict}. "
        + _best_match_text(name, al.best_match, al.threshold)
    )


def _resolved(o: Ordering | None) -> bool:
    """The larger student's error is lower, resolved: the ratio's whole interval lies below 1."""
    return o is not None and o.ratio_est.has_interval and o.ratio_est.high < 1.0


def _parameters_sentence(results: TeacherStudentResults) -> str:
    """Whether the error decreases with the number of parameters, never stated beyond what the
    within-teacher comparisons resolve: every step between neighbours (by parameter count) whose
    interval contains 1 is named as the caveat of the same sentence."""
    st = results.students
    by_params = sorted(st, key=lambda n: st[n].n_params)  # fewest parameters first
    if len(by_params) < 2:
        return ""
    ords = {(o.a, o.b): o for o in results.orderings}  # a: the student with more parameters
    steps = list(itertools.pairwise(by_params))  # (fewer, more)
    rises = [(s, m) for s, m in steps if not st[m].test_rel_mse < st[s].test_rel_mse]
    unresolved = [(s, m) for s, m in steps if not _resolved(ords.get((m, s)))]
    chain = "error " + " > ".join(f"{n} ({fmt(st[n].n_params)} parameters)" for n in by_params)
    if rises:
        return (
            "The mean error does **not** decrease monotonically with the number of parameters: it does not fall from "
            + "; from ".join(f"{s} to {m}" for s, m in rises)
            + "."
        )
    if not unresolved:
        return (
            f"The error decreases monotonically with the number of parameters ({chain}), "
            "and every step is resolved: each within-teacher ratio's interval lies below 1."
        )
    return (
        f"The mean error decreases with the number of parameters ({chain}), but only in the "
        "means: "
        + ", ".join(f"{m} < {s}" for s, m in unresolved)
        + f" {'is' if len(unresolved) == 1 else 'are'} not resolved (the interval contains 1), so a "
        "monotone decrease is **not established**."
    )


def _ordering_sentence(o: Ordering) -> str:
    unit = (
        f"paired within teacher, 95% CI over {o.n} teachers in log space"
        if o.unit == "teacher"
        else "one teacher: Welch over seeds in log space"
    )
    resolved = _resolved(o)
    reversed_ = o.ratio_est.has_interval and o.ratio_est.low > 1.0
    verdict = (
        f"{o.a} < {o.b} is resolved (the interval lies below 1)"
        if resolved
        else f"**{o.a} > {o.b}** (the interval lies above 1)"
        if reversed_
        else f"{o.a} < {o.b} is not resolved (the interval contains 1)"
    )
    return (
        f"{o.a} / {o.b} = {fmt_est(o.ratio_est)} ({unit}); {o.a}'s error is lower in {o.holds} of "
        f"{o.n} teachers; {verdict}"
    )


def _across_text(results: TeacherStudentResults) -> list[str]:
    st = results.students
    names = sorted(st, key=lambda n: st[n].test_rel_mse)
    order = " < ".join(f"{n} ({_est(st[n].test_rel_mse_est)})" for n in names)
    by_params = sorted(st, key=lambda n: st[n].n_params)
    ols = results.baselines.linear.test_rel_mse
    beat = [n for n in names if st[n].test_rel_mse_est.has_interval and st[n].test_rel_mse_est.high < ols]
    w1 = sorted(st, key=lambda n: st[n].distribution.all.wasserstein)
    speed = ", ".join(
        f"{n} {fmt(st[n].lr)} ({fmt(st[n].steps)} steps, "
        f"{fmt(st[n].timing.sweep_seconds + st[n].timing.seeds_seconds)} s)"
        for n in by_params
    )
    all_hold = [o for o in results.orderings if o.holds == o.n]
    paras = [
        f"Ordering of the means by relative test MSE: {order}. Within-teacher comparisons (ratio of "
        f"relative test MSE, the larger student first): "
        + ("; ".join(_ordering_sentence(o) for o in results.orderings) or "only one student")
        + f". {len(all_hold)} of {len(results.orderings)} orderings hold in every teacher. "
        + _parameters_sentence(results),
        (
            f"{len(beat)} of {len(st)} students beat OLS ({fmt(ols)}, mean over teachers) with their "
            f"whole CI{': ' + ', '.join(beat) if beat else ''}."
        ),
        f"Chosen rates (steps run, training wall time): {speed}.",
        (
            "Distance of the pooled parameters to the teacher's (W1), closest first: "
            + ", ".join(f"{n} {fmt(st[n].distribution.all.wasserstein)}" for n in w1)
            + (
                ". This is the test-error ordering."
                if w1 == names
                else ". This is **not** the test-error ordering: generalising better did not require "
                "parameters distributed more like the teacher's."
            )
        ),
    ]
    return paras


def _setup_text(results: TeacherStudentResults, run: Run) -> str:
    cfg, t, tg = run.config, results.teacher, results.targets
    dims = " -> ".join(str(d) for d in [t.d_in, *t.hidden, 1])
    n = len(results.teachers)
    seeds = ", ".join(str(x.facts.seed) for x in results.teachers)
    var = [x.facts.test_var for x in results.teachers]
    targets = (
        "raw teacher outputs (the spec)"
        if not tg.standardized
        else "standardised outputs (y - m) / s, m and s estimated per teacher on a separate training "
        "sample; every number below is in original units"
    )
    return (
        f"Frozen teachers {dims} (weights and biases i.i.d. N(0, {fmt(t.init_std)}^2)): "
        f"{plural(n, 'evaluation teacher')} (seeds {seeds}), each labelling its own "
        f"{fmt(results.test_set.n)} fixed test inputs "
        f"from U[{fmt(cfg.teacher.input_low)}, {fmt(cfg.teacher.input_high)}]^{t.d_in}; Var(y_test) "
        f"ranges {fmt(min(var))} .. {fmt(max(var))} across them, so every MSE is also given relative "
        "to its own teacher's Var(y_test) (1 = predicting the mean). Students train online on "
        f"{targets}: each step draws {cfg.train.batch_size} fresh inputs, labels them with the run's "
        f"teacher and takes one {cfg.train.optimizer} step on the MSE; {cfg.train.seeds} seeds per "
        "teacher and student, all of one student's runs in one ensemble. Learning rates are chosen "
        f"per student by a sweep on a separate tuning teacher (seed {results.tuning_teacher.seed}), "
        "training batches only: no evaluation teacher's data chose a rate. A run is quasi-stationary "
        f"when its training loss, averaged over windows of {fmt(results.window)} steps, improved by "
        f"less than {fmt(100 * cfg.train.rel_tol)}% over the last {fmt(100 * cfg.train.horizon)}% of "
        f"training (at {cfg.train.patience} consecutive window ends, not before step "
        f"{fmt(cfg.train.min_steps)}): a plateau shorter than a third of the training before it "
        "cannot pass for convergence."
    )


def _convergence_caveat(st: StudentResults) -> str | None:
    """Why a student's numbers are not those of converged runs (None when they are)."""
    problems = []
    n = len(st.converged_step)
    capped = sum(c is None for c in st.converged_step)
    if capped:
        problems.append(f"{capped} of {n} runs not quasi-stationary within the {fmt(st.step_cap)}-step cap")
    if st.seeds_diverged:
        problems.append(f"{plural(st.seeds_diverged, 'run')} diverged (left out)")
    if not st.sweep.chosen_feasible:
        problems.append("no swept rate beat the mean predictor")
    return "did not converge: " + "; ".join(problems) if problems else None


def _headline_flags(results: TeacherStudentResults) -> dict[str, str]:
    """Caveats of the headline numbers: a student whose runs did not converge, and every ratio
    that involves one."""
    caveats = {n: c for n, st in results.students.items() if (c := _convergence_caveat(st)) is not None}
    flags = {f"{n} relative test MSE": c for n, c in caveats.items()}
    for o in results.orderings:
        names = [n for n in (o.a, o.b) if n in caveats]
        if names:
            flags[f"{o.a} / {o.b}"] = f"{' and '.join(names)} did not converge"
    return flags


def report(results: TeacherStudentResults, run: Run) -> Report:
    """The study's report, from the typed results and the run folder alone."""
    students = results.students
    t, b = results.teacher, results.baselines
    tolerance = run.config.sweep.tolerance
    horizon = run.config.train.horizon
    rep = Report(
        "Teacher-student: under-, exactly- and over-parameterised students (Challenge 2A)",
        headline={
            "teacher parameters": fmt(t.n_params),
            "evaluation teachers": str(len(results.teachers)),
            **{f"{n} relative test MSE": _est(st.test_rel_mse_est) for n, st in students.items()},
            **{f"{o.a} / {o.b}": f"{fmt_est(o.ratio_est)} ({o.holds}/{o.n})" for o in results.orderings},
            "OLS relative test MSE": fmt(b.linear.test_rel_mse),
        },
    )
    for key, caveat in _headline_flags(results).items():
        rep.flag(key, caveat)
    rep.add(Text(_setup_text(results, run)))
    rep.add(Heading("Results"), _results_table(results))
    rep.add(Heading("Replication over teachers"), _teachers_table(results))
    rep.add(Heading("Number of learnable parameters"), Text(_params_text(results)))
    rep.add(Heading("Trainability and stationarity"))
    for name, st in students.items():
        rep.add(Text(_trainability_text(name, st, tolerance, horizon)))
    for name, st in students.items():
        rep.add(Figure(sweep_chart(run, name, st, results, tolerance)))
    rep.add(Heading("Generalisation"))
    ols = _est(b.linear.test_rel_mse_est) if b.linear.test_rel_mse_est else fmt(b.linear.test_rel_mse)
    rep.add(
        Text(
            f"Baselines on each teacher's test set, averaged over teachers: the training mean has "
            f"relative test MSE {fmt(b.mean.test_rel_mse)}; ordinary least squares on the {t.d_in} "
            f"inputs, fitted on a separate training sample, {ols} "
            f"({fmt(b.linear.train_rel_mse)} in-sample)."
        )
    )
    for name, st in students.items():
        rep.add(Text(_generalisation_text(name, st, results)))
    rep.add(Figure(curves_chart(run, results)))
    rep.add(Heading("Distributional convergence to the teacher's parameters"))
    rep.add(
        Text(
            "Each student layer is compared with the teacher layer that plays the same role: "
            "the input layers (fan-in " + str(t.d_in) + ") and the output layers "
            "(fan-out 1) correspond at any depth; with the teacher's depth every layer pairs "
            "with the same index; otherwise a hidden -> hidden layer is compared with the "
            "teacher's hidden -> hidden layers pooled (a one-hidden-layer student has none). "
            "Each run is compared with its own teacher. KS and W1 are descriptive distances, each "
            "next to the same distance for the same runs at initialisation: how far training moved "
            "the parameters toward (or away from) the teacher's. No p-value is read as a test."
        )
    )
    for name, st in students.items():
        rep.add(Text(_distribution_text(name, st)))
    for name, st in students.items():
        rep.add(_distribution_table(name, st), Figure(distribution_chart(run, name, st)))
    rep.add(Heading("Symmetry-aware comparison: were the teacher's units found?"))
    for name, st in students.items():
        rep.add(Text(_alignment_text(name, st.alignment)))
        if st.alignment.hungarian:
            rep.add(Figure(alignment_chart(run, name, st.alignment)))
    rep.add(Heading("Across students"))
    for para in _across_text(results):
        rep.add(Text(para))
    pc = results.parameter_count
    if pc is not None and run.has_artifact(f"{R.PARAMETER_COUNT_TABLE}.parquet"):
        table = run.load_table(R.PARAMETER_COUNT_TABLE)
        table.attrs = {"name": pc.name, "planned": pc.runs_planned}
        rep.add(Heading("Parameter count: the same question along a sweep of widths"))
        rep.add(*parameter_count_blocks(table, results, pc.differs))
    return rep
