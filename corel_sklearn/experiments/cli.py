"""Command line: ``python -m corel_sklearn {demo,oneclass,odds,adbench}`` (or ``corel-sklearn``)."""

import argparse
import functools
import os
import pickle
import sys
import time
import zipfile

from corel_sklearn._files import ensure_writable_dir
from corel_sklearn.experiments._cache import default_cache_dir
from corel_sklearn.experiments._methods import (
    ADBENCH_METHODS,
    METHODS,
    ODDS_METHODS,
    PAPER_METHODS,
    resolve_methods,
)
from corel_sklearn.experiments._progress import log
from corel_sklearn.experiments._protocol import AUX_SPLITS, ProtocolSettings
from corel_sklearn.experiments._tabular import ADBENCH_SEEDS, ADBENCH_SETTINGS

SHARED_DATA = os.path.join(os.pardir, "shared", "data")
DEFAULT_PATHS = {
    "cifar10": os.path.join(SHARED_DATA, "cifar10_jpg"),
    "odds": os.path.join(SHARED_DATA, "odds_pyod"),
    "odds_published": os.path.join(SHARED_DATA, "baselines", "pyod_odds_roc_10trials_2019.csv"),
    "adbench": os.path.join(SHARED_DATA, "adbench_classical"),
    "adbench_published": os.path.join(
        SHARED_DATA, "baselines", "adbench_prelim_AUCROC_unsup_commit6a9c8b0_2022-06.csv"),
}
# The README's main job: every class of the digits, all baselines, < 5 min on 2 CPU cores.
# Everything else comes from the estimators' defaults.
DEMO_DEFAULTS = dict(dataset="digits", n=40, epochs=40, out=os.path.join("results", "demo"))
# The network per dataset when --architecture is not given: the paper's conv net for 32x32
# images; an MLP for the 8x8 digits (a 3-stride-2 conv net shrinks them to 1x1).
DEFAULT_ARCHITECTURE = {"digits": "mlp", "cifar10": "conv"}
# torch/numba threads: the digits MLP gains nothing from a second thread (and loses 10x or more
# on a busy machine); the CIFAR conv net uses all cores.
DEFAULT_THREADS = {"digits": 1, "cifar10": None}
# Errors that mean bad input (files, folders, arguments), reported as one line, never a
# traceback; anything else is a bug and keeps its traceback.
USER_ERRORS = (OSError, ValueError, ImportError, EOFError, pickle.UnpicklingError,
               zipfile.BadZipFile)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind, minimum=None, maximum=None, exclusive_min=False, allow=()):
    """argparse type: ``kind`` (int or float) within bounds, or one of the strings ``allow``."""
    def parse(text):
        if text in allow:
            return text
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
            ) from None
        too_small = minimum is not None and (
            value <= minimum if exclusive_min else value < minimum)
        if too_small or (maximum is not None and value > maximum):
            bound = (f"> {minimum}" if exclusive_min else f">= {minimum}") \
                if maximum is None else f"in [{minimum}, {maximum}]"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    return parse


def _n_jobs(text):
    value = _number(int)(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be a positive count or -1 (all cores), got 0")
    return value


def _method(text):
    try:
        return resolve_methods([text])[0].key
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


POSITIVE_INT = _number(int, 1)
POSITIVE_FLOAT = _number(float, 0.0, exclusive_min=True)


def build_parser():
    """The ``corel-sklearn`` argument parser; defaults come from the estimators."""
    from corel_sklearn import TopoAutoencoder

    encoder = TopoAutoencoder().get_params()
    protocol = ProtocolSettings()
    parser = _Parser(
        prog="corel-sklearn",
        description="COREL (Hofer et al., ICML 2019): the paper's one-class protocol, the "
        "ODDS and ADBench benchmarks, with baselines on identical splits.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    oneclass_defaults = dict(dataset="cifar10", n=protocol.n_samples, draws=protocol.n_draws,
                             lam=encoder["connectivity_weight"], eta=encoder["eta"],
                             epochs=encoder["max_epochs"], batch_size=encoder["batch_size"],
                             lr=encoder["learning_rate"], n_branches=encoder["n_branches"],
                             branch_dim=encoder["branch_dim"],
                             hidden_layer_sizes=encoder["hidden_layer_sizes"], out=None)
    demo = sub.add_parser(
        "demo", help="the one-class protocol on the embedded digits (< 5 min on 2 cores)",
        description="The oneclass command with the digits preset: one COREL encoder (and its "
        "lambda = 0 twin) trained on the unlabeled digits train split, then for every digit "
        f"and {protocol.n_draws} draws of {DEMO_DEFAULTS['n']} samples the test split scored "
        "by COREL and all baselines.",
    )
    _add_protocol_options(demo, {**oneclass_defaults, **DEMO_DEFAULTS})
    oneclass = sub.add_parser(
        "oneclass", help="the one-class protocol on digits or CIFAR-10",
        description="The paper's protocol: n training samples of one class per draw, the "
        "full test split scored, AUROC per class.")
    _add_protocol_options(oneclass, oneclass_defaults)

    odds = sub.add_parser(
        "odds", help="the 17 ODDS sets, pyod's protocol, vs published",
        description="pyod's benchmark protocol (60/40 split, standardised, detectors fitted "
        "on the contaminated train split), next to pyod's published table.")
    odds.add_argument("--data-path", default=DEFAULT_PATHS["odds"],
                      help="folder of the ODDS .mat files (default: %(default)s)")
    odds.add_argument("--published", default=DEFAULT_PATHS["odds_published"],
                      help="pyod's published ROC table, 'none' to omit (default: %(default)s)")
    odds.add_argument("--datasets", nargs="+", default=None, help="subset of the 17 sets")
    odds.add_argument("--trials", type=POSITIVE_INT, default=10,
                      help="random splits per set (default: %(default)s)")
    _add_tabular_options(odds, ODDS_METHODS, os.path.join("results", "odds"))

    adbench = sub.add_parser(
        "adbench", help="ADBench's classical sets, ADBench's protocol, vs published",
        description="ADBench's protocol (resampled to 1000-10000 rows, stratified 70/30 "
        "split, min-max scaled, seeds 1-3) in its unsupervised and semi-supervised settings, "
        "next to ADBench's published unsupervised means.")
    adbench.add_argument("--data-path", default=DEFAULT_PATHS["adbench"],
                         help="folder of ADBench's .npz files (default: %(default)s)")
    adbench.add_argument("--published", default=DEFAULT_PATHS["adbench_published"],
                         help="ADBench's AUCROC table, 'none' to omit (default: %(default)s)")
    adbench.add_argument("--datasets", nargs="+", default=None,
                         help="stems (4_breastw) or names (breastw); default: every .npz")
    adbench.add_argument("--settings", nargs="+", choices=ADBENCH_SETTINGS,
                         default=list(ADBENCH_SETTINGS), help="(default: both)")
    adbench.add_argument("--labeled-ratio", type=_number(float, 0.0, 1.0), default=1.0,
                         help="fraction of the training anomalies labeled in the "
                         "semi-supervised setting (default: %(default)s)")
    adbench.add_argument("--seeds", type=_number(int, 0), nargs="+",
                         default=list(ADBENCH_SEEDS), help="(default: 1 2 3, ADBench's)")
    _add_tabular_options(adbench, ADBENCH_METHODS, os.path.join("results", "adbench"))
    return parser


def _add_protocol_options(p, defaults):
    p.add_argument("--dataset", choices=tuple(DEFAULT_ARCHITECTURE), help="(default: %(default)s)")
    p.add_argument("--data-path", default=None,
                   help="CIFAR-10 folder/zip (cifar-10-batches-py or the JPEG layout); "
                   f"default {DEFAULT_PATHS['cifar10']}")
    p.add_argument("--max-per-class", type=POSITIVE_INT, default=None,
                   help="load only the first K images per class and split (quick runs)")
    p.add_argument("--n", type=POSITIVE_INT,
                   help="training samples per draw (default: %(default)s)")
    p.add_argument("--draws", type=POSITIVE_INT, help="draws per class (default: %(default)s)")
    p.add_argument("--lambda", dest="lam", type=_number(float, 0.0),
                   help="connectivity weight lambda (default: %(default)s)")
    p.add_argument("--eta", type=POSITIVE_FLOAT,
                   help="target death time eta (default: %(default)s)")
    p.add_argument("--radius", type=POSITIVE_FLOAT, default=None,
                   help="ball radius (default: eta)")
    p.add_argument("--epochs", type=_number(int, 1, allow=("auto",)),
                   help="encoder epochs (default: %(default)s)")
    p.add_argument("--batch-size", type=POSITIVE_INT, help="(default: %(default)s)")
    p.add_argument("--lr", type=POSITIVE_FLOAT, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--architecture", choices=("mlp", "conv"), default=None,
                   help="encoder network (default: conv for cifar10, mlp for digits)")
    p.add_argument("--hidden-layer-sizes", type=POSITIVE_INT, nargs="+",
                   help="MLP hidden widths (default: %(default)s)")
    p.add_argument("--n-branches", type=POSITIVE_INT, help="(default: %(default)s)")
    p.add_argument("--branch-dim", type=POSITIVE_INT, help="(default: %(default)s)")
    p.add_argument("--aux", choices=AUX_SPLITS, default="train",
                   help="encoder training data: the unlabeled train split, or per class the "
                   "train split without that class")
    p.add_argument("--classes", type=int, nargs="+", default=None,
                   help="inlier classes to run (default: all)")
    p.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--seed", type=_number(int, 0), default=0,
                   help="seed of draws, encoder and baselines (default: %(default)s)")
    p.add_argument("--threads", type=POSITIVE_INT, default=None,
                   help="torch/numba CPU threads (default: 1 for digits, all cores for "
                   "cifar10); 1 is best for small networks and on a busy machine")
    p.add_argument("--methods", nargs="+", type=_method, default=list(PAPER_METHODS),
                   metavar="METHOD",
                   help=f"methods to run (default: all): {', '.join(PAPER_METHODS)} "
                   "(KNN, ECOD with pyod); any case")
    p.add_argument("--no-baselines", action="store_true", help="run COREL only")
    p.add_argument("--out", help="output folder for CSV/JSON/PNG (default: results/<dataset>)")
    p.add_argument("--cache-dir", default=None,
                   help=f"encoder cache folder (default: $COREL_SKLEARN_CACHE or "
                   f"{default_cache_dir()})")
    p.add_argument("--no-cache", action="store_true", help="always retrain the encoder")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(**defaults)


def _add_tabular_options(p, methods, out):
    p.add_argument("--methods", nargs="+", type=_method, default=list(methods),
                   metavar="METHOD",
                   help=f"any of {', '.join(METHODS)} (default: {' '.join(methods)})")
    p.add_argument("--radius", type=POSITIVE_FLOAT, default=None,
                   help="ball radius (default: eta)")
    p.add_argument("--n-jobs", type=_n_jobs, default=-1,
                   help="parallel jobs for the raw-feature detectors (default: all cores)")
    p.add_argument("--threads", type=POSITIVE_INT, default=1,
                   help="torch/numba threads while COREL trains (default: %(default)s)")
    p.add_argument("--encoder-steps", type=POSITIVE_INT, default=300,
                   help="optimisation steps of COREL's tabular encoder (default: "
                   "%(default)s, the setting of the published ODDS figures)")
    p.add_argument("--out", default=out, help="output folder (default: %(default)s)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def main(argv=None):
    """Entry point of ``python -m corel_sklearn`` and the ``corel-sklearn`` script."""
    args = build_parser().parse_args(argv)
    run = {"demo": _run_oneclass, "oneclass": _run_oneclass, "odds": _run_odds,
           "adbench": _run_adbench}[args.command]
    try:
        return run(args)
    except KeyboardInterrupt:
        print("corel-sklearn: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"corel-sklearn {args.command}: error: {message}", file=sys.stderr)
        return 2


def _run_oneclass(args):
    from corel_sklearn import TopoAutoencoder
    from corel_sklearn.datasets import load_cifar10, load_digits, train_test_arrays
    from corel_sklearn.experiments._protocol import run_one_class_protocol

    verbose = 0 if args.quiet else 1
    dataset_id = args.dataset
    if args.dataset == "cifar10" and args.max_per_class is not None:
        dataset_id = f"cifar10_k{args.max_per_class}"
    # Fail now, not after the training, when the results or the cache cannot be written.
    out = ensure_writable_dir(args.out or os.path.join("results", dataset_id), "--out folder")
    cache_dir = None if args.no_cache else ensure_writable_dir(
        args.cache_dir or default_cache_dir(), "--cache-dir folder")
    if args.dataset == "digits":
        bunch = load_digits()
    else:
        path = args.data_path or DEFAULT_PATHS["cifar10"]
        log(verbose, f"loading CIFAR-10 from {path} ...")
        bunch = load_cifar10(path, max_per_class=args.max_per_class)
    X_train, y_train, X_test, y_test = train_test_arrays(bunch)
    methods = ["COREL"] if args.no_baselines else args.methods
    radius = args.eta if args.radius is None else args.radius
    architecture = args.architecture or DEFAULT_ARCHITECTURE[args.dataset]
    encoder = TopoAutoencoder(
        architecture=architecture, input_shape=bunch.image_shape,
        hidden_layer_sizes=tuple(args.hidden_layer_sizes), n_branches=args.n_branches,
        branch_dim=args.branch_dim, eta=args.eta, connectivity_weight=args.lam,
        batch_size=args.batch_size, max_epochs=args.epochs, learning_rate=args.lr,
        device=args.device, random_state=args.seed, verbose=verbose,
    )
    log(verbose, f"{dataset_id}: {len(X_train)} train / {len(X_test)} test, n={args.n}, "
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
    paths = result.save(out, plot=not args.no_plot)
    print(f"\nOne-class AUROC on {dataset_id} (n={args.n}, {args.draws} draws, "
          f"lambda={args.lam:g}, r={radius:g}; mean ± std over draws; -AE = same encoder, "
          "lambda=0; others on raw inputs)")
    print(result.table())
    fit = result.timings.get("encoder_fit", 0.0)
    print(f"\n{elapsed:.0f} s in total ({fit:.0f} s training encoders); "
          f"written to {', '.join(p for p in paths.values() if p)}")
    return 0


def _tabular_encoder(n_steps):
    from corel_sklearn.estimators import tabular_encoder

    return functools.partial(tabular_encoder, n_steps=n_steps)


def _published(path, verbose):
    if path.lower() == "none":
        return None
    if not os.path.isfile(path):
        log(verbose, f"note: published table {path} not found; omitted")
        return None
    return path


def _run_odds(args):
    from corel_sklearn.experiments._tabular import run_odds_benchmark

    verbose = 0 if args.quiet else 1
    out = ensure_writable_dir(args.out, "--out folder")
    start = time.perf_counter()
    result = run_odds_benchmark(
        args.data_path, datasets=args.datasets, n_trials=args.trials, methods=args.methods,
        radius=args.radius, published_csv=_published(args.published, verbose),
        n_jobs=args.n_jobs, encoder_threads=args.threads, verbose=verbose,
        make_encoder=_tabular_encoder(args.encoder_steps),
    )
    paths = result.save(out, prefix="odds_", plot=not args.no_plot)
    print(f"\nODDS, pyod protocol (60/40, standardised, {args.trials} trials): test AUROC, "
          "mean ± std over trials; 'pub' = pyod's published means (2019)")
    print(result.table())
    print(f"\n{time.perf_counter() - start:.0f} s; written to "
          f"{', '.join(p for p in paths.values() if p)}")
    return 0


def _run_adbench(args):
    from corel_sklearn.experiments._tabular import adbench_files, run_adbench_benchmark

    verbose = 0 if args.quiet else 1
    out = ensure_writable_dir(args.out, "--out folder")
    adbench_files(args.data_path, args.datasets)  # unknown names fail before any training
    published = _published(args.published, verbose)
    for setting in args.settings:
        start = time.perf_counter()
        result = run_adbench_benchmark(
            args.data_path, datasets=args.datasets, setting=setting,
            labeled_ratio=args.labeled_ratio, seeds=args.seeds, methods=args.methods,
            radius=args.radius, published_csv=published, n_jobs=args.n_jobs,
            encoder_threads=args.threads, verbose=verbose,
            make_encoder=_tabular_encoder(args.encoder_steps),
        )
        paths = result.save(out, prefix=f"adbench_{setting}_", plot=not args.no_plot)
        labeled = "" if setting == "unsupervised" else \
            f", {args.labeled_ratio:g} of the training anomalies labeled and left out"
        print(f"\nADBench {setting} (70/30 stratified, min-max{labeled}; seeds "
              f"{' '.join(map(str, args.seeds))}): test AUROC, mean ± std over seeds"
              + ("; 'pub' = ADBench's preliminary published means (2022)"
                 if setting == "unsupervised" and published else ""))
        print(result.table())
        print(f"\n{time.perf_counter() - start:.0f} s; written to "
              f"{', '.join(p for p in paths.values() if p)}")
    return 0
