"""Dense Prim minimum spanning trees on the GPU, one Triton kernel launch per batch.

One program per latent branch runs the whole Prim loop on the device, so there is no host
round trip per Prim step, and all branches of a batch share a single launch. The tie rule is the
CPU kernel's: smallest key, then smallest index; a vertex's parent is the first tree vertex that
reached its key.

Triton is imported lazily (only when a CUDA tensor is processed, or when a test runs the kernel
under ``TRITON_INTERPRET=1`` on the CPU), so importing corel_sklearn never touches CUDA.
"""

import functools

import torch

from corel_sklearn.pershom._prim_cpu import METRIC_CODES


def triton_available():
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def _compile():
    import triton
    import triton.language as tl

    @triton.jit
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
        BLOCK_D: tl.constexpr,
    ):
        branch = tl.program_id(0)
        x_base = x_ptr + branch * width
        key_base = key_ptr + branch * n_points
        parent_base = parent_ptr + branch * n_points
        in_tree_base = in_tree_ptr + branch * n_points
        edges_base = edges_ptr + branch * (n_points - 1) * 2
        lengths_base = lengths_ptr + branch * (n_points - 1)
        big_index = n_points + 1
        current = 0
        for step in range(n_points - 1):
            best_key = float("inf")
            best_index = big_index
            for block_start in range(0, n_points, BLOCK_B):
                rows = block_start + tl.arange(0, BLOCK_B)
                row_mask = rows < n_points
                acc = tl.zeros([BLOCK_B], dtype=tl.float32)
                for col_start in range(0, width, BLOCK_D):
                    cols = col_start + tl.arange(0, BLOCK_D)
                    col_mask = cols < width
                    xc = tl.load(x_base + current * stride_row + cols, mask=col_mask, other=0.0)
                    xj = tl.load(
                        x_base + rows[:, None] * stride_row + cols[None, :],
                        mask=row_mask[:, None] & col_mask[None, :],
                        other=0.0,
                    )
                    diff = (xj - xc[None, :]).to(tl.float32)
                    if METRIC == 0:
                        acc += tl.sum(tl.abs(diff), axis=1)
                    elif METRIC == 1:
                        acc += tl.sum(diff * diff, axis=1)
                    else:
                        acc = tl.maximum(acc, tl.max(tl.abs(diff), axis=1))
                if METRIC == 1:
                    dist = tl.sqrt_rn(acc)  # IEEE rounding, as on the CPU
                else:
                    dist = acc
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

    return prim_kernel


def branch_mst_triton(x, n_branches, metric):
    """MST edges of each branch of the device tensor ``x`` (B, n_branches * width).

    Returns ``edges`` (n_branches, B-1, 2) int64 and ``lengths`` (n_branches, B-1) float32 on
    ``x.device``, each branch sorted by increasing length (stable).
    """
    import triton

    x = x.detach().contiguous()
    n, dim = x.shape
    width = dim // n_branches
    device = x.device
    key = torch.full((n_branches, n), float("inf"), dtype=torch.float32, device=device)
    parent = torch.zeros((n_branches, n), dtype=torch.int32, device=device)
    in_tree = torch.zeros((n_branches, n), dtype=torch.int32, device=device)
    in_tree[:, 0] = 1
    edges = torch.empty((n_branches, max(n - 1, 0), 2), dtype=torch.int32, device=device)
    lengths = torch.empty((n_branches, max(n - 1, 0)), dtype=torch.float32, device=device)
    if n > 1:
        block_b = min(max(triton.next_power_of_2(n), 16), 256)
        block_d = min(max(triton.next_power_of_2(width), 16), 64)
        _compile()[(n_branches,)](
            x, x.stride(0), n, width, key, parent, in_tree, edges, lengths,
            METRIC=METRIC_CODES[metric], BLOCK_B=block_b, BLOCK_D=block_d,
        )
    lengths, order = torch.sort(lengths, dim=1, stable=True)
    edges = torch.gather(edges.long(), 1, order.unsqueeze(-1).expand(-1, -1, 2))
    return edges, lengths
