"""scratchnn ships ``py.typed``: a type checker must agree with the package and with its users.

* mypy, with the configuration in ``pyproject.toml``, reports no error on ``src/scratchnn``;
* a user's script written from the README's examples (tensor maths, a model, fit / evaluate /
  predict, files, a functional graph, a ``train_step`` subclass, a callback) passes ``mypy
  --strict``, and the same checker flags the mistakes the annotations are there to catch;
* the ``Literal`` types of registry names list exactly the names each registry accepts.

mypy runs in a subprocess with its incremental cache under ``.mypy_cache`` (ignored by git):
the first run of a checkout takes ten seconds or so per check, later runs a few.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import get_args

import pytest

pytest.importorskip("mypy", reason="mypy is a test dependency: pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def run_mypy(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python -m mypy ARGS`` in ``cwd``, scratchnn found in this checkout's ``src``."""
    env = {**os.environ, "MYPYPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "mypy", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=600,
    )


# --- the package -------------------------------------------------------------------------------


def test_the_package_type_checks_with_its_configuration() -> None:
    result = run_mypy()  # files and options from [tool.mypy] in pyproject.toml
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


# --- a user's script ---------------------------------------------------------------------------

USER_SCRIPT = '''
"""The README's examples, as a user would write them in a type-checked project."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import scratchnn
from scratchnn import Model, Sequential, Tensor, datasets, gradcheck, no_grad, ops
from scratchnn.callbacks import Callback, EarlyStopping, Logs
from scratchnn.layers import LSTM, Dense, Dropout, Input
from scratchnn.optimizers import Adam

# --- tensors and autodiff (README "Tensors and autodiff", tutorial 004's graph)
x = Tensor(1.0, requires_grad=True)
y = Tensor(3.0, requires_grad=True)
z = Tensor(-3.0, requires_grad=True)
g = (x + y) * z
g.backward()
print(g.item(), x.grad, y.grad, z.grad)

rng = np.random.default_rng(0)
inputs = Tensor(rng.normal(size=(4, 3)))
w = Tensor(rng.normal(size=(3, 2)), requires_grad=True)
b = Tensor(np.zeros(2), requires_grad=True)
h: Tensor = (inputs @ w + b).relu()
loss: Tensor = ((h - 1.0) ** 2).mean() + 0.01 * (w * w).sum()
loss.backward()
assert w.grad is not None and w.grad.shape == (3, 2)
with no_grad():
    w.data -= 0.1 * w.grad
shifted: Tensor = 2.0 * inputs - np.ones(3) + (1 - inputs.T).T / 2
probabilities: Tensor = ops.softmax(h, axis=-1) + abs(-h).log_softmax()
first_row: Tensor = inputs[0] ** 2
count: int = int((inputs > 0).sum())
print(gradcheck(lambda a, c: ops.tanh(a @ c), rng.normal(size=(4, 3)), rng.normal(size=(3, 2))))

# --- a model: compile, fit, evaluate, predict, files (README "Keras-style models")
churn = datasets.load_churn()
x_train, x_test, y_train, y_test = datasets.train_test_split(
    churn.X, churn.y, test_size=0.2, random_state=0)
mean, std = x_train.mean(axis=0), x_train.std(axis=0)
x_train, x_test = (x_train - mean) / std, (x_test - mean) / std


class StopWhenGood(Callback):
    """A callback of the user's: hooks typed, the model reachable as self.model."""

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if logs is not None and logs["loss"] < 0.1:
            self.model.stop_training = True


model = Sequential([
    Dense(6, activation="relu", kernel_initializer="uniform", input_dim=11),
    Dropout(0.1),
    Dense(1, activation="sigmoid"),
], seed=3)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.1, verbose=0,
                    callbacks=[StopWhenGood(), EarlyStopping(monitor="val_loss", patience=3)])
last_loss: float = history.history["loss"][-1]
scores: dict[str, float] = model.evaluate(x_test, y_test, return_dict=True)
predicted: np.ndarray = model.predict(x_test)
print(model.summary(print_fn=None), scores, predicted.shape, last_loss)
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "churn.snn"
    model.save(path)
    same: Model = scratchnn.load_model(path)
    assert np.allclose(same.predict(x_test), predicted)

# --- a functional graph (Model(inputs=..., outputs=...)) with an explicit optimizer
features = Input((11,))
hidden = Dense(8, activation="tanh")(features)
outputs = Dense(1, activation="sigmoid")(hidden)
graph = Model(inputs=features, outputs=outputs, seed=0)
graph.compile(optimizer=Adam(learning_rate=0.01), loss="bce")
graph.fit(x_train, y_train, epochs=1, verbose=0)


# --- a training algorithm of one's own: a subclass overriding train_step
@scratchnn.models.register
class MeanAbsolute(Model):
    """Regression trained on the mean absolute error, written by hand."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = Dense(1)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        out: Tensor = self.dense(x)
        return out

    def train_step(self, batch: tuple[Any, Any, Any]) -> dict[str, Any]:
        x, y, _ = batch
        loss = ops.mean(ops.abs(self(x, training=True) - y.reshape(-1, 1)))
        self.minimize(loss)
        return {"loss": loss.item()}


regression = MeanAbsolute(seed=0)
regression.compile(optimizer="sgd")
targets = x_train @ rng.normal(size=11)
regression.fit(x_train, targets, epochs=2, verbose=0)

# --- a sequence model's layers take their keyword arguments checked
recurrent = LSTM(16, return_sequences=True, dropout=0.1)
print(recurrent.units, file=sys.stderr)
'''

USER_MISTAKES = '''
from scratchnn import Sequential, Tensor
from scratchnn.layers import LSTM, Dense

t = Tensor([1.0, 2.0])
wrong_result: int = t @ t                             # a Tensor, not an int
t + object()                                          # not a number, array or Tensor
Dense(3, activation="rleu")                           # not an activation's name
LSTM(8, return_sequence=True)                         # no such argument
model = Sequential([Dense(1, input_dim=2)])
model.compile(optimizer="adamm", loss="mse")          # not an optimizer's name
model.fit([[0.0, 1.0]], [1.0], verbose=3)             # verbose is 0, 1 or 2
'''


def _check_script(tmp_path: Path, source: str, name: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / name
    script.write_text(textwrap.dedent(source), encoding="utf-8")
    # As in a user's project: strict options on their code; scratchnn's own modules are read for
    # their types only (--follow-imports=silent, as for an installed package), from this
    # checkout's src (MYPYPATH), with no configuration file of ours.
    return run_mypy(
        "--strict", "--follow-imports=silent", "--config-file", os.devnull,
        "--cache-dir", str(ROOT / ".mypy_cache" / "user-script"), str(script), cwd=tmp_path,
    )


def test_a_users_script_from_the_readme_type_checks_and_runs(tmp_path: Path) -> None:
    result = _check_script(tmp_path, USER_SCRIPT, "readme_examples.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 1 source file" in result.stdout
    # the script is real code: it runs
    run = subprocess.run(
        [sys.executable, str(tmp_path / "readme_examples.py")], cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(SRC)}, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_checker_flags_a_users_mistakes(tmp_path: Path) -> None:
    result = _check_script(tmp_path, USER_MISTAKES, "mistakes.py")
    flagged = {
        int(line.split(":")[1]) for line in result.stdout.splitlines() if ": error:" in line
    }
    lines = textwrap.dedent(USER_MISTAKES).splitlines()
    wrong = {i + 1 for i, line in enumerate(lines) if "#" in line}
    assert flagged == wrong, result.stdout


# --- Literal types of names and their registries ----------------------------------------------


def test_the_literal_names_are_the_registries_names() -> None:
    from scratchnn import activations, initializers, losses, metrics, optimizers, regularizers
    from scratchnn.ops import conv, recurrent

    assert set(get_args(activations.ActivationName)) == set(activations.ACTIVATIONS)
    assert set(get_args(losses.LossName)) == {*losses.LOSSES, *losses.ALIASES}
    assert set(get_args(losses.Reduction)) == set(losses.REDUCTIONS)
    assert set(get_args(optimizers.registry.OptimizerName)) == set(optimizers.OPTIMIZERS)
    assert set(get_args(metrics.MetricName)) == set(metrics.METRICS)
    assert set(get_args(metrics.Average)) == set(metrics.AVERAGES)
    assert set(get_args(initializers.InitializerName)) == {
        *initializers.INITIALIZERS, *initializers._CLASSES
    }
    assert set(get_args(regularizers.RegularizerName)) == set(regularizers.REGULARIZERS)
    assert set(get_args(conv.DataFormat)) == set(conv.DATA_FORMATS)
    assert set(get_args(recurrent.RecurrentActivation)) == set(recurrent.RECURRENT_ACTIVATIONS)
