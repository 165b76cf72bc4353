"""Saving and loading fitted models without pickle: a zip of JSON settings and safetensors.

:func:`save` writes one zip file holding

* ``config.json``: the format name and version, the corel-sklearn version that wrote it, and
  for the model (and each step of a Pipeline) its class, its parameters and its fitted
  attributes that are numbers, strings or lists of them;
* ``weights.safetensors``: every array (anchors, offsets, the network's weights) as a
  ``safetensors`` tensor, stored on the CPU.

:func:`load` reads it back. It only builds the classes it knows (``TopoAutoencoder``,
``BallCountOneClass``, ``ClasswiseBallCount`` and scikit-learn's ``Pipeline`` of them), from
plain JSON and raw tensor bytes, so loading a file runs no code from it, unlike ``pickle``.
A ``TopoAutoencoder`` network is rebuilt from the model's own parameters and its weights are
loaded into it; a network given as a callable ``architecture`` is code and is not saved (use
pickle or skops for such a model, trusting the function).

Pickle, joblib and ``skops.io`` also work: a pickled ``TopoAutoencoder`` stores its network as a
state dict read back with ``torch.load(weights_only=True)``, so with ``skops.io.load`` only the
estimator types need to be trusted. Pickles written by corel-sklearn 0.1 (the whole network
pickled) are refused with a clear error unless loaded inside :func:`trust_legacy_pickles`.
"""

import json
import math
import warnings
import zipfile

import numpy as np
import torch

from corel_sklearn._device import loadable_device, resolve_device
from corel_sklearn._files import atomic_write
from corel_sklearn._weights import UnsafeModelFileError, trust_legacy_pickles

__all__ = ["FORMAT_VERSION", "UnsafeModelFileError", "load", "save", "trust_legacy_pickles"]

FORMAT_NAME = "corel-sklearn-model"
# Bumped when the layout changes; load refuses files written in a newer version.
FORMAT_VERSION = 1
_CONFIG = "config.json"
_WEIGHTS = "weights.safetensors"


def _import_safetensors():
    try:
        import safetensors.torch
    except ImportError as exc:
        raise ImportError(
            "corel_sklearn.serialization.save/load need the safetensors package: "
            "pip install 'corel-sklearn[io]' (or pip install safetensors)."
        ) from exc
    return safetensors.torch


def _model_classes():
    from sklearn.pipeline import Pipeline

    from corel_sklearn import BallCountOneClass, ClasswiseBallCount, TopoAutoencoder

    return {cls.__name__: cls for cls in
            (TopoAutoencoder, BallCountOneClass, ClasswiseBallCount, Pipeline)}


# ---------------------------------------------------------------------------------- save


def save(estimator, path):
    """Save a fitted (or unfitted) model to ``path`` without pickle.

    Parameters
    ----------
    estimator : TopoAutoencoder, BallCountOneClass, ClasswiseBallCount or Pipeline
        The model; a :class:`~sklearn.pipeline.Pipeline` may hold these three (and
        ``"passthrough"`` steps).
    path : str or path-like
        The file to write: a zip with ``config.json`` and ``weights.safetensors``. The
        suffix is free; ``.zip`` lets tools open it.

    Raises
    ------
    TypeError
        For a model or Pipeline step of another class, or a ``TopoAutoencoder`` whose
        ``architecture`` is a callable (its network is code: use pickle or ``skops.io``).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from corel_sklearn import BallCountOneClass
    >>> from corel_sklearn.serialization import load, save
    >>> X = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, 0.5], [1.0, 1.0]])
    >>> model = BallCountOneClass(radius=1.0, n_branches=1, contamination="auto").fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.zip")
    >>> save(model, path)
    >>> load(path).score_samples([[0.0, 0.0], [5.0, 5.0]])
    array([3., 0.])
    """
    st = _import_safetensors()
    tensors = {}
    config = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "corel_sklearn_version": _version(),
        "model": _describe(estimator, "model", tensors),
    }
    weights = st.save(tensors) if tensors else st.save({})
    text = json.dumps(config, indent=1, allow_nan=False)
    # A failed write (full disk, Ctrl-C) leaves an existing file at ``path`` as it was.
    with atomic_write(path) as file, zipfile.ZipFile(
        file, "w", compression=zipfile.ZIP_DEFLATED
    ) as archive:
        archive.writestr(_CONFIG, text)
        archive.writestr(_WEIGHTS, weights)


def _version():
    from corel_sklearn import __version__

    return __version__


def _describe(estimator, prefix, tensors):
    """The JSON description of ``estimator``; its arrays go to ``tensors`` under ``prefix``."""
    from sklearn.pipeline import Pipeline

    classes = _model_classes()
    name = type(estimator).__name__
    if classes.get(name) is not type(estimator):
        raise TypeError(
            f"corel_sklearn.serialization.save handles {sorted(classes)}, not "
            f"{type(estimator).__module__}.{type(estimator).__qualname__}; save other models "
            "with skops.io.dump (or pickle, for files you trust)."
        )
    if isinstance(estimator, Pipeline):
        params = estimator.get_params(deep=False)
        if params.get("memory") is not None:
            raise TypeError("A Pipeline with memory= set cannot be saved; set memory=None.")
        steps = []
        for i, (step_name, step) in enumerate(params.pop("steps")):
            if step is None or (isinstance(step, str) and step == "passthrough"):
                steps.append([step_name, step])
            else:
                steps.append([step_name, _describe(step, f"{prefix}.steps.{i}", tensors)])
        return {"class": name, "params": _encode(params, "params"), "steps": steps}
    params = estimator.get_params(deep=False)
    if callable(params.get("architecture")):
        raise TypeError(
            "This TopoAutoencoder's architecture is a callable: its network is code, which "
            "this format does not store. Save it with skops.io.dump (trusting the function) "
            "or pickle."
        )
    if isinstance(params.get("random_state"), np.random.RandomState):
        warnings.warn(
            "random_state is a RandomState instance, which is not saved: the loaded model "
            "has random_state=None (refitting it gives other weights). Pass an int to keep it.",
            UserWarning,
            stacklevel=3,
        )
        params["random_state"] = None
    attributes, arrays = {}, []
    for key, value in vars(estimator).items():
        if not key.endswith("_") or key.startswith("_"):
            continue
        if key == "module_":
            for weight_name, tensor in value.state_dict().items():
                # Copies, on the CPU and contiguous: safetensors refuses shared storage.
                tensors[f"{prefix}.module_.{weight_name}"] = tensor.detach().cpu().clone()
        elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            tensors[f"{prefix}.{key}"] = torch.from_numpy(np.ascontiguousarray(value).copy())
            arrays.append(key)
        else:
            attributes[key] = _encode(value, key)
    return {"class": name, "params": _encode(params, "params"), "attributes": attributes,
            "arrays": arrays}


def _encode(value, what):
    """``value`` as JSON, with tuples, non-finite floats, devices and string arrays tagged."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, what) for v in value]}
    if isinstance(value, list):
        return [_encode(v, what) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _encode(v, what) for k, v in value.items()}}
    if isinstance(value, np.ndarray) and value.dtype.kind in "OUS" and value.ndim == 1 and all(
        isinstance(v, str) for v in value.tolist()
    ):
        return {"__strings__": value.tolist(), "dtype": value.dtype.str}
    raise TypeError(
        f"{what}: cannot save a value of type {type(value).__name__} ({value!r:.80}) in the "
        "JSON settings; use skops.io.dump for this model."
    )


# ---------------------------------------------------------------------------------- load


def load(path, *, device=None):
    """Load a model written by :func:`save`; no code from the file is run.

    Parameters
    ----------
    path : str or path-like
        The zip written by :func:`save`.
    device : str or torch.device, default=None
        Where to put every ``TopoAutoencoder`` network. None: the device it was fitted on when
        available here, else the CPU (with a RuntimeWarning), as when unpickling.

    Returns
    -------
    estimator : TopoAutoencoder, BallCountOneClass, ClasswiseBallCount or Pipeline
        The model, ready to ``transform``, ``score_samples``...

    Raises
    ------
    ValueError
        If the file is not such a zip, is damaged, names a class this module does not build,
        or was written by a newer format version.
    """
    st = _import_safetensors()
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read(_CONFIG))
            weights = archive.read(_WEIGHTS)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"{path!r} is not a model file written by corel_sklearn.serialization.save "
            f"(a zip with {_CONFIG} and {_WEIGHTS}): {exc}"
        ) from None
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise ValueError(f"{path!r}: {_CONFIG} does not describe a {FORMAT_NAME} file.")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} has format version {version!r}; this corel-sklearn ({_version()}) "
            f"reads up to {FORMAT_VERSION}. Upgrade corel-sklearn."
        )
    try:
        tensors = st.load(weights)
    except Exception as exc:
        raise ValueError(f"{path!r}: {_WEIGHTS} is damaged: {exc}") from None
    device = None if device is None else resolve_device(device)
    try:
        return _build(config["model"], "model", tensors, device)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path!r}: {_CONFIG} is malformed ({type(exc).__name__}: {exc}).") \
            from None


def _build(description, prefix, tensors, device):
    classes = _model_classes()
    name = description["class"]
    if name not in classes:
        raise ValueError(f"The file names a class {name!r}; only {sorted(classes)} are built.")
    params = _decode(description["params"])
    if name == "Pipeline":
        steps = []
        for i, (step_name, step) in enumerate(description["steps"]):
            if isinstance(step, dict):
                step = _build(step, f"{prefix}.steps.{i}", tensors, device)
            steps.append((step_name, step))
        return classes[name](steps, **params)
    estimator = classes[name](**params)
    attributes = {key: _decode(value) for key, value in description["attributes"].items()}
    for key in [*attributes, *description["arrays"]]:
        if not (isinstance(key, str) and key.endswith("_") and not key.startswith("_")):
            raise ValueError(f"The file sets {key!r}, which is not a fitted attribute.")
    for key in description["arrays"]:
        attributes[key] = tensors[f"{prefix}.{key}"].numpy()
    weights_prefix = f"{prefix}.module_."
    weights = {key[len(weights_prefix):]: tensor for key, tensor in tensors.items()
               if key.startswith(weights_prefix)}
    if "device_" in attributes:
        attributes["device_"] = str(device if device is not None
                                    else loadable_device(attributes["device_"]))
    if weights:  # a TopoAutoencoder: its network is rebuilt from the fitted attributes
        estimator.set_training_state({"attributes": attributes, "module": weights})
    else:
        estimator.__dict__.update(attributes)
    return estimator


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__float__" in value:
        return float(value["__float__"])
    if "__device__" in value:
        return torch.device(value["__device__"])
    if "__dict__" in value:
        return {k: _decode(v) for k, v in value["__dict__"].items()}
    if "__strings__" in value:
        return np.asarray(value["__strings__"], dtype=np.dtype(value["dtype"]))
    raise TypeError(f"unknown tagged value {sorted(value)}")
