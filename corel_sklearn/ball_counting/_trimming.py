"""Leave out the training rows farthest from their neighbours before an encoder trains."""

import numpy as np

from corel_sklearn.ball_counting._kth_neighbors import leave_one_out_kth_neighbor_distances

__all__ = ["densest_rows"]


def densest_rows(X, trim, *, n_neighbors=20, metric="l2", n_threads=None):
    """Indices of the rows kept when the ``trim`` share farthest from their neighbours is cut.

    Each row is ranked by the distance to its ``n_neighbors``-th nearest *other* row (exact,
    leave-one-out); the ``round(trim * n_rows)`` rows with the largest distance are left out.
    Equal distances are broken by row order (the earlier row is kept), so the result is the
    same on every machine and thread count.

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
    k = min(int(n_neighbors), n_rows - 1)
    distances = leave_one_out_kth_neighbor_distances(
        np.ascontiguousarray(X, dtype=np.float64), k, metric=metric, n_threads=n_threads)
    order = np.argsort(distances, kind="stable")
    return np.sort(order[: n_rows - n_cut]).astype(np.int64)
