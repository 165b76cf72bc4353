"""Training from a uint8 memmap larger than memory: peak memory and time per step.

Writes an ImageNet-32-sized uint8 file (1,000,000 x 3,072 = 3.1 GB by default) to a temporary
folder (deleted at the end) and measures:

1. **Memory.** A separate process fits ``TopoAutoencoder`` (MLP encoder) for one epoch on a
   memmap view of the first ``--fit-rows`` rows, then reads every row of the file through the
   same data source in one epoch's shuffled order (the reads of a full epoch, without its
   10,000 training steps, which take hours on 2 shared cores), and reports its peak resident
   memory (``ru_maxrss``) beyond what it held before ``fit`` (torch, numba, the network).
2. **Time per step, paper's conv net.** Training steps of ``TopoAutoencoder(input_shape=(3, 32,
   32))`` with the batch read from the memmap (random rows of the whole file, scaled on the
   device) and from a float32 array in memory (the classic path, on the first 100,000 rows, the
   part that fits), *interleaved* (one step of each in turn, two identical models), so that load
   from other processes hits both alike. Also the time of reading a batch alone.
3. The same interleaved comparison for the MLP, where the data read is a larger share.

    python benchmarks/bench_out_of_core.py                      # ~5-10 min on 2 cores
    python benchmarks/bench_out_of_core.py --n-samples 200000 --steps 50     # quick

The file is read from the page cache after it is written; from a cold disk, random 3 KB reads
cost what the disk's random-read latency is (an SSD keeps up; shuffle within shards otherwise).
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

N_FEATURES = 3 * 32 * 32
IN_MEMORY_ROWS = 100_000
MLP = {"hidden_layer_sizes": (64,)}
CONV = {"input_shape": (3, 32, 32)}


def write_pixels(path, n_samples, chunk=20_000):
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        for start in range(0, n_samples, chunk):
            rows = min(chunk, n_samples - start)
            f.write(rng.integers(0, 256, (rows, N_FEATURES), dtype=np.uint8).tobytes())


def open_pixels(path, n_samples):
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(n_samples, N_FEATURES))


def autoencoder(network, **params):
    from corel_sklearn import TopoAutoencoder

    return TopoAutoencoder(**network, max_epochs=1, device="cpu", random_state=0, **params)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child_memory(path, n_samples, fit_rows):
    """Peak memory of fitting from the memmap and of reading all of it (run in a subprocess).

    ``fit`` runs one epoch on the first ``fit_rows`` rows (a memmap view, read like the whole
    file); then every row of the file passes through the same data source, in one epoch's
    shuffled order, batch by batch, as a full epoch of ``fit`` reads them. Prints JSON.
    """
    import warnings

    from corel_sklearn.estimators._data import make_training_data

    X = open_pixels(path, n_samples)
    autoencoder(MLP).fit(np.asarray(X[:200]))  # warm-up: kernels compiled, pools started
    before = rss_bytes()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch does not organise the codes
        model = autoencoder(MLP).fit(X[:fit_rows])
    fit_seconds = time.perf_counter() - start
    source = make_training_data(X, (N_FEATURES,), "cpu")
    order = torch.randperm(n_samples, generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    for batch in order.split(100):
        source.batch(batch)
    read_seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"before": before, "peak": peak, "fit_seconds": fit_seconds,
                      "fit_steps": model.history_[0]["n_steps"], "read_seconds": read_seconds,
                      "read_batches": len(order.split(100))}))


def interleaved_steps(network, memmap, in_memory, n_steps, batch_size=100):
    """Seconds per training step (batch read + step) from each source, taking turns."""
    from corel_sklearn.estimators._data import make_training_data

    shape = network.get("input_shape", (N_FEATURES,))
    sources = {"memmap": make_training_data(memmap, shape, "cpu"),
               "in memory": make_training_data(in_memory, shape, "cpu")}
    warm = np.asarray(in_memory[:batch_size])
    models = {name: autoencoder(network, batch_size=batch_size).fit(warm) for name in sources}
    from corel_sklearn.training import TrainingRun

    runs = {name: TrainingRun(data=None, model=m.module_,
                              optimizer=m._initialize_optimizer(m.module_), shuffle_generator=None,
                              loss=m._training_loss(), batch_size=batch_size, steps_per_epoch=1,
                              epoch=0, last_epoch=1)
            for name, m in models.items()}
    generator = torch.Generator().manual_seed(0)
    step_times = {name: [] for name in sources}
    read_times = {name: [] for name in sources}
    for _ in range(n_steps):
        for name, source in sources.items():
            model = models[name]
            model.module_.train()
            indices = torch.randint(source.n_samples, (batch_size,), generator=generator)
            start = time.perf_counter()
            x = source.batch(indices)
            read = time.perf_counter()
            model.train_step(runs[name], x)
            step_times[name].append(time.perf_counter() - start)
            read_times[name].append(read - start)
    return step_times, read_times


def report_steps(label, step_times, read_times):
    medians = {name: statistics.median(t) for name, t in step_times.items()}
    for name in step_times:
        print(f"  {label}, {name:9s}: median step {1e3 * medians[name]:7.2f} ms "
              f"(min {1e3 * min(step_times[name]):7.2f}), median batch read "
              f"{1e3 * statistics.median(read_times[name]):6.3f} ms")
    print(f"  {label}: memmap / in-memory median step time = "
          f"{medians['memmap'] / medians['in memory']:.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=100, help="interleaved conv steps")
    parser.add_argument("--fit-rows", type=int, default=20_000, help="rows of the memory fit")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--dir", default=None, help="folder for the temporary file")
    parser.add_argument("--child-memory", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child_memory:
        return child_memory(args.child_memory[0], *map(int, args.child_memory[1:]))

    folder = tempfile.mkdtemp(prefix="corel_out_of_core_", dir=args.dir)
    path = os.path.join(folder, "pixels.u8")
    try:
        start = time.perf_counter()
        write_pixels(path, args.n_samples)
        size = os.path.getsize(path)
        print(f"wrote {args.n_samples:,} x {N_FEATURES} uint8 ({size / 1e9:.2f} GB) in "
              f"{time.perf_counter() - start:.0f} s; torch {torch.__version__}, "
              f"{args.threads} threads, load average {os.getloadavg()[0]:.2f}")

        out = subprocess.run(
            [sys.executable, __file__, "--threads", str(args.threads), "--child-memory", path,
             str(args.n_samples), str(args.fit_rows)], capture_output=True, text=True, check=True)
        memory = json.loads(out.stdout.strip().splitlines()[-1])
        beyond = (memory["peak"] - memory["before"]) / 2**20
        print(f"1) memory: fit on a memmap of {args.fit_rows:,} rows (MLP, "
              f"{memory['fit_steps']} steps, {memory['fit_seconds']:.0f} s), then all "
              f"{args.n_samples:,} rows read in shuffled batches of 100 "
              f"({memory['read_batches']} batches, {memory['read_seconds']:.1f} s = "
              f"{1e3 * memory['read_seconds'] / memory['read_batches']:.3f} ms per batch): "
              f"RSS before fit {memory['before'] / 2**20:.0f} MiB, peak "
              f"{memory['peak'] / 2**20:.0f} MiB, {beyond:.0f} MiB beyond the model "
              f"(the file is {size / 2**20:.0f} MiB)")

        memmap = open_pixels(path, args.n_samples)
        in_memory = np.divide(memmap[:IN_MEMORY_ROWS], np.float32(255), dtype=np.float32)
        print(f"2) paper's conv net, {args.steps} interleaved steps each (memmap: random rows of "
              f"all {args.n_samples:,}; in memory: float32, first {IN_MEMORY_ROWS:,} rows)")
        report_steps("conv", *interleaved_steps(CONV, memmap, in_memory, args.steps))
        print(f"3) MLP, {4 * args.steps} interleaved steps each")
        report_steps("mlp", *interleaved_steps(MLP, memmap, in_memory, 4 * args.steps))
        print(f"load average at the end: {os.getloadavg()[0]:.2f} (the machine is shared)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
