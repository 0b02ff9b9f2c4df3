"""The parameter-count sweep of the teacher-student study, read back and summarised (issue 9, item 5).

``learnability sweep src/learnability/sweep/examples/parameter-count.toml`` trains, one run per
width, students of one hidden layer (widths 2 .. 1024) and of the teacher's depth (widths
2 .. 256) against the fixed teacher, each with its own learning-rate sweep and 3 seeds: Challenge 2
part A asked continuously instead of at three points. This module reads such a sweep folder into
one table (:func:`parameter_count_table`) and turns the table into the section of the
teacher-student report (:func:`parameter_count_blocks`): a table, a chart of relative test MSE
against the number of learnable parameters with the teacher's count marked, and sentences computed
from the numbers.

``learnability run teacher-student --set parameter_count=SWEEP_DIR`` copies the table into its run
folder (``artifacts/parameter_count.parquet``), so its report rebuilds from the run folder alone.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from learnability._validation import ParameterError
from learnability.analysis import Estimate
from learnability.engine import MLPSpec
from learnability.report import Chart, Figure, Line, Panel, Table, Text, fmt, fmt_ci, fmt_est
from learnability.studies.teacher_student.config import STUDY_NAME
from learnability.studies.teacher_student.results import TeacherStudentResults
from learnability.sweep_folder import PLAN_FILE, read_sweep_folder
from learnability.targets import teacher_spec

__all__ = [
    "ARTIFACT",
    "COLUMNS",
    "CONFIG_KEY",
    "FAMILY_ONE_LAYER",
    "FAMILY_TEACHER_DEPTH",
    "config_differences",
    "family_of",
    "parameter_count_blocks",
    "parameter_count_chart",
    "parameter_count_table",
    "parameter_count_text",
]

# The setting of the study that names the sweep folder.
CONFIG_KEY = "parameter_count"
# The run folder's copy of the table: artifacts/ARTIFACT.parquet.
ARTIFACT = TeacherStudentResults.PARAMETER_COUNT_TABLE
# Families of students, by depth: one hidden layer, the teacher's number of hidden layers, other.
FAMILY_ONE_LAYER = "one hidden layer"
FAMILY_TEACHER_DEPTH = "teacher's depth"
# Settings that may differ between this run and the sweep's runs without making this run's
# students incomparable with the sweep's: which students, the sweep itself, the seed (students'
# streams derive from it, the task does not), and how the computation is done.
COMPARABLE_KEYS = ("students", CONFIG_KEY, "seed", "compile", "device")
# On the log y axis a 95% interval whose lower end is <= 0 (3 seeds, a wide spread) is drawn
# down to this fraction of the mean instead.
LOG_BAND_FLOOR = 0.1
# Chart colours (Okabe–Ito): this run's own students, and runs whose rate sits at a grid edge.
RUN_COLOUR = "#000000"
EDGE_COLOUR = "#D55E00"

# The interval drawn and quoted is the runs' own (summary: test_rel_mse_ci).
CONFIDENCE = 0.95

# Columns known without running (the plan), then the results of a complete run (NaN otherwise).
PLAN_COLUMNS = (
    "run_id",
    "status",
    "seed",
    "student",
    "family",
    "hidden",
    "depth",
    "width",
    "n_params",
    "teacher_n_params",
    "params_ratio",
)
RESULT_COLUMNS = (
    "test_rel_mse",
    "test_rel_mse_low",
    "test_rel_mse_high",
    "test_mse",
    "train_rel_mse",
    "seeds",
    "lr",
    "lr_at_edge",
    "lr_extensions",
    "steps",
    "stationary",
    "seconds",
    "ols_test_rel_mse",
    "mean_test_rel_mse",
)
COLUMNS = PLAN_COLUMNS + RESULT_COLUMNS
"""Columns of :func:`parameter_count_table`, in order."""


def family_of(depth: int, teacher_depth: int) -> str:
    """The family of a student with ``depth`` hidden layers: one layer, the teacher's, or other."""
    if depth == 1:
        return FAMILY_ONE_LAYER
    if depth == teacher_depth:
        return FAMILY_TEACHER_DEPTH
    return f"{depth} hidden layers"


def _num(v: Any) -> float:
    """A summary number back as a float (run folders store non-finite floats as "nan", "inf")."""
    return math.nan if v is None else float(v)


def _refuse(allowed: str, got: Any) -> ParameterError:
    return ParameterError(CONFIG_KEY, STUDY_NAME, allowed, str(got))


def _check_folder(folder: Path) -> None:
    if not (folder / PLAN_FILE).is_file():
        raise _refuse(
            "the folder of a finished teacher-student sweep, holding plan.json (e.g. "
            "sweeps/parameter-count after `learnability sweep "
            "src/learnability/sweep/examples/parameter-count.toml --out sweeps`); "
            f"{'no such folder' if not folder.is_dir() else 'this folder has no plan.json'}",
            folder,
        )


def parameter_count_table(sweep: str | Path) -> pd.DataFrame:
    """One row per run and student of a teacher-student sweep: size, learning rate, test error.

    Built for the parameter-count sweep (one student per run), it reads any teacher-student
    sweep whose runs share one teacher. Numbers come from each complete run's ``summary.json``
    (``students.<name>.n_params``, ``test_rel_mse``, ``test_rel_mse_ci``, ``lr``,
    ``sweep.at_edge``, ...); runs that did not complete keep a row with their status, their
    architecture and NaN results.

    Args:
        sweep: the sweep folder (``OUT/NAME`` of ``learnability sweep``).

    Returns:
        The columns of :data:`COLUMNS`, sorted by family and parameter count: ``family`` (see
        :func:`family_of`), ``hidden`` (JSON text, e.g. ``"[64, 64, 64]"``), ``depth``,
        ``width`` (the widest hidden layer), ``n_params`` (the student's learnable parameters:
        ``(d_in + 1) w + (w + 1)`` for one hidden layer of ``w``), ``teacher_n_params``,
        ``params_ratio``; the relative test MSE (``MSE / Var(y_test)``) with its 95% interval
        over seeds (``test_rel_mse_low``, ``test_rel_mse_high``), the raw ``test_mse``,
        ``train_rel_mse``, ``seeds`` (seeds that did not diverge), the chosen ``lr``,
        ``lr_at_edge`` (still at an edge of the grid after its extensions), ``lr_extensions``,
        ``steps`` of the seed runs, ``stationary`` (seeds that became quasi-stationary),
        ``seconds`` of training, and the run's baselines on its test set
        (``ols_test_rel_mse``, ``mean_test_rel_mse``). ``attrs`` holds ``sweep_dir``, ``name``,
        ``planned``, ``complete``, ``teacher`` (the runs' teacher settings) and ``config`` (the
        resolved config of the first complete run).

    Raises:
        ParameterError: (naming ``parameter_count``) when ``sweep`` is not a sweep folder, is a
            sweep of another study, has no complete run, or its runs have different teachers.
    """
    folder = Path(sweep)
    _check_folder(folder)
    sweep_folder = read_sweep_folder(folder)
    plan, runs = sweep_folder.plan, sweep_folder.runs
    if sweep_folder.study != STUDY_NAME:
        raise _refuse(
            f"a sweep of the {STUDY_NAME} study (this folder holds a sweep of {sweep_folder.study!r})", folder
        )
    teachers = {json.dumps(r.config["teacher"], sort_keys=True) for r in runs}
    if len(teachers) > 1:
        raise _refuse(
            f"a sweep whose runs share one teacher (this one has {len(teachers)} different teacher settings)", folder
        )
    done = [r for r in runs if r.status == "complete"]
    if not done:
        raise _refuse(
            f"a sweep with at least one complete run (0 of {len(runs)} complete: run "
            "the same `learnability sweep` command again to finish it)",
            folder,
        )
    teacher_cfg = runs[0].config["teacher"]
    t_params = teacher_spec(teacher_cfg["d_in"], teacher_cfg["hidden"]).n_params
    t_depth = len(teacher_cfg["hidden"])
    rows = []
    for r in runs:
        for name, hidden in r.config["students"].items():
            n_params = MLPSpec(teacher_cfg["d_in"], tuple(hidden)).n_params
            row: dict[str, Any] = {
                "run_id": r.run_id,
                "status": r.status,
                "seed": int(r.seed),
                "student": name,
                "family": family_of(len(hidden), t_depth),
                "hidden": json.dumps(list(hidden)),
                "depth": len(hidden),
                "width": max(hidden),
                "n_params": n_params,
                "teacher_n_params": t_params,
                "params_ratio": n_params / t_params,
            }
            row.update(_results_of(r.summary, name))
            rows.append(row)
    table = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
    family_order = {FAMILY_ONE_LAYER: 0, FAMILY_TEACHER_DEPTH: 1}
    table = (
        table.assign(_f=table["family"].map(family_order).fillna(len(family_order)))
        .sort_values(["_f", "depth", "n_params"], kind="stable")
        .drop(columns="_f")
        .reset_index(drop=True)
    )
    table["lr_at_edge"] = table["lr_at_edge"].astype("boolean")
    table.attrs = {
        "sweep_dir": str(folder.resolve()),
        "name": plan.get("name", folder.name),
        "planned": len(runs),
        "complete": len(done),
        "teacher": teacher_cfg,
        "config": done[0].config,
    }
    return table


def _results_of(summary: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The result columns of one student of a complete run (NaN/None for a missing run).

    Read from ``summary.json``'s documented keys, not through :class:`TeacherStudentResults`:
    the sweep's runs may have been written by an earlier version of the study, whose summaries
    have these keys but not the typed model's newer fields.
    """
    if not summary:
        return {k: math.nan for k in RESULT_COLUMNS} | {"lr_at_edge": None}
    st = summary["students"][name]
    ci = st["test_rel_mse_ci"]
    b = summary["baselines"]
    return {
        "test_rel_mse": _num(st["test_rel_mse"]),
        "test_rel_mse_low": _num(ci[0]),
        "test_rel_mse_high": _num(ci[1]),
        "test_mse": _num(st["test_mse"]),
        "train_rel_mse": _num(st["train_rel_mse"]),
        "seeds": st["seeds"],
        "lr": _num(st["lr"]),
        "lr_at_edge": bool(st["sweep"]["at_edge"]),
        "lr_extensions": st["sweep"]["extensions"],
        "steps": st["steps"],
        # null (-1 in runs written before 2026-12-04): not stationary within the cap
        "stationary": sum(c is not None and c >= 0 for c in st["converged_step"]),
        "seconds": _num(st["timing"]["sweep_seconds"]) + _num(st["timing"]["seeds_seconds"]),
        "ols_test_rel_mse": _num(b["linear"]["test_rel_mse"]),
        "mean_test_rel_mse": _num(b["mean"]["test_rel_mse"]),
    }


def config_differences(run_config: Mapping[str, Any], sweep_config: Mapping[str, Any]) -> list[str]:
    """Dotted settings (other than :data:`COMPARABLE_KEYS`) where two resolved configs differ.

    Where this run differs from the sweep's runs (e.g. a smoke run against a full-size sweep),
    its own students are not comparable with the sweep's curve, and the report says so.
    """

    def flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            if not prefix and k in COMPARABLE_KEYS:
                continue
            if isinstance(v, Mapping):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out

    a, b = flat(run_config), flat(sweep_config)
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


# --------------------------------------------------------------------------- the report section


def _complete(table: pd.DataFrame) -> pd.DataFrame:
    return table[(table["status"] == "complete") & np.isfinite(table["test_rel_mse"].astype(float))]


def _families(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Complete rows per family, in table order (families), each sorted by parameter count."""
    done = _complete(table)
    return [(f, g.sort_values("n_params")) for f, g in done.groupby("family", sort=False)]


def _baseline(table: pd.DataFrame, column: str) -> float:
    # Every run of the sweep uses root seed 0: one test set, one baseline. The median guards
    # against a sweep that varied the seed or the test set size.
    values = _complete(table)[column].to_numpy(float)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else math.nan


def _run_students(results: TeacherStudentResults) -> list[tuple[str, int, Estimate]]:
    """This run's students: name, parameter count, relative test MSE."""
    return [(name, st.n_params, st.test_rel_mse_est) for name, st in results.students.items()]


def parameter_count_chart(table: pd.DataFrame, results: TeacherStudentResults | None = None) -> Chart:
    """Relative test MSE and the chosen learning rate against the number of learnable parameters.

    Args:
        table: :func:`parameter_count_table`.
        results: this run's results; its students are drawn as markers (None: left out).
    """
    t_params = int(table["teacher_n_params"].iloc[0])
    err: list[Any] = []
    rates: list[Any] = []
    for family, g in _families(table):
        x = g["n_params"].to_numpy(float)
        y = g["test_rel_mse"].to_numpy(float)
        low = np.maximum(g["test_rel_mse_low"].to_numpy(float), LOG_BAND_FLOOR * y)
        label = f"{family} (widths {g['width'].min()}-{g['width'].max()})"
        err.append(Line(x, y, label=label, band=(low, g["test_rel_mse_high"].to_numpy(float)), mode="lines+markers"))
        rates.append(Line(x, g["lr"].to_numpy(float), label=family, mode="lines+markers"))
    edge = _complete(table)[_complete(table)["lr_at_edge"].fillna(False).astype(bool)]
    if len(edge):
        err.append(
            Line(
                edge["n_params"].to_numpy(float),
                edge["test_rel_mse"].to_numpy(float),
                label="chosen rate at a grid edge",
                mode="markers",
                color=EDGE_COLOUR,
            )
        )
        rates.append(
            Line(
                edge["n_params"].to_numpy(float),
                edge["lr"].to_numpy(float),
                label="at a grid edge",
                mode="markers",
                color=EDGE_COLOUR,
            )
        )
    if results is not None:
        own = _run_students(results)
        err.append(
            Line(
                [p for _, p, _ in own],
                [est.mean for _, _, est in own],
                label="this run: " + ", ".join(n for n, _, _ in own),
                mode="markers",
                color=RUN_COLOUR,
            )
        )
    hl = [
        (v, label)
        for v, label in (
            (_baseline(table, "ols_test_rel_mse"), "OLS"),
            (_baseline(table, "mean_test_rel_mse"), "mean predictor"),
        )
        if math.isfinite(v)
    ]
    vl = [(float(t_params), f"teacher ({fmt(t_params)} parameters)")]
    return Chart(
        "parameter_count",
        [
            Panel(
                err,
                title="relative test MSE vs parameters",
                xlabel="learnable parameters",
                ylabel="MSE / Var(y_test)",
                xscale="log",
                yscale="log",
                hlines=hl,
                vlines=vl,
            ),
            Panel(
                rates,
                title="chosen learning rate vs parameters",
                xlabel="learnable parameters",
                ylabel="learning rate",
                xscale="log",
                yscale="log",
                vlines=[(float(t_params), "")],
            ),
        ],
        ncols=2,
        title=f"Parameter count: sweep {table.attrs.get('name', '')}".rstrip(),
        caption=f"Each point is one run of the sweep: its own learning-rate sweep, then the mean "
        f"over its seeds with the {fmt(100 * CONFIDENCE)}% t-interval (band; a lower end at or "
        f"below 0 is drawn at {fmt(LOG_BAND_FLOOR)}x the mean on the log axis). Dotted: "
        "the teacher's parameter count and the baselines on the sweep's test set.",
    )


def _where(row: Mapping[str, Any]) -> str:
    return f"width {int(row['width'])} ({fmt(int(row['n_params']))} parameters)"


def _at(row: Mapping[str, Any]) -> str:
    return fmt_ci(row["test_rel_mse"], [row["test_rel_mse_low"], row["test_rel_mse_high"]])


def _trend(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """How the error moves from row ``a`` to the larger row ``b``, judged by their intervals."""
    if b["test_rel_mse_high"] < a["test_rel_mse_low"]:
        return "still falls (the intervals do not overlap)"
    if b["test_rel_mse_low"] > a["test_rel_mse_high"]:
        return "**rises** (the intervals do not overlap)"
    return "is flat within the seed-to-seed uncertainty (the intervals overlap)"


def _family_text(family: str, g: pd.DataFrame, t_params: int, ols: float) -> str:
    rows = [r for _, r in g.iterrows()]
    best = min(rows, key=lambda r: r["test_rel_mse"])
    span = (
        f"{len(rows)} widths from {int(rows[0]['width'])} to {int(rows[-1]['width'])}, "
        f"{fmt(int(rows[0]['n_params']))} to {fmt(int(rows[-1]['n_params']))} parameters"
        if len(rows) > 1
        else "1 width"
    )
    parts = [
        f"**{family}** ({span}): lowest relative test MSE {_at(best)} at {_where(best)}, "
        f"{fmt(best['params_ratio'])}x the teacher's count."
    ]
    beat = [r for r in rows if r["test_rel_mse_high"] < ols]
    parts.append(
        f"The smallest student whose whole interval is below OLS ({fmt(ols)}) has {_where(beat[0])}: {_at(beat[0])}."
        if beat
        else f"No width has its whole interval below OLS ({fmt(ols)})."
    )
    rises = [(a, b) for a, b in itertools.pairwise(rows) if b["test_rel_mse"] >= a["test_rel_mse"]]
    if len(rows) > 1:
        parts.append(
            "The mean error falls at every step of width."
            if not rises
            else "The mean error does **not** fall at every step of width: it rises from "
            + "; from ".join(
                f"width {int(a['width'])} to {int(b['width'])} ({fmt(a['test_rel_mse'])} -> {fmt(b['test_rel_mse'])})"
                for a, b in rises
            )
            + "."
        )
    above = [r for r in rows if r["n_params"] > t_params]
    below = [r for r in rows if r["n_params"] <= t_params]
    if len(above) >= 2:
        first, last = above[0], above[-1]
        parts.append(
            f"Past the teacher's {fmt(t_params)} parameters the error "
            f"{_trend(first, last)}: from {_at(first)} at {_where(first)} to "
            f"{_at(last)} at {_where(last)}."
        )
    elif len(above) == 1 and below:
        parts.append(
            f"One width lies past the teacher's {fmt(t_params)} parameters: from "
            f"{_at(below[-1])} at {_where(below[-1])} to {_at(above[0])} at "
            f"{_where(above[0])} the error {_trend(below[-1], above[0])}."
        )
    elif not above:
        parts.append(
            f"No width lies past the teacher's {fmt(t_params)} parameters: the sweep "
            "cannot say whether the error keeps falling beyond them."
        )
    else:
        parts.append(f"Its only width lies past the teacher's {fmt(t_params)} parameters: no trend to read.")
    return " ".join(parts)


def parameter_count_text(
    table: pd.DataFrame, results: TeacherStudentResults | None = None, differs: Sequence[str] = ()
) -> list[str]:
    """Paragraphs computed from the table: per family, across families, rates, this run.

    Args:
        table: :func:`parameter_count_table`.
        results: this run's results (its students are compared with the sweep); None: left out.
        differs: settings where this run differs from the sweep's runs (:func:`config_differences`).
    """
    t_params = int(table["teacher_n_params"].iloc[0])
    ols = _baseline(table, "ols_test_rel_mse")
    done = _complete(table)
    planned = table.attrs.get("planned", table["run_id"].nunique())
    runs_done = done["run_id"].nunique()
    seeds = sorted({int(s) for s in done["seeds"]})
    paras = [
        (
            f"The sweep `{table.attrs.get('name', '')}` trains {len(table)} students in "
            f"{table['run_id'].nunique()} runs against this teacher ({fmt(t_params)} "
            f"parameters), each with its own learning-rate sweep on training data and "
            f"{'/'.join(str(s) for s in seeds)} seeds at the chosen rate; "
            f"{runs_done} of {planned} runs are complete"
            + (" (the others are listed in the table without results)." if runs_done < planned else ".")
            + f" Baselines on the sweep's test set: OLS {fmt(ols)}, mean "
            f"predictor {fmt(_baseline(table, 'mean_test_rel_mse'))}."
        )
    ]
    fams = _families(table)
    paras += [_family_text(f, g, t_params, ols) for f, g in fams]
    if len(fams) >= 2:
        near = []
        for family, g in fams:
            r = g.iloc[int(np.argmin(np.abs(np.log(g["n_params"].to_numpy(float) / t_params))))]
            near.append((family, r))
        (fa, a), (fb, b) = near[0], near[1]
        if a["test_rel_mse_high"] < b["test_rel_mse_low"]:
            verdict = f"{fa} is lower (the intervals do not overlap)"
        elif b["test_rel_mse_high"] < a["test_rel_mse_low"]:
            verdict = f"{fb} is lower (the intervals do not overlap)"
        else:
            verdict = "the intervals overlap: these seeds do not separate the two depths there"
        paras.append(
            f"Nearest the teacher's count: {fa} at {_where(a)} reaches {_at(a)}, {fb} "
            f"at {_where(b)} {_at(b)}; {verdict}."
        )
    edge = done[done["lr_at_edge"].fillna(False).astype(bool)]
    paras.append(
        "Every chosen learning rate lies strictly inside the rates tried."
        if edge.empty
        else "Chosen learning rate still at an edge of the rates tried after the grid's "
        "extensions (the optimum may lie beyond, so these points may be pessimistic): "
        + ", ".join(f"{r['family']} width {int(r['width'])} (lr {fmt(r['lr'])})" for _, r in edge.iterrows())
        + "."
    )
    if results is not None:
        own = ", ".join(f"{n} ({fmt(p)} parameters) {fmt_est(est)}" for n, p, est in _run_students(results))
        note = (
            ""
            if not differs
            else f" This run's settings differ from the sweep's in {', '.join(differs)}, so its "
            "markers are not comparable with the curves (e.g. a smoke run against a "
            "full-size sweep)."
        )
        paras.append(f"This run's own students, drawn as black markers: {own}.{note}")
    return paras


def parameter_count_blocks(
    table: pd.DataFrame, results: TeacherStudentResults | None = None, differs: Sequence[str] = ()
) -> list[Any]:
    """The report section: text, the chart, and the table (one row per run and student)."""
    rows = []
    for _, r in table.iterrows():
        ok = r["status"] == "complete"
        rows.append(
            [
                r["family"],
                r["hidden"],
                f"{fmt(int(r['n_params']))} ({fmt(r['params_ratio'])}x)",
                (fmt(r["lr"]) + (" (edge)" if r["lr_at_edge"] else "")) if ok else "—",
                int(r["seeds"]) if ok else "—",
                _at(r) if ok else "—",
                f"{fmt(int(r['steps']))} ({int(r['stationary'])}/{int(r['seeds'])} stationary)" if ok else "—",
                r["status"],
            ]
        )
    table_block = Table(
        ["family", "hidden", "params (x teacher)", "lr", "seeds", "test rel MSE", "steps", "status"],
        rows,
        caption="One run per row; mean [95% CI] over its seeds. rel = MSE / "
        "Var(y_test). (edge): the chosen rate is at an edge of the grid "
        "after its extensions.",
    )
    return [
        *(Text(p) for p in parameter_count_text(table, results, differs)),
        Figure(parameter_count_chart(table, results)),
        table_block,
    ]
