"""What a user sees: the run's epilogue, --quiet, smoke marked everywhere, settings precedence,
mapping entries, `learnability config`, and a benchmark that refuses an unstable ratio."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import Field
from typer.testing import CliRunner

import learnability.runner as runner_module
from learnability.bench import engine as bench
from learnability.cli import app
from learnability.config import StudyConfig, build_config, parse_assignments
from learnability.report import write_index
from learnability.runner import busy_machine_warning, resolve_config

cli = CliRunner()


def test_run_prints_headline_report_and_busy_warning_then_the_folder(toy_study, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(runner_module, "load_average", lambda: 999.0)  # a machine far busier than its cores
    res = cli.invoke(app, ["run", "toy-regression", "--smoke", "--out", str(tmp_path), "--no-progress"])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    folder = Path(lines[-1])
    assert folder.name.endswith("-s0-smoke") and folder.parent == tmp_path  # still the last line
    assert any(ln.strip().startswith("test MSE") for ln in lines)  # the headline, from headline.json
    assert f"report: {folder / 'report.html'}" in lines
    warning = next(ln for ln in lines if ln.startswith("warning: the machine was busy"))
    assert "999" in warning and "not comparable to the documented one" in warning
    # Smoke says so everywhere: provenance, report header (Markdown and HTML), the run index.
    prov = json.loads((folder / "provenance.json").read_text())
    assert prov["smoke"] is True and prov["load_average"]["start"] == 999.0
    assert "Smoke size (--smoke)" in (folder / "report.md").read_text()
    assert "Smoke size (--smoke)" in (folder / "report.html").read_text()
    assert "status-smoke" in write_index(tmp_path).read_text()


def test_quiet_prints_only_the_folder(toy_study, tmp_path) -> None:
    res = cli.invoke(app, ["run", "toy-regression", "--smoke", "--out", str(tmp_path), "--quiet"])
    assert res.exit_code == 0, res.output
    assert len(res.output.strip().splitlines()) == 1
    folder = Path(res.output.strip())
    assert json.loads((folder / "provenance.json").read_text())["smoke"] is True


def test_busy_warning_only_above_the_cores() -> None:
    assert busy_machine_warning({"load_average": {"start": 1.5, "end": 1.9, "cores": 2}}) is None
    assert "load average 3.1" in busy_machine_warning({"load_average": {"start": 1.0, "end": 3.1, "cores": 2}})
    assert busy_machine_warning({}) is None  # an older run folder: nothing measured, no claim


def test_smoke_applies_on_top_of_a_config_file(toy_study, tmp_path) -> None:
    # The file `learnability config --full` writes pins every size; --smoke must still win.
    res = cli.invoke(app, ["config", "toy-regression", "--full"])
    assert res.exit_code == 0, res.output
    file = tmp_path / "my.toml"
    file.write_text(res.output)
    assert resolve_config(toy_study, config_file=file).train.steps == 300
    assert resolve_config(toy_study, config_file=file, smoke=True).train.steps == 100
    # --set applies last of all.
    cfg = resolve_config(toy_study, config_file=file, smoke=True, assignments=["train.steps=7"])
    assert cfg.train.steps == 7


def test_config_writes_only_changes_unless_full_with_the_docstring_as_comments(toy_study) -> None:
    short = cli.invoke(app, ["config", "toy-regression", "--set", "n_train=64"]).output
    body = [ln for ln in short.splitlines() if ln and not ln.startswith("#")]
    assert body == ["n_train = 64"]
    full = cli.invoke(app, ["config", "toy-regression", "--full"]).output
    assert "lr_low = 0.001" in full and "[train]" in full


def test_config_shows_command_runtime_expected(toy_study, monkeypatch) -> None:
    doc = "Toy.\n\n    Command:  learnability run toy\n    Runtime:  1 s\n    Expected: 42\n    "
    monkeypatch.setattr(type(toy_study.config_cls), "__doc__", None, raising=False)
    monkeypatch.setattr(toy_study.config_cls, "__doc__", doc)
    out = cli.invoke(app, ["config", "toy-regression"]).output
    assert "# Command:  learnability run toy\n# Runtime:  1 s\n# Expected: 42" in out


class _Mapped(StudyConfig):
    """A config with a mapping-typed setting."""

    students: dict[str, list[int]] = Field(default_factory=lambda: {"S_u": [10], "S_e": [75, 50], "S_o": [200]})


def _build(*assignments: str, layers: tuple = ()) -> _Mapped:
    return build_config(_Mapped, owner="t", layers=[*layers, parse_assignments(_Mapped, assignments)])


def test_setting_one_entry_of_a_mapping_keeps_the_others() -> None:
    assert _build("students.S_u=[20]").students == {"S_u": [20], "S_e": [75, 50], "S_o": [200]}
    assert _build("students.S_x=[3]").students["S_x"] == [3] and len(_build("students.S_x=[3]").students) == 4


def test_replacing_a_whole_mapping_is_explicit() -> None:
    assert _build("students={S_u=[20]}").students == {"S_u": [20]}
    # A whole mapping, then one entry: the entry changes the replacement, not the defaults.
    assert _build("students={S_u=[20]}", "students.S_e=[5]").students == {"S_u": [20], "S_e": [5]}
    # A file's table (a run folder's config.toml) is the whole mapping: re-running repeats the run.
    assert _build(layers=({"students": {"S_u": [1]}},)).students == {"S_u": [1]}


def test_stability_problems_flag_spread_and_load() -> None:
    assert bench.stability_problems({"W_B naive": [100.0, 110.0]}, [0.5, 0.7], cores=2) == []
    spread = bench.stability_problems({"W_B naive": [1000.0, 200.0]}, [0.5], cores=2)
    assert len(spread) == 1 and "repeats differ by 5.0x" in spread[0]
    busy = bench.stability_problems({"W_B naive": [100.0, 100.0]}, [0.5, 6.0], cores=2)
    assert busy == ["the machine is busy: 1-minute load average 6.0 on 2 cores available"]


def test_quick_bench_prints_no_ratio_when_unstable(monkeypatch) -> None:
    rates = iter([972.0, 5.0, 400.0] * 20)  # repeats that disagree wildly
    monkeypatch.setattr(bench, "measure_peak_gflops", lambda *a, **k: 10.0)
    monkeypatch.setattr(bench, "_naive_b", lambda *a: next(rates))
    monkeypatch.setattr(bench, "_naive_a", lambda *a: next(rates))
    monkeypatch.setattr(bench, "_vmap", lambda *a: next(rates))
    monkeypatch.setattr(bench, "_engine_timed", lambda *a: (next(rates), 0.0))
    monkeypatch.setattr(bench, "_load_average", lambda: 0.0)
    lines: list[str] = []
    res = bench.run_bench(quick=True, members=4, compile_=False, processes=1, echo=lines.append)
    assert res["reliable"] is False and res["repeats"] == 3
    assert not any("x naive" in ln for ln in lines)
    assert lines[-1].startswith("unreliable measurement: no speed-up ratio is printed")
    assert {r["model_steps_per_s"] for r in res["results"]} == {400.0}  # medians


def test_quick_bench_prints_the_ratio_when_stable(monkeypatch) -> None:
    monkeypatch.setattr(bench, "measure_peak_gflops", lambda *a, **k: 10.0)
    monkeypatch.setattr(bench, "_naive_b", lambda *a: 100.0)
    monkeypatch.setattr(bench, "_naive_a", lambda *a: 10.0)
    monkeypatch.setattr(bench, "_vmap", lambda *a: 50.0)
    monkeypatch.setattr(bench, "_engine_timed", lambda *a: (1000.0, 0.0))
    monkeypatch.setattr(bench, "_load_average", lambda: 0.0)
    lines: list[str] = []
    res = bench.run_bench(quick=True, members=4, compile_=False, processes=1, echo=lines.append)
    assert res["reliable"] is True and any("x naive" in ln for ln in lines)
    assert any(ln.startswith("W_B      engine-eager") and " 10.0 " in ln for ln in lines)


# Calls that look like "(s)" plurals: int(s), http(s) in prose about URLs.
_NOT_PLURALS = {"int", "str", "len", "float", "zip", "http", "fmt"}  # calls f(s), not words


def test_no_parenthesised_plurals_anywhere() -> None:
    src = Path(__file__).parents[2] / "src" / "learnability"
    offenders = []
    for path in sorted(src.rglob("*.py")):
        if path.name == "_words.py":
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            # "worker(s)", "value(s)": a word after a space or a quote, then "(s)"
            for m in re.finditer(r"(?:^|[\s\"'`{])([A-Za-z]+)\(s\)", line):
                if m.group(1) not in _NOT_PLURALS:
                    offenders.append(f"{path.relative_to(src)}:{i}: {line.strip()}")
    assert offenders == []
