"""Encoder presets: a :class:`TopoAutoencoder` sized to the data it will be trained on."""

from numbers import Integral

import numpy as np

from corel_sklearn.ball_counting import densest_rows
from corel_sklearn.estimators._topo_autoencoder import TopoAutoencoder

__all__ = ["tabular_encoder", "tabular_trim_neighbors"]

# The tabular recipe, chosen on ADBench's classical sets (docs/results.md, "Tabular encoder
# shapes and scorers"). One wide branch, not several narrow ones: a sum of low-dimensional
# branch counts cannot see rows that are unusual only jointly, and 8 branches of 2 dimensions
# left the codes far inside eta (a ball then holds half the training codes). 128 dimensions
# scored higher than 64, 32, 16 or a width following n_features; 256 no higher.
TABULAR_BRANCH_DIM = 128
TABULAR_HIDDEN = 256
TABULAR_BATCH_SIZE = 100
# 300 optimizer steps reach eta on every set (the median death time is at eta from the first
# epochs for a 128-dimensional code of standardised rows); TopoAutoencoder's max_epochs="auto"
# (1,000 to 3,500 steps here) scored lower and trains 6 times longer.
TABULAR_N_STEPS = 300
# The score of the recipe: the l1 distance to the 5th nearest training code. It scored higher
# than the count at r = eta on normal-only training data, where COREL is meant to be used.
TABULAR_SCORING = "knn_distance"
TABULAR_N_NEIGHBORS = 5
# Where the training rows may hold the anomalies (PyOD's unsupervised use, ADBench's
# unsupervised setting, ODDS), the encoder trains without the 20 % of rows farthest from their
# m-th nearest neighbour in the standardised input: the connectivity loss would otherwise give
# the contaminating rows neighbours at eta like every other row (docs/results.md). 20 % is the
# share that serves both uses of the default on ADBench (seeds 1-3): rows that hold the
# anomalies want more, rows that are all normal want less (docs/results.md, "trimming").
# Anomalies often come in tight groups whose size grows with the rows, and only a
# neighbourhood larger than the group sees it as sparse: m is one row in 20 (at least 100;
# ADBench unsupervised at trim 0.2: 0.770 with one in 70, 0.776 with one in 20, normal rows
# unchanged). Beyond 7,000 rows the neighbours are counted among 7,000 rows drawn at random, so
# that trimming costs n x 7,000 distances with m = 350, not n^2 with m = n / 20.
TABULAR_TRIM = 0.2
TABULAR_TRIM_NEIGHBORS = 100
TABULAR_ROWS_PER_TRIM_NEIGHBOR = 20
TABULAR_TRIM_REFERENCE_ROWS = 7000


def tabular_trim_neighbors(n_samples):
    """The neighbour that ranks rows for trimming: one per 20 reference rows, at least 100.

    The reference rows are the training rows, at most ``TABULAR_TRIM_REFERENCE_ROWS`` (7,000)
    of them (:class:`corel_sklearn.pyod.COREL` draws that many from larger tables).

    Parameters
    ----------
    n_samples : int
        Number of training rows.

    Returns
    -------
    n_neighbors : int

    Examples
    --------
    >>> from corel_sklearn import tabular_trim_neighbors
    >>> tabular_trim_neighbors(700), tabular_trim_neighbors(4000), tabular_trim_neighbors(29458)
    (100, 200, 350)
    """
    reference_rows = min(int(n_samples), TABULAR_TRIM_REFERENCE_ROWS)
    return max(TABULAR_TRIM_NEIGHBORS, reference_rows // TABULAR_ROWS_PER_TRIM_NEIGHBOR)


def tabular_training_rows(X, trim, *, n_neighbors=None, random_state=None, n_threads=None):
    """Indices of the rows the tabular encoder trains on: all but the ``trim`` share sparsest.

    :func:`~corel_sklearn.ball_counting.densest_rows` with the recipe's neighbour count
    (``n_neighbors=None``: :func:`tabular_trim_neighbors`) and reference rows (at most
    ``TABULAR_TRIM_REFERENCE_ROWS``, drawn with ``random_state`` from larger tables).
    """
    if n_neighbors is None:
        n_neighbors = tabular_trim_neighbors(X.shape[0])
    return densest_rows(X, trim, n_neighbors=n_neighbors,
                        max_reference_rows=TABULAR_TRIM_REFERENCE_ROWS,
                        random_state=random_state, n_threads=n_threads)


def tabular_encoder(n_samples, n_features, random_state=None, *, n_steps=TABULAR_N_STEPS):
    """The :class:`~corel_sklearn.TopoAutoencoder` COREL trains on a table of standardised rows.

    An MLP with one hidden layer of 256 units and a code of one branch of 128 dimensions,
    ``eta = 2`` and ``lambda = 20`` as in the paper, batches of ``min(100, n_samples // 2)``
    rows (at least 8), and about ``n_steps`` optimizer steps (300: 3 to 100 epochs). Only the
    batch size and the number of epochs follow the table: on ADBench's 43 classical sets
    (3 to 1,555 features, 129 to 619,326 rows) a fixed wide code scored higher than one whose
    width follows ``n_features`` (``docs/results.md``).

    Training ends with the rule of :class:`~corel_sklearn.TopoAutoencoder`: when the codes are
    not organised at the scale ``eta`` after the last epoch (its median death time outside
    ``[0.75, 1.25] * eta``, or the connectivity loss still falling) the fit emits a
    ``ConvergenceWarning``, so a budget that is too small is visible. On ADBench, 300 steps
    reach ``eta`` on every set; ``n_steps="auto"`` (``max_epochs="auto"``: at least 50 epochs
    and 1,000 steps) trains several times longer and scored lower.

    This is the encoder of :class:`corel_sklearn.pyod.COREL` and of the ``odds`` and
    ``adbench`` commands. It expects standardised features (zero mean, unit variance), as
    :class:`~sklearn.preprocessing.StandardScaler` gives. COREL's codes suit normal-only
    training data: trained on rows that hold anomalies, the connectivity loss draws those
    anomalies to the distance ``eta`` of their neighbours like every other row, so they score
    like normal rows (see ``docs/results.md``).

    Parameters
    ----------
    n_samples : int
        Number of training rows (sets the batch size and, with ``n_steps``, the epochs).
    n_features : int
        Number of features of a row (checked; the network reads it from the data at fit).
    random_state : int, RandomState instance or None, default=None
        Seed of the encoder (weights and shuffling).
    n_steps : int or "auto", default=300
        Optimizer steps: an int sets ``max_epochs`` to the whole number of epochs closest to
        ``n_steps`` steps (at least 1); ``"auto"`` uses
        :class:`~corel_sklearn.TopoAutoencoder`'s ``max_epochs="auto"``.

    Returns
    -------
    encoder : :class:`~corel_sklearn.TopoAutoencoder`
        Unfitted.

    See Also
    --------
    corel_sklearn.pyod.COREL : Standardises the rows, trains this encoder, scores the codes.

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.estimators import tabular_encoder
    >>> encoder = tabular_encoder(700, 9, random_state=0)
    >>> encoder.hidden_layer_sizes, encoder.n_branches, encoder.branch_dim
    ((256,), 1, 128)
    >>> encoder.batch_size, encoder.max_epochs  # 7 steps per epoch: about 300 steps
    (100, 43)
    >>> tabular_encoder(700, 9, n_steps="auto").max_epochs
    'auto'
    >>> X = np.random.default_rng(0).standard_normal((60, 5)).astype(np.float32)
    >>> tabular_encoder(60, 5, random_state=0, n_steps=20).fit(X).transform(X).shape
    (60, 128)
    """
    n_samples = _positive_int(n_samples, "n_samples")
    n_features = _positive_int(n_features, "n_features")
    batch_size = int(min(TABULAR_BATCH_SIZE, max(8, n_samples // 2)))
    if isinstance(n_steps, str) and n_steps == "auto":
        max_epochs = "auto"
    else:
        n_steps = _positive_int(n_steps, "n_steps", also="or 'auto'")
        steps_per_epoch = max(1, n_samples // min(batch_size, n_samples))
        max_epochs = max(1, int(np.rint(n_steps / steps_per_epoch)))
    return TopoAutoencoder(
        architecture="mlp",
        hidden_layer_sizes=(TABULAR_HIDDEN,),
        n_branches=1,
        branch_dim=TABULAR_BRANCH_DIM,
        eta=2.0,
        connectivity_weight=20.0,
        batch_size=batch_size,
        max_epochs=max_epochs,
        random_state=random_state,
    )


def _positive_int(value, name, also=""):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int{' ' + also if also else ''}, "
                         f"got {value!r}.")
    return int(value)
