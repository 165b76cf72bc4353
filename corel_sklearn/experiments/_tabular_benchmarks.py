"""Tabular benchmarks: ODDS under pyod's protocol and ADBench's classical sets under ADBench's."""

import csv
import functools
import glob
import os
import re
import time
from dataclasses import dataclass, fields
from math import ceil

import numpy as np
from joblib import Parallel, delayed
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from corel_sklearn._threads import limited_threads
from corel_sklearn.datasets import ODDS_DATASETS, load_adbench, load_odds
from corel_sklearn.estimators import (
    TABULAR_N_NEIGHBORS,
    TABULAR_SCORING,
    TABULAR_TRIM,
    tabular_encoder,
    tabular_training_rows,
)
from corel_sklearn.experiments._methods import (
    ADBENCH_METHODS,
    ODDS_METHODS,
    MethodContext,
    resolve_methods,
)
from corel_sklearn.experiments._progress import log
from corel_sklearn.experiments._protocol import _is_int
from corel_sklearn.experiments._report import BenchmarkResult

#: Columns of pyod's published ODDS table printed beside ours.
ODDS_PUBLISHED_COLUMNS = ("IForest", "OCSVM", "LOF", "KNN", "PCA")
#: ADBench's settings: no anomaly labels, or a fraction of the training anomalies labeled.
ADBENCH_SETTINGS = ("unsupervised", "semi-supervised")
#: ADBench's seeds (``np.arange(3) + 1`` in its ``run.py``).
ADBENCH_SEEDS = (1, 2, 3)


@dataclass(frozen=True)
class TabularSettings:
    """The settings of :func:`run_odds_benchmark` and :func:`run_adbench_benchmark`, checked.

    Each runner builds one from its keyword arguments; those have the same names and, except
    ``methods`` and ADBench's ``standardize_encoder_input``, the same defaults.

    Parameters
    ----------
    methods : tuple of str, default=ODDS_METHODS
        Names in :data:`METHODS` (any case); checked by the runner.
    radius : float or None, default=None
        Ball radius of the ball counts ("COREL-count", "BallCount-AE"); None uses the
        encoder's ``eta`` (the paper's r = eta). COREL itself scores by the distance to the
        5th nearest training code (the tabular recipe), which has no radius.
    make_encoder : callable, default=tabular_encoder
        ``make_encoder(n_samples, n_features, random_state)`` returns the unfitted encoder of
        one run (see :func:`~corel_sklearn.tabular_encoder`); ``random_state`` is the run's
        trial or seed.
    n_jobs : int or None, default=None
        joblib jobs for the raw-feature detectors, as in :class:`joblib.Parallel` (None: one
        unless a joblib backend context says otherwise; -1: all cores). The encoders train in
        the calling process.
    encoder_n_jobs : int or None, default=1
        torch and numba threads while the encoders train and their codes are scored,
        restored afterwards; None or -1 leaves them as they are.
    standardize_encoder_input : bool, default=False
        Fit a :class:`~sklearn.preprocessing.StandardScaler` on the training rows of each
        split before the encoder, as :class:`corel_sklearn.pyod.COREL` does (once per split:
        COREL and its lambda = 0 ablation see the same input).
    trim : float in [0, 0.5), default=0.2
        Share of each split's training rows the encoders do not train on, as
        :class:`corel_sklearn.pyod.COREL`'s ``trim``: the rows farthest from their
        ``tabular_trim_neighbors(n)``-th nearest neighbour in the encoder's input (one per
        20 rows, at least 100, among at most 7,000 rows drawn with the split's seed). 0
        trains on every row.
    verbose : int, default=1
        0 is silent; 1 logs each set and its mean AUROCs on stderr.

    Raises
    ------
    ValueError
        For a radius not > 0, an ``n_jobs`` of 0 or not an int, or an ``encoder_n_jobs``
        other than a positive int, -1 or None.

    Examples
    --------
    >>> from corel_sklearn.experiments import TabularSettings
    >>> settings = TabularSettings(methods=("COREL", "KNN"), encoder_n_jobs=-1)
    >>> settings.report()["make_encoder"], settings.report()["methods"]
    ('tabular_encoder', ['COREL', 'KNN'])
    >>> TabularSettings(encoder_n_jobs=0)
    Traceback (most recent call last):
    ...
    ValueError: encoder_n_jobs must be a positive int, -1 or None (threads as they are), got 0.
    """

    methods: tuple = ODDS_METHODS
    radius: float | None = None
    make_encoder: object = tabular_encoder
    n_jobs: int | None = None
    encoder_n_jobs: int | None = 1
    standardize_encoder_input: bool = False
    trim: float = TABULAR_TRIM
    verbose: int = 1

    def __post_init__(self):
        if isinstance(self.trim, bool) or not (
                isinstance(self.trim, (int, float)) and 0 <= self.trim < 0.5):
            raise ValueError(f"trim must be a share in [0, 0.5) of the training rows the "
                             f"encoders leave out, got {self.trim!r}.")
        if self.radius is not None and not self.radius > 0:
            raise ValueError(
                f"radius must be > 0 or None (the encoder's eta), got {self.radius!r}.")
        if self.n_jobs is not None and not (_is_int(self.n_jobs) and self.n_jobs != 0):
            raise ValueError(f"n_jobs must be a nonzero int (joblib's: -1 is all cores) or "
                             f"None, got {self.n_jobs!r}.")
        if self.encoder_n_jobs is not None and not (
                _is_int(self.encoder_n_jobs) and
                (self.encoder_n_jobs >= 1 or self.encoder_n_jobs == -1)):
            raise ValueError(f"encoder_n_jobs must be a positive int, -1 or None (threads as "
                             f"they are), got {self.encoder_n_jobs!r}.")

    def report(self):
        """JSON-friendly dict of the settings: ``make_encoder`` by name, ``methods`` a list.

        Returns
        -------
        settings : dict
            One entry per field.
        """
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        make = self.make_encoder
        if isinstance(make, functools.partial):  # e.g. tabular_encoder with n_steps
            args = ", ".join(f"{k}={v!r}" for k, v in make.keywords.items())
            out["make_encoder"] = f"{getattr(make.func, '__name__', make.func)}({args})"
        else:
            out["make_encoder"] = getattr(make, "__name__", repr(make))
        out["methods"] = list(self.methods)
        return out


def pyod_split(X, y, random_state):
    """One trial of pyod's protocol: a 60/40 split, standardised with train statistics.

    As pyod's ``notebooks/benchmark.py``: ``train_test_split(X, y, test_size=0.4,
    random_state=np.random.RandomState(random_state))``, then a
    :class:`~sklearn.preprocessing.StandardScaler` fitted on the train split.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The data.
    y : ndarray of shape (n_samples,)
        Labels, 1 = anomaly.
    random_state : int
        Seed of the split: trial ``i`` of pyod's benchmark uses ``i``.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        The split, ``X_train`` and ``X_test`` scaled with the train split's mean and std.

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.experiments import pyod_split
    >>> X, y = np.arange(20.0).reshape(10, 2), np.r_[np.zeros(8), np.ones(2)]
    >>> X_train, X_test, y_train, y_test = pyod_split(X, y, random_state=0)
    >>> X_train.shape, X_test.shape, bool(abs(X_train.mean()) < 1e-12)
    ((6, 2), (4, 2), True)
    """
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.4, random_state=np.random.RandomState(random_state)
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def adbench_split(X, y, random_state, *, setting="unsupervised", labeled_ratio=1.0):
    """One split of ADBench's protocol (``DataGenerator.generator``), seeded by ``random_state``.

    As in ADBench: sets under 1000 rows are resampled with replacement up to 1000 rows, sets
    over 10,000 rows subsampled to 10,000 (each with a generator freshly seeded by
    ``random_state``); a stratified 70/30 train/test split continues with that generator; a
    :class:`~sklearn.preprocessing.MinMaxScaler` is fitted on the train split. ADBench seeds
    numpy's global generator and lets ``train_test_split`` draw from it; here a
    ``RandomState(random_state)`` is passed along explicitly, which draws the same numbers.

    * ``setting="unsupervised"`` (ADBench's ``la = 0``): the detectors are fitted on the
      whole train split, anomalies included, unlabeled.
    * ``setting="semi-supervised"``: ``ceil(labeled_ratio * n)`` of the ``n`` training
      anomalies are labeled (ADBench's ``la``, ``at_least_one_labeled=True``). A one-class
      detector can only use those labels by leaving the labeled anomalies out, so it is
      fitted on the rest (as ADBench's PyOD wrapper does for its autoencoders); with
      ``labeled_ratio=1.0`` it trains on normal data only.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The data, unscaled.
    y : ndarray of shape (n_samples,)
        Labels, 1 = anomaly; the split is stratified by them.
    random_state : int
        One of ADBench's seeds (:data:`ADBENCH_SEEDS`: 1, 2, 3).
    setting : {"unsupervised", "semi-supervised"}, default="unsupervised"
        Which training rows the detectors are fitted on (see above).
    labeled_ratio : float in [0, 1], default=1.0
        Fraction of the training anomalies labeled (and left out) in the semi-supervised
        setting.

    Returns
    -------
    X_fit, X_test, y_fit, y_test : ndarray
        The rows the detectors are fitted on (scaled) with their true labels, and the test
        split (scaled) with 1 = anomaly.

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.experiments import adbench_split
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(200, 3)), np.r_[np.zeros(180), np.ones(20)]
    >>> X_fit, X_test, y_fit, y_test = adbench_split(X, y, random_state=1)
    >>> len(X_fit) + len(X_test), len(X_test)   # resampled to 1000 rows
    (1000, 300)
    >>> float(X_fit.min()), float(X_fit.max())   # min-max scaled on the train split
    (0.0, 1.0)
    >>> _, _, y_fit, _ = adbench_split(X, y, 1, setting="semi-supervised")
    >>> int(y_fit.sum())   # all training anomalies labeled, hence left out
    0
    """
    if setting not in ADBENCH_SETTINGS:
        raise ValueError(f"setting must be one of {ADBENCH_SETTINGS}, got {setting!r}.")
    if not 0.0 <= labeled_ratio <= 1.0:
        raise ValueError(f"labeled_ratio must be in [0, 1], got {labeled_ratio!r}.")
    rng = np.random.RandomState(random_state)
    if len(y) < 1000:
        rng = np.random.RandomState(random_state)
        rows = rng.choice(np.arange(len(y)), 1000, replace=True)
        X, y = X[rows], y[rows]
    if len(y) > 10000:
        rng = np.random.RandomState(random_state)
        rows = rng.choice(np.arange(len(y)), 10000, replace=False)
        X, y = X[rows], y[rows]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, shuffle=True, stratify=y, random_state=rng
    )
    scaler = MinMaxScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    if setting == "unsupervised":
        return X_train, X_test, y_train, y_test
    anomalies = np.flatnonzero(y_train == 1)
    labeled = rng.choice(anomalies, ceil(labeled_ratio * len(anomalies)), replace=False)
    keep = np.setdiff1d(np.arange(len(y_train)), labeled)
    return X_train[keep], X_test, y_train[keep], y_test


def run_odds_benchmark(data_dir, *, datasets=None, n_trials=10, methods=ODDS_METHODS,
                       published_csv=None, radius=None, make_encoder=tabular_encoder,
                       n_jobs=None, encoder_n_jobs=1, standardize_encoder_input=False,
                       trim=TABULAR_TRIM, verbose=1):
    """COREL and baselines on ODDS sets with pyod's benchmark protocol.

    Per set and trial ``i``: a random 60/40 train/test split
    (``train_test_split(..., test_size=0.4, random_state=np.random.RandomState(i))``, as in
    pyod's ``notebooks/benchmark.py``; :func:`pyod_split`), a
    :class:`~sklearn.preprocessing.StandardScaler` fitted on the train split, every detector
    fitted on the *contaminated* train split, AUROC on the test split with 1 = anomaly.

    * COREL: ``make_encoder(n_train, n_features, i)`` (default
      :func:`~corel_sklearn.tabular_encoder`)
      trained on the standardised train split without its ``trim`` share of sparsest rows,
      then :class:`~corel_sklearn.BallCountOneClass` fitted on their codes; the anomaly
      score is the distance to the 5th nearest kept training code
      (``scoring="knn_distance"``, as :class:`corel_sklearn.pyod.COREL`).
    * The baselines come from :data:`METHODS` with pyod's defaults: IForest
      ``IsolationForest(random_state=i)``, OCSVM ``OneClassSVM(nu=0.5, gamma="auto")``, LOF
      ``LocalOutlierFactor(n_neighbors=20, novelty=True)``, KNN and ECOD from pyod.

    The keyword arguments from ``radius`` on are those of :class:`TabularSettings`, which
    checks them before any work.

    Parameters
    ----------
    data_dir : str or path-like
        Folder with the ``<name>.mat`` files (``get_data_home(dataset="odds")`` for the
        fetched sets).
    datasets : sequence of str, default=None
        Names to run; None runs the 17 of :data:`~corel_sklearn.datasets.ODDS_DATASETS`.
    n_trials : int, default=10
        Trials (random splits) per set; trial ``i`` is seeded by ``i``.
    methods : sequence of str, default=("COREL", "IForest", "OCSVM", "LOF")
        Names in :data:`METHODS` (any case); "BallCount-AE" adds the ablation: the same
        encoder trained with lambda = 0 and the same ball count.
    published_csv : str or path-like, default=None
        pyod's published table (``pyod_odds_roc_10trials_2019.csv``) to print next to ours.
    radius : float, default=None
        Ball radius of "COREL-count" and "BallCount-AE"; None uses the encoder's ``eta``.
    make_encoder : callable, default=tabular_encoder
        ``make_encoder(n_samples, n_features, random_state)`` returns an unfitted encoder.
    n_jobs : int, default=None
        joblib jobs for the raw-feature detectors (-1: all cores); COREL trains in the
        calling process.
    encoder_n_jobs : int, default=1
        torch and numba threads while COREL trains and scores; None or -1 leaves them as
        they are.
    standardize_encoder_input : bool, default=False
        Fit a StandardScaler on the training rows before the encoder; not needed here: the
        ODDS split is standardised already.
    trim : float in [0, 0.5), default=0.2
        Share of each split's training rows the encoder does not train on (the rows
        farthest from their ``tabular_trim_neighbors(n)``-th nearest neighbour), as
        :class:`corel_sklearn.pyod.COREL` does by default; 0 trains on every row.
    verbose : int, default=1
        0 is silent; 1 logs each set and its mean AUROCs on stderr.

    Returns
    -------
    result : :class:`BenchmarkResult`
        Groups are the datasets, runs the trials; ``info`` holds each set's size, anomaly
        share, ``copy_share`` and where COREL's encoder ended.

    Raises
    ------
    FileNotFoundError
        If a set's ``.mat`` file is missing (before any training).
    ValueError
        For an unknown method, ``n_trials`` below 1 or a bad setting.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, scipy.io
    >>> from corel_sklearn.experiments import run_odds_benchmark
    >>> folder, rng = tempfile.mkdtemp(), np.random.default_rng(0)
    >>> X, y = rng.normal(size=(100, 4)), np.r_[np.ones(10), np.zeros(90)]
    >>> X[:10] += 5   # the anomalies lie apart
    >>> scipy.io.savemat(os.path.join(folder, "toy.mat"), {"X": X, "y": y[:, None]})
    >>> result = run_odds_benchmark(folder, datasets=["toy"], n_trials=2,
    ...                             methods=["IForest", "LOF"], verbose=0)
    >>> result.groups, result.aurocs("LOF").shape, bool(result.aurocs("LOF").min() > 0.9)
    (['toy'], (1, 2), True)
    """
    settings = TabularSettings(
        methods=tuple(methods), radius=radius, make_encoder=make_encoder, n_jobs=n_jobs,
        encoder_n_jobs=encoder_n_jobs, standardize_encoder_input=standardize_encoder_input,
        trim=trim, verbose=verbose)
    n_trials = _positive_int(n_trials, "n_trials")
    names = list(ODDS_DATASETS if datasets is None else datasets)
    published = {}
    if published_csv:
        published = {name: {c: row[c] for c in ODDS_PUBLISHED_COLUMNS if c in row}
                     for name, row in read_published_table(published_csv).items()}
    paths = [os.path.join(os.fspath(data_dir), f"{name}.mat") for name in names]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:  # before any training, not at the first missing set
        raise FileNotFoundError(
            f"ODDS file(s) not found: {missing}; pass the folder of the .mat files "
            "(e.g. ../shared/data/odds_pyod) and names from ODDS_DATASETS."
        )
    tables = ((name, load_odds(path)) for name, path in zip(names, paths, strict=True))
    result = _run_tabular(tables, names, pyod_split, range(n_trials), settings, published,
                          run_label="trial")
    result.settings.update(protocol="pyod ODDS", data_dir=os.fspath(data_dir),
                           n_trials=n_trials,
                           published_csv=os.fspath(published_csv) if published_csv else None)
    return result


def run_adbench_benchmark(data_dir, *, datasets=None, setting="unsupervised",
                          labeled_ratio=1.0, random_states=ADBENCH_SEEDS,
                          methods=ADBENCH_METHODS, published_csv=None, radius=None,
                          make_encoder=tabular_encoder, n_jobs=None, encoder_n_jobs=1,
                          standardize_encoder_input=True, trim=None, verbose=1):
    """COREL and baselines on ADBench's classical ``.npz`` sets with ADBench's protocol.

    Per set and seed: :func:`adbench_split` (resampling to 1000-10,000 rows, stratified 70/30
    split, min-max scaling fitted on train; ``setting`` decides which training rows the
    detectors see), every method fitted on those rows, AUROC on the test split with
    1 = anomaly. The baselines are those of :data:`METHODS` with pyod's defaults (as ADBench
    runs them: ``IForest()``, ``OCSVM()``, ``LOF()``, ``KNN()``, ``ECOD()``) on the min-max
    scaled rows. COREL does what :class:`corel_sklearn.pyod.COREL` does: it standardises the
    training rows (``standardize_encoder_input=True``; the tabular encoder is built for
    standardised inputs), trains ``make_encoder(n_fit, n_features, random_state)`` (default
    :func:`~corel_sklearn.tabular_encoder`) on them without the ``trim`` share of sparsest
    rows and scores the test rows by the distance
    from their codes to the 5th nearest training code.

    The keyword arguments from ``radius`` on are those of :class:`TabularSettings` (see
    :func:`run_odds_benchmark`), which checks them before any work.

    Parameters
    ----------
    data_dir : str or path-like
        Folder with ADBench's ``<number>_<name>.npz`` files.
    datasets : sequence of str, default=None
        File stems ("4_breastw") or names ("breastw", any case); None runs every ``.npz``
        in ``data_dir``, in ADBench's numbering.
    setting : {"unsupervised", "semi-supervised"}, default="unsupervised"
        See :func:`adbench_split`.
    labeled_ratio : float in [0, 1], default=1.0
        Fraction of the training anomalies labeled in the semi-supervised setting.
    random_states : sequence of int, default=ADBENCH_SEEDS
        One run per seed, each passed to :func:`adbench_split` and ``make_encoder``:
        ADBench's seeds (1, 2, 3) by default. The command line's ``--seeds``.
    methods : sequence of str, default=("COREL", "IForest", "OCSVM", "LOF", "ECOD", "KNN")
        Names in :data:`METHODS` (any case).
    published_csv : str or path-like, default=None
        ADBench's published AUCROC table (``adbench_prelim_AUCROC_unsup_...csv``): the mean
        over its seeds of the ``la = 0`` rows is printed beside ours for the methods run
        (unsupervised setting only).
    radius : float, default=None
        Ball radius of "COREL-count" and "BallCount-AE"; None uses the encoder's ``eta``.
    make_encoder : callable, default=tabular_encoder
        ``make_encoder(n_samples, n_features, random_state)`` returns an unfitted encoder.
    n_jobs : int, default=None
        joblib jobs for the raw-feature detectors (-1: all cores).
    encoder_n_jobs : int, default=1
        torch and numba threads while COREL trains and scores; None or -1 leaves them as
        they are.
    standardize_encoder_input : bool, default=True
        Fit a StandardScaler on the training rows before the encoder (the min-max scaled
        rows are not standardised).
    trim : float in [0, 0.5) or None, default=None
        Share of each split's training rows the encoder does not train on (the rows
        farthest from their ``tabular_trim_neighbors(n)``-th nearest neighbour), as
        :class:`corel_sklearn.pyod.COREL`'s ``trim``. None follows the setting
        (:func:`default_trim`): 0.2, ``COREL()``'s default, where the training rows hold the
        anomalies ("unsupervised"); 0 where they are normal by construction
        ("semi-supervised" with every training anomaly labeled and left out), COREL as the
        novelty detector it is, ``COREL(trim=0)``.
    verbose : int, default=1
        0 is silent; 1 logs each set and its mean AUROCs on stderr.

    Returns
    -------
    result : :class:`BenchmarkResult`
        Groups are the datasets, runs the seeds.

    Raises
    ------
    FileNotFoundError
        If ``data_dir`` is not a folder of ``.npz`` files.
    ValueError
        For an unknown set, method or setting, or no seed.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from corel_sklearn.experiments import run_adbench_benchmark
    >>> folder, rng = tempfile.mkdtemp(), np.random.default_rng(0)
    >>> X, y = rng.normal(size=(100, 4)), np.r_[np.ones(10), np.zeros(90)]
    >>> X[:10] += 5   # the anomalies lie apart
    >>> np.savez(os.path.join(folder, "1_toy.npz"), X=X, y=y)
    >>> result = run_adbench_benchmark(folder, random_states=[1, 2], methods=["IForest"],
    ...                                verbose=0)
    >>> result.groups, result.aurocs("IForest").shape
    (['1_toy'], (1, 2))
    >>> bool(result.aurocs("IForest").min() > 0.9)
    True
    """
    if setting not in ADBENCH_SETTINGS:
        raise ValueError(f"setting must be one of {ADBENCH_SETTINGS}, got {setting!r}.")
    if trim is None:
        trim = default_trim(setting, labeled_ratio)
    settings = TabularSettings(
        methods=tuple(methods), radius=radius, make_encoder=make_encoder, n_jobs=n_jobs,
        encoder_n_jobs=encoder_n_jobs, standardize_encoder_input=standardize_encoder_input,
        trim=trim, verbose=verbose)
    random_states = [int(s) for s in random_states]
    if not random_states:
        raise ValueError("random_states must hold at least one seed.")
    paths = adbench_files(data_dir, datasets)
    names = [_adbench_name(p) for p in paths]
    published = {}
    if published_csv and setting == "unsupervised":
        table = read_adbench_published(published_csv)
        keys = [m.key for m in resolve_methods(methods)]
        published = {n: {c: table[_base_name(n)][c] for c in keys if c in table[_base_name(n)]}
                     for n in names if _base_name(n) in table}

    def split(X, y, random_state):
        return adbench_split(X, y, random_state, setting=setting, labeled_ratio=labeled_ratio)

    result = _run_tabular(((n, load_adbench(p)) for n, p in zip(names, paths, strict=True)),
                          names, split, random_states, settings, published, run_label="seed")
    result.settings.update(protocol=f"ADBench {setting}", data_dir=os.fspath(data_dir),
                           random_states=random_states, setting=setting,
                           labeled_ratio=labeled_ratio if setting != "unsupervised" else 0.0,
                           published_csv=os.fspath(published_csv) if published_csv else None)
    return result


def default_trim(setting, labeled_ratio=1.0):
    """COREL's ``trim`` in an ADBench setting: 0 where the training rows are all normal.

    Parameters
    ----------
    setting : {"unsupervised", "semi-supervised"}
    labeled_ratio : float, default=1.0
        Share of the training anomalies labeled (and left out) in the semi-supervised
        setting; below 1 some stay in the training rows.

    Returns
    -------
    trim : float
        0.0 for "semi-supervised" with every anomaly labeled, else
        :class:`corel_sklearn.pyod.COREL`'s default (0.2).

    Examples
    --------
    >>> from corel_sklearn.experiments import default_trim
    >>> default_trim("unsupervised"), default_trim("semi-supervised")
    (0.2, 0.0)
    """
    if setting == "semi-supervised" and labeled_ratio >= 1.0:
        return 0.0
    return TABULAR_TRIM


def adbench_files(data_dir, datasets=None):
    """Paths of ADBench ``.npz`` files in ``data_dir``, in ADBench's numbering.

    Parameters
    ----------
    data_dir : str or path-like
        Folder with ADBench's ``<number>_<name>.npz`` files.
    datasets : sequence of str, default=None
        File stems ("4_breastw") or names ("breastw", any case); None means all.

    Returns
    -------
    paths : list of str
        The files, ordered by ADBench's number, each once.

    Raises
    ------
    FileNotFoundError
        If ``data_dir`` is not a folder or holds no ``.npz`` file.
    ValueError
        If a name in ``datasets`` matches no file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from corel_sklearn.experiments import adbench_files
    >>> folder = tempfile.mkdtemp()
    >>> for stem in ("10_cover", "4_breastw"):
    ...     np.savez(os.path.join(folder, f"{stem}.npz"), X=np.eye(2), y=np.array([0, 1]))
    >>> [os.path.basename(p) for p in adbench_files(folder)]
    ['4_breastw.npz', '10_cover.npz']
    >>> [os.path.basename(p) for p in adbench_files(folder, ["Cover"])]
    ['10_cover.npz']
    """
    data_dir = os.fspath(data_dir)
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(
            f"ADBench folder {data_dir!r} not found; pass the folder of the classical .npz "
            "files (e.g. ../shared/data/adbench_classical)."
        )
    paths = sorted(glob.glob(os.path.join(data_dir, "*.npz")), key=_adbench_order)
    if not paths:
        raise FileNotFoundError(f"No .npz files in {data_dir!r}.")
    if datasets is None:
        return paths
    by_name = {}
    for path in paths:
        stem = _adbench_name(path)
        by_name[stem.casefold()] = by_name[_base_name(stem).casefold()] = path
    missing = [d for d in datasets if str(d).casefold() not in by_name]
    if missing:
        raise ValueError(
            f"Unknown ADBench set(s) {missing} in {data_dir!r}; have "
            f"{[_adbench_name(p) for p in paths]}."
        )
    return list(dict.fromkeys(by_name[str(d).casefold()] for d in datasets))


def read_published_table(path):
    """``{dataset: {detector: auroc}}`` from pyod's ``roc.csv``-style table.

    Parameters
    ----------
    path : str or path-like
        A CSV file with a ``Data`` column (the set's name), the columns ``#Samples``,
        ``# Dimensions`` and ``Outlier Perc`` (skipped) and one AUROC column per detector,
        as pyod's ``pyod_odds_roc_10trials_2019.csv``.

    Returns
    -------
    table : dict
        ``{dataset: {detector: auroc}}``; empty cells are left out.

    Raises
    ------
    ValueError
        If the file has no ``Data`` column or no rows.

    Examples
    --------
    >>> import os, tempfile
    >>> from corel_sklearn.experiments import read_published_table
    >>> path = os.path.join(tempfile.mkdtemp(), "roc.csv")
    >>> with open(path, "w") as f:
    ...     print("Data,#Samples,# Dimensions,Outlier Perc,LOF,IForest", file=f)
    ...     print("wbc,378,30,5.5556,0.9107,0.9310", file=f)
    >>> read_published_table(path)
    {'wbc': {'LOF': 0.9107, 'IForest': 0.931}}
    """
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "Data" not in rows[0]:
        raise ValueError(f"{path!r} is not a pyod ROC table (no 'Data' column).")
    skip = {"Data", "#Samples", "# Dimensions", "Outlier Perc"}
    return {r["Data"]: {k: float(v) for k, v in r.items() if k not in skip and v not in ("", None)}
            for r in rows}


def read_adbench_published(path):
    """``{name: {detector: mean AUCROC}}`` from ADBench's result table, ``la = 0`` rows.

    The rows are indexed ``('<dataset>', la, seed)``; the mean is over the seeds. Dataset
    names are reduced to ADBench's current base names ("Pima_withoutdupl_35" -> "pima",
    "magic.gamma.diff" -> "magic.gamma"), lower case. Sets without any figure are omitted.

    Parameters
    ----------
    path : str or path-like
        ADBench's result table (``adbench_prelim_AUCROC_unsup_...csv``): a header row of
        detector names after the index column, and rows indexed ``('<dataset>', la, seed)``.

    Returns
    -------
    table : dict
        ``{name: {detector: mean AUCROC over the seeds}}`` of the ``la = 0`` rows.

    Raises
    ------
    ValueError
        If the file is empty or a row index is not ``('<dataset>', la, seed)``.

    Examples
    --------
    >>> import csv, os, tempfile
    >>> from corel_sklearn.experiments import read_adbench_published
    >>> path = os.path.join(tempfile.mkdtemp(), "aucroc.csv")
    >>> with open(path, "w", newline="") as f:
    ...     csv.writer(f).writerows([["", "IForest", "LOF"],
    ...                              ["('Pima_withoutdupl_35', 0.0, 1)", 0.70, 0.60],
    ...                              ["('Pima_withoutdupl_35', 0.0, 2)", 0.72, ""],
    ...                              ["('Pima_withoutdupl_35', 0.1, 1)", 0.99, 0.99]])
    >>> table = read_adbench_published(path)
    >>> sorted(table), round(table["pima"]["IForest"], 3), table["pima"]["LOF"]
    (['pima'], 0.71, 0.6)
    """
    sums = {}
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise ValueError(f"{path!r} is empty.")
        for row in reader:
            match = re.match(r"\('([^']+)',\s*([0-9.]+),\s*(\d+)\)", row[0])
            if match is None:
                raise ValueError(f"{path!r}: unexpected row index {row[0]!r}; expected "
                                 "('<dataset>', la, seed).")
            if float(match.group(2)) != 0.0:
                continue
            name = re.split(r"_withoutdupl", match.group(1))[0].removesuffix(".diff").casefold()
            entry = sums.setdefault(name, {})
            for column, value in zip(header[1:], row[1:], strict=True):
                if value:
                    entry.setdefault(column, []).append(float(value))
    # sets listed without any figure (the preliminary table ran only the smaller ones) are left out
    return {n: {c: float(np.mean(v)) for c, v in cols.items()}
            for n, cols in sums.items() if cols}


def _run_tabular(tables, names, split, runs, settings, published, run_label):
    """Every method on every split of every table; ``split(X, y, run) -> X_fit, X_test, ...``."""
    methods = resolve_methods(settings.methods)
    runs = list(runs)
    records, info = [], {}
    start = time.perf_counter()
    for name, bunch in tables:
        X, y = bunch.data, bunch.target
        info[name] = {"n_samples": len(X), "n_features": X.shape[1],
                      "outlier_percent": 100 * float(y.mean())}
        log(settings.verbose, f"{name}: {X.shape[0]} x {X.shape[1]}, {100 * y.mean():.1f}% "
            f"anomalies, {len(runs)} runs ...")
        tick = time.perf_counter()
        splits = [split(X, y, run) for run in runs]
        # The raw-feature detectors are single-threaded: spread them over the cores. The
        # encoders train in this process with `encoder_n_jobs` threads, one after the other.
        raw = [(m, run, s) for run, s in zip(runs, splits, strict=True) for m in methods
               if m.representation == "raw"]
        scored = Parallel(n_jobs=settings.n_jobs)(
            delayed(_score_raw)(m, s, run) for m, run, s in raw)
        results = {(m.key, run): value for (m, run, _), value in zip(raw, scored, strict=True)}
        encoder_n_jobs = settings.encoder_n_jobs
        with limited_threads(None if encoder_n_jobs == -1 else encoder_n_jobs):
            for run, s in zip(runs, splits, strict=True):
                results.update(_score_encoded(methods, s, run, settings))
        for run in runs:
            for m in methods:
                auroc, seconds = results[m.key, run]
                records.append(dict(method=m.key, group=name, run=run, auroc=auroc,
                                    seconds=seconds))
        info[name]["copy_share"] = float(np.mean(
            [copy_share(s[0], s[1], s[3]) for s in splits]))
        encoders = [results["encoder", run] for run in runs if ("encoder", run) in results]
        if encoders:
            info[name]["corel_death_over_eta"] = float(
                np.median([e["death_over_eta"] for e in encoders]))
            info[name]["corel_n_steps"] = float(np.mean([e["n_steps"] for e in encoders]))
            info[name]["corel_reached_eta"] = all(e["reached_eta"] for e in encoders)
        info[name]["seconds"] = time.perf_counter() - tick
        means = "  ".join(
            f"{m.key} {np.mean([results[m.key, r][0] for r in runs]):.3f}" for m in methods)
        log(settings.verbose, f"{name:<11} {means}  ({info[name]['seconds']:.1f} s)")
    return BenchmarkResult(records, [m.key for m in methods], names, group_label="dataset",
                           run_label=run_label, settings=settings.report(),
                           timings={"total": time.perf_counter() - start},
                           published=published, info=info)


def _score_raw(method, split, run):
    """(test AUROC, seconds) of a raw-feature method on one split."""
    X_fit, X_test, _, y_test = split
    start = time.perf_counter()
    context = MethodContext(n_fit=len(X_fit), random_state=run, style="pyod")
    anomaly = method.anomaly_scores(X_fit, X_test, context)
    return float(roc_auc_score(y_test, anomaly)), time.perf_counter() - start


def _score_encoded(methods, split, run, settings):
    """{(method, run): (AUROC, seconds)} of the methods on encoder codes, one encoder each."""
    X_fit, X_test, _, y_test = split
    out = {}
    start = time.perf_counter()
    if settings.standardize_encoder_input:  # as corel_sklearn.pyod.COREL does; once, so
        # that COREL and its lambda = 0 ablation train on the same input
        scaler = StandardScaler().fit(X_fit)
        X_fit, X_test = scaler.transform(X_fit), scaler.transform(X_test)
    # as corel_sklearn.pyod.COREL does: the encoders train without the sparsest rows
    X_fit = X_fit[tabular_training_rows(X_fit, settings.trim, random_state=run)]
    scaling_seconds = time.perf_counter() - start
    for representation in ("corel", "ae"):
        chosen = [m for m in methods if m.representation == representation]
        if not chosen:
            continue
        start = time.perf_counter() - scaling_seconds
        encoder = settings.make_encoder(X_fit.shape[0], X_fit.shape[1], run)
        if representation == "ae":
            encoder.set_params(connectivity_weight=0.0)
        codes_fit = encoder.fit_transform(X_fit.astype(np.float32))
        codes_test = encoder.transform(X_test.astype(np.float32))
        encoder_seconds = time.perf_counter() - start
        radius = encoder.eta if settings.radius is None else settings.radius
        context = MethodContext(n_fit=len(codes_fit), random_state=run, radius=radius,
                                n_branches=encoder.n_branches, style="pyod",
                                scoring=TABULAR_SCORING, n_neighbors=TABULAR_N_NEIGHBORS)
        for method in chosen:
            tick = time.perf_counter()
            anomaly = method.anomaly_scores(codes_fit, codes_test, context)
            out[method.key, run] = (float(roc_auc_score(y_test, anomaly)),
                                    encoder_seconds + time.perf_counter() - tick)
        if representation == "corel":
            out["encoder", run] = _encoder_report(encoder)
    return out


def _encoder_report(encoder):
    """Where the COREL encoder ended: last median death time over eta, steps, in range."""
    history = getattr(encoder, "history_", None) or [{}]
    death = history[-1].get("death_time_median", float("nan"))
    ratio = float(death) / float(encoder.eta)
    return {"death_over_eta": ratio, "n_steps": int(getattr(encoder, "n_steps_", 0)),
            "reached_eta": bool(0.75 <= ratio <= 1.25)}


def copy_share(X_fit, X_test, y_test):
    """Share of the normal test rows that have an exact copy among the training rows.

    ADBench resamples small sets with replacement, and some sets hold duplicate rows: where
    many normal test rows are copies of training rows (and the anomalies are not), any score
    at k = 1 or a tiny radius separates them by the copies alone. The runners report such
    sets apart ("copy-affected": a share of 0.25 or more).

    Parameters
    ----------
    X_fit : ndarray of shape (n_fit, n_features)
        The rows the detectors are fitted on.
    X_test : ndarray of shape (n_test, n_features)
        The test rows, scaled as ``X_fit``.
    y_test : array-like of shape (n_test,)
        Test labels, 1 = anomaly.

    Returns
    -------
    share : float
        Share of the normal test rows equal, bit for bit, to some row of ``X_fit``
        (0.0 where the test split holds no normal row).

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.experiments import copy_share
    >>> X_fit = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> X_test = np.array([[0.0, 1.0], [5.0, 5.0], [2.0, 3.0]])
    >>> copy_share(X_fit, X_test, [0, 0, 1])   # one of the two normal test rows is a copy
    0.5
    """
    seen = {row.tobytes() for row in np.ascontiguousarray(X_fit)}
    normal = np.ascontiguousarray(X_test[np.asarray(y_test) == 0])
    if len(normal) == 0:
        return 0.0
    return float(np.mean([row.tobytes() in seen for row in normal]))


def _positive_int(value, name):
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


def _adbench_name(path):
    return os.path.splitext(os.path.basename(path))[0]


def _base_name(stem):
    """"4_breastw" -> "breastw"; matched case-insensitively."""
    return re.sub(r"^\d+_", "", stem).casefold()


def _adbench_order(path):
    match = re.match(r"(\d+)_", _adbench_name(path))
    return (int(match.group(1)) if match else 10**9, _adbench_name(path))
