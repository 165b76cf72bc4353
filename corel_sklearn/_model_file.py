"""What a model file may hold: the checks :func:`corel_sklearn.serialization.load` applies.

A file is read as untrusted input. Before anything is built from it, its JSON values are
decoded with a bounded depth and only the tags ``save`` writes; each class's parameters and
fitted attributes are checked against what a fitted model of that class holds (names, types,
shapes, finite values); a Pipeline may hold only the steps and settings ``save`` accepts. Every
failure raises :class:`DamagedModelFile`, which ``load`` turns into one ``ValueError`` naming
the file.

A fitted attribute added to an estimator needs an entry in :data:`FITTED_ATTRIBUTES`; the
round-trip tests of ``tests/test_serialization.py`` fail until it has one.
"""

import math

import numpy as np
import torch

__all__ = [
    "FITTED_ATTRIBUTES",
    "DamagedModelFile",
    "check_fitted_attributes",
    "check_network_weights",
    "check_pipeline",
    "decode",
]

_MAX_DEPTH = 32  # JSON nesting a model file never needs (history_ entries are 3 deep)
_MAX_STRING_WIDTH = 4096  # characters per element of a fixed-width numpy string array


class DamagedModelFile(Exception):
    """A model file that is damaged, crafted, or not what its config says; ``load`` names it."""


# ------------------------------------------------------------------------ JSON values


def decode(value, what, depth=0):
    """A JSON value of the config as the Python value ``save`` encoded (tuples, floats...)."""
    if depth > _MAX_DEPTH:
        raise DamagedModelFile(f"{what} is nested deeper than {_MAX_DEPTH} levels.")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [decode(v, f"{what}[{i}]", depth + 1) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        raise DamagedModelFile(f"{what} is a {type(value).__name__}, not a JSON value.")
    tags = set(value)
    if tags == {"__tuple__"} and isinstance(value["__tuple__"], list):
        return tuple(decode(v, f"{what}[{i}]", depth + 1)
                     for i, v in enumerate(value["__tuple__"]))
    if tags == {"__float__"}:
        text = value["__float__"]
        if text not in ("nan", "inf", "-inf"):
            raise DamagedModelFile(f"{what} is the float {text!r}; only 'nan', 'inf' and "
                                   "'-inf' are written this way.")
        return float(text)
    if tags == {"__device__"}:
        return torch.device(_device_string(value["__device__"], what))
    if tags == {"__dict__"} and isinstance(value["__dict__"], dict):
        return {k: decode(v, f"{what}[{k!r}]", depth + 1) for k, v in value["__dict__"].items()}
    if tags == {"__strings__", "dtype"}:
        return _strings(value["__strings__"], value["dtype"], what)
    raise DamagedModelFile(f"{what} is an object with keys {sorted(map(str, tags))[:5]}, "
                           "which save never writes.")


def _device_string(text, what):
    if not isinstance(text, str):
        raise DamagedModelFile(f"{what} names a device with a {type(text).__name__}.")
    try:
        torch.device(text)
    except (RuntimeError, ValueError):
        raise DamagedModelFile(f"{what} is {text!r}, not a torch device.") from None
    return text


def _strings(strings, dtype, what):
    if not (isinstance(strings, list) and all(isinstance(s, str) for s in strings)):
        raise DamagedModelFile(f"{what}: a string array must be a list of strings.")
    if dtype in ("|O", "O"):
        array = np.empty(len(strings), dtype=object)
        array[:] = strings
        return array
    if not (isinstance(dtype, str) and dtype[:2] in ("<U", ">U") and dtype[2:].isdigit()
            and 0 < int(dtype[2:]) <= _MAX_STRING_WIDTH):
        raise DamagedModelFile(f"{what} has the string dtype {dtype!r}; save writes '|O' or "
                               f"'<U<width>' (width up to {_MAX_STRING_WIDTH}).")
    return np.asarray(strings, dtype=np.dtype(dtype))


# ------------------------------------------------------------------ fitted attributes


def _int(minimum):
    def check(value, what):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or value < minimum:
            raise DamagedModelFile(f"{what} must be an int >= {minimum}, got {value!r:.80}.")
        return int(value)

    return check


def _float(finite):
    def check(value, what):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
            raise DamagedModelFile(f"{what} must be a number, got {value!r:.80}.")
        value = float(value)
        if finite and not math.isfinite(value):
            raise DamagedModelFile(f"{what} must be finite, got {value}.")
        return value

    return check


def _choice(*choices):
    def check(value, what):
        if not (isinstance(value, str) and value in choices):
            raise DamagedModelFile(f"{what} must be one of {list(choices)}, got {value!r:.80}.")
        return value

    return check


def _device(value, what):
    return _device_string(str(value) if isinstance(value, torch.device) else value, what)


def _shape(value, what):
    if not (isinstance(value, tuple) and value and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)):
        raise DamagedModelFile(f"{what} must be a non-empty tuple of positive ints, got "
                               f"{value!r:.80}.")
    return value


_SCALAR = (type(None), bool, int, float, str)


def _history(value, what):
    if not isinstance(value, list):
        raise DamagedModelFile(f"{what} must be a list of per-epoch dicts.")
    for i, record in enumerate(value):
        if not isinstance(record, dict):
            raise DamagedModelFile(f"{what}[{i}] must be a dict, got {type(record).__name__}.")
        for key, entry in record.items():
            flat = entry if isinstance(entry, (list, tuple)) else (entry,)
            if not all(isinstance(v, _SCALAR) for v in flat):
                raise DamagedModelFile(f"{what}[{i}][{key!r}] must be a number, a string or "
                                       "a list of them.")
    return value


def _array(kinds, ndim, finite=False):
    def check(value, what):
        if not isinstance(value, np.ndarray) or value.dtype.kind not in kinds \
                or value.ndim != ndim:
            got = (f"an array of dtype {value.dtype} and shape {value.shape}"
                   if isinstance(value, np.ndarray) else f"a {type(value).__name__}")
            raise DamagedModelFile(f"{what} must be a {ndim}-D array of kind {kinds!r}, got "
                                   f"{got}.")
        if kinds == "OU" and value.dtype.kind == "O" and not all(
                isinstance(v, str) for v in value.tolist()):
            raise DamagedModelFile(f"{what} must hold strings.")
        if finite and not np.isfinite(value).all():
            raise DamagedModelFile(f"{what} holds NaN or infinite values.")
        return value

    return check


def _labels_1d(value, what):
    """``classes_``: numbers (from the weights) or strings (from the config)."""
    kinds = "OU" if isinstance(value, np.ndarray) and value.dtype.kind in "OU" else "biuf"
    value = _array(kinds, 1)(value, what)
    if len(np.unique(value)) != len(value):
        raise DamagedModelFile(f"{what} repeats a class.")
    return value


_COMMON = {"n_features_in_": _int(1), "feature_names_in_": _array("OU", 1)}

#: For each class ``save`` handles: its fitted attributes, each with its check, and which of
#: them a fitted model always has.
FITTED_ATTRIBUTES = {
    "TopoAutoencoder": ({
        **_COMMON,
        "architecture_": _choice("mlp", "conv"),
        "input_shape_": _shape,
        "device_": _device,
        "history_": _history,
        "n_iter_": _int(0),
        "n_steps_": _int(0),
        "batch_size_": _int(1),
        "best_validation_loss_": _float(finite=False),
    }, {"n_features_in_", "architecture_", "input_shape_", "device_", "history_", "n_iter_",
        "n_steps_", "batch_size_"}),
    "BallCountOneClass": ({
        **_COMMON,
        "anchors_": _array("f", 2, finite=True),
        "offset_": _float(finite=True),
    }, {"n_features_in_", "anchors_", "offset_"}),
    "ClasswiseBallCount": ({
        **_COMMON,
        "classes_": _labels_1d,
        "anchors_": _array("f", 2, finite=True),
        "anchor_classes_": _array("iu", 1),
        "offsets_": _array("f", 1, finite=True),
    }, {"n_features_in_", "classes_", "anchors_", "anchor_classes_", "offsets_"}),
}


def check_fitted_attributes(name, estimator, attributes, has_weights, what):
    """Check the fitted attributes of a ``name`` model against :data:`FITTED_ATTRIBUTES`.

    ``estimator`` is the model built from the file's parameters (unfitted); ``has_weights``
    whether the file holds network weights for it. Returns the attributes, converted.
    """
    checks, required = FITTED_ATTRIBUTES[name]
    unknown = sorted(set(attributes) - set(checks))
    if unknown:
        raise DamagedModelFile(
            f"{what} sets {unknown[:5]}, which a {name} does not have (a file from a newer "
            "corel-sklearn, or crafted)."
        )
    attributes = {key: checks[key](value, f"{what}.{key}") for key, value in attributes.items()}
    if attributes and not required <= set(attributes):
        raise DamagedModelFile(
            f"{what} is a fitted {name} without {sorted(required - set(attributes))}: a model "
            "cannot be used half-fitted."
        )
    if name == "TopoAutoencoder" and has_weights != bool(attributes):
        raise DamagedModelFile(
            f"{what} is {'a fitted' if attributes else 'an unfitted'} TopoAutoencoder "
            f"{'without' if attributes else 'with'} network weights."
        )
    if not attributes:
        return attributes
    n_features = attributes["n_features_in_"]
    if "feature_names_in_" in attributes and len(attributes["feature_names_in_"]) != n_features:
        raise DamagedModelFile(f"{what} has {len(attributes['feature_names_in_'])} feature "
                               f"names for n_features_in_={n_features}.")
    if name == "TopoAutoencoder":
        shape = attributes["input_shape_"]
        if math.prod(shape) != n_features or len(shape) != (
                3 if attributes["architecture_"] == "conv" else 1):
            raise DamagedModelFile(f"{what}.input_shape_={shape} does not fit "
                                   f"n_features_in_={n_features} and a "
                                   f"{attributes['architecture_']} network.")
        return attributes
    anchors = attributes["anchors_"]
    if anchors.shape[0] < 1 or anchors.shape[1] != n_features or \
            n_features % estimator.n_branches:
        raise DamagedModelFile(f"{what}.anchors_ has shape {anchors.shape}; a model of "
                               f"n_features_in_={n_features} in n_branches="
                               f"{estimator.n_branches} needs (n_anchors >= 1, {n_features}).")
    if name == "ClasswiseBallCount":
        n_classes = len(attributes["classes_"])
        owners = attributes["anchor_classes_"]
        if len(owners) != anchors.shape[0] or len(attributes["offsets_"]) != n_classes or (
                len(owners) and (owners.min() < 0 or owners.max() >= n_classes)):
            raise DamagedModelFile(f"{what}: anchor_classes_, offsets_ and classes_ do not "
                                   "describe the same classes and anchors.")
    return attributes


def check_network_weights(weights, what):
    """Network weights must be finite floating tensors (NaN weights would load silently)."""
    for key, tensor in weights.items():
        if not tensor.is_floating_point() and tensor.dtype not in (torch.int64, torch.bool):
            raise DamagedModelFile(f"{what}.module_.{key} has dtype {tensor.dtype}.")
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise DamagedModelFile(
                f"{what}.module_.{key} holds NaN or infinite weights (a damaged file, or a "
                "model saved after its training diverged)."
            )


# ------------------------------------------------------------------------ Pipeline


def check_pipeline(params, steps, what):
    """The settings and steps of a saved Pipeline, as ``save`` writes them."""
    unknown = sorted(set(params) - {"memory", "verbose", "transform_input"})
    if unknown:
        raise DamagedModelFile(f"{what} sets the Pipeline parameters {unknown[:5]}.")
    if params.get("memory") is not None:
        raise DamagedModelFile(f"{what} sets Pipeline(memory=...), which save refuses to "
                               "write (a cache folder is not part of a model).")
    if not isinstance(params.get("verbose", False), bool):
        raise DamagedModelFile(f"{what}: Pipeline verbose must be a bool.")
    transform_input = params.get("transform_input")
    if transform_input is not None and not (
            isinstance(transform_input, list) and all(isinstance(v, str) for v in transform_input)):
        raise DamagedModelFile(f"{what}: Pipeline transform_input must be None or a list of "
                               "strings.")
    if not isinstance(steps, list) or not steps:
        raise DamagedModelFile(f"{what}.steps must be a non-empty list.")
    names = []
    for i, step in enumerate(steps):
        if not (isinstance(step, list) and len(step) == 2 and isinstance(step[0], str)):
            raise DamagedModelFile(f"{what}.steps[{i}] must be [name, step].")
        name, model = step
        if not name or "__" in name or name in names:
            raise DamagedModelFile(f"{what}.steps[{i}] has the name {name!r}: step names are "
                                   "unique, non-empty and without '__'.")
        if not (isinstance(model, dict) or model is None or model == "passthrough"):
            raise DamagedModelFile(f"{what}.steps[{i}] ({name!r}) is {model!r:.80}; a saved "
                                   "Pipeline holds models and 'passthrough' only.")
        names.append(name)
    return steps
