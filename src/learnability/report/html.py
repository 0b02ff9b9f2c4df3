"""The HTML report of a run: one self-contained page, interactive figures, readable offline.

:func:`write_report` calls :func:`write_html`, so every run folder gets ``report.html`` next to
``report.md``, built from the same :class:`~learnability.report.document.Report` and the run folder
alone. The page holds the headline numbers, every block of the report (figures drawn by plotly from
the study's :class:`~learnability.report.charts.Chart` specs, tables, commentary), the resolved
config, the provenance and, for a run that did not complete, a banner saying so.

Self-contained: plotly.js comes from the installed ``plotly`` package and is inlined once; figures
are embedded with ``include_plotlyjs=False``; a Content-Security-Policy forbids every network
request, so the page works (and is known to work) offline.

Safe: everything shown comes from files a run wrote (config strings, study and tag names, file
names), so all of it is escaped: text with :func:`html.escape`, figure data through plotly's JSON
encoder (which escapes ``<``, ``>`` and ``/``), links percent-encoded. The commentary's Markdown is
rendered by :func:`markdown_to_html`, a small subset that never passes raw HTML through.

Next to the page, ``headline.json`` records the report's title, status and headline numbers, which
:func:`learnability.report.index.write_index` shows in the index of a runs folder.
"""

from __future__ import annotations

import datetime as _dt
import functools
import html
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from learnability.report.document import (
    _STATUS_WORDS,
    SMOKE_WORDS,
    Figure,
    Heading,
    Report,
    Table,
    Text,
    fmt,
)
from learnability.report.plotly_charts import chart_div
from learnability.runs import Run, write_atomic

__all__ = ["HEADLINE_FILE", "REPORT_HTML", "inline_markdown", "markdown_to_html", "render_html", "write_html"]

REPORT_HTML = "report.html"
HEADLINE_FILE = "headline.json"

# Lines of a failed run's traceback quoted in the banner (the full text is in the Error section).
_BANNER_ERROR_LINES = 1

# No network at all: scripts and styles only inline, images only as data: URIs (plotly draws
# heatmaps through them). Links to the static figures are navigations, which this does not govern.
_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:"

_CSS = """
:root { --fg:#1d1d1f; --muted:#5f6368; --line:#e3e3e6; --bg:#fff; --code:#f5f5f7; --accent:#0072B2; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
       color:var(--fg); background:var(--bg); }
main { max-width:1180px; margin:0 auto; padding:24px 28px 60px; }
h1 { font-size:1.7em; margin:0.2em 0 0.4em; }
h2 { font-size:1.3em; margin:1.8em 0 0.5em; padding-bottom:0.2em; border-bottom:1px solid var(--line); }
h3 { font-size:1.1em; margin:1.4em 0 0.4em; } h4,h5,h6 { font-size:1em; margin:1.2em 0 0.3em; }
a { color:var(--accent); }
code, pre { font-family: ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:0.88em; }
code { background:var(--code); padding:0.1em 0.3em; border-radius:3px; }
pre { background:var(--code); padding:12px 14px; border-radius:6px; overflow:auto; max-height:34em; }
pre code { background:none; padding:0; }
.meta { color:var(--muted); font-size:0.92em; margin:0 0 1em; padding:0; list-style:none; }
.meta li { display:inline-block; margin:0 1.4em 0.2em 0; } .meta b { color:var(--fg); font-weight:600; }
.banner { border-radius:6px; padding:12px 16px; margin:12px 0 18px; font-weight:600; }
.banner-incomplete, .banner-interrupted { background:#fff4e0; border:1px solid #e69f00; }
.banner-failed, .banner-unreadable, .banner-corrupt { background:#fde8e4; border:1px solid #d55e00; }
.banner .detail { font-weight:400; display:block; margin-top:4px; }
.headline { display:flex; flex-wrap:wrap; gap:12px; margin:14px 0 8px; }
.card { border:1px solid var(--line); border-radius:8px; padding:10px 14px; min-width:150px; }
.card .k { color:var(--muted); font-size:0.85em; } .card .v { font-size:1.25em; font-weight:600; }
.card.flagged { border-color:#D55E00; } .flag { color:#A04000; font-size:0.8em; }
nav.toc { font-size:0.92em; color:var(--muted); margin:6px 0 0; } nav.toc a { margin-right:1em; }
table { border-collapse:collapse; margin:10px 0 4px; font-size:0.92em; }
th, td { border-bottom:1px solid var(--line); padding:5px 12px 5px 0; text-align:left; vertical-align:top; }
th { font-weight:600; border-bottom:2px solid #c9c9cf; }
td.num { font-variant-numeric: tabular-nums; }
.caption, figcaption { color:var(--muted); font-size:0.9em; margin:4px 0 14px; }
figure { margin:18px 0 24px; } .plot { border:1px solid var(--line); border-radius:6px; }
.status { font-weight:600; border-radius:4px; padding:1px 6px; font-size:0.88em; }
.status-complete { background:#e3f4ec; color:#006b4f; }
.status-incomplete, .status-interrupted { background:#fff4e0; color:#8a5a00; }
.status-failed, .status-unreadable, .status-corrupt { background:#fde8e4; color:#a33a00; }
details summary { cursor:pointer; color:var(--muted); margin:6px 0; }
footer { color:var(--muted); font-size:0.85em; margin-top:40px; border-top:1px solid var(--line);
         padding-top:10px; }
@media print { .plot { break-inside: avoid; } pre { max-height:none; } }
"""


# --------------------------------------------------------------------------- escaping helpers


def esc(value: Any) -> str:
    """``value`` as text safe inside HTML elements and quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def href(path: str) -> str:
    """A relative link (POSIX path) percent-encoded and escaped for an ``href="..."`` attribute."""
    return esc(urllib.parse.quote(path, safe="/#"))


def slug(text: str, used: set[str] | None = None) -> str:
    """An identifier made of letters, digits and ``-`` from ``text`` (unique within ``used``)."""
    base = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60] or "x"
    name, n = base, 1
    while used is not None and name in used:
        n += 1
        name = f"{base}-{n}"
    if used is not None:
        used.add(name)
    return name


# --------------------------------------------------------------------------- Markdown

# Inline math ($$...$$ and $...$) is kept out of Markdown's reach (no emphasis inside formulas)
# and shown as text in a span.
_MATH = re.compile(r"\$\$.+?\$\$|(?<![\\\w$])\$(?=\S)[^$\n]+?(?<=\S)\$(?!\w)")
# Placeholders for protected spans: private-use characters, removed from the input first.
_PH_OPEN, _PH_CLOSE = "\ue000", "\ue001"
_PH = re.compile(f"{_PH_OPEN}(\\d+){_PH_CLOSE}")


def _safe_url(url: str) -> bool:
    """Links allowed in commentary: http(s) and relative paths — never ``javascript:`` or ``data:``."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    return scheme in ("http", "https") or (scheme == "" and ":" not in url.split("/")[0])


def _markdown() -> MarkdownIt:
    """CommonMark (markdown-it-py) with raw HTML off, no images (a report loads nothing), only
    http(s) and relative links, and headings one level down (the page title is the only <h1>)."""
    md = MarkdownIt("commonmark", {"html": False}).disable("image")
    md.validateLink = _safe_url

    def heading_open(renderer: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
        level = min(6, int(tokens[idx].tag[1]) + 1)
        return f"<h{level}>"

    def heading_close(renderer: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
        level = min(6, int(tokens[idx].tag[1]) + 1)
        return f"</h{level}>\n"

    md.add_render_rule("heading_open", heading_open)
    md.add_render_rule("heading_close", heading_close)
    return md


_MD = _markdown()


def _protect_math(text: str) -> tuple[str, list[str]]:
    text = str(text).replace(_PH_OPEN, "").replace(_PH_CLOSE, "").replace("\x00", "")
    spans: list[str] = []

    def keep(m: re.Match[str]) -> str:
        spans.append(f'<span class="math">{esc(m.group(0))}</span>')
        return f"{_PH_OPEN}{len(spans) - 1}{_PH_CLOSE}"

    return _MATH.sub(keep, text), spans


def _restore(html_: str, spans: list[str]) -> str:
    return _PH.sub(lambda m: spans[int(m.group(1))], html_)


def inline_markdown(text: str) -> str:
    """One line of Markdown as HTML (emphasis, code, links; raw HTML escaped, never passed
    through). Inline math (``$...$``) is left as text, untouched by emphasis."""
    protected, spans = _protect_math(text)
    return _restore(_MD.renderInline(protected), spans)


def markdown_to_html(text: str) -> str:
    """Markdown (CommonMark, through markdown-it-py) as safe HTML.

    Raw HTML is never passed through (``<b>`` shows as the text ``<b>``), images are not
    rendered, links other than http(s) and relative paths are left as text, headings move one
    level down, inline math is kept as text.
    """
    protected, spans = _protect_math(text)
    return _restore(_MD.render(protected), spans).strip()


# --------------------------------------------------------------------------- page pieces


@functools.cache
def plotly_js() -> str:
    """plotly.js from the installed ``plotly`` package, ready to inline in a ``<script>``."""
    from plotly.offline import get_plotlyjs

    # Defensive: a literal "</script" inside the library would end the element early.
    return re.sub(r"</(script)", r"<\\/\1", get_plotlyjs(), flags=re.IGNORECASE)


def page(title: str, body: str, *, plotly: bool) -> str:
    """A complete HTML document: ``body`` (already safe HTML) with the styles and, if asked, plotly.js."""
    script = f'<script charset="utf-8">{plotly_js()}</script>\n' if plotly else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n{script}</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def cell(value: Any) -> str:
    """A table cell: strings as (inline) Markdown, numbers formatted with :func:`fmt`."""
    if isinstance(value, str):
        return f"<td>{inline_markdown(value)}</td>"
    return f'<td class="num">{esc(fmt(value))}</td>'


def table_html(columns: Iterable[Any], rows: Iterable[Iterable[Any]], caption: str = "") -> str:
    head = "".join(f"<th>{inline_markdown(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    cap = f'<div class="caption">{inline_markdown(caption)}</div>' if caption else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{cap}"


def status_badge(status: str) -> str:
    return f'<span class="status status-{slug(status)}">{esc(status)}</span>'


def when(iso: Any) -> str:
    """An ISO timestamp from provenance as ``YYYY-MM-DD HH:MM UTC`` (as given when unparseable)."""
    if not iso:
        return "—"
    try:
        t = _dt.datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    if t.tzinfo is not None:
        t = t.astimezone(_dt.UTC)
        return t.strftime("%Y-%m-%d %H:%M UTC")
    return t.strftime("%Y-%m-%d %H:%M")


def _banner(run: Run) -> str:
    if run.status == "complete":
        return ""
    words = _STATUS_WORDS.get(run.status, run.status)
    detail = ""
    err = str(run.provenance.get("error") or "").strip()
    if err:
        last = [ln for ln in err.splitlines() if ln.strip()][-_BANNER_ERROR_LINES:]
        detail = (
            f'<span class="detail"><code>{esc(" ".join(last))}</code> — full traceback under '
            '<a href="#error">Error</a>.</span>'
        )
    else:
        detail = (
            '<span class="detail">The figures and tables below show what the run recorded before it stopped.</span>'
        )
    return f'<div class="banner banner-{slug(run.status)}" role="alert">Run {esc(words)}{detail}</div>'


def _meta(run: Run) -> str:
    prov = run.provenance
    git = prov.get("git") or {}
    wall = run.summary.get("wall_seconds", prov.get("wall_seconds"))
    items = [
        ("Study", f"<code>{esc(run.study)}</code>"),
        ("Status", status_badge(run.status) + (f" · {esc(SMOKE_WORDS)}" if prov.get("smoke") else "")),
        ("Run folder", f"<code>{esc(run.path.name)}</code>"),
        ("Seed", esc(prov.get("seed"))),
        ("Started", esc(when(prov.get("started")))),
        ("Wall time", esc(f"{fmt(wall)} s" if wall is not None else "unknown")),
        ("Device", esc(f"{prov.get('device')} ({prov.get('device_name')}), {prov.get('threads')} threads")),
        (
            "learnability",
            esc(f"{prov.get('version')} (git {str(git.get('commit'))[:10]}{', dirty' if git.get('dirty') else ''})"),
        ),
        ("torch", esc(prov.get("torch"))),
        ("python", esc(prov.get("python"))),
    ]
    lis = "".join(f"<li><b>{k}:</b> {v}</li>" for k, v in items)
    cmd = " ".join(str(c) for c in prov.get("command") or [])
    if cmd:
        lis += f"<li><b>Command:</b> <code>{esc(cmd)}</code></li>"
    return f'<ul class="meta">{lis}</ul>'


def flag_html(caveat: str) -> str:
    """A warning badge carrying ``caveat`` (a headline number of a run that did not converge)."""
    return f'<span class="flag" title="{esc(caveat)}">⚠ {inline_markdown(caveat)}</span>'


def headline_html(headline: dict[str, Any], flags: Mapping[str, str] | None = None) -> str:
    """The headline numbers as cards; a flagged number carries its caveat on its card."""
    if not headline:
        return ""
    flags = flags or {}
    cards = "".join(
        f'<div class="card{" flagged" if k in flags else ""}"><div class="k">{inline_markdown(str(k))}</div>'
        f'<div class="v">{inline_markdown(v if isinstance(v, str) else fmt(v))}</div>'
        + (f"<div>{flag_html(flags[k])}</div>" if k in flags else "")
        + "</div>"
        for k, v in headline.items()
    )
    return f'<section class="headline" aria-label="headline numbers">{cards}</section>'


def _figure(chart: Any, div_id: str) -> str:
    static = (
        f'static: <a href="{href(f"figures/{chart.name}.png")}">PNG</a> · '
        f'<a href="{href(f"figures/{chart.name}.svg")}">SVG</a>'
    )
    cap = inline_markdown(chart.caption) + " — " if chart.caption else ""
    return (
        f'<figure id="{div_id}-figure"><div class="plot">{chart_div(chart, div_id)}</div>'
        f"<figcaption>{cap}{static}</figcaption></figure>"
    )


def _files(run: Run) -> str:
    """Links to the files a reader may want next to the page (metrics, artifacts, figures)."""
    names: list[str] = []
    for name in ("report.md", "metrics.jsonl", "metrics.parquet", "summary.json"):
        if (run.path / name).exists():
            names.append(name)
    for sub in ("artifacts", "figures"):
        d = run.path / sub
        if d.is_dir():
            names += [f"{sub}/{p.name}" for p in sorted(d.iterdir()) if p.is_file()]
    if not names:
        return ""
    links = " · ".join(f'<a href="{href(n)}"><code>{esc(n)}</code></a>' for n in names)
    return f'<h2 id="files">Files</h2><p>{links}</p>'


def render_html(report: Report, run: Run) -> str:
    """The report as one self-contained HTML page (see the module docstring).

    Args:
        report: the study's report (or :func:`~learnability.report.curves.incomplete_report`).
        run: the run folder it describes (config, provenance and status are read from it).

    Returns:
        The page; plotly.js is inlined once when the report has figures.
    """
    ids: set[str] = {"configuration", "provenance", "error", "files"}
    parts: list[str] = []
    toc: list[str] = []
    n_fig = 0
    for b in report.blocks:
        if isinstance(b, Heading):
            level = min(6, max(2, b.level))
            hid = slug(b.text, ids)
            parts.append(f'<h{level} id="{hid}">{inline_markdown(b.text)}</h{level}>')
            if level == 2:
                toc.append(f'<a href="#{hid}">{inline_markdown(b.text)}</a>')
        elif isinstance(b, Text):
            parts.append(markdown_to_html(b.markdown))
        elif isinstance(b, Table):
            parts.append(table_html(b.columns, b.rows, b.caption))
        elif isinstance(b, Figure):
            parts.append(_figure(b.chart, f"fig-{n_fig}-{slug(b.chart.name)}"))
            n_fig += 1
    toc += ['<a href="#configuration">Configuration</a>', '<a href="#provenance">Provenance</a>']
    prov = run.provenance
    config_path = run.path / "config.toml"
    config_text = config_path.read_text() if config_path.exists() else ""
    tail = [
        _files(run),
        '<h2 id="configuration">Configuration</h2>',
        f"<pre><code>{esc(config_text.strip())}</code></pre>",
        '<h2 id="provenance">Provenance</h2>',
        "<pre><code>" + esc(json.dumps({k: v for k, v in prov.items() if k != "error"}, indent=2)) + "</code></pre>",
    ]
    if prov.get("error"):
        tail += ['<h2 id="error">Error</h2>', f"<pre><code>{esc(str(prov['error']).strip())}</code></pre>"]
    body = "\n".join(
        [
            f"<h1>{inline_markdown(report.title)}</h1>",
            _meta(run),
            _banner(run),
            headline_html(report.headline, report.flags),
            f'<nav class="toc">{" ".join(toc)}</nav>',
            *parts,
            *tail,
            (
                f"<footer>Generated from the run folder by learnability {esc(prov.get('version', ''))}; "
                "rebuild with <code>learnability report RUN_DIR</code>. Figures are interactive (hover, "
                "zoom, double-click to reset, linear/log buttons); static PNG/SVG are in "
                "<code>figures/</code>.</footer>"
            ),
        ]
    )
    return page(report.title, body, plotly=n_fig > 0)


def write_html(report: Report, run: Run) -> Path:
    """Write ``report.html`` and ``headline.json`` (title, status, headline) into the run folder.

    Returns:
        The path of ``report.html``.
    """
    path = write_atomic(run.path / REPORT_HTML, render_html(report, run))
    entry = {
        "title": report.title,
        "study": run.study,
        "status": run.status,
        "headline": {str(k): v if isinstance(v, str) else fmt(v) for k, v in report.headline.items()},
        "flags": {str(k): str(v) for k, v in report.flags.items()},
    }
    write_atomic(run.path / HEADLINE_FILE, json.dumps(entry, indent=2))
    return path
