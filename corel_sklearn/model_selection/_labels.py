"""The two outlier-label conventions, told apart without guessing."""

import numpy as np

#: scikit-learn: +1 inlier, -1 outlier. PyOD / ADBench: 0 normal, 1 anomaly.
LABEL_CONVENTIONS = {"sklearn": {1: True, -1: False}, "pyod": {0: True, 1: False}}


def detect_label_convention(y):
    """Which convention the labels ``y`` follow: ``"sklearn"`` or ``"pyod"``.

    ``{-1, +1}`` (or only -1) is scikit-learn's (+1 inlier, -1 outlier); ``{0, 1}`` (or only
    0) is PyOD/ADBench's (0 normal, 1 anomaly). Anything else raises, and so does a ``y`` made
    only of 1s, which means "all inliers" in one convention and "all anomalies" in the other.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Numeric labels.

    Returns
    -------
    convention : {"sklearn", "pyod"}

    Raises
    ------
    ValueError
        For booleans (is True the inlier or the anomaly?), non-numeric or other values, and
        all-ones labels.

    Examples
    --------
    >>> from corel_sklearn.model_selection import detect_label_convention
    >>> detect_label_convention([1, -1, 1])
    'sklearn'
    >>> detect_label_convention([0, 0, 1])
    'pyod'
    """
    y = np.asarray(y)
    if y.dtype == bool:
        raise ValueError(
            "Boolean outlier labels are ambiguous (is True the inlier or the anomaly?); "
            "convert them to +1 inlier / -1 outlier (scikit-learn) or 0 normal / 1 anomaly "
            "(PyOD), e.g. np.where(is_anomaly, 1, 0)."
        )
    if y.dtype.kind not in "iuf":
        raise ValueError(
            f"Outlier labels must be numeric (+1/-1 or 0/1), got dtype {y.dtype}."
        )
    values = set(np.unique(y).tolist())
    if values <= {-1, 1} and -1 in values:
        return "sklearn"
    if values <= {0, 1} and 0 in values:
        return "pyod"
    if values == {1}:
        raise ValueError(
            "The labels are all 1: all inliers under scikit-learn's convention (+1 inlier, "
            "-1 outlier) but all anomalies under PyOD's (0 normal, 1 anomaly). Pass "
            "label_convention='sklearn' or 'pyod'."
        )
    raise ValueError(
        f"Outlier labels must be +1 inlier / -1 outlier (scikit-learn) or 0 normal / 1 "
        f"anomaly (PyOD/ADBench); got the values {sorted(values)[:10]}."
    )


def inlier_mask(y, label_convention="auto"):
    """Boolean mask of the inliers (normal samples) among the labels ``y``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Outlier labels.
    label_convention : {"auto", "sklearn", "pyod"}, default="auto"
        "sklearn": +1 inlier, -1 outlier; "pyod": 0 normal, 1 anomaly; "auto": detected by
        :func:`detect_label_convention`.

    Returns
    -------
    is_inlier : ndarray of bool, shape (n_samples,)

    Examples
    --------
    >>> from corel_sklearn.model_selection import inlier_mask
    >>> inlier_mask([1, -1, 1])
    array([ True, False,  True])
    >>> inlier_mask([0, 1, 0])
    array([ True, False,  True])
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"Outlier labels must be 1-D, got shape {y.shape}.")
    if label_convention == "auto":
        label_convention = detect_label_convention(y)
    if label_convention not in LABEL_CONVENTIONS:
        raise ValueError(
            f"label_convention must be 'auto', 'sklearn' or 'pyod', got {label_convention!r}."
        )
    mapping = LABEL_CONVENTIONS[label_convention]
    if y.dtype == bool or y.dtype.kind not in "iuf" or not np.isin(y, list(mapping)).all():
        raise ValueError(
            f"label_convention={label_convention!r} expects labels in {sorted(mapping)}, got "
            f"{sorted(set(np.unique(y).tolist()))[:10]}."
        )
    inlier_label = next(label for label, is_inlier in mapping.items() if is_inlier)
    return y == inlier_label
