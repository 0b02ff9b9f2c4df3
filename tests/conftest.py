"""Shared fixtures: the toy study used by the core tests, and single-threaded torch."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).parent


def _load_toy():
    name = "learnability_tests_toy_study"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TESTS / "toy_study.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def toy_study():
    """The registered toy study (see tests/toy_study.py)."""
    return _load_toy().ensure_registered()


@pytest.fixture(scope="session")
def toy_script() -> Path:
    return TESTS / "toy_study.py"


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    # Tiny models run fastest on one thread, and tests must not fight over the two CI cores.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
