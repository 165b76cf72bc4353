"""Dense Prim minimum spanning trees on the CPU, compiled with numba.

0-dimensional Vietoris-Rips persistence of a point cloud is its minimum spanning tree (MST):
every finite bar is born at 0 and dies at the length of one MST edge. On a complete graph a
dense Prim is O(B^2) and streams through memory, whereas sort-all-edges + union-find (ripser,
giotto-ph, gudhi) is O(B^2 log B) with random access. The point kernels compute the distances on
the fly, so they need O(B * d) memory and never build the B x B matrix.

Ties are broken deterministically: the next vertex is the one with the smallest key and, among
equal keys, the smallest index; a vertex's parent is the first tree vertex that reached its key.
"""

import numba as nb
import numpy as np

METRIC_CODES = {"l1": 0, "l2": 1, "linf": 2}

# Without "nnan"/"ninf": keys start at +inf and comparisons with inf must stay exact.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

# Below this much work (coordinate operations) a parallel region costs more than it saves.
_PARALLEL_MIN_WORK = 2_000_000
# A single large cloud is split across threads inside each Prim step; each step then pays a
# parallel-region start (a few microseconds), which only pays off for large clouds.
_SPLIT_STEP_MIN_POINTS = 2048
# Branches at most this wide use the coordinate-major kernel (SIMD across points).
_NARROW_WIDTH = 32


@nb.njit(inline="always", fastmath=_FASTMATH)
def _l1(a, b):
    acc = a.dtype.type(0)
    for c in range(a.shape[0]):
        acc += abs(a[c] - b[c])
    return acc


@nb.njit(inline="always", fastmath=_FASTMATH)
def _l2(a, b):
    acc = a.dtype.type(0)
    for c in range(a.shape[0]):
        t = a[c] - b[c]
        acc += t * t
    return np.sqrt(acc)


@nb.njit(inline="always", fastmath=_FASTMATH)
def _linf(a, b):
    acc = a.dtype.type(0)
    for c in range(a.shape[0]):
        acc = max(acc, abs(a[c] - b[c]))
    return acc


@nb.njit(inline="always", fastmath=_FASTMATH)
def _distance(metric, a, b):
    # ``metric`` is loop-invariant: LLVM unswitches the scan loop into one loop per metric.
    if metric == 0:
        return _l1(a, b)
    if metric == 1:
        return _l2(a, b)
    return _linf(a, b)


@nb.njit(inline="always", fastmath=_FASTMATH)
def _scan(metric, current_point, current, points, ids, key, parent, lo, hi, n):
    """Relax keys of the free points lo..hi-1 against the new tree vertex; return their argmin."""
    best_key = np.inf
    best_pos = -1
    best_id = n
    for pos in range(lo, hi):
        d = _distance(metric, current_point, points[pos])
        if d < key[pos]:
            key[pos] = d
            parent[pos] = current
        k = key[pos]
        # Smallest key, then smallest vertex id; ``best_pos < 0`` still picks a vertex when
        # every key overflowed to inf (reported by the caller).
        if k < best_key or (k == best_key and ids[pos] < best_id) or best_pos < 0:
            best_key = k
            best_pos = pos
            best_id = ids[pos]
    return best_key, best_pos, best_id


@nb.njit(inline="always")
def _sorted_by_length(raw_edges, raw_lengths, edges, lengths):
    order = np.argsort(raw_lengths, kind="mergesort")  # stable: ties keep Prim's order
    for t in range(order.shape[0]):
        edges[t, 0] = raw_edges[order[t], 0]
        edges[t, 1] = raw_edges[order[t], 1]
        lengths[t] = raw_lengths[order[t]]


@nb.njit(inline="always", fastmath=_FASTMATH)
def _prim_narrow(metric, x, start, stop, edges, lengths):
    """:func:`_prim` for narrow branches (COREL's are 10 wide), same tie rule and results.

    A per-pair loop over 10 coordinates is mostly overhead (a remainder loop and a horizontal
    sum per pair), so the free points are stored coordinate-major and each step accumulates the
    distances of all free points at once, one coordinate at a time: SIMD across points.
    """
    n = x.shape[0]
    width = stop - start
    columns = np.empty((width, max(n - 1, 0)), dtype=x.dtype)
    for c in range(width):
        for p in range(n - 1):
            columns[c, p] = x[p + 1, start + c]
    current_point = x[0, start:stop].copy()
    ids = np.arange(1, n)
    key = np.full(n - 1, np.inf, dtype=x.dtype)
    parent = np.zeros(n - 1, dtype=np.int64)
    dist = np.empty(n - 1, dtype=x.dtype)
    position = np.arange(-1, n - 1)  # position[id] = where vertex id sits among the free
    raw_edges = np.empty((max(n - 1, 0), 2), dtype=np.int64)
    raw_lengths = np.empty(max(n - 1, 0), dtype=np.float64)
    n_free = n - 1
    current = 0
    for step in range(n - 1):
        dist[:n_free] = 0
        for c in range(width):
            column = columns[c]
            v = current_point[c]
            if metric == 0:
                for p in range(n_free):
                    dist[p] += abs(column[p] - v)
            elif metric == 1:
                for p in range(n_free):
                    t = column[p] - v
                    dist[p] += t * t
            else:
                for p in range(n_free):
                    dist[p] = max(dist[p], abs(column[p] - v))
        if metric == 1:
            for p in range(n_free):
                dist[p] = np.sqrt(dist[p])
        # Branch-free passes that vectorise: relax, min key, smallest id with that key.
        for p in range(n_free):
            improves = dist[p] < key[p]
            parent[p] = current if improves else parent[p]
            key[p] = dist[p] if improves else key[p]
        best_key = key[0]
        for p in range(1, n_free):
            best_key = min(best_key, key[p])
        best_id = n
        for p in range(n_free):
            best_id = min(best_id, ids[p] if key[p] == best_key else n)
        best_pos = position[best_id]
        raw_edges[step, 0] = parent[best_pos]
        raw_edges[step, 1] = best_id
        raw_lengths[step] = best_key
        current = best_id
        last = n_free - 1
        for c in range(width):
            current_point[c] = columns[c, best_pos]
            columns[c, best_pos] = columns[c, last]
        ids[best_pos] = ids[last]
        position[ids[last]] = best_pos
        key[best_pos] = key[last]
        parent[best_pos] = parent[last]
        n_free -= 1
    _sorted_by_length(raw_edges, raw_lengths, edges, lengths)


@nb.njit(inline="always", fastmath=_FASTMATH)
def _prim_branch(metric, x, start, stop, edges, lengths):
    if stop - start <= _NARROW_WIDTH:
        _prim_narrow(metric, x, start, stop, edges, lengths)
    else:
        _prim(metric, x, start, stop, edges, lengths, 1)


@nb.njit(inline="always", fastmath=_FASTMATH)
def _prim(metric, x, start, stop, edges, lengths, n_chunks):
    """MST of the points ``x[:, start:stop]``; writes ``edges`` (B-1, 2) sorted by length.

    The free points are kept compacted (swap-remove) in a contiguous copy, so every Prim step
    streams through memory. With ``n_chunks > 1`` each step's scan is split across threads.
    """
    n = x.shape[0]
    # Copies, never views: the swap-removes below must not write into the caller's array.
    points = x[1:, start:stop].copy()
    current_point = x[0, start:stop].copy()
    ids = np.arange(1, n)
    key = np.full(n - 1, np.inf, dtype=x.dtype)
    parent = np.zeros(n - 1, dtype=np.int64)
    raw_edges = np.empty((max(n - 1, 0), 2), dtype=np.int64)
    raw_lengths = np.empty(max(n - 1, 0), dtype=np.float64)
    chunk_key = np.empty(n_chunks, dtype=x.dtype)
    chunk_pos = np.empty(n_chunks, dtype=np.int64)
    chunk_id = np.empty(n_chunks, dtype=np.int64)
    n_free = n - 1
    current = 0
    for step in range(n - 1):
        if n_chunks == 1:
            best_key, best_pos, best_id = _scan(
                metric, current_point, current, points, ids, key, parent, 0, n_free, n
            )
        else:
            size = (n_free + n_chunks - 1) // n_chunks
            for t in nb.prange(n_chunks):
                chunk_key[t], chunk_pos[t], chunk_id[t] = _scan(
                    metric, current_point, current, points, ids, key, parent,
                    t * size, min((t + 1) * size, n_free), n,
                )
            best_key = np.inf
            best_pos = -1
            best_id = n
            for t in range(n_chunks):
                if chunk_pos[t] >= 0 and (
                    chunk_key[t] < best_key
                    or (chunk_key[t] == best_key and chunk_id[t] < best_id)
                    or best_pos < 0
                ):
                    best_key, best_pos, best_id = chunk_key[t], chunk_pos[t], chunk_id[t]
        raw_edges[step, 0] = parent[best_pos]
        raw_edges[step, 1] = best_id
        raw_lengths[step] = best_key
        current = best_id
        current_point[:] = points[best_pos]
        last = n_free - 1
        points[best_pos] = points[last]
        ids[best_pos] = ids[last]
        key[best_pos] = key[last]
        parent[best_pos] = parent[last]
        n_free -= 1
    _sorted_by_length(raw_edges, raw_lengths, edges, lengths)


@nb.njit(cache=True, fastmath=_FASTMATH)
def _branch_mst_serial(metric, x, n_branches, edges, lengths):
    width = x.shape[1] // n_branches
    for k in range(n_branches):
        _prim_branch(metric, x, k * width, (k + 1) * width, edges[k], lengths[k])


@nb.njit(cache=True, parallel=True, fastmath=_FASTMATH)
def _branch_mst_parallel(metric, x, n_branches, edges, lengths):
    width = x.shape[1] // n_branches
    for k in nb.prange(n_branches):
        _prim_branch(metric, x, k * width, (k + 1) * width, edges[k], lengths[k])


@nb.njit(cache=True, parallel=True, fastmath=_FASTMATH)
def _single_mst_split_steps(metric, x, edges, lengths, n_chunks):
    _prim(metric, x, 0, x.shape[1], edges[0], lengths[0], n_chunks)


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


def branch_mst_cpu(x, n_branches, metric):
    """MST edges of each branch of ``x`` (B, n_branches * width), as numpy arrays.

    Returns ``edges`` (n_branches, B-1, 2) int64 and ``lengths`` (n_branches, B-1) float64,
    each branch sorted by increasing length (stable, so ties keep Prim's order).
    """
    x = np.ascontiguousarray(x)
    n = x.shape[0]
    edges = np.empty((n_branches, max(n - 1, 0), 2), dtype=np.int64)
    lengths = np.empty((n_branches, max(n - 1, 0)), dtype=np.float64)
    metric = METRIC_CODES[metric]
    work = n * n * x.shape[1] // 2
    n_threads = nb.get_num_threads()
    if n_branches == 1 and n >= _SPLIT_STEP_MIN_POINTS and n_threads > 1:
        _single_mst_split_steps(metric, x, edges, lengths, n_threads)
    elif n_branches > 1 and work >= _PARALLEL_MIN_WORK and n_threads > 1:
        _branch_mst_parallel(metric, x, n_branches, edges, lengths)
    else:
        _branch_mst_serial(metric, x, n_branches, edges, lengths)
    return edges, lengths


def matrix_mst_cpu(dist):
    """MST edges (B-1, 2) and lengths (B-1,) of a precomputed distance matrix."""
    dist = np.ascontiguousarray(dist)
    n = dist.shape[0]
    edges = np.empty((max(n - 1, 0), 2), dtype=np.int64)
    lengths = np.empty(max(n - 1, 0), dtype=np.float64)
    _matrix_mst(dist, edges, lengths)
    return edges, lengths
