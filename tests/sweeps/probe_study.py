"""A study for the sweep tests: the toy study plus probes of the worker that runs it.

``toy-probe`` is the toy regression of ``tests/toy_study.py`` with two extra settings: a barrier
(each run waits until ``barrier_n`` distinct worker processes have reached it, which only
succeeds when that many workers run at once) and ``exit_code`` (the worker process exits at
once, as a process killed by the OS would). Sweep files load it with
``modules = ["tests/sweeps/probe_study.py"]``; it defines a module-level ``Study`` which the
sweep's module loader registers.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

from pydantic import Field

from learnability.studies import Study

TESTS = Path(__file__).resolve().parents[1]


def _toy():
    name = "learnability_tests_toy_study"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TESTS / "toy_study.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


toy = _toy()


class ProbeConfig(toy.ToyConfig):
    """The toy config plus worker probes (tests only)."""

    barrier_dir: str = Field("", description="folder where each run leaves its worker's pid")
    barrier_n: int = Field(0, ge=0, description="wait until this many distinct pids are there")
    barrier_timeout: float = Field(60.0, gt=0, description="seconds before the barrier fails")
    exit_code: int = Field(-1, ge=-1, description="os._exit(code) at the start when >= 0")


def run(cfg: ProbeConfig, ctx) -> dict:
    if cfg.exit_code >= 0:
        os._exit(cfg.exit_code)  # the worker dies without any cleanup, like a SIGKILL
    if cfg.barrier_n:
        folder = Path(cfg.barrier_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / str(os.getpid())).touch()
        deadline = time.monotonic() + cfg.barrier_timeout
        while len(list(folder.iterdir())) < cfg.barrier_n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(list(folder.iterdir()))} of {cfg.barrier_n} workers reached the barrier")
            time.sleep(0.02)
    return toy.run(cfg, ctx)


PROBE = Study(
    "toy-probe",
    "The toy regression with worker probes (sweep tests).",
    ProbeConfig,
    run,
    toy.report,
    smoke=toy.TOY.smoke,
)
