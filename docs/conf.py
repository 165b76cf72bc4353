"""Sphinx configuration of the corel-sklearn documentation site (built by `make docs`).

The Markdown pages in this folder are read by MyST, so they render both on GitHub and here.
The notebooks of examples/ are copied into gallery/ at every build and rendered as stored,
with the outputs and figures of their last run at the documented settings
(`examples/execute_notebooks.py`, `make notebooks`; tests/test_notebooks.py checks that the
stored outputs belong to the stored code): the build executes no code from them.

The site needs no network, to build or to read: links to Python, NumPy, scikit-learn, PyTorch,
PyOD and a few more come from the inventories of _intersphinx/ (written from the installed
packages by _intersphinx/make_inventories.py), and formulas are MathML written at build time
(_ext/mathml.py), not a script from a CDN. Every cross-reference must resolve (`nitpicky`).
"""

import base64
import json
import os
import re
import shutil
import sys
import zlib

DOCS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DOCS)
# Document the checkout this folder belongs to, whatever is installed.
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(DOCS, "_ext"))
sys.path.insert(0, DOCS)

from _intersphinx.make_inventories import PROJECTS  # noqa: E402
from numpydoc.xref import DEFAULT_LINKS  # noqa: E402

import corel_sklearn  # noqa: E402
from corel_sklearn.estimators._base import DOCS_URL  # noqa: E402

project = "corel-sklearn"
author = "corel-sklearn developers"
copyright = "2026, corel-sklearn developers"
release = corel_sklearn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_nb",  # Markdown pages (MyST) and the stored notebooks
    "mathml",  # _ext/mathml.py: formulas as MathML, rendered at build time
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "reproduced", "Thumbs.db", ".DS_Store"]
html_baseurl = DOCS_URL

# API reference: one page per object, numpydoc sections.
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Types such as "ndarray of shape (n_features_in_,)" are parsed as types, not reST (where a
# trailing underscore would be a hyperlink reference).
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"

# Every reference must resolve: a name no page or inventory documents fails the build.
nitpicky = True

# Other projects' documentation, from the local inventories (no download at build time).
intersphinx_mapping = {
    name: (url, os.path.join("_intersphinx", f"{name}.inv"))
    for name, (_, url) in PROJECTS.items()
}
intersphinx_timeout = 1


def _inventory_names():
    """The Python objects the local inventories list (for the type aliases below)."""
    names = set()
    for name in PROJECTS:
        with open(os.path.join(DOCS, "_intersphinx", f"{name}.inv"), "rb") as f:
            for _ in range(4):
                f.readline()
            for line in zlib.decompress(f.read()).decode("utf-8").splitlines():
                target, role = line.split(" ", 2)[:2]
                if role.startswith("py:") and "." in target:
                    names.add(target)
    return names


# Types in docstrings ("ndarray of shape ...", "torch.Tensor", "Pipeline") link to their pages:
# numpydoc's defaults, every dotted name of the inventories and of corel_sklearn's own API, and
# the short names the docstrings use.
numpydoc_xref_aliases = {
    **DEFAULT_LINKS,
    **{name: f":obj:`{name}`" for name in _inventory_names()},
    **{f"corel_sklearn.{name}": f":obj:`corel_sklearn.{name}`" for name in corel_sklearn.__all__},
    **{name: f":obj:`~corel_sklearn.{name}`" for name in corel_sklearn.__all__
       if name[0].isupper()},
    "Callback": ":obj:`~corel_sklearn.callbacks.Callback`",
    "Pipeline": ":obj:`~sklearn.pipeline.Pipeline`",
    "StandardScaler": ":obj:`~sklearn.preprocessing.StandardScaler`",
    "Bunch": ":obj:`~sklearn.utils.Bunch`",
    "Generator": ":obj:`~numpy.random.Generator`",
    "dtype": ":obj:`~numpy.dtype`",
    "float32": ":obj:`~numpy.float32`",
    "float64": ":obj:`~numpy.float64`",
    "int64": ":obj:`~numpy.int64`",
    "np.memmap": ":obj:`numpy.memmap`",
    "path-like": ":term:`path-like <python:path-like object>`",
    "object": ":class:`python:object`",
    "estimator": ":term:`sklearn:estimator`",
    "cross-validator": ":term:`cross-validator <sklearn:cross-validation splitter>`",
    "torch.LongTensor": ":obj:`torch.LongTensor <torch.Tensor>`",
}

# Notebooks: shown as stored (with the outputs of `make notebooks`), never executed here.
nb_execution_mode = "off"
nb_merge_streams = True
# Formulas: $...$ and $$...$$ in the Markdown pages, rendered by _ext/mathml.py.
myst_enable_extensions = ["colon_fence", "dollarmath", "amsmath"]
myst_dmath_double_inline = True
html_math_renderer = "mathml"
myst_heading_anchors = 3
# The Markdown pages name files of the repository in prose; links between pages are checked.
suppress_warnings = ["myst.header"]

html_theme = "pydata_sphinx_theme"
html_title = f"corel-sklearn {release}"
html_theme_options = {
    "github_url": "https://github.com/corel-sklearn/corel-sklearn",
    "navbar_align": "left",
    "header_links_before_dropdown": 3,
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
html_show_sourcelink = False
html_static_path = ["_static"]
html_css_files = ["corel.css"]
# The whole site's contents on every page (the theme's own sidebar lists only the pages below
# the current top-level page, which leaves it empty on the top-level pages).
html_sidebars = {"**": ["sidebar-site-nav.html"]}


def _gallery_entry(stem, title, summary, thumbnail):
    """A notebook's title, its one-line summary and its first figure, linked to its page."""
    entry = f"**[{title}]({stem}.ipynb)**: {summary}"
    if thumbnail:
        entry += (f"\n\n```{{image}} {thumbnail}\n:alt: {title}\n:target: {stem}.html\n"
                  f":class: gallery-thumbnail\n```")
    return entry


def _first_figure(notebook, path):
    """Write the first PNG output of a notebook to ``path``; False when it has none."""
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                with open(path, "wb") as f:
                    f.write(base64.b64decode("".join(png)))
                return True
    return False


def _copy_gallery():
    """Copy examples/*.ipynb into gallery/ with an index of titles and first figures."""
    gallery = os.path.join(DOCS, "gallery")
    shutil.rmtree(gallery, ignore_errors=True)
    os.makedirs(os.path.join(gallery, "thumbnails"))
    examples = os.path.join(ROOT, "examples")
    entries = []
    for name in sorted(os.listdir(examples)):
        if not name.endswith(".ipynb"):
            continue
        stem = name[: -len(".ipynb")]
        shutil.copy(os.path.join(examples, name), os.path.join(gallery, name))
        with open(os.path.join(examples, name), encoding="utf-8") as f:
            notebook = json.load(f)
        cells = notebook["cells"]
        text = "".join(next(c for c in cells if c["cell_type"] == "markdown")["source"])
        lines = [line for line in text.splitlines() if line.strip()]
        title = lines[0].lstrip("# ").strip()
        summary = lines[1] if len(lines) > 1 else ""
        thumbnail = f"thumbnails/{stem}.png"
        has_figure = _first_figure(notebook, os.path.join(gallery, thumbnail))
        entries.append((stem, title, summary, thumbnail if has_figure else None))
    toctree = "\n".join(stem for stem, *_ in entries)
    listing = "\n\n".join(_gallery_entry(*entry) for entry in entries)
    with open(os.path.join(gallery, "index.md"), "w", encoding="utf-8") as f:
        f.write(
            "# Gallery\n\n"
            "Notebooks to start from, shown with the outputs of a run at the settings they "
            "state. Download one from "
            "[examples/](https://github.com/corel-sklearn/corel-sklearn/tree/main/examples) "
            "and run it; `COREL_NOTEBOOK_TINY=1` shrinks it to a run of seconds on tiny "
            "settings (what the test suite does).\n\n"
            f"{listing}\n\n"
            "The script `examples/plot_digits_one_class.py` runs the paper's protocol on the "
            "digits from the command line.\n\n"
            f"```{{toctree}}\n:hidden:\n\n{toctree}\n```\n"
        )


_copy_gallery()


def _write_api_page():
    """api.rst, listing every module's __all__ (see _api.py); generated, not committed."""
    sys.path.insert(0, DOCS)
    from _api import api_rst

    with open(os.path.join(DOCS, "api.rst"), "w", encoding="utf-8") as f:
        f.write(api_rst())


_write_api_page()


def _write_more_pages():
    """A toctree of the Markdown pages in docs/ that index.md does not list yet.

    A page added to docs/ then appears on the site (under "More") instead of failing the
    build with "document isn't included in any toctree".
    """
    with open(os.path.join(DOCS, "index.md"), encoding="utf-8") as f:
        index = f.read()
    listed = set(re.findall(r"^([\w/.-]+)$", index, re.MULTILINE))
    pages = sorted(
        name[: -len(".md")] for name in os.listdir(DOCS)
        if name.endswith(".md") and name[: -len(".md")] not in listed | {"index"}
    )
    os.makedirs(os.path.join(DOCS, "generated"), exist_ok=True)
    with open(os.path.join(DOCS, "generated", "more_pages.txt"), "w", encoding="utf-8") as f:
        if pages:
            f.write("```{toctree}\n:maxdepth: 1\n:caption: More\n\n")
            f.write("".join(f"/{page}\n" for page in pages) + "```\n")


_write_more_pages()


# scikit-learn's generic plumbing, documented there, not on every estimator's page.
_SKIPPED_MEMBERS = re.compile(
    r"^(set_\w+_request|get_metadata_routing|set_params|get_params|set_output|extra_repr)$"
)


def _skip_member(app, what, name, obj, skip, options):
    return True if _SKIPPED_MEMBERS.match(name) else skip


def _process_docstring(app, what, name, obj, options, lines):
    """Docstrings that do not come from corel_sklearn's own code, made to read on our pages.

    - a method of a network that overrides ``torch.nn.Module``'s without a docstring of its own
      would show torch's text, whose references are relative to ``torch.nn``: it points there;
    - a constant shows its value when it is short (autosummary's pages show no value, since
      some constants are registries of functions).
    """
    import torch

    attr = name.rsplit(".", 1)[-1]
    if (what == "method" and getattr(obj, "__doc__", None) is None
            and hasattr(torch.nn.Module, attr)):
        lines[:] = [f"Overrides :meth:`torch.nn.Module.{attr}`."]
    elif what == "data":
        value = repr(obj)
        if len(value) <= 200 and not callable(obj):
            lines += ["", f"Value: ``{value}``"]


def _resolve_by_identity(app, env, node, contnode):
    """A reference to a corel_sklearn object by a name other than the one it is documented
    under (``corel_sklearn.losses.connectivity_loss`` for ``corel_sklearn.connectivity_loss``)
    resolves to its page."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("corel_sklearn."):
        return None
    obj = _import_object(target)
    if obj is None:
        return None
    domain = env.domains["py"]
    documented = getattr(env, "_corel_documented", None)
    if documented is None:
        documented = {}
        for full_name in domain.objects:
            found = _import_object(full_name)
            if found is not None and not isinstance(found, (str, int, float, tuple)):
                documented.setdefault(id(found), full_name)
        env._corel_documented = documented
    full_name = documented.get(id(obj))
    if full_name is None or full_name == target:
        return None
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], full_name,
                               node, contnode)


def _import_object(dotted):
    """The object a dotted name designates, or None."""
    import importlib

    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for part in parts[split:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-docstring", _process_docstring)
    app.connect("missing-reference", _resolve_by_identity)
