"""augmentation-weights (Lab 4) and the shared image-study helpers: data choice, per-member
augmentation source, template symmetry scores, and the shared smoke run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from learnability.data import RandomFlip, RandomRotation, hflip, write_idx
from learnability.engine import SGD, ModuleEnsemble, TrainSpec, nll, train
from learnability.models import ShallowFCN, load_weights
from learnability.studies.images import augmentation_weights as aw
from learnability.studies.images.data import (
    AugmentedImageSource,
    ImageDataSettings,
    load_image_splits,
    resolve_dataset,
)


# ------------------------------------------------------------------------------------------
# Data choice
# ------------------------------------------------------------------------------------------
def _write_tiny_idx(root: Path, n: int = 12, *, splits: tuple[str, ...] = ("train", "test")) -> None:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    for split in splits:
        img, lab = files[split]
        # gzipped, as Debian's dataset-fashion-mnist ships them
        write_idx(root / f"{img}.gz", rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), compress=True)
        write_idx(root / f"{lab}.gz", (np.arange(n) % 10).astype(np.uint8), compress=True)


def test_auto_prefers_mnist_then_fashion_mnist_then_the_digits(tmp_path: Path) -> None:
    root, system = tmp_path / "data", tmp_path / "usr-share-datasets"
    choice = resolve_dataset("auto", root, system_dirs=[system])
    assert choice.name == "digits" and choice.root is None
    assert "apt-get install dataset-fashion-mnist" in choice.reason and str(system) in choice.reason
    # Debian's layout: <system>/fashion-mnist/*.gz; a single split is not enough.
    _write_tiny_idx(system / "fashion-mnist", splits=("train",))
    assert resolve_dataset("auto", root, system_dirs=[system]).name == "digits"
    _write_tiny_idx(system / "fashion-mnist", splits=("test",))
    choice = resolve_dataset("auto", root, system_dirs=[system])
    assert (choice.name, choice.root) == ("fashion-mnist", system)
    assert "no mnist files" in choice.reason
    # MNIST wins wherever it is, the data root first.
    _write_tiny_idx(system / "mnist")
    assert resolve_dataset("auto", root, system_dirs=[system]).root == system
    _write_tiny_idx(root)
    choice = resolve_dataset("auto", root, system_dirs=[system])
    assert (choice.name, choice.root) == ("mnist", root) and str(root) in choice.reason
    # An explicit name is kept and found in the system folder too (IDX files at the top of a root
    # are both MNIST and Fashion-MNIST by name, hence another root here).
    assert resolve_dataset("fashion-mnist", tmp_path / "empty", system_dirs=[system]).root == system
    assert resolve_dataset("digits", root, system_dirs=[system]).reason == "chosen in the config"


def test_auto_loads_mnist_from_the_data_root(tmp_path: Path) -> None:
    _write_tiny_idx(tmp_path)
    splits = load_image_splits(ImageDataSettings(data_root=str(tmp_path)))
    assert splits.name == "mnist" and splits.train_images.shape == (12, 1, 28, 28)
    assert splits.info()["dataset_root"] == str(tmp_path) and str(tmp_path) in splits.description
    # The normaliser is fitted on the training images: population mean and std.
    assert math.isclose(float(splits.normalizer.mean_[0]), float(splits.train_images.mean()), rel_tol=1e-6)


def test_digits_are_centred_in_an_mnist_like_box() -> None:
    splits = load_image_splits(ImageDataSettings(dataset="digits", n_train=40, n_test=10))
    x = splits.train_images
    assert x.shape == (40, 1, 28, 28) and splits.name == "digits"
    margin = (28 - 20) // 2
    assert float(x[..., :margin, :].abs().max()) == 0.0  # black 4-pixel frame, as MNIST
    assert float(x[..., -margin:].abs().max()) == 0.0
    assert float(x[..., margin:-margin, margin:-margin].max()) > 0.5


# ------------------------------------------------------------------------------------------
# The per-member augmentation source
# ------------------------------------------------------------------------------------------
def _images(n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return torch.rand(n, 1, 8, 8, generator=g), torch.arange(n) % 10


def test_member_gets_the_same_batches_alone_or_in_the_ensemble() -> None:
    x, y = _images()
    augs = [None, RandomRotation((0.0, 180.0)), RandomFlip("horizontal", p=0.5)]
    seeds = [11, 12, 13]
    together = AugmentedImageSource(x, y, batch_size=16, augmentations=augs)
    together.start(seeds, torch.device("cpu"))
    alone = AugmentedImageSource(x, y, batch_size=16, augmentations=[augs[1]])
    alone.start([seeds[1]], torch.device("cpu"))
    for _ in range(5):  # more than two epochs of 2 batches: reshuffles are covered
        xb, yb = together.next()
        xa, ya = alone.next()
        assert xb.shape == (3, 16, 1, 8, 8) and yb.shape == (3, 16)
        assert torch.equal(xb[1], xa[0]) and torch.equal(yb[1], ya[0])


def test_members_sharing_a_seed_see_the_same_images() -> None:
    x, y = _images()
    source = AugmentedImageSource(x, y, batch_size=8, augmentations=[None, RandomFlip("horizontal", p=1.0)])
    source.start([5, 5], torch.device("cpu"))
    for _ in range(6):
        xb, yb = source.next()
        assert torch.equal(yb[0], yb[1])
        assert torch.equal(hflip(xb[0]), xb[1])  # same images, the second one flipped


def test_source_refuses_a_seed_count_that_does_not_match() -> None:
    x, y = _images()
    source = AugmentedImageSource(x, y, batch_size=8, augmentations=[None, None])
    with pytest.raises(ValueError, match="'seeds' parameter of AugmentedImageSource.start"):
        source.start([1], torch.device("cpu"))


def test_member_trains_identically_alone_or_in_the_ensemble() -> None:
    x, y = _images(48)
    augs = [None, RandomRotation((0.0, 180.0))]
    ens = ModuleEnsemble(lambda: ShallowFCN(64, 10, seed=0))
    spec = TrainSpec(max_steps=7, block=7)

    def fit(indices: list[int]) -> list[torch.Tensor]:
        src = AugmentedImageSource(x, y, batch_size=12, augmentations=[augs[i] for i in indices])
        params = ens.init([21 + i for i in indices])
        return train(
            ens,
            params,
            loss=nll,
            optimizer=SGD(),
            lr=[0.1] * len(indices),
            data=src,
            seeds=[31 + i for i in indices],
            spec=spec,
        ).params

    both, alone = fit([0, 1]), fit([1])
    for p_both, p_alone in zip(both, alone, strict=True):
        torch.testing.assert_close(p_both[1], p_alone[0], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------
# Symmetry scores of templates
# ------------------------------------------------------------------------------------------
def test_symmetry_scores_know_symmetric_templates() -> None:
    h = 28
    r = torch.cdist(
        torch.stack(torch.meshgrid(torch.arange(h) + 0.5, torch.arange(h) + 0.5, indexing="ij"), -1).reshape(-1, 2),
        torch.tensor([[h / 2, h / 2]]),
    ).reshape(h, h)
    radial = torch.cos(r / 2.0)  # a function of the radius only: rotation invariant
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(h, h, generator=g)
    mirror = noise + noise.flip(-1)  # left-right symmetric
    anti = noise - noise.flip(-1)  # left-right antisymmetric
    templates = torch.stack([radial, mirror, anti, noise])
    scores, profile = aw.template_symmetry(templates, angles=[30.0, 90.0, 180.0], shift=2)
    assert set(scores) == set(aw.SYMMETRIES) and profile.shape == (3, 4)
    assert float(scores["rotation"][0]) > 0.99  # bilinear resampling only
    assert float(profile[1, 0]) == pytest.approx(1.0, abs=1e-12)  # 90 degrees: exact
    assert float(scores["hflip"][1]) == pytest.approx(1.0, abs=1e-12)
    assert float(scores["hflip"][2]) == pytest.approx(-1.0, abs=1e-12)
    assert abs(float(scores["rotation"][3])) < 0.1  # white noise has no symmetry
    # A left-right symmetric template turned by 180 degrees is its upside-down mirror image.
    assert float(profile[2, 1]) == pytest.approx(float(scores["vflip"][1]), abs=1e-12)


# ------------------------------------------------------------------------------------------
# The shared smoke run
# ------------------------------------------------------------------------------------------
def test_smoke_run_reports_its_numbers(smoke_run) -> None:
    run = smoke_run("augmentation-weights")
    res = run.results
    assert run.complete and res.dataset == resolve_dataset("auto", None).name
    assert res.augmentations == ["none", "rotation", "hflip"] and res.members == 6
    none, rot = res.results["none"], res.results["rotation"]
    assert rot.symmetry_gain is not None and set(rot.symmetry_gain) == set(aw.SYMMETRIES)
    # Paired design: every augmentation starts from the same weights, hence the same test loss.
    assert none.test_loss_start.mean == pytest.approx(rot.test_loss_start.mean)
    assert none.test_loss_end.mean < none.test_loss_start.mean
    assert set(none.accuracy) == {"test", "test_rotation", "test_hflip"}

    arrays = run.load_arrays(aw.AugmentationWeightsResults.TEMPLATES)
    assert arrays["scaled"].shape == (3, 2, 10, 28, 28)
    assert arrays["scaled"].min() == 0.0 and arrays["scaled"].max() == 1.0
    for name in ("weights", "loss_curves", "rotation_profile", "augmented_samples"):
        assert (run.figures_dir / f"{name}.png").stat().st_size > 1000
    samples = run.load_arrays(aw.AugmentationWeightsResults.SAMPLES)["samples"]
    assert samples.shape == (3, 8, 28, 28)
    x = load_image_splits(run.config.data).train_images[:8, 0].numpy()
    assert np.array_equal(samples[0], x)  # 'none' leaves them as they are
    same = (samples[2] == x).all(axis=(1, 2))
    mirrored = (samples[2] == x[:, :, ::-1]).all(axis=(1, 2))
    assert (same | mirrored).all()  # 'hflip' mirrors each image or leaves it
    assert not np.allclose(samples[1], x)  # 'rotation' moves them
    assert "bilinear with zero fill" in (run.path / "report.md").read_text()
    text = (run.path / "report.md").read_text()
    assert "figures/weights.png" in text and "What the numbers say" in text
    assert f"{rot.symmetry['rotation'].mean:.3g}" in text  # the sentence quotes the number

    # The saved weights load safely and give back the member's templates.
    model = ShallowFCN(784, 10, seed=1)
    meta = load_weights(model, run.artifact(aw.weights_file("rotation", 1)))
    assert meta["config"]["augmentation"] == "rotation"
    assert np.allclose(model.fc.weight.detach().numpy().reshape(10, 28, 28), arrays["weights"][1, 1])
    assert json.loads((run.path / "summary.json").read_text())["diverged_members"] == 0


def test_sentences_follow_the_numbers(smoke_run) -> None:
    """The verdict on a symmetry gain flips with the sign of its interval."""
    from learnability.analysis import Estimate
    from learnability.report import render_markdown

    run = smoke_run("augmentation-weights")
    res = run.results
    rot = res.results["rotation"]

    def with_gain(gain: Estimate) -> str:
        changed = rot.model_copy(update={"symmetry_gain": {**rot.symmetry_gain, "rotation": gain}})
        return render_markdown(
            aw.report(res.model_copy(update={"results": {**res.results, "rotation": changed}}), run), run
        )

    assert "an increase whose 95% CI excludes 0" in with_gain(Estimate(0.2, 0.1, 0.3, 2))
    assert "a decrease whose 95% CI excludes 0" in with_gain(Estimate(-0.2, -0.3, -0.1, 2))
    assert "not distinguishable from 0" in with_gain(Estimate(0.1, -0.1, 0.3, 2))


def test_rotation_augmentation_makes_the_templates_rotationally_symmetric(tmp_path: Path) -> None:
    """Lab 4's conclusion at a size that runs in about half a minute: against the un-augmented
    models of the same seeds, rotation augmentation raises the templates' rotational symmetry and
    horizontal flips their mirror symmetry (95% CIs above 0), and the rotation-trained models
    classify rotated test images better."""
    import learnability

    run = learnability.run_study(
        "augmentation-weights",
        smoke=True,
        progress=False,
        out=tmp_path,
        data={"n_train": 1024, "n_test": 256},
        augmentations=["none", "rotation", "hflip"],
        test_transforms=["rotation"],
        train={"epochs": 3, "seeds": 3, "batch_size": 32},
    )
    r = run.results.results
    assert r["rotation"].symmetry_gain["rotation"].low > 0.1, r["rotation"].symmetry_gain
    assert r["hflip"].symmetry_gain["hflip"].low > 0.1, r["hflip"].symmetry_gain
    # A rotation does not make the templates mirror-symmetric left-right, nor a flip rotational.
    assert r["hflip"].symmetry_gain["rotation"].mean < r["rotation"].symmetry_gain["rotation"].low
    assert r["rotation"].accuracy["test_rotation"].low > r["none"].accuracy["test_rotation"].high
    assert r["none"].test_acc_end.low > 0.5  # trained: far above chance
    if run.results.dataset == "fashion-mnist":  # the config docstring's Expected at this size
        measured = {
            "rotation gain": r["rotation"].symmetry_gain["rotation"].mean,
            "hflip gain": r["hflip"].symmetry_gain["hflip"].mean,
            "accuracy none": r["none"].test_acc_end.mean,
            "accuracy hflip": r["hflip"].test_acc_end.mean,
            "accuracy rotation": r["rotation"].test_acc_end.mean,
            "rotated accuracy rotation": r["rotation"].accuracy["test_rotation"].mean,
            "rotated accuracy none": r["none"].accuracy["test_rotation"].mean,
        }
        assert_documented(measured, EXPECTED_AT_TEST_SIZE)


# The Expected numbers of AugmentationWeightsConfig's docstring at the size of the test above
# (seed 0, Fashion-MNIST; measured 0.429, 0.399, 0.764, 0.729, 0.336, 0.529, 0.180).
EXPECTED_AT_TEST_SIZE = {
    "rotation gain": 0.43,
    "hflip gain": 0.40,
    "accuracy none": 0.76,
    "accuracy hflip": 0.73,
    "accuracy rotation": 0.34,
    "rotated accuracy rotation": 0.53,
    "rotated accuracy none": 0.18,
}
# Same seed, same numbers on one machine; elsewhere float summation order (BLAS kernels, thread
# count) changes the last bits, and ~100 SGD steps amplify that to a few of the 256 test images
# (1 image = 0.004) and ~0.01 in a symmetry score. 0.03 covers that and the docstring's two-digit
# rounding (0.005), while a change of method (another interpolation, pairing or score) moves these
# numbers by more: e.g. the rotation gain's seeds spread only 0.42-0.44.
DOCUMENTED_TOL = 0.03


def assert_documented(measured: dict[str, float], expected: dict[str, float], tol: float = DOCUMENTED_TOL) -> None:
    """Every measured number within ``tol`` of the documented one (all of them listed on failure)."""
    off = {k: (round(measured[k], 4), v) for k, v in expected.items() if abs(measured[k] - v) > tol}
    assert not off, f"measured vs documented, beyond {tol}: {off}"


@pytest.mark.slow
def test_full_size_conclusions(tmp_path: Path) -> None:
    """The default configuration (Fashion-MNIST where installed, else the digits): every
    augmentation raises its own symmetry score with a 95% CI above 0, and rotation-trained models
    beat the others on rotated test images (the config docstring's Expected)."""
    import learnability

    run = learnability.run_study("augmentation-weights", progress=False, out=tmp_path)
    r = run.results.results
    for a in ("rotation", "hflip", "vflip"):
        for n in aw.MATCHING[a]:
            assert r[a].symmetry_gain[n].low > 0, (a, n, r[a].symmetry_gain[n])
    assert r["rotation"].accuracy["test_rotation"].low > r["none"].accuracy["test_rotation"].high
    assert run.results.diverged_members == 0


def test_the_fallback_prints_a_one_line_hint(tmp_path: Path, monkeypatch, capsys) -> None:
    """Without MNIST or Fashion-MNIST files anywhere, 'auto' runs on the digits, says so in the
    provenance and prints how to install the Debian package."""
    import learnability
    from learnability.studies.images import data as image_data

    monkeypatch.setattr(image_data, "SYSTEM_DATA_DIRS", (tmp_path / "nothing",))
    run = learnability.run_study(
        "augmentation-weights",
        smoke=True,
        progress=False,
        out=tmp_path,
        data={"data_root": str(tmp_path / "empty"), "n_train": 64, "n_test": 32},
        augmentations=["none"],
        test_transforms=[],
        train={"epochs": 1, "seeds": 1},
        symmetry_angles=[90.0],
    )
    assert run.results.dataset == "digits" and run.provenance["dataset"]["name"] == "digits"
    assert "apt-get install dataset-fashion-mnist" in run.results.dataset_description
    hints = [line for line in capsys.readouterr().err.splitlines() if "apt-get install" in line]
    assert len(hints) == 1
