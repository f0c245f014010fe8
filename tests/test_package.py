"""The package surface: subpackages loaded lazily by ``import scratchnn``, and the scoped default
float type ``scratchnn.default_dtype``.

Imports are checked in fresh interpreters (``subprocess``): in this process pytest and other
tests have long since imported matplotlib and scikit-learn.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

import numpy as np
import pytest

import scratchnn
from scratchnn import Sequential, Tensor, backend
from scratchnn.layers import Dense

HEAVY = ("matplotlib", "sklearn", "pandas", "onnx", "onnxruntime", "torch", "scipy")


def fresh_python(code: str) -> dict:
    """Run ``code`` in a new interpreter; it prints one JSON object, returned here."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- lazy subpackages ---------------------------------------------------------------------------


def test_import_scratchnn_loads_no_heavy_library_and_no_lazy_subpackage():
    found = fresh_python(
        "import sys, json, scratchnn\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{HEAVY!r} or m in ['scratchnn.' + n for n in scratchnn.LAZY_SUBMODULES])))\n"
    )
    assert found == []
    # The command line is never imported by the library, and is no lazy attribute either.
    has_cli = fresh_python("import json, scratchnn\nprint(json.dumps(hasattr(scratchnn, 'cli')))")
    assert has_cli is False


def test_each_lazy_subpackage_is_an_attribute_on_first_use():
    names = list(scratchnn.LAZY_SUBMODULES)
    found = fresh_python(
        "import sys, json, scratchnn\n"
        f"mods = {{n: getattr(scratchnn, n).__name__ for n in {names!r}}}\n"
        "print(json.dumps(mods))\n"
    )
    assert found == {name: f"scratchnn.{name}" for name in names}
    assert {"datasets", "layers", "optimizers", "plotting", "sklearn", "export"} <= set(
        dir(scratchnn)
    )


def test_plotting_is_reachable_but_imports_matplotlib_only_when_it_draws():
    found = fresh_python(
        "import sys, json, scratchnn\n"
        "loaded = scratchnn.plotting is sys.modules['scratchnn.plotting']\n"
        "X, y = scratchnn.datasets.moons(n_samples=20, seed=0)\n"
        "print(json.dumps([loaded, X.shape[0]]))\n"
    )
    assert found == [True, 20]


def test_unknown_attribute_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="no attribute 'datasetz'"):
        scratchnn.datasetz


# --- default_dtype ------------------------------------------------------------------------------


def test_default_dtype_scopes_new_tensors_and_models():
    assert scratchnn.get_default_dtype() == np.float32
    with scratchnn.default_dtype("float64") as inside:
        assert inside == np.float64 and scratchnn.get_default_dtype() == np.float64
        t = Tensor([1.0, 2.0])
        model = Sequential([Dense(3, input_dim=2), Dense(1)], seed=0)
        explicit = Tensor([1.0], dtype="float32")
    assert t.dtype == np.float64
    assert model.dtype == np.float64 and {p.dtype for p in model.params} == {np.dtype("float64")}
    assert model.predict(np.ones((2, 2))).dtype == np.float64  # still float64 after the block
    assert explicit.dtype == np.float32  # an explicit dtype wins
    assert Tensor([1.0]).dtype == np.float32
    assert Sequential([Dense(1, input_dim=2)]).dtype == np.float32


def test_a_model_made_outside_keeps_its_dtype_when_built_inside():
    model = Sequential([Dense(3), Dense(1)], seed=0)  # no input shape yet: built later
    with scratchnn.default_dtype("float64"):
        model.build((4,))
        model.compile("sgd", "mse")
        model.fit(np.ones((8, 4)), np.ones(8), epochs=1, verbose=0)
    assert {p.dtype for p in model.params} == {np.dtype("float32")}


def test_blocks_nest_and_restore_even_after_an_exception():
    with scratchnn.default_dtype("float64"):
        with scratchnn.default_dtype("float32"):
            assert Tensor(1.0).dtype == np.float32
        assert Tensor(1.0).dtype == np.float64
        with pytest.raises(RuntimeError), scratchnn.default_dtype("float32"):
            raise RuntimeError("boom")
        assert Tensor(1.0).dtype == np.float64
    assert Tensor(1.0).dtype == np.float32


def test_a_bad_dtype_is_refused_naming_the_accepted_ones_and_changes_nothing():
    with pytest.raises(TypeError, match="float32 or float64"), scratchnn.default_dtype("int8"):
        pass
    assert scratchnn.get_default_dtype() == np.float32


def test_threads_do_not_see_each_others_default():
    # Thread A holds a float64 block open while thread B creates tensors and models.
    inside, b_done = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def a() -> None:
        with scratchnn.default_dtype("float64"):
            inside.set()
            b_done.wait(30)
            seen["a"] = Tensor(1.0).dtype

    def b() -> None:
        inside.wait(30)
        seen["b"] = (Tensor(1.0).dtype, Sequential([Dense(1, input_dim=1)]).dtype)
        b_done.set()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert seen == {"a": np.float64, "b": (np.float32, np.float32)}
    assert backend.get_default_dtype() == np.float32


def test_asyncio_tasks_keep_their_own_default():
    # The first task reads its default after the second has entered a block of its own: with a
    # module global instead of a context variable it would read the second task's float32.
    async def first(entered: asyncio.Event, other: asyncio.Event, read: asyncio.Event) -> str:
        with scratchnn.default_dtype("float64"):
            entered.set()
            await other.wait()
            name = Tensor(1.0).dtype.name
            read.set()
            return name

    async def second(entered: asyncio.Event, other: asyncio.Event, read: asyncio.Event) -> str:
        await other.wait()
        with scratchnn.default_dtype("float32"):
            entered.set()
            await read.wait()
            return Tensor(1.0).dtype.name

    async def main() -> list[str]:
        e1, e2, read = asyncio.Event(), asyncio.Event(), asyncio.Event()
        return list(await asyncio.gather(first(e1, e2, read), second(e2, e1, read)))

    assert asyncio.run(main()) == ["float64", "float32"]


def test_ci_runs_the_readme_test_command_verbatim():
    """The Quick start has exactly two commands; ``.ci/run`` runs the second as written."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)\n```", quick, re.S)
    assert len(blocks) == 2, blocks
    ci_lines = [line.strip() for line in (root / ".ci" / "run").read_text().splitlines()]
    assert blocks[1].strip() in ci_lines
