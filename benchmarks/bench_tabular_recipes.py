"""Tabular encoder shapes x scorers on ADBench's classical sets: the experiment behind the recipe.

For every recipe (encoder shape and training length), ADBench split (setting, seed) and set,
the script standardises the training rows as :class:`corel_sklearn.pyod.COREL` does, trains the
recipe's :class:`~corel_sklearn.TopoAutoencoder`, and scores the test codes with
:class:`~corel_sklearn.BallCountOneClass` two ways: the paper's ball count at r = eta
(``count``) and the distance to the 5th nearest training code (``knn5``). It prints per recipe
and scorer the mean AUROC over all sets, the clean and the copy-affected sets (25 % or more
of the normal test rows have an exact copy among the training rows) and where the encoder
ended (median over sets of the last epoch's median death time over eta). Baselines come from
the ``adbench`` command's summary CSV of the same setting when ``--baselines`` is given.

Codes are cached in ``--cache`` (one ``.npz`` per recipe, setting, seed and set), so a rerun
only scores. Recipes: ``8x2`` (the encoder before the recipe: 8 branches of 2 dimensions),
``1x16``, ``1x32``, ``1x64``, ``1x128`` (the recipe), ``1x256``, ``1xd`` (width 2 d clipped
to [16, 128]), ``1x128-lam0`` (the recipe with lambda = 0), ``1x128-auto``
(``max_epochs="auto"``).

    python benchmarks/bench_tabular_recipes.py --recipes 8x2 1x64 1x128 1x128-lam0 \\
        --setting semi-supervised --seeds 1 2 3 \\
        --baselines results/adbench/adbench_semi-supervised_summary.csv
"""

import argparse
import csv
import os
import sys
import time
import warnings

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from corel_sklearn.datasets import load_adbench
from corel_sklearn.estimators import BallCountOneClass, TopoAutoencoder
from corel_sklearn.experiments import adbench_files, adbench_split, copy_share

# The adbench command's columns printed beside the recipes (COREL: the recipe at its defaults).
BASELINES = ("COREL", "COREL-count", "KNN", "LOF", "IForest", "ECOD", "OCSVM")
COPY_SHARE = 0.25


def recipe(name, n_samples):
    """The unfitted encoder of recipe ``name`` for ``n_samples`` training rows."""
    shapes = {"8x2": (8, 2, 16), "1x16": (1, 16, 64), "1x32": (1, 32, 64), "1x64": (1, 64, 128),
              "1x128": (1, 128, 256), "1x256": (1, 256, 256), "1x128-lam0": (1, 128, 256),
              "1x128-auto": (1, 128, 256)}
    if name not in shapes and name != "1xd":
        raise SystemExit(f"unknown recipe {name!r}; have {sorted(shapes) + ['1xd']}")
    batch_size = int(min(100, max(8, n_samples // 2)))
    steps_per_epoch = max(1, n_samples // batch_size)
    epochs = "auto" if name.endswith("-auto") else max(1, round(300 / steps_per_epoch))
    n_branches, branch_dim, hidden = shapes.get(name, (1, None, None))
    return TopoAutoencoder(
        architecture="mlp", hidden_layer_sizes=(hidden,) if hidden else (128,),
        n_branches=n_branches, branch_dim=branch_dim or 64, eta=2.0,
        connectivity_weight=0.0 if name.endswith("-lam0") else 20.0,
        batch_size=batch_size, max_epochs=epochs, n_jobs=1)


def encode(name, X_fit, X_test, seed):
    """Codes of the train and test rows, the last median death time over eta, seconds."""
    start = time.perf_counter()
    scaler = StandardScaler().fit(X_fit)
    X_fit, X_test = scaler.transform(X_fit), scaler.transform(X_test)
    encoder = recipe(name, len(X_fit)).set_params(random_state=seed)
    if name == "1xd":
        d = X_fit.shape[1]
        encoder.set_params(branch_dim=int(np.clip(2 * d, 16, 128)),
                           hidden_layer_sizes=(int(np.clip(4 * d, 32, 256)),))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the death time is reported in the table instead
        codes_fit = encoder.fit_transform(X_fit.astype(np.float32))
    codes_test = encoder.transform(X_test.astype(np.float32))
    death = encoder.history_[-1]["death_time_median"] / encoder.eta
    return codes_fit, codes_test, death, encoder.n_branches, time.perf_counter() - start


def scores(codes_fit, codes_test, y_test, n_branches):
    out = {}
    for scorer, params in (("count", {"scoring": "count"}),
                           ("knn5", {"scoring": "knn_distance", "n_neighbors": 5})):
        model = BallCountOneClass(radius=2.0, n_branches=n_branches, contamination="auto",
                                  **params).fit(codes_fit)
        out[scorer] = roc_auc_score(y_test, -model.score_samples(codes_test))
    return out


def read_baselines(path):
    """``{set: {method: mean AUROC}}`` from the adbench command's summary CSV."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    first = next(iter(rows[0]))
    return {r[first]: {m: float(r[f"{m}_mean"]) for m in BASELINES if f"{m}_mean" in r}
            for r in rows if r[first] != "mean"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-path", default=os.path.join("..", "shared", "data",
                                                            "adbench_classical"))
    parser.add_argument("--recipes", nargs="+", default=["8x2", "1x64", "1x128"])
    parser.add_argument("--setting", default="semi-supervised",
                        choices=["semi-supervised", "unsupervised"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--datasets", nargs="+")
    parser.add_argument("--cache", default=os.path.join("results", "tabular_recipes"))
    parser.add_argument("--baselines", help="summary CSV of the adbench command, same setting")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.data_path):
        sys.exit(f"ADBench folder {args.data_path!r} not found: pass --data-path (the folder "
                 "`python -m corel_sklearn adbench --download` fills).")
    os.makedirs(args.cache, exist_ok=True)
    paths = adbench_files(args.data_path, args.datasets)
    rows = {}  # (recipe, set) -> {scorer: [auroc per seed], "death": [...], "copy": [...]}
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0]
        bunch = load_adbench(path)
        for seed in args.seeds:
            X_fit, X_test, _, y_test = adbench_split(bunch.data, bunch.target, seed,
                                                     setting=args.setting)
            share = copy_share(X_fit, X_test, y_test)
            for rname in args.recipes:
                cached = os.path.join(args.cache, f"{rname}_{args.setting}_{seed}_{name}.npz")
                if os.path.exists(cached):
                    z = np.load(cached)
                    cf, ct, death, nb = z["fit"], z["test"], float(z["death"]), int(z["nb"])
                else:
                    cf, ct, death, nb, seconds = encode(rname, X_fit, X_test, seed)
                    np.savez(cached, fit=cf, test=ct, death=death, nb=nb)
                    print(f"{name} seed {seed} {rname}: {seconds:.1f} s, death/eta {death:.2f}",
                          file=sys.stderr, flush=True)
                entry = rows.setdefault((rname, name), {"death": [], "copy": []})
                for scorer, value in scores(cf, ct, y_test, nb).items():
                    entry.setdefault(scorer, []).append(value)
                entry["death"].append(death)
                entry["copy"].append(share)
    names = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    copy = [n for n in names if np.mean(rows[args.recipes[0], n]["copy"]) >= COPY_SHARE]
    clean = [n for n in names if n not in copy]
    baselines = read_baselines(args.baselines) if args.baselines else {}

    def mean(values, subset):
        return float(np.mean([values[n] for n in subset])) if subset else float("nan")

    print(f"ADBench {args.setting}, seeds {args.seeds}, {len(names)} sets "
          f"({len(clean)} clean, {len(copy)} copy-affected): mean AUROC")
    print(f"{'recipe:scorer':<20} {'all':>6} {'clean':>6} {'copy':>6} {'death/eta':>10}")
    for method in BASELINES:
        if baselines:
            values = {n: baselines[n][method] for n in names}
            print(f"{method:<20} {mean(values, names):6.3f} {mean(values, clean):6.3f} "
                  f"{mean(values, copy):6.3f}")
    for rname in args.recipes:
        deaths = [np.median(rows[rname, n]["death"]) for n in names]
        for scorer in ("count", "knn5"):
            values = {n: float(np.mean(rows[rname, n][scorer])) for n in names}
            print(f"{rname + ':' + scorer:<20} {mean(values, names):6.3f} "
                  f"{mean(values, clean):6.3f} {mean(values, copy):6.3f} "
                  f"{np.median(deaths):10.2f}")


if __name__ == "__main__":
    main()
