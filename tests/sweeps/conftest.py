"""Helpers for the sweep tests: sweep files of the toy study, sized to run in about a second."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
TOY_MODULE = TESTS / "toy_study.py"
PROBE_MODULE = Path(__file__).resolve().parent / "probe_study.py"

# The toy study at its smallest: 16 points, one hidden layer of 4, 20 steps, one member.
TINY_BASE = """
[base]
n_train = 16
hidden = [4]
train.steps = 20
train.seeds = 1
"""


def sweep_text(body: str, *, study: str = "toy-regression", modules: Sequence[Path] = (TOY_MODULE,)) -> str:
    """A sweep file: ``study`` and ``modules`` first (TOML puts top-level keys before tables)."""
    mods = ", ".join(json.dumps(str(m)) for m in modules)
    return f'study = "{study}"\nmodules = [{mods}]\n{body}'


@pytest.fixture
def write_sweep(tmp_path: Path, toy_study) -> Callable[..., Path]:
    """``write_sweep(body, name="tiny", study=..., modules=...)`` -> path of the file."""

    def write(body: str, *, name: str = "tiny", **kwargs: object) -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(sweep_text(body, **kwargs))  # type: ignore[arg-type]
        return path

    return write
