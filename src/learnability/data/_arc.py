"""ARC tasks (Chollet, "On the Measure of Intelligence", 2019; github.com/fchollet/ARC).

A task file is JSON: ``{"train": [pair, ...], "test": [pair, ...]}`` where a pair is
``{"input": grid, "output": grid}`` and a grid is a rectangular list of rows of integers 0..9,
from 1x1 to 30x30.

What the Dataset returns (Tutorial 3's discussion exercise, decided): one *task* per item,
because a task is the unit a solver sees -- a few demonstrations and the queries to answer.
Grids keep their own sizes in the item; :func:`collate_arc_tasks` pads a batch of tasks to
common sizes and returns boolean masks saying which cells and which pairs are real.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from learnability._validation import ParameterError, check_in_range
from learnability.data._datasets import _check_index
from learnability.data._errors import DataFileError

__all__ = [
    "ARC_COLOURS",
    "ARC_MAX_SIZE",
    "ARCFormatError",
    "ARCTaskDataset",
    "collate_arc_tasks",
    "validate_arc_task",
]

ARC_COLOURS = 10  # cell values are 0..9
ARC_MAX_SIZE = 30  # grids are 1x1 .. 30x30
_SECTIONS = ("train", "test")
_SIDES = ("input", "output")


class ARCFormatError(DataFileError):
    """An ARC task file breaks the format; the message names the file and where (e.g.
    ``train[1].output row 2``)."""


def _check_grid(grid: Any, where: str, source: object) -> torch.Tensor:
    if not isinstance(grid, list) or not grid:
        raise ARCFormatError(source, f"{where} must be a non-empty list of rows, got {_kind(grid)}")
    if len(grid) > ARC_MAX_SIZE:
        raise ARCFormatError(source, f"{where} has {len(grid)} rows; at most {ARC_MAX_SIZE} allowed")
    width = None
    for r, row in enumerate(grid):
        if not isinstance(row, list) or not row:
            raise ARCFormatError(source, f"{where} row {r} must be a non-empty list, got {_kind(row)}")
        if width is None:
            width = len(row)
            if width > ARC_MAX_SIZE:
                raise ARCFormatError(source, f"{where} has {width} columns; at most {ARC_MAX_SIZE} allowed")
        elif len(row) != width:
            raise ARCFormatError(
                source,
                f"{where} row {r} has {len(row)} cells but row 0 has {width} (grids must be rectangular)",
            )
        for c, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < ARC_COLOURS:
                raise ARCFormatError(
                    source,
                    f"{where} cell ({r}, {c}) is {value!r}; cells must be integers 0..{ARC_COLOURS - 1}",
                )
    return torch.tensor(grid, dtype=torch.int64)  # (h, w)


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if not isinstance(value, list | dict) else type(value).__name__


def validate_arc_task(task: Any, source: object = "<task>") -> dict[str, list[torch.Tensor]]:
    """Check one decoded ARC task and convert its grids to tensors.

    Args:
        task: the decoded JSON object.
        source: what to name in errors (the file path).

    Returns:
        ``{"train_input": [(h, w), ...], "train_output": [...], "test_input": [...],
        "test_output": [...]}`` int64 grids, pairs in file order.

    Raises:
        ARCFormatError: naming ``source`` and the first problem found (missing section, empty
            section, pair without input/output, non-rectangular grid, size outside 1..30, cell
            outside 0..9).
    """
    if not isinstance(task, dict):
        raise ARCFormatError(source, f"the top level must be an object with 'train' and 'test', got {_kind(task)}")
    grids: dict[str, list[torch.Tensor]] = {}
    for section in _SECTIONS:
        if section not in task:
            raise ARCFormatError(source, f"missing the '{section}' list of pairs")
        pairs = task[section]
        if not isinstance(pairs, list) or not pairs:
            raise ARCFormatError(source, f"'{section}' must be a non-empty list of pairs, got {_kind(pairs)}")
        for side in _SIDES:
            grids[f"{section}_{side}"] = []
        for p, pair in enumerate(pairs):
            if not isinstance(pair, dict):
                raise ARCFormatError(source, f"{section}[{p}] must be an object with 'input' and 'output'")
            for side in _SIDES:
                if side not in pair:
                    raise ARCFormatError(source, f"{section}[{p}] has no '{side}' grid")
                grids[f"{section}_{side}"].append(_check_grid(pair[side], f"{section}[{p}].{side}", source))
    return grids


class ARCTaskDataset(Dataset[dict[str, Any]]):
    """One ARC task per item, from a directory of task JSON files.

    Args:
        source: a directory (every ``*.json`` in it, sorted by name; e.g. ``ARC/data/training``)
            or a sequence of files.

    Every file is read and validated when the dataset is built (ARC is small: 400 tasks of a
    few KB), so format errors surface at once, naming the file.

    Item ``i``: ``{"task_id": str (the file stem), "train_input": list of (h, w) int64,
    "train_output": [...], "test_input": [...], "test_output": [...]}``. Batch them with
    ``DataLoader(..., collate_fn=collate_arc_tasks)``.

    Raises:
        ParameterError: when no JSON file is found.
        ARCFormatError: naming the file, for invalid JSON or a format violation.
    """

    def __init__(self, source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> None:
        owner = "ARCTaskDataset"
        if isinstance(source, str | os.PathLike):
            directory = Path(source)
            if not directory.is_dir():
                raise ParameterError("source", owner, "an existing directory of ARC task files", str(source))
            paths = sorted(directory.glob("*.json"))
        else:
            paths = [Path(p) for p in source]
        if not paths:
            raise ParameterError("source", owner, "a directory or list holding ARC *.json task files", str(source))
        self.paths: list[Path] = paths
        self.tasks: list[dict[str, list[torch.Tensor]]] = [self._read(p) for p in paths]

    @staticmethod
    def _read(path: Path) -> dict[str, list[torch.Tensor]]:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ARCFormatError(path, f"cannot be read ({exc.strerror or exc})") from exc
        try:
            task = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ARCFormatError(path, f"is not valid JSON: {exc}") from exc
        return validate_arc_task(task, path)

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, index: int) -> dict[str, Any]:
        i = _check_index(index, len(self.tasks), "ARCTaskDataset")
        return {"task_id": self.paths[i].stem, **{k: list(v) for k, v in self.tasks[i].items()}}


def collate_arc_tasks(items: Sequence[dict[str, Any]], *, pad_value: int = 0) -> dict[str, Any]:
    """Pad a batch of tasks to the batch maxima, with masks.

    All grids of the batch (inputs and outputs, train and test) are padded at the bottom/right
    to one canvas ``(H, W)`` = the largest height and width in the batch, so an input and its
    output share coordinates. Each section is padded to its largest number of pairs.

    Args:
        items: ARCTaskDataset items.
        pad_value: value of padded cells (use e.g. ``ARC_COLOURS`` = 10 for a dedicated "no
            cell" token); the masks are the reliable signal either way.

    Returns:
        A dict with ``task_id`` (list of B str) and, for each ``key`` in ``train_input``,
        ``train_output``, ``test_input``, ``test_output`` (P = that section's largest number
        of pairs in the batch):

        - ``key``: ``(B, P, H, W)`` int64 grids, ``pad_value`` outside the real cells;
        - ``key + "_mask"``: ``(B, P, H, W)`` bool, True on real cells;
        - ``key + "_size"``: ``(B, P, 2)`` int64 real ``(h, w)``, 0 for padded pairs;

        plus ``train_pairs`` ``(B, P_train)`` and ``test_pairs`` ``(B, P_test)`` bool, True for
        real pairs.
    """
    if not items:
        raise ParameterError("items", "collate_arc_tasks", "a non-empty batch of tasks", items)
    check_in_range(pad_value, "pad_value", "collate_arc_tasks", kind=int)
    keys = [f"{s}_{side}" for s in _SECTIONS for side in _SIDES]
    height = max(g.shape[0] for item in items for k in keys for g in item[k])
    width = max(g.shape[1] for item in items for k in keys for g in item[k])
    batch: dict[str, Any] = {"task_id": [item["task_id"] for item in items]}
    b = len(items)
    for section in _SECTIONS:
        n_pairs = max(len(item[f"{section}_input"]) for item in items)
        pairs = torch.zeros(b, n_pairs, dtype=torch.bool)
        for key in (f"{section}_{side}" for side in _SIDES):
            grids = torch.full((b, n_pairs, height, width), pad_value, dtype=torch.int64)
            mask = torch.zeros(b, n_pairs, height, width, dtype=torch.bool)
            sizes = torch.zeros(b, n_pairs, 2, dtype=torch.int64)
            for i, item in enumerate(items):
                for p, grid in enumerate(item[key]):
                    h, w = grid.shape
                    grids[i, p, :h, :w] = grid
                    mask[i, p, :h, :w] = True
                    sizes[i, p] = torch.tensor([h, w])
                    pairs[i, p] = True
            batch[key], batch[f"{key}_mask"], batch[f"{key}_size"] = grids, mask, sizes
        batch[f"{section}_pairs"] = pairs
    return batch
