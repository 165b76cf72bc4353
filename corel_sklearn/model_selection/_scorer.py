"""Anomaly-detection scorers that read either label convention and never invert the AUROC."""

import numpy as np
from sklearn.base import is_outlier_detector
from sklearn.metrics import average_precision_score, roc_auc_score

from corel_sklearn.model_selection._labels import inlier_mask

_METRICS = {"roc_auc": roc_auc_score, "average_precision": average_precision_score}


class AnomalyScorer:
    """Scorer ``scorer(estimator, X, y)`` built by :func:`make_anomaly_scorer`."""

    def __init__(self, metric, label_convention, higher_score, positive):
        self.metric = metric
        self.label_convention = label_convention
        self.higher_score = higher_score
        self.positive = positive

    def __repr__(self):
        return (f"make_anomaly_scorer(metric={self.metric!r}, label_convention="
                f"{self.label_convention!r}, higher_score={self.higher_score!r}, "
                f"positive={self.positive!r})")

    def __call__(self, estimator, X, y_true, **kwargs):
        is_anomaly = ~inlier_mask(np.asarray(y_true), self.label_convention)
        if is_anomaly.all() or not is_anomaly.any():
            kind = "anomalies" if is_anomaly.all() else "inliers"
            raise ValueError(
                f"y_true holds only {kind}; {self.metric} needs both inliers and anomalies "
                "(with cross-validation, OneClassKFold puts both in every test fold)."
            )
        anomaly_score = self._anomaly_scores(estimator, X, **kwargs)
        if self.positive == "anomaly":
            return float(_METRICS[self.metric](is_anomaly, anomaly_score))
        return float(_METRICS[self.metric](~is_anomaly, -anomaly_score))

    def _anomaly_scores(self, estimator, X, **kwargs):
        higher = self.higher_score
        if higher == "auto":
            if not is_outlier_detector(estimator):
                raise ValueError(
                    f"Cannot tell whether higher scores of {type(estimator).__name__} mean "
                    "inlier or anomaly: it is not a scikit-learn outlier detector. Pass "
                    "higher_score='inlier' (scikit-learn's convention) or 'anomaly' (PyOD's "
                    "decision_function)."
                )
            higher = "inlier"
        for method in ("decision_function", "score_samples"):
            if hasattr(estimator, method):
                scores = np.asarray(getattr(estimator, method)(X, **kwargs), dtype=np.float64)
                break
        else:
            raise ValueError(
                f"{type(estimator).__name__} has neither decision_function nor score_samples."
            )
        if scores.ndim != 1:
            raise ValueError(
                f"The estimator's {method} returned shape {scores.shape}; a one-class scorer "
                "needs one score per sample."
            )
        return -scores if higher == "inlier" else scores


def make_anomaly_scorer(metric="roc_auc", *, label_convention="auto", higher_score="auto",
                        positive="anomaly"):
    """A scorer for outlier detectors that reads both label conventions correctly.

    The scorer (``scorer(estimator, X, y_true)``, usable as ``scoring=`` in ``GridSearchCV``
    and ``cross_validate``) maps ``y_true`` to anomaly / inlier once, with
    :func:`inlier_mask` (+1 inlier / -1 outlier of scikit-learn, or 0 normal / 1 anomaly of
    PyOD/ADBench, detected; anything else, booleans or all-ones labels raise), and orients the
    estimator's scores explicitly, so it never returns ``1 - AUROC`` silently.

    Parameters
    ----------
    metric : {"roc_auc", "average_precision"}, default="roc_auc"
        ``roc_auc_score`` (the same whichever class is positive) or
        ``average_precision_score``, which depends on the positive class: see ``positive``.
    label_convention : {"auto", "sklearn", "pyod"}, default="auto"
        How to read ``y_true``.
    higher_score : {"auto", "inlier", "anomaly"}, default="auto"
        What a higher ``decision_function`` (or ``score_samples``) means. "auto": "inlier" for
        scikit-learn outlier detectors (including pipelines ending in one), an error for
        anything else; pass "anomaly" for PyOD detectors.
    positive : {"anomaly", "inlier"}, default="anomaly"
        The positive class of average precision: anomalies (as PyOD and ADBench report it)
        ranked by anomaly score, or inliers ranked by inlier score.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y_true) -> float``, higher is better.

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn import BallCountOneClass
    >>> from corel_sklearn.model_selection import make_anomaly_scorer
    >>> model = BallCountOneClass(radius=1.0, n_branches=1).fit([[0.0], [0.5], [1.0]])
    >>> X, y = [[0.2], [0.7], [3.0], [9.0]], [0, 0, 1, 1]  # PyOD: 1 is an anomaly
    >>> make_anomaly_scorer("roc_auc")(model, X, y)
    1.0
    >>> make_anomaly_scorer("roc_auc")(model, X, [1, 1, -1, -1])  # scikit-learn labels
    1.0
    """
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {sorted(_METRICS)}, got {metric!r}.")
    if label_convention not in ("auto", "sklearn", "pyod"):
        raise ValueError(
            f"label_convention must be 'auto', 'sklearn' or 'pyod', got {label_convention!r}."
        )
    if higher_score not in ("auto", "inlier", "anomaly"):
        raise ValueError(
            f"higher_score must be 'auto', 'inlier' or 'anomaly', got {higher_score!r}."
        )
    if positive not in ("anomaly", "inlier"):
        raise ValueError(f"positive must be 'anomaly' or 'inlier', got {positive!r}.")
    return AnomalyScorer(metric, label_convention, higher_score, positive)
