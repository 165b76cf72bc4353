"""COREL as a PyOD detector: ``corel_sklearn.pyod.COREL`` (needs the ``[pyod]`` extra)."""

import re
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

try:
    from pyod.models.base import BaseDetector
except ImportError as exc:  # pyod is optional: only this module needs it
    raise ImportError(
        "corel_sklearn.pyod needs PyOD; install it with `pip install corel-sklearn[pyod]` "
        "(or `pip install pyod`). The scikit-learn estimators (TopoAutoencoder, "
        "BallCountOneClass) work without it."
    ) from exc

from corel_sklearn._threads import threads_for_n_jobs
from corel_sklearn._warnings import warn
from corel_sklearn.ball_counting import (
    kth_neighbor_distances,
    leave_one_out_ball_counts,
    leave_one_out_kth_neighbor_distances,
)
from corel_sklearn.estimators import (
    TABULAR_N_NEIGHBORS,
    TABULAR_N_STEPS,
    TABULAR_SCORING,
    TABULAR_TRIM,
    BallCountOneClass,
    tabular_encoder,
    tabular_training_rows,
    tabular_trim_neighbors,
)

__all__ = ["COREL"]


class COREL(BaseDetector):
    """COREL (Hofer et al., ICML 2019) with PyOD's conventions, for PyOD and ADBench loops.

    ``fit(X)`` standardises the raw features, trains a
    :class:`~corel_sklearn.TopoAutoencoder` on them (by default
    :func:`~corel_sklearn.tabular_encoder`), and keeps the codes as the anchors of a
    :class:`~corel_sklearn.BallCountOneClass`. The anomaly score of a sample is the l1
    distance from its code to the ``n_neighbors``-th nearest training code
    (``scoring="knn_distance"``), or minus the number of training codes within ``radius`` of
    it, the paper's ball count (``scoring="count"``): **higher is more abnormal**, as
    everywhere in PyOD.

    COREL is a novelty detector: its encoder should be trained on normal rows. The
    connectivity loss gives every training row neighbours at the distance ``eta``, anomalies
    included, so where the training rows may hold anomalies (PyOD's unsupervised use) the
    encoder trains without the ``trim`` share of rows farthest from their
    ``trim_neighbors_``-th nearest neighbour in the standardised input; those rows are scored
    like new data. Set ``trim=0`` when the training rows are known to be normal. On ADBench's
    43 classical sets (seeds 1-3) COREL has the highest mean AUROC of PyOD's KNN, LOF,
    IForest, ECOD and OCSVM both trained on normal rows only with ``trim=0`` (0.902, KNN
    0.868) and trained on rows that hold the anomalies with the default ``trim`` (0.776,
    IForest 0.769); the default ``trim`` on normal rows scores 0.872 (KNN 0.868).
    ``docs/results.md`` has the tables.

    Parameters
    ----------
    contamination : float in (0, 0.5], default=0.1
        Expected proportion of outliers in the training data; sets ``threshold_`` (PyOD's
        percentile rule on ``decision_scores_``) and so ``labels_`` and ``predict``. It does
        not change the scores. "auto" and None are refused: COREL has no threshold of its own
        in PyOD's terms.
    encoder : estimator or None, default=None
        Unfitted encoder (normally a :class:`~corel_sklearn.TopoAutoencoder`), cloned at fit.
        None builds :func:`~corel_sklearn.tabular_encoder` sized to the training
        data: one branch of 128 dimensions, eta = 2, lambda = 20, about 300 optimizer steps.
    n_steps : int, "auto" or None, default=None
        Optimizer steps of the default encoder (``tabular_encoder``'s ``n_steps``); None is
        its default, 300. Only with ``encoder=None``: a given encoder keeps its own training
        length.
    scoring : {"knn_distance", "count"}, default="knn_distance"
        "knn_distance": the distance to the ``n_neighbors``-th nearest training code, which
        scored higher on ADBench. "count": the paper's ball count at ``radius``; equal counts
        are ordered by that distance, mapped into ``[0, 1)``, so the score is
        ``-count + d / (d + radius)`` and ``labels_`` holds ``contamination`` of the training
        samples even where many counts tie.
    n_neighbors : int, default=5
        Which neighbour the distance is measured to (1 = the nearest); needs
        ``n_neighbors + 1`` training samples.
    radius : float or None, default=None
        Ball radius of ``scoring="count"``; None uses the encoder's ``eta`` (the paper's
        r = eta).
    trim : float in [0, 0.5), default=0.2
        Share of the training rows the encoder does not train on: those farthest from their
        ``trim_neighbors``-th nearest neighbour (l2, standardised input, exact). They are
        scored against the kept rows' codes like new data. 0 trains on every row: use it when
        the training rows are known to be normal (novelty detection, ADBench's
        semi-supervised setting). The default 0.2 is the share that serves both on ADBench:
        more trimming helps on rows that hold anomalies and costs on normal rows
        (``docs/results.md``). Independent of ``contamination``, which only sets the
        threshold.
    trim_neighbors : int or "auto", default="auto"
        Which neighbour ranks the rows for ``trim`` (1 = the nearest); lowered to
        ``n_samples - 1`` on tiny data. "auto": one per 20 training rows, at least 100
        (:func:`~corel_sklearn.tabular_trim_neighbors`). Anomalies often come
        in tight groups, each with close neighbours among the others; only a neighbourhood
        larger than the group sees it as sparse, and the groups grow with the rows. Beyond
        7,000 training rows the neighbours are sought among 7,000 rows drawn at random
        (seeded by ``random_state``), so that trimming costs ``n_samples x 7,000``
        distances, not ``n_samples ** 2`` ("auto" is then 350).
    standardize : bool, default=True
        Fit a :class:`~sklearn.preprocessing.StandardScaler` on the training data and apply
        it before encoding: PyOD users pass raw features of very different scales, and the
        network trains best on standardised inputs. Set False when ``X`` is already scaled.
    random_state : int or None, default=None
        Seeds the default encoder, or a given encoder whose own ``random_state`` is None.
    n_jobs : int or None, default=None
        Threads of the default encoder's training (as :class:`~corel_sklearn.TopoAutoencoder`'s
        ``n_jobs``: None keeps torch's setting) and of the trimming and scoring kernels (None
        or -1: all allowed); 0 is refused. On a CPU that other processes keep busy, 1 trains
        many times faster. A given ``encoder`` keeps its own ``n_jobs``.

    Attributes
    ----------
    decision_scores_ : ndarray of shape (n_samples,)
        Outlier scores of the training data, each kept sample scored against the *other*
        kept samples (leave-one-out) and each trimmed one against all kept samples, so they
        are on the scale of ``decision_function`` for new data. Higher is more abnormal.
    threshold_ : float
        The ``1 - contamination`` percentile of ``decision_scores_``.
    labels_ : ndarray of shape (n_samples,)
        0 (inlier) or 1 (outlier) for the training data.
    scaler_ : StandardScaler or None
        The fitted scaler (None when ``standardize=False``).
    encoder_ : estimator
        The fitted encoder.
    trim_neighbors_ : int
        The neighbour that ranked the rows for ``trim`` (``trim_neighbors`` resolved).
    training_rows_ : ndarray of int64
        Indices of the training rows the encoder trained on and the scores count as
        neighbours (all rows when ``trim=0``).
    ball_count_ : BallCountOneClass
        The fitted one-class model on the training codes.
    n_features_in_ : int
        Number of features seen during ``fit``.

    Warns
    -----
    ConvergenceWarning
        When the encoder stopped before its codes were organised at the scale eta (median
        death time outside ``[0.75, 1.25] * eta``, or its connectivity loss still falling),
        naming ``n_steps`` (or the ``encoder`` passed) and pointing at the caller's line.

    See Also
    --------
    corel_sklearn.tabular_encoder : The default encoder.
    corel_sklearn.TopoAutoencoder : The encoder.
    corel_sklearn.BallCountOneClass : The one-class model (scikit-learn conventions).
    corel_sklearn.model_selection.make_anomaly_scorer : Scores PyOD and scikit-learn
        detectors without inverting them.

    Notes
    -----
    A training sample is never its own neighbour (and never counts itself), so a training
    sample and a new sample at the same place get the same score and the threshold applies to
    both. Exact copies among the training rows still tie; with ``contamination=0.1`` about
    10 % of the training samples are labelled 1 unless such copies sit at the threshold.

    References
    ----------
    C. D. Hofer, R. Kwitt, M. Dixit, M. Niethammer, "Connectivity-Optimized Representation
    Learning via Persistent Homology", ICML 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.pyod import COREL
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(size=(100, 4)), rng.uniform(-8, 8, size=(6, 4))]
    >>> detector = COREL(contamination=0.05, random_state=0).fit(X)
    >>> bool(detector.labels_[-6:].mean() > detector.labels_[:100].mean())
    True
    >>> detector.predict(np.array([[0.0, 0.0, 0.0, 0.0], [20.0, 20.0, -20.0, 20.0]]))
    array([0, 1])
    """

    def __init__(self, contamination=0.1, *, encoder=None, n_steps=None,
                 scoring=TABULAR_SCORING, n_neighbors=TABULAR_N_NEIGHBORS, radius=None,
                 trim=TABULAR_TRIM, trim_neighbors="auto",
                 standardize=True, random_state=None, n_jobs=None):
        super().__init__(contamination=contamination)
        self.encoder = encoder
        self.n_steps = n_steps
        self.scoring = scoring
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.trim = trim
        self.trim_neighbors = trim_neighbors
        self.standardize = standardize
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        """Train the encoder on ``X`` and set the training scores, threshold and labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples, raw features.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted detector.
        """
        self._check_params()
        X = check_array(X, dtype=np.float64)
        needed = self.n_neighbors + 1
        n_kept = X.shape[0] - int(round(self.trim * X.shape[0]))
        if n_kept < needed:
            raise ValueError(
                f"COREL needs at least n_neighbors + 1 = {needed} training samples after "
                f"trim={self.trim!r} leaves out its share (each kept sample is scored "
                f"against the others), got {X.shape[0]} samples, {n_kept} kept; pass more "
                "samples, or lower n_neighbors or trim."
            )
        self._set_n_classes(y)
        self.n_features_in_ = X.shape[1]
        self.scaler_ = StandardScaler().fit(X) if self.standardize else None
        X = self._scaled(X)
        self.trim_neighbors_ = (tabular_trim_neighbors(X.shape[0])
                                if self.trim_neighbors == "auto" else self.trim_neighbors)
        self.training_rows_ = tabular_training_rows(
            X, self.trim, n_neighbors=self.trim_neighbors_, random_state=self.random_state,
            n_threads=threads_for_n_jobs(self.n_jobs))
        self.encoder_ = self._make_encoder(self.training_rows_.shape + X.shape[1:])
        codes = self._fit_encoder(X[self.training_rows_])
        radius = self.encoder_.eta if self.radius is None else self.radius
        # contamination="auto": PyOD's threshold_ replaces the ball count's own offset_, and
        # "auto" skips the leave-one-out pass a float contamination would run a second time.
        self.ball_count_ = BallCountOneClass(
            radius=radius, n_branches=self.encoder_.n_branches, scoring=self.scoring,
            n_neighbors=self.n_neighbors, contamination="auto", n_jobs=self.n_jobs,
        ).fit(codes)
        scores = np.empty(X.shape[0])
        scores[self.training_rows_] = self._anomaly_scores(None)
        trimmed = np.ones(X.shape[0], dtype=bool)
        trimmed[self.training_rows_] = False
        if trimmed.any():
            scores[trimmed] = self._anomaly_scores(self.encoder_.transform(X[trimmed]))
        self.decision_scores_ = scores
        self._process_decision_scores()
        return self

    def decision_function(self, X):
        """Anomaly scores of ``X`` (see ``scoring``). Higher is more abnormal.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, raw features (as passed to ``fit``).

        Returns
        -------
        anomaly_scores : ndarray of shape (n_samples,), float64
        """
        check_is_fitted(self, ["encoder_", "ball_count_"])
        X = check_array(X, dtype=np.float64)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but COREL was fitted with "
                f"{self.n_features_in_}."
            )
        return self._anomaly_scores(self.encoder_.transform(self._scaled(X)))

    def _anomaly_scores(self, codes):
        """Anomaly scores of ``codes``; None: of the training codes, each among the others."""
        model = self.ball_count_
        options = {"n_branches": model.n_branches_, "metric": model.metric,
                   "aggregation": model.aggregation, "n_threads": threads_for_n_jobs(self.n_jobs)}
        k = self.n_neighbors
        if codes is None:
            distances = leave_one_out_kth_neighbor_distances(model.anchors_, k, **options)
        else:
            distances = kth_neighbor_distances(codes, model.anchors_, k, **options)
        if self.scoring == "knn_distance":
            return distances
        if codes is None:
            counts = leave_one_out_ball_counts(model.anchors_, model.radius_, **options)
        else:
            counts = model.score_samples(codes)
        # Counts are integers and tie in large groups, so PyOD's percentile threshold would
        # label far fewer than `contamination` of the samples: equal counts are ordered by the
        # k-th neighbour distance, mapped into [0, 1) so that it never outweighs one count.
        return -counts + distances / (distances + model.radius_)

    def _scaled(self, X):
        X = X if self.scaler_ is None else self.scaler_.transform(X)
        return X.astype(np.float32)

    def _check_params(self):
        """Parameter errors at fit, before any training, in PyOD's and this class's terms."""
        c = self.contamination
        if c is None or isinstance(c, (str, bool)) or (
                isinstance(c, Real) and not 0 < c <= 0.5):
            raise ValueError(
                f"contamination must be a float in (0, 0.5], the expected share of outliers "
                f"in the training data (PyOD's convention), got {c!r}; COREL has no 'auto' "
                "threshold. If you do not know the share, keep the default 0.1 and rank by "
                "decision_function, which does not depend on it."
            )
        if self.n_jobs is not None and (
                isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, Integral)
                or self.n_jobs == 0):
            raise ValueError(
                f"n_jobs must be None, -1 (all cores) or a nonzero int, got {self.n_jobs!r}.")
        if self.scoring not in ("count", "knn_distance"):
            raise ValueError(
                f"scoring must be 'count' or 'knn_distance', got {self.scoring!r}.")
        k = self.n_neighbors
        if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
            raise ValueError(f"n_neighbors must be a positive int, got {k!r}.")
        m = self.trim_neighbors
        if not (isinstance(m, str) and m == "auto") and (
                isinstance(m, bool) or not isinstance(m, Integral) or m < 1):
            raise ValueError(f"trim_neighbors must be a positive int or 'auto', got {m!r}.")
        trim = self.trim
        if isinstance(trim, bool) or not isinstance(trim, Real) or not 0 <= trim < 0.5:
            raise ValueError(
                f"trim must be a float in [0, 0.5), the share of training rows the encoder "
                f"leaves out, got {trim!r}; use 0 when the training rows are all normal.")
        steps = self.n_steps
        if steps is not None and not (isinstance(steps, str) and steps == "auto") and (
                isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 1):
            raise ValueError(
                f"n_steps must be None, 'auto' or a positive int, got {steps!r}.")
        if self.encoder is not None and steps is not None:
            raise ValueError(
                f"n_steps={steps!r} sets the training of the default encoder, but encoder= "
                "is given: set that encoder's own training length (e.g. TopoAutoencoder's "
                "max_epochs) and leave n_steps=None."
            )

    def _fit_encoder(self, X):
        """Fit ``encoder_`` on ``X``; its ConvergenceWarning comes back in this class's terms."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            codes = self.encoder_.fit_transform(X)
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                warn(self._convergence_message(str(w.message), X), ConvergenceWarning)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return codes

    def _convergence_message(self, message, X):
        # The encoder names its own knob (max_epochs); keep its diagnosis, give ours.
        match = re.search(r"scale eta: (.*?)\. Increase", message, flags=re.DOTALL)
        what = match.group(1) if match else message
        steps = getattr(self.encoder_, "n_steps_", None)
        copies = 1.0 - len(np.unique(X, axis=0)) / len(X)
        if copies >= 0.25:
            # Exact copies share one code: their minimum-spanning-tree edges have length 0,
            # and no training length moves the median death time of such rows to eta.
            trimmed = (f" after trim={self.trim!r} kept the densest rows" if self.trim
                       else "")
            return (
                f"COREL's encoder stopped after {steps} optimizer steps before its codes were "
                f"organised at the scale eta: {what}. {100 * copies:.0f} % of the rows it "
                f"trained on{trimmed} are exact copies of another row, which share one code, "
                "so more training does not help; pass the rows without their copies (e.g. "
                "np.unique(X, axis=0)) or a smaller trim. Its anomaly scores may be less "
                "reliable."
            )
        if self.encoder is None:
            more = 2 * steps if steps else 2 * TABULAR_N_STEPS
            now = TABULAR_N_STEPS if self.n_steps is None else self.n_steps
            advice = f"pass a larger n_steps, e.g. COREL(n_steps={more}) (now {now!r})"
        else:
            advice = "train the encoder= you passed longer (e.g. a larger max_epochs)"
        return (
            f"COREL's encoder stopped after {steps} optimizer steps before its codes were "
            f"organised at the scale eta: {what}. Its anomaly scores may be less reliable; "
            f"{advice}."
        )

    def _make_encoder(self, shape):
        if self.encoder is None:
            steps = TABULAR_N_STEPS if self.n_steps is None else self.n_steps
            # n_jobs is this detector's thread count: the default encoder trains with it too,
            # so the advice of its busy-CPU note (n_jobs=1) is a knob this class has
            return tabular_encoder(shape[0], shape[1], random_state=self.random_state,
                                   n_steps=steps).set_params(n_jobs=self.n_jobs)
        encoder = clone(self.encoder)
        params = encoder.get_params()
        if "random_state" in params and params["random_state"] is None:
            encoder.set_params(random_state=self.random_state)
        for name in ("n_branches",) if self.radius is not None else ("n_branches", "eta"):
            if not hasattr(encoder, name):
                raise ValueError(
                    f"encoder must expose {name!r} (a TopoAutoencoder does); "
                    f"{type(encoder).__name__} does not."
                )
        return encoder
