"""The teacher-student report's figures, from the typed results and the run folder's artifacts:
loss curves of the seed runs, each student's learning-rate sweep, parameter distributions against
the teacher's, and the units matched to the teacher's."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from learnability.engine import round_tag
from learnability.report import Bar, Chart, Hist, Line, Panel, curve_lines, fmt
from learnability.runs import Run
from learnability.studies.teacher_student.results import Alignment, StudentResults, TeacherStudentResults

__all__ = ["alignment_chart", "curves_chart", "distribution_chart", "sweep_chart"]

R = TeacherStudentResults  # artifact names and metric tags
# Report plots: the per-batch training loss is smoothed over this fraction of the run's steps...
CURVE_SMOOTH_FRACTION = 1 / 100
# ... but never over more than this many steps.
CURVE_SMOOTH_MAX = 200
# Histograms: bins, and the central quantile range their common edges cover (tails clipped).
HIST_BINS = 60
HIST_RANGE_Q = (0.005, 0.995)
# Okabe-Ito colours of the sweep chart's markers, and the grey of chance (at initialisation).
COLLAPSED_COLOUR = "#D55E00"
DIVERGED_COLOUR = "#000000"
NOT_STATIONARY_COLOUR = "#CC79A7"
FEASIBLE_COLOUR = "#009E73"
DIAGONAL_COLOUR = "#666666"
CHANCE_COLOUR = "#888888"
# The sweep chart's legend of per-rate curves is drawn up to this many curves.
MAX_LEGEND_CURVES = 12


def _rel_frame(df: pd.DataFrame, factor: float) -> pd.DataFrame:
    return df.assign(value=df["value"].astype(float) * factor)


def _smooth_window(steps: int) -> int:
    return int(max(1, min(CURVE_SMOOTH_MAX, steps * CURVE_SMOOTH_FRACTION)))


def curves_chart(run: Run, results: TeacherStudentResults) -> Chart:
    """Per student (train and test), then every student overlaid (train; test)."""
    # Each run in its own teacher's relative units: training loss x loss_scale / Var(y_test).
    factor_of = [t.targets.loss_scale / (t.facts.test_var or math.nan) for t in results.teachers]
    hl = [(results.baselines.linear.test_rel_mse, "OLS (test, mean over teachers)")]
    panels, train_all, test_all = [], [], []
    for name, st in results.students.items():
        tag = R.SEEDS_TAG.format(name)
        window = _smooth_window(st.steps)
        factors = np.asarray([factor_of[t] for t in st.member_teacher])
        raw = run.series("train_loss", tag)
        train_df = raw.assign(value=raw["value"].astype(float) * factors[raw["member"].to_numpy(int)])
        test_df = run.series("test_rel_mse", tag)
        lines = curve_lines(train_df, label="train (per batch, smoothed)", smooth_window=window)
        lines += [
            Line(l.x, l.y, label="test", band=l.band, mode="lines+markers") for l in curve_lines(test_df, label="test")
        ]
        panels.append(
            Panel(
                lines,
                title=f"{name} {st.hidden}: lr {fmt(st.lr)}, {st.seeds} runs",
                xlabel="step",
                ylabel="MSE / Var(y_test)",
                yscale="log",
                hlines=hl,
            )
        )
        train_all += curve_lines(train_df, label=name, smooth_window=window)
        test_all += curve_lines(test_df, label=name)
    for lines, what in ((train_all, "training loss (smoothed)"), (test_all, "test loss")):
        panels.append(
            Panel(
                lines, title=f"all students: {what}", xlabel="step", ylabel="MSE / Var(y_test)", yscale="log", hlines=hl
            )
        )
    return Chart(
        "curves",
        panels,
        title="Training (per batch) and test loss of every run (evaluation teachers x seeds)",
        caption=f"Median over runs with a 10-90% band; the per-batch training loss is "
        f"smoothed over {fmt(CURVE_SMOOTH_FRACTION * 100)}% of the run (at most "
        f"{CURVE_SMOOTH_MAX} batches). Relative units: each run's MSE over its own teacher's "
        "Var(y_test).",
    )


def _sweep_curves(run: Run, name: str, table: pd.DataFrame, failure_loss: float) -> list[Any]:
    """Per-step training loss of every rate that did not diverge (a diverged member is frozen at
    a huge loss that would flatten the others), relative to Var(y) in training units."""
    curves: list[Any] = []
    for rnd, grp in table.groupby("round"):
        df = _rel_frame(run.series("train_loss", round_tag(R.SWEEP_TAG.format(name), int(rnd))), 1.0 / failure_loss)
        rates = grp.sort_values("lr")  # member j of a round trained the round's j-th smallest rate
        for j, (lr, diverged) in enumerate(zip(rates["lr"], rates["diverged"], strict=True)):
            mdf = df[df["member"] == j]
            if mdf.empty or diverged:
                continue
            for line in curve_lines(mdf, smooth_window=_smooth_window(int(mdf["step"].max()))):
                line.label = f"lr {fmt(float(lr))}"  # one member per rate: no band, no index
                curves.append(line)
    return curves


def sweep_chart(run: Run, name: str, st: StudentResults, results: TeacherStudentResults, tolerance: float) -> Chart:
    """Final training loss and time to convergence against the rate, and each rate's curve."""
    table = run.load_table(R.SWEEP_TABLE.format(name)).sort_values("lr")
    # Feasible and stationary: a rate that hit the step cap is drawn as "not stationary", never as
    # feasible (its steps are the cap, not a time to convergence).
    ok = table[table["feasible"] & table["converged"]]
    col = table[table["collapsed"] & ~table["diverged"]]
    div = table[table["diverged"]]
    top = float(np.nanmax(table["final_rel"].to_numpy(float), initial=1.0))
    cap = st.sweep.step_cap
    loss_traces: list[Any] = [Line(table["lr"], table["final_rel"], label="final training loss", mode="lines+markers")]
    good_level = st.sweep.best_final_rel * (1 + tolerance)
    if len(col):
        loss_traces.append(
            Line(
                col["lr"],
                col["final_rel"],
                label="collapsed (~ mean predictor)",
                mode="markers",
                color=COLLAPSED_COLOUR,
            )
        )
    if len(div):
        loss_traces.append(
            Line(
                div["lr"],
                np.full(len(div), top),
                label="diverged (drawn at top)",
                mode="markers",
                color=DIVERGED_COLOUR,
            )
        )
    alive = table[~table["diverged"]]
    steps = np.where(alive["converged"], alive["steps_to_converge"], cap).astype(float)
    step_traces: list[Any] = [Line(alive["lr"], steps, label="steps to quasi-stationarity", mode="lines+markers")]
    never = alive[~alive["converged"]]
    if len(never):
        step_traces.append(
            Line(
                never["lr"],
                np.full(len(never), cap),
                label="not stationary (cap)",
                mode="markers",
                color=NOT_STATIONARY_COLOUR,
            )
        )
    if len(ok):
        step_traces.append(
            Line(
                ok["lr"],
                ok["steps_to_converge"],
                label="feasible (stationary)",
                mode="markers",
                color=FEASIBLE_COLOUR,
            )
        )
    if len(div):
        step_traces.append(
            Line(
                div["lr"],
                np.full(len(div), cap),
                label="diverged (drawn at cap)",
                mode="markers",
                color=DIVERGED_COLOUR,
            )
        )
    curves = _sweep_curves(run, name, table, results.targets.failure_loss)
    vl = [(st.lr, "chosen")]
    return Chart(
        f"sweep_{name}",
        [
            Panel(
                loss_traces,
                title="final training loss vs rate",
                xlabel="learning rate",
                ylabel="MSE / Var(y_train)",
                xscale="log",
                yscale="log",
                vlines=vl,
                hlines=[(1.0, "mean predictor"), (good_level, f"best + {fmt(100 * tolerance)}% (good)")],
            ),
            Panel(
                step_traces,
                title="time to convergence vs rate",
                xlabel="learning rate",
                ylabel="steps",
                xscale="log",
                vlines=vl,
            ),
            Panel(
                curves,
                title="training loss per rate (smoothed; diverged omitted)",
                xlabel="step",
                ylabel="MSE / Var(y_train)",
                yscale="log",
                legend=len(curves) <= MAX_LEGEND_CURVES,
                hlines=[(1.0, "")],
            ),
        ],
        title=f"{name}: learning-rate sweep (one ensemble, shared init and data)",
        caption="Final training loss: mean over the last window of fresh batches (never the test "
        "set). Collapsed: no better than predicting the mean. The chosen rate is the fastest "
        "to become stationary among those within the tolerance of the best.",
    )


def _param_groups(arrays: Mapping[str, np.ndarray], members: Sequence[int] | None) -> dict[str, np.ndarray]:
    """Input-layer weights, output-layer weights and all parameters, pooled over members."""
    n_layers = sum(1 for k in arrays if k.startswith("W"))

    def take(key: str) -> np.ndarray:
        a = arrays[key]
        if members is not None:
            a = a[list(members)]
        return a.ravel()

    return {
        "input-layer weights": take("W0"),
        "output-layer weights": take(f"W{n_layers - 1}"),
        "all parameters": np.concatenate(
            [take(f"W{l}") for l in range(n_layers)] + [take(f"b{l}") for l in range(n_layers)]
        ),
    }


def _bins(a: np.ndarray, b: np.ndarray) -> list[float]:
    """Common bin edges covering the central quantile range of EACH sample: pooled quantiles would
    be the larger sample's (a student's many parameters) and clip the other (the teacher's N(0, 1))."""
    both = np.concatenate([a, b])
    qa, qb = np.quantile(a, HIST_RANGE_Q), np.quantile(b, HIST_RANGE_Q)
    lo, hi = min(qa[0], qb[0]), max(qa[1], qb[1])
    if not hi > lo:
        lo, hi = float(both.min()) - 1.0, float(both.max()) + 1.0
    return list(np.linspace(lo, hi, HIST_BINS + 1))


def _qq_for(dist: Mapping[str, Any], group: str) -> Mapping[str, Any] | None:
    """The QQ data of a group in the ``distributions_NAME`` artifact (None: no such group)."""
    if group == "all parameters":
        return dist["all"]["qq"]
    layers = [g for g in dist["layers"] if g["kind"] == "W"]
    if not layers:
        return None
    pick = layers[0] if group.startswith("input") else layers[-1]
    return pick["qq"]


def distribution_chart(run: Run, name: str, st: StudentResults) -> Chart:
    """Histograms of the student's parameters against the teacher's, and QQ plots."""
    arrays = run.load_arrays(R.PARAMS_ARRAYS.format(name))
    teacher = run.load_arrays(R.TEACHER_ARRAYS)  # the first evaluation teacher
    first = [k for k in st.members if st.member_teacher[k] == 0]
    s_groups = _param_groups(arrays, first)
    # Teacher arrays are (out, in) per layer; groups only pool values, so the layout is irrelevant.
    t_groups = _param_groups({k: v[None] for k, v in teacher.items()}, None)
    dist = run.load_json(R.DISTRIBUTIONS_JSON.format(name))
    panels = []
    for group in ("input-layer weights", "all parameters"):
        vals, t = s_groups[group], t_groups[group]
        bins = _bins(vals, t)
        panels.append(
            Panel(
                [Hist(t, label="teacher", bins=bins), Hist(vals, label=name, bins=bins)],
                title=group,
                xlabel="value",
                ylabel="density",
            )
        )
    qq_traces: list[Any] = []
    lo, hi = math.inf, -math.inf
    for group in ("input-layer weights", "output-layer weights", "all parameters"):
        qq = _qq_for(dist, group)
        if qq is None:
            continue
        tq = np.asarray(qq["teacher"])
        sq = np.mean(np.asarray(qq["student"], dtype=float), axis=0)  # quantiles averaged over seeds
        qq_traces.append(Line(tq, sq, label=group, mode="lines+markers"))
        lo, hi = min(lo, tq.min(), sq.min()), max(hi, tq.max(), sq.max())
    if qq_traces:
        qq_traces.insert(0, Line([lo, hi], [lo, hi], label="y = x", dash=True, color=DIAGONAL_COLOUR))
        panels.append(
            Panel(qq_traces, title="QQ against the teacher", xlabel="teacher quantile", ylabel=f"{name} quantile")
        )
    return Chart(
        f"dist_{name}",
        panels,
        title=f"{name} vs the first evaluation teacher: parameter distributions",
        caption="The first evaluation teacher and its runs only. Histograms pool the trained seeds "
        "(the central 99% of each distribution shown). QQ: the student's quantiles (averaged over seeds) against "
        "the teacher's; on the diagonal the distributions are equal.",
    )


def alignment_chart(run: Run, name: str, al: Alignment) -> Chart:
    """Per hidden layer, each teacher unit's cosine (sorted), trained and at initialisation."""
    assert al.layers is not None, "a Hungarian alignment (students of the teacher's depth)"
    cosines = run.load_json(R.ALIGNMENT_JSON.format(name))["layers"]  # per layer: (runs, width)
    panels = []
    for j, (layer, cos_layer) in enumerate(zip(al.layers, cosines, strict=True)):
        traces: list[Any] = []
        for i, cos in enumerate(cos_layer["cosines"]):
            c = np.sort(np.asarray(cos, dtype=float))[::-1]
            traces.append(Line(np.arange(1, len(c) + 1), c, label="trained" if i == 0 else None))
        for i, cos in enumerate(cos_layer["chance_cosines"]):
            c = np.sort(np.asarray(cos, dtype=float))[::-1]
            traces.append(
                Line(np.arange(1, len(c) + 1), c, label="at init" if i == 0 else None, dash=True, color=CHANCE_COLOUR)
            )
        panels.append(
            Panel(
                traces,
                title=f"hidden layer {j + 1} ({layer.width} units)",
                xlabel="teacher unit (sorted by cosine)",
                ylabel="cosine",
                hlines=[(al.threshold, "recovered above")],
            )
        )
    cats = [f"layer {j + 1}" for j in range(len(al.layers))]
    panels.append(
        Panel(
            [
                Bar(
                    cats,
                    [l.mean_cosine_est.mean for l in al.layers],
                    label="trained (95% CI)",
                    errors=([l.mean_cosine_est.low for l in al.layers], [l.mean_cosine_est.high for l in al.layers]),
                ),
                Bar(cats, [l.chance_mean_cosine for l in al.layers], label="at init"),
            ],
            title="mean cosine per hidden layer",
            ylabel="cosine",
            hlines=[(al.threshold, "")],
        )
    )
    return Chart(
        f"alignment_{name}",
        panels,
        ncols=len(panels),
        title=f"{name}: units matched to the teacher's",
        caption="Per teacher unit, the cosine between its incoming vector [w, b] and its "
        "matched student unit's after alignment (Hungarian, modulo permutation and "
        "positive rescaling); dashed: the same students at initialisation.",
    )
