"""Every module's docstring examples run, and say what they show (one test per module).

The modules are found on disk, so a new module is covered the day it is written. A module whose
examples run must run at least one (``attempted > 0``): deleting its examples fails here, as a
failing example does. Modules without runnable examples are listed below with the reason, and the
lists are held exact: a listed module that gains examples must leave its list.
"""

from __future__ import annotations

import doctest
import importlib
import tempfile
from pathlib import Path

import pytest

import scratchnn

PACKAGE = Path(scratchnn.__file__).resolve().parent

NO_EXAMPLES: dict[str, str] = {
    "scratchnn._version": "one constant, re-exported as scratchnn.__version__",
    "scratchnn.cli": "the command group; its docstring and docs/cli.md show commands",
    "scratchnn.cli.demo": "a command; tests/test_cli.py runs it",
    "scratchnn.cli.export": "a command; tests/test_export_onnx.py runs it",
    "scratchnn.cli.language_model": "two commands; tests/test_cli_language_model.py runs them",
    "scratchnn.cli.predict": "a command; tests/test_cli.py runs it",
    "scratchnn.cli.reproduce": "a command; tests/test_cli.py runs it",
    "scratchnn.cli.runs": "a command; tests/test_cli.py runs it",
    "scratchnn.datasets._validation": "private argument checks, tested through the loaders",
    "scratchnn.layers": "re-exports and the LAYERS registry; the examples live in layers.core",
    "scratchnn.layers.base": "the abstract Layer; layers.core's examples use it",
    "scratchnn.models": "re-exports; the examples live in models.sequential",
    "scratchnn.models.data": "input checks of fit/evaluate/predict, tested through them",
    "scratchnn.models.parts": "declarations for type checkers (empty at run time); test_typing",
    "scratchnn.ops": "re-exports ops.core",
    "scratchnn.ops.core": "shown through Tensor (tensor.py); test_ops_gradcheck tests every op",
    "scratchnn.optimizers._validation": "private argument checks, tested through the optimizers",
    "scratchnn.optimizers.adam": "Adam is shown in optimizers.registry and .updates",
    "scratchnn.runs.errors": "exception classes only",
    "scratchnn.studies.seed000": "a study, a run of minutes; tests/test_studies.py runs it",
    "scratchnn.studies.seed001": "a study, a run of minutes; tests/test_studies.py runs it",
    "scratchnn.studies.seed002": "a study, a run of minutes; tests/test_studies.py runs it",
    "scratchnn.studies.seed003": "a study, a run of minutes; tests/test_studies.py runs it",
    "scratchnn.studies.seed004": "a study, a run of minutes; tests/test_studies.py runs it",
    "scratchnn.studies._rnn004": "study 004's LSTM section; tests/test_studies.py runs it",
    "scratchnn.studies._deep004": "study 004's RBM, DBN, autoencoder and vanishing-gradient "
                                  "sections; tests/test_studies.py runs them",
    "scratchnn.studies._gan004": "study 004's GAN section; tests/test_studies.py runs it",
    "scratchnn.cli.sweep": "the sweep commands; docs/sweeps.md shows them",
    "scratchnn.sweep.executors": "executors need worker processes; test_sweep_run runs them",
    "scratchnn.sweep.plan": "internal planning of work units, tested in test_sweep_population",
    "scratchnn.sweep.population": "internal engine, tested against Sequential.fit",
    "scratchnn.sweep.report": "needs a recorded sweep; test_sweep_run builds one",
}
"""Modules with no docstring examples at all, and why."""

ONLY_SKIPPED: dict[str, str] = {
    "scratchnn.sweep.runner": "run_sweep's example runs a whole sweep into the default store",
}
"""Modules whose examples are all ``+SKIP`` (shown, never run), and why."""


def module_names() -> list[str]:
    """``scratchnn.*`` for every ``.py`` file of the package, found on disk (no imports)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__main__":  # importing it would run the command line
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(("scratchnn", *parts)))
    return names


def examples_in(module: object) -> int:
    """How many examples the docstrings of ``module`` hold (skipped ones included)."""
    return sum(len(test.examples) for test in doctest.DocTestFinder().find(module))


def test_the_lists_name_real_modules() -> None:
    names = set(module_names())
    assert len(names) > 40, "module discovery found too few modules"
    assert set(NO_EXAMPLES) <= names and set(ONLY_SKIPPED) <= names
    assert not set(NO_EXAMPLES) & set(ONLY_SKIPPED)


@pytest.mark.parametrize("name", module_names())
def test_docstring_examples_run(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module(name)
    found = examples_in(module)
    if name in NO_EXAMPLES:
        assert found == 0, f"{name} has {found} examples now: take it out of NO_EXAMPLES"
        return
    # files the examples write (tempfile.mkdtemp(), relative paths) land in tmp_path
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
    if name in ONLY_SKIPPED:
        assert found > 0 and result.attempted == 0, (
            f"{name}: {found} examples, {result.attempted} run; ONLY_SKIPPED is for modules "
            "whose examples are all skipped"
        )
        return
    assert result.attempted > 0, (
        f"{name} has no runnable docstring examples: write some (a public module shows its use), "
        "or list it in NO_EXAMPLES / ONLY_SKIPPED with the reason"
    )
