"""Learning-curve charts read from a run's metrics, and the report of an incomplete run."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from learnability.report.charts import Chart, Line, Panel
from learnability.report.document import Figure, Heading, Report, Table, Text, fmt
from learnability.runs import Run

__all__ = ["curve_lines", "incomplete_report", "smooth"]

# Members drawn one by one up to this count; beyond it, the median and a 10-90% band.
_MAX_MEMBER_LINES = 8
# Per-step curves are thinned to about this many points per line for plotting.
_MAX_POINTS = 1500


def smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average (shorter windows at the ends); NaNs are ignored."""
    y = np.asarray(y, dtype=float)
    window = min(window, len(y))  # np.convolve(mode="same") returns max(len) samples
    if window <= 1:
        return y
    ok = np.isfinite(y)
    kernel = np.ones(window)
    num = np.convolve(np.where(ok, y, 0.0), kernel, mode="same")
    den = np.convolve(ok.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _thin(x: np.ndarray, *ys: np.ndarray) -> tuple[np.ndarray, ...]:
    if len(x) <= _MAX_POINTS:
        return (x, *ys)
    idx = np.unique(np.linspace(0, len(x) - 1, _MAX_POINTS).astype(int))
    return (x[idx], *(y[idx] for y in ys))


def _wide(df: pd.DataFrame) -> pd.DataFrame:
    """(step x member) table of values."""
    return df.pivot_table(index="step", columns="member", values="value", aggfunc="mean").sort_index()


def curve_lines(
    df: pd.DataFrame,
    *,
    label: str | None = None,
    smooth_window: int = 1,
    color: str | None = None,
    band: bool = True,
    members: bool = False,
) -> list[Line]:
    """Lines for one series/tag: the median over members with a 10–90% band (or each member).

    Args:
        df: rows of one series and tag (columns step, member, value).
        label: legend label.
        smooth_window: moving-average window in steps (noisy per-step losses).
        color: line colour.
        band: draw the band between the 10th and 90th percentile of members.
        members: draw each member instead (when there are few).
    """
    if df.empty:
        return []
    if df["member"].isna().all():
        d = df.sort_values("step")
        x, y = d["step"].to_numpy(float), smooth(d["value"].to_numpy(float), smooth_window)
        x, y = _thin(x, y)
        return [Line(x, y, label=label, color=color)]
    wide = _wide(df)
    x = wide.index.to_numpy(float)
    vals = np.column_stack([smooth(wide[c].to_numpy(float), smooth_window) for c in wide.columns])
    if members or vals.shape[1] == 1 or (vals.shape[1] <= _MAX_MEMBER_LINES and not band):
        out = []
        for j, c in enumerate(wide.columns):
            xx, yy = _thin(x, vals[:, j])
            out.append(Line(xx, yy, label=f"{label} #{c}" if label else f"member {c}", color=color, width=1.0))
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps of diverged members
        med = np.nanmedian(vals, axis=1)
        lo = np.nanpercentile(vals, 10, axis=1)
        hi = np.nanpercentile(vals, 90, axis=1)
    x, med, lo, hi = _thin(x, med, lo, hi)
    return [Line(x, med, label=label, band=(lo, hi) if band else None, color=color)]


def incomplete_report(run: Run) -> Report:
    """What can be shown of a run that did not complete: status, and every recorded curve."""
    rep = Report(title=f"{run.study} — {'corrupt' if run.status == 'corrupt' else 'incomplete'} run")
    if run.status == "corrupt":
        rep.add(
            Text(
                f"**This run folder is corrupt:** {run.problem or 'a file of the folder is unreadable'}. "
                "The study's analysis cannot be rebuilt from it; below is everything recorded in "
                "`metrics.jsonl`. Re-run the study to get the full report."
            )
        )
    else:
        rep.add(
            Text(
                f"**This run is {run.status}.** It stopped before writing its summary, so the "
                "study's analysis was not produced; below is everything it recorded in "
                "`metrics.jsonl` before stopping. Re-run the study to get the full report."
            )
        )
    df = run.metrics
    if df.empty or "series" not in df:
        rep.add(Text("No metrics were recorded."))
        return rep
    if "tag" not in df:
        df = df.assign(tag="")
    df = df.assign(tag=df["tag"].fillna(""))
    rows = []
    panels = []
    for series, sdf in df.groupby("series", sort=True):
        tags = sorted(sdf["tag"].unique())
        last_step = sdf["step"].max()
        rows.append(
            [
                str(series),
                ", ".join(t for t in tags if t) or "—",
                len(sdf),
                "—" if pd.isna(last_step) else int(last_step),
            ]
        )
        if sdf["step"].notna().any():
            lines = []
            for t in tags:
                window = 50 if str(series) == "train_loss" else 1
                lines += curve_lines(sdf[sdf["tag"] == t], label=t or str(series), smooth_window=window)
            finite = sdf["value"].to_numpy(float)
            finite = finite[np.isfinite(finite)]
            log = bool(len(finite) and finite.min() > 0 and finite.max() / finite.min() > 100)
            panels.append(
                Panel(lines, title=str(series), xlabel="step", ylabel=str(series), yscale="log" if log else "linear")
            )
    rep.add(Heading("Recorded metrics"), Table(["series", "tags", "records", "last step"], rows))
    if panels:
        rep.add(Heading("Curves"))
        rep.add(Figure(Chart("recorded_curves", panels, title="Recorded before the run stopped")))
    rep.headline = {"status": run.status, "records": fmt(len(df))}
    return rep
