"""The contract every registered study keeps, checked on its smoke run.

* its config documents Command, Runtime and Expected, and its smoke size is a valid config;
* ``run`` returns the study's typed results: ``summary.json`` validates against the results model
  and is exactly what the model writes back;
* the report rebuilds from the run folder alone, in a fresh Python process;
* the report reads the typed results (attributes), never ``summary.json`` through string keys.
"""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys

import pytest

from learnability.config import build_config
from learnability.runs import jsonable
from learnability.studies import StudyResults, get_study, list_studies

STUDIES = [s.name for s in list_studies()]


@pytest.mark.parametrize("name", STUDIES)
def test_config_documents_command_runtime_expected_and_smoke_size_is_valid(name: str) -> None:
    study = get_study(name)
    doc = inspect.getdoc(study.config_cls) or ""
    for field in ("Command:", "Runtime:", "Expected:"):
        assert field in doc, f"{study.config_cls.__name__}'s docstring has no {field!r}"
    assert f"learnability run {name}" in doc
    cfg = build_config(study.config_cls, owner=name, layers=[study.smoke])  # unknown smoke keys raise
    assert cfg != study.config_cls(), "the smoke size changes nothing"


@pytest.mark.parametrize("name", STUDIES)
def test_smoke_results_validate_against_the_study_model(name: str, smoke_run) -> None:
    study = get_study(name)
    assert study.results is not None and issubclass(study.results, StudyResults)
    run = smoke_run(name)
    assert run.complete, run.provenance.get("error")
    results = study.results.from_summary(run.summary)
    assert isinstance(run.results, study.results)  # learnability.load_run types it
    # The model writes back exactly what summary.json holds (a lossless round trip).
    assert json.loads(json.dumps(results.to_summary())) == json.loads(json.dumps(jsonable(run.summary)))


@pytest.mark.parametrize("name", STUDIES)
def test_report_rebuilds_from_the_folder_alone_in_a_fresh_process(name: str, smoke_run) -> None:
    run = smoke_run(name)
    (run.path / "report.md").unlink()
    code = "import sys, learnability; learnability.rebuild_report(sys.argv[1])"
    res = subprocess.run([sys.executable, "-c", code, str(run.path)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    md = (run.path / "report.md").read_text()
    assert "incomplete" not in md.splitlines()[0].lower()
    assert (run.path / "report.html").stat().st_size > 0


@pytest.mark.parametrize("name", STUDIES)
def test_report_reads_attributes_not_summary_keys(name: str) -> None:
    study = get_study(name)
    tree = ast.parse(inspect.getsource(sys.modules[study.report.__module__]))
    offenders = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ("summary", "config_dict")
    ]
    assert not offenders, f"{study.report.__module__} reads run.summary/config_dict at lines {offenders}"
