"""ARC tasks: one task per item, padded collation with masks, format errors naming the file."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.data import DataLoader

from learnability._validation import ParameterError
from learnability.data import ARCFormatError, ARCTaskDataset, collate_arc_tasks

TASK_A = {
    "train": [
        {"input": [[1, 0], [0, 1]], "output": [[0, 1], [1, 0]]},
        {"input": [[2]], "output": [[3, 3, 3]]},
    ],
    "test": [{"input": [[4, 5, 6]], "output": [[6, 5, 4]]}],
}
TASK_B = {
    "train": [{"input": [[9] * 5] * 4, "output": [[0] * 5] * 4}],
    "test": [
        {"input": [[1]], "output": [[1]]},
        {"input": [[7, 7]], "output": [[8], [8]]},
    ],
}


def _write(directory, name, task):
    path = directory / f"{name}.json"
    path.write_text(json.dumps(task) if not isinstance(task, str) else task)
    return path


def test_dataset_returns_one_task_per_item(tmp_path):
    _write(tmp_path, "b_task", TASK_B)
    _write(tmp_path, "a_task", TASK_A)
    (tmp_path / "notes.txt").write_text("ignored")
    ds = ARCTaskDataset(tmp_path)
    assert len(ds) == 2
    item = ds[0]
    assert item["task_id"] == "a_task"
    assert len(item["train_input"]) == 2 and len(item["test_output"]) == 1
    assert item["train_output"][1].tolist() == [[3, 3, 3]]
    assert item["train_input"][0].dtype == torch.int64


def test_collate_pads_to_batch_maximum_with_masks(tmp_path):
    _write(tmp_path, "a", TASK_A)
    _write(tmp_path, "b", TASK_B)
    ds = ARCTaskDataset(tmp_path)
    batch = collate_arc_tasks([ds[0], ds[1]], pad_value=10)
    # Largest grid in the batch: 4 rows (TASK_B train) x 5 columns.
    assert batch["task_id"] == ["a", "b"]
    assert batch["train_input"].shape == (2, 2, 4, 5)
    assert batch["test_output"].shape == (2, 2, 4, 5)
    assert batch["train_pairs"].tolist() == [[True, True], [True, False]]
    assert batch["test_pairs"].tolist() == [[True, False], [True, True]]
    # Masks cover exactly the real cells; real cells hold the grid, the rest the pad value.
    a_out = batch["train_output"][0, 1]
    assert a_out[0, :3].tolist() == [3, 3, 3]
    assert batch["train_output_mask"][0, 1].sum() == 3
    assert bool((a_out[~batch["train_output_mask"][0, 1]] == 10).all())
    assert batch["test_output_mask"][1, 1].sum() == 2 and batch["test_output"][1, 1, :2, 0].tolist() == [8, 8]
    assert batch["test_output_size"][1].tolist() == [[1, 1], [2, 1]]
    assert int(batch["train_input_mask"][1, 1].sum()) == 0  # padded pair: no real cell
    total_cells = sum(g.numel() for item in (ds[0], ds[1]) for g in item["train_input"])
    assert int(batch["train_input_mask"].sum()) == total_cells


def test_collate_through_a_dataloader(tmp_path):
    for i in range(3):
        _write(tmp_path, f"t{i}", TASK_A)
    loader = DataLoader(ARCTaskDataset(tmp_path), batch_size=2, collate_fn=collate_arc_tasks)
    sizes = [b["train_input"].shape for b in loader]
    assert sizes == [(2, 2, 2, 3), (1, 2, 2, 3)]


BAD = [
    ({"train": TASK_A["train"]}, "missing the 'test' list of pairs"),
    ({"train": [], "test": TASK_A["test"]}, "'train' must be a non-empty list of pairs"),
    ({"train": [{"input": [[1]]}], "test": TASK_A["test"]}, "train[0] has no 'output' grid"),
    ({"train": TASK_A["train"], "test": [{"input": [[1, 2], [3]], "output": [[1]]}]},
     "test[0].input row 1 has 1 cells but row 0 has 2 (grids must be rectangular)"),
    ({"train": [{"input": [[1, 10]], "output": [[1]]}], "test": TASK_A["test"]},
     "train[0].input cell (0, 1) is 10; cells must be integers 0..9"),
    ({"train": [{"input": [[1, 2.5]], "output": [[1]]}], "test": TASK_A["test"]},
     "train[0].input cell (0, 1) is 2.5"),
    ({"train": [{"input": [[True]], "output": [[1]]}], "test": TASK_A["test"]},
     "train[0].input cell (0, 0) is True"),
    ({"train": [{"input": [[0]] * 31, "output": [[1]]}], "test": TASK_A["test"]},
     "train[0].input has 31 rows; at most 30 allowed"),
    ({"train": [{"input": [[0] * 31], "output": [[1]]}], "test": TASK_A["test"]},
     "train[0].input has 31 columns; at most 30 allowed"),
    ({"train": [{"input": [], "output": [[1]]}], "test": TASK_A["test"]},
     "train[0].input must be a non-empty list of rows"),
    ({"train": [{"input": [[]], "output": [[1]]}], "test": TASK_A["test"]},
     "train[0].input row 0 must be a non-empty list"),
    ([1, 2], "the top level must be an object"),
    ("{not json", "is not valid JSON"),
]  # fmt: skip


@pytest.mark.parametrize(("task", "fragment"), BAD)
def test_format_errors_name_the_file_and_the_problem(tmp_path, task, fragment):
    _write(tmp_path, "good", TASK_A)
    bad = _write(tmp_path, "zz_bad", task)
    with pytest.raises(ARCFormatError) as err:
        ARCTaskDataset(tmp_path)
    assert str(bad) in str(err.value)
    assert fragment in str(err.value)


def test_empty_directory_and_empty_batch(tmp_path):
    with pytest.raises(ParameterError, match="The 'source' parameter of ARCTaskDataset"):
        ARCTaskDataset(tmp_path)
    with pytest.raises(ParameterError, match="The 'items' parameter of collate_arc_tasks"):
        collate_arc_tasks([])
