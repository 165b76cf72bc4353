"""The CUDA algorithms without a GPU: the Triton Prim kernel in triton's interpreter
(TRITON_INTERPRET=1, see conftest) in every configuration the dispatcher can pick, Borůvka's
torch ops on CPU tensors, both against the CPU kernel and ripser; the dispatcher's choice; and
the ahead-of-time compilation for sm_80 / sm_90 (registers, spills, numerics)."""

import contextlib

import numpy as np
import pytest
import torch
from test_pershom import random_cloud, ripser_deaths

from corel_sklearn.pershom import _gpu_dispatch, _persistence, _prim_triton
from corel_sklearn.pershom._boruvka import branch_mst_boruvka
from corel_sklearn.pershom._cpu_trees import branch_mst_cpu
from corel_sklearn.pershom._gpu_dispatch import choose_algorithm, gpu_msts
from corel_sklearn.pershom._prim_triton import all_prim_configs, branch_mst_triton

METRICS = ("l1", "l2", "linf")
needs_triton = pytest.mark.skipif(not _prim_triton.triton_available(),
                                  reason="needs triton (the [gpu] extra)")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def device_code_paths(monkeypatch):
    """Within the block, CPU tensors take the CUDA code paths of ``pershom`` (GPU algorithms,
    torch ops), as CUDA tensors would."""
    with monkeypatch.context() as patch:
        patch.setattr(_persistence, "_uses_compiled_kernels", lambda points: False)
        yield


def undirected_trees(edges):
    """Each branch's tree as a sorted list of (smaller, larger) endpoint pairs."""
    edges = np.sort(np.asarray(edges), axis=-1)
    return [sorted(map(tuple, branch)) for branch in edges]


def assert_same_as_cpu_kernel(x, n_branches, metric, edges, lengths, exact):
    """Exact distances (integer grids): the tie rule must give the very same edges in the same
    order, and the very same lengths. Otherwise lengths agree to rounding (the CPU kernel may
    round the distances to two identical points differently, so even duplicates can attach
    in another order)."""
    cpu_edges, cpu_lengths = branch_mst_cpu(x.numpy(), n_branches, metric)
    lengths = lengths.cpu().double().numpy()
    if exact:
        np.testing.assert_array_equal(edges.cpu().numpy(), cpu_edges)
    if exact:
        np.testing.assert_array_equal(lengths, cpu_lengths)
    else:
        rtol = 1e-6 if x.dtype == torch.float32 else 1e-13
        np.testing.assert_allclose(lengths, cpu_lengths, rtol=rtol, atol=rtol)


# Every configuration prim_config can return, each forced on a small cloud (under the
# interpreter the warp count does not matter; the block size does: masked rows, and for the
# streaming kernel one block), in both dtypes and every metric.
PRIM_CONFIGS = all_prim_configs()


@needs_triton
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("config", PRIM_CONFIGS, ids=lambda c: "-".join(map(str, c.values())))
def test_prim_kernel_every_configuration_matches_cpu_kernel(config, dtype, monkeypatch):
    monkeypatch.setattr(_prim_triton, "prim_config", lambda n_points: dict(config))
    rng = np.random.default_rng(PRIM_CONFIGS.index(config))
    n = min(13, config["BLOCK_B"])
    for metric in METRICS:
        for kind in ("grid", "gaussian"):
            x = random_cloud(rng, n, 2 * 3, kind, dtype)
            edges, lengths = branch_mst_triton(x.to(DEVICE), 2, metric)
            assert lengths.dtype == dtype
            assert_same_as_cpu_kernel(x, 2, metric, edges, lengths, exact=kind == "grid")


@needs_triton
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("kind", ["gaussian", "grid", "duplicates"])
def test_prim_kernel_default_configuration_matches_cpu_kernel(metric, kind):
    rng = np.random.default_rng(8)
    x = random_cloud(rng, 37, 3 * 3, kind, torch.float32)
    edges, lengths = branch_mst_triton(x.to(DEVICE), 3, metric)
    assert_same_as_cpu_kernel(x, 3, metric, edges, lengths, exact=kind == "grid")


@needs_triton
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("kind", ["gaussian", "grid", "duplicates"])
def test_streaming_prim_over_several_blocks_matches_cpu_kernel(metric, kind, monkeypatch):
    # Shrunk limits send a 27-point cloud through the streaming loop, 2 blocks of 16 rows.
    monkeypatch.setattr(_prim_triton, "RESIDENT_MAX_POINTS", 16)
    monkeypatch.setattr(_prim_triton, "STREAMING_BLOCK_B", 16)
    assert not _prim_triton.prim_config(27)["RESIDENT"]
    rng = np.random.default_rng(9)
    x = random_cloud(rng, 27, 2 * 5, kind, torch.float64)
    edges, lengths = branch_mst_triton(x.to(DEVICE), 2, metric)
    assert_same_as_cpu_kernel(x, 2, metric, edges, lengths, exact=kind == "grid")
    expected, _ = ripser_deaths(x[:, :5].numpy(), metric)
    deaths = lengths[0].cpu().numpy()
    np.testing.assert_allclose(deaths[deaths > 0], expected, rtol=1e-6)


@needs_triton
def test_prim_kernel_tiny_clouds():
    for n in (1, 2, 3):
        x = torch.arange(n * 2, dtype=torch.float32).reshape(n, 2)
        edges, lengths = branch_mst_triton(x, 2, "l1")
        assert edges.shape == (2, n - 1, 2) and lengths.shape == (2, n - 1)
        assert_same_as_cpu_kernel(x, 2, "l1", edges, lengths, exact=True)


@needs_triton
def test_every_launch_sets_floating_point_fusion_explicitly(monkeypatch):
    launches = []
    kernels = _prim_triton._kernels()

    class Recorder:
        def __getitem__(self, grid):
            def launch(*args, **kwargs):
                launches.append(kwargs)
                return kernels.prim_kernel[grid](*args, **kwargs)
            return launch

    monkeypatch.setattr(_prim_triton, "_kernels",
                        lambda: type("Kernels", (), {"prim_kernel": Recorder()}))
    branch_mst_triton(torch.randn(5, 4), 2, "l2")
    assert launches and all(kw["enable_fp_fusion"] is False for kw in launches)
    assert all(kw["num_warps"] >= 1 for kw in launches)


# Borůvka: torch ops, so it runs on CPU tensors directly.


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("n", "n_branches", "width"), [(2, 1, 3), (40, 3, 4), (130, 2, 10)])
def test_boruvka_gives_prims_tree_when_it_is_unique(metric, dtype, n, n_branches, width):
    rng = np.random.default_rng(n)
    x = random_cloud(rng, n, n_branches * width, "gaussian", dtype)
    edges, lengths, unique = branch_mst_boruvka(x, n_branches, metric)
    assert bool(unique)  # Gaussian points: distinct distances
    assert edges.dtype == torch.long and lengths.dtype == dtype
    cpu_edges, cpu_lengths = branch_mst_cpu(x.numpy(), n_branches, metric)
    assert undirected_trees(edges) == undirected_trees(cpu_edges)
    rtol = 1e-6 if dtype == torch.float32 else 1e-13
    np.testing.assert_allclose(lengths.double().numpy(), cpu_lengths, rtol=rtol)
    assert torch.all(lengths[:, 1:] >= lengths[:, :-1])
    expected, _ = ripser_deaths(x[:, :width].double().numpy(), metric)
    np.testing.assert_allclose(lengths[0].double().numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("kind", ["grid", "duplicates"])
@pytest.mark.parametrize("metric", METRICS)
def test_boruvka_reports_ties_it_cannot_resolve_like_prim(kind, metric):
    rng = np.random.default_rng(10)
    x = random_cloud(rng, 60, 2 * 3, kind, torch.float32)
    _, _, unique = branch_mst_boruvka(x, 2, metric)
    assert not bool(unique)


def test_boruvka_flags_the_tie_where_prims_rule_is_not_a_fixed_edge_order():
    # Prim from 0 takes 2, then 1 (tie with 3, smaller index); 3 keeps parent 2, reached
    # first. Kruskal by (length, smaller end, larger end) would take (1, 3) instead.
    x = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0], [1.5, 0.5]])
    cpu_edges, _ = branch_mst_cpu(x.numpy(), 1, "l1")
    assert sorted(map(tuple, np.sort(cpu_edges[0], axis=1))) == [(0, 2), (1, 2), (2, 3)]
    _, _, unique = branch_mst_boruvka(x, 1, "l1")
    assert not bool(unique)


@pytest.mark.parametrize("metric", METRICS)
def test_boruvka_on_a_long_chain_needs_every_round(metric):
    # Gaps growing along a line: every component's shortest edge points left, so components
    # merge along one long hook chain (pointer jumping must follow it to the end).
    x = torch.tensor(np.cumsum(1.0 + np.arange(70) / 100.0)[:, None])
    edges, lengths, unique = branch_mst_boruvka(x, 1, metric)
    assert bool(unique)
    assert undirected_trees(edges) == [[(i, i + 1) for i in range(69)]]


@needs_triton
@pytest.mark.parametrize("metric", METRICS)
def test_dispatch_falls_back_to_prim_on_ties(metric):
    rng = np.random.default_rng(11)
    x = random_cloud(rng, 33, 2 * 3, "grid", torch.float32)
    edges, lengths = gpu_msts(x.to(DEVICE), 2, metric, algorithm="boruvka")
    assert_same_as_cpu_kernel(x, 2, metric, edges, lengths, exact=True)
    gaussian = random_cloud(rng, 33, 2 * 3, "gaussian", torch.float32)
    edges, lengths = gpu_msts(gaussian.to(DEVICE), 2, metric, algorithm="boruvka")
    cpu_edges, _ = branch_mst_cpu(gaussian.numpy(), 2, metric)
    assert undirected_trees(edges.cpu()) == undirected_trees(cpu_edges)


def test_dispatch_without_triton_returns_none_when_prim_is_needed(monkeypatch):
    monkeypatch.setattr(_gpu_dispatch, "triton_available", lambda: False)
    x = torch.tensor([[0.0], [1.0], [1.0], [2.0]])  # ties: Borůvka cannot decide
    assert gpu_msts(x, 1, "l1", algorithm="boruvka") is None
    edges, _ = gpu_msts(torch.tensor([[0.0], [1.0], [3.0]]), 1, "l1", algorithm="boruvka")
    assert undirected_trees(edges) == [[(0, 1), (1, 2)]]


def test_cost_model_picks_prim_for_corel_and_boruvka_for_large_clouds():
    assert choose_algorithm(100, 10, 16) == "prim"  # COREL: 16 branches x 10, B = 100
    assert choose_algorithm(100, 160, 1) == "prim"
    assert choose_algorithm(4000, 160, 1) == "boruvka"  # ~100 ms of serial Prim steps
    assert choose_algorithm(1, 160, 1) == "prim"
    # Borůvka's matrices beyond the memory budget: Prim, whatever the estimates say.
    assert choose_algorithm(60_000, 160, 1) == "prim"


# Ahead of time: a representative subset here (the largest tiles of each kernel shape, every
# metric and dtype; ~15 s cold); `python benchmarks/gpu_check.py --aot` compiles all of them
# (~2-3 min cold, seconds once cached). In a child process: the suite interprets triton.
_AOT_SCRIPT = """
import json
from corel_sklearn.pershom._gpu_aot import (TARGETS, aot_report, prim_launches, ptxas_path,
                                            representative_launches)
if any(ptxas_path(capability) is None for capability in TARGETS):
    print(json.dumps(None))
else:
    rows = aot_report(representative_launches())
    # The kernels the cost model's SASS constants describe (sm_90, float32, l1, resident).
    model = [launch for launch in prim_launches(("l1",), ("fp32",))
             if launch["constexprs"]["RESIDENT"] and launch["constexprs"]["BLOCK_B"] in
             (16, 128, 1024)]
    rows += aot_report(model, targets=(90,))
    print(json.dumps(rows))
"""


@needs_triton
def test_kernels_compile_for_sm80_and_sm90_without_spills():
    import json
    import os
    import subprocess
    import sys

    from corel_sklearn.pershom._gpu_aot import representative_launches, row_failures

    env = {**os.environ, "TRITON_INTERPRET": "0"}
    result = subprocess.run([sys.executable, "-c", _AOT_SCRIPT], capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    if rows is None:
        pytest.skip("triton's ptxas is not available")
    model_rows = rows[2 * len(representative_launches()):]
    rows = rows[:2 * len(representative_launches())]
    assert {row["target"] for row in rows} == {"sm_80", "sm_90a"}
    assert {row["metric"] for row in rows} == set(METRICS)
    assert not row_failures(rows), row_failures(rows)
    for row in rows:
        assert 0 < row["registers"] <= 255
        assert row["spill_stores"] == row["spill_loads"] == row["stack"] == 0
        assert row["fused_multiply_adds"] == 0 and row["approximate_roots"] == 0
    # The cost model counts the compiled kernels' instructions: its constants must still be
    # those of the kernels (within 25 %), or the estimates in the docs are stale.
    assert len(model_rows) == 3
    for row in model_rows:
        if row["sass_loops"] is None:
            pytest.skip("nvdisasm is not available")
        c = row["constexprs"]
        rows_per_thread = max(c["BLOCK_B"] // (32 * row["num_warps"]), 1)
        loops = row["sass_loops"]
        per_coordinate, per_step = loops[0], loops[-1] - sum(loops[:-1])
        assert per_coordinate == pytest.approx(
            _gpu_dispatch.SASS_PER_COORDINATE[rows_per_thread], rel=0.25)
        assert per_step == pytest.approx(_gpu_dispatch.SASS_PER_STEP[rows_per_thread], rel=0.25)


def test_boruvka_runs_branches_in_groups_that_fit_in_memory(monkeypatch):
    # A budget of two branches' matrices: five branches go as 2 + 2 + 1, same trees.
    rng = np.random.default_rng(12)
    x = random_cloud(rng, 30, 5 * 3, "gaussian", torch.float64)
    monkeypatch.setattr(_gpu_dispatch, "BORUVKA_MAX_BYTES",
                        _gpu_dispatch.boruvka_bytes(30, 2, x.element_size()))
    assert _gpu_dispatch.boruvka_branch_groups(30, 5, x.element_size()) == 2
    edges, lengths = gpu_msts(x, 5, "l2", algorithm="boruvka")
    cpu_edges, cpu_lengths = branch_mst_cpu(x.numpy(), 5, "l2")
    assert undirected_trees(edges) == undirected_trees(cpu_edges)
    np.testing.assert_allclose(lengths.numpy(), cpu_lengths, rtol=1e-13)


def test_cost_table_estimates_are_consistent():
    rows = _gpu_dispatch.cost_table()
    assert [row["case"] for row in rows] == list(_gpu_dispatch.COST_CASES)
    for row in rows:
        n, n_branches, width = row["case"]
        assert row["algorithm"] == choose_algorithm(n, width, n_branches)
        cheaper = min(row["prim_us"], row["boruvka_us"])
        assert row["loss_us"] >= cheaper > 0
        # Prim: at least its B - 1 serial steps.
        assert row["prim_us"] >= (n - 1) * row["prim_step_us"]


# The CUDA branch of the connectivity loss (one autograd node on the GPU trees), run on CPU
# tensors: Prim in the interpreter, or Borůvka.


@needs_triton
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("kind", "dtype"), [("gaussian", torch.float64), ("grid", torch.float32),
                                             ("duplicates", torch.float64)])
def test_device_loss_equals_the_cpu_loss(metric, reduction, kind, dtype, monkeypatch):
    from corel_sklearn.losses import (
        _DeviceConnectivityLoss,
        _per_branch_loss,
        _reduce,
        connectivity_loss,
    )
    from corel_sklearn.pershom import edge_lengths
    from corel_sklearn.pershom._persistence import _device_trees

    rng = np.random.default_rng(13)
    x = random_cloud(rng, 21, 3 * 4, kind, dtype)
    eta = 2.0 if kind == "grid" else 1.5  # grids: many deaths exactly at eta
    weights = torch.tensor([1.0, -2.0, 0.5], dtype=dtype)

    def run(loss_function):
        z = x.clone().requires_grad_()
        loss = loss_function(z)
        (loss * weights).sum().backward() if reduction == "none" else loss.backward()
        return loss.detach(), z.grad

    with device_code_paths(monkeypatch):
        loss, grad = run(lambda z: _DeviceConnectivityLoss.apply(z, eta, 3, metric, reduction))
    # Reference 1: the torch formula through autograd, on the same trees.
    edges, _ = _device_trees(x, 3, metric)
    formula_loss, formula_grad = run(lambda z: _reduce(
        _per_branch_loss(edge_lengths(z, edges, 3, metric), eta), reduction))
    # Reference 2: the CPU one-node loss (its own trees: the same on exact grids).
    cpu_loss, cpu_grad = run(lambda z: connectivity_loss(z, eta, 3, metric, reduction))
    assert loss.dtype == dtype and loss.shape == cpu_loss.shape
    rtol = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(loss, formula_loss, rtol=rtol, atol=rtol)
    torch.testing.assert_close(grad, formula_grad, rtol=rtol, atol=rtol)
    torch.testing.assert_close(loss, cpu_loss, rtol=rtol, atol=rtol)
    if kind != "duplicates":
        torch.testing.assert_close(grad, cpu_grad, rtol=rtol, atol=rtol)


@needs_triton
@pytest.mark.parametrize("metric", METRICS)
def test_device_loss_gradcheck_and_double_backward(metric, monkeypatch):
    from corel_sklearn.losses import _DeviceConnectivityLoss

    rng = np.random.default_rng(14)
    z = torch.tensor(rng.standard_normal((9, 6)), requires_grad=True)

    def loss(points):
        return _DeviceConnectivityLoss.apply(points, 1.0, 2, metric, "none")

    with device_code_paths(monkeypatch):
        assert torch.autograd.gradcheck(loss, (z,))
        assert torch.autograd.gradgradcheck(loss, (z,))


@pytest.mark.parametrize("metric", METRICS)
def test_device_loss_through_boruvka_equals_the_cpu_loss(metric, monkeypatch):
    from corel_sklearn.losses import _DeviceConnectivityLoss, connectivity_loss

    monkeypatch.setattr(_gpu_dispatch, "choose_algorithm", lambda *args: "boruvka")
    monkeypatch.setattr(_gpu_dispatch, "triton_available", lambda: False)  # Borůvka decides
    rng = np.random.default_rng(15)
    x = random_cloud(rng, 40, 2 * 5, "gaussian", torch.float64)
    z, z_cpu = x.clone().requires_grad_(), x.clone().requires_grad_()
    with device_code_paths(monkeypatch):
        loss = _DeviceConnectivityLoss.apply(z, 2.0, 2, metric, "mean")
        loss.backward()
    cpu_loss = connectivity_loss(z_cpu, 2.0, 2, metric)
    cpu_loss.backward()
    torch.testing.assert_close(loss.detach(), cpu_loss.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(z.grad, z_cpu.grad, rtol=1e-12, atol=1e-12)
