"""COREL's networks as plain torch modules: the branch-diagonal latent layer and autoencoders.

Knows nothing of scikit-learn; :class:`corel_sklearn.TopoAutoencoder` trains them.
"""

from corel_sklearn.networks._autoencoders import (
    PAPER_CHANNELS,
    Autoencoder,
    ConvAutoencoder,
    MLPAutoencoder,
)
from corel_sklearn.networks._branch_linear import BranchLinear, branch_sizes
from corel_sklearn.networks._init import initialize_parameters

__all__ = [
    "PAPER_CHANNELS",
    "Autoencoder",
    "BranchLinear",
    "ConvAutoencoder",
    "MLPAutoencoder",
    "branch_sizes",
    "initialize_parameters",
]
