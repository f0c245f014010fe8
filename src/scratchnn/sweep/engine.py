"""What a sweep trains, and the reference way to train it: one member at a time with ``Sequential``.

A *trial* is one row of the study (one configuration, one seed, one number of epochs). Trials that
differ only in ``fit.epochs`` are served by one *member*: a network trained once to the largest
count, evaluated at each smaller count on the way (a *checkpoint*). A member is trained either
alone by :func:`train_sequential` (``Sequential.fit``, the library's one training loop) or together
with others by :mod:`scratchnn.sweep.population` (stacked arrays); both emit the same
:class:`TrialResult` for every checkpoint.

History (per-epoch logs) is subsampled: a trial of ``E`` epochs logs every ``stride``-th epoch,
``stride = ceil(E / history_points)``, plus its last epoch, so a 100 000-epoch trial keeps about
``history_points`` rows (epochs 0, 1000, 2000, ..., 99 999 for 100 points). The values are those
``Sequential.fit``'s History holds for that epoch: the mean training loss of the epoch and the
compiled metrics on the epoch's training outputs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from scratchnn.models import Model

Emit = Callable[[str, Any], None]
"""``emit(kind, payload)``: how a training engine reports ``"result"`` and ``"progress"``."""

SHORT_METRIC_NAMES = {"accuracy": "acc"}
"""Column names of recorded metrics: ``train_acc``/``dev_acc`` for ``accuracy`` (tutorial 000)."""


class StopTraining(Exception):
    """Raised inside a worker when its parent process is gone: nobody would record the results."""


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """One trial served by a member: its key and its number of epochs."""

    trial_key: str
    epochs: int


@dataclasses.dataclass(frozen=True)
class Member:
    """One network to train: a trial configuration and the trials (epoch counts) it serves.

    Attributes:
        config: the trial configuration (``data``, ``model``, ``compile``, ``fit`` tables); its
            ``fit.epochs`` is ignored in favour of the checkpoints.
        checkpoints: the trials, sorted by epochs (at least one).
        history_points: about how many history rows each trial keeps.
    """

    config: dict[str, Any]
    checkpoints: tuple[Checkpoint, ...]
    history_points: int = 100

    @property
    def max_epochs(self) -> int:
        """The number of epochs the member trains for (its largest checkpoint)."""
        return self.checkpoints[-1].epochs


@dataclasses.dataclass
class TrialResult:
    """What training produced for one trial (one checkpoint of a member).

    Attributes:
        trial_key: the trial.
        metrics: final metrics, ``{"train_loss", "dev_loss", "train_acc", "dev_acc", ...}``.
        history: ``{epoch: {"loss": ..., "accuracy": ...}}`` at the logged epochs.
        fit_seconds: training time of this trial (see the engines for how it is measured).
        timings: extra timings (``population_seconds``, ``population_size``, ...).
        weights: the trained weights, in ``Sequential.get_weights`` order.
        epochs_run: epochs actually trained (fewer than asked when training diverged).
        diverged: the loss became NaN or infinite; weights are the last finite ones.
        engine: ``"population"`` or ``"sequential"``.
    """

    trial_key: str
    metrics: dict[str, float]
    history: dict[int, dict[str, float]]
    fit_seconds: float
    timings: dict[str, Any]
    weights: list[np.ndarray]
    epochs_run: int
    diverged: bool
    engine: str


# ------------------------------------------------------------------------------------ helpers
def history_epochs(epochs: int, points: int) -> np.ndarray:
    """The epochs (0-based) a trial of ``epochs`` epochs logs: every ``ceil(epochs / points)``-th
    and the last.

    Example:
        >>> history_epochs(10, 4).tolist()
        [0, 3, 6, 9]
    """
    stride = max(1, math.ceil(epochs / points))
    logged = np.arange(0, epochs, stride)
    if logged[-1] != epochs - 1:
        logged = np.append(logged, epochs - 1)
    return logged


def metric_column(split: str, name: str) -> str:
    """The column of metric ``name`` on ``split``: ``metric_column("dev", "accuracy") ==
    "dev_acc"``."""
    return f"{split}_{SHORT_METRIC_NAMES.get(name, name)}"


STANDARD_COLUMNS = ("fit_time", "epochs_run", "diverged", "engine", "status", "run_id",
                    "trial_key")


def base_columns(param_names: Sequence[str], metric_names: Sequence[str]) -> list[str]:
    """The report's columns for a spec's parameters and compiled metrics."""
    metrics = ["loss", *metric_names]
    return [*param_names, "seed",
            *(metric_column(split, m) for m in metrics for split in ("train", "dev")),
            *STANDARD_COLUMNS]


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal configurations give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {value!r}")


@lru_cache(maxsize=8)
def _load_split_cached(data_json: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from scratchnn import datasets

    cfg = json.loads(data_json)
    name = cfg.pop("name")
    dev_size = cfg.pop("dev_size", 0.2)
    split_seed = cfg.pop("split_seed", 0)
    stratify = cfg.pop("stratify", False)
    scale = cfg.pop("scale", False)
    loaded = datasets.get(name, **cfg)
    if not (isinstance(loaded, tuple) and len(loaded) == 2):
        raise ValueError(
            f"data set {name!r} returns {type(loaded).__name__}; sweeps need a loader that "
            "returns (X, y), such as moons, circles, xor, blobs, spiral, plane or digits."
        )
    x, y = (np.asarray(a) for a in loaded)
    x_train, x_dev, y_train, y_dev = datasets.train_test_split(
        x, y, test_size=dev_size, random_state=split_seed, stratify=y if stratify else None
    )
    if scale:
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(x_train)
        x_train, x_dev = scaler.transform(x_train), scaler.transform(x_dev)
    arrays = (x_train, y_train, x_dev, y_dev)
    for a in arrays:
        a.setflags(write=False)
    return arrays


def load_split(data: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_dev, y_dev)`` for a spec's ``data`` table (cached per process).

    The loader ``data.name`` of :mod:`scratchnn.datasets` is called with the table's other keys;
    ``dev_size`` (default 0.2), ``split_seed`` (0) and ``stratify`` (false) go to
    scikit-learn's ``train_test_split``; ``scale = true`` standardises with a ``StandardScaler``
    fitted on the training part. The arrays are read-only.
    """
    return _load_split_cached(canonical_json(data))


def build_model(config: dict[str, Any], input_dim: int) -> Model:
    """The compiled, built model of a trial configuration (initial weights drawn).

    The trial's ``model`` and ``compile`` tables go to the one builder,
    :func:`scratchnn.models.build_model`; ``model.seed`` seeds the model's generator.
    """
    from scratchnn.models import build_model as build

    compile_cfg = config["compile"]
    return build(
        config["model"],
        compile={
            "optimizer": compile_cfg["optimizer"],
            "loss": compile_cfg["loss"],
            "metrics": list(compile_cfg.get("metrics", [])),
        },
        input_shape=(input_dim,),
    )


def evaluate_metrics(model: Model, data: Sequence[np.ndarray]) -> dict[str, float]:
    """``{"train_loss", "train_<metric>", "dev_loss", "dev_<metric>"}`` of a compiled model."""
    x_train, y_train, x_dev, y_dev = data
    out: dict[str, float] = {}
    for split, (x, y) in (("train", (x_train, y_train)), ("dev", (x_dev, y_dev))):
        logs = model.evaluate(x, y, return_dict=True)
        for name, value in logs.items():
            out[metric_column(split, name)] = float(value)
    return out


# ------------------------------------------------------------------------- the reference engine
def train_sequential(
    member: Member, emit: Emit, should_stop: Callable[[], bool] | None = None
) -> None:
    """Train one member with ``Sequential.fit``, emitting a :class:`TrialResult` per checkpoint.

    One ``fit`` runs to the largest checkpoint; a callback evaluates the model on the training
    and dev sets after each checkpoint's epoch (outside the timed part: ``fit_seconds`` is the
    time spent inside ``fit`` up to that epoch, evaluations excluded). Evaluating does not touch
    the model's random generator, so each trial equals a fit of exactly its epoch count.
    """
    from scratchnn.callbacks import Callback

    data = load_split(member.config["data"])
    x_train, y_train = data[0], data[1]
    model = build_model(member.config, x_train.shape[1])
    fit_cfg = member.config["fit"]
    checkpoints = {c.epochs: c for c in member.checkpoints}
    wanted = {
        c.trial_key: set(history_epochs(c.epochs, member.history_points).tolist())
        for c in member.checkpoints
    }
    logged_any = set().union(*wanted.values())
    history: dict[int, dict[str, float]] = {}
    emitted: set[str] = set()
    clock = {"start": 0.0, "paused": 0.0, "last_progress": time.perf_counter()}

    def result(checkpoint: Checkpoint, epochs_run: int, diverged: bool) -> TrialResult:
        seconds = time.perf_counter() - clock["start"] - clock["paused"]
        started = time.perf_counter()
        metrics = evaluate_metrics(model, data)
        clock["paused"] += time.perf_counter() - started
        keep = wanted[checkpoint.trial_key]
        return TrialResult(
            trial_key=checkpoint.trial_key,
            metrics=metrics,
            history={e: dict(h) for e, h in history.items()
                     if e in keep and e < checkpoint.epochs},
            fit_seconds=seconds,
            timings={"engine": "sequential"},
            weights=model.get_weights(),
            epochs_run=epochs_run,
            diverged=diverged,
            engine="sequential",
        )

    class _Checkpoints(Callback):
        def on_train_begin(self, logs: Any = None) -> None:
            clock["start"] = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = logs or {}
            if epoch in logged_any:
                history[epoch] = {k: float(v) for k, v in logs.items()}
            diverged = not math.isfinite(float(logs.get("loss", 0.0)))
            done = epoch + 1
            if done in checkpoints and not diverged:
                checkpoint = checkpoints[done]
                emit("result", result(checkpoint, done, False))
                emitted.add(checkpoint.trial_key)
            now = time.perf_counter()
            if now - clock["last_progress"] > 0.5:
                emit("progress", done)
                clock["last_progress"] = now
                if should_stop is not None and should_stop():
                    raise StopTraining

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # divergence is recorded, not printed
        history_obj = model.fit(
            x_train,
            y_train,
            batch_size=fit_cfg.get("batch_size"),
            epochs=member.max_epochs,
            shuffle=fit_cfg.get("shuffle", True),
            seed=fit_cfg.get("seed"),
            verbose=0,
            callbacks=[_Checkpoints()],
        )
    epochs_run = len(history_obj.history.get("loss", []))
    losses = history_obj.history.get("loss", [])
    diverged = bool(losses) and not math.isfinite(losses[-1])
    if diverged:
        epochs_run -= 1  # the last epoch's logs are NaN: it did not complete
    for checkpoint in member.checkpoints:
        if checkpoint.trial_key not in emitted:
            emit("result", result(checkpoint, min(epochs_run, checkpoint.epochs), True))
