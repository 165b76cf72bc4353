"""BallCountOneClass: COREL's training-free one-class score, counts of anchors in radius balls."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted

from corel_sklearn._device import resolve_device
from corel_sklearn._sklearn_compat import Interval, StrOptions, _fit_context, validate_data
from corel_sklearn._threads import threads_for_n_jobs
from corel_sklearn.ball_counting import (
    AGGREGATIONS,
    METRICS,
    ball_counts,
    leave_one_out_ball_counts,
)
from corel_sklearn.estimators._base import DocLinkMixin, warn_if_outlier_labels

# device="auto" moves the counting to CUDA (when present) from this many coordinate
# operations on: below it, the transfers and launches cost more than the CPU kernel.
_CUDA_MIN_WORK = 2**33


def auto_offset(aggregation, n_branches):
    """The ``contamination="auto"`` threshold: half the smallest positive score.

    Every aggregation is 0 exactly when no anchor lies in any branch ball and at least one
    unit above otherwise (1 for "sum" and "max", ``1 / n_branches`` for "mean"), so this
    offset flags as outliers exactly the samples whose balls are all empty: where the uniform
    kernel density estimate of the paper is zero.
    """
    return 0.5 / n_branches if aggregation == "mean" else 0.5


class _BallCounter(DocLinkMixin, BaseEstimator):
    """Parameters, validation and dispatch shared by the ball-count estimators."""

    _parameter_constraints: dict = {
        "radius": [Interval(Real, 0, None, closed="neither")],
        "n_branches": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions(set(METRICS))],
        "aggregation": [StrOptions(set(AGGREGATIONS))],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "n_jobs": [Integral, None],
        "device": [str, torch.device],
    }

    def __init__(
        self,
        *,
        radius=2.0,
        n_branches=16,
        metric="l1",
        aggregation="sum",
        contamination=0.1,
        n_jobs=None,
        device="auto",
    ):
        self.radius = radius
        self.n_branches = n_branches
        self.metric = metric
        self.aggregation = aggregation
        self.contamination = contamination
        self.n_jobs = n_jobs
        self.device = device

    def _validate_X(self, X, reset):
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])
        if reset and not (isinstance(self.device, str) and self.device == "auto"):
            resolve_device(self.device)  # a malformed or absent device fails at fit, not later
        if reset and X.shape[1] % self.n_branches != 0:
            raise ValueError(
                f"n_branches={self.n_branches} does not divide the number of features "
                f"({X.shape[1]}): each branch must be a contiguous slice of n_features / "
                "n_branches features (e.g. 16 branches of 10 for TopoAutoencoder's default "
                "160-dimensional codes). Set n_branches to a divisor of n_features, such as 1."
            )
        return X

    def _check_n_anchors(self, n_per_group, what):
        """Leave-one-out counts (needed for a float contamination) need 2 anchors per group."""
        if self.contamination != "auto" and np.min(n_per_group) < 2:
            raise ValueError(
                f"{what} n_samples={int(np.min(n_per_group))}, but setting offset_ from "
                f"contamination={self.contamination} needs leave-one-out counts and so at "
                "least 2 anchors; pass more samples or contamination='auto'."
            )

    def _counting_options(self, n_queries):
        """Keyword arguments of the ball-counting functions: threads, backend, device."""
        options = {"n_threads": threads_for_n_jobs(self.n_jobs), "backend": "numba", "device": None}
        if isinstance(self.device, str) and self.device == "auto":
            work = n_queries * self.anchors_.shape[0] * self.anchors_.shape[1]
            if work < _CUDA_MIN_WORK:
                return options  # never touch CUDA for small jobs
            device = resolve_device("auto")
        else:
            device = resolve_device(self.device)
        if device.type != "cpu":
            options.update(backend="torch", device=device)
        return options

    def _count_kwargs(self):
        return {
            "n_branches": self.n_branches,
            "metric": self.metric,
            "aggregation": self.aggregation,
        }


class BallCountOneClass(OutlierMixin, _BallCounter):
    """COREL's one-class model: score a sample by the anchors within ``radius`` of it.

    ``fit`` stores the training samples as anchors (nothing is learned). The score of a sample
    ``z`` is, over the latent branches ``k`` (contiguous slices of ``n_features / n_branches``
    features),

        ``score(z) = aggregate_k #{anchors a : dist(z[k], a[k]) <= radius}``

    with closed balls, l1 distance and a sum over branches in the paper (Hofer et al., ICML
    2019): a uniform-kernel density estimate at the scale ``radius`` that a
    :class:`~corel_sklearn.TopoAutoencoder` fixes (use ``radius = eta``). Higher means more
    normal. Counts are exact: pairs are decided as scikit-learn's ``KDTree`` decides them
    (float64 distances), also for float32 input, which is counted twice as fast.

    Parameters
    ----------
    radius : float, default=2.0
        Radius of the closed balls, > 0; the paper uses the encoder's ``eta`` (2.0).
    n_branches : int, default=16
        Number of latent branches; must divide ``n_features``. The default matches
        ``TopoAutoencoder``'s 16 branches of 10 dimensions. Use 1 for ordinary feature
        vectors (one ball in the full space).
    metric : {"l1", "l2", "linf"}, default="l1"
        Distance within a branch (the paper uses l1).
    aggregation : {"sum", "mean", "max"}, default="sum"
        How branch counts combine: "sum" (the paper), "mean" (sum / n_branches) or "max".
    contamination : "auto" or float in (0, 0.5], default=0.1
        Sets ``offset_``. A float: the expected proportion of outliers; ``offset_`` is that
        percentile of the anchors' leave-one-out scores (each anchor scored against the other
        anchors, never itself), so that about this proportion of new samples drawn like the
        training data is flagged. "auto": ``offset_`` is half the smallest positive score, so a
        sample is an outlier exactly when no anchor lies within ``radius`` of it in any branch
        (see :func:`auto_offset`).
    n_jobs : int, default=None
        Threads of the CPU kernel. None and -1 use all the threads allowed (all cores, lowered
        by ``torch.set_num_threads``, ``OMP_NUM_THREADS`` or ``NUMBA_NUM_THREADS``: never
        more), ``-k`` all but ``k - 1``. In a forked child the kernel runs on one thread.
    device : str or torch.device, default="auto"
        Where to count. "auto": on CUDA when it is available and the job is large
        (about 1e10 coordinate operations), else on the CPU; "cpu"; or a torch device such
        as "cuda" or "cuda:1". Results are identical on every device. Resolved when scoring.

    Attributes
    ----------
    anchors_ : ndarray of shape (n_anchors, n_features), float32 or float64
        The training samples (a copy), in their validated dtype.
    offset_ : float
        Threshold of the scores: ``decision_function = score_samples - offset_``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column names.

    See Also
    --------
    corel_sklearn.TopoAutoencoder : Trains the codes this model counts in.
    corel_sklearn.ClasswiseBallCount : One such model per class, scored in one pass.
    corel_sklearn.ball_counting.ball_counts : The counting function, without scikit-learn.
    sklearn.neighbors.LocalOutlierFactor : A density-ratio outlier detector.

    Notes
    -----
    ``fit_predict(X)`` labels the training samples from their leave-one-out scores, the scores
    ``offset_`` was set from, so about ``contamination`` of them are flagged. It therefore
    differs from ``fit(X).predict(X)``, in which every training sample also falls in its own
    balls (``n_branches`` extra counts for "sum"); this is the choice
    ``LocalOutlierFactor(novelty=False)`` makes for its ``fit_predict``.

    Scores cost ``O(n_samples * n_anchors * n_features)``, computed in chunks of bounded memory
    by a count-only kernel (no neighbour lists); float32 input runs twice as fast as float64.

    References
    ----------
    C. D. Hofer, R. Kwitt, M. Dixit, M. Niethammer, "Connectivity-Optimized Representation
    Learning via Persistent Homology", ICML 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn import BallCountOneClass
    >>> X = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, 0.5], [1.0, 1.0]])
    >>> model = BallCountOneClass(radius=1.0, n_branches=1, contamination="auto").fit(X)
    >>> model.score_samples([[0.0, 0.0], [5.0, 5.0]])
    array([3., 0.])
    >>> model.predict([[0.0, 0.0], [5.0, 5.0]])
    array([ 1, -1])
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Store the anchors and set ``offset_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples (e.g. codes of a :class:`~corel_sklearn.TopoAutoencoder`).
        y : Ignored
            Not used, present for API consistency by convention. Outlier labels in it
            (+1/-1 with some -1, or 0/1 with some 1) raise a UserWarning: those samples become
            anchors like the others (wrap the model in
            :class:`~corel_sklearn.model_selection.FitOnInliers` to drop them).

        Returns
        -------
        self : object
            The fitted model.
        """
        warn_if_outlier_labels(self, y)
        self._fit(X)
        return self

    def _fit(self, X):
        """Fit; return the anchors' leave-one-out scores when they were needed, else None."""
        X = self._validate_X(X, reset=True)
        self._check_n_anchors([X.shape[0]], "BallCountOneClass got")
        self.anchors_ = np.array(X, copy=True)
        if self.contamination == "auto":
            self.offset_ = auto_offset(self.aggregation, self.n_branches)
            return None
        scores = self._leave_one_out_scores()
        self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
        return scores

    def _leave_one_out_scores(self):
        return leave_one_out_ball_counts(
            self.anchors_, self.radius, **self._count_kwargs(),
            **self._counting_options(self.anchors_.shape[0]),
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_predict(self, X, y=None):
        """Fit and label the training samples from their leave-one-out scores.

        A training sample never counts itself, so about ``contamination`` of the samples
        are flagged (up to ties). This differs from ``fit(X).predict(X)``, where each sample
        falls in its own balls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            1 for inliers, -1 for outliers.
        """
        scores = self._fit(X)
        if scores is None:
            scores = self._leave_one_out_scores()
        return _labels(scores - self.offset_)

    def score_samples(self, X):
        """Ball-count score of each sample: higher is more normal.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,), float64
            Aggregated counts, e.g. for "sum" an integer in ``[0, n_branches * n_anchors]``.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return ball_counts(X, self.anchors_, self.radius, **self._count_kwargs(),
                           **self._counting_options(X.shape[0]))

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers, >= 0 for inliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        decision : ndarray of shape (n_samples,), float64
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Label samples as inliers (1) or outliers (-1).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to label.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            1 for inliers (``decision_function >= 0``), -1 for outliers.
        """
        return _labels(self.decision_function(X))


def _labels(decision):
    labels = np.ones(decision.shape, dtype=int)
    labels[decision < 0] = -1
    return labels
