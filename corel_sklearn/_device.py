"""Resolving torch devices at fit and unpickle time (never at import or construction)."""

import warnings

import torch


def _available(device_type):
    if device_type == "cpu":
        return True
    backend = getattr(torch, device_type, None)
    is_available = getattr(backend, "is_available", None)
    return bool(is_available()) if callable(is_available) else False


def resolve_device(device):
    """The torch device an estimator's ``device`` parameter asks for.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` (CUDA when available, else the CPU) or anything ``torch.device`` accepts
        (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``).

    Returns
    -------
    device : torch.device

    Raises
    ------
    ValueError
        If the device is malformed or its backend is not available on this machine.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'auto', 'cpu' or 'cuda'."
        ) from exc
    if not _available(resolved.type):
        raise ValueError(
            f"device={device!r} was requested but {resolved.type} is not available on this "
            "machine; use device='auto' to pick CUDA only when it is present."
        )
    return resolved


def loadable_device(device):
    """Where to restore tensors saved on ``device``: there if usable here, else on the CPU.

    Used when unpickling a fitted model, so a model trained on CUDA loads on a machine without
    it (with a warning, as skorch does).
    """
    device = torch.device(device)
    if _available(device.type):
        return device
    warnings.warn(
        f"The model was fitted on {device} but {device.type} is not available here; "
        "it is loaded on the CPU instead (device_ is now 'cpu').",
        RuntimeWarning,
        stacklevel=3,
    )
    return torch.device("cpu")
