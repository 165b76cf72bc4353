"""Dense Prim minimum spanning trees on the CPU: the distance passes and Prim's steps (numba).

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

Several workers can share one cloud (:func:`prim` with ``n_workers > 1``), meeting at the spin
barrier of :mod:`._spin_barrier` after every step; which kernels run it and on how many
threads is :mod:`._cpu_trees`'s business.

Ties are broken deterministically, the same way for any number of workers: the next vertex is
the one with the smallest key and, among equal keys, the smallest index; a vertex's parent is
the first tree vertex that reached its key.
"""

import numba as nb
import numpy as np

from corel_sklearn.pershom._intrinsics import float_from_bits, magnitude_bits
from corel_sklearn.pershom._spin_barrier import (
    aborted,
    agreed_winner,
    arrive_and_wait,
    publish,
)

# Without "nnan"/"ninf": keys start at +inf and comparisons with inf must stay exact. Without
# "contract": whether a multiply-add is fused must not depend on which loop a point goes through.
FASTMATH = {"reassoc", "nsz", "arcp"}

# Branches at most this wide are stored coordinate-major (SIMD across points).
NARROW_WIDTH = 32
# Free points are processed in whole multiples of this many (the arrays are padded): the
# row-major kernel measures four rows at a time; eight fill a float32 AVX register in the
# coordinate-major one. More padding wastes work on small clouds (64: +15% at B = 100).
_LANES = 8


@nb.njit(inline="always", fastmath=FASTMATH)
def _term(metric, a, v):
    t = a - v
    if metric == 1:
        return t * t
    return abs(t)


@nb.njit(inline="always", fastmath=FASTMATH)
def _combine(metric, acc, term):
    if metric == 2:
        return max(acc, term)
    return acc + term


@nb.njit(inline="always", fastmath=FASTMATH)
def _whole_lanes(n_free):
    # Trip count rounded up to whole multiples of _LANES points (the arrays are padded): every
    # row-major point is measured in a whole four-row block (see _row_distances).
    return (n_free + _LANES - 1) // _LANES * _LANES


@nb.njit(inline="always", fastmath=FASTMATH)
def _store_distance(metric, dist, p, s, first):
    dist[p] = s if first else _combine(metric, dist[p], s)


# The current point's coordinates are read into scalars before each loop: LLVM does not know
# that ``dist`` (stored to) and ``current_point`` never overlap, and array reads inside the
# loop would then keep it from vectorising in some compilation contexts (5x slower).
@nb.njit(inline="always", fastmath=FASTMATH)
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


@nb.njit(inline="always", fastmath=FASTMATH)
def _accumulate2(metric, columns, c, current_point, dist, n_free, first):
    c0, c1 = columns[c], columns[c + 1]
    v0, v1 = current_point[c], current_point[c + 1]
    for p in range(_whole_lanes(n_free)):
        s = _combine(metric, _term(metric, c0[p], v0), _term(metric, c1[p], v1))
        _store_distance(metric, dist, p, s, first)


@nb.njit(inline="always", fastmath=FASTMATH)
def _accumulate1(metric, columns, c, current_point, dist, n_free, first):
    c0 = columns[c]
    v0 = current_point[c]
    for p in range(_whole_lanes(n_free)):
        _store_distance(metric, dist, p, _term(metric, c0[p], v0), first)


@nb.njit(inline="always", fastmath=FASTMATH)
def _relax(metric, d, p, key_bits, parent, current):
    """Relax point ``p`` with the (squared for l2) distance ``d``; return its new key bits."""
    if metric == 1:
        d = np.sqrt(d)
    bits = magnitude_bits(d)
    parent[p] = current if bits < key_bits[p] else parent[p]
    bits = min(bits, key_bits[p])
    key_bits[p] = bits
    return bits


@nb.njit(inline="always", fastmath=FASTMATH)
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


@nb.njit(inline="always", fastmath=FASTMATH)
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


@nb.njit(inline="always", fastmath=FASTMATH)
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


@nb.njit(inline="always", fastmath=FASTMATH)
def prim(metric, x, branch, width, worker, n_workers, flags, slot_points, raw_edges,
         raw_lengths):
    """Prim on one branch, ``x[:, branch * width:(branch + 1) * width]``; False if aborted.

    With ``n_workers > 1`` this is worker ``worker``'s share: it owns the vertices
    ``lo..hi-1`` (vertex 0 starts the tree). Every step, each worker relaxes its own free
    points and publishes its best candidate (key bits and id in ``flags``, coordinates in
    ``slot_points``, see :mod:`._spin_barrier`); after the barrier all workers pick the same
    winner, the owner removes it and everyone takes its coordinates as the new current point.
    The winner's owner writes ``raw_edges[step]`` and ``raw_lengths[step]`` (Prim order, not
    yet sorted). Every step first checks the abort flag; an aborted run returns False with the
    tree unfinished.
    """
    start = branch * width
    stop = start + width
    n = x.shape[0]
    narrow = width <= NARROW_WIDTH
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
        if aborted(flags):
            return False
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
            publish(flags, step, worker, n_workers, best_bits, best_id)
            if best_id < n:
                pos = position[best_id - lo]
                for c in range(width):
                    slot_points[step & 1, worker, c] = store[c, pos] if narrow else store[pos, c]
            if not arrive_and_wait(flags, step, worker, n_workers):
                return False
            best_bits, best_id, winner = agreed_winner(flags, step, n_workers, best_bits,
                                                       no_vertex)
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
    return True


@nb.njit(inline="always")
def sorted_by_length(raw_edges, raw_lengths, edges, lengths):
    order = np.argsort(raw_lengths, kind="mergesort")  # stable: ties keep Prim's order
    for t in range(order.shape[0]):
        edges[t, 0] = raw_edges[order[t], 0]
        edges[t, 1] = raw_edges[order[t], 1]
        lengths[t] = raw_lengths[order[t]]


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
    sorted_by_length(raw_edges, raw_lengths, edges, lengths)




def matrix_mst_cpu(dist):
    """MST edges (B-1, 2) and lengths (B-1,) of a precomputed distance matrix."""
    dist = np.ascontiguousarray(dist)
    n = dist.shape[0]
    edges = np.empty((max(n - 1, 0), 2), dtype=np.int64)
    lengths = np.empty(max(n - 1, 0), dtype=np.float64)
    _matrix_mst(dist, edges, lengths)
    return edges, lengths
