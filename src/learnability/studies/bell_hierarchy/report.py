"""The report of the ``bell-hierarchy`` study, built from the typed results and the run folder.

Reads the artifacts named in :class:`BellResults` (``CURVES``, ``LR_SWEEP``, ``SWEEP_CURVES``,
``SWEEPS``; the figures are drawn in ``charts.py``); every sentence quotes the measured numbers,
so the conclusions follow the data of the run.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from learnability.analysis import Estimate
from learnability.report import (
    Figure,
    Heading,
    Report,
    Table,
    Text,
    fmt,
    fmt_est,
)
from learnability.runs import Run
from learnability.studies.bell_hierarchy.charts import learning_curves_chart, lr_sweep_chart, sobol_chart, sweep_charts
from learnability.studies.bell_hierarchy.results import BellResults, Timing
from learnability.targets import (
    ScrambleResult,
    apply_permutations,
    bell_polynomial,
    format_permutation,
)

__all__ = ["report"]

# A least-squares baseline below this relative MSE is an exact fit up to rounding.
EXACT_FIT = 1e-12
# Test / train error ratios below this count as "no overfitting" in the commentary.
OVERFIT_RATIO = 1.5
# Sweep MAEs whose largest / smallest ratio is below this are "nearly the same" per variable.
SIMILAR_MAE = 1.5


def _interval(est: Estimate) -> str:
    """``"[low, high]"`` of a ratio, each bound formatted alone."""
    return f"[{fmt(est.low)}, {fmt(est.high)}]"


def _sig(est: Estimate) -> str:
    """Whether a ratio's interval excludes 1, in words."""
    if math.isnan(est.low) or math.isnan(est.high):
        return "no interval could be computed"
    if est.low > 1:
        return "the interval lies above 1: the scrambled polynomial is learnt significantly worse"
    if est.high < 1:
        return "the interval lies below 1: the scrambled polynomial is learnt significantly better"
    return "the interval contains 1: the difference is not significant at this number of seeds"


def _exact_baselines(res: BellResults) -> bool:
    """The degree-n least-squares fit is exact (to rounding) for both targets."""
    return max(b.poly for b in res.baselines.values()) < EXACT_FIT


def _targets_section(res: BellResults, names: list[str]) -> list[Any]:
    sc = res.scramble
    order = res.order
    original = bell_polynomial(order)
    perms = [tuple(p) for p in sc.permutations]
    result = ScrambleResult(original, apply_permutations(original, perms), perms, sc.seed)
    rows = [
        [i + 1, str(m), format_permutation(p), str(r)]
        for i, (m, p, r) in enumerate(zip(original.terms, perms, result.scrambled_terms, strict=True))
    ]
    b, bs = names
    return [
        Heading("Targets"),
        Text(
            f"The hierarchical target is the complete Bell polynomial {b} and its non-hierarchical "
            f"twin {bs} permutes the variables of each monomial with its own permutation "
            f"(scrambling seed {sc.seed}; all {len(rows)} permutations distinct, every "
            "variable of every monomial moved, no monomial unchanged, no two monomials equal up to "
            "commutativity, all variables present — checked by `check_scrambled`).\n\n"
            f"```\n{b} = {sc.original}\n{bs} = {sc.scrambled}\n```\n\n"
            f"$$ {b}(x) = {sc.original_latex} $$\n\n"
            f"$$ \\tilde{{B}}_{{{order}}}(x) = {sc.scrambled_latex} $$"
        ),
        Table(
            ["i", f"monomial of {b}", "sigma_i (cycles, x_j -> x_sigma(j))", f"monomial of {bs}"],
            rows,
            caption="The scrambling: one permutation per monomial, in canonical order.",
        ),
    ]


def _setup_text(res: BellResults) -> Text:
    net, d, tr = res.network, res.data, res.training
    dims = net.dims
    grid = tr.lr_grid
    std = (
        "standardised with the training set's mean and standard deviation (errors are reported in original units)"
        if d.standardize_targets
        else "raw (not standardised)"
    )
    sched = (
        "a constant learning rate (the spec)"
        if tr.lr_schedule == "constant"
        else f"a {tr.lr_schedule} decay of the learning rate"
    )
    return Text(
        f"**Network.** Residual MLP {dims[0]} -> {dims[1]}, {net.skips} x ({dims[1]} -> {dims[1]} "
        f"with skip h <- h + relu(hW + b)), {dims[-2]} -> {dims[-1]}: {net.linear_layers} linear "
        f"layers, {fmt(net.params)} parameters. The spec's \"9 layers (1 input, 8 hidden, "
        '1 output)" does not add up; we read it as 1 input + 8 residual hidden + 1 output layer.\n\n'
        f"**Data.** {fmt(d.n_train)} training and {fmt(d.n_test)} test inputs from "
        f"U[0, 2]^{dims[0]} (independent draws), shared by both targets; targets {std}.\n\n"
        f"**Training.** Adam, batch {tr.batch_size}, {tr.epochs} epochs "
        f"({fmt(d.steps_per_epoch)} steps each), {sched}. Learning rate tuned separately for "
        f"each target over {len(grid)} log-spaced rates from {fmt(grid[0])} to {fmt(grid[-1])} "
        "(extended past an edge when the best rate lies on it), trained as one ensemble with the same "
        "initialisation and data order for every rate; the score is the *training* error: the MSE on "
        f"a fixed subset of {fmt(d.n_train_eval)} training points averaged over the last "
        f"{tr.tail_epochs} epochs (the test set is never used for selection). Then "
        f"{res.comparison.seeds} fresh seeds per target at the chosen rate, paired across targets "
        "(seed i has the same initialisation, data order and inputs for both). The final evaluation "
        "on the test set is the final generalisation error; because the test error of a "
        "constant-rate run swings between epochs, we also report its mean over the last "
        f"{tr.tail_epochs} epochs ('tail')."
    )


def _results_section(res: BellResults, names: list[str]) -> list[Any]:
    t, cmp_ = res.targets, res.comparison
    bl = [res.baselines[n] for n in names]
    poly_key = bl[0].poly_key
    rows = [
        [
            name,
            fmt(t[name].lr),
            fmt_est(t[name].test_rel_mse_est),
            fmt_est(t[name].test_rel_mse_tail_est),
            fmt_est(t[name].test_mse_est),
            fmt(t[name].train_mse),
            fmt(t[name].train_rel_mse),
            fmt(b.mean),
            fmt(b.linear),
            fmt(b.poly),
        ]
        for name, b in zip(names, bl, strict=True)
    ]
    a, b = (t[n] for n in names)
    ratio, tail = cmp_.rel_mse_ratio_est, cmp_.rel_mse_ratio_tail_est
    text = (
        f"**Generalisation.** {names[0]} reaches a relative test MSE of {fmt_est(a.test_rel_mse_est)} and "
        f"{names[1]} {fmt_est(b.test_rel_mse_est)} (mean [95% CI] over {a.seeds} seeds; geometric means "
        f"{fmt_est(a.test_rel_mse_gmean_est)} and {fmt_est(b.test_rel_mse_gmean_est)}, the better summary of "
        "errors that vary over decades between seeds and epochs). The scrambled "
        f"twin's error is {fmt(ratio.mean)}x that of {names[0]} (geometric-mean ratio, paired by seed, "
        f"95% CI {_interval(ratio)}); {_sig(ratio)}. It was worse in "
        f"{cmp_.seeds_scrambled_worse} of {cmp_.seeds} seeds. Averaged over the last epochs "
        f"(tail) the ratio is {fmt(tail.mean)}x {_interval(tail)}. In original units the test MSE is "
        f"{fmt_est(a.test_mse_est)} for {names[0]} (Var(y_test) = {fmt(a.test_target_var)}) and "
        f"{fmt_est(b.test_mse_est)} for {names[1]} (Var(y_test) = {fmt(b.test_target_var)}).\n\n"
        f"**Baselines.** Predicting the mean gives relative MSE {fmt(bl[0].mean)} / "
        f"{fmt(bl[1].mean)}, linear regression {fmt(bl[0].linear)} / "
        f"{fmt(bl[1].linear)}: the network is "
        f"{fmt(bl[0].linear / a.test_rel_mse)}x / "
        f"{fmt(bl[1].linear / b.test_rel_mse)}x better than linear. Least squares "
        f"over all polynomials of degree <= {bl[0].degree} reaches {fmt(bl[0].poly)} / "
        f"{fmt(bl[1].poly)}"
    )
    text += (
        " — rounding error: it knows the function class, and for it the two targets are equally "
        "easy (same degree, same number of monomials). Any gap the network shows is therefore "
        "about what the network and its training find easy, not about the data."
        if _exact_baselines(res)
        else " — not exact: the data do not determine the polynomial (too few training points?)."
    )
    gen = [e.test_rel_mse / e.train_rel_mse for e in (a, b)]
    text += (
        f"\n\n**Training error.** On the full training set the final relative MSE is "
        f"{fmt_est(a.train_rel_mse_est)} ({names[0]}) and {fmt_est(b.train_rel_mse_est)} ({names[1]}); "
        f"test / train = {fmt(gen[0])} and {fmt(gen[1])}: "
    )
    text += (
        "the networks do not overfit, the errors are errors of fitting."
        if max(gen) < OVERFIT_RATIO
        else f"the test error exceeds the training error by more than {fmt(OVERFIT_RATIO)}x for at "
        "least one target, so part of its error is overfitting."
    )
    if a.diverged_seeds or b.diverged_seeds:
        text += (
            f"\n\n**Warning:** {a.diverged_seeds} / {b.diverged_seeds} seeds diverged "
            "and were frozen at their last finite state."
        )
    return [
        Heading("Generalisation error"),
        Table(
            [
                "target",
                "lr",
                "rel. test MSE (final)",
                "rel. test MSE (tail mean)",
                "test MSE",
                "train MSE",
                "rel. train MSE",
                "mean pred.",
                "linear",
                poly_key,
            ],
            rows,
            caption="Mean [95% CI] over seeds; relative = MSE / Var(y_test) (train: "
            "/ Var(y_train)); baselines as relative test MSE.",
        ),
        Text(text),
    ]


def _curves_section(res: BellResults, run: Run, names: list[str]) -> list[Any]:
    chart = learning_curves_chart(run, names)
    conv = [res.targets[n].convergence for n in names]
    parts = []
    for name, cv in zip(names, conv, strict=True):
        own = [e for e in cv.epochs_to_within_factor if e is not None]
        common = [e for e in cv.epochs_to_common_level if e is not None]
        after1 = float(np.mean(cv.rel_after_epoch_1))
        parts.append(
            f"{name}: relative test MSE {fmt(after1)} after epoch 1; within {fmt(cv.factor)}x of its "
            f"final (tail) error after {fmt(float(np.mean(own))) if own else 'never'} epochs on average; "
            f"first below the common level {fmt(cv.common_level)} after "
            f"{fmt(float(np.mean(common))) if common else 'no'} epochs ({len(common)} of "
            f"{len(cv.epochs_to_common_level)} seeds reached it)"
        )
    text = (
        "**Speed of convergence.** " + "; ".join(parts) + ". The common level is "
        f"{fmt(conv[0].factor)}x the worse of the two final errors, so it measures how fast each "
        "target gets to where the harder one ends."
    )
    return [Heading("Learning curves"), Figure(chart), Text(text)]


def _lr_section(res: BellResults, run: Run, names: list[str]) -> list[Any]:
    table = run.load_table(BellResults.LR_SWEEP)
    rows = []
    for name in names:
        d = table[table["target"] == name].sort_values("lr")
        for _, r in d.iterrows():
            status = "diverged" if r["diverged"] else ("collapsed" if r["collapsed"] else "")
            rows.append(
                [
                    name,
                    fmt(float(r["lr"])),
                    fmt(float(r["train_eval_rel"])),
                    fmt(float(r["test_rel_final"])),
                    status,
                    "yes" if r["chosen"] else "",
                ]
            )
    chart = lr_sweep_chart(res, run, table, names)
    a, b = (res.targets[n] for n in names)
    edge = [n for n in names if res.targets[n].lr_at_edge]
    text = (
        f"Chosen rates: {names[0]} {fmt(a.lr)}, {names[1]} {fmt(b.lr)} ({a.lr_rates_tried} and "
        f"{b.lr_rates_tried} rates tried). "
    )
    text += (
        f"**Warning:** the chosen rate of {', '.join(edge)} is still on the edge of the rates tried; widen the grid."
        if edge
        else "Both lie inside the rates tried."
    )
    return [
        Heading("Learning-rate selection"),
        Text(text),
        Figure(chart),
        Table(
            ["target", "lr", "training error (score)", "test error (final, not used)", "status", "chosen"],
            rows,
            caption="Relative MSE; score = mean over the last epochs.",
        ),
    ]


def _sweeps_section(res: BellResults, run: Run, names: list[str]) -> list[Any]:
    arrays = [run.load_arrays(BellResults.SWEEPS.format(target=name)) for name in names]
    single, agg = sweep_charts(res, arrays, names)
    t = res.targets
    rows = []
    for v in range(res.order):
        key = f"x{v + 1}"
        row = [key]
        for name in names:
            e = t[name].sweep[key]
            row += [fmt(e.target_range), fmt_est(e.mae_est), fmt(e.rel_error), fmt(e.corr, 6)]
        rows.append(row)
    cols = ["variable"]
    for name in names:
        cols += [f"{name} target range", f"{name} MAE", f"{name} MAE / range", f"{name} corr"]
    parts = []
    for name in names:
        sw = t[name].sweep
        worst = max(sw, key=lambda k: sw[k].rel_error)
        best = min(sw, key=lambda k: sw[k].rel_error)
        parts.append(
            f"for {name} the largest error relative to the target's range is along {worst} "
            f"({fmt(sw[worst].rel_error)}), the smallest along {best} "
            f"({fmt(sw[best].rel_error)}); the lowest correlation of model and target "
            f"sweeps is {fmt(min(e.corr for e in sw.values()))}"
        )
    text = "Along each sweep, " + "; ".join(parts) + "."
    for name in names:
        sw = t[name].sweep
        mae = {k: e.mae for k, e in sw.items()}
        flat = [k for k, e in sw.items() if e.target_range < 2 * mae[k]]
        spread = max(mae.values()) / min(mae.values())
        text += (
            f" For {name} the mean absolute error is {fmt(min(mae.values()))} to "
            f"{fmt(max(mae.values()))} along every variable"
            + (
                " (nearly the same: the error depends on the point, not on the swept variable)"
                if spread < SIMILAR_MAE
                else ""
            )
            + "."
        )
        if flat:
            text += (
                f" Along {', '.join(flat)} the target varies by less than twice that error "
                f"(mean range {', '.join(fmt(sw[k].target_range) for k in flat)}), so the "
                "model reproduces the effect of these variables only roughly (correlation "
                f"{', '.join(fmt(sw[k].corr) for k in flat)})."
            )
    return [
        Heading("One-variable sweeps"),
        Figure(single),
        Figure(agg),
        Table(
            cols,
            rows,
            caption="Per variable, over base points and seeds: mean range of the "
            "target along the sweep, mean absolute error [95% CI over seeds], "
            "MAE / range, Pearson correlation of the sweeps.",
        ),
        Text(text),
    ]


def _sobol_section(res: BellResults, names: list[str]) -> list[Any]:
    t = res.targets
    n = res.order
    rows = []
    for name in names:
        so = t[name].sobol
        rows += [
            [name, f"x{v + 1}", fmt(so.target[v]), fmt(so.model[v]), fmt(so.target_total[v]), fmt(so.model_total[v])]
            for v in range(n)
        ]
    chart = sobol_chart(res, names)
    so0 = t[names[0]].sobol
    target = np.asarray(so0.target)
    small = np.argsort(target)[:2]
    big = int(np.argmax(target))
    rng = [t[names[0]].sweep[f"x{v + 1}"].target_range for v in range(n)]
    text = (
        f"For {names[0]} the first-order indices are very unequal: x{big + 1} explains "
        f"{fmt(target[big])} of the variance alone, while x{small[0] + 1} and x{small[1] + 1} explain "
        f"{fmt(target[small[0]])} and {fmt(target[small[1]])}. Along sweeps of those two variables the "
        f"target changes by only {fmt(rng[small[0]])} and {fmt(rng[small[1]])} on average (against "
        f"{fmt(rng[big])} along x{big + 1}), so target and model curves are indistinguishable at the "
        "scale of a plot: whether the model got those variables right can only be read from the error "
        "panels and the MAE / range column (negative indices are Monte Carlo noise around 0). "
    )
    parts = []
    for name in names:
        so = t[name].sobol
        diff = np.abs(np.asarray(so.model) - np.asarray(so.target))
        worst = int(np.argmax(diff))
        parts.append(f"{name}: largest |S_model - S_target| = {fmt(diff[worst])} at x{worst + 1}")
    text += "Model vs target: " + "; ".join(parts) + "."
    return [
        Heading("Variance-based sensitivity (Sobol indices)"),
        Figure(chart),
        Text(text),
        Table(
            ["target", "variable", "S_i target", "S_i model", "S_Ti target", "S_Ti model"],
            rows,
            caption="First-order (S_i) and total (S_Ti) indices; model = mean over seeds.",
        ),
    ]


def _conclusion(res: BellResults, names: list[str]) -> Text:
    a, b = (res.targets[n] for n in names)
    cmp_ = res.comparison
    est = cmp_.rel_mse_ratio_est
    lo, hi, ratio = est.low, est.high, est.mean
    if lo > 1:
        verdict = (
            f"The hierarchical structure helps: with everything else equal (inputs, network, "
            f"initialisations, data order, tuning protocol) the scrambled twin ends "
            f"{fmt(ratio)}x worse {_interval(est)}."
        )
    elif hi < 1:
        verdict = (
            f"Contrary to the hypothesis, the scrambled twin ends {fmt(1 / ratio)}x *better* "
            f"(ratio {fmt(ratio)} {_interval(est)})."
        )
    else:
        verdict = (
            f"At {cmp_.seeds} seeds the two targets cannot be told apart: ratio {fmt(ratio)} "
            f"{_interval(est)} contains 1."
        )
    ea = float(np.mean(a.convergence.rel_after_epoch_1))
    eb = float(np.mean(b.convergence.rel_after_epoch_1))
    speed = (
        f"After one epoch the relative test errors are {fmt(ea)} ({names[0]}) and {fmt(eb)} "
        f"({names[1]}): scrambled / hierarchical = {fmt(eb / ea)}."
    )
    if lo > 1 and _exact_baselines(res):
        why = (
            f" The degree-{res.order} least-squares fit is exact for both targets, so "
            "the gap is a property of the network and its optimisation, not of the data. A "
            "plausible reading (an interpretation, not a measurement): a residual ReLU network "
            "builds features layer by layer, and the nested monomials of B6 (x1 -> x1^2 -> "
            "x1^3 ..., shared across terms) let it reuse intermediate features, while the "
            "scrambled monomials share fewer sub-products."
        )
    elif hi < 1:
        why = " In this run the hierarchical structure did not make the target easier to learn."
    else:
        why = " This run gives no evidence either way about the role of the hierarchy."
    return Text(f"**Conclusion.** {verdict} {speed}{why}")


def _runtime_table(tm: Timing) -> Table:
    rows = [[p, fmt(tm.wall(p)), fmt(tm.cpu(p))] for p in Timing.PHASES]
    rows.append(
        [
            "training throughput",
            f"{fmt(tm.train_model_steps_per_s)} model-steps/s",
            f"{fmt(tm.model_steps)} model-steps",
        ]
    )
    return Table(
        ["phase", "wall seconds", "CPU seconds"],
        rows,
        caption="Measured in this run. On a shared machine wall time includes waiting; CPU time "
        "divided by the threads used approximates the wall time on an idle machine.",
    )


def report(res: BellResults, run: Run) -> Report:
    """The report of a completed ``bell-hierarchy`` run, from its typed results and its folder."""
    names = res.names
    a, b = (res.targets[n] for n in names)
    rep = Report(
        f"Hierarchical vs scrambled {names[0]} (Challenge 2, part B)",
        headline={
            f"{names[0]} rel. test MSE": fmt_est(a.test_rel_mse_est),
            f"{names[1]} rel. test MSE": fmt_est(b.test_rel_mse_est),
            "ratio scrambled / hierarchical": fmt_est(res.comparison.rel_mse_ratio_est),
            "chosen learning rates": f"{fmt(a.lr)} / {fmt(b.lr)}",
        },
    )
    rep.add(
        Text(
            "Does the hierarchical structure of a target help a deep residual network learn it? "
            f"The same network learns {names[0]} and a scrambled twin with identical coefficients "
            "and degrees but no hierarchy; everything else is paired."
        )
    )
    rep.add(*_targets_section(res, names))
    rep.add(Heading("Setup"), _setup_text(res))
    rep.add(*_results_section(res, names))
    rep.add(*_curves_section(res, run, names))
    rep.add(*_lr_section(res, run, names))
    rep.add(*_sweeps_section(res, run, names))
    rep.add(*_sobol_section(res, names))
    rep.add(Heading("Conclusion"), _conclusion(res, names))
    rep.add(Heading("Runtime"), _runtime_table(res.timing))
    return rep
