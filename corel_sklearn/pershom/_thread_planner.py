"""How many threads a CPU tree kernel call gets: one, or several, chosen by timing both.

Whether threads pay depends on the moment, not only on the batch shape: on a busy machine
(other processes, torch's own work) a kernel that synchronises every Prim step with a thread
that has to wait for a core runs slower than one thread alone. So:

* threads are only considered on *idle* cores (:func:`corel_sklearn._threads.idle_cores`):
  beyond them a peer thread waits for a descheduled core at every step;
* the process-wide :data:`planner` times each batch shape both ways (as FFTW plans), uses the
  faster and re-times the other now and then.

The results never depend on the choice (tested), only the speed does.
"""

import time

from corel_sklearn._threads import idle_cores, thread_limit
from corel_sklearn.pershom._prim_cpu import NARROW_WIDTH

# Below this, a parallel loop over the branches is not tried (starting one costs a few
# microseconds, the work would take less).
THREADED_MIN_WORK = 100_000  # coordinate operations, B^2 / 2 * d
# Splitting one cloud costs a barrier per Prim step (~0.3 us), paid back from about this size.
SPLIT_MIN_POINTS = 512


def threaded_plan(n, width, n_branches, n_threads):
    """How many of ``n_threads`` a threaded run would use, or None if none is worth it."""
    if n_threads == 1:
        return None
    if n_branches == 1:
        return n_threads if n >= SPLIT_MIN_POINTS and width > NARROW_WIDTH else None
    if n * n * width * n_branches // 2 < THREADED_MIN_WORK:
        return None
    return min(n_threads, n_branches)


class ThreadPlanner:
    """Chooses one thread or several for each batch shape by timing both (as FFTW plans).

    Each shape is timed both ways (``samples`` runs each), the faster is used, and the other
    is re-timed every ``recheck_every`` calls in case conditions changed. At most
    ``max_shapes`` shapes are remembered.
    """

    samples = 3
    recheck_every = 64
    max_shapes = 1024

    def __init__(self):
        self._timings = {}
        self._calls = {}

    def choose(self, shape, threaded):
        """Threads for the next call of ``shape``: 1 or ``threaded`` (None: no choice, 1)."""
        if threaded is None:
            return 1
        timings = self._timings.get(shape)
        if timings is None:
            if len(self._timings) >= self.max_shapes:
                self._timings.clear()
                self._calls.clear()
            timings = self._timings[shape] = {1: [], threaded: []}
        calls = self._calls[shape] = self._calls.get(shape, 0) + 1
        for choice, seconds in timings.items():
            if len(seconds) < self.samples:
                return choice
        fastest = min(timings, key=lambda choice: sorted(timings[choice])[self.samples // 2])
        if calls % self.recheck_every == 0:
            return threaded if fastest == 1 else 1
        return fastest

    def record(self, shape, choice, seconds):
        """Remember that a call of ``shape`` on ``choice`` threads took ``seconds``."""
        timings = self._timings.get(shape)
        if timings is not None and choice in timings:
            timings[choice].append(seconds)
            del timings[choice][: -self.samples]


# The process's planner: every call of the CPU tree kernels feeds it its wall-clock time.
planner = ThreadPlanner()


def run_planned(x, n_branches, metric, run):
    """``run(n_threads)`` with the planned thread count for ``x``'s batch shape, timed."""
    n, dim = x.shape
    width = dim // n_branches
    # Threads beyond the idle cores would wait for a descheduled peer at every Prim step
    # (split) or at the end of the loop (branches): one thread is faster then.
    n_threads = min(thread_limit(), idle_cores())
    shape = (n, width, n_branches, x.dtype.str, metric, n_threads)
    choice = planner.choose(shape, threaded_plan(n, width, n_branches, n_threads))
    start = time.perf_counter()
    result = run(choice)
    planner.record(shape, choice, time.perf_counter() - start)
    return result
