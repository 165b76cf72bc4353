"""The notebooks of examples/: stored with the outputs of their own code, and runnable.

The gallery of the documentation shows each notebook as stored, outputs and figures included
(the site build runs no code). `examples/execute_notebooks.py` (`make notebooks`) runs them at
their documented settings and records a hash of the code cells; the fast tests here fail when
a notebook's code changed without its outputs being re-made, naming the command.

The slow tests run every notebook top to bottom on its tiny configuration: each reads
COREL_NOTEBOOK_TINY=1 in its parameters cell and shrinks its data and epochs; the kernel imports
this checkout's corel_sklearn (PYTHONPATH) and runs in examples/, as a user's Jupyter would.
"""

import copy
import glob
import importlib.util
import json
import os
import sys

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
EXAMPLES = os.path.join(ROOT, "examples")
NOTEBOOKS = sorted(glob.glob(os.path.join(EXAMPLES, "*.ipynb")))
# Figures are stored as small PNGs: the repository stays small.
MAX_NOTEBOOK_BYTES = 200_000
MAX_TOTAL_BYTES = 600_000


def _load_executor():
    spec = importlib.util.spec_from_file_location(
        "execute_notebooks", os.path.join(EXAMPLES, "execute_notebooks.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


executor = _load_executor()


def _read(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def test_there_are_notebooks():
    names = {os.path.basename(path) for path in NOTEBOOKS}
    assert {"01_quickstart_digits.ipynb", "02_cifar10_one_class.ipynb", "03_tabular_odds.ipynb",
            "04_grid_search_radius.ipynb", "05_custom_architecture.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_stored_outputs_belong_to_the_code(path):
    # an edited notebook whose outputs were not re-made fails here, with the command to run
    problems = executor.check([path])
    assert not problems, problems[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_is_stored_for_the_gallery(path):
    assert os.path.getsize(path) < MAX_NOTEBOOK_BYTES
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    outputs = [out for cell in code for out in cell.outputs]
    figures = [out for out in outputs if "image/png" in out.get("data", {})]
    assert figures, "every notebook shows at least one figure"
    # a static page can show every output: no widget needing Jupyter's JavaScript
    assert "widgets" not in notebook.metadata
    assert not [out for out in outputs
                if "application/vnd.jupyter.widget-view+json" in out.get("data", {})]
    # the run was at the documented settings, not the test suite's tiny ones
    assert "COREL_NOTEBOOK_TINY" not in json.dumps(outputs)
    # nothing of the machine that ran it (paths of the checkout, of the installed packages, the
    # kernel's temporary files) is shown to readers
    text = json.dumps(outputs)
    for path in (ROOT, sys.prefix, "site-packages", "ipykernel_"):
        assert path not in text, path
    # the first markdown cell is the gallery entry: a title, then a one-line summary
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    # a parameters cell (papermill's tag) reads the tiny switch
    parameters = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameters) == 1 and "COREL_NOTEBOOK_TINY" in parameters[0].source


def test_notebooks_are_small_in_all():
    assert sum(os.path.getsize(path) for path in NOTEBOOKS) < MAX_TOTAL_BYTES


def test_check_sees_code_edits_but_not_prose_edits(tmp_path):
    notebook = _read(NOTEBOOKS[0])
    assert executor.stale_reason(notebook) is None
    prose = copy.deepcopy(notebook)
    markdown = next(cell for cell in prose["cells"] if cell["cell_type"] == "markdown")
    markdown["source"] = "# Another title\n"
    assert executor.stale_reason(prose) is None
    edited = copy.deepcopy(notebook)
    code = next(cell for cell in edited["cells"] if cell["cell_type"] == "code")
    code["source"] = "".join(code["source"]) + "\nEPOCHS = 1"
    assert "changed" in executor.stale_reason(edited)
    unrun = copy.deepcopy(notebook)
    unrun["cells"][-1]["execution_count"] = None
    assert "not all run" in executor.stale_reason(unrun)
    del unrun["metadata"][executor.METADATA_KEY]
    assert "not made by" in executor.stale_reason(unrun)
    # the message names the notebook and the command that re-makes its outputs
    path = tmp_path / "01_edited.ipynb"
    path.write_text(json.dumps(edited), encoding="utf-8")
    (message,) = executor.check([str(path)])
    assert "01_edited.ipynb: its code cells changed" in message
    assert "make notebooks" in message and "execute_notebooks.py" in message


def test_static_outputs_keep_what_a_terminal_would_show():
    bar = {"output_type": "stream", "name": "stderr"}
    outputs = [dict(bar, text="\r  0%|   | 0/3"), dict(bar, text="\r 33%|#  | 1/3"),
               dict(bar, text="\r100%|###| 3/3\n"),
               {"output_type": "stream", "name": "stdout", "text": "AUROC 0.98\n"},
               dict(bar, text="done\n")]
    static = executor._static_outputs(copy.deepcopy(outputs), {})
    assert [(out["name"], out["text"]) for out in static] == [
        ("stderr", "100%|###| 3/3\n"), ("stdout", "AUROC 0.98\n"), ("stderr", "done\n")]


def test_a_progress_widget_becomes_the_text_of_its_last_state():
    models = {
        "box": {"state": {"children": ["IPY_MODEL_pre", "IPY_MODEL_bar", "IPY_MODEL_post"]}},
        "pre": {"state": {"value": "TopoAutoencoder: 100%"}},
        "bar": {"state": {"value": 320, "max": 320}},
        "post": {"state": {"value": " 320/320 [00:20&lt;00:00, 16.0step/s]"}},
    }
    view = {"output_type": "display_data", "metadata": {},
            "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "box"},
                     "text/plain": "HBox(children=(...))"}}
    (out,) = executor._static_outputs([view], models)
    assert out["output_type"] == "stream"
    assert out["text"] == ("TopoAutoencoder: 100%|" + "\u2588" * 20
                           + "| 320/320 [00:20<00:00, 16.0step/s]\n")


# -- running the notebooks (a kernel per notebook) --------------------------------------------

@pytest.fixture(scope="module")
def kernel_env():
    """Environment of the notebook kernels: tiny settings and this checkout first on the path."""
    for module in ("nbclient", "ipykernel", "matplotlib", "pandas"):
        pytest.importorskip(module)
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


def _run(notebook):
    import nbclient

    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": EXAMPLES}})
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    return [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]


@pytest.mark.slow
def test_kernel_imports_this_checkout(kernel_env):
    cell = nbformat.v4.new_code_cell("import corel_sklearn; print(corel_sklearn.__file__)")
    (output,) = _run(nbformat.v4.new_notebook(cells=[cell]))
    assert output.text.strip() == os.path.join(ROOT, "corel_sklearn", "__init__.py")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs(path, kernel_env):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    outputs = _run(notebook)
    assert not [out for out in outputs if out.output_type == "error"]
    figures = [out for out in outputs if "image/png" in out.get("data", {})]
    assert figures, "every notebook shows at least one figure"
