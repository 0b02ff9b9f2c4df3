"""Writing a report into its run folder: figures, ``report.md``, ``report.html``."""

from __future__ import annotations

from pathlib import Path

from learnability.report.charts import render_matplotlib
from learnability.report.document import REPORT_MD, Report, Text, render_markdown
from learnability.report.html import write_html
from learnability.runs import METRICS_FILE, Run, write_atomic

__all__ = ["write_report"]


def write_report(report: Report, run: Run) -> Path:
    """Render every chart to ``figures/`` (PNG + SVG) and write ``report.md``, ``report.html``
    (interactive, self-contained) and ``headline.json`` (for run indexes); returns ``report.md``.

    Every file is written atomically (a full disk never leaves a truncated report). When lines of
    ``metrics.jsonl`` were lost (damaged, unreadable), the report opens by saying how many.
    """
    lost = run.lost_metric_lines
    if lost:
        lines = "line" if lost == 1 else "lines"
        report.blocks.insert(
            0,
            Text(
                f"**Warning: {lost} {lines} of `{METRICS_FILE}` could not be read** (damaged in the "
                "middle of the file) and are left out of the curves and tables below."
            ),
        )
    for chart in report.charts:
        render_matplotlib(chart, run.figures_dir)
    path = write_atomic(run.path / REPORT_MD, render_markdown(report, run))
    write_html(report, run)
    return path
