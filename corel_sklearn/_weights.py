"""A network's weights as bytes that load without running code (the pickle format of models)."""

import contextlib
import contextvars
import io

import torch

# Bumped when the layout of the saved weights changes; loaders refuse newer versions.
WEIGHTS_FORMAT_VERSION = 1

_trust_legacy = contextvars.ContextVar("corel_sklearn_trust_legacy_pickles", default=False)


class UnsafeModelFileError(ValueError):
    """A model file holds something other than plain weights: loading it would run code."""


@contextlib.contextmanager
def trust_legacy_pickles():
    """Let pickles written by corel-sklearn 0.1 load, running the code they contain.

    Version 0.1 pickled a TopoAutoencoder's whole network (classes and all) with ``torch.save``;
    loading that is as unsafe as any pickle. Within this block such files load as before; save
    them again to get the weights-only format.

    Examples
    --------
    >>> from corel_sklearn.serialization import trust_legacy_pickles
    >>> with trust_legacy_pickles():
    ...     pass  # model = pickle.load(open("old_model.pkl", "rb"))
    """
    token = _trust_legacy.set(True)
    try:
        yield
    finally:
        _trust_legacy.reset(token)


def state_dict_bytes(module):
    """``module``'s state dict (tensors only) as ``torch.save`` bytes, devices kept."""
    buffer = io.BytesIO()
    torch.save({"format_version": WEIGHTS_FORMAT_VERSION, "state_dict": module.state_dict()},
               buffer)
    return buffer.getvalue()


def load_weights(payload, device):
    """The state dict in ``payload`` on ``device``, or a legacy module when that is trusted.

    Returns ``(state_dict, None)`` for the weights-only format, ``(None, module)`` for a 0.1
    pickle inside :func:`trust_legacy_pickles`. Anything else raises
    :class:`UnsafeModelFileError` before a single object of it is built.
    """
    try:
        content = torch.load(io.BytesIO(payload), map_location=device, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError... for foreign code
        if _trust_legacy.get():
            return None, torch.load(io.BytesIO(payload), map_location=device, weights_only=False)
        raise UnsafeModelFileError(
            "The network stored in this model file is not plain weights: it was pickled by "
            "corel-sklearn 0.1 (the whole torch module) or crafted, and loading it would run "
            "code from the file, so it was refused. If you trust the file, load it inside "
            "`with corel_sklearn.serialization.trust_legacy_pickles():` and save it again. "
            f"(torch: {str(exc).splitlines()[0]})"
        ) from None
    if not (isinstance(content, dict) and isinstance(content.get("state_dict"), dict)):
        raise UnsafeModelFileError(
            f"The network stored in this model file is a {type(content).__name__}, not the "
            "weights-only format of corel-sklearn; refusing to load it."
        )
    version = content.get("format_version")
    if not isinstance(version, int) or version > WEIGHTS_FORMAT_VERSION:
        raise ValueError(
            f"The network weights have format version {version!r}, newer than this "
            f"corel-sklearn reads ({WEIGHTS_FORMAT_VERSION}); upgrade corel-sklearn."
        )
    state_dict = content["state_dict"]
    for name, tensor in state_dict.items():
        if not (isinstance(name, str) and isinstance(tensor, torch.Tensor)):
            raise ValueError(
                "The network stored in this model file is damaged: its state dict maps "
                f"{name!r:.40} to a {type(tensor).__name__}, not a tensor."
            )
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ValueError(
                f"The network stored in this model file holds NaN or infinite weights "
                f"({name}): the file is damaged, or the model was saved after its training "
                "diverged."
            )
    return state_dict, None
