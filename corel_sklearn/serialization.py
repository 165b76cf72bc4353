"""Saving and loading fitted models without pickle: a zip of JSON settings and safetensors.

:func:`save` writes one zip file holding

* ``config.json``: the format name and version, the corel-sklearn version that wrote it, and
  for the model (and each step of a Pipeline) its class, its parameters and its fitted
  attributes that are numbers, strings or lists of them;
* ``weights.safetensors``: every array (anchors, offsets, the network's weights) as a
  ``safetensors`` tensor, stored on the CPU, uncompressed in the zip.

:func:`load` reads it back. It only builds the classes it knows (``TopoAutoencoder``,
``BallCountOneClass``, ``ClasswiseBallCount`` and scikit-learn's ``Pipeline`` of them), from
plain JSON and raw tensor bytes, so loading a file runs no code from it, unlike ``pickle``.
It reads a file as untrusted input: sizes are checked before anything is inflated, and every
setting, fitted attribute and weight is checked against what such a model holds; a damaged or
crafted file gives one ``ValueError`` naming the file and the problem.
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
import os
import warnings
import zipfile

import numpy as np
import torch

from corel_sklearn._device import loadable_device, resolve_device
from corel_sklearn._files import atomic_write
from corel_sklearn._model_file import (
    FITTED_ATTRIBUTES,
    DamagedModelFile,
    check_fitted_attributes,
    check_network_weights,
    check_pipeline,
    decode,
)
from corel_sklearn._sklearn_compat import check_parameter_constraints
from corel_sklearn._version import __version__
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
            "pip install safetensors (or pip install \".[io]\" in a corel-sklearn checkout)."
        ) from exc
    return safetensors.torch


def _model_classes():
    from sklearn.pipeline import Pipeline

    from corel_sklearn.estimators import BallCountOneClass, ClasswiseBallCount, TopoAutoencoder

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
        "corel_sklearn_version": __version__,
        "model": _describe(estimator, "model", tensors),
    }
    weights = st.save(tensors) if tensors else st.save({})
    text = json.dumps(config, indent=1, allow_nan=False)
    # A failed write (full disk, Ctrl-C) leaves an existing file at ``path`` as it was.
    with atomic_write(path) as file, zipfile.ZipFile(
        file, "w", compression=zipfile.ZIP_DEFLATED
    ) as archive:
        archive.writestr(_CONFIG, text)
        # Stored, not deflated: float weights barely compress, and load then knows that the
        # weights inflate to exactly their stored size.
        archive.writestr(_WEIGHTS, weights, compress_type=zipfile.ZIP_STORED)


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
    unknown = sorted(set(attributes).union(arrays) - set(FITTED_ATTRIBUTES[name][0]))
    if unknown:  # load would refuse the file: say so now, while the model is still here
        raise TypeError(
            f"This {name} has the fitted attributes {unknown}, which the model file format "
            "does not know (corel_sklearn._model_file.FITTED_ATTRIBUTES); save it with "
            "skops.io.dump or pickle."
        )
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

# A model file is untrusted input: what ``load`` may inflate is bounded before it inflates it.
# The config is JSON settings (kilobytes; about 330 bytes per epoch of history_).
_MAX_CONFIG_BYTES = 32 * 2**20
# ``save`` stores the weights uncompressed; a compressed member (files of earlier versions:
# float weights deflate by about 10 %) may inflate freely up to this size, and beyond it to at
# most this many times its stored size: a decompression bomb inflates a thousand times.
_FREE_INFLATION_BYTES = 32 * 2**20
_MAX_INFLATION_RATIO = 16
_READ_CHUNK = 2**20
_MAX_PIPELINE_DEPTH = 8


def load(path, *, device=None):
    """Load a model written by :func:`save`; no code from the file is run.

    The file is read as untrusted input: the sizes its zip header declares are checked before
    anything is inflated (a small file cannot cost gigabytes), and its settings, fitted
    attributes and weights are checked against what a model of its class holds (types, shapes,
    finite values) before the model is built. Whatever is wrong gives one ``ValueError`` naming
    the file and the problem; nothing is half-loaded.

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
        If the file is not such a zip, is damaged or truncated, would inflate far beyond its
        size, names a class this module does not build, holds settings or fitted attributes
        such a model cannot have (wrong types or shapes, NaN weights, a Pipeline with
        ``memory`` or foreign steps), or was written by a newer format version.
    OSError
        If the file cannot be opened.
    """
    st = _import_safetensors()
    device = None if device is None else resolve_device(device)
    name = os.fspath(path)
    with open(name, "rb") as file:  # a missing or unreadable file is an OSError, as for open
        try:
            return _load(file, st, device)
        except DamagedModelFile as exc:
            problem = str(exc)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - a file is data: whatever it breaks is damage
            detail = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            problem = (f"it is damaged or not such a model file ({type(exc).__name__}: "
                       f"{detail[:500] or 'no detail'})")
    raise ValueError(f"{name!r} cannot be loaded: {problem}")


def _load(file, st, device):
    try:
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile as exc:
        raise DamagedModelFile(
            f"it is not a model file written by corel_sklearn.serialization.save (a zip with "
            f"{_CONFIG} and {_WEIGHTS}): {exc}"
        ) from None
    with archive:
        members = {}
        for info in archive.infolist():
            if info.filename in (_CONFIG, _WEIGHTS):
                if info.filename in members:
                    raise DamagedModelFile(f"it holds {info.filename} twice.")
                members[info.filename] = info
        missing = [member for member in (_CONFIG, _WEIGHTS) if member not in members]
        if missing:
            raise DamagedModelFile(
                f"it is not a model file written by corel_sklearn.serialization.save (a zip "
                f"with {_CONFIG} and {_WEIGHTS}): {missing[0]} is missing."
            )
        config_info, weights_info = members[_CONFIG], members[_WEIGHTS]
        # Sizes first, from the zip's directory: nothing is inflated beyond these bounds.
        file_size = os.fstat(file.fileno()).st_size
        for info in (config_info, weights_info):
            if info.compress_size > file_size:
                raise DamagedModelFile(
                    f"its {info.filename} claims {info.compress_size} stored bytes in a file "
                    f"of {file_size}: the file is truncated or damaged."
                )
        if config_info.file_size > _MAX_CONFIG_BYTES:
            raise DamagedModelFile(
                f"its {_CONFIG} declares {config_info.file_size} bytes; a model's settings "
                f"take kilobytes (at most {_MAX_CONFIG_BYTES} are read)."
            )
        weights_limit = max(_FREE_INFLATION_BYTES,
                            _MAX_INFLATION_RATIO * weights_info.compress_size)
        if weights_info.file_size > weights_limit:
            raise DamagedModelFile(
                f"its {_WEIGHTS} would inflate from {weights_info.compress_size} to "
                f"{weights_info.file_size} bytes, more than {_MAX_INFLATION_RATIO} times: a "
                "decompression bomb, not weights (save stores weights uncompressed)."
            )
        config = _parse_config(_read_member(archive, config_info))
        weights = _read_member(archive, weights_info)
    try:
        tensors = st.load(weights)
    except Exception as exc:  # noqa: BLE001 - safetensors' own error types
        raise DamagedModelFile(f"its {_WEIGHTS} is damaged: {exc}") from None
    del weights
    used, networks = set(), []
    model = _build(config["model"], "model", tensors, device, used, networks)
    for estimator, weights, prefix in networks:
        _check_loaded_weights(estimator.module_, weights, prefix)
    unused = sorted(set(tensors) - used)
    if unused:
        raise DamagedModelFile(f"its {_WEIGHTS} holds tensors no part of the model uses: "
                               f"{unused[:5]}.")
    return model


def _read_member(archive, info):
    """The bytes of a zip member, inflated chunk by chunk up to its declared size.

    ``ZipFile.read`` inflates a member in one call, whatever its header declares; reading in
    chunks keeps memory at the declared size, which was checked, and zipfile stops there and
    checks the CRC.
    """
    chunks = []
    with archive.open(info) as member:
        while chunk := member.read(_READ_CHUNK):
            chunks.append(chunk)
    data = b"".join(chunks)
    if len(data) != info.file_size:
        raise DamagedModelFile(f"its {info.filename} is truncated ({len(data)} of "
                               f"{info.file_size} bytes).")
    return data


def _refuse_constant(name):
    raise ValueError(f"the JSON constant {name} (save writes non-finite floats tagged)")


def _parse_config(text):
    try:
        config = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise DamagedModelFile(f"its {_CONFIG} is nested too deeply to be a model's "
                               "settings.") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, huge int literals
        raise DamagedModelFile(
            f"it is not a model file written by corel_sklearn.serialization.save (a zip with "
            f"{_CONFIG} and {_WEIGHTS}): {_CONFIG} is not JSON: {exc}"
        ) from None
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise DamagedModelFile(f"its {_CONFIG} does not describe a {FORMAT_NAME} file.")
    version = config.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version > FORMAT_VERSION \
            or version < 1:
        raise DamagedModelFile(
            f"it has format version {version!r:.40}; this corel-sklearn ({__version__}) reads "
            f"up to {FORMAT_VERSION}. Upgrade corel-sklearn."
        )
    if "model" not in config:
        raise DamagedModelFile(f"its {_CONFIG} describes no model.")
    return config


def _build(description, prefix, tensors, device, used, networks, depth=0):
    """The model of ``description``, checked before it is built.

    ``used`` collects the names of the tensors it took, ``networks`` its networks, checked by
    :func:`_check_loaded_weights` once built.
    """
    classes = _model_classes()
    if not isinstance(description, dict) or not isinstance(description.get("class"), str):
        raise DamagedModelFile(f"{prefix} is not a model description.")
    name = description["class"]
    if name not in classes:
        raise DamagedModelFile(
            f"the file names a class {name!r:.80}; only {sorted(classes)} are built."
        )
    expected = {"class", "params", "steps"} if name == "Pipeline" else {
        "class", "params", "attributes", "arrays"}
    if set(description) != expected:
        raise DamagedModelFile(f"{prefix} ({name}) has the entries {sorted(description)[:6]}; "
                               f"a saved {name} has {sorted(expected)}.")
    params = decode(description["params"], f"{prefix}.params")
    if not isinstance(params, dict):
        raise DamagedModelFile(f"{prefix}.params is not a dict of parameters.")
    if name == "Pipeline":
        if depth >= _MAX_PIPELINE_DEPTH:
            raise DamagedModelFile(f"{prefix} nests Pipelines deeper than "
                                   f"{_MAX_PIPELINE_DEPTH} levels.")
        steps = []
        for i, (step_name, step) in enumerate(
                check_pipeline(params, description["steps"], prefix)):
            if isinstance(step, dict):
                step = _build(step, f"{prefix}.steps.{i}", tensors, device, used, networks,
                              depth + 1)
            steps.append((step_name, step))
        return _construct(classes[name], params, prefix, steps)
    estimator = _construct(classes[name], params, prefix)
    if not isinstance(description["attributes"], dict) or not isinstance(
            description["arrays"], list):
        raise DamagedModelFile(f"{prefix}: attributes must be a dict and arrays a list.")
    attributes = {key: decode(value, f"{prefix}.{key}")
                  for key, value in description["attributes"].items()}
    for key in [*attributes, *description["arrays"]]:
        if not (isinstance(key, str) and key.endswith("_") and not key.startswith("_")):
            raise DamagedModelFile(f"the file sets {key!r:.80}, which is not a fitted "
                                   "attribute.")
    for key in description["arrays"]:
        tensor_name = f"{prefix}.{key}"
        if key in attributes or tensor_name not in tensors:
            problem = "is also set in the config" if key in attributes else "has no tensor"
            raise DamagedModelFile(f"{prefix}.{key} is listed as an array but {problem}.")
        attributes[key] = tensors[tensor_name].numpy()
        used.add(tensor_name)
    weights_prefix = f"{prefix}.module_."
    weights = {key[len(weights_prefix):]: tensor for key, tensor in tensors.items()
               if key.startswith(weights_prefix)}
    used.update(weights_prefix + key for key in weights)
    attributes = check_fitted_attributes(name, estimator, attributes, bool(weights), prefix)
    check_network_weights(weights, prefix)
    if weights:
        networks.append((estimator, weights, prefix))
    if "device_" in attributes:
        attributes["device_"] = str(device if device is not None
                                    else loadable_device(attributes["device_"]))
    if weights:  # a TopoAutoencoder: its network is rebuilt from the fitted attributes
        estimator.set_training_state({"attributes": attributes, "module": weights})
    else:
        estimator.__dict__.update(attributes)
    return estimator


def _construct(cls, params, prefix, steps=None):
    """``cls(**params)``, its parameters checked by the class's own constraints."""
    try:
        estimator = cls(**params) if steps is None else cls(steps, **params)
    except TypeError as exc:
        raise DamagedModelFile(f"{prefix} has parameters a {cls.__name__} does not take: "
                               f"{exc}") from None
    try:
        check_parameter_constraints(estimator)
    except (TypeError, ValueError) as exc:
        raise DamagedModelFile(f"{prefix} has invalid parameters: {exc}") from None
    if steps is None and params.get("callbacks"):
        raise DamagedModelFile(f"{prefix} has callbacks, which save never writes.")
    return estimator


def _check_loaded_weights(module, weights, prefix):
    # load_state_dict checks names and shapes, and casts dtypes silently: refuse a cast.
    for key, tensor in module.state_dict().items():
        if tensor.dtype != weights[key].dtype:
            raise DamagedModelFile(f"{prefix}.module_.{key} is {weights[key].dtype}; the "
                                   f"network holds {tensor.dtype}.")
