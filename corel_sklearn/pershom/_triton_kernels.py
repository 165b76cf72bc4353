"""Triton kernels of the GPU persistence (imported only when a kernel is first needed).

Kept apart from :mod:`corel_sklearn.pershom._prim_triton` so that importing corel_sklearn never
imports triton; the kernels are module-level functions so that one ``@triton.jit`` function can
call another, also under ``TRITON_INTERPRET=1``.
"""

import triton
import triton.language as tl


@triton.jit
def _distances(x_base, stride_row, current, rows, row_mask, width, METRIC: tl.constexpr):
    # Distances (not squared) from point ``current`` to points ``rows``, in x's precision,
    # one coordinate at a time: every thread sums its own rows left to right, with no
    # cross-lane reduction (a 2-D tile summed along its columns took ~8x the instructions per
    # coordinate in shuffles and 5x the registers).
    acc = tl.zeros(rows.shape, dtype=x_base.dtype.element_ty)
    row_base = x_base + rows * stride_row
    current_base = x_base + current * stride_row
    for col in range(width):
        diff = tl.load(row_base + col, mask=row_mask, other=0.0) - tl.load(current_base + col)
        if METRIC == 0:
            acc += tl.abs(diff)
        elif METRIC == 1:
            acc += diff * diff
        else:
            acc = tl.maximum(acc, tl.abs(diff))
    if METRIC == 1:
        # IEEE round-to-nearest, as on the CPU (float32's tl.sqrt is an approximation;
        # float64's lowers to sqrt.rn already).
        if acc.dtype == tl.float64:
            acc = tl.sqrt(acc)
        else:
            acc = tl.sqrt_rn(acc)
    return acc


# No specialisation on argument values or pointer alignment: the kernel launched is then
# exactly the one compiled ahead of time for each configuration (gpu_check.py --aot).
@triton.jit(do_not_specialize=["stride_row", "n_points", "width"],
            do_not_specialize_on_alignment=["x_ptr", "key_ptr", "parent_ptr", "in_tree_ptr",
                                            "edges_ptr", "lengths_ptr"])
def prim_kernel(
    x_ptr,
    stride_row,
    n_points,
    width,
    key_ptr,
    parent_ptr,
    in_tree_ptr,
    edges_ptr,
    lengths_ptr,
    METRIC: tl.constexpr,
    BLOCK_B: tl.constexpr,
    RESIDENT: tl.constexpr,
):
    branch = tl.program_id(0)
    x_base = x_ptr + branch * width
    edges_base = edges_ptr + branch * (n_points - 1) * 2
    lengths_base = lengths_ptr + branch * (n_points - 1)
    big_index = n_points + 1
    current = 0
    if RESIDENT:
        # The whole cloud in one block; its Prim state stays in registers.
        rows = tl.arange(0, BLOCK_B)
        row_mask = rows < n_points
        key = tl.full([BLOCK_B], float("inf"), dtype=x_ptr.dtype.element_ty)
        parent = tl.zeros([BLOCK_B], dtype=tl.int32)
        free = row_mask & (rows != 0)
        for step in range(n_points - 1):
            dist = _distances(x_base, stride_row, current, rows, row_mask, width, METRIC)
            improves = free & (dist < key)
            key = tl.where(improves, dist, key)
            parent = tl.where(improves, current, parent)
            candidate = tl.where(free, key, float("inf"))
            if x_ptr.dtype.element_ty == tl.float32:
                # One reduction instead of three: the bits of a key >= 0 order like the key,
                # so (key bits, index, parent) packed into an int64 have their minimum at the
                # smallest key, then the smallest index, and carry that row's parent.
                packed = ((candidate.to(tl.int32, bitcast=True).to(tl.int64) << 22)
                          | (tl.where(free, rows, big_index).to(tl.int64) << 11)
                          | parent.to(tl.int64))
                best = tl.min(packed, axis=0)
                best_key = (best >> 22).to(tl.int32).to(tl.float32, bitcast=True)
                best_index = ((best >> 11) & 2047).to(tl.int32)
                best_parent = (best & 2047).to(tl.int32)
            else:
                best_key = tl.min(candidate, axis=0)
                best_index = tl.min(tl.where(free & (candidate == best_key), rows, big_index),
                                    axis=0)
                best_parent = tl.sum(tl.where(rows == best_index, parent, 0), axis=0)
            chosen = rows == best_index
            tl.store(edges_base + step * 2, best_parent)
            tl.store(edges_base + step * 2 + 1, best_index)
            tl.store(lengths_base + step, best_key)
            free = free & ~chosen
            current = best_index
    else:
        key_base = key_ptr + branch * n_points
        parent_base = parent_ptr + branch * n_points
        in_tree_base = in_tree_ptr + branch * n_points
        for step in range(n_points - 1):
            best_key = tl.full([], float("inf"), dtype=x_ptr.dtype.element_ty)
            best_index = big_index
            for block_start in range(0, n_points, BLOCK_B):
                rows = block_start + tl.arange(0, BLOCK_B)
                row_mask = rows < n_points
                dist = _distances(x_base, stride_row, current, rows, row_mask, width, METRIC)
                in_tree = tl.load(in_tree_base + rows, mask=row_mask, other=1)
                key = tl.load(key_base + rows, mask=row_mask, other=float("inf"))
                free = row_mask & (in_tree == 0)
                improves = free & (dist < key)
                key = tl.where(improves, dist, key)
                tl.store(key_base + rows, key, mask=improves)
                tl.store(parent_base + rows, tl.zeros([BLOCK_B], dtype=tl.int32) + current,
                         mask=improves)
                candidate = tl.where(free, key, float("inf"))
                block_min = tl.min(candidate, axis=0)
                block_index = tl.min(
                    tl.where(free & (candidate == block_min), rows, big_index), axis=0
                )
                better = (block_min < best_key) | (
                    (block_min == best_key) & (block_index < best_index)
                )
                best_key = tl.where(better, block_min, best_key)
                best_index = tl.where(better, block_index, best_index)
            tl.debug_barrier()
            tl.store(in_tree_base + best_index, 1)
            tl.store(edges_base + step * 2, tl.load(parent_base + best_index))
            tl.store(edges_base + step * 2 + 1, best_index)
            tl.store(lengths_base + step, best_key)
            tl.debug_barrier()
            current = best_index
