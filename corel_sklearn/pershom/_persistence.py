"""Exact, differentiable 0-dimensional Vietoris-Rips persistence (torchph-compatible API).

The finite 0-dim bars of a Vietoris-Rips filtration are born at 0 and die at the lengths of the
edges of a minimum spanning tree. We find the tree without autograd (compiled dense Prim on the
CPU; on CUDA a Triton Prim kernel or, for large clouds, Borůvka rounds with torch ops, see
``_gpu_dispatch``); gradients then touch only its B-1 edges: on the CPU a compiled
backward applies the sign formula to them, on CUDA the B-1 edge lengths are recomputed with
torch ops. Gradients are therefore exact wherever the tree is locally constant (distinct
pairwise distances), and the backward pass costs O(B * d) instead of going through the B x B
distance matrix.

The tree layer is public too, for code that builds its own autograd nodes on it (as
:mod:`corel_sklearn.losses` does): :func:`spanning_trees`, :func:`death_time_loss` (COREL's
loss on the trees, fused with them on the CPU) and :func:`edge_length_gradient`, with
:func:`check_branched_points` for their argument checks.
"""

from typing import NamedTuple

import numpy as np
import torch

from corel_sklearn._numba_runtime import compile_notice
from corel_sklearn._validation import METRIC_CODES, check_n_branches
from corel_sklearn._warnings import warn
from corel_sklearn.pershom._cpu_trees import branch_mst_cpu, connectivity_loss_cpu
from corel_sklearn.pershom._gpu_dispatch import gpu_msts
from corel_sklearn.pershom._prim_cpu import matrix_mst_cpu
from corel_sklearn.pershom._tree_loss import edge_length_gradient_cpu

METRICS = tuple(METRIC_CODES)


_NON_FINITE_MESSAGE = (
    "{} contains NaN or inf; persistence is undefined for non-finite points. "
    "Check the encoder for divergence (lower the learning rate) or clean the input."
)
_OVERFLOW_MESSAGE = (
    "Distances between the points overflow to inf in {}; rescale the points or use float64."
)


def _check_points(points, name, check_finite=True):
    if not isinstance(points, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(points).__name__}; "
            "wrap arrays with torch.as_tensor(..., dtype=torch.float32)."
        )
    if points.dim() != 2:
        raise ValueError(
            f"{name} must be 2-D (n_points, n_dims), got shape {tuple(points.shape)}."
        )
    if not points.is_floating_point():
        raise TypeError(
            f"{name} must have a floating dtype (float32 or float64), got {points.dtype}; "
            "convert it with .float() or .double()."
        )
    if points.shape[0] == 0:
        raise ValueError(f"{name} has no points (shape {tuple(points.shape)}); pass at least one.")
    if points.shape[1] == 0:
        raise ValueError(f"{name} has points with 0 dimensions (shape {tuple(points.shape)}).")
    if check_finite and not bool(torch.isfinite(points.detach()).all()):
        raise ValueError(_NON_FINITE_MESSAGE.format(name))


def _check_metric(metric):
    if metric not in METRIC_CODES:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")


def check_branched_points(points, n_branches=1, metric="l1", name="points"):
    """Raise a clear error unless ``points`` is a batch of codes the tree functions take.

    A 2-D floating tensor with at least one point and one coordinate, ``n_branches`` dividing
    its width, ``metric`` one of :data:`METRICS`. Finiteness is checked later, where it costs
    nothing (on the CPU, on the array the kernel reads).

    Parameters
    ----------
    points : torch.Tensor of shape (B, n_branches * width)
    n_branches : int, default=1
    metric : {"l1", "l2", "linf"}, default="l1"
    name : str, default="points"
        How the error messages call ``points`` (the caller's parameter name).

    Examples
    --------
    >>> import torch
    >>> from corel_sklearn.pershom import check_branched_points
    >>> check_branched_points(torch.zeros(4, 6), n_branches=4)
    Traceback (most recent call last):
    ...
    ValueError: n_branches=4 must be a positive divisor of the number of dimensions (6); ...
    """
    _check_points(points, name, check_finite=False)
    _check_metric(metric)
    check_n_branches(n_branches, points.shape[1])


def _check_filtration_args(max_dimension, max_ball_diameter):
    if isinstance(max_dimension, bool) or not isinstance(max_dimension, (int, np.integer)):
        raise TypeError(f"max_dimension must be an int, got {max_dimension!r}.")
    if max_dimension != 0:
        raise NotImplementedError(
            f"max_dimension={max_dimension} is not supported: only 0-dimensional persistence "
            "(connected components, the only homology COREL uses) is implemented. "
            "Pass max_dimension=0."
        )
    max_ball_diameter = float(max_ball_diameter)
    if not np.isfinite(max_ball_diameter) or max_ball_diameter < 0:
        raise ValueError(
            f"max_ball_diameter must be a finite number >= 0 (0 means no truncation), "
            f"got {max_ball_diameter}."
        )
    return max_ball_diameter


_warned_cuda_fallback = False


def _kernel_array(points):
    """``points`` as a numpy array the CPU kernels take (float32 or float64); no copy if it can."""
    array = points.detach()
    if array.device.type != "cpu":
        array = array.cpu()
    if array.dtype not in (torch.float32, torch.float64):
        array = array.float()
    return array.numpy()


def _uses_compiled_kernels(points):
    """Whether ``points`` go to the compiled CPU kernels (else: the GPU algorithms, torch ops).

    The CUDA code paths run on CPU tensors too (Borůvka's torch ops, Triton's interpreter):
    tests patch this to exercise them without a GPU.
    """
    return points.device.type == "cpu"


def _cpu_msts(points, n_branches, metric, eta=None, **loss_options):
    """MST edges and lengths of each branch as numpy arrays, checked for NaN/inf and overflow.

    With ``eta``, COREL's loss on the trees too: the results of
    :func:`~corel_sklearn.pershom._cpu_trees.connectivity_loss_cpu` (``loss_options`` go to it).
    The checks run here, on the numpy arrays the kernel reads and writes anyway. CUDA input is
    not checked: a check would stall the asynchronous GPU pipeline once per batch, and a
    non-finite code makes the loss NaN, which the training loop reports.
    """
    array = _kernel_array(points)
    if not np.isfinite(array).all():
        raise ValueError(_NON_FINITE_MESSAGE.format("points"))
    with compile_notice("persistence", "a minute"):
        if eta is None:
            results = branch_mst_cpu(array, n_branches, metric)
        else:
            results = connectivity_loss_cpu(array, n_branches, metric, eta, **loss_options)
    # float16/bfloat16 points are computed in float32; their results must fit their dtype too.
    largest = torch.finfo(points.dtype).max
    lengths = results[1]
    if not np.isfinite(lengths).all() or (lengths.size and lengths.max() > largest) or (
        eta is not None and results[2].sum() > largest
    ):
        raise ValueError(_OVERFLOW_MESSAGE.format(points.dtype))
    return results


def _device_trees(points, n_branches, metric):
    """MST edges (n_branches, B-1, 2) long and lengths (n_branches, B-1) of CUDA points.

    Both on the points' device, lengths in their dtype (float32 or float64), sorted per
    branch: from the Triton kernel or Borůvka (:func:`~._gpu_dispatch.gpu_msts`), or without
    triton from the CPU kernel (one round trip per batch, with a warning).
    """
    global _warned_cuda_fallback
    trees = gpu_msts(points, n_branches, metric)
    if trees is not None:
        return trees
    if not _warned_cuda_fallback:
        warn("triton is not installed: the MST of CUDA tensors is computed on the CPU "
             "(one host round trip per batch). `pip install triton` for the GPU kernel.",
             RuntimeWarning)
        _warned_cuda_fallback = True
    edges, lengths = _cpu_msts(points, n_branches, metric)
    dtype = points.dtype if points.dtype in (torch.float32, torch.float64) else torch.float32
    return (torch.from_numpy(edges).to(points.device, non_blocking=True),
            torch.from_numpy(lengths).to(device=points.device, dtype=dtype))


def spanning_trees(points, n_branches=1, metric="l1"):
    """Minimum spanning tree of each branch of a batch of points, without autograd.

    The trees behind :func:`branch_death_times`: on the CPU from the compiled dense Prim
    kernel, on CUDA from the Triton Prim kernel or Borůvka rounds (whichever the cost model
    picks; without triton, from the CPU kernel with a warning). The same tie rule everywhere:
    Prim from vertex 0, the smallest key, then the smallest vertex index.

    Parameters
    ----------
    points : torch.Tensor of shape (B, n_branches * width)
        A batch of codes, floating, on any device. CPU input with NaN or inf raises.
    n_branches : int, default=1
        Number of branches (contiguous slices of the coordinates); must divide the width.
    metric : {"l1", "l2", "linf"}, default="l1"
        Distance within a branch.

    Returns
    -------
    edges : torch.LongTensor of shape (n_branches, B-1, 2)
        Each branch's tree edges ``(i, j)`` (row indices into ``points``), on the points'
        device.
    lengths : torch.Tensor of shape (n_branches, B-1)
        Their lengths (the death times), sorted increasingly within each branch (stably: tied
        edges keep Prim's order), in the points' dtype (float32 for half precision on CUDA).

    Examples
    --------
    >>> import torch
    >>> from corel_sklearn.pershom import spanning_trees
    >>> edges, lengths = spanning_trees(torch.tensor([[0.0], [3.0], [1.0]]))
    >>> edges
    tensor([[[0, 2],
             [2, 1]]])
    >>> lengths
    tensor([[1., 2.]])
    """
    check_branched_points(points, n_branches, metric)
    if not _uses_compiled_kernels(points):
        return _device_trees(points, n_branches, metric)
    edges, lengths = _cpu_msts(points, n_branches, metric)
    return torch.from_numpy(edges), torch.from_numpy(lengths).to(points.dtype)


class DeathTimeLoss(NamedTuple):
    """What :func:`death_time_loss` returns: ``(losses, slopes, edges, gradient)``."""

    losses: torch.Tensor
    slopes: torch.Tensor
    edges: torch.Tensor
    gradient: torch.Tensor | None


def death_time_loss(points, eta, n_branches=1, metric="l1", weight=1.0, with_gradient=False):
    """Per branch, the sum of ``|eta - death|`` over the non-zero death times, without autograd.

    COREL's connectivity loss before its reduction over branches (what
    :func:`corel_sklearn.losses.connectivity_loss` differentiates), with what its gradient
    needs. On the CPU one compiled call finds the trees and, in the same pass, the loss, the
    slopes and (``with_gradient``) the gradient; on CUDA the trees of :func:`spanning_trees`
    and a few torch ops. Zero-length bars (duplicate points) do not count.

    Parameters
    ----------
    points : torch.Tensor of shape (B, n_branches * width)
        A batch of codes, floating, on any device. CPU input with NaN or inf raises.
    eta : float
        The target death time.
    n_branches : int, default=1
        Number of branches; must divide the width.
    metric : {"l1", "l2", "linf"}, default="l1"
        Distance within a branch.
    weight : float, default=1.0
        Scales the slopes and the gradient (e.g. ``1 / n_branches`` for a mean).
    with_gradient : bool, default=False
        Also compute the gradient of ``weight * losses.sum()`` w.r.t. ``points``.

    Returns
    -------
    result : DeathTimeLoss
        A named tuple:

        - ``losses``, shape (n_branches,): float64 on the CPU (summed in double precision),
          the points' dtype on CUDA;
        - ``slopes``, shape (n_branches, B-1): ``weight * sign(death - eta)`` per tree edge,
          the derivative of ``weight * loss`` w.r.t. that death time (0 at ``eta`` and for
          zero-length bars, as torch's subgradient of ``abs``);
        - ``edges``, shape (n_branches, B-1, 2): the tree edges, as :func:`spanning_trees`;
        - ``gradient``, shape (B, n_branches * width), or None without ``with_gradient``.

        ``slopes`` and ``gradient`` are in the dtype the kernels compute in: the points'
        (float32 for half precision on the CPU).

    Examples
    --------
    >>> import torch
    >>> from corel_sklearn.pershom import death_time_loss
    >>> z = torch.tensor([[0.0], [2.0], [5.0]])
    >>> result = death_time_loss(z, eta=2.0, with_gradient=True)  # deaths 2 and 3
    >>> result.losses
    tensor([1.], dtype=torch.float64)
    >>> result.gradient.ravel()
    tensor([ 0., -1.,  1.])
    """
    check_branched_points(points, n_branches, metric)
    eta, weight = float(eta), float(weight)
    if not _uses_compiled_kernels(points):
        edges, deaths = _device_trees(points, n_branches, metric)
        deaths = deaths.to(points.dtype)
        counted = deaths > 0
        losses = torch.where(counted, (eta - deaths).abs(), 0.0).sum(-1)
        slopes = torch.where(counted, (deaths - eta).sign(), 0.0)
        if weight != 1.0:
            slopes = slopes * weight
        gradient = (_edge_length_gradient_torch(points, edges, slopes, n_branches, metric)
                    if with_gradient else None)
        return DeathTimeLoss(losses, slopes, edges, gradient)
    edges, _, losses, slopes, gradient = _cpu_msts(
        points, n_branches, metric, eta=eta, weight=weight, with_gradient=bool(with_gradient))
    return DeathTimeLoss(torch.from_numpy(losses), torch.from_numpy(slopes),
                         torch.from_numpy(edges),
                         None if gradient is None else torch.from_numpy(gradient))


def edge_length_gradient(points, edges, weights, n_branches=1, metric="l1"):
    """Gradient of ``sum(weights * lengths of edges)`` w.r.t. ``points``, without autograd.

    The (sub)gradients torch's autograd gives through :func:`edge_lengths` (l1: sign(0) = 0;
    l2: 0 on zero-length edges; l-infinity: split evenly among tied maximal coordinates), in
    O(k * width) work per branch: a compiled pass on the CPU, a handful of torch ops on CUDA.

    Parameters
    ----------
    points : torch.Tensor of shape (B, n_branches * width)
    edges : torch.LongTensor of shape (n_branches, k, 2)
        Index pairs into the rows of ``points``, per branch (e.g. tree edges).
    weights : torch.Tensor of shape (n_branches, k)
        One weight per edge.
    n_branches : int, default=1
    metric : {"l1", "l2", "linf"}, default="l1"

    Returns
    -------
    gradient : torch.Tensor of shape (B, n_branches * width)
        In the points' dtype, on their device.

    Examples
    --------
    >>> import torch
    >>> from corel_sklearn.pershom import edge_length_gradient
    >>> points = torch.tensor([[0.0, 0.0], [3.0, -4.0]])
    >>> edge_length_gradient(points, torch.tensor([[[0, 1]]]), torch.tensor([[2.0]]))
    tensor([[-2.,  2.],
            [ 2., -2.]])
    """
    check_branched_points(points, n_branches, metric)
    if edges.dim() != 3 or edges.shape[0] != n_branches or edges.shape[2] != 2:
        raise ValueError(f"edges must have shape (n_branches={n_branches}, k, 2), got "
                         f"{tuple(edges.shape)}.")
    if tuple(weights.shape) != tuple(edges.shape[:2]):
        raise ValueError(f"weights must have shape {tuple(edges.shape[:2])} (one per edge), "
                         f"got {tuple(weights.shape)}.")
    if not _uses_compiled_kernels(points):
        return _edge_length_gradient_torch(points, edges, weights, n_branches, metric)
    gradient = edge_length_gradient_cpu(_kernel_array(points), edges.numpy(),
                                        weights.detach().numpy(), metric)
    return torch.from_numpy(gradient).to(points.dtype)


def _edge_length_gradient_torch(points, edges, weights, n_branches, metric):
    """:func:`edge_length_gradient` in a handful of torch ops, on any device."""
    n, dim = points.shape
    width = dim // n_branches
    branches = points.detach().view(n, n_branches, width)
    branch_index = torch.arange(n_branches, device=points.device).unsqueeze(1).expand_as(
        edges[..., 0])
    diff = branches[edges[..., 0], branch_index] - branches[edges[..., 1], branch_index]
    if metric == "l1":
        vector = diff.sign()
    elif metric == "l2":
        norm = torch.linalg.vector_norm(diff, dim=-1, keepdim=True)
        vector = torch.where(norm > 0, diff / torch.where(norm > 0, norm, 1), 0)
    else:
        magnitude = diff.abs()
        ties = magnitude == magnitude.amax(-1, keepdim=True)
        vector = diff.sign() * ties / ties.sum(-1, keepdim=True)
    vector = vector * weights.to(points.dtype).unsqueeze(-1)
    grad = torch.zeros_like(branches)
    grad.index_put_((edges[..., 0], branch_index), vector, accumulate=True)
    grad.index_put_((edges[..., 1], branch_index), -vector, accumulate=True)
    return grad.view(n, dim)


class _CpuBranchDeathTimes(torch.autograd.Function):
    """Death times of CPU points: the kernel's edge lengths, with a compiled backward.

    Two autograd nodes in all, instead of the dozen small torch ops of :func:`edge_lengths`
    (their dispatch costs more than the whole kernel at B = 100). Double backward goes
    through :func:`edge_lengths`, so higher derivatives stay exact.
    """

    @staticmethod
    def forward(ctx, points, n_branches, metric):
        edges, lengths = _cpu_msts(points, n_branches, metric)
        edges = torch.from_numpy(edges)
        ctx.save_for_backward(points, edges)
        ctx.n_branches, ctx.metric = n_branches, metric
        ctx.mark_non_differentiable(edges)
        return torch.from_numpy(lengths).to(points.dtype), edges

    @staticmethod
    def backward(ctx, grad_deaths, grad_edges):
        points, edges = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a differentiable backward
            with torch.enable_grad():
                lengths = edge_lengths(points, edges, ctx.n_branches, ctx.metric)
            (grad,) = torch.autograd.grad(lengths, points, grad_deaths, create_graph=True)
            return grad, None, None
        grad = edge_length_gradient_cpu(
            _kernel_array(points), edges.numpy(), grad_deaths.detach().numpy(), ctx.metric
        )
        return torch.from_numpy(grad).to(points.dtype), None, None


def edge_lengths(points, edges, n_branches=1, metric="l1"):
    """Differentiable lengths of ``edges`` in each branch of ``points``.

    Parameters
    ----------
    points : torch.Tensor of shape (B, n_branches * width)
    edges : torch.LongTensor of shape (n_branches, k, 2)
        Index pairs into the rows of ``points``, per branch.
    n_branches : int, default=1
    metric : {"l1", "l2", "linf"}, default="l1"

    Returns
    -------
    lengths : torch.Tensor of shape (n_branches, k)
    """
    n, dim = points.shape
    branches = points.view(n, n_branches, dim // n_branches)
    branch_index = torch.arange(n_branches, device=points.device).unsqueeze(1)
    diff = branches[edges[..., 0], branch_index] - branches[edges[..., 1], branch_index]
    if metric == "l1":
        return diff.abs().sum(-1)
    if metric == "l2":
        return torch.linalg.vector_norm(diff, dim=-1)
    return diff.abs().amax(-1)


def branch_death_times(points, n_branches=1, metric="l1"):
    """Death times of the 0-dim Vietoris-Rips bars of every latent branch, with their edges.

    The latent code of COREL is split into ``n_branches`` contiguous slices of equal width, and
    each slice of the batch is a point cloud of its own. Its finite 0-dim bars are all born at 0
    and die at the lengths of the edges of a minimum spanning tree, which this function returns
    for all branches at once (one compiled kernel call on the CPU, one launch on CUDA).

    Parameters
    ----------
    points : torch.Tensor of shape (B, n_branches * width)
        A batch of codes, float32 or float64, on any device; may require grad. CPU input with
        NaN or inf raises; on CUDA it is not checked (that would stall the GPU once per batch)
        and turns the death times into NaN.
    n_branches : int, default=1
        Number of branches; must divide ``points.shape[1]``.
    metric : {"l1", "l2", "linf"}, default="l1"
        Distance within a branch (l1 as in the paper).

    Returns
    -------
    death_times : torch.Tensor of shape (n_branches, B-1)
        The lengths of the MST edges, sorted increasingly within each branch. Differentiable:
        gradients flow to the two endpoints of each edge. Zero-length bars (duplicate points)
        are kept here so the shape is fixed; :func:`vr_persistence_l1` drops them.
    edges : torch.LongTensor of shape (n_branches, B-1, 2)
        The MST edges ``(i, j)`` (row indices into ``points``) that kill each bar.

    Examples
    --------
    >>> import torch
    >>> from corel_sklearn.pershom import branch_death_times
    >>> z = torch.tensor([[0., 0.], [1., 5.], [3., 5.]])
    >>> deaths, edges = branch_death_times(z, n_branches=2)
    >>> deaths
    tensor([[1., 2.],
            [0., 5.]])
    """
    check_branched_points(points, n_branches, metric)
    if _uses_compiled_kernels(points):
        return _CpuBranchDeathTimes.apply(points, n_branches, metric)
    edges, _ = _device_trees(points, n_branches, metric)
    return edge_lengths(points, edges, n_branches, metric), edges


def _barcode(death_times, max_ball_diameter):
    """torchph's (non_essential, essential) pair from the death times of one point cloud."""
    dead = death_times > 0  # torchph drops bars with birth == death
    n_essential = 1
    if max_ball_diameter > 0:
        never_added = death_times > max_ball_diameter
        dead = dead & ~never_added
        n_essential += int(never_added.sum())
    deaths = death_times[dead]
    non_essential = torch.stack([torch.zeros_like(deaths), deaths], dim=1)
    essential = death_times.new_zeros(n_essential)
    return non_essential, essential


def _vr_persistence_points(point_cloud, max_dimension, max_ball_diameter, metric):
    max_ball_diameter = _check_filtration_args(max_dimension, max_ball_diameter)
    _check_points(point_cloud, "point_cloud")
    death_times, _ = branch_death_times(point_cloud, 1, metric)
    return _barcode(death_times[0], max_ball_diameter)


_PERSISTENCE_DOC = """0-dim Vietoris-Rips persistence of a point cloud under the {name} distance.

    Drop-in replacement for torchph's ``pershom.vr_persistence_{suffix}`` that also runs on the
    CPU, in float32 and float64, with exact gradients.

    Parameters
    ----------
    point_cloud : torch.Tensor of shape (B, d)
        Points on any device, float32 or float64; may require grad.
    max_dimension : int, default=0
        Only 0 is supported (connected components).
    max_ball_diameter : float, default=0.0
        Truncates the filtration: edges longer than this are never added, so components that are
        still apart at that scale are essential. 0 means no truncation.

    Returns
    -------
    non_essential : torch.Tensor of shape (k, 2)
        (birth, death) = (0, edge length) of the finite bars, sorted by death, k <= B-1
        (zero-length bars from duplicate points are dropped, as in torchph).
    essential : torch.Tensor of shape (m,)
        Births (all 0) of the essential bars: one without truncation.

    Examples
    --------
    >>> import torch
    >>> from corel_sklearn import pershom
    >>> batch = torch.tensor([[0., 0.], [3., 4.], [3., 0.]], requires_grad=True)
    >>> non_ess, ess = pershom.vr_persistence_{suffix}(batch, 0, 0)
    >>> non_ess[:, 1]
    tensor({example}, grad_fn=<SelectBackward0>)
    >>> non_ess[:, 1].sum().backward()
    """


def vr_persistence_l1(point_cloud, max_dimension=0, max_ball_diameter=0.0):
    return _vr_persistence_points(point_cloud, max_dimension, max_ball_diameter, "l1")


def vr_persistence_l2(point_cloud, max_dimension=0, max_ball_diameter=0.0):
    return _vr_persistence_points(point_cloud, max_dimension, max_ball_diameter, "l2")


def vr_persistence_linf(point_cloud, max_dimension=0, max_ball_diameter=0.0):
    return _vr_persistence_points(point_cloud, max_dimension, max_ball_diameter, "linf")


vr_persistence_l1.__doc__ = _PERSISTENCE_DOC.format(
    name="l1 (Manhattan)", suffix="l1", example="[3., 4.]"
)
vr_persistence_l2.__doc__ = _PERSISTENCE_DOC.format(
    name="l2 (Euclidean)", suffix="l2", example="[3., 4.]"
)
vr_persistence_linf.__doc__ = _PERSISTENCE_DOC.format(
    name="l-infinity (Chebyshev)", suffix="linf", example="[3., 4.]"
)


def vr_persistence(distance_matrix, max_dimension=0, max_ball_diameter=0.0):
    """0-dim Vietoris-Rips persistence of a precomputed distance matrix.

    Parameters
    ----------
    distance_matrix : torch.Tensor of shape (B, B)
        Symmetric, non-negative, finite; float32 or float64, any device; may require grad.
        Gradients flow into the upper-triangle entry ``[min(i, j), max(i, j)]`` of each tree
        edge (the matrix is read as its upper triangle).
    max_dimension : int, default=0
        Only 0 is supported.
    max_ball_diameter : float, default=0.0
        Truncation of the filtration, 0 = none (see :func:`vr_persistence_l1`).

    Returns
    -------
    non_essential : torch.Tensor of shape (k, 2)
    essential : torch.Tensor of shape (m,)

    Examples
    --------
    >>> import torch
    >>> from corel_sklearn.pershom import vr_persistence
    >>> D = torch.tensor([[0., 1., 4.], [1., 0., 2.], [4., 2., 0.]])
    >>> vr_persistence(D)[0]
    tensor([[0., 1.],
            [0., 2.]])
    """
    max_ball_diameter = _check_filtration_args(max_dimension, max_ball_diameter)
    _check_points(distance_matrix, "distance_matrix")
    n = distance_matrix.shape[0]
    if distance_matrix.shape != (n, n):
        raise ValueError(
            f"distance_matrix must be square, got shape {tuple(distance_matrix.shape)}; "
            "for point clouds use vr_persistence_l1/_l2/_linf."
        )
    detached = distance_matrix.detach()
    scale = float(detached.abs().max()) if n else 0.0
    if not torch.allclose(detached, detached.T, rtol=1e-5, atol=1e-6 * max(scale, 1.0)):
        raise ValueError(
            "distance_matrix is not symmetric; pass (D + D.T) / 2 if the asymmetry is "
            "round-off, or check how the matrix was built."
        )
    if bool((detached < 0).any()):
        raise ValueError("distance_matrix has negative entries; distances must be >= 0.")
    edges, _ = matrix_mst_cpu(_kernel_array(distance_matrix))
    edges = torch.from_numpy(edges).to(distance_matrix.device)
    rows = torch.minimum(edges[:, 0], edges[:, 1])
    cols = torch.maximum(edges[:, 0], edges[:, 1])
    return _barcode(distance_matrix[rows, cols], max_ball_diameter)
