"""OneClassKFold, label conventions and anomaly scorers, alone and inside GridSearchCV."""

import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_predict, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from corel_sklearn import BallCountOneClass, TopoAutoencoder
from corel_sklearn.model_selection import (
    OneClassKFold,
    anomaly_scores,
    detect_label_convention,
    inlier_mask,
    is_pyod_detector,
    make_anomaly_scorer,
)


def one_class_data(n_inliers=60, n_outliers=12, n_features=8, seed=0, spread=4.0):
    """Inliers from a tight blob, outliers spread around it; PyOD labels (1 = anomaly)."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0.0, 0.5, (n_inliers, n_features)),
                   rng.uniform(-spread, spread, (n_outliers, n_features))]).astype(np.float32)
    y = np.r_[np.zeros(n_inliers, dtype=int), np.ones(n_outliers, dtype=int)]
    order = rng.permutation(len(y))
    return X[order], y[order]


def tiny_encoder(**params):
    return TopoAutoencoder(n_branches=2, branch_dim=2, hidden_layer_sizes=(16,), max_epochs=2,
                           batch_size=20, random_state=0, **params)


@pytest.mark.parametrize(
    "y, expected",
    [([1, -1, 1], "sklearn"), ([-1, -1], "sklearn"), ([1.0, -1.0], "sklearn"),
     ([0, 1, 0], "pyod"), ([0, 0], "pyod"), (np.array([0, 1], dtype=np.uint8), "pyod")],
)
def test_detect_label_convention(y, expected):
    assert detect_label_convention(y) == expected


@pytest.mark.parametrize(
    "y, match",
    [([1, 1, 1], "all 1"), ([True, False], "Boolean outlier labels are ambiguous"),
     (["in", "out"], "must be numeric"), ([0, 1, 2], "got the values"),
     ([-1, 0, 1], "got the values"), ([0.5, 1.0], "got the values")],
)
def test_ambiguous_or_foreign_labels_raise(y, match):
    with pytest.raises(ValueError, match=match):
        detect_label_convention(y)


def test_inlier_mask_both_conventions():
    np.testing.assert_array_equal(inlier_mask([1, -1, -1]), [True, False, False])
    np.testing.assert_array_equal(inlier_mask([0, 1, 1]), [True, False, False])
    np.testing.assert_array_equal(inlier_mask([1, 1], "sklearn"), [True, True])
    np.testing.assert_array_equal(inlier_mask([1, 1], "pyod"), [False, False])
    with pytest.raises(ValueError, match="expects labels in"):
        inlier_mask([0, 1], "sklearn")


@pytest.mark.parametrize("convention", ["sklearn", "pyod"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_one_class_kfold_trains_on_inliers_and_partitions(convention, shuffle):
    X, y = one_class_data()
    labels = np.where(y == 1, -1, 1) if convention == "sklearn" else y
    seed = 0 if shuffle else None
    cv = OneClassKFold(4, shuffle=shuffle, random_state=seed)
    splits = list(cv.split(X, labels))
    inliers, outliers = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    assert len(splits) == cv.get_n_splits() == 4
    for train, test in splits:
        assert np.isin(train, inliers).all()  # no outlier ever trains
        assert np.intersect1d(train, test).size == 0
        assert np.isin(test, outliers).any() and np.isin(test, inliers).any()
        np.testing.assert_array_equal(np.union1d(train, test[np.isin(test, inliers)]), inliers)
    tests = np.concatenate([test for _, test in splits])
    np.testing.assert_array_equal(np.sort(tests), np.arange(len(y)))  # a partition
    expected = [inliers[t] for _, t in KFold(4, shuffle=shuffle, random_state=seed).split(inliers)]
    for (_, test), inlier_test in zip(splits, expected, strict=True):
        np.testing.assert_array_equal(test[np.isin(test, inliers)], np.sort(inlier_test))


def test_one_class_kfold_all_outliers_in_every_test_fold():
    X, y = one_class_data()
    for _, test in OneClassKFold(3, outliers="all").split(X, y):
        assert np.isin(np.flatnonzero(y == 1), test).all()


def test_one_class_kfold_errors():
    X, y = one_class_data(n_outliers=2)
    with pytest.raises(ValueError, match="needs y"):
        next(OneClassKFold(3).split(X, None))
    with pytest.raises(ValueError, match="at least 3 outliers"):
        next(OneClassKFold(3).split(X, y))
    with pytest.raises(ValueError, match="n_splits must be an int >= 2"):
        OneClassKFold(1).get_n_splits()


def test_scorer_matches_sklearn_metrics_in_both_conventions():
    X, y = one_class_data(seed=1, spread=1.2)
    model = BallCountOneClass(radius=3.0, n_branches=2).fit(X[y == 0][:30])
    decision = model.decision_function(X)
    is_anomaly = y == 1
    auroc = roc_auc_score(is_anomaly, -decision)
    assert 0.5 < auroc < 1.0  # informative, not perfect: a flip would show
    for labels in (y, np.where(is_anomaly, -1, 1)):
        assert make_anomaly_scorer("roc_auc")(model, X, labels) == pytest.approx(auroc)
        assert make_anomaly_scorer("average_precision")(model, X, labels) == pytest.approx(
            average_precision_score(is_anomaly, -decision))
        assert make_anomaly_scorer("average_precision", positive="inlier")(
            model, X, labels) == pytest.approx(average_precision_score(~is_anomaly, decision))


class _PyODLikeDetector(BaseEstimator):
    """decision_function returns anomaly scores (higher = more abnormal), as PyOD's do."""

    def fit(self, X, y=None):
        self.center_ = X.mean(0)
        return self

    def decision_function(self, X):
        return np.abs(X - self.center_).sum(1)


def test_scorer_never_guesses_the_score_direction():
    X, y = one_class_data(seed=2)
    detector = _PyODLikeDetector().fit(X[y == 0])
    with pytest.raises(ValueError, match="Cannot tell whether higher scores"):
        make_anomaly_scorer()(detector, X, y)
    auroc = make_anomaly_scorer(higher_score="anomaly")(detector, X, y)
    assert auroc == pytest.approx(roc_auc_score(y, detector.decision_function(X)))
    assert auroc > 0.9
    model = BallCountOneClass(n_branches=1).fit(X[y == 0])
    with pytest.raises(ValueError, match="only inliers"):
        make_anomaly_scorer()(model, X[y == 0], y[y == 0])
    with pytest.raises(ValueError, match="metric must be one of"):
        make_anomaly_scorer("accuracy")


PYOD_DETECTORS = ["IForest", "ECOD", "LOF", "KNN"]


def make_pyod_detector(name, contamination=0.1):
    pytest.importorskip("pyod")
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF

    if name == "IForest":
        return IForest(contamination=contamination, random_state=0)
    return {"ECOD": ECOD, "LOF": LOF, "KNN": KNN}[name](contamination=contamination)


def assert_scorer_agrees_with_pyod(detector, X, y):
    """The scorer's AUROC/AP equal sklearn's metrics on PyOD's decision_function, both labels."""
    anomaly = detector.decision_function(X)  # PyOD: higher = more abnormal
    auroc = roc_auc_score(y, anomaly)
    for labels in (y, np.where(y == 1, -1, 1)):
        assert make_anomaly_scorer()(detector, X, labels) == auroc
        assert make_anomaly_scorer("average_precision")(detector, X, labels) == \
            average_precision_score(y, anomaly)
    return auroc


@pytest.mark.parametrize("name", PYOD_DETECTORS)
def test_scorer_reads_real_pyod_detectors_on_synthetic_data(name):
    pytest.importorskip("pyod")
    from pyod.utils.data import generate_data

    X_train, X_test, y_train, y_test = generate_data(
        n_train=200, n_test=100, n_features=4, contamination=0.1, random_state=42)
    detector = make_pyod_detector(name).fit(X_train)
    assert is_pyod_detector(detector)
    # a flipped score would give 1 - AUROC, below 0.2
    assert assert_scorer_agrees_with_pyod(detector, X_test, y_test.astype(int)) > 0.8
    assert assert_scorer_agrees_with_pyod(detector, X_train, y_train.astype(int)) > 0.8
    # inside a pipeline the last step decides
    pipe = make_pipeline(StandardScaler(), make_pyod_detector(name)).fit(X_train)
    assert is_pyod_detector(pipe)
    assert assert_scorer_agrees_with_pyod(pipe, X_test, y_test.astype(int)) > 0.8


@pytest.mark.parametrize("name", PYOD_DETECTORS)
def test_scorer_reads_real_pyod_detectors_on_adbench_breastw(name, shared_data):
    import os

    from corel_sklearn.datasets import load_adbench

    path = os.path.join(shared_data, "adbench_classical", "4_breastw.npz")
    if not os.path.isfile(path):
        pytest.skip(f"{path} not found")
    bunch = load_adbench(path)
    detector = make_pyod_detector(name, contamination=0.3).fit(bunch.data)
    auroc = assert_scorer_agrees_with_pyod(detector, bunch.data, bunch.target)
    # LOF's local density is known to fail on breastw (ADBench: about 0.4); the others are
    # near 1, where an inverted score would read below 0.1.
    assert auroc > (0.35 if name == "LOF" else 0.9)


def test_scorer_orients_scikit_learn_detectors_by_their_labels():
    X, y = one_class_data(seed=6, spread=1.5)
    model = IsolationForest(random_state=0).fit(X[y == 0])
    auroc = roc_auc_score(y, -model.decision_function(X))
    assert auroc > 0.8
    assert make_anomaly_scorer()(model, X, y) == auroc
    assert make_anomaly_scorer(higher_score="inlier")(model, X, y) == auroc
    np.testing.assert_array_equal(anomaly_scores(model, X), -model.decision_function(X))


def test_scorer_refuses_a_direction_that_contradicts_the_estimator():
    pytest.importorskip("pyod")
    X, y = one_class_data(seed=7)
    detector = make_pyod_detector("IForest").fit(X)
    with pytest.raises(ValueError, match="contradicts IForest, a PyOD detector"):
        make_anomaly_scorer(higher_score="inlier")(detector, X, y)
    model = IsolationForest(random_state=0).fit(X)
    with pytest.raises(ValueError, match="contradicts IsolationForest"):
        make_anomaly_scorer(higher_score="anomaly")(model, X, y)


class _InvertedSklearnDetector(OutlierMixin, BaseEstimator):
    """Carries scikit-learn's outlier tag and -1/+1 labels, but its scores point the wrong way."""

    def fit(self, X, y=None):
        self.center_ = X.mean(0)
        return self

    def decision_function(self, X):
        return np.abs(X - self.center_).sum(1) - 3.0  # higher = more abnormal: not sklearn's

    def predict(self, X):
        return np.where(self.decision_function(X) > 0, -1, 1)


class _OnlyOnesDetector(BaseEstimator):
    def fit(self, X, y=None):
        return self

    def decision_function(self, X):
        return np.asarray(X)[:, 0]

    def predict(self, X):
        return np.ones(len(X), dtype=int)


def test_scorer_raises_where_predict_and_scores_disagree_or_cannot_tell():
    X, y = one_class_data(seed=8)
    inverted = _InvertedSklearnDetector().fit(X[y == 0])
    assert 0 < (inverted.predict(X) == -1).sum() < len(X)
    with pytest.raises(ValueError, match="predict and its scores disagree"):
        make_anomaly_scorer()(inverted, X, y)
    with pytest.raises(ValueError, match="Cannot tell whether higher scores"):
        make_anomaly_scorer()(_OnlyOnesDetector().fit(X), X, y)


def test_cross_validate_with_one_class_kfold():
    X, y = one_class_data(seed=3)
    cv = OneClassKFold(3, shuffle=True, random_state=0)
    model = BallCountOneClass(radius=3.0, n_branches=2)
    scoring = {"auroc": make_anomaly_scorer(), "ap": make_anomaly_scorer("average_precision")}
    result = cross_validate(model, X, y, cv=cv, scoring=scoring)
    for i, (train, test) in enumerate(cv.split(X, y)):
        decision = BallCountOneClass(radius=3.0, n_branches=2).fit(X[train]).decision_function(
            X[test])
        assert result["test_auroc"][i] == pytest.approx(roc_auc_score(y[test], -decision))
        assert result["test_ap"][i] == pytest.approx(
            average_precision_score(y[test], -decision))
    # test folds partition the data, so cross_val_predict works too
    labels = cross_val_predict(model, X, y, cv=cv)
    for train, test in cv.split(X, y):
        np.testing.assert_array_equal(
            labels[test], BallCountOneClass(radius=3.0, n_branches=2).fit(X[train])
            .predict(X[test]))


def test_grid_search_radius_with_frozen_pretrained_encoder():
    X, y = one_class_data(seed=4)
    encoder = tiny_encoder().fit(X[y == 0])
    pipe = Pipeline([("enc", FrozenEstimator(encoder)), ("oc", BallCountOneClass(n_branches=2))])
    cv = OneClassKFold(3, shuffle=True, random_state=0)
    radii = [0.5, 2.0, 8.0]
    search = GridSearchCV(pipe, {"oc__radius": radii}, cv=cv, scoring=make_anomaly_scorer(),
                          refit=False).fit(X, y)
    codes = encoder.transform(X)  # the frozen encoder is never refitted
    for j, radius in enumerate(radii):
        expected = []
        for train, test in cv.split(X, y):
            decision = BallCountOneClass(radius=radius, n_branches=2).fit(
                codes[train]).decision_function(codes[test])
            expected.append(roc_auc_score(y[test], -decision))
        assert search.cv_results_["mean_test_score"][j] == pytest.approx(np.mean(expected))
    assert search.best_params_["oc__radius"] == radii[np.argmax(
        search.cv_results_["mean_test_score"])]


def test_grid_search_encoder_parameter_with_cached_pipeline(tmp_path):
    X, y = one_class_data(seed=5)
    pipe = Pipeline([("enc", tiny_encoder()), ("oc", BallCountOneClass(n_branches=2))],
                    memory=str(tmp_path))
    grid = {"enc__connectivity_weight": [0.0, 20.0], "oc__radius": [1.0, 2.0]}
    search = GridSearchCV(pipe, grid, cv=OneClassKFold(2), scoring=make_anomaly_scorer(),
                          refit=False).fit(X, y)
    assert any(tmp_path.rglob("output.pkl"))  # encoders were cached and reused across radii
    # Each candidate's score is the mean over folds of the AUROC of an encoder fitted on the
    # fold's (inlier-only) training samples and a ball-count model on their codes.
    cv = OneClassKFold(2)
    for j, params in enumerate(search.cv_results_["params"]):
        aurocs = []
        for train, test in cv.split(X, y):
            encoder = tiny_encoder(connectivity_weight=params["enc__connectivity_weight"]).fit(
                X[train])
            model = BallCountOneClass(n_branches=2, radius=params["oc__radius"]).fit(
                encoder.transform(X[train]))
            aurocs.append(roc_auc_score(y[test], -model.decision_function(
                encoder.transform(X[test]))))
        assert search.cv_results_["mean_test_score"][j] == pytest.approx(np.mean(aurocs))


@pytest.mark.parametrize("convention", ["sklearn", "pyod"])
def test_cross_val_anomaly_scores_matches_a_hand_loop(convention):
    from corel_sklearn.model_selection import cross_val_anomaly_scores

    X, y = one_class_data(seed=9, spread=1.5)
    labels = np.where(y == 1, -1, 1) if convention == "sklearn" else y
    cv = OneClassKFold(3, shuffle=True, random_state=0)
    model = BallCountOneClass(radius=3.0, n_branches=2)
    scores = cross_val_anomaly_scores(model, X, labels, cv=cv)
    expected = np.full(len(y), np.nan)
    for train, test in cv.split(X, labels):
        assert not np.isin(train, np.flatnonzero(y == 1)).any()
        expected[test] = -BallCountOneClass(radius=3.0, n_branches=2).fit(X[train]) \
            .decision_function(X[test])
    np.testing.assert_array_equal(scores, expected)
    assert roc_auc_score(y, scores) > 0.7
    with pytest.raises(ValueError, match="partition the samples"):
        cross_val_anomaly_scores(model, X, labels, cv=OneClassKFold(3, outliers="all"))


def test_cross_val_anomaly_scores_of_a_pyod_detector():
    pytest.importorskip("pyod")
    from corel_sklearn.model_selection import cross_val_anomaly_scores

    X, y = one_class_data(seed=10, spread=2.0)
    cv = OneClassKFold(3, shuffle=True, random_state=0)
    scores = cross_val_anomaly_scores(make_pyod_detector("KNN"), X, y, cv=cv)
    for train, test in cv.split(X, y):  # PyOD's decision_function is already an anomaly score
        np.testing.assert_array_equal(
            scores[test], make_pyod_detector("KNN").fit(X[train]).decision_function(X[test]))
    assert roc_auc_score(y, scores) > 0.9


def test_fit_on_inliers_keeps_outliers_out_of_the_refit():
    from corel_sklearn.model_selection import FitOnInliers

    X, y = one_class_data(seed=11)
    radii = [0.5, 2.0, 8.0]
    cv = OneClassKFold(3, shuffle=True, random_state=0)
    wrapped = GridSearchCV(FitOnInliers(BallCountOneClass(n_branches=2)),
                           {"estimator__radius": radii}, cv=cv,
                           scoring=make_anomaly_scorer()).fit(X, y)
    plain = GridSearchCV(BallCountOneClass(n_branches=2), {"radius": radii}, cv=cv,
                         scoring=make_anomaly_scorer(), refit=False).fit(X, y)
    np.testing.assert_array_equal(wrapped.cv_results_["mean_test_score"],
                                  plain.cv_results_["mean_test_score"])
    best = wrapped.best_estimator_
    assert best.n_inliers_ == (y == 0).sum()
    np.testing.assert_array_equal(best.estimator_.anchors_, X[y == 0])
    np.testing.assert_array_equal(best.decision_function(X), BallCountOneClass(
        n_branches=2, radius=wrapped.best_params_["estimator__radius"]).fit(X[y == 0])
        .decision_function(X))
    # without labels it fits on everything; the scorer sees through the wrapper
    assert FitOnInliers(BallCountOneClass(n_branches=2)).fit(X).n_inliers_ == len(X)
    assert make_anomaly_scorer()(best, X, y) == roc_auc_score(y, -best.decision_function(X))
    with pytest.raises(ValueError, match="every sample as an outlier"):
        FitOnInliers(BallCountOneClass(n_branches=2)).fit(X[:3], [-1, -1, -1])


def test_fit_on_inliers_reads_sklearn_labels_in_all_inlier_training_folds():
    # OneClassKFold's training folds of +1/-1 labels are all +1: under "auto" they must be read
    # as inliers (as the refit on the full y is), giving the search of the 0/1 labels.
    from corel_sklearn.model_selection import FitOnInliers

    X, y = one_class_data(seed=11)
    y_sklearn = np.where(y == 1, -1, 1)
    radii = [0.5, 2.0, 8.0]
    searches = [
        GridSearchCV(FitOnInliers(BallCountOneClass(n_branches=2)), {"estimator__radius": radii},
                     cv=OneClassKFold(3, shuffle=True, random_state=0),
                     scoring=make_anomaly_scorer()).fit(X, labels)
        for labels in (y, y_sklearn)
    ]
    np.testing.assert_array_equal(searches[0].cv_results_["mean_test_score"],
                                  searches[1].cv_results_["mean_test_score"])
    assert searches[1].best_estimator_.n_inliers_ == (y == 0).sum()
    assert FitOnInliers(BallCountOneClass(n_branches=2)).fit(X[:5], [1] * 5).n_inliers_ == 5
    with pytest.raises(ValueError, match="every sample as an outlier"):
        FitOnInliers(BallCountOneClass(n_branches=2), label_convention="pyod").fit(
            X[:3], [1, 1, 1])


def test_fit_on_inliers_around_a_pyod_detector_is_scored_as_pyod():
    pytest.importorskip("pyod")
    from corel_sklearn.model_selection import FitOnInliers

    X, y = one_class_data(seed=12)
    wrapped = FitOnInliers(make_pyod_detector("ECOD")).fit(X, y)
    assert is_pyod_detector(wrapped)
    assert make_anomaly_scorer()(wrapped, X, y) == roc_auc_score(y, wrapped.decision_function(X))


def test_refit_on_outlier_labels_warns_unless_wrapped():
    # GridSearchCV(refit=True) hands the refit all of X and y: the unwrapped model warns that it
    # takes the labelled outliers in; FitOnInliers drops them and nothing is said.
    from corel_sklearn.model_selection import FitOnInliers

    X, y = one_class_data(seed=11)
    cv = OneClassKFold(3, shuffle=True, random_state=0)
    grid = {"radius": [0.5, 2.0]}
    for labels, n_outliers in ((y, (y == 1).sum()), (np.where(y == 1, -1, 1), (y == 1).sum())):
        with pytest.warns(UserWarning, match=f"marks {n_outliers} of its {len(y)} samples"):
            GridSearchCV(BallCountOneClass(n_branches=2), grid, cv=cv,
                         scoring=make_anomaly_scorer()).fit(X, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GridSearchCV(FitOnInliers(BallCountOneClass(n_branches=2)),
                     {"estimator__" + k: v for k, v in grid.items()}, cv=cv,
                     scoring=make_anomaly_scorer()).fit(X, y)
        BallCountOneClass(n_branches=2).fit(X, np.arange(len(X)) % 3)  # not outlier labels
        BallCountOneClass(n_branches=2).fit(X[y == 0], y[y == 0])  # inliers only
    # the one label reader: only 1s mark no outlier, only -1s are all outliers
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BallCountOneClass(n_branches=2).fit(X[:10], np.ones(10, dtype=int))
    with pytest.warns(UserWarning, match="marks 10 of its 10 samples"):
        BallCountOneClass(n_branches=2).fit(X[:10], -np.ones(10, dtype=int))

    # TopoAutoencoder is a transformer (also before a classifier): it takes y in silence.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        TopoAutoencoder(hidden_layer_sizes=(8,), n_branches=2, branch_dim=2, batch_size=20,
                        max_epochs=1, random_state=0).fit(X.astype(np.float32), y)
    assert [w.category.__name__ for w in caught] == ["ConvergenceWarning"]  # one epoch


# ------------------------------------------------- the score direction comes from the type


class _InlierIsOneDetector(BaseEstimator):
    """A home-made detector without scikit-learn's outlier tag: predict gives 1 = inlier, 0 =
    outlier, decision_function is higher for more normal samples."""

    def fit(self, X, y=None):
        self.center_ = X.mean(0)
        return self

    def decision_function(self, X):
        return 3.0 - np.abs(X - self.center_).sum(1)

    def predict(self, X):
        return (self.decision_function(X) >= 0).astype(int)


def test_scorer_does_not_read_the_direction_from_a_classifiers_0_1_labels():
    from sklearn.linear_model import LogisticRegression

    X, y = one_class_data(seed=13)
    X_abs = np.abs(X)  # the outliers lie far from 0 in some coordinate: linearly separable
    is_normal = (y == 0).astype(int)  # the classifier learns "1 = normal"
    classifier = LogisticRegression().fit(X_abs, is_normal)
    true_auroc = roc_auc_score(y, -classifier.decision_function(X_abs))
    assert true_auroc > 0.95  # read as PyOD's 0/1, the scorer used to report 1 - this
    with pytest.raises(ValueError, match="Cannot tell whether higher scores of "
                                         "LogisticRegression"):
        make_anomaly_scorer()(classifier, X_abs, y)
    with pytest.raises(ValueError, match="Cannot tell"):
        anomaly_scores(make_pipeline(StandardScaler(), LogisticRegression()).fit(
            X_abs, is_normal), X_abs)
    assert make_anomaly_scorer(higher_score="inlier")(classifier, X_abs, y) == true_auroc

    detector = _InlierIsOneDetector().fit(X[y == 0])
    assert set(np.unique(detector.predict(X))) == {0, 1}
    with pytest.raises(ValueError, match="Cannot tell whether higher scores of "
                                         "_InlierIsOneDetector"):
        make_anomaly_scorer()(detector, X, y)
    assert make_anomaly_scorer(higher_score="inlier")(detector, X, y) == roc_auc_score(
        y, -detector.decision_function(X)) > 0.9


class _TaggedByAttribute(_InlierIsOneDetector):
    """Declares itself an outlier detector the old way, with ``_estimator_type``."""

    _estimator_type = "outlier_detector"

    def predict(self, X):
        return np.where(self.decision_function(X) >= 0, 1, -1)


def test_scorer_reads_an_outlier_detector_declared_by_estimator_type():
    X, y = one_class_data(seed=14)
    detector = _TaggedByAttribute().fit(X[y == 0])
    assert make_anomaly_scorer()(detector, X, y) == roc_auc_score(
        y, -detector.decision_function(X)) > 0.9


@pytest.mark.parametrize("name", ["IsolationForest", "LocalOutlierFactor", "OneClassSVM"])
def test_scorer_reads_scikit_learn_outlier_detectors_inside_pipelines(name):
    from sklearn.neighbors import LocalOutlierFactor
    from sklearn.svm import OneClassSVM

    make = {"IsolationForest": lambda: IsolationForest(random_state=0),
            "LocalOutlierFactor": lambda: LocalOutlierFactor(novelty=True),
            "OneClassSVM": lambda: OneClassSVM(gamma=0.05)}[name]
    X, y = one_class_data(seed=15, spread=2.0)
    for model in (make().fit(X[y == 0]),
                  make_pipeline(StandardScaler(), make()).fit(X[y == 0])):
        auroc = roc_auc_score(y, -model.decision_function(X))  # scikit-learn: higher = normal
        assert auroc > 0.9
        for labels in (y, np.where(y == 1, -1, 1)):
            assert make_anomaly_scorer()(model, X, labels) == auroc
        np.testing.assert_array_equal(anomaly_scores(model, X), -model.decision_function(X))


# ------------------------------------------------------- one meaning of an all-1 y


def test_an_all_one_y_marks_no_outlier_everywhere():
    from corel_sklearn.model_selection import FitOnInliers

    X, y = one_class_data(seed=16)
    ones = np.ones(len(y), dtype=int)
    np.testing.assert_array_equal(inlier_mask(ones), np.ones(len(y), dtype=bool))
    np.testing.assert_array_equal(inlier_mask(ones, "pyod"), np.zeros(len(y), dtype=bool))
    with pytest.raises(ValueError, match="all 1, which names no convention"):
        detect_label_convention(ones)
    assert FitOnInliers(BallCountOneClass(n_branches=2)).fit(X, ones).n_inliers_ == len(y)
    with pytest.raises(ValueError, match="needs at least 3 outliers.*got 0 .*only of 1s"):
        next(OneClassKFold(3).split(X, ones))
    model = BallCountOneClass(n_branches=2).fit(X[y == 0])
    with pytest.raises(ValueError, match="only inliers .*only of 1s.*label_convention='pyod'"):
        make_anomaly_scorer()(model, X, ones)
    with pytest.raises(ValueError, match="only anomalies"):
        make_anomaly_scorer(label_convention="pyod")(model, X, ones)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BallCountOneClass(n_branches=2).fit(X, ones)
