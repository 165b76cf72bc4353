"""Command line: ``python -m corel_sklearn {demo,oneclass,odds} ...`` (also ``corel-sklearn``)."""

import argparse
import os
import sys
import time

from corel_sklearn.experiments._cache import default_cache_dir
from corel_sklearn.experiments._methods import DEFAULT_METHODS, METHODS

SHARED_DATA = os.path.join(os.pardir, "shared", "data")
DEFAULT_PATHS = {
    "cifar10": os.path.join(SHARED_DATA, "cifar10_jpg"),
    "odds": os.path.join(SHARED_DATA, "odds_pyod"),
    "published": os.path.join(SHARED_DATA, "baselines", "pyod_odds_roc_10trials_2019.csv"),
}
# The README's main job: every class of the digits, all baselines, < 5 min on 2 CPU cores.
DEMO = dict(dataset="digits", n=40, draws=5, lam=20.0, eta=2.0, radius=None, epochs=40,
            batch_size=100, lr=1e-3, aux="train", architecture="mlp")
# The network per dataset when --architecture is not given: the paper's conv net for 32x32
# images; an MLP for the 8x8 digits (a 3-stride-2 conv net shrinks them to 1x1).
DEFAULT_ARCHITECTURE = {"digits": "mlp", "cifar10": "conv"}
# torch/numba threads: the digits MLP gains nothing from a second thread (and loses 10x or more
# on a busy machine); the CIFAR conv net uses all cores.
DEFAULT_THREADS = {"digits": 1, "cifar10": None}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="corel-sklearn",
        description="COREL (Hofer et al., ICML 2019): the paper's one-class protocol and "
        "the ODDS benchmark, with baselines on identical splits.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo", help="the one-class protocol on the embedded digits (< 5 min on 2 cores)",
        description="Train one COREL encoder (and its lambda = 0 twin) on the unlabeled "
        "digits train split, then for every digit and 5 draws of "
        f"{DEMO['n']} samples score the test split with COREL and all baselines.",
    )
    _add_common(demo, default_out=os.path.join("results", "demo"))
    demo.add_argument("--epochs", type=int, default=DEMO["epochs"],
                      help="encoder epochs (default: %(default)s)")

    one = sub.add_parser("oneclass", help="the one-class protocol on digits or CIFAR-10",
                         description="The paper's protocol: n training samples of one class "
                         "per draw, the full test split scored, AUROC per class.")
    one.add_argument("--dataset", choices=("digits", "cifar10"), default="cifar10")
    one.add_argument("--data-path", default=None,
                     help="CIFAR-10 folder/zip (cifar-10-batches-py or the JPEG layout); "
                     f"default {DEFAULT_PATHS['cifar10']}")
    one.add_argument("--max-per-class", type=int, default=None,
                     help="load only the first K images per class and split (quick runs)")
    one.add_argument("--n", type=int, default=120,
                     help="training samples per draw (default: %(default)s)")
    one.add_argument("--draws", type=int, default=5, help="draws per class (default: %(default)s)")
    one.add_argument("--lambda", dest="lam", type=float, default=20.0,
                     help="connectivity weight lambda (default: %(default)s)")
    one.add_argument("--eta", type=float, default=2.0,
                     help="target death time eta (default: %(default)s)")
    one.add_argument("--radius", type=float, default=None, help="ball radius (default: eta)")
    one.add_argument("--epochs", type=int, default=50,
                     help="encoder epochs (default: %(default)s)")
    one.add_argument("--batch-size", type=int, default=100, help="(default: %(default)s)")
    one.add_argument("--lr", type=float, default=1e-3,
                     help="Adam learning rate (default: %(default)s)")
    one.add_argument("--architecture", choices=("mlp", "conv"), default=None,
                     help="encoder network (default: conv for cifar10, mlp for digits)")
    one.add_argument("--hidden-layer-sizes", type=int, nargs="+", default=None,
                     help="MLP hidden widths (default: the TopoAutoencoder's)")
    one.add_argument("--n-branches", type=int, default=16, help="(default: %(default)s)")
    one.add_argument("--branch-dim", type=int, default=10, help="(default: %(default)s)")
    one.add_argument("--aux", choices=("train", "leave-one-class-out"), default="train",
                     help="encoder training data: the unlabeled train split, or per class the "
                     "train split without that class")
    one.add_argument("--classes", type=int, nargs="+", default=None,
                     help="inlier classes to run (default: all)")
    _add_common(one, default_out=None)

    odds = sub.add_parser("odds", help="the 17 ODDS sets, pyod's protocol, vs published",
                          description="pyod's benchmark protocol (60/40 split, standardised, "
                          "detectors fitted on the contaminated train split) for COREL, "
                          "IForest, OCSVM and LOF, next to pyod's published table.")
    odds.add_argument("--data-path", default=DEFAULT_PATHS["odds"],
                      help="folder of the ODDS .mat files (default: %(default)s)")
    odds.add_argument("--published", default=DEFAULT_PATHS["published"],
                      help="pyod's published ROC table, 'none' to omit (default: %(default)s)")
    odds.add_argument("--datasets", nargs="+", default=None, help="subset of the 17 sets")
    odds.add_argument("--trials", type=int, default=10,
                      help="random splits per set (default: %(default)s)")
    odds.add_argument("--methods", nargs="+", default=None,
                      help="among COREL IForest OCSVM LOF BallCount-AE (default: all but the "
                      "lambda = 0 ablation BallCount-AE)")
    odds.add_argument("--radius", type=float, default=None, help="ball radius (default: eta)")
    odds.add_argument("--n-jobs", type=int, default=-1,
                      help="parallel jobs for IForest/OCSVM/LOF (default: all cores)")
    odds.add_argument("--threads", type=int, default=1,
                      help="torch/numba threads while COREL trains (default: %(default)s)")
    odds.add_argument("--out", default=os.path.join("results", "odds"), help="output folder")
    odds.add_argument("--no-plot", action="store_true", help="skip the PNG")
    odds.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    return parser


def _add_common(p, default_out):
    p.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of draws, encoder and baselines (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch/numba CPU threads (default: 1 for digits, all cores for "
                   "cifar10); 1 is best for small networks and on a busy machine")
    p.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), choices=list(METHODS),
                   metavar="METHOD",
                   help=f"methods to run (default: all): {', '.join(METHODS)}")
    p.add_argument("--no-baselines", action="store_true", help="run COREL only")
    p.add_argument("--out", default=default_out,
                   help="output folder for CSV/JSON/PNG (default: results/<dataset>)")
    p.add_argument("--cache-dir", default=None,
                   help=f"encoder cache folder (default: $COREL_SKLEARN_CACHE or "
                   f"{default_cache_dir()})")
    p.add_argument("--no-cache", action="store_true", help="always retrain the encoder")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def main(argv=None):
    """Entry point of ``python -m corel_sklearn`` and the ``corel-sklearn`` script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "odds":
            return _run_odds(args)
        if args.command == "demo":
            for key, value in DEMO.items():
                setattr(args, key, getattr(args, key, value))
            args.data_path, args.max_per_class, args.classes = None, None, None
            args.n_branches, args.branch_dim, args.hidden_layer_sizes = 16, 10, None
        return _run_oneclass(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"corel-sklearn: error: {exc}", file=sys.stderr)
        return 2


def _run_oneclass(args):
    from corel_sklearn import TopoAutoencoder
    from corel_sklearn.datasets import load_cifar10, load_digits, train_test_arrays
    from corel_sklearn.experiments._protocol import run_one_class_protocol

    verbose = 0 if args.quiet else 1
    if args.dataset == "digits":
        bunch = load_digits()
        dataset_id = "digits"
    else:
        path = args.data_path or DEFAULT_PATHS["cifar10"]
        _say(verbose, f"loading CIFAR-10 from {path} ...")
        bunch = load_cifar10(path, max_per_class=args.max_per_class)
        dataset_id = "cifar10" if args.max_per_class is None else f"cifar10_k{args.max_per_class}"
    X_train, y_train, X_test, y_test = train_test_arrays(bunch)
    methods = ["corel"] if args.no_baselines else args.methods
    radius = args.eta if args.radius is None else args.radius
    architecture = args.architecture or DEFAULT_ARCHITECTURE[args.dataset]
    extra = {} if args.hidden_layer_sizes is None else {
        "hidden_layer_sizes": tuple(args.hidden_layer_sizes)}
    encoder = TopoAutoencoder(
        architecture=architecture, input_shape=bunch.image_shape, **extra,
        n_branches=args.n_branches, branch_dim=args.branch_dim,
        eta=args.eta, connectivity_weight=args.lam, batch_size=args.batch_size,
        max_epochs=args.epochs, learning_rate=args.lr, device=args.device,
        random_state=args.seed, verbose=verbose,
    )
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())
    _say(verbose, f"{dataset_id}: {len(X_train)} train / {len(X_test)} test, n={args.n}, "
         f"{args.draws} draws, lambda={args.lam}, eta={args.eta}, r={radius}, "
         f"{architecture} net, {args.epochs} epochs, aux={args.aux}, methods={methods}")
    start = time.perf_counter()
    result = run_one_class_protocol(
        X_train, y_train, X_test, y_test, encoder=encoder, n_samples=args.n,
        n_draws=args.draws, radius=radius, classes=args.classes,
        target_names=list(bunch.target_names), aux=args.aux, methods=methods,
        dataset_id=dataset_id, cache_dir=cache_dir, random_state=args.seed,
        n_threads=args.threads if args.threads else DEFAULT_THREADS[args.dataset],
        verbose=verbose,
    )
    elapsed = time.perf_counter() - start
    result.settings.update(command=args.command, epochs=args.epochs, lam=args.lam, eta=args.eta,
                           title=f"{dataset_id}, n={args.n}, {args.draws} draws")
    out = args.out or os.path.join("results", dataset_id)
    paths = result.save(out, plot=not args.no_plot)
    print(f"\nOne-class AUROC on {dataset_id} (n={args.n}, {args.draws} draws, "
          f"lambda={args.lam:g}, r={radius:g}; mean ± std over draws; AE = same encoder, "
          "lambda=0)")
    print(result.table())
    fit = result.timings.get("encoder_fit", 0.0)
    print(f"\n{elapsed:.0f} s in total ({fit:.0f} s training encoders); "
          f"written to {', '.join(p for p in paths.values() if p)}")
    return 0


def _run_odds(args):
    from corel_sklearn.experiments._odds import ODDS_METHODS, run_odds_benchmark

    published = None if args.published.lower() == "none" else args.published
    if published and not os.path.isfile(published):
        print(f"corel-sklearn: note: published table {published} not found; omitted",
              file=sys.stderr)
        published = None
    start = time.perf_counter()
    result = run_odds_benchmark(
        args.data_path, datasets=args.datasets, n_trials=args.trials,
        methods=args.methods or ODDS_METHODS, radius=args.radius, published_csv=published,
        n_jobs=args.n_jobs, encoder_threads=args.threads, verbose=0 if args.quiet else 1,
    )
    paths = result.save(args.out, plot=not args.no_plot)
    print(f"\nODDS, pyod protocol (60/40, standardised, {args.trials} trials): test AUROC, "
          "ours mean ± std over trials; 'pub' = pyod's published means (2019)")
    print(result.table())
    print(f"\n{time.perf_counter() - start:.0f} s; written to "
          f"{', '.join(p for p in paths.values() if p)}")
    return 0


def _say(verbose, message):
    if verbose:
        print(f"[corel_sklearn] {message}", file=sys.stderr, flush=True)
