"""What every corel-sklearn estimator shares: the link from its HTML repr to its API page, and
the warning when a one-class fit is handed outlier labels it would ignore."""

from corel_sklearn._outlier_labels import read_outlier_labels
from corel_sklearn._warnings import warn

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
    training fold; the model would take them in silently. ``y`` is read by the package's one
    label reader (:func:`~corel_sklearn.model_selection.inlier_mask`): +1/-1 of scikit-learn,
    0/1 of PyOD, and a ``y`` made only of 1s marks no outlier. A ``y`` that is not outlier
    labels in either convention (class labels, booleans, strings) is none of this method's
    business and passes silently. For one-class estimators only: a transformer or classifier
    fed 0/1 classes must not call it.
    """
    if y is None:
        return
    try:
        is_inlier, convention = read_outlier_labels(y)
    except (TypeError, ValueError):  # not outlier labels
        return
    if is_inlier.all():
        return
    labels = "-1 of +1/-1 labels" if convention == "sklearn" else "1 of PyOD's 0/1 labels"
    warn(
        f"{type(estimator).__name__}.fit ignores y, but y marks {int((~is_inlier).sum())} of "
        f"its {is_inlier.size} samples as outliers ({labels}): they are used for training like "
        "the others. To fit on the inliers only (e.g. under GridSearchCV(refit=True) with "
        "OneClassKFold), wrap the model in corel_sklearn.model_selection.FitOnInliers, or pass "
        "only the inliers.",
        UserWarning,
    )
