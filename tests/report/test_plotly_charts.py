"""The plotly renderer draws the same Chart specs as the matplotlib one, trace kind by trace kind."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.colors import to_hex

from learnability.report import Bar, Chart, Heatmap, Hist, Line, Panel, to_plotly
from learnability.report.charts import PALETTE
from learnability.report.plotly_charts import chart_div


def _one(*traces, **panel) -> Chart:
    return Chart("c", [Panel(list(traces), **panel)])


def test_line_with_band_is_a_filled_area_under_the_line() -> None:
    x = np.arange(5.0)
    y = x**2
    fig = to_plotly(_one(Line(x, y, label="mean", band=(y - 1, y + 2), dash=True)))
    lo, hi, line = fig.data
    np.testing.assert_array_equal(lo.y, y - 1)
    np.testing.assert_array_equal(hi.y, y + 2)
    assert hi.fill == "tonexty" and lo.fill is None and lo.line.width == 0 and hi.line.width == 0
    assert not lo.showlegend and not hi.showlegend
    np.testing.assert_array_equal(line.x, x)
    np.testing.assert_array_equal(line.y, y)
    assert line.name == "mean" and line.showlegend and line.line.dash == "dash"
    assert line.line.color == PALETTE[0] and hi.fillcolor.startswith("rgba(0,114,178,0.2")
    assert lo.legendgroup == hi.legendgroup == line.legendgroup  # the band toggles with its line


def test_lines_cycle_the_palette_and_a_label_shows_once_across_panels() -> None:
    x = [0.0, 1.0]
    chart = Chart(
        "c",
        [
            Panel([Line(x, x, label="a"), Line(x, x, label="b"), Line(x, x, mode="markers")]),
            Panel([Line(x, x, label="a")]),
        ],
    )
    a1, b, unlabelled, a2 = to_plotly(chart).data
    assert [a1.line.color, b.line.color, unlabelled.marker.color] == list(PALETTE[:3])
    assert unlabelled.mode == "markers" and unlabelled.showlegend is False
    assert a1.showlegend and not a2.showlegend and a1.legendgroup == a2.legendgroup
    assert a2.xaxis == "x2"  # the second panel's axes


def test_line_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="x has shape"):
        to_plotly(_one(Line([0, 1, 2], [0, 1])))


def test_histograms_use_the_static_bins_and_overlay() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=300)
    b = np.append(rng.normal(1.0, size=200), [np.nan, np.inf])
    edges = [-3.0, -1.0, 0.0, 0.5, 4.0]
    fig = to_plotly(_one(Hist(a, label="a", bins=10), Hist(b, label="b", bins=edges, density=False)))
    ha, hb = fig.data
    counts, e = np.histogram(a, bins=10, density=True)
    np.testing.assert_allclose(ha.y, counts)
    np.testing.assert_allclose(ha.x, (e[:-1] + e[1:]) / 2)
    np.testing.assert_allclose(ha.width, np.diff(e))
    counts_b, _ = np.histogram(b[np.isfinite(b)], bins=edges)
    np.testing.assert_array_equal(hb.y, counts_b)  # non-finite values dropped, as in matplotlib
    np.testing.assert_allclose(hb.width, np.diff(edges))
    assert fig.layout.barmode == "overlay"
    assert ha.marker.color.endswith(",0.5)") and hb.marker.color.endswith(",0.5)")
    single = to_plotly(_one(Hist(a))).data[0]
    assert single.marker.color.endswith(",0.8)")


def test_grouped_bars_with_asymmetric_error_bars() -> None:
    cats = ["S_u", "S_e", "S_o"]
    v1, v2 = np.array([3.0, 2.0, 1.0]), np.array([2.0, 1.0, 0.5])
    fig = to_plotly(
        _one(
            Bar(cats, v1, label="MSE", errors=(v1 - [0.5, 0.2, 0.1], v1 + [1.0, 0.3, 0.2])),
            Bar(cats, v2, label="relative"),
        )
    )
    b1, b2 = fig.data
    # The matplotlib layout: bars of width 0.8/n side by side around each category's index.
    np.testing.assert_allclose(b1.x, [-0.2, 0.8, 1.8])
    np.testing.assert_allclose(b2.x, [0.2, 1.2, 2.2])
    assert b1.width == b2.width == pytest.approx(0.4)
    np.testing.assert_allclose(b1.error_y.array, [1.0, 0.3, 0.2])
    np.testing.assert_allclose(b1.error_y.arrayminus, [0.5, 0.2, 0.1])
    assert b1.error_y.symmetric is False and b2.error_y.array is None
    assert list(fig.layout.xaxis.ticktext) == cats and list(fig.layout.xaxis.tickvals) == [0, 1, 2]
    with pytest.raises(ValueError, match="3 categories but 2 values"):
        to_plotly(_one(Bar(cats, [1.0, 2.0])))


def test_heatmap_colours_range_and_orientation() -> None:
    z = np.array([[1.0, -3.0], [0.5, 2.0]])
    fig = to_plotly(_one(Heatmap(z, cmap="RdBu_r", symmetric=True, x_labels=["a", "b"])))
    (h,) = fig.data
    np.testing.assert_array_equal(h.z, z)
    assert (h.zmin, h.zmax) == (-3.0, 3.0)
    cm = colormaps["RdBu_r"]
    assert h.colorscale[0][1] == to_hex(cm(0.0)) and h.colorscale[-1][1] == to_hex(cm(1.0))
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 on top, as imshow
    assert list(fig.layout.xaxis.ticktext) == ["a", "b"]
    assert h.showscale is True
    # The colour bar beside its panel (the only one here), the legend moved past it.
    assert h.colorbar.x == pytest.approx(fig.layout.xaxis.domain[1] + 0.008)
    assert h.colorbar.len == pytest.approx(1.0) and fig.layout.legend.x > h.colorbar.x + 0.05
    with pytest.raises(ValueError, match="matrix"):
        to_plotly(_one(Heatmap(np.zeros((2, 2, 3)))))


def test_image_panel_has_equal_aspect_and_no_ticks() -> None:
    fig = to_plotly(
        Chart(
            "c", [Panel([Line([0, 1], [0, 1])]), Panel([Heatmap(np.eye(3), cmap="gray", vmin=0, vmax=1)], image=True)]
        )
    )
    h = fig.data[-1]
    assert (h.zmin, h.zmax) == (0, 1) and h.showscale is False
    assert fig.layout.yaxis2.scaleanchor == "x2" and fig.layout.xaxis2.showticklabels is False


def test_axis_scales_and_log_buttons() -> None:
    chart = Chart(
        "c",
        [
            Panel([Line([1, 10], [1, 100])], xscale="log", yscale="log"),
            Panel([Line([1, 2], [1, 2])], yscale="log"),
            Panel([Heatmap(np.eye(2))]),
        ],
    )
    fig = to_plotly(chart)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert fig.layout.xaxis2.type == "linear" and fig.layout.yaxis2.type == "log"
    menus = {m.buttons[0].label.split()[0]: m for m in fig.layout.updatemenus}
    y_lin, y_log = menus["y"].buttons
    # The heatmap's axes are left alone; both line panels switch together.
    assert y_log.args[0] == {"yaxis.type": "log", "yaxis2.type": "log"}
    assert y_lin.args[0] == {"yaxis.type": "linear", "yaxis2.type": "linear"}
    assert menus["y"].active == 1  # every scalable y axis starts in log scale
    assert menus["x"].active == -1  # mixed: no button highlighted


def test_reference_lines_span_the_data() -> None:
    fig = to_plotly(_one(Line([0, 4], [1, 3]), hlines=[(2.0, "target")], vlines=[(1.0, "")]))
    h, v = fig.data[1:]
    assert list(h.y) == [2.0, 2.0] and list(h.x) == [0.0, 4.0] and h.name == "target"
    assert list(v.x) == [1.0, 1.0] and list(v.y) == [1.0, 3.0] and not v.showlegend
    assert h.line.dash == "dot"


def test_reference_lines_differ_in_dash_and_colour_as_in_the_static_figure() -> None:
    fig = to_plotly(
        _one(Line([1, 10], [0.1, 2.0]), hlines=[(1.0, "mean predictor"), (0.2, "best + 10%")], vlines=[(3.0, "chosen")])
    )
    refs = {t.name: t for t in fig.data[1:]}
    assert set(refs) == {"mean predictor", "best + 10%", "chosen"} and all(t.showlegend for t in refs.values())
    assert len({t.line.dash for t in refs.values()}) == 3 and len({t.line.color for t in refs.values()}) == 3


def test_log_axes_label_minor_ticks_with_their_values() -> None:
    fig = to_plotly(_one(Line([0.3, 3.0], [0.2, 1.5]), xscale="log", yscale="log"))
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        assert axis.type == "log" and axis.minorloglabels == "complete" and axis.exponentformat == "power"


def test_heatmap_colour_bar_has_its_title() -> None:
    fig = to_plotly(_one(Heatmap(np.eye(2), colorbar_label="log10 MSE"), xlabel="b", ylabel="a"))
    (h,) = fig.data
    assert h.colorbar.title.text == "log10 MSE"
    assert fig.layout.xaxis.title.text == "b" and fig.layout.yaxis.title.text == "a"


def test_text_is_escaped_for_plotly() -> None:
    chart = Chart(
        "c",
        [
            Panel(
                [Line([0, 1], [0, 1], label="<b>a</b>")],
                title="<i>t</i>",
                xlabel="x < y",
                ylabel="<a href='javascript:x'>y</a>",
            )
        ],
        title="<script>",
    )
    fig = to_plotly(chart)
    assert fig.data[0].name == "&lt;b&gt;a&lt;/b&gt;"
    assert fig.layout.annotations[0].text == "&lt;i&gt;t&lt;/i&gt;"
    assert fig.layout.xaxis.title.text == "x &lt; y"
    assert "<a" not in fig.layout.yaxis.title.text and fig.layout.title.text == "&lt;script&gt;"


def test_chart_div_is_script_safe_and_json_clean() -> None:
    label = "</script><script>alert(1)</script>"
    html = chart_div(_one(Line([0.0, 1.0, 2.0], [1.0, np.nan, np.inf], label=label)), "fig-0-c")
    assert "alert(1)" in html.replace("\\u003c", "<").replace("\\u002f", "/")  # the data is there
    assert "<script>alert" not in html and html.count("</script>") == 1  # only the figure's own
    # The figure data is strict JSON (no bare NaN/Infinity); plotly stores arrays as base64 numbers.
    start = html.index("Plotly.newPlot(")
    payload = html[html.index("[", start) :]

    def refuse(name: str) -> None:
        raise AssertionError(f"non-JSON constant {name}")

    data = json.JSONDecoder(parse_constant=refuse).raw_decode(payload)[0]
    y = data[0]["y"]
    y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]) if isinstance(y, dict) else y
    np.testing.assert_array_equal(np.asarray(y, dtype=float), [1.0, np.nan, np.inf])
    with pytest.raises(ValueError, match="div_id"):
        chart_div(_one(Line([0], [0])), 'x" onload="alert(1)')
