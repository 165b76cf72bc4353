"""The one place that uses scikit-learn's private API.

scikit-learn >= 1.6 is required (``validate_data`` became a function there). Everything the
package needs from private modules or methods (``_fit_context``, parameter constraints and
their check, feature-name and sample-count helpers) is reached here and only here, so a change
in scikit-learn's private layout is mended in one file.
"""

from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in, _num_samples, validate_data

__all__ = [
    "Interval",
    "StrOptions",
    "_check_feature_names_in",
    "_fit_context",
    "_num_samples",
    "_safe_indexing",
    "check_parameter_constraints",
    "validate_data",
]


def check_parameter_constraints(estimator):
    """Check ``estimator``'s parameters against its ``_parameter_constraints``, as ``fit`` does.

    Raises scikit-learn's ``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``)
    naming the parameter, without fitting anything.
    """
    estimator._validate_params()
