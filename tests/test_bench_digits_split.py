"""The digits benchmark scores only images its model did not see (benchmarks/ is no package)."""

import importlib.util
import os

import numpy as np
import pytest
from sklearn.datasets import load_digits

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)


@pytest.fixture(scope="module")
def bench():
    path = os.path.join(ROOT, "benchmarks", "bench_digits_auto_epochs.py")
    spec = importlib.util.spec_from_file_location("bench_digits_auto_epochs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("digit", [0, 7])
def test_held_out_split_never_scores_a_training_image(bench, digit):
    y = load_digits().target
    train, test = bench.held_out_split(y, digit, 120)
    # the same fits as before: the first 120 images of the digit, in order
    np.testing.assert_array_equal(train, np.flatnonzero(y == digit)[:120])
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(y)))
    assert len(test) == 1797 - 120
    # the rest of the digit are the inliers, every other digit an outlier
    assert (y[test] == digit).sum() == (y == digit).sum() - 120
    assert (y[test] != digit).sum() == (y != digit).sum()


def test_held_out_split_on_a_hand_made_case(bench):
    y = np.array([1, 0, 1, 1, 2, 1])
    train, test = bench.held_out_split(y, 1, 2)
    assert train.tolist() == [0, 2] and test.tolist() == [1, 3, 4, 5]
    with pytest.raises(ValueError, match=r"n_train must be in \[1, 3\]"):
        bench.held_out_split(y, 1, 4)  # no inlier would be left to score
