"""Workloads for the loading probe: a data set, the engine model that trains on it, and the step.

Tutorial 3's recipe compares the items per second a DataLoader delivers with the items per second
the training step consumes. :func:`learnability.data.probe_loading` takes any ``step_fn``; this
module supplies the project's own: :class:`EngineStep` (one step of the engine on a stacked
ensemble, as :func:`learnability.engine.train` runs it) and the :class:`Workload` s of the
``data-pipeline`` study and the ``learnability data-bench`` command:

- :func:`bell_workload` on :func:`bell_data` (Challenge 2 part B: the residual MLP on B6);
- :func:`image_workload` (Lab 4's ``ShallowFCN``) and :func:`restoration_workload` (an MLP
  restoring corrupted images);
- :func:`arc_workload` (a per-cell colour model) on task files written by :func:`write_arc_tasks`.

:func:`lazy_copy` writes in-memory tensors to disk and reads them back lazily; :func:`precompute`
computes every item of a dataset once.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from learnability._validation import check_choice, check_in_range
from learnability.data._arc import ARC_COLOURS, ARCTaskDataset, collate_arc_tasks
from learnability.data._datasets import (
    ItemFilesDataset,
    MemmapDataset,
    TensorDictDataset,
    save_item_files,
    save_memmap,
)
from learnability.data._images import ImageData
from learnability.engine import (
    Adam,
    MLPSpec,
    ModuleEnsemble,
    StackedMLP,
    cross_entropy,
    make_step,
    mse,
    nll,
)
from learnability.models import ShallowFCN
from learnability.targets import bell_polynomial

__all__ = [
    "ARC_PAD",
    "BELL_VARS",
    "LAZY_FORMATS",
    "PROBE_LR",
    "EngineStep",
    "Workload",
    "arc_workload",
    "bell_data",
    "bell_model",
    "bell_workload",
    "collate_arc_padded",
    "image_workload",
    "lazy_copy",
    "precompute",
    "restoration_workload",
    "stack_items",
    "write_arc_tasks",
]

# Challenge 2 part B: inputs are drawn from U[0, BELL_HIGH]^BELL_VARS and targets are B6(x).
BELL_VARS = 6
BELL_LOW, BELL_HIGH = 0.0, 2.0
# Learning rate of the timed steps: any small stable rate; speed does not depend on it.
PROBE_LR = 1e-4
# ARC tasks written by write_arc_tasks: pairs per section (inclusive ranges).
ARC_TRAIN_PAIRS = (2, 4)
ARC_TEST_PAIRS = (1, 2)
# ARC task kinds of the generated set; "recolour" is learnable cell by cell.
ARC_KINDS = ("recolour", "flip", "transpose")
# Token of padded cells in the ARC probe: one past the last colour, so the per-cell model has
# ARC_COLOURS + 1 classes and padding is never confused with colour 0.
ARC_PAD = ARC_COLOURS
# Lazy copies of in-memory tensors: one .pt file per item, or memory-mapped .npy arrays.
LAZY_FORMATS = ("files", "memmap")

# --------------------------------------------------------------------------------------------
# The engine step, as the probe's step_fn
# --------------------------------------------------------------------------------------------

XY = Callable[[Any, int], tuple[Tensor, Tensor]]


class EngineStep:
    """One engine training step (forward, backward, masked Adam update of K members) per batch.

    The DataLoader batch holds ``K * B`` items; ``to_xy(batch, K)`` reshapes it into the
    engine's per-member inputs ``(K, B, ...)`` and targets, so member k trains on its own ``B``
    items, exactly as the engine's ``FixedSource`` would feed it. The step is the one
    :func:`learnability.engine.train` runs (eager), with persistent parameters and optimizer
    state, so repeated calls time the steady state.

    Args:
        model: a ``StackedMLP`` or ``ModuleEnsemble``.
        loss: per-member loss (``mse``, ``nll``, ``cross_entropy``).
        to_xy: ``(batch, K) -> (x (K, B, ...), y (K, B, ...))``.
        members: K, members trained at once.
        seed: initial parameters of member k come from ``seed + k``.
        device: where parameters live (batches are moved there by the probe).
        lr: learning rate of every member.
    """

    def __init__(
        self,
        model: StackedMLP | ModuleEnsemble,
        loss: Callable[[Tensor, Tensor], Tensor],
        to_xy: XY,
        *,
        members: int,
        seed: int,
        device: torch.device | str = "cpu",
        lr: float = PROBE_LR,
    ) -> None:
        owner = "EngineStep"
        check_in_range(members, "members", owner, low=1, kind=int)
        check_in_range(seed, "seed", owner, low=0, kind=int)
        self.model, self.loss, self.to_xy, self.members = model, loss, to_xy, members
        device = torch.device(device)
        self.params = model.init([seed + k for k in range(members)], device=device)
        optimizer = Adam()
        self.state = optimizer.init(self.params)
        self._step = make_step(model, loss, optimizer, compile=False)
        self.lr = torch.full((members,), float(lr), dtype=torch.float64, device=device)
        self.active = torch.ones(members, dtype=torch.bool, device=device)
        self.ceiling = torch.full((members,), math.inf, device=device)
        self.steps = 0

    def __call__(self, batch: Any) -> Tensor:
        """Train one step on ``batch``; returns the (K,) losses before the update."""
        x, y = self.to_xy(batch, self.members)
        with torch.no_grad():  # as in the engine's loop: the step takes its own gradients
            losses, self.active = self._step(self.params, self.state, x, y, self.lr, self.active, self.ceiling)
        self.steps += 1
        return losses


# --------------------------------------------------------------------------------------------
# Workloads: a data set and the engine model that trains on it
# --------------------------------------------------------------------------------------------


@dataclass
class Workload:
    """A data set, the model the engine trains on it, and how batches become ``(x, y)``.

    Attributes:
        name: short name (``"bell"``, ``"digits"``, ...).
        dataset: the map-style Dataset the DataLoader reads.
        description: one line for tables (what the data are, in memory or not).
        make_step: ``(members, seed, device) -> EngineStep``.
        collate_fn: the DataLoader's collate function (None: the default).
        in_memory: whether the items live in memory (None: unknown).
    """

    name: str
    dataset: Dataset
    description: str
    make_step: Callable[[int, int, torch.device | str], EngineStep]
    collate_fn: Callable[[list[Any]], Any] | None = None
    in_memory: bool | None = None


def bell_data(n: int, *, seed: int) -> dict[str, Tensor]:
    """The Bell data set: ``x ~ U[0, 2]^6`` (N, 6) and ``y = B6(x)`` (N, 1), float32.

    Args:
        n: number of points (Challenge 2 part B uses 100,000 for training).
        seed: seed of the inputs.

    Returns:
        ``{"x": (n, 6), "y": (n, 1)}``.
    """
    check_in_range(n, "n", "bell_data", low=1, kind=int)
    g = torch.Generator().manual_seed(seed)
    x = BELL_LOW + (BELL_HIGH - BELL_LOW) * torch.rand(n, BELL_VARS, generator=g)  # (N, 6)
    y = bell_polynomial(BELL_VARS)(x)  # (N, 1)
    return {"x": x, "y": y}


def _bell_xy(batch: Mapping[str, Tensor], k: int) -> tuple[Tensor, Tensor]:
    return batch["x"].view(k, -1, BELL_VARS), batch["y"].view(k, -1, 1)  # (K, B, 6), (K, B, 1)


def bell_model(width: int = 50, hidden_layers: int = 9) -> StackedMLP:
    """The Bell study's residual MLP: an input layer 6 -> width, then residual width -> width."""
    return StackedMLP(MLPSpec(BELL_VARS, (width,) * hidden_layers, residual=True))


def bell_workload(
    dataset: Dataset,
    *,
    width: int = 50,
    hidden_layers: int = 9,
    description: str = "Bell data",
    in_memory: bool | None = None,
) -> Workload:
    """The Bell study's network on Bell data items ``{"x": (6,), "y": (1,)}``.

    Args:
        dataset: items with keys ``x`` and ``y``.
        width: hidden width (50).
        hidden_layers: hidden widths; 9 = an input layer 6 -> 50 and 8 residual 50 -> 50 layers.
        description: for tables.
        in_memory: whether ``dataset`` holds its items in memory.
    """
    model = bell_model(width, hidden_layers)

    def make_step(members: int, seed: int, device: torch.device | str) -> EngineStep:
        return EngineStep(model, mse, _bell_xy, members=members, seed=seed, device=device)

    return Workload("bell", dataset, description, make_step, in_memory=in_memory)


def image_workload(
    data: ImageData, dataset: Dataset | None = None, *, description: str | None = None, in_memory: bool | None = True
) -> Workload:
    """Lab 4's ``ShallowFCN`` (flatten, linear, log-softmax) on ``{"image", "label"}`` items.

    Args:
        data: the images (sizes the model).
        dataset: the Dataset to read (default: ``data.to_dataset()``, in memory).
        description: for tables.
        in_memory: whether ``dataset`` holds its items in memory.
    """
    c, h, w = data.image_shape
    n_classes = len(data.classes)
    model = ModuleEnsemble(lambda: ShallowFCN(c * h * w, n_classes, seed=0))

    def to_xy(batch: Mapping[str, Tensor], k: int) -> tuple[Tensor, Tensor]:
        return batch["image"].view(k, -1, c, h, w), batch["label"].view(k, -1)  # (K, B, C, H, W)

    def make_step(members: int, seed: int, device: torch.device | str) -> EngineStep:
        return EngineStep(model, nll, to_xy, members=members, seed=seed, device=device)

    return Workload(
        data.name,
        dataset if dataset is not None else data.to_dataset(),
        description or f"{data.name} images {c}x{h}x{w}",
        make_step,
        in_memory=in_memory,
    )


def restoration_workload(
    dataset: Dataset,
    image_shape: tuple[int, int, int],
    *,
    hidden: int = 128,
    description: str = "corrupted images",
    in_memory: bool | None = None,
) -> Workload:
    """A one-hidden-layer MLP restoring ``corrupted`` to ``clean`` (MSE), per member.

    Args:
        dataset: items ``{"corrupted": (C, H, W), "clean": (C, H, W), "label": ()}``.
        image_shape: ``(C, H, W)``.
        hidden: hidden width.
        description: for tables.
        in_memory: whether items are precomputed in memory (False: corrupted on the fly).
    """
    d = math.prod(image_shape)
    model = StackedMLP(MLPSpec(d, (hidden,), d_out=d))

    def to_xy(batch: Mapping[str, Tensor], k: int) -> tuple[Tensor, Tensor]:
        return batch["corrupted"].reshape(k, -1, d), batch["clean"].reshape(k, -1, d)  # (K, B, D)

    def make_step(members: int, seed: int, device: torch.device | str) -> EngineStep:
        return EngineStep(model, mse, to_xy, members=members, seed=seed, device=device)

    return Workload("corrupted", dataset, description, make_step, in_memory=in_memory)


def collate_arc_padded(items: list[dict[str, Any]]) -> dict[str, Any]:
    """:func:`collate_arc_tasks` with the pad token ``ARC_PAD``.

    Module-level (not a lambda) so DataLoader workers can receive it under any start method.
    """
    return collate_arc_tasks(items, pad_value=ARC_PAD)


def arc_workload(dataset: ARCTaskDataset, *, hidden: int = 32) -> Workload:
    """A per-cell colour model on ARC tasks: each cell of a train input predicts the same cell of
    its output (``ARC_COLOURS + 1`` classes, the last one = padding).

    The collate function pads to the batch's canvas with the token ``ARC_PAD``; the model sees
    every canvas cell, so the shapes are regular and members split the batch evenly.
    """
    classes = ARC_COLOURS + 1
    model = StackedMLP(MLPSpec(classes, (hidden,), d_out=classes))

    def to_xy(batch: Mapping[str, Any], k: int) -> tuple[Tensor, Tensor]:
        grids = batch["train_input"]  # (K*B, P, H, W)
        x = F.one_hot(grids, classes).to(torch.float32).reshape(k, -1, classes)  # (K, N, 11)
        return x, batch["train_output"].reshape(k, -1)  # (K, N)

    def make_step(members: int, seed: int, device: torch.device | str) -> EngineStep:
        return EngineStep(model, cross_entropy, to_xy, members=members, seed=seed, device=device)

    return Workload(
        "arc",
        dataset,
        f"ARC tasks ({len(dataset)} JSON files, read at start)",
        make_step,
        collate_fn=collate_arc_padded,
        in_memory=True,
    )


# --------------------------------------------------------------------------------------------
# Lazy copies, pre-processing once, generated ARC tasks
# --------------------------------------------------------------------------------------------


def lazy_copy(
    tensors: Mapping[str, Tensor], fmt: str, directory: Path, *, max_items: int, owner: str = "lazy_copy"
) -> Dataset:
    """Write ``tensors`` to ``directory`` and return the lazy Dataset reading them back.

    ``"memmap"`` writes every item (one ``.npy`` per key); ``"files"`` writes the first
    ``max_items`` items, one ``.pt`` file each (a per-item read costs the same whatever the
    number of files, and writing 100,000 files takes minutes).

    Args:
        tensors: ``{key: (N, ...)}``, the same N for every key.
        fmt: ``"files"`` or ``"memmap"``.
        directory: where the copy is written.
        max_items: most items written as ``.pt`` files.
        owner: named in the error of a bad ``fmt``.
    """
    check_choice(fmt, "lazy_format", owner, LAZY_FORMATS)
    if fmt == "memmap":
        return MemmapDataset(save_memmap(tensors, directory))
    n = min(max_items, len(next(iter(tensors.values()))))
    save_item_files(TensorDictDataset({k: v[:n] for k, v in tensors.items()}), directory)
    return ItemFilesDataset(directory)


def stack_items(dataset: Dataset, indices: Sequence[int]) -> dict[str, Tensor]:
    """Items ``indices`` of a dict-of-tensors dataset, stacked: ``{key: (len(indices), ...)}``."""
    items = [dataset[i] for i in indices]
    return {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in items[0]}


def precompute(dataset: Dataset) -> TensorDictDataset:
    """Every item computed once and kept in memory (the tutorial's "do not preprocess on the
    fly")."""
    return TensorDictDataset(stack_items(dataset, range(len(dataset))))  # type: ignore[arg-type]


def write_arc_tasks(directory: str | os.PathLike[str], n_tasks: int, *, seed: int, max_size: int = 10) -> list[Path]:
    """Write ``n_tasks`` small ARC task files (``task_000.json``, ...) to ``directory``.

    Each task applies one rule to random grids of random sizes 1..``max_size``: a recolouring
    (a permutation of the 10 colours), a left-right flip, or a transpose (output shape differs).

    Returns:
        The files written, in order.
    """
    owner = "write_arc_tasks"
    check_in_range(n_tasks, "n_tasks", owner, low=1, kind=int)
    check_in_range(max_size, "max_size", owner, low=1, high=30, kind=int)
    rng = np.random.default_rng(seed)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for t in range(n_tasks):
        kind = ARC_KINDS[t % len(ARC_KINDS)]
        colours = rng.permutation(ARC_COLOURS)

        def pair(kind: str = kind, colours: np.ndarray = colours) -> dict[str, list[list[int]]]:
            h, w = (int(v) for v in rng.integers(1, max_size + 1, size=2))
            grid = rng.integers(0, ARC_COLOURS, size=(h, w))
            out = {"recolour": lambda g: colours[g], "flip": lambda g: g[:, ::-1], "transpose": lambda g: g.T}[kind](
                grid
            )
            return {"input": grid.tolist(), "output": np.asarray(out).tolist()}

        task = {
            "train": [pair() for _ in range(int(rng.integers(ARC_TRAIN_PAIRS[0], ARC_TRAIN_PAIRS[1] + 1)))],
            "test": [pair() for _ in range(int(rng.integers(ARC_TEST_PAIRS[0], ARC_TEST_PAIRS[1] + 1)))],
        }
        path = directory / f"task_{t:03d}.json"
        path.write_text(json.dumps(task))
        paths.append(path)
    return paths
