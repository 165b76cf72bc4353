"""Outlier labels: the package's one reader of the two label conventions.

Two conventions exist: scikit-learn's (+1 inlier, -1 outlier) and PyOD's / ADBench's (0 normal,
1 anomaly). Every part of the package that reads outlier labels goes through
:func:`read_outlier_labels`: :class:`~corel_sklearn.model_selection.OneClassKFold`,
:class:`~corel_sklearn.model_selection.FitOnInliers`, the anomaly scorers (both ``y_true`` and
the check of what an estimator's ``predict`` returns),
:func:`~corel_sklearn.plotting.plot_roc_curves` and the one-class estimators' warning about
outlier labels their ``fit`` ignores.

The rule, in one place:

* ``{-1, +1}`` or only -1 is scikit-learn's convention; ``{0, 1}`` or only 0 is PyOD's.
* **A y made only of 1s marks no outlier**: it is read as all inliers (scikit-learn's +1) and
  names no convention. Under PyOD's convention it would mean "all anomalies", a set no one-class
  model can be fitted on and no metric can score; it is exactly what a training fold of
  :class:`~corel_sklearn.model_selection.OneClassKFold` looks like with +1/-1 labels. Pass
  ``label_convention="pyod"`` to read 1s as anomalies.
* Booleans (is True the inlier or the anomaly?), other values and non-numeric labels raise.

This module imports nothing from scikit-learn, so the estimators can use it without importing
:mod:`corel_sklearn.model_selection`.
"""

import numpy as np

__all__ = ["LABEL_CONVENTIONS", "detect_label_convention", "inlier_mask", "read_outlier_labels"]

#: scikit-learn: +1 inlier, -1 outlier. PyOD / ADBench: 0 normal, 1 anomaly.
LABEL_CONVENTIONS = {"sklearn": {1: True, -1: False}, "pyod": {0: True, 1: False}}


def read_outlier_labels(y, label_convention="auto"):
    """Which samples ``y`` marks as inliers, and under which convention.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Numeric outlier labels.
    label_convention : {"auto", "sklearn", "pyod"}, default="auto"
        "sklearn": +1 inlier, -1 outlier; "pyod": 0 normal, 1 anomaly; "auto": read from the
        values, an all-1 ``y`` being all inliers (see the module's rule).

    Returns
    -------
    is_inlier : ndarray of bool, shape (n_samples,)
    convention : {"sklearn", "pyod"} or None
        None for an all-1 ``y`` under "auto" (and for an empty ``y``): such labels name no
        convention.

    Raises
    ------
    ValueError
        For booleans, non-numeric or other values, labels that are not 1-D, and labels outside
        the convention named by ``label_convention``.

    Examples
    --------
    >>> from corel_sklearn._outlier_labels import read_outlier_labels
    >>> read_outlier_labels([0, 1, 0])
    (array([ True, False,  True]), 'pyod')
    >>> read_outlier_labels([1, 1])
    (array([ True,  True]), None)
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"Outlier labels must be 1-D, got shape {y.shape}.")
    if label_convention not in ("auto", *LABEL_CONVENTIONS):
        raise ValueError(
            f"label_convention must be 'auto', 'sklearn' or 'pyod', got {label_convention!r}."
        )
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
    if label_convention == "auto":
        if values <= {-1, 1} and -1 in values:
            label_convention = "sklearn"
        elif values <= {0, 1} and 0 in values:
            label_convention = "pyod"
        elif values <= {1}:  # all 1s (or nothing): no outlier, no convention
            return np.ones(y.shape, dtype=bool), None
        else:
            raise ValueError(
                f"Outlier labels must be +1 inlier / -1 outlier (scikit-learn) or 0 normal / "
                f"1 anomaly (PyOD/ADBench); got the values {sorted(values)[:10]}."
            )
    mapping = LABEL_CONVENTIONS[label_convention]
    if not values <= set(mapping):
        raise ValueError(
            f"label_convention={label_convention!r} expects labels in {sorted(mapping)}, got "
            f"{sorted(values)[:10]}."
        )
    inlier_label = next(label for label, is_inlier in mapping.items() if is_inlier)
    return y == inlier_label, label_convention


def detect_label_convention(y):
    """Which convention the labels ``y`` follow: ``"sklearn"`` or ``"pyod"``.

    ``{-1, +1}`` (or only -1) is scikit-learn's (+1 inlier, -1 outlier); ``{0, 1}`` (or only
    0) is PyOD/ADBench's (0 normal, 1 anomaly). A ``y`` made only of 1s marks no outlier and
    names no convention (see :func:`inlier_mask`): asked for its convention, it raises.

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
    _, convention = read_outlier_labels(y)
    if convention is None:
        raise ValueError(
            "The labels are all 1, which names no convention: all inliers under "
            "scikit-learn's (+1 inlier, -1 outlier), all anomalies under PyOD's (0 normal, "
            "1 anomaly). corel-sklearn reads them as all inliers; pass "
            "label_convention='sklearn' or 'pyod' to say which."
        )
    return convention


def inlier_mask(y, label_convention="auto"):
    """Boolean mask of the inliers (normal samples) among the labels ``y``.

    The package's one reading of outlier labels: +1/-1 (scikit-learn, +1 inlier) and 0/1
    (PyOD/ADBench, 1 anomaly) are told apart by their values; **a y made only of 1s marks no
    outlier** (all inliers, as in a training fold of
    :class:`~corel_sklearn.model_selection.OneClassKFold` with +1/-1 labels; under PyOD's
    convention it would be all anomalies, which nothing can be fitted on or scored with):
    pass ``label_convention="pyod"`` to read 1s as anomalies. Booleans and other values
    raise.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Outlier labels.
    label_convention : {"auto", "sklearn", "pyod"}, default="auto"
        "sklearn": +1 inlier, -1 outlier; "pyod": 0 normal, 1 anomaly; "auto": read from the
        values as above.

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
    >>> inlier_mask([1, 1]), inlier_mask([1, 1], label_convention="pyod")
    (array([ True,  True]), array([False, False]))
    """
    return read_outlier_labels(y, label_convention)[0]
