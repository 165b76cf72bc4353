"""Writing files so that no failure leaves a half-written one: the package's one way to write.

Every file the package writes after work worth keeping (model files, checkpoints, cached
encoders, result tables, compiled-kernel caches) goes through :func:`atomic_write`, and every
entry point that writes after long work checks its folder first with
:func:`ensure_writable_dir`.
"""

import contextlib
import os
import tempfile

__all__ = ["atomic_write", "ensure_writable_dir"]


@contextlib.contextmanager
def atomic_write(path, mode="wb", encoding=None):
    """Open a temporary file beside ``path``; on success it replaces ``path`` in one rename.

    ``os.replace`` is atomic on one file system: readers see the old file or the complete new
    one, never a truncated file, even when the process dies mid-write. On any exception
    (KeyboardInterrupt included) the temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : str or path-like
        The file to write. Its folder must exist.
    mode : {"wb", "w"}, default="wb"
        Binary or text.
    encoding : str, default=None
        Text encoding for ``mode="w"`` (UTF-8 when None).

    Yields
    ------
    file : file object
        Write to it; it is flushed, synced and renamed onto ``path`` when the block ends.

    Examples
    --------
    >>> import os, tempfile
    >>> from corel_sklearn._files import atomic_write
    >>> path = os.path.join(tempfile.mkdtemp(), "table.csv")
    >>> with atomic_write(path, "w") as f:
    ...     _ = f.write("a,b\\n")
    >>> open(path).read()
    'a,b\\n'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write mode must be 'wb' or 'w', got {mode!r}.")
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        text = {"encoding": encoding or "utf-8"} if mode == "w" else {}
        with os.fdopen(fd, mode, **text) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def ensure_writable_dir(path, what="folder"):
    """Create ``path`` if needed and check that a file can be written there; return it.

    Called before long work (training, a benchmark run) by every entry point that writes
    afterwards, so an unwritable folder fails in a second, not after the work is done.

    Parameters
    ----------
    path : str or path-like
        The folder.
    what : str, default="folder"
        How the error names it, e.g. ``"--out folder"`` or ``"Checkpoint folder"``.

    Returns
    -------
    path : str

    Raises
    ------
    OSError
        With a message naming ``what``, the folder and the reason.

    Examples
    --------
    >>> import os, tempfile
    >>> from corel_sklearn._files import ensure_writable_dir
    >>> folder = ensure_writable_dir(os.path.join(tempfile.mkdtemp(), "results"), "--out folder")
    >>> os.path.isdir(folder)
    True
    """
    path = os.fspath(path)
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write_check_"):
            pass
    except OSError as exc:
        raise OSError(
            f"cannot write to the {what} {path!r} ({exc.strerror or exc}); choose a writable "
            "folder"
        ) from exc
    return path
