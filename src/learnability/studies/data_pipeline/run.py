"""The data-pipeline study's run: probe the project's data sets against the engine step.

Stages, in order (each appends its probes to one list, logged as ``items_per_s`` metrics):

1. :func:`_run_bell` — the Bell data in memory and lazy, every K and worker count, and the
   engine training from its ``FixedSource`` (:func:`_fixed_source_rate`);
2. :func:`_run_images` — images in memory vs memory-mapped, Lab 4's ShallowFCN;
3. :func:`_run_corruptions` — a corrupted batch, determinism, on the fly vs pre-processed once;
4. :func:`_run_arc` — generated task files, padding checks, a format error, the probe;
5. :func:`_run_sweep` — num_workers x batch size on the Bell data;

then :func:`_results` reads the findings off the probe table.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from learnability.data import (
    PROBE_LR,
    SYSTEM_DATA_DIRS,
    ARCTaskDataset,
    BenchProbe,
    CorruptedImageDataset,
    EngineStep,
    ImageData,
    TensorDictDataset,
    Workload,
    arc_workload,
    bell_data,
    bell_model,
    bell_workload,
    bench_loading,
    corruption_from_names,
    default_data_root,
    find_image_root,
    image_workload,
    install_hint,
    lazy_copy,
    load_images,
    pin_memory_for,
    precompute,
    restoration_workload,
    stack_items,
    write_arc_tasks,
)
from learnability.engine import Adam, FixedSource, TrainSpec, mse, train
from learnability.studies import StudyContext
from learnability.studies.data_pipeline.checks import arc_format_error, arc_padding_check, corruption_determinism
from learnability.studies.data_pipeline.config import DataPipelineConfig
from learnability.studies.data_pipeline.results import (
    ARCResult,
    BellLazy,
    BellMembers,
    CorruptionResult,
    DataPipelineResults,
    ImagesResult,
    Machine,
    SweepBest,
)
from learnability.studies.data_pipeline.toy import toy_example

__all__ = ["run"]

# The study's name in the errors of a bad lazy format.
OWNER = "data-pipeline"
# The ARC probe reads in the main process: ARCTaskDataset holds every task in memory.
ARC_WORKERS = 0

# Every probe of the run with what it was: ({"part": ..., "variant": ...}, probe).
Probes = list[tuple[dict[str, Any], BenchProbe]]
R = DataPipelineResults


def run(cfg: DataPipelineConfig, ctx: StudyContext) -> DataPipelineResults:
    """Probe the project's data sets against the engine step; save tables and arrays."""
    probe_kw: dict[str, Any] = {
        "pin_memory": pin_memory_for(ctx.device, cfg.probe.pin_memory),
        "device": ctx.device if ctx.device.type != "cpu" else None,
        "n_batches": cfg.probe.n_batches,
        "warmup_batches": cfg.probe.warmup_batches,
        "repeats": cfg.probe.repeats,
        "time_budget_s": cfg.probe.time_budget_s,
    }
    b, im, co, sw = cfg.bell, cfg.images, cfg.corruption, cfg.sweep
    ctx.progress.add_total(
        len(b.members) * (1 + len(b.lazy_formats)) * len(b.workers)
        + 2 * len(im.workers)  # memory and memmap
        + 2 * len(co.workers)  # on the fly and pre-processed once
        + 1  # the ARC probe
        + len(sw.workers) * len(sw.batch_sizes)
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.probe.threads)  # restored below: the setting is the probe's
    t_start = time.perf_counter()
    # Lazy copies live in a temporary folder inside the run folder, removed at the end: the run
    # reads from the same disk as the user's runs, and leaves only its results behind.
    tmp = Path(tempfile.mkdtemp(prefix="lazy-", dir=ctx.path))
    probes: Probes = []
    try:
        fixed, tensors = _run_bell(cfg, ctx, tmp, probes, probe_kw)
        data, reason = _image_data(cfg, ctx)
        _run_images(cfg, ctx, data, tmp, probes, probe_kw)
        corruption = _run_corruptions(cfg, ctx, data, probes, probe_kw)
        arc = _run_arc(cfg, ctx, probes, probe_kw)
        sweep = _run_sweep(cfg, ctx, tensors, probe_kw)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        torch.set_num_threads(threads)
    table = pd.DataFrame([{**extra, **res.row()} for extra, res in probes])
    ctx.writer.save_table(R.PROBES_TABLE, table)
    ctx.writer.save_table(R.SWEEP_TABLE, sweep)
    res = _results(cfg, data, table, sweep, fixed, corruption, arc, time.perf_counter() - t_start, ctx.device)
    res = res.model_copy(update={"images": res.images.model_copy(update={"dataset_reason": reason})})
    toy = toy_example(cfg.toy.n_points, cfg.toy.noise, cfg.toy.batch_size, seed=ctx.seed("toy"))
    return res.model_copy(update={"toy": toy})


def _probe(
    ctx: StudyContext,
    probes: Probes,
    part: str,
    variant: str,
    work: Workload,
    step: EngineStep,
    *,
    batch_size: int,
    num_workers: int,
    probe_kw: Mapping[str, Any],
) -> BenchProbe:
    """Probe one configuration, log its rates as a metric and append it to ``probes``."""
    ctx.progress.describe(f"{part} {variant} K={step.members} workers={num_workers}")
    res = bench_loading(
        work, step, batch_size=batch_size, num_workers=num_workers, seed=ctx.seed(part, "shuffle"), **probe_kw
    )
    p = res.probe
    ctx.log(
        "items_per_s",
        tag=f"{part}/{variant}/K{step.members}/b{batch_size}/w{num_workers}",
        loader=p.loader_items_per_s,
        step_alone=p.step_items_per_s,
        end_to_end=p.end_to_end_items_per_s,
        ratio=p.ratio,
        bottleneck=p.bottleneck,
    )
    probes.append(({"part": part, "variant": variant}, res))
    ctx.progress.update(1)
    return res


# --------------------------------------------------------------------------------------------
# 1. Bell data
# --------------------------------------------------------------------------------------------


def _run_bell(
    cfg: DataPipelineConfig, ctx: StudyContext, tmp: Path, probes: Probes, probe_kw: Mapping[str, Any]
) -> tuple[dict[str, float], dict[str, Tensor]]:
    """1. The Bell data: in memory and lazy, every K and worker count; FixedSource.

    Returns:
        The FixedSource rate per K (keys ``"1"``, ``"16"``, ...) and the Bell tensors.
    """
    b = cfg.bell
    tensors = bell_data(b.n_train, seed=ctx.seed("bell", "data"))
    arch = {"width": b.width, "hidden_layers": b.hidden_layers}
    variants = {
        "memory": bell_workload(
            TensorDictDataset(tensors), in_memory=True, description=f"Bell {b.n_train:,} x 6, in memory", **arch
        )
    }
    for fmt_ in b.lazy_formats:
        ds = lazy_copy(tensors, fmt_, tmp / f"bell-{fmt_}", max_items=b.lazy_items, owner=OWNER)
        desc = f"Bell {len(ds):,} x 6, lazy ({fmt_})"  # type: ignore[arg-type]
        variants[fmt_] = bell_workload(ds, in_memory=False, description=desc, **arch)
    fixed: dict[str, float] = {}
    for k in b.members:
        step = variants["memory"].make_step(k, ctx.seed("bell", "init", k), ctx.device)
        for name, work in variants.items():
            if k * b.batch_size > len(work.dataset) or (  # type: ignore[arg-type]
                name == "files" and k not in b.files_members
            ):
                continue  # a lazy copy smaller than one loader batch, or K not asked for
            for w in b.workers:
                _probe(ctx, probes, "bell", name, work, step, batch_size=b.batch_size, num_workers=w, probe_kw=probe_kw)
                if name == "memory" and w == min(b.workers):
                    # Right after the DataLoader it is compared with: the machine's load drifts.
                    ctx.progress.describe(f"bell K={k} FixedSource")
                    fixed[str(k)] = _fixed_source_rate(cfg, ctx, tensors, k)
    return fixed, tensors


def _fixed_source_rate(
    cfg: DataPipelineConfig, ctx: StudyContext, tensors: Mapping[str, Tensor], members: int
) -> float:
    """Items/s of the engine training from its FixedSource (the data as one tensor, indexed on
    the device): the median of ``probe.repeats`` timed runs of ``bell.fixed_steps`` steps, each
    after ``probe.warmup_batches`` untimed steps (as the probe warms the DataLoader up)."""
    b = cfg.bell
    model = bell_model(b.width, b.hidden_layers)
    source = FixedSource(tensors["x"], tensors["y"], batch_size=b.batch_size)
    rates = []
    for r in range(cfg.probe.repeats):
        seeds = ctx.seeds(members, "bell", "fixed-source", r)
        params = model.init(seeds, device=ctx.device)
        kw: dict[str, Any] = {
            "loss": mse,
            "optimizer": Adam(),
            "data": source,
            "seeds": seeds,
            "lr": np.full(members, PROBE_LR),
            "sink": ctx.writer,
        }
        if cfg.probe.warmup_batches:
            warmup = TrainSpec(max_steps=cfg.probe.warmup_batches)
            train(model, params, spec=warmup, tag=f"bell/fixed-source/K{members}/warmup", **kw)
        res = train(
            model,
            params,
            spec=TrainSpec(max_steps=b.fixed_steps, block=b.fixed_steps),
            tag=f"bell/fixed-source/K{members}",
            progress=ctx.progress,
            **kw,
        )
        rates.append(members * b.batch_size * res.steps / res.wall_seconds)
    rate = float(np.median(rates))
    ctx.log("items_per_s", tag=f"bell/fixed-source/K{members}/b{b.batch_size}", end_to_end=rate)
    return rate


# --------------------------------------------------------------------------------------------
# 2. Images, 3. corrupted images
# --------------------------------------------------------------------------------------------


# What images='auto' prefers, in order, before the offline digits: CIFAR-10 (the tutorial's
# corrupted-image exercise is on its colour images), then the 28x28 sets of the image labs.
AUTO_IMAGES = ("cifar10", "mnist", "fashion-mnist")


def _image_choice(cfg: DataPipelineConfig) -> tuple[str, Path | None, str]:
    """The images to load, the folder holding them and why (one sentence for the report).

    Folders are searched in order: the configured root (``None``: ``$LEARNABILITY_DATA`` or
    ``./data``), then :data:`~learnability.data.SYSTEM_DATA_DIRS`. An explicit
    name is kept (loading then fails loudly, naming the files, if they are absent).
    """
    im = cfg.images
    where = Path(im.root) if im.root else default_data_root()
    roots = [where, *SYSTEM_DATA_DIRS]
    if im.dataset == "digits":
        return "digits", None, "chosen in the config"
    if im.dataset != "auto":
        return im.dataset, find_image_root(im.dataset, roots, splits=("train",)) or where, "chosen in the config"
    for name in AUTO_IMAGES:
        found = find_image_root(name, roots, splits=("train",))
        if found is not None:
            return name, found, f"images.dataset='auto' and the {name} files were found in {found}"
    searched = ", ".join(str(r) for r in roots)
    return (
        "digits",
        None,
        f"images.dataset='auto' and no CIFAR-10, MNIST or Fashion-MNIST files were found in {searched}, so "
        f"the offline digits stand in; {install_hint('fashion-mnist')}",
    )


def _image_data(cfg: DataPipelineConfig, ctx: StudyContext) -> tuple[ImageData, str]:
    """The configured images and why they were chosen; recorded in the run's provenance (and, for
    the fallback, a one-line hint on stderr)."""
    name, root, reason = _image_choice(cfg)
    data = load_images(name, root, limit=cfg.images.limit)
    if name == "digits" and "apt-get install" in reason:
        print(f"note: data-pipeline images: the offline digits; {install_hint('fashion-mnist')}", file=sys.stderr)
    ctx.writer.provenance["dataset"] = {"name": name, "root": str(root or ""), "reason": reason}
    return data, reason


def _head(data: ImageData, n: int) -> ImageData:
    """The first ``n`` images of ``data``."""
    return ImageData(data.images[:n], data.labels[:n], data.classes, data.name, data.split)


def _run_images(
    cfg: DataPipelineConfig,
    ctx: StudyContext,
    data: ImageData,
    tmp: Path,
    probes: Probes,
    probe_kw: Mapping[str, Any],
) -> None:
    """2. Images in memory vs memory-mapped, with Lab 4's ShallowFCN."""
    im = cfg.images
    lazy = _head(data, im.lazy_items)
    tensors = {"image": lazy.images, "label": lazy.labels}
    mm = lazy_copy(tensors, "memmap", tmp / "images", max_items=len(lazy), owner=OWNER)
    variants = {
        "memory": image_workload(data, in_memory=True),
        "memmap": image_workload(data, mm, in_memory=False, description=f"{data.name} images, lazy (memmap)"),
    }
    step = variants["memory"].make_step(1, ctx.seed("images", "init"), ctx.device)
    for name, work in variants.items():
        for w in im.workers:
            _probe(ctx, probes, "images", name, work, step, batch_size=im.batch_size, num_workers=w, probe_kw=probe_kw)


def _run_corruptions(
    cfg: DataPipelineConfig, ctx: StudyContext, data: ImageData, probes: Probes, probe_kw: Mapping[str, Any]
) -> dict[str, Any]:
    """3. Corrupted images: a batch for the figure, determinism, on the fly vs once.

    Returns:
        :func:`corruption_determinism`'s numbers, ``precompute_seconds``,
        ``precomputed_identical`` and ``n_items``.
    """
    co = cfg.corruption
    corrupted = CorruptedImageDataset(
        _head(data, co.n_items), corruption_from_names(co.corruptions), seed=ctx.seed("corruption")
    )
    shown_by = torch.Generator().manual_seed(ctx.seed("corruption", "show"))
    shown = next(iter(DataLoader(corrupted, batch_size=co.n_show, shuffle=True, generator=shown_by)))
    ctx.writer.save_arrays(
        R.CORRUPTED_ARRAYS,
        corrupted=shown["corrupted"],
        clean=shown["clean"],
        label=shown["label"],
        classes=np.array(data.classes),
    )
    out: dict[str, Any] = corruption_determinism(
        corrupted,
        n=min(co.n_check, len(corrupted)),
        workers=co.check_workers,
        other_seed=ctx.seed("corruption", "other"),
    )
    t0 = time.perf_counter()
    pre = precompute(corrupted)
    out["precompute_seconds"] = time.perf_counter() - t0
    again = stack_items(corrupted, range(len(pre)))
    out["precomputed_identical"] = all(torch.equal(pre.tensors[k], again[k]) for k in ("corrupted", "clean"))
    out["n_items"] = len(corrupted)
    shape = data.image_shape
    variants = {
        "on the fly": restoration_workload(corrupted, shape, hidden=co.hidden, description="corrupted on the fly"),
        "pre-processed once": restoration_workload(
            pre, shape, hidden=co.hidden, in_memory=True, description="pre-processed once"
        ),
    }
    step = variants["on the fly"].make_step(1, ctx.seed("corruption", "init"), ctx.device)
    for name, work in variants.items():
        for w in co.workers:
            _probe(
                ctx, probes, "corrupted", name, work, step, batch_size=co.batch_size, num_workers=w, probe_kw=probe_kw
            )
    return out


# --------------------------------------------------------------------------------------------
# 4. ARC, 5. the sweep
# --------------------------------------------------------------------------------------------


def _run_arc(cfg: DataPipelineConfig, ctx: StudyContext, probes: Probes, probe_kw: Mapping[str, Any]) -> dict[str, Any]:
    """4. ARC: generated task files, padding and masks checked, a format error, the probe.

    Returns:
        :func:`arc_padding_check`'s numbers (without the batch) and ``format_error``.
    """
    arc = cfg.arc
    directory = ctx.writer.artifact_path(R.ARC_TASKS_DIR)  # kept: small, and the report cites it
    write_arc_tasks(directory, arc.n_tasks, seed=ctx.seed("arc"), max_size=arc.max_size)
    dataset = ARCTaskDataset(directory)
    padding = arc_padding_check(dataset, batch_size=arc.batch_size)
    first = padding.pop("first_batch")
    ctx.writer.save_arrays(
        R.ARC_ARRAYS,
        grids=first["train_input"][:, 0],
        mask=first["train_input_mask"][:, 0],
        outputs=first["train_output"][:, 0],
    )
    padding["format_error"] = arc_format_error(directory)
    work = arc_workload(dataset, hidden=arc.hidden)
    step = work.make_step(1, ctx.seed("arc", "init"), ctx.device)
    _probe(
        ctx, probes, "arc", "memory", work, step, batch_size=arc.batch_size, num_workers=ARC_WORKERS, probe_kw=probe_kw
    )
    ctx.writer.save_json(R.ARC_PADDING_JSON, padding)
    return padding


def _run_sweep(
    cfg: DataPipelineConfig, ctx: StudyContext, tensors: Mapping[str, Tensor], probe_kw: Mapping[str, Any]
) -> pd.DataFrame:
    """5. num_workers x batch size on the Bell data, in memory, one model.

    Returns:
        One row per pair (:meth:`BenchProbe.row` plus ``batch_size`` = the loader batch).
    """
    b, sw = cfg.bell, cfg.sweep
    work = bell_workload(
        TensorDictDataset(tensors),
        width=b.width,
        in_memory=True,
        hidden_layers=b.hidden_layers,
        description="Bell, in memory",
    )
    step = work.make_step(1, ctx.seed("sweep", "init"), ctx.device)
    rows: Probes = []
    for w in sorted(set(sw.workers)):
        for size in sorted({s for s in sw.batch_sizes if s <= b.n_train}):
            _probe(ctx, rows, "sweep", "memory", work, step, batch_size=size, num_workers=w, probe_kw=probe_kw)
    return pd.DataFrame([{**res.row(), "batch_size": res.probe.batch_size} for _, res in rows])


# --------------------------------------------------------------------------------------------
# Results: the findings read off the probe table
# --------------------------------------------------------------------------------------------


def _pick(probes: pd.DataFrame, **where: Any) -> pd.Series:
    """The first probe matching every ``column=value`` of ``where``."""
    sel = np.ones(len(probes), dtype=bool)
    for k, v in where.items():
        sel &= (probes[k] == v).to_numpy()
    rows = probes[sel]
    if rows.empty:
        raise KeyError(f"no probe with {where}")
    return rows.iloc[0]


def _bell_results(
    cfg: DataPipelineConfig, probes: pd.DataFrame, fixed: Mapping[str, float]
) -> tuple[dict[str, BellMembers], dict[str, BellLazy]]:
    """Per K, the in-memory probe at the fewest workers and FixedSource; per lazy format, its
    loader against memory at the smallest K it was probed with."""
    b = cfg.bell
    w0 = min(b.workers)
    bell: dict[str, BellMembers] = {}
    for k in b.members:
        base = _pick(probes, part="bell", variant="memory", members=k, num_workers=w0)
        dl_e2e = float(base["end_to_end_items_per_s"])
        bell[f"K{k}"] = BellMembers(
            loader_items_per_s=float(base["loader_items_per_s"]),
            step_items_per_s=float(base["step_items_per_s"]),
            end_to_end_items_per_s=dl_e2e,
            ratio=float(base["ratio"]),
            bottleneck=str(base["bottleneck"]),
            consistent=bool(base["consistent"]),
            verdict=str(base["verdict"]),
            fixed_source_items_per_s=fixed[str(k)],
            fixed_source_speedup=fixed[str(k)] / dl_e2e,
        )
    lazy: dict[str, BellLazy] = {}
    for fmt_ in b.lazy_formats:
        rows = probes[(probes["part"] == "bell") & (probes["variant"] == fmt_)]
        if rows.empty:
            continue
        k = int(rows["members"].min())  # compare like with like: the smallest K probed
        row = _pick(probes, part="bell", variant=fmt_, members=k, num_workers=w0)
        mem = _pick(probes, part="bell", variant="memory", members=k, num_workers=w0)
        lazy[fmt_] = BellLazy(
            members=k,
            loader_items_per_s=float(row["loader_items_per_s"]),
            slowdown_vs_memory=float(mem["loader_items_per_s"] / row["loader_items_per_s"]),
            bottleneck=str(row["bottleneck"]),
        )
    return bell, lazy


def _results(
    cfg: DataPipelineConfig,
    data: ImageData,
    probes: pd.DataFrame,
    sweep: pd.DataFrame,
    fixed: Mapping[str, float],
    corruption: Mapping[str, Any],
    arc_check: Mapping[str, Any],
    seconds: float,
    device: torch.device,
) -> DataPipelineResults:
    """The typed results from the probe table, the sweep and the checks."""
    bell, lazy = _bell_results(cfg, probes, fixed)
    img = _pick(probes, part="images", variant="memory", num_workers=min(cfg.images.workers))
    cw0 = min(cfg.corruption.workers)
    fly = _pick(probes, part="corrupted", variant="on the fly", num_workers=cw0)
    pre = _pick(probes, part="corrupted", variant="pre-processed once", num_workers=cw0)
    arc = _pick(probes, part="arc")
    best = sweep.loc[sweep["end_to_end_items_per_s"].idxmax()]
    return DataPipelineResults(
        machine=Machine(
            cpu_count=os.cpu_count(),
            probe_threads=cfg.probe.threads,
            device=str(device),
            pin_memory=pin_memory_for(device, cfg.probe.pin_memory),
        ),
        n_probes=int(len(probes) + len(sweep)),
        probe_seconds=seconds,
        bell=bell,
        bell_lazy=lazy,
        images=ImagesResult(
            dataset=data.name,
            n_items=len(data),
            shape=list(data.image_shape),
            loader_items_per_s=float(img["loader_items_per_s"]),
            step_items_per_s=float(img["step_items_per_s"]),
            ratio=float(img["ratio"]),
            bottleneck=str(img["bottleneck"]),
            verdict=str(img["verdict"]),
        ),
        corruption=CorruptionResult(
            **corruption,
            corruptions=cfg.corruption.corruptions,
            on_the_fly_loader_items_per_s=float(fly["loader_items_per_s"]),
            precomputed_loader_items_per_s=float(pre["loader_items_per_s"]),
            precompute_speedup=float(pre["loader_items_per_s"] / fly["loader_items_per_s"]),
            on_the_fly_bottleneck=str(fly["bottleneck"]),
            precomputed_bottleneck=str(pre["bottleneck"]),
        ),
        arc=ARCResult(
            **arc_check,
            loader_items_per_s=float(arc["loader_items_per_s"]),
            step_items_per_s=float(arc["step_items_per_s"]),
            bottleneck=str(arc["bottleneck"]),
        ),
        sweep_best=SweepBest(
            num_workers=int(best["num_workers"]),
            batch_size=int(best["batch_size"]),
            end_to_end_items_per_s=float(best["end_to_end_items_per_s"]),
        ),
    )
