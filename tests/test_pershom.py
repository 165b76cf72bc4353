"""0-dim persistence against ripser, analytic gradients, gradcheck, ties, errors (the Triton
and Borůvka paths: tests/test_prim_triton.py)."""

import numpy as np
import pytest
import torch
from ripser import ripser
from scipy.spatial.distance import cdist, pdist

from corel_sklearn import pershom
from corel_sklearn.pershom import branch_death_times, edge_lengths, vr_persistence

RIPSER_METRICS = {"l1": "cityblock", "l2": "euclidean", "linf": "chebyshev"}
VR_FUNCTIONS = {
    "l1": pershom.vr_persistence_l1,
    "l2": pershom.vr_persistence_l2,
    "linf": pershom.vr_persistence_linf,
}


def ripser_deaths(points, metric, thresh=np.inf):
    """Finite H0 deaths (zero-length bars dropped, as torchph) and the essential count."""
    # scipy's cdist takes exact differences (ripser's own euclidean uses the dot-product trick,
    # which turns duplicate points into tiny non-zero bars).
    points = np.asarray(points, dtype=np.float64)
    dist = cdist(points, points, RIPSER_METRICS[metric])
    dgm = ripser(dist, maxdim=0, distance_matrix=True, thresh=thresh)["dgms"][0]
    finite = dgm[np.isfinite(dgm[:, 1]), 1]
    return np.sort(finite[finite > 0]), int(np.isinf(dgm[:, 1]).sum())


def random_cloud(rng, n, d, kind, dtype):
    if kind == "gaussian":
        x = rng.standard_normal((n, d))
    elif kind == "grid":  # integer coordinates: many tied distances
        x = rng.integers(0, 3, size=(n, d)).astype(float)
    elif kind == "duplicates":
        base = rng.standard_normal((max(n // 3, 1), d))
        x = base[rng.integers(0, len(base), size=n)]
    elif kind == "large":
        x = rng.standard_normal((n, d)) * 1e6
    else:  # tiny scale
        x = rng.standard_normal((n, d)) * 1e-6
    return torch.tensor(x, dtype=dtype)


@pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
@pytest.mark.parametrize("kind", ["gaussian", "grid", "duplicates", "large", "tiny"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("n", "d"), [(1, 3), (2, 1), (7, 1), (30, 2), (64, 10), (150, 40)])
def test_deaths_match_ripser(metric, kind, dtype, n, d):
    rng = np.random.default_rng(n * 1000 + d)
    x = random_cloud(rng, n, d, kind, dtype)
    non_ess, ess = VR_FUNCTIONS[metric](x, 0, 0)
    expected, n_essential = ripser_deaths(x.double().numpy(), metric)
    assert non_ess.shape == (len(expected), 2)
    assert non_ess.dtype == dtype
    assert torch.all(non_ess[:, 0] == 0)
    rtol = 1e-5 if dtype == torch.float32 else 2e-6  # ripser stores float32
    scale = float(np.abs(x.double().numpy()).max()) if n > 1 else 1.0
    np.testing.assert_allclose(
        np.sort(non_ess[:, 1].double().numpy()), expected, rtol=rtol, atol=rtol * scale * 1e-3
    )
    assert ess.tolist() == [0.0] * n_essential == [0.0]


@pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
def test_truncated_filtration_matches_ripser_threshold(metric):
    rng = np.random.default_rng(1)
    x = torch.tensor(np.concatenate([rng.normal(0, 0.2, (20, 3)), rng.normal(10, 0.2, (15, 3)),
                                     rng.normal(30, 0.2, (5, 3))]))
    for diameter in [0.3, 1.0, 5.0, 100.0]:
        non_ess, ess = VR_FUNCTIONS[metric](x, 0, diameter)
        expected, n_essential = ripser_deaths(x.numpy(), metric, thresh=diameter)
        np.testing.assert_allclose(np.sort(non_ess[:, 1].numpy()), expected, rtol=2e-6)
        assert len(ess) == n_essential
        assert len(ess) + len(non_ess) == len(x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["gaussian", "grid", "duplicates"])
def test_precomputed_matrix_matches_ripser(dtype, kind):
    rng = np.random.default_rng(2)
    points = random_cloud(rng, 40, 4, kind, torch.float64).numpy()
    dist = cdist(points, points, "sqeuclidean")  # any symmetric matrix, not only a metric
    non_ess, ess = vr_persistence(torch.tensor(dist, dtype=dtype))
    dgm = ripser(dist, maxdim=0, distance_matrix=True)["dgms"][0]
    expected = np.sort(dgm[np.isfinite(dgm[:, 1]) & (dgm[:, 1] > 0), 1])
    np.testing.assert_allclose(np.sort(non_ess[:, 1].double().numpy()), expected, rtol=1e-5)
    assert ess.tolist() == [0.0]


def test_hand_made_tiny_cases():
    # Points on a line at 0, 1, 3, 7: MST = consecutive gaps.
    x = torch.tensor([[7.0], [0.0], [3.0], [1.0]])
    non_ess, ess = pershom.vr_persistence_l1(x)
    assert non_ess.tolist() == [[0.0, 1.0], [0.0, 2.0], [0.0, 4.0]]
    assert ess.tolist() == [0.0]
    # One point: no finite bar, one essential bar.
    non_ess, ess = pershom.vr_persistence_l1(torch.zeros(1, 5))
    assert non_ess.shape == (0, 2) and ess.tolist() == [0.0]
    # Two identical points: the zero-length bar is dropped.
    non_ess, ess = pershom.vr_persistence_l1(torch.zeros(2, 3))
    assert non_ess.shape == (0, 2) and ess.tolist() == [0.0]
    # l1 vs l2 vs linf on the 3-4-5 triangle.
    tri = torch.tensor([[0.0, 0.0], [3.0, 4.0], [3.0, 0.0]])
    assert pershom.vr_persistence_l1(tri)[0][:, 1].tolist() == [3.0, 4.0]
    assert pershom.vr_persistence_l2(torch.tensor([[0.0, 0.0], [3.0, 4.0]]))[0].tolist() == [
        [0.0, 5.0]
    ]
    assert pershom.vr_persistence_linf(torch.tensor([[0.0, 0.0], [3.0, 4.0]]))[0].tolist() == [
        [0.0, 4.0]
    ]


def analytic_gradient(points, n_branches, eta):
    """d/dz of the mean over branches of sum |eta - death| by the paper's formula (l1)."""
    n, dim = points.shape
    width = dim // n_branches
    grad = np.zeros_like(points)
    x = points.reshape(n, n_branches, width)
    for k in range(n_branches):
        sub = x[:, k]
        dist = cdist(sub, sub, "cityblock")
        dgm_edges = _prim_reference(dist)
        for i, j in dgm_edges:
            s = np.sign(dist[i, j] - eta) * np.sign(sub[i] - sub[j]) / n_branches
            grad[i, k * width:(k + 1) * width] += s
            grad[j, k * width:(k + 1) * width] -= s
    return grad


def _prim_reference(dist):
    """A plain O(B^3) textbook Prim, independent of the kernels under test."""
    n = len(dist)
    in_tree = [0]
    edges = []
    while len(in_tree) < n:
        best = min((dist[i, j], i, j) for i in in_tree for j in range(n) if j not in in_tree)
        edges.append((best[1], best[2]))
        in_tree.append(best[2])
    return edges


@pytest.mark.parametrize("n_branches", [1, 4])
def test_gradient_equals_analytic_formula(n_branches):
    rng = np.random.default_rng(3)
    points = rng.standard_normal((25, 4 * 3))
    z = torch.tensor(points, requires_grad=True)
    from corel_sklearn.losses import connectivity_loss

    connectivity_loss(z, eta=2.0, n_branches=n_branches).backward()
    np.testing.assert_allclose(z.grad.numpy(), analytic_gradient(points, n_branches, 2.0),
                               atol=1e-12)


@pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
def test_gradcheck_point_clouds(metric):
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.standard_normal((12, 3)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: VR_FUNCTIONS[metric](p)[0][:, 1], (x,))
    y = torch.tensor(rng.standard_normal((10, 6)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: branch_death_times(p, 3, metric)[0], (y,))


def test_gradcheck_distance_matrix():
    rng = np.random.default_rng(5)
    n = 9
    rows, cols = np.triu_indices(n, 1)
    values = torch.tensor(rng.uniform(1, 2, len(rows)), requires_grad=True)

    def deaths(v):  # a symmetric matrix built from its strict upper triangle
        index = (torch.tensor(rows), torch.tensor(cols))
        dist = torch.zeros(n, n, dtype=v.dtype).index_put(index, v)
        return vr_persistence(dist + dist.T)[0][:, 1]

    assert torch.autograd.gradcheck(deaths, (values,))


def test_backward_touches_only_tree_edges():
    x = torch.tensor([[0.0], [1.0], [3.0], [10.0]], requires_grad=True)
    deaths, edges = branch_death_times(x)
    deaths[0, 0].backward()  # shortest edge is (0, 1)
    assert sorted(edges[0, 0].tolist()) == [0, 1]
    assert x.grad.ravel().tolist() == [-1.0, 1.0, 0.0, 0.0]


def test_ties_are_broken_deterministically():
    rng = np.random.default_rng(6)
    x = torch.tensor(rng.integers(0, 2, size=(60, 4)), dtype=torch.float32)
    first = branch_death_times(x, 2)[1]
    for _ in range(3):
        assert torch.equal(branch_death_times(x.clone(), 2)[1], first)
    # The rule, worked by hand: Prim from vertex 0 takes the smallest key, then the smallest
    # index; a vertex keeps the first tree vertex that reached its key as parent (3 hangs from
    # 1, not from its tie 2); edges are then sorted stably by length.
    line = torch.tensor([[0.0], [1.0], [1.0], [2.0], [2.0]])
    assert branch_death_times(line)[1][0].tolist() == [[1, 2], [3, 4], [0, 1], [1, 3]]


def test_branches_are_independent_point_clouds():
    rng = np.random.default_rng(7)
    z = torch.tensor(rng.standard_normal((50, 12)))
    deaths, edges = branch_death_times(z, n_branches=3)
    assert deaths.shape == (3, 49) and edges.shape == (3, 49, 2)
    for k in range(3):
        single = pershom.vr_persistence_l1(z[:, 4 * k:4 * (k + 1)])[0][:, 1]
        torch.testing.assert_close(deaths[k], single)
    torch.testing.assert_close(edge_lengths(z, edges, 3, "l1"), deaths)


def test_seed_snippet_runs_on_cpu():
    batch = torch.randn(10, 5, requires_grad=True)
    batch = batch.to("cpu")
    non_ess, ess = pershom.vr_persistence_l1(batch, 0, 0)
    example_loss = non_ess[:, 1].sum()
    example_loss.backward()
    assert batch.grad is not None and batch.grad.abs().sum() > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_seed_snippet_runs_on_cuda():
    batch = torch.randn(10, 5, generator=torch.Generator().manual_seed(0), requires_grad=True)
    batch = batch.to("cuda")
    non_ess, ess = pershom.vr_persistence_l1(batch, 0, 0)
    example_loss = non_ess[:, 1].sum()
    example_loss.backward()
    assert non_ess.is_cuda and ess.is_cuda


def tie_free_codes(n, n_branches, width, seed):
    """Gaussian float64 codes whose pairwise distances are distinct in every branch and metric
    (relative gaps above 1e-12, far above rounding): each branch has one minimum spanning
    tree, which every correct algorithm on any device must find."""
    x = np.random.default_rng(seed).standard_normal((n, n_branches * width))
    for k in range(n_branches):
        for metric in RIPSER_METRICS.values():
            distances = np.sort(pdist(x[:, k * width:(k + 1) * width], metric))
            assert np.min(np.diff(distances) / distances[1:]) > 1e-12, (k, metric)
    return torch.tensor(x)


def undirected(edges):
    """A tree's edges as a set of unordered pairs."""
    return {frozenset(edge) for edge in np.asarray(edges).tolist()}


CUDA_SHAPES = [(300, 16, 10), (300, 1, 160)]  # COREL's branches; one wide cloud


@pytest.mark.parametrize(("n", "n_branches", "width"), CUDA_SHAPES)
def test_cuda_test_data_are_tie_free(n, n_branches, width):
    tie_free_codes(n, n_branches, width, seed=n_branches)  # runs without a GPU too


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
@pytest.mark.parametrize(("n", "n_branches", "width"), CUDA_SHAPES)
def test_cuda_trees_and_deaths_match_cpu_and_ripser(metric, n, n_branches, width):
    z = tie_free_codes(n, n_branches, width, seed=n_branches)
    cpu_deaths, cpu_edges = branch_death_times(z, n_branches, metric)
    gpu_deaths, gpu_edges = branch_death_times(z.cuda(), n_branches, metric)
    assert gpu_deaths.is_cuda and gpu_edges.is_cuda
    for k in range(n_branches):
        assert undirected(gpu_edges[k].cpu()) == undirected(cpu_edges[k]), k
        expected, _ = ripser_deaths(z[:, k * width:(k + 1) * width].numpy(), metric)
        np.testing.assert_allclose(gpu_deaths[k].cpu().numpy(), expected, rtol=2e-6)
    torch.testing.assert_close(gpu_deaths.cpu(), cpu_deaths, rtol=1e-12, atol=1e-12)
    # The loss node on the GPU: value and gradient as on the CPU.
    from corel_sklearn.losses import connectivity_loss

    z_cpu, z_gpu = z.clone().requires_grad_(), z.cuda().requires_grad_()
    loss_cpu = connectivity_loss(z_cpu, 2.0, n_branches, metric)
    loss_gpu = connectivity_loss(z_gpu, 2.0, n_branches, metric)
    loss_cpu.backward()
    loss_gpu.backward()
    torch.testing.assert_close(loss_gpu.cpu(), loss_cpu, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(z_gpu.grad.cpu(), z_cpu.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("points", "error", "match"),
    [
        (torch.tensor([[0.0, float("nan")], [1.0, 2.0]]), ValueError, "NaN or inf"),
        (torch.tensor([[0.0, float("inf")], [1.0, 2.0]]), ValueError, "NaN or inf"),
        (torch.zeros(3), ValueError, "2-D"),
        (torch.zeros(2, 2, 2), ValueError, "2-D"),
        (torch.zeros(0, 3), ValueError, "no points"),
        (torch.zeros(4, 2, dtype=torch.int64), TypeError, "floating"),
        (np.zeros((4, 2)), TypeError, "torch.Tensor"),
    ],
)
def test_bad_points_raise_clear_errors(points, error, match):
    with pytest.raises(error, match=match):
        pershom.vr_persistence_l1(points)


def test_bad_arguments_raise_clear_errors():
    x = torch.randn(5, 4)
    with pytest.raises(NotImplementedError, match="only 0-dimensional"):
        pershom.vr_persistence_l1(x, 1)
    with pytest.raises(ValueError, match="max_ball_diameter"):
        pershom.vr_persistence_l1(x, 0, -1.0)
    with pytest.raises(ValueError, match="divisor"):
        branch_death_times(x, n_branches=3)
    with pytest.raises(ValueError, match="metric"):
        branch_death_times(x, metric="cosine")
    with pytest.raises(ValueError, match="square"):
        vr_persistence(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="symmetric"):
        vr_persistence(torch.tensor([[0.0, 1.0], [2.0, 0.0]]))
    with pytest.raises(ValueError, match="negative"):
        vr_persistence(torch.tensor([[0.0, -1.0], [-1.0, 0.0]]))
    with pytest.raises(ValueError, match="NaN or inf"):
        branch_death_times(torch.tensor([[float("nan"), 1.0], [0.0, 0.0]]), 2)
    with pytest.raises(ValueError, match="overflow"):
        branch_death_times(torch.tensor([[3e38] * 4, [-3e38] * 4]))


# ------------------------------------------------------------------------- the tree API


@pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_spanning_trees_are_minimum_spanning_trees(metric, dtype):
    z = tie_free_codes(40, 3, 4, seed=8).to(dtype)
    edges, lengths = pershom.spanning_trees(z, 3, metric)
    assert edges.shape == (3, 39, 2) and edges.dtype == torch.int64 and lengths.dtype == dtype
    for k in range(3):
        sub = z[:, 4 * k:4 * (k + 1)].double().numpy()
        dist = cdist(sub, sub, RIPSER_METRICS[metric])
        # The same tree as a textbook Prim (the tree is unique: no ties).
        assert undirected(edges[k]) == undirected(_prim_reference(dist))
        expected, _ = ripser_deaths(sub, metric)
        np.testing.assert_allclose(lengths[k].double().numpy(), expected, rtol=2e-6)
    torch.testing.assert_close(pershom.edge_lengths(z, edges, 3, metric), lengths)


@pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
@pytest.mark.parametrize("weight", [1.0, 0.25])
def test_death_time_loss_equals_the_torch_formula(metric, weight):
    rng = np.random.default_rng(9)
    points = rng.integers(0, 3, size=(30, 12)).astype(float)  # ties, duplicates, deaths at eta
    points[:5] = rng.standard_normal((5, 12))
    eta = 2.0
    result = pershom.death_time_loss(torch.tensor(points), eta, 3, metric, weight=weight,
                                     with_gradient=True)
    z = torch.tensor(points, requires_grad=True)
    deaths = pershom.edge_lengths(z, result.edges, 3, metric)
    reference = torch.where(deaths > 0, (eta - deaths).abs(), 0.0).sum(-1)
    (weight * reference.sum()).backward()
    np.testing.assert_allclose(result.losses.numpy(), reference.detach().numpy(), rtol=1e-12)
    expected_slopes = weight * torch.where(deaths > 0, (deaths - eta).sign(), 0.0)
    np.testing.assert_array_equal(result.slopes.numpy(), expected_slopes.detach().numpy())
    np.testing.assert_allclose(result.gradient.numpy(), z.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert pershom.death_time_loss(torch.tensor(points), eta, 3, metric).gradient is None


@pytest.mark.parametrize("metric", ["l1", "l2", "linf"])
def test_edge_length_gradient_equals_autograd_on_every_code_path(metric, monkeypatch):
    from corel_sklearn.pershom import _persistence

    rng = np.random.default_rng(10)
    points = rng.integers(0, 3, size=(20, 8)).astype(float)  # ties in l-inf, zero lengths
    edges = torch.tensor(rng.integers(0, 20, size=(2, 15, 2)))
    weights = torch.tensor(rng.standard_normal((2, 15)))
    z = torch.tensor(points, requires_grad=True)
    (pershom.edge_lengths(z, edges, 2, metric) * weights).sum().backward()
    compiled = pershom.edge_length_gradient(torch.tensor(points), edges, weights, 2, metric)
    with monkeypatch.context() as patch:  # the torch ops CUDA tensors go through
        patch.setattr(_persistence, "_uses_compiled_kernels", lambda points: False)
        torch_ops = pershom.edge_length_gradient(torch.tensor(points), edges, weights, 2, metric)
    torch.testing.assert_close(compiled, z.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(torch_ops, z.grad, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="edges must have shape"):
        pershom.edge_length_gradient(torch.tensor(points), edges[0], weights, 2, metric)
    with pytest.raises(ValueError, match="weights must have shape"):
        pershom.edge_length_gradient(torch.tensor(points), edges, weights[:, :3], 2, metric)


@pytest.mark.parametrize("call", [
    lambda z: pershom.vr_persistence_l1(z),
    lambda z: pershom.branch_death_times(z, 1),
    lambda z: pershom.spanning_trees(z),
    lambda z: pershom.death_time_loss(z, 2.0),
    lambda z: pershom.edge_length_gradient(z, torch.zeros(1, 2, 2, dtype=torch.long),
                                           torch.ones(1, 2)),
    lambda z: pershom.check_branched_points(z),
], ids=["vr_persistence_l1", "branch_death_times", "spanning_trees", "death_time_loss",
        "edge_length_gradient", "check_branched_points"])
def test_zero_dimensional_points_are_refused(call):
    with pytest.raises(ValueError, match="0 dimensions"):
        call(torch.zeros(5, 0))


@pytest.mark.parametrize("shape", [(5, 0), (0, 4)])
def test_tree_kernels_refuse_points_without_coordinates_or_points(shape):
    # The kernels read the first point and divide by the width: no silent garbage.
    from corel_sklearn.pershom._cpu_trees import branch_mst_cpu, connectivity_loss_cpu

    with pytest.raises(ValueError, match="at least one coordinate"):
        branch_mst_cpu(np.zeros(shape, dtype=np.float32), 1, "l1")
    with pytest.raises(ValueError, match="at least one coordinate"):
        connectivity_loss_cpu(np.zeros(shape, dtype=np.float32), 1, "l1", 2.0)
