"""The tiny TopoAutoencoder the training and estimator tests share (fast on 2 cores)."""

from corel_sklearn import TopoAutoencoder

SMALL = dict(hidden_layer_sizes=(8,), n_branches=2, branch_dim=2, batch_size=20, max_epochs=2)


def small(**params):
    return TopoAutoencoder(**{**SMALL, "random_state": 0, **params})
