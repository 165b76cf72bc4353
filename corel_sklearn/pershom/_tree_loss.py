"""COREL's loss on the trees the CPU kernels find, and gradients of edge lengths (numba).

Right after Prim has found a branch's tree, compiled passes sum ``|eta - death|`` over its
non-zero death times, keep each death's slope ``weight * sign(death - eta)`` and, if asked,
add up the gradient of ``weight * loss`` w.r.t. the points: every tree edge weighted by its
slope, scattered onto its two endpoints. Running them in the same kernel call as the trees
saves the dozen torch ops (and their autograd nodes) that would otherwise cost as much as the
kernel at COREL's batch size.

Whether a kernel call computes the loss is explicit: its settings are a one-element record
array (:data:`LOSS_SETTINGS`: ``with_loss``, ``eta``, ``weight``, ``with_gradient``; numba's
parallel loops take arrays, not tuples), made by :func:`loss_settings` or :func:`no_loss`;
the results go to the arrays of :func:`loss_outputs`.

Everything here is compiled without fast-math, also when called from the fast-math tree
kernels: the gradients are exact like torch's autograd through the same lengths. The
``fastmath=False`` is explicit because numba compiles a function that does not set it with
the flags of the caller that first needs it (and caches that): the bits would then depend on
which call path compiled first.
"""

import numba as nb
import numpy as np

from corel_sklearn._validation import METRIC_CODES

LOSS_SETTINGS = np.dtype([("with_loss", np.bool_), ("eta", np.float64), ("weight", np.float64),
                          ("with_gradient", np.bool_)], align=True)


def loss_settings(eta, weight=1.0, with_gradient=False):
    """The settings of a kernel call that computes the loss (and, if asked, its gradient)."""
    settings = np.zeros(1, dtype=LOSS_SETTINGS)
    settings[0] = (True, float(eta), float(weight), bool(with_gradient))
    return settings


def no_loss():
    """The settings of a kernel call that finds the trees only."""
    settings = np.zeros(1, dtype=LOSS_SETTINGS)
    settings[0] = (False, 0.0, 1.0, False)
    return settings


def loss_outputs(settings, x, n_branches):
    """``(losses, slopes, grad)`` arrays for ``settings`` (empty where nothing is computed).

    ``losses`` (n_branches,) float64, ``slopes`` (n_branches, B-1) and ``grad`` (B, dim) in
    ``x``'s dtype; the gradient starts at zero (the kernels add to it).
    """
    with_loss, _, _, with_gradient = settings.item()
    m = max(x.shape[0] - 1, 0)
    losses = np.empty(n_branches if with_loss else 0)
    slopes = np.empty((n_branches, m) if with_loss else (0, 0), dtype=x.dtype)
    grad = np.zeros_like(x) if with_loss and with_gradient else np.zeros((0, 0), x.dtype)
    return losses, slopes, grad


@nb.njit(cache=True, nogil=True, fastmath=False)
def branch_edge_gradient(metric, points, first, width, edges, grad, out):
    """Add to ``out`` the gradient of ``sum(grad * lengths of edges)`` in one branch.

    The branch is ``points[:, first:first + width]``. The same (sub)gradients torch's autograd
    gives for the lengths computed with torch ops (see ``edge_lengths``): l1 uses sign(0) = 0;
    l2 is 0 on zero-length edges; l-infinity splits the gradient evenly among tied maximal
    coordinates. Per edge, its gradient vector goes to a small buffer (no stores that may
    alias the points, so the loops vectorise), then to one endpoint and, negated, the other.
    Compiled without fast-math (also when called from the kernels): exact like torch's.
    """
    zero = points.dtype.type(0)
    vector = np.empty(width, dtype=points.dtype)
    for e in range(edges.shape[0]):
        g = points.dtype.type(grad[e])
        pi = points[edges[e, 0], first:first + width]
        pj = points[edges[e, 1], first:first + width]
        if metric == 0:
            for c in range(width):
                d = pi[c] - pj[c]
                vector[c] = g * ((d > zero) - (d < zero))  # branch-free sign
        elif metric == 1:
            norm = zero
            for c in range(width):
                norm += (pi[c] - pj[c]) * (pi[c] - pj[c])
            scale = g / np.sqrt(norm) if norm > 0 else zero
            for c in range(width):
                vector[c] = scale * (pi[c] - pj[c])
        else:
            largest = zero
            for c in range(width):
                largest = max(largest, abs(pi[c] - pj[c]))
            ties = 0
            for c in range(width):
                ties += abs(pi[c] - pj[c]) == largest
            for c in range(width):
                d = pi[c] - pj[c]
                vector[c] = g * ((d > zero) - (d < zero)) / ties if abs(d) == largest else zero
        row = out[edges[e, 0], first:first + width]
        for c in range(width):
            row[c] += vector[c]
        row = out[edges[e, 1], first:first + width]
        for c in range(width):
            row[c] -= vector[c]




@nb.njit(cache=True, nogil=True, fastmath=False)
def _edge_length_gradient(metric, points, edges, grad, out):
    """Add to ``out`` the gradient of ``sum(grad * lengths of edges)`` w.r.t. ``points``."""
    n_branches = grad.shape[0]
    width = points.shape[1] // n_branches
    for k in range(n_branches):
        branch_edge_gradient(metric, points, k * width, width, edges[k], grad[k], out)


@nb.njit(cache=True, nogil=True, fastmath=False)
def death_loss(deaths, eta, weight, slopes):
    """The sum of ``|eta - death|`` over the non-zero ``deaths`` of one branch, and its slopes.

    ``slopes`` gets each death's weighted derivative ``weight * sign(death - eta)`` (0 at
    ``death == eta``, as torch's ``abs``, and for zero-length bars, which do not count); the
    gradient of ``weight * loss`` is then :func:`branch_edge_gradient` of the tree edges with
    the slopes as weights. Compiled on its own without fast-math, and for a given batch shape
    always called from the same place (the branch loop for several branches,
    :func:`single_cloud_loss` for one), so the same input gives the same bits for any number
    of threads.
    """
    loss = 0.0
    for e in range(deaths.shape[0]):
        death = deaths[e]
        if death > 0:
            loss += abs(eta - death)
            slopes[e] = weight * ((death > eta) - (death < eta))
        else:
            slopes[e] = 0.0
    return loss


@nb.njit(cache=True, nogil=True, fastmath=False)
def single_cloud_loss(metric, points, edges, deaths, settings, losses, slopes, grad):
    """The loss (and gradient) of one cloud, after whichever kernel (split or not) found its
    tree; ``settings`` as for the kernels."""
    losses[0] = death_loss(deaths[0], settings[0].eta, settings[0].weight, slopes[0])
    if settings[0].with_gradient:
        branch_edge_gradient(metric, points, 0, points.shape[1], edges[0], slopes[0], grad)


def edge_length_gradient_cpu(points, edges, grad, metric):
    """Gradient (n, dim) of ``sum(grad * lengths of edges)`` w.r.t. ``points`` (numpy arrays).

    ``edges`` (n_branches, k, 2) and ``grad`` (n_branches, k): the branches are the
    ``n_branches`` contiguous slices of the points' coordinates.
    """
    points = np.ascontiguousarray(points)
    out = np.zeros_like(points)
    _edge_length_gradient(METRIC_CODES[metric], points, np.ascontiguousarray(edges),
                          np.ascontiguousarray(grad, dtype=points.dtype), out)
    return out
