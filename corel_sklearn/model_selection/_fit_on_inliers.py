"""FitOnInliers: a one-class model whose every fit, GridSearchCV's refit included, drops the
samples ``y`` marks as outliers."""

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils import indexable
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from corel_sklearn._outlier_labels import inlier_mask
from corel_sklearn._sklearn_compat import _num_samples, _safe_indexing


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
        training fold of :class:`OneClassKFold` with +1/-1 labels) marks no outlier and the
        model is fitted on all of it.

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
            # An all-1 y (OneClassKFold's training folds of +1/-1 labels) marks no outlier.
            mask = inlier_mask(np.asarray(y), self.label_convention)
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
