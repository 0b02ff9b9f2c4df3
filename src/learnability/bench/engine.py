"""Benchmark: the engine against the naive one-model-at-a-time loop, measured in one run.

Workloads (see ``shared/perf-notes.md``):

- **W_B** — residual MLP 6->50, 8 x (50->50 with skip), 50->1; batch 20; Adam; a fixed data set of
  100,000 points. About 2.4 MFLOP per model-step: overhead-bound.
- **W_A** — MLP 100->200->200->200->100->1; batch 128; Adam; online inputs from U[0, 2]^100 labelled
  by a frozen 100->75->50->10->1 teacher. About 92 MFLOP per model-step: compute-bound.

Figures are *model-steps per second* (optimizer steps x members trained at once). The naive loop is
what the course notebooks do: an ``nn.Module``, ``torch.optim.Adam``, a ``DataLoader`` for fixed
data, one model at a time. Machines are noisy, so compare the ratios printed by one run.

Every figure is measured ``repeats`` times and the median is reported. The measurement is declared
unreliable, and no ratio to the naive loop is printed, when the repeats of any figure differ by
more than a factor :data:`MAX_SPREAD` or the 1-minute load average (at the start or the end)
exceeds the cores available: on a busy machine one run printed "972x naive" and the next "0.2x".
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from learnability._validation import ParameterError
from learnability.engine import (
    Adam,
    FixedSource,
    MLPSpec,
    OnlineSource,
    StackedMLP,
    TrainSpec,
    member_module,
    mse,
    train,
)

__all__ = [
    "BenchResult",
    "check_device",
    "flops_per_model_step",
    "measure_peak_gflops",
    "run_bench",
    "stability_problems",
]

W_B = MLPSpec(d_in=6, hidden=(50,) * 9, residual=True)
W_B_BATCH, W_B_N = 20, 100_000
W_A = MLPSpec(d_in=100, hidden=(200, 200, 200, 100))
W_A_TEACHER = MLPSpec(d_in=100, hidden=(75, 50, 10))
W_A_BATCH = 128
LR = 1e-4  # any small stable rate: speed does not depend on it
PEAK_SIZE = 4096
# Repeats of one figure whose fastest is more than this factor above the slowest: unstable.
MAX_SPREAD = 1.5
# Repeats of every figure (median reported): quick, full.
REPEATS_QUICK, REPEATS_FULL = 3, 2
CPU = torch.device("cpu")


@dataclass(frozen=True)
class BenchResult:
    workload: str
    method: str
    members: int
    model_steps_per_s: float
    gflops: float
    spread: float = 1.0  # fastest / slowest repeat

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def flops_per_model_step(spec: MLPSpec, batch: int) -> float:
    """Forward + backward multiply-adds of the weight matrices: 3 x 2 x B x sum(in x out)."""
    return spec.flops_per_step(batch)


def check_device(device: str | torch.device) -> torch.device:
    """The benchmark's device, or a :class:`ParameterError` naming what this machine offers."""
    offered = ["cpu"]
    if torch.cuda.is_available():
        offered += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if str(device) not in offered:
        raise ParameterError(
            "device", "learnability bench", "one of {" + ", ".join(offered) + "} on this machine", str(device)
        )
    return torch.device(device)


def _sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously: a clock read alone times the
    launch, not the work)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_peak_gflops(
    size: int = PEAK_SIZE, repeats: int = 5, *, device: str | torch.device = "cpu", tf32: bool = False
) -> float:
    """GFLOP/s of a large float32 matrix product (on CPU: with the current thread count).

    ``tf32=True`` lets a CUDA GPU's tensor cores round the inputs to TF32 (what
    ``torch.backends.cuda.matmul.allow_tf32`` does); the default is exact float32, the engine's
    arithmetic unless a user opts in.
    """
    dev = torch.device(device)
    g = torch.Generator(device=dev).manual_seed(0)
    a = torch.randn(size, size, generator=g, device=dev)
    b = torch.randn(size, size, generator=g, device=dev)
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        a @ b  # warm-up
        _sync(dev)
        t0 = time.perf_counter()
        for _ in range(repeats):
            a @ b
        _sync(dev)
        return repeats * 2.0 * size**3 / (time.perf_counter() - t0) / 1e9
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


def _uniform02(d: int) -> Callable[[torch.Generator, int], torch.Tensor]:
    def sample(g: torch.Generator, n: int) -> torch.Tensor:
        return torch.rand(n, d, generator=g, device=g.device) * 2.0

    return sample


def _teacher(device: torch.device = CPU) -> Callable[[torch.Tensor], torch.Tensor]:
    tm = StackedMLP(W_A_TEACHER)
    tp = [p.to(device) for p in tm.init([0], scheme="normal")]

    def label(x: torch.Tensor) -> torch.Tensor:
        return tm.forward(tp, x.unsqueeze(0))[0]

    return label


def _naive_b(steps: int, device: torch.device = CPU) -> float:
    """The course's loop on W_B: a ``DataLoader`` over a CPU data set, each batch copied to the
    device (what a notebook does), ``nn.Module`` + ``torch.optim.Adam``."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(W_B_N, 6, generator=g) * 2
    y = x.sum(1, keepdim=True)
    model = StackedMLP(W_B)
    net = member_module(W_B, model.layers(model.init([0]), 0)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=W_B_BATCH, shuffle=True, generator=g
    )
    it = iter(loader)
    t0 = 0.0
    warm = min(20, steps // 5)
    for s in range(steps + warm):
        if s == warm:
            _sync(device)
            t0 = time.perf_counter()
        try:
            xb, yb = next(it)
        except StopIteration:
            it = iter(loader)
            xb, yb = next(it)
        xb, yb = xb.to(device), yb.to(device)
        loss = nn.functional.mse_loss(net(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    _sync(device)
    return steps / (time.perf_counter() - t0)


def _naive_a(steps: int, device: torch.device = CPU) -> float:
    g = torch.Generator(device=device).manual_seed(0)
    label = _teacher(device)
    model = StackedMLP(W_A)
    net = member_module(W_A, model.layers(model.init([0]), 0)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    t0 = 0.0
    warm = min(5, steps // 5)
    for s in range(steps + warm):
        if s == warm:
            _sync(device)
            t0 = time.perf_counter()
        xb = torch.rand(W_A_BATCH, 100, generator=g, device=device) * 2
        with torch.no_grad():
            yb = label(xb)
        loss = nn.functional.mse_loss(net(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    _sync(device)
    return steps / (time.perf_counter() - t0)


def _engine_setup(workload: str, device: torch.device = CPU) -> tuple[StackedMLP, FixedSource | OnlineSource]:
    if workload == "W_B":
        g = torch.Generator().manual_seed(0)
        x = torch.rand(W_B_N, 6, generator=g) * 2
        return StackedMLP(W_B), FixedSource(x, x.sum(1, keepdim=True), batch_size=W_B_BATCH)
    return StackedMLP(W_A), OnlineSource(_uniform02(100), _teacher(device), batch_size=W_A_BATCH)


def _engine(workload: str, members: int, steps: int, compile_: bool, processes: int = 1) -> float:
    """Steady-state model-steps/s of :func:`train`: the time of ``steps`` steps less that of
    ``steps // 5`` (so a call's fixed cost — for worker processes, forking and loading the
    compiled step from torch's cache — is not counted; :func:`_engine_startup` reports it)."""
    rate, _ = _engine_timed(workload, members, steps, compile_, processes)
    return rate


def _engine_timed(
    workload: str, members: int, steps: int, compile_: bool, processes: int, device: torch.device = CPU
) -> tuple[float, float]:
    seeds = list(range(members))
    model, data = _engine_setup(workload, device)
    short = max(1, steps // 5)
    walls = []
    for n in (min(20, steps), short, steps):  # the first call compiles (cached), the others are timed
        spec = TrainSpec(max_steps=n, compile=compile_, block=min(100, n), processes=processes)
        res = train(
            model,
            [p.to(device) for p in model.init(seeds)],
            loss=mse,
            optimizer=Adam(),
            lr=np.full(members, LR),
            data=data,
            seeds=seeds,
            spec=spec,
        )
        walls.append(res.wall_seconds)
    per_step = max(walls[2] - walls[1], 1e-9) / (steps - short)
    return members / per_step, max(0.0, walls[1] - short * per_step)


def _vmap(workload: str, members: int, steps: int, device: torch.device = CPU) -> float:
    """The ``torch.func`` ensemble: ``stack_module_state`` + ``vmap(grad(functional_call))`` +
    the stacked Adam update, eager, with the engine's data sources."""
    spec = W_B if workload == "W_B" else W_A
    model, data = _engine_setup(workload, device)
    seeds = list(range(members))
    params0 = [p.to(device) for p in model.init(seeds)]
    nets = [member_module(spec, model.layers(params0, k)).to(device) for k in range(members)]
    stacked, _ = torch.func.stack_module_state(nets)
    names = list(stacked)
    params = [stacked[n].detach() for n in names]
    base = member_module(spec, model.layers(params0, 0)).to("meta")

    def loss_one(flat: tuple[torch.Tensor, ...], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = torch.func.functional_call(base, dict(zip(names, flat, strict=True)), (x,))
        return nn.functional.mse_loss(out, y)

    grad_fn = torch.func.vmap(torch.func.grad(loss_one))
    opt = Adam()
    state = opt.init(params)
    lr = torch.full((members,), LR, dtype=torch.float64, device=device)
    active = torch.ones(members, dtype=torch.bool, device=device)
    data.start(seeds, device)
    warm = min(5, steps // 5)
    t0 = 0.0
    for s in range(steps + warm):
        if s == warm:
            _sync(device)
            t0 = time.perf_counter()
        x, y = data.next()
        grads = grad_fn(tuple(params), x, y)
        opt.update_(params, list(grads), state, lr, active)
    _sync(device)
    return steps * members / (time.perf_counter() - t0)


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        return None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def stability_problems(
    repeats: dict[str, Sequence[float]], loads: Sequence[float | None], cores: int, *, max_spread: float = MAX_SPREAD
) -> list[str]:
    """Why a benchmark's figures cannot be trusted (an empty list when they can).

    Args:
        repeats: figure name -> its repeated measurements (rates, higher is faster).
        loads: 1-minute load averages seen during the benchmark (None where unknown).
        cores: the cores available to this process.
        max_spread: the largest allowed ratio of the fastest to the slowest repeat.
    """
    problems = []
    for name, values in repeats.items():
        lo, hi = min(values), max(values)
        if lo <= 0 or hi / lo > max_spread:
            spread = "inf" if lo <= 0 else f"{hi / lo:.1f}"
            problems.append(
                f"{name}: repeats differ by {spread}x (" + ", ".join(f"{v:,.0f}" for v in values) + " per s)"
            )
    busy = [v for v in loads if v is not None and v > cores]
    if busy:
        problems.append(f"the machine is busy: 1-minute load average {max(busy):.1f} on {cores} cores available")
    return problems


def run_bench(
    *,
    quick: bool = False,
    members: int = 32,
    compile_: bool = True,
    echo: Callable[[str], None] = print,
    repeats: int | None = None,
    processes: int | None = None,
    extra: dict[tuple[str, str], Callable[[int, int], float]] | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, object]:
    """Measure the engine against the naive loop and ``torch.func`` on W_B and W_A; print and return.

    Methods, side by side: ``naive`` (one ``nn.Module`` at a time, ``torch.optim.Adam``), ``vmap``
    (``torch.func`` ensemble of K members), ``engine-eager`` and ``engine-compiled`` (K members in
    this process, torch's threads) and the same with ``-procN`` (K members sharded over N
    single-thread worker processes, ``TrainSpec(processes=N)``), plus any ``extra`` figures (e.g.
    the JAX reference of ``benchmarks/``). Engine figures are steady-state rates; the process
    layout's fixed cost per :func:`train` call (forking, loading the compiled step) is printed apart.

    Args:
        quick: fewer steps (a smoke check of the benchmark itself, not a measurement).
        members: K, members trained at once by the engine and by ``vmap``.
        compile_: include the compiled engine (eager is always measured).
        echo: where lines are printed.
        repeats: measurements of each figure (the median is reported); default 3 with
            ``quick``, 2 otherwise.
        processes: worker processes of the sharded layout (default: the cores available; fewer
            than 2 leaves the layout out).
        extra: ``(workload, method) -> measure(members, steps) -> model-steps/s``; counted as an
            alternative to the engine.
        device: ``cpu`` or a CUDA device. On CUDA every method trains on the GPU (the naive loop
            copies each batch from its CPU ``DataLoader``, as a notebook does), the process layout
            is left out, and the peak is measured both in exact float32 and with TF32 tensor cores.

    Returns:
        ``device``, ``threads``, ``peak_gflops`` (float32), ``peak_tf32_gflops`` (CUDA only, else
        None), ``members``, ``processes``, ``results`` (one dict per figure,
        with its ``spread``: fastest / slowest repeat), ``startup_s`` (process layout, per call),
        ``reliable`` and ``problems`` (see :func:`stability_problems`). When not reliable, no
        ratio is printed.
    """
    repeats = repeats if repeats is not None else (REPEATS_QUICK if quick else REPEATS_FULL)
    dev = check_device(device)
    cuda = dev.type == "cuda"
    loads = [_load_average()]
    threads = torch.get_num_threads()
    # Worker processes shard members over CPU cores; a GPU trains them all in one process.
    processes = 1 if cuda else min(_cores() if processes is None else processes, members)
    # A GPU step of W_A takes about a millisecond where a CPU's takes ~0.1 s: more steps to time.
    steps_b, steps_a = (100, 10) if quick else ((2000, 600) if cuda else (2000, 60))
    naive_steps_b, naive_steps_a = (100, 10) if quick else ((1500, 600) if cuda else (1500, 60))
    vmap_steps_b, vmap_steps_a = (20, 5) if quick else ((300, 300) if cuda else (300, 30))
    where = torch.cuda.get_device_name(dev) if cuda else f"{threads} threads"
    echo(
        f"learnability bench — torch {torch.__version__}, {dev.type}: {where}, K={members}, "
        f"process layout: {processes} x 1 thread{' (quick: figures are indicative only)' if quick else ''}"
    )
    peak_size = 1024 if quick else (8192 if cuda else PEAK_SIZE)
    peak = measure_peak_gflops(peak_size, device=dev)
    peak_tf32 = measure_peak_gflops(peak_size, device=dev, tf32=True) if cuda else None
    echo(
        f"peak fp32 matmul: {peak:,.1f} GFLOP/s"
        + (f"; with TF32 tensor cores: {peak_tf32:,.1f} GFLOP/s (the engine computes in exact fp32)" if cuda else "")
    )
    results: list[BenchResult] = []
    modes = [("eager", False)] + ([("compiled", True)] if compile_ else [])
    layouts = [1] + ([processes] if processes >= 2 else [])
    measured: dict[str, list[float]] = {}
    startup: dict[str, float] = {}
    alternatives = {"naive", "vmap"} | {m for _, m in (extra or {})}

    def figure(wl: str, method: str, k: int, fl: float, measure: Callable[[], float]) -> None:
        values = [measure() for _ in range(repeats)]
        measured[f"{wl} {method}"] = values
        rate = statistics.median(values)
        spread = max(values) / min(values) if min(values) > 0 else float("inf")
        results.append(BenchResult(wl, method, k, rate, rate * fl / 1e9, spread))

    for wl, spec, batch, naive, n_naive, n_vmap, n_eng in (
        ("W_B", W_B, W_B_BATCH, _naive_b, naive_steps_b, vmap_steps_b, steps_b),
        ("W_A", W_A, W_A_BATCH, _naive_a, naive_steps_a, vmap_steps_a, steps_a),
    ):
        fl = flops_per_model_step(spec, batch)
        figure(wl, "naive", 1, fl, lambda naive=naive, n=n_naive: naive(n, dev))
        figure(wl, "vmap", members, fl, lambda wl=wl, n=n_vmap: _vmap(wl, members, n, dev))
        for (ewl, method), fn in (extra or {}).items():
            if ewl == wl:
                figure(wl, method, members, fl, lambda fn=fn, n=n_eng: fn(members, n))
        for procs in layouts:
            for name, comp in modes:
                method = f"engine-{name}" + (f"-proc{procs}" if procs > 1 else "")

                def measure(
                    wl: str = wl, n: int = n_eng, comp: bool = comp, procs: int = procs, method: str = method
                ) -> float:
                    rate, fixed = _engine_timed(wl, members, n, comp, procs, dev)
                    if procs > 1:
                        startup[f"{wl} {method}"] = fixed
                    return rate

                figure(wl, method, members, fl, measure)
    loads.append(_load_average())
    problems = stability_problems(measured, loads, _cores())
    reliable = not problems
    ratio_head = f" {'x naive':>8} {'x best alt':>10}" if reliable else ""
    echo(f"{'workload':8} {'method':24} {'K':>4} {'model-steps/s':>14} {'GFLOP/s':>8}{ratio_head} {'% peak':>7}")
    for r in results:
        base = next(b for b in results if b.workload == r.workload and b.method == "naive")
        best_alt = max(b.model_steps_per_s for b in results if b.workload == r.workload and b.method in alternatives)
        ratio = (
            f" {r.model_steps_per_s / base.model_steps_per_s:>8.1f} {r.model_steps_per_s / best_alt:>10.2f}"
            if reliable
            else ""
        )
        echo(
            f"{r.workload:8} {r.method:24} {r.members:>4} {r.model_steps_per_s:>14,.0f} "
            f"{r.gflops:>8.1f}{ratio} {100 * r.gflops / peak:>6.0f}%"
        )
    for name, fixed in startup.items():
        echo(f"{name}: {fixed:.1f} s fixed cost per train() call (fork, compiled-step cache), not in the rate")
    if not reliable:
        echo(
            f"unreliable measurement: no speed-up ratio is printed ({repeats} repeats of each figure, "
            "medians above). " + "; ".join(problems) + ". Re-run on an idle machine (close other jobs; "
            "`uptime` shows the load)."
        )
    return {
        "device": str(dev),
        "threads": threads,
        "peak_gflops": peak,
        "peak_tf32_gflops": peak_tf32,
        "members": members,
        "processes": processes,
        "results": [r.to_dict() for r in results],
        "startup_s": startup,
        "reliable": reliable,
        "problems": problems,
        "repeats": repeats,
    }
