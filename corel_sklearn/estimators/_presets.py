"""Encoder presets: a :class:`TopoAutoencoder` sized to the data it will be trained on."""

from numbers import Integral

import numpy as np

from corel_sklearn.estimators._topo_autoencoder import TopoAutoencoder

__all__ = ["tabular_encoder"]

# One wide branch, not several narrow ones: the connectivity loss can only organise a batch of
# ``batch_size`` codes at the scale eta when the branch has room for that many eta-separated
# points, and a sum of low-dimensional branch counts cannot see rows that are unusual only
# jointly (docs/results.md, "Tabular encoder shapes").
TABULAR_BRANCH_DIM = 64
TABULAR_HIDDEN = 128
TABULAR_BATCH_SIZE = 100


def tabular_encoder(n_samples, n_features, random_state=None, *, n_steps="auto"):
    """The :class:`~corel_sklearn.TopoAutoencoder` COREL trains on a table of standardised rows.

    The shape of the network comes from the table: an MLP with one hidden layer of
    ``TABULAR_HIDDEN`` (128) units and a code of one branch of ``TABULAR_BRANCH_DIM`` (64)
    dimensions, ``eta = 2`` and ``lambda = 20`` as in the paper, batches of
    ``min(100, n_samples // 2)`` rows (at least 8). Training runs for ``max_epochs="auto"``
    (at least 50 epochs and 1,000 optimizer steps), or about ``n_steps`` steps when given;
    when the codes are not organised at the scale ``eta`` at the end (the last epoch's median
    death time outside ``[0.75, 1.25] * eta``, or the connectivity loss still falling), the
    encoder's ``ConvergenceWarning`` says so.

    This is the encoder of :class:`corel_sklearn.pyod.COREL` and of the ``odds`` and
    ``adbench`` commands; its settings were chosen on ADBench's classical sets
    (``docs/results.md``). It expects standardised features (zero mean, unit variance), as
    :class:`~sklearn.preprocessing.StandardScaler` gives.

    Parameters
    ----------
    n_samples : int
        Number of training rows (sets the batch size and, with ``n_steps``, the epochs).
    n_features : int
        Number of features of a row.
    random_state : int, RandomState instance or None, default=None
        Seed of the encoder (weights and shuffling).
    n_steps : int or "auto", default="auto"
        Optimizer steps: ``"auto"`` uses :class:`~corel_sklearn.TopoAutoencoder`'s
        ``max_epochs="auto"``; an int sets ``max_epochs`` to the whole number of epochs
        closest to ``n_steps`` steps (at least 1).

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
    >>> encoder.hidden_layer_sizes, encoder.n_branches, encoder.branch_dim, encoder.batch_size
    ((128,), 1, 64, 100)
    >>> tabular_encoder(700, 9, n_steps=280).max_epochs  # 7 steps per epoch
    40
    >>> X = np.random.default_rng(0).standard_normal((60, 5)).astype(np.float32)
    >>> tabular_encoder(60, 5, random_state=0, n_steps=20).fit(X).transform(X).shape
    (60, 64)
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
