"""Count-only closed-ball kernel on the CPU, compiled with numba.

For every query and every latent branch (a contiguous slice of ``width`` coordinates) the kernel
counts the anchors whose branch slice lies within ``radius`` of the query's, without ever
materialising a distance matrix or a neighbour list.

Layout and speed. Anchors are packed into blocks of at most ``BLOCK_SIZE`` anchors; inside a block
the coordinates are stored column-major (one contiguous row of ``m`` values per coordinate), so
the innermost loop runs over anchors and vectorises. A block (160 x 256 float32 = 160 KB) stays in
L2 while a tile of queries reuses it, which keeps the kernel compute-bound even when the anchors
(100k x 160 float32 = 64 MB) exceed L3. Each branch is padded with zero coordinates to an even
width so that every pass adds two coordinates per load/store of the accumulator; a zero column
adds exactly 0 under every metric. Threads (``prange``) split the queries into tiles.

Exactness. The fast passes run in the input's precision with reassociation allowed, so a pair
whose distance lies within rounding of the radius could be decided differently from the
reference definition: the float64 distance of the (float32 or float64) input values, summed in
coordinate order and compared with ``<=`` (for l2: the sum of squares with ``radius * radius``),
which is exactly what scikit-learn's ``KDTree``/``BallTree`` compute. The fast pass therefore
uses two thresholds ``lo < radius < hi`` separated by a proven bound on its rounding error: a
pair with distance ``<= lo`` is in, ``> hi`` is out, and the rare pairs in between are
recomputed with the reference arithmetic. Counts are thus exactly the reference counts for
float32 and float64 input alike, while float32 input runs at float32 SIMD width.
"""

import numba as nb
import numpy as np
from numba import literally, types
from numba.extending import intrinsic

from corel_sklearn._numba_runtime import serial_twin
from corel_sklearn._threads import in_forked_child

# Without "nnan"/"ninf": comparisons with inf (overflowed sums) must stay exact.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

BLOCK_SIZE = 512  # anchors per block: 320 KB of float32 at d = 160, resident in L2
MAX_QUERY_TILE = 128  # queries that reuse one anchor block (the unit of work of a thread)


@nb.njit(fastmath=_FASTMATH, inline="always")
def _term(metric, q0, q1, x0, x1):
    """Contribution of two coordinates: |.|+|.| (l1), squares (l2, squared), max (linf)."""
    if metric == 0:
        return abs(q0 - x0) + abs(q1 - x1)
    if metric == 1:
        d0 = q0 - x0
        d1 = q1 - x1
        return d0 * d0 + d1 * d1
    return max(abs(q0 - x0), abs(q1 - x1))


@nb.njit(fastmath=_FASTMATH, inline="always")
def _combine(metric, acc, term):
    return max(acc, term) if metric == 2 else acc + term


@nb.njit(fastmath=_FASTMATH, inline="always")
def _pass_loop(metric, first, a0, a1, b0, b1, r0, r1, acc_a, acc_b, m):
    for j in range(m):
        x0 = r0[j]
        x1 = r1[j]
        ta = _term(metric, a0, a1, x0, x1)
        tb = _term(metric, b0, b1, x0, x1)
        if first:
            acc_a[j] = ta
            acc_b[j] = tb
        else:
            acc_a[j] = _combine(metric, acc_a[j], ta)
            acc_b[j] = _combine(metric, acc_b[j], tb)


@nb.njit(fastmath=_FASTMATH, inline="always")
def _pass(metric, first, qa, qb, c, r0, r1, acc_a, acc_b, m):
    """Add coordinates c, c+1 of queries ``qa`` and ``qb`` to their accumulators.

    Two queries share every load of the anchor rows ``r0``/``r1``. ``metric`` is a compile-time
    literal and ``first`` is dispatched here, so each compiled loop is branch-free (LLVM does
    not unswitch them reliably).
    """
    a0, a1, b0, b1 = qa[c], qa[c + 1], qb[c], qb[c + 1]
    if first:
        _pass_loop(metric, True, a0, a1, b0, b1, r0, r1, acc_a, acc_b, m)
    else:
        _pass_loop(metric, False, a0, a1, b0, b1, r0, r1, acc_a, acc_b, m)


@nb.njit(fastmath=_FASTMATH, inline="always")
def _pass_count(metric, qa, qb, c, r0, r1, acc_a, acc_b, m, lo, hi):
    """Last two coordinates fused with the comparisons: (#<= lo, #<= hi) for each query.

    The tallies are kept in the float dtype (exact: m <= BLOCK_SIZE < 2**24) because numba
    widens small-int arithmetic to int64, which would halve the SIMD width of this loop.
    """
    a0, a1, b0, b1 = qa[c], qa[c + 1], qb[c], qb[c + 1]
    one = acc_a.dtype.type(1)
    zero = acc_a.dtype.type(0)
    lo_a = zero
    hi_a = zero
    lo_b = zero
    hi_b = zero
    for j in range(m):
        x0 = r0[j]
        x1 = r1[j]
        va = _combine(metric, acc_a[j], _term(metric, a0, a1, x0, x1))
        vb = _combine(metric, acc_b[j], _term(metric, b0, b1, x0, x1))
        acc_a[j] = va
        acc_b[j] = vb
        lo_a += one if va <= lo else zero
        hi_a += one if va <= hi else zero
        lo_b += one if vb <= lo else zero
        hi_b += one if vb <= hi else zero
    return int(lo_a), int(hi_a), int(lo_b), int(hi_b)


def _strict(opname):
    """A float64 binary operation that fastmath can neither reassociate nor contract.

    numba adds its fastmath flags to every float operation *without* flags, including code of
    plain functions called from a fastmath kernel. An operation created with the harmless
    ``nsz`` flag keeps exactly that flag, so it rounds as written (and as KDTree's C code).
    """
    @intrinsic
    def strict(typingctx, a, b):
        def codegen(context, builder, signature, args):
            return getattr(builder, opname)(args[0], args[1], flags=("nsz",))
        return types.float64(types.float64, types.float64), codegen
    return strict


_strict_add = _strict("fadd")
_strict_sub = _strict("fsub")
_strict_mul = _strict("fmul")


@nb.njit(inline="always")
def _reference_step(metric, d, x, y):
    """One coordinate of KDTree's float64 distance: d + |x - y|, d + (x - y)**2, max(d, |x - y|)."""
    t = _strict_sub(np.float64(x), np.float64(y))
    if metric == 0:
        return _strict_add(d, abs(t))
    if metric == 1:
        return _strict_add(d, _strict_mul(t, t))
    return max(d, abs(t))


@nb.njit
def _reference_distance(metric, query, q_start, packed, base, m, j, width):
    """Float64, coordinate-order distance of one pair (KDTree's arithmetic).

    Returns the l1 or linf distance, or the *squared* l2 distance.
    """
    d = 0.0
    for c in range(width):
        d = _reference_step(metric, d, query[q_start + c], packed[base + c * m + j])
    return d


@nb.njit(fastmath=_FASTMATH, inline="always")
def _settle(metric, n_lo, n_hi, query, q_start, width, packed, base, m, acc, lo, hi, threshold):
    """Exact count from the fast tallies: re-decide the pairs within the rounding band."""
    if n_hi != n_lo:
        for j in range(m):
            v = acc[j]
            if v > lo and v <= hi:
                d = _reference_distance(metric, query, q_start, packed, base, m, j, width)
                n_lo += d <= threshold
    return n_lo


@nb.njit(fastmath=_FASTMATH, inline="always")
def _branch_count(metric, qa, qb, q_start, width, padded, packed, base, m, acc_a, acc_b,
                  lo, hi, threshold):
    """Anchors of one block within the radius of queries ``qa`` and ``qb`` in one branch."""
    qa = qa[q_start:q_start + padded]
    qb = qb[q_start:q_start + padded]
    if padded == 2:  # distances are >= 0, so 0 also starts the max of linf
        for j in range(m):
            acc_a[j] = 0
            acc_b[j] = 0
    c = 0
    while c + 2 < padded:
        row = base + c * m
        _pass(metric, c == 0, qa, qb, c, packed[row:row + m], packed[row + m:row + 2 * m],
              acc_a, acc_b, m)
        c += 2
    row = base + c * m
    lo_a, hi_a, lo_b, hi_b = _pass_count(
        metric, qa, qb, c, packed[row:row + m], packed[row + m:row + 2 * m],
        acc_a, acc_b, m, lo, hi,
    )
    n_a = _settle(metric, lo_a, hi_a, qa, 0, width, packed, base, m, acc_a, lo, hi, threshold)
    n_b = _settle(metric, lo_b, hi_b, qb, 0, width, packed, base, m, acc_b, lo, hi, threshold)
    return n_a, n_b


@nb.njit(parallel=True, fastmath=_FASTMATH, cache=True)
def _count_kernel(queries, query_groups, packed, block_offsets, block_sizes, block_groups,
                  n_branches, width, metric, lo, hi, threshold, own_group_only, tile_size,
                  counts):
    """Add per-branch ball counts to ``counts``.

    ``queries`` is (n_q, n_branches * padded) with zero padding columns; ``counts`` is
    (n_q, n_groups, n_branches), or (n_q, 1, n_branches) when ``own_group_only`` (each query
    then meets only the blocks of its own group, and queries must be sorted by group).
    """
    literally(metric)  # one specialisation per metric: compiled on first use, branch-free
    n_queries = queries.shape[0]
    padded = queries.shape[1] // n_branches
    n_blocks = block_offsets.shape[0]
    n_tiles = (n_queries + tile_size - 1) // tile_size
    for tile in nb.prange(n_tiles):
        acc_a = np.empty(BLOCK_SIZE, dtype=packed.dtype)
        acc_b = np.empty(BLOCK_SIZE, dtype=packed.dtype)
        i0 = tile * tile_size
        i1 = min(n_queries, i0 + tile_size)
        for b in range(n_blocks):
            group = block_groups[b]
            if own_group_only and (group < query_groups[i0] or group > query_groups[i1 - 1]):
                continue
            out = 0 if own_group_only else group
            m = block_sizes[b]
            for k in range(n_branches):
                base = block_offsets[b] + k * padded * m
                for i in range(i0, i1, 2):
                    # Queries go in pairs; a lone one (odd tile, other group) pairs with itself.
                    ia = i
                    ib = min(i + 1, i1 - 1)
                    if own_group_only and query_groups[ia] != group:
                        if query_groups[ib] != group:
                            continue
                        ia = ib
                    elif own_group_only and query_groups[ib] != group:
                        ib = ia
                    n_a, n_b = _branch_count(
                        metric, queries[ia], queries[ib], k * padded, width, padded, packed,
                        base, m, acc_a, acc_b, lo, hi, threshold,
                    )
                    counts[ia, out, k] += n_a
                    if ib != ia:
                        counts[ib, out, k] += n_b
    return counts


# Entry points with the metric as a literal constant: calling the kernel with a Python int
# would re-run its typing on every call (literally's dispatch); from compiled code it does not.
@nb.njit(cache=True)
def _count_l1(queries, query_groups, packed, block_offsets, block_sizes, block_groups,
              n_branches, width, lo, hi, threshold, own_group_only, tile_size, counts):
    return _count_kernel(queries, query_groups, packed, block_offsets, block_sizes,
                         block_groups, n_branches, width, 0, lo, hi, threshold, own_group_only,
                         tile_size, counts)


@nb.njit(cache=True)
def _count_l2(queries, query_groups, packed, block_offsets, block_sizes, block_groups,
              n_branches, width, lo, hi, threshold, own_group_only, tile_size, counts):
    return _count_kernel(queries, query_groups, packed, block_offsets, block_sizes,
                         block_groups, n_branches, width, 1, lo, hi, threshold, own_group_only,
                         tile_size, counts)


@nb.njit(cache=True)
def _count_linf(queries, query_groups, packed, block_offsets, block_sizes, block_groups,
                n_branches, width, lo, hi, threshold, own_group_only, tile_size, counts):
    return _count_kernel(queries, query_groups, packed, block_offsets, block_sizes,
                         block_groups, n_branches, width, 2, lo, hi, threshold, own_group_only,
                         tile_size, counts)


_COUNT_ENTRY = {"l1": _count_l1, "l2": _count_l2, "linf": _count_linf}
# The same kernels without a parallel region, for forked children (see corel_sklearn._threads).
_count_kernel_serial = serial_twin(_count_kernel)
_COUNT_ENTRY_SERIAL = {
    metric: serial_twin(entry, _count_kernel=_count_kernel_serial)
    for metric, entry in _COUNT_ENTRY.items()
}


# ---------------------------------------------------------------- k-th nearest anchor distance
#
# The same tiled passes, fused at the end with a test ``v <= t`` against a per-query bound ``t``
# above its current k-th smallest *exact* distance (from ``error_bounds``: any pair the fast
# value puts above ``t`` is certainly farther than the k-th). Pairs that pass are decided with
# the reference arithmetic and inserted into a sorted array of the k smallest exact distances,
# so the result is the reference k-th distance bit for bit, whatever the summation order of the
# fast pass, and ties need no rule (only the k-th value is kept, not which anchor holds it).
# After the first blocks the bound rejects nearly every pair inside the vectorised pass.


@nb.njit(fastmath=_FASTMATH, inline="always")
def _pass_candidates(metric, qa, qb, c, r0, r1, acc_a, acc_b, m, ta, tb):
    """Last two coordinates fused with the candidate test: (#v <= ta, #v <= tb).

    Tallies are kept in the float dtype, as in ``_pass_count``, so the loop stays SIMD-wide.
    """
    a0, a1, b0, b1 = qa[c], qa[c + 1], qb[c], qb[c + 1]
    one = acc_a.dtype.type(1)
    zero = acc_a.dtype.type(0)
    n_a = zero
    n_b = zero
    for j in range(m):
        x0 = r0[j]
        x1 = r1[j]
        va = _combine(metric, acc_a[j], _term(metric, a0, a1, x0, x1))
        vb = _combine(metric, acc_b[j], _term(metric, b0, b1, x0, x1))
        acc_a[j] = va
        acc_b[j] = vb
        n_a += one if va <= ta else zero
        n_b += one if vb <= tb else zero
    return int(n_a), int(n_b)


@nb.njit(fastmath=_FASTMATH, inline="always")
def _branch_candidates(metric, qa, qb, q_start, padded, packed, base, m, acc_a, acc_b, ta, tb):
    """Fast distances of one block to queries ``qa``/``qb`` in one branch, into ``acc_a``/
    ``acc_b``, and how many lie at or below each query's bound."""
    qa = qa[q_start:q_start + padded]
    qb = qb[q_start:q_start + padded]
    if padded == 2:
        for j in range(m):
            acc_a[j] = 0
            acc_b[j] = 0
    c = 0
    while c + 2 < padded:
        row = base + c * m
        _pass(metric, c == 0, qa, qb, c, packed[row:row + m], packed[row + m:row + 2 * m],
              acc_a, acc_b, m)
        c += 2
    row = base + c * m
    return _pass_candidates(metric, qa, qb, c, packed[row:row + m],
                            packed[row + m:row + 2 * m], acc_a, acc_b, m, ta, tb)


@nb.njit(inline="always")
def _fast_bound(d64, bounds, like):
    """A value of the pass's dtype (that of the array ``like``) at or above the fast value of
    every pair whose reference value is at most ``d64`` (+inf stays +inf).

    ``bounds`` = (relative, absolute) of ``error_bounds``, then a factor ``margin`` > 1 and a
    subnormal step ``tiny`` that cover the rounding of this float64 arithmetic and of the
    conversion to the pass's dtype.
    """
    return like.dtype.type((d64 * (1.0 + bounds[0]) + bounds[1]) * bounds[2] + bounds[3])


@nb.njit(inline="always")
def _upper_d64(fast, bounds):
    """An upper bound of the reference value of a pair whose fast value is ``fast``."""
    return ((np.float64(fast) + bounds[1]) / (1.0 - bounds[0])) * bounds[2] + bounds[3]


@nb.njit(fastmath=_FASTMATH)
def _insert_sorted(values, v):
    """Insert ``v`` into the ascending array ``values``, dropping its largest entry."""
    pos = values.shape[0] - 1
    while pos > 0 and values[pos - 1] > v:
        values[pos] = values[pos - 1]
        pos -= 1
    values[pos] = v


@nb.njit(fastmath=_FASTMATH)
def _knn_update(metric, query, width, packed, base, m, acc, n_candidates, t, best, bounds,
                smallest):
    """Insert the exact distances of this block's candidates into ``best`` (ascending, k).

    ``t`` bounds the candidates' fast values (all ``acc[j] <= t``, ``n_candidates`` of them).
    When there are many (the first blocks, while ``best`` is not full), the block's own k
    smallest fast values bound them first: an anchor whose fast value is above the bound of
    the k-th has k anchors of this block strictly nearer, so it cannot be among the k nearest.
    ``smallest`` is a scratch array of k values of the pass's dtype.
    """
    k = best.shape[0]
    if n_candidates > 2 * k + m // (4 * width):
        for i in range(k):
            smallest[i] = np.inf
        for j in range(m):
            if acc[j] < smallest[k - 1]:
                _insert_sorted(smallest, acc[j])
        t = min(t, _fast_bound(_upper_d64(smallest[k - 1], bounds), bounds, acc))
    for j in range(m):
        if acc[j] <= t:
            d = _reference_distance(metric, query, 0, packed, base, m, j, width)
            if d < best[k - 1]:
                _insert_sorted(best, d)
                t = min(t, _fast_bound(best[k - 1], bounds, acc))


@nb.njit(parallel=True, fastmath=_FASTMATH, cache=True)
def _knn_kernel(queries, query_groups, packed, block_offsets, block_sizes, block_groups,
                n_branches, width, metric, bounds, own_group_only, tile_size, best):
    """Fold every block into ``best``: per query, group and branch, the k smallest distances.

    ``best`` is (n_q, n_groups or 1, n_branches, k) float64, ascending along the last axis
    (+inf where fewer than k anchors were seen); l2 entries are squared distances. Layout,
    pairing and ``own_group_only`` are those of ``_count_kernel``.
    """
    literally(metric)
    n_queries = queries.shape[0]
    padded = queries.shape[1] // n_branches
    n_blocks = block_offsets.shape[0]
    n_tiles = (n_queries + tile_size - 1) // tile_size
    k = best.shape[3]
    for tile in nb.prange(n_tiles):
        acc_a = np.empty(BLOCK_SIZE, dtype=packed.dtype)
        acc_b = np.empty(BLOCK_SIZE, dtype=packed.dtype)
        smallest = np.empty(k, dtype=packed.dtype)
        i0 = tile * tile_size
        i1 = min(n_queries, i0 + tile_size)
        for b in range(n_blocks):
            group = block_groups[b]
            if own_group_only and (group < query_groups[i0] or group > query_groups[i1 - 1]):
                continue
            out = 0 if own_group_only else group
            m = block_sizes[b]
            for kb in range(n_branches):
                base = block_offsets[b] + kb * padded * m
                q_start = kb * padded
                for i in range(i0, i1, 2):
                    ia = i
                    ib = min(i + 1, i1 - 1)
                    if own_group_only and query_groups[ia] != group:
                        if query_groups[ib] != group:
                            continue
                        ia = ib
                    elif own_group_only and query_groups[ib] != group:
                        ib = ia
                    best_a = best[ia, out, kb]
                    best_b = best[ib, out, kb]
                    ta = _fast_bound(best_a[k - 1], bounds, acc_a)
                    tb = _fast_bound(best_b[k - 1], bounds, acc_b)
                    n_a, n_b = _branch_candidates(
                        metric, queries[ia], queries[ib], q_start, padded, packed, base, m,
                        acc_a, acc_b, ta, tb,
                    )
                    if n_a > 0:
                        _knn_update(metric, queries[ia][q_start:q_start + padded], width,
                                    packed, base, m, acc_a, n_a, ta, best_a, bounds, smallest)
                    if ib != ia and n_b > 0:
                        _knn_update(metric, queries[ib][q_start:q_start + padded], width,
                                    packed, base, m, acc_b, n_b, tb, best_b, bounds, smallest)
    return best


@nb.njit(cache=True)
def _knn_l1(queries, query_groups, packed, block_offsets, block_sizes, block_groups,
            n_branches, width, bounds, own_group_only, tile_size, best):
    return _knn_kernel(queries, query_groups, packed, block_offsets, block_sizes, block_groups,
                       n_branches, width, 0, bounds, own_group_only, tile_size, best)


@nb.njit(cache=True)
def _knn_l2(queries, query_groups, packed, block_offsets, block_sizes, block_groups,
            n_branches, width, bounds, own_group_only, tile_size, best):
    return _knn_kernel(queries, query_groups, packed, block_offsets, block_sizes, block_groups,
                       n_branches, width, 1, bounds, own_group_only, tile_size, best)


@nb.njit(cache=True)
def _knn_linf(queries, query_groups, packed, block_offsets, block_sizes, block_groups,
              n_branches, width, bounds, own_group_only, tile_size, best):
    return _knn_kernel(queries, query_groups, packed, block_offsets, block_sizes, block_groups,
                       n_branches, width, 2, bounds, own_group_only, tile_size, best)


_KNN_ENTRY = {"l1": _knn_l1, "l2": _knn_l2, "linf": _knn_linf}
_knn_kernel_serial = serial_twin(_knn_kernel)
_KNN_ENTRY_SERIAL = {
    metric: serial_twin(entry, _knn_kernel=_knn_kernel_serial)
    for metric, entry in _KNN_ENTRY.items()
}


def all_finite(x):
    """``np.isfinite(x).all()`` for a 2-D array, without a temporary and in parallel."""
    return (_all_finite_serial if in_forked_child() else _all_finite)(x)


@nb.njit(cache=True, parallel=True)
def _all_finite(x):
    """``np.isfinite(x).all()`` for a 2-D array, without a temporary and in parallel."""
    n_bad = 0
    for i in nb.prange(x.shape[0]):
        for j in range(x.shape[1]):
            v = x[i, j]
            n_bad += not (v - v == 0)  # false exactly for NaN and +-inf
    return n_bad == 0


_all_finite_serial = serial_twin(_all_finite)


@nb.njit(cache=True, parallel=True)
def _pack_blocks(anchors, block_starts, block_sizes, block_offsets, n_branches, padded, packed):
    """Copy each block of anchors into ``packed`` column-major, branch by branch, zero-padded."""
    width = anchors.shape[1] // n_branches
    for b in nb.prange(block_starts.shape[0]):
        start = block_starts[b]
        m = block_sizes[b]
        for k in range(n_branches):
            base = block_offsets[b] + k * padded * m
            for c in range(padded):
                for j in range(m):
                    if c < width:
                        packed[base + c * m + j] = anchors[start + j, k * width + c]
                    else:
                        packed[base + c * m + j] = 0


_pack_blocks_serial = serial_twin(_pack_blocks)


class PackedAnchors:
    """Anchors sorted by group, cut into blocks that never cross a group boundary."""

    def __init__(self, anchors, groups, n_groups, n_branches, dtype):
        n_anchors, n_dims = anchors.shape
        self.width = n_dims // n_branches
        self.padded = self.width + self.width % 2
        self.n_branches = n_branches
        self.n_groups = n_groups
        starts, sizes, block_groups = [], [], []
        bounds = np.searchsorted(groups, np.arange(n_groups + 1))
        for g in range(n_groups):
            for start in range(bounds[g], bounds[g + 1], BLOCK_SIZE):
                starts.append(start)
                sizes.append(min(BLOCK_SIZE, bounds[g + 1] - start))
                block_groups.append(g)
        self.block_starts = np.asarray(starts, dtype=np.int64)
        self.block_sizes = np.asarray(sizes, dtype=np.int64)
        self.block_groups = np.asarray(block_groups, dtype=np.int64)
        stride = n_branches * self.padded
        self.block_offsets = np.concatenate([[0], np.cumsum(self.block_sizes * stride)[:-1]])
        self.block_offsets = self.block_offsets.astype(np.int64)
        self.packed = np.empty(n_anchors * stride, dtype=dtype)
        pack = _pack_blocks_serial if in_forked_child() else _pack_blocks
        pack(np.ascontiguousarray(anchors, dtype=dtype), self.block_starts,
                     self.block_sizes, self.block_offsets, n_branches, self.padded, self.packed)

    def pad_queries(self, queries):
        """Queries in the packed dtype, each branch zero-padded like the anchors."""
        if self.padded == self.width:  # even width: no copy unless dtype or layout differ
            out = np.ascontiguousarray(queries, dtype=self.packed.dtype)
            # read-only input would compile a second specialisation of the kernel
            return out if out.flags.writeable else out.copy()
        n = queries.shape[0]
        out = np.zeros((n, self.n_branches, self.padded), dtype=self.packed.dtype)
        out[:, :, : self.width] = queries.reshape(n, self.n_branches, self.width)
        return out.reshape(n, -1)


@nb.njit(cache=True)
def reference_within(queries, anchors, query_index, anchor_index, branch_index, width, metric,
                     threshold):
    """Decide listed (query, anchor, branch) triples with the reference arithmetic."""
    out = np.empty(query_index.shape[0], dtype=np.bool_)
    for t in range(query_index.shape[0]):
        i = query_index[t]
        j = anchor_index[t]
        start = branch_index[t] * width
        d = 0.0
        for c in range(start, start + width):
            d = _reference_step(metric, d, queries[i, c], anchors[j, c])
        out[t] = d <= threshold
    return out


@nb.njit(cache=True)
def reference_distances(queries, anchors, query_index, anchor_index, branch_index, width,
                        metric):
    """Reference values (l1, squared l2, linf) of listed (query, anchor, branch) triples."""
    out = np.empty(query_index.shape[0], dtype=np.float64)
    for t in range(query_index.shape[0]):
        i = query_index[t]
        j = anchor_index[t]
        start = branch_index[t] * width
        d = 0.0
        for c in range(start, start + width):
            d = _reference_step(metric, d, queries[i, c], anchors[j, c])
        out[t] = d
    return out


def _tile_size(n_queries):
    """Queries per tile: as many as possible (up to ``MAX_QUERY_TILE``), one tile per thread.

    Each tile reads every anchor block once, so the tile size is the reuse of a block. With
    many anchors a chunk holds few queries (``MAX_CHUNK_WORK``) and the blocks come from L3 or
    memory: a quarter of the tile size halved the rate at 100k anchors x 160 dims.
    """
    return int(min(MAX_QUERY_TILE, max(2, -(-n_queries // nb.get_num_threads()))))


def count_chunk(packed_anchors, queries, lo, hi, threshold, metric, query_groups=None):
    """Per-branch counts (n_q, n_groups or 1, n_branches), int64, of one chunk of queries.

    ``lo`` and ``hi`` are scalars of the packed dtype (see ``rounding_band``).
    """
    own_group_only = query_groups is not None
    if query_groups is None:
        query_groups = np.zeros(1, dtype=np.int64)
    n_out = 1 if own_group_only else packed_anchors.n_groups
    counts = np.zeros((queries.shape[0], n_out, packed_anchors.n_branches), dtype=np.int64)
    if queries.shape[0] == 0 or packed_anchors.block_sizes.shape[0] == 0:
        return counts
    tile_size = _tile_size(queries.shape[0])
    entries = _COUNT_ENTRY_SERIAL if in_forked_child() else _COUNT_ENTRY
    entries[metric](
        packed_anchors.pad_queries(queries), query_groups, packed_anchors.packed,
        packed_anchors.block_offsets, packed_anchors.block_sizes, packed_anchors.block_groups,
        packed_anchors.n_branches, packed_anchors.width, lo, hi, float(threshold),
        own_group_only, tile_size, counts,
    )
    return counts


def kth_chunk(packed_anchors, queries, n_neighbors, metric, bounds, query_groups=None):
    """The ``n_neighbors`` smallest reference distances of one chunk of queries, per branch.

    Returns a float64 array (n_q, n_groups or 1, n_branches, n_neighbors), ascending along the
    last axis, +inf where a group holds fewer anchors; l2 entries are squared. ``bounds`` is
    ``_rounding.kth_bounds`` of the packed dtype.
    """
    own_group_only = query_groups is not None
    if query_groups is None:
        query_groups = np.zeros(1, dtype=np.int64)
    n_out = 1 if own_group_only else packed_anchors.n_groups
    best = np.full((queries.shape[0], n_out, packed_anchors.n_branches, n_neighbors), np.inf)
    if queries.shape[0] == 0 or packed_anchors.block_sizes.shape[0] == 0:
        return best
    tile_size = _tile_size(queries.shape[0])
    entries = _KNN_ENTRY_SERIAL if in_forked_child() else _KNN_ENTRY
    entries[metric](
        packed_anchors.pad_queries(queries), query_groups, packed_anchors.packed,
        packed_anchors.block_offsets, packed_anchors.block_sizes, packed_anchors.block_groups,
        packed_anchors.n_branches, packed_anchors.width, np.asarray(bounds, dtype=np.float64),
        own_group_only, tile_size, best,
    )
    return best
