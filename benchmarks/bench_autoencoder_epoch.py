"""Epoch time of COREL's paper configuration on CIFAR-10-sized data, on the CPU.

One epoch of ``TopoAutoencoder(input_shape=(3, 32, 32))`` with the paper's settings (conv net
32/64/128, 16 x 10 branches, batch 100, Adam 1e-3) on random 50,000 x 3072 float32 data in
[0, 1], i.e. 500 steps, once with the connectivity loss (``connectivity_weight=20``) and once
without (``connectivity_weight=0``). The two runs alternate so that a noisy, shared machine
affects both alike; compare the ratio, not absolute times across runs.

    python benchmarks/bench_autoencoder_epoch.py            # ~1-2 min on 2 cores
    python benchmarks/bench_autoencoder_epoch.py --n-samples 5000 --repeats 2
"""

import argparse
import os
import platform
import statistics

import numpy as np
import torch

from corel_sklearn import TopoAutoencoder


def epoch_time(X, connectivity_weight, threads):
    torch.set_num_threads(threads)
    ae = TopoAutoencoder(
        input_shape=(3, 32, 32),
        connectivity_weight=connectivity_weight,
        max_epochs=1,
        device="cpu",
        random_state=0,
    ).fit(X)
    record = ae.history_[0]
    return record["wall_time"], record["n_steps"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=1, help="epochs timed per setting")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()

    X = np.random.default_rng(0).random((args.n_samples, 3 * 32 * 32), dtype=np.float32)
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, {args.threads} torch threads, X {X.shape} float32"
    )
    epoch_time(X[:200], 20.0, args.threads)  # warm-up: numba's MST kernel, oneDNN primitives
    times = {20.0: [], 0.0: []}
    for _ in range(args.repeats):
        for weight in times:
            seconds, n_steps = epoch_time(X, weight, args.threads)
            times[weight].append(seconds)
            print(
                f"  connectivity_weight={weight:>4g}: epoch {seconds:6.1f} s "
                f"({1e3 * seconds / n_steps:5.1f} ms/step, {n_steps} steps)"
            )
    with_loss, without = (statistics.median(times[w]) for w in (20.0, 0.0))
    print(f"epoch with the connectivity loss    : {with_loss:6.1f} s")
    print(f"epoch without (connectivity_weight=0): {without:6.1f} s")
    print(f"ratio with / without                 : {with_loss / without:6.2f}")


if __name__ == "__main__":
    main()
