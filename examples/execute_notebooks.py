"""Run the notebooks of examples/ at their documented settings and store their outputs.

The documentation's gallery shows each notebook as stored, outputs and figures included; the
site build runs no code. After editing a notebook's code, re-run it here (``make notebooks``
runs all of them)::

    python examples/execute_notebooks.py                                  # every notebook
    python examples/execute_notebooks.py examples/01_quickstart_digits.ipynb
    python examples/execute_notebooks.py --check                          # only check

Each notebook runs in a fresh kernel in examples/ (as a user's Jupyter would), with this
checkout first on the path, without ``COREL_NOTEBOOK_TINY`` and with one thread per kernel
(``OMP_NUM_THREADS=1``): the figures then do not depend on the machine's core count, and a
run on a busy machine is not slowed down by waiting threads. The stored notebook records a
hash of its code cells; ``--check`` (and ``tests/test_notebooks.py``) report every notebook
whose code changed since its outputs were stored.

Outputs are stored as a static page can show them: a progress bar's stream of updates becomes
its last state, a Jupyter widget (the notebook progress bar) becomes the text of its last
state, figures are PNG files of at most 256 colours, paths of the machine that ran them are
left out of printed text (``sklearn/base.py:969``, ``<cell>:12``), and no execution timestamps
are kept (so re-running an unchanged notebook changes only what the run computed).
"""

import argparse
import glob
import hashlib
import html
import json
import os
import re
import sys
import time

EXAMPLES = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(EXAMPLES)
COMMAND = "make notebooks"
METADATA_KEY = "corel_sklearn"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def notebook_paths():
    """Every notebook of examples/, sorted."""
    return sorted(glob.glob(os.path.join(EXAMPLES, "*.ipynb")))


def code_hash(notebook):
    """SHA-256 of the notebook's code cells, in order (markdown edits do not count)."""
    sources = [cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
               for cell in notebook["cells"] if cell["cell_type"] == "code"]
    return hashlib.sha256(json.dumps(sources).encode("utf-8")).hexdigest()


def stale_reason(notebook):
    """Why the stored outputs do not belong to the notebook's code, or None when they do."""
    stored = notebook.get("metadata", {}).get(METADATA_KEY, {})
    if "code_sha256" not in stored:
        return "its outputs were not made by examples/execute_notebooks.py"
    if stored["code_sha256"] != code_hash(notebook):
        return "its code cells changed since its outputs were stored"
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    counts = [cell.get("execution_count") for cell in code]
    if counts != list(range(1, len(code) + 1)):
        return "its code cells were not all run in order in one kernel"
    for number, cell in enumerate(code, 1):
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            return f"code cell {number} stored an error"
    return None


def check(paths):
    """One line per notebook whose stored outputs are out of date (empty when all are)."""
    problems = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            reason = stale_reason(json.load(f))
        if reason:
            rel = os.path.relpath(path, ROOT)
            problems.append(f"{rel}: {reason}; run `{COMMAND}` "
                            f"(or `python examples/execute_notebooks.py {rel}`)")
    return problems


# -- turning a kernel's outputs into what a static page shows ---------------------------------

def _apply_control_characters(text):
    r"""The text a terminal would show: ``\r`` returns to the line's start, ``\b`` erases."""
    lines = []
    for line in text.split("\n"):
        shown = ""
        for part in line.split("\r"):
            # a bar redraws the whole line after \r: the last non-empty redraw is what stays
            shown = part + shown[len(part):] if part else shown
        while "\b" in shown:
            shown = re.sub("[^\b]\b", "", shown, count=1).lstrip("\b")
        lines.append(shown)
    return "\n".join(lines)


def _without_machine_paths(text):
    """Paths as a reader can use them: the checkout's and the installed packages' folders, and
    the kernel's temporary file of a cell (named in a warning's location), left out."""
    import site
    import sysconfig

    folders = [ROOT, *site.getsitepackages(), sysconfig.get_paths()["purelib"],
               sysconfig.get_paths()["stdlib"]]
    for folder in sorted(set(folders), key=len, reverse=True):
        text = text.replace(os.path.join(folder, ""), "")
    return re.sub(r"\S*ipykernel_\d+[/\\]\d+\.py", "<cell>", text)


def _merge_streams(outputs):
    """Consecutive stdout (or stderr) outputs as one, with carriage returns applied."""
    merged = []
    for out in outputs:
        if (out["output_type"] == "stream" and merged
                and merged[-1]["output_type"] == "stream" and merged[-1]["name"] == out["name"]):
            merged[-1]["text"] += out["text"]
        else:
            merged.append(out)
    for out in merged:
        if out["output_type"] == "stream":
            out["text"] = _without_machine_paths(_apply_control_characters(out["text"]))
    return merged


def _widget_text(model_id, models):
    """The text of a widget's last state: a tqdm bar is a box of HTML, a progress, HTML."""
    state = models.get(model_id, {}).get("state", {})
    parts = []
    for child in state.get("children", []):
        child_state = models.get(str(child).removeprefix("IPY_MODEL_"), {}).get("state", {})
        if "max" in child_state and "value" in child_state:       # the bar itself
            fraction = child_state["value"] / child_state["max"] if child_state["max"] else 0
            filled = round(20 * min(max(fraction, 0), 1))
            parts.append("|" + "\u2588" * filled + " " * (20 - filled) + "|")
        elif "value" in child_state:
            text = html.unescape(re.sub(r"<[^>]+>", "", str(child_state["value"])))
            parts.append(text.replace("\u2007", " ").replace("\xa0", " "))
    return "".join(parts).strip()


def _small_png(data):
    """A figure as a PNG of at most 256 colours on white: a third of the size, same look."""
    import base64
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGBA")
    white = Image.new("RGBA", image.size, "white")
    flat = Image.alpha_composite(white, image).convert("RGB")
    small = flat.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    small.save(buffer, "PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _static_outputs(outputs, models):
    """Widgets replaced by the text of their last state; streams merged; figures shrunk."""
    static = []
    for out in outputs:
        data = out.get("data", {})
        if "image/png" in data:
            png = data["image/png"]
            data["image/png"] = _small_png(png if isinstance(png, str) else "".join(png))
        view = data.get(WIDGET_VIEW)
        if view is None:
            static.append(out)
            continue
        text = _widget_text(view.get("model_id", ""), models)
        if text:
            static.append({"output_type": "stream", "name": "stderr", "text": text + "\n"})
    return _merge_streams(static)


def make_static(notebook):
    """The notebook as a static page shows it (see the module docstring); in place."""
    models = notebook["metadata"].pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in notebook["cells"]:
        cell["metadata"].pop("execution", None)
        if cell["cell_type"] == "code":
            cell["outputs"] = _static_outputs(cell["outputs"], models)
    return notebook


def warm_up(env):
    """Compile (or load) the numba kernels once, so no notebook stores the compile notice."""
    import subprocess

    code = ("import numpy as np; from corel_sklearn import BallCountOneClass, TopoAutoencoder; "
            "X = np.random.default_rng(0).normal(size=(40, 8)).astype('float32'); "
            "Z = TopoAutoencoder(max_epochs=1, random_state=0).fit_transform(X); "
            "BallCountOneClass().fit(Z).score_samples(Z)")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)


def kernel_env():
    """The notebooks' environment: documented settings, this checkout, one thread."""
    env = dict(os.environ)
    env.pop("COREL_NOTEBOOK_TINY", None)
    env.pop("MPLBACKEND", None)      # the kernel's inline backend turns figures into outputs
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    env["OMP_NUM_THREADS"] = "1"
    return env


def execute(path, timeout):
    """Run one notebook in a fresh kernel and store it with its outputs."""
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": EXAMPLES}},
        # figures as PNG only, at a size that keeps the repository small
        extra_arguments=["--InlineBackend.figure_formats=png",
                         "--InlineBackend.rc={'figure.dpi': 80}"],
    )
    client.execute(env=kernel_env())
    notebook = nbformat.from_dict(make_static(notebook))
    notebook.metadata[METADATA_KEY] = {"code_sha256": code_hash(notebook), "command": COMMAND}
    nbformat.validate(notebook)
    nbformat.write(notebook, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: all)")
    parser.add_argument("--check", action="store_true",
                        help="only report notebooks whose stored outputs are out of date")
    parser.add_argument("--stale", action="store_true",
                        help="run only the notebooks whose stored outputs are out of date")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = [os.path.abspath(p) for p in args.notebooks] or notebook_paths()
    if args.check:
        problems = check(paths)
        print("\n".join(problems) or f"{len(paths)} notebooks: stored outputs up to date")
        return 1 if problems else 0
    if args.stale:
        paths = [p for p in paths if check([p])]
    if paths:
        warm_up(kernel_env())
    for path in paths:
        start = time.perf_counter()
        print(f"running {os.path.relpath(path, ROOT)} ...", flush=True)
        execute(path, args.timeout)
        print(f"  stored with outputs ({time.perf_counter() - start:.0f} s, "
              f"{os.path.getsize(path) / 1024:.0f} KiB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
