"""Radius counting speed: corel_sklearn's kernel against scikit-learn and faiss, in one run.

Closed l1 balls at d = 160 on float32 data, counted for 120, 5,000 and 100,000 anchors, in two
configurations:

- ``ball``: one ball in the full 160-dimensional space (``n_branches=1``; radius 155 on N(0, 1)
  data, about 1 % of pairs inside): the setting of ``/work/shared/PERF_ANCHORS.md``;
- ``branches``: COREL's score, one count per branch of 16 branches of 10 dimensions (radius
  2 on N(0, 0.35^2) data, about 1 % of branch pairs inside). Peers run once per branch.

The rate is query x anchor pairs per second (one pair = 160 coordinates). Peers:

- sklearn brute: ``NearestNeighbors(algorithm="brute", metric="manhattan", radius=r)
  .radius_neighbors`` (neighbour lists, then their lengths; OpenMP threads);
- sklearn BallTree: ``BallTree(metric="manhattan").query_radius(count_only=True)``
  (single-threaded; tree construction not timed);
- faiss: ``faiss.pairwise_distances(METRIC_L1)`` on chunks, then ``<= r`` (faiss's
  ``range_search`` keeps only ``d < r``, not the closed ball); optional.

Slow peers get fewer queries; rates are comparable, and the repetitions of all methods are
interleaved so that a noisy, shared machine affects them alike. Compare ratios, not absolute
rates across runs. Each peer's counts are compared with ours (faiss computes in float32 and may
differ on pairs within rounding of the radius; ours are exact).

    python benchmarks/bench_ball_counting.py              # ~1-2 min on 2 cores
    python benchmarks/bench_ball_counting.py --quick      # smoke test, seconds
"""

import argparse
import os
import platform
import statistics
import time

import numba
import numpy as np
import sklearn
from sklearn.neighbors import BallTree, NearestNeighbors

from corel_sklearn.ball_counting import branch_ball_counts

D = 160
# (n_branches, radius, data scale) per configuration
CONFIGS = {"ball": (1, 155.0, 1.0), "branches": (16, 2.0, 0.35)}
# Queries per method and anchor count (about 0.2-1 s each on 2 cores).
QUERIES = {
    "ball": {
        120: {"ours": 150_000, "brute": 60_000, "balltree": 20_000, "faiss": 100_000},
        5_000: {"ours": 10_000, "brute": 2_000, "balltree": 500, "faiss": 10_000},
        100_000: {"ours": 600, "brute": 100, "balltree": 20, "faiss": 600},
    },
    "branches": {
        120: {"ours": 100_000, "brute": 10_000, "balltree": 5_000, "faiss": 20_000},
        5_000: {"ours": 6_000, "brute": 200, "balltree": 150, "faiss": 1_000},
        100_000: {"ours": 500, "brute": 10, "balltree": 10, "faiss": 30},
    },
}


def branches(x, n_branches):
    width = x.shape[1] // n_branches
    return [np.ascontiguousarray(x[:, k * width:(k + 1) * width]) for k in range(n_branches)]


def make_ours(anchors, n_branches, radius, device=None):
    backend = "numba" if device is None else "torch"

    def run(queries):
        return branch_ball_counts(queries, anchors, radius, n_branches=n_branches,
                                  backend=backend, device=device)
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


def bench(config, n_anchors, makers, repeats, quick, rng):
    n_branches, radius, scale = CONFIGS[config]
    anchors = (scale * rng.standard_normal((n_anchors, D))).astype(np.float32)
    sizes = {m: max(2, QUERIES[config][n_anchors][m.split("-")[0]] // (10 if quick else 1))
             for m in makers}
    queries = (scale * rng.standard_normal((max(sizes.values()), D))).astype(np.float32)
    runners = {m: make(anchors, n_branches, radius) for m, make in makers.items()}
    reference = runners["ours"](queries[:min(sizes.values())])
    differ = {m: int((run(queries[:len(reference)]) != reference).sum())  # also warms up
              for m, run in runners.items()}
    times = {m: [] for m in runners}
    for _ in range(repeats):
        for m, run in runners.items():
            start = time.perf_counter()
            run(queries[:sizes[m]])
            times[m].append(time.perf_counter() - start)
    rates = {m: sizes[m] * n_anchors / statistics.median(t) / 1e6 for m, t in times.items()}
    print(f"\n{config}, {n_anchors:,} anchors ({100 * reference.mean() / n_anchors:.1f} % of "
          "(branch) pairs inside)")
    for m in runners:
        note = "" if differ[m] == 0 else f"  ({differ[m]} counts differ from ours)"
        print(f"  {m:9s} {rates[m]:9.1f} M/s  {sizes[m]:>7,} queries   ours is "
              f"{rates['ours'] / rates[m]:6.1f}x{note}")
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--anchors", type=int, nargs="+", default=[120, 5_000, 100_000],
                        choices=[120, 5_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10x fewer queries, 1 repeat")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats

    makers = {"ours": make_ours, "brute": make_brute, "balltree": make_balltree}
    try:
        import faiss

        makers["faiss"] = make_faiss
        faiss_version = faiss.__version__
    except ImportError:
        faiss_version = "not installed"
    import torch

    if torch.cuda.is_available():
        makers["ours-cuda"] = lambda a, b, r: make_ours(a, b, r, device="cuda")

    print(f"corel_sklearn ball counting, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, numba {numba.__version__} ({numba.get_num_threads()} threads)"
          f", scikit-learn {sklearn.__version__}, faiss {faiss_version}")
    print(f"d = {D}, l1, closed balls, float32, median of {repeats}; "
          "rates in M query-anchor pairs/s")
    rng = np.random.default_rng(0)
    summary = [(config, n, bench(config, n, makers, repeats, args.quick, rng))
               for config in args.configs for n in args.anchors]
    print("\nsummary, M pairs/s (ours / brute ratio)")
    print(f"  {'config':9s} {'anchors':>8s} | " + " | ".join(f"{m:>9s}" for m in makers)
          + " | ours/brute")
    for config, n, rates in summary:
        print(f"  {config:9s} {n:>8,} | " + " | ".join(f"{rates[m]:9.1f}" for m in makers)
              + f" | {rates['ours'] / rates['brute']:9.1f}x")


if __name__ == "__main__":
    main()
