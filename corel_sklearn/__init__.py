"""COREL for scikit-learn: connectivity-optimised autoencoders and ball-count one-class models.

Hofer, Kwitt, Dixit, Niethammer, "Connectivity-Optimized Representation Learning via
Persistent Homology", ICML 2019.
"""

from corel_sklearn._numba_runtime import ensure_writable_cache
from corel_sklearn._version import __version__

ensure_writable_cache()  # before any kernel is defined: numba needs a cache folder for them

from corel_sklearn.estimators import (  # noqa: E402
    BallCountOneClass,
    ClasswiseBallCount,
    TopoAutoencoder,
    tabular_encoder,
    tabular_trim_neighbors,
)
from corel_sklearn.losses import connectivity_loss  # noqa: E402

__all__ = [
    "__version__",
    "BallCountOneClass",
    "ClasswiseBallCount",
    "TopoAutoencoder",
    "connectivity_loss",
    "tabular_encoder",
    "tabular_trim_neighbors",
]
