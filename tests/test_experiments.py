import csv
import json
import os

import numpy as np
import pytest
import scipy.io
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

from corel_sklearn import BallCountOneClass, TopoAutoencoder
from corel_sklearn.datasets import one_class_draws
from corel_sklearn.experiments import (
    DEFAULT_METHODS,
    METHODS,
    OneClassResult,
    encoder_cache_key,
    fit_encoder_cached,
    odds_encoder,
    run_odds_benchmark,
    run_one_class_protocol,
)
from corel_sklearn.experiments._odds import pyod_split
from corel_sklearn.experiments._threads import limited_threads
from corel_sklearn.experiments.cli import main


def _planted_classes(seed=0, n_classes=3, n_train=60, n_test=30, n_features=20):
    """Classes around distinct random prototypes in [0, 1]^d: in-class is near, rest is far."""
    rng = np.random.default_rng(seed)
    prototypes = rng.random((n_classes, n_features))

    def sample(per_class):
        y = np.repeat(np.arange(n_classes), per_class)
        X = prototypes[y] + 0.08 * rng.normal(size=(len(y), n_features))
        return np.clip(X, 0, 1).astype(np.float32), y

    return (*sample(n_train), *sample(n_test))


def _tiny_encoder(**params):
    settings = dict(architecture="mlp", hidden_layer_sizes=(32,), n_branches=4, branch_dim=3,
                    eta=1.0, batch_size=30, max_epochs=15, learning_rate=1e-2, random_state=0)
    return TopoAutoencoder(**{**settings, **params})


def test_protocol_end_to_end_planted_structure(tmp_path):
    X_train, y_train, X_test, y_test = _planted_classes()
    result = run_one_class_protocol(
        X_train, y_train, X_test, y_test, encoder=_tiny_encoder(), n_samples=20, n_draws=2,
        radius=1.0, target_names=["a", "b", "c"], dataset_id="planted", random_state=0,
        n_threads=1, verbose=0,
    )
    labels = [METHODS[k].label for k in DEFAULT_METHODS]
    assert result.methods == labels and result.class_names == ["a", "b", "c"]
    assert len(result.records) == len(labels) * 3 * 2
    summary = result.summary()
    for label in labels:
        assert result.aurocs(label).shape == (3, 2)
        assert summary[label]["mean"][0] > 0.9, (label, summary[label]["mean"])
    assert summary["COREL"]["mean"][0] > 0.95

    table = result.table()
    assert table.splitlines()[0].split()[:2] == ["class", "COREL"]
    assert table.splitlines()[-1].startswith("mean")
    paths = result.save(tmp_path / "out")
    with open(paths["csv"]) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(result.records)
    assert {r["class_name"] for r in rows} == {"a", "b", "c"}
    with open(paths["json"]) as f:
        payload = json.load(f)
    assert payload["settings"]["n_samples"] == 20
    assert payload["summary"]["COREL"]["mean"]["mean"] == pytest.approx(summary["COREL"]["mean"][0])
    with open(paths["png"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_protocol_matches_a_hand_written_loop():
    """Every AUROC equals the one computed by hand on the same draws with the same estimators."""
    X_train, y_train, X_test, y_test = _planted_classes(seed=1)
    encoder = _tiny_encoder(max_epochs=3)
    result = run_one_class_protocol(
        X_train, y_train, X_test, y_test, encoder=encoder, n_samples=15, n_draws=2,
        radius=1.5, methods=["corel", "ocsvm"], random_state=7, n_threads=1, verbose=0,
    )
    fitted = _tiny_encoder(max_epochs=3).fit(X_train)
    codes_train, codes_test = fitted.transform(X_train), fitted.transform(X_test)
    expected = []
    for d in one_class_draws(y_train, y_test, n_samples=15, n_draws=2, random_state=7):
        counts = BallCountOneClass(radius=1.5, n_branches=4).fit(codes_train[d.train_indices])
        expected.append(roc_auc_score(d.is_inlier, counts.score_samples(codes_test)))
        svm = OneClassSVM(gamma="scale", nu=0.1).fit(X_train[d.train_indices])
        expected.append(roc_auc_score(d.is_inlier, svm.score_samples(X_test)))
    np.testing.assert_allclose([r["auroc"] for r in result.records], expected, rtol=0, atol=1e-12)


def test_encoder_cache_hits_and_misses(tmp_path):
    X_train, y_train, X_test, y_test = _planted_classes(seed=2)
    kwargs = dict(n_samples=10, n_draws=1, methods=["corel"], dataset_id="planted",
                  cache_dir=str(tmp_path), verbose=0)
    encoder = _tiny_encoder(max_epochs=2)
    first = run_one_class_protocol(X_train, y_train, X_test, y_test, encoder=encoder, **kwargs)
    second = run_one_class_protocol(X_train, y_train, X_test, y_test, encoder=encoder, **kwargs)
    assert [c["cached"] for c in first.settings["encoder_cache"]] == [False]
    assert [c["cached"] for c in second.settings["encoder_cache"]] == [True]
    assert first.records == second.records
    entries = sorted(os.listdir(tmp_path))
    assert len(entries) == 2 and entries[0].startswith("planted-train-corel-")
    # another setting or other data: a new entry
    other = _tiny_encoder(max_epochs=2, eta=0.7)
    run_one_class_protocol(X_train, y_train, X_test, y_test, encoder=other, **kwargs)
    assert len(os.listdir(tmp_path)) == 4
    key = encoder_cache_key(encoder, X_train, dataset_id="planted", aux="train-corel")
    assert key != encoder_cache_key(encoder, X_train[1:], dataset_id="planted", aux="train-corel")
    assert key == encoder_cache_key(encoder.set_params(verbose=1), X_train.copy(),
                                    dataset_id="planted", aux="train-corel")
    # a corrupt entry is refitted, not fatal
    path = first.settings["encoder_cache"][0]["path"]
    with open(path, "wb") as f:
        f.write(b"garbage")
    fitted, info = fit_encoder_cached(_tiny_encoder(max_epochs=2), X_train, dataset_id="planted",
                                      aux="train-corel", cache_dir=str(tmp_path), verbose=0)
    assert not info["cached"] and info["path"] == path and hasattr(fitted, "module_")


class _SpyEncoder(TransformerMixin, BaseEstimator):
    """Records the rows it is fitted on; the identity map otherwise."""

    fitted_on = []

    def __init__(self, connectivity_weight=1.0, n_branches=1, random_state=None):
        self.connectivity_weight = connectivity_weight
        self.n_branches = n_branches
        self.random_state = random_state

    def fit(self, X, y=None):
        assert y is None
        type(self).fitted_on.append((self.connectivity_weight, X.copy()))
        return self

    def transform(self, X):
        return X


def test_leave_one_class_out_never_shows_the_inlier_class():
    X_train, y_train, X_test, y_test = _planted_classes(seed=3)
    _SpyEncoder.fitted_on = []
    result = run_one_class_protocol(
        X_train, y_train, X_test, y_test, encoder=_SpyEncoder(), n_samples=10, n_draws=2,
        aux="leave-one-class-out", methods=["corel", "ballcount-ae"], radius=2.0, verbose=0,
    )
    fits = _SpyEncoder.fitted_on
    assert [w for w, _ in fits] == [1.0, 0.0] * 3  # one COREL and one lambda=0 twin per class
    for c in range(3):
        for _, X in fits[2 * c: 2 * c + 2]:
            np.testing.assert_array_equal(X, X_train[y_train != c])
    assert len(result.records) == 2 * 3 * 2


def test_result_summary_and_table_by_hand():
    records = [dict(method=m, inlier_class=c, class_name=n, draw=d, auroc=a)
               for m, c, n, d, a in [("A", 0, "x", 0, 0.6), ("A", 0, "x", 1, 0.8),
                                     ("A", 1, "y", 0, 1.0), ("A", 1, "y", 1, 0.9),
                                     ("B", 0, "x", 0, 0.5), ("B", 0, "x", 1, 0.5),
                                     ("B", 1, "y", 0, 0.5), ("B", 1, "y", 1, 0.7)]]
    result = OneClassResult(records, ["A", "B"], ["x", "y"])
    summary = result.summary()
    assert summary["A"]["x"] == pytest.approx((0.7, 0.1))
    assert summary["A"]["mean"] == pytest.approx((0.825, 0.025))  # per-draw means 0.8, 0.85
    assert summary["B"]["y"] == pytest.approx((0.6, 0.1))
    lines = result.table().splitlines()
    assert lines[2].split() == ["x", "0.700", "±", "0.100", "0.500", "±", "0.000"]
    assert lines[-1].split()[:4] == ["mean", "0.825", "±", "0.025"]
    with pytest.raises(KeyError, match="'C'"):
        result.aurocs("C")


def test_protocol_argument_errors():
    X_train, y_train, X_test, y_test = _planted_classes(seed=4)
    with pytest.raises(ValueError, match="aux"):
        run_one_class_protocol(X_train, y_train, X_test, y_test, encoder=_SpyEncoder(),
                               aux="test", verbose=0)
    with pytest.raises(ValueError, match="Unknown method 'svdd'"):
        run_one_class_protocol(X_train, y_train, X_test, y_test, encoder=_SpyEncoder(),
                               methods=["svdd"], verbose=0)
    with pytest.raises(ValueError, match=r"n_samples must be in \[1, 60\]"):
        run_one_class_protocol(X_train, y_train, X_test, y_test, encoder=_SpyEncoder(),
                               n_samples=61, methods=["ocsvm"], verbose=0)


def _write_tiny_odds(folder, rng):
    """Two .mat sets: Gaussian inliers, outliers far away (1 = anomaly)."""
    os.makedirs(folder, exist_ok=True)
    for name, n, d in (("alpha", 120, 5), ("beta", 150, 8)):
        X = rng.normal(size=(n, d))
        y = np.zeros(n, dtype=np.uint8)
        y[:12] = 1
        X[:12] += 6 * rng.choice([-1, 1], size=(12, d))
        scipy.io.savemat(os.path.join(folder, f"{name}.mat"), {"X": X, "y": y[:, None]})
    published = os.path.join(folder, "published.csv")
    with open(published, "w") as f:
        f.write("Data,#Samples,# Dimensions,Outlier Perc,IForest,LOF,OCSVM\n"
                "alpha,120,5,10.0,0.9,0.8,0.7\nbeta,150,8,8.0,0.95,0.85,0.75\n")
    return published


def test_odds_runner_on_tiny_sets(tmp_path, rng):
    published = _write_tiny_odds(str(tmp_path / "odds"), rng)
    def make_encoder(n_samples, n_features, random_state):
        return _tiny_encoder(n_branches=2, branch_dim=2, batch_size=36, max_epochs=10,
                             random_state=random_state)

    result = run_odds_benchmark(tmp_path / "odds", datasets=["alpha", "beta"], n_trials=2,
                                make_encoder=make_encoder, published_csv=published, verbose=0)
    summary = result.summary()
    for name in ("alpha", "beta"):
        for method in ("COREL", "IForest", "OCSVM", "LOF"):
            assert summary[name][method][0] > 0.9, (name, method, summary[name][method])
    table = result.table()
    assert "pub IForest" in table and "0.950" in table
    assert table.splitlines()[-1].startswith("COREL beats all of ['IForest', 'OCSVM', 'LOF']")
    paths = result.save(tmp_path / "out")
    with open(paths["summary_csv"]) as f:
        rows = list(csv.DictReader(f))
    assert [r["dataset"] for r in rows] == ["alpha", "beta"]
    assert float(rows[1]["published_IForest"]) == 0.95


def test_pyod_split_is_sklearns_60_40_with_train_statistics(rng):
    X = rng.normal(size=(50, 3)) * [1, 10, 100]
    y = (np.arange(50) < 5).astype(int)
    X_train, X_test, y_train, y_test = pyod_split(X, y, trial=3)
    assert len(X_train) == 30 and len(X_test) == 20
    np.testing.assert_allclose(X_train.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(X_train.std(0), 1)
    assert y_train.sum() + y_test.sum() == 5
    again = pyod_split(X, y, trial=3)
    np.testing.assert_array_equal(again[1], X_test)


def test_odds_encoder_is_sized_to_the_data():
    small = odds_encoder(80, 6, random_state=0)
    large = odds_encoder(30000, 9, random_state=0)
    assert small.batch_size == 40 and small.max_epochs == 100
    assert large.batch_size == 100 and large.max_epochs == 3
    assert small.hidden_layer_sizes == (16,) and odds_encoder(500, 274).hidden_layer_sizes == (64,)


def test_odds_iforest_close_to_published_on_shared_data(shared_data):
    odds = os.path.join(shared_data, "odds_pyod")
    published = os.path.join(shared_data, "baselines", "pyod_odds_roc_10trials_2019.csv")
    result = run_odds_benchmark(odds, datasets=["wbc", "lympho"], n_trials=10,
                                methods=["OCSVM", "LOF"], published_csv=published, verbose=0)
    summary = result.summary()
    for name in ("wbc", "lympho"):  # deterministic detectors: pyod's numbers to rounding
        for method in ("OCSVM", "LOF"):
            assert summary[name][method][0] == pytest.approx(
                result.published[name][method], abs=6e-4)


def test_cli_oneclass_digits_and_odds(tmp_path, capsys):
    out = tmp_path / "digits"
    rc = main(["oneclass", "--dataset", "digits", "--n", "10", "--draws", "1", "--epochs", "1",
               "--classes", "0", "1", "--methods", "corel", "ocsvm", "--out", str(out),
               "--no-cache", "--no-plot", "-q"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "COREL" in printed and "OC-SVM (raw)" in printed
    assert sorted(os.listdir(out)) == ["aurocs.csv", "results.json", "summary.csv"]
    with open(out / "summary.csv") as f:
        assert len(list(csv.DictReader(f))) == 2 * 3  # 2 methods x (2 classes + mean)

    published = _write_tiny_odds(str(tmp_path / "odds"), np.random.default_rng(1))
    rc = main(["odds", "--data-path", str(tmp_path / "odds"), "--published", published,
               "--datasets", "alpha", "--trials", "1", "--methods", "IForest", "LOF",
               "--n-jobs", "1", "--out", str(tmp_path / "odds_out"), "-q"])
    assert rc == 0
    assert "pub IForest" in capsys.readouterr().out
    assert os.path.isfile(tmp_path / "odds_out" / "odds_aurocs.png")


def test_limited_threads_sets_and_restores_torch_and_numba():
    import numba
    import torch

    before = torch.get_num_threads(), numba.get_num_threads()
    with limited_threads(1):
        assert (torch.get_num_threads(), numba.get_num_threads()) == (1, 1)
    assert (torch.get_num_threads(), numba.get_num_threads()) == before
    with limited_threads(None):
        assert (torch.get_num_threads(), numba.get_num_threads()) == before


def test_cli_reports_missing_data_clearly(tmp_path, capsys):
    missing = str(tmp_path / "no_cifar")
    rc = main(["oneclass", "--dataset", "cifar10", "--data-path", missing, "-q", "--no-cache"])
    assert rc == 2
    assert missing in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["oneclass", "--aux", "everything"])
