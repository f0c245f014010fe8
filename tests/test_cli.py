"""The ``scratchnn`` command, driven as a user drives it: real processes, files read back.

Every command runs as ``python -m scratchnn.cli ...`` in a fresh process with ``SCRATCHNN_RUNS``
pointing into ``tmp_path``. The tests read the run store back with ``RunStore``, open the PNGs
with matplotlib, load the saved model, and check that bad input ends with one ``Error:`` line.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib import image

import scratchnn
from scratchnn import datasets
from scratchnn.cli import main
from scratchnn.runs import Run, RunStore

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


PNG_SHAPES = {"history.png": (400, 1000), "boundary.png": (450, 600), "confusion.png": (450, 500)}
MOONS = ["moons", "--n-samples", "200", "--noise", "0.2", "--seed", "3"]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""Tiny networks gain nothing from BLAS threads; one per process keeps parallel tests fast."""


def scratchnn_cli(
    *args: object, cwd: Path, runs: Path | None = None, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``scratchnn ARGS`` in a new process; ``runs`` becomes ``$SCRATCHNN_RUNS``.

    The output is decoded without newline translation, so a progress bar's ``\r`` redraws
    stay distinguishable from new lines (``str.splitlines`` still splits on both).
    """
    environ = {**os.environ, **ONE_THREAD, **env}
    if runs is not None:
        environ["SCRATCHNN_RUNS"] = str(runs)
    done = subprocess.run(
        [sys.executable, "-m", "scratchnn.cli", *map(str, args)],
        cwd=cwd, env=environ, capture_output=True, timeout=timeout,
    )  # fmt: skip
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(),
                                       done.stderr.decode())  # fmt: skip


def start_cli(*args: object, cwd: Path, runs: Path) -> subprocess.Popen[str]:
    """Start ``scratchnn ARGS`` in the background, with Ctrl-C's default handling restored."""
    return subprocess.Popen(
        [sys.executable, "-m", "scratchnn.cli", *map(str, args)],
        cwd=cwd, env={**os.environ, **ONE_THREAD, "SCRATCHNN_RUNS": str(runs)}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


def assert_one_line_error(
    result: subprocess.CompletedProcess[str], *fragments: str, code: int = 1
) -> str:
    """The command failed with ``code`` and one ``Error:`` line holding every fragment."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, (result.returncode, result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def assert_png(path: Path, shape: tuple[int, int]) -> None:
    """A PNG of ``shape`` (height, width) pixels that is not a blank canvas."""
    pixels = image.imread(path)
    assert pixels.shape[:2] == shape, (path.name, pixels.shape)
    assert pixels[..., :3].std() > 0.05, f"{path.name} looks blank"


def write_csv(path: Path, header: list[str], rows: np.ndarray) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows.tolist())
    return path


def wait_for_epochs(db: Path, count: int, proc: subprocess.Popen[str], limit: float = 60) -> str:
    """Poll the run store until the one run has ``count`` logged epochs; return its id."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if db.exists():
            with RunStore(db) as store:
                found = store.list_runs()
            if found and len(found[0].epochs) >= count:
                return found[0].id
        time.sleep(0.05)
    raise AssertionError(f"no run reached {count} epochs in {limit} s")


@dataclass(frozen=True)
class Trained:
    """A ``scratchnn train`` run shared by several tests."""

    result: subprocess.CompletedProcess[str]
    runs: Path
    run_id: str

    def run(self) -> Run:
        """The run as the store has it now."""
        with RunStore(self.runs) as store:
            return store.get_run(self.run_id)


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    cwd = tmp_path_factory.mktemp("moons")
    runs = cwd / "runs"
    result = scratchnn_cli("train", *MOONS, "--epochs", "6", "--layers", "6,4", cwd=cwd, runs=runs)
    assert result.returncode == 0, result.stderr
    [run] = RunStore(runs).list_runs()
    return Trained(result, runs, run.id)


# --- train --------------------------------------------------------------------------------------


def test_train_records_a_finished_run_with_its_history_metrics_and_timings(moons_run):
    run = moons_run.run()
    assert run.status == "finished" and run.error is None
    assert run.config["dataset"] == "moons" and run.config["layers"] == [6, 4]
    assert run.config["task"] == "binary" and run.config["loss"] == "binary_crossentropy"
    assert (run.config["n_train"], run.config["n_val"]) == (160, 40)
    assert run.epochs == tuple(range(6))
    assert set(run.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert set(run.metrics) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert 0.5 < run.metrics["accuracy"] <= 1.0
    assert {"fit_seconds", "save_seconds", "plot_seconds", "wall_seconds"} <= set(run.timings)
    assert run.version == scratchnn.__version__
    assert Path(run.model_path) == moons_run.runs / run.id / "model.snn"


def test_train_prints_progress_and_the_final_train_and_validation_metrics(moons_run):
    out = moons_run.result.stdout
    run = moons_run.run()
    assert f"Run {run.id}: moons (binary, 160 train / 40 validation rows), 2-6-4-1" in out
    bar = [line for line in out.split("\n") if "Epoch" in line]
    assert len(bar) == 1 and bar[0].rsplit("\r", 1)[-1].startswith("Epoch 6/6 |")  # one bar
    assert "accuracy" in bar[0] and "/" in bar[0].rsplit("accuracy", 1)[-1]  # train/val
    train_line = next(line for line in out.splitlines() if line.startswith("train "))
    assert f"accuracy {100 * run.metrics['accuracy']:.2f} %" in train_line
    assert any(line.startswith("validation ") for line in out.splitlines())
    assert f"Saved in {moons_run.runs / run.id}" in out


def test_train_writes_the_model_its_preprocessing_and_the_plots(moons_run):
    run = moons_run.run()
    folder = moons_run.runs / run.id
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["model.snn", "preprocess.json", *PNG_SHAPES]
    )  # no temporary files left behind
    model = scratchnn.load_model(folder / "model.snn")
    assert [layer.get_config()["units"] for layer in model.layers] == [6, 4, 1]
    prep = json.loads((folder / "preprocess.json").read_text())
    assert prep["feature_names"] == ["x1", "x2"] and prep["classes"] == [0, 1]
    X, _ = datasets.get("moons", n_samples=200, noise=0.2, seed=3)
    assert np.all(np.abs(np.asarray(prep["scaler"]["mean"]) - X.mean(axis=0)) < 0.2)
    for name, shape in PNG_SHAPES.items():
        assert_png(folder / name, shape)


def test_train_moons_defaults_to_tutorial_000s_data_shown_in_help_and_recorded(tmp_path):
    runs = tmp_path / "runs"
    result = scratchnn_cli("train", "moons", "--epochs", "2", "--verbose", cwd=tmp_path,
                           runs=runs)  # fmt: skip
    assert result.returncode == 0, result.stderr
    [run] = RunStore(runs).list_runs()
    assert (run.config["n_samples"], run.config["noise"]) == (2000, 0.25)
    assert (run.config["n_train"], run.config["n_val"]) == (1600, 400)
    assert run.config["features"] == ["x1", "x2"]
    lines = [line for line in result.stdout.splitlines() if line.startswith("Epoch")]
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/2", "Epoch 2/2"]  # --verbose
    help_text = " ".join(scratchnn_cli("train", "--help", cwd=tmp_path).stdout.split())
    assert "moons 2000" in help_text and "moons 0.25" in help_text
    assert_one_line_error(scratchnn_cli("train", "moons", "--n-samples", "3", cwd=tmp_path,
                                        runs=runs), "--n-samples", "x>=20", code=2)  # fmt: skip


def test_text_class_labels_train_and_come_back_from_predict(tmp_path):
    X, y = datasets.get("moons", n_samples=200, noise=0.1, seed=4)
    data = tmp_path / "answers.csv"
    with data.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["x1", "x2", "answer"])
        writer.writerows([[a, b, "yes" if t else "no"] for (a, b), t in zip(X, y, strict=True)])
    runs = tmp_path / "runs"
    result = scratchnn_cli("train", data, "--epochs", "40", "--quiet", "--lr", "0.05",
                           cwd=tmp_path, runs=runs)  # fmt: skip
    assert result.returncode == 0, result.stderr
    [run] = RunStore(runs).list_runs()
    assert run.config["task"] == "binary" and run.config["classes"] == ["no", "yes"]
    pred = scratchnn_cli("predict", run.model_path, data, cwd=tmp_path)  # target column ignored
    assert pred.returncode == 0, pred.stderr
    got = pred.stdout.split()
    assert got[0] == "answer" and set(got[1:]) == {"yes", "no"}
    assert np.mean(np.array(got[1:]) == np.where(y == 1, "yes", "no")) > 0.8


def test_train_on_a_regression_set_picks_a_linear_output_and_mse(tmp_path):
    runs = tmp_path / "runs"
    result = scratchnn_cli("train", "plane", "--n-samples", "120", "--epochs", "3", "--quiet",
                           cwd=tmp_path, runs=runs)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Epoch" not in result.stdout  # --quiet
    [run] = RunStore(runs).list_runs()
    assert (run.config["task"], run.config["loss"]) == ("regression", "mse")
    assert {"mae", "val_mae"} <= set(run.metrics)
    folder = runs / run.id
    assert not (folder / "boundary.png").exists() and not (folder / "confusion.png").exists()
    assert_png(folder / "history.png", PNG_SHAPES["history.png"])
    model = scratchnn.load_model(folder / "model.snn")
    assert model.layers[-1].get_config()["activation"] == "linear"


def test_train_on_digits_uses_softmax_and_draws_a_10_class_confusion_matrix(tmp_path):
    runs = tmp_path / "runs"
    out = tmp_path / "digits-run"
    result = scratchnn_cli("train", "digits", "--n-samples", "300", "--epochs", "2", "--layers",
                           "16", "--quiet", "--out", out, cwd=tmp_path, runs=runs)  # fmt: skip
    assert result.returncode == 0, result.stderr
    [run] = RunStore(runs).list_runs()
    assert run.config["task"] == "multiclass" and run.config["classes"] == list(range(10))
    assert run.model_path == str(out / "model.snn")  # --out replaces the run folder
    model = scratchnn.load_model(out / "model.snn")
    assert model.layers[-1].get_config()["activation"] == "softmax"
    assert_png(out / "confusion.png", PNG_SHAPES["confusion.png"])
    assert not (out / "boundary.png").exists()  # 64 inputs: no plane to draw


@pytest.mark.skipif(not (SHARED / "mnist.npz").is_file(), reason="no shared mnist.npz")
def test_train_reads_mnist_from_scratchnn_data(tmp_path):
    runs = tmp_path / "runs"
    result = scratchnn_cli("train", "mnist", "--n-samples", "300", "--epochs", "1", "--quiet",
                           cwd=tmp_path, runs=runs, SCRATCHNN_DATA=str(SHARED))  # fmt: skip
    assert result.returncode == 0, result.stderr
    [run] = RunStore(runs).list_runs()
    assert run.config["n_features"] == 784 and run.config["n_train"] == 240


DIGITS_CONVNET = """
[[layers]]
class_name = "Input"
config = { shape = [8, 8, 1] }

[[layers]]
class_name = "Conv2D"
config = { filters = 4, kernel_size = 3, padding = "same", activation = "relu" }

[[layers]]
class_name = "MaxPooling2D"

[[layers]]
class_name = "Flatten"

[[layers]]
class_name = "Dense"
config = { units = 10, activation = "softmax" }
"""


def test_train_with_a_model_spec_reshapes_rows_to_images_and_predict_uses_it(tmp_path):
    spec = tmp_path / "convnet.toml"
    spec.write_text(DIGITS_CONVNET)
    runs, out = tmp_path / "runs", tmp_path / "conv-run"
    result = scratchnn_cli("train", "digits", "--model", spec, "--n-samples", "300", "--epochs",
                           "2", "--quiet", "--out", out, cwd=tmp_path, runs=runs)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "convnet.toml layers/softmax" in result.stdout
    [run] = RunStore(runs).list_runs()
    assert run.config["model_spec"] == str(spec)
    assert run.config["layers"] == ["Input", "Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    model = scratchnn.load_model(out / "model.snn")
    assert model.input_shape == (8, 8, 1) and model.output_shape == (10,)
    X = datasets.load_digits()[0]
    rows = write_csv(tmp_path / "rows.csv", [f"x{i + 1}" for i in range(64)], X[:5])
    result = scratchnn_cli("predict", out / "model.snn", rows, "--proba", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    proba = np.array([[float(v) for v in line.split(",")]
                      for line in result.stdout.strip().splitlines()[1:]])
    assert proba.shape == (5, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_a_json_spec_in_get_config_form_is_accepted(tmp_path):
    from scratchnn import Sequential
    from scratchnn.layers import Dense, Input

    spec = tmp_path / "mlp.json"
    model = Sequential([Input((2,)), Dense(4, activation="tanh"), Dense(1, activation="sigmoid")])
    spec.write_text(json.dumps(model.get_config()))
    result = scratchnn_cli("train", *MOONS, "--model", spec, "--epochs", "2", "--quiet",
                           cwd=tmp_path, runs=tmp_path / "runs")  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_the_shipped_mnist_convnet_spec_is_keras_simple_convnet():
    from scratchnn.cli._spec import model_from_spec

    model = model_from_spec(Path(__file__).parents[1] / "examples/models/mnist_convnet.toml", 0)
    assert model.input_shape == (28, 28, 1) and model.count_params() == 34_826


@pytest.mark.parametrize(
    ("text", "suffix", "fragments"),
    [
        (DIGITS_CONVNET.replace("units = 10", "units = 3"), ".toml",
         ["outputs have shape (3,)", "needs (10,)", "Dense(10, activation='softmax')"]),
        (DIGITS_CONVNET.replace("[8, 8, 1]", "[28, 28, 1]"), ".toml",
         ["samples of shape (28, 28, 1) (784 values)", "64 features per row"]),
        (DIGITS_CONVNET.replace('"Conv2D"', '"Conv3D"'), ".toml", ["layer 2 must be", "Conv2D"]),
        (DIGITS_CONVNET.replace("[8, 8, 1]", "[64]"), ".toml",
         ["expects samples of shape (height, width, channels)", "(64,)"]),
        ("[1, 2", ".json", ["model spec", "convnet.json"]),
        ("{}", ".yaml", ["must end in .toml or .json"]),
    ],
)
def test_bad_model_specs_end_with_one_error_line(tmp_path, text, suffix, fragments):
    spec = tmp_path / f"convnet{suffix}"
    spec.write_text(text)
    result = scratchnn_cli("train", "digits", "--model", spec, "--n-samples", "100", "--epochs",
                           "1", "--quiet", cwd=tmp_path, runs=tmp_path / "runs")  # fmt: skip
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "runs").exists() or not RunStore(tmp_path / "runs").list_runs()


def test_model_spec_and_layers_together_is_a_usage_error(tmp_path):
    spec = tmp_path / "convnet.toml"
    spec.write_text(DIGITS_CONVNET)
    result = scratchnn_cli("train", "digits", "--model", spec, "--layers", "8",
                           cwd=tmp_path, runs=tmp_path / "runs")  # fmt: skip
    assert_one_line_error(result, "drop --layers", code=2)


# --- predict ------------------------------------------------------------------------------------


def test_predict_round_trip_matches_the_model_on_new_rows(moons_run, tmp_path):
    run = moons_run.run()
    X, y = datasets.get("moons", n_samples=50, noise=0.2, seed=11)
    new = write_csv(tmp_path / "new.csv", ["x1", "x2", "y"], np.column_stack([X, y]))
    result = scratchnn_cli("predict", run.model_path, new, "--output", tmp_path / "pred.csv",
                           cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Wrote 50 predictions" in result.stderr
    with (tmp_path / "pred.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["y"]
    labels = np.array([int(r[0]) for r in rows[1:]])
    # The same model, in this process, with the training split's scaling.
    prep = json.loads((Path(run.model_path).parent / "preprocess.json").read_text())
    scaled = (X - prep["scaler"]["mean"]) / np.asarray(prep["scaler"]["scale"])
    expected = (scratchnn.load_model(run.model_path).predict(scaled)[:, 0] > 0.5).astype(int)
    np.testing.assert_array_equal(labels, expected)
    assert np.mean(labels == y) > 0.6

    proba = scratchnn_cli("predict", run.model_path, new, "--proba", cwd=tmp_path)
    assert proba.returncode == 0, proba.stderr
    lines = proba.stdout.strip().splitlines()
    assert lines[0] == "proba_0,proba_1" and len(lines) == 51
    p = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(p.argmax(axis=1), labels)


def test_train_and_predict_on_a_csv_by_column_names_and_labels(tmp_path):
    X, y = datasets.get("blobs", n_samples=150, noise=0.3, seed=2, n_classes=3)
    labels = np.array([3, 5, 7])[y]  # labels that are not 0..K-1
    data = write_csv(tmp_path / "data.csv", ["kind", "a", "b"], np.column_stack([labels, X]))
    runs = tmp_path / "runs"
    result = scratchnn_cli("train", data, "--target", "kind", "--epochs", "30", "--quiet",
                           "--lr", "0.05", cwd=tmp_path, runs=runs)  # fmt: skip
    assert result.returncode == 0, result.stderr
    [run] = RunStore(runs).list_runs()
    assert run.config["task"] == "multiclass" and run.config["classes"] == [3, 5, 7]
    assert_png(runs / run.id / "boundary.png", PNG_SHAPES["boundary.png"])
    # New rows with the columns in another order and no target: matched by name.
    new = write_csv(tmp_path / "new.csv", ["b", "a"], X[:40, ::-1])
    pred = scratchnn_cli("predict", run.model_path, new, cwd=tmp_path)
    assert pred.returncode == 0, pred.stderr
    got = np.array([int(v) for v in pred.stdout.split()[1:]])
    assert pred.stdout.startswith("kind\n") and set(got) <= {3, 5, 7}
    assert np.mean(got == labels[:40]) > 0.8
    wrong = write_csv(tmp_path / "wrong.csv", ["a", "c"], X[:5])
    assert_one_line_error(scratchnn_cli("predict", run.model_path, wrong, cwd=tmp_path),
                          "lacks ['b']", "a, b")  # fmt: skip


# --- runs ---------------------------------------------------------------------------------------


def test_runs_lists_compares_sorts_and_shows_runs(moons_run):
    """A second run beside the shared one (tests read the shared one by id, not as the only)."""
    runs, cwd = moons_run.runs, moons_run.runs.parent
    result = scratchnn_cli("train", *MOONS, "--epochs", "8", "--lr", "0.05", "--quiet",
                           "--layers", "", cwd=cwd, runs=runs)  # fmt: skip
    assert result.returncode == 0, result.stderr
    stored = RunStore(runs).list_runs()
    assert [run.id for run in stored][1] == moons_run.run_id
    table = scratchnn_cli("runs", cwd=cwd, runs=runs)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.strip().splitlines()
    assert header.split() == ["id", "dataset", "layers", "act", "optimizer", "lr", "epochs",
                              "status", "loss", "val_loss", "acc", "val_acc", "fit_s"]  # fmt: skip
    assert [row.split()[0] for row in rows] == [run.id for run in stored]  # newest first
    assert rows[0].split()[1:8] == ["moons", "none", "tanh", "adam", "0.05", "8", "finished"]
    assert rows[1].split()[1:8] == ["moons", "6,4", "tanh", "adam", "0.01", "6", "finished"]
    acc = stored[0].metrics["accuracy"]
    assert rows[0].split()[10:12] == [f"{100 * acc:.2f}", "%"]  # as train prints it

    best = max(stored, key=lambda run: run.metrics["val_accuracy"])
    top = scratchnn_cli("runs", "list", "--sort", "-val_acc", "--limit", "1",
                        cwd=cwd, runs=runs)  # fmt: skip
    assert [row.split()[0] for row in top.stdout.strip().splitlines()[1:]] == [best.id]
    none = scratchnn_cli("runs", "--status", "failed", cwd=cwd, runs=runs)
    assert none.returncode == 0 and "No trained runs in" in none.stdout

    show = scratchnn_cli("runs", "show", stored[0].id[:12], cwd=cwd, runs=runs)
    assert show.returncode == 0, show.stderr
    text = show.stdout
    assert text.startswith(f"Run {stored[0].id}  (finished)")
    for part in ("Config", "lr                 0.05", "Final metrics", "val_accuracy",
                 "Timings (s)", "fit_seconds", "History (8 epochs)", stored[0].model_path):
        assert part in text, part  # fmt: skip
    as_json = scratchnn_cli("runs", "show", moons_run.run_id, "--json", cwd=cwd, runs=runs)
    assert json.loads(as_json.stdout)["config"]["layers"] == [6, 4]


TINY_SWEEP = """\
[sweep]
name = "tiny"
history_points = 4
[data]
name = "moons"
n_samples = 100
seed = 0
[model]
layers = [{ class_name = "Dense", units = 3, activation = "tanh", input_dim = 2 },
          { class_name = "Dense", units = 1, activation = "sigmoid" }]
[compile]
optimizer = { name = "sgd", learning_rate = 0.5 }
loss = "binary_crossentropy"
metrics = ["accuracy"]
[fit]
batch_size = "full"
[params]
activation = { path = "model.layers[0].activation", values = ["tanh", "relu"] }
epochs = { path = "fit.epochs", values = [5, 40] }
"""


def test_runs_lists_trained_runs_and_groups_sweep_trials_under_their_sweep(tmp_path):
    runs = tmp_path / "runs"
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SWEEP)
    swept = scratchnn_cli("sweep", "run", spec, "--executor", "inline", "--quiet",
                          "--runs-dir", runs, cwd=tmp_path)  # fmt: skip
    assert swept.returncode == 0, swept.stderr
    trained = scratchnn_cli("train", *MOONS, "--epochs", "2", "--quiet", cwd=tmp_path, runs=runs)
    assert trained.returncode == 0, trained.stderr
    with RunStore(runs) as store:
        [train_run] = store.list_runs(name="train")
        trials = store.list_runs(sweep_id="tiny")

    default = scratchnn_cli("runs", cwd=tmp_path, runs=runs).stdout.splitlines()
    assert [line.split()[0] for line in default[1:2]] == [train_run.id]  # trained runs only
    sweep_line = next(line for line in default if line.startswith("tiny "))
    best = max(run.metrics["dev_acc"] for run in trials)
    assert sweep_line.split()[1:4] == ["4", "4", "0"]
    assert f"dev_acc {100 * best:.2f} %" in sweep_line
    assert "scratchnn runs --sweep NAME" in default[-1]

    listed = scratchnn_cli("runs", "--sweep", "tiny", "--sort", "epochs", cwd=tmp_path, runs=runs)
    _, *rows = listed.stdout.strip().splitlines()
    assert len(rows) == 4 and "-" not in [cell for row in rows for cell in row.split()]
    cells = [row.split() for row in rows]
    assert {tuple(c[1:4]) for c in cells} == {("moons", "3", "tanh"), ("moons", "3", "relu")}
    assert {(c[4], c[5]) for c in cells} == {("sgd", "0.5")}
    assert [c[6] for c in cells] == ["5", "5", "40", "40"]  # epochs, not history rows
    for c in cells:
        run = next(r for r in trials if r.id == c[0])
        assert c[12] == f"{100 * run.metrics['dev_acc']:.2f}"  # val_acc: the dev set
    assert scratchnn_cli("runs", "--kind", "trial", cwd=tmp_path, runs=runs
                         ).stdout.count("\n") == 5  # fmt: skip
    assert len(scratchnn_cli("runs", "--kind", "all", cwd=tmp_path, runs=runs
                             ).stdout.strip().splitlines()) == 6  # fmt: skip

    long_trial = next(r for r in trials if r.metrics["epochs_run"] == 40)
    show = scratchnn_cli("runs", "show", long_trial.id, cwd=tmp_path, runs=runs).stdout
    assert "History (40 epochs, 5 of them logged)" in show  # epochs 0, 10, 20, 30, 39
    assert f"dev_acc     {100 * long_trial.metrics['dev_acc']:.2f} %" in show
    unknown = scratchnn_cli("runs", "--sweep", "nope", cwd=tmp_path, runs=runs)
    assert_one_line_error(unknown, "no sweep 'nope'", "tiny")


def test_runs_on_an_empty_location_says_so_and_creates_nothing(tmp_path):
    result = scratchnn_cli("runs", cwd=tmp_path, runs=tmp_path / "none")
    assert result.returncode == 0 and "nothing recorded there yet" in result.stdout
    assert not (tmp_path / "none").exists()


# --- how runs end -------------------------------------------------------------------------------


def test_a_sigkilled_train_leaves_no_model_file_and_reads_interrupted(tmp_path):
    runs = tmp_path / "runs"
    proc = start_cli("train", "moons", "--n-samples", "2000", "--epochs", "100000", "--quiet",
                     cwd=tmp_path, runs=runs)  # fmt: skip
    try:
        run_id = wait_for_epochs(runs / "runs.sqlite", 3, proc)
        proc.kill()  # SIGKILL: no handler runs
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (runs / run_id).exists()  # the folder is made when there is something to write
    [run] = RunStore(runs).list_runs()
    assert run.status == "interrupted" and "ended without finishing" in run.error
    assert len(run.epochs) >= 3 and run.model_path is None
    table = scratchnn_cli("runs", cwd=tmp_path, runs=runs)
    assert "interrupted" in table.stdout and "100000" in table.stdout


def test_ctrl_c_saves_the_last_completed_epochs_model_and_marks_the_run_interrupted(tmp_path):
    runs = tmp_path / "runs"
    args = ["moons", "--n-samples", "2000", "--batch-size", "8", "--seed", "5"]
    proc = start_cli("train", *args, "--epochs", "100000", cwd=tmp_path, runs=runs)
    try:
        wait_for_epochs(runs / "runs.sqlite", 2, proc)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    stopped, interrupted = [line for line in stderr.splitlines() if line]
    assert interrupted == "Interrupted." and "Traceback" not in stderr  # nothing printed after
    [run] = RunStore(runs, auto_reap=False).list_runs()  # recorded by the process itself
    assert run.status == "interrupted" and run.error.startswith("KeyboardInterrupt")
    epoch = int(stopped.split("after epoch ")[1].split(":")[0])
    assert stopped == f"Stopped after epoch {epoch}: its model is saved in {runs / run.id}."
    assert epoch <= len(run.epochs) and run.model_path == str(runs / run.id / "model.snn")
    assert sorted(p.name for p in (runs / run.id).iterdir()) == ["model.snn", "preprocess.json"]
    # It is the model of that epoch: the same training stopped there gives the same weights.
    again = scratchnn_cli("train", *args, "--epochs", epoch, "--quiet", "--out", tmp_path / "ref",
                          cwd=tmp_path, runs=tmp_path / "ref-runs")  # fmt: skip
    assert again.returncode == 0, again.stderr
    saved = scratchnn.load_model(run.model_path).get_weights()
    reference = scratchnn.load_model(tmp_path / "ref" / "model.snn").get_weights()
    for got, want in zip(saved, reference, strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_diverging_train_is_recorded_as_failed(tmp_path):
    runs = tmp_path / "runs"
    result = scratchnn_cli("train", "plane", "--optimizer", "sgd", "--lr", "10", "--epochs", "5",
                           "--quiet", cwd=tmp_path, runs=runs)  # fmt: skip
    assert_one_line_error(result, "Training diverged", "Lower the learning rate")
    [run] = RunStore(runs).list_runs()
    assert run.status == "failed" and run.error.startswith("TrainingError: Training diverged")
    assert not (runs / run.id / "model.snn").exists()


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragments", "code"),
    [
        (["train", "nope"], ["unknown data set 'nope'", "moons", "spiral", "CSV"], 1),
        (["train", "moons", "--layers", "8,x"], ["--layers", "'8,x'"], 2),
        (["train", "moons", "--lr", "-1"], ["--lr", "-1"], 2),
        (["train", "moons", "--epochs", "0"], ["--epochs", "0"], 2),
        (["train", "moons", "--val-split", "1.5"], ["--val-split", "1.5"], 2),
        (["train", "moons", "--optimizer", "adamm"], ["--optimizer", "adamm", "adam"], 2),
        (["train", "digits", "--noise", "0.1"], ["--noise", "digits"], 1),
        (["train", "moons", "--target", "y"], ["--target"], 1),
        (["train", "missing.csv"], ["No such CSV file", "missing.csv"], 1),
        (["runs", "--sort", "speed"], ["--sort", "speed", "val_acc"], 1),
        (["runs", "show", "zzzz"], ["no run 'zzzz'"], 1),
        (["predict", "nothing.snn", "x.csv"], ["No such model file", "nothing.snn"], 1),
        (["frobnicate"], ["No such command", "frobnicate"], 2),
    ],
)
def test_bad_input_ends_with_one_error_line(tmp_path, args, fragments, code):
    result = scratchnn_cli(*args, cwd=tmp_path, runs=tmp_path / "runs")
    assert_one_line_error(result, *fragments, code=code)


def test_csv_with_missing_or_non_numeric_cells_names_row_and_column(tmp_path, moons_run):
    missing = tmp_path / "missing.csv"
    missing.write_text("x1,x2,y\n0.5,1.0,0\n0.1,,1\n")
    text = tmp_path / "text.csv"
    text.write_text("x1,x2,y\n0.5,1.0,0\n0.2,0.3,1\n\n0.1,abc,1\n")
    for path, what in ((missing, "is empty"), (text, "holds 'abc', not a number")):
        line = 3 if path is missing else 5
        expected = [f"row {2 if path is missing else 3} (line {line})", "column 'x2'", what]
        result = scratchnn_cli("train", path, cwd=tmp_path, runs=tmp_path / "runs")
        assert_one_line_error(result, path.name, *expected)
        run = moons_run.run()
        result = scratchnn_cli("predict", run.model_path, path, cwd=tmp_path)
        assert_one_line_error(result, *expected)
    assert not (tmp_path / "runs").exists() or RunStore(tmp_path / "runs").list_runs() == []


def test_a_file_that_is_not_a_model_is_refused_with_the_io_message(tmp_path, moons_run):
    run = moons_run.run()
    png = Path(run.model_path).parent / "history.png"
    rows = write_csv(tmp_path / "rows.csv", ["x1", "x2"], np.zeros((2, 2)))
    result = scratchnn_cli("predict", png, rows, cwd=tmp_path)
    assert_one_line_error(result, "not a scratchnn model file", "PNG image")
    text = tmp_path / "model.snn"
    text.write_text("hello")
    assert_one_line_error(scratchnn_cli("predict", text, rows, cwd=tmp_path), "model.snn")


def test_a_locked_run_store_is_reported_after_the_lock_timeout(tmp_path):
    runs = tmp_path / "runs"
    RunStore(runs).close()
    holder = sqlite3.connect(runs / "runs.sqlite", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        result = scratchnn_cli("train", *MOONS, "--epochs", "1", "--quiet", "--lock-timeout",
                               "0.3", cwd=tmp_path, runs=runs)  # fmt: skip
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_one_line_error(result, "stayed locked", "runs.sqlite")
    assert RunStore(runs).list_runs() == []


def test_a_run_store_from_a_newer_scratchnn_is_refused(tmp_path):
    newer = tmp_path / "newer"
    newer.mkdir()
    with sqlite3.connect(newer / "runs.sqlite") as conn:
        conn.execute("PRAGMA user_version = 99")
    for args in (["runs"], ["train", *MOONS, "--epochs", "1"]):
        result = scratchnn_cli(*args, "--runs-dir", newer, cwd=tmp_path)
        assert_one_line_error(result, "newer scratchnn", "schema 99")


# --- reproduce, demo, the group -----------------------------------------------------------------


def test_reproduce_runs_a_real_study_and_writes_its_report(tmp_path):
    out = tmp_path / "report"
    result = scratchnn_cli("reproduce", "003", "--quick", "--out", out, "--format", "html",
                           cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "== Study 003 (quick)"
    assert any(line.startswith("003: ") for line in lines)  # progress, as it comes
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["study", "figure"])
    rows = lines[header + 1 : -1]
    assert rows and all(row.startswith(("003 ", "     ")) for row in rows)  # long cells wrap
    assert max(len(line) for line in lines[header:]) <= 100
    assert any(v in row for row in rows for v in ("matched", "beaten", "not matched", "shown"))
    assert lines[-1] == f"Report: {out / 'report.html'}"
    assert (out / "report.html").is_file() and list(out.glob("003_*.png"))


def test_reproduce_full_is_study_000s_and_excludes_quick(tmp_path):
    both = scratchnn_cli("reproduce", "000", "--full", "--quick", cwd=tmp_path)
    assert_one_line_error(both, "--full and --quick")
    other = scratchnn_cli("reproduce", "003", "--full", cwd=tmp_path)
    assert_one_line_error(other, "--full applies to studies 000 and 004")


def test_reproduce_rejects_an_unknown_study_listing_the_known_ones(tmp_path):
    result = scratchnn_cli("reproduce", "007", "--quick", cwd=tmp_path)
    assert_one_line_error(result, "unknown study '007'", "000", "004", "all")


def stand_in_studies(monkeypatch: pytest.MonkeyPatch, calls: list[dict]) -> None:
    """Put a two-study ``scratchnn.studies`` with the real package's API into ``sys.modules``."""
    studies = types.ModuleType("scratchnn.studies")
    report = types.ModuleType("scratchnn.studies.report")

    def make(key: str):
        def run(out_dir, quick=False, seed=0, progress=None):
            calls.append({"study": key, "out_dir": out_dir, "quick": quick, "seed": seed})
            progress(f"{key}: accuracy  tutorial 93.6 %  ours 94.1 %  matched")
            figure = SimpleNamespace(name=f"accuracy {key}", tutorial="93.6 %", ours="94.1 %",
                                     verdict="matched", value=0.941, target=0.936,
                                     tolerance=0.01, higher_is_better=True)  # fmt: skip
            return SimpleNamespace(study=key, title=f"Study {key}", figures=[figure], images=[],
                                   notes=[], seconds=0.5)  # fmt: skip

        return run

    def write_report(results, out_dir, fmt):
        path = Path(out_dir) / f"report.{fmt}"
        path.write_text("\n".join(r.study for r in results))
        return path

    studies.STUDIES = {"000": make("000"), "003": make("003")}
    report.write_report = write_report
    studies.report = report
    monkeypatch.setitem(sys.modules, "scratchnn.studies", studies)
    monkeypatch.setitem(sys.modules, "scratchnn.studies.report", report)


def test_reproduce_runs_each_study_prints_its_figures_and_writes_the_report(
    monkeypatch, tmp_path
):
    """The wiring, in process, against a stand-in with the studies package's API."""
    calls: list[dict] = []
    stand_in_studies(monkeypatch, calls)
    out = tmp_path / "report"
    result = CliRunner().invoke(
        main, ["reproduce", "all", "--quick", "--out", str(out), "--format", "html"]
    )
    assert result.exit_code == 0, result.output
    assert [c["study"] for c in calls] == ["000", "003"]
    assert all(c["quick"] and c["seed"] == 0 and c["out_dir"] == out for c in calls)
    lines = result.stdout.splitlines()
    assert "000: accuracy  tutorial 93.6 %  ours 94.1 %  matched" in lines  # as it comes
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["study", "figure"])
    assert lines[header + 1].split() == ["000", "accuracy", "000", "93.6", "%", "94.1", "%",
                                         "matched"]  # fmt: skip
    assert max(len(line) for line in lines) <= 100  # fits a 100-column terminal
    assert lines[-1] == f"Report: {out / 'report.html'}"
    assert (out / "report.html").read_text() == "000\n003"

    one = CliRunner().invoke(main, ["reproduce", "003", "--out", str(out)])
    assert one.exit_code == 0 and calls[-1] == {"study": "003", "out_dir": out, "quick": False,
                                                "seed": 0}  # fmt: skip
    unknown = CliRunner().invoke(main, ["reproduce", "007"])
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == "Error: unknown study '007'. Known studies: 000, 003, all."


def test_demo_still_runs_and_refuses_meaningless_sizes(tmp_path):
    result = scratchnn_cli("demo", "--samples", "200", "--iterations", "30", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "fresh draw N=500" in result.stdout
    for option in ("--samples", "--iterations", "--hidden", "--lr"):
        assert_one_line_error(scratchnn_cli("demo", option, "0", cwd=tmp_path), option, code=2)


def test_help_and_version(tmp_path):
    result = scratchnn_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("train", "runs", "predict", "reproduce", "demo"):
        assert command in result.stdout
    version = scratchnn_cli("--version", cwd=tmp_path)
    assert version.stdout.strip() == f"scratchnn, version {scratchnn.__version__}"
