"""Every study on a CUDA GPU: those that train with torch run at smoke size with ``--device cuda``
and record the device; those that compute with NumPy/scikit-learn refuse it before any work.

Skipped where there is no CUDA GPU (CUDA is never a requirement); run on one with
``python -m pytest tests/studies/test_cuda_studies.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from learnability.cli import EXIT_CONFIG, app
from learnability.studies import get_study, list_studies

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

STUDIES = [s.name for s in list_studies()]


@pytest.mark.parametrize("name", STUDIES)
def test_study_runs_on_cuda_or_refuses_it(name: str, tmp_path: Path) -> None:
    study = get_study(name)
    res = CliRunner().invoke(
        app, ["run", name, "--smoke", "--seed", "0", "--device", "cuda", "--out", str(tmp_path), "--no-progress"]
    )
    if "cuda" not in study.devices:
        assert res.exit_code == EXIT_CONFIG and "'device' parameter" in res.output, res.output
        assert not any(tmp_path.iterdir()), "a refused device created a run folder"
        return
    assert res.exit_code == 0, res.output
    run_dir = Path(res.output.strip().splitlines()[-1])
    if not run_dir.is_absolute():
        run_dir = Path.cwd() / run_dir
    provenance = json.loads((run_dir / "provenance.json").read_text())
    assert provenance["status"] == "complete"
    assert provenance["device"] == "cuda" and provenance["device_name"], provenance["device"]
    assert (run_dir / "summary.json").is_file() and (run_dir / "report.html").is_file()
