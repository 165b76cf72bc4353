"""Codes that remember their encoder: the one place where "the radius follows eta" is decided.

:meth:`TopoAutoencoder.transform <corel_sklearn.TopoAutoencoder.transform>` returns its codes as
:class:`Codes`, a thin ``np.ndarray`` subclass carrying the ``eta`` and ``n_branches`` of the
encoder that made them. A one-class model fitted on them with ``radius="eta"`` (and
``n_branches="auto"``) reads them there, so in a ``Pipeline`` the radius follows the encoder's
``eta`` through ``set_params``, ``GridSearchCV``, ``clone``, ``cross_val_score``,
``FrozenEstimator`` and ``Pipeline(memory=...)`` caching, unless the user fixed ``radius``.
:func:`resolve_radius` and :func:`resolve_n_branches` are the only readers.
"""

import re

import numpy as np

# TopoAutoencoder's defaults, the paper's: the radius and branches assumed for input that does
# not say which encoder made it (a plain array).
DEFAULT_ETA = 2.0
DEFAULT_N_BRANCHES = 16

_CODE_COLUMN = re.compile(r"branch(\d+)_dim(\d+)")


_NUMPY_1 = np.lib.NumpyVersion(np.__version__) < "2.0.0"


class Codes(np.ndarray):
    """Latent codes of a :class:`~corel_sklearn.TopoAutoencoder`, marked with its settings.

    A plain ``float32`` array for every numpy and scikit-learn purpose, plus two attributes.
    They survive what keeps the codes as they are: row selection (``Z[rows]``, ``Z[a:b]``,
    ``Z[mask]``, ``Z[rows, :]``), ``copy()`` and pickling (``joblib`` and
    ``Pipeline(memory=...)`` included). Anything else (arithmetic, ufuncs, ``np.concatenate``,
    column slices, ``astype``, reshapes, transposes) gives an array that no longer says which
    encoder made it: a plain ``np.ndarray``, or for the few array methods that keep the class,
    a :class:`Codes` with both attributes None.

    Parameters
    ----------
    array : array-like of shape (n_samples, n_features)
        The codes (viewed, not copied).
    eta : float
        The encoder's connectivity scale (:attr:`TopoAutoencoder.eta`).
    n_branches : int
        The encoder's number of latent branches.

    Attributes
    ----------
    eta : float or None
    n_branches : int or None

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.estimators._codes import Codes
    >>> Z = Codes(np.zeros((4, 6), dtype=np.float32), eta=4.0, n_branches=2)
    >>> Z[1:3].eta, (Z * 2).__class__.__name__
    (4.0, 'ndarray')
    """

    eta = None
    n_branches = None

    def __new__(cls, array, *, eta, n_branches):
        codes = np.asarray(array).view(cls)
        codes.eta = float(eta)
        codes.n_branches = int(n_branches)
        return codes

    def __getitem__(self, key):
        result = super().__getitem__(key)
        if not isinstance(result, Codes):
            return result
        if self.eta is not None and result.ndim == 2 and _selects_rows(key):
            result.eta = self.eta
            result.n_branches = self.n_branches
            return result
        return np.asarray(result)

    def copy(self, order="C"):
        return self._marked(np.asarray(self).copy(order=order))

    def __deepcopy__(self, memo):
        return self.copy()

    def _marked(self, array):
        if self.eta is None:
            return array
        return Codes(array, eta=self.eta, n_branches=self.n_branches)

    def __array_wrap__(self, array, context=None, return_scalar=False):
        # ufunc results (arithmetic, reductions) are new numbers, no longer the encoder's codes
        # numpy < 2 passes no return_scalar and hands a reduction's 0-d result here; plain
        # arrays turn it into a scalar afterwards, so do the same
        if return_scalar or (_NUMPY_1 and np.ndim(array) == 0):
            return np.asarray(array)[()]
        return np.asarray(array)

    def __array_function__(self, func, types, args, kwargs):
        return _plain(super().__array_function__(func, types, args, kwargs))

    def __reduce__(self):
        plain = np.asarray(self)
        if self.eta is None:
            return plain.__reduce__()
        return _rebuild_codes, (plain, self.eta, self.n_branches)


def _selects_rows(key):
    """Whether ``Z[key]`` keeps every column of a 2-D ``Z`` in place (a row selection)."""
    if isinstance(key, tuple):
        if len(key) == 1:
            key = key[0]
        elif len(key) == 2 and (key[1] is Ellipsis or key[1] == slice(None)):
            key = key[0]
        else:
            return False
    return key is not Ellipsis and not isinstance(key, (int, np.integer, type(None)))


def _rebuild_codes(array, eta, n_branches):
    return Codes(array, eta=eta, n_branches=n_branches)


def _plain(result):
    if isinstance(result, Codes):
        return np.asarray(result)
    if isinstance(result, (tuple, list)):
        return type(result)(_plain(r) for r in result)
    return result


def encoder_codes(codes, encoder):
    """``codes`` (an array) marked with the ``eta`` and ``n_branches`` of ``encoder``.

    The wrapper of ``TopoAutoencoder.transform``'s return value.
    """
    return Codes(codes, eta=encoder.eta, n_branches=encoder.n_branches)


def _branches_from_column_names(X):
    """The branch count spelled by TopoAutoencoder's output column names, else None."""
    columns = getattr(X, "columns", None)
    if columns is None or len(columns) == 0:
        return None
    parsed = [_CODE_COLUMN.fullmatch(str(c)) for c in columns]
    if not all(parsed):
        return None
    pairs = [(int(p.group(1)), int(p.group(2))) for p in parsed]
    n_branches = pairs[-1][0] + 1
    width, rest = divmod(len(pairs), n_branches)
    expected = [(k, j) for k in range(n_branches) for j in range(width)]
    return n_branches if rest == 0 and pairs == expected else None


def resolve_radius(radius, X, *, needed=True):
    """The ball radius a one-class model fitted on ``X`` uses.

    A number is the user's radius and is returned as it is. ``"eta"``: the ``eta`` of the
    encoder that made ``X`` when ``X`` is :class:`Codes`; :data:`DEFAULT_ETA` (2.0, the
    paper's eta and ``TopoAutoencoder``'s default) when ``X`` does not say (a plain array). A
    DataFrame whose columns are a TopoAutoencoder's (``branch0_dim0``, ...) did come from an
    encoder but lost its ``eta`` (``set_output(transform="pandas")`` builds a new container): a
    ValueError then, when the radius is ``needed``; None when it is not.

    Parameters
    ----------
    radius : float or "eta"
    X : array-like
        The training input, before validation.
    needed : bool, default=True
        Whether the model uses the radius (its scores or its offset).

    Returns
    -------
    radius : float or None

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.estimators._codes import Codes, resolve_radius
    >>> resolve_radius("eta", Codes(np.zeros((3, 4)), eta=4.0, n_branches=2))
    4.0
    >>> resolve_radius("eta", np.zeros((3, 4))), resolve_radius(1.5, np.zeros((3, 4)))
    (2.0, 1.5)
    """
    if not (isinstance(radius, str) and radius == "eta"):
        return float(radius)
    if isinstance(X, Codes) and X.eta is not None:
        return X.eta
    if _branches_from_column_names(X) is not None:
        if not needed:
            return None
        raise ValueError(
            "radius='eta' follows the eta of the encoder that made the codes, but these codes "
            "come as a table (its columns are TopoAutoencoder's branch{k}_dim{j}), which does "
            "not carry eta: set_output(transform='pandas' or 'polars') builds a new container. "
            "Pass radius=<the encoder's eta> explicitly, or keep the default numpy output."
        )
    return DEFAULT_ETA


def resolve_n_branches(n_branches, X):
    """The number of latent branches a one-class model fitted on ``X`` uses.

    An int is the user's and is returned as it is. ``"auto"``: the ``n_branches`` of the
    encoder that made ``X`` when ``X`` is :class:`Codes`, or the count spelled by a table's
    TopoAutoencoder column names (``branch{k}_dim{j}``); otherwise :data:`DEFAULT_N_BRANCHES`
    (16, ``TopoAutoencoder``'s default).

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn.estimators._codes import Codes, resolve_n_branches
    >>> resolve_n_branches("auto", Codes(np.zeros((3, 4)), eta=2.0, n_branches=1))
    1
    >>> resolve_n_branches("auto", np.zeros((3, 32))), resolve_n_branches(2, np.zeros((3, 4)))
    (16, 2)
    """
    if not (isinstance(n_branches, str) and n_branches == "auto"):
        return int(n_branches)
    if isinstance(X, Codes) and X.n_branches is not None:
        return X.n_branches
    from_names = _branches_from_column_names(X)
    return DEFAULT_N_BRANCHES if from_names is None else from_names
