"""Out-of-fold anomaly scores, and a wrapper whose refit never sees an outlier."""

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils import indexable
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from corel_sklearn._sklearn_compat import _num_samples, _safe_indexing
from corel_sklearn.model_selection._labels import inlier_mask
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


def _estimator_has(name):
    def check(self):
        return hasattr(self.estimator_ if hasattr(self, "estimator_") else self.estimator, name)

    return check


class FitOnInliers(MetaEstimatorMixin, BaseEstimator):
    """Fit a one-class model on the inliers of ``y`` only: safe under ``refit=True``.

    ``GridSearchCV(refit=True)`` refits the best model on *all* of ``X``, outliers included,
    even when :class:`OneClassKFold` kept them out of every training fold. Wrapped in
    ``FitOnInliers``, the model drops the samples ``y`` marks as outliers whenever it is
    fitted with labels, so the folds and the refit alike train on inliers only. Without
    ``y`` it fits on all of ``X``. Scoring methods are those of the wrapped model.

    Parameters
    ----------
    estimator : estimator
        The one-class model (or pipeline); cloned at fit.
    label_convention : {"auto", "sklearn", "pyod"}, default="auto"
        How to read ``y``; see :func:`inlier_mask`. Under "auto", a ``y`` made only of 1s (a
        training fold of :class:`OneClassKFold` with +1/-1 labels) is read as all inliers:
        read as all PyOD anomalies it would leave nothing to fit on.

    Attributes
    ----------
    estimator_ : estimator
        The fitted clone.
    n_inliers_ : int
        Number of samples it was fitted on.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from corel_sklearn import BallCountOneClass
    >>> from corel_sklearn.model_selection import (FitOnInliers, OneClassKFold,
    ...                                            make_anomaly_scorer)
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(size=(40, 2)), rng.uniform(4, 8, size=(6, 2))]
    >>> y = np.r_[np.zeros(40, dtype=int), np.ones(6, dtype=int)]
    >>> search = GridSearchCV(FitOnInliers(BallCountOneClass(n_branches=1)),
    ...                       {"estimator__radius": [0.5, 1.0]}, cv=OneClassKFold(3),
    ...                       scoring=make_anomaly_scorer()).fit(X, y)
    >>> search.best_estimator_.n_inliers_  # the refit never saw an outlier
    40
    """

    def __init__(self, estimator, *, label_convention="auto"):
        self.estimator = estimator
        self.label_convention = label_convention

    def fit(self, X, y=None, **fit_params):
        """Fit a clone of ``estimator`` on the inliers of ``y`` (all of ``X`` without ``y``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or None
            Outlier labels (+1/-1 or 0/1), or None.
        **fit_params
            Passed to the estimator's ``fit``.

        Returns
        -------
        self : object
        """
        if y is not None:
            X, y = indexable(X, y)
            y = np.asarray(y)
            if self.label_convention == "auto" and y.size and np.all(y == 1):
                # All 1s: all inliers (scikit-learn) or all anomalies (PyOD). Only the first
                # reading leaves anything to fit on; it is what OneClassKFold's training folds
                # of +1/-1 labels look like.
                mask = np.ones(y.shape, dtype=bool)
            else:
                mask = inlier_mask(y, self.label_convention)
            if not mask.any():
                raise ValueError("y marks every sample as an outlier; nothing to fit on.")
            X = _safe_indexing(X, np.flatnonzero(mask))
        self.estimator_ = clone(self.estimator).fit(X, **fit_params)
        self.n_inliers_ = _num_samples(X)
        return self

    @available_if(_estimator_has("score_samples"))
    def score_samples(self, X):
        """The wrapped model's ``score_samples``."""
        check_is_fitted(self)
        return self.estimator_.score_samples(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """The wrapped model's ``decision_function``."""
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """The wrapped model's ``predict``."""
        check_is_fitted(self)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("transform"))
    def transform(self, X):
        """The wrapped model's ``transform``."""
        check_is_fitted(self)
        return self.estimator_.transform(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        from sklearn.utils import get_tags

        tags.estimator_type = get_tags(self.estimator).estimator_type
        return tags
