"""numba's compilation cache and first-compilation notice for the package's kernels.

The kernels are compiled with ``cache=True``: once per environment (about 30 s for
persistence, 15 s for ball counting), then loaded from numba's cache next to the source
files or in the user's cache folder. When neither is writable (a read-only install and HOME,
and no ``NUMBA_CACHE_DIR``), numba cannot even define a cached function, so
:func:`ensure_writable_cache` points it at a temporary folder, with a one-line warning.
:func:`compile_notice` logs one line when a kernel's first call in a process takes long
(it is compiling), so the first fit or ball count does not pause silently.
"""

import atexit
import contextlib
import logging
import os
import shutil
import tempfile
import threading

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
        "corel_sklearn: compiling the %s kernels with numba (once per environment, about %s; "
        "cached afterwards)...", kernels, seconds))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        _noticed.add(kernels)
