"""0-dim Vietoris-Rips persistence and connectivity-loss overhead, against peers, in one run.

    python benchmarks/bench_persistence.py            # everything (~1-2 min on 2 cores)
    python benchmarks/bench_persistence.py --quick    # skip the slow peers at B = 4000

Prints medians of repeated in-process timings and ratios measured side by side (absolute times
on shared 2-core machines are noisy; the ratios are what to compare). Peers: ripser.py
(`pip install ripser`) and giotto-ph (`pip install giotto-ph`, 2 threads): both sort all edges and
run union-find; neither has gradients. Ours is timed forward + backward, distance work included.
"""

import argparse
import statistics
import time
import warnings

import numpy as np
import torch

from corel_sklearn.losses import connectivity_loss
from corel_sklearn.pershom import branch_death_times, edge_lengths

try:
    from ripser import ripser
except ImportError:  # optional peer
    ripser = None
# ripser warns on B < d ("did you mean to transpose?"): our clouds are meant that way.
warnings.filterwarnings("ignore", message="The input point cloud has more columns than rows")
try:
    from gph import ripser_parallel
except ImportError:  # optional peer
    ripser_parallel = None


def median_time(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ours_forward_backward(x, n_branches=1):
    def run():
        z = x.detach().requires_grad_()
        death_times, _ = branch_death_times(z, n_branches, "l1")
        death_times.sum().backward()

    return run


def full_matrix_forward_backward(x):
    """What torchph does: autograd through the whole B x B distance matrix."""

    def run():
        z = x.detach().requires_grad_()
        _, edges = branch_death_times(z.detach(), 1, "l1")
        dist = torch.cdist(z, z, p=1)
        dist[edges[0, :, 0], edges[0, :, 1]].sum().backward()

    return run


def ms(seconds):
    return f"{1e3 * seconds:9.2f} ms"


def persistence_table(sizes, quick):
    print("\n## 0-dim persistence of randn(B, 160) float32, l1 (forward + backward for ours)")
    print(f"{'B':>6} {'ours':>12} {'full-matrix bw':>15} {'cdist only':>12} {'ripser':>12} "
          f"{'giotto-ph':>12} {'ripser/ours':>12} {'giotto/ours':>12}")
    rng = np.random.default_rng(0)
    for b in sizes:
        x = torch.tensor(rng.standard_normal((b, 160)), dtype=torch.float32)
        repeats = {100: 50, 1000: 10}.get(b, 3)
        # Warm-up covers the thread planner's first timings (it tries 1 and 2 threads per shape).
        ours = median_time(ours_forward_backward(x), repeats, warmup=8)
        full = (median_time(full_matrix_forward_backward(x), max(repeats // 3, 1))
                if b <= 1000 or not quick else float("nan"))
        cdist = median_time(lambda x=x: torch.cdist(x, x, p=1), repeats)
        slow_repeats = 1 if b >= 4000 else max(repeats // 5, 1)
        skip_slow = quick and b >= 4000
        points = x.numpy()
        warmup = 0 if b >= 4000 else 1
        rip = gio = float("nan")
        if ripser is not None and not skip_slow:
            rip = median_time(lambda p=points: ripser(p, maxdim=0, metric="cityblock"),
                              slow_repeats, warmup)
        if ripser_parallel is not None and not skip_slow:
            gio = median_time(
                lambda p=points: ripser_parallel(p, maxdim=0, metric="manhattan", n_threads=2),
                slow_repeats, warmup,
            )
        print(f"{b:>6} {ms(ours):>12} {ms(full):>15} {ms(cdist):>12} {ms(rip):>12} {ms(gio):>12} "
              f"{rip / ours:>11.1f}x {gio / ours:>11.1f}x")


def paper_setting_table():
    print("\n## Paper setting: B = 100, 16 branches x 10 dims, l1 (ours: the connectivity loss, "
          "forward + backward)")
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.standard_normal((100, 160)), dtype=torch.float32)

    def ours():
        z = x.detach().requires_grad_()
        connectivity_loss(z, eta=2.0, n_branches=16).backward()

    branches = [np.ascontiguousarray(x.numpy()[:, 10 * k:10 * (k + 1)]) for k in range(16)]
    t_ours = median_time(ours, 200, warmup=8)
    row = f"ours {ms(t_ours)}"
    if ripser is not None:
        t = median_time(lambda: [ripser(p, maxdim=0, metric="cityblock") for p in branches], 20)
        row += f" | ripser x16 {ms(t)} ({t / t_ours:.1f}x)"
    if ripser_parallel is not None:
        t = median_time(lambda: [ripser_parallel(p, maxdim=0, metric="manhattan", n_threads=2)
                                 for p in branches], 20)
        row += f" | giotto-ph x16 {ms(t)} ({t / t_ours:.1f}x)"
    print(row)


class MLPAutoencoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                           torch.nn.Linear(256, 160))
        self.decoder = torch.nn.Sequential(torch.nn.Linear(160, 256), torch.nn.ReLU(),
                                           torch.nn.Linear(256, 784))


def training_step_table():
    print("\n## Training-step overhead of the loss (MLP AE 784-256-160, Adam, l1 reconstruction)")
    print(f"{'batch':>6} {'no loss':>12} {'+ loss 16x10':>14} {'ratio':>7} {'+ loss 1x160':>14} "
          f"{'ratio':>7}")
    for batch in (100, 1000):
        torch.manual_seed(0)
        model = MLPAutoencoder()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        data = torch.rand(batch, 784)

        def step(n_branches, model=model, optimizer=optimizer, data=data):
            optimizer.zero_grad()
            z = model.encoder(data)
            loss = (model.decoder(z) - data).abs().sum(1).mean()
            if n_branches:
                loss = loss + 20.0 * connectivity_loss(z, eta=2.0, n_branches=n_branches)
            loss.backward()
            optimizer.step()

        repeats = 100 if batch == 100 else 20
        # Interleave the variants so that drifting machine load hits them alike.
        plain, branched, single = [], [], []
        for _ in range(3):
            plain.append(median_time(lambda: step(0), repeats))
            branched.append(median_time(lambda: step(16), repeats))
            single.append(median_time(lambda: step(1), repeats))
        plain, branched, single = min(plain), min(branched), min(single)
        print(f"{batch:>6} {ms(plain):>12} {ms(branched):>14} {branched / plain:>6.2f}x "
              f"{ms(single):>14} {single / plain:>6.2f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip slow peers at B = 4000")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 4000])
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"ripser {'yes' if ripser else 'missing'}, giotto-ph "
          f"{'yes' if ripser_parallel else 'missing'}")
    # Sanity: the recomputed edge lengths are the persistence (cheap check that we time the
    # real thing).
    x = torch.randn(50, 160)
    deaths, edges = branch_death_times(x)
    torch.testing.assert_close(edge_lengths(x, edges), deaths)
    persistence_table(args.sizes, args.quick)
    paper_setting_table()
    training_step_table()


if __name__ == "__main__":
    main()
