"""report.html: one self-contained page per run, everything escaped, a banner when incomplete."""

from __future__ import annotations

import json
import re

import pytest

from learnability import load_run
from learnability.report import markdown_to_html
from learnability.report.html import HEADLINE_FILE, REPORT_HTML, inline_markdown, plotly_js

# The hostile strings of the runs in conftest.py.
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


@pytest.mark.parametrize(
    ("md", "html"),
    [
        (
            "**bold** and *it* and `a<b` and _u_",
            ("<p><strong>bold</strong> and <em>it</em> and <code>a&lt;b</code> and <em>u</em></p>"),
        ),
        ("train_loss and S_o < S_e, 2 * 3 * 4", "<p>train_loss and S_o &lt; S_e, 2 * 3 * 4</p>"),
        (
            "rate $O(n^{-1/2})$ and $a*b*c$",
            ('<p>rate <span class="math">$O(n^{-1/2})$</span> and <span class="math">$a*b*c$</span></p>'),
        ),
        (
            "Found:\n- one\n- two\n  more\n\n1. first\n2) second",
            "<p>Found:</p>\n<ul>\n<li>one</li>\n<li>two\nmore</li>\n</ul>\n<ol>\n<li>first</li>\n</ol>\n"
            '<ol start="2">\n<li>second</li>\n</ol>',
        ),
        ("# Title\n\n```\n<b>x</b>\n```", "<h2>Title</h2>\n<pre><code>&lt;b&gt;x&lt;/b&gt;\n</code></pre>"),
        ("a\nb\n\nc", "<p>a\nb</p>\n<p>c</p>"),
    ],
)
def test_markdown_is_commonmark_with_math_kept_as_text(md: str, html: str) -> None:
    assert markdown_to_html(md) == html


def test_markdown_never_passes_html_or_script_links() -> None:
    out = markdown_to_html(
        f"{SCRIPT} {IMG} [x](javascript:alert(1)) [y](data:text/html,hi) ![i](data:image/png;base64,AA) "
        "[ok](figures/a.svg) [web](https://example.org/?a=1&b=2)"
    )
    assert "<script" not in out and "<img" not in out and 'href="javascript' not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out and "&quot;&gt;&lt;img" in out
    assert '<a href="figures/a.svg">ok</a>' in out
    assert '<a href="https://example.org/?a=1&amp;b=2">web</a>' in out
    assert "data:text" not in re.findall(r'href="([^"]*)"', out)
    assert "<img" not in out and "data:image" not in re.findall(r'href="([^"]*)"', out)  # images never load
    assert inline_markdown("a\ue0000\ue001b") == "a0b"  # placeholders cannot be forged


def test_complete_run_page(runs) -> None:
    run = load_run(runs.complete[0])
    page = (run.path / REPORT_HTML).read_text()
    js = plotly_js()
    # plotly.js inlined exactly once; the page is the library plus a few tens of kB.
    assert page.count(js[:60]) == 1 and page.count("plotly.js v") == 1
    assert len(js) < len(page) < len(js) + 200_000
    rest = page.replace(js, "")
    assert not re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=", rest)  # nothing loaded
    assert page.count('class="plotly-graph-div"') == 1  # the toy report has one figure
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # Headline, commentary, table, config and provenance, from the run folder.
    mse = f"{run.summary['test_mse']:.3g}"
    assert f'<div class="v">{mse}</div>' in page
    assert f"reaches a test MSE of {mse}" in page
    assert "<th>member</th><th>test MSE</th>" in page
    assert "seed = 1" in page and "[train]" in page and "steps = 100" in page  # config.toml
    assert "&quot;torch&quot;: &quot;" in page and run.provenance["git"]["commit"] in page
    assert 'href="figures/curves.png"' in page and 'href="figures/curves.svg"' in page
    assert 'class="banner' not in page  # complete: no banner
    head = json.loads((run.path / HEADLINE_FILE).read_text())
    assert head == {
        "title": "Toy regression",
        "study": "toy-regression",
        "status": "complete",
        "headline": {"test MSE": mse},
        "flags": {},  # no headline number carries a caveat
    }


@pytest.mark.parametrize(
    ("which", "words"),
    [
        ("failed", "FAILED"),
        ("interrupted", "interrupted (Ctrl-C)"),
    ],
)
def test_unfinished_run_pages_say_so(runs, which: str, words: str) -> None:
    path = getattr(runs, which)
    page = (path / REPORT_HTML).read_text()
    banner = re.search(r'<div class="banner banner-(\w+)" role="alert">(.*?)</div>', page, re.DOTALL)
    assert banner is not None and banner.group(1) == which and words in banner.group(2)
    assert "This run is" in page and "recorded_curves" in page  # incomplete_report's content
    if which == "failed":
        assert "RuntimeError: selection exploded" in banner.group(2)
        assert '<h2 id="error">Error</h2>' in page and "Traceback" in page
    assert json.loads((path / HEADLINE_FILE).read_text())["status"] == which


def test_killed_run_gets_a_page_when_rebuilt(runs, tmp_path) -> None:
    import shutil

    from learnability.runner import rebuild_report

    path = shutil.copytree(runs.killed, tmp_path / "killed")
    assert not (path / REPORT_HTML).exists()
    rebuild_report(path)
    page = (path / REPORT_HTML).read_text()
    assert 'class="banner banner-incomplete"' in page and "INCOMPLETE" in page
    assert page.count('class="plotly-graph-div"') == 1


def test_everything_is_escaped(runs) -> None:
    for path in runs.evil:
        page = (path / REPORT_HTML).read_text()
        body = page[page.index("</head>") :]
        # No injected element: the only tags are the page's own.
        assert "<script>alert" not in page and "<img" not in page
        assert "onerror=alert(1)>" not in body.replace("onerror=alert(1)&gt;", "")
        assert set(re.findall(r"<(\w+)", body)) <= {
            "body",
            "main",
            "h1",
            "h2",
            "ul",
            "li",
            "b",
            "code",
            "span",
            "section",
            "div",
            "nav",
            "a",
            "p",
            "table",
            "thead",
            "tr",
            "th",
            "tbody",
            "td",
            "figure",
            "figcaption",
            "script",
            "pre",
            "footer",
            "strong",
            "em",
        }
        # Each hostile string is shown, as text, where it was written.
        shown = SCRIPT.replace("<", "&lt;").replace(">", "&gt;")
        assert f"<title>Report {shown}</title>" in page
        assert f"name = &quot;{shown}&quot;" in page  # config.toml
        assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page  # config, headline, table
        assert "[link](javascript:alert(1))" in page  # not a link
        # Links to the hostile figure file name are percent-encoded.
        assert 'href="figures/%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.png"' in page
        # Inside the figure's script, no string can close the element.
        scripts = re.findall(r"<script>(.*?)</script>", body, re.DOTALL)
        assert len(scripts) == 1 and "</" not in scripts[0] and "<" not in scripts[0]
