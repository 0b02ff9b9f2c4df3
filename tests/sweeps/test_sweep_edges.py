"""A killed sweep (issue 19): its workers die with it, and its invocation reads "killed"."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from learnability.sweep import load_sweep, run_sweep
from learnability.sweep._backends import process_alive

from .conftest import TINY_BASE

# Seconds a worker may take to notice that the sweep died (PARENT_POLL_S is 1 s; SIGKILL is at once).
WORKER_DEATH_S = 15.0

_SWEEP_PROCESS = """
import os, sys, time
from learnability.sweep._backends import local_pool

pool = local_pool(1)
print(pool.submit(os.getpid).result(), flush=True)
pool.submit(time.sleep, 600)  # a long run in flight
time.sleep(600)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_workers_die_with_a_killed_sweep(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    parent = subprocess.Popen([sys.executable, "-c", _SWEEP_PROCESS], stdout=subprocess.PIPE, text=True, env=env)
    worker = None
    try:
        worker = int(parent.stdout.readline())
        assert process_alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + WORKER_DEATH_S
        while process_alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not process_alive(worker), "the worker outlived its sweep"
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.stdout.close()
        if worker is not None and process_alive(worker):
            os.kill(worker, signal.SIGKILL)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_invocation_reads_killed(write_sweep, tmp_path: Path) -> None:
    path = write_sweep(TINY_BASE + "[axes]\nlr_low = [0.001]\n")
    sweep = run_sweep(path, out=tmp_path / "out", progress=False)
    state_file = sweep / "sweep.json"
    state = json.loads(state_file.read_text())
    killed = dict(state["invocations"][-1], status="running", finished=None, pid=_dead_pid())
    state["invocations"].append(killed)  # what a `kill -9` of the sweep leaves behind
    state_file.write_text(json.dumps(state))
    assert load_sweep(sweep).attrs["invocations"][-1]["status"] == "killed"
    run_sweep(path, out=tmp_path / "out", progress=False)  # the next invocation records it
    statuses = [inv["status"] for inv in json.loads(state_file.read_text())["invocations"]]
    assert statuses == ["complete", "killed", "complete"]
