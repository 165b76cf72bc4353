"""How the package's numba kernels are compiled, cached and called.

* The kernels are compiled with ``cache=True``: once per environment (about a minute for
  persistence, less for ball counting, longer on a busy machine), then loaded from numba's
  cache next to the source files or in the user's cache folder. When neither is writable (a
  read-only install and HOME, and no ``NUMBA_CACHE_DIR``), numba cannot even define a cached
  function, so :func:`ensure_writable_cache` points it at a temporary folder, with a one-line
  warning. :func:`compile_notice` logs one line when a kernel's first call in a process takes
  long (it is compiling), so the first fit or ball count does not pause silently.
* Serial twins (:func:`serial_twin`): each parallel kernel compiled once more without a
  parallel region, for forked children. GNU OpenMP is not fork-safe: numba terminates a
  forked child that starts a parallel region after its parent started one (see
  :mod:`corel_sklearn._threads`, which tells when the process is such a child).
* Interruptible calls (:func:`call_interruptibly`): a long kernel call that a Ctrl-C stops at
  once instead of when the kernel returns.
"""

import atexit
import contextlib
import logging
import os
import shutil
import tempfile
import threading
import types

from corel_sklearn._threads import kernel_threads

logger = logging.getLogger("corel_sklearn")

# A first call still running after this long is compiling (a cached load takes well under).
_NOTICE_AFTER_SECONDS = 2.0
_noticed = set()


def _cache_is_writable(source_file):
    from numba.core import caching

    for name in ("InTreeCacheLocator", "_InTreeCacheLocator", "UserWideCacheLocator",
                 "_UserWideCacheLocator"):
        locator_class = getattr(caching, name, None)
        if locator_class is None:
            continue
        try:
            locator = locator_class.from_function(_cache_is_writable, source_file)
            if locator is not None:
                locator.ensure_cache_path()
                return True
        except OSError:
            continue
    return False


def ensure_writable_cache():
    """Point numba's cache at a temporary folder when it has nowhere to write (one warning)."""
    import numba

    if numba.config.CACHE_DIR:
        return None  # the user's NUMBA_CACHE_DIR
    package = os.path.dirname(os.path.abspath(__file__))
    source_file = os.path.join(package, "pershom", "_prim_cpu.py")
    if _cache_is_writable(source_file):
        return None
    directory = tempfile.mkdtemp(prefix="corel_sklearn-numba-cache-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    numba.config.CACHE_DIR = directory
    logger.warning(
        "corel_sklearn: the install folder and the user cache folder are read-only, so numba "
        "caches compiled kernels in %s for this process only (set NUMBA_CACHE_DIR to a "
        "writable folder to keep them).", directory,
    )
    return directory


@contextlib.contextmanager
def compile_notice(kernels, seconds):
    """Log one line if the block (the first use of ``kernels`` in this process) runs long.

    Runs a timer only the first time per ``kernels`` name, so later calls cost nothing.
    """
    if kernels in _noticed:
        yield
        return
    timer = threading.Timer(_NOTICE_AFTER_SECONDS, logger.warning, args=(
        "corel_sklearn: compiling the %s kernels with numba (once per environment, about %s, "
        "longer on a busy machine; cached afterwards)...", kernels, seconds))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        _noticed.add(kernels)


def serial_twin(kernel, **replace_globals):
    """``kernel`` (a ``numba.njit(parallel=True, cache=True)`` dispatcher) without parallel region.

    The same source, so ``prange`` runs as ``range``; it is cached under its own name (the
    qualified name gets a ``_serial`` suffix). ``replace_globals`` maps global names the code
    calls to other dispatchers (e.g. an entry point calling a parallel kernel gets the
    kernel's twin).
    """
    import numba

    source = kernel.py_func
    namespace = source.__globals__
    if replace_globals:
        namespace = {**namespace, **replace_globals}
    twin = types.FunctionType(source.__code__, namespace, source.__name__ + "_serial",
                              source.__defaults__, source.__closure__)
    twin.__qualname__ = source.__qualname__ + "_serial"
    twin.__module__ = source.__module__
    twin.__doc__ = source.__doc__
    options = {k: v for k, v in kernel.targetoptions.items()
               if k not in ("parallel", "nopython")}
    # The package's parallel kernels are all cached (``cache=True``), and so are their twins.
    return numba.njit(cache=True, **options)(twin)


def call_interruptibly(kernel, arguments, n_threads, abort):
    """``kernel(*arguments)`` on at most ``n_threads`` threads, stopped at once by a Ctrl-C.

    Compiled code does not return to the interpreter, so Python only handles a Ctrl-C when the
    kernel returns: a long call would run to its end first. Called from the main thread (the
    one Python delivers signals to), the kernel therefore runs in a helper thread (it releases
    the GIL, ``nogil=True``) while the main thread waits, which a signal interrupts. On a
    ``KeyboardInterrupt`` ``abort()`` asks the kernel to stop (it must poll a flag that
    ``abort`` sets, often enough: every Prim step for the tree kernels), the helper is waited
    for and the interrupt re-raised: the kernel's outputs are then meaningless. The kernel is
    compiled (or loaded from the cache) in the calling thread first, so that an interrupt
    during a first compilation is honoured as before. Other threads call the kernel directly
    (signals never interrupt them). Costs a thread start, ~0.1 ms: for long calls only.
    """
    if threading.current_thread() is not threading.main_thread():
        with kernel_threads(n_threads):
            kernel(*arguments)
        return
    kernel.compile(tuple(kernel.typeof_pyval(argument) for argument in arguments))
    failure = []

    def run():
        try:
            # numba's thread count is per thread: set in the helper, which applies the same
            # limits as the caller would (torch's count is shared by the threads).
            with kernel_threads(n_threads):
                kernel(*arguments)
        except BaseException as exc:  # handed to the caller
            failure.append(exc)

    helper = threading.Thread(target=run, name="corel_sklearn-kernel")
    helper.start()
    try:
        helper.join()
    except KeyboardInterrupt:
        abort()
        helper.join()
        raise
    if failure:
        raise failure[0]
