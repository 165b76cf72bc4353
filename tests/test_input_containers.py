"""The same samples give the same codes whatever container holds them (issue 21 item 1).

The reference is the in-memory float32 array of ``pixels / 255`` (numpy's float32 division),
built independently of the estimator's own scaling.
"""

import numpy as np
import pandas as pd
import pytest
import torch
from _small_autoencoder import small
from sklearn.pipeline import Pipeline

from corel_sklearn import BallCountOneClass


@pytest.fixture(scope="module")
def pixels():
    return np.random.default_rng(0).integers(0, 256, size=(60, 12), dtype=np.uint8)


@pytest.fixture(scope="module")
def reference(pixels):
    """Codes of the fit on the float32 values in [0, 1], computed with numpy alone."""
    floats = np.divide(pixels, np.float32(255), dtype=np.float32)
    return small().fit(floats).transform(floats)


class Samples:
    """A map-style dataset: ``dataset[i]`` as ``make(i)``."""

    def __init__(self, n, make):
        self.n, self.make = n, make

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.make(i)


def containers(pixels):
    frame = pd.DataFrame(pixels, columns=[f"px{i}" for i in range(pixels.shape[1])])
    return {
        "ndarray": pixels,
        "tensor": torch.from_numpy(pixels.copy()),
        "dataframe": frame,
        "dataset of (tensor, label) pairs": Samples(
            len(pixels), lambda i: (torch.from_numpy(pixels[i]), 0)),
        "dataset mixing uint8 and float samples": Samples(
            len(pixels), lambda i: pixels[i] if i % 2 else
            np.divide(pixels[i], np.float32(255), dtype=np.float32)),
    }


@pytest.mark.parametrize("kind", ["ndarray", "tensor", "dataframe",
                                  "dataset of (tensor, label) pairs",
                                  "dataset mixing uint8 and float samples"])
def test_the_same_pixels_give_the_same_codes_in_every_container(pixels, reference, kind):
    X = containers(pixels)[kind]
    fitted = small().fit(X)
    np.testing.assert_array_equal(fitted.transform(X), reference)


def test_a_pipeline_fitted_on_an_array_scores_the_same_pixels_as_a_tensor(pixels):
    pipe = Pipeline([("enc", small()), ("oc", BallCountOneClass(
        n_branches=2))]).fit(pixels)
    expected = pipe.score_samples(pixels)
    np.testing.assert_array_equal(pipe.score_samples(containers(pixels)["tensor"]), expected)


def test_a_mixed_dataframe_is_tabular_data_used_as_numbers():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.random(40).astype(np.float32),
                          "b": rng.integers(0, 3, 40).astype(np.uint8)})
    as_numbers = frame.to_numpy(dtype=np.float32)
    codes = small(n_branches=1).fit(frame).transform(frame)
    np.testing.assert_array_equal(
        codes, small(n_branches=1).fit(as_numbers).transform(as_numbers))


def test_dataset_samples_of_two_values_are_samples_not_pairs():
    values = np.random.default_rng(2).random((40, 2)).astype(np.float32)
    dataset = Samples(len(values), lambda i: [float(values[i, 0]), float(values[i, 1])])
    fitted = small(n_branches=1).fit(dataset)
    assert fitted.n_features_in_ == 2
    np.testing.assert_array_equal(
        fitted.transform(dataset), small(n_branches=1).fit(values).transform(values))


@pytest.mark.parametrize("dtype", ["complex64", "datetime64[s]", "timedelta64[s]"])
@pytest.mark.parametrize("where", ["memory", "memmap", "tensor"])
def test_data_that_is_not_numbers_is_refused_everywhere(tmp_path, dtype, where):
    if where == "tensor" and dtype != "complex64":
        pytest.skip("torch has no datetime tensors")
    X = np.zeros((40, 4), dtype=dtype)
    if where == "memmap":
        mm = np.memmap(tmp_path / "x.bin", dtype=dtype, mode="w+", shape=X.shape)
        mm[:] = X
        mm.flush()
        X = np.memmap(tmp_path / "x.bin", dtype=dtype, mode="r", shape=X.shape)
    elif where == "tensor":
        X = torch.zeros(40, 4, dtype=torch.complex64)
    with pytest.raises(ValueError, match=r"has dtype .*needs numbers"):
        small().fit(X)


def test_strided_uint8_pixels_give_the_codes_of_contiguous_ones(pixels, reference):
    strided = np.asfortranarray(pixels)
    transposed_tensor = torch.from_numpy(pixels.T.copy()).T
    for X in (strided, transposed_tensor):
        np.testing.assert_array_equal(small().fit(X).transform(X), reference)
