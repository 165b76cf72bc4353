"""Persistence and connectivity-loss speed of two checkouts, interleaved in one run.

For a change that must not slow the kernels down (a refactor, a split of modules), time the
same cases with the code before and after, alternating between the two checkouts so that the
load of a shared machine falls on both alike, and print the ratio of the medians:

    git worktree add /tmp/before <commit>       # or: git archive <commit> | tar -x -C /tmp/before
    python benchmarks/bench_persistence_ab.py --old /tmp/before --new . --rounds 5

Each round runs one fresh interpreter per checkout (one torch thread; numba's threads as the
machine allows) that times ``connectivity_loss`` forward + backward and ``branch_death_times``
on seeded Gaussian clouds of COREL's shapes; the first round of each checkout only compiles.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

CASES = ((100, 16, 1), (100, 160, 16), (1000, 160, 16), (1000, 128, 1), (4000, 32, 1))

TIMER = r'''
import json, statistics, sys, time
import torch
torch.set_num_threads(1)
from corel_sklearn.losses import connectivity_loss
from corel_sklearn.pershom import branch_death_times
out = {}
for B, d, nb in json.loads(sys.argv[1]):
    z = torch.randn(B, d, generator=torch.Generator().manual_seed(0), requires_grad=True)
    def loss():
        connectivity_loss(z, eta=2.0, n_branches=nb).backward()
    def deaths():
        with torch.no_grad():
            branch_death_times(z.detach(), n_branches=nb)
    for name, fn in (("loss fwd+bwd", loss), ("death times", deaths)):
        fn(); fn()
        times = []
        for _ in range(30 if B <= 1000 else 5):
            start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
        out[f"{name} B={B} d={d} branches={nb}"] = statistics.median(times)
print(json.dumps(out))
'''


def time_checkout(path):
    path = os.path.abspath(path)
    env = {**os.environ, "PYTHONPATH": path}
    result = subprocess.run([sys.executable, "-c", TIMER, json.dumps(CASES)], cwd=path,
                            env=env, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"timing {path} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="checkout before the change")
    parser.add_argument("--new", default=".", help="checkout after the change")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    checkouts = {"old": args.old, "new": args.new}
    for path in checkouts.values():  # compile both once
        time_checkout(path)
    samples = {"old": {}, "new": {}}
    for round_ in range(args.rounds):
        order = ("old", "new") if round_ % 2 == 0 else ("new", "old")
        for which in order:
            for case, seconds in time_checkout(checkouts[which]).items():
                samples[which].setdefault(case, []).append(seconds)
    print(f"{'case':<36} {'old ms':>8} {'new ms':>8} {'new/old':>8}")
    for case in samples["old"]:
        old = statistics.median(samples["old"][case]) * 1e3
        new = statistics.median(samples["new"][case]) * 1e3
        print(f"{case:<36} {old:8.3f} {new:8.3f} {new / old:8.3f}")


if __name__ == "__main__":
    main()
