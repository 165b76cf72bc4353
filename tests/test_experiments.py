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
from corel_sklearn._threads import limited_threads
from corel_sklearn.datasets import one_class_draws
from corel_sklearn.experiments import (
    PAPER_METHODS,
    BenchmarkResult,
    encoder_cache_key,
    fit_encoder_cached,
    pyod_split,
    run_odds_benchmark,
    run_one_class_protocol,
    tabular_encoder,
)
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


def _wins_by_hand(records, winner, others, groups):
    """On how many groups the mean AUROC of ``winner`` beats every method of ``others``."""
    def mean(method, group):
        values = [r["auroc"] for r in records if r["method"] == method and r["group"] == group]
        return sum(values) / len(values)

    return sum(all(mean(winner, g) > mean(m, g) for m in others) for g in groups)


def _tiny_encoder(**params):
    settings = dict(architecture="mlp", hidden_layer_sizes=(32,), n_branches=4, branch_dim=3,
                    eta=1.0, batch_size=30, max_epochs=15, learning_rate=1e-2, random_state=0)
    return TopoAutoencoder(**{**settings, **params})


def test_protocol_end_to_end_planted_structure(tmp_path):
    X_train, y_train, X_test, y_test = _planted_classes()
    result = run_one_class_protocol(
        X_train, y_train, X_test, y_test, encoder=_tiny_encoder(), n_samples=20, n_draws=2,
        radius=1.0, target_names=["a", "b", "c"], dataset_id="planted", random_state=0,
        n_jobs=1, verbose=0,
    )
    labels = list(PAPER_METHODS)
    assert result.methods == labels and result.groups == ["a", "b", "c"]
    assert len(result.records) == len(labels) * 3 * 2
    summary = result.summary()
    for label in labels:
        assert result.aurocs(label).shape == (3, 2)
        assert summary[label]["mean"][0] > 0.9, (label, summary[label]["mean"])
    assert summary["COREL"]["mean"][0] > 0.95

    table = result.table()
    assert table.splitlines()[0].split()[:2] == ["class", "COREL"]
    assert table.splitlines()[-2].startswith("mean")
    others = labels[1:]
    wins = _wins_by_hand(result.records, "COREL", others, ["a", "b", "c"])
    assert table.splitlines()[-1] == (
        f"COREL beats all of {others} (run here) on {wins} of 3 classes.")
    paths = result.save(tmp_path / "out")
    with open(paths["csv"]) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(result.records)
    assert {r["group"] for r in rows} == {"a", "b", "c"}
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
        radius=1.5, methods=["corel", "ocsvm"], random_state=7, n_jobs=1, verbose=0,
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
    records = [dict(method=m, inlier_class=c, group=n, run=d, auroc=a)
               for m, c, n, d, a in [("A", 0, "x", 0, 0.6), ("A", 0, "x", 1, 0.8),
                                     ("A", 1, "y", 0, 1.0), ("A", 1, "y", 1, 0.9),
                                     ("B", 0, "x", 0, 0.5), ("B", 0, "x", 1, 0.5),
                                     ("B", 1, "y", 0, 0.5), ("B", 1, "y", 1, 0.7)]]
    result = BenchmarkResult(records, ["A", "B"], ["x", "y"])
    summary = result.summary()
    assert summary["A"]["x"] == pytest.approx((0.7, 0.1))
    assert summary["A"]["mean"] == pytest.approx((0.825, 0.025))  # per-draw means 0.8, 0.85
    assert summary["B"]["y"] == pytest.approx((0.6, 0.1))
    lines = result.table().splitlines()
    assert lines[2].split() == ["x", "0.700", "±", "0.100", "0.500", "±", "0.000"]
    assert lines[-1].split()[:4] == ["mean", "0.825", "±", "0.025"]
    with pytest.raises(KeyError, match="'C'"):
        result.aurocs("C")


def test_verdict_counts_wins_against_runs_and_published_by_hand():
    """COREL wins on x only (0.9 > 0.8) and ties on y (no win); beats published on x only."""
    records = [dict(method=m, group=g, run=d, auroc=a)
               for m, g, d, a in [("COREL", "x", 0, 0.9), ("COREL", "x", 1, 0.9),
                                  ("COREL", "y", 0, 0.6), ("COREL", "y", 1, 0.8),
                                  ("B", "x", 0, 0.7), ("B", "x", 1, 0.9),
                                  ("B", "y", 0, 0.7), ("B", "y", 1, 0.7)]]
    result = BenchmarkResult(records, ["COREL", "B"], ["x", "y"], group_label="dataset",
                             published={"x": {"P": 0.85}, "y": {"P": 0.75, "Q": 0.5}})
    assert result.verdict() == ("COREL beats all of ['B'] (run here) on 1 of 2 datasets, and "
                                "the best published figure of ['P', 'Q'] on 1 of 2.")
    records[2]["auroc"] = 0.7
    records[3]["auroc"] = 0.9  # y: COREL 0.8 beats B's 0.7 and the published 0.75 now
    result = BenchmarkResult(records, ["COREL", "B"], ["x", "y"], group_label="dataset",
                             published={"x": {"P": 0.85}, "y": {"P": 0.75, "Q": 0.5}})
    assert result.verdict().endswith("on 2 of 2 datasets, and the best published figure of "
                                     "['P', 'Q'] on 2 of 2.")


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
            assert summary[method][name][0] > 0.9, (name, method, summary[method][name])
    table = result.table()
    assert "pub IForest" in table and "0.950" in table
    others = ["IForest", "OCSVM", "LOF"]
    wins = _wins_by_hand(result.records, "COREL", others, ["alpha", "beta"])
    corel = {g: np.mean([r["auroc"] for r in result.records
                         if r["method"] == "COREL" and r["group"] == g]) for g in ("alpha", "beta")}
    beat = int(corel["alpha"] > 0.9) + int(corel["beta"] > 0.95)  # best published figures
    assert table.splitlines()[-1] == (
        f"COREL beats all of {others} (run here) on {wins} of 2 datasets, and the best "
        f"published figure of {result.published_columns()} on {beat} of 2.")
    paths = result.save(tmp_path / "out")
    with open(paths["summary_csv"]) as f:
        rows = list(csv.DictReader(f))
    assert [r["dataset"] for r in rows] == ["alpha", "beta", "mean"]
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


def test_tabular_encoder_is_sized_to_the_data():
    small = tabular_encoder(80, 6, random_state=0)
    large = tabular_encoder(30000, 9, random_state=0)
    # about 300 optimizer steps: 2 steps per epoch of 80 rows, 300 per epoch of 30,000
    assert small.batch_size == 40 and small.max_epochs == 150
    assert large.batch_size == 100 and large.max_epochs == 1
    # one wide branch whatever the width of the table
    for encoder in (small, large, tabular_encoder(500, 274)):
        assert (encoder.n_branches, encoder.branch_dim, encoder.hidden_layer_sizes) == \
            (1, 128, (256,))
    for n in (700, 7000):  # a longer budget: about n_steps optimizer steps
        encoder = tabular_encoder(n, 6, n_steps=2000)
        assert abs(encoder.max_epochs * (n // encoder.batch_size) - 2000) <= 35
    from corel_sklearn.experiments.cli import build_parser

    args = build_parser().parse_args(["adbench", "--encoder-steps", "2000"])
    assert args.encoder_steps == 2000


def test_odds_ocsvm_and_lof_match_published_on_shared_data(shared_data):
    odds = os.path.join(shared_data, "odds_pyod")
    published = os.path.join(shared_data, "baselines", "pyod_odds_roc_10trials_2019.csv")
    result = run_odds_benchmark(odds, datasets=["wbc", "lympho"], n_trials=10,
                                methods=["OCSVM", "LOF"], published_csv=published, verbose=0)
    summary = result.summary()
    for name in ("wbc", "lympho"):  # deterministic detectors: pyod's numbers to rounding
        for method in ("OCSVM", "LOF"):
            assert summary[method][name][0] == pytest.approx(
                result.published[name][method], abs=6e-4)


def test_cli_oneclass_digits_and_odds(tmp_path, capsys):
    out = tmp_path / "digits"
    rc = main(["oneclass", "--dataset", "digits", "--n", "10", "--draws", "1", "--epochs", "1",
               "--classes", "0", "1", "--methods", "corel", "ocsvm", "--out", str(out),
               "--no-cache", "--no-plot", "-q"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "COREL" in printed and "OCSVM" in printed
    assert sorted(os.listdir(out)) == ["aurocs.csv", "results.json", "summary.csv"]
    with open(out / "summary.csv") as f:
        assert len(list(csv.DictReader(f))) == 3  # 2 classes + mean

    published = _write_tiny_odds(str(tmp_path / "odds"), np.random.default_rng(1))
    rc = main(["odds", "--data-path", str(tmp_path / "odds"), "--published", published,
               "--datasets", "alpha", "--trials", "1", "--methods", "IForest", "LOF",
               "--n-jobs", "1", "--out", str(tmp_path / "odds_out"), "-q"])
    assert rc == 0
    assert "pub IForest" in capsys.readouterr().out
    assert os.path.isfile(tmp_path / "odds_out" / "odds_aurocs.png")
    rc = main(["odds", "--data-path", str(tmp_path / "odds"), "--datasets", "alpha", "gamma",
               "--out", str(tmp_path / "odds_out"), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "gamma.mat" in err and len(err.strip().splitlines()) == 1


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
    rc = main(["oneclass", "--dataset", "cifar10", "--data-path", missing, "-q", "--no-cache",
               "--out", str(tmp_path / "out")])
    assert rc == 2
    assert missing in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["oneclass", "--aux", "everything"])


def test_one_registry_one_spelling_for_every_command():
    from corel_sklearn.experiments import METHODS, resolve_methods

    assert [m.key for m in resolve_methods(["corel", "COREL", "ballcount-ae", "iforest"])] == \
        ["COREL", "COREL", "BallCount-AE", "IForest"]
    with pytest.raises(ValueError, match="Unknown method 'svdd'"):
        resolve_methods(["svdd"])
    parser_methods = {}
    from corel_sklearn.experiments.cli import build_parser

    for command in ("demo", "oneclass", "odds", "adbench"):
        args = build_parser().parse_args([command, "--methods", "ocsvm", "Lof"])
        parser_methods[command] = args.methods
    assert all(v == ["OCSVM", "LOF"] for v in parser_methods.values())
    assert set(METHODS) >= {"COREL", "IForest", "OCSVM", "LOF", "KNN", "ECOD"}


@pytest.mark.parametrize("name", ["KNN", "ECOD", "IForest", "LOF", "OCSVM"])
def test_registry_scores_point_towards_anomalies(name):
    """Each method's anomaly scores equal its own library's, oriented higher = abnormal."""
    pytest.importorskip("pyod")
    from pyod.utils.data import generate_data

    from corel_sklearn.experiments import METHODS, MethodContext

    X_train, X_test, _, y_test = generate_data(n_train=150, n_test=80, n_features=3,
                                               contamination=0.1, random_state=3)
    method = METHODS[name]
    context = MethodContext(n_fit=150, random_state=0, style="pyod")
    anomaly = method.anomaly_scores(X_train, X_test, context)
    reference = method.make(context).fit(X_train)
    expected = reference.decision_function(X_test) if method.convention == "pyod" else \
        -reference.score_samples(X_test)
    np.testing.assert_array_equal(anomaly, expected)
    assert roc_auc_score(y_test, anomaly) > 0.8


def _adbench_reference_split(X, y, seed):
    """ADBench's DataGenerator.generator (unsupervised, la=0) with numpy's global seed."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    np.random.seed(seed)  # noqa: NPY002 (ADBench's global seeding, reproduced)
    if len(y) < 1000:
        np.random.seed(seed)  # noqa: NPY002 (ADBench's global seeding, reproduced)
        idx = np.random.choice(np.arange(len(y)), 1000, replace=True)  # noqa: NPY002 (ADBench's global seeding, reproduced)
        X, y = X[idx], y[idx]
    if len(y) > 10000:
        np.random.seed(seed)  # noqa: NPY002 (ADBench's global seeding, reproduced)
        idx = np.random.choice(np.arange(len(y)), 10000, replace=False)  # noqa: NPY002 (ADBench's global seeding, reproduced)
        X, y = X[idx], y[idx]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, shuffle=True,
                                                        stratify=y)
    scaler = MinMaxScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@pytest.mark.parametrize("n", [300, 4000, 12000])
def test_adbench_split_draws_what_adbench_draws(n, rng):
    from corel_sklearn.experiments import adbench_split

    X = rng.normal(size=(n, 3))
    y = (rng.random(n) < 0.1).astype(int)
    state = np.random.get_state()  # noqa: NPY002 (ADBench's global seeding, reproduced)
    try:
        expected = _adbench_reference_split(X, y, seed=2)
    finally:
        np.random.set_state(state)  # noqa: NPY002 (ADBench's global seeding, reproduced)
    for ours, theirs in zip(adbench_split(X, y, 2), expected, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    X_fit, X_test, y_fit, y_test = adbench_split(X, y, 2, setting="semi-supervised")
    assert (y_fit == 0).all() and len(X_fit) == (expected[2] == 0).sum()
    np.testing.assert_array_equal(X_test, expected[1])
    X_fit, _, y_fit, _ = adbench_split(X, y, 2, setting="semi-supervised", labeled_ratio=0.5)
    n_anomalies = int(expected[2].sum())
    assert y_fit.sum() == n_anomalies - int(np.ceil(0.5 * n_anomalies))


def _write_tiny_adbench(folder, rng):
    os.makedirs(folder, exist_ok=True)
    for stem, n, d in (("1_alpha", 300, 4), ("2_Beta", 500, 6)):
        X = rng.normal(size=(n, d))
        y = np.zeros(n, dtype=int)
        y[:30] = 1
        X[:30] += 6 * rng.choice([-1, 1], size=(30, d))
        np.savez(os.path.join(folder, f"{stem}.npz"), X=X, y=y)
    published = os.path.join(folder, "published.csv")
    with open(published, "w") as f:
        f.write(",IForest,OCSVM,LOF\n"
                "\"('alpha_withoutdupl_7', 0.0, 1)\",0.9,0.8,0.7\n"
                "\"('alpha_withoutdupl_7', 0.0, 2)\",0.7,0.8,0.9\n"
                "\"('alpha_withoutdupl_7', 0.01, 1)\",,,\n"
                "\"('beta.diff', 0.0, 1)\",0.5,,0.6\n"
                "\"('gamma', 0.0, 1)\",,,\n")
    return published


def test_adbench_runner_and_published_table(tmp_path, rng):
    from corel_sklearn.experiments import read_adbench_published, run_adbench_benchmark

    folder = str(tmp_path / "adbench")
    published = _write_tiny_adbench(folder, rng)
    assert read_adbench_published(published) == {
        "alpha": {"IForest": 0.8, "OCSVM": 0.8, "LOF": 0.8}, "beta": {"IForest": 0.5, "LOF": 0.6}}

    def make_encoder(n_samples, n_features, random_state):
        return _tiny_encoder(n_branches=2, branch_dim=2, batch_size=50, max_epochs=3,
                             random_state=random_state)

    result = run_adbench_benchmark(folder, datasets=["beta", "1_alpha"], seeds=[1],
                                   methods=["COREL-count", "IForest", "LOF"],
                                   make_encoder=make_encoder, published_csv=published,
                                   verbose=0)
    assert result.groups == ["2_Beta", "1_alpha"]
    assert result.published == {"2_Beta": {"IForest": 0.5, "LOF": 0.6},
                                "1_alpha": {"IForest": 0.8, "LOF": 0.8}}
    summary = result.summary()
    for method in ("COREL-count", "IForest", "LOF"):
        assert summary[method]["1_alpha"][0] > 0.9, (method, summary[method])
    assert "pub IForest" in result.table()
    # every set reports where COREL's encoder ended, and its share of copied test normals
    for name in result.groups:
        info = result.info[name]
        assert info["corel_death_over_eta"] > 0 and info["corel_n_steps"] > 0
        assert info["corel_reached_eta"] == (0.75 <= info["corel_death_over_eta"] <= 1.25)
        assert 0.0 <= info["copy_share"] <= 1.0
    semi = run_adbench_benchmark(folder, datasets=["alpha"], seeds=[1], methods=["IForest"],
                                 setting="semi-supervised", published_csv=published, verbose=0)
    assert semi.published == {} and semi.settings["setting"] == "semi-supervised"
    with pytest.raises(ValueError, match="Unknown ADBench set"):
        run_adbench_benchmark(folder, datasets=["gamma"], verbose=0)


@pytest.mark.parametrize("argv, match", [
    (["odds", "--trials", "0"], "argument --n-trials/--trials: must be >= 1, got 0"),
    (["odds", "--encoder-n-jobs", "0"], "argument --encoder-n-jobs: must be a positive count"),
    (["oneclass", "--n-jobs", "0"], "argument --n-jobs: must be a positive count or -1"),
    (["odds", "--n-jobs", "0"], "argument --n-jobs: must be a positive count or -1"),
    (["oneclass", "--n", "-5"], "argument --n-samples/--n: must be >= 1, got -5"),
    (["oneclass", "--draws", "two"], "argument --n-draws/--draws: expected an integer, got 'two'"),
    (["demo", "--radius", "0"], "argument --radius: must be > 0.0, got 0"),
    (["adbench", "--labeled-ratio", "1.5"], r"must be in \[0.0, 1.0\], got 1.5"),
    (["adbench", "--methods", "svdd"], "Unknown method 'svdd'"),
])
def test_cli_bad_arguments_give_one_line_and_exit_2(argv, match, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert pytest.importorskip("re").search(match, err), err


def test_cli_checks_folders_before_training_and_reports_corrupt_files(tmp_path, capsys,
                                                                      monkeypatch):
    import corel_sklearn.experiments._protocol as protocol

    def must_not_train(*args, **kwargs):
        raise AssertionError("trained although the output folder is unwritable")

    monkeypatch.setattr(protocol, "run_one_class_protocol", must_not_train)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    for option in ("--out", "--cache-dir"):
        argv = ["demo", option, str(blocker / "sub"), "-q"]
        if option == "--cache-dir":
            argv += ["--out", str(tmp_path / "ok")]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and f"{option} folder" in err, err
    batches = tmp_path / "cifar" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    for name in ("batches.meta", "test_batch", *[f"data_batch_{i}" for i in range(1, 6)]):
        (batches / name).write_bytes(b"\x80\x04truncated")
    assert main(["oneclass", "--dataset", "cifar10", "--data-path", str(batches.parent),
                 "--out", str(tmp_path / "o"), "--no-cache", "-q"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    corrupt = tmp_path / "adbench"
    corrupt.mkdir()
    (corrupt / "1_bad.npz").write_bytes(b"not an npz archive")
    assert main(["adbench", "--data-path", str(corrupt), "--out", str(tmp_path / "o"),
                 "--settings", "unsupervised", "--published", "none", "-q"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "1_bad.npz" in err, err


def test_cache_writes_are_atomic_and_never_lose_the_fit(tmp_path, monkeypatch):
    import zipfile

    X = _planted_classes(seed=5)[0]

    class FullDisk(zipfile.ZipFile):
        def writestr(self, *args, **kwargs):
            super().writestr(*args, **kwargs)
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile, "ZipFile", FullDisk)
    fitted, info = fit_encoder_cached(_tiny_encoder(max_epochs=1), X, dataset_id="d",
                                      aux="train", cache_dir=str(tmp_path), verbose=0)
    assert hasattr(fitted, "module_") and info["path"] is None and not info["cached"]
    assert os.listdir(tmp_path) == []  # no truncated entry, no temporary file left
    monkeypatch.undo()
    fitted, info = fit_encoder_cached(_tiny_encoder(max_epochs=1), X, dataset_id="d",
                                      aux="train", cache_dir=str(tmp_path), verbose=0)
    assert sorted(os.listdir(tmp_path)) == sorted(
        [os.path.basename(info["path"]), os.path.basename(info["path"])[:-4] + ".json"])


def test_ranking_separates_copy_affected_sets_and_ranks_variants_in_corels_place():
    from corel_sklearn.experiments import BenchmarkResult

    aurocs = {  # hand-made: on "a" COREL is first, on "b" third; "b" is copy-affected
        ("COREL", "a"): 0.9, ("KNN", "a"): 0.8, ("IForest", "a"): 0.7, ("COREL-count", "a"): 0.6,
        ("COREL", "b"): 0.5, ("KNN", "b"): 0.7, ("IForest", "b"): 0.6, ("COREL-count", "b"): 0.8,
    }
    records = [dict(method=m, group=g, run=1, auroc=v, seconds=0.0)
               for (m, g), v in aurocs.items()]
    result = BenchmarkResult(records, ["COREL", "KNN", "IForest", "COREL-count"], ["a", "b"],
                             info={"a": {"copy_share": 0.0}, "b": {"copy_share": 0.4}})
    rows = result.ranking()
    assert rows.pop("groups") == (2, 1, 1)
    assert rows["COREL"] == {"all": 0.7, "clean": 0.9, "copy": 0.5, "rank": 2.0}
    assert rows["KNN"]["rank"] == 1.5  # 2nd on "a", 1st on "b" (COREL-count is not its peer)
    # the variant takes COREL's place: 4th of 3 + itself on "a" = 3rd, 1st on "b"
    assert rows["COREL-count"]["rank"] == 2.0
    assert result.ranking_table().splitlines()[1].startswith("KNN")
