"""The figures of the bell-hierarchy report, from the typed results and the run's artifacts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from learnability.report import Bar, Chart, Line, Panel, fmt
from learnability.runs import Run
from learnability.studies.bell_hierarchy.results import BellResults

__all__ = ["COLOURS", "learning_curves_chart", "lr_sweep_chart", "sobol_chart", "sweep_charts"]

# Colours of the two targets in every figure (Okabe-Ito blue and vermilion).
COLOURS = ("#0072B2", "#D55E00")


def learning_curves_chart(run: Run, names: list[str]) -> Chart:
    """Errors after each epoch (test set, training subset) and the epoch-mean training loss of
    the final members, mean and min-max band over seeds per target."""
    c = run.load_arrays(BellResults.CURVES)
    spe = int(c["steps_per_epoch"])
    epochs = c["steps"] / spe
    groups = c["groups"]
    test_lines, batch_lines = [], []
    for g, name in enumerate(names):
        m = groups == g
        for key, dash, label in (("test_rel", False, "test"), ("train_eval_rel", True, "train subset")):
            v = c[key][:, m]
            test_lines.append(
                Line(
                    epochs[1:],
                    v[1:].mean(1),
                    label=f"{name} {label}",
                    dash=dash,
                    band=None if dash else (v[1:].min(1), v[1:].max(1)),
                    color=COLOURS[g],
                )
            )
        b = c["train_batch_rel"][:, m]
        batch_lines.append(
            Line(np.arange(1, b.shape[0] + 1), b.mean(1), label=name, band=(b.min(1), b.max(1)), color=COLOURS[g])
        )
    return Chart(
        "learning_curves",
        [
            Panel(test_lines, title="Evaluated after each epoch", xlabel="epoch", ylabel="MSE / Var(y)", yscale="log"),
            Panel(
                batch_lines,
                title="Training loss (mean over each epoch's batches)",
                xlabel="epoch",
                ylabel="MSE / Var(y_train)",
                yscale="log",
            ),
        ],
        title="Learning curves at the chosen rates",
        caption="Mean over seeds, band min–max over seeds; dashed: the fixed training subset.",
    )


def lr_sweep_chart(res: BellResults, run: Run, table: pd.DataFrame, names: list[str]) -> Chart:
    """Score (and, for information, test error) against the rate, and each rate's curve."""
    panels = []
    score_lines, vlines = [], []
    for g, name in enumerate(names):
        d = table[table["target"] == name].sort_values("lr")
        score_lines.append(
            Line(
                d["lr"],
                d["train_eval_rel"],
                label=f"{name} (training, selects)",
                mode="lines+markers",
                color=COLOURS[g],
            )
        )
        score_lines.append(
            Line(
                d["lr"],
                d["test_rel_final"],
                label=f"{name} test (not used)",
                mode="lines+markers",
                dash=True,
                color=COLOURS[g],
            )
        )
        vlines.append((float(d.loc[d["chosen"], "lr"].iloc[0]), f"chosen, {name}"))
        cur = run.load_arrays(BellResults.SWEEP_CURVES.format(target=name))
        ep = cur["steps"] / res.data.steps_per_epoch
        lines = [
            Line(ep[1:], cur["train_eval_rel"][1:, j], label=f"lr {fmt(float(lr))}") for j, lr in enumerate(cur["lr"])
        ]
        panels.append(
            Panel(
                lines,
                title=f"{name}: training-subset error per rate",
                xlabel="epoch",
                ylabel="MSE / Var(y)",
                yscale="log",
            )
        )
    return Chart(
        "lr_sweep",
        [
            Panel(
                score_lines,
                title="Score vs learning rate",
                xlabel="learning rate",
                ylabel="MSE / Var(y), last epochs",
                xscale="log",
                yscale="log",
                vlines=vlines,
            ),
            *panels,
        ],
        title="Learning-rate sweeps",
        caption="Selection uses the training-subset error only; the test error is shown for information.",
    )


def sweep_charts(res: BellResults, arrays: list[Any], names: list[str]) -> tuple[Chart, Chart]:
    """The sweeps from one base point (target and models) and the errors over all base points."""
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
            Line(a["grid"], a["err_mean"][v], label=name, band=(a["err_low"][v], a["err_high"][v]), color=COLOURS[g])
            for g, (name, a) in enumerate(zip(names, arrays, strict=True))
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
        title=f"Sweep errors over {res.analysis.n_base} base points x {res.comparison.seeds} seeds",
        caption="Mean and 5–95% band over (base point, seed) pairs.",
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
