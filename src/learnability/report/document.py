"""A report as a list of blocks, rendered to Markdown (and to HTML by :mod:`learnability.report.html`).

Studies build a :class:`Report` from the run folder alone — summary, metrics, artifacts — so that
``learnability report RUN_DIR`` can rebuild it at any time. Sentences quote measured numbers; use
:func:`fmt` so numbers read the same everywhere.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from learnability.analysis.stats import Estimate, format_interval
from learnability.report.charts import Chart
from learnability.runs import Run

__all__ = [
    "Figure",
    "Heading",
    "Report",
    "Table",
    "Text",
    "fmt",
    "fmt_ci",
    "fmt_est",
    "render_markdown",
]

REPORT_MD = "report.md"


def fmt(x: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits; scientific notation when very small or large."""
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}" if abs(x) >= 10_000 else str(x)
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e5:
        return f"{x:.{digits}g}" if abs(x) < 10**digits else f"{x:,.0f}"
    return f"{x:.{digits - 1}e}"


def fmt_est(est: Estimate | None, digits: int = 3) -> str:
    """The one way an estimate prints: ``"0.0812 [0.0791, 0.0833]"``, or the value alone when the
    interval is undefined (one observation), ``"—"`` for None.

    Bounds are rounded at the same decimal place as the value (see
    :func:`learnability.analysis.format_interval`), so narrow intervals still print distinct bounds.
    """
    if est is None:
        return "—"
    if not est.has_interval:
        return fmt(est.mean, digits)
    return format_interval(est.mean, est.low, est.high, digits=digits)


def fmt_ci(mean: Any, ci: Sequence[Any] | None, digits: int = 3) -> str:
    """``mean [low, high]`` for a mean and an interval held apart (the interval omitted when
    unknown); formatted exactly as :func:`fmt_est`."""
    if ci is None or len(ci) != 2 or any(c is None for c in ci):
        return fmt(mean, digits)
    if mean is None:
        return "—"
    return fmt_est(Estimate(float(mean), float(ci[0]), float(ci[1]), 0), digits)


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Text:
    """A paragraph (Markdown)."""

    markdown: str


@dataclass
class Table:
    """A table; cells are strings (already formatted) or numbers (formatted with :func:`fmt`)."""

    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""


@dataclass
class Figure:
    chart: Chart


Block = Heading | Text | Table | Figure


@dataclass
class Report:
    """A study's report.

    Args:
        title: page title.
        blocks: content in reading order.
        headline: the few numbers that summarise the run (shown first, and in run indexes).
        flags: caveats of headline numbers, by headline key (``"did not converge: 3 of 15 runs hit
            the step cap"``): shown on the number's card, beside it in the Markdown table and in
            run indexes, so that a number of a run that did not converge never shows unflagged.
    """

    title: str
    blocks: list[Block] = field(default_factory=list)
    headline: dict[str, str] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)

    def flag(self, key: str, caveat: str) -> Report:
        """Attach ``caveat`` to the headline number ``key`` (which must exist)."""
        if key not in self.headline:
            raise KeyError(f"no headline number {key!r} to flag; headline keys: {list(self.headline)}")
        self.flags[key] = caveat
        return self

    def add(self, *blocks: Block) -> Report:
        self.blocks.extend(blocks)
        return self

    @property
    def charts(self) -> list[Chart]:
        return [b.chart for b in self.blocks if isinstance(b, Figure)]


def _cell(v: Any) -> str:
    s = v if isinstance(v, str) else fmt(v)
    return s.replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> str:
    lines = ["| " + " | ".join(_cell(c) for c in t.columns) + " |", "| " + " | ".join("---" for _ in t.columns) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    if t.caption:
        lines += ["", f"*{t.caption}*"]
    return "\n".join(lines)


# The header line of a smoke-size run's report.
SMOKE_WORDS = "Smoke size (--smoke): a CI-sized run that checks the pipeline; its numbers are not the study's results"

_STATUS_WORDS = {
    "complete": "complete",
    "incomplete": "INCOMPLETE — the process stopped before the end (killed, or still running)",
    "interrupted": "INCOMPLETE — interrupted (Ctrl-C)",
    "failed": "FAILED — the run raised an error (see provenance.json)",
}


def render_markdown(report: Report, run: Run) -> str:
    """The report as Markdown, with a header (status, provenance) and the config at the end."""
    prov = run.provenance
    out = [f"# {report.title}", ""]
    out.append(f"- **Study:** `{run.study}` · **status:** {_STATUS_WORDS.get(run.status, run.status)}")
    if prov.get("smoke"):
        out.append(f"- **{SMOKE_WORDS}**")
    out.append(
        f"- **Run folder:** `{run.path.name}` · **seed:** {prov.get('seed')} · "
        f"**device:** {prov.get('device')} ({prov.get('device_name')}), "
        f"{prov.get('threads')} threads"
    )
    wall = run.summary.get("wall_seconds", prov.get("wall_seconds"))
    out.append(
        f"- **Started:** {prov.get('started')} · **wall time:** {fmt(wall) + ' s' if wall is not None else 'unknown'}"
    )
    git = prov.get("git") or {}
    out.append(
        f"- **learnability** {prov.get('version')} (git {str(git.get('commit'))[:10]}"
        f"{', dirty' if git.get('dirty') else ''}) · torch {prov.get('torch')} · "
        f"python {prov.get('python')}"
    )
    cmd = " ".join(prov.get("command") or [])
    if cmd:
        out.append(f"- **Command:** `{cmd}`")
    out.append("")
    if report.headline:
        out.append("| headline | value |\n| --- | --- |")
        out += [
            f"| {_cell(k)} | {_cell(v)}" + (f" ⚠ {_cell(report.flags[k])}" if k in report.flags else "") + " |"
            for k, v in report.headline.items()
        ]
        out.append("")
    for b in report.blocks:
        if isinstance(b, Heading):
            out += ["#" * max(2, b.level) + " " + b.text, ""]
        elif isinstance(b, Text):
            out += [b.markdown, ""]
        elif isinstance(b, Table):
            out += [_md_table(b), ""]
        elif isinstance(b, Figure):
            c = b.chart
            out.append(f"![{c.title or c.name}](figures/{c.name}.png)")
            if c.caption:
                out.append(f"\n*{c.caption}*")
            out.append("")
    out += ["## Configuration", "", "```toml", (run.path / "config.toml").read_text().strip(), "```", ""]
    out += [
        "## Provenance",
        "",
        "```json",
        json.dumps({k: v for k, v in prov.items() if k != "error"}, indent=2),
        "```",
        "",
    ]
    if prov.get("error"):
        out += ["## Error", "", "```", str(prov["error"]).strip(), "```", ""]
    return "\n".join(out)
