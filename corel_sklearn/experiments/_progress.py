"""The runners' one log line and one progress bar, both on stderr."""

import sys


def log(verbose, message):
    """Print ``[corel_sklearn] message`` to stderr when ``verbose``."""
    if verbose:
        print(f"[corel_sklearn] {message}", file=sys.stderr, flush=True)


class _NoProgress:
    def update(self, n=1):
        pass

    def close(self):
        pass


def progress(total, verbose, desc, unit):
    """A tqdm bar on stderr (``update``, ``close``), or a silent stand-in when not verbose."""
    if not verbose:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)
