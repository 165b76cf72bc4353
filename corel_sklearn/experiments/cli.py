"""Command line: ``python -m corel_sklearn {demo,oneclass,odds,adbench}`` (or ``corel-sklearn``)."""

import argparse
import functools
import os
import pickle
import sys
import time
import warnings
import zipfile

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from corel_sklearn._files import ensure_writable_dir
from corel_sklearn.estimators import TABULAR_TRIM
from corel_sklearn.experiments._cache import default_cache_dir, stop_on_interrupt
from corel_sklearn.experiments._data import (
    default_data_help,
    download_tabular,
    find_data,
    find_published,
)
from corel_sklearn.experiments._methods import (
    ADBENCH_METHODS,
    METHODS,
    ODDS_METHODS,
    PAPER_METHODS,
    resolve_methods,
)
from corel_sklearn.experiments._progress import log
from corel_sklearn.experiments._protocol import AUX_SPLITS, ProtocolSettings
from corel_sklearn.experiments._report import BenchmarkInterrupted, BenchmarkResult
from corel_sklearn.experiments._tabular_benchmarks import ADBENCH_SEEDS, ADBENCH_SETTINGS

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


def _trim_share(text):
    value = _number(float)(text)
    if not 0 <= value < 0.5:
        raise argparse.ArgumentTypeError(f"must be a share in [0, 0.5), got {text}")
    return value


class _RenamedOption(argparse.Action):
    """An option's former name: stores into the new option's value, with a note on stderr."""

    def __init__(self, option_strings, dest, new_name, **kwargs):
        super().__init__(option_strings, dest, default=argparse.SUPPRESS,
                         help=argparse.SUPPRESS, **kwargs)
        self.new_name = new_name

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"corel-sklearn: note: {option_string} is now {self.new_name}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def _method(text):
    try:
        return resolve_methods([text])[0].key
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


POSITIVE_INT = _number(int, 1)
POSITIVE_FLOAT = _number(float, 0.0, exclusive_min=True)


def build_parser():
    """The ``corel-sklearn`` argument parser; defaults come from the estimators."""
    from corel_sklearn.estimators import TopoAutoencoder

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
    odds.add_argument("--data-dir", "--data-path", dest="data_path", metavar="DIR",
                      default=None,
                      help=f"folder of the ODDS .mat files (default: {default_data_help('odds')})")
    odds.add_argument("--published-csv", "--published", dest="published", metavar="CSV",
                      default=None,
                      help="pyod's published ROC table, 'none' to omit (default: the one in the "
                      "data home, downloaded with --download)")
    _add_download_option(odds, "the ODDS sets (3 MB) and pyod's published table")
    odds.add_argument("--datasets", nargs="+", default=None, help="subset of the 17 sets")
    odds.add_argument("--n-trials", "--trials", dest="trials", metavar="N", type=POSITIVE_INT,
                      default=10,
                      help="random splits per set (default: %(default)s)")
    _add_tabular_options(odds, ODDS_METHODS, os.path.join("results", "odds"))

    adbench = sub.add_parser(
        "adbench", help="ADBench's classical sets, ADBench's protocol, vs published",
        description="ADBench's protocol (resampled to 1000-10000 rows, stratified 70/30 "
        "split, min-max scaled, seeds 1-3) in its unsupervised and semi-supervised settings, "
        "next to ADBench's published unsupervised means.")
    adbench.add_argument("--data-dir", "--data-path", dest="data_path", metavar="DIR",
                         default=None,
                         help="folder of ADBench's .npz files (default: "
                         f"{default_data_help('adbench')})")
    adbench.add_argument("--published-csv", "--published", dest="published", metavar="CSV",
                         default=None,
                         help="ADBench's AUCROC table, 'none' to omit (default: the one in the "
                         "data home, downloaded with --download)")
    _add_download_option(adbench, "the ADBench sets (20 MB for all 43) and ADBench's table")
    adbench.add_argument("--datasets", nargs="+", default=None,
                         help="stems (4_breastw) or names (breastw); default: every .npz")
    adbench.add_argument("--settings", nargs="+", choices=ADBENCH_SETTINGS,
                         default=list(ADBENCH_SETTINGS), help="(default: both)")
    adbench.add_argument("--labeled-ratio", type=_number(float, 0.0, 1.0), default=1.0,
                         help="fraction of the training anomalies labeled in the "
                         "semi-supervised setting (default: %(default)s)")
    adbench.add_argument("--seeds", type=_number(int, 0), nargs="+",
                         default=list(ADBENCH_SEEDS),
                         help="one run per seed, the API's random_states (default: 1 2 3, "
                         "ADBench's)")
    _add_tabular_options(adbench, ADBENCH_METHODS, os.path.join("results", "adbench"))
    return parser


def _add_protocol_options(p, defaults):
    p.add_argument("--dataset", choices=tuple(DEFAULT_ARCHITECTURE), help="(default: %(default)s)")
    p.add_argument("--data-path", default=None,
                   help="CIFAR-10 folder/zip (cifar-10-batches-py or the JPEG layout); "
                   f"default {default_data_help('cifar10')}")
    _add_download_option(p, "CIFAR-10 (163 MB) for --dataset cifar10")
    p.add_argument("--max-per-class", type=POSITIVE_INT, default=None,
                   help="load only the first K images per class and split (quick runs)")
    p.add_argument("--n-samples", "--n", dest="n", metavar="N", type=POSITIVE_INT,
                   help="training samples per draw, the paper's n (default: %(default)s)")
    p.add_argument("--n-draws", "--draws", dest="draws", metavar="N", type=POSITIVE_INT,
                   help="draws per class (default: %(default)s)")
    p.add_argument("--connectivity-weight", "--lambda", dest="lam", metavar="LAMBDA",
                   type=_number(float, 0.0),
                   help="connectivity weight lambda (default: %(default)s)")
    p.add_argument("--eta", type=POSITIVE_FLOAT,
                   help="target death time eta (default: %(default)s)")
    p.add_argument("--radius", type=POSITIVE_FLOAT, default=None,
                   help="ball radius (default: eta)")
    p.add_argument("--max-epochs", "--epochs", dest="epochs", metavar="EPOCHS",
                   type=_number(int, 1, allow=("auto",)),
                   help="encoder epochs (default: %(default)s)")
    p.add_argument("--batch-size", type=POSITIVE_INT, help="(default: %(default)s)")
    p.add_argument("--learning-rate", "--lr", dest="lr", metavar="LR", type=POSITIVE_FLOAT,
                   help="Adam learning rate (default: %(default)s)")
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
                   help="seed of draws, encoder and baselines, the API's random_state "
                   "(default: %(default)s)")
    p.add_argument("--n-jobs", type=_n_jobs, default=None,
                   help="torch/numba CPU threads (default: 1 for digits, all allowed for "
                   "cifar10; -1: all allowed); 1 is best for small networks and on a busy "
                   "machine")
    p.add_argument("--threads", dest="n_jobs", type=_n_jobs, action=_RenamedOption,
                   new_name="--n-jobs")
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


def _add_download_option(p, what):
    p.add_argument("--download", action="store_true",
                   help=f"download {what} into the data home ($COREL_SKLEARN_DATA or "
                   "~/corel_sklearn_data) from the sources, checking their SHA-256 sums; "
                   "needs the [data] extra")


def _data_path(args, dataset, datasets=None):
    """--data-path, or the data home / ../shared/data copy, or a download with --download."""
    if args.data_path is not None:
        if args.download:
            raise ValueError("--download fetches into the data home ($COREL_SKLEARN_DATA); "
                             "give it or --data-path, not both.")
        return args.data_path
    if args.download and dataset != "cifar10":
        return download_tabular(dataset, datasets)
    return find_data(dataset, args.command, datasets)


def _published_path(args, benchmark, verbose):
    if args.published is not None:
        return _published(args.published, verbose)
    path = find_published(benchmark, download=args.download and args.data_path is None)
    if path is None:
        log(verbose, "note: the published table is not in the data home; omitted "
            "(--download fetches it)")
    return path


def _add_tabular_options(p, methods, out):
    p.add_argument("--methods", nargs="+", type=_method, default=list(methods),
                   metavar="METHOD",
                   help=f"any of {', '.join(METHODS)} (default: {' '.join(methods)})")
    p.add_argument("--radius", type=POSITIVE_FLOAT, default=None,
                   help="ball radius (default: eta)")
    p.add_argument("--n-jobs", type=_n_jobs, default=-1,
                   help="parallel jobs for the raw-feature detectors (default: all cores)")
    p.add_argument("--encoder-n-jobs", type=_n_jobs, default=1,
                   help="torch/numba threads while COREL trains and scores (default: "
                   "%(default)s; -1: all allowed)")
    p.add_argument("--threads", dest="encoder_n_jobs", type=_n_jobs, action=_RenamedOption,
                   new_name="--encoder-n-jobs")
    p.add_argument("--encoder-steps", type=POSITIVE_INT, default=300,
                   help="optimisation steps of COREL's tabular encoder (default: "
                   "%(default)s, the setting of the published ODDS figures)")
    p.add_argument("--trim", type=_trim_share, default=None,
                   help="share of each split's training rows COREL's encoder leaves out, the "
                   "farthest from their m-th nearest neighbour (one per 20 rows, at least 100, "
                   "among at most 7,000 rows; default: "
                   f"{TABULAR_TRIM} where the training rows hold anomalies, 0 in ADBench's "
                   "semi-supervised setting; 0 trains on every row)")
    p.add_argument("--out", default=out, help="output folder (default: %(default)s)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def main(argv=None):
    """Entry point of ``python -m corel_sklearn`` and the ``corel-sklearn`` script.

    Returns the exit status: 0 done, 2 bad input (one line on stderr), 130 interrupted by
    Ctrl-C (what was finished is written first, with ``partial_`` file names).
    """
    args = None
    try:  # building the parser imports torch: Ctrl-C there is an interrupt too
        args = build_parser().parse_args(argv)
        run = {"demo": _run_oneclass, "oneclass": _run_oneclass, "odds": _run_odds,
               "adbench": _run_adbench}[args.command]
        return run(args)
    except KeyboardInterrupt:
        print("corel-sklearn: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        command = "corel-sklearn" if args is None else f"corel-sklearn {args.command}"
        print(f"{command}: error: {message}", file=sys.stderr)
        return 2


class _EncoderWarnings:
    """The encoders' warnings during one command, put in the command line's terms.

    A ``ConvergenceWarning`` of the encoder advises ``max_epochs``, a knob of the library that
    the command line calls ``flag``: each is counted, and one note on exit names ``flag``.
    The warning of an interrupted fit is dropped: the command reports the interrupt itself.
    Other warnings are shown as usual.
    """

    def __init__(self, flag, value, verbose, remark=""):
        self.flag, self.value, self.verbose, self.remark = flag, value, verbose, remark
        self.messages = []

    def __enter__(self):
        self._context = warnings.catch_warnings()
        self._context.__enter__()
        warnings.simplefilter("always", ConvergenceWarning)  # count every fit
        warnings.filterwarnings("ignore", message="Training interrupted", category=UserWarning)
        self._show = warnings.showwarning
        warnings.showwarning = self._showwarning
        return self

    def _showwarning(self, message, category, filename, lineno, file=None, line=None):
        if issubclass(category, ConvergenceWarning) and "max_epochs" in str(message):
            self.messages.append(str(message))
        else:
            self._show(message, category, filename, lineno, file, line)

    def __exit__(self, *exc):
        self._context.__exit__(*exc)
        if self.messages:
            log(self.verbose, self.note())
        return False

    def note(self):
        """One line: how many fits did not converge, the first one's reason, the flag."""
        sentences = self.messages[0].rstrip(".").split(". ")
        first = ". ".join(s for s in sentences if "max_epochs" not in s and "warm_start" not in s)
        first = first.split("scale eta: ", 1)[-1]  # the reasons, without the estimator's preamble
        fits = "1 encoder fit" if len(self.messages) == 1 else f"{len(self.messages)} encoder fits"
        return (f"note: {fits} stopped before the codes were organised at the scale eta "
                f"(the first: {first}); train longer with {self.flag} (now {self.value}"
                f"{self.remark}).")


def _write_partial(exc, out, prefix, plot, title):
    """Write and print the finished part of an interrupted run (``partial_`` file names)."""
    if exc.result is None:
        print("corel-sklearn: interrupted before any result was finished; nothing written",
              file=sys.stderr)
        return
    try:
        paths = exc.result.save(out, prefix=prefix, plot=plot)
    except OSError as error:
        print(f"corel-sklearn: could not write the partial results ({error})", file=sys.stderr)
        return
    print(f"\n{title} -- PARTIAL (interrupted)")
    print(exc.result.table())
    print(f"\npartial results written to {', '.join(p for p in paths.values() if p)}")


def _run_oneclass(args):
    from corel_sklearn.datasets import fetch_cifar10, load_cifar10, load_digits, train_test_arrays
    from corel_sklearn.estimators import TopoAutoencoder
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
    elif args.download and args.data_path is None:
        log(verbose, "fetching CIFAR-10 into the data home ...")
        bunch = fetch_cifar10(max_per_class=args.max_per_class)
    else:
        path = _data_path(args, "cifar10")
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
        device=args.device, random_state=args.seed,
        verbose=0,  # the runner shows the training's progress, one display for the command
    )
    log(verbose, f"{dataset_id}: {len(X_train)} train / {len(X_test)} test, n={args.n}, "
        f"{args.draws} draws, lambda={args.lam}, eta={args.eta}, r={radius}, "
        f"{architecture} net, {args.epochs} epochs, aux={args.aux}, methods={methods}")
    title = (f"One-class AUROC on {dataset_id} (n={args.n}, {args.draws} draws, "
             f"lambda={args.lam:g}, r={radius:g}; mean ± std over draws; -AE = same encoder, "
             "lambda=0; others on raw inputs)")
    n_jobs = args.n_jobs if args.n_jobs is not None else DEFAULT_THREADS[args.dataset]
    start = time.perf_counter()
    with _EncoderWarnings("--epochs", args.epochs, verbose) as encoder_warnings:
        try:
            result = run_one_class_protocol(
                X_train, y_train, X_test, y_test, encoder=encoder, n_samples=args.n,
                n_draws=args.draws, radius=radius, classes=args.classes,
                target_names=list(bunch.target_names), aux=args.aux, methods=methods,
                dataset_id=dataset_id, cache_dir=cache_dir, random_state=args.seed,
                n_jobs=n_jobs, verbose=verbose,
            )
        except BenchmarkInterrupted as exc:
            if exc.result is not None:
                _annotate(exc.result, args, dataset_id, encoder_warnings)
            _write_partial(exc, out, "", not args.no_plot, title)
            raise
    elapsed = time.perf_counter() - start
    _annotate(result, args, dataset_id, encoder_warnings)
    paths = result.save(out, plot=not args.no_plot)
    print(f"\n{title}")
    print(result.table())
    fit = result.timings.get("encoder_fit", 0.0)
    print(f"\n{elapsed:.0f} s in total ({fit:.0f} s training encoders); "
          f"written to {', '.join(p for p in paths.values() if p)}")
    return 0


def _annotate(result, args, dataset_id, encoder_warnings):
    result.settings.update(command=args.command, epochs=args.epochs, lam=args.lam, eta=args.eta,
                           title=f"{dataset_id}, n={args.n}, {args.draws} draws",
                           encoder_convergence_warnings=len(encoder_warnings.messages))


def _tabular_encoder(n_steps):
    """``make_encoder`` of the tabular runners: the tabular encoder, stopped by Ctrl-C."""
    from corel_sklearn.estimators import tabular_encoder

    @functools.wraps(tabular_encoder)  # the runners' reports name tabular_encoder
    def make_encoder(n_samples, n_features, random_state=None, *, n_steps):
        return stop_on_interrupt(
            tabular_encoder(n_samples, n_features, random_state, n_steps=n_steps))

    return functools.partial(make_encoder, n_steps=n_steps)


def _published(path, verbose):
    if path.lower() == "none":
        return None
    if not os.path.isfile(path):
        log(verbose, f"note: published table {path} not found; omitted")
        return None
    return path


def _run_set_by_set(names, run_one):
    """``run_one(name)`` for each set, joined; on Ctrl-C the finished sets, marked partial."""
    done = []
    try:
        for name in names:
            done.append(run_one(name))
    except KeyboardInterrupt:
        raise BenchmarkInterrupted(
            BenchmarkResult.concat(done, partial=True) if done else None) from None
    result = BenchmarkResult.concat(done)
    result.settings.update(datasets=[str(n) for n in names])
    return result


def _tabular_steps_remark(args):
    return "; 300 is the setting of the published figures" if args.encoder_steps == 300 else ""


def _run_odds(args):
    from corel_sklearn.datasets import ODDS_DATASETS
    from corel_sklearn.experiments._tabular_benchmarks import run_odds_benchmark

    verbose = 0 if args.quiet else 1
    out = ensure_writable_dir(args.out, "--out folder")
    names = list(ODDS_DATASETS if args.datasets is None else args.datasets)
    data_path = _data_path(args, "odds", args.datasets)
    missing = [os.path.join(data_path, f"{name}.mat") for name in names
               if not os.path.isfile(os.path.join(data_path, f"{name}.mat"))]
    if missing:  # before any training, not at the first missing set
        raise FileNotFoundError(
            f"ODDS file(s) not found: {missing}; pass the folder of the .mat files with "
            f"--data-path and names from {list(ODDS_DATASETS)}.")
    published = _published_path(args, "odds", verbose)
    title = (f"ODDS, pyod protocol (60/40, standardised, {args.trials} trials): test AUROC, "
             "mean ± std over trials; 'pub' = pyod's published means (2019)")

    def run_one(name):
        return run_odds_benchmark(
            data_path, datasets=[name], n_trials=args.trials, methods=args.methods,
            radius=args.radius, published_csv=published, n_jobs=args.n_jobs,
            encoder_n_jobs=args.encoder_n_jobs, verbose=verbose,
            trim=TABULAR_TRIM if args.trim is None else args.trim,
            make_encoder=_tabular_encoder(args.encoder_steps),
        )

    start = time.perf_counter()
    with _EncoderWarnings("--encoder-steps", args.encoder_steps, verbose,
                          _tabular_steps_remark(args)) as encoder_warnings:
        try:
            result = _run_set_by_set(names, run_one)
        except BenchmarkInterrupted as exc:
            _write_partial(exc, out, "odds_", not args.no_plot, title)
            raise
    result.settings["encoder_convergence_warnings"] = len(encoder_warnings.messages)
    paths = result.save(out, prefix="odds_", plot=not args.no_plot)
    print(f"\n{title}")
    print(result.table())
    print(_tabular_summary(result))
    print(f"\n{time.perf_counter() - start:.0f} s; written to "
          f"{', '.join(p for p in paths.values() if p)}")
    return 0


def _tabular_summary(result):
    """Means over all, clean and copy-affected sets, mean ranks, where COREL's encoder ended."""
    lines = ["", "Mean AUROC over all sets, clean sets and copy-affected sets (25 % or more of "
             "the normal test rows have an exact copy among the training rows), and mean rank:",
             result.ranking_table()]
    deaths = {n: i["corel_death_over_eta"] for n, i in result.info.items()
              if "corel_death_over_eta" in i}
    if deaths:
        missed = [n for n, i in result.info.items() if i.get("corel_reached_eta") is False]
        values = np.array(list(deaths.values()))
        lines.append(
            f"COREL's encoder: median death time / eta from {values.min():.2f} to "
            f"{values.max():.2f} over the sets (median {np.median(values):.2f}); "
            + (f"outside [0.75, 1.25] on {missed}." if missed else
               "within [0.75, 1.25] on every set."))
    return "\n".join(lines)


def _run_adbench(args):
    from corel_sklearn.experiments._tabular_benchmarks import adbench_files, run_adbench_benchmark

    verbose = 0 if args.quiet else 1
    out = ensure_writable_dir(args.out, "--out folder")
    # unknown names fail before any training
    data_path = _data_path(args, "adbench", args.datasets)
    stems = [os.path.splitext(os.path.basename(p))[0]
             for p in adbench_files(data_path, args.datasets)]
    published = _published_path(args, "adbench", verbose)
    for setting in args.settings:
        labeled = "" if setting == "unsupervised" else \
            f", {args.labeled_ratio:g} of the training anomalies labeled and left out"
        title = (f"ADBench {setting} (70/30 stratified, min-max{labeled}; seeds "
                 f"{' '.join(map(str, args.seeds))}): test AUROC, mean ± std over seeds"
                 + ("; 'pub' = ADBench's preliminary published means (2022)"
                    if setting == "unsupervised" and published else ""))

        def run_one(stem, setting=setting):
            return run_adbench_benchmark(
                data_path, datasets=[stem], setting=setting,
                labeled_ratio=args.labeled_ratio, random_states=args.seeds,
                methods=args.methods,
                radius=args.radius, published_csv=published, n_jobs=args.n_jobs,
                encoder_n_jobs=args.encoder_n_jobs, trim=args.trim, verbose=verbose,
                make_encoder=_tabular_encoder(args.encoder_steps),
            )

        start = time.perf_counter()
        prefix = f"adbench_{setting}_"
        with _EncoderWarnings("--encoder-steps", args.encoder_steps, verbose,
                              _tabular_steps_remark(args)) as encoder_warnings:
            try:
                result = _run_set_by_set(stems, run_one)
            except BenchmarkInterrupted as exc:
                _write_partial(exc, out, prefix, not args.no_plot, title)
                raise
        result.settings["encoder_convergence_warnings"] = len(encoder_warnings.messages)
        paths = result.save(out, prefix=prefix, plot=not args.no_plot)
        print(f"\n{title}")
        print(result.table())
        print(_tabular_summary(result))
        print(f"\n{time.perf_counter() - start:.0f} s; written to "
              f"{', '.join(p for p in paths.values() if p)}")
    return 0
