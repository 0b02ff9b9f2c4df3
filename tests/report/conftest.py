"""A folder of runs shared by the report tests: complete, failed, interrupted, killed, hostile.

Built once per session (about ten seconds): two real runs of the toy study (different seeds, so
the index has a comparison page), runs that failed, were interrupted and were killed, and two runs
of a study whose name, config, tags, summary keys, report text and folder name carry markup and
script, which every page must show as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from learnability import load_run
from learnability.config import StudyConfig
from learnability.report import (
    Chart,
    Figure,
    Heading,
    Line,
    Panel,
    Report,
    Table,
    Text,
    write_report,
)
from learnability.runner import rebuild_report, run_study
from learnability.runs import RunWriter

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
EVIL_STUDY = f"evil{SCRIPT}"
# Steps and members of the hand-written runs' curves.
STEPS = 40
MEMBERS = 3


@dataclass
class RunsFolder:
    root: Path
    complete: list[Path]
    failed: Path
    interrupted: Path
    killed: Path
    evil: list[Path]


def _writer(path: Path, study: str, config_toml: str = "seed = 0\n", seed: int = 0) -> RunWriter:
    w = RunWriter(
        path, study=study, config=StudyConfig(seed=seed), config_toml=config_toml, argv=["learnability", "run", study]
    )
    steps = np.arange(STEPS)
    loss = np.exp(-steps / 10.0)[:, None] * (1.0 + 0.1 * np.arange(MEMBERS))[None, :]  # (steps, K)
    w.log_block("train_loss", steps, loss, tag="final")
    w.log_block("test_loss", steps[::10], 1.5 * loss[::10], tag="final")
    return w


def evil_report(run) -> Report:
    """A report whose every text field carries markup and script."""
    x = np.arange(STEPS, dtype=float)
    chart = Chart(
        IMG,
        [
            Panel(
                [Line(x, np.exp(-x / 10), label=f"</script>{SCRIPT}", band=(x * 0, x * 0 + 1))],
                title=SCRIPT,
                xlabel=IMG,
                ylabel=SCRIPT,
            )
        ],
        title=f"{SCRIPT}{IMG}",
        caption=f"caption {SCRIPT} {IMG}",
    )
    rep = Report(title=f"Report {SCRIPT}", headline={SCRIPT: IMG, "plain": run.summary.get(SCRIPT, "—")})
    rep.add(
        Heading(f"Heading {SCRIPT}"),
        Text(f"Text {SCRIPT} and {IMG} and [link](javascript:alert(1))"),
        Table([SCRIPT, IMG], [[SCRIPT, IMG], [1.5, 2]], caption=IMG),
        Figure(chart),
    )
    return rep


@pytest.fixture(scope="session")
def runs(toy_study, tmp_path_factory) -> RunsFolder:
    root = tmp_path_factory.mktemp("runs")
    complete = [run_study("toy-regression", smoke=True, out=root, progress=False, seed=s).path for s in (1, 2)]

    w = _writer(root / "toy-failed", "toy-regression")
    try:
        raise RuntimeError("selection exploded")
    except RuntimeError as exc:
        w.fail(exc)
    rebuild_report(w.path)

    w = _writer(root / "toy-interrupted", "toy-regression")
    w.fail(KeyboardInterrupt())
    rebuild_report(w.path)

    # A killed process leaves provenance "running" and no summary; it never writes a report.
    w = _writer(root / "toy-killed", "toy-regression")
    w._metrics.close()  # the process died with the file open; here only the handle is released
    killed = w.path

    evil = []
    for seed in (0, 1):
        w = _writer(
            root / "hostile" / f"{IMG}-{seed}",
            EVIL_STUDY,
            seed=seed,
            config_toml=f"seed = {seed}\nname = \"{SCRIPT}\"\nother = '{IMG}'\n",
        )
        w.log("test_loss", step=0, tag=SCRIPT, value=[1.0, 2.0])
        w.log("test_loss", step=1, tag=SCRIPT, value=[0.5, 1.0])
        w.finish({SCRIPT: 0.5 + seed, "note": IMG})
        write_report(evil_report(load_run(w.path)), load_run(w.path))
        evil.append(w.path)
    return RunsFolder(root, complete, root / "toy-failed", root / "toy-interrupted", killed, evil)
