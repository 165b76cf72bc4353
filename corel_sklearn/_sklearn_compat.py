"""The one place that imports scikit-learn's private API.

scikit-learn >= 1.6 is required (``validate_data`` became a function there). Everything the
package needs from private modules (``_fit_context``, parameter constraints, feature-name and
sample-count helpers) is imported here and only here, so a change in scikit-learn's private
layout is mended in one file.
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
    "validate_data",
]
