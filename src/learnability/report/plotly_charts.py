"""Interactive figures: the plotly renderer of the declarative :class:`~learnability.report.charts.Chart`.

Studies describe a figure once (:mod:`learnability.report.charts`); :func:`render_matplotlib` draws
the static PNG/SVG and :func:`to_plotly` the interactive version of the same description, so every
study gets both without extra work. The layout follows the matplotlib renderer — the same palette,
grouped-bar positions, histogram bins and image orientation — and adds what only a browser can do:
hover values, zoom, legend toggles and buttons that switch the axes between linear and log scale.

Every piece of text that comes from a study or a run (titles, labels, legend entries, category
names) is HTML-escaped before it reaches plotly.js, which otherwise interprets a subset of HTML
(``<b>``, ``<a href>``, ...) in text: a tag name or a config value is shown as typed, never as markup.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

from learnability.report.charts import Bar, Chart, Heatmap, Hist, Line, Panel, colour_cycle, reference_styles

__all__ = ["PLOTLY_CONFIG", "chart_div", "to_plotly"]

# Pixel height of one row of panels (the width follows the page); above the panels, room for
# the subplot titles, the linear/log buttons and the chart's title; below, for the x-axis title.
ROW_HEIGHT = 320
SUBPLOT_TITLES_PX = 28
BUTTONS_PX = 34
CHART_TITLE_PX = 34
MIN_TOP_PX = 20
BOTTOM_PX = 50
SIDE_PX = {"l": 60, "r": 20}
# The y group of linear/log buttons starts this fraction of the plot width right of the x group.
BUTTONS_GAP = 0.16
# Gaps between panels as fractions of the figure (plotly's make_subplots spacing).
H_SPACING = 0.08
V_SPACING_PER_ROWS = 0.3
# ... wider when colour bars sit between panels; a bar's gap to its panel (figure fraction) and
# thickness (pixels).
H_SPACING_COLORBAR = 0.13
COLORBAR_GAP = 0.008
COLORBAR_THICKNESS = 12
# The legend's left edge (plotly's default), moved further right past a colour bar.
LEGEND_X = 1.02
LEGEND_AFTER_COLORBAR = 0.08
# Opacity of confidence bands and of overlaid histograms (the same values as the static figures).
BAND_ALPHA = 0.2
HIST_ALPHA_OVERLAID = 0.5
HIST_ALPHA_SINGLE = 0.8
# Colour scales are sampled from the matplotlib colormap at this many points, so the interactive
# heatmap uses the same colours as the static one.
COLORSCALE_SAMPLES = 11
# Colour of reference lines (hlines/vlines): matplotlib's "0.35" grey.
# Tick labels of every axis (read by log axes): powers as 10^k, and the minor ticks on short log
# spans labelled with their whole value.
LOG_TICKS: dict[str, Any] = {"exponentformat": "power", "minorloglabels": "complete"}
# Plotly's modebar and behaviour: responsive width, no link to an online service.
PLOTLY_CONFIG: dict[str, Any] = {"responsive": True, "displaylogo": False, "toImageButtonOptions": {"format": "svg"}}


def _text(s: str | None) -> str:
    """Text for plotly.js, which renders a subset of HTML: escape it so that it shows as typed."""
    return html.escape(str(s), quote=False) if s else ""


def _arr(v: Any) -> np.ndarray:
    return np.asarray(v, dtype=float)


def _rgba(color: str, alpha: float) -> str:
    """A CSS ``rgba()`` colour from any matplotlib colour spec."""
    from matplotlib.colors import to_rgba

    r, g, b, _ = to_rgba(color)
    return f"rgba({round(255 * r)},{round(255 * g)},{round(255 * b)},{alpha})"


def _colorscale(cmap: str) -> list[list[Any]]:
    """A plotly colour scale sampled from the matplotlib colormap ``cmap`` (e.g. ``"gray"``)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cm = colormaps[cmap]
    pos = np.linspace(0.0, 1.0, COLORSCALE_SAMPLES)
    return [[float(p), to_hex(cm(float(p)))] for p in pos]


def _axis_name(kind: str, i: int) -> str:
    """Layout key of the ``i``-th (0-based) x or y axis: ``xaxis``, ``xaxis2``, ..."""
    return f"{kind}axis" if i == 0 else f"{kind}axis{i + 1}"


class _Legend:
    """One legend for the whole figure: a label shown once, its traces toggled together."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str], str] = {}

    def entry(self, label: str | None, color: str, panel: Panel) -> dict[str, Any]:
        if label is None:
            return {"showlegend": False}
        key = (label, color)
        show = panel.legend and key not in self._groups
        group = self._groups.setdefault(key, f"g{len(self._groups)}")
        return {"name": _text(label), "legendgroup": group, "showlegend": show}


def _line_traces(tr: Line, color: str, legend: dict[str, Any]) -> list[dict[str, Any]]:
    x, y = _arr(tr.x), _arr(tr.y)
    if x.shape != y.shape:
        raise ValueError(f"Line {tr.label!r}: x has shape {x.shape} but y has shape {y.shape}.")
    out: list[dict[str, Any]] = []
    group = {"legendgroup": legend["legendgroup"]} if "legendgroup" in legend else {}
    if tr.band is not None:
        lo, hi = _arr(tr.band[0]), _arr(tr.band[1])
        # The band is two traces: the lower edge (invisible) and the upper edge filled down to it.
        edge = {
            "type": "scatter",
            "x": x,
            "mode": "lines",
            "line": {"width": 0, "color": color},
            "hoverinfo": "skip",
            "showlegend": False,
            **group,
        }
        out.append({**edge, "y": lo})
        out.append({**edge, "y": hi, "fill": "tonexty", "fillcolor": _rgba(color, BAND_ALPHA)})
    line: dict[str, Any] = {"type": "scatter", "x": x, "y": y, "mode": tr.mode, "opacity": tr.opacity, **legend}
    if tr.mode != "markers":
        line["line"] = {"color": color, "width": tr.width, "dash": "dash" if tr.dash else "solid"}
    line["marker"] = {"color": color, "size": 6}
    out.append(line)
    return out


def _hist_trace(tr: Hist, color: str, n_hist: int, legend: dict[str, Any]) -> dict[str, Any]:
    vals = _arr(tr.values).ravel()
    vals = vals[np.isfinite(vals)]
    # Bins computed here (as matplotlib does) rather than by plotly.js, whose bin count is a hint:
    # the interactive and static histograms then have the same bars.
    bins: Any = tr.bins if isinstance(tr.bins, int) else _arr(tr.bins)
    counts, edges = np.histogram(vals, bins=bins, density=tr.density) if len(vals) else (np.zeros(0), np.zeros(1))
    alpha = HIST_ALPHA_OVERLAID if n_hist > 1 else HIST_ALPHA_SINGLE
    return {
        "type": "bar",
        "x": (edges[:-1] + edges[1:]) / 2,
        "y": counts,
        "width": np.diff(edges),
        "marker": {"color": _rgba(color, alpha), "line": {"color": color, "width": 1}},
        "customdata": np.column_stack([edges[:-1], edges[1:]]) if len(counts) else None,
        "hovertemplate": "[%{customdata[0]:.4g}, %{customdata[1]:.4g}): %{y:.4g}",
        **legend,
    }


def _bar_trace(tr: Bar, i: int, n_bars: int, color: str, legend: dict[str, Any]) -> dict[str, Any]:
    vals = _arr(tr.values)
    if len(vals) != len(tr.categories):
        raise ValueError(f"Bar {tr.label!r}: {len(tr.categories)} categories but {len(vals)} values.")
    # Grouped bars at explicit positions, exactly as the static figure: independent of plotly's
    # figure-wide barmode, so bar panels and histogram panels can share a figure.
    width = 0.8 / n_bars
    pos = np.arange(len(vals)) - 0.4 + width * (i + 0.5)
    trace: dict[str, Any] = {
        "type": "bar",
        "x": pos,
        "y": vals,
        "width": width,
        "marker": {"color": color},
        "customdata": [_text(c) for c in tr.categories],
        "hovertemplate": "%{customdata}: %{y:.4g}",
        **legend,
    }
    if tr.errors is not None:
        lo, hi = _arr(tr.errors[0]), _arr(tr.errors[1])
        trace["error_y"] = {
            "type": "data",
            "symmetric": False,
            "array": hi - vals,
            "arrayminus": vals - lo,
            "thickness": 1.2,
            "width": 3,
        }
        trace["hovertemplate"] = "%{customdata}: %{y:.4g} [-%{error_y.arrayminus:.3g}, +%{error_y.array:.3g}]"
    return trace


def _heatmap_trace(tr: Heatmap, panel: Panel) -> dict[str, Any]:
    z = np.asarray(tr.z, dtype=float)
    if z.ndim != 2:
        raise ValueError(f"Heatmap: z must be a matrix (rows, cols); got shape {z.shape}.")
    zmin, zmax = tr.vmin, tr.vmax
    if tr.symmetric:
        m = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
        zmin, zmax = -(m or 1.0), (m or 1.0)
    trace: dict[str, Any] = {
        "type": "heatmap",
        "z": z,
        "colorscale": _colorscale(tr.cmap),
        "showscale": bool(tr.colorbar and not panel.image),
        "_colorbar_label": tr.colorbar_label,
        "hovertemplate": "row %{y}, col %{x}: %{z:.4g}<extra></extra>",
    }
    if zmin is not None:
        trace["zmin"] = zmin
    if zmax is not None:
        trace["zmax"] = zmax
    return trace


def _extent(traces: list[dict[str, Any]], key: str) -> tuple[float, float] | None:
    vals = [
        np.asarray(t[key], dtype=float).ravel()
        for t in traces
        if t.get("type") in ("scatter", "bar") and t.get(key) is not None
    ]
    vals = [v[np.isfinite(v)] for v in vals]
    vals = [v for v in vals if len(v)]
    if not vals:
        return None
    allv = np.concatenate(vals)
    return float(allv.min()), float(allv.max())


def _reference_traces(panel: Panel, traces: list[dict[str, Any]], legend: _Legend) -> list[dict[str, Any]]:
    """Horizontal and vertical reference lines, as traces spanning the panel's data, each in its own
    dash pattern and colour (:func:`~learnability.report.charts.reference_styles`, as the static figure).

    Traces rather than layout shapes, so that they stay in place when the axes switch to log scale.
    """
    out = []
    xs = _extent(traces, "x") or (0.0, 1.0)
    ys = _extent(traces, "y") or (0.0, 1.0)
    refs = [("h", y, label) for y, label in panel.hlines] + [("v", x, label) for x, label in panel.vlines]
    for (kind, at, label), (_, dash, colour) in zip(refs, reference_styles(len(refs)), strict=True):
        trace = {"type": "scatter", "mode": "lines", "line": {"color": colour, "dash": dash, "width": 1.2}}
        if kind == "h":
            trace.update(x=list(xs), y=[at, at], hoverinfo="name+y")
        else:
            trace.update(x=[at, at], y=list(ys), hoverinfo="name+x")
        out.append({**trace, **legend.entry(label or None, colour, panel)})
    return out


def _panel_traces(panel: Panel, legend: _Legend) -> list[dict[str, Any]]:
    next_colour = colour_cycle()

    n_hist = sum(isinstance(t, Hist) for t in panel.traces)
    n_bars = sum(isinstance(t, Bar) for t in panel.traces)
    i_bar = 0  # counted, not list.index(): dataclass equality on numpy arrays is ambiguous
    out: list[dict[str, Any]] = []
    for tr in panel.traces:
        if isinstance(tr, Line):
            c = next_colour(tr.color)
            out += _line_traces(tr, c, legend.entry(tr.label, c, panel))
        elif isinstance(tr, Hist):
            c = next_colour(tr.color)
            out.append(_hist_trace(tr, c, n_hist, legend.entry(tr.label, c, panel)))
        elif isinstance(tr, Bar):
            c = next_colour(tr.color)
            out.append(_bar_trace(tr, i_bar, n_bars, c, legend.entry(tr.label, c, panel)))
            i_bar += 1
        elif isinstance(tr, Heatmap):
            out.append(_heatmap_trace(tr, panel))
        else:
            raise TypeError(f"Unknown trace type {type(tr).__name__} in a Panel; expected Line, Hist, Bar or Heatmap.")
    return out + _reference_traces(panel, out, legend)


def _axes_layout(panel: Panel) -> tuple[dict[str, Any], dict[str, Any]]:
    """(x axis, y axis) settings of one panel."""
    # minorloglabels: the 2..9 x 10^k ticks plotly adds on short log spans read as values, not "2".
    xa: dict[str, Any] = {"title": {"text": _text(panel.xlabel)}, "type": panel.xscale, **LOG_TICKS}
    ya: dict[str, Any] = {"title": {"text": _text(panel.ylabel)}, "type": panel.yscale, **LOG_TICKS}
    heat = [t for t in panel.traces if isinstance(t, Heatmap)]
    bars = [t for t in panel.traces if isinstance(t, Bar)]
    if bars:
        cats = bars[0].categories
        xa.update(tickmode="array", tickvals=list(range(len(cats))), ticktext=[_text(c) for c in cats])
    if heat:
        # imshow's orientation: row 0 at the top.
        ya["autorange"] = "reversed"
        h = heat[0]
        if h.x_labels is not None:
            xa.update(
                tickmode="array",
                tickvals=list(range(len(h.x_labels))),
                ticktext=[_text(c) for c in h.x_labels],
                tickangle=-45,
            )
        if h.y_labels is not None:
            ya.update(tickmode="array", tickvals=list(range(len(h.y_labels))), ticktext=[_text(c) for c in h.y_labels])
        xa["showgrid"] = ya["showgrid"] = False
    if panel.image:
        for a in (xa, ya):
            a.update(showticklabels=False, ticks="", showgrid=False, zeroline=False)
    return xa, ya


def _scale_buttons(panels: Sequence[Panel], kind: str, x: float, y: float) -> dict[str, Any] | None:
    """Buttons switching every scalable axis of one kind (``"x"`` or ``"y"``) to linear or log."""
    idx = [
        i
        for i, p in enumerate(panels)
        if not p.image
        and not any(isinstance(t, Heatmap) for t in p.traces)
        and not (kind == "x" and any(isinstance(t, Bar) for t in p.traces))
    ]
    if not idx:
        return None
    scales = [getattr(panels[i], f"{kind}scale") for i in idx]

    def args(scale: str) -> list[dict[str, Any]]:
        return [{f"{_axis_name(kind, i)}.type": scale for i in idx}]

    return {
        "type": "buttons",
        "direction": "right",
        "showactive": True,
        # The button of the current scale is highlighted; none when the panels differ.
        "active": 1 if set(scales) == {"log"} else 0 if set(scales) == {"linear"} else -1,
        "x": x,
        "xanchor": "left",
        "y": y,
        "yanchor": "bottom",
        "pad": {"t": 4, "r": 4},
        "font": {"size": 11},
        "buttons": [
            {"label": f"{kind} linear", "method": "relayout", "args": args("linear")},
            {"label": f"{kind} log", "method": "relayout", "args": args("log")},
        ],
    }


def to_plotly(chart: Chart) -> Any:
    """The interactive version of ``chart``: a ``plotly.graph_objects.Figure``.

    Panels become subplots on the chart's grid; a :class:`Line` becomes a scatter trace (its band a
    filled area between two invisible edges), a :class:`Hist` bars over the same bins as the static
    figure (several overlay), a :class:`Bar` grouped bars with asymmetric error bars, a
    :class:`Heatmap` a heatmap (a picture when ``panel.image``). Buttons above the panels switch the
    x and y axes between linear and log scale.

    Args:
        chart: the figure description.

    Returns:
        The plotly figure (``fig.to_html(include_plotlyjs=False)`` embeds it in a page).

    Raises:
        ValueError: a trace whose arrays do not match (x vs y, categories vs values, a 3-D heatmap).
    """
    from plotly.subplots import make_subplots

    nrows, ncols = chart.grid
    titles = [_text(p.title) for p in chart.panels]
    has_bar = [any(isinstance(t, Heatmap) and t.colorbar for t in p.traces) and not p.image for p in chart.panels]
    colorbars = any(has_bar)
    # A colour bar right of the last column sits where the legend goes: move the legend past it.
    legend_x = LEGEND_X + (
        LEGEND_AFTER_COLORBAR if any(b for i, b in enumerate(has_bar) if i % ncols == ncols - 1) else 0.0
    )
    h_spacing = H_SPACING_COLORBAR if colorbars else H_SPACING
    fig = make_subplots(
        rows=nrows,
        cols=ncols,
        subplot_titles=titles or None,
        horizontal_spacing=h_spacing if ncols > 1 else 0.0,
        vertical_spacing=min(V_SPACING_PER_ROWS / nrows, 0.3) if nrows > 1 else 0.0,
    )
    legend = _Legend()
    for i, panel in enumerate(chart.panels):
        row, col = i // ncols + 1, i % ncols + 1
        xd = fig.layout[_axis_name("x", i)].domain
        yd = fig.layout[_axis_name("y", i)].domain
        for trace in _panel_traces(panel, legend):
            colorbar_label = trace.pop("_colorbar_label", "")  # a Heatmap's, for its colour bar below
            if trace.get("showscale"):
                # Each heatmap's colour bar beside its own panel, as in the static figure.
                trace["colorbar"] = {
                    "x": xd[1] + COLORBAR_GAP,
                    "xanchor": "left",
                    "y": sum(yd) / 2,
                    "len": yd[1] - yd[0],
                    "thickness": COLORBAR_THICKNESS,
                    "title": {"text": _text(colorbar_label), "side": "right"},
                }
            fig.add_trace(trace, row=row, col=col)
        xa, ya = _axes_layout(panel)
        fig.update_xaxes(xa, row=row, col=col)
        fig.update_yaxes(ya, row=row, col=col)
        if panel.image:
            # Equal aspect: one data unit is as long on y as on x.
            fig.update_yaxes(scaleanchor=_axis_name("x", i).replace("axis", ""), row=row, col=col)
    # From the panels up: subplot titles, then the buttons, then the chart's title.
    plot_height = ROW_HEIGHT * nrows
    titles_px = SUBPLOT_TITLES_PX if any(p.title for p in chart.panels) else 0
    y_buttons = 1.0 + titles_px / plot_height
    menus = [
        m
        for m in (
            _scale_buttons(chart.panels, "x", 0.0, y_buttons),
            _scale_buttons(chart.panels, "y", BUTTONS_GAP, y_buttons),
        )
        if m is not None
    ]
    top = max(MIN_TOP_PX, titles_px + (BUTTONS_PX if menus else 0) + (CHART_TITLE_PX if chart.title else 0))
    fig.update_layout(
        template="plotly_white",
        title=(
            {
                "text": _text(chart.title),
                "x": 0.5,
                "xanchor": "center",
                "y": 0.995,
                "yanchor": "top",
                "yref": "container",
            }
            if chart.title
            else None
        ),
        height=plot_height + top + BOTTOM_PX,
        margin={"t": top, "b": BOTTOM_PX, **SIDE_PX},
        barmode="overlay",
        hovermode="closest",
        updatemenus=menus,
        legend={"font": {"size": 11}, "x": legend_x, "xanchor": "left"},
        font={"size": 12},
    )
    return fig


def chart_div(chart: Chart, div_id: str) -> str:
    """HTML of one figure (a ``<div>`` and the ``<script>`` that draws it), without plotly.js.

    The page must load plotly.js once before this. ``div_id`` must be a plain identifier
    (letters, digits, ``-``, ``_``); figure data is serialised by plotly's JSON encoder, which
    escapes ``<``, ``>`` and ``/`` so that no string can close the ``<script>`` element.

    Raises:
        ValueError: for a ``div_id`` with other characters.
    """
    if not div_id or not all(c.isascii() and (c.isalnum() or c in "-_") for c in div_id):
        raise ValueError(f"div_id must be letters, digits, '-' or '_'; got {div_id!r}.")
    fig = to_plotly(chart)
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config=PLOTLY_CONFIG,
        default_width="100%",
        default_height=f"{fig.layout.height}px",
    )
