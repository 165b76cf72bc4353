"""Checkpoint files that refuse damage: a ``torch.save`` payload behind a SHA-256 checksum.

A checkpoint resumed from a file with one flipped byte would continue a fit from wrong weights
without a word, and ``torch.load`` reports a damaged file with its own errors, without the
file's name. So a checkpoint file is

* the line ``COREL-SKLEARN-CHECKPOINT\\n``,
* a header: the layout version (uint32), the payload's length in bytes (uint64) and the
  SHA-256 digest of the payload (32 bytes), little-endian,
* the payload: ``torch.save`` of the state (plain containers of tensors, numbers and strings),

written atomically (:func:`corel_sklearn._files.atomic_write`) and read back with
``torch.load(weights_only=True)`` only after the length and the checksum match. Every problem
with a file is one ``ValueError`` naming the file; a file that cannot be opened raises the
``OSError`` of ``open``.
"""

import hashlib
import io
import os
import struct

import torch

from corel_sklearn._files import atomic_write

__all__ = ["CHECKPOINT_FILE_VERSION", "read_checkpoint", "write_checkpoint"]

_MAGIC = b"COREL-SKLEARN-CHECKPOINT\n"
_HEADER = struct.Struct("<IQ32s")  # version, payload length, SHA-256 of the payload
#: Bumped when the layout changes; readers refuse newer versions.
CHECKPOINT_FILE_VERSION = 1


def write_checkpoint(state, path):
    """Write ``state`` to ``path`` atomically, behind a SHA-256 checksum.

    Parameters
    ----------
    state : dict
        Plain containers of tensors, numbers and strings (what ``torch.load(weights_only=True)``
        reads back).
    path : str or path-like
        The file; its folder must exist. An existing file is replaced only once the new one is
        complete.

    Examples
    --------
    >>> import os, tempfile
    >>> import torch
    >>> from corel_sklearn._checkpoint_file import read_checkpoint, write_checkpoint
    >>> path = os.path.join(tempfile.mkdtemp(), "fit.ckpt")
    >>> write_checkpoint({"epoch": 3, "weights": torch.ones(2)}, path)
    >>> read_checkpoint(path)["epoch"]
    3
    """
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getbuffer()
    header = _HEADER.pack(CHECKPOINT_FILE_VERSION, len(payload),
                          hashlib.sha256(payload).digest())
    with atomic_write(path) as file:
        file.write(_MAGIC)
        file.write(header)
        file.write(payload)


def read_checkpoint(path):
    """The state written by :func:`write_checkpoint`, on the CPU, once its checksum matches.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    state : dict

    Raises
    ------
    ValueError
        Naming the file, when it is not a checkpoint of this layout, is truncated or longer
        than its header says, fails its checksum (damaged), or holds anything but plain
        tensors, numbers and strings.
    OSError
        When the file cannot be read.
    """
    name = os.fspath(path)
    with open(name, "rb") as file:
        data = file.read()
    view = memoryview(data)
    if not data.startswith(_MAGIC):
        raise ValueError(
            f"{name!r} is not a corel-sklearn checkpoint (or was written before checkpoints "
            "carried a checksum): delete it or choose another path to start afresh."
        )
    start = len(_MAGIC) + _HEADER.size
    if len(data) < start:
        raise ValueError(f"{name!r} is a truncated checkpoint ({len(data)} bytes): its header "
                         "is incomplete. Delete it to start afresh.")
    version, length, digest = _HEADER.unpack_from(view, len(_MAGIC))
    if version != CHECKPOINT_FILE_VERSION:
        raise ValueError(
            f"{name!r} is a checkpoint of layout version {version}; this corel-sklearn reads "
            f"version {CHECKPOINT_FILE_VERSION}. Resume with the version that wrote it, or "
            "delete it to start afresh."
        )
    if len(data) - start != length:
        raise ValueError(
            f"{name!r} is a damaged checkpoint: its header announces {length} bytes of state, "
            f"the file holds {len(data) - start} (truncated or appended to). Delete it to start "
            "afresh."
        )
    payload = view[start:]
    if hashlib.sha256(payload).digest() != digest:
        raise ValueError(
            f"{name!r} is a damaged checkpoint: its SHA-256 checksum does not match its "
            "content, so resuming from it could continue from wrong weights. Delete it to "
            "start afresh."
        )
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any torch error means the same thing here
        raise ValueError(
            f"{name!r} holds something other than plain tensors, numbers and strings (torch: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); refusing to "
            "load it."
        ) from None
    if not isinstance(state, dict):
        raise ValueError(f"{name!r} holds a {type(state).__name__}, not a checkpoint's dict.")
    return state
