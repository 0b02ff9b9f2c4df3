"""data-pipeline and ``learnability data-bench``: the engine step is the engine's, the verdicts
on a deliberately slow dataset and a deliberately slow step, the command's table and errors,
corruption determinism as the study measures it, ARC padding checks, and the smoke run.

The library probe itself is tested in tests/data/test_probe.py; these tests cover what the study
and ``data-bench`` (``learnability.bench``) build on it: the engine step, repeats and time budget
(``learnability.data``), the command, and the study.
"""

from __future__ import annotations

import importlib
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset
from typer.testing import CliRunner

from learnability._validation import ParameterError
from learnability.bench import data_bench, format_bench
from learnability.cli import EXIT_CONFIG, app
from learnability.data import (
    ARCTaskDataset,
    CorruptedImageDataset,
    EngineStep,
    GaussianNoise,
    TensorDictDataset,
    bell_data,
    bell_workload,
    bench_loading,
    corruption_from_names,
    load_images,
    write_arc_tasks,
    write_cifar_batch,
)
from learnability.engine import Adam, TrainSpec, mse, train
from learnability.report import fmt
from learnability.runs import Run
from learnability.studies.data_pipeline import DataPipelineResults, arc_padding_check, corruption_determinism

runner = CliRunner()

# The slow side sleeps for far longer than the fast side takes even on a loaded 2-core machine
# (a batch-20 engine step of the Bell MLP: ~2-10 ms; an in-memory loader batch: < 1 ms), so
# the verdicts hold with a wide margin over the probe's 1.25x threshold.
SLOW_ITEM_S = 0.010  # per item: a loader batch of 8 -> 80 ms; the step on 8 items: ~2-10 ms
SLOW_STEP_S = 0.030  # per step on 20 items; the in-memory loader delivers them in < 1 ms
QUICK = {"n_batches": 3, "warmup_batches": 1, "repeats": 1}


class SlowBell(Dataset):
    """Bell items behind a sleep: pretends to decode a file in ``__getitem__``."""

    def __init__(self, n: int = 64) -> None:
        self.inner = TensorDictDataset(bell_data(n, seed=0))

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        time.sleep(SLOW_ITEM_S)
        return self.inner[i]


class SlowStep:
    """The engine step followed by a sleep: a model far heavier than the data pipeline."""

    def __init__(self, step: EngineStep) -> None:
        self.step, self.members = step, step.members

    def __call__(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        time.sleep(SLOW_STEP_S)
        return self.step(batch)


# ---------------------------------------------------------------------------------- engine step


class _Replay:
    """A BatchSource replaying given (x, y) batches (the engine's protocol)."""

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.batches, self.i = batches, 0

    steps_per_epoch = None

    def start(self, seeds: list[int], device: torch.device) -> None:
        self.i = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        self.i += 1
        return self.batches[self.i - 1]


def test_engine_step_is_the_engine_training_step() -> None:
    """EngineStep fed K*B-item loader batches trains exactly like engine.train fed the same
    batches as (K, B, ...): same parameters, bit for bit."""
    k, b, steps = 3, 5, 4
    tensors = bell_data(k * b * steps, seed=1)
    work = bell_workload(TensorDictDataset(tensors), width=8, hidden_layers=3)
    step = work.make_step(k, 7, "cpu")
    batches = [{key: v[i * k * b : (i + 1) * k * b] for key, v in tensors.items()} for i in range(steps)]
    losses = [step(batch) for batch in batches]
    assert step.steps == steps and all(loss.shape == (k,) for loss in losses)

    model = work.make_step(k, 7, "cpu").model  # same architecture, fresh parameters
    params = model.init([7 + m for m in range(k)])
    source = _Replay([(bt["x"].view(k, b, 6), bt["y"].view(k, b, 1)) for bt in batches])
    res = train(
        model,
        params,
        loss=mse,
        optimizer=Adam(),
        lr=np.full(k, 1e-4),
        data=source,
        seeds=list(range(k)),
        spec=TrainSpec(max_steps=steps, block=steps),
    )
    for ours, theirs in zip(step.params, res.params, strict=True):
        assert torch.equal(ours, theirs)
    np.testing.assert_array_equal(torch.stack(losses).numpy(), res.train_loss)


# ---------------------------------------------------------------------------------- verdicts


def test_slow_dataset_is_loader_bound_through_the_api() -> None:
    work = bell_workload(SlowBell(), description="slow Bell items")
    bench = data_bench(workload=work, batch_size=8, **QUICK)
    p = bench.result.probe
    assert p.bottleneck == "loader"
    assert p.loader_items_per_s < 1 / SLOW_ITEM_S  # bounded by the sleep
    assert p.verdict.startswith("Loader-bound") and f"{p.ratio:.1f}x" in p.verdict
    assert p.in_memory is None  # a Dataset of unknown kind: suggestions say "if it reads files"
    text = format_bench(bench)
    assert "Is loading the bottleneck? YES." in text and "slow Bell items" in text
    assert "Pre-process once" in text


def test_slow_step_is_compute_bound_through_the_api() -> None:
    bench = data_bench("bell", n_items=400, **QUICK, step_factory=lambda w, k: SlowStep(w.make_step(k, 0, "cpu")))
    p = bench.result.probe
    assert p.bottleneck == "compute"
    assert p.step_items_per_s < 20 / SLOW_STEP_S  # 20 items per step, one sleep per step
    assert p.in_memory is True and p.batch_size == 20  # the Bell default batch
    assert p.suggestions[0].startswith("Loading is not the bottleneck")
    assert "Is loading the bottleneck? NO." in format_bench(bench)


def test_members_multiply_the_loader_batch_and_repeats_keep_the_median() -> None:
    work = bell_workload(TensorDictDataset(bell_data(200, seed=0)), width=8, hidden_layers=2)
    res = bench_loading(work, work.make_step(3, 0, "cpu"), batch_size=4, n_batches=2, warmup_batches=0, repeats=3)
    assert res.probe.batch_size == 12 and res.members == 3 and len(res.ratios) == 3
    assert res.probe.ratio == sorted(res.ratios)[1]
    row = res.row()
    assert row["loader_batch"] == 12 and row["repeats"] == 3
    assert row["ratio_min"] <= row["ratio"] <= row["ratio_max"]
    with pytest.raises(ParameterError, match="The 'batch_size' parameter of bench_loading"):
        bench_loading(work, work.make_step(3, 0, "cpu"), batch_size=100)


def test_time_budget_lowers_the_batches_of_a_slow_loader() -> None:
    res = bench_loading(
        bell_workload(SlowBell()),
        bell_workload(SlowBell()).make_step(1, 0, "cpu"),
        batch_size=8,
        n_batches=50,
        warmup_batches=0,
        time_budget_s=0.05,
    )
    # 8 items x 10 ms = 80 ms per batch: a 0.05 s budget affords none -> the floor of 3.
    assert res.probe.n_batches == 3


def test_pin_memory_without_a_gpu_is_noted_not_warned() -> None:
    if torch.cuda.is_available():
        pytest.skip("pin_memory is meaningful on this machine")
    bench = data_bench("bell", n_items=200, pin_memory=True, **QUICK)  # warnings are errors
    assert bench.result.probe.pin_memory is False
    assert any("pin_memory" in n for n in bench.notes)


# ---------------------------------------------------------------------------------- CLI


def test_data_bench_prints_the_table_and_the_verdict(tmp_path: Path) -> None:
    fig, out = tmp_path / "sweep.png", tmp_path / "bench.json"
    res = runner.invoke(
        app,
        [
            "data-bench",
            "--n-items",
            "400",
            "--n-batches",
            "3",
            "--sweep",
            "--sweep-workers",
            "0",
            "--sweep-batch-sizes",
            "5,10",
            "--out",
            str(fig),
            "--json",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    for line in (
        "DataLoader alone",
        "training step alone (engine)",
        "DataLoader + step (end to end)",
        "Is loading the bottleneck?",
        "What helps:",
        "Sweep (items/s):",
        "Fastest end to end",
    ):
        assert line in res.output
    rate = re.search(r"DataLoader alone\s+([\d,]+)", res.output)
    assert rate is not None and float(rate.group(1).replace(",", "")) > 0
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(out.read_text())
    assert [r["loader_batch"] for r in saved["sweep"]] == [5, 10]
    assert saved["result"]["bottleneck"] in ("loader", "compute", "balanced")


def test_data_bench_lazy_files_and_arc(tmp_path: Path) -> None:
    res = runner.invoke(app, ["data-bench", "--lazy", "--n-items", "300", "--lazy-items", "40", "--n-batches", "2"])
    assert res.exit_code == 0, res.output
    assert "lazy (files)" in res.output and "the first 40 of 300 items" in res.output
    write_arc_tasks(tmp_path / "arc", 6, seed=0)
    res = runner.invoke(
        app,
        ["data-bench", "--dataset", "arc", "--arc-dir", str(tmp_path / "arc"), "--batch-size", "2", "--n-batches", "2"],
    )
    assert res.exit_code == 0, res.output
    assert "ARC tasks (6 JSON files" in res.output and "Is loading the bottleneck?" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--workers", "-1"],
            "The 'workers' parameter of data-bench must be an int in the range [0, inf). Got -1 instead.",
        ),
        (["--dataset", "mnist-ish"], "The 'dataset' parameter of data-bench must be one of {'bell',"),
        (["--batch-size", "0"], "The 'batch_size' parameter of data-bench must be an int in the range"),
        (["--n-items", "10", "--members", "2"], "The 'batch_size' parameter of data-bench must be at most 5"),
        (["--out", "fig.png"], "The 'out' parameter of data-bench must be given only with --sweep"),
        (["--sweep", "--out", "fig.txt"], "The 'out' parameter of data-bench must be a file name ending"),
        (["--sweep", "--sweep-workers", "a,b"], "The 'sweep_workers' parameter of data-bench must be"),
        (["--dataset", "arc", "--lazy"], "The 'lazy' parameter of data-bench must be False for dataset"),
        (["--precompute"], "The 'precompute' parameter of data-bench must be False unless"),
        (["--lazy-format", "hdf5"], "The 'lazy_format' parameter of data-bench must be one of"),
        (["--dataset", "arc", "--arc-dir", "/no/such/dir"], "The 'arc_dir' parameter of data-bench"),
    ],
)
def test_data_bench_rejects_bad_options(args: list[str], message: str) -> None:
    res = runner.invoke(app, ["data-bench", *args])
    assert res.exit_code == EXIT_CONFIG
    assert message in " ".join(res.output.split()), res.output


def test_data_bench_names_missing_cifar_files(tmp_path: Path) -> None:
    res = runner.invoke(app, ["data-bench", "--dataset", "cifar10", "--root", str(tmp_path)])
    assert res.exit_code == EXIT_CONFIG
    assert "The cifar10 train files were not found" in res.output


def test_data_bench_reads_cifar_files_when_present(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        write_cifar_batch(tmp_path / name, rng.integers(0, 256, (8, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 8))
    res = runner.invoke(
        app,
        [
            "data-bench",
            "--dataset",
            "corrupted",
            "--root",
            str(tmp_path),
            "--batch-size",
            "8",
            "--n-batches",
            "2",
            "--precompute",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "40 cifar10 images (crop+hflip+patches+noise), pre-processed once" in res.output


# ---------------------------------------------------------------------------------- corruptions


def test_corruptions_are_a_function_of_seed_and_index_as_the_study_measures_them() -> None:
    data = load_images("digits", limit=24)
    dataset = CorruptedImageDataset(data, corruption_from_names("crop+hflip+patches+noise"), seed=5)
    d = corruption_determinism(dataset, n=12, other_seed=6, workers=1, batch_size=4)
    assert d["max_abs_diff_reverse"] == 0.0 and d["max_abs_diff_workers"] == 0.0
    assert d["mean_abs_diff_other_seed"] > 0.01 and d["mean_abs_diff_neighbour"] > 0.01
    assert d["frac_items_changed"] == 1.0  # Gaussian noise touches every image


class _GlobalCounterNoise:
    """A corruption that ignores its generator: the result depends on the order of calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        self.calls += 1
        return GaussianNoise(0.1)(x, generator=torch.Generator().manual_seed(self.calls))


def test_the_determinism_check_catches_order_dependent_corruptions() -> None:
    data = load_images("digits", limit=8)
    dataset = CorruptedImageDataset(data, _GlobalCounterNoise(), seed=0)
    d = corruption_determinism(dataset, n=6, other_seed=1, workers=0, batch_size=3)
    assert d["max_abs_diff_reverse"] > 0 and d["max_abs_diff_workers"] > 0


# ---------------------------------------------------------------------------------- ARC


def test_arc_padding_check_on_generated_tasks(tmp_path: Path) -> None:
    paths = write_arc_tasks(tmp_path, 5, seed=3, max_size=6)
    dataset = ARCTaskDataset(tmp_path)
    check = arc_padding_check(dataset, batch_size=2)
    assert len(paths) == 5 and check["n_batches"] == 3 and check["n_tasks"] == 5
    assert check["roundtrip_exact"] and check["masks_exact"] and check["padding_exact"]
    # Real cells counted from the files themselves; canvas cells from the batches' shapes.
    real = canvas = 0
    for start, (h, w) in zip(range(0, 5, 2), check["canvases"], strict=True):
        tasks = [json.loads(p.read_text()) for p in paths[start : start + 2]]
        for section in ("train", "test"):
            slots = max(len(t[section]) for t in tasks)
            real += sum(
                len(g) * len(g[0]) for t in tasks for pair in t[section] for g in (pair["input"], pair["output"])
            )
            canvas += 2 * len(tasks) * slots * h * w
    assert check["real_cell_fraction"] == pytest.approx(real / canvas)
    assert all(h <= 6 and w <= 6 for h, w in check["canvases"])


# ---------------------------------------------------------------------------------- the study


def test_smoke_run(smoke_run: Callable[[str], Run]) -> None:
    run = smoke_run("data-pipeline")
    assert run.complete
    s = run.results
    assert isinstance(s, DataPipelineResults)
    for k in (1, 4):  # the smoke's members
        d = s.bell_k(k)
        assert d.bottleneck in ("loader", "compute", "balanced")
        assert d.loader_items_per_s > 0 and d.step_items_per_s > 0
        assert d.fixed_source_items_per_s > 0
    assert set(s.bell_lazy) == {"memmap", "files"}
    c = s.corruption
    assert c.max_abs_diff_reverse == 0 and c.max_abs_diff_workers == 0
    assert c.precomputed_identical is True
    a = s.arc
    assert a.roundtrip_exact and a.masks_exact and a.padding_exact
    assert "broken_task.json" in a.format_error and "rectangular" in a.format_error

    probes = run.load_table(DataPipelineResults.PROBES_TABLE)
    assert set(probes["part"]) == {"bell", "images", "corrupted", "arc"}
    assert (probes["loader_items_per_s"] > 0).all()

    text = (run.path / "report.md").read_text()
    k1 = s.bell_k(1)
    assert (
        f"delivers {fmt(k1.loader_items_per_s)} items/s while the engine step consumes "
        f"{fmt(k1.step_items_per_s)} items/s" in text
    )
    assert "Which change helps, measured" in text and "pre-process once" in text
    for name in ("bell_rates", "loader_sweep", "corrupted_batch", "arc_padding"):
        assert (run.figures_dir / f"{name}.png").stat().st_size > 0
    assert not any(p.name.startswith("lazy-") for p in run.path.iterdir())  # temp data removed


def test_toy_dataset_is_the_tutorials() -> None:
    from learnability.studies.data_pipeline.toy import ToyDataset, toy_example

    data = ToyDataset(20, 0.1, generator=torch.Generator().manual_seed(0))
    assert len(data) == 20 and set(data[5]) == {"x", "y"}
    assert torch.equal(data.x, torch.linspace(-1, 1, 20)) and float(data[-1]["x"]) == 1.0
    quiet = ToyDataset(7, 0.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(quiet.y, quiet.x**3)  # no noise: exactly the cubic
    again = ToyDataset(20, 0.1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.y, data.y)  # same seed, same data
    with pytest.raises(IndexError):
        data[20]
    ex = toy_example(10, 0.1, 4, seed=0)
    assert ex.iterated == 10 and ex.n_batches == 3 and ex.batch_keys == ["x", "y"] and ex.batch_shape == [4]


def test_toy_sentence_follows_the_numbers(smoke_run) -> None:
    from learnability.report import render_markdown
    from learnability.studies import data_pipeline as dp

    run = smoke_run("data-pipeline")
    res = run.results
    text = render_markdown(dp.report(res, run), run)
    assert "First example: the tutorial's ToyDataset" in text and "close to the noise sd" in text
    off = res.toy.model_copy(update={"residual_sd": 1.0})
    assert "NOT close to the noise sd" in render_markdown(dp.report(res.model_copy(update={"toy": off}), run), run)


def _tiny_idx(root: Path, n: int = 8) -> None:
    """The four IDX files, gzipped as Debian's dataset-fashion-mnist ships them."""
    from learnability.data import write_idx

    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for img, lab in (
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    ):
        write_idx(root / f"{img}.gz", rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), compress=True)
        write_idx(root / f"{lab}.gz", (np.arange(n) % 10).astype(np.uint8), compress=True)


def test_images_auto_finds_fashion_mnist_in_the_system_folder_and_says_why(tmp_path: Path, monkeypatch) -> None:
    """images.dataset='auto' as the image studies read it: CIFAR-10, then MNIST, then Fashion-MNIST
    (the data root first, then the system folders), else the digits with the install hint."""
    from learnability.studies.data_pipeline.config import DataPipelineConfig

    dp_run = importlib.import_module("learnability.studies.data_pipeline.run")  # the package's `run` is the function

    system = tmp_path / "usr-share-datasets"
    monkeypatch.setattr(dp_run, "SYSTEM_DATA_DIRS", (system,))
    cfg = DataPipelineConfig.model_validate({"images": {"root": str(tmp_path / "data")}})
    name, root, reason = dp_run._image_choice(cfg)
    assert (name, root) == ("digits", None)
    assert "apt-get install dataset-fashion-mnist" in reason and str(system) in reason
    _tiny_idx(system / "fashion-mnist")
    name, root, reason = dp_run._image_choice(cfg)
    assert (name, root) == ("fashion-mnist", system) and str(system) in reason
    _tiny_idx(tmp_path / "data" / "mnist")
    assert dp_run._image_choice(cfg)[0] == "mnist"  # MNIST before Fashion-MNIST, as the image labs
    write_cifar_batch(tmp_path / "data" / "data_batch_1", np.zeros((4, 3072), np.uint8), [0, 1, 2, 3])
    # one CIFAR batch is not the set: every training batch must be there
    assert dp_run._image_choice(cfg)[0] == "mnist"
    explicit = DataPipelineConfig.model_validate({"images": {"dataset": "digits"}})
    assert dp_run._image_choice(explicit) == ("digits", None, "chosen in the config")


def test_a_fashion_mnist_run_records_the_data_and_does_not_pin_on_the_cpu(tmp_path: Path, monkeypatch) -> None:
    """The images part on (tiny) Fashion-MNIST files: the summary, the report and the provenance say
    which data set and why; on the CPU nothing is pinned (warnings are errors: a DataLoader asked to
    pin without CUDA warns), and the report says so."""
    import learnability

    dp_run = importlib.import_module("learnability.studies.data_pipeline.run")
    system = tmp_path / "sys"
    _tiny_idx(system / "fashion-mnist", n=64)
    monkeypatch.setattr(dp_run, "SYSTEM_DATA_DIRS", (system,))
    run = learnability.run_study(
        "data-pipeline",
        smoke=True,
        progress=False,
        out=tmp_path / "runs",
        images={"root": str(tmp_path / "empty"), "workers": [0], "batch_size": 16, "lazy_items": 32},
        corruption={"n_items": 32, "n_check": 8, "check_workers": 0, "workers": [0], "batch_size": 8, "n_show": 3},
        probe={"pin_memory": True, "n_batches": 2, "warmup_batches": 0, "repeats": 1, "time_budget_s": 0.2},
    )
    img = run.results.images
    assert img.dataset == "fashion-mnist" and img.shape == [1, 28, 28] and img.n_items == 64
    assert str(system) in img.dataset_reason
    assert run.provenance["dataset"]["name"] == "fashion-mnist"
    assert run.results.machine.pin_memory is False and run.results.machine.device == "cpu"
    text = (run.path / "report.md").read_text()
    assert img.dataset_reason in text and "no pinned memory" in text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_batches_come_through_pinned_memory(tmp_path: Path) -> None:
    import learnability

    run = learnability.run_study(
        "data-pipeline", smoke=True, progress=False, out=tmp_path, device="cuda", images={"dataset": "digits"}
    )
    assert run.results.machine.pin_memory is True and run.results.machine.device.startswith("cuda")
    assert run.provenance["cudnn"] == {"cudnn_deterministic": True, "cudnn_benchmark": False}
    assert "pinned memory with non_blocking=True" in (run.path / "report.md").read_text()
