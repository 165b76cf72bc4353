import math
from itertools import pairwise

import numpy as np
import pytest
import torch
from torch import nn

from corel_sklearn.networks import (
    BranchLinear,
    ConvAutoencoder,
    MLPAutoencoder,
    branch_sizes,
)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_paper_network_layers_and_parameter_count():
    net = ConvAutoencoder((3, 32, 32), n_branches=16, branch_dim=10)
    convs = [m for m in net.encoder if isinstance(m, nn.Conv2d)]
    deconvs = [m for m in net.decoder if isinstance(m, nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 32), (32, 64), (64, 128)]
    assert [(c.in_channels, c.out_channels) for c in deconvs] == [(128, 64), (64, 32), (32, 3)]
    for conv in convs + deconvs:
        assert (conv.kernel_size, conv.stride, conv.padding) == ((3, 3), (2, 2), (1, 1))
    assert all(c.output_padding == (1, 1) for c in deconvs)
    # LeakyReLU after every conv, ReLU between transposed convs, none on the code or output.
    assert [type(m) for m in net.encoder] == [nn.Conv2d, nn.LeakyReLU] * 3 + [
        nn.Flatten,
        BranchLinear,
    ]
    assert [type(m) for m in net.decoder] == [BranchLinear, nn.Unflatten] + [
        nn.ConvTranspose2d,
        nn.ReLU,
        nn.ConvTranspose2d,
        nn.ReLU,
        nn.ConvTranspose2d,
    ]
    enc_fc, dec_fc = net.encoder[-1], net.decoder[0]
    assert (enc_fc.in_features, enc_fc.out_features, enc_fc.n_branches) == (2048, 160, 16)
    assert (dec_fc.in_features, dec_fc.out_features, dec_fc.n_branches) == (160, 2048, 16)

    def conv(c_in, c_out):
        return c_in * c_out * 9 + c_out

    expected = (
        conv(3, 32) + conv(32, 64) + conv(64, 128)  # encoder convs
        + 16 * 128 * 10 + 160  # 16 blocks 128 -> 10, biases
        + 16 * 10 * 128 + 2048  # 16 blocks 10 -> 128, biases
        + conv(128, 64) + conv(64, 32) + conv(32, 3)  # transposed convs (same counts)
    )  # fmt: skip
    assert expected == 229_539
    assert n_params(net) == expected
    assert n_params(enc_fc) == 20_640

    x = torch.rand(4, 3, 32, 32)
    x_hat, z = net(x)
    assert z.shape == (4, 160) and x_hat.shape == x.shape
    assert net.encoder[:-2](x).shape == (4, 128, 4, 4)


@pytest.mark.parametrize(
    "shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64), (1, 8, 8), (2, 9, 13), (1, 1, 1)]
)
def test_conv_output_shape_equals_input_shape(shape):
    net = ConvAutoencoder(shape, n_branches=4, branch_dim=3, channels=(4, 8, 8))
    x = torch.rand(2, *shape)
    x_hat, z = net(x)
    assert x_hat.shape == x.shape
    assert z.shape == (2, 12)


def test_conv_flat_size_not_divisible_by_branches_uses_near_equal_chunks():
    net = ConvAutoencoder((1, 8, 8), n_branches=3, branch_dim=2, channels=(4, 8, 10))
    enc_fc = net.encoder[-1]
    assert enc_fc.in_features == 10  # 10 channels x 1 x 1
    assert n_params(enc_fc) == (4 + 3 + 3) * 2 + 6  # chunks 4, 3, 3 of the 10 features
    x_hat, z = net(torch.rand(5, 1, 8, 8))
    assert x_hat.shape == (5, 1, 8, 8) and z.shape == (5, 6)


@pytest.mark.parametrize("n_features, n_branches", [(10, 1), (10, 3), (2048, 16), (7, 7)])
def test_branch_sizes_match_array_split(n_features, n_branches):
    expected = [len(c) for c in np.array_split(np.arange(n_features), n_branches)]
    assert branch_sizes(n_features, n_branches) == expected


def test_branch_sizes_rejects_more_branches_than_features():
    with pytest.raises(ValueError, match="at least one feature"):
        branch_sizes(3, 4)
    with pytest.raises(ValueError, match="at least one feature"):
        BranchLinear(16, 3, n_branches=4)


def dense_block_diagonal(layer):
    """Reference: the full (out, in) matrix, built block by block from the layer's weights."""
    in_sizes = branch_sizes(layer.in_features, layer.n_branches)
    out_sizes = branch_sizes(layer.out_features, layer.n_branches)
    blocks = [w for weight in layer.weights for w in weight]
    assert [b.shape for b in blocks] == list(zip(out_sizes, in_sizes, strict=True))
    return torch.block_diag(*blocks)


@pytest.mark.parametrize("shape", [(128, 40, 4), (11, 7, 3), (10, 10, 10), (6, 9, 1)])
def test_branch_linear_equals_masked_dense_linear(shape):
    torch.manual_seed(0)
    layer = BranchLinear(*shape)
    x = torch.randn(5, shape[0])
    expected = x @ dense_block_diagonal(layer).T + layer.bias
    torch.testing.assert_close(layer(x), expected)
    blocks = sum(a * b for a, b in zip(*(branch_sizes(s, shape[2]) for s in shape[:2]), strict=1))
    assert n_params(layer) == blocks + shape[1]


@pytest.mark.parametrize("shape", [(12, 6, 3), (11, 7, 3)])
def test_branch_linear_is_block_diagonal(shape):
    torch.manual_seed(0)
    layer = BranchLinear(*shape)
    x = torch.randn(1, shape[0])
    jacobian = torch.autograd.functional.jacobian(lambda v: layer(v)[0], x)[:, 0]
    in_bounds = np.cumsum([0, *branch_sizes(shape[0], shape[2])])
    out_bounds = np.cumsum([0, *branch_sizes(shape[1], shape[2])])
    for k in range(shape[2]):
        rows = slice(out_bounds[k], out_bounds[k + 1])
        own = jacobian[rows, in_bounds[k] : in_bounds[k + 1]]
        assert (own != 0).all()  # branch k depends on all of its own chunk ...
        others = jacobian[rows].clone()
        others[:, in_bounds[k] : in_bounds[k + 1]] = 0
        assert (others == 0).all()  # ... and on no other chunk


def test_branch_linear_init_matches_masked_linear_bound():
    torch.manual_seed(0)
    layer = BranchLinear(2048, 160, 16)
    bound = 1 / math.sqrt(2048)
    for param in layer.parameters():
        assert param.abs().max() <= bound
        assert param.abs().max() > 0.9 * bound  # uniform over the whole range
    assert layer.bias.shape == (160,)
    assert BranchLinear(8, 4, 2, bias=False).bias is None


@pytest.mark.parametrize("hidden", [(), (32,), (32, 16)])
def test_mlp_autoencoder_shapes_and_branch_latent(hidden):
    net = MLPAutoencoder(20, hidden, n_branches=4, branch_dim=2)
    x = torch.randn(3, 20)
    x_hat, z = net(x)
    assert x_hat.shape == (3, 20) and z.shape == (3, 8)
    assert isinstance(net.encoder[-1], BranchLinear)
    assert isinstance(net.decoder[0], BranchLinear)

    def widths(seq):
        return [(m.in_features, m.out_features) for m in seq if type(m) is nn.Linear]

    sizes = (20, *hidden)
    assert widths(net.encoder) == list(pairwise(sizes))
    assert widths(net.decoder) == list(pairwise(sizes[::-1]))
    # No activation on the code or on the output.
    assert not isinstance(net.encoder[-1], nn.LeakyReLU)
    assert isinstance(net.decoder[-1], (nn.Linear, BranchLinear))


def test_networks_reject_bad_shapes():
    with pytest.raises(ValueError, match="input_shape"):
        ConvAutoencoder((0, 8, 8))
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPAutoencoder(10, (0,))
