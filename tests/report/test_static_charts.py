"""The matplotlib renderer draws every trace kind and writes PNG and SVG files; log axes carry
readable tick labels, reference lines differ in style, colour bars are labelled."""

from __future__ import annotations

import numpy as np

from learnability.report.charts import Bar, Chart, Heatmap, Hist, Line, Panel, figure_matplotlib, render_matplotlib


def test_every_trace_kind_renders(tmp_path) -> None:
    x = np.linspace(1, 10, 20)
    chart = Chart(
        "all",
        [
            Panel(
                [Line(x, x**2, label="y", band=(x**2 * 0.9, x**2 * 1.1)), Line(x, x, mode="markers")],
                xscale="log",
                yscale="log",
                hlines=[(10.0, "ten")],
                vlines=[(3.0, "")],
            ),
            Panel([Hist(np.arange(100.0), label="a"), Hist(np.arange(50.0) + 20, label="b")]),
            # Two groups of bars with numpy values (equality of such traces is ambiguous: no lookups by ==).
            Panel(
                [
                    Bar(["u", "v"], np.array([1.0, 2.0]), label="p"),
                    Bar(
                        ["u", "v"], np.array([1.5, 2.5]), label="q", errors=(np.array([1.0, 2.0]), np.array([2.0, 3.0]))
                    ),
                ]
            ),
            Panel([Heatmap(np.eye(3), symmetric=True, x_labels=["a", "b", "c"], y_labels=["a", "b", "c"])]),
            Panel([Heatmap(np.random.default_rng(0).random((8, 8)), cmap="gray")], image=True),
        ],
        title="kinds",
        ncols=3,
    )
    paths = render_matplotlib(chart, tmp_path)
    assert [p.name for p in paths] == ["all.png", "all.svg"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.grid == (2, 3)


def test_bar_categories_keep_their_labels(tmp_path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from learnability.report.charts import _draw_panel

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    _draw_panel(ax, Panel([Bar(["alpha", "beta"], [1.0, 2.0])], yscale="log"), fig)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["alpha", "beta"]


def _tick_labels(axis) -> list[str]:
    """The tick labels a reader sees on ``axis`` (major and minor, inside the view, non-empty)."""
    lo, hi = sorted(axis.get_view_interval())
    ticks = [(t, lab) for t, lab in zip(axis.get_majorticklocs(), axis.get_majorticklabels(), strict=True)]
    ticks += [(t, lab) for t, lab in zip(axis.get_minorticklocs(), axis.get_minorticklabels(), strict=True)]
    return [lab.get_text() for t, lab in ticks if lo <= t <= hi and lab.get_text()]


def test_short_log_axes_carry_enough_labels_to_read_values() -> None:
    """A log axis over less than two decades shows more than one labelled tick (never just 10^0);
    a long one labels its decades."""
    short = [(0.3, 3.0), (0.2, 1.5), (12.0, 80.0), (0.5, 20.0)]
    panels = [Panel([Line([a, b], [a, b])], xscale="log", yscale="log") for a, b in short]
    panels.append(Panel([Line([1e4, 1e10], [1e-3, 1e3])], xscale="log", yscale="log"))
    fig = figure_matplotlib(Chart("ticks", panels, ncols=5))
    fig.canvas.draw()
    for ax, (a, b) in zip(fig.axes, short, strict=False):
        for axis in (ax.xaxis, ax.yaxis):
            labels = _tick_labels(axis)
            assert len(labels) >= 3, f"[{a}, {b}]: {labels}"
    wide = fig.axes[len(short)]
    assert len(_tick_labels(wide.xaxis)) >= 4 and len(_tick_labels(wide.yaxis)) >= 4


def test_reference_lines_have_distinct_styles_and_legend_entries() -> None:
    panel = Panel(
        [Line([1, 10], [0.1, 2.0], label="loss")],
        hlines=[(1.0, "mean predictor"), (0.2, "best + 10%")],
        vlines=[(3.0, "chosen")],
    )
    fig = figure_matplotlib(Chart("refs", [panel]))
    ax = fig.axes[0]
    refs = {line.get_label(): line for line in ax.get_lines() if line.get_label() != "loss"}
    assert set(refs) == {"mean predictor", "best + 10%", "chosen"}
    styles = {(str(line.get_linestyle()), line.get_color()) for line in refs.values()}
    dashes = {str(line.get_linestyle()) for line in refs.values()}
    assert len(styles) == 3 and len(dashes) == 3  # distinct dash patterns, not only colours
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"mean predictor", "best + 10%", "chosen"} <= set(legend)


def test_a_heatmap_colour_bar_carries_its_label() -> None:
    panel = Panel([Heatmap(np.eye(3), colorbar_label="log10 MSE")], xlabel="b", ylabel="a")
    fig = figure_matplotlib(Chart("heat", [panel]))
    heat_ax, bar_ax = fig.axes
    assert bar_ax.get_ylabel() == "log10 MSE"
    assert (heat_ax.get_xlabel(), heat_ax.get_ylabel()) == ("b", "a")
