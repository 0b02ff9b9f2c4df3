"""The teacher-student report, from the typed results and the run folder alone.

Every sentence that states a finding is computed from the numbers: which students beat OLS,
whether the ordering by test error is resolved, whether trained parameters are distinguishable
from the teacher's, whether hidden units were recovered.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from learnability.analysis import Estimate, geometric_mean_ratio
from learnability.report import Figure, Heading, Report, Table, Text, fmt, fmt_est
from learnability.runs import Run
from learnability.studies.teacher_student.charts import alignment_chart, curves_chart, distribution_chart, sweep_chart
from learnability.studies.teacher_student.parameter_count import parameter_count_blocks
from learnability.studies.teacher_student.parts import KS_MIN_N, RECOVERY_THRESHOLD
from learnability.studies.teacher_student.results import Alignment, StudentResults, TeacherStudentResults

__all__ = ["report"]

R = TeacherStudentResults  # artifact names
# Parameter-count ratio (student / teacher) classes used in the commentary.
PARAM_RATIO_EXACT = 1.0
# Significance level used to read KS p-values in the commentary.
KS_ALPHA = 0.05
# p-values below this print as "< 1e-300" (they underflow to 0 for large samples).
P_FLOOR = 1e-300


def _est(est: Estimate) -> str:
    """``mean [low, high]`` of an estimate; "—" when it has no finite mean (nothing measured)."""
    return fmt_est(est) if math.isfinite(est.mean) else "—"


def _fmt_p(p: float) -> str:
    return "—" if not math.isfinite(p) else (f"< {P_FLOOR:.0e}" if p < P_FLOOR else fmt(p))


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


def _steps_phrase(st: StudentResults) -> str:
    conv, n = st.stationary_steps, st.seeds
    if not conv:
        return (
            f"none of the {n} seeds became quasi-stationary within the cap of "
            f"{fmt(st.step_cap)} steps (still improving)"
        )
    where = ", ".join(fmt(c) for c in conv)
    rest = "" if len(conv) == n else f"; the other {n - len(conv)} reached the cap still improving"
    return f"{len(conv)} of {n} seeds became quasi-stationary (at steps {where}){rest}"


def _results_table(results: TeacherStudentResults) -> Table:
    rows: list[list[object]] = []
    for name, st in results.students.items():
        all_d = st.distribution.all
        rows.append(
            [
                name,
                str(st.hidden),
                f"{fmt(st.n_params)} ({fmt(st.params_ratio)}x)",
                fmt(st.lr),
                f"{fmt(st.steps)} ({len(st.stationary_steps)}/{st.seeds} stationary)",
                _est(st.train_mse_est),
                _est(st.test_mse_est),
                _est(st.train_rel_mse_est),
                _est(st.test_rel_mse_est),
                _est(all_d.ks_est),
                _est(all_d.wasserstein_est),
            ]
        )
    b = results.baselines
    for label, base, n_params in (
        ("mean predictor", b.mean, "1"),
        ("OLS on x", b.linear, str(results.teacher.d_in + 1)),
    ):
        rows.append(
            [
                label,
                "—",
                n_params,
                "—",
                "—",
                "—",
                fmt(base.test_mse),
                fmt(base.train_rel_mse),
                fmt(base.test_rel_mse),
                "—",
                "—",
            ]
        )
    return Table(
        [
            "student",
            "hidden",
            "params (x teacher)",
            "lr",
            "steps run",
            "train MSE",
            "test MSE",
            "train rel",
            "test rel",
            "KS (all params)",
            "W1 (all params)",
        ],
        rows,
        caption=f"Mean [95% CI] over seeds. rel = MSE / Var(y_test), Var(y_test) = "
        f"{fmt(results.teacher.test_var)}. Train MSE: mean loss over the last "
        f"{fmt(results.window)} fresh batches. Baselines fitted on a separate training "
        "sample of the teacher, scored on the same test set.",
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
                f"{fmt(su.skewness)} / {fmt(te.skewness)}",
                f"{fmt(su.excess_kurtosis)} / {fmt(te.excess_kurtosis)}",
                _est(g.ks_est),
                _fmt_p(g.ks_pvalue_max),
                _est(g.wasserstein_est),
                _est(g.wasserstein_standardized_est),
            ]
        )
    return Table(
        [
            "parameters",
            "role",
            "teacher layer(s)",
            "n (student / teacher)",
            "mean (s / t)",
            "std (s / t)",
            "skew (s / t)",
            "excess kurt. (s / t)",
            "KS",
            "max p (KS)",
            "W1",
            "W1 standardised",
        ],
        rows,
        caption=f"{name} vs teacher, per layer and pooled. Student moments: mean over "
        f"{st.seeds} seeds; KS, W1: mean [95% CI] over seeds; max p: the largest "
        "KS p-value among seeds.",
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


def _trainability_text(name: str, st: StudentResults, tol: float) -> str:
    sw = st.sweep
    edge = (
        "lies strictly inside the rates tried"
        if not sw.at_edge
        else "**is still at an edge of the rates tried** after the extensions allowed: the optimum may lie beyond"
    )
    # A good rate that became stationary always beats one that did not (the cap counts as its
    # time), so a chosen rate that never did means none of the good ones did.
    pick = (
        f"the fastest of them to become quasi-stationary, lr = {fmt(st.lr)}, did so after "
        f"{fmt(sw.chosen_steps_to_converge)} steps"
        if sw.chosen_converged
        else f"none of them became quasi-stationary within the sweep's {fmt(sw.step_cap)} steps, "
        f"so the lowest final loss decided: lr = {fmt(st.lr)}"
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
        f"{fmt(sw.lr_max)} as one ensemble ({sw.extensions} extension(s) past an edge); "
        f"{sw.n_diverged} diverged, {sw.n_collapsed_above} above the chosen rate collapsed "
        f"to the mean predictor and {sw.n_collapsed_below} below it were still no better "
        f"than the mean predictor at the cap (too slow). "
        f"{sw.n_good} rate(s) came within {fmt(100 * tol)}% of the best final training loss "
        f"(relative {fmt(sw.best_final_rel)}); {pick}, which {edge}. Retrained from "
        f"{st.seeds} fresh seeds at that rate for "
        f"{fmt(st.steps)} steps, {_steps_phrase(st)}; relative training MSE "
        f"{_est(st.train_rel_mse_est)}."
        + (f" {st.seeds_diverged} seed(s) diverged and are excluded." if st.seeds_diverged else "")
    )


def _generalisation_text(name: str, st: StudentResults, results: TeacherStudentResults) -> str:
    ols = results.baselines.linear.test_rel_mse
    est = st.test_rel_mse_est
    if est.high < ols:
        vs = f"{fmt(ols / est.mean)}x lower than OLS's {fmt(ols)} (the whole CI is below it)"
    elif est.low > ols:
        vs = f"{fmt(est.mean / ols)}x *higher* than OLS's {fmt(ols)}: no better than a linear fit"
    else:
        vs = f"not distinguishable from OLS's {fmt(ols)} (the CI contains it)"
    gap = est.mean - st.train_rel_mse_est.mean
    half = est.half_width if est.has_interval else math.nan
    gap_word = ("within" if abs(gap) <= half else "outside") if math.isfinite(half) else "beside"
    return (
        f"**{name}.** Test MSE {_est(st.test_mse_est)}, relative {_est(est)}: "
        f"{vs}. Test minus training relative MSE: {fmt(gap)}, {gap_word} the seed-to-seed "
        f"half-width {fmt(half)} — every batch is fresh, so the training loss already "
        "estimates the risk and no overfitting gap is expected."
    )


def _distribution_text(name: str, st: StudentResults) -> str:
    d = st.distribution
    a = d.all
    p = a.ks_pvalue_max
    verdict = (
        f"p {'<' if p < P_FLOOR else '<='} {_fmt_p(p).lstrip('< ')} in every seed: "
        f"distinguishable from the teacher's at the {fmt(100 * KS_ALPHA)}% level"
        if p < KS_ALPHA
        else f"p = {_fmt_p(p)} in at least one seed: not distinguishable at the {fmt(100 * KS_ALPHA)}% level"
    )
    ratio = a.student.std / a.teacher.std
    # Single values (an output bias) have no distribution: rank only groups KS could test.
    layers = [g for g in d.layers if math.isfinite(g.ks)]
    closest = min(layers, key=lambda g: g.wasserstein) if layers else None
    farthest = max(layers, key=lambda g: g.wasserstein) if layers else None
    extra = (
        f" Among per-layer groups with at least {KS_MIN_N} values, the closest is "
        f"{closest.name} (W1 {fmt(closest.wasserstein)}, KS {fmt(closest.ks)}) and the "
        f"farthest {farthest.name} (W1 {fmt(farthest.wasserstein)}, KS "
        f"{fmt(farthest.ks)})."
        if closest and farthest
        else ""
    )
    return (
        f"**{name}.** All {fmt(a.n_student)} parameters pooled: KS = {_est(a.ks_est)} ({verdict}); "
        f"W1 = {_est(a.wasserstein_est)}, standardised W1 (shape only) = "
        f"{_est(a.wasserstein_standardized_est)}. The student's parameters have std "
        f"{fmt(a.student.std)} against the teacher's {fmt(a.teacher.std)} "
        f"({fmt(ratio)}x) and excess kurtosis {fmt(a.student.excess_kurtosis)} against "
        f"{fmt(a.teacher.excess_kurtosis)}.{extra}"
    )


def _alignment_text(name: str, al: Alignment) -> str:
    n = al.n_units
    chance = al.chance
    per_layer = "; ".join(
        f"layer {j + 1}: {', '.join(str(r) for r in layer.recovered_per_seed)} of {layer.width} "
        f"(mean cosine {fmt_est(layer.mean_cosine_est)})"
        for j, layer in enumerate(al.layers)
    )
    frac = al.recovered_est.mean / n
    above_chance = al.mean_cosine_est.low > max(chance.mean_cosine)
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
        f"**{name}** has the teacher's depth, so its hidden units were matched to the teacher's "
        f"(Hungarian assignment on normalised incoming vectors, layer by layer, modulo "
        f"permutation and positive rescaling). Mean cosine over the {n} hidden units per seed: "
        f"{', '.join(fmt(c) for c in al.mean_cosine)} "
        f"(mean {fmt_est(al.mean_cosine_est)}), "
        f"against {', '.join(fmt(c) for c in chance.mean_cosine)} for the same students at "
        f"initialisation (what matching finds between unrelated networks). Units recovered "
        f"(cosine > {fmt(al.threshold)}) per seed: "
        f"{', '.join(str(r) for r in al.recovered)} of {n} ({per_layer}); at initialisation "
        f"{', '.join(str(r) for r in chance.recovered)}. So {verdict}."
    )


def _across_text(results: TeacherStudentResults) -> list[str]:
    st = results.students
    names = sorted(st, key=lambda n: st[n].test_rel_mse)
    order = " < ".join(f"{n} ({_est(st[n].test_rel_mse_est)})" for n in names)
    pairs = []
    for a, b in itertools.pairwise(names):
        r = geometric_mean_ratio(st[b].test_rel_mse_per_seed, st[a].test_rel_mse_per_seed)
        resolved = r.low > 1.0  # the interval of the ratio excludes 1
        ov = _overlap(st[a].test_rel_mse_est.ci, st[b].test_rel_mse_est.ci)
        pairs.append(
            f"{b} / {a} = {fmt_est(r)}, "
            + (
                "resolved (the ratio's CI excludes 1"
                if resolved
                else "not resolved with these seeds (the ratio's CI contains 1"
            )
            + f"; the two means' CIs {'overlap' if ov else 'do not overlap'})"
        )
    by_params = sorted(st, key=lambda n: st[n].n_params)
    errs = [st[n].test_rel_mse for n in by_params]
    mono = all(x > y for x, y in itertools.pairwise(errs))
    ols = results.baselines.linear.test_rel_mse
    beat = [n for n in names if st[n].test_rel_mse_est.high < ols]
    w1 = sorted(st, key=lambda n: st[n].distribution.all.wasserstein)
    same = w1 == names
    speed = ", ".join(
        f"{n} {fmt(st[n].lr)} ({fmt(st[n].steps)} steps, "
        f"{fmt(st[n].timing.sweep_seconds + st[n].timing.seeds_seconds)} s)"
        for n in by_params
    )
    counts = ", ".join(f"{n} {fmt(st[n].n_params)}" for n in by_params)
    w1_order = ", ".join(f"{n} {fmt(st[n].distribution.all.wasserstein)}" for n in w1)
    return [
        (
            f"Ordering by relative test MSE: {order}. Geometric-mean ratios of consecutive students "
            f"(95% CI, Welch in log space): {'; '.join(pairs) if pairs else 'only one student'}."
        ),
        (
            f"By parameter count ({counts}) the test "
            f"error {'decreases monotonically' if mono else 'does **not** decrease monotonically'} with "
            f"the number of learnable parameters. {len(beat)} of {len(st)} students beat OLS "
            f"({fmt(ols)}) with their whole CI{': ' + ', '.join(beat) if beat else ''}."
        ),
        f"Chosen rates (steps run, training wall time): {speed}.",
        (
            f"Distance of the pooled parameters to the teacher's (W1), closest first: {w1_order}. "
            + (
                "This is the test-error ordering: here the students that generalise better also hold "
                "parameters distributed more like the teacher's."
                if same
                else "This is **not** the test-error ordering: generalising better did not require "
                "parameters distributed more like the teacher's."
            )
        ),
    ]


def _setup_text(results: TeacherStudentResults, run: Run) -> str:
    cfg, t, tg = run.config, results.teacher, results.targets
    dims = " -> ".join(str(d) for d in [t.d_in, *t.hidden, 1])
    targets = (
        "raw teacher outputs (the spec)"
        if not tg.standardized
        else f"standardised outputs (y - {fmt(tg.mean)}) / {fmt(tg.std)}, mean and std "
        "estimated on a separate training sample; every number below is in original units"
    )
    return (
        f"A frozen teacher {dims} (seed {t.seed}, weights and biases i.i.d. N(0, {fmt(t.init_std)}^2)) "
        f"labels {fmt(results.test_set.n)} fixed test inputs drawn from "
        f"U[{fmt(cfg.teacher.input_low)}, "
        f"{fmt(cfg.teacher.input_high)}]^{t.d_in}. Its outputs have mean "
        f"{fmt(t.test_mean)} and variance Var(y_test) = {fmt(t.test_var)} (range "
        f"{fmt(t.test_min)} .. {fmt(t.test_max)}), so raw MSEs are of that order: every MSE "
        "is also given relative to Var(y_test) (1 = predicting the mean). Students train online on "
        f"{targets}: each step draws {cfg.train.batch_size} fresh inputs, labels them with "
        f"the teacher and takes one {cfg.train.optimizer} step on the MSE. Learning rates are "
        "chosen per student by a sweep on training data only; the test set is used to report."
    )


def report(results: TeacherStudentResults, run: Run) -> Report:
    """The study's report, from the typed results and the run folder alone."""
    students = results.students
    t, b = results.teacher, results.baselines
    tolerance = run.config.sweep.tolerance
    rep = Report(
        "Teacher-student: under-, exactly- and over-parameterised students (Challenge 2A)",
        headline={
            "teacher parameters": fmt(t.n_params),
            **{f"{n} relative test MSE": _est(st.test_rel_mse_est) for n, st in students.items()},
            "OLS relative test MSE": fmt(b.linear.test_rel_mse),
        },
    )
    rep.add(Text(_setup_text(results, run)))
    rep.add(Heading("Results"), _results_table(results))
    rep.add(Heading("Number of learnable parameters"), Text(_params_text(results)))
    rep.add(Heading("Trainability"))
    for name, st in students.items():
        rep.add(Text(_trainability_text(name, st, tolerance)))
    for name, st in students.items():
        rep.add(Figure(sweep_chart(run, name, st, results, tolerance)))
    rep.add(Heading("Generalisation"))
    rep.add(
        Text(
            f"Baselines on the same test set: the training mean has relative test MSE "
            f"{fmt(b.mean.test_rel_mse)} (raw {fmt(b.mean.test_mse)}); ordinary least "
            f"squares on the {t.d_in} inputs, fitted on a separate training sample, "
            f"{fmt(b.linear.test_rel_mse)} (raw {fmt(b.linear.test_mse)}; "
            f"{fmt(b.linear.train_rel_mse)} in-sample)."
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
            "Weights and biases separately, then all pooled. Students start from PyTorch's "
            "default init U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the teacher is N(0, 1)."
        )
    )
    for name, st in students.items():
        rep.add(Text(_distribution_text(name, st)))
    for name, st in students.items():
        rep.add(_distribution_table(name, st), Figure(distribution_chart(run, name, st)))
    aligned = {n: st.alignment for n, st in students.items() if st.alignment is not None}
    if aligned:
        rep.add(Heading("Symmetry-aware comparison"))
        for name, al in aligned.items():
            rep.add(Text(_alignment_text(name, al)), Figure(alignment_chart(run, name, al)))
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
