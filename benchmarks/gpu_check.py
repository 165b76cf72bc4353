"""One-call GPU check: the CUDA path against the CPU path, and timings on the GPU.

    python benchmarks/gpu_check.py            # ~1-2 min on a GPU machine
    python benchmarks/gpu_check.py --aot      # no GPU needed: compile every kernel configuration

--aot compiles every configuration the dispatcher can launch (Prim kernel: each metric, dtype,
block shape and warp count) for sm_80 and sm_90 with triton's own ptxas, prints registers,
spills, stack, shared memory and SASS size per configuration, and exits 1 on a compile error,
a spill, or numerics other than promised (a fused multiply-add or approximate square root in
the PTX); ~3 min cold on 2 cores, seconds once the kernels and reports are cached.

1. Correctness: death times, edges (on tie-prone integer data) and connectivity-loss gradients
   from the Triton kernel on CUDA against the numba kernel on the CPU; the torchph seed snippet.
2. Persistence forward + backward on CUDA vs CPU at B = 100, 1000, 4000 (d = 160) and in the
   paper setting (B = 100, 16 branches x 10 dims).
3. A paper-sized training step (conv autoencoder, 32x32x3, batch 100) on the GPU with and without
   the connectivity loss, and one TopoAutoencoder epoch on 10,000 random images.
4. The cost model (pershom/_gpu_dispatch.py): per batch shape, Prim and Borůvka and the loss
   measured beside their estimates, and the host costs the model assumes (op dispatch, sync).
Exits 1 if a correctness check fails, 2 if no GPU is visible.
"""

import os
import statistics
import sys
import time

import numpy as np
import torch

from corel_sklearn import pershom
from corel_sklearn.losses import connectivity_loss
from corel_sklearn.pershom import branch_death_times
from corel_sklearn.pershom._cpu_trees import branch_mst_cpu
from corel_sklearn.pershom._gpu_dispatch import GPU, cost_table, gpu_msts


def timed(fn, repeats, device):
    fn()
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def undirected(edges):
    """Each branch's tree as a sorted list of (smaller, larger) endpoint pairs."""
    return [sorted(map(tuple, branch)) for branch in np.sort(edges, axis=-1)]


def check_correctness():
    failures = []
    rng = np.random.default_rng(0)
    cases = [(100, 16, 10), (1000, 1, 160), (257, 4, 3), (2, 1, 5), (300, 2, 7)]
    for metric in ("l1", "l2", "linf"):
        for n, n_branches, width in cases:
            x = torch.tensor(rng.standard_normal((n, n_branches * width)), dtype=torch.float32)
            cpu, _ = branch_death_times(x, n_branches, metric)
            gpu, _ = branch_death_times(x.cuda(), n_branches, metric)
            if not torch.allclose(gpu.cpu(), cpu, rtol=1e-5, atol=1e-6):
                failures.append(f"death times differ: {metric} B={n} {n_branches}x{width}")
            grid = torch.tensor(rng.integers(0, 3, (n, n_branches * width)), dtype=torch.float32)
            _, cpu_edges = branch_death_times(grid, n_branches, metric)
            _, gpu_edges = branch_death_times(grid.cuda(), n_branches, metric)
            if not torch.equal(gpu_edges.cpu(), cpu_edges):
                failures.append(f"tie-breaking differs: {metric} B={n} {n_branches}x{width}")
        for n, n_branches, width in [(300, 2, 7), (1000, 1, 160)]:
            x = torch.tensor(rng.standard_normal((n, n_branches * width)), dtype=torch.float32)
            cpu_edges, _ = branch_mst_cpu(x.numpy(), n_branches, metric)
            for algorithm in ("prim", "boruvka"):
                edges, _ = gpu_msts(x.cuda(), n_branches, metric, algorithm=algorithm)
                if undirected(edges.cpu().numpy()) != undirected(cpu_edges):
                    failures.append(f"{algorithm} tree differs: {metric} B={n} "
                                    f"{n_branches}x{width}")
        z = torch.tensor(rng.standard_normal((100, 160)), dtype=torch.float64)
        grads = []
        for device in ("cpu", "cuda"):
            zz = z.to(device).requires_grad_()
            connectivity_loss(zz, 2.0, 16, metric).backward()
            grads.append(zz.grad.cpu())
        if not torch.allclose(grads[0], grads[1], atol=1e-12):
            failures.append(f"connectivity-loss gradients differ: {metric}")
    # The torchph seed snippet, as written.
    batch = torch.randn(10, 5, requires_grad=True)
    batch = batch.to("cuda")
    non_ess, ess = pershom.vr_persistence_l1(batch, 0, 0)
    example_loss = non_ess[:, 1].sum()
    example_loss.backward()
    if not (non_ess.is_cuda and non_ess.shape[1] == 2 and ess.tolist() == [0.0]):
        failures.append("seed snippet")
    return failures


def persistence_timings():
    print("\n| case | CPU fwd+bwd | CUDA fwd+bwd | CPU/CUDA |")
    print("|---|---|---|---|")
    rng = np.random.default_rng(1)
    cases = [("B=100, 1x160", 100, 1), ("B=1000, 1x160", 1000, 1), ("B=4000, 1x160", 4000, 1),
             ("B=100, 16x10 (paper)", 100, 16), ("B=1000, 16x10", 1000, 16)]
    for name, n, n_branches in cases:
        x = torch.tensor(rng.standard_normal((n, 160)), dtype=torch.float32)
        row = []
        for device in ("cpu", "cuda"):
            xd = x.to(device)

            def run(xd=xd, n_branches=n_branches):
                z = xd.detach().requires_grad_()
                connectivity_loss(z, 2.0, n_branches).backward()

            row.append(timed(run, 3 if n >= 4000 else 10, device))
        cpu_ms, cuda_ms = 1e3 * row[0], 1e3 * row[1]
        print(f"| {name} | {cpu_ms:.2f} ms | {cuda_ms:.2f} ms | {row[0] / row[1]:.1f}x |")


def cost_model_check():
    """Measured times beside the cost model's estimates (docs/persistence.md, "Cost model")."""
    x = torch.zeros(8, device="cuda")
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(1000):
        x = x + 1.0
    dispatch_us = (time.perf_counter() - start) * 1e3
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(100):
        bool(x[0] > 0)
    sync_us = (time.perf_counter() - start) * 1e4
    print(f"\nhost dispatch of one small torch op: {dispatch_us:.1f} us (model "
          f"{GPU['op_dispatch_us']:.1f}); one synchronising read: {sync_us:.1f} us "
          f"(model {GPU['sync_us']:.1f})")
    print("\n| B, branches x width | chosen | Prim est. / measured | Prim step est. / "
          "measured | Borůvka est. / measured | loss fwd+bwd est. / measured |")
    print("|---|---|---|---|---|---|")
    rng = np.random.default_rng(3)
    for row in cost_table():
        n, n_branches, width = row["case"]
        z = torch.tensor(rng.standard_normal((n, n_branches * width)), dtype=torch.float32,
                         device="cuda")
        repeats = 3 if n >= 4000 else 10
        measured = {}
        for algorithm in ("prim", "boruvka"):
            if row[f"{algorithm}_us"] > 2e6:  # estimated over 2 s: not worth the wait
                measured[algorithm] = float("nan")
                continue
            measured[algorithm] = 1e6 * timed(
                lambda a=algorithm, z=z, k=n_branches: gpu_msts(z, k, "l1", algorithm=a),
                repeats, "cuda")

        def loss_step(z=z, n_branches=n_branches):
            zz = z.detach().requires_grad_()
            connectivity_loss(zz, 2.0, n_branches).backward()

        measured["loss"] = 1e6 * timed(loss_step, repeats, "cuda")
        step = measured["prim"] / max(n - 1, 1)
        print(f"| {n}, {n_branches} x {width} | {row['algorithm']} | "
              f"{row['prim_us']:.0f} / {measured['prim']:.0f} us | "
              f"{row['prim_step_us']:.2f} / {step:.2f} us ({row['prim_bound']}) | "
              f"{row['boruvka_us']:.0f} / {measured['boruvka']:.0f} us | "
              f"{row['loss_us']:.0f} / {measured['loss']:.0f} us |")


def training_timings():
    from corel_sklearn import TopoAutoencoder
    from corel_sklearn.networks import ConvAutoencoder

    print("\n| paper conv AE step, batch 100, 32x32x3 | time |")
    print("|---|---|")
    torch.manual_seed(0)
    model = ConvAutoencoder((3, 32, 32)).cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.rand(100, 3, 32, 32, device="cuda")
    results = {}
    for weight in (0.0, 20.0):
        def step(weight=weight):
            optimizer.zero_grad()
            z = model.encoder(data)
            loss = (model.decoder(z) - data).abs().flatten(1).sum(1).mean()
            if weight:
                loss = loss + weight * connectivity_loss(z, 2.0, 16)
            loss.backward()
            optimizer.step()

        results[weight] = timed(step, 50, "cuda")
        print(f"| lambda = {weight:g} | {1e3 * results[weight]:.2f} ms |")
    print(f"| overhead of the loss | {results[20.0] / results[0.0]:.2f}x |")

    images = np.random.default_rng(2).random((10_000, 3 * 32 * 32), dtype=np.float32)
    for weight in (0.0, 20.0):
        encoder = TopoAutoencoder(input_shape=(3, 32, 32), max_epochs=1, device="cuda",
                                  connectivity_weight=weight, random_state=0)
        start = time.perf_counter()
        encoder.fit(images)
        torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        print(f"| TopoAutoencoder epoch, 10,000 images, lambda = {weight:g} | {elapsed:.2f} s "
              f"(x5 for CIFAR-10's 50,000) |")


def aot_check():
    """Ahead-of-time compilation table; returns the exit status."""
    os.environ["TRITON_INTERPRET"] = "0"
    from corel_sklearn.pershom._gpu_aot import TARGETS, aot_report, ptxas_path, row_failures

    missing = [capability for capability in TARGETS if ptxas_path(capability) is None]
    if missing:
        print(f"triton or its ptxas is missing (targets {missing}): nothing to check")
        return 2
    start = time.perf_counter()
    rows = aot_report()
    print("| configuration | target | registers | spill stores / loads (B) | stack (B) | "
          "shared (B) | SASS instructions |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        if "error" in row:
            print(f"| {row['label']} | {row['target']} | COMPILE ERROR: {row['error']} |")
            continue
        print(f"| {row['label']} | {row['target']} | {row['registers']} | "
              f"{row['spill_stores']} / {row['spill_loads']} | {row['stack']} | {row['shared']} | "
              f"{row['sass_instructions']} |")
    failures = row_failures(rows)
    compiled = [row for row in rows if "error" not in row]
    print(f"\n{len(rows)} compilations ({len(rows) // len(TARGETS)} configurations x "
          f"{len(TARGETS)} targets) in {time.perf_counter() - start:.0f} s; max registers "
          f"{max((row['registers'] for row in compiled), default=0)}; "
          f"{len(failures)} failing (compile error, spill, stack, fused multiply-add or "
          "approximate square root)")
    for row in failures:
        print("  FAILED:", row["label"], row["target"], row.get("error", ""))
    print_cost_model(compiled)
    return 1 if failures else 0


def print_cost_model(rows):
    """The cost model's SASS constants beside the compiled kernels', then its estimates."""
    from corel_sklearn.pershom import _gpu_dispatch

    print("\nCost model, SASS instructions per warp (sm_90, float32, l1): model / compiled "
          "(the loops nvdisasm finds: per coordinate = the one-coordinate remainder loop; per "
          "step = the step loop less its distance loops)")
    for row in rows:
        c = row["constexprs"]
        if (row["target"], row["dtype"], row["metric"]) != ("sm_90a", "fp32", "l1") \
                or not row["sass_loops"] or not c["RESIDENT"]:
            continue
        per_thread = max(c["BLOCK_B"] // (32 * row["num_warps"]), 1)
        loops = row["sass_loops"]
        print(f"  BLOCK_B={c['BLOCK_B']:<4} rows/thread {per_thread}: per coordinate "
              f"{_gpu_dispatch.SASS_PER_COORDINATE[per_thread]} / {loops[0]}, per step "
              f"{_gpu_dispatch.SASS_PER_STEP[per_thread]} / {loops[-1] - sum(loops[:-1])}")
    print("\n| B, branches x width | Prim step (bound) | Prim | Borůvka | chosen | "
          "loss fwd+bwd |")
    print("|---|---|---|---|---|---|")
    for row in cost_table():
        n, n_branches, width = row["case"]
        print(f"| {n}, {n_branches} x {width} | {row['prim_step_us']:.2f} us "
              f"({row['prim_bound']}) | {row['prim_us'] / 1e3:.2f} ms | "
              f"{row['boruvka_us'] / 1e3:.2f} ms | {row['algorithm']} | "
              f"{row['loss_us'] / 1e3:.2f} ms |")


def main():
    if "--aot" in sys.argv[1:]:
        return aot_check()
    if not torch.cuda.is_available():
        print("no CUDA device visible: nothing to check")
        return 2
    import triton

    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, triton {triton.__version__}, "
          f"{torch.cuda.get_device_name()}")
    start = time.perf_counter()
    failures = check_correctness()
    print(f"\ncorrectness (CUDA vs CPU): {'OK' if not failures else 'FAILED'} "
          f"({time.perf_counter() - start:.1f} s, includes Triton compilation)")
    for failure in failures:
        print("  -", failure)
    persistence_timings()
    cost_model_check()
    training_timings()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
