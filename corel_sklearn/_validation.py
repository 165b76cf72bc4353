"""Argument checks shared by the kernels (pershom, ball_counting); no scikit-learn here."""

import numpy as np


def check_n_branches(n_branches, n_dims):
    """Raise unless ``n_branches`` is a positive int dividing ``n_dims``."""
    if isinstance(n_branches, bool) or not isinstance(n_branches, (int, np.integer)):
        raise TypeError(f"n_branches must be a positive int, got {n_branches!r}.")
    if n_branches < 1 or n_dims % n_branches != 0:
        raise ValueError(
            f"n_branches={n_branches} must be a positive divisor of the number of dimensions "
            f"({n_dims}); each branch is a contiguous slice of n_dims / n_branches dimensions."
        )


# The distances the kernels compute, and the code each compiled kernel receives for them
# (persistence and ball counting on CPU and CUDA share these numbers).
METRIC_CODES = {"l1": 0, "l2": 1, "linf": 2}
