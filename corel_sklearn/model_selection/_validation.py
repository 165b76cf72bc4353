"""Out-of-fold anomaly scores of every sample."""

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.utils import indexable

from corel_sklearn._sklearn_compat import _num_samples, _safe_indexing
from corel_sklearn.model_selection._scorer import anomaly_scores
from corel_sklearn.model_selection._split import OneClassKFold


def cross_val_anomaly_scores(estimator, X, y, *, cv=None, higher_score="auto", n_jobs=None):
    """Out-of-fold anomaly scores (higher = more abnormal) of every sample.

    For each split of ``cv`` a clone of ``estimator`` is fitted on the training fold (inliers
    only with :class:`OneClassKFold`) and scores its test fold; each sample gets the score of
    the one model that did not see it. Scores are oriented by :func:`anomaly_scores`, so
    scikit-learn and PyOD detectors give comparable, never inverted, results.

    Parameters
    ----------
    estimator : estimator
        Unfitted one-class model (or pipeline ending in one).
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Outlier labels in either convention (+1/-1 or 0/1); they choose the folds only.
    cv : cross-validator, default=None
        Its test folds must partition the samples, as :class:`OneClassKFold` with
        ``outliers="split"`` does; None means ``OneClassKFold(5)``.
    higher_score : {"auto", "inlier", "anomaly"}, default="auto"
        See :func:`anomaly_scores`.
    n_jobs : int, default=None
        Folds fitted in parallel (joblib semantics).

    Returns
    -------
    scores : ndarray of shape (n_samples,), float64
        Anomaly scores; compare them only within one fold's model or with a rank-based
        metric over all samples when the folds' models are alike.

    Raises
    ------
    ValueError
        When the test folds do not cover every sample exactly once.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> from sklearn.metrics import roc_auc_score
    >>> from corel_sklearn.model_selection import OneClassKFold, cross_val_anomaly_scores
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(size=(60, 2)), rng.uniform(5, 9, size=(6, 2))]
    >>> y = np.r_[np.zeros(60, dtype=int), np.ones(6, dtype=int)]  # 1 = anomaly
    >>> scores = cross_val_anomaly_scores(IsolationForest(random_state=0), X, y,
    ...                                   cv=OneClassKFold(3, shuffle=True, random_state=0))
    >>> round(float(roc_auc_score(y, scores)), 3)
    0.989
    """
    X, y = indexable(X, y)
    cv = OneClassKFold(5) if cv is None else cv
    splits = list(cv.split(X, y))
    n_samples = _num_samples(X)
    covered = np.zeros(n_samples, dtype=int)
    for _, test in splits:
        covered[test] += 1
    if not (covered == 1).all():
        raise ValueError(
            f"cross_val_anomaly_scores needs test folds that partition the samples; "
            f"{int((covered == 0).sum())} samples are in no test fold and "
            f"{int((covered > 1).sum())} in several. Use OneClassKFold(outliers='split')."
        )
    parts = Parallel(n_jobs=n_jobs)(
        delayed(_fit_and_score)(clone(estimator), X, train, test, higher_score)
        for train, test in splits
    )
    scores = np.empty(n_samples, dtype=np.float64)
    for (_, test), part in zip(splits, parts, strict=True):
        scores[test] = part
    return scores


def _fit_and_score(estimator, X, train, test, higher_score):
    estimator.fit(_safe_indexing(X, train))
    return anomaly_scores(estimator, _safe_indexing(X, test), higher_score=higher_score)
