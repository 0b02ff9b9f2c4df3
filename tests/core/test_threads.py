"""The thread count a run takes when nobody chose one: every core on an idle machine, the cores
other processes leave on a busy one, never fewer than one."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from learnability._threads import auto_threads


@pytest.mark.parametrize(
    ("cores", "load", "expected"),
    [(2, 0.05, 2), (2, 0.6, 1), (2, 0.4, 2), (2, 1.0, 1), (2, 4.5, 1), (16, 3.2, 13), (8, 0.0, 8), (4, None, 4)],
)
def test_auto_threads_leaves_the_busy_cores(cores: int, load: float | None, expected: int, monkeypatch) -> None:
    if load is None:  # a platform without a load average: every core
        monkeypatch.setattr("os.getloadavg", lambda: (_ for _ in ()).throw(OSError()))
    assert auto_threads(cores, load) == expected


def test_run_takes_auto_threads_and_an_explicit_count_wins(toy_study, tmp_path, monkeypatch) -> None:
    import json

    from learnability.cli import app

    monkeypatch.setattr("learnability._threads.auto_threads", lambda *a, **k: 1)
    before = torch.get_num_threads()
    try:
        for args, expected in (([], 1), (["--threads", "2"], 2)):
            res = CliRunner().invoke(
                app, ["run", "toy-regression", "--smoke", "--out", str(tmp_path), "--no-progress", *args]
            )
            assert res.exit_code == 0, res.output
            run_dir = res.output.strip().splitlines()[-1]
            assert (
                json.loads((tmp_path / run_dir.split("/")[-1] / "provenance.json").read_text())["threads"] == expected
            )
    finally:
        torch.set_num_threads(before)
