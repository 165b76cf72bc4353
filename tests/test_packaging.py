"""Package metadata, the README as PyPI shows it, and the links from the HTML repr to the docs."""

import configparser
import os
import re
import sys

import pytest

from corel_sklearn import BallCountOneClass, ClasswiseBallCount, TopoAutoencoder
from corel_sklearn.estimators._base import DOCS_URL

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)


def _setup_cfg():
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    return config


def _read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


@pytest.mark.parametrize("estimator", [TopoAutoencoder(), BallCountOneClass(),
                                       ClasswiseBallCount()])
def test_html_repr_links_to_the_api_page(estimator):
    name = type(estimator).__name__
    url = f"{DOCS_URL}generated/corel_sklearn.{name}.html"
    assert estimator._get_doc_link() == url
    assert f'href="{url}"' in estimator._repr_html_()


def test_subclass_outside_the_package_gets_no_link():
    class Mine(BallCountOneClass):
        pass

    Mine.__module__ = "my_project.models"
    assert Mine()._get_doc_link() == ""


def test_api_reference_documents_the_linked_estimators():
    # the link targets are the autosummary pages that docs/_api.py lists from __all__
    sys.path.insert(0, os.path.join(ROOT, "docs"))
    try:
        from _api import api_rst
    finally:
        sys.path.pop(0)
    api = api_rst()
    estimators = api[api.index(".. currentmodule:: corel_sklearn\n"):]
    for name in ("TopoAutoencoder", "BallCountOneClass", "ClasswiseBallCount"):
        assert re.search(rf"^   {name}$", estimators, re.MULTILINE), name
    assert ":toctree: generated" in api


def test_metadata_urls_license_and_classifiers():
    metadata = _setup_cfg()["metadata"]
    urls = dict(
        line.split(" = ", 1) for line in metadata["project_urls"].strip().splitlines()
    )
    assert urls["Documentation"] == DOCS_URL
    assert all(url.startswith("https://") for url in urls.values())
    assert metadata["license"] == "BSD-3-Clause"
    assert _read("LICENSE").startswith("BSD 3-Clause License")
    classifiers = metadata["classifiers"]
    for prefix in ("Development Status", "Intended Audience", "Operating System",
                   "Programming Language :: Python :: 3.10", "Topic"):
        assert prefix in classifiers
    assert metadata["author"]


def test_core_requirements_stay_small_and_extras_exist():
    options = _setup_cfg()["options"]
    core = {re.split(r"[<>=!; ]", line.strip())[0]
            for line in options["install_requires"].strip().splitlines()}
    assert core == {"numpy", "scipy", "scikit-learn", "torch", "joblib", "numba", "tqdm",
                    "pillow"}
    extras = _setup_cfg()["options.extras_require"]
    for extra in ("plot", "notebook", "docs", "all", "test"):
        assert extras[extra].strip(), extra
    assert "ipywidgets" in extras["notebook"] and "ipywidgets" in extras["all"]


def test_readme_links_work_on_pypi():
    # PyPI renders the README away from the repository: relative links would 404 there
    readme = _read("README.md")
    links = re.findall(r"\]\(([^)\s]+)\)", readme) + re.findall(r"<(https?://[^>]+)>", readme)
    assert links
    relative = [link for link in links if not link.startswith(("https://", "http://"))]
    assert relative == []
    # documentation links point at the site that setup.cfg declares
    assert any(link.startswith(DOCS_URL) for link in links)
