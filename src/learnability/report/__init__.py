"""Reports built from the run folder alone: charts, Markdown (and HTML), learning curves."""

from learnability.report.charts import Bar, Chart, Heatmap, Hist, Line, Panel, render_matplotlib
from learnability.report.curves import curve_lines, incomplete_report, smooth
from learnability.report.document import (
    Figure,
    Heading,
    Report,
    Table,
    Text,
    fmt,
    fmt_ci,
    fmt_est,
    render_markdown,
)
from learnability.report.html import markdown_to_html, render_html, write_html
from learnability.report.index import run_headline, write_index
from learnability.report.plotly_charts import to_plotly
from learnability.report.traces import CLASS_COLOURS, class_scatter
from learnability.report.write import write_report

__all__ = [
    "CLASS_COLOURS",
    "Bar",
    "Chart",
    "Figure",
    "Heading",
    "Heatmap",
    "Hist",
    "Line",
    "Panel",
    "Report",
    "Table",
    "Text",
    "class_scatter",
    "curve_lines",
    "fmt",
    "fmt_ci",
    "fmt_est",
    "incomplete_report",
    "markdown_to_html",
    "render_html",
    "render_markdown",
    "render_matplotlib",
    "run_headline",
    "smooth",
    "to_plotly",
    "write_html",
    "write_index",
    "write_report",
]
