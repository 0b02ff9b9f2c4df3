"""The figures of the bell-hierarchy report, from the typed results and the run's artifacts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from learnability.report import Bar, Chart, Line, Panel, fmt
from learnability.runs import Run
from learnability.studies.bell_hierarchy.results import BellResults

__all__ = [
    "COLOURS",
    "confounds_chart",
    "learning_curves_chart",
    "lr_sweep_chart",
    "ratio_distribution_chart",
    "sobol_chart",
    "sweep_charts",
]

# Colours of B6 and the scrambles in every figure (Okabe-Ito blue and vermilion), of the control
# (bluish green), and of the schedules where both share a panel (black, orange).
COLOURS = ("#0072B2", "#D55E00")
CONTROL_COLOUR = "#009E73"
SCHEDULE_COLOURS = ("#000000", "#E69F00")


def learning_curves_chart(run: Run, res: BellResults) -> Chart:
    """Relative test MSE after each epoch, one panel per schedule: B6 and the control (mean over
    seeds, band min-max), the scrambles (geometric mean over scrambles of each scramble's seed
    mean, band min-max over scrambles)."""
    c = run.load_arrays(BellResults.CURVES)
    epochs = c["steps"][1:] / int(c["steps_per_epoch"])
    groups, sched = c["groups"], c["schedule"]
    test = c["test_rel"][1:]  # (E, K)
    panels = []
    for ci, schedule in enumerate(res.training.schedules):
        lines = []
        for label, gs, colour in (("B6", [0], COLOURS[0]), ("control", [1], CONTROL_COLOUR)):
            v = test[:, (sched == ci) & np.isin(groups, gs)]
            lines.append(Line(epochs, v.mean(1), label=label, band=(v.min(1), v.max(1)), color=colour))
        per = np.stack(
            [test[:, (sched == ci) & (groups == g)].mean(1) for g in np.unique(groups) if g >= 2], axis=1
        )  # (E, J)
        gm = np.exp(np.log(per).mean(1))
        lines.append(Line(epochs, gm, label="scrambles", band=(per.min(1), per.max(1)), color=COLOURS[1]))
        panels.append(
            Panel(lines, title=f"{schedule} rate", xlabel="epoch", ylabel="test MSE / Var(y_test)", yscale="log")
        )
    return Chart(
        "learning_curves",
        panels,
        title="Learning curves at the chosen rates",
        caption="B6 and the control: mean over seeds, band min-max over seeds; scrambles: geometric "
        "mean over scrambles (each averaged over its seeds), band min-max over scrambles.",
    )


def lr_sweep_chart(res: BellResults, table: pd.DataFrame) -> Chart:
    """Successive halving: the last score of every rate per target, and the chosen rates."""
    panels = []
    last = [c for c in table.columns if c.startswith("score_epoch")]
    for schedule in res.training.schedules:
        d = table[table["schedule"] == schedule]
        lines = []
        for target, t in d.groupby("target", sort=False):
            t = t.sort_values("lr")
            best = t[last].ffill(axis=1).iloc[:, -1]  # the score at the last rung each rate reached
            kind = _kind(target)
            lines.append(
                Line(
                    t["lr"].to_numpy(),
                    np.where(np.isfinite(best.to_numpy(dtype=float)), best.to_numpy(dtype=float), np.nan),
                    label=target if kind != "scrambled" or target.endswith("scrambled") else None,
                    mode="lines+markers",
                    color=_colour(kind),
                    width=1.0,
                )
            )
        panels.append(
            Panel(
                lines,
                title=f"{schedule}: score at the last rung each rate reached",
                xlabel="learning rate",
                ylabel="training-subset MSE / Var(y)",
                xscale="log",
                yscale="log",
            )
        )
    return Chart(
        "lr_sweep",
        panels,
        title="Learning-rate search (successive halving on training error)",
        caption="A rate dropped at an early rung shows its score at that rung (earlier epochs: higher "
        "errors). Selection never sees the test set.",
    )


def ratio_distribution_chart(res: BellResults) -> Chart:
    """Per schedule, each scramble's paired ratio to B6 (95% CI over seeds), sorted, beside the
    control (the noise floor), with the across-scramble geometric mean and its interval."""
    panels = []
    for schedule, eff in res.schedules.items():
        rs = sorted((s.ratios[schedule] for s in res.scrambles), key=lambda r: r.ratio)
        x = np.arange(1, len(rs) + 1)
        lines = [
            Line(
                [x[0] - 0.5, x[-1] + 0.5],
                [eff.across, eff.across],
                label="geometric mean over scrambles (95% CI)",
                band=([eff.across_est.low] * 2, [eff.across_est.high] * 2),
                color=COLOURS[1],
            ),
            Line(x, [r.ratio for r in rs], label="scramble (95% CI over seeds)", mode="markers", color=COLOURS[1]),
        ]
        lines += [
            Line([xi, xi], [r.ratio_est.low, r.ratio_est.high], color=COLOURS[1], width=1.0)
            for xi, r in zip(x, rs, strict=True)
            if r.ratio_est.has_interval
        ]
        ctrl = res.control.ratios[schedule]
        lines.append(
            Line([0], [ctrl.ratio], label="control (global relabelling)", mode="markers", color=CONTROL_COLOUR)
        )
        if ctrl.ratio_est.has_interval:
            lines.append(Line([0, 0], [ctrl.ratio_est.low, ctrl.ratio_est.high], color=CONTROL_COLOUR, width=1.0))
        panels.append(
            Panel(
                lines,
                title=f"{schedule} rate: holds in {eff.harder} of {eff.n_scrambles}",
                xlabel="0 = control; 1..n = scrambles, sorted",
                ylabel="relative test MSE / B6's (paired by seed)",
                yscale="log",
                hlines=[(1.0, "no difference")],
            )
        )
    return Chart(
        "ratio_distribution",
        panels,
        title="How much harder is each scrambled twin than B6?",
        caption="Each point: one target's geometric-mean ratio to B6 over paired seeds, bar = its 95% "
        "CI over seeds; the shaded band: the across-scramble 95% CI (t over scrambles).",
    )


def confounds_chart(res: BellResults) -> Chart:
    """The learning gap (per-scramble ratio) against effective dimension, interaction share and
    variance ratio; the regression line on effective dimension; the control at B6's values."""
    cf = res.confounds
    b6 = cf.targets[res.names[0]]
    stats = [cf.targets[s.name] for s in res.scrambles]
    xs = {
        "effective dimension 1 / sum S_i^2": [st.effective_dim for st in stats],
        "interaction share 1 - sum S_i": [st.interaction_share for st in stats],
        "Var(y) / Var(B6)": [st.variance / b6.variance for st in stats],
    }
    b6_x = {
        "effective dimension 1 / sum S_i^2": b6.effective_dim,
        "interaction share 1 - sum S_i": b6.interaction_share,
        "Var(y) / Var(B6)": 1.0,
    }
    panels = []
    for label, x in xs.items():
        lines = []
        for ci, schedule in enumerate(res.training.schedules):
            colour = SCHEDULE_COLOURS[ci % len(SCHEDULE_COLOURS)]
            y = [s.ratios[schedule].ratio for s in res.scrambles]
            lines.append(Line(x, y, label=f"scrambles, {schedule}", mode="markers", color=colour))
            lines.append(
                Line(
                    [b6_x[label]],
                    [res.control.ratios[schedule].ratio],
                    label=f"control, {schedule}",
                    mode="markers",
                    color=colour,
                    opacity=0.5,
                )
            )
            if label.startswith("effective"):
                reg = cf.regressions[schedule]
                grid = np.linspace(min(min(x), b6.effective_dim), max(max(x), b6.effective_dim), 20)
                fit = reg.at_b6_est.mean * np.exp(reg.slope_est.mean * (grid - b6.effective_dim))
                lines.append(Line(grid, fit, label=f"OLS fit, {schedule}", dash=True, color=colour))
        panels.append(
            Panel(
                lines,
                xlabel=label,
                ylabel="ratio to B6",
                yscale="log",
                hlines=[(1.0, "")],
                vlines=[(b6_x[label], "B6")],
                legend=label.startswith("effective"),
            )
        )
    return Chart(
        "confounds",
        panels,
        title="The learning gap against what else differs between the targets",
        caption="One point per scramble and schedule; the faint point at B6's value is the control. "
        "Dashed: the regression of the log ratio on effective dimension.",
    )


def _kind(target: str) -> str:
    if target.endswith("_control"):
        return "control"
    return "scrambled" if "scrambled" in target else "hierarchical"


def _colour(kind: str) -> str:
    return {"hierarchical": COLOURS[0], "control": CONTROL_COLOUR, "scrambled": COLOURS[1]}[kind]


def sweep_charts(
    res: BellResults, arrays: list[Any], names: list[str], errors: list[tuple[str, Any, str]]
) -> tuple[Chart, Chart]:
    """The sweeps from one base point (target and models) of ``names`` and the errors over all
    base points of each ``(label, arrays, colour)`` group in ``errors``."""
    n = res.order
    panels = []
    for g, (name, a) in enumerate(zip(names, arrays, strict=True)):
        for v in range(n):
            m = a["model_first"][:, v]  # (S, G)
            panels.append(
                Panel(
                    [
                        Line(a["grid"], a["target_first"][v], label="target", dash=True, color="#000000"),
                        Line(a["grid"], m.mean(0), label="model", band=(m.min(0), m.max(0)), color=COLOURS[g]),
                    ],
                    title=f"{name}: sweep of x{v + 1}",
                    xlabel=f"x{v + 1}",
                    ylabel="output",
                    legend=v == 0,
                )
            )
    base = ", ".join(f"{x:.3f}" for x in arrays[0]["base"][0])
    single = Chart(
        "sweep_single",
        panels,
        ncols=n,
        title=f"One base point x = ({base})",
        caption="Each panel varies one input over [0, 2] with the others fixed; model = "
        "mean over seeds, band min–max over seeds.",
    )
    err_panels = []
    for v in range(n):
        lines = [
            Line(a["grid"], a["err_mean"][v], label=label, band=(a["err_low"][v], a["err_high"][v]), color=colour)
            for label, a, colour in errors
        ]
        err_panels.append(
            Panel(
                lines,
                title=f"|model - target| along x{v + 1}",
                xlabel=f"x{v + 1}",
                ylabel="absolute error",
                yscale="log",
                legend=v == 0,
            )
        )
    agg = Chart(
        "sweep_errors",
        err_panels,
        ncols=min(n, 3),
        title=f"Sweep errors over {res.analysis.n_base} base points ({res.primary} rate)",
        caption="B6 and the control: mean and 5–95% band over (base point, seed) pairs; scrambles: "
        "mean over scrambles of each scramble's mean error, band min–max over scrambles.",
    )
    return single, agg


def sobol_chart(res: BellResults, names: list[str]) -> Chart:
    """First-order indices of target and model (mean over seeds, 95% CI) per target."""
    t = res.targets
    n = res.order
    cats = [f"x{v + 1}" for v in range(n)]
    panels = []
    for g, name in enumerate(names):
        so = t[name].sobol
        ci = np.asarray([[e.low, e.high] for e in so.model_est])
        model = np.asarray(so.model)
        low = np.where(np.isfinite(ci[:, 0]), ci[:, 0], model)
        high = np.where(np.isfinite(ci[:, 1]), ci[:, 1], model)
        # Plain lists: Panel drawing looks bars up by equality, which numpy arrays make ambiguous.
        panels.append(
            Panel(
                [
                    Bar(cats, list(so.target), label="target", color="#000000"),
                    Bar(
                        cats,
                        model.tolist(),
                        label="model (mean, 95% CI)",
                        errors=(low.tolist(), high.tolist()),
                        color=COLOURS[g],
                    ),
                ],
                title=name,
                ylabel="first-order Sobol index",
            )
        )
    so0 = t[names[0]].sobol
    return Chart(
        "sobol",
        panels,
        title="First-order Sobol indices",
        caption="Bars in the order x1 ... x6. "
        f"Saltelli design, N = {fmt(so0.n_samples)} "
        f"({fmt(so0.n_evaluations)} evaluations per function, "
        f"{so0.sampler} sampler); same inputs for target and model.",
    )
