"""Reports built from the run folder alone: charts, Markdown (and HTML), learning curves."""

from learnability.report.charts import Bar, Chart, Heatmap, Hist, Line, Panel, render_matplotlib
from learnability.report.curves import curve_lines, incomplete_report, smooth
from learnability.report.document import (
    Figure, Heading, Report, Table, Text, fmt, fmt_ci, render_markdown, write_report,
)

__all__ = [
    "Bar", "Chart", "Figure", "Heading", "Heatmap", "Hist", "Line", "Panel", "Report", "Table",
    "Text", "curve_lines", "fmt", "fmt_ci", "incomplete_report", "render_markdown",
    "render_matplotlib", "smooth", "write_report",
]
