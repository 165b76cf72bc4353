"""Which GPU algorithm finds the trees of a batch, by a cost model checkable on paper.

Two algorithms find the minimum spanning trees of CUDA point clouds:

- **Prim** (:mod:`._prim_triton`): one Triton launch, one program per branch, B serial steps.
  A step's time is the larger of its latency (a few dependent reductions) and the time one
  multiprocessor takes to read the cloud; branches beyond the multiprocessor count queue.
- **Borůvka** (:mod:`._boruvka`): ceil(log2 B) rounds of torch ops over the (n_branches, B, B)
  distance matrix, each a reduction over all rows using the whole device; bounded by the host
  dispatching ~30 small ops per round or by streaming the matrix through HBM, whichever is
  slower, plus one host synchronisation (its uniqueness verdict).

:func:`choose_algorithm` takes the cheaper estimate (Borůvka only while its matrices fit in
``BORUVKA_MAX_BYTES``). The figures in ``GPU`` are an H100-class GPU's (H100 SXM: 132 SMs,
~1.7 GHz, 3.35 TB/s HBM); latencies are typical published microbenchmark values, not
measurements of this code: ``benchmarks/gpu_check.py`` prints the estimates beside measured
times so that the first GPU run confirms or corrects them (docs/persistence.md, "Cost model").
"""

import math

from corel_sklearn.pershom._boruvka import boruvka_rounds, branch_mst_boruvka
from corel_sklearn.pershom._prim_triton import branch_mst_triton, prim_config, triton_available

GPU = {
    "sms": 132,
    "clock_ghz": 1.7,
    "hbm_bytes_per_us": 3.35e6,
    # What one SM streams from L1 / L2 when it runs alone (64 B/clk from L2, 128 B/clk L1).
    "sm_l2_bytes_per_us": 64 * 1.7e3,
    "sm_l1_bytes_per_us": 128 * 1.7e3,
    "l1_bytes": 200 * 1024,  # what stays in L1 of the 256 KB L1/shared per SM
    # Latencies in cycles: a load hitting L1 / L2, one warp-shuffle level, a block barrier with
    # its shared-memory exchange, a dependent arithmetic instruction.
    "l1_latency": 40,
    "l2_latency": 260,
    "shuffle_latency": 30,
    "barrier_latency": 120,
    "alu_latency": 5,
    # Host time to dispatch one small torch op on CUDA (python, dispatcher, launch).
    "op_dispatch_us": 6.0,
    # One host synchronisation (reading Borůvka's verdict) and one kernel launch.
    "sync_us": 15.0,
    "launch_us": 8.0,
    # FP32 lanes busy on a streaming distance kernel (cdist): 128 per SM, 2 instructions per
    # coordinate (subtract, abs-add).
    "lanes": 132 * 128,
}
# Borůvka's matrices (distances, the masked copy, two byte masks) above this: Prim instead.
BORUVKA_MAX_BYTES = 2 << 30
# Torch ops per Borůvka round besides pointer jumping, and per Prim call besides the kernel.
_BORUVKA_OPS_PER_ROUND = 28
_PRIM_EXTRA_OPS = 6
# Reductions per Prim step (distance sum across columns, min key, smallest index, parent).
_REDUCTIONS_PER_STEP = 4


def prim_step_us(n_points, width, itemsize=4, gpu=GPU):
    """Estimated time of one Prim step of one program (one branch), in microseconds.

    The larger of the latency chain (per column block: a load then ~6 dependent operations;
    then the step's reductions: one shuffle level per halving of a warp, plus a barrier each
    when the block has several warps) and the time to stream the cloud through the SM.
    """
    config = prim_config(n_points, width)
    cloud_bytes = n_points * width * itemsize
    in_l1 = cloud_bytes <= gpu["l1_bytes"] and config["RESIDENT"]
    load_latency = gpu["l1_latency"] if in_l1 else gpu["l2_latency"]
    column_blocks = math.ceil(width / config["BLOCK_D"])
    reduction = 5 * gpu["shuffle_latency"] + (config["num_warps"] > 1) * gpu["barrier_latency"]
    cycles = (column_blocks * (load_latency + 6 * gpu["alu_latency"])
              + _REDUCTIONS_PER_STEP * reduction + load_latency)  # + the next point's address
    if not config["RESIDENT"]:  # keys, parents and flags round trip through global memory
        cycles += 2 * gpu["l2_latency"] * math.ceil(n_points / config["BLOCK_B"])
        cloud_bytes += n_points * (itemsize + 8)
    latency_us = cycles / (gpu["clock_ghz"] * 1e3)
    bandwidth = gpu["sm_l1_bytes_per_us"] if in_l1 else gpu["sm_l2_bytes_per_us"]
    return max(latency_us, cloud_bytes / bandwidth)


def prim_estimate_us(n_points, width, n_branches, itemsize=4, gpu=GPU):
    """Estimated time of :func:`branch_mst_triton` for a batch (microseconds)."""
    waves = math.ceil(n_branches / gpu["sms"])  # programs beyond one per SM share an SM
    kernel = (n_points - 1) * prim_step_us(n_points, width, itemsize, gpu) * waves
    return gpu["launch_us"] + kernel + _PRIM_EXTRA_OPS * gpu["op_dispatch_us"]


def boruvka_bytes(n_points, n_branches, itemsize=4):
    """Device memory Borůvka's matrices take at once (bytes)."""
    return n_branches * n_points * n_points * (2 * itemsize + 2)


def boruvka_estimate_us(n_points, width, n_branches, itemsize=4, gpu=GPU):
    """Estimated time of :func:`branch_mst_boruvka` plus the read of its verdict (us).

    Host dispatch and device work overlap (torch ops are asynchronous), so the larger of the
    two counts: ``ops x op_dispatch_us`` against the distance matrix computation
    (``B^2 width`` coordinates, 2 instructions each) plus each round's passes over the matrix
    (about ``4 itemsize + 4`` bytes per entry).
    """
    rounds = boruvka_rounds(n_points)
    jumps = sum(max(math.ceil(math.log2(max(n_points, 2))) - r, 1) for r in range(rounds))
    ops = 8 + rounds * _BORUVKA_OPS_PER_ROUND + 2 * jumps
    host_us = ops * gpu["op_dispatch_us"]
    entries = n_branches * n_points * n_points
    device_us = (2 * entries * width / gpu["lanes"] / (gpu["clock_ghz"] * 1e3)
                 + rounds * entries * (4 * itemsize + 4) / gpu["hbm_bytes_per_us"])
    return max(host_us, device_us) + gpu["sync_us"]


def choose_algorithm(n_points, width, n_branches, itemsize=4):
    """``"boruvka"`` or ``"prim"`` for a batch shape: the cheaper estimate that fits."""
    if n_points < 2 or boruvka_bytes(n_points, n_branches, itemsize) > BORUVKA_MAX_BYTES:
        return "prim"
    prim = prim_estimate_us(n_points, width, n_branches, itemsize)
    boruvka = boruvka_estimate_us(n_points, width, n_branches, itemsize)
    return "boruvka" if boruvka < prim else "prim"


def gpu_msts(points, n_branches, metric, algorithm=None):
    """Edges and lengths of each branch's tree on ``points``' device, or None without triton.

    ``algorithm`` (tests) forces ``"prim"`` or ``"boruvka"``; by default
    :func:`choose_algorithm` picks. Borůvka's tree is used only when it is provably Prim's
    (unique minimum spanning tree); otherwise the Prim kernel runs. Returns None when Prim is
    needed and triton is not installed (the caller then uses the CPU kernel).
    """
    n, dim = points.shape
    width = dim // n_branches
    if algorithm is None:
        algorithm = choose_algorithm(n, width, n_branches, points.element_size())
    if algorithm == "boruvka":
        edges, lengths, unique = branch_mst_boruvka(points, n_branches, metric)
        if bool(unique):  # the one host synchronisation
            return edges, lengths
    if not triton_available():
        return None
    return branch_mst_triton(points, n_branches, metric)
