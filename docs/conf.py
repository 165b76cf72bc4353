"""Sphinx configuration of the corel-sklearn documentation site (built by `make docs`).

The Markdown pages in this folder are read by MyST, so they render both on GitHub and here.
The notebooks of examples/ are copied into gallery/ at every build and rendered as stored:
the build executes no code from them (they are executed by tests/test_notebooks.py instead).
"""

import json
import os
import re
import shutil
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DOCS)
# Document the checkout this folder belongs to, whatever is installed.
sys.path.insert(0, ROOT)

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
    "numpydoc",
    "myst_nb",  # Markdown pages (MyST) and the stored notebooks
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
# numpydoc's default links go to the Python and NumPy docs through intersphinx, which needs
# the network at build time: plain names instead.
numpydoc_xref_aliases = {name: name for name in DEFAULT_LINKS}

# Notebooks: shown as stored, never executed at build time.
nb_execution_mode = "off"
# No math extension: formulas are written as code, so pages need no script from a CDN.
myst_enable_extensions = ["colon_fence"]
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


def _gallery_entry(stem, title, summary):
    """A notebook's title, its one-line summary, and its thumbnail when there is one.

    Thumbnails (_static/gallery/<notebook>.png) are figures of a full run of the notebook,
    since the stored notebooks carry no outputs.
    """
    entry = f"**[{title}]({stem}.ipynb)**: {summary}"
    if os.path.exists(os.path.join(DOCS, "_static", "gallery", f"{stem}.png")):
        entry += (f"\n\n```{{image}} ../_static/gallery/{stem}.png\n"
                  f":alt: {title}\n:target: {stem}.html\n```")
    return entry


def _copy_gallery():
    """Copy examples/*.ipynb into gallery/ with an index listing each notebook's title."""
    gallery = os.path.join(DOCS, "gallery")
    shutil.rmtree(gallery, ignore_errors=True)
    os.makedirs(gallery)
    examples = os.path.join(ROOT, "examples")
    entries = []
    for name in sorted(os.listdir(examples)):
        if not name.endswith(".ipynb"):
            continue
        shutil.copy(os.path.join(examples, name), os.path.join(gallery, name))
        with open(os.path.join(examples, name), encoding="utf-8") as f:
            cells = json.load(f)["cells"]
        text = "".join(next(c for c in cells if c["cell_type"] == "markdown")["source"])
        lines = [line for line in text.splitlines() if line.strip()]
        title = lines[0].lstrip("# ").strip()
        summary = lines[1] if len(lines) > 1 else ""
        entries.append((name[: -len(".ipynb")], title, summary))
    toctree = "\n".join(stem for stem, _, _ in entries)
    listing = "\n\n".join(_gallery_entry(*entry) for entry in entries)
    with open(os.path.join(gallery, "index.md"), "w", encoding="utf-8") as f:
        f.write(
            "# Gallery\n\n"
            "Notebooks to start from. Each is stored without outputs; download it from "
            "[examples/](https://github.com/corel-sklearn/corel-sklearn/tree/main/examples) "
            "and run it, or set `COREL_NOTEBOOK_TINY=1` for a run of a few seconds on tiny "
            "settings (what the test suite does). The figures are from full runs.\n\n"
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


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
