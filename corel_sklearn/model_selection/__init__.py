"""Model selection for one-class models: inlier-only folds and convention-safe scorers."""

from corel_sklearn.model_selection._labels import (
    LABEL_CONVENTIONS,
    detect_label_convention,
    inlier_mask,
)
from corel_sklearn.model_selection._scorer import (
    anomaly_scores,
    is_pyod_detector,
    make_anomaly_scorer,
)
from corel_sklearn.model_selection._split import OneClassKFold
from corel_sklearn.model_selection._validation import FitOnInliers, cross_val_anomaly_scores

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
