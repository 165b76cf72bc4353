"""BallCountOneClass and ClasswiseBallCount: KDTree references, hand-made arrays, the contract."""

import numpy as np
import pytest
from sklearn.neighbors import KDTree
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from corel_sklearn import BallCountOneClass, ClasswiseBallCount

SKLEARN_METRIC = {"l1": "manhattan", "l2": "euclidean", "linf": "chebyshev"}

# check_estimator's synthetic data have 1 to 20 features, so the contract is checked with one
# branch; n_branches must divide n_features (a documented error otherwise).
_TRAIN_SET_REASON = (
    "by design: offset_ comes from leave-one-out scores (a training point never counts itself, "
    "nor is its own neighbour), so predict on the training set, where each point falls in its "
    "own ball (is its own nearest neighbour at distance 0), flags fewer than "
    "`contamination` of it, and fit_predict (leave-one-out labels, as in "
    "LocalOutlierFactor(novelty=False)) differs from fit().predict(); see "
    "test_leave_one_out_offset_and_fit_predict"
)


def _expected_failed_checks(estimator):
    if isinstance(estimator, BallCountOneClass):
        return {"check_outliers_train": _TRAIN_SET_REASON,
                "check_outliers_fit_predict": _TRAIN_SET_REASON}
    return {}


@parametrize_with_checks(
    [BallCountOneClass(n_branches=1),
     BallCountOneClass(n_branches=1, metric="l2", aggregation="mean", contamination="auto"),
     BallCountOneClass(n_branches=1, scoring="knn_distance"),
     BallCountOneClass(n_branches=1, scoring="knn_distance", n_neighbors=1, metric="linf",
                       aggregation="max", contamination="auto"),
     ClasswiseBallCount(n_branches=1),
     ClasswiseBallCount(n_branches=1, scoring="knn_distance", n_neighbors=1)],
    expected_failed_checks=_expected_failed_checks,
)
# scikit-learn's checks fit with 0/1 class labels as y, which the one-class fit reads as PyOD's
# outlier labels: its warning is right, and expected here (and only here).
@pytest.mark.filterwarnings(r"ignore:BallCountOneClass\.fit ignores y, but y marks:UserWarning")
def test_sklearn_contract(estimator, check):
    check(estimator)


def kdtree_kth_scores(X, anchors, k, n_branches, metric, aggregation="sum",
                      leave_one_out=False):
    """Reference "knn_distance" score: minus the per-branch k-th KDTree distance, aggregated as
    scores (so "max" is minus the smallest distance)."""
    width = anchors.shape[1] // n_branches
    distances = np.stack([
        KDTree(anchors[:, b * width:(b + 1) * width].astype(np.float64),
               metric=SKLEARN_METRIC[metric])
        .query(X[:, b * width:(b + 1) * width].astype(np.float64), k=k + leave_one_out)[0][:, -1]
        for b in range(n_branches)
    ], axis=1)
    scores = -distances
    return {"sum": scores.sum(1), "mean": scores.mean(1), "max": scores.max(1)}[aggregation]


def kdtree_scores(X, anchors, radius, n_branches, metric, aggregation="sum", leave_one_out=False):
    """Reference score: per-branch KDTree count_only queries, minus self-counts, aggregated."""
    width = anchors.shape[1] // n_branches
    counts = np.stack([
        KDTree(anchors[:, k * width:(k + 1) * width], metric=SKLEARN_METRIC[metric])
        .query_radius(X[:, k * width:(k + 1) * width], radius, count_only=True)
        for k in range(n_branches)
    ], axis=1) - int(leave_one_out)
    return {"sum": counts.sum(1), "mean": counts.mean(1), "max": counts.max(1)}[aggregation]


def dyadic(rng, shape, dtype=np.float64):
    return (rng.integers(-3, 4, size=shape) / 2).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
@pytest.mark.parametrize("aggregation", ["sum", "mean", "max"])
def test_scores_match_kdtree(dtype, metric, aggregation):
    rng = np.random.default_rng(0)
    anchors, X = dyadic(rng, (150, 6), dtype), dyadic(rng, (40, 6), dtype)
    model = BallCountOneClass(radius=1.5, n_branches=3, metric=metric,
                              aggregation=aggregation).fit(anchors)
    scores = model.score_samples(X)
    assert scores.dtype == np.float64 and model.anchors_.dtype == dtype
    np.testing.assert_array_equal(
        scores, kdtree_scores(X, anchors, 1.5, 3, metric, aggregation))
    np.testing.assert_array_equal(model.decision_function(X), scores - model.offset_)
    np.testing.assert_array_equal(model.predict(X), np.where(scores >= model.offset_, 1, -1))


def test_leave_one_out_offset_and_fit_predict():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, 8))
    model = BallCountOneClass(radius=3.0, n_branches=2, contamination=0.1)
    labels = model.fit_predict(X)
    loo = kdtree_scores(X, X, 3.0, 2, "l1", leave_one_out=True)
    assert model.offset_ == np.percentile(loo, 10)
    np.testing.assert_array_equal(labels, np.where(loo >= model.offset_, 1, -1))
    assert labels.dtype.kind == "i" and abs((labels == -1).mean() - 0.1) <= 0.02
    # Scored as new samples, training points also count themselves (2 branches): fewer flags.
    np.testing.assert_array_equal(model.score_samples(X), loo + 2)
    assert (model.predict(X) == -1).sum() < (labels == -1).sum()


def test_duplicates_count_in_leave_one_out():
    X = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [7.0, 7.0], [7.5, 7.0]])
    model = BallCountOneClass(radius=1.0, n_branches=1, contamination=0.5).fit(X)
    # leave-one-out scores are [2, 2, 2, 1, 1]: each copy still sees the other two
    assert model.offset_ == 2.0
    np.testing.assert_array_equal(model.fit_predict(X), [1, 1, 1, -1, -1])


@pytest.mark.parametrize("aggregation, offset", [("sum", 0.5), ("max", 0.5), ("mean", 0.125)])
def test_auto_contamination_flags_exactly_the_empty_balls(aggregation, offset):
    rng = np.random.default_rng(2)
    anchors = rng.standard_normal((30, 8))
    X = np.vstack([anchors[:5] + 0.01, anchors[:5] + 100.0])
    model = BallCountOneClass(radius=1.0, n_branches=4, aggregation=aggregation,
                              contamination="auto").fit(anchors)
    assert model.offset_ == offset
    scores = model.score_samples(X)
    np.testing.assert_array_equal(model.predict(X), np.where(scores > 0, 1, -1))
    np.testing.assert_array_equal(model.predict(X), [1] * 5 + [-1] * 5)
    # one anchor is enough when no leave-one-out counts are needed
    single = BallCountOneClass(n_branches=1, contamination="auto").fit(anchors[:1])
    np.testing.assert_array_equal(single.fit_predict(anchors[:1]), [-1])


def test_float32_and_float64_give_identical_scores():
    rng = np.random.default_rng(3)
    anchors = rng.standard_normal((500, 20)).astype(np.float32)
    X = rng.standard_normal((100, 20)).astype(np.float32)
    model = BallCountOneClass(radius=4.0, n_branches=2)
    s32 = model.fit(anchors).score_samples(X)
    s64 = model.fit(anchors.astype(np.float64)).score_samples(X.astype(np.float64))
    np.testing.assert_array_equal(s32, s64)
    np.testing.assert_array_equal(s32, kdtree_scores(X, anchors, 4.0, 2, "l1"))


def test_n_jobs_and_device_cpu_do_not_change_scores():
    rng = np.random.default_rng(4)
    anchors, X = rng.standard_normal((300, 12)), rng.standard_normal((50, 12))
    reference = BallCountOneClass(radius=3.0, n_branches=3).fit(anchors).score_samples(X)
    for params in ({"n_jobs": 1}, {"n_jobs": -1}, {"n_jobs": 2}, {"device": "cpu"}):
        model = BallCountOneClass(radius=3.0, n_branches=3, **params).fit(anchors)
        np.testing.assert_array_equal(model.score_samples(X), reference)


@pytest.mark.parametrize("aggregation", ["sum", "mean", "max"])
@pytest.mark.parametrize("contamination", [0.2, "auto"])
def test_classwise_equals_separate_one_class_models(aggregation, contamination):
    rng = np.random.default_rng(5)
    y = rng.choice(np.array(["a", "b", "c", "d"]), size=600)
    X = (dyadic(rng, (600, 8)) + (y == "b")[:, None]).astype(np.float32)
    queries = dyadic(rng, (120, 8), np.float32)
    params = {"radius": 1.5, "n_branches": 4, "aggregation": aggregation,
              "contamination": contamination}
    model = ClasswiseBallCount(**params).fit(X, y)
    np.testing.assert_array_equal(model.classes_, ["a", "b", "c", "d"])
    scores = model.score_samples(queries)
    assert scores.shape == (120, 4)
    for j, label in enumerate(model.classes_):
        single = BallCountOneClass(**params).fit(X[y == label])
        np.testing.assert_array_equal(scores[:, j], single.score_samples(queries))
        assert model.offsets_[j] == single.offset_
        np.testing.assert_array_equal(model.predict(queries)[:, j], single.predict(queries))
    np.testing.assert_array_equal(model.decision_function(queries), scores - model.offsets_)


def test_classwise_scores_many_classes_in_one_pass():
    rng = np.random.default_rng(6)
    y = np.repeat(np.arange(300), 4)
    X = rng.standard_normal((1200, 4)) + y[:, None] * 0.05
    queries = rng.standard_normal((50, 4))
    scores = ClasswiseBallCount(radius=1.0, n_branches=2).fit(X, y).score_samples(queries)
    expected = np.stack([kdtree_scores(queries, X[y == c], 1.0, 2, "l1") for c in range(300)], 1)
    np.testing.assert_array_equal(scores, expected)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"radius": 0.0}, "'radius' parameter of BallCountOneClass must be a float in the range"),
        ({"radius": -2.0}, "'radius' parameter of BallCountOneClass must be a float in the range"),
        ({"radius": np.inf}, "'radius' parameter of BallCountOneClass must be a float in the"),
        ({"contamination": 0.7}, "'contamination' parameter"),
        ({"metric": "cosine"}, "'metric' parameter"),
        ({"n_branches": 0}, "'n_branches' parameter"),
    ],
)
def test_bad_parameters_raise_clearly(params, match):
    with pytest.raises(InvalidParameterError, match=match):
        BallCountOneClass(**params).fit(np.zeros((5, 4)))


def test_bad_input_raises_clearly():
    X = np.random.default_rng(7).standard_normal((10, 6))
    with pytest.raises(ValueError, match="n_branches=4 does not divide the number of features"):
        BallCountOneClass(n_branches=4).fit(X)
    with pytest.raises(ValueError, match="NaN"):
        BallCountOneClass(n_branches=2).fit(np.where(X > 1, np.nan, X))
    with pytest.raises(ValueError, match="infinity"):
        BallCountOneClass(n_branches=2).fit(np.where(X > 1, np.inf, X))
    model = BallCountOneClass(n_branches=2).fit(X)
    with pytest.raises(ValueError, match="X has 4 features, but BallCountOneClass is expecting 6"):
        model.score_samples(X[:, :4])
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.where(X > 1, np.nan, X))
    with pytest.raises(ValueError, match="n_samples=1.*at least 2 anchors"):
        BallCountOneClass(n_branches=2).fit(X[:1])
    with pytest.raises(ValueError, match="n_samples=1.*at least 2 anchors"):
        ClasswiseBallCount(n_branches=2).fit(X, [0] * 9 + [1])
    with pytest.raises(ValueError, match="not a valid torch device"):
        BallCountOneClass(n_branches=2, device="tpu:x").fit(X)
    with pytest.raises(ValueError, match="n_jobs=0"):
        BallCountOneClass(n_branches=2, n_jobs=0).fit(X)


def test_zero_configuration_pipeline_with_topo_autoencoder():
    from sklearn.pipeline import Pipeline

    from corel_sklearn import TopoAutoencoder
    from corel_sklearn.estimators._codes import DEFAULT_ETA, DEFAULT_N_BRANCHES

    # the defaults assumed for plain arrays are the encoder's
    assert DEFAULT_ETA == TopoAutoencoder().eta
    assert DEFAULT_N_BRANCHES == TopoAutoencoder().n_branches
    # Spread enough that one epoch's codes are not all within one radius of each other (the
    # counts then differ), with five test points three times farther out than the rest.
    rng = np.random.default_rng(8)
    X_train, X_test = 5 * rng.standard_normal((40, 12)), 5 * rng.standard_normal((10, 12))
    X_test[5:] *= 3
    pipe = Pipeline([("enc", TopoAutoencoder(max_epochs=1, random_state=0)),
                     ("oc", BallCountOneClass())]).fit(X_train)
    codes_train = pipe["enc"].transform(X_train)
    codes_test = pipe["enc"].transform(X_test)
    assert codes_train.shape == (40, 160) and codes_train.dtype == np.float32
    scores = kdtree_scores(codes_test, codes_train, 2.0, 16, "l1")
    np.testing.assert_array_equal(pipe.score_samples(X_test), scores)
    # the default contamination=0.1: the 10th percentile of the leave-one-out training scores
    offset = np.percentile(kdtree_scores(codes_train, codes_train, 2.0, 16, "l1",
                                         leave_one_out=True), 10)
    assert pipe["oc"].offset_ == offset
    expected = np.where(scores >= offset, 1, -1)
    assert set(expected) == {-1, 1}  # both sides of the offset: a wrong offset would show
    np.testing.assert_array_equal(pipe.predict(X_test), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
@pytest.mark.parametrize("aggregation", ["sum", "mean", "max"])
def test_knn_distance_scores_match_kdtree(dtype, metric, aggregation):
    rng = np.random.default_rng(10)
    anchors, X = dyadic(rng, (150, 6), dtype), rng.standard_normal((40, 6)).astype(dtype)
    model = BallCountOneClass(n_branches=3, metric=metric, aggregation=aggregation,
                              scoring="knn_distance", n_neighbors=4).fit(anchors)
    scores = model.score_samples(X)
    assert scores.dtype == np.float64 and (scores <= 0).all()
    np.testing.assert_array_equal(scores, kdtree_kth_scores(X, anchors, 4, 3, metric,
                                                            aggregation))
    loo = kdtree_kth_scores(anchors, anchors, 4, 3, metric, aggregation, leave_one_out=True)
    assert model.offset_ == np.percentile(loo, 10)
    np.testing.assert_array_equal(model.decision_function(X), scores - model.offset_)
    np.testing.assert_array_equal(model.predict(X), np.where(scores >= model.offset_, 1, -1))
    np.testing.assert_array_equal(model.fit_predict(anchors),
                                  np.where(loo >= model.offset_, 1, -1))


def test_knn_distance_keeps_resolution_where_counts_saturate():
    # Every anchor lies in every ball: the counts tie at n_anchors, the k-th distance does not.
    rng = np.random.default_rng(11)
    anchors, X = rng.uniform(0, 0.1, (200, 2)), rng.uniform(0, 0.1, (50, 2))
    counts = BallCountOneClass(radius=1.0, n_branches=1).fit(anchors).score_samples(X)
    distances = BallCountOneClass(n_branches=1, scoring="knn_distance").fit(anchors)
    assert len(np.unique(counts)) == 1
    assert len(np.unique(distances.score_samples(X))) == 50


@pytest.mark.parametrize("aggregation, offset", [("sum", -4.0), ("mean", -2.0), ("max", -2.0)])
def test_knn_distance_auto_offset_is_the_radius(aggregation, offset):
    anchors = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 10.0], [0.0, 11.0]])
    model = BallCountOneClass(radius=2.0, n_branches=2, aggregation=aggregation,
                              scoring="knn_distance", n_neighbors=2,
                              contamination="auto").fit(anchors)
    assert model.offset_ == offset
    # 2nd nearest distance per branch: [0.5, 0] for (0.5, 0), [0.5, 10] for (0.5, 20): the
    # second is beyond the radius on average (sum, mean), not in its nearest branch (max)
    X = np.array([[0.5, 0.0], [0.5, 20.0]])
    np.testing.assert_array_equal(model.score_samples(X),
                                  {"sum": [-0.5, -10.5], "mean": [-0.25, -5.25],
                                   "max": [0.0, -0.5]}[aggregation])
    np.testing.assert_array_equal(model.predict(X), [1, 1] if aggregation == "max" else [1, -1])


def test_knn_distance_needs_n_neighbors_samples():
    X = np.random.default_rng(12).standard_normal((5, 2))
    with pytest.raises(ValueError, match=r"n_samples=5, but scoring='knn_distance' with "
                       r"n_neighbors=5 needs at least 6 samples for the leave-one-out"):
        BallCountOneClass(n_branches=1, scoring="knn_distance").fit(X)
    with pytest.raises(ValueError, match="needs at least 6 samples for the scores"):
        BallCountOneClass(n_branches=1, scoring="knn_distance", n_neighbors=6,
                          contamination="auto").fit(X)
    BallCountOneClass(n_branches=1, scoring="knn_distance", contamination="auto").fit(X)
    with pytest.raises(ValueError, match="The smallest class has n_samples=2.*needs at least 3"):
        ClasswiseBallCount(n_branches=1, scoring="knn_distance", n_neighbors=2).fit(
            X, [0, 0, 0, 1, 1])
    with pytest.raises(InvalidParameterError, match="'n_neighbors' parameter"):
        BallCountOneClass(scoring="knn_distance", n_neighbors=0).fit(X)
    with pytest.raises(InvalidParameterError, match="'scoring' parameter"):
        BallCountOneClass(scoring="lof").fit(X)


@pytest.mark.parametrize("aggregation", ["sum", "max"])
@pytest.mark.parametrize("contamination", [0.2, "auto"])
def test_classwise_knn_distance_equals_separate_models(aggregation, contamination):
    rng = np.random.default_rng(13)
    y = rng.choice(np.array(["a", "b", "c"]), size=300)
    X = (rng.standard_normal((300, 8)) + (y == "b")[:, None]).astype(np.float32)
    queries = rng.standard_normal((60, 8)).astype(np.float32)
    params = {"radius": 3.0, "n_branches": 4, "aggregation": aggregation,
              "scoring": "knn_distance", "n_neighbors": 3, "contamination": contamination}
    model = ClasswiseBallCount(**params).fit(X, y)
    scores = model.score_samples(queries)
    for j, label in enumerate(model.classes_):
        single = BallCountOneClass(**params).fit(X[y == label])
        np.testing.assert_array_equal(scores[:, j], single.score_samples(queries))
        assert model.offsets_[j] == single.offset_
