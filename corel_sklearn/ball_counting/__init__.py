"""Count-only closed-ball kernels and k-th neighbour distances per latent branch.

COREL's one-class score (the anchors within a radius, per branch) and a score that does not
saturate when the anchors are many (the distance to the k-th nearest anchor, per branch). A
compiled numba kernel for the CPU and a blocked torch path for CUDA, both exact with respect to
the float64 reference (scikit-learn's ``KDTree`` decisions and distances). Knows nothing of
scikit-learn.
"""

from corel_sklearn.ball_counting._ball_counts import (
    AGGREGATIONS,
    METRICS,
    ball_counts,
    branch_ball_counts,
    leave_one_out_ball_counts,
)
from corel_sklearn.ball_counting._kth_neighbors import (
    DISTANCE_AGGREGATIONS,
    branch_kth_neighbor_distances,
    kth_neighbor_distances,
    leave_one_out_kth_neighbor_distances,
)
from corel_sklearn.ball_counting._trimming import densest_rows

__all__ = [
    "AGGREGATIONS",
    "DISTANCE_AGGREGATIONS",
    "METRICS",
    "ball_counts",
    "branch_ball_counts",
    "branch_kth_neighbor_distances",
    "densest_rows",
    "kth_neighbor_distances",
    "leave_one_out_ball_counts",
    "leave_one_out_kth_neighbor_distances",
]
