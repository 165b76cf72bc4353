"""The package's import plan, read from the source: no cycles, no reach into privates.

Every ``import`` statement of every module of ``corel_sklearn`` is read with ``ast`` (module
level and inside functions alike: a function-level import that closes a cycle is still a
cycle, only deferred), resolved to the module it names, and checked against the rules of the
house (docs/architecture.md).
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "corel_sklearn"


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name, path):
    """(line, imported module) for every import of a corel_sklearn module in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append((node.lineno, submodule if submodule in MODULES else base, base))
    return [(line, target, base) for line, target, base in found
            if target.split(".")[0] == "corel_sklearn"]


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def _graph():
    return {name: sorted({t for _, t, _ in found if t in MODULES and t != name})
            for name, found in IMPORTS.items()}


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = _graph()
    graph["corel_sklearn.losses"] = graph["corel_sklearn.losses"] + ["corel_sklearn.estimators"]
    assert any("corel_sklearn.losses" in c for c in _cycles(graph))


def test_the_import_graph_has_no_cycle():
    assert _cycles(_graph()) == []


def _owner(private_module):
    """The package owning a private module: corel_sklearn.pershom for .pershom._prim."""
    parts = private_module.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if part.startswith("_"):
            return ".".join(parts[:i])
    return None


def test_no_module_imports_another_packages_private_modules():
    # corel_sklearn._files, _threads, _warnings, ... are the top level's shared helpers.
    offenders = [
        f"{name}:{line} imports {target}"
        for name, found in IMPORTS.items() for line, target, _ in found
        if (owner := _owner(target)) not in (None, "corel_sklearn")
        and name != owner and not name.startswith(owner + ".")
    ]
    assert offenders == []


def test_no_module_imports_from_the_package_face():
    offenders = [f"{name}:{line}" for name, found in IMPORTS.items()
                 for line, _, base in found if base == "corel_sklearn"
                 and name != "corel_sklearn"]
    assert offenders == []


def test_the_library_never_imports_the_experiments():
    entry_points = {"corel_sklearn.__main__"}
    offenders = [
        f"{name}:{line} imports {target}"
        for name, found in IMPORTS.items() for line, target, _ in found
        if target.startswith("corel_sklearn.experiments")
        and not name.startswith("corel_sklearn.experiments") and name not in entry_points
    ]
    assert offenders == []


@pytest.mark.parametrize("kernel_package", ["corel_sklearn.pershom",
                                            "corel_sklearn.ball_counting"])
def test_kernels_know_nothing_of_scikit_learn_or_the_estimators(kernel_package):
    offenders = []
    for name, path in MODULES.items():
        if not (name == kernel_package or name.startswith(kernel_package + ".")):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{name}:{node.lineno} imports {n}" for n in names
                          if n.split(".")[0] == "sklearn"
                          or n.startswith(("corel_sklearn.estimators",
                                           "corel_sklearn.model_selection",
                                           "corel_sklearn._sklearn_compat"))]
    assert offenders == []
