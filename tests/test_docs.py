"""The documentation site builds offline with warnings as errors (what `make docs` runs).

A docstring that is not valid reStructuredText, a public object whose page cannot be generated,
a cross-reference that resolves nowhere (conf.py sets ``nitpicky``; other projects' names
resolve through the local inventories of docs/_intersphinx/) or a broken link between the pages
fails here, next to the change that caused it. The built site is then read as a reader gets it:
the gallery shows the notebooks' figures, formulas are MathML, no page loads anything from the
network, every page has the site's contents in its sidebar. Skipped where the [docs] extra is not
installed.
"""

import glob
import importlib.util
import json
import os
import posixpath
import re
import subprocess
import sys

import pytest

for module in ("sphinx", "pydata_sphinx_theme", "numpydoc", "myst_nb", "latex2mathml"):
    pytest.importorskip(module)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "examples", "*.ipynb")))

DOCS = os.path.join(ROOT, "docs")


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """The site, built once for the tests of this module."""
    tmp = tmp_path_factory.mktemp("docs")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp / "doctrees"), os.path.join(ROOT, "docs"), str(tmp / "html")],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return tmp / "html"


@pytest.mark.slow
def test_docs_build_without_warnings(html):
    # the pages the estimators' HTML repr links to, the gallery and the results exist
    for page in ("generated/corel_sklearn.TopoAutoencoder.html",
                 "generated/corel_sklearn.BallCountOneClass.html",
                 "generated/corel_sklearn.ClasswiseBallCount.html",
                 "gallery/index.html", "gallery/01_quickstart_digits.html",
                 "results.html", "user_guide.html", "api.html"):
        assert (html / page).is_file(), page
    quickstart = (html / "gallery" / "01_quickstart_digits.html").read_text(encoding="utf-8")
    assert "TopoAutoencoder" in quickstart and "plot_training_history" in quickstart
    # every link of the README (what PyPI shows) into the site reaches a page and its anchor
    from corel_sklearn.estimators._base import DOCS_URL

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        links = set(re.findall(re.escape(DOCS_URL) + r"([^)\s>]*)", f.read()))
    assert links
    for link in links:
        page, _, anchor = link.partition("#")
        text = (html / (page or "index.html")).read_text(encoding="utf-8")
        assert not anchor or f'id="{anchor}"' in text, link


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_gallery_pages_show_the_notebooks_figures(html, path):
    with open(path, encoding="utf-8") as f:
        cells = json.load(f)["cells"]
    n_figures = sum("image/png" in out.get("data", {})
                    for cell in cells for out in cell.get("outputs", []))
    stem = os.path.basename(path)[: -len(".ipynb")]
    page = (html / "gallery" / f"{stem}.html").read_text(encoding="utf-8")
    images = re.findall(r'<img [^>]*src="([^"]+\.png)"', page)
    assert n_figures >= 1 and len(images) >= n_figures, (stem, n_figures, images)
    for src in images:
        assert (html / "gallery" / src).is_file(), src
    # the index shows each notebook's first figure
    index = (html / "gallery" / "index.html").read_text(encoding="utf-8")
    assert f'src="_images/{stem}.png"' in index or f"{stem}.png" in index


@pytest.mark.slow
def test_no_page_loads_anything_from_the_network(html):
    remote = re.compile(r'<(?:script|img|iframe)[^>]*\ssrc="(?:https?:)?//'
                        r'|<link[^>]*rel="(?:stylesheet|preload|modulepreload)"[^>]*href="(?:https?:)?//'
                        r'|@import\s+url\(["\']?(?:https?:)?//')
    for page in html.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not remote.search(text), (page.relative_to(html), remote.search(text).group(0))


@pytest.mark.slow
def test_names_of_other_projects_link_to_their_documentation(html):
    # from the local inventories: numpy and torch in the estimator's parameters, scikit-learn
    # in the datasets' return types
    estimator = (html / "generated" / "corel_sklearn.TopoAutoencoder.html").read_text("utf-8")
    assert 'href="https://numpy.org/doc/stable/reference/generated/numpy.ndarray.html' \
        in estimator
    loader = (html / "generated" / "corel_sklearn.datasets.load_digits.html").read_text("utf-8")
    assert ('href="https://scikit-learn.org/stable/modules/generated/sklearn.utils.Bunch.html'
            in loader)


@pytest.mark.slow
def test_formulas_are_mathml(html):
    index = (html / "index.html").read_text(encoding="utf-8")
    assert "<math" in index and 'encoding="application/x-tex"' in index
    assert "$$" not in index


@pytest.mark.slow
def test_top_level_pages_have_the_site_contents_in_their_sidebar(html):
    for page in ("index.html", "user_guide.html", "results.html", "api.html",
                 "gallery/index.html"):
        text = (html / page).read_text(encoding="utf-8")
        sidebar = text[text.index('class="bd-docs-nav'):]
        sidebar = sidebar[: sidebar.index("</nav>")]
        for target in ("user_guide.html", "api.html", "results.html", "topo_autoencoder.html"):
            # a page's own entry links to "#"
            assert target in sidebar or target == page, (page, target)


# -- fast checks of the pieces that make the site offline --------------------------------------

def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_inventories_are_local_and_list_the_names_the_pages_use():
    from sphinx.util.inventory import InventoryFile

    projects = _load(os.path.join(DOCS, "_intersphinx", "make_inventories.py"),
                     "make_inventories").PROJECTS
    expected = {"numpy": "numpy.ndarray", "sklearn": "sklearn.pipeline.Pipeline",
                "torch": "torch.nn.Module", "pyod": "pyod.models.base.BaseDetector",
                "python": "int"}
    for name, (_, url) in projects.items():
        with open(os.path.join(DOCS, "_intersphinx", f"{name}.inv"), "rb") as f:
            inventory = InventoryFile.load(f, url, posixpath.join)
        # a dict of roles, or (newer Sphinx) an object holding it
        by_role = getattr(inventory, "data", inventory)
        objects = {key: entry for entries in by_role.values() for key, entry in entries.items()}
        assert objects, name
        for entry in objects.values():
            uri = getattr(entry, "uri", None) or entry[2]
            assert uri.startswith(url), (name, uri)
        if name in expected:
            assert expected[name] in objects, (name, expected[name])
    # conf.py reads only these files: nothing is downloaded at build time
    conf = open(os.path.join(DOCS, "conf.py"), encoding="utf-8").read()
    assert 'os.path.join("_intersphinx", f"{name}.inv")' in conf


def test_formulas_become_mathml_and_unknown_commands_fail():
    from sphinx.errors import ExtensionError

    mathml = _load(os.path.join(DOCS, "_ext", "mathml.py"), "mathml")
    out = mathml.to_mathml(r"\lvert \eta - \varepsilon_t \rvert", display=True)
    assert out.startswith("<math") and 'display="block"' in out
    assert "&#x003B7;" in out  # eta as a MathML identifier, not the letters of its name
    assert r'<annotation encoding="application/x-tex">\lvert \eta' in out
    # latex2mathml writes a command it does not know out as text: that fails the build
    with pytest.raises(ExtensionError, match="bigl"):
        mathml.to_mathml(r"\bigl\lvert x \bigr\rvert", display=False)
