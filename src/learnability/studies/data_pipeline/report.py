"""The data-pipeline report, from the run folder alone: every sentence is computed from the
measurements, so on another machine the verdicts may differ, and they should."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pandas as pd

from learnability._words import plural
from learnability.data import ARC_PAD, BOTTLENECK_RATIO, E2E_LOSS_NOTE
from learnability.report import Figure, Heading, Report, Table, Text, fmt
from learnability.runs import Run
from learnability.studies.data_pipeline.charts import arc_chart, corrupted_chart, probe_table, rates_chart, sweep_chart
from learnability.studies.data_pipeline.config import DataPipelineConfig
from learnability.studies.data_pipeline.results import BellMembers, DataPipelineResults, SweepBest

__all__ = ["report"]

R = DataPipelineResults
# The residual sd of n points estimates the noise sd with relative sd ~1/sqrt(2 (n - 1)): 16% at
# the tutorial's 20 points; within 50% (3 such sd) it is called close.
TOY_NOISE_TOL = 0.5

_BOTTLENECK_WORDS = {
    "loader": "loading is the bottleneck",
    "compute": "the step is the bottleneck",
    "balanced": "loading and the step are balanced",
}


def _toy_section(rep: Report, results: DataPipelineResults) -> None:
    """Tutorial 3's first example, ToyDataset (absent from older runs)."""
    toy = results.toy
    if toy is None:
        return
    item = ", ".join(f"'{k}': {fmt(v)}" for k, v in toy.item.items())
    shape = "x".join(map(str, toy.batch_shape)) or "scalar"
    close = abs(toy.residual_sd - toy.noise) <= TOY_NOISE_TOL * max(toy.noise, 1e-12)
    rep.add(
        Heading("First example: the tutorial's ToyDataset"),
        Text(
            f"ToyDataset({toy.n_points}, noise={fmt(toy.noise)}) holds x = linspace(-1, 1, {toy.n_points}) and "
            f"y = x^3 + {fmt(toy.noise)} eps in memory: len(dataset) = {toy.n_points}, dataset[{toy.item_index}] = "
            f"{{{item}}}, and a plain for loop visits {plural(toy.iterated, 'item')} (__getitem__ alone makes it "
            f"iterable). A DataLoader with batch_size={toy.batch_size} collates the dict items into "
            f"{plural(toy.n_batches, 'dict batch', 'dict batches')} with keys {', '.join(toy.batch_keys)}, each "
            f"value a tensor of shape ({shape}). The residuals y - x^3 have sd {fmt(toy.residual_sd)}, "
            + ("close to" if close else "NOT close to")
            + f" the noise sd {fmt(toy.noise)}."
        ),
    )


def report(results: DataPipelineResults, run: Run) -> Report:
    """The report: Bell data, the sweep, images, corrupted images, ARC, and what helps."""
    cfg: DataPipelineConfig = run.config
    probes = run.load_table(R.PROBES_TABLE)
    sweep = run.load_table(R.SWEEP_TABLE)
    members = list(cfg.bell.members)
    kn = max(members)
    head = {
        f"Bell K={k} (batch {cfg.bell.batch_size})": f"{_BOTTLENECK_WORDS[results.bell_k(k).bottleneck]} "
        f"(step/loader {fmt(results.bell_k(k).ratio)})"
        for k in members
    }
    head["FixedSource vs DataLoader, end to end"] = f"{fmt(results.bell_k(kn).fixed_source_speedup)}x at K={kn}"
    head["corruptions deterministic per (seed, index)"] = fmt(results.corruption.deterministic)
    rep = Report("Data pipeline: where training waits for data", headline=head)
    rep.add(
        Text(
            "Tutorial 3's recipe, measured: the items per second the DataLoader delivers, the items "
            "per second the engine's training step consumes when the batch is already there, and "
            "the two together. A side is called the bottleneck when it is slower than the other by "
            f"more than {BOTTLENECK_RATIO}x. Each configuration was probed "
            f"{plural(cfg.probe.repeats, 'time')}; the table quotes the median ratio with its range. "
            f"The machine has {results.machine.cpu_count} CPU cores, shared with other jobs, and "
            f"the probes ran torch on {plural(results.machine.probe_threads, 'thread')}: absolute rates are "
            "noisy, and worker processes compete with the training step for the same cores. "
            f"Training steps ran on {results.machine.device}"
            + (
                ", batches copied from pinned memory with non_blocking=True."
                if results.machine.pin_memory
                else " (no pinned memory: it only speeds up copies to a CUDA device)."
            )
        )
    )
    _toy_section(rep, results)
    _bell_section(rep, results, cfg, probes)
    rep.add(Heading("Sweep: num_workers x batch size (Bell data, in memory, one model)"))
    rep.add(Text(_sweep_sentence(sweep, results.sweep_best)))
    rep.add(Figure(sweep_chart(sweep)))
    _images_section(rep, results, cfg, probes)
    _corruption_section(rep, results, cfg, probes, run)
    _arc_section(rep, results, run)
    rep.add(Heading("Which change helps, measured"))
    rep.add(_helps_table(results, probes, sweep, members))
    return rep


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _bell_section(rep: Report, results: DataPipelineResults, cfg: DataPipelineConfig, probes: pd.DataFrame) -> None:
    b = cfg.bell
    members = list(b.members)
    w0 = min(b.workers)
    rep.add(Heading(f"Bell data: {b.n_train:,} x 6 inputs, batch {b.batch_size}"))
    rep.add(*[Text(_bell_paragraph(results.bell_k(k), k, b.batch_size, w0)) for k in members])
    lazy_words = []
    for fmt_, d in results.bell_lazy.items():
        what = {"memmap": "memory-mapped .npy arrays", "files": "one .pt file per item"}[fmt_]
        lazy_words.append(
            f"from {what} (K={d.members}) the DataLoader delivers "
            f"{fmt(d.loader_items_per_s)} items/s, "
            f"{fmt(d.slowdown_vs_memory)}x slower than from memory "
            f"({_BOTTLENECK_WORDS[d.bottleneck]})"
        )
    if lazy_words:
        rep.add(Text(f"In memory vs lazy (num_workers={w0}): " + "; ".join(lazy_words) + "."))
    k1 = min(members)
    rep.add(Text(_workers_sentence(probes[probes["part"] == "bell"], k1)))
    lazy_files = probes[(probes["part"] == "bell") & (probes["variant"] == "files") & (probes["members"] == k1)]
    if not lazy_files.empty:
        r = lazy_files.iloc[0]
        rep.add(
            Text(
                f"The probe's advice for one .pt file per item (num_workers="
                f"{int(r['num_workers'])}): {r['verdict']} "
                + " ".join(f"({i + 1}) {t}" for i, t in enumerate(str(r["suggestions"]).splitlines()))
            )
        )
    rep.add(
        probe_table(
            probes[probes["part"] == "bell"],
            "Every Bell configuration; step / loader > 1 means the step waits for "
            "data (median [min, max] over the repeats).",
        )
    )
    rep.add(Figure(rates_chart(probes, members, results)))


def _bell_paragraph(d: BellMembers, k: int, batch: int, workers: int) -> str:
    """The Bell data with ``k`` models: loader against step, end to end, FixedSource."""
    who = "one model" if k == 1 else f"{k} models trained at once by the engine"
    if d.bottleneck == "loader":
        verdict = f"loading is the bottleneck by {fmt(d.ratio)}x."
    elif d.bottleneck == "compute":
        verdict = f"the step is the bottleneck (the loader is {fmt(1 / d.ratio)}x faster)."
    else:
        verdict = f"the two are within {BOTTLENECK_RATIO}x (ratio {fmt(d.ratio)})."
    return (
        f"For the Bell data at batch {batch} with {who} (loader batch "
        f"{k * batch}), the in-memory DataLoader with "
        f"num_workers={workers} "
        f"delivers {fmt(d.loader_items_per_s)} items/s while the engine step consumes "
        f"{fmt(d.step_items_per_s)} items/s: "
        + verdict
        + ("" if d.consistent else " The repeats disagreed on this verdict.")
        + f" End to end the DataLoader-fed engine reaches {fmt(d.end_to_end_items_per_s)} "
        f"items/s ({_e2e_words(d, workers)}); keeping the data as one in-memory "
        f"tensor indexed on the device (the engine's FixedSource) reaches "
        f"{fmt(d.fixed_source_items_per_s)} items/s, "
        f"{_times(d.fixed_source_items_per_s, d.end_to_end_items_per_s)}."
    )


def _images_section(rep: Report, results: DataPipelineResults, cfg: DataPipelineConfig, probes: pd.DataFrame) -> None:
    img = results.images
    rep.add(
        Heading(f"Images: {img.dataset} ({img.n_items:,} images {'x'.join(map(str, img.shape))}), Lab 4's ShallowFCN")
    )
    rep.add(
        Text(
            f"At batch {cfg.images.batch_size}, in memory: {img.verdict}"
            + (f" Data: {img.dataset}, {img.dataset_reason}." if img.dataset_reason else "")
        )
    )
    rep.add(probe_table(probes[probes["part"] == "images"], "Images in memory vs memory-mapped."))


def _corruption_section(
    rep: Report, results: DataPipelineResults, cfg: DataPipelineConfig, probes: pd.DataFrame, run: Run
) -> None:
    c = results.corruption
    rep.add(Heading(f"Corrupted images ({c.corruptions})"))
    rep.add(Figure(corrupted_chart(run.load_arrays(R.CORRUPTED_ARRAYS))))
    rep.add(
        Text(
            f"Determinism per (seed, index), over the first {int(c.n)} items: reading them in "
            f"reverse order {_same(c.max_abs_diff_reverse)}, and reading them through a shuffled "
            f"DataLoader with {cfg.corruption.check_workers} worker process(es) "
            f"{_same(c.max_abs_diff_workers)}; "
            + (
                "so the corruption of an item depends on (seed, index) alone. "
                if c.deterministic
                else "THE CORRUPTIONS ARE NOT REPRODUCIBLE. "
            )
            + f"Another seed gives other corruptions (mean |difference| "
            f"{fmt(c.mean_abs_diff_other_seed)}), and every index has its own stream (one image "
            f"corrupted with the streams of consecutive indices: mean |difference| "
            f"{fmt(c.mean_abs_diff_neighbour)}); "
            f"{fmt(100 * c.frac_items_changed)}% of the items differ from their clean image."
        )
    )
    rep.add(
        Text(
            f"Pre-processing once: corrupting every item up front took "
            f"{fmt(c.precompute_seconds)} s "
            + (
                "and gives identical items (the corruptions are a function of (seed, index)); "
                if c.precomputed_identical
                else "and gives DIFFERENT items; "
            )
            + f"the DataLoader then delivers "
            f"{fmt(c.precomputed_loader_items_per_s)} items/s instead of "
            f"{fmt(c.on_the_fly_loader_items_per_s)} ({fmt(c.precompute_speedup)}x); with the "
            f"restoration MLP's step, on the fly {_BOTTLENECK_WORDS[c.on_the_fly_bottleneck]}, "
            f"pre-processed {_BOTTLENECK_WORDS[c.precomputed_bottleneck]}. "
            "Pre-processing once fixes each item's corruption for every epoch; drawing fresh "
            "corruptions every epoch needs the on-the-fly dataset (with the epoch in the seed)."
        )
    )
    rep.add(probe_table(probes[probes["part"] == "corrupted"], "Corrupted images: on the fly vs pre-processed once."))


def _arc_section(rep: Report, results: DataPipelineResults, run: Run) -> None:
    a = results.arc
    rep.add(Heading(f"ARC tasks ({a.n_tasks} generated task files)"))
    counts = Counter(f"{h}x{w}" for h, w in a.canvases)
    canv = ", ".join(f"{c_} in {n} batch{'es' if n > 1 else ''}" for c_, n in counts.items())
    rep.add(
        Text(
            f"One task per item; collate_arc_tasks pads every grid of a batch to the batch's canvas "
            f"(here {canv}) with masks. Over {a.n_batches} batches, "
            f"{fmt(100 * a.real_cell_fraction)}% of the padded cells are real and "
            f"{fmt(100 * a.pair_slot_fraction)}% of the pair slots hold a real pair. Every grid "
            f"was {'recovered exactly' if a.roundtrip_exact else 'NOT recovered'} from the batch "
            f"with its size; the masks are {'exactly' if a.masks_exact else 'NOT'} the real "
            f"cells; padded cells {'all' if a.padding_exact else 'do NOT all'} hold the pad "
            f"token {ARC_PAD}. A broken file is refused with: `{a.format_error}`. Loading "
            f"{fmt(a.loader_items_per_s)} tasks/s against a per-cell model consuming "
            f"{fmt(a.step_items_per_s)} tasks/s: {_BOTTLENECK_WORDS[a.bottleneck]}."
        )
    )
    rep.add(Figure(arc_chart(run.load_arrays(R.ARC_ARRAYS))))


# --------------------------------------------------------------------------------------------
# Sentences computed from the numbers
# --------------------------------------------------------------------------------------------


def _times(a: float, b: float) -> str:
    """``a`` relative to ``b`` in words, calling differences inside the noise margin so."""
    if b <= 0 or a <= 0:
        return "n/a"
    hi, lo = max(a, b), min(a, b)
    words = f"{fmt(hi / lo)}x {'faster' if a >= b else 'slower'}"
    return words if hi / lo > BOTTLENECK_RATIO else f"{words}, within the noise margin"


def _e2e_words(d: BellMembers, workers: int) -> str:
    """How far end to end falls below the step alone, in words."""
    loss = 1 - d.end_to_end_items_per_s / d.step_items_per_s
    if loss <= E2E_LOSS_NOTE:
        return "within the noise margin of the step alone"
    why = (
        "loading and the step take turns in one process"
        if workers == 0
        else "the workers compete with the step for the cores"
    )
    return f"{fmt(100 * loss)}% below the step alone: with num_workers={workers} {why}"


def _same(diff: float) -> str:
    return "changes no pixel" if diff == 0 else f"CHANGES PIXELS (max |difference| {fmt(diff)})"


def _effect(before: float, after: float) -> str:
    """ "helped" / "hurt" / "made no clear difference", with the noise margin."""
    if after > before * BOTTLENECK_RATIO:
        return "helped"
    if after * BOTTLENECK_RATIO < before:
        return "hurt"
    return "made no clear difference"


def _workers_sentence(rows: pd.DataFrame, k: int) -> str:
    parts, verdicts = [], {}
    for variant, g in rows[rows["members"] == k].groupby("variant", sort=False):
        g = g.sort_values("num_workers")
        if len(g) < 2:
            continue
        lo, hi = g.iloc[0], g.iloc[-1]
        best = g.iloc[1:].loc[g.iloc[1:]["end_to_end_items_per_s"].idxmax()]
        verdicts.setdefault(_effect(lo["end_to_end_items_per_s"], best["end_to_end_items_per_s"]), []).append(
            str(variant)
        )
        parts.append(
            f"{variant}: num_workers {int(lo['num_workers'])} -> {int(hi['num_workers'])} "
            f"changes the loader from {fmt(lo['loader_items_per_s'])} to "
            f"{fmt(hi['loader_items_per_s'])} items/s and end to end from "
            f"{fmt(lo['end_to_end_items_per_s'])} to "
            f"{fmt(hi['end_to_end_items_per_s'])}"
        )
    if not parts:
        return "Only one worker count was probed."
    summary = "; ".join(f"for {', '.join(v)} they {e}" for e, v in verdicts.items())
    return (
        f"More workers (K={k}): " + "; ".join(parts) + f". End to end (best worker count "
        f"against none): {summary}. Workers run __getitem__ and collation in other processes "
        "and send every batch back through a pipe; they pay off when an item is expensive to "
        "produce and cores are free, and they compete with the training step when not."
    )


def _sweep_sentence(sweep: pd.DataFrame, best: SweepBest) -> str:
    parts = []
    for w, g in sweep.sort_values("batch_size").groupby("num_workers"):
        lo, hi = g.iloc[0], g.iloc[-1]
        parts.append(
            f"with {int(w)} workers the loader goes from {fmt(lo['loader_items_per_s'])} "
            f"items/s at batch {int(lo['batch_size'])} to "
            f"{fmt(hi['loader_items_per_s'])} at batch {int(hi['batch_size'])} "
            f"({fmt(hi['loader_items_per_s'] / lo['loader_items_per_s'])}x)"
        )
    step = sweep.groupby("batch_size")["step_items_per_s"].median().sort_index()
    step_gain = step.iloc[-1] / step.iloc[0]
    w0 = sweep[sweep["num_workers"] == sweep["num_workers"].min()].sort_values("batch_size")
    loader_gain = w0["loader_items_per_s"].iloc[-1] / w0["loader_items_per_s"].iloc[0]
    where = (
        "the engine step, whose cost is mostly per step (Python and kernel launches), not "
        "the DataLoader, whose cost is mostly per item (__getitem__, collation)"
        if step_gain > loader_gain * BOTTLENECK_RATIO
        else "the DataLoader more than the step"
        if loader_gain > step_gain * BOTTLENECK_RATIO
        else "the DataLoader and the step alike"
    )
    return (
        f"Bigger batches: {'; '.join(parts)}; the engine step goes from {fmt(step.iloc[0])} "
        f"to {fmt(step.iloc[-1])} items/s ({fmt(step_gain)}x). A bigger batch speeds up "
        f"{where}. Fastest end to end: num_workers={best.num_workers} at batch "
        f"{best.batch_size}, {fmt(best.end_to_end_items_per_s)} items/s. A bigger batch "
        "changes training itself (fewer steps per epoch; retune the learning rate)."
    )


def _change(before: float, after: float) -> list[str]:
    """``["before -> after", "factor x"]`` table cells."""
    return [f"{fmt(before)} -> {fmt(after)}", f"{fmt(after / before)}x" if before else "n/a"]


def _helps_table(
    results: DataPipelineResults, probes: pd.DataFrame, sweep: pd.DataFrame, members: Sequence[int]
) -> Table:
    rows = []
    k1, kn = min(members), max(members)
    for fmt_, d in results.bell_lazy.items():
        rows.append(
            [
                f"in memory instead of lazy ({fmt_})",
                f"Bell, K={d.members}",
                "loader items/s",
                *_change(d.loader_items_per_s, d.loader_items_per_s * d.slowdown_vs_memory),
            ]
        )
    bell = probes[(probes["part"] == "bell") & (probes["members"] == k1)]
    for variant in ("files", "memory"):
        g = bell[bell["variant"] == variant]
        none, some = g[g["num_workers"] == 0], g[g["num_workers"] > 0]
        if len(none) and len(some):
            lo, hi = none.iloc[0], some.loc[some["end_to_end_items_per_s"].idxmax()]
            rows.append(
                [
                    f"workers (0 -> {int(hi['num_workers'])}, the best > 0)",
                    f"Bell {variant}, K={k1}",
                    "end to end items/s",
                    *_change(lo["end_to_end_items_per_s"], hi["end_to_end_items_per_s"]),
                ]
            )
    c = results.corruption
    rows.append(
        [
            "pre-process once",
            "corrupted images",
            "loader items/s",
            *_change(c.on_the_fly_loader_items_per_s, c.precomputed_loader_items_per_s),
        ]
    )
    w0 = sweep[sweep["num_workers"] == sweep["num_workers"].min()].sort_values("batch_size")
    if len(w0) >= 2:
        lo, hi = w0.iloc[0], w0.iloc[-1]
        rows.append(
            [
                f"bigger batch ({int(lo['batch_size'])} -> {int(hi['batch_size'])})",
                f"Bell, in memory, K=1, {int(lo['num_workers'])} workers",
                "end to end items/s",
                *_change(lo["end_to_end_items_per_s"], hi["end_to_end_items_per_s"]),
            ]
        )
    for k in sorted({k1, kn}):
        d = results.bell_k(k)
        rows.append(
            [
                "engine FixedSource instead of a DataLoader",
                f"Bell, K={k}",
                "end to end items/s",
                *_change(d.end_to_end_items_per_s, d.fixed_source_items_per_s),
            ]
        )
    return Table(
        ["change", "data", "measured", "before -> after", "factor"],
        rows,
        "Factors > 1 help; all from this run (one machine, noisy: differences below "
        f"{BOTTLENECK_RATIO}x are within the noise).",
    )
