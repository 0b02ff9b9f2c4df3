"""index.html over a folder of runs, and the comparison pages of studies with several runs."""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import urllib.parse
from pathlib import Path

import pytest

from learnability import load_run
from learnability.report import run_headline, write_index
from learnability.report.html import HEADLINE_FILE, plotly_js
from learnability.report.index import find_run_dirs, read_runs

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def index(runs) -> Path:
    return write_index(runs.root)


def _rows(page: str) -> list[str]:
    return re.findall(r"<tr>(.*?)</tr>", page, re.DOTALL)


def _links(page: str) -> list[str]:
    return [urllib.parse.unquote(html_lib.unescape(h)) for h in re.findall(r'href="([^"#]+)"', page)]


def test_every_run_is_listed_with_its_status(runs, index) -> None:
    page = index.read_text()
    rows = _rows(page)
    expected = {p: "complete" for p in runs.complete}
    expected.update({runs.failed: "failed", runs.interrupted: "interrupted", runs.killed: "incomplete"})
    expected.update({p: "complete" for p in runs.evil})
    assert len(find_run_dirs(runs.root)) == len(expected)
    for path, status in expected.items():
        shown = html_lib.escape(path.relative_to(runs.root).as_posix())
        (row,) = [r for r in rows if f"<code>{shown}</code>" in r]
        assert f'<span class="status status-{status}">{status}</span>' in row
    assert "7 runs of 2 studies" in page
    assert "(4 complete, 1 incomplete, 1 interrupted, 1 failed)" in page


def test_links_are_relative_and_resolve(runs, index) -> None:
    links = _links(index.read_text())
    for link in links:
        assert not urllib.parse.urlsplit(link).scheme and not link.startswith("/")
        assert (runs.root / link).exists(), link
    for path in runs.complete + runs.evil + [runs.failed, runs.interrupted]:
        assert path.relative_to(runs.root).as_posix() + "/report.html" in links
    assert "toy-killed/" in links  # no report yet: a link to the folder


def test_headline_numbers_and_fallback(runs, index, tmp_path) -> None:
    page = index.read_text()
    for path in runs.complete:
        mse = json.loads((path / HEADLINE_FILE).read_text())["headline"]["test MSE"]
        (row,) = [r for r in _rows(page) if path.name in r]
        assert f"<td>{mse}</td>" in row and "<th>test MSE</th>" in page
        assert f"<td>{load_run(path).config.seed}</td>" in row
    # Without headline.json: the summary's top-level scalars (not lists, not the study's name).
    copy = shutil.copytree(runs.complete[0], tmp_path / "old-run")
    (copy / HEADLINE_FILE).unlink()
    run = load_run(copy)
    head = run_headline(run)
    assert head == {"lr": f"{run.summary['lr']:.3g}", "test_mse": f"{run.summary['test_mse']:.3g}"}


def test_comparison_page_of_a_study_with_several_runs(runs, index) -> None:
    page = index.read_text()
    assert 'href="compare-toy-regression.html">Compare these runs' in page
    compare = (runs.root / "compare-toy-regression.html").read_text()
    assert compare.count(plotly_js()[:60]) == 1
    # Every run of the study, oldest first, with its headline numbers and status.
    toy = [*runs.complete, runs.failed, runs.interrupted, runs.killed]
    (head,) = re.findall(r"<thead><tr><th></th>(.*?)</tr></thead>", compare)[:1]
    assert [urllib.parse.unquote(h).split("/")[0] for h in re.findall(r'href="([^"]+)"', head)] == [p.name for p in toy]
    for path in runs.complete:
        mse = json.loads((path / HEADLINE_FILE).read_text())["headline"]["test MSE"]
        assert f"<td>{mse}</td>" in compare
    (status_row,) = [r for r in _rows(compare) if r.startswith("<th>status</th>")]
    assert [s for s in re.findall(r"status-(\w+)", status_row)] == [
        "complete",
        "complete",
        "failed",
        "interrupted",
        "incomplete",
    ]
    # The config keys that differ, one column per run: seed 1 and 2, then the hand-written runs'.
    (seed_row,) = [r for r in _rows(compare) if "<code>seed</code>" in r]
    assert re.findall(r"<td>(.*?)</td>", seed_row) == ["1", "2", "0", "0", "0"]
    # Curves: one panel per (series, tag), one legend entry (colour) per run.
    assert compare.count('class="plotly-graph-div"') == 1
    data = compare[compare.index("Plotly.newPlot(") :]
    for title in ("train_loss · final", "train_loss · sweep", "test_loss · final", "test_loss · sweep"):
        # plotly writes JSON with orjson when installed (raw UTF-8) or json (ASCII escapes).
        assert any(f'"text":{json.dumps(title, ensure_ascii=a)}' in data for a in (True, False)), title
    names = set(re.findall(r'"name":"([^"]+)"', data))
    # One pooled line per configuration: the two smoke runs (seeds 1, 2) and the three hand-written
    # runs (one configuration) are replicas; the sweep's members (one per rate) each a line of their run.
    pooled = {n for n in names if " #" not in n}
    assert len(pooled) == 2 and "toy-failed (+2)" in pooled
    assert {n.split(" #")[0] for n in names - pooled} == {p.name for p in runs.complete}
    assert "2 runs pooled" in compare and "3 runs pooled" in compare
    assert "never pooled" in compare  # the sweep tags are named as drawn member by member


def test_hostile_names_are_escaped_in_index_and_comparison(runs, index) -> None:
    page = index.read_text()
    assert "<script>alert" not in page and "<img" not in page
    assert "hostile/&quot;&gt;&lt;img src=x onerror=alert(1)&gt;-0" in page
    assert 'href="hostile/%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E-0/report.html"' in page
    (compare,) = [p for p in runs.root.glob("compare-evil*.html")]
    text = compare.read_text()
    body = text[text.index("</head>") :]
    assert "<script>alert" not in body and "<img" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # the study name and summary key, as text
    assert "<code>name</code>" not in body  # same value in both configs: not a difference


def test_single_run_study_has_no_comparison_and_bad_folders_are_listed(tmp_path, runs) -> None:
    shutil.copytree(runs.complete[0], tmp_path / "a")
    broken = tmp_path / "nested" / "broken"
    broken.mkdir(parents=True)
    (broken / "config.toml").write_text("this is = = not toml")
    (tmp_path / ".hidden" / "x").mkdir(parents=True)
    (tmp_path / ".hidden" / "x" / "config.toml").write_text("seed = 0\n")
    path = write_index(tmp_path)
    page = path.read_text()
    assert not list(tmp_path.glob("compare-*.html"))
    assert [e.status for e in read_runs(tmp_path)] == ["complete", "unreadable"]
    assert (
        "CorruptRunError" in page
        and "config.toml: not valid TOML" in page
        and "nested/broken" in page
        and ".hidden" not in page
    )
    with pytest.raises(FileNotFoundError, match="not a folder of runs"):
        write_index(tmp_path / "missing")


def test_empty_folder(tmp_path) -> None:
    page = write_index(tmp_path).read_text()
    assert "0 runs of 0 studies" in page and "No run folder" in page
    assert "plotly.js v" not in page  # no figure, no library


def test_comparison_never_pools_different_settings(tmp_path) -> None:
    """Two settings (lr 0.1 and lr 1.0; a replica of the first with another seed): the replicas
    are pooled into one line, the other setting is its own line, and the page says so."""
    import numpy as np

    from learnability.config import StudyConfig
    from learnability.report.index import _curve_chart
    from learnability.runs import RunWriter

    steps = np.arange(10)
    for folder, seed, lr, scale in (("a", 0, 0.1, 1.0), ("b", 1, 0.1, 3.0), ("c", 0, 1.0, 1000.0)):
        w = RunWriter(
            tmp_path / folder, study="toy", config=StudyConfig(seed=seed), config_toml=f"seed = {seed}\nlr = {lr}\n"
        )
        w.log_block("test_loss", steps, np.full((10, 2), scale) * np.array([1.0, 2.0]), tag="final")
        w.log_block("train_loss", steps, np.full((10, 3), scale) * np.array([1.0, 10.0, 100.0]), tag="sweep")
        w.finish({"x": scale})
    write_index(tmp_path)
    page = (tmp_path / "compare-toy.html").read_text()
    assert "<b>lr=0.1</b>: 2 runs pooled" in page and "<b>lr=1</b>: one run" in page
    chart, _, groups = _curve_chart([e for e in read_runs(tmp_path) if e.run is not None], "c")
    assert [g.label for g in groups] == ["lr=0.1", "lr=1"]
    final = next(p for p in chart.panels if p.title == "test_loss · final")
    lines = {line.label: np.asarray(line.y, float) for line in final.traces}
    # lr 0.1: the median of the members {1, 2} (run a) and {3, 6} (run b) is 2.5 at every step;
    # lr 1.0 stays apart (median 1500), never averaged with the others.
    assert set(lines) == {"lr=0.1", "lr=1"}
    np.testing.assert_allclose(lines["lr=0.1"], 2.5)
    np.testing.assert_allclose(lines["lr=1"], 1500.0)
    assert all(line.band is not None and np.max(line.band[1]) <= 6.0 for line in final.traces if line.label == "lr=0.1")
    sweep = next(p for p in chart.panels if p.title == "train_loss · sweep")
    assert all(line.band is None for line in sweep.traces)  # a sweep's members: one line each
    assert len(sweep.traces) == 9


def test_a_flagged_headline_number_shows_its_caveat_in_the_report_and_the_index(tmp_path) -> None:
    """A number of a run that did not converge carries its flag on the card, in headline.json,
    in the Markdown table and beside it in the index; the other numbers are not flagged."""
    import numpy as np

    from learnability.config import StudyConfig
    from learnability.report import Report, write_report
    from learnability.runs import RunWriter

    w = RunWriter(tmp_path / "r", study="toy", config=StudyConfig(seed=0), config_toml="seed = 0\n")
    w.log_block("train_loss", np.arange(3), np.ones((3, 1)), tag="final")
    w.finish({"x": 1.0})
    run = load_run(w.path)
    rep = Report("toy", headline={"test MSE": "0.5", "train MSE": "0.4"})
    rep.flag("test MSE", "did not converge: 2 of 3 runs hit the cap")
    with pytest.raises(KeyError, match="no headline number"):
        rep.flag("absent", "x")
    write_report(rep, run)
    html = (w.path / "report.html").read_text()
    assert html.count('class="card flagged"') == 1 and "⚠ did not converge: 2 of 3 runs hit the cap" in html
    assert json.loads((w.path / HEADLINE_FILE).read_text())["flags"] == {
        "test MSE": "did not converge: 2 of 3 runs hit the cap"
    }
    assert "| 0.5 ⚠ did not converge: 2 of 3 runs hit the cap |" in (w.path / "report.md").read_text()
    index = write_index(tmp_path).read_text()
    (row,) = [r for r in _rows(index) if "0.5" in r]
    assert "⚠ did not converge" in row and row.count('class="flag"') == 1
