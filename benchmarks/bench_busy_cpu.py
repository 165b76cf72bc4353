"""TopoAutoencoder training on a busy CPU: ``n_jobs=1`` against torch's default threads.

Starts its own busy process(es) (pure-Python spin loops, ``--busy``, default one) and prints,
for ``TopoAutoencoder(n_jobs=1)`` and for torch's default thread count (``n_jobs=None``), the
median time of one fit (the default MLP on 1,000 x 64 values, batch 100: 40 optimizer steps)
while the spinners run, as a ratio to the same fit without them. The fits take turns (idle and
busy alternate, ``--repeats`` times), so that other load on the machine hits both alike; it
is itself load, so say how busy the machine was with the figures.

    python benchmarks/bench_busy_cpu.py
    python benchmarks/bench_busy_cpu.py --busy 2 --repeats 5

Done when: ``n_jobs=1`` busy is within 1.5 times its idle time.
"""

import argparse
import multiprocessing
import os
import statistics
import time
import warnings

import numpy as np
import torch

from corel_sklearn import TopoAutoencoder
from corel_sklearn._threads import idle_cores


def _spin():
    while True:
        pass


def _fit_seconds(n_jobs, X, epochs):
    start = time.perf_counter()
    TopoAutoencoder(n_jobs=n_jobs, max_epochs=epochs, random_state=0).fit(X)
    return time.perf_counter() - start


def _start_spinners(n):
    context = multiprocessing.get_context("spawn")
    spinners = [context.Process(target=_spin, daemon=True) for _ in range(n)]
    for spinner in spinners:
        spinner.start()
    time.sleep(0.5)  # let them reach their loops
    return spinners


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=1, help="spinning processes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # short fits do not converge; only the time matters here
    X = np.random.default_rng(0).random((args.samples, 64), dtype=np.float32)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, torch {torch.__version__}: {torch.get_num_threads()} threads "
          f"by default; {args.busy} busy process(es); load average {load:.2f} at the start; "
          f"{args.samples} x 64, {args.epochs} epochs of {args.samples // 100} steps")
    _fit_seconds(1, X[:200], 1)  # compile and warm up
    times = {(n_jobs, busy): [] for n_jobs in (1, None) for busy in (False, True)}
    idle_seen = {}
    for _ in range(args.repeats):
        for busy in (False, True):
            spinners = _start_spinners(args.busy) if busy else []
            try:
                idle_seen[busy] = idle_cores()
                for n_jobs in (1, None):
                    times[n_jobs, busy].append(_fit_seconds(n_jobs, X, args.epochs))
            finally:
                for spinner in spinners:
                    spinner.kill()
                    spinner.join()
    median = {key: statistics.median(t) for key, t in times.items()}
    print(f"idle cores seen: {idle_seen[False]} without the spinners, {idle_seen[True]} with")
    for n_jobs, label in ((1, "n_jobs=1"), (None, f"default ({torch.get_num_threads()} threads)")):
        idle, busy = median[n_jobs, False], median[n_jobs, True]
        print(f"{label:24} idle {idle:6.2f} s   busy {busy:6.2f} s   "
              f"busy / idle {busy / idle:6.2f}")
    ratio = median[1, True] / median[1, False]
    print(f"n_jobs=1 busy / idle: {ratio:.2f} ({'within' if ratio <= 1.5 else 'above'} 1.5)")
    print(f"busy: default threads / n_jobs=1: {median[None, True] / median[1, True]:.2f}")
    if hasattr(os, "getloadavg"):
        print(f"load average at the end: {os.getloadavg()[0]:.2f} (other processes add noise)")


if __name__ == "__main__":
    main()
