"""Proven rounding bounds of the fast distance passes, shared by the CPU and torch backends.

The reference value of a distance is ``d64``: the float64 distance of the input values summed in
coordinate order (for l2: the sum of squares), which is what scikit-learn's ``KDTree`` computes.
The fast passes (numba's SIMD loops, ``torch.cdist``) compute in the input's precision with any
summation order. Their relative error is below ``n_terms * u`` (u = unit roundoff of the pass's
dtype; n_terms = width + 1 for l1, width + 3 for l2, 1 for linf), and that of ``d64`` below
``n_terms * 2**-53``; widened by 4x, this bounds ``|fast - d64|`` by
``relative * d64 + absolute`` (``absolute`` covers gradual underflow). Both ball counts (a band
around the radius) and k-th neighbour distances (a bound above the current k-th distance) use it
to decide nearly every pair with the fast value and only the rest with the reference arithmetic.
"""

import numpy as np


def error_bounds(metric, width, dtype):
    """``(relative, absolute)``: ``|fast - d64| <= relative * d64 + absolute`` for every pair.

    ``d64`` and ``fast`` are the distance (l1, linf) or squared distance (l2) of one branch of
    ``width`` coordinates, ``fast`` computed in ``dtype`` with any summation order.
    """
    dtype = np.dtype(dtype).type
    n_terms = {"l1": width + 1, "l2": width + 3, "linf": 1}[metric]
    relative = 4.0 * n_terms * (np.finfo(dtype).eps / 2 + 2.0**-53)
    # Gradual underflow: each rounded term may also be off by half a subnormal step.
    absolute = 4.0 * width * float(np.finfo(dtype).smallest_subnormal)
    return relative, absolute


def rounding_band(radius, metric, width, dtype):
    """Thresholds that let a fast, reassociated pass decide all but a few pairs exactly.

    The reference decision is ``d64 <= threshold`` (for l2 ``threshold = radius * radius``).
    A fast value ``<= lo`` is certainly in, ``> hi`` certainly out, and only values in between
    need the reference arithmetic (see :func:`error_bounds`).

    Returns
    -------
    lo, hi : scalars of ``dtype``
    threshold : float
    """
    dtype = np.dtype(dtype).type
    threshold = float(radius) ** 2 if metric == "l2" else float(radius)
    relative, absolute = error_bounds(metric, width, dtype)
    band = relative * threshold + absolute
    lo = np.nextafter(dtype(threshold - band), dtype(-np.inf))
    hi = np.nextafter(dtype(threshold + band), dtype(np.inf))
    return lo, hi, threshold


def compute_dtype(queries_dtype, anchors_dtype, radius, metric, width):
    """float32 when both inputs are float32 and the band stays narrow and finite, else float64.

    Converting float32 to float64 is exact, so the result never depends on this choice; only
    speed does (float32 runs at twice the SIMD width). ``radius=None`` (k-th neighbour
    distances, where no band sits at a fixed radius) only looks at the dtypes: an overflowed
    float32 sum is inf, which the bound above an inf or huge k-th distance still admits.
    """
    if np.dtype(queries_dtype) != np.float32 or np.dtype(anchors_dtype) != np.float32:
        return np.float64
    if radius is None:
        return np.float32
    lo, hi, threshold = rounding_band(radius, metric, width, np.float32)
    narrow = float(hi) - float(lo) <= 1e-3 * threshold
    finite = float(hi) < float(np.finfo(np.float32).max) / 4
    return np.float32 if narrow and finite else np.float64


def kth_bounds(metric, width, dtype):
    """``(relative, absolute, margin, tiny, upper_scale, lower_scale)`` for the k-th kernels.

    A pair whose reference value is at most ``D`` has a fast value at most
    ``(D * (1 + relative) + absolute) * margin + tiny``; a pair with the finite fast value ``v``
    has a reference value within ``[(v - absolute) * lower_scale - tiny,
    (v + absolute) * upper_scale + tiny]``. ``margin`` and ``tiny`` cover the rounding of these
    float64 expressions and of the conversion to ``dtype``.
    """
    relative, absolute = error_bounds(metric, width, dtype)
    info = np.finfo(dtype)
    margin = 1.0 + 8.0 * float(info.eps)
    return (relative, absolute, margin, float(info.smallest_subnormal),
            margin / (1.0 - relative), 1.0 / ((1.0 + relative) * margin))
