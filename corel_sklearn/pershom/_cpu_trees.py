"""The CPU tree kernels' entry points: the trees of every branch of a batch in one call.

One call finds each branch's minimum spanning tree with the dense Prim of :mod:`._prim_cpu`
and, if asked, COREL's loss on it (:mod:`._tree_loss`) in the same compiled call.

Threads. Several branches: a numba parallel loop over them (one thread runs the same compiled
loop, and so does a single cloud on one thread). One wide cloud (> 32 coordinates): split,
each thread owning a share of the points; after every step the threads swap their best
candidates through the spin barrier of :mod:`._spin_barrier` (well under a microsecond, where
a parallel region per step costs several). The split is one numba parallel loop whose
iterations join the run as they start (:func:`~._spin_barrier.join_split`); under OpenMP
they run on the threads torch uses too (numba and torch share libgomp's pool). The thread
count is the caller's ``n_threads`` or, by default, :mod:`._thread_planner`'s choice.

Interrupts. Compiled code never returns to the interpreter, so Python only sees a Ctrl-C
when the kernel returns. Calls long enough to matter run through
:func:`corel_sklearn._numba_runtime.call_interruptibly`: the kernel stops at its next Prim step
when the interpreter receives the interrupt.
"""

import numba as nb
import numpy as np

from corel_sklearn._numba_runtime import call_interruptibly, serial_twin
from corel_sklearn._threads import in_forked_child, kernel_threads
from corel_sklearn._validation import METRIC_CODES
from corel_sklearn.pershom._prim_cpu import FASTMATH, NARROW_WIDTH, prim, sorted_by_length
from corel_sklearn.pershom._spin_barrier import aborted, join_split, new_barrier, request_abort
from corel_sklearn.pershom._thread_planner import run_planned
from corel_sklearn.pershom._tree_loss import (
    branch_edge_gradient,
    death_loss,
    loss_outputs,
    loss_settings,
    no_loss,
    single_cloud_loss,
)

# Calls of at least this many coordinate operations (B^2 / 2 * d over the branches: about
# 0.1 s on one core) run where a Ctrl-C stops them (see call_interruptibly, which costs a
# helper thread, ~0.1 ms); shorter calls end soon enough by themselves.
INTERRUPTIBLE_MIN_WORK = 1_000_000_000

# The parallel kernels take arrays and scalars only: numba's parallel loops silently lose
# writes made through a tuple of arrays, so nothing is grouped in tuples here.


@nb.njit(cache=True, nogil=True, parallel=True, fastmath=FASTMATH)
def _branch_msts(metric, x, flags, edges, lengths, settings, losses, slopes, grad):
    """The trees of the branches of ``x`` (one per row of ``edges``), one iteration each.

    ``edges`` (n_branches, B-1, 2) and ``lengths`` (n_branches, B-1) receive each branch's
    tree sorted by length; ``flags`` is a barrier's (only its abort flag is read). With
    several branches and ``settings`` asking for it, each branch's loss (and gradient) is
    computed in the loop too (into ``losses``, ``slopes``, ``grad``, see :mod:`._tree_loss`).
    """
    # Branches are independent: a numba parallel loop (a few microseconds to start). One
    # thread runs this same compiled loop too. The split of one cloud (_split_mst) is other
    # compiled code, but every distance is computed by the same expression in a loop with no
    # remainder and no fused multiply-add, so it rounds the same (tested).
    n_branches = edges.shape[0]
    width = x.shape[1] // n_branches
    raw_edges = np.empty_like(edges)  # Prim order, before sorting
    raw_lengths = np.empty_like(lengths)
    slot_points = np.empty((2, 1, 0), dtype=x.dtype)  # one worker per branch: no exchange
    with_loss = settings[0].with_loss and n_branches > 1  # one cloud's comes after its tree
    eta, weight = settings[0].eta, settings[0].weight
    with_gradient = settings[0].with_gradient
    for k in nb.prange(n_branches):
        if prim(metric, x, k, width, 0, 1, flags, slot_points, raw_edges[k], raw_lengths[k]):
            sorted_by_length(raw_edges[k], raw_lengths[k], edges[k], lengths[k])
            if with_loss:
                losses[k] = death_loss(lengths[k], eta, weight, slopes[k])
                if with_gradient:
                    branch_edge_gradient(metric, x, k * width, width, edges[k], slopes[k], grad)


@nb.njit(cache=True, nogil=True, parallel=True, fastmath=FASTMATH)
def _split_mst(metric, x, n_workers, flags, slot_points, edges, lengths):
    """The tree of the one cloud ``x``, shared by ``n_workers`` iterations of a parallel loop.

    The workers meet at the spin barrier ``(flags, slot_points)`` every Prim step (one
    parallel region for the whole tree). Under OpenMP these are the threads torch uses too
    (numba and torch share libgomp's pool), so the split runs on the threads already spinning
    after torch's last op instead of competing with them for the cores.
    """
    raw_edges = np.empty_like(edges)
    raw_lengths = np.empty_like(lengths)
    width = x.shape[1]
    for _task in nb.prange(n_workers):
        role, n_joined = join_split(flags, n_workers)
        if role < n_joined:
            prim(metric, x, 0, width, role, n_joined, flags, slot_points, raw_edges[0],
                 raw_lengths[0])
    if not aborted(flags):
        sorted_by_length(raw_edges[0], raw_lengths[0], edges[0], lengths[0])


# The branch loop without a parallel region, for forked children (see
# corel_sklearn._numba_runtime.serial_twin). Its loops may round the last bit differently.
_branch_msts_serial = serial_twin(_branch_msts)


def branch_mst_cpu(x, n_branches, metric, n_threads=None):
    """MST edges of each branch of ``x`` (B, n_branches * width), as numpy arrays.

    Returns ``edges`` (n_branches, B-1, 2) int64 and ``lengths`` (n_branches, B-1) float64,
    each branch sorted by increasing length (stable, so ties keep Prim's order). The result
    does not depend on the number of threads: ``n_threads`` fixes it (tests use that), by
    default :mod:`._thread_planner` picks it.
    """
    edges, lengths, _ = _planned_run(x, n_branches, metric, n_threads, no_loss())
    return edges, lengths


def connectivity_loss_cpu(x, n_branches, metric, eta, weight=1.0, with_gradient=False,
                          n_threads=None):
    """The trees of :func:`branch_mst_cpu` and COREL's loss on them (with its gradient).

    Returns ``edges``, ``lengths`` (as :func:`branch_mst_cpu`), ``losses`` (n_branches,)
    float64: per branch the sum of ``|eta - death|`` over the non-zero deaths; ``slopes``
    (n_branches, B-1) in ``x``'s dtype: ``weight * d losses / d lengths``; and, if
    ``with_gradient``, ``grad`` (B, dim) in ``x``'s dtype: the gradient of
    ``weight * losses.sum()`` w.r.t. ``x`` (else None).
    """
    settings = loss_settings(eta, weight, with_gradient)
    edges, lengths, (losses, slopes, grad) = _planned_run(x, n_branches, metric, n_threads,
                                                          settings)
    return edges, lengths, losses, slopes, grad if with_gradient else None


def _planned_run(x, n_branches, metric, n_threads, settings):
    x = np.ascontiguousarray(x)
    if n_threads is not None:
        return run_trees(x, n_branches, metric, int(n_threads), settings)
    return run_planned(x, n_branches, metric,
                       lambda choice: run_trees(x, n_branches, metric, choice, settings))


def run_trees(x, n_branches, metric, n_threads, settings):
    """Run the kernels on ``n_threads`` threads: ``(edges, lengths, (losses, slopes, grad))``.

    ``x`` is C-contiguous; ``settings`` says whether to compute the loss (:mod:`._tree_loss`).
    """
    n, dim = x.shape
    width = dim // n_branches
    if n == 0 or width == 0:  # the kernels read x[0] and divide by the width
        raise ValueError(f"The tree kernels need points with at least one coordinate per "
                         f"branch, got shape {x.shape} with {n_branches} branches.")
    single = n_branches == 1  # one cloud: split it; several: spread the branches
    n_workers = max(1, min(n_threads, nb.config.NUMBA_NUM_THREADS,
                           n_threads if single else n_branches))
    if in_forked_child():
        n_workers = 1
    if single and width <= NARROW_WIDTH:
        # Narrow clouds are not split: one 10-wide cloud of 1000 points takes 0.5 ms on one
        # thread, a barrier per step would eat most of what a second thread saves, and a
        # point's rounding may depend on its position (vector body or remainder loop), which
        # a split would change.
        n_workers = 1
    code = METRIC_CODES[metric]
    m = max(n - 1, 0)
    edges = np.empty((n_branches, m, 2), dtype=np.int64)
    lengths = np.empty((n_branches, m), dtype=np.float64)
    losses, slopes, grad = loss_outputs(settings, x, n_branches)
    if single and n_workers > 1:
        flags, slot_points = new_barrier(n_workers, width, x.dtype)
        kernel = _split_mst
        arguments = (code, x, n_workers, flags, slot_points, edges, lengths)
    else:
        flags, _ = new_barrier(1, 0, x.dtype)
        # One thread also goes through the parallel loop: numba compiles a parallel loop's
        # body so that the narrow kernel vectorises fully, a plain one not quite. Forked
        # children take the serial twin (no parallel region).
        kernel = _branch_msts_serial if in_forked_child() else _branch_msts
        arguments = (code, x, flags, edges, lengths, settings, losses, slopes, grad)
    if n * n * width * n_branches // 2 >= INTERRUPTIBLE_MIN_WORK:
        call_interruptibly(kernel, arguments, n_workers, abort=lambda: request_abort(flags))
    else:
        with kernel_threads(n_workers):
            kernel(*arguments)
    if single and settings.item()[0]:  # with_loss
        # The branch loop computed the losses of several branches; one cloud's comes after.
        single_cloud_loss(code, x, edges, lengths, settings, losses, slopes, grad)
    return edges, lengths, (losses, slopes, grad)
