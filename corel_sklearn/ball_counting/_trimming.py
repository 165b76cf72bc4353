"""Leave out the training rows farthest from their neighbours before an encoder trains."""

import numpy as np

from corel_sklearn.ball_counting._kth_neighbors import (
    kth_neighbor_distances,
    leave_one_out_kth_neighbor_distances,
)

__all__ = ["densest_rows"]


def densest_rows(X, trim, *, n_neighbors=20, metric="l2", max_reference_rows=None,
                 random_state=None, n_threads=None):
    """Indices of the rows kept when the ``trim`` share farthest from their neighbours is cut.

    Each row is ranked by the distance to its ``n_neighbors``-th nearest *other* reference row
    (exact, leave-one-out); the ``round(trim * n_rows)`` rows with the largest distance are
    left out. The reference rows are all rows, or, where there are more than
    ``max_reference_rows``, that many drawn without replacement: the cost is then
    ``n_rows * max_reference_rows`` distances instead of ``n_rows ** 2``, and the
    ``n_neighbors``-th of a sample ranks the rows as the proportionally larger neighbour of all
    rows would. Equal distances are broken by row order (the earlier row is kept), so the
    result is the same on every machine and thread count.

    A one-class model trained on a sample that holds the anomalies learns them as normal; a
    connectivity-regularised encoder gives every training row neighbours at the scale ``eta``,
    the anomalies included. Cutting the rows that are sparse in the input is the cheap guard.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
        The rows, already scaled as the encoder will see them.
    trim : float in [0, 1)
        Share of the rows to leave out.
    n_neighbors : int, default=20
        Which neighbour ranks a row (1 = the nearest); lowered to ``n_rows - 1`` on tiny data.
    metric : {"l1", "l2", "linf"}, default="l2"
        Distance in the input space.
    max_reference_rows : int or None, default=None
        At most this many rows serve as neighbours (a random sample of the rows); None: all.
    random_state : int, numpy Generator or RandomState, or None, default=None
        Seeds the draw of the reference rows (only with more rows than
        ``max_reference_rows``).
    n_threads : int or None, default=None
        Threads of the distance kernel (None: all allowed).

    Returns
    -------
    kept : ndarray of int64, shape (n_rows - round(trim * n_rows),)
        Indices of the kept rows, ascending.

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.ball_counting import densest_rows
    >>> X = np.array([[0.0], [0.1], [0.2], [0.3], [9.0]])
    >>> densest_rows(X, 0.2, n_neighbors=1)
    array([0, 1, 2, 3])
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_rows, n_features), got shape {X.shape}.")
    if not 0.0 <= trim < 1.0:
        raise ValueError(f"trim must be a share in [0, 1), got {trim!r}.")
    n_rows = X.shape[0]
    n_cut = int(round(trim * n_rows))
    if n_cut == 0:
        return np.arange(n_rows, dtype=np.int64)
    if n_rows < 2:
        raise ValueError(f"trimming needs at least 2 rows, got {n_rows}.")
    X = np.ascontiguousarray(X, dtype=np.float64)
    if max_reference_rows is None or n_rows <= max_reference_rows:
        k = min(int(n_neighbors), n_rows - 1)
        distances = leave_one_out_kth_neighbor_distances(X, k, metric=metric,
                                                         n_threads=n_threads)
    else:
        if max_reference_rows < 2:
            raise ValueError(f"max_reference_rows must be at least 2, got {max_reference_rows!r}.")
        rng = (random_state if isinstance(random_state, np.random.RandomState)
               else np.random.default_rng(random_state))
        reference = np.sort(rng.choice(n_rows, max_reference_rows, replace=False))
        k = min(int(n_neighbors), max_reference_rows - 1)
        distances = np.empty(n_rows)
        distances[reference] = leave_one_out_kth_neighbor_distances(
            X[reference], k, metric=metric, n_threads=n_threads)
        others = np.ones(n_rows, dtype=bool)
        others[reference] = False
        distances[others] = kth_neighbor_distances(X[others], X[reference], k, metric=metric,
                                                   n_threads=n_threads)
    order = np.argsort(distances, kind="stable")
    return np.sort(order[: n_rows - n_cut]).astype(np.int64)
