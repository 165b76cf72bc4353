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
from llvmlite import ir
from numba import literally, types
from numba.core import cgutils
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
# Each (query, group, branch) "slot" keeps a short list of candidates: the anchors seen so far
# whose fast value is at most the slot's bound ``T``, as (fast value, position), ascending. A
# fast value ``v`` brackets the reference value ``d64`` (``error_bounds``):
# ``_lower_d64(v) <= d64 <= _upper_d64(v)``. Once the list holds k entries, the upper bracket
# ``H`` of its k-th bounds the k-th reference distance from above, so ``T = _fast_bound(H)`` is
# at or above the fast value of every anchor that can still be among the k nearest. The tiled
# passes of the counts, fused with one test ``v <= T`` per pair, reject nearly every pair after
# the first block; the few that pass are found with one vector compare per 8 anchors.
#
# Reference distances are computed once, at the end, and only for the entries whose bracket
# overlaps that of the k-th (usually the k-th alone): the result is the reference k-th
# distance bit for bit, whatever the summation order of the fast pass, and ties need no rule.
# A list that fills up (more near-ties than it holds, e.g. duplicate anchors) is turned into
# reference values, of which the k smallest are kept ("exact" entries).
#
# Dropping an entry is safe when k other entries are certainly no farther: the k-th smallest
# reference distance of the list, with whatever anchors come later, stays that of all anchors
# seen. Every drop below (an anchor above ``T``, an exact entry above ``H``, a reference value
# above the k smallest) has such k witnesses in the list.

_MIN_LANES = 16  # lanes of the first block's bound: the k-th smallest of 16 lane minima


@intrinsic
def _le_mask(typingctx, values, start, bound):
    """Bit ``l`` set where ``values[start + l] <= bound``, for the lanes of one 256-bit vector
    (8 float32 or 4 float64): one vector compare instead of a test per anchor."""
    if not isinstance(values, types.Array) or bound != values.dtype:
        return None
    lanes = 256 // values.dtype.bitwidth

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        element = context.get_value_type(signature.args[0].dtype)
        vector_type = ir.VectorType(element, lanes)
        pointer = builder.bitcast(builder.gep(array.data, [args[1]]), vector_type.as_pointer())
        vector = builder.load(pointer, align=values.dtype.bitwidth // 8)
        splat = ir.Constant(vector_type, ir.Undefined)
        for lane in range(lanes):
            splat = builder.insert_element(splat, args[2], ir.Constant(ir.IntType(32), lane))
        bits = builder.bitcast(builder.fcmp_ordered("<=", vector, splat), ir.IntType(lanes))
        return builder.zext(bits, ir.IntType(64))
    return types.int64(values, types.intp, values.dtype), codegen


@intrinsic
def _trailing_zeros(typingctx, x):
    """Index of the lowest set bit of a non-zero int64."""
    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        cttz = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i64, [i64, ir.IntType(1)]), "llvm.cttz.i64")
        return builder.call(cttz, [args[0], ir.Constant(ir.IntType(1), 1)])
    return types.int64(types.int64), codegen


@intrinsic
def _lane_minima(typingctx, values, count, mins):
    """``mins[l] = min(values[l::16][:count // 16])`` for the 16 lanes, in 256-bit vectors held
    in registers (``count`` a multiple of 16; ``mins`` is left alone when it is 0).

    A loop over a numba array of minima reloads and stores them on every step (it may alias
    ``values``): twice the time of a distance pass over the same block.
    """
    if not isinstance(values, types.Array) or mins != values:
        return None
    lanes = 256 // values.dtype.bitwidth
    n_vectors = _MIN_LANES // lanes

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        out = context.make_array(signature.args[2])(context, builder, args[2])
        element = context.get_value_type(signature.args[0].dtype)
        vector_type = ir.VectorType(element, lanes)
        align = values.dtype.bitwidth // 8
        n_steps = builder.udiv(args[1], ir.Constant(args[1].type, _MIN_LANES))
        with builder.if_then(builder.icmp_signed(">", n_steps, ir.Constant(n_steps.type, 0))):
            def load(base, v):
                index = builder.add(base, ir.Constant(base.type, v * lanes))
                pointer = builder.bitcast(builder.gep(array.data, [index]),
                                          vector_type.as_pointer())
                return builder.load(pointer, align=align)

            slots = [cgutils.alloca_once(builder, vector_type) for _ in range(n_vectors)]
            zero = ir.Constant(n_steps.type, 0)
            for v in range(n_vectors):
                builder.store(load(zero, v), slots[v])
            with cgutils.for_range_slice(builder, ir.Constant(n_steps.type, 1), n_steps,
                                         ir.Constant(n_steps.type, 1)) as (step, _):
                base = builder.mul(step, ir.Constant(step.type, _MIN_LANES))
                for v in range(n_vectors):
                    x = load(base, v)
                    current = builder.load(slots[v])
                    smaller = builder.fcmp_ordered("<", x, current)
                    builder.store(builder.select(smaller, x, current), slots[v])
            for v in range(n_vectors):
                pointer = builder.bitcast(
                    builder.gep(out.data, [ir.Constant(n_steps.type, v * lanes)]),
                    vector_type.as_pointer())
                builder.store(builder.load(slots[v]), pointer, align=align)
        return context.get_dummy_value()
    return types.none(values, types.intp, mins), codegen


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

    ``bounds`` is ``_rounding.kth_bounds``: (relative, absolute) of ``error_bounds``, a factor
    ``margin`` > 1 and a subnormal step ``tiny`` that cover the rounding of this float64
    arithmetic and of the conversion to the pass's dtype, then the scales of the brackets.
    """
    return like.dtype.type((d64 * (1.0 + bounds[0]) + bounds[1]) * bounds[2] + bounds[3])


@nb.njit(inline="always")
def _upper_d64(fast, bounds):
    """An upper bound of the reference value of a pair whose fast value is ``fast``."""
    return (np.float64(fast) + bounds[1]) * bounds[4] + bounds[3]


@nb.njit(inline="always")
def _lower_d64(fast, bounds):
    """A lower bound of the reference value of a pair whose (finite) fast value is ``fast``."""
    return (np.float64(fast) - bounds[1]) * bounds[5] - bounds[3]


@nb.njit(fastmath=_FASTMATH, inline="always")
def _block_kth_bound(acc, m, k, mins, smallest):
    """A value at or above the k-th smallest of ``acc[:m]`` (``k <= _MIN_LANES``).

    The minima of 16 interleaved lanes are 16 distinct values of ``acc``, so the k-th smallest
    of them is at or above the k-th smallest of ``acc``: one vector min per 16 anchors, and
    about k + 1 of the block's anchors fall below it on random data.
    """
    for lane in range(_MIN_LANES):
        mins[lane] = np.inf
    full = m - m % _MIN_LANES
    _lane_minima(acc, full, mins)
    for j in range(full, m):
        mins[j - full] = min(mins[j - full], acc[j])
    for i in range(k):
        smallest[i] = np.inf
    for lane in range(_MIN_LANES):
        v = mins[lane]
        if v < smallest[k - 1]:
            p = k - 1
            while p > 0 and smallest[p - 1] > v:
                smallest[p] = smallest[p - 1]
                p -= 1
            smallest[p] = v
    return smallest[k - 1]


@nb.njit(fastmath=_FASTMATH, inline="always")
def _anchor_reference(metric, query, q_start, width, rows, block_starts, branch, pos):
    """Reference value of the query's branch and the anchor at ``pos`` (block * BLOCK_SIZE + j).

    Read from the row-major anchors ``rows`` (the packed dtype holds the input values exactly):
    one contiguous slice, where the column-major block would cost a cache line per coordinate.
    """
    b = pos // BLOCK_SIZE
    row = block_starts[b] + pos - b * BLOCK_SIZE
    a_start = branch * width
    d = 0.0
    for c in range(width):
        d = _reference_step(metric, d, query[q_start + c], rows[row, a_start + c])
    return d


@nb.njit(fastmath=_FASTMATH, inline="always")
def _kth_upper(s, k, n, fast_v, n_exact, exact_v, bounds):
    """The k-th smallest upper bracket of slot ``s``'s entries (n fast + exact >= k)."""
    capacity = fast_v.shape[0] // n_exact.shape[0]
    f0 = s * capacity
    n_ex = n_exact[s]
    if n_ex == 0:
        return _upper_d64(fast_v[f0 + k - 1], bounds)
    e0 = s * k
    i = 0
    e = 0
    h = 0.0
    for _ in range(k):  # merge of two ascending lists
        if e >= n_ex or (i < n and _upper_d64(fast_v[f0 + i], bounds) <= exact_v[e0 + e]):
            h = _upper_d64(fast_v[f0 + i], bounds)
            i += 1
        else:
            h = exact_v[e0 + e]
            e += 1
    return h


@nb.njit(fastmath=_FASTMATH)
def _slot_to_exact(s, k, fast_v, fast_pos, n_fast, exact_v, n_exact, metric, query, q_start,
                   width, rows, block_starts, branch):
    """Replace slot ``s``'s fast entries by their reference values, keeping the k smallest."""
    capacity = fast_v.shape[0] // n_fast.shape[0]
    f0 = s * capacity
    e0 = s * k
    n_ex = n_exact[s]
    for i in range(n_fast[s]):
        d = _anchor_reference(metric, query, q_start, width, rows, block_starts,
                              branch, fast_pos[f0 + i])
        if n_ex < k or d < exact_v[e0 + k - 1]:
            p = n_ex if n_ex < k else k - 1
            while p > 0 and exact_v[e0 + p - 1] > d:
                exact_v[e0 + p] = exact_v[e0 + p - 1]
                p -= 1
            exact_v[e0 + p] = d
            n_ex = min(k, n_ex + 1)
    n_exact[s] = n_ex
    n_fast[s] = 0


@nb.njit(fastmath=_FASTMATH, inline="always")
def _slot_trim(s, k, fast_v, n_fast, exact_v, n_exact, bounds):
    """Drop slot ``s``'s entries that cannot be among its k nearest; return its bound T.

    T is +inf while the slot holds fewer than k entries.
    """
    capacity = fast_v.shape[0] // n_fast.shape[0]
    f0 = s * capacity
    n = n_fast[s]
    n_ex = n_exact[s]
    t = fast_v.dtype.type(np.inf)
    if n + n_ex >= k:
        h = _kth_upper(s, k, n, fast_v, n_exact, exact_v, bounds)
        t = _fast_bound(h, bounds, fast_v)
        while n > 0 and fast_v[f0 + n - 1] > t:
            n -= 1
        while n_ex > 0 and exact_v[s * k + n_ex - 1] > h:
            n_ex -= 1
        n_exact[s] = n_ex
        n_fast[s] = n
    return t


@nb.njit(fastmath=_FASTMATH, inline="always")
def _slot_push(s, v, pos, fast_v, fast_pos, n_fast):
    """Insert the anchor at ``pos`` with fast value ``v`` into slot ``s``'s (not full) list."""
    capacity = fast_v.shape[0] // n_fast.shape[0]
    f0 = s * capacity
    p = n_fast[s]
    while p > 0 and fast_v[f0 + p - 1] > v:
        fast_v[f0 + p] = fast_v[f0 + p - 1]
        fast_pos[f0 + p] = fast_pos[f0 + p - 1]
        p -= 1
    fast_v[f0 + p] = v
    fast_pos[f0 + p] = pos
    n_fast[s] += 1


@nb.njit(fastmath=_FASTMATH, inline="always")
def _slot_add(s, v, pos, scan, k, fast_v, fast_pos, n_fast, exact_v, n_exact, bounds, metric,
              query, q_start, width, rows, block_starts, branch):
    """Add the anchor at ``pos`` (fast value ``v <= scan``) to slot ``s``; return the scan
    bound, tightened when the list was full.

    The bound T is recomputed only when the list fills up (and at the end of each block, by
    the caller): entries kept longer than needed are harmless, and a block's candidates
    cost one sorted insertion each.
    """
    capacity = fast_v.shape[0] // n_fast.shape[0]
    if n_fast[s] == capacity:
        scan = min(scan, _slot_trim(s, k, fast_v, n_fast, exact_v, n_exact, bounds))
        if v > scan:
            return scan
        if n_fast[s] == capacity:  # more near-ties than the list holds
            _slot_to_exact(s, k, fast_v, fast_pos, n_fast, exact_v, n_exact, metric, query,
                           q_start, width, rows, block_starts, branch)
    _slot_push(s, v, pos, fast_v, fast_pos, n_fast)
    return scan


@nb.njit(fastmath=_FASTMATH, inline="always")
def _slot_block(s, acc, m, t, block, k, fast_v, fast_pos, n_fast, exact_v, n_exact, bounds,
                mins, smallest, metric, query, q_start, width, rows, block_starts,
                branch):
    """Fold the fast values ``acc[:m]`` of one block into slot ``s`` (bound ``t``); return the
    slot's new bound."""
    scan = t
    if n_fast[s] + n_exact[s] < k and k <= _MIN_LANES:  # first block: bound it by itself
        kth_here = _block_kth_bound(acc, m, k, mins, smallest)
        scan = min(scan, _fast_bound(_upper_d64(kth_here, bounds), bounds, acc))
    pos0 = block * BLOCK_SIZE
    lanes = 32 // acc.itemsize
    full = m - m % lanes
    for j0 in range(0, full, lanes):
        mask = _le_mask(acc, j0, scan)
        while mask != 0:
            j = j0 + _trailing_zeros(mask)
            mask &= mask - 1
            v = acc[j]
            if v <= scan:
                scan = _slot_add(s, v, pos0 + j, scan, k, fast_v, fast_pos, n_fast, exact_v,
                                 n_exact, bounds, metric, query, q_start, width, rows,
                                 block_starts, branch)
    for j in range(full, m):
        v = acc[j]
        if v <= scan:
            scan = _slot_add(s, v, pos0 + j, scan, k, fast_v, fast_pos, n_fast, exact_v,
                             n_exact, bounds, metric, query, q_start, width, rows,
                             block_starts, branch)
    return _slot_trim(s, k, fast_v, n_fast, exact_v, n_exact, bounds)


@nb.njit(fastmath=_FASTMATH, inline="always")
def _slot_kth(s, k, fast_v, fast_pos, n_fast, exact_v, n_exact, bounds, scratch, metric,
              query, q_start, width, rows, block_starts, branch):
    """The k-th smallest reference value of slot ``s`` (+inf with fewer than k entries)."""
    capacity = fast_v.shape[0] // n_fast.shape[0]
    f0 = s * capacity
    n = n_fast[s]
    n_ex = n_exact[s]
    if n + n_ex < k:
        return np.inf
    if n_ex == 0 and fast_v[f0 + k - 1] < np.inf:
        # d64 of the k-th lies in the bracket of the k-th fast value; entries whose bracket
        # lies wholly below it are nearer, those wholly above are farther.
        lo = _lower_d64(fast_v[f0 + k - 1], bounds)
        hi = _upper_d64(fast_v[f0 + k - 1], bounds)
        first = k - 1
        while first > 0 and _upper_d64(fast_v[f0 + first - 1], bounds) >= lo:
            first -= 1
        last = k
        while last < n and _lower_d64(fast_v[f0 + last], bounds) <= hi:
            last += 1
        if last - first == 1:
            return _anchor_reference(metric, query, q_start, width, rows, block_starts,
                                     branch, fast_pos[f0 + k - 1])
        count = last - first
        for i in range(count):
            scratch[i] = _anchor_reference(metric, query, q_start, width, rows,
                                           block_starts, branch,
                                           fast_pos[f0 + first + i])
        rank = k - 1 - first
    else:
        count = 0
        for i in range(n_ex):
            scratch[count] = exact_v[s * k + i]
            count += 1
        for i in range(n):
            scratch[count] = _anchor_reference(metric, query, q_start, width, rows,
                                               block_starts, branch,
                                               fast_pos[f0 + i])
            count += 1
        rank = k - 1
    for i in range(1, count):  # insertion sort of a few values
        v = scratch[i]
        p = i
        while p > 0 and scratch[p - 1] > v:
            scratch[p] = scratch[p - 1]
            p -= 1
        scratch[p] = v
    return scratch[rank]


@nb.njit(parallel=True, fastmath=_FASTMATH, cache=True)
def _knn_kernel(queries, query_groups, packed, block_offsets, block_sizes, block_groups,
                rows, block_starts, n_branches, width, metric, bounds, own_group_only, tile_size,
                thresholds, fast_v, fast_pos, n_fast, exact_v, n_exact, kth):
    """Per query, group and branch, the k-th smallest reference distance, into ``kth``.

    ``kth`` is (n_q, n_groups or 1, n_branches) float64 (squared for l2); the slot arrays hold
    ``n_q * n_groups_or_1 * n_branches`` slots: ``thresholds`` (+inf), ``n_fast`` and
    ``n_exact`` (0), ``fast_v``/``fast_pos`` (capacity per slot) and ``exact_v`` (k per slot).
    Layout, pairing and ``own_group_only`` are those of ``_count_kernel``.
    """
    literally(metric)
    n_queries = queries.shape[0]
    padded = queries.shape[1] // n_branches
    n_blocks = block_offsets.shape[0]
    n_tiles = (n_queries + tile_size - 1) // tile_size
    n_out = kth.shape[1]
    k = exact_v.shape[0] // thresholds.shape[0]
    capacity = fast_v.shape[0] // thresholds.shape[0]
    for tile in nb.prange(n_tiles):
        acc_a = np.empty(BLOCK_SIZE, dtype=packed.dtype)
        acc_b = np.empty(BLOCK_SIZE, dtype=packed.dtype)
        mins = np.empty(_MIN_LANES, dtype=packed.dtype)
        smallest = np.empty(max(k, 1), dtype=packed.dtype)
        scratch = np.empty(capacity + k, dtype=np.float64)
        i0 = tile * tile_size
        i1 = min(n_queries, i0 + tile_size)
        # Branches outermost: the slots of one branch (a 16th of the tile's lists with 16
        # branches) stay in cache while all blocks pass; each slot meets the blocks in order.
        for kb in range(n_branches):
            q_start = kb * padded
            for b in range(n_blocks):
                group = block_groups[b]
                if own_group_only and (group < query_groups[i0] or group > query_groups[i1 - 1]):
                    continue
                out = 0 if own_group_only else group
                m = block_sizes[b]
                base = block_offsets[b] + kb * padded * m
                for i in range(i0, i1, 2):
                    ia = i
                    ib = min(i + 1, i1 - 1)
                    if own_group_only and query_groups[ia] != group:
                        if query_groups[ib] != group:
                            continue
                        ia = ib
                    elif own_group_only and query_groups[ib] != group:
                        ib = ia
                    sa = (ia * n_out + out) * n_branches + kb
                    sb = (ib * n_out + out) * n_branches + kb
                    ta = thresholds[sa]
                    tb = thresholds[sb]
                    n_a, n_b = _branch_candidates(
                        metric, queries[ia], queries[ib], q_start, padded, packed, base, m,
                        acc_a, acc_b, ta, tb,
                    )
                    if n_a > 0:
                        thresholds[sa] = _slot_block(
                            sa, acc_a, m, ta, b, k, fast_v, fast_pos, n_fast, exact_v,
                            n_exact, bounds, mins, smallest, metric, queries[ia], q_start,
                            width, rows, block_starts, kb)
                    if ib != ia and n_b > 0:
                        thresholds[sb] = _slot_block(
                            sb, acc_b, m, tb, b, k, fast_v, fast_pos, n_fast, exact_v,
                            n_exact, bounds, mins, smallest, metric, queries[ib], q_start,
                            width, rows, block_starts, kb)
        for i in range(i0, i1):
            for out in range(n_out):
                for kb in range(n_branches):
                    kth[i, out, kb] = _slot_kth(
                        (i * n_out + out) * n_branches + kb, k, fast_v, fast_pos, n_fast,
                        exact_v, n_exact, bounds, scratch, metric, queries[i], kb * padded,
                        width, rows, block_starts, kb)
    return kth


@nb.njit(cache=True)
def _knn_l1(queries, query_groups, packed, block_offsets, block_sizes, block_groups, rows,
            block_starts, n_branches, width, bounds, own_group_only, tile_size, thresholds,
            fast_v, fast_pos, n_fast, exact_v, n_exact, kth):
    return _knn_kernel(queries, query_groups, packed, block_offsets, block_sizes, block_groups,
                       rows, block_starts, n_branches, width, 0, bounds, own_group_only,
                       tile_size, thresholds, fast_v, fast_pos, n_fast, exact_v, n_exact, kth)


@nb.njit(cache=True)
def _knn_l2(queries, query_groups, packed, block_offsets, block_sizes, block_groups, rows,
            block_starts, n_branches, width, bounds, own_group_only, tile_size, thresholds,
            fast_v, fast_pos, n_fast, exact_v, n_exact, kth):
    return _knn_kernel(queries, query_groups, packed, block_offsets, block_sizes, block_groups,
                       rows, block_starts, n_branches, width, 1, bounds, own_group_only,
                       tile_size, thresholds, fast_v, fast_pos, n_fast, exact_v, n_exact, kth)


@nb.njit(cache=True)
def _knn_linf(queries, query_groups, packed, block_offsets, block_sizes, block_groups, rows,
              block_starts, n_branches, width, bounds, own_group_only, tile_size, thresholds,
              fast_v, fast_pos, n_fast, exact_v, n_exact, kth):
    return _knn_kernel(queries, query_groups, packed, block_offsets, block_sizes, block_groups,
                       rows, block_starts, n_branches, width, 2, bounds, own_group_only,
                       tile_size, thresholds, fast_v, fast_pos, n_fast, exact_v, n_exact, kth)


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
        # Row-major anchors in the packed dtype (the input itself when it already is): the k-th
        # kernel reads reference distances from contiguous rows.
        self.rows = np.ascontiguousarray(anchors, dtype=dtype)
        if not self.rows.flags.writeable:  # one specialisation of the kernels
            self.rows = self.rows.copy()
        pack = _pack_blocks_serial if in_forked_child() else _pack_blocks
        pack(self.rows, self.block_starts, self.block_sizes, self.block_offsets, n_branches,
             self.padded, self.packed)

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
    threads = nb.get_num_threads()
    # Tiles in whole rounds of the threads: 7 tiles of 128 on 2 threads leave one thread idle
    # for an eighth of the chunk; 8 tiles of 105 do not.
    rounds = -(-n_queries // (threads * MAX_QUERY_TILE))
    tile = -(-n_queries // (threads * rounds))
    return int(min(MAX_QUERY_TILE, max(2, tile + tile % 2)))  # queries go in pairs


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


def kth_capacity(n_neighbors):
    """Candidates kept per (query, group, branch) before near-ties turn into reference values."""
    return 2 * int(n_neighbors) + 8


def kth_chunk(packed_anchors, queries, n_neighbors, metric, bounds, query_groups=None):
    """The ``n_neighbors``-th smallest reference distance of one chunk of queries, per branch.

    Returns a float64 array (n_q, n_groups or 1, n_branches), +inf where a group holds fewer
    anchors; l2 values are squared. ``bounds`` is ``_rounding.kth_bounds`` of the packed dtype.
    """
    own_group_only = query_groups is not None
    if query_groups is None:
        query_groups = np.zeros(1, dtype=np.int64)
    n_out = 1 if own_group_only else packed_anchors.n_groups
    kth = np.full((queries.shape[0], n_out, packed_anchors.n_branches), np.inf)
    if queries.shape[0] == 0 or packed_anchors.block_sizes.shape[0] == 0:
        return kth
    n_slots = kth.size
    k = int(n_neighbors)
    capacity = kth_capacity(k)
    dtype = packed_anchors.packed.dtype
    tile_size = _tile_size(queries.shape[0])
    entries = _KNN_ENTRY_SERIAL if in_forked_child() else _KNN_ENTRY
    entries[metric](
        packed_anchors.pad_queries(queries), query_groups, packed_anchors.packed,
        packed_anchors.block_offsets, packed_anchors.block_sizes, packed_anchors.block_groups,
        packed_anchors.rows, packed_anchors.block_starts, packed_anchors.n_branches,
        packed_anchors.width, np.asarray(bounds, dtype=np.float64),
        own_group_only, tile_size, np.full(n_slots, np.inf, dtype=dtype),
        np.empty(n_slots * capacity, dtype=dtype), np.empty(n_slots * capacity, dtype=np.int64),
        np.zeros(n_slots, dtype=np.int64), np.empty(n_slots * k),
        np.zeros(n_slots, dtype=np.int64), kth,
    )
    return kth
