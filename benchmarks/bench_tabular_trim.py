"""Trimming the training rows before COREL's encoder trains: the experiment behind ``trim``.

Where the training rows hold the anomalies (ADBench's unsupervised setting, ODDS, PyOD's
unsupervised use), the connectivity loss gives the anomalies neighbours at the distance eta like
every other row. :class:`corel_sklearn.pyod.COREL` therefore leaves out the ``trim`` share of
rows farthest from their ``trim_neighbors``-th nearest neighbour before its encoder trains. For
every ADBench split (setting, seed), set, trim share and trim neighbour count, this script fits
``COREL(trim=..., trim_neighbors=..., n_neighbors=k)`` for each scoring neighbour ``k`` (one
encoder per trim setting: the scores at each ``k`` come from the same codes) and prints the mean
test AUROC over the sets, next to pyod's ``IForest()`` on the same splits.

    python benchmarks/bench_tabular_trim.py --setting unsupervised --seeds 1 \\
        --trims 0 0.1 0.2 0.3 --trim-neighbors 20 100 --n-neighbors 5 20 50
    python benchmarks/bench_tabular_trim.py --setting unsupervised --seeds 1 2 3 \\
        --trims 0.2 --trim-neighbors n/70 n/35 n/20 --n-neighbors 5

A trim neighbour count ``n/R`` is one per ``R`` training rows, at least 100, among at most
7,000 rows (``n/20`` is ``COREL``'s "auto").

Sets run in ``--jobs`` processes (one thread each); the biggest go first.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score

from corel_sklearn.ball_counting import kth_neighbor_distances
from corel_sklearn.datasets import load_adbench
from corel_sklearn.estimators import TABULAR_TRIM_NEIGHBORS, TABULAR_TRIM_REFERENCE_ROWS
from corel_sklearn.experiments import adbench_files, adbench_split


def trim_neighbor_count(spec, n_rows):
    """An int neighbour count, or ``"n/R"``: one per R rows, at least 100, of <= 7,000 rows."""
    if isinstance(spec, str) and spec.startswith("n/"):
        return max(TABULAR_TRIM_NEIGHBORS,
                   min(n_rows, TABULAR_TRIM_REFERENCE_ROWS) // int(spec[2:]))
    return int(spec)


def run_set(path, setting, seed, trims, trim_neighbors, n_neighbors):
    """{(trim, trim_neighbors, k): AUROC} and IForest's AUROC on one split of one set."""
    import torch
    from pyod.models.iforest import IForest

    from corel_sklearn.pyod import COREL  # needs the [pyod] extra, as IForest does

    torch.set_num_threads(1)

    bunch = load_adbench(path)
    X_fit, X_test, _, y_test = adbench_split(bunch.data, bunch.target, seed, setting=setting)
    out = {"IForest": roc_auc_score(
        y_test, IForest(random_state=seed).fit(X_fit).decision_function(X_test))}
    for trim in trims:
        for m in trim_neighbors if trim > 0 else trim_neighbors[:1]:
            detector = COREL(trim=trim, trim_neighbors=trim_neighbor_count(m, len(X_fit)),
                             n_neighbors=min(n_neighbors),
                             random_state=seed, n_jobs=1)
            with warnings.catch_warnings():
                # the encoder's ConvergenceWarning: the adbench command reports it per set
                warnings.simplefilter("ignore", ConvergenceWarning)
                detector.fit(X_fit)
            codes = detector.encoder_.transform(
                detector.scaler_.transform(X_test).astype(np.float32))
            for k in n_neighbors:
                distances = kth_neighbor_distances(codes, detector.ball_count_.anchors_, k,
                                                   n_threads=1)
                out[trim, m if trim > 0 else 0, k] = roc_auc_score(y_test, distances)
    return os.path.basename(path), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-path", default=os.path.join("..", "shared", "data",
                                                            "adbench_classical"))
    parser.add_argument("--setting", default="unsupervised",
                        choices=["unsupervised", "semi-supervised"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1])
    parser.add_argument("--trims", nargs="+", type=float, default=[0.0, 0.1, 0.2, 0.3])
    parser.add_argument("--trim-neighbors", nargs="+", default=["20", "100"],
                        help="ints, or n/R: one per R training rows (at least 100)")
    parser.add_argument("--n-neighbors", nargs="+", type=int, default=[5, 20, 50])
    parser.add_argument("--datasets", nargs="+")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)

    paths = sorted(adbench_files(args.data_path, args.datasets), key=os.path.getsize,
                   reverse=True)
    start = time.perf_counter()
    tasks = [(p, s) for s in args.seeds for p in paths]
    results = Parallel(n_jobs=args.jobs)(
        delayed(run_set)(p, args.setting, s, args.trims, args.trim_neighbors, args.n_neighbors)
        for p, s in tasks)
    keys = [k for k in results[0][1] if k != "IForest"]
    iforest = np.mean([r["IForest"] for _, r in results])
    print(f"ADBench {args.setting}, seeds {args.seeds}, {len(paths)} sets: mean test AUROC "
          f"(IForest {iforest:.3f} on the same splits)")
    print(f"{'trim':>5} {'trim_neighbors':>14} " + " ".join(f"{'k=' + str(k):>7}"
                                                         for k in args.n_neighbors))
    for trim, m in dict.fromkeys((t, m) for t, m, _ in keys):
        means = [np.mean([r[trim, m, k] for _, r in results]) for k in args.n_neighbors]
        print(f"{trim:>5.2f} {m if trim > 0 else '-':>14} "
              + " ".join(f"{v:7.3f}" for v in means))
    print(f"{time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
