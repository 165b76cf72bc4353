"""The CPU Prim kernel's threaded paths: same tree for any number of threads, ripser deaths.

The split of one cloud over threads (a spin barrier per Prim step), the parallel loop over
branches and the timing-based thread planner must never change a result, only the speed.
"""

import os
import threading

import numba as nb
import numpy as np
import pytest
import torch
from ripser import ripser
from scipy.spatial.distance import cdist

from corel_sklearn._threads import kernel_threads
from corel_sklearn._validation import METRIC_CODES
from corel_sklearn.losses import connectivity_loss
from corel_sklearn.pershom import _cpu_trees, branch_death_times, edge_lengths
from corel_sklearn.pershom._cpu_trees import branch_mst_cpu, connectivity_loss_cpu
from corel_sklearn.pershom._prim_cpu import prim
from corel_sklearn.pershom._spin_barrier import new_barrier, request_abort
from corel_sklearn.pershom._thread_planner import SPLIT_MIN_POINTS as _SPLIT_MIN_POINTS
from corel_sklearn.pershom._thread_planner import ThreadPlanner as _ThreadPlanner
from corel_sklearn.pershom._tree_loss import edge_length_gradient_cpu

RIPSER_METRICS = {"l1": "cityblock", "l2": "euclidean", "linf": "chebyshev"}


def cloud(rng, n, d, kind, dtype):
    if kind == "grid":  # integer coordinates: exact distances, many ties
        return rng.integers(0, 3, size=(n, d)).astype(dtype)
    return rng.standard_normal((n, d)).astype(dtype)


@pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n", "d", "kind"), [
    (3, 40, "gaussian"),     # fewer points than threads: some own none
    (257, 160, "gaussian"),  # COREL's latent width in one branch
    (300, 33, "gaussian"),   # the narrowest width that is split
    (200, 47, "gaussian"),
    (400, 36, "grid"),       # exact ties everywhere
    (130, 40, "grid"),
    (300, 10, "gaussian"),   # narrow clouds are not split: still one tree for any n_threads
])
def test_split_cloud_gives_the_same_tree_for_any_number_of_threads(metric, dtype, n, d, kind):
    x = cloud(np.random.default_rng(n + d), n, d, kind, dtype)
    edges, lengths = branch_mst_cpu(x, 1, metric, n_threads=1)
    for n_threads in (2, 3, 4):
        split_edges, split_lengths = branch_mst_cpu(x, 1, metric, n_threads=n_threads)
        np.testing.assert_array_equal(split_edges, edges)
        np.testing.assert_array_equal(split_lengths, lengths)
    reference = ripser(cdist(x.astype(np.float64), x.astype(np.float64), RIPSER_METRICS[metric]),
                       maxdim=0, distance_matrix=True)["dgms"][0][:, 1]
    # ripser.py drops zero-length bars (duplicate points) and reports float32 deaths
    reference = np.sort(reference[np.isfinite(reference) & (reference > 0)])
    np.testing.assert_allclose(lengths[0][lengths[0] > 0], reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
@pytest.mark.parametrize(("n_branches", "width"), [(16, 10), (3, 40), (5, 1)])
def test_branches_give_the_same_trees_for_any_number_of_threads(metric, n_branches, width):
    x = cloud(np.random.default_rng(width), 120, n_branches * width, "gaussian", np.float32)
    edges, lengths = branch_mst_cpu(x, n_branches, metric, n_threads=1)
    for n_threads in (2, 4):
        threaded_edges, threaded_lengths = branch_mst_cpu(x, n_branches, metric, n_threads)
        np.testing.assert_array_equal(threaded_edges, edges)
        np.testing.assert_array_equal(threaded_lengths, lengths)
    for k in range(n_branches):  # each branch is the tree of its own slice
        single_edges, _ = branch_mst_cpu(x[:, k * width:(k + 1) * width], 1, metric, 1)
        np.testing.assert_array_equal(single_edges[0], edges[k])


def test_split_cloud_from_several_python_threads_at_once():
    """Concurrent split runs (each its own OpenMP team) neither deadlock nor mix results."""
    rng = np.random.default_rng(0)
    clouds = [rng.standard_normal((_SPLIT_MIN_POINTS + 40, 48)).astype(np.float32)
              for _ in range(4)]
    expected = [branch_mst_cpu(c, 1, "l1", n_threads=1)[0] for c in clouds]
    results = [None] * len(clouds)

    def run(i):
        results[i] = branch_mst_cpu(clouds[i], 1, "l1", n_threads=2)[0]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clouds))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
@pytest.mark.parametrize(("n_branches", "width"), [(1, 48), (4, 10)])
def test_fused_loss_and_gradient_do_not_depend_on_threads(metric, n_branches, width):
    x = cloud(np.random.default_rng(5), _SPLIT_MIN_POINTS + 3, n_branches * width, "gaussian",
              np.float32)
    one = connectivity_loss_cpu(x, n_branches, metric, 2.0, 0.25, True, n_threads=1)
    for n_threads in (2, 4):
        threaded = connectivity_loss_cpu(x, n_branches, metric, 2.0, 0.25, True, n_threads)
        for got, want in zip(threaded, one, strict=True):
            np.testing.assert_array_equal(got, want)
    edges, lengths, losses, slopes, grad = one
    alive = lengths > 0
    np.testing.assert_allclose(losses, np.where(alive, np.abs(2.0 - lengths), 0).sum(1))
    np.testing.assert_array_equal(slopes, 0.25 * np.where(alive, np.sign(lengths - 2.0), 0))
    np.testing.assert_allclose(grad, edge_length_gradient_cpu(x, edges, slopes, metric),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_loss_and_gradient_are_exact_left_to_right_arithmetic(dtype):
    """The loss pass is compiled without fast-math whatever kernel calls it (numba would
    otherwise compile it with the flags of the kernel that first needs it): each branch's loss
    is the left-to-right float64 sum over its sorted deaths, and the l2 gradient the textbook
    formula in the points' dtype, bit for bit."""
    x = cloud(np.random.default_rng(8), 100, 16 * 10, "gaussian", dtype)
    edges, lengths, losses, slopes, grad = connectivity_loss_cpu(x, 16, "l2", 1.5, 0.25, True,
                                                                 n_threads=1)
    reference = np.zeros_like(x)
    for k in range(16):
        expected = 0.0
        for death in lengths[k]:
            if death > 0:
                expected += abs(1.5 - death)
        assert losses[k] == expected, k
        columns = slice(10 * k, 10 * (k + 1))
        for (i, j), slope in zip(edges[k], slopes[k], strict=True):
            diff = x[i, columns] - x[j, columns]
            norm = dtype(0)
            for value in diff:
                norm = dtype(norm + value * value)
            scale = dtype(slope) / np.sqrt(norm) if norm > 0 else dtype(0)
            reference[i, columns] += scale * diff
            reference[j, columns] -= scale * diff
    np.testing.assert_array_equal(grad, reference)


def test_split_run_finishes_when_its_workers_run_in_turn():
    """Two workers, one thread: the first waits, closes the run and builds the tree alone."""
    x = np.random.default_rng(2).standard_normal((_SPLIT_MIN_POINTS + 5, 40)).astype(np.float32)
    edges, lengths = branch_mst_cpu(x, 1, "l1", n_threads=1)
    in_turn_edges = np.empty_like(edges)
    in_turn_lengths = np.empty_like(lengths)
    flags, slot_points = new_barrier(2, x.shape[1], x.dtype)
    with kernel_threads(1):  # the split kernel's two iterations on one thread
        _cpu_trees._split_mst(METRIC_CODES["l1"], x, 2, flags, slot_points, in_turn_edges,
                              in_turn_lengths)
    np.testing.assert_array_equal(in_turn_edges, edges)
    np.testing.assert_array_equal(in_turn_lengths, lengths)


@nb.njit(nogil=True, cache=True)
def _prim_worker(x, worker, n_workers, flags, slot_points, raw_edges, raw_lengths):
    """One worker of a split l1 Prim run, called from a Python thread of its own."""
    return prim(0, x, 0, x.shape[1], worker, n_workers, flags, slot_points, raw_edges,
                raw_lengths)


def _run_workers(x, n_workers, flags, slot_points):
    """Each worker in its own Python thread: all take part, whatever numba's threads do."""
    n = x.shape[0]
    raw_edges = np.full((n - 1, 2), -1, dtype=np.int64)
    raw_lengths = np.full(n - 1, np.nan)
    finished = [None] * n_workers

    def run(worker):
        finished[worker] = _prim_worker(x, worker, n_workers, flags, slot_points, raw_edges,
                                        raw_lengths)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(n_workers)]
    for thread in threads:
        thread.start()
    return threads, finished, raw_edges, raw_lengths


@pytest.mark.parametrize("n_workers", [2, 3])
def test_workers_exchanging_candidates_at_the_barrier_build_the_one_thread_tree(n_workers):
    # Integer grid: exact distances, many ties; the exchange must follow the same tie rule.
    x = np.random.default_rng(6).integers(0, 4, size=(90, 40)).astype(np.float32)
    threads, finished, raw_edges, raw_lengths = _run_workers(
        x, n_workers, *new_barrier(n_workers, x.shape[1], x.dtype))
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert finished == [True] * n_workers
    order = np.argsort(raw_lengths, kind="mergesort")  # the kernels' sort
    edges, lengths = branch_mst_cpu(x, 1, "l1", n_threads=1)
    np.testing.assert_array_equal(raw_edges[order], edges[0])
    np.testing.assert_array_equal(raw_lengths[order], lengths[0])


def test_abort_stops_a_worker_waiting_for_a_peer_that_never_comes():
    x = np.random.default_rng(7).standard_normal((64, 40)).astype(np.float32)
    scratch = np.empty((63, 2), np.int64), np.empty(63)
    assert _prim_worker(x, 0, 1, *new_barrier(1, 40, x.dtype), *scratch)  # compiled
    # Worker 0 of 2 alone: it waits at the first step's barrier until the abort flag is set.
    flags, slot_points = new_barrier(2, x.shape[1], x.dtype)
    finished = []
    lone = threading.Thread(
        target=lambda: finished.append(_prim_worker(x, 0, 2, flags, slot_points, *scratch)))
    lone.start()
    lone.join(timeout=0.2)
    assert lone.is_alive()  # still waiting for worker 1
    request_abort(flags)
    lone.join(timeout=60)
    assert not lone.is_alive() and finished == [False]
    # A run whose abort flag is already set returns at once, its tree unfinished.
    assert not _prim_worker(x, 0, 1, flags, slot_points, *scratch)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize(("n", "n_branches", "width"), [(100, 16, 10), (_SPLIT_MIN_POINTS, 1, 40)])
def test_forked_child_computes_the_loss(n, n_branches, width):
    """GNU OpenMP is not fork-safe and numba terminates a forked child that starts a parallel
    region after its parent did; in a forked child the kernels run without one."""
    z = torch.tensor(cloud(np.random.default_rng(4), n, n_branches * width, "gaussian",
                           np.float64), requires_grad=True)
    expected = connectivity_loss(z, 2.0, n_branches)  # the parent runs the parallel kernels
    expected.backward()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the loss and gradient sum, whatever happens
        status = 1
        try:
            z.grad = None
            loss = connectivity_loss(z, 2.0, n_branches)
            loss.backward()
            os.write(write_end, f"{loss.item()!r} {z.grad.abs().sum().item()!r}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        message = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"child ended with {status}: {message!r}"
    loss, grad_sum = map(float, message.split())
    np.testing.assert_allclose(loss, expected.item(), rtol=1e-12)
    np.testing.assert_allclose(grad_sum, z.grad.abs().sum().item(), rtol=1e-12)


def test_planner_times_both_choices_then_keeps_the_faster():
    planner = _ThreadPlanner()
    shape = ("a shape",)
    seen = []
    for _ in range(2 * planner.samples):  # exploration: every choice timed `samples` times
        choice = planner.choose(shape, 2)
        seen.append(choice)
        planner.record(shape, choice, 1.0 if choice == 1 else 0.5)
    assert sorted(seen) == [1] * planner.samples + [2] * planner.samples
    picks = [planner.choose(shape, 2) for _ in range(planner.recheck_every)]
    assert picks.count(2) == planner.recheck_every - 1  # the faster, but for one re-timing
    assert picks.count(1) == 1
    for _ in range(planner.samples):  # conditions change: two threads become slow
        planner.record(shape, 2, 3.0)
    assert planner.choose(shape, 2) == 1
    assert planner.choose(("small",), None) == 1  # nothing to choose from


def test_planned_runs_match_fixed_thread_counts():
    x = np.random.default_rng(1).standard_normal((_SPLIT_MIN_POINTS + 8, 40)).astype(np.float32)
    expected = branch_mst_cpu(x, 1, "l2", n_threads=1)
    for _ in range(2 * _ThreadPlanner.samples + 1):  # through exploration and choice
        got = branch_mst_cpu(x, 1, "l2")
        np.testing.assert_array_equal(got[0], expected[0])


@pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
@pytest.mark.parametrize("kind", ["gaussian", "grid"])
def test_compiled_backward_equals_autograd_through_torch_ops(metric, kind):
    """The kernel's backward against torch autograd on the same edges (incl. ties, zeros)."""
    rng = np.random.default_rng(2)
    points = cloud(rng, 40, 12, kind, np.float64)
    points[5] = points[6]  # a zero-length edge
    edges, _ = branch_mst_cpu(points, 3, metric, n_threads=1)
    weights = rng.standard_normal(edges.shape[:2])
    z = torch.tensor(points, requires_grad=True)
    (edge_lengths(z, torch.from_numpy(edges), 3, metric) * torch.tensor(weights)).sum().backward()
    grad = edge_length_gradient_cpu(points, edges, weights, metric)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
def test_double_backward_matches_torch_ops(metric):
    rng = np.random.default_rng(3)
    z = torch.tensor(rng.standard_normal((15, 6)), requires_grad=True)
    deaths, edges = branch_death_times(z, 2, metric)
    (grad,) = torch.autograd.grad(deaths.pow(2).sum(), z, create_graph=True)
    (second,) = torch.autograd.grad(grad.pow(2).sum(), z)
    w = z.detach().clone().requires_grad_()
    reference = edge_lengths(w, edges, 2, metric)
    (grad_ref,) = torch.autograd.grad(reference.pow(2).sum(), w, create_graph=True)
    (second_ref,) = torch.autograd.grad(grad_ref.pow(2).sum(), w)
    torch.testing.assert_close(grad, grad_ref)
    torch.testing.assert_close(second, second_ref)
    assert torch.autograd.gradgradcheck(lambda p: branch_death_times(p, 2, metric)[0], (z,))
