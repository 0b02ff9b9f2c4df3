"""The data-pipeline report's tables and figures, drawn from the probe table and saved arrays."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from learnability.data import ARC_PAD
from learnability.report import Chart, Heatmap, Line, Panel, Table, fmt
from learnability.studies.data_pipeline.results import DataPipelineResults

__all__ = ["arc_chart", "corrupted_chart", "probe_table", "rates_chart", "sweep_chart"]


def probe_table(rows: pd.DataFrame, caption: str) -> Table:
    """One row per probe of ``rows`` (the probe table), the ratio with its range over repeats."""
    cols = [
        "data",
        "K",
        "loader batch",
        "workers",
        "loader items/s",
        "step items/s",
        "end to end items/s",
        "step / loader",
        "bottleneck",
    ]
    body = []
    for _, r in rows.iterrows():
        spread = (
            f"{fmt(r['ratio'])} [{fmt(r['ratio_min'])}, {fmt(r['ratio_max'])}]" if r["repeats"] > 1 else fmt(r["ratio"])
        )
        body.append(
            [
                r["variant"],
                int(r["members"]),
                int(r["loader_batch"]),
                int(r["num_workers"]),
                float(r["loader_items_per_s"]),
                float(r["step_items_per_s"]),
                float(r["end_to_end_items_per_s"]),
                spread,
                str(r["bottleneck"]) + ("" if r["consistent"] else " (repeats disagree)"),
            ]
        )
    return Table(cols, body, caption)


def rates_chart(probes: pd.DataFrame, members: Sequence[int], results: DataPipelineResults) -> Chart:
    """Bell data: the DataLoader alone and feeding the engine step, per K, against num_workers."""
    panels = []
    for k in members:
        rows = probes[(probes["part"] == "bell") & (probes["members"] == k)]
        span = [float(rows["num_workers"].min()), float(rows["num_workers"].max())]
        loader, e2e = [], []
        for variant, g in rows.groupby("variant", sort=False):
            g = g.sort_values("num_workers")
            x = g["num_workers"].tolist()
            loader.append(Line(x, g["loader_items_per_s"].tolist(), label=str(variant), mode="lines+markers"))
            e2e.append(Line(x, g["end_to_end_items_per_s"].tolist(), label=str(variant), mode="lines+markers"))
        step = float(rows["step_items_per_s"].median())
        fixed = results.bell_k(k).fixed_source_items_per_s
        loader.append(Line(span, [step, step], label="engine step alone", dash=True, color="#000000"))
        e2e.append(Line(span, [fixed, fixed], label="engine + FixedSource (no DataLoader)", dash=True, color="#000000"))
        kw: dict[str, Any] = {"xlabel": "num_workers", "ylabel": "items / s", "yscale": "log"}
        batch = int(rows["batch"].iloc[0])
        panels += [
            Panel(loader, title=f"K={k} x batch {batch}: DataLoader alone", **kw),
            Panel(e2e, title=f"K={k} x batch {batch}: DataLoader + engine step", **kw),
        ]
    return Chart(
        "bell_rates",
        panels,
        ncols=2,
        title="Bell data: items per second by data layout and num_workers",
        caption="Left: the DataLoader alone (dashed: what the engine step consumes); "
        "right: the DataLoader feeding the engine step (dashed: the engine "
        "training from its FixedSource, no DataLoader). Log scale.",
    )


def sweep_chart(sweep: pd.DataFrame) -> Chart:
    """Items/s against the loader batch, one line per num_workers; dashed: the step alone."""
    left, right = [], []
    for w, g in sweep.sort_values("batch_size").groupby("num_workers"):
        left.append(
            Line(
                g["batch_size"].tolist(),
                g["loader_items_per_s"].tolist(),
                label=f"{int(w)} workers",
                mode="lines+markers",
            )
        )
        right.append(
            Line(
                g["batch_size"].tolist(),
                g["end_to_end_items_per_s"].tolist(),
                label=f"{int(w)} workers",
                mode="lines+markers",
            )
        )
    step = sweep.groupby("batch_size")["step_items_per_s"].median()
    for traces in (left, right):
        traces.append(Line(step.index.tolist(), step.tolist(), label="engine step alone", dash=True, color="#000000"))
    kw: dict[str, Any] = {
        "xlabel": "loader batch size (items)",
        "ylabel": "items / s",
        "xscale": "log",
        "yscale": "log",
    }
    return Chart(
        "loader_sweep",
        [Panel(left, title="DataLoader alone", **kw), Panel(right, title="end to end (loader + engine step)", **kw)],
        title="Bell data in memory: num_workers x batch size",
        caption="Items per second against the batch size, one line per num_workers; dashed: the engine step alone.",
    )


def _image_panel(x: np.ndarray, title: str) -> Panel:
    img = np.clip(x, 0.0, 1.0)
    z = img[0] if img.shape[0] == 1 else np.transpose(img, (1, 2, 0))  # (H, W) or (H, W, 3)
    return Panel([Heatmap(z, cmap="gray", vmin=0.0, vmax=1.0, colorbar=False)], title=title, image=True, legend=False)


def corrupted_chart(arrays: Mapping[str, np.ndarray]) -> Chart:
    """The saved corrupted batch above its clean images."""
    n = arrays["corrupted"].shape[0]
    classes = [str(c) for c in arrays["classes"]]
    top = [_image_panel(arrays["corrupted"][j], f"corrupted: {classes[int(arrays['label'][j])]}") for j in range(n)]
    bottom = [_image_panel(arrays["clean"][j], "clean") for j in range(n)]
    return Chart(
        "corrupted_batch",
        top + bottom,
        ncols=n,
        panel_size=(1.6, 1.7),
        title="Corrupted (top), clean (bottom)",
        caption="Each column is one item; the corruption of item i depends only on (seed, i).",
    )


def arc_chart(arrays: Mapping[str, np.ndarray]) -> Chart:
    """The saved ARC batch: the first train input of each task, padded, and its mask."""
    n = arrays["grids"].shape[0]
    top = [
        Panel(
            [Heatmap(arrays["grids"][j], cmap="tab20", vmin=0, vmax=ARC_PAD, colorbar=False)],
            title=f"task {j}: input, padded",
            image=True,
        )
        for j in range(n)
    ]
    bottom = [
        Panel(
            [Heatmap(arrays["mask"][j].astype(float), cmap="gray", vmin=0, vmax=1, colorbar=False)],
            title="mask (white = real)",
            image=True,
        )
        for j in range(n)
    ]
    return Chart(
        "arc_padding",
        top + bottom,
        ncols=n,
        panel_size=(2.0, 2.1),
        title="ARC batch: padded inputs, masks",
        caption="The first train input of each task of a batch, padded to the batch's "
        "canvas (the light colour is the pad token), and its mask.",
    )
