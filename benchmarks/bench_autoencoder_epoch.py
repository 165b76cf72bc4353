"""Epoch time of COREL's paper configuration on CIFAR-10-sized data, on the CPU.

One epoch of ``TopoAutoencoder(input_shape=(3, 32, 32))`` with the paper's settings (conv net
32/64/128, 16 x 10 branches, batch 100, Adam 1e-3) on random 50,000 x 3072 float32 data in
[0, 1] is 500 training steps. It is timed with the connectivity loss
(``connectivity_weight=20``) and without (``connectivity_weight=0``).

Default: the two models' steps are *interleaved* (a step of one, a step of the other, each on
its own shuffled batch, through the estimator's public ``train_step``), so that load from other
processes on a shared machine hits both alike; the epoch time is the sum of the 500 step
times, and the ratio is robust. ``--fit`` instead times two complete one-epoch ``fit`` calls
one after the other (end to end, but sensitive to load changes between them).

    python benchmarks/bench_autoencoder_epoch.py                 # ~1 min on 2 idle cores
    python benchmarks/bench_autoencoder_epoch.py --fit
    python benchmarks/bench_autoencoder_epoch.py --n-samples 5000 --threads 1
"""

import argparse
import os
import platform
import statistics
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from corel_sklearn import TopoAutoencoder
from corel_sklearn.training import TrainingRun

WEIGHTS = (20.0, 0.0)


def paper_autoencoder(connectivity_weight, max_epochs=1):
    return TopoAutoencoder(
        input_shape=(3, 32, 32),
        connectivity_weight=connectivity_weight,
        max_epochs=max_epochs,
        device="cpu",
        random_state=0,
    )


def step_run(ae, batch_size):
    """A run holding what ``ae.train_step`` needs, to time the loop's step on its own."""
    return TrainingRun(data=None, model=ae.module_, optimizer=ae._initialize_optimizer(ae.module_),
                       shuffle_generator=None, loss=ae._training_loss(), batch_size=batch_size,
                       steps_per_epoch=1, epoch=0, last_epoch=1)


def interleaved_step_times(X, batch_size=100):
    """Seconds of every training step of one epoch per weight, the models taking turns."""
    models = {w: paper_autoencoder(w).fit(X[:batch_size]) for w in WEIGHTS}  # builds + warms up
    runs = {w: step_run(ae, batch_size) for w, ae in models.items()}
    for ae in models.values():
        ae.module_.train()
    data = torch.from_numpy(X).view(len(X), 3, 32, 32)
    generator = torch.Generator().manual_seed(0)
    orders = {w: torch.randperm(len(X), generator=generator) for w in WEIGHTS}
    times = {w: [] for w in WEIGHTS}
    for step in range(len(X) // batch_size):
        for w, ae in models.items():
            start = time.perf_counter()
            x = data[orders[w][step * batch_size : (step + 1) * batch_size]]
            ae.train_step(runs[w], x)
            times[w].append(time.perf_counter() - start)
    return times


def fit_epoch_time(X):
    times = {}
    for w in WEIGHTS:
        record = paper_autoencoder(w).fit(X).history_[0]
        times[w] = record["wall_time"]
        print(f"  fit, connectivity_weight={w:>4g}: {record['n_steps']} steps")
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=50_000)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--fit", action="store_true", help="time two whole one-epoch fits")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # The one-epoch fits here are timing runs, not meant to reach the scale eta.
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    X = np.random.default_rng(0).random((args.n_samples, 3 * 32 * 32), dtype=np.float32)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"torch {torch.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{args.threads} torch threads, X {X.shape} float32, load average {load:.2f}"
    )
    paper_autoencoder(20.0).fit(X[:200])  # warm-up: numba's MST kernel, oneDNN primitives

    if args.fit:
        epoch = fit_epoch_time(X)
    else:
        steps = interleaved_step_times(X)
        epoch = {w: sum(t) for w, t in steps.items()}
        for w, t in steps.items():
            print(
                f"  connectivity_weight={w:>4g}: {len(t)} steps, median "
                f"{1e3 * statistics.median(t):6.1f} ms/step, min {1e3 * min(t):6.1f} ms"
            )
        median_ratio = statistics.median(steps[20.0]) / statistics.median(steps[0.0])
    with_loss, without = epoch[20.0], epoch[0.0]
    print(f"epoch with the connectivity loss (lambda=20): {with_loss:7.1f} s")
    print(f"epoch without it (connectivity_weight=0)    : {without:7.1f} s")
    print(f"ratio with / without (epoch times)          : {with_loss / without:7.2f}")
    if not args.fit:
        print(f"ratio with / without (median step times)    : {median_ratio:7.2f}")
    if hasattr(os, "getloadavg"):
        print(f"load average at the end: {os.getloadavg()[0]:.2f} (other processes add noise)")


if __name__ == "__main__":
    main()
