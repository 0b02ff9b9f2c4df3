"""Declarative charts, rendered to static files (matplotlib) and to interactive figures (plotly).

A study describes *what* to draw — lines with confidence bands, histograms, bars, heatmaps — as a
:class:`Chart` made of :class:`Panel` s; renderers decide *how*. The same description gives the PNG
and SVG files for papers and the interactive figures of the HTML report, so the two never drift.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from learnability.runs import atomic_path

__all__ = [
    "Bar",
    "Chart",
    "Heatmap",
    "Hist",
    "Line",
    "Panel",
    "figure_matplotlib",
    "reference_styles",
    "render_matplotlib",
]

Scale = Literal["linear", "log"]
# Static figures: resolution of the PNG files and size of one panel in inches.
PNG_DPI = 130
PANEL_SIZE = (4.6, 3.3)
# A palette that survives greyscale printing and colour blindness (Okabe–Ito).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
# Reference lines of one panel ("mean predictor", "best + 10%", "chosen"), in order: each its own
# dash pattern and a dark colour apart from the palette's data colours, so that two references
# never look alike and the legend tells them apart. (matplotlib dash, plotly dash, colour)
REFERENCE_STYLES = (
    (":", "dot", "#555555"),
    ("--", "dash", "#000000"),
    ("-.", "dashdot", "#8B4513"),
    ((0, (6, 2, 1, 2, 1, 2)), "longdashdot", "#4B0082"),
    ((0, (1, 4)), "6px,6px", "#777777"),
)
# Log axes: minor ticks (2..9 x 10^k) get labels while the axis spans at most this many decades
# (some of them, as matplotlib chooses) and all of them below the second number, so that an axis
# that spans less than two decades never shows a single labelled tick such as 10^0.
LOG_MINOR_LABEL_DECADES = (2.0, 0.6)


def _arr(v: Any) -> np.ndarray:
    return np.asarray(v, dtype=float)


@dataclass
class Line:
    """A line (or markers) with an optional shaded band, e.g. a mean and its 95% CI.

    Args:
        x, y: coordinates (same length).
        label: legend entry.
        band: ``(low, high)`` arrays drawn as a shaded region.
        mode: ``"lines"``, ``"markers"`` or ``"lines+markers"``.
        dash: dashed line (e.g. a reference or a target).
        color: explicit colour; default cycles through the palette.
    """

    x: Sequence[float] | np.ndarray
    y: Sequence[float] | np.ndarray
    label: str | None = None
    band: tuple[Any, Any] | None = None
    mode: Literal["lines", "markers", "lines+markers"] = "lines"
    dash: bool = False
    color: str | None = None
    width: float = 1.6
    opacity: float = 1.0


@dataclass
class Hist:
    """A histogram of ``values`` (several overlay with transparency)."""

    values: Sequence[float] | np.ndarray
    label: str | None = None
    bins: int | Sequence[float] = 50
    density: bool = True
    color: str | None = None


@dataclass
class Bar:
    """Bars at ``categories`` with optional asymmetric error bars ``(low, high)`` (absolute values)."""

    categories: Sequence[str]
    values: Sequence[float] | np.ndarray
    label: str | None = None
    errors: tuple[Any, Any] | None = None
    color: str | None = None


@dataclass
class Heatmap:
    """A matrix or an image. ``cmap="gray"`` for pictures; ``symmetric`` centres a diverging map on 0;
    ``colorbar_label`` says what the colours mean (every heat map with a colour bar needs one)."""

    z: Any
    cmap: str = "viridis"
    vmin: float | None = None
    vmax: float | None = None
    symmetric: bool = False
    colorbar: bool = True
    x_labels: Sequence[str] | None = None
    y_labels: Sequence[str] | None = None
    colorbar_label: str = ""


Trace = Line | Hist | Bar | Heatmap


@dataclass
class Panel:
    """One set of axes.

    Args:
        traces: what to draw.
        title, xlabel, ylabel: text.
        xscale, yscale: ``"linear"`` or ``"log"``.
        hlines, vlines: reference lines as ``(position, label)``.
        image: draw heatmaps as pictures (no ticks, equal aspect).
    """

    traces: list[Trace]
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    xscale: Scale = "linear"
    yscale: Scale = "linear"
    hlines: list[tuple[float, str]] = field(default_factory=list)
    vlines: list[tuple[float, str]] = field(default_factory=list)
    image: bool = False
    legend: bool = True


@dataclass
class Chart:
    """A named figure made of panels laid out on a grid.

    Args:
        name: file stem (``figures/NAME.png``) and anchor in the HTML report.
        panels: the panels, filled row by row.
        title: figure title.
        caption: a sentence under the figure saying what to look at.
        ncols: panels per row (default: up to 3).
        panel_size: inches per panel for static output.
    """

    name: str
    panels: list[Panel]
    title: str = ""
    caption: str = ""
    ncols: int | None = None
    panel_size: tuple[float, float] = PANEL_SIZE

    @property
    def grid(self) -> tuple[int, int]:
        ncols = self.ncols or min(3, len(self.panels))
        nrows = -(-len(self.panels) // ncols)
        return nrows, ncols


def reference_styles(n: int) -> list[tuple[Any, str, str]]:
    """Styles of a panel's ``n`` reference lines, ``(matplotlib dash, plotly dash, colour)`` each:
    distinct for up to ``len(REFERENCE_STYLES)`` lines (then they repeat)."""
    return [REFERENCE_STYLES[i % len(REFERENCE_STYLES)] for i in range(n)]


def colour_cycle() -> Callable[[str | None], str]:
    """``next_colour(explicit)``: the explicit colour, else the next of :data:`PALETTE`.

    Both renderers (matplotlib, plotly) colour a panel's traces with it, so the static and the
    interactive figure of a chart agree.
    """
    used = 0

    def next_colour(explicit: str | None) -> str:
        nonlocal used
        if explicit:
            return explicit
        c = PALETTE[used % len(PALETTE)]
        used += 1
        return c

    return next_colour


# --------------------------------------------------------------------------- matplotlib


def _draw_panel(ax: Any, panel: Panel, fig: Any) -> None:
    next_colour = colour_cycle()

    if not panel.image:
        # Scales first: setting a scale afterwards would reset categorical tick labels.
        ax.set_xscale(panel.xscale)
        ax.set_yscale(panel.yscale)
    has_label = False
    n_hist = sum(isinstance(t, Hist) for t in panel.traces)
    n_bars = sum(isinstance(t, Bar) for t in panel.traces)
    bar_i = 0  # position of the current Bar among the panel's bars (grouped side by side)
    for tr in panel.traces:
        if isinstance(tr, Line):
            c = next_colour(tr.color)
            x, y = _arr(tr.x), _arr(tr.y)
            if tr.band is not None:
                ax.fill_between(x, _arr(tr.band[0]), _arr(tr.band[1]), color=c, alpha=0.2, linewidth=0)
            ls = "--" if tr.dash else "-"
            if tr.mode == "markers":
                ax.plot(x, y, "o", color=c, label=tr.label, markersize=4, alpha=tr.opacity)
            else:
                marker = "o" if tr.mode == "lines+markers" else None
                ax.plot(
                    x, y, ls, color=c, label=tr.label, linewidth=tr.width, marker=marker, markersize=4, alpha=tr.opacity
                )
            has_label |= tr.label is not None
        elif isinstance(tr, Hist):
            c = next_colour(tr.color)
            vals = _arr(tr.values)
            vals = vals[np.isfinite(vals)]
            ax.hist(
                vals,
                bins=tr.bins,
                density=tr.density,
                alpha=0.5 if n_hist > 1 else 0.8,
                color=c,
                label=tr.label,
                histtype="stepfilled",
                edgecolor=c,
            )
            has_label |= tr.label is not None
        elif isinstance(tr, Bar):
            c = next_colour(tr.color)
            width = 0.8 / n_bars
            pos = np.arange(len(tr.categories)) - 0.4 + width * (bar_i + 0.5)
            bar_i += 1
            vals = _arr(tr.values)
            yerr = None
            if tr.errors is not None:
                yerr = np.vstack([vals - _arr(tr.errors[0]), _arr(tr.errors[1]) - vals])
            ax.bar(pos, vals, width=width, color=c, label=tr.label, yerr=yerr, capsize=3)
            ax.set_xticks(np.arange(len(tr.categories)), list(tr.categories))
            has_label |= tr.label is not None
        elif isinstance(tr, Heatmap):
            z = np.asarray(tr.z, dtype=float)
            vmin, vmax = tr.vmin, tr.vmax
            if tr.symmetric:
                m = float(np.nanmax(np.abs(z))) or 1.0
                vmin, vmax = -m, m
            im = ax.imshow(
                z,
                cmap=tr.cmap,
                vmin=vmin,
                vmax=vmax,
                aspect="equal" if panel.image else "auto",
                interpolation="nearest",
            )
            if tr.colorbar and not panel.image:
                bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
                bar.set_label(tr.colorbar_label)
            if tr.x_labels is not None:
                ax.set_xticks(range(len(tr.x_labels)), list(tr.x_labels), rotation=45, ha="right")
            if tr.y_labels is not None:
                ax.set_yticks(range(len(tr.y_labels)), list(tr.y_labels))
    refs = [(ax.axhline, y, label) for y, label in panel.hlines] + [(ax.axvline, x, label) for x, label in panel.vlines]
    for (draw, at, label), (dash, _, colour) in zip(refs, reference_styles(len(refs)), strict=True):
        draw(at, color=colour, linestyle=dash, linewidth=1.2, label=label or None)
        has_label |= bool(label)
    if panel.image:
        ax.set_xticks([])  # after any scale change, which would restore the ticks
        ax.set_yticks([])
    else:
        from matplotlib.ticker import LogFormatterSciNotation, LogLocator

        for axis, scale in ((ax.xaxis, panel.xscale), (ax.yaxis, panel.yscale)):
            if scale == "log":  # every decade, minor ticks at 2..9, labelled on short spans
                axis.set_major_locator(LogLocator(base=10.0, numticks=12))
                axis.set_minor_locator(LogLocator(base=10.0, subs=tuple(range(2, 10)), numticks=12))
                axis.set_minor_formatter(
                    LogFormatterSciNotation(labelOnlyBase=False, minor_thresholds=LOG_MINOR_LABEL_DECADES)
                )
    ax.set_title(panel.title, fontsize=10)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    if not panel.image and not any(isinstance(t, Heatmap) for t in panel.traces):
        ax.grid(True, which="major", alpha=0.3)
    if has_label and panel.legend:
        ax.legend(fontsize=7, frameon=False)


def figure_matplotlib(chart: Chart) -> Any:
    """``chart`` drawn as a matplotlib ``Figure`` (not saved; tests inspect its axes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    nrows, ncols = chart.grid
    w, h = chart.panel_size
    fig = Figure(figsize=(w * ncols, h * nrows + (0.4 if chart.title else 0)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < len(chart.panels):
            _draw_panel(ax, chart.panels[i], fig)
        else:
            ax.set_visible(False)
    if chart.title:
        fig.suptitle(chart.title)
    return fig


def render_matplotlib(chart: Chart, out_dir: str | Path, *, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Draw ``chart`` with matplotlib and save ``out_dir/NAME.{png,svg}``; returns the paths."""
    fig = figure_matplotlib(chart)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        p = out_dir / f"{chart.name}.{fmt}"
        with atomic_path(p) as tmp:
            fig.savefig(tmp, dpi=PNG_DPI, format=fmt)
        paths.append(p)
    return paths
