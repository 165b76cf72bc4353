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


def _extras():
    extras = _setup_cfg()["options.extras_require"]
    return {name: [line.strip() for line in extras[name].strip().splitlines()]
            for name in extras}


def _requirement_name(line):
    return re.split(r"[<>=!;\[ ]", line, maxsplit=1)[0].lower()


def test_only_the_gpu_extra_installs_triton():
    # triton is a 1 GB download that a CPU-only install does not need
    extras = _extras()
    pulls_triton = [name for name, lines in extras.items()
                    if "triton" in map(_requirement_name, lines)]
    assert pulls_triton == ["gpu"]
    (triton,) = extras["gpu"]
    assert 'platform_system == "Linux"' in triton  # triton has Linux wheels only


def test_data_notebook_and_all_extras():
    extras = {name: set(map(_requirement_name, lines)) for name, lines in _extras().items()}
    assert extras["data"] == {"pooch"}
    assert {"jupyterlab", "nbconvert", "ipywidgets", "ipykernel"} <= extras["notebook"]
    assert "pooch" in extras["test"]  # the fetchers' download tests need it
    user_extras = ("plot", "experiments", "notebook", "data", "io", "dask", "pyod")
    assert set().union(*(extras[name] for name in user_extras)) == extras["all"]


def _changelog_versions():
    from packaging.version import InvalidVersion, Version

    headings = re.findall(r"^## (\S+)", _read("CHANGELOG.md"), re.MULTILINE)
    versions = []
    for heading in headings:
        try:
            versions.append(Version(heading))
        except InvalidVersion:
            versions.append(None)  # "Unreleased"
    return versions


def test_version_matches_the_changelog():
    from packaging.version import Version

    import corel_sklearn

    version = Version(corel_sklearn.__version__)  # a valid PEP 440 version
    versions = _changelog_versions()
    released = [v for v in versions if v is not None and not v.is_devrelease]
    if versions[0] is not None and not versions[0].is_devrelease:
        assert version == versions[0]  # a release: the newest section is its own
    else:
        # unreleased work on top: a development version after every released one
        assert version.is_devrelease and all(version > v for v in released), version


def test_version_is_read_without_importing_the_package():
    # setup.cfg's attr: must name a module whose __version__ is a literal, which setuptools
    # reads without importing it: importing corel_sklearn needs torch, absent in an isolated
    # build environment.
    import ast

    import corel_sklearn

    attr = _setup_cfg()["metadata"]["version"]
    module = re.fullmatch(r"attr:\s*([\w.]+)\.__version__", attr).group(1)
    path = os.path.join(ROOT, *module.split("."))
    path = os.path.join(path, "__init__.py") if os.path.isdir(path) else path + ".py"
    literals = [node.value.value for node in ast.parse(_read(path)).body
                if isinstance(node, ast.Assign)
                and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
                and isinstance(node.value, ast.Constant)]
    assert literals == [corel_sklearn.__version__], (path, literals)


def _sdist_files():
    """The files MANIFEST.in puts in the sdist, as setuptools reads it (no build)."""
    from setuptools.command.egg_info import FileList

    # the candidates: the top-level files and the folders MANIFEST.in names (not a .venv)
    candidates = [name for name in os.listdir(ROOT) if os.path.isfile(os.path.join(ROOT, name))]
    for top in ("docs", "examples"):
        for folder, _, names in os.walk(os.path.join(ROOT, top)):
            candidates += [os.path.relpath(os.path.join(folder, name), ROOT) for name in names]
    files = FileList()
    files.set_allfiles(candidates)
    for line in _read("MANIFEST.in").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            files.process_template_line(line)
    return {name.replace(os.sep, "/") for name in files.files}


def test_sdist_ships_what_builds_the_docs_and_no_data():
    shipped = _sdist_files()
    # every source of the site: pages, conf and extension, templates, stylesheet, inventories
    generated = ("docs/_build/", "docs/generated/", "docs/gallery/", "docs/api.rst")
    docs = set()
    for folder, subfolders, names in os.walk(os.path.join(ROOT, "docs")):
        subfolders[:] = [s for s in subfolders if s != "__pycache__"]
        for name in names:
            path = os.path.relpath(os.path.join(folder, name), ROOT).replace(os.sep, "/")
            if not path.startswith(generated):
                docs.add(path)
    assert {"docs/_static/corel.css", "docs/_templates/sidebar-site-nav.html",
            "docs/_intersphinx/sklearn.inv", "docs/_ext/mathml.py"} <= docs
    assert docs - shipped == set()
    assert not shipped & set(generated)
    assert {"README.md", "CONTRIBUTING.md", "CHANGELOG.md", "LICENSE"} <= shipped
    data = (".mat", ".npz", ".zip", ".tar.gz", ".jpg", ".pkl", ".pt", ".safetensors")
    assert not [name for name in shipped if name.endswith(data)]


def _code_blocks(text, language):
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def test_readme_first_install_command_works_without_a_release():
    readme = _read("README.md")
    install = readme[readme.index("## Install"):]
    commands = [line.split("#")[0].strip()
                for line in _code_blocks(install, "bash")[0].splitlines()]
    first_pip = next(c for c in commands if "pip install" in c)
    # from the checkout the block clones, not from an index where the package is not yet
    assert first_pip.startswith('pip install ".') and "git clone" in commands[0], commands
    # the index name is kept, said to be for after the first release
    mentions = [m.start() for m in re.finditer(r"pip install \"?corel-sklearn[^\n`]*", readme)
                if "git+" not in m.group()]  # a git URL works today
    assert mentions
    for at in mentions:
        assert "after the first release" in readme[max(0, at - 200):at].lower()


def test_readme_torch_snippet_runs_on_this_machine():
    import torch

    (snippet,) = [block for block in _code_blocks(_read("README.md"), "python")
                  if "vr_persistence_l1" in block]
    namespace = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["batch"].grad is not None
    assert torch.isfinite(namespace["batch"].grad).all()


def test_user_pages_never_send_users_to_a_shared_folder():
    # A user has no ../shared/data: the pages point at the fetchers and the data home.
    pages = ["README.md", *(os.path.join("docs", name) for name in os.listdir(
        os.path.join(ROOT, "docs")) if name.endswith(".md")),
        *(os.path.join("examples", name) for name in os.listdir(
            os.path.join(ROOT, "examples")) if name.endswith((".ipynb", ".py")))]
    offenders = {page.replace(os.sep, "/") for page in pages
                 if re.search(r"\.\./shared/|shared/data|shared/METHOD", _read(page))}
    assert offenders == set()
