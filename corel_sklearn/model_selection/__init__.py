"""Model selection for one-class models: inlier-only folds and convention-safe scorers.

Outlier labels come in two conventions, scikit-learn's (+1 inlier, -1 outlier) and PyOD's /
ADBench's (0 normal, 1 anomaly); every tool here reads both, told apart by their values, with
one rule (:func:`inlier_mask`): **a y made only of 1s marks no outlier** (all inliers, which is
what a training fold of :class:`OneClassKFold` looks like with +1/-1 labels); pass
``label_convention="pyod"`` to read 1s as anomalies. Booleans and other values raise.

Scores are oriented by :func:`anomaly_scores`: the direction of ``decision_function`` comes from
the estimator's type (a PyOD detector: higher is more abnormal; a scikit-learn outlier detector:
higher is more normal), never from the labels its ``predict`` happens to return; for any other
estimator pass ``higher_score``.
"""

from corel_sklearn._outlier_labels import (
    LABEL_CONVENTIONS,
    detect_label_convention,
    inlier_mask,
)
from corel_sklearn.model_selection._fit_on_inliers import FitOnInliers
from corel_sklearn.model_selection._scorer import (
    anomaly_scores,
    is_pyod_detector,
    make_anomaly_scorer,
)
from corel_sklearn.model_selection._split import OneClassKFold
from corel_sklearn.model_selection._validation import cross_val_anomaly_scores

__all__ = [
    "FitOnInliers",
    "LABEL_CONVENTIONS",
    "OneClassKFold",
    "anomaly_scores",
    "cross_val_anomaly_scores",
    "detect_label_convention",
    "inlier_mask",
    "is_pyod_detector",
    "make_anomaly_scorer",
]
