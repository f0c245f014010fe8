"""The import direction of STYLE.md, held by parsing every module under src/scratchnn with ``ast``.

tensor -> ops -> layers/losses/optimizers -> models -> sweep/plotting -> cli: a module may import
only what lies below it. The tables below say it per top-level module (``layers`` covers every file
of ``layers/``) and are meant to grow with the package:

* ``ALLOWED``: the complete list of scratchnn modules a module may import at import time;
* ``LAZY_ALLOWED``: extra modules a module may import inside a function (a call-time import makes
  no import-time cycle, but it is still a dependency, so each one is listed and explained);
* ``FORBIDDEN``: modules a module must never import, even lazily (plain-array modules must not
  reach the autodiff engine).

A module in none of the tables may import anything but ``cli``; nothing imports ``cli``. No module
imports torch, tensorflow, jax or pickle (weights are named arrays, never pickles; PyTorch is a
test oracle only).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "scratchnn"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE

ENGINE = {"backend", "tensor", "ops", "activations", "initializers", "regularizers", "losses",
          "optimizers", "gradcheck", "layers"}
ALLOWED: dict[str, set[str]] = {
    # the bottom: the array library, then tensors and the ops on them
    "_version": set(),
    "_memory": set(),  # how much memory the process may use: the standard library only
    "backend": set(),
    "tensor": {"backend"},
    "ops": {"backend", "tensor"},
    "gradcheck": {"backend", "tensor"},
    "initializers": {"backend"},
    "activations": {"backend", "ops", "tensor"},
    "regularizers": {"backend", "ops", "tensor"},
    "losses": {"backend", "ops", "tensor"},
    "optimizers": {"backend", "tensor"},
    "layers": {"backend", "tensor", "ops", "activations", "initializers", "regularizers", "layers"},
    # plain arrays and files, beside the engine (never importing it: see FORBIDDEN)
    "metrics": {"backend"},
    "datasets": {"_memory"},
    "text": set(),
    "callbacks": {"metrics"},  # hooks of the loop; monitored metrics' directions
    "runs": {"_version"},
    "plotting": {"backend", "callbacks", "metrics"},  # SampleGrids is a training callback
    # model files: checks before building (layer classes, shapes), then the format itself
    "io_checks": {"backend", "layers"},
    "io": {"backend", "io_checks", "_version"},
    # models: the one loop, compile/fit, saving through io
    "models": ENGINE | {"metrics", "callbacks", "io", "io_checks"},
    # ONNX export reads built models and layers, writes with io's atomic writer; never trains.
    "export": {"activations", "io", "layers", "models", "ops"},
    # scikit-learn estimators build, train and load Sequential models; nothing imports them.
    "sklearn": {"backend", "callbacks", "io", "layers", "models", "optimizers"},
    # sweeps train models (populations too) on data sets, record runs, draw their reports
    "sweep": ENGINE | {"_memory", "callbacks", "datasets", "io_checks", "metrics", "models",
                       "plotting", "runs"},
    # the studies reproduce the tutorials with everything below them
    "studies": ENGINE | {"_version", "callbacks", "datasets", "metrics", "models", "plotting",
                         "runs", "sklearn", "sweep", "text"},  # sklearn: 004 times RBMTransformer
}
"""Every top-level module and the modules it may import (at import time or in a function)."""
LAZY_ALLOWED: dict[str, set[str]] = {
    # Tensor's operators and methods (+, @, t.sum(), t.T, ...) delegate to their ops, which import
    # tensor: tensor imports ops on the first operator call (tensor._OpsOnFirstUse).
    "tensor": {"ops"},
    # Model.export(path, format="onnx") delegates to scratchnn.export when called: the exporter
    # reads models, so it lies above them (the one other sanctioned lazy cycle).
    "models": {"export"},
}
SANCTIONED_LAZY_CYCLES = {frozenset({"tensor", "ops"}), frozenset({"models", "export"})}
TOP = {"__init__", "cli"}  # the package root re-exports the API; the CLI may use anything
PLAIN_ARRAY_FORBIDDEN = {"tensor", "ops", "layers", "activations", "losses", "gradcheck", "models"}
FORBIDDEN: dict[str, set[str]] = {
    "metrics": PLAIN_ARRAY_FORBIDDEN,
    "datasets": PLAIN_ARRAY_FORBIDDEN,
    "text": PLAIN_ARRAY_FORBIDDEN,  # vocabularies, windows, sampling: arrays only
    "runs": PLAIN_ARRAY_FORBIDDEN,
}
NOBODY_IMPORTS = {"cli"}
FORBIDDEN_THIRD_PARTY = {"torch", "tensorflow", "jax", "pickle", "_pickle", "cPickle", "dill",
                         "cloudpickle"}
CLI_ONLY_THIRD_PARTY = {"click"}  # the command-line library stays under cli/
@dataclass(frozen=True)
class Import:
    """One imported module: its dotted name, the line, and whether it runs at import time."""

    name: str
    line: int
    lazy: bool


def module_name(path: Path, root: Path = SRC) -> str:
    """Dotted name of ``path``: ``.../scratchnn/layers/core.py`` -> ``scratchnn.layers.core``."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: -(level - 1)]
    return ".".join([*base, target] if target else base)


def imports_of(source: str, module: str, is_package: bool = False) -> list[Import]:
    """Every module imported by ``source`` (absolute or relative), with laziness.

    ``from pkg import name`` is reported as ``pkg.name``: :func:`scratchnn_target` tells whether
    that names a module of ours or an attribute of the package (then ``pkg`` is what is imported).
    Imports under ``if TYPE_CHECKING:`` are skipped: they never run.
    """
    tree = ast.parse(source)
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child, lazy)
            return
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, node.lineno, lazy) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = (
                _resolve_relative(module, is_package, node.level, node.module)
                if node.level
                else node.module or ""
            )
            found.extend(Import(f"{base}.{alias.name}", node.lineno, lazy) for alias in node.names)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node):
            found.append(Import(node.args[0].value, node.lineno, lazy))
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_dynamic_import(call: ast.Call) -> bool:
    """``importlib.import_module("x")`` or ``__import__("x")`` with a literal name."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return (
        name in ("import_module", "__import__")
        and bool(call.args)
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    )


def top_level_of(dotted: str) -> str | None:
    """``scratchnn.layers.core`` -> ``layers``; the package root -> ``__init__``; else None."""
    parts = dotted.split(".")
    if parts[0] != PACKAGE:
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def scratchnn_target(dotted: str, root: Path = SRC) -> str | None:
    """Top-level scratchnn module that ``dotted`` names, or None for other libraries.

    ``scratchnn.Tensor`` (a name re-exported by the package root) counts as the root itself.
    """
    top = top_level_of(dotted)
    if top is None or top == "__init__":
        return top
    if (root / f"{top}.py").exists() or (root / top / "__init__.py").exists():
        return top
    return "__init__"


def source_files() -> list[Path]:
    files = sorted(SRC.rglob("*.py"))
    assert files, f"no modules found under {SRC}"
    return files


def dependencies(path: Path) -> tuple[str, list[tuple[str, Import]]]:
    """(top-level module of ``path``, [(scratchnn module it imports, the import)])."""
    name = module_name(path)
    found = imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
    own = top_level_of(name) or "__init__"
    deps = []
    for imp in found:
        target = scratchnn_target(imp.name)
        if target is not None:
            deps.append((target, imp))
    return own, deps


# --- the checker works --------------------------------------------------------------------------


def test_the_parser_sees_absolute_relative_lazy_and_dynamic_imports():
    source = (
        "import numpy as np\n"
        "from scratchnn import ops, Tensor\n"
        "from . import backend\n"
        "from .layers.core import Dense\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from scratchnn import models\n"
        "def f():\n"
        "    import scratchnn.cli\n"
        "    return importlib.import_module('torch')\n"
    )
    found = {(i.name, i.lazy) for i in imports_of(source, "scratchnn.thing")}
    assert ("numpy", False) in found
    assert ("scratchnn.ops", False) in found
    assert ("scratchnn.backend", False) in found
    assert ("scratchnn.layers.core.Dense", False) in found
    assert ("scratchnn.Tensor", False) in found
    assert ("scratchnn.cli", True) in found
    assert ("torch", True) in found
    assert not any("models" in name for name, _ in found)
    assert scratchnn_target("scratchnn.ops") == "ops"
    assert scratchnn_target("scratchnn.layers.core.Dense") == "layers"
    assert scratchnn_target("scratchnn.Tensor") == "__init__"
    assert scratchnn_target("numpy") is None


def test_relative_imports_resolve_inside_subpackages():
    found = {i.name for i in imports_of("from ..ops import relu\n", "scratchnn.layers.core")}
    assert "scratchnn.ops.relu" in found
    found = {i.name for i in imports_of("from .base import Layer\n", "scratchnn.layers", True)}
    assert "scratchnn.layers.base.Layer" in found
    found = {i.name for i in imports_of("from . import ops\n", "scratchnn.losses")}
    assert found == {"scratchnn.ops"}


def test_there_are_modules_to_check():
    names = {top_level_of(module_name(p)) for p in source_files()}
    assert {"backend", "tensor", "ops"} <= names


# --- the rules ----------------------------------------------------------------------------------


def violations(own: str, deps: list[tuple[str, Import]], where: str = "") -> list[str]:
    """Broken rules among the scratchnn imports ``deps`` of top-level module ``own``."""
    problems = []
    for target, imp in deps:
        at = f"{where}:{imp.line} imports {imp.name}"
        if target == own:
            continue
        if target in NOBODY_IMPORTS:
            problems.append(f"{at}: nothing may import scratchnn.{target}")
        if target in FORBIDDEN.get(own, set()):
            problems.append(f"{at}: {own} works on plain arrays and must not import {target}")
        if own in ALLOWED:
            allowed = ALLOWED[own] | (LAZY_ALLOWED.get(own, set()) if imp.lazy else set())
            if target not in allowed:
                problems.append(
                    f"{at}: {own} may import only {sorted(allowed) or 'no scratchnn module'}"
                )
    return problems


def test_the_rules_catch_violations():
    def dep(target, lazy=False):
        return (target, Import(f"scratchnn.{target}", 1, lazy))

    assert violations("backend", [dep("tensor")])
    assert violations("tensor", [dep("ops")])  # at import time: a cycle
    assert not violations("tensor", [dep("ops", lazy=True)])  # listed in LAZY_ALLOWED
    assert violations("tensor", [dep("layers", lazy=True)])
    assert violations("tensor", [dep("__init__")])  # `from scratchnn import Tensor`
    assert violations("ops", [dep("layers")])
    assert violations("metrics", [dep("tensor", lazy=True)])
    assert violations("datasets", [dep("ops")])
    assert not violations("metrics", [dep("backend")])
    assert violations("some_new_module", [dep("cli", lazy=True)])
    assert violations("models", [dep("sweep", lazy=True)])
    assert not violations("models", [dep("export", lazy=True)])  # sanctioned
    assert violations("models", [dep("export")])
    assert not violations("layers", [dep("layers")])


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_import_direction(path):
    own, deps = dependencies(path)
    problems = violations(own, deps, str(path.relative_to(SRC)))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_forbidden_third_party_imports(path):
    source = path.read_text(encoding="utf-8")
    found = imports_of(source, module_name(path), path.name == "__init__.py")
    bad = [
        f"{path.relative_to(SRC)}:{imp.line} imports {imp.name}"
        for imp in found
        if imp.name.split(".")[0] in FORBIDDEN_THIRD_PARTY
    ]
    assert not bad, "\n".join(bad)


def test_allowed_table_has_no_cycles():
    def visit(module, stack):
        assert module not in stack, f"import cycle in ALLOWED: {' -> '.join([*stack, module])}"
        for dep in ALLOWED.get(module, set()) - {module}:
            visit(dep, [*stack, module])

    for module in ALLOWED:
        visit(module, [])


def test_lazy_imports_close_no_cycle_but_the_sanctioned_ones():
    edges = {m: set(deps) | LAZY_ALLOWED.get(m, set()) for m, deps in ALLOWED.items()}
    for module, lazy in LAZY_ALLOWED.items():
        for target in lazy:
            back = target == module or module in _reachable(target, edges)
            assert not back or frozenset({module, target}) in SANCTIONED_LAZY_CYCLES, (
                f"the lazy import {module} -> {target} closes a cycle"
            )


def _reachable(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for dep in edges.get(todo.pop(), set()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_every_module_of_the_package_has_its_direction():
    modules = {dependencies(path)[0] for path in source_files()}
    missing = sorted(modules - set(ALLOWED) - TOP)
    assert not missing, f"modules without an entry in ALLOWED: {missing}"


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_click_only_under_cli(path):
    own = dependencies(path)[0]
    if own == "cli":
        return
    found = imports_of(path.read_text(encoding="utf-8"), module_name(path),
                       path.name == "__init__.py")
    bad = [f"{path.relative_to(SRC)}:{imp.line} imports {imp.name}" for imp in found
           if imp.name.split(".")[0] in CLI_ONLY_THIRD_PARTY]
    assert not bad, "\n".join(bad)
