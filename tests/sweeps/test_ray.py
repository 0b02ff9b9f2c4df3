"""The Ray backend on a local Ray instance bound to the loopback interface."""

from __future__ import annotations

import json
import logging
import os

import pytest

from learnability.sweep import load_sweep, run_sweep

from .conftest import TINY_BASE

# The smallest object store Ray accepts (bytes): the runs return small dicts only.
OBJECT_STORE_BYTES = 80 * 1024**2


@pytest.fixture
def local_ray():
    """``ray.init(num_cpus=2)`` on 127.0.0.1 only, without usage reporting; shut down after."""
    patch = pytest.MonkeyPatch()
    patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    # Ray binds to the machine's own address unless it treats the node as a laptop (no cluster):
    # then every service listens on loopback only.
    patch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = pytest.importorskip(
        "ray", reason="ray is not installed: pip install 'learnability[ray]' (.ci/run installs it)"
    )
    from ray._private import ray_constants

    patch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)  # if ray was imported earlier
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=OBJECT_STORE_BYTES,
        logging_level=logging.WARNING,
        log_to_driver=False,
    )
    try:
        assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
        yield ray
    finally:
        ray.shutdown()
        patch.undo()


def test_ray_backend_runs_each_run_as_a_task(local_ray, write_sweep, tmp_path) -> None:
    path = write_sweep("seeds = 2\n" + TINY_BASE)
    out = tmp_path / "out"
    sweep = run_sweep(path, backend="ray", out=out, progress=False)
    df = load_sweep(sweep)
    assert (df["status"] == "complete").all(), df["error"].tolist()
    assert df["seed"].tolist() == [0, 1] and (df["test_mse"] > 0).all()
    assert os.getpid() not in set(df["worker_pid"])  # ran in Ray worker processes
    assert df["threads"].tolist() == [1, 1]  # num_cpus=1 per task, torch threads to match
    state = json.loads((sweep / "sweep.json").read_text())["invocations"][-1]
    assert state["resources"]["backend"] == "ray" and state["resources"]["threads"] == 1
    assert (state["executed"], state["failed"]) == (2, 0)
    assert local_ray.is_initialized()  # the caller's Ray instance is left running

    run_sweep(path, backend="ray", out=out, progress=False)  # resumed: nothing to do
    state = json.loads((sweep / "sweep.json").read_text())["invocations"][-1]
    assert (state["executed"], state["skipped"]) == (0, 2)
