"""Dense Prim minimum spanning trees on the CPU, compiled with numba.

0-dimensional Vietoris-Rips persistence of a point cloud is its minimum spanning tree (MST):
every finite bar is born at 0 and dies at the length of one MST edge. On a complete graph a
dense Prim is O(B^2) and streams through memory, whereas sort-all-edges + union-find (ripser,
giotto-ph, gudhi) is O(B^2 log B) with random access. The kernel computes the distances on the
fly, so it needs O(B * d) memory and never builds the B x B matrix.

Each Prim step makes a few vectorised passes over the free points, kept compacted
(swap-remove): the distances to the vertex that just joined the tree, then relaxing the keys
while taking their minimum, then the smallest index among the minimal keys. Keys are stored as
the bits of the (non-negative) distances, whose integer order is the float order, so both
reductions are integer SIMD min. Wide points are stored row-major and four are measured at
once; narrow ones (COREL's branches are 10 wide) are stored coordinate-major and up to eight
coordinates are summed per pass. Every wide point's distance goes through the same four-row
block whatever its position (rows padded to whole blocks, no fused multiply-adds), so it does
not depend on how points were moved or split; narrow clouds are never split, so their layout,
and with it their rounding, depends on the input alone.

Threads. Several branches: a numba parallel loop over them (one thread runs the same compiled
loop, and so does a single cloud on one thread). One wide cloud (> 32 coordinates): split,
each thread owning a share of the points; after every step the threads swap their best
candidates through a spin barrier (two cache-line transfers, well under a microsecond, where
a parallel region per step costs several). The split is one numba parallel loop whose
iterations join the run as they start (:func:`_join_split`); under OpenMP they run on the
threads torch uses too (numba and torch share libgomp's pool). Whether threads pay depends on
the moment (a busy machine, torch's threads), so :class:`_ThreadPlanner` times both and keeps
the faster per batch shape.

Ties are broken deterministically, the same way for any number of threads: the next vertex is
the one with the smallest key and, among equal keys, the smallest index; a vertex's parent is
the first tree vertex that reached its key.
"""

import time

import numba as nb
import numpy as np

from corel_sklearn._threads import (
    idle_cores,
    in_forked_child,
    kernel_threads,
    serial_twin,
    thread_limit,
)
from corel_sklearn._validation import METRIC_CODES
from corel_sklearn.pershom._intrinsics import (
    atomic_compare_exchange,
    atomic_load_acquire,
    atomic_store_release,
    float_from_bits,
    magnitude_bits,
    yield_cpu,
)

# Without "nnan"/"ninf": keys start at +inf and comparisons with inf must stay exact. Without
# "contract": whether a multiply-add is fused must not depend on which loop a point goes through.
_FASTMATH = {"reassoc", "nsz", "arcp"}

# Branches at most this wide are stored coordinate-major (SIMD across points).
_NARROW_WIDTH = 32
# Below this, a parallel loop over the branches is not tried (starting one costs a few
# microseconds, the work would take less).
_THREADED_MIN_WORK = 100_000  # coordinate operations, B^2 / 2 * d
# Splitting one cloud costs a barrier per Prim step (~0.3 us), paid back from about this size.
_SPLIT_MIN_POINTS = 512
# Free points are processed in whole multiples of this many (the arrays are padded): the
# row-major kernel measures four rows at a time; eight fill a float32 AVX register in the
# coordinate-major one. More padding wastes work on small clouds (64: +15% at B = 100).
_LANES = 8
# Spin-barrier flags sit 128 bytes apart so that threads never share a cache line.
_FLAG_STRIDE = 16
# Spins between yields while waiting: keeps waiting cheap on an oversubscribed machine.
_SPINS_PER_YIELD = 2000
# How long the first workers of a split wait for the others (in yields, about a millisecond)
# before sharing the tree among themselves.
_JOIN_YIELDS = 200
# Flags: the join state of a split run, then one spin-barrier flag per worker.
_JOIN_FLAG = 0
_FIRST_WORKER_FLAG = 1
_CLOSED = 1 << 32  # added to the join state once the run is closed to late workers


@nb.njit(inline="always", fastmath=_FASTMATH)
def _term(metric, a, v):
    t = a - v
    if metric == 1:
        return t * t
    return abs(t)


@nb.njit(inline="always", fastmath=_FASTMATH)
def _combine(metric, acc, term):
    if metric == 2:
        return max(acc, term)
    return acc + term


@nb.njit(inline="always", fastmath=_FASTMATH)
def _whole_lanes(n_free):
    # Trip count rounded up to whole multiples of _LANES points (the arrays are padded): every
    # row-major point is measured in a whole four-row block (see _row_distances).
    return (n_free + _LANES - 1) // _LANES * _LANES


@nb.njit(inline="always", fastmath=_FASTMATH)
def _store_distance(metric, dist, p, s, first):
    dist[p] = s if first else _combine(metric, dist[p], s)


# The current point's coordinates are read into scalars before each loop: LLVM does not know
# that ``dist`` (stored to) and ``current_point`` never overlap, and array reads inside the
# loop would then keep it from vectorising in some compilation contexts (5x slower).
@nb.njit(inline="always", fastmath=_FASTMATH)
def _accumulate8(metric, columns, c, current_point, dist, n_free, first):
    c0, c1, c2, c3 = columns[c], columns[c + 1], columns[c + 2], columns[c + 3]
    c4, c5, c6, c7 = columns[c + 4], columns[c + 5], columns[c + 6], columns[c + 7]
    v0, v1, v2, v3 = current_point[c], current_point[c + 1], current_point[c + 2], \
        current_point[c + 3]
    v4, v5, v6, v7 = current_point[c + 4], current_point[c + 5], current_point[c + 6], \
        current_point[c + 7]
    for p in range(_whole_lanes(n_free)):
        s = _term(metric, c0[p], v0)
        s = _combine(metric, s, _term(metric, c1[p], v1))
        s = _combine(metric, s, _term(metric, c2[p], v2))
        s = _combine(metric, s, _term(metric, c3[p], v3))
        s = _combine(metric, s, _term(metric, c4[p], v4))
        s = _combine(metric, s, _term(metric, c5[p], v5))
        s = _combine(metric, s, _term(metric, c6[p], v6))
        s = _combine(metric, s, _term(metric, c7[p], v7))
        _store_distance(metric, dist, p, s, first)


@nb.njit(inline="always", fastmath=_FASTMATH)
def _accumulate2(metric, columns, c, current_point, dist, n_free, first):
    c0, c1 = columns[c], columns[c + 1]
    v0, v1 = current_point[c], current_point[c + 1]
    for p in range(_whole_lanes(n_free)):
        s = _combine(metric, _term(metric, c0[p], v0), _term(metric, c1[p], v1))
        _store_distance(metric, dist, p, s, first)


@nb.njit(inline="always", fastmath=_FASTMATH)
def _accumulate1(metric, columns, c, current_point, dist, n_free, first):
    c0 = columns[c]
    v0 = current_point[c]
    for p in range(_whole_lanes(n_free)):
        _store_distance(metric, dist, p, _term(metric, c0[p], v0), first)


@nb.njit(inline="always", fastmath=_FASTMATH)
def _relax(metric, d, p, key_bits, parent, current):
    """Relax point ``p`` with the (squared for l2) distance ``d``; return its new key bits."""
    if metric == 1:
        d = np.sqrt(d)
    bits = magnitude_bits(d)
    parent[p] = current if bits < key_bits[p] else parent[p]
    bits = min(bits, key_bits[p])
    key_bits[p] = bits
    return bits


@nb.njit(inline="always", fastmath=_FASTMATH)
def _column_distances(metric, columns, current_point, dist, n_free):
    """Distances (squared for l2) to the free points, coordinate-major.

    Coordinates go eight at a time, then two, then one (COREL's 10-wide branches: 2 passes).
    """
    width = columns.shape[0]
    c = 0
    while width - c >= 8:
        _accumulate8(metric, columns, c, current_point, dist, n_free, c == 0)
        c += 8
    while width - c >= 2:
        _accumulate2(metric, columns, c, current_point, dist, n_free, c == 0)
        c += 2
    if width - c == 1:
        _accumulate1(metric, columns, c, current_point, dist, n_free, c == 0)


@nb.njit(inline="always", fastmath=_FASTMATH)
def _row_distances(metric, rows, current_point, dist, n_free):
    """Distances (squared for l2) from ``current_point`` to the free points, row-major.

    Four rows per pass share each load of the current point (register blocking). ``rows`` and
    ``dist`` are padded (see _whole_lanes) so that every point goes through this same loop:
    its distance is then rounded the same way wherever swap-removes have moved it (a remainder
    loop would vectorise the sum differently), which keeps the tree independent of the number
    of threads.
    """
    width = rows.shape[1]
    zero = rows.dtype.type(0)
    for p in range(0, n_free, 4):
        r0, r1, r2, r3 = rows[p], rows[p + 1], rows[p + 2], rows[p + 3]
        a0 = a1 = a2 = a3 = zero
        for c in range(width):
            v = current_point[c]
            a0 = _combine(metric, a0, _term(metric, r0[c], v))
            a1 = _combine(metric, a1, _term(metric, r1[c], v))
            a2 = _combine(metric, a2, _term(metric, r2[c], v))
            a3 = _combine(metric, a3, _term(metric, r3[c], v))
        dist[p], dist[p + 1], dist[p + 2], dist[p + 3] = a0, a1, a2, a3


@nb.njit(inline="always", fastmath=_FASTMATH)
def _relax_all(metric, dist, n_free, key_bits, parent, current, none_bits):
    """Relax the keys of the free points with their distances; return the smallest key bits."""
    best_bits = none_bits
    for p in range(n_free):
        best_bits = min(best_bits, _relax(metric, dist[p], p, key_bits, parent, current))
    return best_bits


@nb.njit(inline="always")
def _smallest_id_with(key_bits, best_bits, ids, n_free, no_vertex):
    best_id = no_vertex
    for p in range(n_free):
        best_id = min(best_id, ids[p] if key_bits[p] == best_bits else no_vertex)
    return best_id


@nb.njit(inline="always")
def _wait_until(flags, index, value):
    """Spin until ``flags[index] >= value``, yielding the core now and then."""
    spins = 0
    while atomic_load_acquire(flags, index) < value:
        spins += 1
        if spins == _SPINS_PER_YIELD:
            yield_cpu()
            spins = 0


@nb.njit(inline="always")
def _join_split(flags, n_workers):
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


@nb.njit(inline="always", fastmath=_FASTMATH)
def _prim(metric, x, start, stop, worker, n_workers, slots, slot_points, flags,
          raw_edges, raw_lengths):
    """Prim on ``x[:, start:stop]``, or this worker's share of it when ``n_workers > 1``.

    Worker ``w`` owns the vertices ``lo..hi-1`` (vertex 0 starts the tree). Every step, each
    worker relaxes its own free points and publishes its best candidate (key bits, id,
    coordinates) in ``slots[step % 2, w]`` / ``slot_points``; after the barrier all workers pick
    the same winner, the owner removes it and everyone takes its coordinates as the new current
    point. Double-buffered slots make one barrier per step enough. The winner's owner writes
    ``raw_edges[step]`` and ``raw_lengths[step]`` (Prim order, not yet sorted).
    """
    n = x.shape[0]
    width = stop - start
    narrow = width <= _NARROW_WIDTH
    lo = 1 + ((n - 1) * worker) // n_workers
    hi = 1 + ((n - 1) * (worker + 1)) // n_workers
    n_free = hi - lo
    capacity = max(_whole_lanes(n_free), 1)  # room for whole blocks, see _whole_lanes
    # Copies, never views: the swap-removes below must not write into the caller's array.
    if narrow:
        store = np.zeros((width, capacity), dtype=x.dtype)
        for c in range(width):
            for p in range(n_free):
                store[c, p] = x[lo + p, start + c]
    else:
        store = np.zeros((capacity, width), dtype=x.dtype)
        store[:n_free] = x[lo:hi, start:stop]
    current_point = x[0, start:stop].copy()
    ids = np.arange(lo, lo + capacity).astype(np.int32)
    position = np.arange(capacity).astype(np.int32)  # position[id - lo] among the free
    none_bits = magnitude_bits(x.dtype.type(np.inf))  # +inf: above every key
    key_bits = np.full(capacity, none_bits)
    parent = np.zeros(capacity, dtype=np.int32)
    dist = np.empty(capacity, dtype=x.dtype)
    no_vertex = np.int32(n)
    current = np.int32(0)
    for step in range(n - 1):
        best_bits = none_bits
        best_id = no_vertex
        if n_free > 0:
            if narrow:
                _column_distances(metric, store, current_point, dist, n_free)
            else:
                _row_distances(metric, store, current_point, dist, n_free)
            best_bits = _relax_all(metric, dist, n_free, key_bits, parent, current, none_bits)
            best_id = _smallest_id_with(key_bits, best_bits, ids, n_free, no_vertex)
        winner = 0
        if n_workers > 1:
            slot = step & 1
            slots[slot, worker, 0] = best_bits
            slots[slot, worker, 1] = best_id
            if best_id < n:
                pos = position[best_id - lo]
                for c in range(width):
                    slot_points[slot, worker, c] = store[c, pos] if narrow else store[pos, c]
            atomic_store_release(flags, (_FIRST_WORKER_FLAG + worker) * _FLAG_STRIDE, step + 1)
            for other in range(n_workers):
                if other != worker:
                    _wait_until(flags, (_FIRST_WORKER_FLAG + other) * _FLAG_STRIDE, step + 1)
            best_id = no_vertex
            for other in range(n_workers):
                bits, vertex = slots[slot, other, 0], slots[slot, other, 1]
                if vertex < n and (bits < best_bits or (bits == best_bits and vertex < best_id)
                                   or best_id == n):
                    best_bits, best_id, winner = bits, vertex, other
        if lo <= best_id < hi:
            pos = position[best_id - lo]
            raw_edges[step, 0] = parent[pos]
            raw_edges[step, 1] = best_id
            raw_lengths[step] = float_from_bits(key_bits[pos])
            last = n_free - 1
            for c in range(width):
                if narrow:
                    current_point[c] = store[c, pos]
                    store[c, pos] = store[c, last]
                else:
                    current_point[c] = store[pos, c]
                    store[pos, c] = store[last, c]
            ids[pos] = ids[last]
            position[ids[last] - lo] = pos
            key_bits[pos] = key_bits[last]
            parent[pos] = parent[last]
            n_free -= 1
        else:
            for c in range(width):
                current_point[c] = slot_points[step & 1, winner, c]
        current = np.int32(best_id)


@nb.njit(inline="always")
def _sorted_by_length(raw_edges, raw_lengths, edges, lengths):
    order = np.argsort(raw_lengths, kind="mergesort")  # stable: ties keep Prim's order
    for t in range(order.shape[0]):
        edges[t, 0] = raw_edges[order[t], 0]
        edges[t, 1] = raw_edges[order[t], 1]
        lengths[t] = raw_lengths[order[t]]


@nb.njit(inline="always", fastmath=_FASTMATH)
def _branch_tree(metric, x, k, n_branches, slots, slot_points, flags, raw_edges, raw_lengths,
                 edges, lengths, eta, weight, losses, slopes, grad):
    width = x.shape[1] // n_branches
    _prim(metric, x, k * width, (k + 1) * width, 0, 1, slots, slot_points, flags,
          raw_edges[k], raw_lengths[k])
    _sorted_by_length(raw_edges[k], raw_lengths[k], edges[k], lengths[k])
    if eta > 0 and n_branches > 1:
        losses[k] = _branch_loss(metric, x, k * width, width, edges[k], lengths[k], eta,
                                 weight, slopes[k], grad)


@nb.njit(cache=True, nogil=True, parallel=True, fastmath=_FASTMATH)
def _branch_msts(metric, x, n_branches, slots, slot_points, flags, raw_edges, raw_lengths,
                 edges, lengths, eta, weight, losses, slopes, grad):
    # Branches are independent: a numba parallel loop (a few microseconds to start). One
    # thread runs this same compiled loop too. The split of one cloud (_split_mst) is other
    # compiled code, but every distance is computed by the same expression in a loop with no
    # remainder and no fused multiply-add, so it rounds the same (tested). With eta > 0 and
    # several branches, each branch's loss (and gradient) is computed in the loop too.
    for k in nb.prange(n_branches):
        _branch_tree(metric, x, k, n_branches, slots, slot_points, flags, raw_edges,
                     raw_lengths, edges, lengths, eta, weight, losses, slopes, grad)


@nb.njit(cache=True, nogil=True, parallel=True, fastmath=_FASTMATH)
def _split_mst(metric, x, n_workers, slots, slot_points, flags, raw_edges, raw_lengths, edges,
               lengths):
    # One cloud shared by the threads of a parallel loop, which meet at a spin barrier every
    # Prim step (one parallel region for the whole tree). Under OpenMP these are the threads
    # torch uses too (numba and torch share libgomp's pool), so the split runs on the threads
    # already spinning after torch's last op instead of competing with them for the cores.
    for _task in nb.prange(n_workers):
        role, n_joined = _join_split(flags, n_workers)
        if role < n_joined:
            _prim(metric, x, 0, x.shape[1], role, n_joined, slots, slot_points, flags,
                  raw_edges[0], raw_lengths[0])
    _sorted_by_length(raw_edges[0], raw_lengths[0], edges[0], lengths[0])


# The branch loop without a parallel region, for forked children (see corel_sklearn._threads).
# Its loops may round the last bit differently.
_branch_msts_serial = serial_twin(_branch_msts)


@nb.njit(cache=True)
def _matrix_mst(dist, edges, lengths):
    """Dense Prim on a precomputed symmetric distance matrix, same tie rule as above."""
    n = dist.shape[0]
    key = np.full(n, np.inf)
    parent = np.zeros(n, dtype=np.int64)
    in_tree = np.zeros(n, dtype=np.bool_)
    in_tree[0] = True
    raw_edges = np.empty((max(n - 1, 0), 2), dtype=np.int64)
    raw_lengths = np.empty(max(n - 1, 0), dtype=np.float64)
    current = 0
    for step in range(n - 1):
        best_key = np.inf
        best = -1
        for j in range(n):
            if in_tree[j]:
                continue
            d = dist[current, j]
            if d < key[j]:
                key[j] = d
                parent[j] = current
            if key[j] < best_key or best < 0:
                best_key = key[j]
                best = j
        in_tree[best] = True
        raw_edges[step, 0] = parent[best]
        raw_edges[step, 1] = best
        raw_lengths[step] = key[best]
        current = best
    _sorted_by_length(raw_edges, raw_lengths, edges, lengths)


@nb.njit(cache=True, nogil=True)
def _branch_edge_gradient(metric, points, first, width, edges, grad, out):
    """Add to ``out`` the gradient of ``sum(grad * lengths of edges)`` in one branch.

    The branch is ``points[:, first:first + width]``. The same (sub)gradients torch's autograd
    gives for the lengths computed with torch ops (see ``edge_lengths``): l1 uses sign(0) = 0;
    l2 is 0 on zero-length edges; l-infinity splits the gradient evenly among tied maximal
    coordinates. Per edge, its gradient vector goes to a small buffer (no stores that may
    alias the points, so the loops vectorise), then to one endpoint and, negated, the other.
    Compiled without fast-math (also when called from the kernels): exact like torch's.
    """
    zero = points.dtype.type(0)
    vector = np.empty(width, dtype=points.dtype)
    for e in range(edges.shape[0]):
        g = points.dtype.type(grad[e])
        pi = points[edges[e, 0], first:first + width]
        pj = points[edges[e, 1], first:first + width]
        if metric == 0:
            for c in range(width):
                d = pi[c] - pj[c]
                vector[c] = g * ((d > zero) - (d < zero))  # branch-free sign
        elif metric == 1:
            norm = zero
            for c in range(width):
                norm += (pi[c] - pj[c]) * (pi[c] - pj[c])
            scale = g / np.sqrt(norm) if norm > 0 else zero
            for c in range(width):
                vector[c] = scale * (pi[c] - pj[c])
        else:
            largest = zero
            for c in range(width):
                largest = max(largest, abs(pi[c] - pj[c]))
            ties = 0
            for c in range(width):
                ties += abs(pi[c] - pj[c]) == largest
            for c in range(width):
                d = pi[c] - pj[c]
                vector[c] = g * ((d > zero) - (d < zero)) / ties if abs(d) == largest else zero
        row = out[edges[e, 0], first:first + width]
        for c in range(width):
            row[c] += vector[c]
        row = out[edges[e, 1], first:first + width]
        for c in range(width):
            row[c] -= vector[c]


@nb.njit(cache=True, nogil=True)
def _edge_length_gradient(metric, points, edges, grad, out):
    """Add to ``out`` the gradient of ``sum(grad * lengths of edges)`` w.r.t. ``points``."""
    n_branches = grad.shape[0]
    width = points.shape[1] // n_branches
    for k in range(n_branches):
        _branch_edge_gradient(metric, points, k * width, width, edges[k], grad[k], out)


@nb.njit(cache=True, nogil=True)
def _branch_loss(metric, points, first, width, edges, deaths, eta, weight, slopes, grad):
    """COREL's loss on one branch's tree, its slopes and (if ``grad`` is not empty) gradient.

    The branch is ``points[:, first:first + width]``. Returns the sum of ``|eta - death|``
    over the non-zero deaths; ``slopes`` gets each death's weighted derivative
    ``weight * sign(death - eta)`` (0 at ``death == eta``, as torch's ``abs``, and for
    zero-length bars, which do not count); the gradient of ``weight * loss`` w.r.t. the
    branch's coordinates is added to ``grad``. Compiled on its own without fast-math, and for a
    given batch shape always called from the same place (the branch loop for several branches,
    :func:`_single_cloud_loss` for one), so the same input gives the same bits for any number
    of threads.
    """
    loss = 0.0
    for e in range(deaths.shape[0]):
        death = deaths[e]
        if death > 0:
            loss += abs(eta - death)
            slopes[e] = weight * ((death > eta) - (death < eta))
        else:
            slopes[e] = 0.0
    if grad.shape[0] > 0:
        _branch_edge_gradient(metric, points, first, width, edges, slopes, grad)
    return loss


@nb.njit(cache=True, nogil=True)
def _single_cloud_loss(metric, points, edges, deaths, eta, weight, losses, slopes, grad):
    # One cloud: after whichever kernel (split or not) found its tree.
    losses[0] = _branch_loss(metric, points, 0, points.shape[1], edges[0], deaths[0], eta,
                             weight, slopes[0], grad)


def _threaded_plan(n, width, n_branches, n_threads):
    """How many of ``n_threads`` a threaded run would use, or None if none is worth it."""
    if n_threads == 1:
        return None
    if n_branches == 1:
        return n_threads if n >= _SPLIT_MIN_POINTS and width > _NARROW_WIDTH else None
    if n * n * width * n_branches // 2 < _THREADED_MIN_WORK:
        return None
    return min(n_threads, n_branches)


class _ThreadPlanner:
    """Chooses one thread or several for each batch shape by timing both (as FFTW plans).

    Whether threads pay depends on the moment, not only on the shape: on a busy machine (other
    processes, torch's own work) a kernel that synchronises every Prim step with a thread that
    has to wait for a core runs slower than one thread alone. So each shape is timed both ways
    (a few runs each), the faster is used, and the other is re-timed every ``recheck_every``
    calls in case conditions changed. The results do not depend on the choice (tested), only
    the speed does.
    """

    samples = 3
    recheck_every = 64
    max_shapes = 1024

    def __init__(self):
        self._timings = {}
        self._calls = {}

    def choose(self, shape, threaded):
        if threaded is None:
            return 1
        timings = self._timings.get(shape)
        if timings is None:
            if len(self._timings) >= self.max_shapes:
                self._timings.clear()
                self._calls.clear()
            timings = self._timings[shape] = {1: [], threaded: []}
        calls = self._calls[shape] = self._calls.get(shape, 0) + 1
        for choice, seconds in timings.items():
            if len(seconds) < self.samples:
                return choice
        fastest = min(timings, key=lambda choice: sorted(timings[choice])[self.samples // 2])
        if calls % self.recheck_every == 0:
            return threaded if fastest == 1 else 1
        return fastest

    def record(self, shape, choice, seconds):
        timings = self._timings.get(shape)
        if timings is not None and choice in timings:
            timings[choice].append(seconds)
            del timings[choice][: -self.samples]


_planner = _ThreadPlanner()


def branch_mst_cpu(x, n_branches, metric, n_threads=None):
    """MST edges of each branch of ``x`` (B, n_branches * width), as numpy arrays.

    Returns ``edges`` (n_branches, B-1, 2) int64 and ``lengths`` (n_branches, B-1) float64,
    each branch sorted by increasing length (stable, so ties keep Prim's order). The result
    does not depend on the number of threads: ``n_threads`` fixes it (tests use that), by
    default :class:`_ThreadPlanner` picks it.
    """
    edges, lengths, _, _, _ = _planned_run(x, n_branches, metric, n_threads)
    return edges, lengths


def connectivity_loss_cpu(x, n_branches, metric, eta, weight=1.0, with_gradient=False,
                          n_threads=None):
    """The trees of :func:`branch_mst_cpu` and COREL's loss on them (with its gradient).

    Returns ``edges``, ``lengths`` (as :func:`branch_mst_cpu`), ``losses`` (n_branches,)
    float64: per branch the sum of ``|eta - death|`` over the non-zero deaths; ``slopes``
    (n_branches, B-1) in ``x``'s dtype: ``weight * d losses / d lengths``; and, if
    ``with_gradient``, ``grad`` (B, dim) in ``x``'s dtype: the gradient of
    ``weight * losses.sum()`` w.r.t. ``x`` (else None). ``eta`` must be > 0.
    """
    return _planned_run(x, n_branches, metric, n_threads, float(eta), float(weight),
                        with_gradient)


def _planned_run(x, n_branches, metric, n_threads, eta=0.0, weight=1.0, with_gradient=False):
    x = np.ascontiguousarray(x)
    n, dim = x.shape
    width = dim // n_branches
    if n_threads is not None:
        return _run(x, n_branches, metric, int(n_threads), eta, weight, with_gradient)
    # Threads beyond the idle cores would wait for a descheduled peer at every Prim step
    # (split) or at the end of the loop (branches): one thread is faster then.
    n_threads = min(thread_limit(), idle_cores())
    shape = (n, width, n_branches, x.dtype.str, metric, n_threads)
    choice = _planner.choose(shape, _threaded_plan(n, width, n_branches, n_threads))
    start = time.perf_counter()
    result = _run(x, n_branches, metric, choice, eta, weight, with_gradient)
    _planner.record(shape, choice, time.perf_counter() - start)
    return result


def _run(x, n_branches, metric, n_threads, eta=0.0, weight=1.0, with_gradient=False,
         loop_threads=None):
    # eta == 0: trees only. loop_threads (tests only): threads of the parallel loop, if not
    # one per worker.
    n, dim = x.shape
    width = dim // n_branches
    m = max(n - 1, 0)
    single = n_branches == 1  # one cloud: split it; several: spread the branches
    n_workers = max(1, min(n_threads, nb.config.NUMBA_NUM_THREADS,
                           n_threads if single else n_branches))
    if in_forked_child():
        n_workers = 1
    if single and width <= _NARROW_WIDTH:
        # Narrow clouds are not split: one 10-wide cloud of 1000 points takes 0.5 ms on one
        # thread, a barrier per step would eat most of what a second thread saves, and a
        # point's rounding may depend on its position (vector body or remainder loop), which
        # a split would change.
        n_workers = 1
    metric = METRIC_CODES[metric]
    edges = np.empty((n_branches, m, 2), dtype=np.int64)
    lengths = np.empty((n_branches, m), dtype=np.float64)
    raw_edges = np.empty_like(edges)
    raw_lengths = np.empty_like(lengths)
    slots = np.zeros((2, n_workers if single else 1, 2), dtype=np.int64)  # key bits, id
    slot_points = np.zeros((2, n_workers if single else 1, width if single else 0), x.dtype)
    flags = np.zeros((_FIRST_WORKER_FLAG + n_workers) * _FLAG_STRIDE, dtype=np.int64)
    with_loss = eta > 0
    losses = np.empty(n_branches if with_loss else 0)
    slopes = np.empty((n_branches, m) if with_loss else (0, 0), dtype=x.dtype)
    grad = np.zeros_like(x) if with_loss and with_gradient else np.zeros((0, 0), x.dtype)
    if in_forked_child():
        _branch_msts_serial(metric, x, n_branches, slots, slot_points, flags, raw_edges,
                            raw_lengths, edges, lengths, eta, weight, losses, slopes, grad)
        return _with_single_cloud_loss(metric, x, edges, lengths, eta, weight, losses, slopes,
                                       grad, with_gradient)
    loop_threads = n_workers if loop_threads is None else loop_threads
    with kernel_threads(loop_threads):
        if single and n_workers > 1:
            _split_mst(metric, x, n_workers, slots, slot_points, flags, raw_edges, raw_lengths,
                       edges, lengths)
        else:
            # One thread also goes through the parallel loop: numba compiles a parallel
            # loop's body so that the narrow kernel vectorises fully, a plain one not quite.
            _branch_msts(metric, x, n_branches, slots, slot_points, flags, raw_edges,
                         raw_lengths, edges, lengths, eta, weight, losses, slopes, grad)
    return _with_single_cloud_loss(metric, x, edges, lengths, eta, weight, losses, slopes, grad,
                                   with_gradient)


def _with_single_cloud_loss(metric, x, edges, lengths, eta, weight, losses, slopes, grad,
                            with_gradient):
    # The branch loop computed the losses of several branches; one cloud's comes after it.
    if eta == 0:
        return edges, lengths, None, None, None
    if edges.shape[0] == 1:
        _single_cloud_loss(metric, x, edges, lengths, eta, weight, losses, slopes, grad)
    return edges, lengths, losses, slopes, grad if with_gradient else None


def matrix_mst_cpu(dist):
    """MST edges (B-1, 2) and lengths (B-1,) of a precomputed distance matrix."""
    dist = np.ascontiguousarray(dist)
    n = dist.shape[0]
    edges = np.empty((max(n - 1, 0), 2), dtype=np.int64)
    lengths = np.empty(max(n - 1, 0), dtype=np.float64)
    _matrix_mst(dist, edges, lengths)
    return edges, lengths


def edge_length_gradient_cpu(points, edges, grad, metric):
    """Gradient (n, dim) of ``sum(grad * lengths of edges)`` w.r.t. ``points`` (numpy arrays)."""
    points = np.ascontiguousarray(points)
    out = np.zeros_like(points)
    _edge_length_gradient(METRIC_CODES[metric], points, np.ascontiguousarray(edges),
                          np.ascontiguousarray(grad, dtype=points.dtype), out)
    return out
