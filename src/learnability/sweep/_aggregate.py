"""Aggregation over seeds, one figure per headline metric and numeric axis, and the sweep report.

Everything here reads the sweep folder alone (``plan.json``, ``results.parquet``, ``sweep.json``),
so :func:`report_sweep` can rebuild ``aggregate.parquet``, ``figures/`` and ``report.md`` at any
time, also for a sweep that was interrupted.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from learnability._words import plural
from learnability.analysis import format_interval, mean_estimate
from learnability.report import Chart, Line, Panel, fmt, render_matplotlib
from learnability.report.html import REPORT_HTML, href, markdown_to_html, page, slug
from learnability.report.plotly_charts import chart_div
from learnability.sweep._layout import (
    AGGREGATE_FILE,
    FIGURES_DIR,
    REPORT_FILE,
    SWEEP_FILE,
)
from learnability.sweep._results import load_sweep, read_plan, read_state, sweep_dir_of

__all__ = ["aggregate", "report_sweep", "sweep_charts"]

CONFIDENCE = 0.95
# A metric's y axis is logarithmic when its group means are positive and span this ratio or more.
LOG_Y_RATIO = 100.0
# Without a `metrics` list in the sweep file, figures are drawn for at most this many metrics
# (the first ones in summary order); aggregate.parquet always holds all of them.
MAX_DEFAULT_FIGURE_METRICS = 8
# The report lists at most this many runs; results.parquet holds all of them.
MAX_REPORT_RUNS = 200
AGGREGATE_COLUMNS = ("metric", "n", "mean", "low", "high", "kind")


def aggregate(
    results: pd.DataFrame, *, axes: Sequence[str], metrics: Sequence[str], confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Mean and Student-t confidence interval over seeds, per group of axis values and metric.

    Groups are the combinations of every axis but the seed, in plan order; only complete runs
    count, and non-finite values (a diverged run's ``inf``) are left out, so ``n`` is the number
    of values used. ``n = 1`` gives NaN bounds and ``n = 0`` a NaN mean (see
    :func:`learnability.analysis.mean_ci`).

    A metric whose every finite value in the sweep is > 0 (an error, a distance, a rate) is
    treated as positive: its intervals are log-scale ones (``mean_estimate(kind="positive")``), so
    neither the table nor the figures' bands reach below zero; other metrics get the Student-t
    interval. The ``kind`` column says which.

    Args:
        results: the results table (``load_sweep``).
        axes: the axis columns to group by.
        metrics: the metric columns to aggregate.
        confidence: the intervals' confidence level.

    Returns:
        A long table: the axis columns, then ``metric``, ``n``, ``mean``, ``low``, ``high``,
        ``kind`` ("positive" or "real"); one row per group and metric.
    """
    keys = list(axes)
    done = results[results["status"] == "complete"]
    kinds = {}
    for metric in metrics:
        every = pd.to_numeric(done[metric], errors="coerce").to_numpy(dtype=float) if metric in done else np.empty(0)
        every = every[np.isfinite(every)]
        kinds[metric] = "positive" if every.size and (every > 0).all() else "real"
    groups = results.groupby(keys, sort=False, dropna=False) if keys else [((), results)]
    rows = []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        complete = group[group["status"] == "complete"]
        for metric in metrics:
            values = (
                pd.to_numeric(complete[metric], errors="coerce").to_numpy(dtype=float)
                if metric in complete
                else np.empty(0)
            )
            values = values[np.isfinite(values)]
            if values.size:
                est = mean_estimate(values, confidence, kind=kinds[metric])
                mean, low, high = est.mean, est.low, est.high
            else:
                mean = low = high = math.nan
            rows.append(
                {
                    **dict(zip(keys, key, strict=True)),
                    "metric": metric,
                    "n": int(values.size),
                    "mean": mean,
                    "low": low,
                    "high": high,
                    "kind": kinds[metric],
                }
            )
    df = pd.DataFrame.from_records(rows, columns=[*keys, *AGGREGATE_COLUMNS])
    df["n"] = df["n"].astype("int64")
    for col in ("mean", "low", "high"):
        df[col] = df[col].astype("float64")
    return df


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _yscale(means: np.ndarray) -> str:
    finite = means[np.isfinite(means)]
    if finite.size and (finite > 0).all() and finite.max() / finite.min() >= LOG_Y_RATIO:
        return "log"
    return "linear"


def sweep_charts(agg: pd.DataFrame, axes: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> list[Chart]:
    """One chart per metric and numeric axis: the mean against the axis, with its CI band.

    Each combination of the other axes' values is one line; the x axis is logarithmic where the
    axis was log-spaced, the y axis where the means span two decades or more.
    """
    names = [a["name"] for a in axes]
    charts = []
    for metric in metrics:
        sub = agg[agg["metric"] == metric]
        for axis in axes:
            if not axis["numeric"] or len(axis["values"]) < 2:
                continue
            x = axis["name"]
            others = [n for n in names if n != x]
            lines = []
            parts = sub.groupby(others, sort=False, dropna=False) if others else [((), sub)]
            for key, g in parts:
                key = key if isinstance(key, tuple) else (key,)
                g = g.sort_values(x)
                label = ", ".join(f"{o}={v}" for o, v in zip(others, key, strict=True)) or None
                lines.append(
                    Line(
                        g[x].to_numpy(float),
                        g["mean"].to_numpy(float),
                        label=label,
                        band=(g["low"].to_numpy(float), g["high"].to_numpy(float)),
                        mode="lines+markers",
                    )
                )
            panel = Panel(
                lines,
                title=f"{metric} vs {x}",
                xlabel=x,
                ylabel=metric,
                xscale="log" if axis["scale"] == "log" else "linear",
                yscale=_yscale(sub["mean"].to_numpy(float)),
            )
            charts.append(
                Chart(
                    _slug(f"{metric}-vs-{x}"),
                    [panel],
                    caption=f"Mean of {metric} over seeds with its {CONFIDENCE:.0%} Student-t interval (band).",
                )
            )
    return charts


# --------------------------------------------------------------------------- report


def _cell(v: Any) -> str:
    s = v if isinstance(v, str) else fmt(v)
    return s.replace("|", "\\|").replace("\n", " ")


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(_cell(c) for c in columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out + [""]


def _estimate(row: Mapping[str, Any]) -> str:
    if row["n"] == 0:
        return "—"
    if row["n"] == 1:
        return f"{fmt(row['mean'])} (n=1)"
    if math.isclose(row["low"], row["high"], rel_tol=1e-12, abs_tol=0.0) or row["low"] == row["high"]:
        # every seed gave the same value (up to floating-point rounding of the mean)
        return f"{fmt(row['mean'])} (all equal, n={row['n']})"
    return f"{format_interval(row['mean'], row['low'], row['high'])} (n={row['n']})"


def _first_line(text: Any) -> str:
    lines = [ln for ln in str(text or "").splitlines() if ln.strip()]
    return lines[0] if lines else ""


def _markdown(
    sweep_dir: Path,
    plan: Mapping[str, Any],
    results: pd.DataFrame,
    agg: pd.DataFrame,
    metrics: Sequence[str],
    charts: Sequence[Chart],
    missing: Sequence[str],
) -> str:
    axes = plan["axes"]
    names = [a["name"] for a in axes]
    counts = results["status"].value_counts().to_dict()
    state = read_state(sweep_dir)
    out = [f"# Sweep `{plan['name']}`", ""]
    if plan.get("description"):
        out += [plan["description"], ""]
    status_words = ", ".join(f"{n} {s}" for s, n in counts.items())
    out.append(f"- **Study:** `{plan['study']}` · **runs:** {len(results)} planned: {status_words}")
    out.append(
        f"- **Sweep file:** `{SWEEP_FILE}` (from `{plan['source']}`) · plan: `plan.json` · "
        f"results: `results.parquet` · aggregate: `{AGGREGATE_FILE}`"
    )
    last = (state.get("invocations") or [None])[-1]
    if last:
        res = last.get("resources", {})
        out.append(
            f"- **Last invocation:** {res.get('backend')} backend, {plural(res.get('workers'), 'worker')} "
            f"x {plural(res.get('threads'), 'thread')} on {res.get('cores')} cores "
            f"({res.get('reason')}); started {last.get('started')}, finished "
            f"{last.get('finished') or '—'}; executed {last.get('executed')}, skipped "
            f"{plural(last.get('skipped'), 'complete run')}, status {last.get('status')}"
        )
    out.append("")

    out += ["## Plan", ""]
    if axes:
        out += _table(
            ["axis", "values", "spacing"],
            [[a["name"], ", ".join(json.dumps(v) for v in a["values"]), a["scale"] or "list"] for a in axes],
        )
    zipped = [f"({', '.join(g)})" for g in plan["zip"]]
    out.append(
        f"Axes are crossed{'; varied together: ' + ', '.join(zipped) if zipped else ''}. "
        f"Seeds: {', '.join(map(str, plan['seeds'])) if plan['seeds'] else 'the base seed'}"
        f". Smoke size: {'yes' if plan['smoke'] else 'no'}."
    )
    if plan["base"]:
        out += ["", "Base config:", "", "```toml", *_base_lines(plan["base"]), "```"]
    out.append("")

    failed = results[~results["status"].isin(["complete", "pending"])]
    pending = int((results["status"] == "pending").sum())
    out += ["## Failures", ""]
    if failed.empty:
        out.append("No run failed." + (f" {plural(pending, 'run')} not run yet." if pending else ""))
        out.append("")
    else:
        out += _table(
            ["run", *names, "seed", "status", "error"],
            [
                [f"`{r['run_id']}`", *[r[n] for n in names], r["seed"], r["status"], _first_line(r["error"])]
                for _, r in failed.iterrows()
            ],
        )
        out.append(
            "Tracebacks are in each run folder's `provenance.json`; re-running the sweep "
            "retries these runs (earlier attempts are moved to `attempts/`)."
        )
        out.append("")

    out += [f"## Results: mean and {CONFIDENCE:.0%} CI over seeds", ""]
    if metrics:
        wide = []
        keys = names
        parts = agg.groupby(keys, sort=False, dropna=False) if keys else [((), agg)]
        for key, g in parts:
            key = key if isinstance(key, tuple) else (key,)
            by_metric = {r["metric"]: r for _, r in g.iterrows()}
            wide.append([*key, *[_estimate(by_metric[m]) for m in metrics]])
        out += _table([*names, *metrics], wide)
    else:
        out += ["No complete run yet: nothing to aggregate.", ""]
    if missing:
        out += [f"Metrics named in the sweep file but found in no summary: {', '.join(missing)}.", ""]

    if charts:
        out += ["## Figures", ""]
        for c in charts:
            out += [f"![{c.panels[0].title}]({FIGURES_DIR}/{c.name}.png)", "", f"*{c.caption}*", ""]

    out += ["## Runs", ""]
    shown = results.head(MAX_REPORT_RUNS)
    out += _table(
        ["#", "run", "status", *names, "seed", *metrics],
        [
            [
                i,
                f"`{r['run_id']}`",
                r["status"],
                *[r[n] for n in names],
                r["seed"],
                *[r.get(m) for m in metrics],
            ]
            for i, r in shown.iterrows()
        ],
    )
    if len(results) > MAX_REPORT_RUNS:
        out += [f"First {MAX_REPORT_RUNS} of {len(results)} runs; all are in `results.parquet`.", ""]
    return "\n".join(out)


def _base_lines(base: Mapping[str, Any], prefix: str = "") -> list[str]:
    lines = []
    for k, v in base.items():
        if isinstance(v, Mapping) and v:
            lines += _base_lines(v, f"{prefix}{k}.")
        else:
            lines.append(f"{prefix}{k} = {json.dumps(v)}")
    return lines


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def report_sweep(path: str | Path) -> Path:
    """(Re)build ``aggregate.parquet``, ``figures/``, ``report.md`` and ``report.html`` from the sweep folder alone.

    Args:
        path: the sweep folder.

    Returns:
        The path of ``report.md``.
    """
    sweep_dir = sweep_dir_of(path)
    plan = read_plan(sweep_dir)
    results = load_sweep(sweep_dir)
    available = results.attrs["metrics"]
    column_of = {m.removeprefix("summary."): m for m in available}
    if plan["metrics"] is not None:
        metrics = [column_of[m] for m in plan["metrics"] if m in column_of]
        missing = [m for m in plan["metrics"] if m not in column_of]
        figure_metrics = metrics
    else:
        metrics, missing = list(available), []
        figure_metrics = metrics[:MAX_DEFAULT_FIGURE_METRICS]
    names = [a["name"] for a in plan["axes"]]
    agg = aggregate(results, axes=names, metrics=metrics)
    tmp = sweep_dir / (AGGREGATE_FILE + ".tmp")
    agg.to_parquet(tmp, index=False)
    tmp.replace(sweep_dir / AGGREGATE_FILE)
    charts = sweep_charts(agg, plan["axes"], figure_metrics) if len(agg) else []
    for chart in charts:
        render_matplotlib(chart, sweep_dir / FIGURES_DIR)
    report = sweep_dir / REPORT_FILE
    markdown = _markdown(sweep_dir, plan, results, agg, metrics, charts, missing)
    report.write_text(markdown)
    (sweep_dir / REPORT_HTML).write_text(_html(plan, markdown, charts), encoding="utf-8")
    return report


# A figure line of the sweep's report.md: ![title](figures/NAME.png)
_FIGURE_LINE = re.compile(r"^!\[[^\]]*\]\(" + FIGURES_DIR + r"/(?P<name>[^)/]+)\.png\)$")


def _html(plan: Mapping[str, Any], markdown: str, charts: Sequence[Chart]) -> str:
    """``report.html`` of a sweep: the Markdown report, with each figure as an interactive chart
    (static PNG and SVG linked), self-contained like a run's."""
    by_name = {c.name: c for c in charts}
    parts: list[str] = []
    text: list[str] = []
    for line in markdown.splitlines():
        m = _FIGURE_LINE.match(line)
        if m is None or m["name"] not in by_name:
            text.append(line)
            continue
        parts.append(markdown_to_html("\n".join(text)))
        text = []
        chart = by_name[m["name"]]
        static = (
            f'static: <a href="{href(f"{FIGURES_DIR}/{chart.name}.png")}">PNG</a> · '
            f'<a href="{href(f"{FIGURES_DIR}/{chart.name}.svg")}">SVG</a>'
        )
        parts.append(
            f'<figure><div class="plot">{chart_div(chart, slug(chart.name))}</div>'
            f"<figcaption>{static}</figcaption></figure>"
        )
    parts.append(markdown_to_html("\n".join(text)))
    return page(f"Sweep {plan['name']}", "\n".join(parts), plotly=bool(charts))
