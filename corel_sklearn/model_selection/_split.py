"""OneClassKFold: cross-validation for one-class models (train on inliers only)."""

import numpy as np
from sklearn.model_selection import BaseCrossValidator, KFold
from sklearn.utils import indexable

from corel_sklearn._outlier_labels import inlier_mask
from corel_sklearn._sklearn_compat import _num_samples


class OneClassKFold(BaseCrossValidator):
    """K-fold splitter for one-class models: inlier-only training folds, mixed test folds.

    The inliers are split into ``n_splits`` folds as by :class:`~sklearn.model_selection.KFold`.
    Split ``i`` trains on the inliers outside fold ``i`` and tests on inlier fold ``i`` plus
    outliers: with ``outliers="split"`` the outliers are split into ``n_splits`` folds too and
    test fold ``i`` gets outlier fold ``i`` (test folds then partition the data, as
    ``cross_val_predict`` requires); with ``outliers="all"`` every test fold gets every outlier.
    Outliers never enter a training fold. Use it as ``cv=`` in ``GridSearchCV``,
    ``cross_validate`` and friends, with ``y`` holding outlier labels in either convention
    (+1/-1 of scikit-learn, 0/1 of PyOD/ADBench).

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    outliers : {"split", "all"}, default="split"
        How the outliers are spread over the test folds (see above).
    shuffle : bool, default=False
        Shuffle inliers and outliers before splitting them into folds.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling when ``shuffle=True``.
    label_convention : {"auto", "sklearn", "pyod"}, default="auto"
        How to read ``y``; see :func:`inlier_mask`.

    See Also
    --------
    make_anomaly_scorer : A scorer for the test folds.
    cross_val_anomaly_scores : Out-of-fold anomaly scores of every sample.
    FitOnInliers : A wrapper that keeps outliers out of ``GridSearchCV``'s refit too.
    sklearn.model_selection.KFold : The splitter applied to inliers and outliers.

    Notes
    -----
    ``GridSearchCV(refit=True)`` refits the best model on *all* of ``X``, outliers included
    (COREL's estimators warn when the ``y`` they ignore marks outliers): wrap the model in
    :class:`FitOnInliers` (its refit drops the outliers of ``y``), or pass ``refit=False`` and
    fit the best parameters on the inliers yourself.

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.model_selection import OneClassKFold
    >>> y = np.array([0, 0, 0, 0, 1, 1])  # PyOD labels: 1 is an anomaly
    >>> for train, test in OneClassKFold(n_splits=2).split(np.zeros((6, 1)), y):
    ...     print(train, test)
    [2 3] [0 1 4]
    [0 1] [2 3 5]
    """

    def __init__(self, n_splits=5, *, outliers="split", shuffle=False, random_state=None,
                 label_convention="auto"):
        self.n_splits = n_splits
        self.outliers = outliers
        self.shuffle = shuffle
        self.random_state = random_state
        self.label_convention = label_convention

    def split(self, X, y, groups=None):
        """Generate indices of the training (inliers only) and test sets of each split.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples; only their number is used.
        y : array-like of shape (n_samples,)
            Outlier labels (+1/-1 or 0/1).
        groups : Ignored
            Present for API compatibility.

        Yields
        ------
        train : ndarray
            Indices of training inliers.
        test : ndarray
            Indices of held-out inliers and outliers, sorted.
        """
        if y is None:
            raise ValueError("OneClassKFold needs y (outlier labels) to keep outliers out of "
                             "training folds.")
        X, y = indexable(X, y)
        if self.outliers not in ("split", "all"):
            raise ValueError(f"outliers must be 'split' or 'all', got {self.outliers!r}.")
        n_splits = self.get_n_splits()
        is_inlier = inlier_mask(np.asarray(y), self.label_convention)
        if is_inlier.shape[0] != _num_samples(X):
            raise ValueError(f"X has {_num_samples(X)} samples but y has {is_inlier.shape[0]}.")
        inliers = np.flatnonzero(is_inlier)
        outliers = np.flatnonzero(~is_inlier)
        if len(inliers) < n_splits:
            raise ValueError(
                f"n_splits={n_splits} needs at least as many inliers, got {len(inliers)}."
            )
        if self.outliers == "split" and len(outliers) < n_splits:
            hint = (" (a y made only of 1s marks no outlier; pass label_convention='pyod' if "
                    "its 1s are anomalies)" if len(outliers) == 0 else "")
            raise ValueError(
                f"outliers='split' with n_splits={n_splits} needs at least {n_splits} outliers "
                f"(one per test fold), got {len(outliers)}{hint}; lower n_splits or use "
                "outliers='all'."
            )
        kfold = KFold(n_splits, shuffle=self.shuffle, random_state=self.random_state)
        inlier_folds = kfold.split(inliers)
        if self.outliers == "split":
            outlier_tests = (outliers[test] for _, test in kfold.split(outliers))
        else:
            outlier_tests = (outliers for _ in range(n_splits))
        for (train, test), outlier_test in zip(inlier_folds, outlier_tests, strict=True):
            yield inliers[train], np.sort(np.concatenate([inliers[test], outlier_test]))

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits.

        Parameters
        ----------
        X, y, groups : Ignored
            Present for API compatibility.

        Returns
        -------
        n_splits : int
        """
        if isinstance(self.n_splits, bool) or not isinstance(self.n_splits, (int, np.integer)) \
                or self.n_splits < 2:
            raise ValueError(f"n_splits must be an int >= 2, got {self.n_splits!r}.")
        return int(self.n_splits)
