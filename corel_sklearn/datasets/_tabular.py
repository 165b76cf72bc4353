"""Tabular anomaly-detection sets: ODDS ``.mat`` and ADBench ``.npz`` files (1 = anomaly)."""

import os

import numpy as np
from sklearn.utils import Bunch

ODDS_DATASETS = (
    "arrhythmia", "cardio", "glass", "ionosphere", "letter", "lympho", "mnist", "musk",
    "optdigits", "pendigits", "pima", "satellite", "satimage-2", "shuttle", "vertebral",
    "vowels", "wbc",
)  # fmt: skip


def load_odds(path):
    """Load one ODDS anomaly-detection set from its MATLAB ``.mat`` file.

    The file holds a matrix ``X`` (n_samples, n_features) and labels ``y`` with
    **1 = anomaly (outlier), 0 = normal (inlier)**, as distributed by ODDS and pyod.

    Parameters
    ----------
    path : str or path-like
        The ``.mat`` file, e.g. the data home's ``odds_pyod/cardio.mat``. MATLAB v7.3 (HDF5)
        files are not supported.

    Returns
    -------
    bunch : :class:`~sklearn.utils.Bunch`
        ``data`` float64 (n_samples, n_features), unscaled; ``target`` int64, 1 = anomaly;
        ``name`` the file stem; ``source`` the path.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a readable ``.mat`` file with keys ``X`` and ``y`` of matching length and
        labels in {0, 1}.

    Examples
    --------
    >>> import os, tempfile, numpy as np, scipy.io
    >>> from corel_sklearn.datasets import load_odds
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.mat")
    >>> scipy.io.savemat(path, {"X": np.eye(3), "y": np.array([[0], [0], [1]])})
    >>> toy = load_odds(path)
    >>> toy.data.shape, toy.target.tolist(), toy.name
    ((3, 3), [0, 0, 1], 'toy')
    """
    import scipy.io

    path = _check_file(path, ".mat", "an ODDS .mat file with keys 'X' and 'y' (1 = anomaly)")
    try:
        content = scipy.io.loadmat(path)
    except NotImplementedError as exc:  # MATLAB v7.3 files are HDF5
        raise ValueError(f"{path!r} is a MATLAB v7.3 (HDF5) file; save it as v7.") from exc
    except Exception as exc:
        raise ValueError(f"Could not read {path!r} as a .mat file: {exc}") from exc
    return _tabular_bunch(content, path)


def load_adbench(path):
    """Load one ADBench tabular anomaly-detection set from its ``.npz`` file.

    The file holds arrays ``X`` (n_samples, n_features) and ``y`` with
    **1 = anomaly (outlier), 0 = normal (inlier)**.

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file, e.g. the data home's ``adbench_classical/6_cardio.npz``.

    Returns
    -------
    bunch : :class:`~sklearn.utils.Bunch`
        ``data`` float64 (n_samples, n_features), unscaled; ``target`` int64, 1 = anomaly;
        ``name`` the file stem; ``source`` the path.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not an ``.npz`` archive with keys ``X`` and ``y`` of matching length and
        labels in {0, 1}.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from corel_sklearn.datasets import load_adbench
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.npz")
    >>> np.savez(path, X=np.eye(3), y=np.array([1, 0, 0]))
    >>> load_adbench(path).target.tolist()
    [1, 0, 0]
    """
    path = _check_file(path, ".npz", "an ADBench .npz file with arrays 'X' and 'y' (1 = anomaly)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            content = {key: archive[key] for key in archive.files}
    except Exception as exc:
        raise ValueError(f"Could not read {path!r} as an .npz archive: {exc}") from exc
    return _tabular_bunch(content, path)


def _check_file(path, suffix, expected):
    path = os.fspath(path)
    if not os.path.isfile(path):
        what = "is a folder" if os.path.isdir(path) else "does not exist"
        raise FileNotFoundError(f"{path!r} {what}; expected {expected}.")
    if not path.lower().endswith(suffix):
        raise ValueError(f"{path!r} does not end in {suffix}; expected {expected}.")
    return path


def _tabular_bunch(content, path):
    missing = [key for key in ("X", "y") if key not in content]
    if missing:
        found = sorted(k for k in content if not k.startswith("__"))
        raise ValueError(f"{path!r} lacks key(s) {missing}; found {found}.")
    X = np.asarray(content["X"])
    y = np.asarray(content["y"])
    if X.ndim != 2:
        raise ValueError(f"{path!r}: 'X' must be 2-dimensional, found shape {X.shape}.")
    y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(
            f"{path!r}: 'y' must hold one label per row of X {X.shape}, found {y.shape}."
        )
    labels = np.unique(y)
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(
            f"{path!r}: labels must be 0 (normal) or 1 (anomaly), found {labels[:10]}."
        )
    name = os.path.splitext(os.path.basename(path))[0]
    return Bunch(data=X.astype(np.float64), target=y.astype(np.int64), name=name, source=path)
