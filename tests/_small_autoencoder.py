"""The tiny TopoAutoencoder and data the training and estimator tests share (fast on 2 cores).

One builder for every test that needs a small fitted encoder: ``small(**params)`` overrides
only what the test is about, so the tests' networks differ from this one in what they name.
The ``X`` fixture of ``conftest.py`` is ``tiny_data()``; module-scoped fixtures call it directly.
"""

import numpy as np

from corel_sklearn import TopoAutoencoder

SMALL = dict(hidden_layer_sizes=(8,), n_branches=2, branch_dim=2, batch_size=20, max_epochs=2)


def small(**params):
    """A TopoAutoencoder with the ``SMALL`` settings, seeded (``random_state=0``)."""
    return TopoAutoencoder(**{**SMALL, "random_state": 0, **params})


def tiny_data():
    """60 samples of 12 uniform float32 features in [0, 1) (seed 0): 3 steps per epoch."""
    return np.random.default_rng(0).random((60, 12), dtype=np.float32)
