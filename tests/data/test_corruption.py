"""Corrupted-image dataset: corruptions, determinism per (seed, index), the batch figure."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure
from torch.utils.data import DataLoader

from learnability._validation import ParameterError
from learnability.data import (
    Compose,
    CorruptedImageDataset,
    GaussianNoise,
    ImageData,
    RandomBlackPatches,
    RandomCropResize,
    RandomFlip,
    corruption_from_names,
    item_generator,
    load_images,
    plot_corrupted_batch,
)


def _data(n=12, c=3, size=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(n, c, size, size, generator=gen)
    labels = torch.arange(n) % 10
    return ImageData(images, labels, tuple(str(i) for i in range(10)), name="toy")


def test_items_have_corrupted_clean_and_label():
    data = _data()
    ds = CorruptedImageDataset(data, seed=0)
    item = ds[3]
    assert set(item) == {"corrupted", "clean", "label"}
    assert item["corrupted"].shape == item["clean"].shape == (3, 8, 8)
    assert torch.equal(item["clean"], data.images[3]) and int(item["label"]) == 3
    assert not torch.equal(item["corrupted"], item["clean"])
    assert len(ds) == 12


def test_corruption_depends_only_on_seed_and_index():
    ds = CorruptedImageDataset(_data(), seed=7)
    forward = [ds[i]["corrupted"] for i in range(12)]
    backward = [ds[i]["corrupted"] for i in reversed(range(12))][::-1]
    for a, b in zip(forward, backward, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(CorruptedImageDataset(_data(), seed=7)[5]["corrupted"], forward[5])
    assert not torch.equal(CorruptedImageDataset(_data(), seed=8)[5]["corrupted"], forward[5])
    # Same image at two indices gets two different corruptions.
    twin = ImageData(_data().images[:1].repeat(2, 1, 1, 1), torch.zeros(2, dtype=torch.long), ("0",))
    noisy = CorruptedImageDataset(twin, GaussianNoise(0.1), seed=0)
    assert not torch.equal(noisy[0]["corrupted"], noisy[1]["corrupted"])


def test_corruption_is_the_same_across_dataloader_workers():
    ds = CorruptedImageDataset(_data(), seed=3)
    serial = torch.cat([b["corrupted"] for b in DataLoader(ds, batch_size=4, num_workers=0)])
    parallel = torch.cat([b["corrupted"] for b in DataLoader(ds, batch_size=4, num_workers=2)])
    assert torch.equal(serial, parallel)
    # Shuffled order: each item still carries its own corruption.
    order = torch.randperm(12, generator=torch.Generator().manual_seed(0)).tolist()
    shuffled = DataLoader(ds, batch_size=12, sampler=order)
    batch = next(iter(shuffled))
    assert torch.equal(batch["corrupted"], serial[order])


def test_item_generator_streams():
    a = torch.rand(5, generator=item_generator(1, 2))
    assert torch.equal(a, torch.rand(5, generator=item_generator(1, 2)))
    assert not torch.equal(a, torch.rand(5, generator=item_generator(1, 3)))
    assert not torch.equal(a, torch.rand(5, generator=item_generator(2, 2)))


def test_gaussian_noise_statistics_and_clipping():
    x = torch.full((4, 1, 32, 32), 0.5)
    gen = torch.Generator().manual_seed(0)
    noise = GaussianNoise(std=0.1, clip=False)(x, generator=gen) - x
    # 4096 draws: the sample std is within ~2% of 0.1.
    assert abs(float(noise.std()) - 0.1) < 0.005 and abs(float(noise.mean())) < 0.01
    clipped = GaussianNoise(std=2.0)(x, generator=gen)
    assert float(clipped.min()) == 0.0 and float(clipped.max()) == 1.0
    assert torch.equal(GaussianNoise(std=0.0)(x, generator=gen), x)


def test_black_patches_zero_rectangles_only():
    x = torch.rand(16, 3, 10, 10) + 0.5  # no zeros before
    out = RandomBlackPatches(n_patches=2, size=(0.2, 0.4))(x, generator=torch.Generator().manual_seed(0))
    zero = out == 0
    assert torch.equal(out[~zero], x[~zero])
    assert torch.equal(zero.all(dim=1), zero.any(dim=1))  # all channels blacked together
    per_image = zero[:, 0].sum(dim=(1, 2))
    assert int(per_image.min()) >= 2 * 2 and int(per_image.max()) <= 2 * 4 * 4
    full = RandomBlackPatches(size=(1.0, 1.0))(x, generator=torch.Generator().manual_seed(0))
    assert torch.equal(full, torch.zeros_like(x))


def test_crop_resize_identity_and_constant_images():
    x = torch.rand(3, 1, 9, 9)
    same = RandomCropResize(scale=(1.0, 1.0))(x, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    flat = torch.full((3, 3, 9, 9), 0.25)
    zoom = RandomCropResize(scale=(0.3, 0.6))(flat, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(zoom, flat)
    # A zoom changes a non-constant image.
    ramp = torch.linspace(0, 1, 9).reshape(1, 1, 1, 9).expand(1, 1, 9, 9).contiguous()
    out = RandomCropResize(scale=(0.5, 0.5))(ramp, generator=torch.Generator().manual_seed(0))
    # Output pixel centres span s = 0.5 of the input's centre-to-centre distance: the ramp's
    # range halves and stays linear.
    steps = out[0, 0, 0, 1:] - out[0, 0, 0, :-1]
    torch.testing.assert_close(steps, torch.full((8,), 0.5 / 8), atol=1e-5, rtol=0)


def test_corruption_from_names():
    pipeline = corruption_from_names("crop+hflip+noise")
    assert isinstance(pipeline, Compose)
    assert [type(t) for t in pipeline.transforms] == [RandomCropResize, RandomFlip, GaussianNoise]
    with pytest.raises(ParameterError, match="The 'names' parameter of corruption_from_names"):
        corruption_from_names("blur")
    with pytest.raises(ParameterError, match="The 'seed' parameter of CorruptedImageDataset"):
        CorruptedImageDataset(_data(), seed=-1)


def test_works_with_the_offline_digits_and_draws_a_figure(tmp_path):
    digits = load_images(split="test", limit=16)
    ds = CorruptedImageDataset(digits, corruption_from_names("patches+noise"), seed=0)
    batch = next(iter(DataLoader(ds, batch_size=6)))
    fig = plot_corrupted_batch(batch, n=4, classes=digits.classes, title="digits")
    assert isinstance(fig, Figure) and len(fig.axes) == 8
    assert fig.axes[0].get_ylabel() == "corrupted" and fig.axes[4].get_ylabel() == "clean"
    fig.savefig(tmp_path / "batch.png")
    assert (tmp_path / "batch.png").stat().st_size > 0
    rgb = CorruptedImageDataset(_data(n=3), seed=0)
    fig = plot_corrupted_batch(next(iter(DataLoader(rgb, batch_size=3))))
    assert len(fig.axes) == 6
    with pytest.raises(ParameterError, match="'corrupted' and 'clean'"):
        plot_corrupted_batch({"clean": batch["clean"]})
