"""Runs at the edges (issue 19): a full disk, racing runs, bad inputs refused before any work,
absurd sizes, corrupt folders read back, and a second Ctrl-C during cleanup."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import Field
from typer.testing import CliRunner

from learnability import load_run
from learnability._validation import ParameterError
from learnability.cli import EXIT_CONFIG, app
from learnability.config import ConfigError, ConfigSection, OrderedPair, StudyConfig, build_config
from learnability.report import write_index
from learnability.runner import check_memory, execute, rebuild_report, resolve_config, run_study
from learnability.runs import CorruptRunError, RunWriter, atomic_path, new_run_dir, read_run, write_atomic
from learnability.studies import MemoryEstimate, register

cli = CliRunner()

# The toy study at its smallest (about a second).
TINY = ["n_train=16", "hidden=[4]", "train.steps=20", "train.seeds=1"]


def _tiny(study):
    return resolve_config(study, assignments=TINY)


@pytest.fixture(scope="module")
def complete_run(tmp_path_factory, toy_study) -> Path:
    """One complete toy run, copied by each test that damages it."""
    out = tmp_path_factory.mktemp("complete")
    return execute(toy_study, _tiny(toy_study), out=out, progress=False)


@pytest.fixture
def damaged(complete_run, tmp_path) -> Path:
    """A private copy of the complete run, to damage."""
    return Path(shutil.copytree(complete_run, tmp_path / "runs" / complete_run.name))


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# --------------------------------------------------------------------------- 1. a full disk


def test_disk_full_while_consolidating_leaves_a_readable_failed_run(toy_study, tmp_path, monkeypatch) -> None:
    real_to_parquet = pd.DataFrame.to_parquet

    def half_written_parquet(self, path, *args, **kwargs):
        if "metrics.parquet" not in Path(path).name:
            return real_to_parquet(self, path, *args, **kwargs)
        Path(path).write_bytes(b"")  # what a full disk leaves behind
        _enospc()

    monkeypatch.setattr(pd.DataFrame, "to_parquet", half_written_parquet)
    with pytest.raises(OSError, match="metrics.parquet") as info:
        execute(toy_study, _tiny(toy_study), out=tmp_path, progress=False)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    (run_dir,) = tmp_path.iterdir()
    assert not (run_dir / "metrics.parquet").exists()
    assert not list(run_dir.glob(".*.tmp")) and not list(run_dir.glob("*.tmp"))
    run = load_run(run_dir)
    assert run.status == "failed" and not (run_dir / "summary.json").exists()
    assert (run.metrics["series"] == "train_loss").any()  # read from the intact metrics.jsonl


def test_a_garbled_or_stale_parquet_is_not_used(damaged) -> None:
    (damaged / "metrics.parquet").write_bytes(b"PAR1 garbage")
    run = read_run(damaged)
    assert (run.metrics["series"] == "train_loss").any()
    # A parquet older than the jsonl (consolidated before more records came) is not used either.
    pd.DataFrame({"series": ["stale"], "value": [1.0]}).to_parquet(damaged / "metrics.parquet")
    os.utime(damaged / "metrics.parquet", (0, 0))
    assert "stale" not in set(read_run(damaged).metrics["series"])


def test_atomic_write_keeps_the_old_file_and_names_the_path(tmp_path) -> None:
    target = tmp_path / "report.html"
    target.write_text("the complete old report")
    with pytest.raises(OSError, match="report.html") as info, atomic_path(target) as tmp:
        tmp.write_text("half a rep")
        _enospc()
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert target.read_text() == "the complete old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    write_atomic(target, "new")
    assert target.read_text() == "new"


def test_every_file_of_the_run_folder_is_written_atomically(toy_study, tmp_path, monkeypatch) -> None:
    # Any write that goes straight to its final name (no os.replace) is caught here.
    replaced: list[str] = []
    real_replace = os.replace

    def recording_replace(src, dst, *args, **kwargs):
        replaced.append(Path(dst).name)
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", recording_replace)
    run_dir = execute(toy_study, _tiny(toy_study), out=tmp_path, progress=False)
    monkeypatch.undo()
    writer = RunWriter(tmp_path / "w", study="toy-regression", config=_tiny(toy_study), config_toml="seed = 0\n")
    monkeypatch.setattr(os, "replace", recording_replace)
    writer.save_arrays("a", x=np.arange(3))
    writer.save_table("t", pd.DataFrame({"x": [1]}))
    writer.save_json("j", {"x": 1})
    writer.fail(KeyboardInterrupt())
    for name in ("config.toml", "provenance.json", "metrics.parquet", "summary.json", "report.md", "report.html"):
        assert name in replaced, name
    assert "headline.json" in replaced and {"a.npz", "t.parquet", "j.json"} <= set(replaced)
    assert any(n.endswith(".png") for n in replaced)
    assert load_run(run_dir).complete


def test_a_failed_artifact_write_leaves_no_artifact(tmp_path, monkeypatch, toy_study) -> None:
    writer = RunWriter(tmp_path / "w", study="toy-regression", config=_tiny(toy_study), config_toml="seed = 0\n")

    def partial(file, **arrays):
        file.write(b"PK\x03\x04 partial")
        _enospc()

    monkeypatch.setattr(np, "savez_compressed", partial)
    with pytest.raises(OSError, match="a.npz"):
        writer.save_arrays("a", x=np.arange(3))
    writer.fail(KeyboardInterrupt())
    assert not any((tmp_path / "w" / "artifacts").iterdir())


# --------------------------------------------------------------------------- 2. racing runs


def test_run_folders_are_created_atomically(tmp_path) -> None:
    first = new_run_dir(tmp_path, "toy", 0)
    assert first.is_dir()  # created, not only named
    second = new_run_dir(tmp_path, "toy", 0)
    assert second.is_dir() and second != first


def test_runs_started_at_the_same_instant_each_get_a_folder(toy_study, tmp_path) -> None:
    n = 6
    barrier = threading.Barrier(n)
    paths: list[Path] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait()
            path = new_run_dir(tmp_path, "toy-regression", 0)
            writer = RunWriter(path, study="toy-regression", config=_tiny(toy_study), config_toml="seed = 0\n")
            writer.fail(KeyboardInterrupt())
            paths.append(path)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(paths)) == n


def test_a_run_folder_is_never_overwritten(complete_run, toy_study) -> None:
    with pytest.raises(FileExistsError, match="never overwritten"):
        RunWriter(complete_run, study="toy-regression", config=_tiny(toy_study), config_toml="seed = 0\n")


# --------------------------------------------------------------------------- 4. checks before work


class _Search(ConfigSection):
    ordered_pairs = (OrderedPair("lr_low", "lr_high"),)
    lr_low: float = Field(1e-3, gt=0)
    lr_high: float = Field(1e-1, gt=0)


class _Edges(StudyConfig):
    lr: float = Field(0.1, gt=0)
    noise_sd: float = Field(0.0, ge=0)
    offset: float = 0.0
    widths: list[float] = Field(default_factory=lambda: [1.0])
    search: _Search = Field(default_factory=_Search)
    ordered_pairs = (OrderedPair("x_low", "x_high", strict=False),)
    x_low: float = -1.0
    x_high: float = 1.0


def _problems(**layer) -> str:
    with pytest.raises(ConfigError) as info:
        build_config(_Edges, owner="teacher-student", layers=[layer])
    return str(info.value)


def test_non_finite_floats_are_refused_everywhere() -> None:
    inf, nan = float("inf"), float("nan")
    assert _problems(lr=inf) == (
        "The 'lr' parameter of teacher-student must be a finite float in the range (0, inf). Got inf instead."
    )
    assert _problems(noise_sd=inf).startswith("The 'noise_sd' parameter of teacher-student must be a finite float")
    assert _problems(offset=nan) == "The 'offset' parameter of teacher-student must be a finite float. Got nan instead."
    assert "'widths' parameter of teacher-student must be a list of finite floats" in _problems(widths=[1.0, -inf])
    assert "'search.lr_high'" in _problems(search={"lr_high": inf})


def test_ordered_pairs_are_refused_with_the_message_shape() -> None:
    assert _problems(search={"lr_low": 0.1, "lr_high": 0.01}) == (
        "The 'search.lr_high' parameter of teacher-student must be a float greater than search.lr_low (0.1). "
        "Got 0.01 instead."
    )
    assert _problems(x_low=2.0, x_high=1.0) == (
        "The 'x_high' parameter of teacher-student must be a float greater than or equal to x_low (2.0). "
        "Got 1.0 instead."
    )
    assert build_config(_Edges, owner="t", layers=[{"x_low": 1.0, "x_high": 1.0}]).x_high == 1.0
    with pytest.raises(ValueError, match="lr_high"):  # direct construction checks too
        _Search(lr_low=0.1, lr_high=0.01)


def test_an_ordered_pair_must_name_fields() -> None:
    with pytest.raises(TypeError, match="'lr_hihg', which is not a field"):

        class _Typo(ConfigSection):
            ordered_pairs = (("lr_low", "lr_hihg"),)
            lr_low: float = 0.1
            lr_high: float = 1.0


def test_a_bool_is_not_a_number() -> None:
    assert _problems(seed=True) == (
        "The 'seed' parameter of teacher-student must be an int in the range [0, inf). Got True instead."
    )
    assert "'lr' parameter of teacher-student must be a float" in _problems(lr=True)


def test_run_study_refuses_bad_config_and_seed_types(toy_study, tmp_path) -> None:
    with pytest.raises(ParameterError, match="'config' parameter of run_study must be a TOML file"):
        run_study("toy-regression", config=123, out=tmp_path)
    with pytest.raises(ConfigError, match="'seed' parameter of toy-regression must be an int"):
        run_study("toy-regression", seed=True, out=tmp_path)
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------- 5. absurd sizes


def test_an_absurd_size_is_refused_before_the_run_folder(toy_study, tmp_path, monkeypatch) -> None:
    import learnability.runner as runner

    def estimate(cfg):
        return MemoryEstimate(cfg.n_train * 4 * 8 * 2**20, "n_train")  # 32 MiB per point

    big = dataclasses.replace(toy_study, memory_bytes=estimate)
    monkeypatch.setattr(runner, "available_memory", lambda: 2**30)
    cfg = resolve_config(big, overrides={"n_train": 10**6})
    with pytest.raises(ParameterError) as info:
        execute(big, cfg, out=tmp_path / "runs", progress=False)
    assert str(info.value) == (
        "The 'n_train' parameter of toy-regression must be small enough for the run to fit in memory "
        "(the run needs an estimated 3.12e+04 GiB; 1 GiB is available). Got 1000000 instead."
    )
    assert not (tmp_path / "runs").exists()
    check_memory(big, resolve_config(big, overrides={"n_train": 16}))  # 512 MiB fits
    plain = dataclasses.replace(toy_study, memory_bytes=lambda cfg: 2**40)
    with pytest.raises(ParameterError, match="'config' parameter of toy-regression must be small enough"):
        check_memory(plain, cfg, available=2**30)


def test_available_memory_is_read_on_linux() -> None:
    from learnability.runner import available_memory

    have = available_memory()
    if not Path("/proc/meminfo").exists():
        assert have is None
    else:
        assert isinstance(have, int) and have > 0


# --------------------------------------------------------------------------- 6. messages, not tracebacks


def _run_cli(*args: str):
    return cli.invoke(app, ["run", "toy-regression", "--no-progress", *(f"--set={a}" for a in TINY), *args])


def _one_error(res) -> str:
    assert res.exit_code == EXIT_CONFIG, res.output
    errors = [line for line in res.output.splitlines() if line.startswith("error: ")]
    assert errors and "Traceback" not in res.output, res.output
    return errors[0]


def test_out_pointing_at_or_below_a_file_is_one_message(toy_study, tmp_path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    assert "The 'out' parameter of learnability run must be a folder" in _one_error(_run_cli("--out", str(file)))
    assert "'out' parameter" in _one_error(_run_cli("--out", str(file / "below")))
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_out_in_a_read_only_place_is_one_message(toy_study, tmp_path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert "permission denied" in _one_error(_run_cli("--out", str(ro / "runs")))
        assert not any(ro.iterdir())
    finally:
        ro.chmod(0o700)


def test_config_that_is_a_directory_or_binary_is_one_message(toy_study, tmp_path) -> None:
    assert "is a directory" in _one_error(_run_cli("--config", str(tmp_path), "--out", str(tmp_path / "o")))
    binary = tmp_path / "c.toml"
    binary.write_bytes(bytes(range(256)))
    assert "is not a text (UTF-8) file" in _one_error(_run_cli("--config", str(binary), "--out", str(tmp_path / "o")))
    assert not (tmp_path / "o").exists()


def test_data_file_errors_are_one_message_and_leave_no_folder(toy_study, tmp_path) -> None:
    from learnability.data import DataFileError

    def run(cfg, ctx):
        raise DataFileError(tmp_path / "train-images-idx3-ubyte", "wrong magic number 0x0000 (expected 0x0803)")

    register(dataclasses.replace(toy_study, name="toy-bad-data", run=run))
    res = cli.invoke(app, ["run", "toy-bad-data", "--no-progress", "--out", str(tmp_path / "runs")])
    assert "train-images-idx3-ubyte: wrong magic number" in _one_error(res)
    assert not any((tmp_path / "runs").iterdir())


# --------------------------------------------------------------------------- 7. corrupt folders


@pytest.mark.parametrize("damage", ["missing", "garbled", "empty"])
def test_a_damaged_summary_never_reads_complete(damaged, damage) -> None:
    summary = damaged / "summary.json"
    if damage == "missing":
        summary.unlink()
    else:
        summary.write_text('{"test_mse": 0.1, "te' if damage == "garbled" else "{}")
    run = load_run(damaged)
    assert run.status == "corrupt" and not run.complete and "summary.json" in run.problem
    res = cli.invoke(app, ["report", str(damaged)])
    assert res.exit_code == 0, res.output
    text = (damaged / "report.md").read_text()
    assert "corrupt" in text and "summary.json" in text


def test_a_summary_missing_what_the_report_reads_gives_the_incomplete_report(damaged) -> None:
    (damaged / "summary.json").write_text(json.dumps({"study": "toy-regression", "lr": 0.1}))
    rebuild_report(damaged)
    text = (damaged / "report.md").read_text()
    assert "corrupt" in text and "KeyError" in text


def test_a_garbled_config_is_one_error_naming_it(damaged) -> None:
    (damaged / "config.toml").write_text("seed = = 3\n[[")
    with pytest.raises(CorruptRunError, match="config.toml: not valid TOML"):
        load_run(damaged)
    res = cli.invoke(app, ["report", str(damaged)])
    assert res.exit_code == EXIT_CONFIG and "config.toml: not valid TOML" in _one_error(res)


def test_garbled_artifacts_are_errors_naming_the_file(damaged) -> None:
    run = load_run(damaged)
    (damaged / "artifacts" / "x.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(CorruptRunError, match=r"x\.npz: not a readable \.npz archive"):
        run.load_arrays("x")
    (damaged / "artifacts" / "sweep.parquet").write_bytes(b"PAR1 garbage PAR1")
    with pytest.raises(CorruptRunError, match=r"sweep\.parquet: not a readable Parquet file"):
        run.load_table("sweep")


def test_lost_metric_lines_are_counted_and_reported(damaged) -> None:
    jl = damaged / "metrics.jsonl"
    lines = jl.read_text().splitlines()
    lines[3] = lines[3][: len(lines[3]) // 2]  # two damaged lines in the middle
    lines[5] = "\x00\x00garbage"
    jl.write_text("\n".join(lines) + "\n" + '{"series": "cut', encoding="utf-8")  # and a cut last line
    (damaged / "metrics.parquet").unlink()
    run = load_run(damaged)
    assert run.lost_metric_lines == 2
    rebuild_report(damaged)
    assert "2 lines of `metrics.jsonl` could not be read" in (damaged / "report.md").read_text()


def test_report_index_skips_a_bad_run_and_says_so(damaged, complete_run) -> None:
    root = damaged.parent
    good = shutil.copytree(complete_run, root / "good")
    bad_config = shutil.copytree(complete_run, root / "bad-config")
    (bad_config / "config.toml").write_bytes(b"\xff\xfe garbage")
    (damaged / "summary.json").unlink()
    (good / "metrics.parquet").write_bytes(b"")
    skipped: list[str] = []
    path = write_index(root, on_skip=lambda rel, reason: skipped.append(rel))
    assert sorted(skipped) == sorted(["bad-config", damaged.name])
    html = path.read_text()
    assert "good" in html and "corrupt" in html and "unreadable" in html
    res = cli.invoke(app, ["report", "--index", str(root)])
    assert res.exit_code == 0 and "skipped bad-config: CorruptRunError" in res.output


# --------------------------------------------------------------------------- 8. status bookkeeping


def test_a_second_ctrl_c_during_cleanup_leaves_the_run_interrupted(toy_study, tmp_path, monkeypatch) -> None:
    import learnability.runs as runs

    def interrupted(cfg, ctx):
        ctx.log("train_loss", step=0, value=1.0)
        raise KeyboardInterrupt

    def second_ctrl_c(run_dir):
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "consolidate_metrics", second_ctrl_c)
    study = dataclasses.replace(toy_study, run=interrupted)
    with pytest.raises(KeyboardInterrupt):
        execute(study, _tiny(study), out=tmp_path, progress=False)
    (run_dir,) = tmp_path.iterdir()
    assert json.loads((run_dir / "provenance.json").read_text())["status"] == "interrupted"
