"""scikit-learn estimators: thin glue around the kernels and networks."""

from corel_sklearn.estimators._ball_count import BallCountOneClass  # noqa: F401
from corel_sklearn.estimators._classwise_ball_count import ClasswiseBallCount  # noqa: F401
from corel_sklearn.estimators._presets import (  # noqa: F401
    TABULAR_N_NEIGHBORS,
    TABULAR_N_STEPS,
    TABULAR_SCORING,
    TABULAR_TRIM,
    TABULAR_TRIM_NEIGHBORS,
    TABULAR_TRIM_REFERENCE_ROWS,
    tabular_encoder,
    tabular_training_rows,
    tabular_trim_neighbors,
)
from corel_sklearn.estimators._topo_autoencoder import TopoAutoencoder  # noqa: F401
