"""The connectivity loss against hand-computed values, ripser and finite differences."""

import numpy as np
import pytest
import torch
from ripser import ripser
from scipy.spatial.distance import cdist

from corel_sklearn.losses import connectivity_loss
from corel_sklearn.pershom import branch_death_times


def reference_loss(points, eta, n_branches, reduction="mean"):
    """Per branch sum |eta - death| over ripser's non-zero H0 deaths (cityblock)."""
    width = points.shape[1] // n_branches
    per_branch = []
    for k in range(n_branches):
        sub = points[:, k * width:(k + 1) * width]
        dgm = ripser(cdist(sub, sub, "cityblock"), maxdim=0, distance_matrix=True)["dgms"][0]
        deaths = dgm[np.isfinite(dgm[:, 1]) & (dgm[:, 1] > 0), 1]
        per_branch.append(np.abs(eta - deaths).sum())
    per_branch = np.array(per_branch)
    return {"mean": per_branch.mean(), "sum": per_branch.sum(), "none": per_branch}[reduction]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("n_branches", [1, 4, 16])
def test_loss_matches_ripser_reference(reduction, n_branches):
    rng = np.random.default_rng(n_branches)
    points = rng.standard_normal((60, 16 * 2))
    loss = connectivity_loss(torch.tensor(points), eta=1.5, n_branches=n_branches,
                             reduction=reduction)
    np.testing.assert_allclose(loss.numpy(), reference_loss(points, 1.5, n_branches, reduction),
                               rtol=1e-6)


def test_hand_made_values_and_duplicates():
    # Line 0, 2, 5 (eta = 2): deaths 2 and 3 -> 0 + 1.
    assert connectivity_loss(torch.tensor([[0.0], [2.0], [5.0]])).item() == 1.0
    # A duplicate point adds a zero-length bar that torchph drops: still 1.
    assert connectivity_loss(torch.tensor([[0.0], [2.0], [5.0], [5.0]])).item() == 1.0
    # Two branches: [0, 2, 5] gives 1, [0, 0, 1] gives |2 - 1| = 1 (the zero bar dropped).
    z = torch.tensor([[0.0, 0.0], [2.0, 0.0], [5.0, 1.0]])
    assert connectivity_loss(z, n_branches=2, reduction="none").tolist() == [1.0, 1.0]
    assert connectivity_loss(z, n_branches=2, reduction="sum").item() == 2.0


def float64_loss(points, eta, n_branches):
    """Mean over branches of sum |eta - MST edge| with a float64 numpy Prim (ripser rounds to
    float32, too coarse for finite differences)."""
    width = points.shape[1] // n_branches
    total = 0.0
    for k in range(n_branches):
        sub = points[:, k * width:(k + 1) * width]
        dist = cdist(sub, sub, "cityblock")
        key = dist[0].copy()
        in_tree = np.zeros(len(sub), bool)
        in_tree[0] = True
        for _ in range(len(sub) - 1):
            j = np.argmin(np.where(in_tree, np.inf, key))
            total += abs(eta - key[j])
            in_tree[j] = True
            key = np.minimum(key, dist[j])
    return total / n_branches


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    z = torch.tensor(rng.standard_normal((20, 8)), requires_grad=True)
    loss = connectivity_loss(z, eta=1.0, n_branches=2)
    loss.backward()
    eps = 1e-6
    numeric = np.zeros(z.shape)
    base = z.detach().numpy()
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            plus, minus = base.copy(), base.copy()
            plus[i, j] += eps
            minus[i, j] -= eps
            numeric[i, j] = (float64_loss(plus, 1.0, 2) - float64_loss(minus, 1.0, 2)) / (2 * eps)
    np.testing.assert_allclose(z.grad.numpy(), numeric, atol=1e-5)


def test_loss_drives_points_to_eta_spacing():
    """A real property: gradient descent on the loss alone makes every death time near eta."""
    torch.manual_seed(0)
    z = (0.01 * torch.randn(30, 2)).requires_grad_()
    optimizer = torch.optim.SGD([z], lr=0.01)
    for _ in range(800):
        optimizer.zero_grad()
        connectivity_loss(z, eta=1.0).backward()
        optimizer.step()
    final = connectivity_loss(z.detach(), eta=1.0).item()
    assert final < 0.05 * connectivity_loss(0.01 * torch.randn(30, 2), eta=1.0).item()


def torch_ops_loss(z, eta, n_branches, metric, reduction):
    """The loss as torch ops on the death times (independent of the fused CPU node)."""
    deaths, _ = branch_death_times(z, n_branches, metric)
    per_branch = torch.where(deaths > 0, (eta - deaths).abs(), 0.0).sum(-1)
    return {"mean": per_branch.mean(), "sum": per_branch.sum(), "none": per_branch}[reduction]


@pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("kind", "n_branches"), [("gaussian", 4), ("grid", 3), ("grid", 1)])
def test_fused_cpu_loss_equals_the_torch_ops_formula(metric, reduction, dtype, kind, n_branches):
    """Value and gradient of the one-node CPU loss equal the formula written as torch ops,
    including ties, duplicate codes (zero-length bars) and deaths exactly at eta (grids)."""
    rng = np.random.default_rng(7)
    shape = (41, 3 * n_branches)
    points = (rng.integers(0, 3, size=shape) if kind == "grid" else rng.standard_normal(shape))
    eta = 1.0 if kind == "grid" else 0.7  # integer grids: many deaths are exactly eta
    z = torch.tensor(points, dtype=dtype, requires_grad=True)
    z_ref = z.detach().clone().requires_grad_()
    loss = connectivity_loss(z, eta, n_branches, metric, reduction)
    expected = torch_ops_loss(z_ref, eta, n_branches, metric, reduction)
    assert loss.dtype == dtype and loss.shape == expected.shape
    tolerance = {"rtol": 1e-5 if dtype == torch.float32 else 1e-12}
    np.testing.assert_allclose(loss.detach().numpy(), expected.detach().numpy(), **tolerance)
    upstream = torch.linspace(-1.0, 2.0, loss.numel(), dtype=dtype).reshape(loss.shape)
    loss.backward(upstream)
    expected.backward(upstream)
    np.testing.assert_allclose(z.grad.numpy(), z_ref.grad.numpy(), rtol=1e-6, atol=1e-7)
    without_grad = connectivity_loss(z.detach(), eta, n_branches, metric, reduction)
    np.testing.assert_array_equal(without_grad.numpy(), loss.detach().numpy())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_retained_graph_backward_twice_accumulates_like_the_torch_ops_formula(dtype):
    """The first backward hands its stored gradient to autograd; a second one through the
    retained graph (and the sum accumulated onto ``z.grad``) must still equal the formula."""
    points = np.random.default_rng(5).standard_normal((30, 8))
    z = torch.tensor(points, dtype=dtype, requires_grad=True)
    z_ref = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    loss = connectivity_loss(z, 0.7, 2)
    expected = torch_ops_loss(z_ref, 0.7, 2, "l1", "mean")
    for upstream in (2.0, -0.5, 1.0):
        loss.backward(torch.tensor(upstream, dtype=dtype), retain_graph=True)
        expected.backward(torch.tensor(upstream, dtype=torch.float64), retain_graph=True)
        tolerance = 1e-2 if dtype == torch.float16 else 1e-6
        np.testing.assert_allclose(z.grad.double().numpy(), z_ref.grad.numpy(),
                                   rtol=tolerance, atol=tolerance)


def test_cpu_backward_runs_no_torch_op_over_the_codes():
    """The fused node's backward scales its stored gradient in numpy and hands it over: no
    torch op touches a (B, dim) tensor. Such an op runs on torch's OpenMP threads, and on a
    machine where another process keeps a core busy it waited for the descheduled thread as
    long as the kernel itself (benchmarks/bench_oversubscription.py)."""
    z = torch.rand(300, 32, requires_grad=True)
    loss = connectivity_loss(z, 0.5, 4) * 3.0
    with torch.profiler.profile(record_shapes=True) as profile:
        loss.backward()
    over_codes = {event.name for event in profile.events()
                  if [300, 32] in [list(shape) for shape in event.input_shapes]
                  and event.name.startswith("aten::")}
    assert over_codes <= {"aten::detach", "aten::to", "aten::lift_fresh", "aten::alias"}, (
        over_codes)
    z_ref = z.detach().clone().requires_grad_()
    (torch_ops_loss(z_ref, 0.5, 4, "l1", "mean") * 3.0).backward()
    np.testing.assert_allclose(z.grad.numpy(), z_ref.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_loss_double_backward_is_exact(reduction):
    """create_graph=True goes through torch ops: gradgradcheck on a smooth metric (l2)."""
    z = torch.tensor(np.random.default_rng(3).standard_normal((12, 6)), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda z: connectivity_loss(z, 0.8, 2, "l2", reduction), (z,)
    )
    assert torch.autograd.gradgradcheck(
        lambda z: connectivity_loss(z, 0.8, 2, "l2", reduction), (z,)
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"eta": 0.0}, "eta"), ({"eta": -1.0}, "eta"), ({"eta": float("inf")}, "eta"),
     ({"reduction": "max"}, "reduction"), ({"n_branches": 3}, "divisor"),
     ({"metric": "cosine"}, "metric")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        connectivity_loss(torch.randn(5, 4), **kwargs)
