"""The parameter-count sweep (issue 9, item 5): the shipped sweep file, its table read back from a
sweep folder, and its section in the teacher-student report."""

from __future__ import annotations

import json
import math
import re
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w
from typer.testing import CliRunner

from learnability import load_run
from learnability._validation import ParameterError
from learnability.cli import EXIT_CONFIG, app
from learnability.config import ConfigError, build_config
from learnability.engine import MLPSpec
from learnability.report import fmt, fmt_ci
from learnability.runner import rebuild_report, resolve_config
from learnability.runs import Run
from learnability.studies import get_study
from learnability.studies import teacher_student as ts
from learnability.studies.teacher_student.parameter_count import (
    COLUMNS,
    FAMILY_ONE_LAYER,
    FAMILY_TEACHER_DEPTH,
    STUDY_NAME,
    config_differences,
    parameter_count_table,
    parameter_count_text,
)
from learnability.sweep import example_path, list_examples, plan_sweep, run_sweep

TEACHER_PARAMS = 11_896
D_IN = 100
# The tiny end-to-end sweep: two one-hidden-layer widths and one of the teacher's depth, at the
# study's smoke size (120 sweep steps). Narrower students may stay no better than the mean
# predictor in so few steps, which fails their run (e.g. three hidden layers of 4).
TINY_WIDTHS = [{"one_layer": [16]}, {"one_layer": [64]}, {"teacher_depth": [16, 16, 16]}]


def one_layer_params(w: int) -> int:
    """Closed form: (d_in + 1) w weights and biases in, w + 1 out."""
    return (D_IN + 1) * w + (w + 1)


def teacher_depth_params(w: int) -> int:
    """Closed form for three hidden layers of w: (d_in + 1) w + 2 (w + 1) w + (w + 1)."""
    return (D_IN + 1) * w + 2 * (w + 1) * w + (w + 1)


# ------------------------------------------------------------------------------ the sweep file


def test_the_shipped_sweep_file_plans_both_families() -> None:
    assert "parameter-count" in list_examples()
    plan = plan_sweep(example_path("parameter-count"))
    assert plan.study == STUDY_NAME == ts.STUDY_NAME and not plan.smoke
    assert plan.seeds == (0,) and plan.threads == 1
    families: dict[str, list[int]] = {"one_layer": [], "teacher_depth": []}
    defaults = ts.TeacherStudentConfig().model_dump(mode="json")
    for run in plan.runs:
        ((name, hidden),) = run.config["students"].items()  # one student per run
        assert len(set(hidden)) == 1
        families[name].append(hidden[0])
        assert len(hidden) == (1 if name == "one_layer" else len(defaults["teacher"]["hidden"]))
        # Nothing but the student and the single evaluation teacher (the spec's; 5 would make the
        # sweep ~5x longer) differs from the full-spec defaults: >= 3 seeds, LR sweep.
        assert run.config["teachers"] == defaults["teachers"] | {"n_eval": 1}
        assert {k: v for k, v in run.config.items() if k not in ("students", "teachers")} == {
            k: v for k, v in defaults.items() if k not in ("students", "teachers")
        }
        assert run.config["train"]["seeds"] >= 3
        assert run.run_id.startswith(f"students={name}{'x'.join(map(str, hidden))}_s0-")
    assert sorted(families["one_layer"]) == [2**k for k in range(1, 11)]  # 2 .. 1024
    assert sorted(families["teacher_depth"]) == [2**k for k in range(1, 9)]  # 2 .. 256
    assert len(plan.runs) == 18
    # Both families cross the teacher's count by at least a decade on each side... almost:
    one = [one_layer_params(w) for w in families["one_layer"]]
    deep = [teacher_depth_params(w) for w in families["teacher_depth"]]
    assert min(one) < TEACHER_PARAMS / 10 and max(one) > 8 * TEACHER_PARAMS
    assert min(deep) < TEACHER_PARAMS / 10 and max(deep) > 10 * TEACHER_PARAMS
    assert [MLPSpec(D_IN, (w,)).n_params for w in families["one_layer"]] == one
    assert [MLPSpec(D_IN, (w,) * 3).n_params for w in families["teacher_depth"]] == deep


# ------------------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped file at the study's smoke size with three widths, run on the local backend."""
    folder = tmp_path_factory.mktemp("pc")
    doc = tomllib.loads(example_path("parameter-count").read_text())
    doc.update(name="pc-tiny", smoke=True)
    doc["axes"]["students"] = TINY_WIDTHS
    path = folder / "pc-tiny.toml"
    path.write_text(tomli_w.dumps(doc))
    return run_sweep(path, out=folder / "sweeps", workers=2, progress=False)


@pytest.fixture(scope="module")
def summarised(tiny_sweep: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A teacher-student smoke run (one small student) whose report summarises the sweep."""
    import learnability

    return learnability.run_study(
        "teacher-student",
        smoke=True,
        progress=False,
        out=tmp_path_factory.mktemp("runs"),
        students={"S_u": [4]},
        parameter_count=str(tiny_sweep),
    )


def test_the_table_has_one_row_per_run_with_the_runs_numbers(tiny_sweep: Path) -> None:
    table = parameter_count_table(tiny_sweep)
    assert list(table.columns) == list(COLUMNS)
    assert table.attrs["planned"] == table.attrs["complete"] == 3
    assert table["family"].tolist() == [FAMILY_ONE_LAYER, FAMILY_ONE_LAYER, FAMILY_TEACHER_DEPTH]
    assert table["hidden"].tolist() == ["[16]", "[64]", "[16, 16, 16]"]
    assert table["width"].tolist() == [16, 64, 16] and table["depth"].tolist() == [1, 1, 3]
    assert (
        table["n_params"].tolist()
        == [one_layer_params(16), one_layer_params(64), teacher_depth_params(16)]
        == [1633, 6529, 2177]
    )
    assert (table["teacher_n_params"] == TEACHER_PARAMS).all()
    np.testing.assert_allclose(table["params_ratio"], table["n_params"] / TEACHER_PARAMS)
    for _, row in table.iterrows():
        res = load_run(tiny_sweep / "runs" / row["run_id"]).results
        st = res.students[row["student"]]
        assert row["status"] == "complete" and row["n_params"] == st.n_params
        assert (row["test_rel_mse"], row["lr"], row["seeds"]) == (st.test_rel_mse, st.lr, st.seeds)
        assert [row["test_rel_mse_low"], row["test_rel_mse_high"]] == st.test_rel_mse_ci
        assert row["test_rel_mse_low"] <= row["test_rel_mse"] <= row["test_rel_mse_high"]
        assert bool(row["lr_at_edge"]) == st.sweep.at_edge and row["seeds"] >= 3
        assert row["ols_test_rel_mse"] == res.baselines.linear.test_rel_mse
    # Root seed 0 everywhere: one test set, so one baseline for every run.
    assert table["ols_test_rel_mse"].nunique() == 1


def test_runs_that_did_not_complete_keep_a_row_without_results(tiny_sweep: Path, tmp_path: Path) -> None:
    copy = tmp_path / "pc-tiny"
    shutil.copytree(tiny_sweep, copy)
    killed = parameter_count_table(tiny_sweep)["run_id"].iloc[1]
    # As if killed before the end: no summary, and the status the run started with.
    (copy / "runs" / killed / "summary.json").unlink()
    prov = copy / "runs" / killed / "provenance.json"
    prov.write_text(json.dumps(json.loads(prov.read_text()) | {"status": "running"}))
    (copy / "results.parquet").unlink()  # rebuilt from the run folders
    table = parameter_count_table(copy)
    assert table.attrs["planned"] == 3 and table.attrs["complete"] == 2
    row = table.set_index("run_id").loc[killed]
    assert row["status"] == "incomplete" and math.isnan(row["test_rel_mse"])
    assert row["n_params"] == one_layer_params(64)  # the architecture is known from the plan
    text = " ".join(parameter_count_text(table))
    assert "2 of 3 runs are complete (the others are listed in the table without results)." in text


def test_the_report_section_rebuilds_from_the_run_folder_alone(
    summarised: Run, tiny_sweep: Path, tmp_path: Path
) -> None:
    pc = summarised.results.parameter_count
    assert (pc.runs_planned, pc.runs_complete, pc.rows) == (3, 3, 3)
    assert pc.sweep == str(tiny_sweep.resolve()) and pc.name == "pc-tiny"
    # A smoke sweep of one teacher (its [base]) against a smoke run of two: the report names it.
    assert pc.differs == ["teachers.n_eval"]
    copied = summarised.load_table("parameter_count")
    pd.testing.assert_frame_equal(copied, parameter_count_table(tiny_sweep), check_dtype=False)

    # Move the sweep away: the report is rebuilt from the run folder alone.
    moved = tmp_path / "elsewhere"
    shutil.copytree(summarised.path, moved)
    md_path = rebuild_report(moved)
    md = md_path.read_text()
    assert "## Parameter count: the same question along a sweep of widths" in md
    assert (moved / "figures" / "parameter_count.png").exists()
    table = copied.sort_values("n_params")
    best = table.loc[table["family"] == FAMILY_ONE_LAYER].sort_values("test_rel_mse").iloc[0]
    assert (
        f"lowest relative test MSE {fmt_ci(best['test_rel_mse'], [best['test_rel_mse_low'], best['test_rel_mse_high']])}"
        in md
        and f"at width {best['width']} ({best['n_params']} parameters)" in md
    )
    assert f"against this teacher ({fmt(TEACHER_PARAMS)} parameters)" in md
    assert "3 of 3 runs are complete" in md and "S_u (409 parameters)" in md
    again = load_run(moved)
    ts_chart = [c for c in ts.report(again.results, again).charts if c.name == "parameter_count"]
    (chart,) = ts_chart
    err = chart.panels[0]
    assert err.vlines == [(float(TEACHER_PARAMS), f"teacher ({fmt(TEACHER_PARAMS)} parameters)")]
    assert err.xscale == err.yscale == "log"
    assert [label for _, label in err.hlines] == ["OLS", "mean predictor"]
    lines = {l.label: l for l in err.traces}
    one = lines[f"{FAMILY_ONE_LAYER} (widths 16-64)"]
    np.testing.assert_array_equal(one.x, [1633, 6529])
    assert one.band is not None and np.all(np.asarray(one.band[0]) > 0)  # drawable on a log axis


# ------------------------------------------------------------------------------ bad input


def test_bad_sweep_folders_are_refused_before_training(tmp_path: Path, tiny_sweep: Path) -> None:
    import learnability

    with pytest.raises(
        ParameterError,
        match=re.escape(
            "The 'parameter_count' parameter of teacher-student must be the folder of a finished teacher-student sweep"
        ),
    ) as err:
        learnability.run_study(
            "teacher-student",
            smoke=True,
            progress=False,
            out=tmp_path / "runs",
            parameter_count=str(tmp_path / "missing"),
        )
    assert "no such folder" in str(err.value)
    assert not (tmp_path / "runs").exists()  # refused before the run folder was created
    # The command line: one "error:" line, the config exit code, no traceback, no run folder.
    cli = CliRunner().invoke(
        app,
        [
            "run",
            "teacher-student",
            "--smoke",
            "--no-progress",
            "--out",
            str(tmp_path / "cli"),
            "--set",
            f"parameter_count='{tmp_path / 'missing'}'",
        ],
    )
    assert cli.exit_code == EXIT_CONFIG, cli.output
    assert "error: The 'parameter_count' parameter of teacher-student" in cli.output
    assert "Traceback" not in cli.output and not (tmp_path / "cli").exists()

    other = tmp_path / "toy-sweep"
    other.mkdir()
    (other / "plan.json").write_text(json.dumps({"study": "toy-regression", "runs": []}))
    with pytest.raises(
        ParameterError,
        match=re.escape("must be a sweep of the teacher-student study (this folder holds a sweep of 'toy-regression')"),
    ):
        parameter_count_table(other)
    # Another teacher than the sweep's: its curve would answer another question.
    with pytest.raises(ParameterError, match=re.escape("must be a sweep of this run's teacher")):
        learnability.run_study(
            "teacher-student",
            smoke=True,
            progress=False,
            out=tmp_path / "r2",
            teacher={"seed": 1},
            parameter_count=str(tiny_sweep),
        )
    with pytest.raises(ConfigError, match=re.escape("'parameter_count' parameter of teacher-student")):
        build_config(ts.TeacherStudentConfig, owner=STUDY_NAME, layers=[{"parameter_count": " "}])


def test_config_differences_ignore_the_students_and_name_the_rest() -> None:
    study = get_study(STUDY_NAME)
    full = resolve_config(study).model_dump(mode="json")
    smoke = resolve_config(study, smoke=True, overrides={"students": {"x": [3]}, "seed": 4}).model_dump(mode="json")
    diff = config_differences(smoke, full)
    assert {"n_test", "n_reference", "sweep.max_steps", "train.max_steps"} <= set(diff)
    assert not {d for d in diff if d.split(".")[0] in ("students", "seed", "compile")}
    assert config_differences(full, full) == []


# ------------------------------------------------------------------------------ the sentences


def _synthetic(rows: list[tuple[str, int, int, float, float, float, float, bool]]) -> pd.DataFrame:
    """(family, width, n_params, mean, low, high, lr, at_edge) rows as a complete table."""
    records = []
    for i, (family, width, n, mean, low, high, lr, edge) in enumerate(rows):
        records.append(
            {c: math.nan for c in COLUMNS}
            | {
                "run_id": f"r{i}",
                "status": "complete",
                "seed": 0,
                "student": "s",
                "family": family,
                "hidden": json.dumps([width]),
                "depth": 1,
                "width": width,
                "n_params": n,
                "teacher_n_params": TEACHER_PARAMS,
                "params_ratio": n / TEACHER_PARAMS,
                "test_rel_mse": mean,
                "test_rel_mse_low": low,
                "test_rel_mse_high": high,
                "seeds": 3,
                "lr": lr,
                "lr_at_edge": edge,
                "steps": 100,
                "stationary": 3,
                "ols_test_rel_mse": 0.3,
                "mean_test_rel_mse": 1.0,
            }
        )
    table = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    table.attrs = {"name": "synthetic", "planned": len(rows)}
    return table


def test_sentences_follow_the_numbers() -> None:
    one = FAMILY_ONE_LAYER
    table = _synthetic(
        [
            (one, 2, 205, 0.5, 0.4, 0.6, 0.3, True),  # worse than OLS, rate at the edge
            (one, 16, 1633, 0.28, 0.25, 0.31, 0.03, False),  # mean below OLS, CI not
            (one, 64, 6529, 0.2, 0.18, 0.22, 0.01, False),  # first whole CI below OLS (0.3)
            (one, 256, 26113, 0.1, 0.09, 0.11, 0.003, False),  # past the teacher ...
            (one, 1024, 104449, 0.05, 0.04, 0.06, 0.001, False),  # ... and still falling
        ]
    )
    text = " ".join(parameter_count_text(table))
    assert "5 of 5 runs are complete." in text
    assert "lowest relative test MSE 0.0500 [0.0400, 0.0600] at width 1024 (104,449 parameters)" in text
    assert (
        "The smallest student whose whole interval is below OLS (0.3) has width 64 (6529 parameters): 0.200 [0.180, 0.220]."
    ) in text
    assert "The mean error falls at every step of width." in text
    assert (
        "Past the teacher's 11,896 parameters the error still falls (the intervals do not "
        "overlap): from 0.100 [0.090, 0.110] at width 256"
    ) in text
    assert "one hidden layer width 2 (lr 0.3)" in text
    flat = _synthetic(
        [
            (one, 256, 26113, 0.4, 0.3, 0.5, 0.003, False),
            (one, 512, 52225, 0.45, 0.35, 0.55, 0.002, False),
            (one, 1024, 104449, 0.38, 0.28, 0.48, 0.001, False),
        ]
    )
    text = " ".join(parameter_count_text(flat))
    assert "the error is flat within the seed-to-seed uncertainty" in text
    assert "No width has its whole interval below OLS (0.3)." in text
    assert "does **not** fall at every step of width: it rises from width 256 to 512" in text
    assert "Every chosen learning rate lies strictly inside the rates tried." in text
