"""Anomaly-detection scorers that read either label convention and never invert the AUROC."""

import numpy as np
from sklearn.base import is_outlier_detector
from sklearn.metrics import average_precision_score, roc_auc_score

from corel_sklearn._outlier_labels import inlier_mask, read_outlier_labels
from corel_sklearn.model_selection._fit_on_inliers import FitOnInliers

_METRICS = {"roc_auc": roc_auc_score, "average_precision": average_precision_score}
# What a higher ``decision_function`` means under each convention of ``predict``'s labels.
_HIGHER_MEANS = {"pyod": "anomaly", "sklearn": "inlier"}


def is_pyod_detector(estimator):
    """Whether ``estimator`` (or the last step of a pipeline) follows PyOD's conventions.

    True for subclasses of ``pyod.models.base.BaseDetector`` (when pyod is importable) and for
    fitted estimators carrying PyOD's ``decision_scores_`` and ``threshold_``: their
    ``decision_function`` is higher for more abnormal samples and ``predict`` returns
    0 (normal) / 1 (anomaly).

    Parameters
    ----------
    estimator : estimator instance

    Returns
    -------
    bool

    Examples
    --------
    >>> from sklearn.ensemble import IsolationForest
    >>> from corel_sklearn.model_selection import is_pyod_detector
    >>> is_pyod_detector(IsolationForest())
    False
    """
    final = _final_step(estimator)
    try:
        from pyod.models.base import BaseDetector
    except ImportError:  # pyod is optional: fall back on its fitted attributes
        pass
    else:
        if isinstance(final, BaseDetector):
            return True
    return hasattr(final, "decision_scores_") and hasattr(final, "threshold_")


def _final_step(estimator):
    """The estimator that scores: the last step of a pipeline, the model inside FitOnInliers."""
    while True:
        if hasattr(estimator, "steps") and estimator.steps:
            estimator = estimator.steps[-1][1]
        elif isinstance(estimator, FitOnInliers):
            estimator = getattr(estimator, "estimator_", estimator.estimator)
        else:
            return estimator


def _declared_convention(estimator):
    """"pyod", "sklearn" or None: the convention the estimator's type declares.

    The only source of a score direction under ``higher_score="auto"``: a PyOD detector, or a
    scikit-learn outlier detector (its tags' ``estimator_type``, or the older
    ``_estimator_type`` attribute, is "outlier_detector"). Any other estimator, a classifier
    whose ``predict`` happens to return 0/1 or -1/+1 among them, declares nothing.
    """
    if is_pyod_detector(estimator):
        return "pyod"  # PyOD 2.x/3.x detectors also carry scikit-learn's outlier tag
    final = _final_step(estimator)
    for candidate in (estimator, final):
        try:
            if is_outlier_detector(candidate):
                return "sklearn"
        except (AttributeError, TypeError):  # not a scikit-learn estimator: no tags to read
            pass
        if getattr(candidate, "_estimator_type", None) == "outlier_detector":
            return "sklearn"
    return None


def _predicted_convention(labels):
    """"pyod", "sklearn" or None (only 1s: no convention) from the labels ``predict`` returned."""
    try:
        return read_outlier_labels(labels)[1]
    except ValueError as exc:
        raise ValueError(f"The estimator's predict returned unusable labels: {exc}") from None


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
        y_true = np.asarray(y_true)
        is_anomaly = ~inlier_mask(y_true, self.label_convention)
        if is_anomaly.all() or not is_anomaly.any():
            kind = "anomalies" if is_anomaly.all() else "inliers"
            hint = (" (a y made only of 1s marks no outlier; pass label_convention='pyod' if its"
                    " 1s are anomalies)" if self.label_convention == "auto"
                    and y_true.size and np.all(y_true == 1) else "")
            raise ValueError(
                f"y_true holds only {kind}{hint}; {self.metric} needs both inliers and "
                "anomalies (with cross-validation, OneClassKFold puts both in every test fold)."
            )
        anomaly_score = anomaly_scores(estimator, X, higher_score=self.higher_score, **kwargs)
        if self.positive == "anomaly":
            return float(_METRICS[self.metric](is_anomaly, anomaly_score))
        return float(_METRICS[self.metric](~is_anomaly, -anomaly_score))


def anomaly_scores(estimator, X, *, higher_score="auto", **kwargs):
    """Scores of a fitted detector on ``X`` oriented so that higher means more abnormal.

    The direction is never guessed. With ``higher_score="auto"`` it comes from the estimator's
    type: a PyOD detector (see :func:`is_pyod_detector`; ``decision_function`` higher = more
    abnormal) or a scikit-learn outlier detector (``estimator_type == "outlier_detector"`` in
    its tags, e.g. ``IsolationForest``, ``OneClassSVM``, ``LocalOutlierFactor(novelty=True)``,
    :class:`~corel_sklearn.BallCountOneClass`; higher = more normal), as the last step of a
    pipeline or inside :class:`FitOnInliers` too. Any other estimator raises, whatever its
    ``predict`` returns: a classifier's 0/1 or -1/+1 are its classes, not a convention. The
    direction is then checked against ``predict``: its labels must follow the declared
    convention, and the samples it flags must score as more abnormal, on average, than those it
    keeps, or the call raises.

    Parameters
    ----------
    estimator : fitted estimator
        With ``decision_function`` (or ``score_samples``, for scikit-learn's convention) and,
        for the check under ``higher_score="auto"``, ``predict``.
    X : array-like of shape (n_samples, n_features)
    higher_score : {"auto", "inlier", "anomaly"}, default="auto"
        What a higher ``decision_function`` means. "auto" reads it from the estimator's type
        and calls ``predict(X)`` once more to check it (as expensive as scoring); an explicit
        value serves any estimator, skips that call, and is still refused when it contradicts
        the estimator's type (e.g. "inlier" for a PyOD detector).
    **kwargs
        Passed to the scoring method.

    Returns
    -------
    anomaly_score : ndarray of shape (n_samples,), float64

    Raises
    ------
    ValueError
        When the direction cannot be known (an estimator of neither kind under "auto") or
        ``predict`` contradicts it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> from corel_sklearn.model_selection import anomaly_scores
    >>> X = np.r_[np.zeros((20, 1)), [[5.0]]] + np.arange(21)[:, None] * 0.01
    >>> model = IsolationForest(contamination=0.05, random_state=0).fit(X)
    >>> int(np.argmax(anomaly_scores(model, X)))  # the far point is the most abnormal
    20
    """
    if higher_score not in ("auto", "inlier", "anomaly"):
        raise ValueError(
            f"higher_score must be 'auto', 'inlier' or 'anomaly', got {higher_score!r}."
        )
    name = type(_final_step(estimator)).__name__
    declared = _declared_convention(estimator)
    labels = convention = None
    if higher_score == "auto":
        if declared is None:
            raise ValueError(
                f"Cannot tell whether higher scores of {name} mean inlier or anomaly: it is "
                "neither a scikit-learn outlier detector (estimator_type 'outlier_detector') "
                "nor a PyOD detector, and the labels its predict returns do not say (0/1 or "
                "-1/+1 may be any classes). Pass higher_score='inlier' (higher = more normal, "
                "scikit-learn's convention) or 'anomaly' (higher = more abnormal, PyOD's "
                "decision_function)."
            )
        convention = declared
        labels = _predict_labels(estimator, X, name)
        predicted = _predicted_convention(labels) if labels is not None else None
        if predicted is not None and predicted != declared:
            raise ValueError(
                f"{name} is a {_KIND[declared]}, but its predict returned "
                f"{_KIND[predicted]} labels; its scores cannot be oriented safely. Pass "
                "higher_score='inlier' or 'anomaly' explicitly."
            )
        higher = _HIGHER_MEANS[declared]
    else:
        higher = higher_score
        if declared is not None and higher != _HIGHER_MEANS[declared]:
            raise ValueError(
                f"higher_score={higher_score!r} contradicts {name}, a {_KIND[declared]} whose "
                f"decision_function is higher for the more {_HIGHER_MEANS[declared]}-like "
                "samples; pass higher_score='auto'."
            )
    scores = _raw_scores(estimator, X, higher, name, **kwargs)
    anomaly_score = -scores if higher == "inlier" else scores
    if labels is not None:
        _check_agreement(anomaly_score, labels, convention, name)
    return anomaly_score


_KIND = {"pyod": "PyOD detector (0 normal / 1 anomaly)",
         "sklearn": "scikit-learn outlier detector (+1 inlier / -1 outlier)"}


def _predict_labels(estimator, X, name):
    if not hasattr(estimator, "predict"):
        return None
    labels = np.asarray(estimator.predict(X))
    if labels.ndim != 1 or labels.dtype.kind not in "iuf":
        raise ValueError(
            f"{name}.predict returned shape {labels.shape}, dtype {labels.dtype}; an outlier "
            "detector returns one numeric label per sample."
        )
    return labels


def _raw_scores(estimator, X, higher, name, **kwargs):
    # PyOD detectors score with decision_function only; scikit-learn's score_samples has the
    # same direction as its decision_function, so either serves.
    methods = ("decision_function",) if higher == "anomaly" else (
        "decision_function", "score_samples")
    for method in methods:
        if hasattr(estimator, method):
            scores = np.asarray(getattr(estimator, method)(X, **kwargs), dtype=np.float64)
            break
    else:
        raise ValueError(f"{name} has no {' or '.join(methods)}.")
    if scores.ndim != 1:
        raise ValueError(
            f"{name}.{method} returned shape {scores.shape}; a one-class scorer needs one "
            "score per sample."
        )
    return scores


def _check_agreement(anomaly_score, labels, convention, name):
    """The samples predict flags must score as more abnormal than those it keeps."""
    flagged = labels == (1 if convention == "pyod" else -1)
    if flagged.all() or not flagged.any():
        return
    if anomaly_score[flagged].mean() < anomaly_score[~flagged].mean():
        raise ValueError(
            f"{name}'s predict and its scores disagree: under its {convention} convention the "
            "samples it flags score as less abnormal than those it keeps. Refusing to report "
            "an inverted metric; pass higher_score='inlier' or 'anomaly' explicitly."
        )


def make_anomaly_scorer(metric="roc_auc", *, label_convention="auto", higher_score="auto",
                        positive="anomaly"):
    """A scorer for outlier detectors that reads both label conventions correctly.

    The scorer (``scorer(estimator, X, y_true)``, usable as ``scoring=`` in ``GridSearchCV``
    and ``cross_validate``) maps ``y_true`` to anomaly / inlier once, with
    :func:`inlier_mask` (+1 inlier / -1 outlier of scikit-learn, or 0 normal / 1 anomaly of
    PyOD/ADBench, detected; anything else, booleans or all-ones labels raise), and orients the
    estimator's scores with :func:`anomaly_scores`, which reads the direction from the
    estimator's type (PyOD detector or scikit-learn outlier detector), checks it against its
    ``predict`` and raises where it cannot know. It never returns ``1 - AUROC``.

    Parameters
    ----------
    metric : {"roc_auc", "average_precision"}, default="roc_auc"
        ``roc_auc_score`` (the same whichever class is positive) or
        ``average_precision_score``, which depends on the positive class: see ``positive``.
    label_convention : {"auto", "sklearn", "pyod"}, default="auto"
        How to read ``y_true``.
    higher_score : {"auto", "inlier", "anomaly"}, default="auto"
        What a higher ``decision_function`` means. "auto": read from the estimator's type
        (a PyOD detector: higher = anomaly; a scikit-learn outlier detector: higher =
        inlier; anything else raises) and checked against ``predict``, which costs one more
        pass over the test fold; "inlier" or "anomaly" serve any estimator, skip that pass
        and are refused when they contradict the estimator's type.
    positive : {"anomaly", "inlier"}, default="anomaly"
        The positive class of average precision: anomalies (as PyOD and ADBench report it)
        ranked by anomaly score, or inliers ranked by inlier score.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y_true) -> float``, higher is better.

    See Also
    --------
    anomaly_scores : The oriented scores the scorer uses.

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
