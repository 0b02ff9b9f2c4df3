"""In-memory and lazy Datasets of dicts of tensors; the online uniform sampler."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from learnability._validation import ParameterError
from learnability.data import (
    DataFileError,
    ItemFilesDataset,
    MemmapDataset,
    TensorDictDataset,
    UniformSampler,
    sample_uniform,
    save_item_files,
    save_memmap,
)


def _tensors(n=10):
    x = torch.arange(n * 3, dtype=torch.float32).reshape(n, 3)
    y = torch.arange(n, dtype=torch.int64)
    return {"x": x, "y": y}


def test_tensor_dict_dataset_items_and_batches():
    data = _tensors()
    ds = TensorDictDataset(data)
    assert len(ds) == 10
    item = ds[4]
    assert set(item) == {"x", "y"} and torch.equal(item["x"], data["x"][4]) and int(item["y"]) == 4
    assert torch.equal(ds[-1]["x"], data["x"][9])
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["x"].shape == (4, 3) and batch["y"].tolist() == [0, 1, 2, 3]
    with pytest.raises(IndexError, match="out of range for 10 items"):
        ds[10]


def test_tensor_dict_dataset_refuses_mismatched_rows():
    with pytest.raises(ParameterError, match="same number of rows"):
        TensorDictDataset({"x": torch.zeros(3, 2), "y": torch.zeros(4)})
    with pytest.raises(ParameterError, match="non-empty mapping"):
        TensorDictDataset({})


@pytest.mark.parametrize("fmt", ["pt", "npz"])
def test_item_files_round_trip(tmp_path, fmt):
    ds = TensorDictDataset(_tensors())
    paths = save_item_files(ds, tmp_path, format=fmt)
    assert len(paths) == 10 and paths[0].name == f"item_00000000.{fmt}"
    lazy = ItemFilesDataset(tmp_path)
    assert len(lazy) == 10
    for i in (0, 7):
        item = lazy[i]
        assert torch.equal(item["x"], ds[i]["x"]) and torch.equal(item["y"], ds[i]["y"])
    batch = next(iter(DataLoader(lazy, batch_size=5)))
    assert torch.equal(batch["x"], ds.tensors["x"][:5])


def test_item_files_npy_and_bad_files(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((2, 2), dtype=np.float32))
    assert torch.equal(ItemFilesDataset([tmp_path / "a.npy"])[0]["x"], torch.ones(2, 2))
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a torch file")
    with pytest.raises(DataFileError, match="cannot be read as an item") as err:
        ItemFilesDataset([broken])[0]
    assert "broken.pt" in str(err.value)
    torch.save(torch.zeros(2), tmp_path / "plain.pt")
    with pytest.raises(DataFileError, match="does not hold a dict of tensors"):
        ItemFilesDataset([tmp_path / "plain.pt"])[0]
    with pytest.raises(ParameterError, match=r"at least one \.pt/\.npz/\.npy file"):
        ItemFilesDataset([])


def test_memmap_dataset_round_trip_and_cheap_pickling(tmp_path):
    big = {"image": torch.rand(200, 1, 8, 8), "label": torch.arange(200)}
    save_memmap(big, tmp_path)
    ds = MemmapDataset(tmp_path)
    assert len(ds) == 200 and ds.keys == ("image", "label")
    item = ds[123]
    assert torch.equal(item["image"], big["image"][123]) and int(item["label"]) == 123
    # Workers receive the paths, not the data.
    assert len(pickle.dumps(ds)) < 1_000 < big["image"].numel() * 4
    clone = pickle.loads(pickle.dumps(ds))
    assert torch.equal(clone[5]["image"], big["image"][5])
    only = MemmapDataset(tmp_path, keys=["label"])
    assert set(only[0]) == {"label"}
    with pytest.raises(ParameterError, match="The 'keys' parameter of MemmapDataset"):
        MemmapDataset(tmp_path, keys=["x"])


def test_sample_uniform_range_shape_and_reproducibility():
    a = sample_uniform(1000, 3, low=-2.0, high=5.0, generator=torch.Generator().manual_seed(0))
    b = sample_uniform(1000, 3, low=-2.0, high=5.0, generator=torch.Generator().manual_seed(0))
    assert a.shape == (1000, 3) and a.dtype == torch.float32 and a.device.type == "cpu"
    assert torch.equal(a, b)
    assert float(a.min()) >= -2.0 and float(a.max()) < 5.0
    # Mean of U[-2, 5] is 1.5, std 7 / sqrt(12) ~ 2.02: 3000 draws give the mean within ~0.11.
    assert abs(float(a.mean()) - 1.5) < 0.2


def test_sample_uniform_checks_device_and_bounds():
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ParameterError, match="The 'device' parameter of sample_uniform"):
        sample_uniform(2, 2, generator=gen, device="cuda")
    with pytest.raises(ParameterError, match="The 'high' parameter of sample_uniform"):
        sample_uniform(2, 2, low=1.0, high=1.0, generator=gen)
    with pytest.raises(ParameterError, match="The 'generator' parameter of sample_uniform"):
        sample_uniform(2, 2, generator=None)  # type: ignore[arg-type]


def test_uniform_sampler_batches():
    sampler = UniformSampler(d=4, low=0.0, high=1.0)
    batches = list(sampler.batches(8, n_batches=3, generator=torch.Generator().manual_seed(1)))
    assert len(batches) == 3 and all(b.shape == (8, 4) for b in batches)
    assert not torch.equal(batches[0], batches[1])
    gen = torch.Generator().manual_seed(1)
    assert torch.equal(batches[0], sampler(8, generator=gen))
