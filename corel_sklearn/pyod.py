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

from corel_sklearn._warnings import warn
from corel_sklearn.ball_counting import leave_one_out_ball_counts
from corel_sklearn.estimators import BallCountOneClass, tabular_encoder

__all__ = ["COREL"]


class COREL(BaseDetector):
    """COREL (Hofer et al., ICML 2019) with PyOD's conventions, for PyOD and ADBench loops.

    ``fit(X)`` standardises the raw features, trains a
    :class:`~corel_sklearn.TopoAutoencoder` on them, and keeps the codes as the anchors of a
    :class:`~corel_sklearn.BallCountOneClass`. The anomaly score of a sample is minus the
    number of training codes within ``radius`` of its code, summed over the latent branches:
    **higher is more abnormal**, as everywhere in PyOD.

    Parameters
    ----------
    contamination : float in (0, 0.5], default=0.1
        Expected proportion of outliers in the training data; sets ``threshold_`` (PyOD's
        percentile rule on ``decision_scores_``) and so ``labels_`` and ``predict``.
    encoder : estimator or None, default=None
        Unfitted encoder (normally a :class:`~corel_sklearn.TopoAutoencoder`), cloned at fit.
        None builds :func:`~corel_sklearn.experiments.tabular_encoder` sized to the training
        data (an MLP with 8 branches of 2 dimensions, eta = 2, lambda = 20, about 300
        optimisation steps), the setting of the ODDS and ADBench runs.
    radius : float or None, default=None
        Ball radius; None uses the encoder's ``eta`` (the paper's r = eta).
    standardize : bool, default=True
        Fit a :class:`~sklearn.preprocessing.StandardScaler` on the training data and apply
        it before encoding: PyOD users pass raw features of very different scales, and the
        network trains best on standardised inputs. Set False when ``X`` is already scaled.
    random_state : int or None, default=None
        Seeds the default encoder, or a given encoder whose own ``random_state`` is None.
    n_jobs : int or None, default=None
        Threads of the ball count (see :class:`~corel_sklearn.BallCountOneClass`).

    Attributes
    ----------
    decision_scores_ : ndarray of shape (n_samples,)
        Outlier scores of the training data, each sample scored against the *other* training
        samples (leave-one-out), so they are on the scale of ``decision_function`` for new
        data. Higher is more abnormal.
    threshold_ : float
        The ``1 - contamination`` percentile of ``decision_scores_``.
    labels_ : ndarray of shape (n_samples,)
        0 (inlier) or 1 (outlier) for the training data.
    scaler_ : StandardScaler or None
        The fitted scaler (None when ``standardize=False``).
    encoder_ : estimator
        The fitted encoder.
    ball_count_ : BallCountOneClass
        The fitted ball count on the training codes.
    n_features_in_ : int
        Number of features seen during ``fit``.

    See Also
    --------
    corel_sklearn.TopoAutoencoder : The encoder.
    corel_sklearn.BallCountOneClass : The one-class model (scikit-learn conventions).
    corel_sklearn.model_selection.make_anomaly_scorer : Scores PyOD and scikit-learn
        detectors without inverting them.

    Notes
    -----
    The ball count of a training sample never counts the sample itself, so a training sample
    and a new sample at the same place get the same score and the threshold applies to both.
    COREL is built for the low-sample image regime with an encoder trained on plentiful
    auxiliary data; on tabular benchmarks it trails IsolationForest on average (see
    ``docs/results.md``).

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

    def __init__(self, contamination=0.1, *, encoder=None, n_steps="auto", radius=None,
                 standardize=True, random_state=None, n_jobs=None):
        super().__init__(contamination=contamination)
        self.encoder = encoder
        self.n_steps = n_steps
        self.radius = radius
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
        if X.shape[0] < 2:
            raise ValueError(
                f"COREL needs at least 2 training samples (each is scored against the "
                f"others), got {X.shape[0]}."
            )
        self._set_n_classes(y)
        self.n_features_in_ = X.shape[1]
        self.scaler_ = StandardScaler().fit(X) if self.standardize else None
        X = self._scaled(X)
        self.encoder_ = self._make_encoder(X.shape)
        codes = self._fit_encoder(X)
        radius = self.encoder_.eta if self.radius is None else self.radius
        # contamination="auto": PyOD's threshold_ replaces the ball count's own offset_, and
        # "auto" skips the leave-one-out pass a float contamination would run a second time.
        self.ball_count_ = BallCountOneClass(
            radius=radius, n_branches=self.encoder_.n_branches, contamination="auto",
            n_jobs=self.n_jobs,
        ).fit(codes)
        self.decision_scores_ = -leave_one_out_ball_counts(
            self.ball_count_.anchors_, radius, n_branches=self.ball_count_.n_branches,
            metric=self.ball_count_.metric, aggregation=self.ball_count_.aggregation,
        )
        self._process_decision_scores()
        return self

    def decision_function(self, X):
        """Anomaly scores of ``X``: minus the ball count of its code. Higher is more abnormal.

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
        return -self.ball_count_.score_samples(self.encoder_.transform(self._scaled(X)))

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
        steps = self.n_steps
        if not (isinstance(steps, str) and steps == "auto") and (
                isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 1):
            raise ValueError(f"n_steps must be 'auto' or a positive int, got {steps!r}.")
        if self.encoder is not None and not (isinstance(steps, str) and steps == "auto"):
            raise ValueError(
                f"n_steps={steps!r} sets the training of the default encoder, but encoder= "
                "is given: set that encoder's own training length (e.g. TopoAutoencoder's "
                "max_epochs) and leave n_steps='auto'."
            )

    def _fit_encoder(self, X):
        """Fit ``encoder_`` on ``X``; its ConvergenceWarning comes back in this class's terms."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            codes = self.encoder_.fit_transform(X)
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                warn(self._convergence_message(str(w.message)), ConvergenceWarning)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return codes

    def _convergence_message(self, message):
        # The encoder names its own knob (max_epochs); keep its diagnosis, give ours.
        match = re.search(r"scale eta: (.*?)\. Increase", message, flags=re.DOTALL)
        what = match.group(1) if match else message
        steps = getattr(self.encoder_, "n_steps_", None)
        if self.encoder is None:
            more = 2 * steps if steps else 2000
            advice = (f"pass a larger n_steps, e.g. COREL(n_steps={more}) (now "
                      f"{self.n_steps!r})")
        else:
            advice = "train the encoder= you passed longer (e.g. a larger max_epochs)"
        return (
            f"COREL's encoder stopped after {steps} optimizer steps before its codes were "
            f"organised at the scale eta: {what}. Its anomaly scores may be less reliable; "
            f"{advice}."
        )

    def _make_encoder(self, shape):
        if self.encoder is None:
            return tabular_encoder(shape[0], shape[1], random_state=self.random_state,
                                   n_steps=self.n_steps)
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
