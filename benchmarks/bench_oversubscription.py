"""Persistence and training while another process keeps one core busy.

Starts its own busy process (a pure-Python spin loop) and prints, for COREL's two persistence
shapes (one cloud B = 1000 x 160, split across threads; B = 100 x 16 branches of 10), the
forward + backward time of ``connectivity_loss`` as a ratio to the one-thread time measured in
the same conditions (``torch.set_num_threads(1)``): for the first calls of fresh planners
(mean, the worst planner's mean, the share of calls above 1.3x) and in the steady state, with
the package's choice (threads only on idle cores) and, for comparison, with the idle-core
check disabled (threads as if the machine were free). The one-thread run's own calls, taken
the same way, are the noise floor. Then one ``TopoAutoencoder`` fit with torch's threads
versus one thread (the network's own ops), and ``GridSearchCV(n_jobs=2)`` versus ``n_jobs=1``
over two fits.

Run it alone on the machine: other load is itself oversubscription, so say so with the
figures.
"""

import argparse
import multiprocessing
import os
import time
import warnings

import numpy as np
import torch
from sklearn.model_selection import GridSearchCV

from corel_sklearn import TopoAutoencoder, _threads, connectivity_loss
from corel_sklearn.pershom import _thread_planner

SHAPES = {"B=1000 x 160 (one cloud)": (1000, 160, 1), "B=100 x (16 x 10)": (100, 160, 16)}


def _spin():
    while True:
        pass


def _step(z, n_branches):
    z.grad = None
    connectivity_loss(z, 2.0, n_branches).backward()


def _times(z, n_branches, n_calls):
    times = []
    for _ in range(n_calls):
        start = time.perf_counter()
        _step(z, n_branches)
        times.append(time.perf_counter() - start)
    return np.asarray(times)


def _first_calls(z, n_branches, n_first, n_planners, fresh_planner):
    """(n_planners, n_first) times of the first calls, each row after ``fresh_planner()``."""
    rows = []
    for _ in range(n_planners):
        fresh_planner()
        rows.append(_times(z, n_branches, n_first))
    return np.asarray(rows)


def _summary(first, one):
    """Ratios to the one-thread median: mean first call, worst mean of a row, share > 1.3x."""
    ratios = first / one
    return {"mean": ratios.mean(), "worst_row": ratios.mean(axis=1).max(),
            "over_1_3": (ratios > 1.3).mean()}


def _measure(n_first, n_planners, n_steady):
    """Per shape: one-thread median, then first-call and steady ratios with/without the check.

    Single calls vary on any machine (a lost time slice makes one call 2-3 times slower, on
    one thread too), so the first calls are repeated for ``n_planners`` fresh planners and the
    one-thread run's own calls, taken the same way, are the noise floor.
    """
    rows = []
    for name, (n, dim, n_branches) in SHAPES.items():
        z = torch.tensor(np.random.default_rng(0).random((n, dim), dtype=np.float32),
                         requires_grad=True)
        _step(z, n_branches)  # compiled
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        one = np.median(_times(z, n_branches, n_steady))
        result = {"shape": name, "one_thread_ms": 1e3 * one,
                  "one_thread": _summary(_first_calls(z, n_branches, n_first, n_planners,
                                                      lambda: None), one)}
        torch.set_num_threads(previous)
        real_idle_cores = _threads.idle_cores
        for label, idle in [("package", real_idle_cores), ("no_check", lambda: os.cpu_count())]:
            _threads.idle_cores = idle
            _thread_planner.idle_cores = idle

            def fresh_planner():  # a fresh process's planner
                _thread_planner.planner = _thread_planner.ThreadPlanner()

            try:
                first = _first_calls(z, n_branches, n_first, n_planners, fresh_planner)
                steady = _times(z, n_branches, n_steady)
            finally:
                _threads.idle_cores = real_idle_cores
                _thread_planner.idle_cores = real_idle_cores
            result[label] = _summary(first, one)
            result[label]["steady"] = np.median(steady) / one
        rows.append(result)
    return rows


def _grid_search_seconds(n_jobs, X):
    search = GridSearchCV(
        TopoAutoencoder(n_branches=16, branch_dim=10, hidden_layer_sizes=(128,), max_epochs=2,
                        random_state=0),
        {"eta": [1.0, 2.0]},
        cv=[(np.arange(len(X) // 2), np.arange(len(X) // 2, len(X)))],
        scoring=lambda est, X, y=None: -float(np.abs(est.inverse_transform(est.transform(X))
                                                     - X).mean()),
        refit=False, n_jobs=n_jobs,
    )
    start = time.perf_counter()
    search.fit(X)
    return time.perf_counter() - start


def _fit_seconds(n_threads, X, repeats=3):
    """Median time of one two-epoch TopoAutoencoder fit with torch on ``n_threads`` threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            TopoAutoencoder(n_branches=16, branch_dim=10, hidden_layer_sizes=(128,),
                            max_epochs=2, random_state=0).fit(X)
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return np.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=int, default=10, help="first calls timed one by one")
    parser.add_argument("--planners", type=int, default=20,
                        help="fresh planners whose first calls are timed")
    parser.add_argument("--steady", type=int, default=100, help="calls for the medians")
    parser.add_argument("--samples", type=int, default=2000, help="rows in the grid search")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # two epochs do not converge; only the time matters here
    os.environ["PYTHONWARNINGS"] = "ignore"  # and in the worker processes
    print(f"{os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} "
          f"threads), load average {os.getloadavg()}")
    X = np.random.default_rng(0).random((args.samples, 64), dtype=np.float32)
    for busy in (False, True):
        spinner = None
        if busy:
            spinner = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
            spinner.start()
            time.sleep(0.5)
        try:
            print(f"\n== {'with' if busy else 'without'} a busy process; idle cores seen: "
                  f"{_threads.idle_cores()}")
            print(f"first {args.first} calls of {args.planners} fresh planners, as ratios to the "
                  "one-thread median: mean, worst planner's mean, share of calls above 1.3x; "
                  "then the steady median")
            for row in _measure(args.first, args.planners, args.steady):
                cells = [f"{row['shape']:26} 1 thread {row['one_thread_ms']:6.2f} ms"]
                for label in ("one_thread", "package", "no_check"):
                    part = row[label]
                    cell = (f"{label.replace('_', ' ')} {part['mean']:5.2f} / "
                            f"{part['worst_row']:5.2f} / {100 * part['over_1_3']:3.0f}%")
                    if "steady" in part:
                        cell += f", {part['steady']:4.2f}"
                    cells.append(cell)
                print(" | ".join(cells))
            _grid_search_seconds(1, X[:200])  # compile here and in the worker processes
            _grid_search_seconds(2, X[:200])
            serial = _grid_search_seconds(1, X)
            parallel = _grid_search_seconds(2, X)
            default, one = _fit_seconds(torch.get_num_threads(), X), _fit_seconds(1, X)
            print(f"TopoAutoencoder fit of {args.samples} x 64 (the network on torch's threads): "
                  f"torch's {torch.get_num_threads()} threads {default:.2f} s, 1 thread "
                  f"{one:.2f} s (ratio {default / one:.2f})")
            print(f"GridSearchCV, 2 TopoAutoencoder fits of {args.samples} x 64: n_jobs=1 "
                  f"{serial:.1f} s, n_jobs=2 {parallel:.1f} s (ratio {parallel / serial:.2f})")
        finally:
            if spinner is not None:
                spinner.terminate()
                spinner.join()


if __name__ == "__main__":
    main()
