"""Trimming the training rows before COREL's encoder trains: the experiment behind ``trim``.

Where the training rows hold the anomalies (ADBench's unsupervised setting, ODDS, PyOD's
unsupervised use), the connectivity loss gives the anomalies neighbours at the distance eta like
every other row. :class:`corel_sklearn.pyod.COREL` therefore leaves out the ``trim`` share of
rows farthest from their ``trim_neighbors``-th nearest neighbour before its encoder trains. For
every ADBench split (setting, seed), set, trim share and trim neighbour count, this script fits
``COREL(trim=..., trim_neighbors=..., n_neighbors=k)`` for each scoring neighbour ``k`` (one
encoder per trim setting: the scores at each ``k`` come from the same codes) and prints the mean
test AUROC over the sets, next to the ``--peers`` (pyod's defaults, as in the ``adbench``
command; ``IForest`` unless told) on the same splits. With peers it also prints each
setting's means on the clean and the copy-affected sets (``copy_share`` >= 0.25, as in the
``adbench`` report) and its mean rank among COREL and the peers, next to the best peer's.

    python benchmarks/bench_tabular_trim.py --setting unsupervised --seeds 1 \\
        --trims 0 0.1 0.2 0.3 --trim-neighbors 20 100 --n-neighbors 5 20 50
    python benchmarks/bench_tabular_trim.py --setting unsupervised --seeds 1 2 3 \\
        --trims 0.2 --trim-neighbors n/70 n/35 n/20 --n-neighbors 5
    python benchmarks/bench_tabular_trim.py --setting semi-supervised --seeds 1 2 3 \\
        --trims 0.05 0.1 0.15 0.2 --trim-neighbors n/20 --n-neighbors 5 \\
        --peers IForest OCSVM LOF ECOD KNN

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
from scipy.stats import rankdata
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score

from corel_sklearn.ball_counting import kth_neighbor_distances
from corel_sklearn.datasets import load_adbench
from corel_sklearn.estimators import TABULAR_TRIM_NEIGHBORS, TABULAR_TRIM_REFERENCE_ROWS
from corel_sklearn.experiments import (
    ADBENCH_METHODS,
    COPY_AFFECTED_SHARE,
    METHODS,
    MethodContext,
    adbench_files,
    adbench_split,
    copy_share,
)


def trim_neighbor_count(spec, n_rows):
    """An int neighbour count, or ``"n/R"``: one per R rows, at least 100, of <= 7,000 rows."""
    if isinstance(spec, str) and spec.startswith("n/"):
        return max(TABULAR_TRIM_NEIGHBORS,
                   min(n_rows, TABULAR_TRIM_REFERENCE_ROWS) // int(spec[2:]))
    return int(spec)


def run_set(path, setting, seed, trims, trim_neighbors, n_neighbors, peers):
    """{(trim, trim_neighbors, k): AUROC, peer: AUROC, "copy_share": share} on one split."""
    import torch

    from corel_sklearn.pyod import COREL  # needs the [pyod] extra, as the peers do

    torch.set_num_threads(1)

    bunch = load_adbench(path)
    X_fit, X_test, _, y_test = adbench_split(bunch.data, bunch.target, seed, setting=setting)
    context = MethodContext(n_fit=len(X_fit), random_state=seed, style="pyod")
    out = {peer: roc_auc_score(y_test, METHODS[peer].anomaly_scores(X_fit, X_test, context))
           for peer in peers}
    out["copy_share"] = copy_share(X_fit, X_test, y_test)
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
    parser.add_argument("--peers", nargs="+", default=["IForest"],
                        choices=[m for m in ADBENCH_METHODS if METHODS[m].representation == "raw"],
                        help="raw-feature methods run on the same splits (pyod's defaults)")
    parser.add_argument("--datasets", nargs="+")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)

    paths = sorted(adbench_files(args.data_path, args.datasets), key=os.path.getsize,
                   reverse=True)
    start = time.perf_counter()
    tasks = [(p, s) for s in args.seeds for p in paths]
    results = Parallel(n_jobs=args.jobs)(
        delayed(run_set)(p, args.setting, s, args.trims, args.trim_neighbors, args.n_neighbors,
                         args.peers)
        for p, s in tasks)
    # per set: the mean over seeds of every key (COREL settings, peers, copy share)
    per_set = {}
    for name, r in results:
        for key, value in r.items():
            per_set.setdefault(name, {}).setdefault(key, []).append(value)
    per_set = {name: {key: float(np.mean(v)) for key, v in r.items()}
               for name, r in per_set.items()}
    copy = {n for n, r in per_set.items() if r["copy_share"] >= COPY_AFFECTED_SHARE}
    keys = [k for k in results[0][1] if isinstance(k, tuple)]
    peer_means = ", ".join(f"{p} {np.mean([r[p] for r in per_set.values()]):.3f}"
                           for p in args.peers)
    print(f"ADBench {args.setting}, seeds {args.seeds}, {len(paths)} sets ({len(copy)} "
          f"copy-affected): mean test AUROC ({peer_means} on the same splits)")
    print(f"{'trim':>5} {'trim_neighbors':>14} " + " ".join(f"{'k=' + str(k):>7}"
                                                         for k in args.n_neighbors))
    for trim, m in dict.fromkeys((t, m) for t, m, _ in keys):
        means = [np.mean([r[trim, m, k] for r in per_set.values()]) for k in args.n_neighbors]
        print(f"{trim:>5.2f} {m if trim > 0 else '-':>14} "
              + " ".join(f"{v:7.3f}" for v in means))
    print(f"\nper setting: COREL's mean on all / clean / copy-affected sets, and mean rank "
          f"(1 = best, ties averaged) among COREL and {', '.join(args.peers)}")
    for key in keys:
        methods = [key, *args.peers]
        ranks = np.mean([rankdata([-r[m] for m in methods]) for r in per_set.values()], axis=0)
        best = 1 + int(np.argmin(ranks[1:]))
        means = [np.mean([r[key] for n, r in per_set.items() if n in names] or [np.nan])
                 for names in (per_set, set(per_set) - copy, copy)]
        trim, m, k = key
        print(f"  trim {trim:.2f}, trim_neighbors {m if trim > 0 else '-'}, k={k}: "
              + " / ".join(f"{v:.3f}" for v in means)
              + f"; rank {ranks[0]:.2f} (best peer {methods[best]} {ranks[best]:.2f})")
    print(f"{time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
