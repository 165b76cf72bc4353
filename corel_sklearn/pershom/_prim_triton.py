"""Dense Prim minimum spanning trees on the GPU, one Triton kernel launch per batch.

One program per latent branch runs the whole Prim loop on the device, so there is no host
round trip per Prim step, and all branches of a batch share a single launch. The tie rule is the
CPU kernel's: smallest key, then smallest index; a vertex's parent is the first tree vertex that
reached its key.

Two shapes of the same loop (:func:`prim_config` picks one per batch shape):

- *resident* (B <= ``RESIDENT_MAX_POINTS``): the keys, parents and the free mask of the whole
  cloud live in registers for the whole loop; a Prim step reads the cloud (from L1/L2) and
  makes one reduction in float32 (key bits, index and parent packed in an int64), three in
  float64, with no global-memory round trip for the keys.
- *streaming* (larger B): the points go through in blocks of ``BLOCK_B`` rows and the keys live
  in a global scratch buffer.

Each thread owns a few rows and sums their distances one coordinate at a time, so no
configuration needs more than ~40 registers, far from spilling on sm_80 or sm_90 (checked
ahead of time by ``benchmarks/gpu_check.py --aot`` and ``tests/test_prim_triton.py``). Small
clouds get one warp, so that their per-step reductions are warp shuffles with no barrier.

Numerics: every launch sets ``enable_fp_fusion=False`` (no fused multiply-adds, as the CPU
kernel), the l2 root is IEEE round-to-nearest (``sqrt_rn``; float64's square root is
correctly rounded already) and distances are computed in the input's precision (float32 or
float64), each summed over the coordinates left to right. The CPU kernel may group the terms
differently (narrow branches sum blocks of eight coordinates, and it allows reassociation), so
l1 and l2 distances agree with it to rounding, and exactly whenever the sums are exact (e.g.
small integer coordinates); l-infinity distances (a maximum) are always bit-identical.

Triton is imported lazily (only when a CUDA tensor is processed, when a test runs the kernel
under ``TRITON_INTERPRET=1`` on the CPU, or for the ahead-of-time check), so importing
corel_sklearn never touches CUDA.
"""

import functools

import torch

from corel_sklearn._validation import METRIC_CODES

# Largest cloud whose Prim state (keys, parents, free mask) stays in registers. At most
# 2046: the resident float32 kernel packs a key's bits, its index and its parent (11 bits
# each, indices up to n + 1) into one int64 to find the next vertex in one reduction.
RESIDENT_MAX_POINTS = 1024
# Rows per block of the streaming kernel (clouds above RESIDENT_MAX_POINTS).
STREAMING_BLOCK_B = 512
# Rows per warp: one warp up to 64 rows, then a warp per 64 rows, at most _MAX_WARPS.
_ROWS_PER_WARP = 64
_MAX_WARPS = 8
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


def prim_config(n_points):
    """The launch configuration of the Prim kernel for clouds of ``n_points`` points.

    Returns a dict: ``RESIDENT`` (0/1), ``BLOCK_B`` (rows per block: the cloud rounded up to a
    power of two, at least 16, when resident) and ``num_warps``.
    """
    resident = n_points <= RESIDENT_MAX_POINTS
    block_b = max(_next_power_of_2(n_points), 16) if resident else STREAMING_BLOCK_B
    num_warps = min(max(block_b // _ROWS_PER_WARP, 1), _MAX_WARPS)
    return {"RESIDENT": int(resident), "BLOCK_B": block_b, "num_warps": num_warps}


def all_prim_configs():
    """Every configuration :func:`prim_config` can return (sorted by block size).

    It depends on ``n_points`` only through its next power of two (clamped), so the powers of
    two up to past the clamp and one size above it cover all.
    """
    sizes = [1 << k for k in range(1, 12)] + [RESIDENT_MAX_POINTS + 1]
    configs = {tuple(sorted(prim_config(n).items())) for n in sizes}
    return sorted((dict(c) for c in configs), key=lambda c: (c["BLOCK_B"], c["RESIDENT"]))


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
            "BLOCK_B": "constexpr", "RESIDENT": "constexpr"}


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
        config = prim_config(n)
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
