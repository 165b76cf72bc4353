"""The connectivity loss of COREL (Hofer et al., ICML 2019)."""

import numpy as np
import torch

from corel_sklearn.pershom import (
    check_branched_points,
    death_time_loss,
    edge_length_gradient,
    edge_lengths,
)

REDUCTIONS = ("mean", "sum", "none")


def _per_branch_loss(death_times, eta):
    """Torch ops: per branch, the sum of ``|eta - death|`` over the non-zero death times."""
    return torch.where(death_times > 0, (eta - death_times).abs(), 0.0).sum(-1)


def _reduce(per_branch, reduction):
    if reduction == "mean":
        return per_branch.mean()
    if reduction == "sum":
        return per_branch.sum()
    return per_branch


class _CpuConnectivityLoss(torch.autograd.Function):
    """The whole loss on CPU codes as one autograd node.

    At COREL's batch size the loss's dozen small torch ops and their backward nodes cost as
    much as the persistence kernel itself. Here a compiled pass right after the tree kernel
    sums ``|eta - death|`` per branch and, for a scalar loss, adds up its gradient (each tree
    edge weighted by ``d loss / d death = sign(death - eta)``); the backward only scales it.
    For ``reduction="none"`` the backward weights the edges by the incoming per-branch
    gradient (a compiled pass). Double backward goes through the torch ops.

    The backward runs no parallel torch op: it scales the stored gradient in numpy and hands
    it over (autograd keeps it without a copy). On a machine where another process keeps a
    core busy, torch's second OpenMP thread sleeps during the kernel and waits for a core: a
    160,000-element ``mul`` or copy then takes 1-7 ms, as long as the kernel itself.
    """

    @staticmethod
    def forward(ctx, z, eta, n_branches, metric, reduction):
        weight = 1.0 / n_branches if reduction == "mean" else 1.0
        with_gradient = ctx.needs_input_grad[0] and reduction != "none"
        per_branch, slopes, edges, grad = death_time_loss(
            z, eta, n_branches, metric, weight=weight, with_gradient=with_gradient
        )
        ctx.edges, ctx.slopes, ctx.eta = edges, slopes, eta
        ctx.n_branches, ctx.metric, ctx.reduction = n_branches, metric, reduction
        # The kernel's array, in its dtype: the backward scales it in numpy (no torch op).
        ctx.grad = None if grad is None else grad.numpy()
        ctx.save_for_backward(z)
        if reduction == "none":
            return per_branch.to(z.dtype)
        total = per_branch.numpy().sum()  # float64, as the kernel summed each branch
        return torch.tensor(total / n_branches if reduction == "mean" else total, dtype=z.dtype)

    @staticmethod
    def backward(ctx, grad_loss):
        (z,) = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a differentiable backward
            with torch.enable_grad():
                death_times = edge_lengths(z, ctx.edges, ctx.n_branches, ctx.metric)
                loss = _reduce(_per_branch_loss(death_times, ctx.eta), ctx.reduction)
            (grad,) = torch.autograd.grad(loss, z, grad_loss, create_graph=True)
        elif ctx.grad is not None:
            # Handed over (a second backward, retain_graph=True, takes the branch below).
            array, ctx.grad = ctx.grad, None
            scale = float(grad_loss)
            if scale != 1.0:
                np.multiply(array, array.dtype.type(scale), out=array)
            grad = torch.from_numpy(array).to(z.dtype)
        else:
            weights = ctx.slopes.numpy() * grad_loss.detach().to(torch.float64).numpy().reshape(
                -1, 1)
            grad = edge_length_gradient(z, ctx.edges, torch.from_numpy(weights), ctx.n_branches,
                                        ctx.metric)
        return grad, None, None, None, None


class _DeviceConnectivityLoss(torch.autograd.Function):
    """The whole loss on CUDA codes as one autograd node, with the CPU one's structure.

    The trees and their lengths come from the GPU kernels (no recomputation of the edge
    lengths); the forward keeps each death's slope ``sign(death - eta)`` (0 at eta and for
    zero-length bars); the backward weights the tree edges by slope x incoming gradient and
    scatters them onto the codes in a handful of torch ops (:func:`edge_length_gradient`),
    instead of the dozen ops and autograd nodes of the torch formula. Double backward goes
    through the torch ops.
    """

    @staticmethod
    def forward(ctx, z, eta, n_branches, metric, reduction):
        per_branch, ctx.slopes, edges, _ = death_time_loss(z, eta, n_branches, metric)
        ctx.eta, ctx.n_branches, ctx.metric, ctx.reduction = eta, n_branches, metric, reduction
        ctx.save_for_backward(z, edges)
        return _reduce(per_branch, reduction)

    @staticmethod
    def backward(ctx, grad_loss):
        z, edges = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a differentiable backward
            with torch.enable_grad():
                death_times = edge_lengths(z, edges, ctx.n_branches, ctx.metric)
                loss = _reduce(_per_branch_loss(death_times, ctx.eta), ctx.reduction)
            (grad,) = torch.autograd.grad(loss, z, grad_loss, create_graph=True)
            return grad, None, None, None, None
        if ctx.reduction == "none":
            scale = grad_loss.unsqueeze(1)
        elif ctx.reduction == "mean":
            scale = grad_loss / ctx.n_branches
        else:
            scale = grad_loss
        grad = edge_length_gradient(z, edges, ctx.slopes * scale, ctx.n_branches, ctx.metric)
        return grad, None, None, None, None


def connectivity_loss(z, eta=2.0, n_branches=1, metric="l1", reduction="mean"):
    """Connectivity loss: per branch, the sum over 0-dim death times of ``|eta - death|``.

    A batch of codes is *eta-connected and eta-separated* when every bar of its 0-dim
    Vietoris-Rips persistence dies at ``eta``. The loss is computed on each branch (a contiguous
    slice of the code) separately and reduced over branches; the paper's code averages. As in
    torchph, zero-length bars (duplicate codes) do not count.

    Parameters
    ----------
    z : torch.Tensor of shape (B, n_branches * width)
        Batch of latent codes, float32 or float64, CPU or CUDA.
    eta : float, default=2.0
        Target death time (the paper's eta).
    n_branches : int, default=1
        Number of latent branches; must divide ``z.shape[1]``.
    metric : {"l1", "l2", "linf"}, default="l1"
        Distance within a branch (the paper uses l1).
    reduction : {"mean", "sum", "none"}, default="mean"
        How to combine the per-branch losses; "none" returns them as a (n_branches,) tensor.

    Returns
    -------
    loss : torch.Tensor
        A scalar (or (n_branches,) for ``reduction="none"``) with gradients: on each MST edge
        ``(i, j)``, ``d loss / d z_i = sign(death - eta) * sign(z_i - z_j)`` for l1.

    Examples
    --------
    >>> import torch
    >>> from corel_sklearn.losses import connectivity_loss
    >>> z = torch.tensor([[0.0], [2.0], [5.0]], requires_grad=True)
    >>> loss = connectivity_loss(z, eta=2.0)  # deaths 2 and 3: |2-2| + |2-3|
    >>> loss.item()
    1.0
    >>> loss.backward()
    >>> z.grad.ravel()
    tensor([ 0., -1.,  1.])
    """
    eta = float(eta)
    if not eta > 0 or eta == float("inf"):
        raise ValueError(f"eta must be a finite number > 0, got {eta}.")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}.")
    check_branched_points(z, n_branches, metric, name="z")
    if z.device.type == "cpu":
        return _CpuConnectivityLoss.apply(z, eta, n_branches, metric, reduction)
    return _DeviceConnectivityLoss.apply(z, eta, n_branches, metric, reduction)
