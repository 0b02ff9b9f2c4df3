"""The matplotlib renderer draws every trace kind and writes PNG and SVG files."""

from __future__ import annotations

import numpy as np

from learnability.report.charts import Bar, Chart, Heatmap, Hist, Line, Panel, render_matplotlib


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
