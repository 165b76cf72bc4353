"""Count-only closed-ball kernels per latent branch: COREL's one-class score.

A compiled numba kernel for the CPU and a blocked torch path for CUDA, both exact with respect
to the float64 reference (scikit-learn's ``KDTree`` decisions). Knows nothing of scikit-learn.
"""

from corel_sklearn.ball_counting._ball_counts import (
    AGGREGATIONS,
    METRICS,
    ball_counts,
    branch_ball_counts,
    leave_one_out_ball_counts,
)

__all__ = [
    "AGGREGATIONS",
    "METRICS",
    "ball_counts",
    "branch_ball_counts",
    "leave_one_out_ball_counts",
]
