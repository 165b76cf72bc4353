"""Scoring and search on a dask LocalCluster (2 worker processes, 1 thread each, loopback)."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from _small_autoencoder import small
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

import corel_sklearn
from corel_sklearn import BallCountOneClass, ClasswiseBallCount
from corel_sklearn.model_selection import OneClassKFold, make_anomaly_scorer

pytest.importorskip("dask.distributed")
import dask.array as da  # noqa: E402
import joblib  # noqa: E402
from dask.distributed import Client, get_task_stream  # noqa: E402

from corel_sklearn.distributed.dask import (  # noqa: E402
    local_cluster,
    map_method,
    worker_environment,
    worker_thread_counts,
)


@pytest.fixture(scope="module")
def client():
    with local_cluster(2, threads_per_worker=1, memory_limit="2GiB") as cluster, \
            Client(cluster, timeout="60s") as client:
        client.wait_for_workers(2, timeout=60)
        yield client


def synthetic_codes(n, n_classes=3, seed=0):
    """Codes of 16 branches x 10 dims near per-class centres, so counts are neither 0 nor all."""
    centres = np.random.default_rng(0).normal(0.0, 1.0, (n_classes, 160)).astype(np.float32)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    return (centres[y] + rng.normal(0.0, 0.15, (n, 160))).astype(np.float32), y


def test_workers_run_one_thread_each(client):
    counts = worker_thread_counts(client)
    assert len(counts) == 2
    for address, threads in counts.items():
        assert threads == {"torch": 1, "numba": 1}, address


@pytest.mark.slow  # a fresh interpreter and its own cluster of worker processes
def test_limits_hold_when_the_main_script_imports_numba(tmp_path):
    # Spawned workers import the main script again, so numba is imported before dask's
    # post-spawn environment could apply: the limits must be set before spawning.
    script = tmp_path / "score.py"
    script.write_text(
        "import os\n"
        "import numba  # noqa: F401\n"
        "from dask.distributed import Client\n"
        "from corel_sklearn.distributed.dask import local_cluster, worker_thread_counts\n"
        "if __name__ == '__main__':\n"
        "    before = os.environ.get('NUMBA_NUM_THREADS')\n"
        "    with local_cluster(1) as cluster, Client(cluster) as client:\n"
        "        counts = list(worker_thread_counts(client).values())\n"
        "    print(counts, os.environ.get('NUMBA_NUM_THREADS') == before)\n"
    )
    root = os.path.dirname(os.path.dirname(corel_sklearn.__file__))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    env.pop("NUMBA_NUM_THREADS", None)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, env=env, check=True).stdout
    assert out.strip().splitlines()[-1] == "[{'torch': 1, 'numba': 1}] True"


def test_worker_environment_rejects_zero_threads():
    with pytest.raises(ValueError, match="n_threads must be a positive int, got 0"):
        worker_environment(0)


@pytest.mark.parametrize("scoring", ["count", "knn_distance"])
def test_classwise_scores_on_cluster_equal_local(client, scoring):
    anchors, y = synthetic_codes(600)
    queries, _ = synthetic_codes(500, seed=1)
    model = ClasswiseBallCount(radius=2.0, scoring=scoring, contamination="auto").fit(anchors, y)
    X = da.from_array(queries, chunks=(100, 160))
    for method in ("score_samples", "predict"):
        result = map_method(model, X, method, client=client)
        assert result.shape == (500, 3) and result.chunks[0] == X.chunks[0]
        expected = getattr(model, method)(queries)
        computed = result.compute()
        assert computed.dtype == expected.dtype
        np.testing.assert_array_equal(computed, expected)
    assert ((expected == 1).any(axis=0) & (expected == -1).any(axis=0)).all()  # both kinds


def test_model_travels_once_per_worker_not_per_block(client):
    anchors, y = synthetic_codes(4000)
    model = ClasswiseBallCount(contamination="auto").fit(anchors, y)
    X = da.from_array(synthetic_codes(400, seed=2)[0], chunks=(20, 160))  # 20 blocks
    result = map_method(model, X, n_outputs=3, client=client)
    tasks = {k: t for k, t in dict(result.__dask_graph__()).items() if k not in X.dask}
    assert len(tasks) == 20
    assert len(pickle.dumps(tasks)) < anchors.nbytes / 100  # tasks refer to it, never embed it
    (model_key,) = set.intersection(*(set(t.dependencies) for t in tasks.values())) - set(X.dask)
    assert len(client.who_has()[model_key]) == 2  # one copy on each worker
    np.testing.assert_array_equal(result.compute(), model.score_samples(X.compute()))


def test_pipeline_decision_function_on_cluster(client):
    rng = np.random.default_rng(0)
    X_train = rng.random((120, 12), dtype=np.float32)
    pipe = Pipeline([
        ("enc", small(hidden_layer_sizes=(16,), branch_dim=3, batch_size=40, max_epochs=1,
                      device="cpu")),
        ("oc", BallCountOneClass(n_branches=2, radius=0.5, contamination="auto")),
    ]).fit(X_train)
    X_test = rng.random((90, 12), dtype=np.float32)
    scores = map_method(pipe, da.from_array(X_test, chunks=(30, 12)), "decision_function",
                        client=client).compute()
    # Block by block here too: codes may differ in the last bit between batch compositions.
    expected = np.concatenate([pipe.decision_function(X_test[i:i + 30]) for i in (0, 30, 60)])
    np.testing.assert_array_equal(scores, expected)


def test_map_method_rejects_numpy_input():
    model = BallCountOneClass(n_branches=1)  # input is checked before the model is used
    with pytest.raises(TypeError, match="dask.array.from_array"):
        map_method(model, np.eye(4))
    with pytest.raises(ValueError, match="has no method 'transform'"):
        map_method(model, da.eye(4), "transform")


def test_grid_search_under_dask_backend_equals_serial(client):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.5, (60, 4)), rng.uniform(-4, 4, (15, 4))]).astype(np.float32)
    y = np.r_[np.zeros(60, int), np.ones(15, int)]
    order = rng.permutation(len(y))
    X, y = X[order], y[order]

    def search(n_jobs=None):
        return GridSearchCV(
            BallCountOneClass(n_branches=1, contamination="auto"),
            {"radius": [0.25, 0.5, 1.0, 2.0]},
            cv=OneClassKFold(3, shuffle=True, random_state=0),
            scoring=make_anomaly_scorer("roc_auc"), refit=False, n_jobs=n_jobs,
        ).fit(X, y)

    serial = search()
    with joblib.parallel_config(backend="dask"):
        with get_task_stream(client) as stream:
            on_dask = search(n_jobs=-1)
    assert stream.data  # the fits ran on the cluster (joblib batches them into tasks)
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        np.testing.assert_array_equal(on_dask.cv_results_[key], serial.cv_results_[key])
    assert on_dask.best_params_ == serial.best_params_
    assert len(set(serial.cv_results_["mean_test_score"])) > 1  # the grid matters


def test_core_package_never_imports_dask():
    code = (
        "import sys, corel_sklearn, corel_sklearn.distributed, corel_sklearn.estimators;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', "
        "'ray')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip() == "[]"
