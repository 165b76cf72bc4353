"""The API reference page (api.rst), generated from each public module's ``__all__``.

A module that is not importable here (an optional dependency missing) or not yet present is
left out; every public class or function of the others gets its page, so the reference cannot
fall behind the code.
"""

import importlib
import inspect

# (module, title, one line on what it is)
SECTIONS = [
    ("corel_sklearn", "Estimators and the loss",
     "The scikit-learn estimators and COREL's connectivity loss."),
    ("corel_sklearn.training", "Training loop and callbacks",
     "TopoAutoencoder's training engine, the run it shares with the estimator's step methods, "
     "and the callbacks (progress, early stopping, checkpoints; also importable from "
     "corel_sklearn.callbacks)."),
    ("corel_sklearn.pershom", "Persistence",
     "0-dim Vietoris-Rips persistence, exact and differentiable, CPU and CUDA."),
    ("corel_sklearn.ball_counting", "Ball counting",
     "Exact closed-ball counts per latent branch (numba on the CPU, torch on CUDA)."),
    ("corel_sklearn.networks", "Networks",
     "The paper's autoencoders and the branch-diagonal linear layer (plain torch)."),
    ("corel_sklearn.model_selection", "Model selection",
     "Cross-validation splits and scorers for one-class models."),
    ("corel_sklearn.plotting", "Plots",
     "Training history against eta, barcodes, ball counts, ROC curves (needs matplotlib)."),
    ("corel_sklearn.serialization", "Saving models",
     "Model files that load without running code from the file."),
    ("corel_sklearn.pyod", "PyOD interface",
     "COREL as a PyOD detector."),
    ("corel_sklearn.distributed", "Distributed",
     "Scoring and training across processes and machines."),
    ("corel_sklearn.distributed.dask", "Scoring on dask",
     "Fitted models mapped over dask arrays, one thread per worker (needs dask)."),
    ("corel_sklearn.datasets", "Datasets",
     "Loaders for CIFAR-10, ODDS, ADBench and the digits, and the one-class protocol split."),
    ("corel_sklearn.experiments", "Experiments",
     "The paper's protocol and the tabular benchmarks, with baselines and reports."),
]


# Methods listed on their own under a section (dotted from the package): the public step
# methods of TopoAutoencoder that the training loop calls and subclasses override.
METHODS = {
    "corel_sklearn.training": (
        "The step methods of ``TopoAutoencoder`` that the loop calls (see the training loop "
        "page); ``corel_sklearn.distributed`` overrides them for data-parallel training.",
        [f"TopoAutoencoder.{name}" for name in (
            "steps_per_epoch", "wrap_module", "epoch_order", "train_step", "validation_loss",
            "reduce_epoch_record", "get_training_state", "set_training_state")],
    ),
}


def public_objects(module_name):
    """``(classes, functions, data)`` named in the module's ``__all__``; None if not importable.

    ``data`` are the constants (registries, tuples of names), so that a docstring's
    ``:data:`METHODS``` has a target.
    """
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    classes, functions, data = [], [], []
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name, None)
        if inspect.isclass(obj):
            classes.append(name)
        elif inspect.isfunction(obj) or inspect.isbuiltin(obj) or callable(obj):
            functions.append(name)
        elif not name.startswith("__"):
            data.append(name)
    return classes, functions, data


HEADER = """\
API reference
=============

Every public object, from its docstring. The estimators follow scikit-learn's conventions
(``fit`` returns ``self``, fitted attributes end in ``_``); the kernels (``pershom``,
``ball_counting``, ``networks``) know nothing of scikit-learn. This page lists each module's
``__all__``.

"""


def api_rst():
    """The API reference page (api.rst), as reStructuredText."""
    parts = [HEADER]
    for module_name, title, blurb in SECTIONS:
        objects = public_objects(module_name)
        if not objects or not any(objects):
            continue
        classes, functions, data = objects
        heading = f"{title}: ``{module_name}``"
        # .. module:: is the target of :mod: references; the blurb is its synopsis
        parts += [heading, "-" * len(heading), "", f".. module:: {module_name}",
                  f"   :synopsis: {blurb}", "", blurb, "",
                  f".. currentmodule:: {module_name}", ""]
        # classes use _templates/autosummary/class.rst (their methods on the same page);
        # constants _templates/autosummary/base.rst (their docstring, not their value)
        for names in (classes, functions, data):
            if names:
                parts += [".. autosummary::", "   :toctree: generated", ""]
                parts += [f"   {name}" for name in names] + [""]
        if module_name in METHODS:
            text, methods = METHODS[module_name]
            parts += [text, "", ".. currentmodule:: corel_sklearn", "",
                      ".. autosummary::", "   :toctree: generated", ""]
            parts += [f"   {name}" for name in methods] + [""]
    return "\n".join(parts) + "\n"
