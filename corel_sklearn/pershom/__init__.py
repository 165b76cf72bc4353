"""0-dimensional Vietoris-Rips persistent homology: exact, differentiable, CPU and CUDA.

A torchph-compatible API (``vr_persistence_l1`` and friends) plus the batched
:func:`branch_death_times` that COREL's connectivity loss uses for its latent branches, and
the tree layer beneath them, without autograd: :func:`spanning_trees`,
:func:`death_time_loss` and :func:`edge_length_gradient` (for custom autograd nodes, as in
:mod:`corel_sklearn.losses`). Knows nothing of scikit-learn.
"""

from corel_sklearn.pershom._persistence import (
    METRICS,
    DeathTimeLoss,
    branch_death_times,
    check_branched_points,
    death_time_loss,
    edge_length_gradient,
    edge_lengths,
    spanning_trees,
    vr_persistence,
    vr_persistence_l1,
    vr_persistence_l2,
    vr_persistence_linf,
)

__all__ = [
    "METRICS",
    "DeathTimeLoss",
    "branch_death_times",
    "check_branched_points",
    "death_time_loss",
    "edge_length_gradient",
    "edge_lengths",
    "spanning_trees",
    "vr_persistence",
    "vr_persistence_l1",
    "vr_persistence_l2",
    "vr_persistence_linf",
]
