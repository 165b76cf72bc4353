"""Thread counts: never above the user's limit, restored after every call, fork-safe kernels."""

import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time

import joblib
import numba
import numpy as np
import pytest
import torch

from corel_sklearn import (
    BallCountOneClass,
    ClasswiseBallCount,
    TopoAutoencoder,
    connectivity_loss,
)
from corel_sklearn._threads import kernel_threads, thread_limit, threads_for_n_jobs
from corel_sklearn.ball_counting import (
    _cpu,
    ball_counts,
    branch_ball_counts,
    leave_one_out_ball_counts,
)
from corel_sklearn.pershom import _cpu_trees, _thread_planner, branch_death_times, vr_persistence_l1

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
X = np.random.default_rng(0).random((120, 12), dtype=np.float32)
Y = np.array([0, 1, 2] * 40)
WIDE = torch.tensor(np.random.default_rng(1).random((_thread_planner.SPLIT_MIN_POINTS, 40)))
BRANCHED = torch.tensor(np.random.default_rng(2).random((100, 160)))


def _autoencoder():
    return TopoAutoencoder(hidden_layer_sizes=(16,), n_branches=2, branch_dim=3,
                           batch_size=40, max_epochs=2, random_state=0)


@pytest.fixture(scope="module")
def fitted():
    ae = _autoencoder().fit(X)
    codes = ae.transform(X)
    return ae, BallCountOneClass(n_branches=2, radius=0.3).fit(codes), codes


def _public_calls(ae, model, codes):
    """Every public entry point that runs a numba kernel or builds a network."""
    z = torch.tensor(codes, requires_grad=True)
    return {
        "TopoAutoencoder.fit": lambda: _autoencoder().fit(X),
        "TopoAutoencoder.transform": lambda: ae.transform(X),
        "TopoAutoencoder.inverse_transform": lambda: ae.inverse_transform(codes),
        "pickle round trip": lambda: pickle.loads(pickle.dumps(ae)),
        "BallCountOneClass.fit": lambda: BallCountOneClass(n_branches=2).fit(codes),
        "BallCountOneClass.score_samples": lambda: model.score_samples(codes),
        "BallCountOneClass(n_jobs=-1).predict": lambda: model.set_params(n_jobs=-1).predict(
            codes),
        "ClasswiseBallCount.fit/score": lambda: ClasswiseBallCount(n_branches=2).fit(
            codes, Y).score_samples(codes),
        "ball_counts": lambda: ball_counts(codes, codes, 0.3, n_branches=2),
        "branch_ball_counts": lambda: branch_ball_counts(codes, codes, 0.3, n_threads=8),
        "leave_one_out_ball_counts": lambda: leave_one_out_ball_counts(codes, 0.3),
        "branch_death_times": lambda: branch_death_times(BRANCHED, 16),
        "vr_persistence_l1 (split)": lambda: vr_persistence_l1(WIDE),
        "connectivity_loss backward": lambda: connectivity_loss(z, 0.5, 2).backward(),
    }


@pytest.fixture
def kernel_threads_seen(monkeypatch):
    """Records numba's thread count at every call of a parallel kernel."""
    seen = []

    def spy(kernel):
        def call(*args):
            seen.append(numba.get_num_threads())
            return kernel(*args)
        return call

    for metric, entry in list(_cpu._COUNT_ENTRY.items()):
        monkeypatch.setitem(_cpu._COUNT_ENTRY, metric, spy(entry))
    for module, name in [(_cpu, "_all_finite"), (_cpu, "_pack_blocks"),
                         (_cpu_trees, "_branch_msts"), (_cpu_trees, "_split_mst")]:
        monkeypatch.setattr(module, name, spy(getattr(module, name)))
    return seen


@pytest.fixture
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_public_calls_keep_torch_at_one_thread_and_use_one(fitted, one_torch_thread,
                                                           kernel_threads_seen):
    for name, call in _public_calls(*fitted).items():
        kernel_threads_seen.clear()
        call()
        assert torch.get_num_threads() == 1, name
        assert kernel_threads_seen and max(kernel_threads_seen) == 1 or name in (
            "TopoAutoencoder.transform", "TopoAutoencoder.inverse_transform",
            "pickle round trip"), (name, kernel_threads_seen)


def test_public_calls_leave_thread_counts_as_they_were(fitted):
    before = torch.get_num_threads(), numba.get_num_threads()
    for name, call in _public_calls(*fitted).items():
        call()
        assert (torch.get_num_threads(), numba.get_num_threads()) == before, name


def test_n_jobs_and_n_threads_only_lower_the_limit(one_torch_thread):
    assert thread_limit() == 1
    assert threads_for_n_jobs(4) == threads_for_n_jobs(-1) == 1
    with kernel_threads(8) as n_threads:
        assert n_threads == 1 and numba.get_num_threads() == 1
    with pytest.raises(ValueError, match="n_jobs=0"):
        threads_for_n_jobs(0)


def test_omp_num_threads_1_is_respected():
    script = textwrap.dedent("""
        import numba, numpy as np, torch
        from corel_sklearn import BallCountOneClass, connectivity_loss
        from corel_sklearn._threads import thread_limit
        x = np.random.default_rng(0).random((300, 20))
        BallCountOneClass(n_branches=2).fit(x).score_samples(x)
        connectivity_loss(torch.tensor(x, requires_grad=True), 2.0, 2).backward()
        print(torch.get_num_threads(), thread_limit())
    """)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1"]


# ----------------------------------------------------------------------------- fork

_PARENT = {}


def _score(_):
    ae, model = _PARENT["ae"], _PARENT["model"]
    return model.score_samples(ae.transform(X))


def _fit(_):
    return _autoencoder().fit(X).transform(X)


def _persistence(_):
    return [branch_death_times(BRANCHED, 16)[0].numpy(), vr_persistence_l1(WIDE)[0][0].numpy(),
            leave_one_out_ball_counts(X, 0.5, n_branches=4)]


@pytest.fixture(scope="module")
def parent_results(fitted):
    ae, model, codes = fitted
    _PARENT.update(ae=ae, model=model)  # the forked workers inherit these
    # The parent runs every parallel kernel before forking (the case numba used to kill).
    return {"score": model.score_samples(codes), "fit": ae.transform(X),
            "persistence": _persistence(None)}


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_fork_pool_scores_fits_and_computes_persistence_like_the_parent(parent_results):
    with multiprocessing.get_context("fork").Pool(2) as pool:
        scores = pool.map_async(_score, range(2)).get(timeout=240)
        fits = pool.map_async(_fit, range(2)).get(timeout=240)
        persistence = pool.map_async(_persistence, range(2)).get(timeout=240)
    for result in scores:
        np.testing.assert_array_equal(result, parent_results["score"])
    for result in fits:
        np.testing.assert_array_equal(result, parent_results["fit"])
    for result in persistence:
        for got, expected in zip(result, parent_results["persistence"], strict=True):
            np.testing.assert_array_equal(got, expected)


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_joblib_multiprocessing_backend_scores_like_the_parent(parent_results):
    results = joblib.Parallel(n_jobs=2, backend="multiprocessing", timeout=240)(
        joblib.delayed(_score)(i) for i in range(2))
    for result in results:
        np.testing.assert_array_equal(result, parent_results["score"])


# ------------------------------------------------------------------ oversubscription


@pytest.mark.skipif(thread_limit() < 2, reason="needs two threads to choose from")
@pytest.mark.parametrize(("n", "n_branches"), [(1000, 1), (100, 16)])
def test_busy_cores_make_persistence_use_one_thread_from_the_first_call(
        monkeypatch, kernel_threads_seen, n, n_branches):
    # Another process keeps all but one core busy: a threaded kernel would wait for a
    # descheduled peer at every Prim step, so even the planner's first timings use one thread.
    monkeypatch.setattr(_thread_planner, "idle_cores", lambda: 1)
    monkeypatch.setattr(_thread_planner, "planner", _thread_planner.ThreadPlanner())
    z = torch.tensor(np.random.default_rng(3).random((n, 160), dtype=np.float32),
                     requires_grad=True)
    for _ in range(2 * _thread_planner.ThreadPlanner.samples + 1):
        connectivity_loss(z, 2.0, n_branches).backward()
    assert kernel_threads_seen == [1] * len(kernel_threads_seen) and kernel_threads_seen


def test_idle_cores_sees_a_busy_process():
    from corel_sklearn import _threads

    cores = len(os.sched_getaffinity(0))
    # The spinner says when it spins; then its runnable thread must show within a generous
    # time (the count is re-read every 20 ms; /proc/loadavg counts runnable tasks at once).
    script = ("import sys, time\nprint('spinning', flush=True)\nend = time.time() + 60\n"
              "while time.time() < end: pass")
    spinner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert spinner.stdout.readline().strip() == "spinning"
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _threads._load_cache[0] = -1.0  # re-read now
            seen.append(_threads.idle_cores())
            if seen[-1] <= max(1, cores - 1):
                break
            time.sleep(0.05)
        assert 1 <= seen[-1] <= max(1, cores - 1), seen
    finally:
        spinner.kill()
        spinner.wait()


# ------------------------------------------------------------------ interruptible calls


@numba.njit(nogil=True)
def _fill(out, value):
    if value < 0:
        raise ValueError("negative")
    for i in range(out.shape[0]):
        out[i] = value


def test_interruptible_call_runs_the_kernel_and_hands_back_its_errors():
    from corel_sklearn._numba_runtime import call_interruptibly

    out = np.zeros(4)
    call_interruptibly(_fill, (out, 2.0), 1, abort=lambda: None)
    assert out.tolist() == [2.0] * 4
    with pytest.raises(ValueError, match="negative"):
        call_interruptibly(_fill, (out, -1.0), 1, abort=lambda: None)
    # Outside the main thread (no signal can reach it) the kernel runs in the calling thread.
    threads = []

    def kernel(values):
        threads.append(threading.get_ident())
        values[:] = 3.0

    worker = threading.Thread(target=lambda: call_interruptibly(kernel, (out,), 1, abort=None))
    worker.start()
    worker.join(timeout=60)
    assert threads == [worker.ident] and out.tolist() == [3.0] * 4
