"""Radius counting and k-th neighbour speed: corel_sklearn's kernels against scikit-learn and faiss.

Closed l1 balls at d = 160 on float32 data, counted for 120, 5,000 and 100,000 anchors, and the
l1 distance to the 5th nearest anchor (``scoring="knn_distance"``), in two configurations:

- ``ball``: one ball in the full 160-dimensional space (``n_branches=1``; radius 155 on N(0, 1)
  data, about 1 % of pairs inside): the setting of ``/work/shared/PERF_ANCHORS.md``;
- ``branches``: COREL's score, one count per branch of 16 branches of 10 dimensions (radius
  2 on N(0, 0.35^2) data, about 1 % of branch pairs inside). Peers run once per branch.

The rate is query x anchor pairs per second (one pair = 160 coordinates). Methods:

- ceiling: the distance arithmetic of our kernels alone (every pair's l1 distance in the same
  tiled, L2-resident anchor blocks, on the same threads, nothing decided; one value per block
  is read back so that the work is not optimised away): the most a kernel of this layout can
  do on this machine now;
- ours: ``branch_ball_counts`` (the count kernel);
- ours-kth: ``branch_kth_neighbor_distances(n_neighbors=5)`` (exact 5th-neighbour distances);
- sklearn knn: ``NearestNeighbors(algorithm="brute", metric="manhattan").kneighbors(
  n_neighbors=5)``, its 5th distance (OpenMP threads), compared with ours-kth to float32
  precision (it returns float32 distances for float32 input);
- sklearn KDTree: ``KDTree(metric="manhattan").query(k=5)``, its 5th distance (single-threaded;
  tree construction not timed), which must equal ours-kth bit for bit;
- sklearn brute: ``NearestNeighbors(algorithm="brute", metric="manhattan", radius=r)
  .radius_neighbors`` (neighbour lists, then their lengths; OpenMP threads);
- sklearn BallTree: ``BallTree(metric="manhattan").query_radius(count_only=True)``
  (single-threaded; tree construction not timed);
- faiss: ``faiss.pairwise_distances(METRIC_L1)`` on chunks, then ``<= r`` (faiss's
  ``range_search`` keeps only ``d < r``, not the closed ball); optional.

Slow peers get fewer queries; rates are comparable, and the repetitions of all methods are
interleaved so that a noisy, shared machine affects them alike. Compare ratios, not absolute
rates across runs. Each peer's counts are compared with ours (faiss computes in float32 and may
differ on pairs within rounding of the radius; ours are exact), and sklearn's 5th distances with
ours-kth.

    python benchmarks/bench_ball_counting.py              # ~1-2 min on 2 cores
    python benchmarks/bench_ball_counting.py --quick      # smoke test, seconds
    python benchmarks/bench_ball_counting.py --configs code images --anchors 1000 10000 \
        --methods knn kdtree                              # COREL's code shapes, k-th kernel
"""

import argparse
import os
import platform
import statistics
import time

import numba
import numpy as np
import sklearn
from sklearn.neighbors import BallTree, KDTree, NearestNeighbors

from corel_sklearn.ball_counting import (
    _cpu,
    branch_ball_counts,
    branch_kth_neighbor_distances,
)

D = 160
# (n_branches, radius, data scale) per configuration at d = 160; ``--dims`` other than 160 (and
# the ``code`` and ``images`` shapes) take the radius from the data: about 1 % of pairs inside.
CONFIGS = {"ball": (1, 155.0, 1.0), "branches": (16, 2.0, 0.35)}
# COREL's typical codes: one branch of 128 dimensions (tabular, k-NN scoring), and 16 branches
# of 8 dimensions (images); both at d = 128.
SHAPES = {"code": (1, 128, 1.0), "images": (16, 128, 0.35)}
# Queries per method and anchor count (about 0.2-1 s each on 2 cores).
QUERIES = {
    "ball": {
        120: {"ours": 150_000, "brute": 60_000, "balltree": 20_000, "kdtree": 20_000,
              "faiss": 100_000, "knn": 60_000},
        5_000: {"ours": 10_000, "brute": 2_000, "balltree": 500, "kdtree": 500,
                "faiss": 10_000, "knn": 2_000},
        100_000: {"ours": 600, "brute": 100, "balltree": 20, "kdtree": 20, "faiss": 600,
                  "knn": 100},
    },
    "branches": {
        120: {"ours": 100_000, "brute": 10_000, "balltree": 5_000, "kdtree": 5_000,
              "faiss": 20_000, "knn": 10_000},
        5_000: {"ours": 6_000, "brute": 200, "balltree": 150, "kdtree": 150, "faiss": 1_000,
                "knn": 200},
        100_000: {"ours": 500, "brute": 10, "balltree": 10, "kdtree": 10, "faiss": 30,
                  "knn": 10},
    },
}
# Other anchor counts and shapes: query-anchor pairs per method (at d = 160; scaled by 160 / d),
# divided by 8 for peers that run once per branch when there are several branches.
PAIRS = {"ours": 40e6, "brute": 8e6, "balltree": 2e6, "kdtree": 2e6, "faiss": 40e6, "knn": 8e6}
N_NEIGHBORS = 5



def branches(x, n_branches):
    width = x.shape[1] // n_branches
    return [np.ascontiguousarray(x[:, k * width:(k + 1) * width]) for k in range(n_branches)]


def make_ours(anchors, n_branches, radius, device=None):
    backend = "numba" if device is None else "torch"

    def run(queries):
        return branch_ball_counts(queries, anchors, radius, n_branches=n_branches,
                                  backend=backend, device=device)
    return run


@numba.njit(parallel=True, fastmath=_cpu._FASTMATH)
def _distance_ceiling(queries, packed, block_offsets, block_sizes, n_branches, tile_size, out):
    """The count kernel's l1 distance passes alone: every pair, nothing decided."""
    n_queries = queries.shape[0]
    padded = queries.shape[1] // n_branches
    n_tiles = (n_queries + tile_size - 1) // tile_size
    for tile in numba.prange(n_tiles):
        acc_a = np.empty(_cpu.BLOCK_SIZE, dtype=packed.dtype)
        acc_b = np.empty(_cpu.BLOCK_SIZE, dtype=packed.dtype)
        i0 = tile * tile_size
        i1 = min(n_queries, i0 + tile_size)
        for b in range(block_offsets.shape[0]):
            m = block_sizes[b]
            for k in range(n_branches):
                base = block_offsets[b] + k * padded * m
                for i in range(i0, i1, 2):
                    ib = min(i + 1, i1 - 1)
                    qa = queries[i][k * padded:(k + 1) * padded]
                    qb = queries[ib][k * padded:(k + 1) * padded]
                    for c in range(0, padded, 2):
                        row = base + c * m
                        _cpu._pass(0, c == 0, qa, qb, c, packed[row:row + m],
                                   packed[row + m:row + 2 * m], acc_a, acc_b, m)
                    # one value read back keeps the passes from being optimised away
                    out[i, k] = min(out[i, k], acc_a[m - 1] + acc_b[i % m])
    return out


def make_ceiling(anchors, n_branches, radius):
    packed = _cpu.PackedAnchors(anchors, np.zeros(len(anchors), dtype=np.int64), 1, n_branches,
                                np.float32)

    def run(queries):
        out = np.full((len(queries), n_branches), np.inf, dtype=np.float32)
        tile = int(min(_cpu.MAX_QUERY_TILE,
                       max(2, -(-len(queries) // (4 * numba.get_num_threads())))))
        return _distance_ceiling(packed.pad_queries(queries), packed.packed,
                                 packed.block_offsets, packed.block_sizes, n_branches, tile, out)
    return run


def make_ours_kth(anchors, n_branches, radius, device=None):
    backend = "numba" if device is None else "torch"

    def run(queries):
        return branch_kth_neighbor_distances(queries, anchors, N_NEIGHBORS,
                                             n_branches=n_branches, backend=backend,
                                             device=device)
    return run


def make_knn(anchors, n_branches, radius):
    models = [NearestNeighbors(algorithm="brute", metric="manhattan").fit(a)
              for a in branches(anchors, n_branches)]

    def run(queries):
        return np.stack([m.kneighbors(q, N_NEIGHBORS)[0][:, -1]
                         for m, q in zip(models, branches(queries, n_branches), strict=True)],
                        axis=1)
    return run


def make_kdtree(anchors, n_branches, radius):
    trees = [KDTree(a, metric="manhattan") for a in branches(anchors, n_branches)]

    def run(queries):
        return np.stack([t.query(q, N_NEIGHBORS)[0][:, -1]
                         for t, q in zip(trees, branches(queries, n_branches), strict=True)],
                        axis=1)
    return run


def make_brute(anchors, n_branches, radius):
    models = [NearestNeighbors(algorithm="brute", metric="manhattan", radius=radius).fit(a)
              for a in branches(anchors, n_branches)]

    def run(queries):
        return np.stack([
            np.array([len(ind) for ind in m.radius_neighbors(q, return_distance=False)])
            for m, q in zip(models, branches(queries, n_branches), strict=True)
        ], axis=1)
    return run


def make_balltree(anchors, n_branches, radius):
    trees = [BallTree(a, metric="manhattan") for a in branches(anchors, n_branches)]

    def run(queries):
        return np.stack([t.query_radius(q, radius, count_only=True)
                         for t, q in zip(trees, branches(queries, n_branches), strict=True)],
                        axis=1)
    return run


def make_faiss(anchors, n_branches, radius):
    import faiss

    parts = branches(anchors, n_branches)
    chunk = max(1, 2**24 // len(anchors))  # 64 MB distance blocks

    def run(queries):
        counts = np.empty((len(queries), n_branches), dtype=np.int64)
        for k, (a, q) in enumerate(zip(parts, branches(queries, n_branches), strict=True)):
            for s in range(0, len(q), chunk):
                d = faiss.pairwise_distances(q[s:s + chunk], a, faiss.METRIC_L1)
                counts[s:s + chunk, k] = (d <= radius).sum(1)
        return counts
    return run


def _queries_for(config, n_anchors, dims, method):
    family = {"ours-kth": "ours", "ceiling": "ours"}.get(method, method.split("-")[0])
    if dims == D and n_anchors in QUERIES.get(config, {}):
        return QUERIES[config][n_anchors][family]
    n_branches = _shape(config, dims)[0]
    per_branch = 8 if n_branches > 1 and family != "ours" else 1
    return int(min(200_000, PAIRS[family] * D / dims / n_anchors / per_branch))


def _shape(config, dims):
    """(n_branches, dims, scale) of a configuration."""
    if config in SHAPES:
        return SHAPES[config]
    return CONFIGS[config][0], dims, CONFIGS[config][2]


def _radius(rng, n_branches, dims, scale):
    """A branch radius with about 1 % of (branch) pairs of N(0, scale^2) data inside."""
    width = dims // n_branches
    x = scale * rng.standard_normal((2, 100_000, width))
    return float(np.quantile(np.abs(x[0] - x[1]).sum(1), 0.01))


def bench(config, n_anchors, dims, makers, repeats, quick, rng):
    n_branches, dims, scale = _shape(config, dims)
    if config in CONFIGS and dims == D:
        radius = CONFIGS[config][1]
    else:
        radius = _radius(np.random.default_rng(1), n_branches, dims, scale)
    anchors = (scale * rng.standard_normal((n_anchors, dims))).astype(np.float32)
    sizes = {m: max(2, _queries_for(config, n_anchors, dims, m) // (10 if quick else 1))
             for m in makers}
    queries = (scale * rng.standard_normal((max(sizes.values()), dims))).astype(np.float32)
    runners = {m: make(anchors, n_branches, radius) for m, make in makers.items()}
    n_check = min(sizes.values())
    reference = runners["ours"](queries[:n_check])
    reference_kth = runners["ours-kth"](queries[:n_check])
    differ = {}
    for m, run in runners.items():  # also warms up
        out = run(queries[:n_check])
        if m == "ceiling":
            continue
        if m == "knn":  # scikit-learn returns float32 distances for float32 input
            differ[m] = int((np.abs(out - reference_kth) > 1e-5 * reference_kth).sum())
        else:
            # KDTree's float64 distances of the float32 input are ours bit for bit
            expected = reference_kth if m.startswith("ours-kth") or m == "kdtree" else reference
            differ[m] = int((out != expected).sum())
    times = {m: [] for m in runners}
    for _ in range(repeats):
        for m, run in runners.items():
            start = time.perf_counter()
            run(queries[:sizes[m]])
            times[m].append(time.perf_counter() - start)
    rates = {m: sizes[m] * n_anchors / statistics.median(t) / 1e6 for m, t in times.items()}
    print(f"\n{config}, {n_branches} x {dims // n_branches} dims, {n_anchors:,} anchors "
          f"({100 * reference.mean() / n_anchors:.1f} % of (branch) pairs inside)")
    for m in runners:
        note = "" if differ.get(m, 0) == 0 else f"  ({differ[m]} results differ from ours)"
        print(f"  {m:9s} {rates[m]:9.1f} M/s  {sizes[m]:>7,} queries   "
              f"{100 * rates[m] / rates['ceiling']:5.1f} % of ceiling{note}")
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS),
                        choices=[*CONFIGS, *SHAPES],
                        help="ball: 1 x d dims; branches: 16 x d/16 dims; code: 1 x 128 dims "
                             "(tabular codes); images: 16 x 8 dims (image codes)")
    parser.add_argument("--anchors", type=int, nargs="+", default=[120, 5_000, 100_000])
    parser.add_argument("--dims", type=int, default=D,
                        help="dimensions of ball and branches (a multiple of 16)")
    parser.add_argument("--methods", nargs="+", default=None,
                        help="methods to run (default: all); the ceiling, ours and ours-kth "
                             "always run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10x fewer queries, 1 repeat")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats

    makers = {"ceiling": make_ceiling, "ours": make_ours, "ours-kth": make_ours_kth,
              "knn": make_knn, "kdtree": make_kdtree, "brute": make_brute,
              "balltree": make_balltree}
    try:
        import faiss

        makers["faiss"] = make_faiss
        faiss_version = faiss.__version__
    except ImportError:
        faiss_version = "not installed"
    if args.methods is not None:
        keep = {"ceiling", "ours", "ours-kth", *args.methods}
        makers = {m: make for m, make in makers.items() if m in keep}
    import torch

    if torch.cuda.is_available():
        makers["ours-cuda"] = lambda a, b, r: make_ours(a, b, r, device="cuda")
        makers["ours-kth-cuda"] = lambda a, b, r: make_ours_kth(a, b, r, device="cuda")

    print(f"corel_sklearn ball counting, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, numba {numba.__version__} ({numba.get_num_threads()} threads)"
          f", scikit-learn {sklearn.__version__}, faiss {faiss_version}")
    print(f"d = {args.dims} (code, images: 128), l1, closed balls and {N_NEIGHBORS}th-neighbour "
          f"distances, float32, median of {repeats}; rates in M query-anchor pairs/s")
    rng = np.random.default_rng(0)
    summary = [(config, n, bench(config, n, args.dims, makers, repeats, args.quick, rng))
               for config in args.configs for n in args.anchors]
    print("\nsummary, M pairs/s; count and kth as % of the ceiling, kth / sklearn kneighbors "
          "(brute) and KDTree.query")
    print(f"  {'config':9s} {'anchors':>8s} | " + " | ".join(f"{m:>9s}" for m in makers)
          + " | count % | kth % | kth/knn | kth/kdtree")
    for config, n, rates in summary:
        ratio = {m: (f"{rates['ours-kth'] / rates[m]:6.1f}x" if m in rates else "     -")
                 for m in ("knn", "kdtree")}
        print(f"  {config:9s} {n:>8,} | " + " | ".join(f"{rates[m]:9.1f}" for m in makers)
              + f" | {100 * rates['ours'] / rates['ceiling']:6.1f}  "
              + f"| {100 * rates['ours-kth'] / rates['ceiling']:5.1f} "
              + f"| {ratio['knn']} | {ratio['kdtree']}")


if __name__ == "__main__":
    main()
