"""The branch-diagonal linear layer of COREL's latent space."""

import math

import torch
from torch import nn


def branch_sizes(n_features, n_branches):
    """Sizes of ``n_branches`` contiguous chunks of ``n_features``, as ``numpy.array_split``.

    The chunks differ by at most one feature, the larger ones first; when ``n_branches``
    divides ``n_features`` every chunk has ``n_features // n_branches`` features.
    """
    if n_branches < 1 or n_features < n_branches:
        raise ValueError(
            f"cannot split {n_features} features into {n_branches} branches: every branch "
            "needs at least one feature; use fewer branches or a wider layer."
        )
    q, r = divmod(n_features, n_branches)
    return [q + 1] * r + [q] * (n_branches - r)


class BranchLinear(nn.Module):
    """Block-diagonal linear layer: branch ``k`` of the output sees only chunk ``k`` of the input.

    The input features are split into ``n_branches`` contiguous chunks, and so are the output
    features; output chunk ``k`` is an affine function of input chunk ``k`` alone. This is the
    layer between the encoder's features and COREL's branched latent code (and back, in the
    decoder). When ``n_branches`` does not divide a side, its chunks differ by at most one
    feature (:func:`branch_sizes`).

    Only the diagonal blocks are stored, so the parameter count is exactly
    ``sum_k in_k * out_k (+ out_features)``. Weights and biases are drawn from
    ``U(-1/sqrt(in_features), 1/sqrt(in_features))``, the default initialisation of the masked
    ``nn.Linear`` that the authors' code uses (its fan-in is the whole input).

    Parameters
    ----------
    in_features : int
        Size of the input.
    out_features : int
        Size of the output.
    n_branches : int
        Number of independent branches; at most ``min(in_features, out_features)``.
    bias : bool, default=True
        Whether to add a learnable bias.

    Examples
    --------
    >>> import torch
    >>> from corel_sklearn.networks import BranchLinear
    >>> layer = BranchLinear(2048, 160, n_branches=16)
    >>> layer(torch.zeros(5, 2048)).shape
    torch.Size([5, 160])
    >>> sum(p.numel() for p in layer.parameters())  # 16 blocks of 128 x 10, plus 160 biases
    20640
    """

    def __init__(self, in_features, out_features, n_branches, bias=True):
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.n_branches = int(n_branches)
        in_sizes = branch_sizes(self.in_features, self.n_branches)
        out_sizes = branch_sizes(self.out_features, self.n_branches)
        # Consecutive branches with the same chunk sizes share one batched matmul: one run when
        # n_branches divides both sides, at most three otherwise.
        runs = []
        for sizes in zip(in_sizes, out_sizes, strict=True):
            if runs and tuple(runs[-1][1:]) == sizes:
                runs[-1][0] += 1
            else:
                runs.append([1, *sizes])
        self.runs = tuple(tuple(run) for run in runs)  # (branches, in size, out size)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(k, n_out, n_in)) for k, n_in, n_out in self.runs
        )
        if bias:
            self.bias = nn.Parameter(torch.empty(self.out_features))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, generator=None):
        """Draw weights and bias from U(-1/sqrt(in_features), 1/sqrt(in_features)).

        ``generator`` (a ``torch.Generator``) is the source of randomness; None uses torch's
        global generator, as every torch layer does when constructed.
        """
        bound = 1.0 / math.sqrt(self.in_features)
        for weight in self.weights:
            nn.init.uniform_(weight, -bound, bound, generator=generator)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, x):
        outputs = []
        start = 0
        for (k, n_in, _), weight in zip(self.runs, self.weights, strict=True):
            chunks = x[..., start : start + k * n_in].unflatten(-1, (k, n_in))
            outputs.append(torch.einsum("...ki,koi->...ko", chunks, weight).flatten(-2))
            start += k * n_in
        y = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
        return y if self.bias is None else y + self.bias

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"n_branches={self.n_branches}, bias={self.bias is not None}"
        )
