"""The paper's one-class protocol: n training samples of one class, the full test split."""

import numpy as np
from sklearn.utils import Bunch


def one_class_split(y_train, y_test, inlier_class, n_samples, *, random_state=None):
    """One draw of the one-class protocol of Hofer et al. (ICML 2019).

    ``n_samples`` training samples of ``inlier_class`` are drawn uniformly without
    replacement; the whole test split is labelled in-class (inlier) versus rest.

    Parameters
    ----------
    y_train : array-like of shape (n_train,)
        Labels of the training split.
    y_test : array-like of shape (n_test,)
        Labels of the test split.
    inlier_class : label
        The normal class.
    n_samples : int or None
        How many training samples of ``inlier_class`` to draw; None takes all of them
        (in their original order).
    random_state : int, numpy Generator or None, default=None
        Seed of the draw.

    Returns
    -------
    train_indices : ndarray of shape (n_samples,)
        Row indices into the training split, in the order drawn.
    is_inlier : ndarray of bool, shape (n_test,)
        True for test samples of ``inlier_class``: the positive label for AUROC with
        scores where higher means more normal.

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.datasets import one_class_split
    >>> y_train = np.array([0, 1, 1, 0, 1, 1])
    >>> idx, is_inlier = one_class_split(y_train, [1, 0, 1], 1, 3, random_state=0)
    >>> sorted(y_train[idx].tolist()), is_inlier.tolist()
    ([1, 1, 1], [True, False, True])
    """
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    members = np.flatnonzero(y_train == inlier_class)
    if len(members) == 0:
        raise ValueError(f"Class {inlier_class!r} has no training samples.")
    if n_samples is not None:
        n_samples = int(n_samples)
        if not 1 <= n_samples <= len(members):
            raise ValueError(
                f"n_samples must be in [1, {len(members)}] (the training samples of class "
                f"{inlier_class!r}), got {n_samples}."
            )
        members = np.random.default_rng(random_state).choice(members, n_samples, replace=False)
    is_inlier = y_test == inlier_class
    if is_inlier.all() or not is_inlier.any():
        raise ValueError(f"The test split needs samples in and out of class {inlier_class!r}.")
    return members, is_inlier


def one_class_draws(y_train, y_test, *, n_samples, n_draws=5, classes=None, random_state=None):
    """All draws of the one-class protocol: every class, ``n_draws`` times.

    The seed of the draw ``d`` of the class at position ``k`` of ``np.unique(y_train)`` is
    derived from ``(random_state, k, d)``, so a class's draws do not depend on which other
    classes are run.

    Parameters
    ----------
    y_train, y_test : array-like
        Labels of the training and test splits.
    n_samples : int or None
        Training samples per draw (None: all of the class, then a single draw makes sense).
    n_draws : int, default=5
        Draws per class.
    classes : sequence of labels, default=None
        Inlier classes to run; None runs every label of ``y_train``.
    random_state : int or None, default=None
        Seed; None draws fresh entropy.

    Returns
    -------
    draws : list of :class:`~sklearn.utils.Bunch`
        One per (class, draw), class-major: ``inlier_class``, ``draw``, ``train_indices``,
        ``is_inlier`` (see :func:`one_class_split`).

    Examples
    --------
    >>> from corel_sklearn.datasets import one_class_draws
    >>> draws = one_class_draws([0, 0, 0, 1, 1, 1], [0, 1], n_samples=2, n_draws=3,
    ...                         random_state=0)
    >>> [(int(d.inlier_class), d.draw, len(d.train_indices)) for d in draws][:4]
    [(0, 0, 2), (0, 1, 2), (0, 2, 2), (1, 0, 2)]
    """
    y_train = np.asarray(y_train)
    labels = np.unique(y_train)
    classes = labels if classes is None else np.asarray(classes)
    unknown = np.setdiff1d(classes, labels)
    if len(unknown):
        raise ValueError(f"Classes {unknown.tolist()} have no training samples.")
    if int(n_draws) < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws!r}.")
    if random_state is None:
        random_state = int(np.random.SeedSequence().entropy % 2**63)
    draws = []
    for c in classes:
        position = int(np.searchsorted(labels, c))
        for d in range(int(n_draws)):
            rng = np.random.default_rng([int(random_state), position, d])
            idx, is_inlier = one_class_split(y_train, y_test, c, n_samples, random_state=rng)
            draws.append(Bunch(inlier_class=c, draw=d, train_indices=idx, is_inlier=is_inlier))
    return draws
