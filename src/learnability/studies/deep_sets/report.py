"""The deep-sets report: the lab's check, the set task per model, unseen set sizes, figures."""

from __future__ import annotations

import math

import numpy as np

from learnability.analysis import Estimate
from learnability.report import (
    Chart,
    Figure,
    Heading,
    Hist,
    Line,
    Panel,
    Report,
    Table,
    Text,
    curve_lines,
    fmt,
    fmt_est,
)
from learnability.runs import Run
from learnability.studies.deep_sets.config import DeepSetsConfig
from learnability.studies.deep_sets.results import DeepSetsResults, SetModelResults

__all__ = ["report"]

R = DeepSetsResults
#: Moving-average window (steps) of the training curves in the report.
CURVE_SMOOTHING = 50
#: A perturbed layer whose error exceeds the exact layer's (or epsilon) this many times is "detected".
DETECTION = 1e3
#: Exact zeros of the invariance error are drawn at this fraction of float32's epsilon (log axis).
INVARIANCE_FLOOR_FRACTION = 1e-2
#: Lower bounds of the by-size bands are clipped at this fraction of the smallest mean (log axis).
BAND_FLOOR_FRACTION = 0.1


def _est(e: Estimate | None) -> str:
    return "all diverged" if e is None else fmt_est(e)


def _mean(e: Estimate | None) -> float:
    return math.nan if e is None else e.mean


def report(res: DeepSetsResults, run: Run) -> Report:
    """The report, from the typed results and the run folder alone."""
    cfg: DeepSetsConfig = run.config
    ms = res.models
    ds, mlp = ms[_deep_sets_names(res)[0]], ms[R.MLP]
    rep = Report(
        "Deep Sets: permutation equivariance and a learned set function",
        headline={
            "lab layer equivariance error": fmt(res.lab.layer.equivariance),
            **{f"relative test MSE, {m.label}": _est(m.relative_test_mse) for m in ms.values()},
            f"invariance error, {ds.label} / MLP": f"{fmt(_mean(ds.invariance_error))} / "
            f"{fmt(_mean(mlp.invariance_error))}",
        },
    )
    _add_lab_check(rep, res, cfg)
    _add_set_task(rep, res, cfg)
    _add_unseen_sizes(rep, res)
    rep.add(Figure(_set_task_chart(res, run)))
    return rep


def _deep_sets_names(res: DeepSetsResults) -> list[str]:
    return [k for k in res.models if k != R.MLP]


def _add_lab_check(rep: Report, res: DeepSetsResults, cfg: DeepSetsConfig) -> None:
    lc, eps64 = cfg.lab, res.eps_float64
    lay, bad = res.lab.layer, res.lab.perturbed_layer
    detected = bad.equivariance > DETECTION * max(lay.equivariance, eps64)
    rep.add(
        Heading("The lab's check"),
        Text(
            f"The layer {lc.activation}(x (lambda I + gamma 1 1^T)) with lambda = {fmt(lc.lam)}, "
            f"gamma = {fmt(lc.gamma)} on a set of {lc.set_size} numbers and {lc.n_permutations} random "
            f"permutations of it, in float64 (machine epsilon {fmt(eps64)}): max |f(pi x) - pi f(x)| / max |f(x)| "
            f"= {fmt(lay.equivariance)} ({fmt(lay.equivariance / eps64)} eps); the lab's sorted-values test "
            f"gives {fmt(lay.sorted)}. The same layer with a generic perturbation delta R, delta = "
            f"{fmt(lc.perturbation)}, gives {fmt(bad.equivariance)} "
            f"({'detected' if detected else 'NOT clearly separated'}: "
            f"{fmt(bad.equivariance / max(lay.equivariance, eps64))}x the exact layer's error), and "
            f"{fmt(bad.sorted)} on the sorted-values test. A randomly initialised Deep Sets model changes its "
            f"output by {fmt(res.lab.deep_sets_invariance)} (relative max) over the same permutations."
        ),
    )
    rep.add(
        Table(
            ["map", "equivariance error", "sorted-values error"],
            [
                [f"lab layer ({lc.activation})", fmt(lay.equivariance), fmt(lay.sorted)],
                [f"perturbed layer (delta = {fmt(lc.perturbation)})", fmt(bad.equivariance), fmt(bad.sorted)],
                ["Deep Sets, untrained (invariance)", fmt(res.lab.deep_sets_invariance), "—"],
            ],
        )
    )


def _model_sentence(m: SetModelResults) -> str:
    edge = ", at the edge of the grid" if m.lr_at_edge else ""
    lost = f", {m.n_diverged} of {m.n_members} members diverged and are left out" if m.n_diverged else ""
    if m.n_collapsed:
        lost += (
            f", {m.n_collapsed} of {m.n_members} collapsed to a relative MSE >= "
            f"{fmt(R.COLLAPSED)} (kept in the estimates)"
        )
    return f"{m.label} ({m.n_params} parameters, rate {fmt(m.chosen_lr)}{edge}{lost}): {_est(m.relative_test_mse)}"


def _add_set_task(rep: Report, res: DeepSetsResults, cfg: DeepSetsConfig) -> None:
    task, tc, ms = cfg.task, cfg.train, res.models
    ds, mlp = ms[_deep_sets_names(res)[0]], ms[R.MLP]
    txt = (
        f"Sets of {res.train_size} numbers U[0, 1), labelled by their {task.target}; {task.n_train} training "
        f"sets, {task.n_val} validation sets (learning-rate selection only), {task.n_test} test sets per size; "
        f"target variance on the test sets {fmt(res.test_variance)}. Adam for {tc.steps} steps with a "
        f"{tc.schedule} schedule, {tc.seeds} seeds per model. Relative test MSE (MSE / variance; "
        f"predicting the mean scores 1): " + "; ".join(_model_sentence(m) for m in ms.values()) + ". "
    )
    for k, r in res.mlp_over_deep_sets_mse_ratio.items():
        if r.estimate.excludes(1.0):
            verdict = f"{ms[k].label} is {'more' if r.ratio > 1 else 'less'} accurate"
        else:
            verdict = "no clear difference (the interval includes 1)"
        txt += (
            f"The MLP's error is {fmt_est(r.estimate)} times that of {ms[k].label} (geometric means, "
            f"Welch interval): {verdict}. "
        )
    txt += (
        f"Permuting the elements of each test set changes the output of {ds.label} by "
        f"{_est(ds.invariance_error)} (relative; float32 rounding of a sum taken in another order) and "
        f"the MLP's by {_est(mlp.invariance_error)}"
        + (
            f", {fmt(_mean(mlp.invariance_error) / _mean(ds.invariance_error))}x more."
            if _mean(ds.invariance_error) > 0
            else "."
        )
    )
    if res.target == "sum":
        txt += (
            " (The sum is a linear function of the concatenated set, which a ReLU MLP represents "
            "exactly on non-negative inputs: the task does not require invariance to be learnable, "
            "only to be exact.)"
        )
    rep.add(Heading(f"Learning the {task.target} of a set"), Text(txt))
    rows = [
        [
            m.label,
            m.n_params,
            fmt(m.chosen_lr) + (" (edge)" if m.lr_at_edge else ""),
            _est(m.test_mse),
            _est(m.relative_test_mse),
            _est(m.invariance_error),
            f"{m.n_diverged} / {m.n_collapsed}",
            ", ".join(fmt(v) for v in m.relative_test_mse.values) if m.relative_test_mse else "—",
        ]
        for m in ms.values()
    ]
    cols = [
        "model",
        "parameters",
        "learning rate",
        "test MSE",
        "relative test MSE",
        "invariance error",
        "diverged / collapsed",
        "relative test MSE of each member",
    ]
    caption = (
        f"Means over the members that did not diverge, with 95% CIs; {tc.seeds} members "
        f"per model; collapsed: relative MSE >= {fmt(R.COLLAPSED)}."
    )
    rep.add(Table(cols, rows, caption=caption))


def _sizes(res: DeepSetsResults) -> list[int]:
    return sorted(int(k) for k in res.models[_deep_sets_names(res)[0]].relative_mse_by_size)


def _add_unseen_sizes(rep: Report, res: DeepSetsResults) -> None:
    n, sizes = res.train_size, _sizes(res)
    sentences = []
    for k in _deep_sets_names(res):
        by = res.models[k].relative_mse_by_size
        if by[str(n)] is None:
            continue
        worst = max(sizes, key=lambda z: _mean(by[str(z)]))
        sentences.append(
            f"{res.models[k].label}: "
            + "; ".join(f"{z}: {_est(by[str(z)])}" for z in sizes)
            + f" (worst: size {worst}, {fmt(_mean(by[str(worst)]) / _mean(by[str(n)]))}x the "
            f"training size's error)"
        )
    rep.add(
        Heading("Set sizes not seen in training"),
        Text(
            f"Trained on sets of {n}, evaluated on sizes {', '.join(map(str, sizes))} (relative test MSE). "
            + ". ".join(sentences)
            + ". The MLP cannot take another size."
        ),
    )


def _set_task_chart(res: DeepSetsResults, run: Run) -> Chart:
    """Relative MSE by set size, invariance errors of every test set, training curves."""
    n, sizes, ms = res.train_size, _sizes(res), res.models
    lines = []
    for k in _deep_sets_names(res):
        by = ms[k].relative_mse_by_size
        pts = [z for z in sizes if by[str(z)] is not None]
        if not pts:
            continue
        ests = [by[str(z)] for z in pts]
        means = np.array([e.mean for e in ests])
        floor = BAND_FLOOR_FRACTION * float(means.min())
        lo = [max(e.low if e.has_interval else e.mean, floor) for e in ests]
        hi = [max(e.high if e.has_interval else e.mean, floor) for e in ests]
        lines.append(Line(pts, means, label=ms[k].label, mode="lines+markers", band=(lo, hi)))
    mlp_rel = ms[R.MLP].relative_test_mse
    if mlp_rel is not None:
        lines.append(Line([n], [mlp_rel.mean], label="MLP (training size only)", mode="markers"))
    panels = [
        Panel(
            lines,
            title="relative test MSE by set size",
            xlabel="set size",
            ylabel="MSE / variance",
            yscale="log",
            vlines=[(n, "training size")],
        )
    ]
    floor = INVARIANCE_FLOOR_FRACTION * res.eps_float32
    hists = []
    for k in ms:
        if run.has_artifact(f"{R.INVARIANCE.format(k)}.npz"):
            per_set = run.load_arrays(R.INVARIANCE.format(k))["per_set"].reshape(-1)
            if per_set.size:
                hists.append(Hist(np.log10(np.maximum(per_set, floor)), label=ms[k].label, bins=40))
    if hists:
        panels.append(
            Panel(
                hists,
                title="invariance error on permuted test sets",
                ylabel="density",
                xlabel="log10 relative change",
                vlines=[(float(np.log10(res.eps_float32)), "float32 eps")],
            )
        )
    curves = []
    for k in ms:
        curves += curve_lines(
            run.series("train_loss", R.FINAL_TAG.format(k)), label=ms[k].label, smooth_window=CURVE_SMOOTHING
        )
    if curves:
        panels.append(Panel(curves, title="training loss", xlabel="step", ylabel="MSE", yscale="log"))
    return Chart(
        "set_task",
        panels,
        caption="Left: mean and 95% CI over members (lower bounds "
        "clipped at a tenth of the smallest mean). Middle: every test set of every member "
        f"(exact zeros drawn at {fmt(floor)}). Right: median over members with 10-90% band, "
        "smoothed.",
    )
