"""Writing a report into its run folder: figures, ``report.md``, ``report.html``."""

from __future__ import annotations

from pathlib import Path

from learnability.report.charts import render_matplotlib
from learnability.report.document import REPORT_MD, Report, render_markdown
from learnability.report.html import write_html
from learnability.runs import Run

__all__ = ["write_report"]


def write_report(report: Report, run: Run) -> Path:
    """Render every chart to ``figures/`` (PNG + SVG) and write ``report.md``, ``report.html``
    (interactive, self-contained) and ``headline.json`` (for run indexes); returns ``report.md``."""
    for chart in report.charts:
        render_matplotlib(chart, run.figures_dir)
    path = run.path / REPORT_MD
    path.write_text(render_markdown(report, run))
    write_html(report, run)
    return path
