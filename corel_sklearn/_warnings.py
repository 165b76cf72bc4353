"""Warnings that point at the user's line: the package's one way to warn.

A warning raised deep inside ``fit`` (through scikit-learn's ``_fit_context``, a Pipeline, a
PyOD wrapper, the training engine) should be attributed to the line of the user's code that
started it, not to ``sklearn/base.py``. :func:`warn` walks the stack and skips every frame of
corel-sklearn and of the libraries that call into it (scikit-learn, joblib, PyOD), instead of
hand-counted ``stacklevel`` values that break whenever a call path changes.
"""

import os
import sys
import warnings

__all__ = ["user_stacklevel", "warn"]


def _package_dir(name):
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) + os.sep if path else None


_OWN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Libraries whose frames sit between the user's call and ours.
_LIBRARIES = ("sklearn", "joblib", "pyod")


def _internal_dirs():
    dirs = [_OWN_DIR]
    dirs += [d for d in map(_package_dir, _LIBRARIES) if d is not None]
    return tuple(dirs)


def user_stacklevel():
    """The ``stacklevel`` that makes a warning issued by the caller point at the user's frame.

    Counts the frames above the caller that belong to corel-sklearn, scikit-learn, joblib or
    PyOD; the first frame outside them is the user's. When every frame is internal (a test
    runner calling the package directly) the outermost frame is used.

    Returns
    -------
    stacklevel : int
        For ``warnings.warn(..., stacklevel=user_stacklevel())`` called by the function that
        called ``user_stacklevel``.
    """
    internal = _internal_dirs()
    frame = sys._getframe(1)  # the function that will call warnings.warn
    level = 1
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(internal) and not filename.startswith("<frozen"):
            return level
        frame = frame.f_back
        level += 1
    return max(1, level - 1)


def warn(message, category=UserWarning):
    """``warnings.warn`` attributed to the first frame outside corel-sklearn and its callers.

    Parameters
    ----------
    message : str
    category : type of Warning, default=UserWarning

    Examples
    --------
    >>> import warnings
    >>> from corel_sklearn._warnings import warn
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("codes far from eta")
    >>> str(caught[0].message)
    'codes far from eta'
    """
    # user_stacklevel counts from this function's frame, the one calling warnings.warn.
    warnings.warn(message, category, stacklevel=user_stacklevel())
