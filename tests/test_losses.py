"""The connectivity loss against hand-computed values, ripser and finite differences."""

import numpy as np
import pytest
import torch
from ripser import ripser
from scipy.spatial.distance import cdist

from corel_sklearn.losses import connectivity_loss


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


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"eta": 0.0}, "eta"), ({"eta": -1.0}, "eta"), ({"eta": float("inf")}, "eta"),
     ({"reduction": "max"}, "reduction"), ({"n_branches": 3}, "divisor"),
     ({"metric": "cosine"}, "metric")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        connectivity_loss(torch.randn(5, 4), **kwargs)
