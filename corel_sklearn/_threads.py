"""The one owner of numba's and torch's thread counts.

Rules, for every public function of the package:

* never use more threads than the user allows: ``torch.get_num_threads()`` (which
  ``torch.set_num_threads`` and ``OMP_NUM_THREADS`` set), ``OMP_NUM_THREADS`` itself and numba's
  ``NUMBA_NUM_THREADS``; an explicit ``n_jobs`` / ``n_threads`` only lowers that;
* leave ``torch.get_num_threads()`` and ``numba.get_num_threads()`` as they were. numba's "omp"
  threading layer and torch share one OpenMP runtime, so setting numba's count also sets
  torch's: both are restored after each kernel call;
* in a forked child, use one thread (:func:`in_forked_child`): GNU OpenMP is not fork-safe,
  numba terminates a forked child that starts a parallel region after its parent started one,
  and a ``multiprocessing`` pool then waits forever. The kernels take their serial twins there
  (:func:`corel_sklearn._numba_runtime.serial_twin`).

:func:`idle_cores` tells how many cores other processes leave free right now (from
``/proc``), for the kernels that plan their threads on it.
"""

import os
import sys
import threading
import time
from contextlib import contextmanager

import numba

_in_forked_child = False


def _note_fork():
    global _in_forked_child
    _in_forked_child = True
    # torch's CPU ops hang in a forked child whose parent ran OpenMP regions unless they run
    # on one thread (as PyTorch's DataLoader workers do).
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_note_fork)


def in_forked_child():
    """Whether this process was forked from one that imported corel_sklearn."""
    return _in_forked_child


def _environment_limit():
    try:
        value = int(os.environ.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        return None
    return value if value > 0 else None


def thread_limit():
    """The most threads a kernel may use now: what the user allows, 1 in a forked child."""
    if _in_forked_child:
        return 1
    import torch

    limit = min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
    environment = _environment_limit()
    return max(1, limit if environment is None else min(limit, environment))


# The machine's load is re-read at most this often (reading it costs about 80 us).
_LOAD_CHECK_SECONDS = 0.02
_load_cache = [-1.0, None]


def _running_threads(stat_files):
    running = 0
    for path in stat_files:
        try:
            with open(path, "rb") as f:
                stat = f.read()
        except OSError:  # the thread ended meanwhile
            continue
        state = stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3]
        running += state == b"R"
    return running


def idle_cores():
    """Cores of this process's affinity not kept busy by other processes right now (>= 1).

    Runnable tasks system-wide (``/proc/loadavg``) minus this process's own running threads
    (its OpenMP workers spinning between regions are its own). A threaded kernel whose peer
    threads would have to share a core with another process waits for them at every
    synchronisation, so the kernels plan for the idle cores only. Without ``/proc`` the
    affinity is returned. Re-read at most every 20 ms.
    """
    now = time.monotonic()
    if now - _load_cache[0] < _LOAD_CHECK_SECONDS:
        return _load_cache[1]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        with open("/proc/loadavg", "rb") as f:
            system = int(f.read().split()[3].split(b"/")[0])
        own = _running_threads(f"/proc/self/task/{task}/stat"
                               for task in os.listdir("/proc/self/task"))
    except (OSError, ValueError, IndexError):
        idle = cores
    else:
        idle = max(1, cores - max(0, system - max(own, 1)))
    _load_cache[:] = [now, idle]
    return idle


def threads_for_n_jobs(n_jobs):
    """Threads for scikit-learn's ``n_jobs`` convention, or None for "all allowed".

    None: all allowed threads; ``k > 0``: ``k`` (at most all allowed); ``-1``: all allowed;
    ``-k``: all allowed but ``k - 1``. 0 is a ValueError.
    """
    if n_jobs is None:
        return None
    if n_jobs == 0:
        raise ValueError("n_jobs=0 has no meaning; use None, -1 or a positive int.")
    limit = thread_limit()
    if n_jobs < 0:
        return max(1, limit + 1 + n_jobs)
    return min(int(n_jobs), limit)


@contextmanager
def kernel_threads(n_threads=None):
    """Run the numba kernels in the block on at most ``n_threads`` threads; yields the count.

    ``n_threads=None`` uses :func:`thread_limit`; larger requests are lowered to it. numba's and
    torch's thread counts are restored afterwards. In a forked child the count is 1 and
    nothing is set (the kernels take their serial twins there). A Ctrl-C that numba's
    compiled code reports as ``SystemError`` leaves the block as ``KeyboardInterrupt``.
    """
    if _in_forked_child:
        yield 1
        return
    import torch

    # torch's count first: numba's first get/set launches its OpenMP pool, which sets the
    # runtime's (and so torch's) count to NUMBA_NUM_THREADS.
    previous_torch = torch.get_num_threads()
    limit = thread_limit()
    n_threads = limit if n_threads is None else max(1, min(int(n_threads), limit))
    previous_numba = numba.get_num_threads()
    if n_threads != previous_numba:
        numba.set_num_threads(n_threads)
    try:
        yield n_threads
    except SystemError as exc:
        # Compiled code that calls back into Python (numba unpickles some constants at run
        # time) turns a Ctrl-C arriving there into "returned a result with an exception set".
        if isinstance(exc.__cause__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        raise
    finally:
        if numba.get_num_threads() != previous_numba:
            numba.set_num_threads(previous_numba)
        if torch.get_num_threads() != previous_torch:
            torch.set_num_threads(previous_torch)


@contextmanager
def limited_threads(n_threads):
    """Run the block with at most ``n_threads`` torch and numba threads (None: as they are).

    For training loops: small networks gain nothing from a second thread, and on a busy
    machine spinning OpenMP workers slow training down by an order of magnitude. The count
    is never raised above :func:`thread_limit`; both counts are restored afterwards.
    """
    if n_threads is None:
        yield
        return
    import torch

    n_threads = max(1, min(int(n_threads), thread_limit()))
    previous = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(n_threads)
    if not _in_forked_child:
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        if not _in_forked_child:
            numba.set_num_threads(previous[1])
        torch.set_num_threads(previous[0])


_torch_threads_lock = threading.Lock()
_torch_threads_open = [0, None]  # blocks open in this process, torch's count before the first


@contextmanager
def torch_threads(n_threads):
    """Run the block with torch's intra-op threads at ``n_threads`` (None: as they are).

    For an estimator's ``n_jobs``: the count is never raised above :func:`thread_limit`.
    torch's count is one per process, so blocks open in several threads at once share it (the
    last one entered sets it) and the count from before the first block is restored when the
    last one ends.
    """
    if n_threads is None:
        yield
        return
    import torch

    with _torch_threads_lock:
        if _torch_threads_open[0] == 0:
            _torch_threads_open[1] = torch.get_num_threads()
        _torch_threads_open[0] += 1
        torch.set_num_threads(max(1, min(int(n_threads), thread_limit())))
    try:
        yield
    finally:
        with _torch_threads_lock:
            _torch_threads_open[0] -= 1
            if _torch_threads_open[0] == 0:
                torch.set_num_threads(_torch_threads_open[1])

