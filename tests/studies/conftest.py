"""One smoke run per study for the whole test session, through the CLI as a user would start it.

Every study test that needs a run of its study at smoke size asks ``smoke_run("NAME")``: the
first call runs ``learnability run NAME --smoke --seed 0`` into a session folder, later calls
(the generic test in ``test_every_study.py``, the study's own known-answer tests) reuse it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from learnability import load_run
from learnability.runs import Run


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Run]:
    """``smoke_run(name) -> Run``: the session's smoke run of study ``name`` (run on first use)."""
    from learnability.cli import app

    runs: dict[str, Run] = {}
    out = tmp_path_factory.mktemp("smoke-runs")

    def get(name: str) -> Run:
        if name not in runs:
            res = CliRunner().invoke(
                app, ["run", name, "--smoke", "--seed", "0", "--out", str(out / name), "--no-progress"]
            )
            assert res.exit_code == 0, res.output
            runs[name] = load_run(Path(res.output.strip().splitlines()[-1]))
        return runs[name]

    return get
