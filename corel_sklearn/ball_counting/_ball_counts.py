"""Closed-ball counts per latent branch: validation, chunking, dispatch to the CPU/torch kernels."""

import numpy as np

from corel_sklearn._numba_runtime import compile_notice
from corel_sklearn._threads import kernel_threads
from corel_sklearn._validation import METRIC_CODES, check_n_branches
from corel_sklearn.ball_counting import _cpu
from corel_sklearn.ball_counting._rounding import compute_dtype, rounding_band

METRICS = tuple(METRIC_CODES)
AGGREGATIONS = ("sum", "mean", "max")
BACKENDS = ("numba", "torch")

# Bound on the working memory of one chunk of queries (per-branch counts + padded copy).
MAX_CHUNK_BYTES = 64 * 2**20
# Bound on the work of one kernel call, in coordinate operations (n_queries * n_anchors *
# n_dims): about 0.05-0.2 s on a core. Python only sees Ctrl-C between kernel calls, so this
# is how long an interrupt may wait.
MAX_CHUNK_WORK = 2**30
# Fewest queries per chunk whatever the anchors, so that every thread has tiles to run.
_MIN_CHUNK_QUERIES = 8


def _check_points(queries, anchors, n_branches, metric, anchor_groups, n_groups):
    """Validated float arrays, sorted-group ints and the group count; no radius here."""
    arrays = []
    for name, x in (("anchors", anchors), ("queries", queries)):
        x = np.asarray(x)
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float64)
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_points, n_dims), got shape {x.shape}.")
        if x.shape[1] == 0:
            raise ValueError(
                f"{name} have 0 dimensions (shape {x.shape}): points need at least one "
                "coordinate to have a distance."
            )
        if x.size and not _cpu.all_finite(x):
            raise ValueError(f"{name} contains NaN or inf; distances need finite points.")
        arrays.append(x)
    anchors, queries = arrays
    if queries.shape[1] != anchors.shape[1]:
        raise ValueError(
            f"queries have {queries.shape[1]} dimensions but anchors have {anchors.shape[1]}."
        )
    n_dims = anchors.shape[1]
    check_n_branches(n_branches, n_dims)
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
    if anchor_groups is None:
        groups = np.zeros(anchors.shape[0], dtype=np.int64)
        n_groups = 1
    else:
        groups = np.asarray(anchor_groups)
        if groups.shape != (anchors.shape[0],) or groups.dtype.kind not in "iu":
            raise ValueError(
                "anchor_groups must be an integer array of shape (n_anchors,), got "
                f"{groups.dtype} of shape {groups.shape}."
            )
        groups = groups.astype(np.int64)
        if n_groups is None:
            n_groups = int(groups.max()) + 1 if groups.size else 0
        if groups.size and (groups.min() < 0 or groups.max() >= n_groups):
            raise ValueError(f"anchor_groups must lie in [0, n_groups={n_groups}).")
    return queries, anchors, groups, int(n_groups)


def _check_inputs(queries, anchors, radius, n_branches, metric, anchor_groups, n_groups):
    queries, anchors, groups, n_groups = _check_points(queries, anchors, n_branches, metric,
                                                       anchor_groups, n_groups)
    radius = float(radius)
    if not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a finite number > 0, got {radius}.")
    return queries, anchors, radius, groups, n_groups


def _group_anchors(anchors, groups):
    """``(anchors, groups, order)`` sorted by group (stable; no copy when already sorted)."""
    if np.all(groups[:-1] <= groups[1:]):
        return anchors, groups, np.arange(len(groups))
    order = np.argsort(groups, kind="stable")
    return anchors[order], groups[order], order


def _chunk_size(n_out, n_branches, n_dims, itemsize, max_chunk_bytes, n_anchors):
    """Queries per chunk; ``n_out`` is the number of 8-byte results per query and branch."""
    per_query = n_out * n_branches * 8 + (n_dims + n_branches) * itemsize
    by_memory = max(_cpu.MAX_QUERY_TILE, int(max_chunk_bytes // per_query))
    by_work = max(_MIN_CHUNK_QUERIES, MAX_CHUNK_WORK // max(1, n_anchors * n_dims))
    return min(by_memory, by_work)


def _iter_branch_counts(queries, anchors, radius, n_branches, metric, groups, n_groups,
                        leave_one_out, backend, device, max_chunk_bytes):
    """Yield ``(rows, counts)``: per-branch int64 counts for chunks of rows of ``queries``.

    ``counts`` is (n_rows, n_groups, n_branches), or (n_rows, 1, n_branches) under
    ``leave_one_out``, where the queries are the anchors themselves, each meets only its own
    group, and its count of itself (exactly once per branch: distance 0) is removed.
    """
    anchors, groups, order = _group_anchors(anchors, groups)
    if leave_one_out:
        queries = anchors
    width = anchors.shape[1] // n_branches
    dtype = compute_dtype(queries.dtype, anchors.dtype, radius, metric, width)
    n_out = 1 if leave_one_out else n_groups
    step = _chunk_size(n_out, n_branches, anchors.shape[1], np.dtype(dtype).itemsize,
                       max_chunk_bytes, anchors.shape[0])
    if backend == "numba":
        lo, hi, threshold = rounding_band(radius, metric, width, dtype)
        packed = _cpu.PackedAnchors(anchors, groups, n_groups, n_branches, dtype)
    else:
        from corel_sklearn.ball_counting._torch import TorchBallCounter

        counter = TorchBallCounter(anchors, groups, n_groups, radius, n_branches, metric,
                                   device, dtype)
    for start in range(0, queries.shape[0], step):
        rows = slice(start, min(start + step, queries.shape[0]))
        query_groups = groups[rows] if leave_one_out else None
        if backend == "numba":
            counts = _cpu.count_chunk(packed, queries[rows], lo, hi, threshold, metric,
                                      query_groups)
        else:
            counts = counter.count(queries[rows], query_groups)
        if leave_one_out:
            counts -= 1
            rows = order[rows]
        yield rows, counts


def _aggregate(counts, aggregation):
    """(..., n_branches) int counts -> (...) float64 scores."""
    if aggregation == "sum":
        return counts.sum(axis=-1).astype(np.float64)
    if aggregation == "mean":
        return counts.sum(axis=-1).astype(np.float64) / counts.shape[-1]
    return counts.max(axis=-1).astype(np.float64)


def _run(queries, anchors, radius, n_branches, metric, aggregation, anchor_groups, n_groups,
         leave_one_out, n_threads, backend, device, max_chunk_bytes):
    if aggregation is not None and aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}.")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    with compile_notice("ball-counting", "15 s"), kernel_threads(n_threads):
        queries, anchors, radius, groups, n_groups = _check_inputs(
            anchors if queries is None else queries, anchors, radius, n_branches, metric,
            anchor_groups, n_groups,
        )
        n_rows = anchors.shape[0] if leave_one_out else queries.shape[0]
        n_out = 1 if leave_one_out else n_groups
        shape = (n_rows, n_out) if aggregation else (n_rows, n_out, n_branches)
        out = np.zeros(shape, dtype=np.float64 if aggregation else np.int64)
        for rows, counts in _iter_branch_counts(
            queries, anchors, radius, n_branches, metric, groups, n_groups, leave_one_out,
            backend, device, max_chunk_bytes,
        ):
            out[rows] = _aggregate(counts, aggregation) if aggregation else counts
    if anchor_groups is None or leave_one_out:
        out = out[:, 0]
    return out


def branch_ball_counts(queries, anchors, radius, *, n_branches=1, metric="l1",
                       anchor_groups=None, n_groups=None, n_threads=None, backend="numba",
                       device=None, max_chunk_bytes=MAX_CHUNK_BYTES):
    """Per-branch closed-ball counts: for each query and branch, the anchors within ``radius``.

    Each point is cut into ``n_branches`` contiguous slices of ``n_dims / n_branches``
    coordinates; in branch ``k`` anchor ``a`` counts for query ``q`` when
    ``dist(q[k], a[k]) <= radius`` (closed ball). Distances are decided exactly as scikit-learn's
    ``KDTree`` decides them (float64 values, coordinate order, l2 via squared distances).

    Parameters
    ----------
    queries : array-like of shape (n_queries, n_dims)
    anchors : array-like of shape (n_anchors, n_dims)
    radius : float
        Radius of the closed balls, > 0.
    n_branches : int, default=1
        Number of branches; must divide ``n_dims``.
    metric : {"l1", "l2", "linf"}, default="l1"
    anchor_groups : array-like of int of shape (n_anchors,), default=None
        Group (e.g. class) of each anchor, in ``[0, n_groups)``: counts are then kept apart per
        group, in one pass over all anchors.
    n_groups : int, default=None
        Number of groups; ``max(anchor_groups) + 1`` when None.
    n_threads : int, default=None
        CPU threads; None uses all the threads allowed: at most ``torch.get_num_threads()``,
        ``OMP_NUM_THREADS`` and ``NUMBA_NUM_THREADS``, never more. A forked child counts on
        one thread, without a parallel region (GNU OpenMP is not fork-safe).
    backend : {"numba", "torch"}, default="numba"
        "numba": the compiled CPU kernel. "torch": blocked ``torch.cdist`` on ``device``
        (meant for CUDA; works on CPU tensors too). Both give identical counts.
    device : str or torch.device, default=None
        Torch device of the "torch" backend; ignored by "numba".
    max_chunk_bytes : int, default=64 MiB
        Bound on the working memory per chunk of queries.

    Returns
    -------
    counts : ndarray of int64, shape (n_queries, n_branches) or (n_queries, n_groups, n_branches)

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.ball_counting import branch_ball_counts
    >>> anchors = np.array([[0.0, 0.0], [1.0, 3.0], [2.0, 0.5]])
    >>> branch_ball_counts(np.array([[0.0, 0.0]]), anchors, 2.0, n_branches=2)
    array([[3, 2]])
    """
    return _run(queries, anchors, radius, n_branches, metric, None, anchor_groups, n_groups,
                False, n_threads, backend, device, max_chunk_bytes)


def ball_counts(queries, anchors, radius, *, n_branches=1, metric="l1", aggregation="sum",
                anchor_groups=None, n_groups=None, n_threads=None, backend="numba", device=None,
                max_chunk_bytes=MAX_CHUNK_BYTES):
    """COREL's one-class score: per-branch closed-ball counts, aggregated over branches.

    ``score(q) = aggregate_k #{a : dist(q[k], a[k]) <= radius}`` with ``aggregate`` the sum
    (the paper), mean or max over the ``n_branches`` branches. Parameters are those of
    :func:`branch_ball_counts` plus ``aggregation``.

    Parameters
    ----------
    queries : array-like of shape (n_queries, n_dims)
    anchors : array-like of shape (n_anchors, n_dims)
    radius : float
    n_branches : int, default=1
    metric : {"l1", "l2", "linf"}, default="l1"
    aggregation : {"sum", "mean", "max"}, default="sum"
    anchor_groups : array-like of int of shape (n_anchors,), default=None
    n_groups : int, default=None
    n_threads : int, default=None
    backend : {"numba", "torch"}, default="numba"
    device : str or torch.device, default=None
    max_chunk_bytes : int, default=64 MiB

    Returns
    -------
    scores : ndarray of float64, shape (n_queries,) or (n_queries, n_groups)

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.ball_counting import ball_counts
    >>> anchors = np.array([[0.0, 0.0], [1.0, 3.0], [2.0, 0.5]])
    >>> ball_counts(np.array([[0.0, 0.0], [9.0, 9.0]]), anchors, 2.0, n_branches=2)
    array([5., 0.])
    """
    return _run(queries, anchors, radius, n_branches, metric, aggregation, anchor_groups,
                n_groups, False, n_threads, backend, device, max_chunk_bytes)


def leave_one_out_ball_counts(anchors, radius, *, n_branches=1, metric="l1", aggregation="sum",
                              anchor_groups=None, n_groups=None, n_threads=None,
                              backend="numba", device=None, max_chunk_bytes=MAX_CHUNK_BYTES):
    """Each anchor's score among the *other* anchors of its group (it never counts itself).

    An anchor lies at distance 0 from itself, so it falls in its own ball exactly once per
    branch; that one count is removed before aggregating. Duplicates of it still count.
    Parameters are those of :func:`ball_counts`.

    Returns
    -------
    scores : ndarray of float64, shape (n_anchors,)

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.ball_counting import leave_one_out_ball_counts
    >>> anchors = np.array([[0.0], [1.0], [1.0], [5.0]])
    >>> leave_one_out_ball_counts(anchors, 1.0)
    array([2., 2., 2., 0.])
    """
    return _run(None, anchors, radius, n_branches, metric, aggregation, anchor_groups,
                n_groups, True, n_threads, backend, device, max_chunk_bytes)
