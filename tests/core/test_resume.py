"""Resuming a killed run: same numbers as a run never interrupted, no record twice, refusals.

The toy study (an LR sweep with an extension round, then seed training) is cut at every kind of
checkpoint: inside a sweep round, between two training calls, inside the seed training. The
flagship studies are cut in ``tests/studies/test_resume_flagships.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import learnability
import learnability.cli
from learnability.engine.checkpoints import CheckpointStore, ResumeError, load_checkpoint
from learnability.runner import execute, resolve_config, resume_run
from learnability.runs import RunWriter

TIMING = ("wall_seconds", "seconds", "timing")


def summary_numbers(path: Path) -> dict:
    """``summary.json`` without its timings (which differ run to run)."""

    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if not any(t in k for t in TIMING)}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    return strip(json.loads((Path(path) / "summary.json").read_text()))


def metric_records(path: Path) -> list[str]:
    """Every record of ``metrics.jsonl`` without its clock, in order."""
    out = []
    for line in (Path(path) / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        rec.pop("t", None)
        out.append(json.dumps(rec, sort_keys=True))
    return out


class Cut(Exception):
    """Raised by the hook (a KeyboardInterrupt would stop pytest's own handling)."""


def interrupt_at(monkeypatch: pytest.MonkeyPatch, when, exc: type[BaseException] = KeyboardInterrupt) -> list[dict]:
    """Make the run stop right after the checkpoint for which ``when(n, entry)`` is true."""
    seen: list[dict] = []

    def hook(n: int, entry: dict) -> None:
        seen.append(entry)
        if when(n, entry):
            raise exc(f"test: cut after checkpoint {n}")

    monkeypatch.setattr(CheckpointStore, "after_save", hook)
    return seen


@pytest.fixture
def every_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """A mid-call checkpoint after every block (the default waits a minute); no report drawn
    (reports are tested elsewhere; here they would only cost time)."""
    import learnability.runner as runner

    monkeypatch.setenv("LEARNABILITY_CHECKPOINT_SECONDS", "0")
    monkeypatch.setattr(runner, "rebuild_report", lambda path: Path(path) / "report.md")


def toy_run(toy_study, out: Path, **overrides) -> Path:
    cfg = resolve_config(toy_study, smoke=True, overrides=overrides)
    return execute(toy_study, cfg, out=out, progress=False, smoke=True)


def cut_toy_run(toy_study, out: Path, monkeypatch, when) -> Path:
    interrupt_at(monkeypatch, when)
    with pytest.raises(KeyboardInterrupt):
        toy_run(toy_study, out)
    monkeypatch.setattr(CheckpointStore, "after_save", None)
    (folder,) = out.iterdir()
    return folder


@pytest.fixture(scope="module")
def reference(toy_study, tmp_path_factory) -> Path:
    """The toy study's smoke run, never interrupted."""
    return toy_run(toy_study, tmp_path_factory.mktemp("reference"))


def test_every_kind_of_checkpoint_resumes_to_the_same_numbers(
    toy_study, reference, tmp_path, monkeypatch, every_block
) -> None:
    entries = interrupt_at(monkeypatch, lambda n, e: False)
    plain = toy_run(toy_study, tmp_path / "plain")
    assert summary_numbers(plain) == summary_numbers(reference)  # checkpointing changes nothing
    kinds = {(e["tag"], e["part"]) for e in entries}
    # sweep round 0 and its extension, then the seeds: each cut inside and at its end
    assert {("sweep", True), ("sweep", False), ("final", True), ("final", False)} <= kinds
    assert not (plain / "checkpoints").exists()  # a complete run keeps no checkpoint
    # inside the first sweep round, at the end of the sweep (between stages), inside the seed
    # training, after the last training call
    first_final = next(i for i, e in enumerate(entries, 1) if e["tag"] == "final")
    cuts = [1, first_final - 1, first_final + 2, len(entries)]
    assert entries[first_final - 2]["part"] is False  # the sweep's last call, complete
    reference_records = metric_records(reference)
    for n in cuts:
        folder = cut_toy_run(toy_study, tmp_path / f"cut{n}", monkeypatch, lambda k, e, n=n: k == n)
        assert learnability.load_run(folder).status == "interrupted"
        run = learnability.resume(folder, progress=False)
        assert run.status == "complete", n
        assert summary_numbers(folder) == summary_numbers(reference), f"cut after checkpoint {n}"
        assert metric_records(folder) == reference_records, f"cut after checkpoint {n}: records differ"
        (resume,) = run.provenance["resumes"]
        assert resume["previous_status"] == "interrupted" and resume["metrics_bytes_kept"] > 0


def test_a_run_cut_twice_resumes_twice_and_provenance_lists_both(
    toy_study, reference, tmp_path, monkeypatch, every_block
) -> None:
    folder = cut_toy_run(toy_study, tmp_path, monkeypatch, lambda n, e: n == 2)
    interrupt_at(monkeypatch, lambda n, e: e["tag"] == "final")  # the resumed run is cut again
    with pytest.raises(KeyboardInterrupt):
        resume_run(folder, progress=False)
    monkeypatch.setattr(CheckpointStore, "after_save", None)
    run = learnability.resume(folder, progress=False)
    assert summary_numbers(folder) == summary_numbers(reference)
    assert metric_records(folder) == metric_records(reference)
    assert [r["previous_status"] for r in run.provenance["resumes"]] == ["interrupted", "interrupted"]
    assert run.provenance["status"] == "complete"
    assert run.provenance["resumes"][1]["from_seconds"] >= run.provenance["resumes"][0]["from_seconds"]


def test_a_failed_run_resumes(toy_study, reference, tmp_path, monkeypatch, every_block) -> None:
    interrupt_at(monkeypatch, lambda n, e: n == 4, exc=Cut)
    with pytest.raises(Cut):
        toy_run(toy_study, tmp_path)
    monkeypatch.setattr(CheckpointStore, "after_save", None)
    (folder,) = tmp_path.iterdir()
    assert learnability.load_run(folder).status == "failed"
    run = learnability.resume(folder, progress=False)
    assert run.status == "complete" and "error" not in run.provenance
    assert summary_numbers(folder) == summary_numbers(reference)


def test_a_run_killed_with_sigkill_resumes_to_the_same_numbers(toy_study, reference, tmp_path, every_block) -> None:
    # A real SIGKILL of the process right after its 5th checkpoint (inside the sweep's extension).
    code = (
        "import os, signal, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parents[1])!r})\n"
        "from conftest import _load_toy\n"
        "from learnability.engine.checkpoints import CheckpointStore\n"
        "from learnability.runner import execute, resolve_config\n"
        "toy = _load_toy().ensure_registered()\n"
        "def hook(n, entry):\n"
        "    if n == 5:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "CheckpointStore.after_save = hook\n"
        "import torch; torch.set_num_threads(1)\n"
        f"execute(toy, resolve_config(toy, smoke=True), out={str(tmp_path)!r}, progress=False, smoke=True)\n"
    )
    env = {**os.environ, "LEARNABILITY_CHECKPOINT_SECONDS": "0"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    (folder,) = tmp_path.iterdir()
    assert learnability.load_run(folder).status == "incomplete"  # killed: provenance still says running
    res = CliRunner().invoke(learnability.cli.app, ["resume", str(folder), "--no-progress", "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == str(folder)
    assert summary_numbers(folder) == summary_numbers(reference)
    assert metric_records(folder) == metric_records(reference)
    assert learnability.load_run(folder).provenance["resumes"][0]["previous_status"] == "running"


def test_checkpoints_are_loaded_with_weights_only(toy_study, tmp_path, monkeypatch, every_block) -> None:
    folder = cut_toy_run(toy_study, tmp_path, monkeypatch, lambda n, e: n == 3)
    calls: list[dict] = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    resume_run(folder, progress=False)
    assert calls and all(kw.get("weights_only") is True for kw in calls)

    # A checkpoint that would run code when unpickled is refused, naming the file.
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    bad = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, bad)
    with pytest.raises(ResumeError, match="evil.pt: not a readable checkpoint"):
        load_checkpoint(bad)


def test_a_checkpoint_of_another_config_or_code_version_is_refused(
    toy_study, tmp_path, monkeypatch, every_block
) -> None:
    folder = cut_toy_run(toy_study, tmp_path, monkeypatch, lambda n, e: n == 3)
    before = (folder / "metrics.jsonl").read_bytes()

    import learnability.runner as runner

    real = runner._git_commit()
    monkeypatch.setattr(runner, "_git_commit", lambda: {**real, "commit": "0" * 40})
    with pytest.raises(ResumeError, match="another config or code version.*git_commit"):
        resume_run(folder, progress=False)
    monkeypatch.setattr(runner, "_git_commit", lambda: {**real, "dirty": True, "diff_sha256": "feedfeedfeedfeed"})
    with pytest.raises(ResumeError, match="git_diff_sha256"):
        resume_run(folder, progress=False)
    monkeypatch.setattr(runner, "_git_commit", lambda: real)
    monkeypatch.setattr(runner, "__version__", "99.0")
    with pytest.raises(ResumeError, match="version: checkpoint '.*', now '99.0'"):
        resume_run(folder, progress=False)
    monkeypatch.undo()

    config = folder / "config.toml"
    config.write_text(config.read_text().replace("n_train = 512", "n_train = 256"))
    res = CliRunner().invoke(learnability.cli.app, ["resume", str(folder), "--no-progress"])
    assert res.exit_code == 2 and "config_sha256" in res.output and "refused" in res.output
    assert (folder / "metrics.jsonl").read_bytes() == before  # nothing touched
    assert learnability.load_run(folder).status == "interrupted"


def test_a_checkpoint_file_from_another_run_is_refused(toy_study, tmp_path, monkeypatch, every_block) -> None:
    a = cut_toy_run(toy_study, tmp_path / "a", monkeypatch, lambda n, e: n == 2)
    cfg = resolve_config(toy_study, smoke=True, overrides={"seed": 7})
    interrupt_at(monkeypatch, lambda n, e: n == 2)
    with pytest.raises(KeyboardInterrupt):
        execute(toy_study, cfg, out=tmp_path / "b", progress=False, smoke=True)
    monkeypatch.setattr(CheckpointStore, "after_save", None)
    (b,) = (tmp_path / "b").iterdir()
    for f in (b / "checkpoints").glob("*.pt"):
        f.write_bytes((a / "checkpoints" / f.name).read_bytes())
    with pytest.raises(ResumeError, match="another config or code version"):
        resume_run(b, progress=False)


def test_a_completed_run_is_never_overwritten(toy_study, reference, tmp_path, every_block) -> None:
    files = {p.name: p.read_bytes() for p in reference.iterdir() if p.is_file() and not p.name.startswith("report")}
    with pytest.raises(FileExistsError, match="never overwritten"):
        RunWriter(reference, study="toy-regression", config=None, config_toml="")
    path = resume_run(reference, progress=False)  # nothing to run (the report is rebuilt)
    assert path == reference
    after = {p.name: p.read_bytes() for p in reference.iterdir() if p.is_file() and not p.name.startswith("report")}
    assert after.keys() >= files.keys()
    assert {k: after[k] for k in files} == files
    # `learnability run` into the same --out makes a new folder next to it
    res = CliRunner().invoke(
        learnability.cli.app,
        ["run", "toy-regression", "--smoke", "--out", str(reference.parent), "--no-progress", "-q"],
    )
    assert res.exit_code == 0, res.output
    new = Path(res.output.strip().splitlines()[-1])
    assert new != reference and new.parent == reference.parent
    assert {k: (reference / k).read_bytes() for k in files} == files


def test_a_run_killed_during_its_report_gets_its_report_on_resume(toy_study, tmp_path, monkeypatch) -> None:
    import learnability.runner as runner

    real = runner.write_report
    monkeypatch.setattr(runner, "write_report", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        toy_run(toy_study, tmp_path)
    (folder,) = tmp_path.iterdir()
    assert learnability.load_run(folder).complete and not (folder / "report.md").exists()
    summary = (folder / "summary.json").read_bytes()
    monkeypatch.setattr(runner, "write_report", real)
    res = CliRunner().invoke(learnability.cli.app, ["resume", str(folder), "-q"])
    assert res.exit_code == 0, res.output
    assert (folder / "report.md").exists() and (folder / "summary.json").read_bytes() == summary


def test_resume_refuses_a_folder_that_is_no_run(tmp_path) -> None:
    res = CliRunner().invoke(learnability.cli.app, ["resume", str(tmp_path), "--no-progress"])
    assert res.exit_code == 2 and "is not a run folder" in res.output
