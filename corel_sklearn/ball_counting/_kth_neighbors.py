"""Distance to the k-th nearest anchor per latent branch: a ball-count score that never saturates.

The same validation, grouping, chunking and backends as the ball counts
(:mod:`corel_sklearn.ball_counting._ball_counts`): per branch, each query's ``n_neighbors``
smallest reference distances are kept (exactly those scikit-learn's ``KDTree`` computes), and the
k-th is returned, aggregated over branches.
"""

import numpy as np

from corel_sklearn._numba_runtime import compile_notice
from corel_sklearn._threads import kernel_threads
from corel_sklearn.ball_counting import _cpu
from corel_sklearn.ball_counting._ball_counts import (
    BACKENDS,
    MAX_CHUNK_BYTES,
    _check_points,
    _chunk_size,
    _group_anchors,
)
from corel_sklearn.ball_counting._rounding import compute_dtype, kth_bounds

DISTANCE_AGGREGATIONS = ("sum", "mean", "max", "min")


def _check_n_neighbors(n_neighbors, groups, n_groups, leave_one_out):
    """Every group that is searched must hold ``n_neighbors`` anchors (one more under LOO)."""
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, (int, np.integer)) or (
        n_neighbors < 1
    ):
        raise ValueError(f"n_neighbors must be a positive int, got {n_neighbors!r}.")
    sizes = np.bincount(groups, minlength=n_groups)
    needed = int(n_neighbors) + int(leave_one_out)
    # Leave-one-out queries are the anchors: only non-empty groups are searched.
    searched = sizes[sizes > 0] if leave_one_out else sizes
    if searched.size and searched.min() < needed:
        group = int(np.flatnonzero(sizes == searched.min())[0])
        where = "" if n_groups == 1 else f" (group {group})"
        if leave_one_out:
            raise ValueError(
                f"n_neighbors={n_neighbors} needs at least {needed} anchors{where} for "
                f"leave-one-out distances (each anchor's own distance 0 is left out), got "
                f"{int(searched.min())}; lower n_neighbors or pass more anchors."
            )
        raise ValueError(
            f"n_neighbors={n_neighbors} is larger than the number of anchors{where}, "
            f"{int(searched.min())}; lower n_neighbors or pass more anchors."
        )


def _iter_kth(queries, anchors, n_neighbors, n_branches, metric, groups, n_groups,
              leave_one_out, backend, device, max_chunk_bytes):
    """Yield ``(rows, distances)``: per-branch k-th distances (float64) for chunks of queries.

    ``distances`` is (n_rows, n_groups, n_branches), or (n_rows, 1, n_branches) under
    ``leave_one_out``, where each anchor is searched among its own group and its own distance
    0 is left out: the k-th distance among the others is the (k+1)-th among all (duplicates
    of it still count, at distance 0).
    """
    anchors, groups, order = _group_anchors(anchors, groups)
    if leave_one_out:
        queries = anchors
    width = anchors.shape[1] // n_branches
    dtype = compute_dtype(queries.dtype, anchors.dtype, None, metric, width)
    k = int(n_neighbors) + int(leave_one_out)
    n_out = 1 if leave_one_out else n_groups
    step = _chunk_size(n_out * (2 * _cpu.kth_capacity(k) + k + 4), n_branches, anchors.shape[1],
                       np.dtype(dtype).itemsize, max_chunk_bytes, anchors.shape[0])
    if backend == "numba":
        packed = _cpu.PackedAnchors(anchors, groups, n_groups, n_branches, dtype)
        bounds = kth_bounds(metric, width, dtype)
    else:
        from corel_sklearn.ball_counting._torch import TorchKthNeighbors

        searcher = TorchKthNeighbors(anchors, groups, n_groups, k, n_branches, metric, device,
                                     dtype)
    for start in range(0, queries.shape[0], step):
        rows = slice(start, min(start + step, queries.shape[0]))
        query_groups = groups[rows] if leave_one_out else None
        if backend == "numba":
            distances = _cpu.kth_chunk(packed, queries[rows], k, metric, bounds, query_groups)
        else:
            distances = searcher.smallest(queries[rows], query_groups)[..., k - 1]
        if metric == "l2":  # squared sums, rooted as KDTree does (correctly rounded sqrt)
            distances = np.sqrt(distances)
        if leave_one_out:
            rows = order[rows]
        yield rows, distances


def _aggregate_distances(distances, aggregation):
    """(..., n_branches) distances -> (...) float64."""
    reduce = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[aggregation]
    return reduce(distances, axis=-1)


def _run(queries, anchors, n_neighbors, n_branches, metric, aggregation, anchor_groups,
         n_groups, leave_one_out, n_threads, backend, device, max_chunk_bytes):
    if aggregation is not None and aggregation not in DISTANCE_AGGREGATIONS:
        raise ValueError(
            f"aggregation must be one of {DISTANCE_AGGREGATIONS}, got {aggregation!r}.")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    with compile_notice("k-th neighbour", "20 s"), kernel_threads(n_threads):
        queries, anchors, groups, n_groups = _check_points(
            anchors if queries is None else queries, anchors, n_branches, metric,
            anchor_groups, n_groups,
        )
        _check_n_neighbors(n_neighbors, groups, n_groups, leave_one_out)
        n_rows = anchors.shape[0] if leave_one_out else queries.shape[0]
        n_out = 1 if leave_one_out else n_groups
        shape = (n_rows, n_out) if aggregation else (n_rows, n_out, n_branches)
        out = np.zeros(shape, dtype=np.float64)
        for rows, distances in _iter_kth(
            queries, anchors, n_neighbors, n_branches, metric, groups, n_groups, leave_one_out,
            backend, device, max_chunk_bytes,
        ):
            out[rows] = _aggregate_distances(distances, aggregation) if aggregation else distances
    if anchor_groups is None or leave_one_out:
        out = out[:, 0]
    return out


def branch_kth_neighbor_distances(queries, anchors, n_neighbors=5, *, n_branches=1,
                                  metric="l1", anchor_groups=None, n_groups=None,
                                  n_threads=None, backend="numba", device=None,
                                  max_chunk_bytes=MAX_CHUNK_BYTES):
    """Per-branch distance from each query to its ``n_neighbors``-th nearest anchor.

    Each point is cut into ``n_branches`` contiguous slices of ``n_dims / n_branches``
    coordinates; in branch ``k`` the result is the ``n_neighbors``-th smallest of
    ``dist(q[k], a[k])`` over the anchors ``a`` (counted with multiplicity: duplicate anchors
    are distinct neighbours). Distances are exactly scikit-learn's ``KDTree`` distances (float64
    values of the input, coordinate order; l2 as the rounded square root of the sum of squares),
    also for float32 input, which is searched at float32 speed.

    Parameters
    ----------
    queries : array-like of shape (n_queries, n_dims)
    anchors : array-like of shape (n_anchors, n_dims)
    n_neighbors : int, default=5
        Which neighbour: 1 is the nearest anchor. At most the number of anchors (of each
        group).
    n_branches : int, default=1
        Number of branches; must divide ``n_dims``.
    metric : {"l1", "l2", "linf"}, default="l1"
    anchor_groups : array-like of int of shape (n_anchors,), default=None
        Group (e.g. class) of each anchor, in ``[0, n_groups)``: distances are then found per
        group, in one pass over all anchors. Every group needs ``n_neighbors`` anchors.
    n_groups : int, default=None
        Number of groups; ``max(anchor_groups) + 1`` when None.
    n_threads : int, default=None
        CPU threads, as in :func:`~corel_sklearn.ball_counting.ball_counts`.
    backend : {"numba", "torch"}, default="numba"
        "numba": the compiled CPU kernel. "torch": blocked ``torch.cdist`` and ``topk`` on
        ``device`` (meant for CUDA; works on CPU tensors too). Both give identical distances.
    device : str or torch.device, default=None
        Torch device of the "torch" backend; ignored by "numba".
    max_chunk_bytes : int, default=64 MiB
        Bound on the working memory per chunk of queries.

    Returns
    -------
    distances : ndarray of float64, shape (n_queries, n_branches) or
        (n_queries, n_groups, n_branches)

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.ball_counting import branch_kth_neighbor_distances
    >>> anchors = np.array([[0.0, 0.0], [1.0, 3.0], [2.0, 0.5]])
    >>> branch_kth_neighbor_distances(np.array([[0.0, 0.0]]), anchors, 2, n_branches=2)
    array([[1. , 0.5]])
    """
    return _run(queries, anchors, n_neighbors, n_branches, metric, None, anchor_groups,
                n_groups, False, n_threads, backend, device, max_chunk_bytes)


def kth_neighbor_distances(queries, anchors, n_neighbors=5, *, n_branches=1, metric="l1",
                           aggregation="sum", anchor_groups=None, n_groups=None,
                           n_threads=None, backend="numba", device=None,
                           max_chunk_bytes=MAX_CHUNK_BYTES):
    """Distance to the ``n_neighbors``-th nearest anchor, aggregated over branches.

    ``distance(q) = aggregate_k kth_smallest_a dist(q[k], a[k])`` with ``aggregate`` the sum,
    mean, max or min over the ``n_branches`` branches. Parameters are those of
    :func:`branch_kth_neighbor_distances` plus ``aggregation``.

    Parameters
    ----------
    queries : array-like of shape (n_queries, n_dims)
    anchors : array-like of shape (n_anchors, n_dims)
    n_neighbors : int, default=5
    n_branches : int, default=1
    metric : {"l1", "l2", "linf"}, default="l1"
    aggregation : {"sum", "mean", "max", "min"}, default="sum"
    anchor_groups : array-like of int of shape (n_anchors,), default=None
    n_groups : int, default=None
    n_threads : int, default=None
    backend : {"numba", "torch"}, default="numba"
    device : str or torch.device, default=None
    max_chunk_bytes : int, default=64 MiB

    Returns
    -------
    distances : ndarray of float64, shape (n_queries,) or (n_queries, n_groups)

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.ball_counting import kth_neighbor_distances
    >>> anchors = np.array([[0.0, 0.0], [1.0, 3.0], [2.0, 0.5]])
    >>> kth_neighbor_distances(np.array([[0.0, 0.0], [9.0, 9.0]]), anchors, 1, n_branches=2)
    array([ 0., 13.])
    """
    return _run(queries, anchors, n_neighbors, n_branches, metric, aggregation, anchor_groups,
                n_groups, False, n_threads, backend, device, max_chunk_bytes)


def leave_one_out_kth_neighbor_distances(anchors, n_neighbors=5, *, n_branches=1, metric="l1",
                                         aggregation="sum", anchor_groups=None, n_groups=None,
                                         n_threads=None, backend="numba", device=None,
                                         max_chunk_bytes=MAX_CHUNK_BYTES):
    """Each anchor's k-th neighbour distance among the *other* anchors of its group.

    An anchor is not its own neighbour: its one distance 0 to itself is left out (a duplicate of
    it is a neighbour at distance 0). Needs ``n_neighbors + 1`` anchors in every non-empty
    group. Parameters are those of :func:`kth_neighbor_distances`.

    Returns
    -------
    distances : ndarray of float64, shape (n_anchors,)

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.ball_counting import leave_one_out_kth_neighbor_distances
    >>> anchors = np.array([[0.0], [1.0], [1.0], [5.0]])
    >>> leave_one_out_kth_neighbor_distances(anchors, 1)
    array([1., 0., 0., 4.])
    """
    return _run(None, anchors, n_neighbors, n_branches, metric, aggregation, anchor_groups,
                n_groups, True, n_threads, backend, device, max_chunk_bytes)
