"""The HTML pages in a real browser: headless Chromium (Debian's), driven by Playwright.

Each page is opened from disk with the network cut off; every plotly figure must have drawn its
SVG, the console must stay free of errors, no request may leave ``file://``, and hostile names
must not run script or add elements. A screenshot of each page is saved in the test's tmp folder.
Without a Chromium binary (CI installs Debian's ``chromium``) the tests are skipped.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from learnability import load_run
from learnability.config import StudyConfig
from learnability.report import (
    Bar,
    Chart,
    Figure,
    Heatmap,
    Hist,
    Line,
    Panel,
    Report,
    Text,
    write_index,
    write_report,
)
from learnability.report.html import REPORT_HTML
from learnability.runs import RunWriter

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Schemes a page may load from: itself on disk, and in-memory images plotly makes.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
# Milliseconds allowed for all figures of a page to draw (plotly.js parses ~5 MB first).
DRAW_TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1280, "height": 900}


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip(
            "Chromium is not installed: the browser tests need Debian's `chromium` on PATH "
            "(apt-get install chromium; .ci/run installs it)"
        )
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Any]:
    """A headless Chromium with a fresh profile, every request outside the disk refused."""
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")
    with sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
            offline=True,
        )
        ctx.route(
            "**/*", lambda route: route.continue_() if route.request.url.startswith(LOCAL_SCHEMES) else route.abort()
        )
        yield ctx
        ctx.close()


@dataclass
class Visit:
    """What happened while a page was open."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    figures: int = 0

    @property
    def remote(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(LOCAL_SCHEMES)]


def _visit(browser: Any, path: Path, shot: Path) -> Visit:
    """Open ``path``, wait for every plotly figure to draw its SVG, screenshot it to ``shot``."""
    page = browser.new_page()
    v = Visit(page)
    page.on("console", lambda m: v.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: v.errors.append(f"uncaught: {e}"))
    page.on("request", lambda r: v.requests.append(r.url))
    page.on("dialog", lambda d: (v.dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri(), wait_until="load")
    v.figures = page.locator("div.plotly-graph-div").count()
    page.wait_for_function(
        "() => [...document.querySelectorAll('div.plotly-graph-div')]"
        ".every(d => d.querySelector('svg.main-svg') !== null)",
        timeout=DRAW_TIMEOUT_MS,
    )
    page.screenshot(path=str(shot), full_page=True)
    return v


def _assert_clean(v: Visit) -> None:
    assert v.errors == [], v.errors
    assert v.remote == [], v.remote
    assert v.dialogs == [], v.dialogs
    drawn = v.page.eval_on_selector_all(
        "div.plotly-graph-div",
        "ds => ds.map(d => d.querySelectorAll('svg.main-svg').length > 0 "
        "&& d.querySelectorAll('.plot .trace, .plot .heatmaplayer image, .plot .bars').length > 0)",
    )
    assert drawn == [True] * v.figures


def _every_kind_run(root: Path) -> Path:
    """A run whose report has one figure with every trace kind, plus LaTeX-looking labels."""
    w = RunWriter(root / "kinds", study="every-kind", config=StudyConfig(), config_toml="seed = 0\n")
    w.finish({"x": 1.0})
    rng = np.random.default_rng(0)
    x = np.arange(1.0, 60.0)
    y = 1.0 / x
    chart = Chart(
        "kinds",
        [
            Panel(
                [Line(x, y, label="$1/t$", band=(0.8 * y, 1.2 * y)), Line(x, 2 * y, label="2/t", dash=True)],
                title="lines",
                xlabel="step $t$",
                ylabel="loss",
                yscale="log",
                hlines=[(0.05, "target")],
            ),
            Panel(
                [Hist(rng.normal(size=400), label="a"), Hist(rng.normal(1.0, size=400), label="b")], title="histograms"
            ),
            Panel(
                [
                    Bar(["S_u", "S_e", "S_o"], [3.0, 2.0, 1.0], label="MSE", errors=([2.5, 1.6, 0.8], [3.4, 2.3, 1.1])),
                    Bar(["S_u", "S_e", "S_o"], [2.0, 1.0, 0.5], label="relative"),
                ],
                title="bars",
            ),
            Panel([Heatmap(rng.normal(size=(6, 5)), cmap="RdBu_r", symmetric=True)], title="heatmap"),
            Panel([Heatmap(rng.random((12, 12)), cmap="gray")], title="image", image=True),
        ],
        title="Every trace kind",
        caption="One panel per kind.",
    )
    run = load_run(w.path)
    write_report(Report("Every kind", [Text("All of them."), Figure(chart)], {"x": "1"}), run)
    return w.path


def test_report_pages_draw_offline_without_errors(runs, browser, tmp_path) -> None:
    # Each page parses ~5 MB of plotly.js (seconds on a busy CI core): a complete run, a failed one
    # (the interrupted and killed pages are built the same way), and every trace kind.
    pages = {
        "complete": runs.complete[0] / REPORT_HTML,
        "failed": runs.failed / REPORT_HTML,
        "kinds": _every_kind_run(tmp_path) / REPORT_HTML,
    }
    for name, path in pages.items():
        v = _visit(browser, path, tmp_path / f"{name}.png")
        assert v.figures >= 1, name
        _assert_clean(v)
        if name != "complete":
            assert v.page.locator(".banner").count() == (0 if name == "kinds" else 1)
        if name == "kinds":
            # The y "log" button switches every line panel; heatmap axes are left alone.
            fig = v.page.locator("div.plotly-graph-div").first
            gd = "d => [d.layout.yaxis.type, d.layout.yaxis2.type, d.layout.yaxis4.type]"
            assert fig.evaluate(gd) == ["log", "linear", "linear"]
            v.page.get_by_text("y linear", exact=True).first.click()
            v.page.wait_for_function(
                "() => document.querySelector('div.plotly-graph-div').layout.yaxis.type === 'linear'",
                timeout=DRAW_TIMEOUT_MS,
            )
            v.page.get_by_text("y log", exact=True).first.click()
            v.page.wait_for_function(
                "() => document.querySelector('div.plotly-graph-div').layout.yaxis2.type === 'log'",
                timeout=DRAW_TIMEOUT_MS,
            )
            assert fig.evaluate(gd) == ["log", "log", "linear"]
            assert v.errors == []
        v.page.close()
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(f"{n}.png" for n in pages)


def test_index_and_hostile_pages_inject_nothing(runs, browser, tmp_path) -> None:
    index = write_index(runs.root)
    pages = {
        "index": index,
        "compare": runs.root / "compare-toy-regression.html",
        "hostile-report": runs.evil[0] / REPORT_HTML,
    }
    for name, path in pages.items():
        v = _visit(browser, path, tmp_path / f"{name}.png")
        _assert_clean(v)
        page = v.page
        assert page.locator("img").count() == 0  # no injected <img onerror=...>
        # Scripts: plotly.js (when figures) and one per figure, nothing else.
        scripts = page.locator("script").count()
        assert scripts == (1 + v.figures if v.figures else 0), name
        text = page.locator("body").inner_text()
        if name == "hostile-report":
            assert "<script>alert(1)</script>" in text and '"><img src=x onerror=alert(1)>' in text
            assert page.locator("a[href^='javascript']").count() == 0
        if name == "index":
            assert page.locator("a").count() >= 8 and "7 runs of 2 studies" in text
        page.close()
