"""ImageNet-scale one-class scoring on a dask LocalCluster: 1,000 classes, 1.28 M anchors.

The paper's ImageNet protocol scores every test image under 1,000 one-class models (one per
class) that share one encoder: a ``ClasswiseBallCount`` over the 1.28 M codes (160 dims, 16
branches of 10) of the training set. This benchmark builds such a model from synthetic codes,
scatters it once to each worker of a ``local_cluster`` (worker processes, one thread each,
loopback) and scores a chunked dask array of queries with
:func:`corel_sklearn.distributed.dask.map_method`, with 1 and then 2 workers. It prints the
time to ship the model, the scoring throughput per worker and the 1 -> 2 worker speed-up, and
checks that both runs give the same scores as a local call on the first block.

    python benchmarks/bench_dask_scoring.py                    # ~3 min on 2 cores, ~6 GB RAM
    python benchmarks/bench_dask_scoring.py --quick            # 128k anchors, seconds

With 2 cores the speed-up is bounded by 2, and by less when other processes share the cores:
the load average is printed next to the figures.
"""

import argparse
import os
import time

import numpy as np

from corel_sklearn import ClasswiseBallCount


def synthetic_codes(n, n_classes, n_features, rng):
    """Codes around per-class centres, so balls of radius 2 hold a few percent of a class."""
    centres = rng.normal(0.0, 1.0, (n_classes, n_features)).astype(np.float32)
    labels = rng.integers(0, n_classes, n)
    codes = centres[labels]
    codes += rng.normal(0.0, 0.15, codes.shape).astype(np.float32)
    return codes, labels


def load():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def score_on_cluster(model, queries, n_workers, block_rows):
    import dask.array as da
    from dask.distributed import Client

    from corel_sklearn.distributed.dask import local_cluster, map_method, worker_thread_counts

    with local_cluster(n_workers, threads_per_worker=1, memory_limit="4GiB") as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(n_workers)
        threads = worker_thread_counts(client)
        X = da.from_array(queries, chunks=(block_rows, queries.shape[1]))
        # Warm-up on one block: numba loads its compiled kernels in each worker.
        map_method(model, X[: block_rows * n_workers], n_outputs=len(model.classes_),
                   client=client).compute()
        start = time.perf_counter()
        scores = map_method(model, X, n_outputs=len(model.classes_), client=client)
        shipped = time.perf_counter()
        scores = scores.compute()
        done = time.perf_counter()
    return scores, shipped - start, done - shipped, threads


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-anchors", type=int, default=1_280_000)
    parser.add_argument("--n-classes", type=int, default=1000)
    parser.add_argument("--n-queries", type=int, default=2000)
    parser.add_argument("--block-rows", type=int, default=250)
    parser.add_argument("--quick", action="store_true", help="128k anchors, 400 queries")
    args = parser.parse_args()
    if args.quick:
        args.n_anchors, args.n_queries, args.block_rows = 128_000, 400, 100

    rng = np.random.default_rng(0)
    codes, labels = synthetic_codes(args.n_anchors, args.n_classes, 160, rng)
    model = ClasswiseBallCount(radius=2.0, n_branches=16, contamination="auto",
                               n_jobs=1).fit(codes, labels)
    del codes
    queries, _ = synthetic_codes(args.n_queries, args.n_classes, 160, np.random.default_rng(1))
    print(f"{args.n_anchors:,} anchors x 160 dims ({model.anchors_.nbytes / 2**20:.0f} MiB), "
          f"{args.n_classes} classes, {args.n_queries} queries in blocks of {args.block_rows}, "
          f"{os.cpu_count()} CPUs, load average {load():.2f}")

    start = time.perf_counter()
    local = model.score_samples(queries[: args.block_rows])
    local_time = time.perf_counter() - start
    pairs = args.n_anchors * args.block_rows
    print(f"  local, one thread, first block        : {local_time:7.2f} s "
          f"({pairs / local_time / 1e6:6.1f} M query-anchor pairs/s)")

    results = {}
    for n_workers in (1, 2):
        scores, ship, compute, threads = score_on_cluster(model, queries, n_workers,
                                                          args.block_rows)
        np.testing.assert_array_equal(scores[: args.block_rows], local)
        results[n_workers] = (scores, compute)
        per_worker = args.n_queries / compute / n_workers
        print(f"  {n_workers} worker(s): threads {sorted(threads.values(), key=str)}")
        print(f"    model scattered (once per worker)  : {ship:7.2f} s")
        print(f"    scoring {args.n_queries} queries               : {compute:7.2f} s = "
              f"{args.n_queries / compute:6.1f} queries/s, {per_worker:6.1f} per worker "
              f"({per_worker * args.n_anchors / 1e6:6.1f} M pairs/s per worker), "
              f"load {load():.2f}")
    np.testing.assert_array_equal(results[1][0], results[2][0])
    print(f"speed-up 1 -> 2 workers: {results[1][1] / results[2][1]:.2f} (bound: 2 on 2 cores; "
          "the machine is shared, see the load average)")


if __name__ == "__main__":
    main()
