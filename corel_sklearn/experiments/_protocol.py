"""The one-class protocol of Hofer et al. (ICML 2019), with its baselines on the same draws."""

import time
from dataclasses import dataclass, fields

import numpy as np
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from corel_sklearn._threads import limited_threads
from corel_sklearn.datasets import one_class_draws
from corel_sklearn.experiments._cache import fit_encoder_cached
from corel_sklearn.experiments._methods import PAPER_METHODS, MethodContext, resolve_methods
from corel_sklearn.experiments._progress import log, progress
from corel_sklearn.experiments._report import BenchmarkInterrupted, BenchmarkResult

#: What the encoder of the one-class protocol is trained on (``aux``; an array also works).
AUX_SPLITS = ("train", "leave-one-class-out")


def _is_int(value):
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


@dataclass(frozen=True)
class ProtocolSettings:
    """The settings of :func:`run_one_class_protocol`, checked when built.

    The runner builds one from its keyword arguments; the command line reads its defaults.

    Parameters
    ----------
    n_samples : int, default=120
        Training samples of the inlier class per draw (the paper's n).
    n_draws : int, default=5
        Random draws per class.
    radius : float, default=2.0
        Ball radius of the ball count (the paper uses r = eta = 2).
    classes : sequence, default=None
        Inlier classes to run; None runs them all.
    target_names : sequence of str, default=None
        Display name of each label (indexed by label); None uses ``str(label)``.
    aux : {"train", "leave-one-class-out"} or ndarray, default="train"
        Data the encoder is trained on (see :data:`AUX_SPLITS`).
    methods : sequence of str, default=PAPER_METHODS
        Names in :data:`~corel_sklearn.experiments.METHODS` (any case).
    dataset_id : str, default="data"
        Readable dataset id for the encoder cache and the report.
    cache_dir : str, default=None
        Encoder cache folder; None trains without caching.
    random_state : int, default=0
        Seed of the draws, of the encoder (when its own is None) and of IsolationForest.
    n_jobs : int, default=None
        torch and numba threads for the whole run; None or -1 leaves them as they are.
    verbose : int, default=1
        0 is silent; 1 logs phases and shows progress on stderr.

    Raises
    ------
    ValueError
        For an unknown ``aux``, a count below 1, a radius not > 0 or a bad ``n_jobs``.

    Examples
    --------
    >>> from corel_sklearn.experiments import ProtocolSettings
    >>> ProtocolSettings().n_samples, ProtocolSettings(n_draws=3).n_draws
    (120, 3)
    >>> ProtocolSettings(n_draws=0)
    Traceback (most recent call last):
    ...
    ValueError: n_draws must be a positive int, got 0.
    """

    n_samples: int = 120
    n_draws: int = 5
    radius: float = 2.0
    classes: tuple | None = None
    target_names: tuple | None = None
    aux: object = "train"
    methods: tuple = PAPER_METHODS
    dataset_id: str = "data"
    cache_dir: str | None = None
    random_state: int = 0
    n_jobs: int | None = None
    verbose: int = 1

    def __post_init__(self):
        if isinstance(self.aux, str) and self.aux not in AUX_SPLITS:
            raise ValueError(f"aux must be one of {AUX_SPLITS} or an array, got {self.aux!r}.")
        for name in ("n_samples", "n_draws"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if not self.radius > 0:
            raise ValueError(f"radius must be > 0, got {self.radius!r}.")
        if self.n_jobs is not None and not (_is_int(self.n_jobs) and
                                            (self.n_jobs >= 1 or self.n_jobs == -1)):
            raise ValueError(f"n_jobs must be a positive int, -1 (all allowed threads) or "
                             f"None (threads as they are), got {self.n_jobs!r}.")


def run_one_class_protocol(X_train, y_train, X_test, y_test, *, encoder, n_samples=120,
                           n_draws=5, radius=2.0, classes=None, target_names=None,
                           aux="train", methods=PAPER_METHODS, dataset_id="data",
                           cache_dir=None, random_state=0, n_jobs=None, verbose=1):
    """Run the paper's one-class protocol for COREL and baselines on identical draws.

    For every class ``c`` and draw, ``n_samples`` training samples of ``c`` are drawn
    uniformly without replacement (:func:`~corel_sklearn.datasets.one_class_draws`); each
    method is fitted on them and scores the whole test split, whose samples of ``c`` are the
    inliers; the AUROC uses scores where higher means more normal (ties count 1/2).

    The encoder is trained once on auxiliary data without labels (``aux="train"``: the whole
    training split) or once per class (``aux="leave-one-class-out"``: the training split
    without that class), optionally cached on disk, and the test split is encoded once per
    encoder and reused for every draw.

    Parameters
    ----------
    X_train, y_train : ndarray of shape (n_train, n_features), (n_train,)
        Training split (flattened inputs) and its labels; labels only choose the draws.
    X_test, y_test : ndarray of shape (n_test, n_features), (n_test,)
        Test split, scored in full for every draw.
    encoder : estimator
        Unfitted encoder with ``fit``/``transform``, normally a
        :class:`~corel_sklearn.TopoAutoencoder`; its ``connectivity_weight`` is the paper's
        lambda. The "AE" baselines use a clone with ``connectivity_weight=0``. If its
        ``random_state`` is None, ``random_state`` is used.
    n_samples : int, default=120
        Training samples of the inlier class per draw (the paper's n).
    n_draws : int, default=5
        Random draws per class.
    radius : float, default=2.0
        Ball radius of the ball count (the paper uses r = eta = 2).
    classes : sequence, default=None
        Inlier classes to run; None runs them all.
    target_names : sequence of str, default=None
        Display name of each label (indexed by label); None uses ``str(label)``.
    aux : {"train", "leave-one-class-out"} or ndarray, default="train"
        Data the encoder is trained on; an array means "this auxiliary data" (for
        example another dataset), used for every class.
    methods : sequence of str, default=PAPER_METHODS
        Names in :data:`~corel_sklearn.experiments.METHODS` (any case): "COREL",
        "BallCount-AE", "OCSVM-AE", "OCSVM", "IForest", "LOF" (and "KNN", "ECOD" with
        pyod).
    dataset_id : str, default="data"
        Readable dataset id for the encoder cache and the report.
    cache_dir : str, default=None
        Encoder cache folder (see :func:`fit_encoder_cached`); None trains without
        caching.
    random_state : int, default=0
        Seed of the draws, of the encoder (when its own is None) and of IsolationForest.
    n_jobs : int, default=None
        torch and numba threads for the whole run (restored afterwards); None or -1
        leaves them as they are. 1 is fastest for small networks and on a busy machine.
    verbose : int, default=1
        0 is silent; 1 logs phases and shows progress on stderr (a bar on a terminal,
        plain lines in a log), including the encoder's training when its own ``verbose``
        is off.

    Returns
    -------
    result : :class:`BenchmarkResult`
        Per-draw AUROCs (groups are the classes, runs the draws) with ``summary()``,
        ``table()``, ``save(folder)``.

    Raises
    ------
    BenchmarkInterrupted
        On Ctrl-C (a ``KeyboardInterrupt``), also during the encoder's training, which then
        stops after its current step and is neither used nor cached. Its ``result`` holds
        the draws scored by every method so far (``partial=True``), or None.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from corel_sklearn.experiments import run_one_class_protocol
    >>> rng = np.random.default_rng(0)
    >>> y_train, y_test = np.repeat([0, 1], 50), np.repeat([0, 1], 20)
    >>> X_train = rng.normal(size=(100, 4)) + 3 * y_train[:, None]
    >>> X_test = rng.normal(size=(40, 4)) + 3 * y_test[:, None]
    >>> result = run_one_class_protocol(
    ...     X_train, y_train, X_test, y_test, encoder=PCA(2), n_samples=10, n_draws=2,
    ...     methods=["ocsvm", "lof"], verbose=0)
    >>> result.summary()["OCSVM"]["mean"][0] > 0.9
    True
    """
    settings = ProtocolSettings(
        n_samples=n_samples, n_draws=n_draws, radius=radius, classes=classes,
        target_names=target_names, aux=aux, methods=methods, dataset_id=dataset_id,
        cache_dir=cache_dir, random_state=random_state, n_jobs=n_jobs, verbose=verbose)
    X_train, X_test = np.asarray(X_train), np.asarray(X_test)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if len(X_train) != len(y_train) or len(X_test) != len(y_test):
        raise ValueError(
            f"X and y lengths differ: train {len(X_train)} vs {len(y_train)}, "
            f"test {len(X_test)} vs {len(y_test)}."
        )
    with limited_threads(None if settings.n_jobs == -1 else settings.n_jobs):
        return _OneClassRun(X_train, y_train, X_test, encoder, settings).run(y_test)


class _OneClassRun:
    """One run of the protocol: the encoders, their codes, and every method on every draw."""

    def __init__(self, X_train, y_train, X_test, encoder, settings):
        self.X_train, self.y_train, self.X_test = X_train, y_train, X_test
        self.encoder = encoder
        self.settings = settings
        self.methods = resolve_methods(settings.methods)
        self.timings = {"encoder_fit": 0.0, "encode": 0.0, **{m.key: 0.0 for m in self.methods}}
        self.cache_info = []

    def run(self, y_test):
        s = self.settings
        draws = one_class_draws(self.y_train, y_test, n_samples=s.n_samples,
                                n_draws=s.n_draws, classes=s.classes,
                                random_state=s.random_state)
        classes = list(dict.fromkeys(d.inlier_class for d in draws))
        names = {c: _class_name(c, s.target_names) for c in classes}
        labels = np.unique(self.y_train)
        templates = self._encoder_templates()
        records = []  # of the draws scored by every method
        start = time.perf_counter()
        bar = progress(len(draws), s.verbose, desc="draws", unit="draw")
        try:
            for aux_id, X_aux, group_draws in self._aux_groups(draws, classes):
                rows_used = np.unique(np.concatenate([d.train_indices for d in group_draws]))
                features = self._features(templates, aux_id, X_aux, rows_used)
                for d in group_draws:
                    records.extend(self._score_draw(d, features, rows_used, labels, names))
                    bar.update(1)
        except KeyboardInterrupt:
            self.timings["total"] = time.perf_counter() - start
            done = list(dict.fromkeys(r["group"] for r in records))
            log(s.verbose, f"interrupted after {len(records) // len(self.methods)} of "
                f"{len(draws)} draws")
            partial = self._result(records, done, partial=True) if records else None
            raise BenchmarkInterrupted(partial) from None
        finally:
            bar.close()
        self.timings["total"] = time.perf_counter() - start
        log(s.verbose, f"protocol finished in {self.timings['total']:.1f} s")
        return self._result(records, [names[c] for c in classes])

    def _result(self, records, groups, partial=False):
        return BenchmarkResult(records, [m.key for m in self.methods], groups,
                               group_label="class", run_label="draw",
                               settings=self._report_settings(), timings=self.timings,
                               partial=partial)

    def _score_draw(self, d, features, rows_used, labels, names):
        """The records of one draw, one per method (all or none: a Ctrl-C drops the draw)."""
        s = self.settings
        position = int(np.searchsorted(labels, d.inlier_class))
        seed = int(np.random.SeedSequence([int(s.random_state), position, d.draw])
                   .generate_state(1)[0])
        rows = np.searchsorted(rows_used, d.train_indices)
        context = MethodContext(n_fit=len(rows), random_state=seed, radius=s.radius,
                                n_branches=int(getattr(self.encoder, "n_branches", 1)))
        records = []
        for method in self.methods:
            fit_part, test_part = features[method.representation]
            tick = time.perf_counter()
            anomaly = method.anomaly_scores(fit_part[rows], test_part, context)
            auroc = roc_auc_score(d.is_inlier, -anomaly)
            self.timings[method.key] += time.perf_counter() - tick
            records.append(dict(method=method.key, group=names[d.inlier_class], run=d.draw,
                                inlier_class=_plain(d.inlier_class), auroc=float(auroc)))
        return records

    def _encoder_templates(self):
        """{representation: unfitted encoder} for the representations the methods need."""
        needed = {m.representation for m in self.methods} - {"raw"}
        if not needed:
            return {}
        corel = clone(self.encoder)
        params = corel.get_params()
        if "random_state" in params and params["random_state"] is None:
            corel.set_params(random_state=self.settings.random_state)
        templates = {"corel": corel, "ae": clone(corel).set_params(connectivity_weight=0.0)}
        return {rep: templates[rep] for rep in ("corel", "ae") if rep in needed}

    def _aux_groups(self, draws, classes):
        """[(aux_id, X_aux, draws)]: which encoder training data serves which draws."""
        aux = self.settings.aux
        if isinstance(aux, str) and aux == "train":
            return [("train", self.X_train, draws)]
        if isinstance(aux, str):  # leave-one-class-out
            return [(f"loco_{_plain(c)}", self.X_train[self.y_train != c],
                     [d for d in draws if d.inlier_class == c]) for c in classes]
        return [("custom", np.asarray(aux), draws)]

    def _features(self, templates, aux_id, X_aux, rows_used):
        """{representation: (training rows used by the draws, test split)}, each encoded once."""
        features = {"raw": (self.X_train[rows_used], self.X_test)}
        for rep, template in templates.items():
            fitted, info = fit_encoder_cached(
                clone(template), X_aux, dataset_id=self.settings.dataset_id,
                aux=f"{aux_id}-{rep}", cache_dir=self.settings.cache_dir,
                verbose=self.settings.verbose,
            )
            if not info["cached"]:
                self.timings["encoder_fit"] += info["fit_seconds"]
            self.cache_info.append({"aux": aux_id, "representation": rep, **info})
            tick = time.perf_counter()
            features[rep] = (fitted.transform(self.X_train[rows_used]),
                             fitted.transform(self.X_test))
            self.timings["encode"] += time.perf_counter() - tick
        return features

    def _report_settings(self):
        s = self.settings
        report = {f.name: getattr(s, f.name) for f in fields(s)
                  if f.name not in ("target_names", "aux")}
        report.update(dataset=str(s.dataset_id),
                      aux=s.aux if isinstance(s.aux, str) else "custom",
                      methods=[m.key for m in self.methods], n_train=len(self.X_train),
                      n_test=len(self.X_test), encoder=repr(self.encoder),
                      encoder_cache=self.cache_info)
        report["classes"] = None if s.classes is None else [_plain(c) for c in s.classes]
        return report


def _class_name(label, target_names):
    if target_names is not None:
        try:
            return str(target_names[int(label)])
        except (ValueError, TypeError, IndexError):
            pass
    return str(label)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
