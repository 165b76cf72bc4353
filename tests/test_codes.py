"""Codes remember their encoder, so the one-class radius follows eta in every composition."""

import io
import pickle

import joblib
import numpy as np
import pytest
from _small_autoencoder import small
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neighbors import KDTree
from sklearn.pipeline import Pipeline

from corel_sklearn import BallCountOneClass, ClasswiseBallCount, TopoAutoencoder
from corel_sklearn.estimators._codes import Codes, resolve_n_branches, resolve_radius


def kdtree_counts(X, anchors, radius, n_branches):
    """Paper score (sum over branches of closed l1 ball counts), from KDTree."""
    width = anchors.shape[1] // n_branches
    return sum(
        KDTree(anchors[:, b * width:(b + 1) * width].astype(np.float64), metric="manhattan")
        .query_radius(X[:, b * width:(b + 1) * width].astype(np.float64), radius,
                      count_only=True)
        for b in range(n_branches)
    ).astype(np.float64)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((60, 6)).astype(np.float32)


@pytest.fixture(scope="module")
def encoder(data):
    return small(eta=1.5).fit(data)


def test_transform_marks_codes_with_the_encoders_settings(encoder, data):
    codes = encoder.transform(data)
    assert isinstance(codes, Codes) and codes.dtype == np.float32 and codes.shape == (60, 4)
    assert (codes.eta, codes.n_branches) == (1.5, 2)
    fitted = clone(encoder).fit_transform(data)
    assert (fitted.eta, fitted.n_branches) == (1.5, 2)


def test_codes_keep_the_marks_only_while_they_stay_the_same_codes():
    Z = Codes(np.arange(24, dtype=np.float32).reshape(6, 4), eta=4.0, n_branches=2)
    for kept in (Z[1:3], Z[[0, 2, 5]], Z[Z[:, 0] > 5], Z[[1], :], Z.copy()):
        assert isinstance(kept, Codes) and (kept.eta, kept.n_branches) == (4.0, 2)
    for dropped in (Z * 2, Z + 0, np.abs(Z), np.concatenate([Z, Z]), Z[:, :2], Z[0],
                    np.asarray(Z), Z.astype(np.float64), Z.T, Z.reshape(4, 6)):
        assert resolve_radius("eta", dropped) == 2.0  # no longer says which encoder
    assert type(Z * 2) is np.ndarray and type(Z.sum()) is np.float32
    for copy in (pickle.loads(pickle.dumps(Z)), joblib.load(_dumped(Z))):
        assert isinstance(copy, Codes) and (copy.eta, copy.n_branches) == (4.0, 2)
        np.testing.assert_array_equal(copy, Z)
    plain = pickle.loads(pickle.dumps(Z * 1))
    assert type(plain) is np.ndarray


def _dumped(obj):
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    buffer.seek(0)
    return buffer


def test_resolution_rules():
    Z = Codes(np.zeros((3, 6)), eta=4.0, n_branches=3)
    assert resolve_radius("eta", Z) == 4.0 and resolve_radius(0.5, Z) == 0.5
    assert resolve_n_branches("auto", Z) == 3 and resolve_n_branches(1, Z) == 1
    plain = np.zeros((3, 160))
    assert resolve_radius("eta", plain) == 2.0 and resolve_n_branches("auto", plain) == 16


def test_grid_search_over_eta_scores_with_radius_eta(data):
    # Issue 20's done-when: in a plain Pipeline, every candidate counts at radius = its eta.
    def radius_scorer(estimator, X, y=None):
        return estimator["oc"].radius_

    def counts_at_eta(estimator, X, y=None):
        """1.0 when the pipeline's scores are the KDTree counts at radius = the encoder's eta."""
        expected = kdtree_counts(estimator["enc"].transform(X), estimator["oc"].anchors_,
                                 estimator["enc"].eta, 2)
        return float(np.array_equal(estimator.score_samples(X), expected))

    pipe = Pipeline([("enc", small()), ("oc", BallCountOneClass(contamination="auto"))])
    search = GridSearchCV(pipe, {"enc__eta": [0.5, 2.0, 4.0]}, cv=KFold(2),
                          scoring={"radius": radius_scorer, "exact": counts_at_eta},
                          refit="radius").fit(data)
    np.testing.assert_array_equal(search.cv_results_["mean_test_radius"], [0.5, 2.0, 4.0])
    np.testing.assert_array_equal(search.cv_results_["mean_test_exact"], [1.0, 1.0, 1.0])
    best = search.best_estimator_
    assert best["enc"].eta == 4.0 and best["oc"].radius_ == 4.0 and best["oc"].n_branches_ == 2
    assert best["oc"].radius == "eta"  # the parameter itself is never changed

    # A radius the user fixed stays fixed.
    fixed = GridSearchCV(pipe.set_params(oc__radius=3.0), {"enc__eta": [0.5, 4.0]},
                         cv=KFold(2), scoring=radius_scorer).fit(data)
    np.testing.assert_array_equal(fixed.cv_results_["mean_test_score"], [3.0, 3.0])


def test_radius_follows_eta_through_frozen_encoder_clone_and_cross_val(encoder, data):
    pipe = Pipeline([("enc", FrozenEstimator(encoder)),
                     ("oc", BallCountOneClass(contamination="auto"))]).fit(data)
    assert pipe["oc"].radius_ == 1.5 and pipe["oc"].n_branches_ == 2
    codes = encoder.transform(data)
    np.testing.assert_array_equal(pipe.score_samples(data[:10]),
                                  kdtree_counts(codes[:10], codes, 1.5, 2))
    cloned = clone(Pipeline([("enc", small(eta=0.75)), ("oc", BallCountOneClass())]))
    assert cloned["oc"].radius == "eta" and cloned.fit(data)["oc"].radius_ == 0.75
    scores = cross_val_score(cloned, data, cv=KFold(3),
                             scoring=lambda est, X, y=None: est["oc"].radius_)
    np.testing.assert_array_equal(scores, [0.75] * 3)
    # ClasswiseBallCount reads the same marks
    y = np.arange(60) % 2
    classwise = ClasswiseBallCount(contamination="auto").fit(codes, y)
    assert classwise.radius_ == 1.5 and classwise.n_branches_ == 2


@pytest.mark.filterwarnings("ignore:Persisting input arguments took:UserWarning")
def test_radius_follows_eta_through_a_cached_pipeline(data, tmp_path, monkeypatch):
    fits = []
    original_fit = TopoAutoencoder.fit

    def counting_fit(self, X, y=None, **kwargs):
        fits.append(self.eta)
        return original_fit(self, X, y, **kwargs)

    monkeypatch.setattr(TopoAutoencoder, "fit", counting_fit)
    pipe = Pipeline([("enc", small(eta=3.0)), ("oc", BallCountOneClass(contamination="auto"))],
                    memory=joblib.Memory(tmp_path, verbose=0))
    first = clone(pipe).fit(data)
    again = clone(pipe).set_params(oc__aggregation="max").fit(data)  # encoder from the cache
    assert fits == [3.0]
    assert first["oc"].radius_ == again["oc"].radius_ == 3.0
    assert again["oc"].n_branches_ == 2


def test_table_output_loses_eta_and_says_so(encoder, data):
    pipe = Pipeline([("enc", clone(encoder)),
                     ("oc", BallCountOneClass(contamination="auto"))]).set_output(
                         transform="pandas")
    with pytest.raises(ValueError, match="radius='eta' follows the eta of the encoder.*"
                       "Pass radius=<the encoder's eta> explicitly"):
        pipe.fit(data)
    # With the radius given, the branches are still read from the column names.
    fitted = pipe.set_params(oc__radius=1.5).fit(data)
    assert fitted["oc"].n_branches_ == 2 and fitted["oc"].radius_ == 1.5
    codes = fitted["enc"].transform(data).to_numpy()
    np.testing.assert_array_equal(fitted.score_samples(data), kdtree_counts(codes, codes, 1.5, 2))
    # A scoring that does not use the radius needs none.
    knn = pipe.set_params(oc__radius="eta", oc__scoring="knn_distance",
                          oc__contamination=0.1).fit(data)
    assert knn["oc"].radius_ is None and knn["oc"].n_branches_ == 2


def test_plain_arrays_use_the_encoder_defaults_and_explain_them():
    X = np.random.default_rng(1).standard_normal((20, 160))
    model = BallCountOneClass().fit(X)
    assert (model.radius_, model.n_branches_) == (2.0, 16)
    with pytest.raises(ValueError, match="n_branches='auto', which is 16 .* does not divide"):
        BallCountOneClass().fit(X[:, :12])
