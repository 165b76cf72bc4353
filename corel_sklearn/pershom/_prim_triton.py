"""Dense Prim minimum spanning trees on the GPU, one Triton kernel launch per batch.

One program per latent branch runs the whole Prim loop on the device, so there is no host
round trip per Prim step, and all branches of a batch share a single launch. The tie rule is the
CPU kernel's: smallest key, then smallest index; a vertex's parent is the first tree vertex that
reached its key.

Two shapes of the same loop (:func:`prim_config` picks one per batch shape):

- *resident* (B <= ``RESIDENT_MAX_POINTS``): the keys, parents and the free mask of the whole
  cloud live in registers for the whole loop; a Prim step reads the cloud (from L1/L2) and
  makes three reductions, with no global-memory round trip for the keys.
- *streaming* (larger B): the points go through in blocks of ``BLOCK_B`` rows and the keys live
  in a global scratch buffer.

Block shapes and warps are chosen so that the distance tile is at most
``_TILE_ELEMENTS_PER_THREAD`` values per thread (16 float32 or 8 float64): with it no
configuration spills registers on sm_80 or sm_90 (checked ahead of time by
``benchmarks/gpu_check.py --aot`` and ``tests/test_prim_triton.py``). Small clouds get fewer
warps, so that their per-step reductions stay inside one or two warps.

Numerics: every launch sets ``enable_fp_fusion=False`` (no fused multiply-adds, as the CPU
kernel), the l2 root is ``sqrt_rn`` (IEEE round-to-nearest) and distances are computed in the
input's precision (float32 or float64). Per point, the coordinate terms are summed in a tree
(a tile reduction), not left to right as on the CPU, so l1 and l2 distances agree with the CPU
kernel to rounding, and exactly whenever the sums are exact (e.g. integer coordinates);
l-infinity distances (a maximum) are always bit-identical.

Triton is imported lazily (only when a CUDA tensor is processed, when a test runs the kernel
under ``TRITON_INTERPRET=1`` on the CPU, or for the ahead-of-time check), so importing
corel_sklearn never touches CUDA.
"""

import functools

import torch

from corel_sklearn.pershom._prim_cpu import METRIC_CODES

# Largest cloud whose Prim state (keys, parents, free mask) stays in registers.
RESIDENT_MAX_POINTS = 1024
# Rows per block of the streaming kernel (clouds above RESIDENT_MAX_POINTS), float32.
STREAMING_BLOCK_B = 512
# Elements of the (BLOCK_B, BLOCK_D) distance tile per thread: bounds the registers it takes.
_TILE_ELEMENTS_PER_THREAD = 16
# Narrowest column block (smaller widths are padded with masked columns).
_MIN_BLOCK_D = 4
# Every launch: no floating-point contraction, whatever triton's default (it changes in 3.10).
LAUNCH_NUMERICS = {"enable_fp_fusion": False}


def triton_available():
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def _next_power_of_2(n):
    return 1 << max(int(n) - 1, 0).bit_length()


def prim_config(n_points, width, dtype=torch.float32):
    """The launch configuration of the Prim kernel for a batch shape.

    Returns a dict: ``RESIDENT`` (0/1), ``BLOCK_B`` (rows per block), ``BLOCK_D`` (columns per
    block) and ``num_warps``. The tile ``BLOCK_B x BLOCK_D`` holds at most
    ``_TILE_ELEMENTS_PER_THREAD`` float32 values (half as many float64) per thread.
    """
    element_size = torch.empty((), dtype=dtype).element_size()
    resident = n_points <= RESIDENT_MAX_POINTS
    # Streaming float64 takes half the rows (512 x 4 float64 on 8 warps spills on sm_80).
    streaming_rows = STREAMING_BLOCK_B * 4 // element_size
    block_b = max(_next_power_of_2(n_points), 16) if resident else streaming_rows
    # One warp up to 64 rows, then one more warp per 64 rows, at most 8 (256 threads).
    num_warps = min(max(block_b // 64, 1), 8)
    per_thread = _TILE_ELEMENTS_PER_THREAD * 4 // element_size
    block_d_cap = max(per_thread * 32 * num_warps // block_b, _MIN_BLOCK_D)
    block_d = min(max(_next_power_of_2(width), _MIN_BLOCK_D), block_d_cap)
    return {"RESIDENT": int(resident), "BLOCK_B": block_b, "BLOCK_D": block_d,
            "num_warps": num_warps}


def all_prim_configs(dtype=torch.float32):
    """Every configuration :func:`prim_config` can return for ``dtype`` (sorted).

    ``prim_config`` depends on ``n_points`` and ``width`` only through their next powers of two
    (clamped), so powers of two and their successors up to well past every clamp cover all.
    """
    sizes = sorted({s for k in range(16) for s in (1 << k, (1 << k) + 1)})
    configs = {tuple(sorted(prim_config(n, w, dtype).items())) for n in sizes if n >= 2
               for w in sizes if w <= 4096}
    return [dict(c) for c in sorted(configs)]


@functools.cache
def _kernels():
    # Imported on first use only: the kernel module imports triton.
    from corel_sklearn.pershom import _triton_kernels

    return _triton_kernels


def prim_signature(dtype="fp32"):
    """Argument types of ``prim_kernel`` (for ahead-of-time compilation)."""
    return {"x_ptr": f"*{dtype}", "stride_row": "i32", "n_points": "i32", "width": "i32",
            "key_ptr": f"*{dtype}", "parent_ptr": "*i32", "in_tree_ptr": "*i32",
            "edges_ptr": "*i32", "lengths_ptr": f"*{dtype}", "METRIC": "constexpr",
            "BLOCK_B": "constexpr", "BLOCK_D": "constexpr", "RESIDENT": "constexpr"}


def branch_mst_triton(x, n_branches, metric):
    """MST edges of each branch of the device tensor ``x`` (B, n_branches * width), by Prim.

    Returns ``edges`` (n_branches, B-1, 2) int64 and ``lengths`` (n_branches, B-1) in ``x``'s
    dtype (float32 or float64) on ``x.device``, each branch sorted by increasing length (stable,
    so ties keep Prim's order): the very output of the CPU kernel when distances are exact.
    """
    x = x.detach()
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()
    x = x.contiguous()
    n, dim = x.shape
    width = dim // n_branches
    device = x.device
    m = max(n - 1, 0)
    edges = torch.empty((n_branches, m, 2), dtype=torch.int32, device=device)
    lengths = torch.empty((n_branches, m), dtype=x.dtype, device=device)
    if n > 1:
        config = prim_config(n, width, x.dtype)
        num_warps = config.pop("num_warps")
        if config["RESIDENT"]:  # no scratch (the state lives in registers): placeholders
            key = torch.empty(1, dtype=x.dtype, device=device)
            parent = in_tree = torch.empty(1, dtype=torch.int32, device=device)
        else:
            key = torch.full((n_branches, n), float("inf"), dtype=x.dtype, device=device)
            parent = torch.zeros((n_branches, n), dtype=torch.int32, device=device)
            in_tree = torch.zeros((n_branches, n), dtype=torch.int32, device=device)
            in_tree[:, 0] = 1
        _kernels().prim_kernel[(n_branches,)](
            x, x.stride(0), n, width, key, parent, in_tree, edges, lengths,
            METRIC=METRIC_CODES[metric], **config, num_warps=num_warps, **LAUNCH_NUMERICS,
        )
    lengths, order = torch.sort(lengths, dim=1, stable=True)
    edges = torch.gather(edges.long(), 1, order.unsqueeze(-1).expand(-1, -1, 2))
    return edges, lengths
