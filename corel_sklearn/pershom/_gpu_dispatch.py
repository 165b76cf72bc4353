"""Which GPU algorithm finds the trees of a batch, by a cost model checkable on paper.

Two algorithms find the minimum spanning trees of CUDA point clouds:

- **Prim** (:mod:`._prim_triton`): one Triton launch, one program per branch, B serial steps.
  A step costs its instructions (counted in the compiled SASS) and its exposed latencies (a
  few dependent reductions), or the time one multiprocessor takes to read the cloud if that
  is longer; branches beyond the multiprocessor count queue.
- **Borůvka** (:mod:`._boruvka`): ceil(log2 B) rounds of torch ops over the (n_branches, B, B)
  distance matrix, each a reduction over all rows using the whole device; bounded by the host
  dispatching ~30 small ops per round or by streaming the matrix through HBM, whichever is
  slower, plus one host synchronisation (its uniqueness verdict). Branches go in groups whose
  matrices fit in ``BORUVKA_MAX_BYTES``.

:func:`choose_algorithm` takes the cheaper estimate. The figures in ``GPU`` are an
H100-class GPU's (H100 SXM: 132 SMs, ~1.7 GHz, 3.35 TB/s HBM); latencies are typical
published microbenchmark values, not measurements of this code: ``benchmarks/gpu_check.py``
prints the estimates beside measured times so that the first GPU run confirms or corrects
them (docs/persistence.md, "Cost model").
"""

import math

import torch

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
# Dependent block-wide reductions per resident Prim step: float32 packs the key, its index and
# its parent into one int64 minimum; float64 takes min key, smallest index, the parent.
_REDUCTIONS_PER_STEP = {4: 1, 8: 3}
# SASS instructions per warp of the Prim kernel (sm_90, float32, l1; `gpu_check.py --aot`
# prints the loops of every configuration), by rows per thread: per coordinate of the
# distance loop, and per step besides it; streaming: per row block besides its distance loop,
# and per step besides the blocks.
SASS_PER_COORDINATE = {1: 17, 2: 23, 4: 33}
SASS_PER_STEP = {1: 110, 2: 190, 4: 269}
SASS_STREAMING_PER_BLOCK = 180
SASS_STREAMING_PER_STEP = 53


def _rows_per_thread(config):
    return max(config["BLOCK_B"] // (32 * config["num_warps"]), 1)


def prim_step_cycles(n_points, width, itemsize=4, gpu=GPU):
    """Estimated cycles of one Prim step of one program (one branch), and what bounds it.

    The distance loop costs the larger of its issued instructions (SASS counts above, per
    warp; warps beyond four share a scheduler) and its chain of loads (the loop is unrolled
    two-fold, four-fold at four rows per thread, so that many loads are in flight). The rest
    of the step is its instructions plus its exposed latency: one program per SM has no other
    work to hide it behind (the reductions: five shuffle levels each, plus a barrier when the
    block has several warps; then the next point's first load). Unless streaming the cloud
    through the SM takes longer. Returns ``(cycles, bound)``, ``bound`` naming the limit.
    """
    config = prim_config(n_points)
    rows = _rows_per_thread(config)
    warps_per_scheduler = math.ceil(config["num_warps"] / 4)
    unroll = 4 if rows >= 4 else 2
    cloud_bytes = n_points * width * itemsize
    in_l1 = cloud_bytes <= gpu["l1_bytes"] and config["RESIDENT"]
    load_latency = gpu["l1_latency"] if in_l1 else gpu["l2_latency"]
    reduction = 5 * gpu["shuffle_latency"] + (config["num_warps"] > 1) * gpu["barrier_latency"]
    distance_issue = width * SASS_PER_COORDINATE[rows] * warps_per_scheduler
    distance_latency = math.ceil(width / unroll) * load_latency
    distance = max(distance_issue, distance_latency)
    bound = "issue" if distance_issue >= distance_latency else "latency"
    if config["RESIDENT"]:
        cycles = (distance + SASS_PER_STEP[rows] * warps_per_scheduler
                  + _REDUCTIONS_PER_STEP.get(itemsize, 3) * reduction + load_latency)
    else:  # keys, parents and flags round trip through global memory, block by block
        blocks = math.ceil(n_points / config["BLOCK_B"])
        cycles = (blocks * (distance + SASS_STREAMING_PER_BLOCK * warps_per_scheduler
                            + gpu["l2_latency"] + 2 * reduction)
                  + SASS_STREAMING_PER_STEP + 2 * gpu["l2_latency"])
        cloud_bytes += n_points * (itemsize + 8)
    bandwidth = gpu["sm_l1_bytes_per_us"] if in_l1 else gpu["sm_l2_bytes_per_us"]
    streaming = cloud_bytes / bandwidth * gpu["clock_ghz"] * 1e3
    if streaming > cycles:
        return streaming, "bandwidth"
    return cycles, bound


def prim_step_us(n_points, width, itemsize=4, gpu=GPU):
    """Estimated time of one Prim step of one program, in microseconds."""
    return prim_step_cycles(n_points, width, itemsize, gpu)[0] / (gpu["clock_ghz"] * 1e3)


def prim_estimate_us(n_points, width, n_branches, itemsize=4, gpu=GPU):
    """Estimated time of :func:`branch_mst_triton` for a batch (microseconds)."""
    waves = math.ceil(n_branches / gpu["sms"])  # programs beyond one per SM share an SM
    kernel = (n_points - 1) * prim_step_us(n_points, width, itemsize, gpu) * waves
    return gpu["launch_us"] + kernel + _PRIM_EXTRA_OPS * gpu["op_dispatch_us"]


def boruvka_bytes(n_points, n_branches, itemsize=4):
    """Device memory Borůvka's matrices take at once for ``n_branches`` branches (bytes)."""
    return n_branches * n_points * n_points * (2 * itemsize + 2)


def boruvka_branch_groups(n_points, n_branches, itemsize=4):
    """Branches per Borůvka call, so that its matrices fit ``BORUVKA_MAX_BYTES``; 0 if even
    one branch does not fit."""
    return min(n_branches, BORUVKA_MAX_BYTES // max(boruvka_bytes(n_points, 1, itemsize), 1))


def boruvka_estimate_us(n_points, width, n_branches, itemsize=4, gpu=GPU):
    """Estimated time of Borůvka on a batch plus the read of its verdict (microseconds).

    Per call (a group of branches that fits in memory), host dispatch and device work overlap
    (torch ops are asynchronous), so the larger of the two counts: ``ops x op_dispatch_us``
    against the distance matrix (``B^2 width`` coordinates, 2 instructions each, on all
    lanes) plus each round's passes over the matrix (about ``4 itemsize + 4`` bytes per
    entry, at HBM bandwidth).
    """
    group = boruvka_branch_groups(n_points, n_branches, itemsize)
    if group == 0:
        return math.inf
    rounds = boruvka_rounds(n_points)
    jumps = sum(max(math.ceil(math.log2(max(n_points, 2))) - r, 1) for r in range(rounds))
    ops = 8 + rounds * _BORUVKA_OPS_PER_ROUND + 2 * jumps
    host_us = ops * gpu["op_dispatch_us"]
    entries = group * n_points * n_points
    device_us = (2 * entries * width / gpu["lanes"] / (gpu["clock_ghz"] * 1e3)
                 + rounds * entries * (4 * itemsize + 4) / gpu["hbm_bytes_per_us"])
    return math.ceil(n_branches / group) * max(host_us, device_us) + gpu["sync_us"]


def choose_algorithm(n_points, width, n_branches, itemsize=4):
    """``"boruvka"`` or ``"prim"`` for a batch shape: the cheaper estimate."""
    if n_points < 2:
        return "prim"
    prim = prim_estimate_us(n_points, width, n_branches, itemsize)
    boruvka = boruvka_estimate_us(n_points, width, n_branches, itemsize)
    return "boruvka" if boruvka < prim else "prim"


def _boruvka_in_groups(points, n_branches, metric):
    """Borůvka over groups of branches that fit in memory; the verdict covers all."""
    n, dim = points.shape
    width = dim // n_branches
    group = boruvka_branch_groups(n, n_branches, points.element_size())
    results = [branch_mst_boruvka(points[:, k * width:min(k + group, n_branches) * width],
                                  min(group, n_branches - k), metric)
               for k in range(0, n_branches, group)]
    if len(results) == 1:
        return results[0]
    edges, lengths, unique = zip(*results, strict=True)
    return torch.cat(edges), torch.cat(lengths), torch.stack(unique).all()


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
        edges, lengths, unique = _boruvka_in_groups(points, n_branches, metric)
        if bool(unique):  # the one host synchronisation
            return edges, lengths
    if not triton_available():
        return None
    return branch_mst_triton(points, n_branches, metric)


# The cases of the cost model table (docs/persistence.md, gpu_check.py): (B, branches, width).
COST_CASES = ((100, 16, 10), (1000, 16, 10), (4000, 16, 10),
              (100, 1, 160), (1000, 1, 160), (4000, 1, 160))
# Torch ops around the trees in one connectivity-loss call on CUDA, forward and backward
# (the per-branch sum and slopes, the reduction; the backward's weights, endpoint
# differences and two scatters).
LOSS_OPS = 20


def cost_table(cases=COST_CASES, itemsize=4, gpu=GPU):
    """One dict per ``(B, n_branches, width)``: the estimates behind :func:`choose_algorithm`.

    Keys: ``case``, ``prim_step_us``, ``prim_bound``, ``prim_us``, ``boruvka_us``,
    ``algorithm`` (the choice) and ``loss_us``: a connectivity-loss call, forward and backward
    (the chosen algorithm, then ``LOSS_OPS`` small ops whose host dispatch overlaps the
    device work).
    """
    rows = []
    for n, n_branches, width in cases:
        cycles, bound = prim_step_cycles(n, width, itemsize, gpu)
        prim = prim_estimate_us(n, width, n_branches, itemsize, gpu)
        boruvka = boruvka_estimate_us(n, width, n_branches, itemsize, gpu)
        algorithm = choose_algorithm(n, width, n_branches, itemsize)
        trees = min(prim, boruvka)
        rows.append({
            "case": (n, n_branches, width), "prim_step_us": cycles / (gpu["clock_ghz"] * 1e3),
            "prim_bound": bound, "prim_us": prim, "boruvka_us": boruvka, "algorithm": algorithm,
            "loss_us": max(trees, LOSS_OPS * gpu["op_dispatch_us"]) + gpu["launch_us"],
        })
    return rows
