"""Scoring and search on a dask cluster: one thread per worker, the fitted model sent once.

Needs the optional extra ``corel-sklearn[dask]``; nothing else in corel_sklearn imports dask.

Three things go wrong when a fitted pipeline is mapped over a ``dask.array`` naively:

* **Oversubscription.** dask's nanny starts workers with ``OMP_NUM_THREADS=1`` (torch and
  corel_sklearn's kernels follow it), but numba still starts a pool of one thread per core in
  every worker, which any other numba code uses. :func:`local_cluster` and
  :func:`worker_environment` set ``NUMBA_NUM_THREADS`` too, before the workers start (numba
  fixes its pool size when it is first imported); :func:`worker_thread_counts` checks.
* **The model travels with every task.** A ``ClasswiseBallCount`` for ImageNet holds 1.28 M
  anchors (819 MB of float32 codes); embedded in the task graph it is serialised once per
  block. :func:`map_method` scatters it once per worker (``broadcast=True``) and passes the
  future, so every block on a worker reuses the same object in memory.
* **The output shape is unknown to dask.** ``ClasswiseBallCount.score_samples`` returns one
  column per class; :func:`map_method` finds the width from one row scored locally.
"""

import os

import dask
import numpy as np
from dask import array as da
from dask.distributed import LocalCluster, default_client

# Variables the native thread pools read at start-up. dask's nanny already sets the first
# three (distributed.nanny.pre-spawn-environ); numba's is the one that is missing.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "NUMBA_NUM_THREADS")


def worker_environment(n_threads=1):
    """Environment variables that cap every native thread pool of a worker at ``n_threads``.

    For a cluster started elsewhere (``dask worker``, dask-jobqueue, Kubernetes) put them in
    the dask configuration ``distributed.nanny.pre-spawn-environ`` or in the workers' shell
    environment, so they are set before the worker process starts (numba reads its count
    once, when it is first imported). :func:`local_cluster` does this for you.

    Parameters
    ----------
    n_threads : int, default=1
        Threads per pool; use ``threads_per_worker`` (each dask thread then runs one kernel
        thread, and the worker never uses more cores than it was given).

    Returns
    -------
    env : dict of str to str

    Examples
    --------
    >>> from corel_sklearn.distributed.dask import worker_environment
    >>> worker_environment(1)["NUMBA_NUM_THREADS"]
    '1'
    """
    if not (isinstance(n_threads, (int, np.integer)) and n_threads >= 1):
        raise ValueError(f"n_threads must be a positive int, got {n_threads!r}.")
    return {name: str(int(n_threads)) for name in _THREAD_VARIABLES}


def local_cluster(n_workers=2, *, threads_per_worker=1, **kwargs):
    """A ``LocalCluster`` of worker processes on the loopback interface, one pool thread each.

    The thread limits of :func:`worker_environment` are set before each worker process is
    spawned (dask's ``distributed.nanny.pre-spawn-environ``), so they hold even when the
    worker imports numba while it starts (a script run as ``__main__`` that imports
    corel_sklearn at the top is imported again by every spawned worker). dask writes these
    variables into this process's environment while it spawns; they are restored here.

    Parameters
    ----------
    n_workers : int, default=2
        Worker processes; at most the number of cores for compute-bound scoring.
    threads_per_worker : int, default=1
        dask threads per worker; torch's and numba's pools get the same number of threads.
    **kwargs
        Passed to ``dask.distributed.LocalCluster`` (e.g. ``memory_limit``).

    Returns
    -------
    cluster : dask.distributed.LocalCluster
        Use it as a context manager, with ``dask.distributed.Client(cluster)``.
    """
    pre_spawn = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}),
                 **worker_environment(threads_per_worker)}
    saved = {name: os.environ.get(name) for name in pre_spawn}
    options = {"host": "127.0.0.1", "dashboard_address": None, "processes": True, **kwargs}
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": pre_spawn}):
            return LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                                **options)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _thread_counts():
    import numba
    import torch

    return {"torch": torch.get_num_threads(), "numba": numba.get_num_threads()}


def worker_thread_counts(client=None):
    """Threads torch and numba use in each worker: ``{address: {"torch": n, "numba": n}}``.

    A check that a cluster does not oversubscribe its cores: both should equal the worker's
    ``nthreads`` (1 for :func:`local_cluster`'s default).
    """
    client = client or default_client()
    return client.run(_thread_counts)


def _apply_method(block, estimator, method):
    result = getattr(estimator, method)(block)
    return np.asarray(result)


def map_method(estimator, X, method="score_samples", *, client=None, n_outputs="auto",
               dtype=np.float64):
    """``estimator.<method>`` over the row blocks of a dask array, the estimator sent once.

    The fitted estimator (or pipeline) is scattered to every worker once
    (``client.scatter(..., broadcast=True)``); each block of rows is then a small task that
    refers to the worker's copy. Row blocks are independent, so the result equals calling the
    method on the whole array, block by block.

    Parameters
    ----------
    estimator : fitted estimator
        E.g. ``Pipeline([("enc", TopoAutoencoder), ("oc", BallCountOneClass)])`` or a
        ``ClasswiseBallCount``.
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked along rows only (one chunk across the features; it is rechunked otherwise).
        Blocks of a few hundred to a few thousand rows amortise the per-call cost of the
        ball-count estimators (they pack their anchors once per call).
    method : str, default="score_samples"
        The method to call: ``"score_samples"``, ``"decision_function"``, ``"predict"``,
        ``"transform"``...
    client : dask.distributed.Client, default=None
        The client to use; the current default client when None.
    n_outputs : "auto", None or int, default="auto"
        Columns of the method's output: None for a 1-D result, an int for 2-D. "auto" calls
        the method on the first row here (a large ``ClasswiseBallCount`` packs its anchors once
        for it).
    dtype : numpy dtype, default=np.float64
        dtype of the result when ``n_outputs`` is given (with "auto" it is the probe's).

    Returns
    -------
    result : dask.array.Array
        Lazy; ``.compute()`` it or store it (``dask.array.to_zarr``).

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> from dask.distributed import Client
    >>> from corel_sklearn import BallCountOneClass
    >>> from corel_sklearn.distributed.dask import local_cluster, map_method
    >>> model = BallCountOneClass(radius=1.0, n_branches=1, contamination="auto")
    >>> model = model.fit(np.eye(4))
    >>> X = da.from_array(np.eye(4)[[0, 1, 1, 3, 3, 3]], chunks=(2, 4))
    >>> with local_cluster(1) as cluster, Client(cluster):
    ...     map_method(model, X).compute()
    array([1., 1., 1., 1., 1., 1.])
    """
    if not isinstance(X, da.Array) or X.ndim != 2:
        raise TypeError(f"X must be a 2-D dask.array.Array, got {type(X).__name__}; wrap a "
                        "NumPy or zarr array with dask.array.from_array(X, chunks=(rows, -1)).")
    if not callable(getattr(estimator, method, None)):
        raise ValueError(f"{type(estimator).__name__} has no method {method!r}.")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    if isinstance(n_outputs, str) and n_outputs == "auto":
        probe = _apply_method(X[:1].compute(), estimator, method)
        n_outputs = probe.shape[1] if probe.ndim == 2 else None
        dtype = probe.dtype
    client = client or default_client()
    remote = client.scatter(estimator, broadcast=True, hash=False)
    if n_outputs is None:
        return X.map_blocks(_apply_method, remote, method, drop_axis=1, dtype=dtype)
    return X.map_blocks(_apply_method, remote, method, chunks=(X.chunks[0], (int(n_outputs),)),
                        dtype=dtype)


__all__ = ["local_cluster", "map_method", "worker_environment", "worker_thread_counts"]
