"""Write the intersphinx inventories (``*.inv``) of this folder, so the site links offline.

The site links names such as ``numpy.ndarray``, ``sklearn.pipeline.Pipeline``,
``torch.nn.Module`` or ``pyod.models.base.BaseDetector`` to those projects' documentation. The
build reads no inventory from the network: each ``<project>.inv`` here lists the public names
of the installed package with the address of its page in that project's published
documentation (the layout of each site is coded below), in Sphinx's inventory format. Run it
after a dependency's major release and commit the result::

    python docs/_intersphinx/make_inventories.py

The inventories are small (names and relative addresses, zlib-compressed). A name a page
links to and no inventory lists is reported by the build (``nitpicky``), so a missing entry
shows up there.
"""

import builtins
import importlib
import inspect
import os
import pkgutil
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

# (inventory name, project, documentation root): conf.py's intersphinx_mapping reads these.
PROJECTS = {
    "python": ("Python", "https://docs.python.org/3/"),
    "numpy": ("NumPy", "https://numpy.org/doc/stable/"),
    "sklearn": ("scikit-learn", "https://scikit-learn.org/stable/"),
    "torch": ("PyTorch", "https://docs.pytorch.org/docs/stable/"),
    "pyod": ("PyOD", "https://pyod.readthedocs.io/en/latest/"),
    "joblib": ("joblib", "https://joblib.readthedocs.io/en/stable/"),
    "pandas": ("pandas", "https://pandas.pydata.org/docs/"),
    "matplotlib": ("Matplotlib", "https://matplotlib.org/stable/"),
    "dask": ("Dask", "https://docs.dask.org/en/stable/"),
    "distributed": ("Dask.distributed", "https://distributed.dask.org/en/stable/"),
}


def write_inventory(name, version, entries):
    """``entries``: (name, domain:role, page#anchor, display name or "-") tuples."""
    project, _ = PROJECTS[name]
    lines = sorted({f"{n} {role} {1 if role == 'py:module' else -1} {uri} {disp}"
                    for n, role, uri, disp in entries})
    header = ("# Sphinx inventory version 2\n"
              f"# Project: {project}\n"
              f"# Version: {version}\n"
              "# The remainder of this file is compressed using zlib.\n")
    body = zlib.compress(("\n".join(lines) + "\n").encode("utf-8"), 9)
    with open(os.path.join(HERE, f"{name}.inv"), "wb") as f:
        f.write(header.encode("utf-8") + body)
    print(f"{name}.inv: {len(lines)} names")


def _public(names):
    return [n for n in names if not n.startswith("_")]


def _kind(obj):
    """The Python domain's role of an object (intersphinx's :obj: matches any of them)."""
    if inspect.ismodule(obj):
        return "py:module"
    if inspect.isclass(obj):
        return "py:exception" if issubclass(obj, BaseException) else "py:class"
    return "py:function" if callable(obj) else "py:data"


def _members(cls):
    """Public methods and properties of a class, its bases' included (as autodoc lists them)."""
    members = []
    for attr in _public(dir(cls)):
        try:
            value = inspect.getattr_static(cls, attr)
        except AttributeError:
            continue
        if isinstance(value, property):
            members.append((attr, "py:property"))
        elif callable(value) or isinstance(value, (classmethod, staticmethod)):
            members.append((attr, "py:method"))
    return members


# -- Python ----------------------------------------------------------------------------------

def python_entries():
    functions = ["abs", "all", "any", "callable", "enumerate", "getattr", "hasattr", "isinstance",
                 "iter", "len", "max", "min", "next", "open", "print", "range", "repr",
                 "round", "sorted", "sum", "zip"]
    in_functions = ["bool", "float", "int", "object", "type", "complex", "slice"]
    in_stdtypes = ["str", "list", "tuple", "dict", "set", "frozenset", "bytes", "bytearray"]
    exceptions = [n for n, obj in vars(builtins).items()
                  if inspect.isclass(obj) and issubclass(obj, BaseException)]
    entries = [(n, "py:function", "library/functions.html#$", "-") for n in functions]
    entries += [(n, "py:class", "library/functions.html#$", "-") for n in in_functions]
    entries += [(n, "py:class", "library/stdtypes.html#$", "-") for n in in_stdtypes]
    entries += [(n, "py:exception", "library/exceptions.html#$", "-") for n in exceptions]
    entries += [(n, "py:data", "library/constants.html#$", "-")
                for n in ("None", "True", "False", "NotImplemented", "Ellipsis")]
    entries += [
        ("bltin-boolean-values", "std:label", "library/stdtypes.html#$", "Boolean Type - bool"),
        ("iterable", "std:term", "glossary.html#term-iterable", "-"),
        ("sequence", "std:term", "glossary.html#term-sequence", "-"),
        ("generator", "std:term", "glossary.html#term-generator", "-"),
        ("path-like object", "std:term", "glossary.html#term-path-like-object", "-"),
        ("file object", "std:term", "glossary.html#term-file-object", "-"),
        ("context manager", "std:term", "glossary.html#term-context-manager", "-"),
    ]
    stdlib = {
        "os": ["PathLike", "replace", "preadv", "cpu_count", "fork", "environ"],
        "pathlib": ["Path"],
        "logging": ["Logger", "getLogger"],
        "contextlib": ["contextmanager"],
        "contextvars": ["ContextVar"],
        "collections": ["namedtuple"],
        "functools": ["partial"],
        "multiprocessing": ["Pool"],
        "zipfile": ["ZipFile"],
        "pickle": ["Unpickler", "load"],
        "json": ["load", "dump"],
        "warnings": ["warn", "catch_warnings"],
        "tempfile": ["TemporaryDirectory"],
        "typing": ["Any"],
    }
    for module, names in stdlib.items():
        entries.append((module, "py:module", f"library/{module}.html#module-{module}", "-"))
        mod = importlib.import_module(module)
        for n in names:
            entries.append((f"{module}.{n}", _kind(getattr(mod, n)),
                            f"library/{module}.html#$", "-"))
    return entries


# -- NumPy -----------------------------------------------------------------------------------

def numpy_entries():
    import numpy as np

    generated = "reference/generated/numpy.{}.html#$"
    modules = {"numpy": "reference/index.html", "numpy.random": "reference/random/index.html",
               "numpy.linalg": "reference/routines.linalg.html",
               "numpy.fft": "reference/routines.fft.html",
               "numpy.typing": "reference/typing.html",
               "numpy.testing": "reference/routines.testing.html"}
    entries = [(m, "py:module", f"{page}#module-{m}", "-") for m, page in modules.items()]
    for name in _public(np.__all__):
        obj = getattr(np, name, None)
        full = f"numpy.{name}"
        if obj is None or inspect.ismodule(obj):
            continue
        if inspect.isclass(obj) and issubclass(obj, np.generic):
            entries.append((full, "py:class", "reference/arrays.scalars.html#$", "-"))
        elif isinstance(obj, (float, int)) or name == "newaxis":
            entries.append((full, "py:data", "reference/constants.html#$", "-"))
        elif callable(obj):
            entries.append((full, _kind(obj), generated.format(name), "-"))
    for attr, role in _members(np.ndarray):
        entries.append((f"numpy.ndarray.{attr}",
                        "py:attribute" if role == "py:property" else role,
                        generated.format(f"ndarray.{attr}"), "-"))
    random = "reference/random/{}.html#$"
    entries += [("numpy.random.Generator", "py:class", random.format("generator"), "-"),
                ("numpy.random.default_rng", "py:function", random.format("generator"), "-"),
                ("numpy.random.RandomState", "py:class", random.format("legacy"), "-"),
                ("numpy.random.SeedSequence", "py:class",
                 "reference/random/bit_generators/generated/numpy.random.SeedSequence.html#$",
                 "-")]
    for attr, role in _members(np.random.Generator):
        entries.append((f"numpy.random.Generator.{attr}", role,
                        f"reference/random/generated/numpy.random.Generator.{attr}.html#$", "-"))
    entries += [("numpy.typing.ArrayLike", "py:data", "reference/typing.html#$", "-"),
                ("numpy.typing.DTypeLike", "py:data", "reference/typing.html#$", "-"),
                ("array_like", "std:term", "glossary.html#term-array_like", "-"),
                ("arrays.scalars", "std:label", "reference/arrays.scalars.html#arrays-scalars",
                 "Scalars")]
    return np.__version__, entries


# -- scikit-learn ----------------------------------------------------------------------------

def sklearn_entries():
    import sklearn

    entries = [("sklearn", "py:module", "api/index.html#module-sklearn", "-")]
    modules = [("sklearn", [n for n in sklearn.__all__
                            if not inspect.ismodule(getattr(sklearn, n, None))])]
    pages = {}
    for sub in [*sklearn.__all__, "utils"]:
        full = f"sklearn.{sub}"
        try:
            module = importlib.import_module(full)
        except ImportError:
            continue
        if not inspect.ismodule(module) or sub == "externals":
            continue
        modules.append((full, getattr(module, "__all__", [])))
        pages[full] = f"api/{full}.html"
        # public submodules with their own section (sklearn.feature_extraction.text, ...)
        for info in pkgutil.iter_modules(module.__path__ if hasattr(module, "__path__") else []):
            if info.name.startswith("_") or info.name == "tests":
                continue
            try:
                child = importlib.import_module(f"{full}.{info.name}")
            except ImportError:
                continue
            if hasattr(child, "__all__"):
                # documented in a section of the parent module's page
                modules.append((child.__name__, child.__all__))
                pages[child.__name__] = pages[full]
    for module_name, names in modules:
        if module_name != "sklearn":
            entries.append((module_name, "py:module", f"{pages[module_name]}#module-$", "-"))
        module = importlib.import_module(module_name)
        for name in _public(names):
            obj = getattr(module, name, None)
            if obj is None or inspect.ismodule(obj) or not callable(obj):
                continue
            full = f"{module_name}.{name}"
            page = f"modules/generated/{full}.html"
            entries.append((full, _kind(obj), f"{page}#$", "-"))
            if inspect.isclass(obj):
                entries += [(f"{full}.{attr}", role, f"{page}#$", "-")
                            for attr, role in _members(obj)]
    glossary = ["estimator", "estimators", "transformer", "transformers", "outlier detector",
                "cross-validation splitter", "CV splitter", "random_state", "n_jobs", "scorer",
                "fitted", "meta-estimator", "array-like", "sample_weight"]
    entries += [(term, "std:term", f"glossary.html#term-{term.replace(' ', '-')}", "-")
                for term in glossary]
    return sklearn.__version__, entries


# -- PyTorch ---------------------------------------------------------------------------------

def torch_entries():
    import torch

    modules = {"torch": "torch.html", "torch.nn": "nn.html",
               "torch.nn.functional": "nn.functional.html", "torch.optim": "optim.html",
               "torch.utils.data": "data.html", "torch.cuda": "cuda.html",
               "torch.distributed": "distributed.html", "torch.autograd": "autograd.html"}
    entries = [(m, "py:module", f"{page}#module-{m}", "-") for m, page in modules.items()]
    # classes of the torch namespace with a page of their own
    special = {"Tensor": "tensors.html#$", "device": "tensor_attributes.html#$",
               "dtype": "tensor_attributes.html#$", "layout": "tensor_attributes.html#$",
               "memory_format": "tensor_attributes.html#$", "Size": "size.html#$",
               "Generator": "generated/torch.Generator.html#$",
               "no_grad": "generated/torch.no_grad.html#$",
               "enable_grad": "generated/torch.enable_grad.html#$",
               "inference_mode": "generated/torch.inference_mode.html#$"}
    for name, uri in special.items():
        entries.append((f"torch.{name}", "py:class", uri, "-"))
    for name in _public(torch.__all__):
        obj = getattr(torch, name, None)
        if name in special or obj is None or inspect.isclass(obj) or not callable(obj):
            continue
        entries.append((f"torch.{name}", "py:function", f"generated/torch.{name}.html#$", "-"))
    for attr, role in _members(torch.Tensor):
        entries.append((f"torch.Tensor.{attr}", "py:attribute" if role == "py:property" else role,
                        f"generated/torch.Tensor.{attr}.html#$", "-"))
    # torch.nn: every module class has its page; Module's methods are on Module's page
    import torch.nn.functional as F

    for name in _public(dir(torch.nn)):
        obj = getattr(torch.nn, name)
        if inspect.isclass(obj) and issubclass(obj, torch.nn.Module):
            full = f"torch.nn.{name}"
            entries.append((full, "py:class", f"generated/{full}.html#$", "-"))
    module_page = "generated/torch.nn.Module.html#$"
    entries += [(f"torch.nn.Module.{attr}", role, module_page, "-")
                for attr, role in _members(torch.nn.Module)]
    entries.append(("torch.nn.parameter.Parameter", "py:class",
                    "generated/torch.nn.parameter.Parameter.html#$", "-"))
    entries.append(("torch.nn.Parameter", "py:class",
                    "generated/torch.nn.parameter.Parameter.html#torch.nn.parameter.Parameter",
                    "-"))
    for name in _public(dir(F)):
        obj = getattr(F, name)
        if inspect.isfunction(obj) or inspect.isbuiltin(obj):
            full = f"torch.nn.functional.{name}"
            entries.append((full, "py:function", f"generated/{full}.html#$", "-"))
    import torch.optim

    for name in _public(torch.optim.__all__):
        obj = getattr(torch.optim, name)
        if inspect.isclass(obj):
            full = f"torch.optim.{name}"
            uri = "optim.html#$" if name == "Optimizer" else f"generated/{full}.html#$"
            entries.append((full, "py:class", uri, "-"))
    import torch.utils.data

    for name in _public(torch.utils.data.__all__):
        obj = getattr(torch.utils.data, name)
        if callable(obj) and not name.endswith("DataPipe"):
            entries.append((f"torch.utils.data.{name}", _kind(obj), "data.html#$", "-"))
    entries.append(("torch.utils.data.distributed.DistributedSampler", "py:class",
                    "data.html#$", "-"))
    for name in ("is_available", "device_count", "current_device", "set_device",
                 "synchronize", "manual_seed", "empty_cache"):
        entries.append((f"torch.cuda.{name}", "py:function",
                        f"generated/torch.cuda.{name}.html#$", "-"))
    for name in ("init_process_group", "destroy_process_group", "all_reduce", "barrier",
                 "get_rank", "get_world_size", "is_initialized", "broadcast"):
        entries.append((f"torch.distributed.{name}", "py:function", "distributed.html#$", "-"))
    entries += [("torch.nn.parallel.DistributedDataParallel", "py:class",
                 "generated/torch.nn.parallel.DistributedDataParallel.html#$", "-"),
                ("torch.autograd.Function", "py:class", "autograd.html#$", "-"),
                ("torch.autograd.grad", "py:function", "generated/torch.autograd.grad.html#$",
                 "-")]
    return torch.__version__.split("+")[0], entries


# -- PyOD ------------------------------------------------------------------------------------

def _pyod_page(module):
    """The page of PyOD's documentation that runs ``automodule`` on ``module``."""
    short = module.removeprefix("pyod.")
    if short == "models.base":
        return "api_cc.html"
    if short.startswith("models.ts_"):
        return "pyod.models.timeseries.html"
    if short.startswith("models.pyg_"):
        return "pyod.models.graph.html"
    if short.startswith("models.embedding"):
        return "pyod.models.embedding.html"
    if short.startswith("models.audio"):
        return "pyod.models.audio.html"
    if short in ("utils.ad_engine", "utils.investigation", "utils.knowledge"):
        return "pyod.ad_engine.html"
    if short.startswith("utils."):
        return "pyod.utils.html"
    return "pyod.models.tabular.html"


def pyod_entries():
    import pyod
    import pyod.models
    import pyod.utils

    entries = []
    names = [f"pyod.models.{m.name}" for m in pkgutil.iter_modules(pyod.models.__path__)]
    names += [f"pyod.utils.{m.name}" for m in pkgutil.iter_modules(pyod.utils.__path__)]
    for module_name in names:
        if module_name.rsplit(".", 1)[1].startswith("_"):
            continue
        try:
            module = importlib.import_module(module_name)
        except Exception:  # noqa: BLE001 - optional dependencies of PyOD's other detectors
            continue
        page = _pyod_page(module_name)
        entries.append((module_name, "py:module", f"{page}#module-$", "-"))
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
                continue
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            full = f"{module_name}.{name}"
            entries.append((full, _kind(obj), f"{page}#$", "-"))
            if inspect.isclass(obj):
                entries += [(f"{full}.{attr}", role, f"{page}#$", "-")
                            for attr, role in _members(obj)]
    return pyod.__version__, entries


# -- the smaller ones: the few names corel-sklearn's pages use ---------------------------------

def small_inventories():
    import dask
    import joblib
    import matplotlib
    import pandas

    joblib_names = ["Parallel", "delayed", "dump", "load", "Memory", "parallel_config",
                    "parallel_backend", "cpu_count", "register_parallel_backend"]
    write_inventory("joblib", joblib.__version__,
                    [("joblib", "py:module", "index.html#module-joblib", "-")]
                    + [(f"joblib.{n}", _kind(getattr(joblib, n)),
                        f"generated/joblib.{n}.html#$", "-") for n in joblib_names])
    pandas_names = ["DataFrame", "Series", "Index", "read_csv", "concat"]
    write_inventory("pandas", pandas.__version__,
                    [(f"pandas.{n}", _kind(getattr(pandas, n)),
                      f"reference/api/pandas.{n}.html#$", "-") for n in pandas_names])
    write_inventory("matplotlib", matplotlib.__version__, [
        (f"matplotlib.{n}", "py:class", f"api/_as_gen/matplotlib.{n}.html#$", "-")
        for n in ("axes.Axes", "figure.Figure")])
    write_inventory("dask", dask.__version__, [
        ("dask.array.Array", "py:class", "generated/dask.array.Array.html#$", "-"),
        ("dask.array.from_array", "py:function", "generated/dask.array.from_array.html#$", "-"),
        ("dask.delayed", "py:function", "delayed-api.html#dask.delayed.delayed", "-")])
    import distributed

    api = "api.html#distributed.{}"
    write_inventory("distributed", distributed.__version__, [
        (f"{prefix}.{n}", "py:class", api.format(n), "-")
        for prefix in ("distributed", "dask.distributed") for n in ("Client", "LocalCluster")])


def main():
    import sys

    write_inventory("python", f"{sys.version_info[0]}.{sys.version_info[1]}", python_entries())
    write_inventory("numpy", *numpy_entries())
    write_inventory("sklearn", *sklearn_entries())
    write_inventory("torch", *torch_entries())
    write_inventory("pyod", *pyod_entries())
    small_inventories()


if __name__ == "__main__":
    main()
