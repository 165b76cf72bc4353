"""The documentation site builds with warnings as errors (what `make docs` runs).

A docstring that is not valid reStructuredText, a public object whose page cannot be generated,
or a broken link between the pages fails here, next to the change that caused it. Skipped where
the [docs] extra is not installed.
"""

import os
import re
import subprocess
import sys

import pytest

for module in ("sphinx", "pydata_sphinx_theme", "numpydoc", "myst_nb"):
    pytest.importorskip(module)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))


def test_docs_build_without_warnings(tmp_path):
    html = tmp_path / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), os.path.join(ROOT, "docs"), str(html)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-5000:]
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
