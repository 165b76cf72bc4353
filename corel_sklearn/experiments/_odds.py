"""The 17 ODDS sets under pyod's benchmark protocol, next to pyod's published AUROCs."""

import csv
import json
import os
import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from corel_sklearn.datasets import ODDS_DATASETS, load_odds
from corel_sklearn.experiments._cache import _log
from corel_sklearn.experiments._report import save_report_files
from corel_sklearn.experiments._threads import limited_threads

PUBLISHED_COLUMNS = ("IForest", "OCSVM", "LOF", "KNN", "PCA")
ODDS_METHODS = ("COREL", "IForest", "OCSVM", "LOF")
# "BallCount-AE": the same encoder trained with lambda = 0, then the same ball count (ablation).
ALL_ODDS_METHODS = (*ODDS_METHODS, "BallCount-AE")
_ENCODER_METHODS = ("COREL", "BallCount-AE")


def odds_encoder(n_samples, n_features, random_state=None):
    """The TopoAutoencoder used for COREL on a tabular set (standardised features).

    Small-data settings, sized to the table rather than to 32x32 images:

    * an MLP with one hidden layer of ``min(64, max(16, 2 * n_features))`` units: the
      inputs have 6 to 274 features, far fewer than CIFAR's 3072;
    * 8 branches of 2 dimensions (a 16-dim code): a batch can only be eta-separated if the
      branch holds ``batch_size`` eta-separated points, and low-dimensional branches keep
      the ball count a local density estimate (the packing-number argument of the paper);
    * ``batch_size = min(100, n_samples // 2)`` so small sets still get several batches;
    * a fixed budget of about 300 optimisation steps (``max_epochs`` from 3 to 100), so
      small sets are not under-trained and shuttle's 29k rows do not take minutes (longer
      training moved the mean AUROC by less than its trial-to-trial spread in a pilot on 8
      sets, and 170 fits must stay within minutes on 2 cores);
    * eta = 2 and lambda = 20 as in the paper.

    Parameters
    ----------
    n_samples, n_features : int
        Shape of the (standardised) training split.
    random_state : int, default=None
        Seed of the encoder.

    Returns
    -------
    encoder : :class:`~corel_sklearn.TopoAutoencoder`
        Unfitted.
    """
    from corel_sklearn import TopoAutoencoder

    batch_size = int(min(100, max(8, n_samples // 2)))
    steps_per_epoch = max(1, n_samples // batch_size)
    return TopoAutoencoder(
        architecture="mlp",
        hidden_layer_sizes=(int(min(64, max(16, 2 * n_features))),),
        n_branches=8,
        branch_dim=2,
        eta=2.0,
        connectivity_weight=20.0,
        batch_size=batch_size,
        max_epochs=int(np.clip(round(300 / steps_per_epoch), 3, 100)),
        random_state=random_state,
    )


def run_odds_benchmark(
    data_dir,
    *,
    datasets=None,
    n_trials=10,
    methods=ODDS_METHODS,
    make_encoder=odds_encoder,
    radius=None,
    published_csv=None,
    n_jobs=None,
    encoder_threads=1,
    verbose=1,
):
    """COREL, IForest, OCSVM and LOF on ODDS sets with pyod's benchmark protocol.

    Per set and trial ``i``: a random 60/40 train/test split
    (``train_test_split(..., test_size=0.4, random_state=np.random.RandomState(i))``, as in
    pyod's ``notebooks/benchmark.py``), a :class:`~sklearn.preprocessing.StandardScaler`
    fitted on the train split, every detector fitted on the *contaminated* train split, AUROC
    on the test split with 1 = anomaly.

    * COREL: ``make_encoder(n_train, n_features, i)`` (default :func:`odds_encoder`) trained
      on the standardised train split, then :class:`~corel_sklearn.BallCountOneClass` fitted on
      all train codes; the anomaly score is minus the ball count.
    * IForest: ``IsolationForest(random_state=i)``; OCSVM: ``OneClassSVM(nu=0.5,
      gamma="auto")``; LOF: ``LocalOutlierFactor(n_neighbors=20, novelty=True)``, i.e. pyod's
      defaults for these detectors (the contamination does not change an AUROC).

    Parameters
    ----------
    data_dir : str
        Folder with the ``<name>.mat`` files (e.g. ``shared/data/odds_pyod``).
    datasets : sequence of str, default=None
        Names to run; None runs the 17 of :data:`~corel_sklearn.datasets.ODDS_DATASETS`.
    n_trials : int, default=10
        Trials (random splits) per set.
    methods : sequence of str, default=("COREL", "IForest", "OCSVM", "LOF")
        Detectors to run; "BallCount-AE" adds the ablation: the same encoder trained with
        lambda = 0 and the same ball count.
    make_encoder : callable, default=odds_encoder
        ``(n_samples, n_features, random_state) -> unfitted encoder``.
    radius : float, default=None
        Ball radius; None uses the encoder's ``eta`` (the paper's r = eta).
    published_csv : str, default=None
        pyod's published table (``pyod_odds_roc_10trials_2019.csv``) to print next to ours.
    n_jobs : int, default=None
        Parallel jobs for the scikit-learn detectors (joblib semantics: None is 1, -1 all
        cores); COREL runs in the main process with torch's threads.
    encoder_threads : int, default=1
        torch and numba threads while COREL trains and scores (restored afterwards); these
        networks are tiny, and a second thread only adds synchronisation. None leaves the
        settings alone.
    verbose : int, default=1
        Log one line per set to stderr.

    Returns
    -------
    result : :class:`OddsResult`
    """
    datasets = list(ODDS_DATASETS if datasets is None else datasets)
    unknown = [m for m in methods if m not in ALL_ODDS_METHODS]
    if unknown:
        raise ValueError(f"Unknown methods {unknown}; choose from {ALL_ODDS_METHODS}.")
    published = read_published_table(published_csv) if published_csv else {}
    records, info = [], {}
    for name in datasets:
        bunch = load_odds(os.path.join(os.fspath(data_dir), f"{name}.mat"))
        X, y = bunch.data, bunch.target
        info[name] = {"n_samples": len(X), "n_features": X.shape[1],
                      "outlier_percent": 100 * float(y.mean())}
        _log(verbose, f"{name}: {X.shape[0]} x {X.shape[1]}, {100 * y.mean():.1f}% anomalies, "
             f"{n_trials} trials ...")
        tick = time.perf_counter()
        splits = [pyod_split(X, y, trial) for trial in range(int(n_trials))]
        # scikit-learn's detectors are single-threaded: spread them over the cores; the
        # encoder trains with all of torch's threads, one trial after the other.
        jobs = [(split, trial, m) for trial, split in enumerate(splits) for m in methods
                if m not in _ENCODER_METHODS]
        results = Parallel(n_jobs=n_jobs)(
            delayed(_evaluate)(m, split, trial) for split, trial, m in jobs
        )
        for method in (m for m in methods if m in _ENCODER_METHODS):
            jobs += [(split, trial, method) for trial, split in enumerate(splits)]
            with limited_threads(encoder_threads):
                results += [_evaluate(method, split, trial, make_encoder=make_encoder,
                                      radius=radius) for trial, split in enumerate(splits)]
        for (_, trial, method), (auroc, seconds) in zip(jobs, results, strict=True):
            records.append(dict(dataset=name, trial=trial, method=method, auroc=auroc,
                                seconds=seconds))
        order = {m: i for i, m in enumerate(methods)}
        records.sort(key=lambda r: (datasets.index(r["dataset"]), r["trial"], order[r["method"]]))
        if verbose:
            means = {m: np.mean([r["auroc"] for r in records
                                 if r["dataset"] == name and r["method"] == m]) for m in methods}
            _log(verbose, f"{name:<11} " + "  ".join(f"{m} {v:.3f}" for m, v in means.items())
                 + f"  ({time.perf_counter() - tick:.1f} s)")
    settings = {"data_dir": os.fspath(data_dir), "n_trials": int(n_trials), "n_jobs": n_jobs,
                "encoder_threads": encoder_threads,
                "methods": list(methods), "radius": radius,
                "published_csv": os.fspath(published_csv) if published_csv else None}
    return OddsResult(records, list(methods), datasets, published, info, settings)


def pyod_split(X, y, trial):
    """Trial ``trial`` of pyod's protocol: 60/40 split, standardised with train statistics.

    Returns ``X_train, X_test, y_train, y_test`` (the scaled arrays).
    """
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.4, random_state=np.random.RandomState(trial)
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def _evaluate(method, split, trial, **kwargs):
    """(test AUROC, seconds) of one detector on one split; scores are anomaly scores."""
    X_train, X_test, _, y_test = split
    start = time.perf_counter()
    anomaly_score = _ODDS_DETECTORS[method](X_train, X_test, trial, **kwargs)
    return float(roc_auc_score(y_test, anomaly_score)), time.perf_counter() - start


def _corel_scores(X_train, X_test, trial, *, make_encoder, radius, plain=False):
    from corel_sklearn import BallCountOneClass

    encoder = make_encoder(X_train.shape[0], X_train.shape[1], trial)
    if plain:
        encoder.set_params(connectivity_weight=0.0)
    codes_train = encoder.fit_transform(X_train.astype(np.float32))
    codes_test = encoder.transform(X_test.astype(np.float32))
    r = encoder.eta if radius is None else radius
    # contamination="auto": the threshold is irrelevant to an AUROC and "auto" skips the
    # leave-one-out counts (quadratic in n_train) that a float contamination needs.
    model = BallCountOneClass(radius=r, n_branches=encoder.n_branches, contamination="auto")
    model.fit(codes_train)
    return -model.score_samples(codes_test)


_ODDS_DETECTORS = {
    "COREL": _corel_scores,
    "BallCount-AE": lambda *a, **kw: _corel_scores(*a, **kw, plain=True),
    "IForest": lambda Xtr, Xte, t, **_: -IsolationForest(random_state=t).fit(Xtr)
    .score_samples(Xte),
    "OCSVM": lambda Xtr, Xte, t, **_: -OneClassSVM(nu=0.5, gamma="auto").fit(Xtr)
    .score_samples(Xte),
    "LOF": lambda Xtr, Xte, t, **_: -LocalOutlierFactor(n_neighbors=20, novelty=True).fit(Xtr)
    .score_samples(Xte),
}


def read_published_table(path):
    """``{dataset: {detector: auroc}}`` from pyod's ``roc.csv``-style table."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "Data" not in rows[0]:
        raise ValueError(f"{path!r} is not a pyod ROC table (no 'Data' column).")
    skip = {"Data", "#Samples", "# Dimensions", "Outlier Perc"}
    return {r["Data"]: {k: float(v) for k, v in r.items() if k not in skip and v not in ("", None)}
            for r in rows}


class OddsResult:
    """Per-trial AUROCs of the ODDS benchmark with the published table alongside."""

    def __init__(self, records, methods, datasets, published, info, settings):
        self.records = records
        self.methods = methods
        self.datasets = datasets
        self.published = published
        self.info = info
        self.settings = settings

    def summary(self):
        """``{dataset: {method: (mean, std)}}`` over trials."""
        out = {}
        for name in self.datasets:
            out[name] = {}
            for method in self.methods:
                values = [r["auroc"] for r in self.records
                          if r["dataset"] == name and r["method"] == method]
                out[name][method] = (float(np.mean(values)), float(np.std(values)))
        return out

    def published_columns(self):
        return [c for c in PUBLISHED_COLUMNS if any(c in row for row in self.published.values())]

    def table(self):
        """Ours (mean ± std over trials) next to the published means; a mean row at the end."""
        summary = self.summary()
        pub_cols = self.published_columns()
        header = ["dataset", *self.methods, *[f"pub {c}" for c in pub_cols]]
        body = []
        for name in self.datasets:
            ours = [f"{summary[name][m][0]:.3f}±{summary[name][m][1]:.3f}" for m in self.methods]
            pub = [_fmt(self.published.get(name, {}).get(c)) for c in pub_cols]
            body.append([name, *ours, *pub])
        mean_ours = [f"{np.mean([summary[n][m][0] for n in self.datasets]):.3f}"
                     for m in self.methods]
        mean_pub = [_fmt(_mean_or_none([self.published.get(n, {}).get(c) for n in self.datasets]))
                    for c in pub_cols]
        footer = ["mean", *mean_ours, *mean_pub]
        widths = [max(len(line[i]) for line in [header, *body, footer]) for i in range(len(header))]

        def fmt(line):
            return "  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                             for i, (v, w) in enumerate(zip(line, widths, strict=True)))

        rule = "-" * len(fmt(header))
        lines = [fmt(header), rule, *map(fmt, body), rule, fmt(footer)]
        if "COREL" in self.methods:
            lines.append(self._verdict(summary))
        return "\n".join(lines)

    def _verdict(self, summary):
        others = [m for m in self.methods if m not in _ENCODER_METHODS]
        if not others:
            return ""
        wins = sum(summary[n]["COREL"][0] > max(summary[n][m][0] for m in others)
                   for n in self.datasets)
        line = (f"COREL beats all of {others} (run here) on {wins} of "
                f"{len(self.datasets)} sets")
        published = [n for n in self.datasets if n in self.published]
        if published:
            cols = [c for c in ("IForest", "OCSVM", "LOF") if c in self.published[published[0]]]
            beat = sum(summary[n]["COREL"][0] > max(self.published[n][c] for c in cols)
                       for n in published)
            line += f", and the published best of {cols} on {beat} of {len(published)}"
        return line + "."

    def to_csv(self, path):
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, ["dataset", "trial", "method", "auroc", "seconds"])
            writer.writeheader()
            writer.writerows(self.records)
        return path

    def summary_to_csv(self, path):
        summary = self.summary()
        pub_cols = self.published_columns()
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["dataset", "n_samples", "n_features", "outlier_percent",
                             *[f"{m}_mean" for m in self.methods],
                             *[f"{m}_std" for m in self.methods],
                             *[f"published_{c}" for c in pub_cols]])
            for name in self.datasets:
                i = self.info[name]
                writer.writerow([name, i["n_samples"], i["n_features"],
                                 f"{i['outlier_percent']:.4f}",
                                 *[f"{summary[name][m][0]:.4f}" for m in self.methods],
                                 *[f"{summary[name][m][1]:.4f}" for m in self.methods],
                                 *[self.published.get(name, {}).get(c, "") for c in pub_cols]])
        return path

    def to_json(self, path):
        payload = {"settings": self.settings, "datasets": self.info,
                   "summary": {n: {m: {"mean": v[0], "std": v[1]} for m, v in s.items()}
                               for n, s in self.summary().items()},
                   "published": {n: self.published.get(n, {}) for n in self.datasets},
                   "records": self.records}
        with open(path, "w") as f:
            json.dump(payload, f, indent=2)
        return path

    def plot(self, path):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        summary = self.summary()
        x = np.arange(len(self.datasets))
        width = 0.8 / len(self.methods)
        fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(self.datasets) + 4), 4.0))
        for i, m in enumerate(self.methods):
            ax.bar(x - 0.4 + (i + 0.5) * width, [summary[n][m][0] for n in self.datasets], width,
                   yerr=[summary[n][m][1] for n in self.datasets], capsize=2, label=m)
        for c, marker in zip(("IForest", "OCSVM", "LOF"), ("_", "x", "."), strict=True):
            values = [self.published.get(n, {}).get(c, np.nan) for n in self.datasets]
            if not np.isnan(values).all():  # on our bar of the same detector, if it ran
                i = self.methods.index(c) if c in self.methods else None
                xs = x if i is None else x - 0.4 + (i + 0.5) * width
                ax.plot(xs, values, ls="none", marker=marker, ms=8, color="k",
                        label=f"published {c}")
        ax.set_xticks(x, self.datasets, rotation=40, ha="right")
        ax.set_ylabel("AUROC (test, 1 = anomaly)")
        ax.set_ylim(0.0, 1.05)
        ax.set_title(f"ODDS, pyod protocol, {self.settings['n_trials']} trials")
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path

    def save(self, folder, plot=True):
        """Write ``odds_aurocs.csv``, ``odds_summary.csv``, ``odds_results.json``, ``.png``."""
        return save_report_files(self, folder, prefix="odds_", plot=plot)


def _fmt(value):
    return "-" if value is None else f"{value:.3f}"


def _mean_or_none(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None

