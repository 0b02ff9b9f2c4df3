"""An index of a folder of runs, and pages comparing the runs of each study.

``write_index(RUNS_DIR)`` writes ``RUNS_DIR/index.html``: every run folder found under
``RUNS_DIR`` (any depth; a run folder is one holding ``config.toml``), grouped by study, with its
date, seed, status (complete / incomplete / interrupted / failed), wall time and headline numbers,
and relative links to its ``report.html``. For each study with two runs or more it also writes
``RUNS_DIR/compare-STUDY.html``: the runs' headline numbers side by side, the config values that
differ between them, and their learning curves overlaid (one panel per metric series and tag).

Curves compare like with like: runs whose configurations differ only in the seed are replicas and
are pooled into one line (median over their members, 10-90% band); runs of different settings are
different lines, labelled by the config values that differ. Within a run, the members of a sweep's
tags (a learning-rate sweep, the rungs of successive halving) are different settings too: they are
drawn one by one, never pooled. The page says what each line pooled.

Headline numbers, generically: the ``headline`` that the study's report declared, recorded in the
run folder's ``headline.json`` by :func:`~learnability.report.document.write_report`; for a run
without one (an old run, or one killed before any report was written), the top-level scalar entries
of ``summary.json``. The index reads the folders only; it never reruns or rebuilds anything
(``learnability report RUN_DIR`` rebuilds one run's pages).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from learnability._words import plural
from learnability.report.charts import PALETTE, Chart, Panel
from learnability.report.curves import curve_lines
from learnability.report.document import fmt
from learnability.report.html import (
    HEADLINE_FILE,
    REPORT_HTML,
    esc,
    flag_html,
    href,
    inline_markdown,
    page,
    slug,
    status_badge,
    when,
)
from learnability.report.plotly_charts import chart_div
from learnability.runs import CONFIG_FILE, Run, read_run, write_atomic

__all__ = ["INDEX_HTML", "RunEntry", "find_run_dirs", "read_runs", "run_headline", "write_index"]

INDEX_HTML = "index.html"
COMPARE_PREFIX = "compare-"
# Summary entries shown as headline numbers when a run has no headline.json: at most this many,
# and strings only when shorter than this (a scalar summary value, not a blob of text).
_MAX_SUMMARY_HEADLINE = 8
_MAX_HEADLINE_STRING = 40
# Summary entries the index shows in their own columns, so not among the headline numbers.
_SUMMARY_NOT_HEADLINE = ("study", "wall_seconds")
# A comparison page overlays at most this many (series, tag) panels (the first, by name).
_MAX_COMPARE_PANELS = 12
# A panel's y axis starts in log scale when its positive values span more than this ratio.
_LOG_RATIO = 100.0
# Per-step training losses are noisy: smoothed over this many steps in comparisons (as in
# the report of an incomplete run).
_TRAIN_LOSS_WINDOW = 50
# Config keys that make replicas, not different settings: runs differing only in these are pooled.
_REPLICA_KEYS = ("seed",)
# Tags whose members are different settings by design (one member per learning rate, the rungs of
# successive halving): drawn member by member, at most this many per run, never pooled.
_SETTING_TAG_WORDS = ("sweep", "rung")
_MAX_SETTING_MEMBERS = 12
# A configuration's label lists at most this many of the values that differ.
_MAX_LABEL_KEYS = 3
# Columns of the index (rows of a comparison) besides the headline numbers.
_OWN_COLUMNS = ("run", "started", "seed", "status", "wall time")
# Beside the status of a smoke-size run: its numbers are not the study's results.
SMOKE_MARK = ' <span class="status status-smoke" title="smoke size (CI), not the full study">smoke</span>'
# Order of the status counts at the top of the index.
_STATUS_ORDER = ("complete", "incomplete", "interrupted", "failed", "corrupt", "unreadable")


@dataclass
class RunEntry:
    """One run folder as the index shows it.

    Attributes:
        path: the run folder.
        rel: its path relative to the runs folder (POSIX), used for links and as its label.
        run: the loaded run (``None`` when the folder could not be read).
        study: the study's name.
        status: complete / incomplete / interrupted / failed, or "unreadable".
        started: provenance start time (ISO), or ``None``.
        seed: the run's root seed.
        wall_seconds: wall time of a finished run.
        headline: headline numbers (see the module docstring), already formatted.
        error: why the folder could not be read.
        smoke: a smoke-size run (provenance ``"smoke": true``), marked "smoke" beside its status.
        flags: caveats of headline numbers (e.g. did not converge), by headline key, from
            ``headline.json``: shown beside the number, never left out.
    """

    path: Path
    rel: str
    run: Run | None
    study: str
    status: str
    started: str | None = None
    seed: Any = None
    wall_seconds: Any = None
    headline: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    smoke: bool = False
    flags: dict[str, str] = field(default_factory=dict)


def find_run_dirs(runs_dir: str | Path) -> list[Path]:
    """Every run folder (a folder holding ``config.toml``) under ``runs_dir``, sorted by path.

    Hidden folders are skipped, and so is the inside of a run folder (its artifacts are not runs).
    """
    root = Path(runs_dir)
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        if CONFIG_FILE in filenames:
            found.append(Path(dirpath))
            dirnames.clear()
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return sorted(found)


def _summary_headline(summary: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in summary.items():
        if k in _SUMMARY_NOT_HEADLINE or len(out) >= _MAX_SUMMARY_HEADLINE:
            continue
        if isinstance(v, bool | int | float) or (isinstance(v, str) and len(v) <= _MAX_HEADLINE_STRING):
            out[str(k)] = fmt(v)
    return out


def run_headline(run: Run) -> dict[str, str]:
    """A run's headline numbers: ``headline.json`` if the report wrote one, else ``summary.json``'s
    top-level scalars (numbers, booleans, short strings)."""
    try:
        entry = json.loads((run.path / HEADLINE_FILE).read_text(encoding="utf-8"))
        head = entry.get("headline") if isinstance(entry, dict) else None
        if isinstance(head, dict):
            return {str(k): v if isinstance(v, str) else fmt(v) for k, v in head.items()}
    except (OSError, ValueError):
        pass
    return _summary_headline(run.summary)


def run_flags(run: Run) -> dict[str, str]:
    """The caveats of a run's headline numbers (``headline.json``'s ``flags``; none without one)."""
    try:
        entry = json.loads((run.path / HEADLINE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    flags = entry.get("flags") if isinstance(entry, dict) else None
    return {str(k): str(v) for k, v in flags.items()} if isinstance(flags, dict) else {}


def _number(e: RunEntry, key: str) -> str:
    """A headline number as a table cell, with its caveat when it has one."""
    cell = inline_markdown(e.headline.get(key, "—"))
    return cell + (" " + flag_html(e.flags[key]) if key in e.flags else "")


def read_runs(runs_dir: str | Path) -> list[RunEntry]:
    """Every run under ``runs_dir`` as a :class:`RunEntry` (unreadable folders included)."""
    root = Path(runs_dir)
    entries = []
    for path in find_run_dirs(root):
        rel = path.relative_to(root).as_posix()
        try:
            run = read_run(path)
        except Exception as exc:  # noqa: BLE001 - a broken folder is listed, not fatal to the index
            entries.append(RunEntry(path, rel, None, "unknown", "unreadable", error=f"{type(exc).__name__}: {exc}"))
            continue
        prov = run.provenance
        entries.append(
            RunEntry(
                path,
                rel,
                run,
                run.study,
                run.status,
                started=prov.get("started"),
                seed=prov.get("seed", run.config_dict.get("seed")),
                wall_seconds=run.summary.get("wall_seconds", prov.get("wall_seconds")),
                headline=run_headline(run),
                error=run.problem,
                smoke=bool(prov.get("smoke")),
                flags=run_flags(run),
            )
        )
    return entries


# --------------------------------------------------------------------------- pages


def _run_link(e: RunEntry, prefix: str = "") -> str:
    """A link to the run's page (its report.html, else report.md, else the folder)."""
    rel = "" if e.rel == "." else e.rel + "/"
    for name in (REPORT_HTML, "report.md"):
        if (e.path / name).exists():
            return f'<a href="{href(prefix + rel + name)}"><code>{esc(e.rel)}</code></a>'
    return f'<a href="{href(prefix + (rel or "./"))}"><code>{esc(e.rel)}</code></a> (no report)'


def _wall(e: RunEntry) -> str:
    return f"{fmt(e.wall_seconds)} s" if isinstance(e.wall_seconds, int | float) else "—"


def _union_keys(dicts: list[dict[str, str]]) -> list[str]:
    keys: list[str] = []
    for d in dicts:
        keys += [k for k in d if k not in keys]
    return keys


def _headline_keys(entries: list[RunEntry]) -> list[str]:
    """Headline keys of the runs, in order, less those the index shows in its own columns (the
    report of an incomplete run has a "status" headline)."""
    return [k for k in _union_keys([e.headline for e in entries]) if k.lower() not in _OWN_COLUMNS]


def _study_table(entries: list[RunEntry]) -> str:
    keys = _headline_keys(entries)
    head = "".join(f"<th>{esc(c)}</th>" for c in _OWN_COLUMNS)
    head += "".join(f"<th>{inline_markdown(k)}</th>" for k in keys)
    rows = []
    for e in entries:
        cells = [
            _run_link(e),
            esc(when(e.started)),
            esc("—" if e.seed is None else e.seed),
            status_badge(e.status) + (SMOKE_MARK if e.smoke else ""),
            esc(_wall(e)),
        ]
        cells += [_number(e, k) for k in keys]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        if e.error:
            rows.append(f'<tr><td colspan="{5 + len(keys)}"><code>{esc(e.error)}</code></td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _settings_tag(tag: str) -> bool:
    """Whether the members of ``tag`` are different settings (a sweep's rates), not replicas."""
    words = {w for w in tag.lower().replace("-", "/").replace("_", "/").split("/") if w}
    return any(w.startswith(_SETTING_TAG_WORDS) for w in words)


@dataclass
class ConfigGroup:
    """Runs whose configurations differ only in :data:`_REPLICA_KEYS` (replicas of one setting)."""

    label: str
    runs: list[RunEntry]


def _value(v: Any) -> str:
    return v if isinstance(v, str) else fmt(v) if isinstance(v, int | float) else json.dumps(v, default=str)


def config_groups(entries: list[RunEntry]) -> list[ConfigGroup]:
    """The runs grouped by configuration, less the seed, in order of first appearance; each group
    labelled by the config values that differ between groups (``lr=0.1, steps=100``)."""
    configs = [_flatten(e.run.config_dict) if e.run is not None else {} for e in entries]
    keyed: dict[str, list[int]] = {}
    for i, c in enumerate(configs):
        key = json.dumps({k: v for k, v in c.items() if k not in _REPLICA_KEYS}, sort_keys=True, default=str)
        keyed.setdefault(key, []).append(i)
    firsts = [configs[ids[0]] for ids in keyed.values()]
    differ = [
        k
        for k in _union_keys([{k: "" for k in c} for c in firsts])
        if k not in _REPLICA_KEYS and len({json.dumps(c.get(k), sort_keys=True, default=str) for c in firsts}) > 1
    ]
    groups = []
    for ids, first in zip(keyed.values(), firsts, strict=True):
        shown = [f"{k}={_value(first[k])}" for k in differ if k in first][:_MAX_LABEL_KEYS]
        more = len([k for k in differ if k in first]) - len(shown)
        label = ", ".join(shown) + (f", … ({more} more)" if more > 0 else "")
        runs = [entries[i] for i in ids]
        if not label:  # one configuration only, or one that sets none of the keys that differ
            label = "all runs" if len(keyed) == 1 else runs[0].rel + (f" (+{len(runs) - 1})" if len(runs) > 1 else "")
        groups.append(ConfigGroup(label, runs))
    return groups


def _metric_frame(e: RunEntry) -> Any:
    """A run's metrics with steps (series and tag as strings), or None."""
    try:
        m = e.run.metrics if e.run is not None else None
    except Exception:  # noqa: BLE001 - unreadable metrics: the run draws no curve
        m = None
    if m is None or m.empty or "series" not in m or "step" not in m:
        return None
    m = m[m["step"].notna()]
    if "tag" not in m:
        m = m.assign(tag="")
    return m.assign(tag=m["tag"].fillna("").astype(str), series=m["series"].astype(str))


def _curve_chart(entries: list[RunEntry], name: str) -> tuple[Chart | None, int, list[ConfigGroup]]:
    """Curves of every (series, tag) recorded with steps: one line per configuration (replicas
    pooled), a sweep's members one by one; (chart, panels left out, the groups drawn)."""
    frames = {id(e): _metric_frame(e) for e in entries}
    groups = config_groups(entries)
    keys = sorted(
        {
            (s, t)
            for f in frames.values()
            if f is not None
            for s, t in f[["series", "tag"]].drop_duplicates().itertuples(index=False)
        }
    )
    panels = []
    for series, tag in keys[:_MAX_COMPARE_PANELS]:
        lines, values = [], []
        window = _TRAIN_LOSS_WINDOW if series == "train_loss" else 1
        for j, group in enumerate(groups):
            colour = PALETTE[j % len(PALETTE)]
            dfs = []
            for e in group.runs:
                f = frames[id(e)]
                if f is not None:
                    df = f[(f["series"] == series) & (f["tag"] == tag)]
                    if not df.empty:
                        dfs.append((e, df))
            if _settings_tag(tag):  # each member its own line: they are different settings
                for e, df in dfs:
                    keep = sorted(df["member"].dropna().unique())[:_MAX_SETTING_MEMBERS]
                    part = df[df["member"].isin(keep)] if len(keep) else df
                    lines += curve_lines(part, label=e.rel, smooth_window=window, color=colour, members=True)
            elif dfs:
                # Replicas: the members of every run of the group pooled (members renumbered per run).
                pooled = [
                    df.assign(member=df["member"].astype(float) + 1e6 * i if "member" in df else float(i))
                    for i, (_, df) in enumerate(dfs)
                ]
                lines += curve_lines(pd.concat(pooled), label=group.label, smooth_window=window, color=colour)
            values += [df["value"].to_numpy(float) for _, df in dfs]
        v = np.concatenate(values) if values else np.zeros(0)
        v = v[np.isfinite(v)]
        log = bool(len(v) and v.min() > 0 and v.max() / v.min() > _LOG_RATIO)
        title = f"{series} · {tag}" if tag else series
        panels.append(Panel(lines, title=title, xlabel="step", ylabel=series, yscale="log" if log else "linear"))
    if not panels:
        return None, 0, groups
    chart = Chart(name, panels, ncols=2 if len(panels) > 1 else 1)
    return chart, max(0, len(keys) - _MAX_COMPARE_PANELS), groups


def _pooling_text(groups: list[ConfigGroup], chart: Chart) -> str:
    """What each line of the comparison pooled, for the page."""
    items = []
    for g in groups:
        runs = ", ".join(f"<code>{esc(e.rel)}</code>" for e in g.runs)
        what = (
            f"{plural(len(g.runs), 'run')} pooled ({runs}; they differ only in the seed)"
            if len(g.runs) > 1
            else f"one run ({runs})"
        )
        items.append(f"<li><b>{esc(g.label)}</b>: {what}</li>")
    sweeps = sorted({p.title for p in chart.panels if _settings_tag(p.title.split(" · ", 1)[-1]) and " · " in p.title})
    note = (
        f"<p>Members of {', '.join(f'<code>{esc(t)}</code>' for t in sweeps)} are different settings "
        f"(one per learning rate or rung): each is drawn as its own line (at most {_MAX_SETTING_MEMBERS} per "
        "run), never pooled.</p>"
        if sweeps
        else ""
    )
    return (
        "<p>One line per configuration: runs whose configurations differ only in the seed are pooled "
        "(the median over all their members, with a 10–90% band); runs of different settings are never "
        "averaged together.</p><ul>" + "".join(items) + "</ul>" + note
    )


def compare_html(study: str, entries: list[RunEntry]) -> str:
    """A page comparing runs of one study: headline numbers, config differences, curves."""
    runs = [e for e in entries if e.run is not None]
    cols = ["", *[_run_link(e) for e in runs]]
    head = "".join(f"<th>{c}</th>" for c in cols)

    def rows(items: list[tuple[str, list[str]]]) -> str:
        return "".join(f"<tr><th>{k}</th>" + "".join(f"<td>{v}</td>" for v in vals) + "</tr>" for k, vals in items)

    info = [
        ("started", [esc(when(e.started)) for e in runs]),
        ("seed", [esc(e.seed) for e in runs]),
        ("status", [status_badge(e.status) for e in runs]),
        ("wall time", [esc(_wall(e)) for e in runs]),
    ]
    info += [(inline_markdown(k), [_number(e, k) for e in runs]) for k in _headline_keys(runs)]
    configs = [_flatten(e.run.config_dict) for e in runs if e.run is not None]
    diff_keys = [
        k
        for k in _union_keys([{k: "" for k in c} for c in configs])
        if len({json.dumps(c.get(k), sort_keys=True, default=str) for c in configs}) > 1
    ]
    diff = [
        (f"<code>{esc(k)}</code>", [esc(json.dumps(c[k], default=str)) if k in c else "—" for c in configs])
        for k in diff_keys
    ]
    chart, left_out, groups = _curve_chart(runs, f"compare-{slug(study)}")
    parts = [
        '<p><a href="index.html">← all runs</a></p>',
        f"<h1>{esc(study)}: {len(runs)} runs compared</h1>",
        '<h2 id="headline">Headline numbers</h2>',
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows(info)}</tbody></table>",
        '<h2 id="config">Configuration differences</h2>',
        (
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows(diff)}</tbody></table>"
            if diff
            else "<p>The runs have identical configurations.</p>"
        ),
        '<h2 id="curves">Curves</h2>',
    ]
    if chart is None:
        parts.append("<p>No run recorded a metric with steps.</p>")
    else:
        parts.append(_pooling_text(groups, chart))
        parts.append(
            f'<p class="caption">One colour per configuration; per-step training losses smoothed over '
            f"{_TRAIN_LOSS_WINDOW} steps.</p>"
        )
        parts.append(f'<div class="plot">{chart_div(chart, "fig-compare")}</div>')
        if left_out:
            parts.append(f"<p>{left_out} more series/tag panels not shown.</p>")
    return page(f"{study}: runs compared", "\n".join(parts), plotly=chart is not None)


def index_html(root: Path, entries: list[RunEntry], compare_pages: Mapping[str, str]) -> str:
    by_study: dict[str, list[RunEntry]] = {}
    for e in entries:
        by_study.setdefault(e.study, []).append(e)
    statuses = [e.status for e in entries]
    order = [*_STATUS_ORDER, *sorted(set(statuses) - set(_STATUS_ORDER))]
    summary = ", ".join(f"{statuses.count(s)} {s}" for s in order if s in statuses)
    parts = [
        f"<h1>Runs in <code>{esc(root.resolve().name)}</code></h1>",
        (
            f"<p>{len(entries)} runs of {len(by_study)} studies"
            f"{' (' + esc(summary) + ')' if summary else ''}. Each run links to its report; "
            "studies with several runs link to a page comparing them.</p>"
        ),
    ]
    if not entries:
        parts.append("<p>No run folder (a folder holding <code>config.toml</code>) was found.</p>")
    toc = []
    used: set[str] = set()
    for study in sorted(by_study):
        runs = sorted(by_study[study], key=lambda e: (str(e.started or ""), e.rel), reverse=True)
        sid = slug(f"study-{study}", used)
        toc.append(f'<a href="#{sid}">{esc(study)}</a>')
        parts.append(f'<h2 id="{sid}"><code>{esc(study)}</code> · {len(runs)} run{"s" if len(runs) != 1 else ""}</h2>')
        if study in compare_pages:
            parts.append(f'<p><a href="{href(compare_pages[study])}">Compare these runs →</a></p>')
        parts.append(_study_table(runs))
    if toc:
        parts.insert(2, f'<nav class="toc">{" ".join(toc)}</nav>')
    return page(f"Runs in {root.resolve().name}", "\n".join(parts), plotly=False)


def write_index(runs_dir: str | Path, *, on_skip: Callable[[str, str], None] | None = None) -> Path:
    """Write ``RUNS_DIR/index.html`` and a ``compare-STUDY.html`` per study with >= 2 runs.

    A run folder that cannot be read (a garbled ``config.toml``) or reads as corrupt is listed
    with the reason and left out of the comparison pages; the index of the others is written.

    Args:
        runs_dir: a folder holding run folders (at any depth).
        on_skip: called as ``on_skip(rel_path, reason)`` for each run left out of the
            comparisons (the CLI prints it).

    Returns:
        The path of ``index.html``.

    Raises:
        FileNotFoundError: if ``runs_dir`` is not an existing folder.
    """
    root = Path(runs_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder of runs.")
    entries = read_runs(root)
    by_study: dict[str, list[RunEntry]] = {}
    for e in entries:
        if e.run is not None and e.status != "corrupt":
            by_study.setdefault(e.study, []).append(e)
        elif on_skip is not None:
            on_skip(e.rel, e.error or e.status)
    used: set[str] = set()
    compare_pages: dict[str, str] = {}
    for study in sorted(by_study):
        runs = sorted(by_study[study], key=lambda e: (str(e.started or ""), e.rel))
        if len(runs) < 2:
            continue
        name = f"{COMPARE_PREFIX}{slug(study, used)}.html"
        write_atomic(root / name, compare_html(study, runs))
        compare_pages[study] = name
    return write_atomic(root / INDEX_HTML, index_html(root, entries, compare_pages))
