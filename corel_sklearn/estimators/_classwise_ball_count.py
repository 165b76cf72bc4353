"""ClasswiseBallCount: one BallCountOneClass per class, all scored in one pass over the anchors."""

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from corel_sklearn._sklearn_compat import _fit_context
from corel_sklearn.estimators._ball_count import _BallCounter, _labels


class ClasswiseBallCount(_BallCounter):
    """Many one-class models sharing one encoder: a :class:`BallCountOneClass` per class.

    The paper's ImageNet protocol fits 1000 one-class models (one per class, on the codes of a
    single frozen encoder). ``fit(X, y)`` keeps the samples of every class as that class's
    anchors; ``score_samples(X)`` returns, for every sample and every class, the score the
    class's own ``BallCountOneClass`` would give, computed in one batched pass over all
    anchors (each anchor block is counted into its class's column). Scores, offsets and
    predictions are identical to those of separate models fitted per class with the same
    parameters.

    Parameters
    ----------
    radius : float or "eta", default="eta"
        Radius of the closed balls, > 0; "eta" follows the encoder that made the codes (2.0
        for a plain array), as in :class:`BallCountOneClass`. The value used is ``radius_``.
    n_branches : int or "auto", default="auto"
        Number of latent branches; must divide ``n_features``. "auto": the encoder's for its
        codes, else 16, as in :class:`BallCountOneClass`. The value used is ``n_branches_``.
    metric : {"l1", "l2", "linf"}, default="l1"
        Distance within a branch.
    aggregation : {"sum", "mean", "max"}, default="sum"
        How branch scores combine.
    scoring : {"count", "knn_distance"}, default="count"
        "count": anchors of the class within ``radius``; "knn_distance": minus the distance
        to the ``n_neighbors``-th nearest anchor of the class (as in
        :class:`BallCountOneClass`).
    n_neighbors : int, default=5
        The neighbour "knn_distance" measures to; every class needs that many samples, one
        more for a float ``contamination``.
    contamination : "auto" or float in (0, 0.5], default=0.1
        Sets each class's offset as in :class:`BallCountOneClass`: a float is that percentile
        of the class's leave-one-out scores (its anchors scored against the other anchors of
        the class), so every class needs at least 2 samples; "auto" flags samples whose balls
        hold no anchor of the class (under "knn_distance": whose k-th nearest anchor of the
        class lies beyond ``radius``).
    n_jobs : int, default=None
        Threads of the CPU kernel; None uses all cores.
    device : str or torch.device, default="auto"
        Where to count: "auto" (CUDA for large jobs when present), "cpu", or a torch device.

    Attributes
    ----------
    radius_ : float or None
        The radius used (None when unused and not told by the codes).
    n_branches_ : int
        The number of branches used.
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted; column ``j`` of every output belongs to ``classes_[j]``.
    anchors_ : ndarray of shape (n_anchors, n_features), float32 or float64
        The training samples grouped by class (in the order of ``classes_``, training order
        within a class).
    anchor_classes_ : ndarray of shape (n_anchors,), int
        Index into ``classes_`` of each row of ``anchors_`` (non-decreasing).
    offsets_ : ndarray of shape (n_classes,), float64
        Per-class thresholds: ``decision_function = score_samples - offsets_``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column names.

    See Also
    --------
    corel_sklearn.BallCountOneClass : The one-class model this one batches.
    corel_sklearn.ball_counting.ball_counts : Grouped counting (``anchor_groups``).

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn import ClasswiseBallCount
    >>> X = np.array([[0.0], [0.5], [1.0], [10.0], [10.5]])
    >>> y = np.array(["cat", "cat", "cat", "dog", "dog"])
    >>> model = ClasswiseBallCount(radius=1.0, n_branches=1, contamination="auto").fit(X, y)
    >>> model.classes_
    array(['cat', 'dog'], dtype='<U3')
    >>> model.score_samples([[0.2], [10.2], [5.0]])
    array([[3., 0.],
           [0., 2.],
           [0., 0.]])
    >>> model.predict([[0.2], [10.2], [5.0]])
    array([[ 1, -1],
           [-1,  1],
           [-1, -1]])
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Store every class's anchors and set the per-class offsets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples (e.g. codes of one frozen encoder).
        y : array-like of shape (n_samples,)
            Class of each sample; one one-class model is built per class.

        Returns
        -------
        self : object
            The fitted model.
        """
        radius, n_branches = self._code_settings(X)
        X = self._validate_X(X, reset=True, n_branches=n_branches)
        y = column_or_1d(y, warn=True)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {y.shape[0]}.")
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        n_per_class = np.bincount(y_index, minlength=len(self.classes_))
        self._check_n_anchors(n_per_class, "The smallest class has")
        self.radius_, self.n_branches_ = radius, n_branches
        order = np.argsort(y_index, kind="stable")
        self.anchors_ = X[order]
        self.anchor_classes_ = y_index[order].astype(np.int64)
        n_classes = len(self.classes_)
        if self.contamination == "auto":
            self.offsets_ = np.full(n_classes, self._auto_offset())
            return self
        scores = self._scores(None, leave_one_out=True, anchor_groups=self.anchor_classes_,
                              n_groups=n_classes)
        bounds = np.searchsorted(self.anchor_classes_, np.arange(n_classes + 1))
        self.offsets_ = np.array([
            np.percentile(scores[bounds[c]:bounds[c + 1]], 100.0 * self.contamination)
            for c in range(n_classes)
        ])
        return self

    def score_samples(self, X):
        """Every class's score of each sample: higher is more normal.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), float64
            Column ``j`` is the score of a ``BallCountOneClass`` fitted on the samples of
            ``classes_[j]``.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._scores(X, anchor_groups=self.anchor_classes_, n_groups=len(self.classes_))

    def decision_function(self, X):
        """``score_samples(X) - offsets_``: negative where a class's model flags an outlier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        decision : ndarray of shape (n_samples, n_classes), float64
        """
        return self.score_samples(X) - self.offsets_

    def predict(self, X):
        """Every class's inlier (1) / outlier (-1) label of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to label.

        Returns
        -------
        labels : ndarray of shape (n_samples, n_classes), int
        """
        return _labels(self.decision_function(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
