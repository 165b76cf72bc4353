"""The zero-configuration COREL pipeline on scikit-learn's digits, one digit at a time.

For each digit d, ``Pipeline([TopoAutoencoder(random_state=0), BallCountOneClass()])`` is fitted
on the first 120 images of d (``X / 16``) with every other parameter at its default and scores
the 1,677 images it did not see (:func:`held_out_split`: the training images are never
scored); the held-out AUROC of d against the nine other digits is printed with the fit's
epochs, optimizer steps, final median death time (eta = 2), wall time, and whether a
ConvergenceWarning was emitted. Beside the paper's count, the same codes are scored by the
distance to the 5th nearest training code (``BallCountOneClass(scoring="knn_distance")``). A
peer column gives raw-pixel OC-SVM fitted on the same 120 images and scored on the same
held-out images.

    python benchmarks/bench_digits_auto_epochs.py                   # all ten digits
    python benchmarks/bench_digits_auto_epochs.py --digits 0 1 --max-epochs 50
    python benchmarks/bench_digits_auto_epochs.py --min-steps 2000  # another "auto" floor
    python benchmarks/bench_digits_auto_epochs.py --threads 1       # faster on a loaded machine
"""

import argparse
import os
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.svm import OneClassSVM

from corel_sklearn import BallCountOneClass, TopoAutoencoder
from corel_sklearn.estimators import _topo_autoencoder


def held_out_split(y, digit, n_train):
    """Indices ``(train, test)``: the first ``n_train`` images of ``digit``, and all the others.

    The test indices hold every image not in ``train`` (the rest of ``digit`` as inliers, the
    other digits as outliers), so the AUROC is computed on images the model never saw.
    """
    y = np.asarray(y)
    of_digit = np.flatnonzero(y == digit)
    if not 1 <= n_train < len(of_digit):
        raise ValueError(
            f"n_train must be in [1, {len(of_digit) - 1}] for digit {digit} "
            f"({len(of_digit)} images), got {n_train}."
        )
    train = of_digit[:n_train]
    test = np.setdiff1d(np.arange(len(y)), train)
    return train, test


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--max-epochs", default="auto")
    parser.add_argument("--min-steps", type=int, default=None,
                        help="override AUTO_MIN_STEPS (max_epochs='auto')")
    parser.add_argument("--n", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (1 is faster on a loaded machine)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.min_steps is not None:
        _topo_autoencoder.AUTO_MIN_STEPS = args.min_steps
    max_epochs = args.max_epochs if args.max_epochs == "auto" else int(args.max_epochs)

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    print(f"digits {X.shape}, n={args.n}, max_epochs={max_epochs!r}, "
          f"AUTO_MIN_STEPS={_topo_autoencoder.AUTO_MIN_STEPS}, "
          f"{torch.get_num_threads()} torch threads, load average {os.getloadavg()[0]:.2f} "
          "(shared machine)")
    print(f"each model fitted on the first {args.n} images of its digit and scored on the other "
          f"{len(y) - args.n} images (held out: none of its training images is scored)")
    print("| digit | COREL AUROC (count) | same codes, 5th-NN distance | raw OC-SVM | epochs | "
          "steps | death median | fit s | warned |")
    print("|---|---|---|---|---|---|---|---|---|")
    corel, knn, ocsvm = [], [], []
    for d in args.digits:
        train, test = held_out_split(y, d, args.n)
        X_d = X[train]
        pipe = Pipeline([
            ("enc", TopoAutoencoder(max_epochs=max_epochs, random_state=args.seed)),
            ("oc", BallCountOneClass()),
        ])
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            pipe.fit(X_d)
        elapsed = time.perf_counter() - start
        warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        is_inlier = y[test] == d
        auc = roc_auc_score(is_inlier, pipe.decision_function(X[test]))
        svm = OneClassSVM(gamma="scale").fit(X_d)
        auc_svm = roc_auc_score(is_inlier, svm.decision_function(X[test]))
        enc = pipe.named_steps["enc"]
        by_distance = BallCountOneClass(scoring="knn_distance").fit(enc.transform(X_d))
        auc_knn = roc_auc_score(is_inlier, by_distance.decision_function(enc.transform(X[test])))
        corel.append(auc)
        knn.append(auc_knn)
        ocsvm.append(auc_svm)
        print(f"| {d} | {auc:.3f} | {auc_knn:.3f} | {auc_svm:.3f} | {enc.n_iter_} | "
              f"{enc.n_steps_} | "
              f"{enc.history_[-1]['death_time_median']:.2f} | {elapsed:.1f} | {warned} |",
              flush=True)
    print(f"| mean | {np.mean(corel):.3f} | {np.mean(knn):.3f} | {np.mean(ocsvm):.3f} "
          "| | | | | |")


if __name__ == "__main__":
    main()
