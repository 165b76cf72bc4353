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
    return 1 if failures else 0


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
    training_timings()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
