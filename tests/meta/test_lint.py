"""The code base passes the linter and the formatter configured in pyproject.toml ([tool.ruff])."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATHS = ["src", "tests", "benchmarks", "examples", "scripts"]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("ruff") is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]' installs it)")
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", *PATHS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_ruff_check_passes() -> None:
    res = _ruff("check")
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_format_is_applied() -> None:
    """One formatter for the whole code base: `ruff format` leaves every file unchanged."""
    res = _ruff("format", "--check")
    assert res.returncode == 0, res.stdout + res.stderr
