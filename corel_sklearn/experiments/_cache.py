"""On-disk cache of fitted encoders, keyed by a hash of everything that determines them.

Entries are written with :func:`corel_sklearn.serialization.save` (JSON settings and
safetensors weights in a zip) and read with :func:`~corel_sklearn.serialization.load`, which
runs no code from the file: a file planted in the cache folder can at worst be refused, never
execute. Pickles are never read.
"""

import hashlib
import json
import os
import time

import joblib

from corel_sklearn._files import atomic_write
from corel_sklearn._version import __version__
from corel_sklearn.callbacks import Callback
from corel_sklearn.experiments._progress import TrainingProgress, log

#: Environment variable naming the cache folder of the command line.
CACHE_ENV = "COREL_SKLEARN_CACHE"
#: Suffix of a cache entry (a :mod:`corel_sklearn.serialization` zip); its settings sit beside
#: it in a ``.json`` file.
ENTRY_SUFFIX = ".zip"
# Entries of corel-sklearn 0.1 were joblib pickles under this suffix: never loaded.
_PICKLE_SUFFIX = ".joblib"
_IGNORED_PARAMS = ("verbose",)  # do not change the fitted model


def default_cache_dir():
    """The encoder cache folder of the command line.

    Returns
    -------
    path : str
        ``$COREL_SKLEARN_CACHE`` if set, else ``~/.cache/corel_sklearn``.

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> from corel_sklearn.experiments import default_cache_dir
    >>> with mock.patch.dict(os.environ, {"COREL_SKLEARN_CACHE": "/tmp/my_cache"}):
    ...     default_cache_dir()
    '/tmp/my_cache'
    """
    return os.environ.get(CACHE_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "corel_sklearn"
    )


def _params_text(estimator):
    """The constructor parameters that determine the fit, as text (``verbose`` aside)."""
    params = estimator.get_params(deep=False)
    return {k: repr(v) for k, v in sorted(params.items()) if k not in _IGNORED_PARAMS}


def encoder_cache_key(encoder, X, *, dataset_id, aux):
    """Hex key of an (unfitted) encoder trained on ``X``.

    The key hashes the dataset id, the auxiliary split's id, every constructor parameter of
    the encoder (``verbose`` aside), the encoder's class, a content hash of ``X`` (so a
    changed or subsampled dataset never reuses a stale encoder), and the versions of torch
    and corel_sklearn (whose numerics it depends on).

    Parameters
    ----------
    encoder : estimator
        The unfitted encoder; only its class and ``get_params(deep=False)`` are read.
    X : array-like
        The data it is trained on; hashed by content.
    dataset_id : str
        Readable id of the dataset.
    aux : str
        Readable id of the auxiliary split (e.g. ``"train-corel"``).

    Returns
    -------
    key : str
        20 hexadecimal digits of a SHA-256.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from corel_sklearn.experiments import encoder_cache_key
    >>> X = np.zeros((4, 3))
    >>> key = encoder_cache_key(PCA(2), X, dataset_id="toy", aux="train")
    >>> key == encoder_cache_key(PCA(2), X, dataset_id="toy", aux="train"), len(key)
    (True, 20)
    >>> key == encoder_cache_key(PCA(1), X, dataset_id="toy", aux="train")
    False
    """
    import torch

    settings = {
        "dataset": str(dataset_id),
        "aux": str(aux),
        "estimator": f"{type(encoder).__module__}.{type(encoder).__qualname__}",
        "params": _params_text(encoder),
        "data": joblib.hash(X),
        "shape": list(getattr(X, "shape", ())),
        "torch": torch.__version__,
        "corel_sklearn": __version__,
    }
    blob = json.dumps(settings, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


class StopOnInterrupt(Callback):
    """A training callback that turns an interrupted fit into a ``KeyboardInterrupt``.

    :class:`~corel_sklearn.TopoAutoencoder` answers Ctrl-C by stopping after the current step
    and returning a fitted estimator (with a warning). A runner must not use, score or cache
    such an encoder as if it were trained: with this callback, ``fit`` raises
    ``KeyboardInterrupt`` instead, once the training loop has ended (``on_train_end`` with
    ``reason="interrupted"``).

    Attributes
    ----------
    reason_ : str
        Why the last training loop ended (see :meth:`Callback.on_train_end
        <corel_sklearn.callbacks.Callback.on_train_end>`).
    """

    def on_train_end(self, estimator, reason):
        self.reason_ = reason
        if reason == "interrupted":
            raise KeyboardInterrupt(f"training of {type(estimator).__name__} interrupted")


def stop_on_interrupt(encoder):
    """``encoder`` with :class:`StopOnInterrupt` added to its ``callbacks``; returned.

    Encoders without a ``callbacks`` parameter are returned unchanged: their fit does not
    defer Ctrl-C, so a ``KeyboardInterrupt`` leaves it anyway.
    """
    params = encoder.get_params(deep=False)
    if "callbacks" in params:
        encoder.set_params(callbacks=[*(params["callbacks"] or ()), StopOnInterrupt()])
    return encoder


def _fit(encoder, X, *, desc, verbose):
    """Fit ``encoder`` on ``X``; seconds taken. Ctrl-C raises ``KeyboardInterrupt``.

    The runner's callbacks (the interrupt check and, when ``verbose`` and the encoder shows
    no progress of its own, :class:`TrainingProgress`) are added for this fit only, so the
    encoder's parameters, and its cache key, are those it came with.
    """
    params = encoder.get_params(deep=False)
    start = time.perf_counter()
    if "callbacks" not in params:
        encoder.fit(X)
        return time.perf_counter() - start
    guard = StopOnInterrupt()
    added = [guard]
    if verbose and not params.get("verbose"):
        added.insert(0, TrainingProgress(desc))
    encoder.set_params(callbacks=[*(params["callbacks"] or ()), *added])
    try:
        encoder.fit(X)
    finally:
        encoder.set_params(callbacks=params["callbacks"])
    if getattr(guard, "reason_", None) == "interrupted":  # in case the loop kept the raise
        raise KeyboardInterrupt(f"training of {type(encoder).__name__} interrupted")
    return time.perf_counter() - start


def fit_encoder_cached(encoder, X, *, dataset_id, aux, cache_dir=None, verbose=1):
    """Fit ``encoder`` on ``X``, or load the identical fit from ``cache_dir``.

    Parameters
    ----------
    encoder : estimator
        Unfitted encoder (e.g. :class:`~corel_sklearn.TopoAutoencoder`); it is fitted in place
        on a miss and returned, or replaced by the cached copy on a hit.
    X : ndarray
        Training data (labels are never used).
    dataset_id, aux : str
        Readable ids of the dataset and auxiliary split; part of the key and the file name.
    cache_dir : str or None, default=None
        Folder of the cache; None disables caching (always fits).
    verbose : int, default=1
        Log hits, misses and fit times to stderr, and the training's progress when the
        encoder's own ``verbose`` is off.

    Returns
    -------
    encoder : the fitted encoder
    info : dict
        ``{"key", "path", "cached" (bool), "fit_seconds"}``.

    Raises
    ------
    KeyboardInterrupt
        When Ctrl-C stops the training. A :class:`~corel_sklearn.TopoAutoencoder` then stops
        after its current step, and this function raises instead of returning (or caching)
        the half-trained encoder.

    Notes
    -----
    Each entry is ``<cache_dir>/<dataset_id>-<aux>-<key>.zip``, the fitted estimator written
    by :func:`corel_sklearn.serialization.save` (no pickle: loading it runs no code), plus a
    ``.json`` file with the settings and the fit time. Encoders that format cannot store
    (other classes, a callable ``architecture``) are fitted and used but not cached, with a
    log line. An entry that cannot be read, or holds another model, is refitted and
    replaced, with one log line. Writes are atomic (temporary file, then rename), so an
    interrupted run never leaves a truncated entry. Delete the folder to clear the cache.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from corel_sklearn import TopoAutoencoder
    >>> from corel_sklearn.experiments import fit_encoder_cached
    >>> X = np.random.default_rng(0).random((40, 6), dtype=np.float32)
    >>> def encoder():
    ...     return TopoAutoencoder(hidden_layer_sizes=(8,), n_branches=2, branch_dim=2,
    ...                            batch_size=20, max_epochs=2, random_state=0)
    >>> folder = tempfile.mkdtemp()
    >>> fitted, info = fit_encoder_cached(encoder(), X, dataset_id="toy", aux="train",
    ...                                   cache_dir=folder, verbose=0)
    >>> info["cached"], info["path"].endswith(".zip")
    (False, True)
    >>> again, info = fit_encoder_cached(encoder(), X, dataset_id="toy", aux="train",
    ...                                  cache_dir=folder, verbose=0)
    >>> info["cached"], np.array_equal(again.transform(X), fitted.transform(X))
    (True, True)
    """
    desc = f"encoder {aux}"
    if cache_dir is None:
        seconds = _fit(encoder, X, desc=desc, verbose=verbose)
        return encoder, {"key": None, "path": None, "cached": False, "fit_seconds": seconds}
    key = encoder_cache_key(encoder, X, dataset_id=dataset_id, aux=aux)
    stem = os.path.join(os.fspath(cache_dir), f"{_safe(dataset_id)}-{_safe(aux)}-{key}")
    path = stem + ENTRY_SUFFIX
    if os.path.isfile(path):
        fitted = _read_entry(path, encoder, verbose)
        if fitted is not None:
            log(verbose, f"loaded encoder from cache: {path}")
            meta = _read_json(stem + ".json")
            return fitted, {"key": key, "path": path, "cached": True,
                            "fit_seconds": meta.get("fit_seconds")}
    elif os.path.isfile(stem + _PICKLE_SUFFIX):
        log(verbose, f"ignoring the cache entry {stem + _PICKLE_SUFFIX}: a pickle (written by "
            "corel-sklearn 0.1), which the cache never loads; refitting")
    seconds = _fit(encoder, X, desc=desc, verbose=verbose)
    meta = {"dataset": str(dataset_id), "aux": str(aux), "key": key, "fit_seconds": seconds,
            "n_samples": int(len(X)), "format": "corel_sklearn.serialization",
            "params": _params_text(encoder)}
    written = _write_entry(encoder, path, stem + ".json", meta, verbose)
    if written:
        log(verbose, f"encoder fitted in {seconds:.1f} s, cached at {path}")
    return encoder, {"key": key, "path": path if written else None, "cached": False,
                     "fit_seconds": seconds}


def _read_entry(path, encoder, verbose):
    """The model stored at ``path`` if it is ``encoder``'s fit, else None (with a log line)."""
    from corel_sklearn.serialization import load

    try:
        fitted = load(path)
    except Exception as exc:  # damaged, foreign or from a newer version: refit, never fail
        log(verbose, f"cache entry {path} unreadable ({_one_line(exc)}); refitting")
        return None
    if type(fitted) is not type(encoder) or _params_text(fitted) != _params_text(encoder):
        log(verbose, f"cache entry {path} holds another model "
            f"({type(fitted).__name__}, other parameters); refitting")
        return None
    return fitted


def _write_entry(encoder, path, meta_path, meta, verbose):
    """Store ``encoder`` at ``path`` and ``meta`` beside it; False when it could not be."""
    from corel_sklearn.serialization import save

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        save(encoder, path)
        _write_json(meta_path, meta)
    except TypeError as exc:  # a model the safe format does not store: use it uncached
        log(verbose, f"encoder not cached ({_one_line(exc)})")
        return False
    except (OSError, ValueError) as exc:  # the fit is done: keep it, only the entry is lost
        log(True, f"warning: could not write the cache entry {path} ({_one_line(exc)}); "
            "continuing without it")
        return False
    return True


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _safe(text):
    return "".join(ch if ch.isalnum() or ch in "._=-" else "_" for ch in str(text))


def _write_json(path, payload):
    with atomic_write(path, "w") as f:
        json.dump(payload, f, indent=2)


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
