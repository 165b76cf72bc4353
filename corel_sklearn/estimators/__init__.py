"""scikit-learn estimators: thin glue around the kernels and networks."""

from corel_sklearn.estimators._topo_autoencoder import TopoAutoencoder  # noqa: F401
