"""Loading-bottleneck probe: verdicts on a case made loader-bound and one made compute-bound."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from torch.utils.data import Dataset

from learnability._validation import ParameterError
from learnability.data import (
    ItemFilesDataset,
    LoadingProbe,
    TensorDictDataset,
    plot_loading_sweep,
    probe_loading,
    save_item_files,
    sweep_loading,
)

# Sleeps make the slow side slower by orders of magnitude than the fast side, so the verdict
# does not depend on the machine's load; they stay small so the tests take well under a second.
SLOW_ITEM_S = 0.002  # per item: 8 items -> 16 ms per batch
SLOW_STEP_S = 0.010  # per step


class SlowDataset(Dataset):
    """Pretends to decode a file in __getitem__."""

    def __init__(self, n: int = 64) -> None:
        self.x = torch.arange(n, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        time.sleep(SLOW_ITEM_S)
        return {"x": self.x[i]}


def _fast_step(batch):
    return batch["x"].sum()


def _slow_step(batch):
    time.sleep(SLOW_STEP_S)
    return batch["x"].sum()


def _in_memory(n: int = 64) -> TensorDictDataset:
    return TensorDictDataset({"x": torch.randn(n, 4), "y": torch.arange(n)})


def test_slow_dataset_is_loader_bound():
    probe = probe_loading(SlowDataset(), batch_size=8, step_fn=_fast_step, n_batches=4, warmup_batches=1)
    assert isinstance(probe, LoadingProbe)
    assert probe.bottleneck == "loader"
    assert probe.ratio > 10
    # Loader rate is bounded by the sleep: at most 1 / 2 ms = 500 items/s.
    assert probe.loader_items_per_s < 1 / SLOW_ITEM_S
    assert probe.end_to_end_items_per_s < 1 / SLOW_ITEM_S
    assert probe.verdict.startswith("Loader-bound")
    assert f"{probe.ratio:.1f}x" in probe.verdict
    text = " ".join(probe.suggestions)
    assert "Pre-process once" in text and "in memory" in text
    assert probe.in_memory is None


def test_lazy_files_are_loader_bound_and_in_memory_is_suggested_first(tmp_path):
    save_item_files(_in_memory(32), tmp_path)
    probe = probe_loading(ItemFilesDataset(tmp_path), batch_size=8, step_fn=_fast_step, n_batches=2)
    assert probe.in_memory is False and probe.bottleneck == "loader"
    assert probe.suggestions[0].startswith("Load the data set in memory (TensorDictDataset)")


def test_slow_step_is_compute_bound():
    probe = probe_loading(_in_memory(), batch_size=8, step_fn=_slow_step, n_batches=4, warmup_batches=1)
    assert probe.bottleneck == "compute"
    assert probe.ratio < 0.1
    assert probe.step_items_per_s < 8 / SLOW_STEP_S
    assert probe.verdict.startswith("Compute-bound")
    assert probe.suggestions[0].startswith("Loading is not the bottleneck")
    assert probe.in_memory is True


def test_to_dict_is_plain_json():
    probe = probe_loading(_in_memory(16), batch_size=4, step_fn=_fast_step, n_batches=2, shuffle=False)
    d = probe.to_dict()
    assert json.loads(json.dumps(d))["batch_size"] == 4
    assert set(d) >= {"loader_items_per_s", "step_items_per_s", "end_to_end_items_per_s", "verdict"}
    with pytest.raises(AttributeError):
        probe.ratio = 1.0  # frozen


def _very_slow_step(batch):
    # Long enough to dominate a worker's IPC cost even on a heavily loaded machine.
    time.sleep(5 * SLOW_STEP_S)


def test_sweep_returns_a_table_and_a_figure():
    frame = sweep_loading(
        _in_memory(), step_fn=_very_slow_step, num_workers=(0, 1), batch_sizes=(8, 4),
        n_batches=2, warmup_batches=1,
    )  # fmt: skip
    assert isinstance(frame, pd.DataFrame) and len(frame) == 4
    assert frame[["num_workers", "batch_size"]].values.tolist() == [[0, 4], [0, 8], [1, 4], [1, 8]]
    assert (frame["bottleneck"] == "compute").all()
    assert frame["suggestions"].map(type).eq(str).all()
    fig = plot_loading_sweep(frame, title="sweep")
    assert isinstance(fig, Figure) and len(fig.axes) == 2


def test_bad_parameters():
    with pytest.raises(ParameterError, match="The 'batch_size' parameter of probe_loading"):
        probe_loading(_in_memory(4), batch_size=8, step_fn=_fast_step)
    with pytest.raises(ParameterError, match="The 'num_workers' parameter of probe_loading"):
        probe_loading(_in_memory(4), batch_size=2, num_workers=-1, step_fn=_fast_step)
    with pytest.raises(ParameterError, match="The 'frame' parameter of plot_loading_sweep"):
        plot_loading_sweep(pd.DataFrame())
