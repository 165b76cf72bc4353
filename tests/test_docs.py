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
import json
import os
import re
import subprocess
import sys

import pytest

for module in ("sphinx", "pydata_sphinx_theme", "numpydoc", "myst_nb", "latex2mathml"):
    pytest.importorskip(module)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "examples", "*.ipynb")))

pytestmark = pytest.mark.slow


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


def test_no_page_loads_anything_from_the_network(html):
    remote = re.compile(r'<(?:script|img|iframe)[^>]*\ssrc="(?:https?:)?//'
                        r'|<link[^>]*rel="(?:stylesheet|preload|modulepreload)"[^>]*href="(?:https?:)?//'
                        r'|@import\s+url\(["\']?(?:https?:)?//')
    for page in html.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not remote.search(text), (page.relative_to(html), remote.search(text).group(0))


def test_names_of_other_projects_link_to_their_documentation(html):
    # from the local inventories: numpy and torch in the estimator's parameters, scikit-learn
    # in the datasets' return types
    estimator = (html / "generated" / "corel_sklearn.TopoAutoencoder.html").read_text("utf-8")
    assert 'href="https://numpy.org/doc/stable/reference/generated/numpy.ndarray.html' \
        in estimator
    loader = (html / "generated" / "corel_sklearn.datasets.load_digits.html").read_text("utf-8")
    assert ('href="https://scikit-learn.org/stable/modules/generated/sklearn.utils.Bunch.html'
            in loader)


def test_formulas_are_mathml(html):
    index = (html / "index.html").read_text(encoding="utf-8")
    assert "<math" in index and 'encoding="application/x-tex"' in index
    assert "$$" not in index


def test_top_level_pages_have_the_site_contents_in_their_sidebar(html):
    for page in ("index.html", "user_guide.html", "results.html", "api.html",
                 "gallery/index.html"):
        text = (html / page).read_text(encoding="utf-8")
        sidebar = text[text.index('class="bd-docs-nav'):]
        sidebar = sidebar[: sidebar.index("</nav>")]
        for target in ("user_guide.html", "api.html", "results.html", "topo_autoencoder.html"):
            assert target in sidebar, (page, target)
