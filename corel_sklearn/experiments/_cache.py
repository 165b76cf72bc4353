"""On-disk cache of fitted encoders, keyed by a hash of everything that determines them."""

import hashlib
import json
import os
import time

import joblib

from corel_sklearn._files import atomic_write
from corel_sklearn.experiments._progress import log

CACHE_ENV = "COREL_SKLEARN_CACHE"
_IGNORED_PARAMS = ("verbose",)  # do not change the fitted model


def default_cache_dir():
    """``$COREL_SKLEARN_CACHE`` if set, else ``~/.cache/corel_sklearn``."""
    return os.environ.get(CACHE_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "corel_sklearn"
    )


def encoder_cache_key(encoder, X, *, dataset_id, aux):
    """Hex key of an (unfitted) encoder trained on ``X``.

    The key hashes the dataset id, the auxiliary split's id, every constructor parameter of
    the encoder (``verbose`` aside), the encoder's class, a content hash of ``X`` (so a
    changed or subsampled dataset never reuses a stale encoder), and the versions of torch
    and corel_sklearn (whose numerics it depends on).

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

    from corel_sklearn import __version__

    params = {k: v for k, v in encoder.get_params(deep=False).items() if k not in _IGNORED_PARAMS}
    settings = {
        "dataset": str(dataset_id),
        "aux": str(aux),
        "estimator": f"{type(encoder).__module__}.{type(encoder).__qualname__}",
        "params": {k: repr(v) for k, v in sorted(params.items())},
        "data": joblib.hash(X),
        "shape": list(getattr(X, "shape", ())),
        "torch": torch.__version__,
        "corel_sklearn": __version__,
    }
    blob = json.dumps(settings, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


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
        Log hits, misses and fit times to stderr.

    Returns
    -------
    encoder : the fitted encoder
    info : dict
        ``{"key", "path", "cached" (bool), "fit_seconds"}``.

    Notes
    -----
    Each entry is ``<cache_dir>/<dataset_id>-<aux>-<key>.joblib`` (the fitted estimator,
    written by :func:`joblib.dump`) plus a ``.json`` sidecar with the settings and fit time.
    Delete the folder to clear the cache. Writes are atomic (temporary file, then rename),
    so an interrupted run never leaves a truncated entry.
    """
    if cache_dir is None:
        start = time.perf_counter()
        encoder.fit(X)
        return encoder, {"key": None, "path": None, "cached": False,
                         "fit_seconds": time.perf_counter() - start}
    key = encoder_cache_key(encoder, X, dataset_id=dataset_id, aux=aux)
    stem = os.path.join(os.fspath(cache_dir), f"{_safe(dataset_id)}-{_safe(aux)}-{key}")
    path = stem + ".joblib"
    if os.path.isfile(path):
        try:
            fitted = joblib.load(path)
        except Exception as exc:  # a corrupt entry or an incompatible pickle: refit
            log(verbose, f"cache entry {path} unreadable ({exc}); refitting")
        else:
            log(verbose, f"loaded encoder from cache: {path}")
            meta = _read_json(stem + ".json")
            return fitted, {"key": key, "path": path, "cached": True,
                            "fit_seconds": meta.get("fit_seconds")}
    start = time.perf_counter()
    encoder.fit(X)
    seconds = time.perf_counter() - start
    meta = {"dataset": str(dataset_id), "aux": str(aux), "key": key, "fit_seconds": seconds,
            "n_samples": int(len(X)), "params": {k: repr(v) for k, v in
                                                 encoder.get_params(deep=False).items()}}
    try:
        os.makedirs(os.fspath(cache_dir), exist_ok=True)
        with atomic_write(path) as file:
            joblib.dump(encoder, file)
        _write_json(stem + ".json", meta)
    except OSError as exc:  # the fit is done: keep it, only the cache entry is lost
        log(True, f"warning: could not write the cache entry {path} ({exc}); continuing "
            "without it")
        return encoder, {"key": key, "path": None, "cached": False, "fit_seconds": seconds}
    log(verbose, f"encoder fitted in {seconds:.1f} s, cached at {path}")
    return encoder, {"key": key, "path": path, "cached": False, "fit_seconds": seconds}


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
