"""COREL's autoencoders: the paper's convolutional network and an MLP for vector data."""

from itertools import pairwise

from torch import nn

from corel_sklearn.networks._branch_linear import BranchLinear

PAPER_CHANNELS = (32, 64, 128)


class Autoencoder(nn.Module):
    """An encoder and a decoder; ``forward`` returns the reconstruction and the code.

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps a batch ``(B, *input_shape)`` to codes ``(B, latent_dim)``.
    decoder : torch.nn.Module
        Maps codes ``(B, latent_dim)`` back to ``(B, *input_shape)``.
    """

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x):
        z = self.encoder(x)
        return self.decoder(z), z


def _conv_sizes(size, n_layers):
    """Spatial sizes through ``n_layers`` convolutions with kernel 3, stride 2, padding 1."""
    sizes = [size]
    for _ in range(n_layers):
        sizes.append((sizes[-1] + 1) // 2)  # floor((s + 2 - 3) / 2) + 1 = ceil(s / 2)
    return sizes


class ConvAutoencoder(Autoencoder):
    """The paper's convolutional autoencoder, for images of any size.

    Encoder: ``Conv2d(kernel 3, stride 2, padding 1)`` + ``LeakyReLU`` per entry of
    ``channels``, flatten, :class:`BranchLinear` to ``n_branches * branch_dim``. No activation
    on the code, no normalisation. Decoder: :class:`BranchLinear` back to the flattened size,
    reshape, then ``ConvTranspose2d(kernel 3, stride 2, padding 1)`` layers with ``ReLU`` between
    and no output activation. Each transposed convolution's ``output_padding`` (0 or 1 per
    axis) is chosen so the output has exactly the input's height and width: 1 throughout for
    32 x 32, as in the paper; 0 where a size was odd (e.g. 7 -> 14 for 28 x 28 inputs).

    With ``input_shape=(3, 32, 32)`` and the defaults this is the network of Hofer et al.
    (ICML 2019): 128 x 4 x 4 = 2048 features, 16 branches of 128 features mapped to 10 dims.
    When ``n_branches`` does not divide the flattened size, the branches see contiguous chunks
    whose sizes differ by at most one (see :class:`BranchLinear`).

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, height, width)`` of one input image.
    n_branches : int, default=16
        Number of latent branches.
    branch_dim : int, default=10
        Dimension of each branch; the code has ``n_branches * branch_dim`` dimensions.
    channels : tuple of int, default=(32, 64, 128)
        Output channels of the encoder's convolutions (the decoder mirrors them).

    Examples
    --------
    >>> import torch
    >>> from corel_sklearn.networks import ConvAutoencoder
    >>> net = ConvAutoencoder((1, 28, 28), n_branches=16, branch_dim=10)
    >>> x_hat, z = net(torch.zeros(2, 1, 28, 28))
    >>> tuple(x_hat.shape), tuple(z.shape)
    ((2, 1, 28, 28), (2, 160))
    """

    def __init__(self, input_shape, n_branches=16, branch_dim=10, channels=PAPER_CHANNELS):
        n_channels, height, width = (int(s) for s in input_shape)
        channels = tuple(int(c) for c in channels)
        if min(n_channels, height, width) < 1 or not channels or min(channels) < 1:
            raise ValueError(
                f"input_shape must be (channels, height, width) of positive ints and channels "
                f"a non-empty tuple of positive ints, got {tuple(input_shape)} and {channels}."
            )
        heights = _conv_sizes(height, len(channels))
        widths = _conv_sizes(width, len(channels))
        code_shape = (channels[-1], heights[-1], widths[-1])
        n_flat = channels[-1] * heights[-1] * widths[-1]
        latent_dim = n_branches * branch_dim

        widths_in = (n_channels, *channels)
        encoder = []
        for c_in, c_out in pairwise(widths_in):
            encoder += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.LeakyReLU()]
        encoder += [nn.Flatten(), BranchLinear(n_flat, latent_dim, n_branches)]

        decoder = [BranchLinear(latent_dim, n_flat, n_branches), nn.Unflatten(1, code_shape)]
        for layer in range(len(channels), 0, -1):
            output_padding = (
                heights[layer - 1] - (2 * heights[layer] - 1),
                widths[layer - 1] - (2 * widths[layer] - 1),
            )
            decoder += [
                nn.ConvTranspose2d(
                    widths_in[layer],
                    widths_in[layer - 1],
                    3,
                    stride=2,
                    padding=1,
                    output_padding=output_padding,
                ),
                nn.ReLU(),
            ]
        super().__init__(nn.Sequential(*encoder), nn.Sequential(*decoder[:-1]))
        self.input_shape = (n_channels, height, width)


class MLPAutoencoder(Autoencoder):
    """A fully connected autoencoder with COREL's branch-diagonal latent layer, for vectors.

    Encoder: ``Linear`` + ``LeakyReLU`` per entry of ``hidden_layer_sizes``, then
    :class:`BranchLinear` to ``n_branches * branch_dim`` (no activation on the code). Decoder,
    mirrored: :class:`BranchLinear` back to the last hidden size, then ``LeakyReLU`` +
    ``Linear`` per hidden layer in reverse, no output activation. Unlike the convolutional
    decoder, an activation follows the decoder's branch layer; without it a one-hidden-layer
    decoder would be linear.

    Parameters
    ----------
    n_features : int
        Size of an input vector.
    hidden_layer_sizes : tuple of int, default=(256,)
        Widths of the encoder's hidden layers (the decoder mirrors them); may be empty.
    n_branches : int, default=16
        Number of latent branches.
    branch_dim : int, default=10
        Dimension of each branch.

    Examples
    --------
    >>> import torch
    >>> from corel_sklearn.networks import MLPAutoencoder
    >>> net = MLPAutoencoder(64, hidden_layer_sizes=(128,), n_branches=4, branch_dim=2)
    >>> x_hat, z = net(torch.zeros(3, 64))
    >>> tuple(x_hat.shape), tuple(z.shape)
    ((3, 64), (3, 8))
    """

    def __init__(self, n_features, hidden_layer_sizes=(256,), n_branches=16, branch_dim=10):
        sizes = (int(n_features), *(int(h) for h in hidden_layer_sizes))
        if min(sizes) < 1:
            raise ValueError(
                f"n_features and hidden_layer_sizes must be positive ints, got {n_features} "
                f"and {tuple(hidden_layer_sizes)}."
            )
        latent_dim = n_branches * branch_dim
        encoder = []
        for n_in, n_out in pairwise(sizes):
            encoder += [nn.Linear(n_in, n_out), nn.LeakyReLU()]
        encoder.append(BranchLinear(sizes[-1], latent_dim, n_branches))

        decoder = [BranchLinear(latent_dim, sizes[-1], n_branches)]
        for n_in, n_out in pairwise(sizes[::-1]):
            decoder += [nn.LeakyReLU(), nn.Linear(n_in, n_out)]
        super().__init__(nn.Sequential(*encoder), nn.Sequential(*decoder))
        self.n_features = sizes[0]
