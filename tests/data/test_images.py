"""Image loaders: round-trips on tiny generated files, and clear errors for missing/corrupt ones."""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest
import torch

from learnability._validation import ParameterError
from learnability.data import (
    DataFileError,
    ImageData,
    MissingDataError,
    image_files_available,
    load_cifar_batch,
    load_images,
    read_idx,
    write_cifar_batch,
    write_idx,
)

IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _write_mnist(directory, *, compress, n_train=5, n_test=3, rows=4, cols=6, seed=0):
    """Tiny MNIST-format files; returns the arrays written."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        suffix = ".gz" if compress else ""
        write_idx(directory / (IDX_NAMES[split][0] + suffix), images, compress=compress)
        write_idx(directory / (IDX_NAMES[split][1] + suffix), labels, compress=compress)
        arrays[split] = (images, labels)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-3, 0, 7], dtype=np.int8),
        np.array([[1, -2], [300, 4]], dtype=np.int16),
        np.array([1, -(2**31), 2**31 - 1], dtype=np.int32),
        np.array([[0.5, -1.25]], dtype=np.float32),
        np.array([np.pi], dtype=np.float64),
    ],
)
def test_idx_round_trip(tmp_path, array, compress):
    path = write_idx(tmp_path / "a.idx", array, compress=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_the_standard_one(tmp_path):
    # MNIST's documented header for 60000 images of 28x28: magic 0x00000803 then the dims.
    path = write_idx(tmp_path / "x", np.zeros((2, 28, 28), dtype=np.uint8))
    assert path.read_bytes()[:16] == bytes.fromhex("00000803000000020000001c0000001c")


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_load_mnist_round_trip(tmp_path, name, compress):
    arrays = _write_mnist(tmp_path, compress=compress)
    for split in ("train", "test"):
        data = load_images(name, tmp_path, split=split)
        images, labels = arrays[split]
        assert isinstance(data, ImageData)
        assert data.images.shape == (len(images), 1, 4, 6)
        assert data.images.dtype == torch.float32 and data.labels.dtype == torch.int64
        torch.testing.assert_close(data.images[:, 0], torch.from_numpy(images).float() / 255)
        assert data.labels.tolist() == labels.tolist()
        assert data.split == split and data.name == name and len(data.classes) == 10
    assert load_images("fashion-mnist", tmp_path).classes[9] == "Ankle boot"


def test_load_mnist_from_torchvision_layout_with_resize_and_limit(tmp_path):
    arrays = _write_mnist(tmp_path / "MNIST" / "raw", compress=True)
    data = load_images("mnist", tmp_path, resize=(8, 12), limit=2)
    assert data.images.shape == (2, 1, 8, 12)
    assert data.labels.tolist() == arrays["train"][1][:2].tolist()
    assert float(data.images.min()) >= 0 and float(data.images.max()) <= 1


def _write_cifar(directory, *, protocol=2, n=2, seed=0):
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n)
        write_cifar_batch(directory / name, images, labels, protocol=protocol)
        written[name] = (images, labels)
    return written


@pytest.mark.parametrize("protocol", [2, 5])
def test_load_cifar_round_trip(tmp_path, protocol):
    written = _write_cifar(tmp_path / "cifar-10-batches-py", protocol=protocol)
    train = load_images("cifar10", tmp_path, split="train")
    want = np.concatenate([written[f"data_batch_{i}"][0] for i in range(1, 6)])
    assert train.images.shape == (10, 3, 32, 32)
    torch.testing.assert_close(train.images, torch.from_numpy(want).float() / 255)
    labels = np.concatenate([written[f"data_batch_{i}"][1] for i in range(1, 6)])
    assert train.labels.tolist() == labels.tolist()
    test = load_images("cifar10", tmp_path, split="test")
    assert test.labels.tolist() == written["test_batch"][1].tolist()
    assert train.classes[0] == "airplane" and train.classes[9] == "truck"


def test_cifar_meta_gives_class_names_and_python2_pickles_load(tmp_path):
    _write_cifar(tmp_path)
    names = [f"class{i}".encode() for i in range(10)]
    (tmp_path / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    # The official batches were pickled by Python 2 / numpy 1: they name numpy.core, not _core.
    py2 = (tmp_path / "test_batch").read_bytes().replace(b"numpy._core", b"numpy.core")
    (tmp_path / "test_batch").write_bytes(py2)
    data = load_images("cifar10", tmp_path, split="test")
    assert data.classes == tuple(f"class{i}" for i in range(10))
    assert data.images.shape == (2, 3, 32, 32)


def test_cifar_unpickler_refuses_arbitrary_globals(tmp_path):
    sentinel = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(sentinel), "w"))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}, protocol=2))
    with pytest.raises(DataFileError, match=r"refusing to load the global io\.open") as err:
        load_cifar_batch(path)
    assert str(path) in str(err.value)
    assert not sentinel.exists()


def test_cifar_truncated_and_malformed_batches_name_the_file(tmp_path):
    written = _write_cifar(tmp_path)
    path = tmp_path / "data_batch_3"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataFileError, match="corrupt or truncated") as err:
        load_images("cifar10", tmp_path)
    assert "data_batch_3" in str(err.value)

    bad = tmp_path / "bad_shape"
    write_cifar_batch(bad, written["test_batch"][0], [1, 2])
    raw = pickle.loads(bad.read_bytes())
    raw[b"labels"] = [1, 2, 3]
    bad.write_bytes(pickle.dumps(raw, protocol=2))
    with pytest.raises(DataFileError, match="2 images but 3 labels"):
        load_cifar_batch(bad)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "cifar10"])
def test_missing_files_error_names_directory_files_and_source(tmp_path, name):
    (tmp_path / "unrelated.txt").write_text("x")
    with pytest.raises(MissingDataError) as err:
        load_images(name, tmp_path, split="train")
    message = str(err.value)
    assert str(tmp_path) in message and "unrelated.txt" in message
    expected = IDX_NAMES["train"] if name != "cifar10" else [f"data_batch_{i}" for i in range(1, 6)]
    for file in expected:
        assert file in message
    assert "https://" in message and "digits" in message
    assert not image_files_available(name, tmp_path)


def test_missing_directory_and_partial_files(tmp_path):
    with pytest.raises(MissingDataError, match="does not exist"):
        load_images("mnist", tmp_path / "nowhere")
    write_idx(tmp_path / IDX_NAMES["test"][0], np.zeros((1, 2, 2), dtype=np.uint8))
    with pytest.raises(MissingDataError, match="t10k-labels-idx1-ubyte"):
        load_images("mnist", tmp_path, split="test")


def test_corrupt_idx_files_give_clear_errors(tmp_path):
    _write_mnist(tmp_path, compress=False)
    images = tmp_path / IDX_NAMES["train"][0]
    good = images.read_bytes()

    images.write_bytes(b"\x12\x34" + good[2:])
    with pytest.raises(DataFileError, match="bad magic number 0x12340803") as err:
        load_images("mnist", tmp_path)
    assert str(images) in str(err.value)

    images.write_bytes(good[:-7])
    with pytest.raises(DataFileError, match="is truncated: the header promises shape") as err:
        load_images("mnist", tmp_path)
    assert str(images) in str(err.value)

    images.write_bytes(good[:10])
    with pytest.raises(DataFileError, match="truncated inside its header"):
        read_idx(images)

    images.write_bytes(good + b"\x00")
    with pytest.raises(DataFileError, match="1 unexpected bytes"):
        read_idx(images)

    images.write_bytes(gzip.compress(good)[:-20])
    with pytest.raises(DataFileError, match="corrupt or truncated gzip") as err:
        load_images("mnist", tmp_path)
    assert str(images) in str(err.value)


def test_idx_content_mismatches_name_the_file(tmp_path):
    _write_mnist(tmp_path, compress=False)
    labels = tmp_path / IDX_NAMES["train"][1]
    write_idx(labels, np.zeros(4, dtype=np.uint8))  # 5 images, 4 labels
    with pytest.raises(DataFileError, match="has 4 labels but train-images-idx3-ubyte has 5"):
        load_images("mnist", tmp_path)
    write_idx(labels, np.zeros((5, 2), dtype=np.uint8))
    with pytest.raises(DataFileError, match="must hold uint8 labels of shape"):
        load_images("mnist", tmp_path)


def test_digits_default_is_offline_deterministic_and_stratified():
    train = load_images()
    test = load_images(split="test")
    assert train.name == "digits" and train.images.shape[1:] == (1, 8, 8)
    assert len(train) + len(test) == 1797  # scikit-learn's digits
    assert float(train.images.max()) == 1.0 and float(train.images.min()) == 0.0
    # Values are k / 16 exactly (4-bit intensities).
    torch.testing.assert_close(train.images * 16, torch.round(train.images * 16))
    again = load_images(split="test")
    assert torch.equal(test.images, again.images) and torch.equal(test.labels, again.labels)
    other = load_images(split="test", seed=1)
    assert not torch.equal(test.labels, other.labels)
    counts = torch.bincount(test.labels, minlength=10)
    assert int(counts.min()) >= 40  # every class represented (~45 each)


def test_digits_resize_to_28_is_bilinear_interpolate():
    small = load_images(split="test")
    big = load_images(split="test", resize=28)
    assert big.images.shape == (len(small), 1, 28, 28)
    want = torch.nn.functional.interpolate(small.images, size=(28, 28), mode="bilinear", align_corners=False)
    torch.testing.assert_close(big.images, want.clamp(0, 1))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": "imagenet"}, "The 'name' parameter of load_images must be one of"),
        ({"split": "val"}, "The 'split' parameter of load_images must be one of"),
        ({"resize": 0}, "The 'resize' parameter of load_images"),
        ({"resize": (28,)}, "The 'resize' parameter of load_images"),
        ({"test_fraction": 1.0}, "The 'test_fraction' parameter of load_images must be a float"),
        ({"limit": 0}, "The 'limit' parameter of load_images must be an int"),
    ],
)
def test_bad_parameters(kwargs, fragment):
    with pytest.raises(ParameterError, match=fragment):
        load_images(**kwargs)


def test_image_data_validates_shapes():
    with pytest.raises(ParameterError, match="'images' parameter of ImageData"):
        ImageData(torch.zeros(2, 3, 3), torch.zeros(2, dtype=torch.int64), ("a",))
    with pytest.raises(ParameterError, match="'labels' parameter of ImageData"):
        ImageData(torch.zeros(2, 1, 3, 3), torch.zeros(2, 1, dtype=torch.int64), ("a",))
    with pytest.raises(ParameterError, match="integers in the range"):
        ImageData(torch.zeros(2, 1, 3, 3), torch.tensor([0, 1]), ("a",))
    data = ImageData(torch.zeros(2, 1, 3, 3), torch.tensor([0, 1]), ("a", "b"))
    item = data.to_dataset()[1]
    assert item["image"].shape == (1, 3, 3) and int(item["label"]) == 1


def test_find_image_root_takes_the_first_folder_holding_every_split(tmp_path):
    from learnability.data import find_image_root, install_hint

    first, second = tmp_path / "first", tmp_path / "second"
    _write_mnist(second / "fashion-mnist", compress=True)
    assert find_image_root("fashion-mnist", [first, second]) == second
    _write_mnist(first / "FashionMNIST" / "raw", compress=False)
    assert find_image_root("fashion-mnist", [first, second]) == first
    assert find_image_root("mnist", [tmp_path / "nothing"]) is None
    assert "apt-get install dataset-fashion-mnist" in install_hint("fashion-mnist")


def test_decoded_idx_files_are_cached_and_a_replaced_file_is_read_again(tmp_path):
    arrays = _write_mnist(tmp_path, compress=True, n_train=6)
    first = load_images("mnist", tmp_path, split="train")
    assert np.array_equal(first.images.numpy()[:, 0] * 255, arrays["train"][0])
    again = load_images("mnist", tmp_path, split="train")
    assert torch.equal(first.images, again.images)
    again.images.zero_()  # callers get copies: the cache is not changed through them
    assert torch.equal(load_images("mnist", tmp_path, split="train").images, first.images)
    # A new file (another size) at the same path is decoded again.
    new = np.full((7, 4, 6), 255, dtype=np.uint8)
    write_idx(tmp_path / (IDX_NAMES["train"][0] + ".gz"), new, compress=True)
    write_idx(tmp_path / (IDX_NAMES["train"][1] + ".gz"), np.zeros(7, dtype=np.uint8), compress=True)
    replaced = load_images("mnist", tmp_path, split="train")
    assert len(replaced) == 7 and float(replaced.images.min()) == 1.0
