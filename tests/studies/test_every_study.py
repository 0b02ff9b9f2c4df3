"""The contract every registered study keeps, checked on its smoke run.

* its config documents Command, Runtime and Expected, and its smoke size is a valid config;
* ``run`` returns the study's typed results: ``summary.json`` validates against the results model
  and is exactly what the model writes back;
* the report rebuilds from the run folder alone, in a fresh Python process;
* the report reads the typed results (attributes), never ``summary.json`` through string keys;
* no interval of its results leaves its quantity's domain (errors, distances and ratios above 0,
  fractions within [0, 1]).
"""

from __future__ import annotations

import ast
import inspect
import json
import math
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from learnability.analysis import Estimate, geometric_mean_ratio, mean_estimate
from learnability.config import build_config
from learnability.report import Heatmap
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


# ------------------------------------------------------------------- estimates respect their domain

# A name (field names and string keys on the way to an Estimate) holding one of these words is a
# quantity that cannot be negative: errors, MSEs, distances, ratios, variances, rates, losses.
POSITIVE_WORDS = frozenset(
    {"mse", "error", "errors", "distance", "dist", "ratio", "variance", "lr", "loss", "wasserstein", "ks", "std", "rms"}
    | {"rate"}
)
# ... unless one of these says it is a difference, a slope or a change, which have either sign.
SIGNED_WORDS = frozenset(
    {"gap", "minus", "difference", "diff", "slope", "gain", "change", "effect", "log", "corr", "drop"}
)
UNIT_WORDS = frozenset({"accuracy", "agreement", "fraction"})


def _estimates(obj: object, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Estimate]]:
    """Every Estimate in typed results, with the field names and keys that lead to it."""
    if isinstance(obj, Estimate):
        yield path, obj
    elif isinstance(obj, BaseModel):
        for field in type(obj).model_fields:
            yield from _estimates(getattr(obj, field), (*path, field))
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from _estimates(value, (*path, str(key)))
    elif isinstance(obj, list | tuple):
        for value in obj:
            yield from _estimates(value, path)


def _words(path: tuple[str, ...]) -> set[str]:
    return {w for part in path for w in re.split(r"[^a-z0-9]+", part.lower()) if w}


def domain_problems(path: tuple[str, ...], est: Estimate) -> list[str]:
    """What is wrong with one estimate: an interval outside its kind's domain, a point outside
    its interval, or a quantity that cannot be negative (by its name) left as kind "real"."""
    where, out = ".".join(path), []
    words = _words(path)
    if not (words & SIGNED_WORDS):
        if words & POSITIVE_WORDS and est.kind == "real":
            out.append(f"{where}: a positive quantity of kind 'real' ({est})")
        if words & UNIT_WORDS and est.kind != "unit":
            out.append(f"{where}: a fraction of kind {est.kind!r} ({est})")
    finite = math.isfinite(est.mean)
    if est.kind == "positive" and finite and est.mean <= 0:
        out.append(f"{where}: kind 'positive' with mean {est.mean}")
    if est.kind == "unit" and finite and not 0 <= est.mean <= 1:
        out.append(f"{where}: kind 'unit' with mean {est.mean}")
    if est.has_interval:
        if est.kind == "positive" and est.low <= 0:
            out.append(f"{where}: kind 'positive' with an interval reaching {est.low} ({est})")
        if est.kind == "unit" and not 0 <= est.low <= est.high <= 1:
            out.append(f"{where}: kind 'unit' with an interval outside [0, 1] ({est})")
        tol = 1e-9 * max(1.0, abs(est.mean))
        if not est.low - tol <= est.mean <= est.high + tol:
            out.append(f"{where}: the point lies outside its interval ({est})")
    return out


def test_the_domain_rule_catches_what_it_should() -> None:
    """The rule of the test below on estimates with known faults (it must be able to fail)."""
    t_interval = Estimate(2.36, -1.18, 5.89, 3)  # the Wasserstein distance
    assert domain_problems(("students", "S_o", "wasserstein_est"), t_interval)
    assert domain_problems(("test_mse",), Estimate(2.89, 0.5, 6.56, 3))  # in range but kind 'real'
    assert domain_problems(("x",), Estimate(0.3, -0.1, 0.7, 3, kind="positive"))
    assert domain_problems(("sobol",), Estimate(0.9, 0.8, 1.1, 3, kind="unit"))
    assert domain_problems(("test_accuracy",), Estimate(0.9, 0.8, 0.95, 3))
    assert not domain_problems(("gap_rel_mse_est",), Estimate(0.01, -0.02, 0.04, 3))  # a difference
    assert not domain_problems(("rff_slope",), Estimate(-0.5, -0.51, -0.49, 3))
    assert not domain_problems(("test_mse",), mean_estimate([1.0, 2.0, 9.0], kind="positive"))
    assert not domain_problems(("ratio_est",), geometric_mean_ratio([0.5, 2.0, 3.0]))


@pytest.mark.parametrize("name", STUDIES)
def test_no_interval_leaves_its_quantitys_domain(name: str, smoke_run) -> None:
    """Every Estimate of the study's smoke results: errors, distances, rates, variances and ratios
    are of kind "positive" (an interval above 0), fractions of kind "unit" (within [0, 1])."""
    found = list(_estimates(smoke_run(name).results))
    if not found:
        pytest.skip(f"{name}'s results hold no Estimate")
    problems = [p for path, est in found for p in domain_problems(path, est)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", STUDIES)
def test_every_heat_map_has_axis_labels_and_a_labelled_colour_bar(name: str, smoke_run) -> None:
    """A heat map of numbers (not a picture) says what its axes and its colours are."""
    study = get_study(name)
    report = study.build_report(smoke_run(name))
    problems = [
        f"{chart.name}: panel {panel.title!r}"
        for chart in report.charts
        for panel in chart.panels
        if not panel.image
        and any(isinstance(t, Heatmap) for t in panel.traces)
        and not (
            panel.xlabel
            and panel.ylabel
            and all(t.colorbar and t.colorbar_label for t in panel.traces if isinstance(t, Heatmap))
        )
    ]
    assert not problems, "heat maps without axis or colour-bar labels: " + "; ".join(problems)
