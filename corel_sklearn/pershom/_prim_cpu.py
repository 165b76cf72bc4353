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

# Below this many coordinate operations a parallel region costs more than it saves.
_PARALLEL_MIN_WORK = 2_000_000


@nb.njit(inline="always", fastmath=_FASTMATH)
def _distance(x, i, j, start, stop, metric):
    acc = x.dtype.type(0)
    if metric == 0:
        for c in range(start, stop):
            acc += abs(x[i, c] - x[j, c])
    elif metric == 1:
        for c in range(start, stop):
            t = x[i, c] - x[j, c]
            acc += t * t
        acc = np.sqrt(acc)
    else:
        for c in range(start, stop):
            t = abs(x[i, c] - x[j, c])
            if t > acc:
                acc = t
    return acc


@nb.njit(inline="always", fastmath=_FASTMATH)
def _prim_branch(x, start, stop, metric, edges, lengths):
    """MST of the points ``x[:, start:stop]``; writes ``edges`` (B-1, 2) sorted by length."""
    n = x.shape[0]
    key = np.full(n, np.inf)
    parent = np.zeros(n, dtype=np.int64)
    remaining = np.arange(1, n)  # vertices not yet in the tree, kept in increasing order
    n_remaining = n - 1
    raw_edges = np.empty((max(n - 1, 0), 2), dtype=np.int64)
    raw_lengths = np.empty(max(n - 1, 0), dtype=np.float64)
    current = 0
    for step in range(n - 1):
        best_key = np.inf
        best_pos = -1
        for pos in range(n_remaining):
            j = remaining[pos]
            d = _distance(x, current, j, start, stop, metric)
            if d < key[j]:
                key[j] = d
                parent[j] = current
            # ``remaining`` is sorted, so strict < keeps the smallest index among equal keys;
            # ``best_pos < 0`` picks a vertex even if every key overflowed to inf.
            if key[j] < best_key or best_pos < 0:
                best_key = key[j]
                best_pos = pos
        nxt = remaining[best_pos]
        raw_edges[step, 0] = parent[nxt]
        raw_edges[step, 1] = nxt
        raw_lengths[step] = key[nxt]
        # Shift left to keep ``remaining`` sorted (O(B) per step, same order as the scan).
        for pos in range(best_pos, n_remaining - 1):
            remaining[pos] = remaining[pos + 1]
        n_remaining -= 1
        current = nxt
    order = np.argsort(raw_lengths, kind="mergesort")
    for t in range(order.shape[0]):
        edges[t, 0] = raw_edges[order[t], 0]
        edges[t, 1] = raw_edges[order[t], 1]
        lengths[t] = raw_lengths[order[t]]


@nb.njit(cache=True, fastmath=_FASTMATH)
def _branch_mst_serial(x, n_branches, metric, edges, lengths):
    width = x.shape[1] // n_branches
    for k in range(n_branches):
        _prim_branch(x, k * width, (k + 1) * width, metric, edges[k], lengths[k])


@nb.njit(cache=True, parallel=True, fastmath=_FASTMATH)
def _branch_mst_parallel(x, n_branches, metric, edges, lengths):
    width = x.shape[1] // n_branches
    for k in nb.prange(n_branches):
        _prim_branch(x, k * width, (k + 1) * width, metric, edges[k], lengths[k])


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
    order = np.argsort(raw_lengths, kind="mergesort")
    for t in range(order.shape[0]):
        edges[t, 0] = raw_edges[order[t], 0]
        edges[t, 1] = raw_edges[order[t], 1]
        lengths[t] = raw_lengths[order[t]]


def branch_mst_cpu(x, n_branches, metric):
    """MST edges of each branch of ``x`` (B, n_branches * width), as numpy arrays.

    Returns ``edges`` (n_branches, B-1, 2) int64 and ``lengths`` (n_branches, B-1) float64,
    each branch sorted by increasing length (stable, so ties keep Prim's order).
    """
    x = np.ascontiguousarray(x)
    n = x.shape[0]
    edges = np.empty((n_branches, max(n - 1, 0), 2), dtype=np.int64)
    lengths = np.empty((n_branches, max(n - 1, 0)), dtype=np.float64)
    work = n * n * x.shape[1] // 2
    if n_branches > 1 and work >= _PARALLEL_MIN_WORK:
        _branch_mst_parallel(x, n_branches, METRIC_CODES[metric], edges, lengths)
    else:
        _branch_mst_serial(x, n_branches, METRIC_CODES[metric], edges, lengths)
    return edges, lengths


def matrix_mst_cpu(dist):
    """MST edges (B-1, 2) and lengths (B-1,) of a precomputed distance matrix."""
    dist = np.ascontiguousarray(dist)
    n = dist.shape[0]
    edges = np.empty((max(n - 1, 0), 2), dtype=np.int64)
    lengths = np.empty(max(n - 1, 0), dtype=np.float64)
    _matrix_mst(dist, edges, lengths)
    return edges, lengths
