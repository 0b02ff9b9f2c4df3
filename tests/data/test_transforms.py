"""Batched transforms: exact on the exact cases, reproducible per generator, on the input device."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from learnability._validation import ParameterError
from learnability.data import (
    Compose,
    ImageNormalizer,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    hflip,
    rotate,
    translate,
    vflip,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _images(n=6, c=2, h=7, w=7, seed=0, device="cpu"):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w, generator=gen).to(device)


@pytest.mark.parametrize("device", DEVICES)
def test_quarter_turns_equal_rot90_exactly(device):
    x = _images(device=device)
    angles = torch.tensor([0.0, 90.0, 180.0, 270.0, -90.0, 450.0])
    out = rotate(x, angles)
    for i, k in enumerate([0, 1, 2, 3, 3, 1]):
        assert torch.equal(out[i], torch.rot90(x[i], k=k, dims=(-2, -1)))
    assert out.device == x.device and out.dtype == x.dtype


def test_half_turn_of_non_square_image_is_a_double_flip():
    x = _images(h=4, w=9)
    assert torch.equal(rotate(x, 180.0), torch.flip(x, dims=(-2, -1)))


def test_generic_path_is_continuous_with_the_exact_one_and_counter_clockwise():
    x = _images()
    near = rotate(x, torch.full((6,), 90.0 + 1e-4))  # bilinear path
    torch.testing.assert_close(near, torch.rot90(x, 1, (-2, -1)), atol=1e-4, rtol=0)
    # Counter-clockwise as displayed: the top-right pixel goes to the top-left.
    corner = torch.zeros(1, 1, 5, 5)
    corner[0, 0, 0, 4] = 1.0
    assert rotate(corner, 90.0)[0, 0, 0, 0] == 1.0


def test_rotation_of_non_square_image_is_a_rotation_in_pixels():
    # A centred 2x2 block in an 8x12 image maps onto itself under a quarter turn (generic path:
    # quarter turns of non-square images are not exact). A rotation done in normalised
    # coordinates without the aspect correction would stretch it.
    x = torch.zeros(1, 1, 8, 12)
    x[0, 0, 3:5, 5:7] = 1.0
    out = rotate(x, 90.0)
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("device", DEVICES)
def test_random_rotation_shape_device_and_reproducibility(device):
    x = _images(device=device)
    t = RandomRotation((0.0, 180.0))
    a = t(x, generator=torch.Generator().manual_seed(3))
    b = t(x, generator=torch.Generator().manual_seed(3))
    c = t(x, generator=torch.Generator().manual_seed(4))
    assert a.shape == x.shape and a.device == x.device and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)
    # One angle per image: identical inputs come out differently.
    same = x[:1].expand(4, -1, -1, -1).contiguous()
    out = t(same, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(out[0], out[1])


def test_random_rotation_with_degenerate_range_is_exact():
    x = _images()
    out = RandomRotation((90.0, 90.0))(x, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, torch.rot90(x, 1, (-2, -1)))


@pytest.mark.parametrize("device", DEVICES)
def test_flips_equal_torch_flip(device):
    x = _images(device=device)
    assert torch.equal(hflip(x), torch.flip(x, dims=(-1,)))
    assert torch.equal(vflip(x), torch.flip(x, dims=(-2,)))
    assert torch.equal(RandomFlip("horizontal", p=1.0)(x), torch.flip(x, dims=(-1,)))
    assert torch.equal(RandomFlip("vertical", p=1.0)(x), torch.flip(x, dims=(-2,)))
    assert torch.equal(RandomFlip(p=0.0)(x), x)


def test_random_flip_flips_some_images_reproducibly():
    x = _images(n=64)
    t = RandomFlip("vertical", p=0.5)
    out = t(x, generator=torch.Generator().manual_seed(1))
    flipped = [torch.equal(out[i], torch.flip(x[i], (-2,))) for i in range(64)]
    kept = [torch.equal(out[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 10 < sum(flipped) < 54
    assert torch.equal(out, t(x, generator=torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("device", DEVICES)
def test_circular_shifts_equal_torch_roll(device):
    x = _images(h=5, w=6, device=device)
    shifts = torch.tensor([[0, 0], [1, 2], [-2, 3], [7, -8], [4, 0], [0, -1]])
    out = translate(x, shifts, mode="circular")
    for i, (dy, dx) in enumerate(shifts.tolist()):
        assert torch.equal(out[i], torch.roll(x[i], shifts=(dy, dx), dims=(-2, -1)))


def test_zero_fill_shifts_match_a_slice_copy():
    x = _images(h=5, w=6)
    shifts = torch.tensor([[0, 0], [1, 2], [-2, 3], [7, -8], [4, 0], [0, -1]])
    out = translate(x, shifts, mode="zeros")
    xn = x.numpy()
    for i, (dy, dx) in enumerate(shifts.tolist()):
        want = np.zeros_like(xn[i])
        h, w = xn.shape[-2:]
        src = xn[i][:, max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]
        if src.size:
            want[:, max(dy, 0) : max(dy, 0) + src.shape[1], max(dx, 0) : max(dx, 0) + src.shape[2]] = src
        np.testing.assert_array_equal(out[i].numpy(), want)


def test_random_translation_is_bounded_and_reproducible():
    x = torch.arange(2 * 25, dtype=torch.float32).reshape(2, 1, 5, 5).repeat(20, 1, 1, 1)
    t = RandomTranslation(max_shift=(1, 2), mode="circular")
    out = t(x, generator=torch.Generator().manual_seed(0))
    seen = set()
    for i in range(len(x)):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(out[i], torch.roll(x[i], (dy, dx), (-2, -1)))
        ]
        assert len(matches) == 1
        dy, dx = matches[0]
        assert abs(dy) <= 1 and abs(dx) <= 2
        seen.add((dy, dx))
    assert len(seen) > 3
    assert torch.equal(out, t(x, generator=torch.Generator().manual_seed(0)))


def test_normalizer_matches_numpy_and_uses_training_statistics():
    train = _images(n=20, c=3) * torch.tensor([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1)
    norm = ImageNormalizer().fit(train)
    xn = train.double().numpy()
    np.testing.assert_allclose(norm.mean_.numpy(), xn.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(norm.std_.numpy(), xn.std(axis=(0, 2, 3)), rtol=1e-12)
    z = norm.transform(train).double()
    torch.testing.assert_close(z.mean(dim=(0, 2, 3)), torch.zeros(3, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(
        z.std(dim=(0, 2, 3), correction=0), torch.ones(3, dtype=torch.float64), atol=1e-5, rtol=0
    )
    other = _images(n=4, c=3, seed=9)
    want = (other - norm.mean_.float().reshape(1, 3, 1, 1)) / norm.std_.float().reshape(1, 3, 1, 1)
    torch.testing.assert_close(norm(other), want)
    torch.testing.assert_close(norm.inverse_transform(norm.transform(other)), other)


def test_normalizer_pooled_known_stats_and_errors():
    x = torch.tensor([0.0, 1.0, 2.0, 3.0]).reshape(1, 1, 2, 2)
    norm = ImageNormalizer(per_channel=False).fit(x)
    assert float(norm.mean_) == 1.5 and float(norm.std_) == pytest.approx(np.sqrt(1.25))
    lab4 = ImageNormalizer.from_stats(0.1307, 0.3081)
    torch.testing.assert_close(lab4(x), (x - 0.1307) / 0.3081)
    constant = ImageNormalizer().fit(torch.full((2, 1, 2, 2), 0.5))
    assert torch.equal(constant.transform(torch.full((1, 1, 2, 2), 0.5)), torch.zeros(1, 1, 2, 2))
    with pytest.raises(NotFittedError):
        ImageNormalizer().transform(x)
    with pytest.raises(ParameterError, match="images with 3 channels"):
        ImageNormalizer().fit(_images(c=3)).transform(x)
    assert ImageNormalizer(per_channel=False).get_params() == {"per_channel": False}


def test_compose_applies_in_order_with_one_generator():
    x = _images()
    norm = ImageNormalizer().fit(x)
    pipeline = Compose((RandomRotation((0, 180)), RandomFlip(p=0.5), RandomTranslation(1), norm))
    a = pipeline(x, generator=torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(5)
    manual = RandomRotation((0, 180))(x, generator=gen)
    manual = RandomFlip(p=0.5)(manual, generator=gen)
    manual = RandomTranslation(1)(manual, generator=gen)
    assert torch.equal(a, norm(manual))
    assert torch.equal(Compose(())(x), x)


def test_randomness_is_explicit_and_inputs_are_checked():
    x = _images()
    with pytest.raises(ParameterError, match="The 'generator' parameter of RandomRotation"):
        RandomRotation()(x)
    with pytest.raises(ParameterError, match="The 'generator' parameter of RandomTranslation"):
        RandomTranslation(2)(x)
    with pytest.raises(ParameterError, match=r"shape \(N, C, H, W\)"):
        rotate(x[0], 90.0)
    with pytest.raises(ParameterError, match="The 'angles' parameter of rotate"):
        rotate(x, torch.zeros(3))
    with pytest.raises(ParameterError, match="The 'shifts' parameter of translate"):
        translate(x, torch.zeros(6, 2))  # float shifts are refused
    with pytest.raises(ParameterError, match="The 'degrees' parameter of RandomRotation"):
        RandomRotation((10.0, 0.0))
    with pytest.raises(ParameterError, match="The 'p' parameter of RandomFlip"):
        RandomFlip(p=1.5)
    with pytest.raises(ParameterError, match="The 'mode' parameter of RandomTranslation"):
        RandomTranslation(2, mode="reflect")


@settings(max_examples=30, deadline=None)
@given(
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    dy=st.integers(-12, 12),
    dx=st.integers(-12, 12),
    k=st.integers(-5, 5),
)
def test_exact_cases_hold_for_any_size_shift_and_turn(h, w, dy, dx, k):
    x = torch.rand(2, 1, h, w, generator=torch.Generator().manual_seed(h * 7 + w))
    shifted = translate(x, torch.tensor([[dy, dx], [0, 0]]), mode="circular")
    assert torch.equal(shifted[0], torch.roll(x[0], (dy, dx), (-2, -1)))
    assert torch.equal(shifted[1], x[1])
    if h == w or k % 2 == 0:
        assert torch.equal(rotate(x, 90.0 * k), torch.rot90(x, k, (-2, -1)))
