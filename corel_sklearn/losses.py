"""The connectivity loss of COREL (Hofer et al., ICML 2019)."""

import torch

from corel_sklearn.pershom import branch_death_times

REDUCTIONS = ("mean", "sum", "none")


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
    >>> loss
    tensor(1., grad_fn=<MeanBackward0>)
    >>> loss.backward()
    >>> z.grad.ravel()
    tensor([ 0., -1.,  1.])
    """
    eta = float(eta)
    if not eta > 0 or eta == float("inf"):
        raise ValueError(f"eta must be a finite number > 0, got {eta}.")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}.")
    death_times, _ = branch_death_times(z, n_branches, metric)
    per_branch = torch.where(death_times > 0, (eta - death_times).abs(), 0.0).sum(-1)
    if reduction == "mean":
        return per_branch.mean()
    if reduction == "sum":
        return per_branch.sum()
    return per_branch
