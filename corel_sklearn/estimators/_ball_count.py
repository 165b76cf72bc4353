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
    kth_neighbor_distances,
    leave_one_out_ball_counts,
    leave_one_out_kth_neighbor_distances,
)
from corel_sklearn.estimators._base import DocLinkMixin, warn_if_outlier_labels
from corel_sklearn.estimators._codes import resolve_n_branches, resolve_radius

# device="auto" moves the counting to CUDA (when present) from this many coordinate
# operations on: below it, the transfers and launches cost more than the CPU kernel.
_CUDA_MIN_WORK = 2**33


SCORINGS = ("count", "knn_distance")
# The per-branch score under "knn_distance" is minus the k-th distance, so aggregating scores
# over branches aggregates distances as: sum -> sum, mean -> mean, max -> min.
_DISTANCE_AGGREGATION = {"sum": "sum", "mean": "mean", "max": "min"}


def auto_offset(aggregation, n_branches, scoring="count", radius=None):
    """The ``contamination="auto"`` threshold.

    ``scoring="count"``: half the smallest positive score. Every aggregation is 0 exactly when
    no anchor lies in any branch ball and at least one unit above otherwise (1 for "sum" and
    "max", ``1 / n_branches`` for "mean"), so this offset flags as outliers exactly the samples
    whose balls are all empty: where the uniform kernel density estimate of the paper is zero.

    ``scoring="knn_distance"``: the score of a sample whose k-th nearest anchor lies at
    ``radius`` in every branch (``-n_branches * radius`` for "sum", ``-radius`` for "mean" and
    "max"). With one branch, or with "max", a sample is an outlier exactly when fewer than
    ``n_neighbors`` anchors lie within ``radius`` of it in every branch; with "sum" and "mean",
    when its k-th distances exceed ``radius`` on average.
    """
    if scoring == "knn_distance":
        return -float(radius) * (n_branches if aggregation == "sum" else 1)
    return 0.5 / n_branches if aggregation == "mean" else 0.5


class _BallCounter(DocLinkMixin, BaseEstimator):
    """Parameters, validation and dispatch shared by the ball-count estimators."""

    _parameter_constraints: dict = {
        "radius": [Interval(Real, 0, None, closed="neither"), StrOptions({"eta"})],
        "n_branches": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "metric": [StrOptions(set(METRICS))],
        "aggregation": [StrOptions(set(AGGREGATIONS))],
        "scoring": [StrOptions(set(SCORINGS))],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "n_jobs": [Integral, None],
        "device": [str, torch.device],
    }

    def __init__(
        self,
        *,
        radius="eta",
        n_branches="auto",
        metric="l1",
        aggregation="sum",
        scoring="count",
        n_neighbors=5,
        contamination=0.1,
        n_jobs=None,
        device="auto",
    ):
        self.radius = radius
        self.n_branches = n_branches
        self.metric = metric
        self.aggregation = aggregation
        self.scoring = scoring
        self.n_neighbors = n_neighbors
        self.contamination = contamination
        self.n_jobs = n_jobs
        self.device = device

    def _code_settings(self, X):
        """``(radius, n_branches)`` from the parameters and, for "eta"/"auto", from the encoder
        that made ``X`` (read before validation turns it into a plain array)."""
        radius_used = self.scoring == "count" or self.contamination == "auto"
        return (resolve_radius(self.radius, X, needed=radius_used),
                resolve_n_branches(self.n_branches, X))

    def _fitted_radius(self):
        # models fitted before radius_ existed hold their number in the parameter
        return self.radius_ if "radius_" in self.__dict__ else self.radius

    def _fitted_n_branches(self):
        return self.n_branches_ if "n_branches_" in self.__dict__ else self.n_branches

    def _validate_X(self, X, reset, n_branches=None):
        """Validated X; at fit (``reset``) also the device and the resolved ``n_branches``."""
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])
        if reset and not (isinstance(self.device, str) and self.device == "auto"):
            resolve_device(self.device)  # a malformed or absent device fails at fit, not later
        if reset and X.shape[1] % n_branches != 0:
            given = ("n_branches='auto', which is 16 (TopoAutoencoder's default) for input "
                     "that is not a TopoAutoencoder's codes," if self.n_branches == "auto"
                     else f"n_branches={n_branches}")
            raise ValueError(
                f"{given} does not divide the number of features ({X.shape[1]}): each "
                "branch must be a contiguous slice of n_features / n_branches features (e.g. 16 "
                "branches of 10 for TopoAutoencoder's default 160-dimensional codes). Set "
                "n_branches to a divisor of n_features, such as 1."
            )
        return X

    def _check_n_anchors(self, n_per_group, what):
        """Enough anchors for the scores (k-NN: n_neighbors) and for the leave-one-out scores
        that a float contamination needs (one more: a sample is not its own neighbour)."""
        smallest = int(np.min(n_per_group))
        loo = self.contamination != "auto"
        if self.scoring == "knn_distance":
            needed = self.n_neighbors + int(loo)
            if smallest < needed:
                why = (f"the leave-one-out scores that set offset_ from contamination="
                       f"{self.contamination} (a sample is not its own neighbour)" if loo
                       else "the scores")
                raise ValueError(
                    f"{what} n_samples={smallest}, but scoring='knn_distance' with n_neighbors="
                    f"{self.n_neighbors} needs at least {needed} samples for {why}; pass more "
                    "samples or lower n_neighbors."
                )
        elif loo and smallest < 2:
            raise ValueError(
                f"{what} n_samples={smallest}, but setting offset_ from "
                f"contamination={self.contamination} needs leave-one-out counts and so at "
                "least 2 anchors; pass more samples or contamination='auto'."
            )

    def _auto_offset(self):
        return auto_offset(self.aggregation, self._fitted_n_branches(), self.scoring,
                           self._fitted_radius())

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

    def _scores(self, X, leave_one_out=False, **group_kwargs):
        """Scores of ``X`` (or the anchors' leave-one-out scores): higher is more normal."""
        n_queries = self.anchors_.shape[0] if leave_one_out else X.shape[0]
        common = {"n_branches": self._fitted_n_branches(), "metric": self.metric,
                  **group_kwargs, **self._counting_options(n_queries)}
        if self.scoring == "knn_distance":
            common["aggregation"] = _DISTANCE_AGGREGATION[self.aggregation]
            if leave_one_out:
                return -leave_one_out_kth_neighbor_distances(
                    self.anchors_, self.n_neighbors, **common)
            return -kth_neighbor_distances(X, self.anchors_, self.n_neighbors, **common)
        common["aggregation"] = self.aggregation
        if leave_one_out:
            return leave_one_out_ball_counts(self.anchors_, self._fitted_radius(), **common)
        return ball_counts(X, self.anchors_, self._fitted_radius(), **common)


class BallCountOneClass(OutlierMixin, _BallCounter):
    """COREL's one-class model: score a sample by the anchors within ``radius`` of it.

    ``fit`` stores the training samples as anchors (nothing is learned). The score of a sample
    ``z`` is, over the latent branches ``k`` (contiguous slices of ``n_features / n_branches``
    features),

        ``score(z) = aggregate_k #{anchors a : dist(z[k], a[k]) <= radius}``

    with closed balls, l1 distance and a sum over branches in the paper (Hofer et al., ICML
    2019): a uniform-kernel density estimate at the scale ``radius = eta`` that a
    :class:`~corel_sklearn.TopoAutoencoder` fixes. Higher means more normal. Counts are exact:
    pairs are decided as scikit-learn's ``KDTree`` decides them (float64 distances), also for
    float32 input, which is counted twice as fast.

    With ``scoring="knn_distance"`` the score is instead minus the distance to the
    ``n_neighbors``-th nearest anchor, per branch, aggregated over branches: it keeps its
    resolution where a ball holds a large share of the anchors (many anchors, codes well
    inside ``eta``), where counts saturate and tie.

    Parameters
    ----------
    radius : float or "eta", default="eta"
        Radius of the closed balls, > 0. "eta" (the paper's ``r = eta``): the ``eta`` of the
        :class:`~corel_sklearn.TopoAutoencoder` whose codes ``fit`` receives (its
        ``transform`` marks them), so in a ``Pipeline`` the radius follows the encoder through
        ``set_params`` and grid searches; 2.0 (``TopoAutoencoder``'s default eta) for input
        that does not say which encoder made it, such as a plain array; an error for a table
        with TopoAutoencoder's column names, which lost it (``set_output(transform="pandas")``).
        The value used is ``radius_``. With ``scoring="knn_distance"`` the radius only sets
        ``contamination="auto"``'s offset.
    n_branches : int or "auto", default="auto"
        Number of latent branches; must divide ``n_features``. "auto": the encoder's
        ``n_branches`` for a TopoAutoencoder's codes (also read from its output column names),
        16 (``TopoAutoencoder``'s default, 16 branches of 10 dimensions) for other input. Use 1
        for ordinary feature vectors (one ball in the full space). The value used is
        ``n_branches_``.
    metric : {"l1", "l2", "linf"}, default="l1"
        Distance within a branch (the paper uses l1).
    aggregation : {"sum", "mean", "max"}, default="sum"
        How the branch scores combine: "sum" (the paper), "mean" (sum / n_branches) or "max"
        (the branch where the sample looks most normal: the largest count, or under
        "knn_distance" the smallest k-th distance).
    scoring : {"count", "knn_distance"}, default="count"
        "count": the anchors within ``radius`` (the paper). "knn_distance": minus the distance
        to the ``n_neighbors``-th nearest anchor, exactly scikit-learn's ``KDTree`` distance.
    n_neighbors : int, default=5
        Which neighbour "knn_distance" measures to (1 = the nearest); needs that many
        training samples, one more for a float ``contamination``. Ignored by "count".
    contamination : "auto" or float in (0, 0.5], default=0.1
        Sets ``offset_``. A float: the expected proportion of outliers; ``offset_`` is that
        percentile of the anchors' leave-one-out scores (each anchor scored against the other
        anchors, never itself), so that about this proportion of new samples drawn like the
        training data is flagged. "auto": for "count", ``offset_`` is half the smallest
        positive score (0.5, or ``0.5 / n_branches`` for "mean"), so a sample is an outlier
        exactly when no anchor lies within ``radius`` of it in any branch; for "knn_distance",
        it is the score of a sample whose k-th nearest anchor lies at ``radius`` in every
        branch, so a sample is an outlier when its k-th nearest anchor lies beyond ``radius``
        (summed or averaged over branches; for "max", in every branch).
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
    radius_ : float or None
        The radius used: ``radius``, or for "eta" the encoder's eta (see ``radius``). None when
        the scoring does not use a radius and the codes do not tell it.
    n_branches_ : int
        The number of branches used.
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
    corel_sklearn.ball_counting.kth_neighbor_distances : The "knn_distance" function.
    sklearn.neighbors.LocalOutlierFactor : A density-ratio outlier detector.

    Notes
    -----
    ``fit_predict(X)`` labels the training samples from their leave-one-out scores, the scores
    ``offset_`` was set from, so about ``contamination`` of them are flagged. It therefore
    differs from ``fit(X).predict(X)``, in which every training sample also falls in its own
    balls (``n_branches`` extra counts for "sum"), or is its own nearest neighbour at distance
    0; this is the choice ``LocalOutlierFactor(novelty=False)`` makes for its ``fit_predict``.

    Scores cost ``O(n_samples * n_anchors * n_features)`` under both scorings, computed in
    chunks of bounded memory by compiled kernels that keep no neighbour lists (a count, or the
    ``n_neighbors`` smallest distances); float32 input runs twice as fast as float64.

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
    >>> knn = BallCountOneClass(n_branches=1, scoring="knn_distance", n_neighbors=2,
    ...                         contamination="auto").fit(X)
    >>> knn.score_samples([[0.0, 0.0], [5.0, 5.0]])
    array([-0.5, -9.5])
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
        radius, n_branches = self._code_settings(X)
        X = self._validate_X(X, reset=True, n_branches=n_branches)
        self._check_n_anchors([X.shape[0]], "BallCountOneClass got")
        self.radius_, self.n_branches_ = radius, n_branches
        self.anchors_ = np.array(X, copy=True)
        if self.contamination == "auto":
            self.offset_ = self._auto_offset()
            return None
        scores = self._scores(None, leave_one_out=True)
        self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
        return scores

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
            scores = self._scores(None, leave_one_out=True)
        return _labels(scores - self.offset_)

    def score_samples(self, X):
        """Score of each sample (ball count, or minus the k-th distance): higher is more normal.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,), float64
            Aggregated counts, e.g. for "sum" an integer in ``[0, n_branches * n_anchors]``;
            under "knn_distance", minus the aggregated k-th neighbour distances (<= 0).
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._scores(X)

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
