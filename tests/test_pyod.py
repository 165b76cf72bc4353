"""corel_sklearn.pyod.COREL against PyOD's detector contract (modelled on pyod's own tests)."""

import importlib
import sys

import numpy as np
import pytest
from _small_autoencoder import small
from numpy.testing import assert_allclose, assert_array_less, assert_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

pytest.importorskip("pyod")
from pyod.models.base import BaseDetector  # noqa: E402
from pyod.models.iforest import IForest  # noqa: E402
from pyod.utils.data import generate_data  # noqa: E402

from corel_sklearn.model_selection import make_anomaly_scorer  # noqa: E402
from corel_sklearn.pyod import COREL  # noqa: E402

CONTAMINATION = 0.1
# The small encoders stop short of the scale eta, which COREL reports as it should; the test
# about that warning catches it with pytest.warns, which this filter does not affect.
pytestmark = pytest.mark.filterwarnings(
    "ignore:COREL's encoder stopped after:sklearn.exceptions.ConvergenceWarning")
ROC_FLOOR = 0.8


def small_corel(**params):
    """COREL with a small, quickly trained encoder (the default one is tested once, below)."""
    from corel_sklearn import TopoAutoencoder

    encoder = TopoAutoencoder(hidden_layer_sizes=(16,), n_branches=8, branch_dim=2,
                              batch_size=50, max_epochs=40)
    return COREL(encoder=encoder, **{"contamination": CONTAMINATION, "random_state": 42,
                                     **params})


@pytest.fixture(scope="module")
def data():
    X_train, X_test, y_train, y_test = generate_data(
        n_train=200, n_test=100, n_features=4, contamination=CONTAMINATION, random_state=42)
    return X_train, X_test, y_train.astype(int), y_test.astype(int)


@pytest.fixture(scope="module")
def fitted(data):
    return COREL(contamination=CONTAMINATION, random_state=42).fit(data[0])


def test_is_a_pyod_detector_with_its_fitted_attributes(fitted, data):
    assert isinstance(fitted, BaseDetector)
    for name in ("decision_scores_", "labels_", "threshold_", "_mu", "_sigma", "encoder_",
                 "ball_count_", "scaler_"):
        assert getattr(fitted, name, None) is not None, name
    assert_equal(len(fitted.decision_scores_), data[0].shape[0])
    assert set(np.unique(fitted.labels_)) <= {0, 1}
    # PyOD's rule: the (1 - contamination) percentile of the training scores
    assert fitted.threshold_ == np.percentile(fitted.decision_scores_, 100 * (1 - CONTAMINATION))
    assert_equal(fitted.labels_, (fitted.decision_scores_ > fitted.threshold_).astype(int))
    assert abs(fitted.labels_.mean() - CONTAMINATION) <= 0.01


def test_prediction_scores_point_towards_anomalies(fitted, data):
    X_train, X_test, y_train, y_test = data
    scores = fitted.decision_function(X_test)
    assert_equal(scores.shape[0], X_test.shape[0])
    assert roc_auc_score(y_test, scores) >= ROC_FLOOR
    assert roc_auc_score(y_train, fitted.decision_scores_) >= ROC_FLOOR


def _training_codes(detector, X):
    return detector.encoder_.transform(
        detector.scaler_.transform(X).astype(np.float32)).astype(np.float64)


@pytest.fixture(scope="module")
def fitted_untrimmed(data):
    return COREL(contamination=CONTAMINATION, trim=0, random_state=42).fit(data[0])


def test_training_scores_are_leave_one_out_kth_distances(fitted_untrimmed, data):
    """decision_scores_: brute-force l1 distance to the 5th nearest *other* training code."""
    fitted = fitted_untrimmed
    assert_equal(fitted.training_rows_, np.arange(len(data[0])))
    codes = _training_codes(fitted, data[0])
    distances = np.abs(codes[:, None, :] - codes[None, :, :]).sum(-1)
    np.fill_diagonal(distances, np.inf)  # a sample is not its own neighbour
    k = fitted.n_neighbors
    assert_allclose(fitted.decision_scores_, np.sort(distances, axis=1)[:, k - 1], rtol=1e-6)
    # a new sample at a training point has that point as its nearest neighbour, at 0
    np.fill_diagonal(distances, 0.0)
    assert_allclose(fitted.decision_function(data[0]), np.sort(distances, axis=1)[:, k - 1],
                    rtol=1e-5, atol=1e-5)


def test_count_scores_are_leave_one_out_counts_with_distance_tie_breaks(data):
    """scoring="count": minus the brute-force leave-one-out count, ties ordered by distance."""
    detector = small_corel(scoring="count", n_neighbors=3, trim=0).fit(data[0])
    codes = _training_codes(detector, data[0])
    radius, n_branches = detector.ball_count_.radius_, detector.encoder_.n_branches
    width = codes.shape[1] // n_branches
    counts, kth = np.zeros(len(codes)), np.zeros(len(codes))
    for b in range(n_branches):
        branch = codes[:, b * width:(b + 1) * width]
        distances = np.abs(branch[:, None, :] - branch[None, :, :]).sum(-1)
        counts += (distances <= radius).sum(1) - 1  # minus the sample itself
        np.fill_diagonal(distances, np.inf)
        kth += np.sort(distances, axis=1)[:, 2]
    expected = -counts + kth / (kth + radius)
    assert_allclose(detector.decision_scores_, expected, rtol=1e-6)
    # the count decides; the distance only orders equal counts
    order = np.argsort(detector.decision_scores_, kind="stable")
    assert (np.diff(-counts[order]) >= 0).all()
    assert len(np.unique(counts)) < len(np.unique(detector.decision_scores_))


@pytest.mark.parametrize("scoring", ["knn_distance", "count"])
def test_labels_hold_the_contamination_share(scoring):
    """PyOD's contract: contamination=0.1 labels 10 % of the training set, also for counts."""
    X, _ = generate_data(n_train=300, n_test=1, n_features=4, contamination=0.1,
                         random_state=3, train_only=True)
    detector = small_corel(scoring=scoring, contamination=0.1).fit(X)
    assert abs(detector.labels_.mean() - 0.1) <= 0.01


def test_prediction_labels_and_probabilities(fitted, data):
    X_test, y_test = data[1], data[3]
    labels = fitted.predict(X_test)
    assert_equal(labels.shape, y_test.shape)
    assert_equal(labels, (fitted.decision_function(X_test) > fitted.threshold_).astype(int))
    for method in ("linear", "unify"):
        proba = fitted.predict_proba(X_test, method=method)
        assert proba.min() >= 0 and proba.max() <= 1
    with pytest.raises(ValueError):
        fitted.predict_proba(X_test, method="something")
    confidence = fitted.predict_confidence(X_test)
    assert confidence.min() >= 0 and confidence.max() <= 1


def test_predict_rank_keeps_the_order(fitted, data):
    X_test = data[1]
    scores = fitted.decision_function(X_test)
    ranks = fitted._predict_rank(X_test)
    # scores may tie (copies, counts), so compare the order, not rankdata's averages
    order = np.argsort(scores, kind="stable")
    assert (np.diff(ranks[order]) >= 0).all()
    assert len(np.unique(ranks)) > 5
    assert_array_less(ranks, data[0].shape[0] + 1)
    normalized = fitted._predict_rank(X_test, normalized=True)
    assert_array_less(normalized, 1.01)
    assert_array_less(-0.1, normalized)


def test_fit_predict_and_fit_predict_score(data):
    X_train, X_test, _, y_test = data
    detector = small_corel()
    with pytest.warns(FutureWarning):  # deprecated by pyod, still part of its contract
        labels = detector.fit_predict(X_train)
    assert_equal(labels.shape, (X_train.shape[0],))
    with pytest.warns(FutureWarning):  # the AUROC of the 0/1 training labels: coarse
        assert detector.fit_predict_score(X_test, y_test, scoring="roc_auc_score") > 0.6
    with pytest.raises(NotImplementedError), pytest.warns(FutureWarning):
        detector.fit_predict_score(X_test, y_test, scoring="something")


def test_pyod_benchmark_loop_and_scorer(fitted, data):
    """Used as PyOD users do: fit(X), decision_function, the scorer reads it the right way."""
    X_train, X_test, _, y_test = data
    aurocs = {}
    for name, detector in {"IForest": IForest(random_state=0),
                           "COREL": small_corel()}.items():
        detector.fit(X_train)
        aurocs[name] = roc_auc_score(y_test, detector.decision_function(X_test))
        assert make_anomaly_scorer()(detector, X_test, y_test) == aurocs[name]
    assert min(aurocs.values()) >= ROC_FLOOR
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "labels_")
    # same seed, same detector
    assert_equal(copy.fit(X_train).decision_scores_, fitted.decision_scores_)


def test_standardizes_raw_features(data):
    """Features on wildly different scales give the ranking of the standardised ones."""
    X_train, X_test, _, y_test = data
    scales = np.array([1e-3, 1.0, 1e3, 1e5])
    raw = small_corel().fit(X_train * scales)
    auroc = roc_auc_score(y_test, raw.decision_function(X_test * scales))
    assert auroc >= ROC_FLOOR
    assert_allclose(raw.scaler_.scale_, X_train.std(0) * scales)
    unscaled = small_corel(standardize=False).fit(X_train[:20])
    assert unscaled.scaler_ is None


def test_errors_name_the_problem(fitted, data):
    with pytest.raises(ValueError, match=r"at least n_neighbors \+ 1 = 6 training samples"):
        COREL().fit(data[0][:5])
    with pytest.raises(ValueError, match="X has 3 features, but COREL was fitted with 4"):
        fitted.decision_function(data[1][:, :3])
    with pytest.raises(ValueError, match="contamination must be in"):
        COREL(contamination=0.7)


@pytest.mark.parametrize("contamination", ["auto", None, "0.1"])
def test_contamination_without_a_share_is_refused_at_fit(data, contamination):
    """PyOD's base class accepts these and fails later with an AttributeError."""
    with pytest.raises(ValueError, match=r"contamination must be a float in \(0, 0.5\]"):
        small_corel(contamination=contamination).fit(data[0])


@pytest.mark.parametrize("n_jobs", [0, 1.5, True])
def test_n_jobs_zero_is_refused_at_fit(data, n_jobs):
    with pytest.raises(ValueError, match="n_jobs must be None, -1"):
        small_corel(n_jobs=n_jobs).fit(data[0])


def test_n_jobs_sets_the_default_encoders_threads_not_a_given_one(data):
    import torch

    before = torch.get_num_threads()
    detector = COREL(n_steps=20, n_jobs=1, random_state=0).fit(data[0][:60])
    assert detector.encoder_.n_jobs == 1
    assert torch.get_num_threads() == before  # restored after the fit
    assert small_corel(n_jobs=1).fit(data[0][:60]).encoder_.n_jobs is None
    assert COREL(n_steps=20, random_state=0).fit(data[0][:60]).encoder_.n_jobs is None


@pytest.mark.parametrize("params, message", [
    ({"trim": 0.5}, r"trim must be a float in \[0, 0.5\)"),
    ({"trim": -0.1}, r"trim must be a float in \[0, 0.5\)"),
    ({"trim": True}, r"trim must be a float in \[0, 0.5\)"),
    ({"trim": "0.3"}, r"trim must be a float in \[0, 0.5\)"),
    ({"trim_neighbors": 0}, "trim_neighbors must be a positive int or 'auto'"),
    ({"trim_neighbors": "all"}, "trim_neighbors must be a positive int or 'auto'"),
    ({"trim_neighbors": 2.0}, "trim_neighbors must be a positive int or 'auto'"),
])
def test_trim_errors_name_the_parameter(data, params, message):
    with pytest.raises(ValueError, match=message):
        small_corel(**params).fit(data[0])


def test_trim_neighbors_auto_grows_with_the_rows(fitted, data):
    from corel_sklearn.estimators import tabular_trim_neighbors

    assert fitted.trim_neighbors_ == 100  # 200 rows
    assert fitted.training_rows_.shape == (160,)  # 20 % of 200 left out
    # one per 20 rows, at least 100, counted among at most 7,000 reference rows
    assert [tabular_trim_neighbors(n) for n in (10, 2019, 2020, 6999, 7000, 29458)] == [
        100, 100, 101, 349, 350, 350]


def _kept_by_reference(X, reference, k, trim):
    """Rows kept when each is ranked by its k-th nearest *other* reference row (KDTree)."""
    from sklearn.neighbors import KDTree

    distances, _ = KDTree(X[reference]).query(X, k=k + 1)
    # a reference row's nearest reference row is itself (distance 0): skip it
    kth = np.where(np.isin(np.arange(len(X)), reference), distances[:, k], distances[:, k - 1])
    order = np.argsort(kth, kind="stable")
    return np.sort(order[: len(X) - round(trim * len(X))])


def test_large_tables_rank_rows_among_a_sample_of_reference_rows(monkeypatch):
    """Beyond TABULAR_TRIM_REFERENCE_ROWS rows, each row's k-th neighbour is sought among a
    seeded random sample of the rows (itself excluded): a KDTree on the sample agrees."""
    from corel_sklearn.ball_counting import densest_rows
    from corel_sklearn.estimators import _presets

    X = np.random.default_rng(3).normal(size=(300, 3))
    reference = np.sort(np.random.default_rng(7).choice(300, 120, replace=False))
    assert_equal(densest_rows(X, 0.2, n_neighbors=10, max_reference_rows=120, random_state=7),
                 _kept_by_reference(X, reference, 10, 0.2))
    # a legacy RandomState draws the sample with its own choice()
    legacy = np.sort(np.random.RandomState(7).choice(300, 120, replace=False))
    assert_equal(densest_rows(X, 0.2, n_neighbors=10, max_reference_rows=120,
                              random_state=np.random.RandomState(7)),
                 _kept_by_reference(X, legacy, 10, 0.2))
    assert_equal(densest_rows(X, 0.2, n_neighbors=10, max_reference_rows=300),
                 densest_rows(X, 0.2, n_neighbors=10))  # no sample when all rows fit
    # COREL samples its reference rows beyond the preset, seeded by random_state
    monkeypatch.setattr(_presets, "TABULAR_TRIM_REFERENCE_ROWS", 120)
    fits = [small_corel(trim=0.2, trim_neighbors=10, random_state=seed).fit(X)
            for seed in (5, 5, 6)]
    assert_equal(fits[0].training_rows_, fits[1].training_rows_)
    standardised = StandardScaler().fit_transform(X).astype(np.float32)
    assert_equal(fits[0].training_rows_,
                 densest_rows(standardised, 0.2, n_neighbors=10, max_reference_rows=120,
                              random_state=5))
    assert not np.array_equal(fits[0].training_rows_, fits[2].training_rows_)


def test_n_steps_is_for_the_default_encoder(data):
    with pytest.raises(ValueError, match="n_steps must be None, 'auto' or a positive int"):
        COREL(n_steps=0).fit(data[0])
    with pytest.raises(ValueError, match="encoder= is given"):
        small_corel(n_steps=100).fit(data[0])
    detector = COREL(n_steps=40, random_state=0).fit(data[0][:80])
    assert detector.encoder_.n_steps_ == 40  # 2 batches of 40 per epoch, 20 epochs


def test_convergence_warning_names_this_class_knobs_at_the_callers_line(data):
    """The encoder's advice (max_epochs) becomes COREL's (n_steps / encoder=), on this file."""
    with pytest.warns(ConvergenceWarning) as caught:
        COREL(n_steps=2, random_state=0).fit(data[0])
    message = str(caught[0].message)
    assert "pass a larger n_steps, e.g. COREL(n_steps=4) (now 2)" in message
    assert "max_epochs" not in message and "death time" in message
    assert caught[0].filename == __file__
    with pytest.warns(ConvergenceWarning, match="train the encoder= you passed longer") as caught:
        small_corel().fit(data[0][:40])
    assert caught[0].filename == __file__


def test_convergence_warning_on_copied_rows_says_so(data):
    """Rows that are mostly exact copies: more steps cannot help, and the warning says why."""
    X = np.repeat(data[0][:50], 4, axis=0)  # 75 % of the rows copy another
    with pytest.warns(ConvergenceWarning) as caught:
        COREL(n_steps=30, trim=0.2, random_state=0).fit(X)
    message = str(caught[0].message)
    assert "75 % of the rows it trained on after trim=0.2 kept the densest rows" in message
    assert "np.unique(X, axis=0)" in message and "n_steps" not in message
    assert caught[0].filename == __file__


def test_clear_import_error_without_pyod(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyod.models.base", None)
    monkeypatch.delitem(sys.modules, "corel_sklearn.pyod")
    with pytest.raises(ImportError, match=r"pip install corel-sklearn\[pyod\]"):
        importlib.import_module("corel_sklearn.pyod")


def test_trim_leaves_out_the_rows_farthest_from_their_neighbours(data):
    """The encoder trains on the rows a KDTree ranks densest; the others are scored as new."""
    from sklearn.neighbors import KDTree

    X = data[0]
    detector = small_corel(trim=0.25, trim_neighbors=7).fit(X)
    Z = (X - X.mean(0)) / X.std(0)
    distances, _ = KDTree(Z).query(Z, k=8)  # the row itself, then its 7 nearest others
    order = np.argsort(distances[:, -1], kind="stable")
    expected = np.sort(order[: len(X) - round(0.25 * len(X))])
    assert_equal(detector.training_rows_, expected)
    assert detector.ball_count_.anchors_.shape[0] == len(expected)
    # the encoder saw only the kept rows: training it alone on them gives the same codes
    alone = clone(detector.encoder_).fit(
        detector.scaler_.transform(X[expected]).astype(np.float32))
    codes = _training_codes(detector, X)
    assert_allclose(alone.transform(detector.scaler_.transform(X).astype(np.float32)), codes)
    # kept rows: leave-one-out among the kept codes; trimmed rows: against all kept codes
    n_branches, k = detector.encoder_.n_branches, detector.n_neighbors
    width = codes.shape[1] // n_branches
    expected_scores = np.zeros(len(codes))
    for b in range(n_branches):  # the per-branch k-th distances, summed
        branch = codes[:, b * width:(b + 1) * width]
        distances = np.abs(branch[:, None, :] - branch[expected][None, :, :]).sum(-1)
        distances[expected, np.arange(len(expected))] = np.inf
        expected_scores += np.sort(distances, axis=1)[:, k - 1]
    assert_allclose(detector.decision_scores_, expected_scores, rtol=1e-6)
    # the trimmed rows are the training anomalies here, far more than the kept ones
    trimmed = np.setdiff1d(np.arange(len(X)), expected)
    assert data[2][trimmed].mean() > 3 * data[2][expected].mean()


def test_trim_against_contamination_in_the_training_rows():
    """A dense anomaly cluster in the training rows: kept, it is scored normal; trimmed, not."""
    rng = np.random.default_rng(3)
    normal = rng.normal(size=(360, 4))
    cluster = rng.normal(3.0, 0.05, size=(40, 4))  # tight: each anomaly has 39 close neighbours
    X = np.r_[normal, cluster]
    X_test = np.r_[rng.normal(size=(100, 4)), rng.normal(3.0, 0.05, size=(20, 4))]
    y_test = np.r_[np.zeros(100), np.ones(20)]
    untrimmed = small_corel(trim=0).fit(X)
    trimmed = small_corel(trim=0.2, trim_neighbors=60).fit(X)
    assert set(range(360, 400)).isdisjoint(trimmed.training_rows_)
    assert roc_auc_score(y_test, untrimmed.decision_function(X_test)) < 0.6
    assert roc_auc_score(y_test, trimmed.decision_function(X_test)) > 0.95


def test_adbench_runner_scores_corel_as_the_pyod_detector(tmp_path):
    """The adbench command's COREL column is this detector in ADBench's loop."""
    from corel_sklearn.experiments import adbench_split, run_adbench_benchmark

    rng = np.random.default_rng(5)
    X = np.r_[rng.normal(size=(270, 5)), rng.normal(4.0, 1.0, size=(30, 5))]
    y = np.r_[np.zeros(270, dtype=int), np.ones(30, dtype=int)]
    np.savez(tmp_path / "1_toy.npz", X=X, y=y)

    def make_encoder(n_samples, n_features, random_state):
        return small(hidden_layer_sizes=(16,), batch_size=50, random_state=random_state)

    result = run_adbench_benchmark(tmp_path, random_states=[1, 2], methods=["COREL"],
                                   make_encoder=make_encoder, verbose=0)
    for seed in (1, 2):
        X_fit, X_test, _, y_test = adbench_split(X, y, seed)
        detector = COREL(encoder=make_encoder(0, 0, seed)).fit(X_fit)
        expected = roc_auc_score(y_test, detector.decision_function(X_test))
        assert result.aurocs("COREL")[0, seed - 1] == expected
    # semi-supervised: the training rows are normal, COREL runs as a novelty detector
    result = run_adbench_benchmark(tmp_path, random_states=[1], methods=["COREL"],
                                   setting="semi-supervised", make_encoder=make_encoder,
                                   verbose=0)
    X_fit, X_test, y_fit, y_test = adbench_split(X, y, 1, setting="semi-supervised")
    assert y_fit.sum() == 0
    detector = COREL(encoder=make_encoder(0, 0, 1), trim=0).fit(X_fit)
    expected = roc_auc_score(y_test, detector.decision_function(X_test))
    assert result.aurocs("COREL")[0, 0] == expected
