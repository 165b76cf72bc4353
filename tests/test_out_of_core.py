"""uint8 pixels, memmaps and datasets: fits bit-identical to the in-memory float32 fit."""

import os
import warnings

import numpy as np
import pytest
import torch
from _small_autoencoder import small
from PIL import Image

from corel_sklearn.datasets import ImageFolder
from corel_sklearn.estimators._data import _FileRows, _to_float

N_SAMPLES, SHAPE = 120, (3, 4, 4)  # 48 features: tiny RGB images


@pytest.fixture
def pixels():
    return np.random.default_rng(0).integers(0, 256, (N_SAMPLES, 48), dtype=np.uint8)


def as_float(pixels):
    """The reference: what load_cifar10 returns for 8-bit pixels."""
    return np.divide(pixels, np.float32(255), dtype=np.float32)


def write_memmap(tmp_path, array, name="x.bin", order="C"):
    path = os.fspath(tmp_path / name)
    out = np.memmap(path, dtype=array.dtype, mode="w+", shape=array.shape, order=order)
    out[:] = array
    out.flush()
    del out
    return np.memmap(path, dtype=array.dtype, mode="r", shape=array.shape, order=order)


class PairDataset:
    """A map-style dataset like torchvision's: (tensor, target) pairs."""

    def __init__(self, array, shape=None):
        self.array, self.shape_ = array, shape

    def __len__(self):
        return len(self.array)

    def __getitem__(self, i):
        sample = torch.from_numpy(self.array[i])
        return (sample if self.shape_ is None else sample.view(self.shape_)), 0


def image_folder(tmp_path, pixels):
    for i, row in enumerate(pixels):
        folder = tmp_path / "images" / f"class{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(row.reshape(SHAPE).transpose(1, 2, 0)).save(folder / f"{i:04d}.png")
    dataset = ImageFolder(tmp_path / "images", image_shape=SHAPE)
    order = [int(os.path.splitext(os.path.basename(f))[0]) for f in dataset.files]
    return dataset, order


def small_autoencoder(**params):
    return small(hidden_layer_sizes=(16,), branch_dim=3, device="cpu", **params)


def fit_quietly(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of these short fits
        return estimator.fit(X)


def assert_same_fit(fitted, reference):
    for (name, a), b in zip(fitted.module_.state_dict().items(),
                            reference.module_.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    for record, expected in zip(fitted.history_, reference.history_, strict=True):
        record, expected = dict(record), dict(expected)
        record.pop("wall_time"), expected.pop("wall_time")
        assert record == expected


KINDS = ["uint8", "uint8 memmap", "float32 memmap", "float64 memmap", "memmap rows",
         "fortran memmap", "dataset", "image folder"]
CONV = {"input_shape": SHAPE, "conv_channels": (4,)}
EARLY_STOPPING = {"early_stopping": True, "validation_fraction": 0.2}


@pytest.mark.parametrize("kind, params", [(kind, {}) for kind in KINDS] + [
    ("uint8 memmap", CONV), ("image folder", CONV), ("dataset", EARLY_STOPPING),
    ("uint8 memmap", EARLY_STOPPING)])
def test_fit_equals_in_memory_float_fit(tmp_path, pixels, kind, params):
    X_float = as_float(pixels)
    reference_X = X_float
    if kind == "uint8":
        X = pixels
    elif kind == "uint8 memmap":
        X = write_memmap(tmp_path, pixels)
    elif kind == "float32 memmap":
        X = write_memmap(tmp_path, X_float)
    elif kind == "float64 memmap":
        X = write_memmap(tmp_path, X_float.astype(np.float64))
    elif kind == "memmap rows":  # a view into a larger file, starting at row 7
        X = write_memmap(tmp_path, np.vstack([pixels[:7], pixels, pixels[:3]]))[7:7 + N_SAMPLES]
    elif kind == "fortran memmap":  # not whole rows of the file: read through the mapping
        X = write_memmap(tmp_path, pixels, order="F")
    elif kind == "dataset":
        X = PairDataset(pixels, SHAPE)
    else:
        X, order = image_folder(tmp_path, pixels)
        reference_X = X_float[order]
    fitted = fit_quietly(small_autoencoder(**params), X)
    reference = fit_quietly(small_autoencoder(**params), reference_X)
    assert_same_fit(fitted, reference)
    np.testing.assert_array_equal(fitted.transform(X), reference.transform(reference_X))
    assert fitted.n_features_in_ == 48


def test_pixels_divided_exactly_as_numpy():
    every_value = np.arange(256, dtype=np.uint8)
    scaled = _to_float(torch.from_numpy(every_value), "cpu").numpy()
    assert scaled.tobytes() == as_float(every_value).tobytes()
    assert scaled[0] == 0 and scaled[-1] == 1


def test_memmap_rows_are_read_from_the_file_not_the_mapping(tmp_path, pixels):
    mapped = write_memmap(tmp_path, pixels)
    rows = _FileRows(mapped)
    assert rows.fd is not None
    index = np.array([5, 0, 119, 5])
    np.testing.assert_array_equal(rows.take(index), pixels[index])
    np.testing.assert_array_equal(rows.block(3, 9), pixels[3:9])
    # A copy-on-write map may differ from its file: it is read through the mapping.
    private = np.memmap(mapped.filename, dtype=np.uint8, mode="c", shape=pixels.shape)
    private[0] = 0
    rows = _FileRows(private)
    assert rows.fd is None
    np.testing.assert_array_equal(rows.take(np.array([0])), 0)


def test_inference_batches_smaller_than_the_memmap(tmp_path, pixels):
    X = write_memmap(tmp_path, pixels)
    fitted = fit_quietly(small_autoencoder(inference_batch_size=7), X)
    reference = fit_quietly(small_autoencoder(inference_batch_size=7), as_float(pixels))
    np.testing.assert_array_equal(fitted.transform(X), reference.transform(as_float(pixels)))


def test_non_finite_memmap_rows_raise(tmp_path, pixels):
    values = as_float(pixels)
    values[50, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        fit_quietly(small_autoencoder(batch_size=N_SAMPLES), write_memmap(tmp_path, values))


@pytest.mark.parametrize("X, match", [
    (np.zeros((4, 2, 2), dtype=np.uint8), "flatten each sample"),
    (np.zeros((1, 48), dtype=np.uint8), "minimum of 2 is required"),
    (PairDataset(np.zeros((0, 48), dtype=np.uint8)), "dataset is empty"),
    (type("Words", (), {"__len__": lambda self: 2, "__getitem__": lambda self, i: "ab"})(),
     "samples must be numeric"),
])
def test_bad_large_inputs_raise(X, match):
    with pytest.raises(ValueError, match=match):
        small_autoencoder().fit(X)


def test_iterables_without_random_access_raise(pixels):
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(pixels)

    for X in (Stream(), (row for row in pixels)):
        with pytest.raises(TypeError, match="cannot be shuffled exactly by random_state"):
            small_autoencoder().fit(X)


def test_dataset_with_unequal_samples_raises():
    class Ragged:
        def __len__(self):
            return 40

        def __getitem__(self, i):
            return np.zeros(48 if i < 20 else 47, dtype=np.float32)

    with pytest.raises(ValueError, match=r"dataset\[\d+\] has 47 values but dataset\[0\] has 48"):
        fit_quietly(small_autoencoder(), Ragged())


def test_transform_checks_the_feature_count_of_a_memmap(tmp_path, pixels):
    fitted = fit_quietly(small_autoencoder(), pixels)
    with pytest.raises(ValueError, match="X has 40 features, but TopoAutoencoder is expecting 48"):
        fitted.transform(write_memmap(tmp_path, pixels[:, :40]))


def test_image_folder_sizes_and_errors(tmp_path):
    (tmp_path / "a").mkdir()
    Image.new("RGB", (8, 6), (10, 20, 30)).save(tmp_path / "a" / "x.png")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match=r"has shape \(6, 8, 3\), expected \(4, 4, 3\).*resize"):
        ImageFolder(tmp_path, image_shape=(3, 4, 4))[0]
    resized = ImageFolder(tmp_path, image_shape=(3, 4, 4), resize=True)
    assert len(resized) == 1 and resized[0].reshape(3, -1)[:, 0].tolist() == [10, 20, 30]
    gray = ImageFolder(tmp_path, image_shape=(1, 6, 8))[0]
    assert gray.shape == (48,) and gray.dtype == np.uint8
    with pytest.raises(ValueError, match="1, 3 or 4 channels"):
        ImageFolder(tmp_path, image_shape=(2, 6, 8))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolder(tmp_path / "missing")
    (tmp_path / "empty" / "b").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="No images in"):
        ImageFolder(tmp_path / "empty")
