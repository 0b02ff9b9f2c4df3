"""The study's checks of the data themselves: corruptions deterministic per ``(seed, index)``,
ARC padding and masks exact, and the error a broken ARC file gets."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from learnability._validation import check_in_range
from learnability.data import (
    ARC_PAD,
    ARCFormatError,
    ARCTaskDataset,
    CorruptedImageDataset,
    collate_arc_tasks,
    item_generator,
    stack_items,
)

__all__ = ["arc_format_error", "arc_padding_check", "corruption_determinism"]


def corruption_determinism(
    dataset: CorruptedImageDataset, *, n: int, other_seed: int, workers: int = 2, batch_size: int = 8
) -> dict[str, float]:
    """Measure that item ``i``'s corruption depends on ``(seed, i)`` only.

    Reads the first ``n`` items in index order in the main process, then again in reverse
    order, then through a DataLoader with ``workers`` processes and a shuffled order, and with
    a dataset of another seed.

    Returns:
        ``max_abs_diff_reverse`` and ``max_abs_diff_workers`` (0 when deterministic),
        ``mean_abs_diff_other_seed`` (> 0: another seed, other corruptions),
        ``mean_abs_diff_neighbour`` (one image corrupted with the streams of indices i and
        i + 1; > 0: every index has its own stream), ``frac_items_changed`` (items whose
        corrupted image differs from the clean one), ``n``.
    """
    owner = "corruption_determinism"
    check_in_range(n, "n", owner, low=2, high=len(dataset), kind=int)
    check_in_range(workers, "workers", owner, low=0, kind=int)
    idx = list(range(n))
    forward = stack_items(dataset, idx)["corrupted"]  # (n, C, H, W)
    backward = stack_items(dataset, idx[::-1])["corrupted"].flip(0)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(other_seed)).tolist()
    loader = DataLoader(dataset, batch_size=batch_size, sampler=order, num_workers=workers)
    via_workers = torch.cat([b["corrupted"] for b in loader])[torch.argsort(torch.tensor(order))]
    other = CorruptedImageDataset(dataset.data, dataset.corruption, seed=other_seed)
    other_c = stack_items(other, idx)["corrupted"]
    clean = stack_items(dataset, idx)["clean"]
    changed = ((forward - clean).abs().flatten(1).amax(1) > 0).float().mean()
    # Same image, streams of consecutive indices: isolates the per-index generator.
    image = dataset.data.images[:1]  # (1, C, H, W)
    streams = torch.cat(
        [dataset.corruption(image, generator=item_generator(dataset.seed, i)) for i in idx]
    )  # (n, C, H, W)
    return {
        "n": float(n),
        "max_abs_diff_reverse": float((forward - backward).abs().max()),
        "max_abs_diff_workers": float((forward - via_workers).abs().max()),
        "mean_abs_diff_other_seed": float((forward - other_c).abs().mean()),
        "mean_abs_diff_neighbour": float((streams[1:] - streams[:-1]).abs().mean()),
        "frac_items_changed": float(changed),
    }


def arc_padding_check(dataset: ARCTaskDataset, *, batch_size: int) -> dict[str, Any]:
    """Collate every batch of ``dataset`` and check padding and masks against the items.

    Returns:
        ``n_tasks``, ``n_batches``, ``canvases`` (list of ``[H, W]``), ``real_cell_fraction``
        (real cells / canvas cells over all grids), ``pair_slot_fraction`` (real pairs / pair
        slots), ``roundtrip_exact`` (every grid recovered exactly from its batch with the
        sizes), ``masks_exact`` (every mask True exactly on real cells), ``padding_exact``
        (every padded cell holds the pad token), ``first_batch`` (the first batch, for figures).
    """
    keys = ("train_input", "train_output", "test_input", "test_output")
    real = total = pairs_real = pairs_total = 0
    roundtrip = masks_ok = pads_ok = True
    canvases: list[list[int]] = []
    first: dict[str, Any] | None = None
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        batch = collate_arc_tasks(items, pad_value=ARC_PAD)
        first = first if first is not None else batch
        canvases.append(list(batch["train_input"].shape[-2:]))
        for key in keys:
            grids, mask, sizes = batch[key], batch[f"{key}_mask"], batch[f"{key}_size"]
            real += int(mask.sum())
            total += mask.numel()
            pads_ok &= bool((grids[~mask] == ARC_PAD).all())
            for i, item in enumerate(items):
                for p, grid in enumerate(item[key]):
                    h, w = (int(v) for v in sizes[i, p])
                    roundtrip &= (h, w) == tuple(grid.shape) and torch.equal(grids[i, p, :h, :w], grid)
                    masks_ok &= int(mask[i, p].sum()) == h * w and bool(mask[i, p, :h, :w].all())
        for section in ("train", "test"):
            pairs_real += int(batch[f"{section}_pairs"].sum())
            pairs_total += batch[f"{section}_pairs"].numel()
    return {
        "n_tasks": len(dataset),
        "n_batches": len(canvases),
        "canvases": canvases,
        "real_cell_fraction": real / total,
        "pair_slot_fraction": pairs_real / pairs_total,
        "roundtrip_exact": roundtrip,
        "masks_exact": masks_ok,
        "padding_exact": pads_ok,
        "first_batch": first,
    }


def arc_format_error(directory: Path) -> str:
    """Write one broken task (a ragged grid) and return the error message, file name only."""
    bad = directory / "broken_task.json"
    bad.write_text(
        json.dumps({"train": [{"input": [[1, 2], [3]], "output": [[1]]}], "test": [{"input": [[0]], "output": [[0]]}]})
    )
    try:
        ARCTaskDataset([bad])
    except ARCFormatError as exc:
        return str(exc).replace(str(directory) + os.sep, "")
    finally:
        bad.unlink()
    raise AssertionError("a ragged grid was accepted")  # pragma: no cover
