"""The one-class protocol of Hofer et al. (ICML 2019), with its baselines on the same draws."""

import sys
import time

import numpy as np
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from corel_sklearn.datasets import one_class_draws
from corel_sklearn.experiments._cache import _log, fit_encoder_cached
from corel_sklearn.experiments._methods import DEFAULT_METHODS, resolve_methods
from corel_sklearn.experiments._report import OneClassResult
from corel_sklearn.experiments._threads import limited_threads

AUX_SPLITS = ("train", "leave-one-class-out")


def run_one_class_protocol(
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    encoder,
    n_samples=120,
    n_draws=5,
    radius=2.0,
    classes=None,
    target_names=None,
    aux="train",
    methods=DEFAULT_METHODS,
    dataset_id="data",
    cache_dir=None,
    random_state=0,
    n_threads=None,
    verbose=1,
):
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
        Data the encoder is trained on; an array means "this auxiliary data" (for example
        another dataset), used for every class.
    methods : sequence of str, default=all
        Keys of :data:`~corel_sklearn.experiments.METHODS`: "corel", "ballcount-ae",
        "ocsvm-ae", "ocsvm", "iforest", "lof".
    dataset_id : str, default="data"
        Readable dataset id for the encoder cache and the report.
    cache_dir : str, default=None
        Encoder cache folder (see :func:`fit_encoder_cached`); None trains without caching.
    random_state : int, default=0
        Seed of the draws, of the encoder (when its own is None) and of IsolationForest.
    n_threads : int, default=None
        torch and numba threads for the whole run (restored afterwards); None leaves them as
        they are. 1 is fastest for small networks and on a busy machine.
    verbose : int, default=1
        0 is silent; 1 logs phases and shows a progress bar on stderr.

    Returns
    -------
    result : :class:`OneClassResult`
        Per-draw AUROCs with ``summary()``, ``table()``, ``save(folder)``.

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
    >>> result.summary()["OC-SVM (raw)"]["mean"][0] > 0.9
    True
    """
    with limited_threads(n_threads):
        result = _run(X_train, y_train, X_test, y_test, encoder, n_samples, n_draws, radius,
                      classes, target_names, aux, methods, dataset_id, cache_dir, random_state,
                      verbose)
    result.settings["n_threads"] = n_threads
    return result


def _run(X_train, y_train, X_test, y_test, encoder, n_samples, n_draws, radius, classes,
         target_names, aux, methods, dataset_id, cache_dir, random_state, verbose):
    X_train, X_test = np.asarray(X_train), np.asarray(X_test)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if len(X_train) != len(y_train) or len(X_test) != len(y_test):
        raise ValueError(
            f"X and y lengths differ: train {len(X_train)} vs {len(y_train)}, "
            f"test {len(X_test)} vs {len(y_test)}."
        )
    if isinstance(aux, str) and aux not in AUX_SPLITS:
        raise ValueError(f"aux must be one of {AUX_SPLITS} or an array, got {aux!r}.")
    methods = resolve_methods(methods)
    representations = {m.representation for m in methods}
    labels = np.unique(y_train)
    draws = one_class_draws(
        y_train, y_test, n_samples=n_samples, n_draws=n_draws, classes=classes,
        random_state=random_state,
    )
    run_classes = list(dict.fromkeys(d.inlier_class for d in draws))
    name_of = {c: _class_name(c, target_names) for c in run_classes}

    encoders = {}
    if "corel" in representations or "ae" in representations:
        corel = clone(encoder)
        if "random_state" in corel.get_params() and corel.get_params()["random_state"] is None:
            corel.set_params(random_state=random_state)
        if "corel" in representations:
            encoders["corel"] = corel
        if "ae" in representations:
            encoders["ae"] = clone(corel).set_params(connectivity_weight=0.0)
    n_branches = int(getattr(encoder, "n_branches", 1))

    groups = _aux_groups(aux, X_train, y_train, draws, run_classes)
    timings = {"encoder_fit": 0.0, "encode": 0.0, **{m.label: 0.0 for m in methods}}
    cache_info = []
    records = []
    start = time.perf_counter()
    progress = _progress(len(draws), verbose)
    for aux_id, X_aux, group_draws in groups:
        union = np.unique(np.concatenate([d.train_indices for d in group_draws]))
        features = {"raw": (X_train[union], X_test)}
        for rep, template in encoders.items():
            fitted, info = fit_encoder_cached(
                clone(template), X_aux, dataset_id=dataset_id, aux=f"{aux_id}-{rep}",
                cache_dir=cache_dir, verbose=verbose,
            )
            if not info["cached"]:
                timings["encoder_fit"] += info["fit_seconds"]
            cache_info.append({"aux": aux_id, "representation": rep, **info})
            tick = time.perf_counter()
            features[rep] = (fitted.transform(X_train[union]), fitted.transform(X_test))
            timings["encode"] += time.perf_counter() - tick
        for d in group_draws:
            rows = np.searchsorted(union, d.train_indices)
            position = int(np.searchsorted(labels, d.inlier_class))
            seed = int(np.random.SeedSequence([int(random_state), position, d.draw])
                       .generate_state(1)[0])
            for method in methods:
                fit_part, test_part = features[method.representation]
                tick = time.perf_counter()
                estimator = method.make(len(rows), seed, radius, n_branches)
                scores = estimator.fit(fit_part[rows]).score_samples(test_part)
                auroc = roc_auc_score(d.is_inlier, scores)
                timings[method.label] += time.perf_counter() - tick
                records.append(dict(method=method.label, inlier_class=_plain(d.inlier_class),
                                    class_name=name_of[d.inlier_class], draw=d.draw,
                                    auroc=float(auroc)))
            progress.update(1)
    progress.close()
    timings["total"] = time.perf_counter() - start
    settings = {
        "dataset": str(dataset_id),
        "aux": aux if isinstance(aux, str) else "custom",
        "n_samples": n_samples,
        "n_draws": n_draws,
        "radius": radius,
        "random_state": random_state,
        "methods": [m.key for m in methods],
        "n_train": len(X_train),
        "n_test": len(X_test),
        "encoder": repr(encoder),
        "encoder_cache": cache_info,
    }
    _log(verbose, f"protocol finished in {timings['total']:.1f} s")
    return OneClassResult(records, [m.label for m in methods], [name_of[c] for c in run_classes],
                          settings=settings, timings=timings)


def _aux_groups(aux, X_train, y_train, draws, run_classes):
    """[(aux_id, X_aux, draws)]: which encoder training data serves which draws."""
    if isinstance(aux, str) and aux == "train":
        return [("train", X_train, draws)]
    if isinstance(aux, str):  # leave-one-class-out
        return [
            (f"loco_{_plain(c)}", X_train[y_train != c], [d for d in draws if d.inlier_class == c])
            for c in run_classes
        ]
    return [("custom", np.asarray(aux), draws)]


def _class_name(label, target_names):
    if target_names is not None:
        try:
            return str(target_names[int(label)])
        except (ValueError, TypeError, IndexError):
            pass
    return str(label)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


class _NoProgress:
    def update(self, n=1):
        pass

    def close(self):
        pass


def _progress(total, verbose):
    if not verbose:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="draws", unit="draw", file=sys.stderr, leave=False)
