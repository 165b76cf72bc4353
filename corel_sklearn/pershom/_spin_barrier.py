"""The spin barrier that lets several threads share the Prim steps of one point cloud.

A Prim step of a 1000-point cloud takes a few microseconds; a parallel region per step would
cost more than the step. So the workers of a split run stay in one parallel region and meet
at a barrier after every step: each publishes its best candidate (key bits, vertex id,
coordinates) in a double-buffered slot, raises its flag to the step number, and spins until
every other worker's flag has reached it (two cache-line transfers, well under a microsecond).

The flags also carry the *join* state of a split run (:func:`join_split`) and an *abort*
flag: the kernels read it at every Prim step and at every pause of a wait, and stop early
when it is set (:func:`request_abort`), so that a Ctrl-C is honoured during a long call.

A barrier is two arrays, both passed to the kernels as they are (numba's parallel loops take
arrays and scalars: writes through a tuple of arrays inside one are silently lost):

* ``flags``, int64: the join state, the abort flag and one flag per worker, 128 bytes apart
  so that no two threads write to the same cache line; then the candidate *slots*, two int64
  (key bits, vertex id) per worker and step parity;
* ``slot_points``, shape (2, n_workers, width) in the points' dtype: the candidates'
  coordinates, by step parity and worker.
"""

import numba as nb
import numpy as np

from corel_sklearn.pershom._intrinsics import (
    atomic_compare_exchange,
    atomic_load_acquire,
    atomic_store_release,
    yield_cpu,
)

# Flags sit 128 bytes apart so that threads never share a cache line.
_FLAG_STRIDE = 16
# Spins between yields while waiting: keeps waiting cheap on an oversubscribed machine.
_SPINS_PER_YIELD = 2000
# How long the first workers of a split wait for the others (in yields, about a millisecond)
# before sharing the tree among themselves.
_JOIN_YIELDS = 200
# The flags, in order: the join state of a split run, the abort flag, one flag per worker.
_JOIN_FLAG = 0
_ABORT_FLAG = 1
_FIRST_WORKER_FLAG = 2
_CLOSED = 1 << 32  # added to the join state once the run is closed to late workers


def new_barrier(n_workers, width, dtype):
    """``(flags, slot_points)`` for ``n_workers`` sharing a cloud ``width`` wide.

    A single worker (a branch of the branch loop) only reads the abort flag.
    """
    flags = np.zeros((_FIRST_WORKER_FLAG + n_workers) * _FLAG_STRIDE + 2 * n_workers * 2,
                     dtype=np.int64)
    slot_points = np.zeros((2, n_workers, width), dtype=dtype)
    return flags, slot_points


def request_abort(flags):
    """Ask the kernels running on the barrier ``flags`` to stop (their results are then void)."""
    flags[_ABORT_FLAG * _FLAG_STRIDE] = 1


@nb.njit(inline="always")
def aborted(flags):
    return atomic_load_acquire(flags, _ABORT_FLAG * _FLAG_STRIDE) != 0


@nb.njit(inline="always")
def _wait_until(flags, index, value):
    """Spin until ``flags[index] >= value``, yielding the core now and then.

    Returns False if the run was aborted meanwhile (the awaited worker may have stopped).
    """
    spins = 0
    while atomic_load_acquire(flags, index) < value:
        spins += 1
        if spins == _SPINS_PER_YIELD:
            if aborted(flags):
                return False
            yield_cpu()
            spins = 0
    return True


@nb.njit(inline="always")
def join_split(flags, n_workers):
    """Enter a split run: return ``(role, n_joined)``; run as worker ``role`` of ``n_joined``.

    A parallel loop does not promise that its iterations run at once (a thread may run two in
    turn, e.g. nested in another parallel region), and a barrier waiting for a worker that
    only starts after it would wait forever. So the workers are whoever arrives: each takes
    the next role; once all have arrived they run together, and if some are late (about a
    millisecond), the first arrivals close the run and share it among themselves. A worker
    arriving after the close gets ``role >= n_joined`` and has nothing to do. The tree does not
    depend on how many workers share it.
    """
    state = _JOIN_FLAG * _FLAG_STRIDE
    while True:  # take a role, unless the run is closed
        seen = atomic_load_acquire(flags, state)
        if seen >= _CLOSED:
            return n_workers, 0
        if atomic_compare_exchange(flags, state, seen, seen + 1) == seen:
            role = seen
            break
    spins = 0
    yields = 0
    while True:
        seen = atomic_load_acquire(flags, state)
        if seen >= _CLOSED:
            return role, seen - _CLOSED
        if seen == n_workers:
            return role, n_workers
        spins += 1
        if spins == _SPINS_PER_YIELD:
            spins = 0
            yields += 1
            yield_cpu()
            if yields >= _JOIN_YIELDS:  # close the run to the late ones (if still open)
                atomic_compare_exchange(flags, state, seen, _CLOSED + seen)


@nb.njit(inline="always")
def _slot(step, worker, n_workers):
    """Where in ``flags`` a worker's candidate of ``step`` is kept (key bits, then vertex id).

    After the ``n_workers`` worker flags; the workers that joined a run all count the same
    ``n_workers`` (those of the run), so they agree on the layout.
    """
    return (_FIRST_WORKER_FLAG + n_workers) * _FLAG_STRIDE + ((step & 1) * n_workers + worker) * 2


@nb.njit(inline="always")
def publish(flags, step, worker, n_workers, best_bits, best_id):
    """Put this worker's best candidate of ``step`` in its slot.

    Its coordinates go to ``slot_points[step & 1, worker]`` (the caller writes them) before
    :func:`arrive_and_wait`.
    """
    slot = _slot(step, worker, n_workers)
    flags[slot] = best_bits
    flags[slot + 1] = best_id


@nb.njit(inline="always")
def arrive_and_wait(flags, step, worker, n_workers):
    """Signal that ``step``'s candidate is published, wait for every other worker's.

    Slots double-buffered by step parity make one barrier per step enough: a worker can only
    overwrite the slot of ``step`` at ``step + 2``, after everyone has passed the barrier of
    ``step + 1``. Returns False if the run was aborted while waiting.
    """
    atomic_store_release(flags, (_FIRST_WORKER_FLAG + worker) * _FLAG_STRIDE, step + 1)
    for other in range(n_workers):
        if other != worker:
            if not _wait_until(flags, (_FIRST_WORKER_FLAG + other) * _FLAG_STRIDE, step + 1):
                return False
    return True


@nb.njit(inline="always")
def agreed_winner(flags, step, n_workers, best_bits, no_vertex):
    """``(key bits, vertex id, worker)`` of the step's winner, the same for every worker.

    The smallest key and, among equal keys, the smallest vertex id; ``no_vertex`` marks an
    empty slot (a worker with no free points left).
    """
    best_id = no_vertex
    winner = 0
    for other in range(n_workers):
        slot = _slot(step, other, n_workers)
        bits, vertex = flags[slot], flags[slot + 1]
        if vertex < no_vertex and (bits < best_bits or (bits == best_bits and vertex < best_id)
                                   or best_id == no_vertex):
            best_bits, best_id, winner = bits, vertex, other
    return best_bits, best_id, winner
