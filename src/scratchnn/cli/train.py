"""``scratchnn train``: fit a network on a data set, save it with its plots, record the run.

The steps, in order: open the run store, load the data, split off the validation rows, fit a
``StandardScaler`` on the training rows, build and compile the network, start a run, fit (each
epoch logged to the run), evaluate, save ``preprocess.json`` and ``model.snn`` (atomic writes),
draw the plots, finish the run. Bad input fails before the run starts, so it leaves no run.

Shape legend: N rows, D features, K classes.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import click
import numpy as np

from scratchnn import activations, callbacks, optimizers
from scratchnn.cli._common import LAYERS, TrainingError, open_store, store_options
from scratchnn.cli._data import (
    MAX_AUTO_CLASSES,
    MIN_ROWS,
    PREPROCESS_FILE,
    Preprocess,
    Table,
    load_table,
    plain_label,
    synthetic_defaults,
)
from scratchnn.cli._spec import model_from_spec

MODEL_FILE = "model.snn"
HISTORY_PNG = "history.png"
BOUNDARY_PNG = "boundary.png"
CONFUSION_PNG = "confusion.png"
PNG_SIZES = {HISTORY_PNG: (10.0, 4.0), BOUNDARY_PNG: (6.0, 4.5), CONFUSION_PNG: (5.0, 4.5)}
"""Figure size of each plot in inches; at 100 dpi, 1000 x 400, 600 x 450 and 500 x 450 pixels."""

_SYNTHETIC = {name: synthetic_defaults(name) for name in ("moons", "circles", "xor", "blobs",
                                                         "spiral", "plane")}  # fmt: skip
HIDDEN_ACTIVATIONS = [n for n in activations.ACTIVATIONS if n not in ("softmax", "log_softmax")]
LOSS_CHOICES = ["auto", "binary_crossentropy", "sparse_categorical_crossentropy", "mse", "mae",
                "huber"]  # fmt: skip
_LOSS_TASK = {
    "binary_crossentropy": "binary",
    "sparse_categorical_crossentropy": "multiclass",
    "mse": "regression",
    "mae": "regression",
    "huber": "regression",
}
_DEFAULT_LOSS = {
    "binary": "binary_crossentropy",
    "multiclass": "sparse_categorical_crossentropy",
    "regression": "mse",
}
_OUTPUT_ACTIVATION = {"binary": "sigmoid", "multiclass": "softmax", "regression": "linear"}


# --- the data -----------------------------------------------------------------------------------


def infer_task(y: np.ndarray, loss: str = "auto") -> str:
    """``"binary"``, ``"multiclass"`` or ``"regression"``, from the loss or else the target.

    With ``loss="auto"``: a target of text labels, or of whole numbers with 2 distinct values
    (text: any number) is binary, with 3 to :data:`MAX_AUTO_CLASSES` values multi-class;
    anything else is regression.

        >>> infer_task(np.array([0, 1, 1])), infer_task(np.array([0.5, 1.5, 2.0]))
        ('binary', 'regression')
    """
    text = y.dtype.kind in "USO"  # labels such as "yes" / "no"
    if loss != "auto":
        if text and _LOSS_TASK[loss] == "regression":
            raise ValueError(
                f"--loss {loss} needs a numeric target; this target holds text labels such as "
                f"{str(y[0])!r}. Use a classification loss (or --loss auto)."
            )
        return _LOSS_TASK[loss]
    values = np.unique(y)
    if text:
        return "binary" if len(values) == 2 else "multiclass"
    whole = bool(np.all(values == np.round(values)))
    if whole and len(values) == 2:
        return "binary"
    if whole and 2 < len(values) <= MAX_AUTO_CLASSES:
        return "multiclass"
    return "regression"


@dataclass(frozen=True)
class Split:
    """Training and validation rows: raw features, scaled features, encoded targets.

    ``x_*`` are the scaled ``(N, D)`` inputs the network sees, ``raw_*`` the same rows unscaled
    (for plots), ``y_*`` class indices ``0..K-1`` (classification) or values (regression). The
    validation arrays are ``None`` when ``--val-split 0``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    raw_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    raw_val: np.ndarray | None
    prep: Preprocess


def prepare(table: Table, task: str, val_split: float, seed: int) -> Split:
    """Encode the target, split off ``val_split`` of the rows, and scale on the training rows.

    Classification splits are stratified when every class can appear on both sides.

    Raises:
        ValueError: a target with one value, more than 2 classes for a binary loss, too few rows.
    """
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelEncoder, StandardScaler

    y = table.y
    if len(y) < MIN_ROWS:
        raise ValueError(
            f"{table.name} has {len(y)} rows; training needs at least {MIN_ROWS} (with "
            f"--val-split {val_split:g}, {math.ceil(val_split * len(y))} of them for validation)."
            " Draw more (--n-samples) or use a larger file."
        )
    classes: tuple[Any, ...] = ()
    if task != "regression":
        encoder = LabelEncoder().fit(y)
        classes = tuple(plain_label(c) for c in encoder.classes_)
        if len(classes) < 2:
            raise ValueError(
                f"the target {table.target!r} has a single value ({classes[0]}); a classifier "
                "needs at least two classes."
            )
        if task == "binary" and len(classes) > 2:
            raise ValueError(
                f"--loss binary_crossentropy needs a target with two classes; {table.target!r} "
                f"has {len(classes)}. Use sparse_categorical_crossentropy (or --loss auto)."
            )
        y = encoder.transform(y)
    y = np.asarray(y, dtype=np.int64 if task != "regression" else np.float64)
    if val_split > 0:
        counts = np.bincount(y) if task != "regression" else np.array([])
        n_val = math.ceil(val_split * len(y))
        stratify = (
            y
            if len(counts) and counts.min() >= 2 and min(n_val, len(y) - n_val) >= len(counts)
            else None
        )
        raw_train, raw_val, y_train, y_val = train_test_split(
            table.X, y, test_size=val_split, random_state=seed, stratify=stratify
        )
    else:
        raw_train, raw_val, y_train, y_val = table.X, None, y, None
    scaler = StandardScaler().fit(raw_train)
    prep = Preprocess(
        feature_names=table.feature_names,
        target=table.target,
        task=task,
        classes=classes,
        mean=tuple(float(v) for v in scaler.mean_),
        scale=tuple(float(v) for v in scaler.scale_),
        dataset=table.name,
    )
    x_val = None if raw_val is None else prep.transform(raw_val)
    return Split(prep.transform(raw_train), y_train, raw_train, x_val, y_val, raw_val, prep)


# --- the network --------------------------------------------------------------------------------


def build_model(
    n_features: int,
    layers: tuple[int, ...],
    activation: str,
    task: str,
    n_classes: int,
    seed: int,
) -> Any:
    """A ``Sequential`` MLP: the hidden ``layers`` then the output layer the task calls for.

    Binary: one sigmoid unit; multi-class: ``n_classes`` softmax units; regression: one linear
    unit.
    """
    from scratchnn.models import build_model as build

    sizes = [*layers, n_classes if task == "multiclass" else 1]
    acts = [activation] * len(layers) + [_OUTPUT_ACTIVATION[task]]
    entries = [
        {"class_name": "Dense", "units": units, "activation": act,
         **({"input_dim": n_features} if i == 0 else {})}
        for i, (units, act) in enumerate(zip(sizes, acts, strict=True))
    ]
    return build({"layers": entries, "seed": seed})


def fit_spec_model(model: Any, split: Split, task: str, n_classes: int, spec: Path) -> Split:
    """Check a model read from a spec against the data; rows reshaped to its sample shape.

    A model without a declared input shape is built for the ``(D,)`` rows.

    Raises:
        ValueError: a sample shape that does not hold ``D`` values, or an output that does not
            fit the task (K units for K classes, 1 otherwise).
    """
    d = split.x_train.shape[1]
    if model.input_shape is None:
        model.build((d,))
    shape = tuple(model.input_shape)
    if math.prod(shape) != d:
        raise ValueError(
            f"model spec {spec}: the model takes samples of shape {shape} ({math.prod(shape)} "
            f"values); the data has {d} features per row. Declare an Input whose shape holds "
            f"{d} values (e.g. [28, 28, 1] for 784 pixels)."
        )
    expected = (n_classes,) if task == "multiclass" else (1,)
    if tuple(model.output_shape) != expected:
        unit = f"Dense({expected[0]}, activation='{_OUTPUT_ACTIVATION[task]}')"
        raise ValueError(
            f"model spec {spec}: the model's outputs have shape {tuple(model.output_shape)}; "
            f"this {task} target needs {expected} (end the spec with {unit})."
        )
    if len(shape) == 1:
        return split
    x_val = None if split.x_val is None else split.x_val.reshape(-1, *shape)
    return dataclasses.replace(split, x_train=split.x_train.reshape(-1, *shape), x_val=x_val)


class RunLogger(callbacks.Callback):
    """Record each epoch's logs (loss, metrics, ``val_`` twins) in a run of the run store."""

    def __init__(self, run: Any) -> None:
        super().__init__()
        self.run = run

    def on_epoch_end(self, epoch: int, logs: callbacks.Logs = None) -> None:
        """Append this epoch to the run's history."""
        self.run.log_epoch(epoch, dict(logs or {}))


class LastEpoch(callbacks.Callback):
    """Keep a copy of the weights at the end of each epoch (what Ctrl-C saves)."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch: int | None = None
        self.weights: list[np.ndarray] | None = None

    def on_epoch_end(self, epoch: int, logs: callbacks.Logs = None) -> None:
        """Copy the weights of the epoch just completed."""
        self.weights = self.model.get_weights()
        self.epoch = epoch


class FitRows(Protocol):
    """The rows :func:`_fit` trains on: a :class:`Split`, or a language model's windows."""

    @property
    def x_train(self) -> np.ndarray: ...
    @property
    def y_train(self) -> np.ndarray: ...
    @property
    def x_val(self) -> np.ndarray | None: ...
    @property
    def y_val(self) -> np.ndarray | None: ...


def _fit(
    model: Any, split: FitRows, fit_args: dict[str, Any], run: Any, extra: Sequence[Any] = ()
) -> Any:
    """Fit, logging epochs to ``run``; other warnings are echoed as one line each.

    Raises:
        TrainingError: the loss diverged (the run is then recorded as failed).
    """
    val = None if split.x_val is None else (split.x_val, split.y_val)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            history = model.fit(
                split.x_train, split.y_train, validation_data=val,
                callbacks=[RunLogger(run), *extra], **fit_args,
            )  # fmt: skip
        finally:
            for callback in extra:  # a bar interrupted by Ctrl-C ends its line now
                getattr(callback, "close", lambda: None)()
    messages = [str(w.message) for w in caught]
    if model.stop_training and any(issubclass(w.category, RuntimeWarning) for w in caught):
        raise TrainingError(" ".join(messages))
    for message in messages:
        click.echo(f"Warning: {' '.join(message.split())}", err=True)
    return history


# --- plots --------------------------------------------------------------------------------------


def _plots(model: Any, split: Split, history: Any, run_dir: Path, title: str) -> list[Path]:
    """Write the history curves, and for classifiers the confusion matrix (validation rows, else
    training rows) and, for 2-D inputs, the decision boundary. Returns the files written."""
    from scratchnn import metrics, plotting

    written = [run_dir / HISTORY_PNG]
    plotting.plot_history(history, path=written[0], title=title, figsize=PNG_SIZES[HISTORY_PNG])
    prep = split.prep
    if prep.task == "regression":
        return written
    names = [str(c) for c in prep.classes]
    if split.raw_train.shape[1] == 2:
        written.append(run_dir / BOUNDARY_PNG)
        plotting.plot_decision_boundary(
            lambda X: model.predict(prep.transform(X)),
            split.raw_train, split.y_train, split.raw_val, split.y_val,
            title=f"Decision boundary: {title}", path=written[-1], class_names=names,
            feature_names=prep.feature_names, split_names=("train", "validation"),
            figsize=PNG_SIZES[BOUNDARY_PNG],
        )  # fmt: skip
    x, y, on_val = split.x_train, split.y_train, False
    if split.x_val is not None and split.y_val is not None:
        x, y, on_val = split.x_val, split.y_val, True
    cm = metrics.confusion_matrix(y, model.predict(x), num_classes=len(names))
    written.append(run_dir / CONFUSION_PNG)
    plotting.plot_confusion_matrix(
        cm, names, path=written[-1], figsize=PNG_SIZES[CONFUSION_PNG],
        title=f"Confusion matrix ({'validation' if on_val else 'training'} rows)",
    )  # fmt: skip
    return written


def _describe(logs: dict[str, float], prefix: str) -> str:
    """``loss 0.2345   accuracy 91.25 %`` from evaluate's logs."""
    from scratchnn import metrics

    return "   ".join(
        f"{name[len(prefix):]} {metrics.format_value(name, value)}" for name, value in logs.items()
    )


# --- the command --------------------------------------------------------------------------------


@click.command()
@click.argument("dataset")
@click.option("--layers", type=LAYERS, default="8,8", show_default=True,
              help="Hidden-layer sizes, comma-separated ('' for none).")
@click.option("--model", "model_spec", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A TOML or JSON file listing the layers, output layer included "
                   "({class_name, config} entries, as get_config writes them); replaces "
                   "--layers and --activation. See examples/models/.")
@click.option("--activation", type=click.Choice(HIDDEN_ACTIVATIONS), default="tanh",
              show_default=True, help="Activation of the hidden layers.")
@click.option("--optimizer", type=click.Choice(list(optimizers.OPTIMIZERS)), default="adam",
              show_default=True, help="Optimizer.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=0.01,
              show_default=True, help="Learning rate.")
@click.option("--epochs", type=click.IntRange(min=1), default=100, show_default=True,
              help="Passes over the training rows.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Rows per step (>= the training rows: full-batch gradient descent).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the data, the split, the weights and the shuffling.")
@click.option("--val-split", type=click.FloatRange(0, 1, max_open=True), default=0.2,
              show_default=True, help="Fraction of the rows held out for validation.")
@click.option("--loss", type=click.Choice(LOSS_CHOICES), default="auto", show_default=True,
              help="Loss; auto picks it (and the output layer) from the target.")
@click.option("--n-samples", type=click.IntRange(min=MIN_ROWS), default=None,
              help="Rows to draw (synthetic sets) or to keep at random (others). Default: "
                   + ", ".join(f"{name} {d['n_samples']}" for name, d in _SYNTHETIC.items())
                   + "; all rows of the others.")
@click.option("--noise", type=click.FloatRange(min=0), default=None,
              help="Noise of a synthetic data set. Default: "
                   + ", ".join(f"{name} {d['noise']:g}" for name, d in _SYNTHETIC.items())
                   + " (moons as tutorial 000 draws them).")
@click.option("--target", default=None, help="Target column of a CSV file (default: the last).")
@click.option("--task", type=click.Choice(["table", "language-model"]), default="table",
              show_default=True, help="language-model: DATASET is a text (or tinyshakespeare); "
              "a character-level LSTM is trained on it.")
@click.option("--seq-length", type=click.IntRange(min=1), default=100, show_default=True,
              help="Language model: characters per training window.")
@click.option("--embedding-dim", type=click.IntRange(min=1), default=64, show_default=True,
              help="Language model: size of the character embedding.")
@store_options
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for the model and plots (default: <runs-dir>/<run-id>).")
@click.option("--verbose", is_flag=True,
              help="One line per epoch instead of the progress bar.")
@click.option("--quiet", is_flag=True, help="No progress output during training.")
def train(
    dataset: str,
    layers: tuple[int, ...],
    model_spec: Path | None,
    activation: str,
    optimizer: str,
    lr: float,
    epochs: int,
    batch_size: int,
    seed: int,
    val_split: float,
    loss: str,
    n_samples: int | None,
    noise: float | None,
    target: str | None,
    task: str,
    seq_length: int,
    embedding_dim: int,
    runs_dir: Path | None,
    lock_timeout: float,
    out: Path | None,
    verbose: bool,
    quiet: bool,
) -> None:
    """Train a network on DATASET and record the run.

    DATASET is a registered data set (moons, circles, xor, blobs, spiral, plane, digits, churn,
    mnist) or a CSV file with a header row whose last column (or --target) is the target. The
    output layer and loss follow the target: two classes -> sigmoid and binary cross-entropy,
    more -> softmax and sparse categorical cross-entropy, real values -> linear and MSE.

    With --model SPEC the network is read from a TOML or JSON list of layers (e.g. the Keras
    MNIST convnet of examples/models/mnist_convnet.toml); rows are reshaped to the shape its
    Input declares, e.g. (28, 28, 1).

    Writes model.snn, preprocess.json and PNG plots into the run folder, and records config,
    per-epoch history, final metrics and timings in the run store (see 'scratchnn runs').
    Ctrl-C stops training, saves the model of the last completed epoch and records the run as
    interrupted.

    With --task language-model, DATASET is a UTF-8 text file (or tinyshakespeare, shipped with
    scratchnn): an Embedding -> LSTM (--layers, default 256) -> softmax network learns to predict
    the next character; see 'scratchnn generate' to sample from it.
    """
    if verbose and quiet:
        raise click.UsageError("--verbose and --quiet exclude each other.")
    if model_spec is not None:
        ctx = click.get_current_context()
        given = [
            f"--{name}" for name in ("layers", "activation")
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
        ]
        if task == "language-model":
            given.append("--task language-model (it builds its own network)")
        if given:
            raise click.UsageError(
                f"--model takes the whole network from its file; drop {' and '.join(given)}."
            )
    if task == "language-model":  # a separate recipe: scratchnn.cli.language_model
        from scratchnn.cli import language_model

        options = language_model.resolve_options(click.get_current_context(), locals())
        with open_store(runs_dir, lock_timeout) as store:
            language_model.train_language_model(dataset, options, store, out, verbose, quiet)
        return
    store = open_store(runs_dir, lock_timeout)
    with store:
        table = load_table(dataset, n_samples=n_samples, noise=noise, seed=seed, target=target)
        task = infer_task(table.y, loss)
        split = prepare(table, task, val_split, seed)
        prep = split.prep
        n_classes = len(prep.classes)
        if model_spec is None:
            model = build_model(table.X.shape[1], layers, activation, task, n_classes, seed)
        else:
            model = model_from_spec(model_spec, seed)
            split = fit_spec_model(model, split, task, n_classes, model_spec)
        loss_name = _DEFAULT_LOSS[task] if loss == "auto" else loss
        model.compile(
            optimizer=optimizers.OPTIMIZERS[optimizer](learning_rate=lr),
            loss=loss_name,
            metrics=["mae" if task == "regression" else "accuracy"],
        )
        sizes = [table.X.shape[1], *layers, n_classes if task == "multiclass" else 1]
        arch = "-".join(map(str, sizes))
        if model_spec is not None:
            arch, activation = model_spec.name, "layers"  # "<file> layers/<output activation>"
        n_val = 0 if split.y_val is None else len(split.y_val)
        config = {
            "dataset": table.name, "task": task, "layers": list(layers),
            "activation": activation, "output_activation": _OUTPUT_ACTIVATION[task],
            "optimizer": optimizer, "lr": lr, "epochs": epochs, "batch_size": batch_size,
            "seed": seed, "val_split": val_split, "loss": loss_name,
            **synthetic_defaults(table.name),  # what the data was drawn with, defaults included
            **({"n_samples": n_samples} if n_samples is not None else {}),
            **({"noise": noise} if noise is not None else {}),
            "target": table.target, "n_rows": len(table.y), "features": list(prep.feature_names),
            "n_features": table.X.shape[1], "classes": list(prep.classes),
            "n_train": len(split.y_train), "n_val": n_val,
        }  # fmt: skip
        if model_spec is not None:  # the network came from a file: record it, not --layers
            config.update(model_spec=str(model_spec), activation=None, layers=[
                layer["class_name"] for layer in model.get_config()["layers"]])
        with store.run(config, name="train") as run:
            run_dir = (out or store.path.parent / run.id).absolute()
            click.echo(
                f"Run {run.id}: {table.name} ({task}, {len(split.y_train)} train / {n_val} "
                f"validation rows), {arch} {activation}/{_OUTPUT_ACTIVATION[task]}, {loss_name}, "
                f"{optimizer} lr {lr:g}, {epochs} epochs, batch {batch_size}"
            )
            fit_args = {"batch_size": batch_size, "epochs": epochs, "seed": seed,
                        "verbose": 2 if verbose else 0}  # fmt: skip
            progress = [] if quiet or verbose else [callbacks.FitProgressBar()]
            title = f"{table.name} {arch} {activation}"
            results, timings, files = _train_and_save(
                model, split, fit_args, run, run_dir, title, progress
            )
            run.set_result(results, timings=timings, model_path=str(run_dir / MODEL_FILE))
    for label, prefix in (("train", ""), ("validation", "val_")):
        logs = {k: v for k, v in results.items() if k.startswith("val_") == (prefix == "val_")}
        if logs:
            click.echo(f"{label:<11} {_describe(logs, prefix)}")
    click.echo(f"fit time    {timings['fit_seconds']:.3g} s")
    click.echo(f"Saved in {run_dir}: {', '.join(p.name for p in files)}")


def _train_and_save(
    model: Any, split: Split, fit_args: dict[str, Any], run: Any, run_dir: Path, title: str,
    progress: list[Any],
) -> tuple[dict[str, float], dict[str, float], list[Path]]:
    """Fit, evaluate, save model and preprocessing, draw the plots.

    The run folder is made only when there is something to write. On Ctrl-C the model of the
    last completed epoch is saved (with its preprocessing, without optimizer state) and set as
    the run's result before the interrupt goes on: the run store records it ``interrupted``.

    Returns:
        ``(final metrics, timings, files written)``; metrics of the validation rows carry a
        ``val_`` prefix.
    """
    last = LastEpoch()
    start = time.perf_counter()
    try:
        history = _fit(model, split, fit_args, run, [last, *progress])
    except KeyboardInterrupt:
        if last.weights is not None:
            model.set_weights(last.weights)
            _save(model, split, run_dir, include_optimizer=False)
            run.set_result(timings={"fit_seconds": time.perf_counter() - start},
                           model_path=str(run_dir / MODEL_FILE))  # fmt: skip
            click.echo(f"Stopped after epoch {(last.epoch or 0) + 1}: its model is saved in "
                       f"{run_dir}.", err=True)  # fmt: skip
        raise
    timings = {"fit_seconds": time.perf_counter() - start}
    results = model.evaluate(split.x_train, split.y_train, return_dict=True)
    if split.x_val is not None:
        val_logs = model.evaluate(split.x_val, split.y_val, return_dict=True)
        results.update({f"val_{k}": v for k, v in val_logs.items()})
    start = time.perf_counter()
    files = _save(model, split, run_dir)
    timings["save_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    files += _plots(model, split, history, run_dir, title)
    timings["plot_seconds"] = time.perf_counter() - start
    return results, timings, files


def _save(model: Any, split: Split, run_dir: Path, include_optimizer: bool = True) -> list[Path]:
    """Write ``preprocess.json``, then ``model.snn`` (a model file never lacks its
    preprocessing); returns both paths."""
    run_dir.mkdir(parents=True, exist_ok=True)
    files = [run_dir / MODEL_FILE, run_dir / PREPROCESS_FILE]
    split.prep.save(files[1])
    model.save(files[0], include_optimizer=include_optimizer)
    return files
