"""Thread limits for the training loops of the runners."""

from contextlib import contextmanager


@contextmanager
def limited_threads(n_threads):
    """Run the block with ``n_threads`` torch and numba threads (None: leave them as they are).

    torch and numba's "omp" threading layer share one OpenMP runtime, so both are set and both
    are restored afterwards. Small networks gain nothing from a second thread, and on a busy
    machine spinning OpenMP workers slow training down by an order of magnitude.
    """
    if n_threads is None:
        yield
        return
    import numba
    import torch

    n_threads = max(1, int(n_threads))
    previous = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(n_threads)
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        torch.set_num_threads(previous[0])
        numba.set_num_threads(previous[1])
