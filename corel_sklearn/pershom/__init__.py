"""0-dimensional Vietoris-Rips persistent homology: exact, differentiable, CPU and CUDA.

A torchph-compatible API (``vr_persistence_l1`` and friends) plus the batched
:func:`branch_death_times` that COREL's connectivity loss uses for its latent branches.
Knows nothing of scikit-learn.
"""

from corel_sklearn.pershom._persistence import (
    METRICS,
    branch_death_times,
    edge_lengths,
    vr_persistence,
    vr_persistence_l1,
    vr_persistence_l2,
    vr_persistence_linf,
)

__all__ = [
    "METRICS",
    "branch_death_times",
    "edge_lengths",
    "vr_persistence",
    "vr_persistence_l1",
    "vr_persistence_l2",
    "vr_persistence_linf",
]
