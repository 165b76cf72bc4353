"""Initialising a network's layers from an explicit ``torch.Generator``.

Fitting must not seed or draw from torch's process-wide generator (threads fitting at the same
time would share it), so the estimators build their networks without drawing random numbers
(on the ``meta`` device) and then initialise every layer from a generator the fit owns. The
draws replicate torch's own default initialisation exactly, layer by layer in construction
order, so a network initialised here from ``torch.Generator().manual_seed(s)`` is bit-identical
to the same network constructed after ``torch.manual_seed(s)``.
"""

import math

import torch
from torch import nn

from corel_sklearn.networks._branch_linear import BranchLinear

# The layers whose default initialisation is replicated: kaiming_uniform_(a=sqrt(5)) for the
# weight and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias, as their reset_parameters do.
_TORCH_DEFAULT_INIT = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)


def initialize_parameters(module, generator):
    """Re-initialise ``module``'s standard layers in place, drawing only from ``generator``.

    Visits ``module.modules()`` in order (the order of construction for COREL's networks) and
    re-draws the parameters of every ``nn.Linear``, ``nn.ConvNd``, ``nn.ConvTransposeNd`` (torch's
    default initialisation) and :class:`BranchLinear` (its own). Other parameters and buffers
    (e.g. batch-norm's ones and zeros, a custom layer's tensors) keep their values.

    Parameters
    ----------
    module : torch.nn.Module
        The network, on the CPU (its tensors may be uninitialised, e.g. from ``to_empty``).
    generator : torch.Generator
        A CPU generator; the only source of randomness.

    Returns
    -------
    module : torch.nn.Module
        The same module.

    Examples
    --------
    >>> import torch
    >>> from corel_sklearn.networks import MLPAutoencoder, initialize_parameters
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> by_global_seed = MLPAutoencoder(8, (4,), n_branches=2, branch_dim=2)
    >>> by_generator = initialize_parameters(
    ...     MLPAutoencoder(8, (4,), n_branches=2, branch_dim=2), torch.Generator().manual_seed(0))
    >>> all(torch.equal(a, b) for a, b in
    ...     zip(by_global_seed.parameters(), by_generator.parameters()))
    True
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, BranchLinear):
                layer.reset_parameters(generator=generator)
            elif isinstance(layer, _TORCH_DEFAULT_INIT):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                if layer.bias is not None:
                    fan_in = layer.weight[0].numel()  # torch's fan-in for Linear and ConvNd
                    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return module
