"""Sweep files: expansion into exact plans, run ids, and errors reported before anything runs."""

from __future__ import annotations

import hashlib
import json
import sys

import pytest

from learnability._validation import ParameterError
from learnability.config import ConfigError
from learnability.runner import resolve_config
from learnability.sweep import (
    Axis,
    SweepError,
    choose_resources,
    example_path,
    list_examples,
    plan_sweep,
    run_sweep,
)
from learnability.sweep._plan import run_id_for
from learnability.sweep._sweep import build_tasks

from .conftest import TINY_BASE


def _points(plan):
    return [(r.point, r.seed) for r in plan.runs]


def test_crossed_axes_with_a_seed_count(write_sweep) -> None:
    plan = plan_sweep(write_sweep("seeds = 2\n" + TINY_BASE + '[axes]\nn_train = [16, 32]\n"train.steps" = [10, 20]\n'))
    a, b = "n_train", "train.steps"
    assert _points(plan) == [
        ({a: 16, b: 10}, 0),
        ({a: 16, b: 10}, 1),
        ({a: 16, b: 20}, 0),
        ({a: 16, b: 20}, 1),
        ({a: 32, b: 10}, 0),
        ({a: 32, b: 10}, 1),
        ({a: 32, b: 20}, 0),
        ({a: 32, b: 20}, 1),
    ]
    assert [r.index for r in plan.runs] == list(range(8))
    assert plan.axes == (Axis("n_train", (16, 32)), Axis("train.steps", (10, 20)))
    run = plan.runs[3]
    assert run.overrides == {"n_train": 16, "hidden": [4], "train.steps": 20, "train.seeds": 1, "seed": 1}
    assert (run.config["n_train"], run.config["train"]["steps"], run.config["seed"]) == (16, 20, 1)
    assert run.config["train"]["batch_size"] == 16  # the study's default is kept


def test_run_ids_are_readable_stable_and_digest_the_resolved_config(write_sweep) -> None:
    path = write_sweep("seeds = 2\n" + TINY_BASE + '[axes]\nn_train = [16, 32]\n"train.steps" = [10, 20]\n')
    plan = plan_sweep(path)
    run = plan.runs[3]
    digest = hashlib.sha256(
        json.dumps({"study": "toy-regression", "config": run.config}, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert run.run_id == f"n_train=16_steps=20_s1-{digest[:10]}"
    assert run.run_id == run_id_for("toy-regression", run.config, run.point, 1)
    assert len({r.run_id for r in plan.runs}) == 8
    assert [r.run_id for r in plan_sweep(path).runs] == [r.run_id for r in plan.runs]
    # Same config, same id, whichever way the file says it: a changed base changes every id.
    changed = plan_sweep(
        write_sweep(
            "seeds = 2\n"
            + TINY_BASE.replace("hidden = [4]", "hidden = [5]")
            + '[axes]\nn_train = [16, 32]\n"train.steps" = [10, 20]\n',
            name="other",
        )
    )
    assert not {r.run_id for r in changed.runs} & {r.run_id for r in plan.runs}


def test_zipped_axes_vary_together_in_place_of_their_first_axis(write_sweep) -> None:
    plan = plan_sweep(
        write_sweep(
            'zip = [["train.steps", "n_train"]]\n'
            + TINY_BASE
            + '[axes]\nn_train = [16, 32, 64]\nlr_low = [0.001, 0.01]\n"train.steps" = [10, 20, 30]\n'
        )
    )
    n, lr, s = "n_train", "lr_low", "train.steps"
    assert _points(plan) == [
        ({n: 16, lr: 0.001, s: 10}, 0),
        ({n: 16, lr: 0.01, s: 10}, 0),
        ({n: 32, lr: 0.001, s: 20}, 0),
        ({n: 32, lr: 0.01, s: 20}, 0),
        ({n: 64, lr: 0.001, s: 30}, 0),
        ({n: 64, lr: 0.01, s: 30}, 0),
    ]
    assert plan.zip == (("train.steps", "n_train"),)


def test_log_and_linear_ranges(write_sweep) -> None:
    plan = plan_sweep(
        write_sweep(
            TINY_BASE
            + """[axes]
lr_high = { start = 0.001, stop = 0.1, num = 3, scale = "log" }
n_train = { start = 16, stop = 64, num = 4 }
"train.steps" = { start = 2, stop = 1024, num = 10, scale = "log" }
lr_low = { start = 0.0001, stop = 0.0005, num = 5 }
"train.batch_size" = { start = 8, stop = 8, num = 1, scale = "log" }
"""
        )
    )
    assert plan.axes == (
        Axis("lr_high", (0.001, 0.01, 0.1), "log"),
        Axis("n_train", (16, 32, 48, 64), "linear"),
        Axis("train.steps", (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), "log"),
        Axis("lr_low", (0.0001, 0.0002, 0.0003, 0.0004, 0.0005), "linear"),
        Axis("train.batch_size", (8,), "log"),
    )
    assert all(isinstance(v, int) for v in plan.axes[2].values)
    assert len(plan.runs) == 3 * 4 * 10 * 5
    assert plan.runs[-1].point == {
        "lr_high": 0.1,
        "n_train": 64,
        "train.steps": 1024,
        "lr_low": 0.0005,
        "train.batch_size": 8,
    }


def test_values_table_nested_axes_seed_list_and_smoke(write_sweep) -> None:
    quoted = plan_sweep(
        write_sweep(
            "seeds = [3, 7]\nsmoke = true\n[base]\nn_train = 16\n[axes]\n"
            'lr_high = { values = [0.01, 0.1], scale = "log" }\n'
            '"train.batch_size" = [4, 8]\n',
            name="quoted",
        )
    )
    nested = plan_sweep(
        write_sweep(
            "seeds = [3, 7]\nsmoke = true\n[base]\nn_train = 16\n[axes]\n"
            'lr_high = { values = [0.01, 0.1], scale = "log" }\n'
            "[axes.train]\nbatch_size = [4, 8]\n",
            name="nested",
        )
    )
    assert [r.run_id for r in nested.runs] == [r.run_id for r in quoted.runs]
    assert quoted.axes[0] == Axis("lr_high", (0.01, 0.1), "log")
    assert [r.seed for r in quoted.runs] == [3, 7] * 4
    assert {r.config["train"]["steps"] for r in quoted.runs} == {100}  # the toy's smoke size


def test_without_seeds_each_point_runs_once_with_the_base_seed(write_sweep) -> None:
    plan = plan_sweep(write_sweep(TINY_BASE + "seed = 5\n[axes]\nn_train = [16, 32]\n"))
    assert _points(plan) == [({"n_train": 16}, 5), ({"n_train": 32}, 5)]


def test_no_axes_only_seeds(write_sweep) -> None:
    plan = plan_sweep(write_sweep("seeds = 3\n" + TINY_BASE))
    assert _points(plan) == [({}, 0), ({}, 1), ({}, 2)]
    assert plan.runs[0].run_id.startswith("s0-")


def test_config_errors_are_the_messages_of_learnability_run_and_nothing_is_created(
    write_sweep, toy_study, tmp_path
) -> None:
    path = write_sweep(
        "seeds = 2\n" + TINY_BASE + 'n_trian = 16\n[axes]\nn_train = [8, 16, 32]\n"train.batch_size" = [0]\n'
    )
    expected = []
    for overrides in ({"n_trian": 16}, {"n_train": 8}, {"train.batch_size": 0}):
        with pytest.raises(ConfigError) as err:
            resolve_config(toy_study, overrides=overrides)
        expected += err.value.messages
    out = tmp_path / "out"
    with pytest.raises(SweepError) as err:
        run_sweep(path, out=out, progress=False)
    assert sorted(err.value.messages) == sorted(expected)  # each problem once, for 6 bad runs
    assert (
        "The 'n_train' parameter of toy-regression must be an int in the range [16, inf). "
        "Got 8 instead." in err.value.messages
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("axis = 1\n", "Unknown key 'axis' in sweep file tiny.toml. Did you mean 'axes'?"),
        (
            "[axes]\nn_train = { start = 16, stop = 64, num = 0 }\n",
            (
                "The 'axes.n_train.num' parameter of sweep file tiny.toml must be an int in the range "
                "[1, inf). Got 0 instead."
            ),
        ),
        (
            "[axes]\nlr_low = { start = 0, stop = 0.1, num = 3, scale = 'log' }\n",
            (
                "The 'axes.lr_low.start' parameter of sweep file tiny.toml must be a number in the range "
                "(0, inf) for a log range. Got 0 instead."
            ),
        ),
        ("[axes]\nn_train = { start = 16, stop = 18, num = 5 }\n", "rounding gave [16, 16, 17, 18, 18]"),
        ("[axes]\nn_train = [16, 16]\n", "must be a list without repeated values. Got [16, 16] instead."),
        ("[axes]\nn_train = []\n", "must be a non-empty list of values. Got [] instead."),
        ("[axes]\nseed = [1, 2]\n", "The seed is varied by the top-level 'seeds' key"),
        ("seeds = 0\n", "The 'seeds' parameter of sweep file tiny.toml must be an int in the range [1, inf)"),
        (
            "zip = [['n_train', 'lr_low']]\n[axes]\nn_train = [16, 32]\nlr_low = [0.001]\n",
            "must have the same number of values. Got {'n_train': 2, 'lr_low': 1} instead.",
        ),
        (
            "zip = [['n_tran']]\n[axes]\nn_train = [16, 32]\n",
            "names 'n_tran', which is not an axis. Did you mean 'n_train'?",
        ),
        ("seeds = 2\n[base]\nseed = 3\n", "remove 'seed' from [base]"),
        ("[resources]\nthread = 2\n", "Unknown key 'thread' in [resources] of sweep file tiny.toml."),
        (
            "[axes]\nn_train = 16\n",
            "The 'axes.n_train' parameter of sweep file tiny.toml must be a non-empty list of values",
        ),
        ("[axes]\nhidden = [[4], [4]]\n", "must be a list without repeated values"),
        (
            "[axes]\nn_train = [16, 17]\nhidden = [[4, 4], [8]]\nlr_low = [0.001, 0.001]\n",
            "without repeated values. Got [0.001, 0.001] instead.",
        ),
    ],
)
def test_sweep_file_errors(write_sweep, tmp_path, body, message) -> None:
    out = tmp_path / "out"
    with pytest.raises(SweepError) as err:
        run_sweep(write_sweep(body), out=out, progress=False)
    assert any(message in m for m in err.value.messages), err.value.messages
    assert not out.exists()


def test_unknown_study_missing_module_and_bad_toml(write_sweep, tmp_path) -> None:
    with pytest.raises(SweepError) as err:
        plan_sweep(write_sweep("", study="toy-regresion"))
    assert err.value.messages[0].startswith("The 'study' parameter of learnability must be one of {")
    with pytest.raises(SweepError) as err:
        plan_sweep(write_sweep("", modules=[tmp_path / "nowhere.py"]))
    assert "Could not import the study module" in err.value.messages[0]
    bad = tmp_path / "bad.toml"
    bad.write_text("study = \n")
    with pytest.raises(SweepError, match="is not valid TOML"):
        plan_sweep(bad)
    with pytest.raises(SweepError, match="Sweep file not found"):
        plan_sweep(tmp_path / "missing.toml")


def test_bad_arguments_and_missing_ray(write_sweep, tmp_path, monkeypatch) -> None:
    path = write_sweep(TINY_BASE)
    out = tmp_path / "out"
    with pytest.raises(ParameterError, match="The 'backend' parameter of learnability sweep must be"):
        run_sweep(path, backend="pbs", out=out)
    with pytest.raises(ParameterError, match="The 'workers' parameter of learnability sweep"):
        run_sweep(path, workers=0, out=out)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    with pytest.raises(SweepError, match=r"pip install 'learnability\[ray\]'"):
        run_sweep(path, backend="ray", out=out)
    monkeypatch.setitem(sys.modules, "submitit", None)  # as if submitit were not installed
    with pytest.raises(SweepError, match=r"pip install 'learnability\[slurm\]'"):
        run_sweep(path, backend="slurm", out=out)
    assert not out.exists()


def test_cuda_runs_are_refused_locally_but_planned_for_ray(write_sweep, tmp_path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the local refusal cannot be observed")
    path = write_sweep(TINY_BASE + 'device = "cuda"\n')
    with pytest.raises(SweepError, match="'device' parameter of toy-regression"):
        plan_sweep(path)
    plan = plan_sweep(path, check_device=False)
    assert plan.runs[0].config["device"] == "cuda"
    # On Ray, a cuda run declares the file's GPUs per run (default 1); a cpu run none.
    resources = choose_resources("ray", 1, workers=None, threads=None)
    (task,) = build_tasks(plan, plan.runs, tmp_path, resources)
    assert (task.gpus, task.threads) == (1.0, 1)
    cpu = plan_sweep(write_sweep(TINY_BASE + "[resources]\ngpus = 0.5\n", name="cpu"))
    (task,) = build_tasks(cpu, cpu.runs, tmp_path, resources)
    assert task.gpus == 0.0 and cpu.gpus == 0.5


def test_shipped_example_expands(toy_study) -> None:
    assert "toy-regression" in list_examples()
    plan = plan_sweep(example_path("toy-regression"))
    assert plan.axes[0] == Axis("n_train", (16, 64, 256), "log")
    assert len(plan.runs) == 3 * 2 * 3


@pytest.mark.parametrize(
    ("runs", "workers", "threads", "expected"),
    [
        (10, None, None, (2, 1)),  # default: one single-threaded worker per core
        (1, None, None, (1, 2)),  # one run: the spare core becomes a thread
        (10, 1, None, (1, 2)),  # one worker asked: it gets both cores
        (10, None, 2, (1, 2)),  # two threads asked: one worker fills the cores
        (1, 2, None, (1, 2)),  # never more workers than runs: the idle core becomes a thread
    ],
)
def test_local_resources_fill_the_cores_deliberately(runs, workers, threads, expected) -> None:
    res = choose_resources("local", runs, workers=workers, threads=threads, cores=2)
    assert (res.workers, res.threads) == expected and res.cores == 2
    assert res.workers * res.threads <= 2


def test_oversubscription_is_allowed_when_asked_but_warned() -> None:
    with pytest.warns(RuntimeWarning, match="oversubscribe the 2 cores"):
        res = choose_resources("local", 4, workers=2, threads=2, cores=2)
    assert (res.workers, res.threads) == (2, 2)
