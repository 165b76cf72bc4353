"""Where the command line finds the benchmark data: the data home, then ``../shared/data``.

The data home is where :mod:`corel_sklearn.datasets`' fetchers keep their downloads
(``$COREL_SKLEARN_DATA``, default ``~/corel_sklearn_data``). A checkout that sits beside a
``shared/data`` folder (the project's own development layout) finds that copy second. With
neither, the error names the ``--download`` flag and the fetch call that get the data.
"""

import glob
import os

from corel_sklearn.datasets import (
    ADBENCH_DATASETS,
    ODDS_DATASETS,
    fetch_adbench,
    fetch_odds,
    fetch_published_table,
    get_data_home,
)
from corel_sklearn.experiments._tabular_benchmarks import adbench_files

SHARED_DATA = os.path.join(os.pardir, "shared", "data")
# dataset -> its folder in ../shared/data
_SHARED_FOLDERS = {"cifar10": "cifar10_jpg", "odds": "odds_pyod",
                   "adbench": "adbench_classical", "published": "baselines"}
_PUBLISHED_NAMES = {"odds": "pyod_odds_roc_10trials_2019.csv",
                    "adbench": "adbench_prelim_AUCROC_unsup_commit6a9c8b0_2022-06.csv"}
_WHAT = {"cifar10": "CIFAR-10", "odds": "ODDS", "adbench": "ADBench"}
_FETCH_CALL = {"cifar10": "corel_sklearn.datasets.fetch_cifar10()",
               "odds": "corel_sklearn.datasets.fetch_odds(name) for each set",
               "adbench": "corel_sklearn.datasets.fetch_adbench(name) for each set"}


def default_data_help(dataset):
    """The ``--data-path`` default in words, for the argument's help."""
    return (f"the data home's {os.path.basename(get_data_home(dataset=dataset))} folder "
            "($COREL_SKLEARN_DATA or ~/corel_sklearn_data), else "
            f"{os.path.join(SHARED_DATA, _SHARED_FOLDERS[dataset])}")


def find_data(dataset, command, datasets=None):
    """The folder holding ``dataset`` ("cifar10", "odds" or "adbench") for ``command``.

    The data home's folder if it holds the data (for the tabular sets: every one of
    ``datasets``, None meaning all), else the one in ``../shared/data``; otherwise a
    ``FileNotFoundError`` naming ``--download`` and the fetch call.
    """
    home = get_data_home(dataset=dataset)
    shared = os.path.join(SHARED_DATA, _SHARED_FOLDERS[dataset])
    for folder in (home, shared):
        if _holds(dataset, folder, datasets):
            return folder
    which = "" if datasets is None else f" ({', '.join(map(str, datasets))})"
    raise FileNotFoundError(
        f"No {_WHAT[dataset]} data{which} in the data home {home} or in {shared}. "
        f"Download it into the data home with `corel-sklearn {command} --download` (or "
        f"{_FETCH_CALL[dataset]}); set $COREL_SKLEARN_DATA to keep it elsewhere, or pass "
        "--data-path."
    )


def download_tabular(dataset, datasets=None):
    """Download ``datasets`` (None: all) of "odds" or "adbench" into the data home; its folder."""
    fetch = {"odds": fetch_odds, "adbench": fetch_adbench}[dataset]
    if datasets is None:
        datasets = ODDS_DATASETS if dataset == "odds" else ADBENCH_DATASETS
    for name in datasets:
        fetch(name)
    return get_data_home(dataset=dataset)


def find_published(benchmark, download=False):
    """The published AUROC table of "odds" or "adbench": the data home's, the shared one,
    downloaded with ``download``, else None."""
    name = _PUBLISHED_NAMES[benchmark]
    if download:
        return fetch_published_table(benchmark)
    for folder in (get_data_home(dataset="published"),
                   os.path.join(SHARED_DATA, _SHARED_FOLDERS["published"])):
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    return None


def _holds(dataset, folder, datasets):
    if not os.path.isdir(folder):
        return False
    if dataset == "cifar10":  # the fetched batches, or a copy in any layout load_cifar10 reads
        return any(not e.startswith(".") and not e.endswith(".tar.gz")
                   for e in os.listdir(folder))
    if dataset == "odds":
        names = [n for n in (datasets or ODDS_DATASETS) if n in ODDS_DATASETS]
        return all(os.path.isfile(os.path.join(folder, f"{n}.mat")) for n in names) and bool(
            glob.glob(os.path.join(folder, "*.mat")))
    try:
        adbench_files(folder, datasets)
    except (OSError, ValueError):
        return False
    return True
