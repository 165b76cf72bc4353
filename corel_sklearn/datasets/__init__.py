"""Datasets: CIFAR-10, the embedded digits, ODDS and ADBench tables, the one-class protocol.

``load_*`` read files you have; ``fetch_*`` download them first, from the datasets' own public
sources, into a local data home (:func:`get_data_home`; the ``[data]`` extra) and check their
SHA-256 sums. ``ImageFolder`` streams a folder of image files one decoded image at a time, for
training sets larger than memory.

Image loaders return flattened float32 pixels in [0, 1] with their ``image_shape`` (C, H, W);
tabular loaders return the raw features with ``target`` 1 = anomaly. Numpy only: no estimators.
"""

from corel_sklearn.datasets._cifar10 import CIFAR10_CLASSES, load_cifar10
from corel_sklearn.datasets._common import train_test_arrays
from corel_sklearn.datasets._digits import load_digits
from corel_sklearn.datasets._fetch import (
    ADBENCH_DATASETS,
    fetch_adbench,
    fetch_cifar10,
    fetch_odds,
    fetch_published_table,
    get_data_home,
)
from corel_sklearn.datasets._image_folder import ImageFolder
from corel_sklearn.datasets._one_class_draws import one_class_draws, one_class_split
from corel_sklearn.datasets._tabular import ODDS_DATASETS, load_adbench, load_odds

__all__ = [
    "ADBENCH_DATASETS",
    "CIFAR10_CLASSES",
    "ODDS_DATASETS",
    "ImageFolder",
    "fetch_adbench",
    "fetch_cifar10",
    "fetch_odds",
    "fetch_published_table",
    "get_data_home",
    "load_adbench",
    "load_cifar10",
    "load_digits",
    "load_odds",
    "one_class_draws",
    "one_class_split",
    "train_test_arrays",
]
