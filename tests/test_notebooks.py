"""Every notebook in examples/ runs top to bottom on its tiny configuration.

Each notebook reads COREL_NOTEBOOK_TINY=1 in its parameters cell and shrinks its data and
epochs; the kernel imports this checkout's corel_sklearn (PYTHONPATH) and runs in examples/, as
a user's Jupyter would. Outputs are checked for errors and for what each notebook promises to
show (figures, tables).
"""

import glob
import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")
pytest.importorskip("pandas")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
EXAMPLES = os.path.join(ROOT, "examples")
NOTEBOOKS = sorted(glob.glob(os.path.join(EXAMPLES, "*.ipynb")))
# Stored without outputs, and small: the docs render them as they are in the repository.
MAX_NOTEBOOK_BYTES = 50_000


@pytest.fixture(scope="module")
def kernel_env():
    """Environment of the notebook kernels: tiny settings and this checkout first on the path."""
    saved = {k: os.environ.get(k) for k in ("COREL_NOTEBOOK_TINY", "PYTHONPATH", "MPLBACKEND")}
    os.environ["COREL_NOTEBOOK_TINY"] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, saved["PYTHONPATH"]]))
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend turns figures into outputs
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_there_are_notebooks():
    names = {os.path.basename(path) for path in NOTEBOOKS}
    assert {"01_quickstart_digits.ipynb", "02_cifar10_one_class.ipynb", "03_tabular_odds.ipynb",
            "04_grid_search_radius.ipynb", "05_custom_architecture.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_is_stored_clean(path):
    assert os.path.getsize(path) < MAX_NOTEBOOK_BYTES
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    # the first markdown cell is the gallery entry: a title, then a one-line summary
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    # a parameters cell (papermill's tag) reads the tiny switch
    parameters = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameters) == 1 and "COREL_NOTEBOOK_TINY" in parameters[0].source


def _run(notebook):
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": EXAMPLES}})
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    return [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]


def test_kernel_imports_this_checkout(kernel_env):
    cell = nbformat.v4.new_code_cell("import corel_sklearn; print(corel_sklearn.__file__)")
    (output,) = _run(nbformat.v4.new_notebook(cells=[cell]))
    assert output.text.strip() == os.path.join(ROOT, "corel_sklearn", "__init__.py")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs(path, kernel_env):
    outputs = _run(nbformat.read(path, as_version=4))
    assert not [out for out in outputs if out.output_type == "error"]
    figures = [out for out in outputs if "image/png" in out.get("data", {})]
    assert figures, "every notebook shows at least one figure"
