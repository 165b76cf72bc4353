"""What every corel-sklearn estimator shares: the link from its HTML repr to its API page, and
the warning when a one-class fit is handed outlier labels it would ignore."""

import warnings

import numpy as np

# The documentation site; setup.cfg's project_urls["Documentation"] names the same address.
DOCS_URL = "https://corel-sklearn.github.io/corel-sklearn/"


class DocLinkMixin:
    """Points the "?" icon of the estimator's HTML repr (Jupyter) at its page in our API docs.

    scikit-learn's repr links to ``_doc_link_template`` filled by
    ``_doc_link_url_param_generator`` for classes whose module starts with
    ``_doc_link_module``; subclasses defined elsewhere get no link, as in scikit-learn.
    """

    _doc_link_module = "corel_sklearn"
    _doc_link_template = DOCS_URL + "generated/corel_sklearn.{estimator_name}.html"

    def _doc_link_url_param_generator(self):
        return {"estimator_name": type(self).__name__}


def warn_if_outlier_labels(estimator, y):
    """Warn when ``y``, which one-class ``fit`` ignores, marks some training samples as outliers.

    ``GridSearchCV(refit=True)`` refits the best model on all of ``X`` with ``y``, even when
    :class:`~corel_sklearn.model_selection.OneClassKFold` kept the outliers out of every
    training fold; the model would take them in silently. Only labels in one of the two outlier
    conventions with both values present are recognised (+1/-1 of scikit-learn, 0/1 of PyOD).
    """
    if y is None:
        return
    try:
        labels = np.asarray(y)
        values = set(np.unique(labels).tolist()) if labels.ndim == 1 else set()
    except (TypeError, ValueError):
        return
    if values == {-1, 1}:
        n_outliers, convention = int(np.sum(labels == -1)), "-1 of +1/-1 labels"
    elif values == {0, 1}:
        n_outliers, convention = int(np.sum(labels == 1)), "1 of PyOD's 0/1 labels"
    else:
        return
    name = type(estimator).__name__
    warnings.warn(
        f"{name}.fit ignores y, but y marks {n_outliers} of its {labels.size} samples as "
        f"outliers ({convention}): they are used for training like the others. To fit on the "
        "inliers only (e.g. under GridSearchCV(refit=True) with OneClassKFold), wrap the model "
        "in corel_sklearn.model_selection.FitOnInliers, or pass only the inliers.",
        UserWarning,
        stacklevel=4,  # past fit and scikit-learn's _fit_context wrapper
    )
