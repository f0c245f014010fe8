"""Callbacks: hooks into ``Sequential.fit`` / ``evaluate`` / ``predict`` with no-op defaults.

A callback overrides the hooks it needs. The loop talks to callbacks through two channels only,
as in Keras: the ``logs`` dict handed to each hook (``"loss"``, each metric, their ``"val_"``
twins at epoch end) and the model's ``stop_training`` flag, which a callback sets to end training
after the current epoch (or batch).

    >>> import numpy as np
    >>> from scratchnn import Sequential, callbacks
    >>> from scratchnn.layers import Dense
    >>> model = Sequential([Dense(1, activation="sigmoid", input_dim=2)], seed=0)
    >>> model.compile(optimizer="adam", loss="binary_crossentropy")
    >>> x, y = np.zeros((8, 2)), np.zeros(8)
    >>> stop = callbacks.EarlyStopping(monitor="loss", patience=1)
    >>> history = model.fit(x, y, epochs=3, callbacks=[stop], verbose=0)
    >>> sorted(history.history)
    ['loss']

Hooks (``logs`` may be ``None`` or a dict; hooks must not keep a reference to it):

* ``on_train_begin(logs)`` / ``on_train_end(logs)``
* ``on_epoch_begin(epoch, logs)`` / ``on_epoch_end(epoch, logs)`` (``epoch`` counts from 0)
* ``on_train_batch_begin(batch, logs)`` / ``on_train_batch_end(batch, logs)``: ``logs["loss"]``
  is the running mean of the epoch so far
* ``on_test_begin(logs)`` / ``on_test_end(logs)`` and the ``on_test_batch_*`` pair
* ``on_predict_begin(logs)`` / ``on_predict_end(logs)`` and the ``on_predict_batch_*`` pair

Batch hooks are called only on callbacks that override them, so a callback that only acts per
epoch costs nothing per batch.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, TextIO, TypeAlias, cast

import numpy as np

from scratchnn import metrics

if TYPE_CHECKING:
    from scratchnn.models import Model
    from scratchnn.optimizers import Optimizer

Logs = dict[str, Any] | None

Mode: TypeAlias = Literal["auto", "min", "max"]
"""Whether the monitored value should go down (``"min"``) or up (``"max"``); ``"auto"`` reads
the direction from the metric's name (:data:`scratchnn.metrics.METRIC_INFO`)."""

BATCH_HOOKS = (
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)
HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_test_begin",
    "on_test_end",
    "on_predict_begin",
    "on_predict_end",
    *BATCH_HOOKS,
)



class Callback:
    """Base class of callbacks: every hook is a no-op until overridden.

    Attributes:
        model: the model being trained (set by :meth:`set_model` before training starts).
        params: ``{"epochs": int, "steps": int, "verbose": int}`` (set by :meth:`set_params`).

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(f"epoch {epoch}: loss {logs['loss']:.3f}")
    """

    model: Model
    """The model being trained: set by :meth:`set_model` before any hook is called."""

    def __init__(self) -> None:
        self.model = cast("Model", None)  # not trained yet: set_model comes before any hook
        self.params: dict[str, Any] = {}

    def set_model(self, model: Model) -> None:
        """Attach the model the hooks act on."""
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        """Receive the loop's parameters (``epochs``, ``steps`` per epoch, ``verbose``)."""
        self.params = dict(params)

    def on_train_begin(self, logs: Logs = None) -> None:
        """Called once before the first epoch."""

    def on_train_end(self, logs: Logs = None) -> None:
        """Called once after the last epoch (also when training was stopped early)."""

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        """Called at the start of epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        """Called at the end of an epoch with its ``loss``, metrics and ``val_`` values."""

    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Called before training step ``batch`` (0-based within the epoch)."""

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Called after a training step; ``logs["loss"]`` is the epoch's running mean loss."""

    def on_test_begin(self, logs: Logs = None) -> None:
        """Called before an evaluation (``evaluate`` or the validation pass of ``fit``)."""

    def on_test_end(self, logs: Logs = None) -> None:
        """Called after an evaluation with its results."""

    def on_test_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Called before evaluating batch ``batch``."""

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Called after evaluating batch ``batch``."""

    def on_predict_begin(self, logs: Logs = None) -> None:
        """Called before ``predict``."""

    def on_predict_end(self, logs: Logs = None) -> None:
        """Called after ``predict``."""

    def on_predict_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Called before predicting batch ``batch``."""

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Called after predicting batch ``batch``."""


def _overrides(callback: Callback, hook: str) -> bool:
    """Whether ``callback`` does something in ``hook`` (a method override or an attribute)."""
    return hook in vars(callback) or getattr(type(callback), hook) is not getattr(Callback, hook)


class CallbackList:
    """Calls a hook on every callback in order that overrides it (found once per hook).

    Args:
        callbacks: the callbacks, called in this order.
        model: attached to each with ``set_model``.
        params: handed to each with ``set_params``.
    """

    def __init__(
        self, callbacks: Iterable[Callback], model: Model | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be instances of scratchnn.callbacks.Callback; received "
                    f"{type(cb).__name__}. Subclass Callback or use LambdaCallback(...)."
                )
            if model is not None:
                cb.set_model(model)
            if params is not None:
                cb.set_params(params)
        self._handlers = {
            hook: [getattr(cb, hook) for cb in self.callbacks if _overrides(cb, hook)]
            for hook in BATCH_HOOKS
        }

    def has(self, hook: str) -> bool:
        """Whether any callback acts on batch hook ``hook`` (lets the loop skip building logs)."""
        return bool(self._handlers[hook])

    def call(self, hook: str, *args: Any) -> None:
        """Call ``hook(*args)`` on every callback that has it."""
        handlers = self._handlers.get(hook)
        if handlers is None:  # another hook: its handlers, found once
            handlers = self._handlers[hook] = [
                getattr(cb, hook) for cb in self.callbacks if _overrides(cb, hook)
            ]
        for handler in handlers:
            handler(*args)


# --------------------------------------------------------------------------------- history


class History(Callback):
    """Records the ``logs`` of every epoch; ``fit`` returns it.

    Attributes:
        history: ``{"loss": [...], "accuracy": [...], "val_loss": [...], ...}``, one value per
            epoch run.
        epoch: the epoch indices run (0-based).
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        """Append each logged value."""
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


# ------------------------------------------------------------------------------ monitoring


def _monitor_op(monitor: str, mode: str, label: str) -> Callable[[float, float], bool]:
    """``better(a, b)`` for ``mode`` in min/max/auto (auto: the metric registry's direction)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{label}: mode must be 'auto', 'min' or 'max'; received mode={mode!r}.")
    if mode == "auto":
        mode = "max" if metrics.higher_is_better(monitor) else "min"
    return (lambda a, b: a > b) if mode == "max" else (lambda a, b: a < b)


def _monitored(logs: Logs, monitor: str, label: str) -> float | None:
    """``logs[monitor]`` as a float, or ``None`` with a warning naming the available keys."""
    logs = logs or {}
    if monitor not in logs:
        warnings.warn(
            f"{label}: the monitored quantity {monitor!r} is not in the logs; available keys: "
            f"{', '.join(sorted(logs)) or '(none)'}. Pass one of them as monitor= (val_ keys "
            "need validation_data or validation_split).",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving.

    Args:
        monitor: logged quantity to watch, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        min_delta: smallest change that counts as an improvement (>= 0).
        patience: epochs without improvement after which training stops.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (the direction of
            :data:`scratchnn.metrics.METRIC_INFO`: max for accuracy, AUC, precision, recall, F1,
            R²; min for losses and errors).
        baseline: a value the quantity must beat; until it does, ``patience`` keeps counting.
        restore_best_weights: at the end of training set the weights of the best epoch. Unlike
            Keras, this happens whether or not patience ran out.
        start_from_epoch: epochs of warm-up before improvements are looked at.
        verbose: 1 prints a line when training is stopped.

    Attributes:
        best: best value seen; ``best_epoch``: its epoch (0-based); ``stopped_epoch``: the epoch
            at which training was stopped (0 if it was not).

    Example:
        >>> stop = EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: Mode = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
        verbose: int = 0,
    ) -> None:
        super().__init__()
        if not (isinstance(min_delta, (int, float)) and min_delta >= 0):
            raise ValueError(f"EarlyStopping: min_delta must be >= 0; received {min_delta!r}.")
        for label, value in (("patience", patience), ("start_from_epoch", start_from_epoch)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"EarlyStopping: {label} must be an integer >= 0; received {value!r}."
                )
        self.monitor = monitor
        self.min_delta = float(min_delta)
        self.patience = patience
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = start_from_epoch
        self.verbose = verbose
        self._better = _monitor_op(monitor, mode, "EarlyStopping")
        self._sign = 1.0 if self._better(1.0, 0.0) else -1.0  # +1 for max, -1 for min
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = -math.inf if self._sign > 0 else math.inf
        self.best_epoch = 0
        self.best_weights: list[np.ndarray] | None = None

    def _improves(self, current: float, reference: float | None) -> bool:
        if reference is None:
            return True
        return self._better(current - self._sign * self.min_delta, reference)

    def on_train_begin(self, logs: Logs = None) -> None:
        """Reset the counters (a callback can be reused across ``fit`` calls)."""
        self._reset()

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        """Record improvements; set ``model.stop_training`` when patience has run out."""
        current = _monitored(logs, self.monitor, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()  # the first epoch seen is the best yet
            self.best_epoch = epoch
        self.wait += 1
        if self._improves(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs = None) -> None:
        """Restore the best epoch's weights (if asked), whether or not training was stopped."""
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring the weights of the best epoch ({self.best_epoch + 1}).")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (or only its weights) at the end of epochs.

    Args:
        filepath: file path; may hold format fields filled from the epoch (1-based) and the logs,
            e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}.safetensors"``.
        monitor: logged quantity compared when ``save_best_only``.
        save_best_only: save only when ``monitor`` improved on the best seen (the file then
            always holds the best model when ``filepath`` has no format fields).
        save_weights_only: use ``model.save_weights`` instead of ``model.save``.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (see :class:`EarlyStopping`).
        verbose: 1 prints a line at each save.

    Example:
        >>> ckpt = ModelCheckpoint("best.safetensors", monitor="val_loss", save_best_only=True)
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: Mode = "auto",
        verbose: int = 0,
    ) -> None:
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.verbose = verbose
        self._better = _monitor_op(monitor, mode, "ModelCheckpoint")
        self.best: float | None = None

    def on_train_begin(self, logs: Logs = None) -> None:
        """Forget the best value of an earlier ``fit``."""
        self.best = None

    def _path(self, epoch: int, logs: dict[str, Any]) -> str:
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError) as exc:
            raise ValueError(
                f"ModelCheckpoint: filepath {self.filepath!r} names {exc} which is not logged; "
                f"available fields: epoch, {', '.join(sorted(logs))}."
            ) from None

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        """Save when due (every epoch, or on improvement with ``save_best_only``)."""
        logs = dict(logs or {})
        if self.save_best_only:
            current = _monitored(logs, self.monitor, "ModelCheckpoint")
            if current is None or not math.isfinite(current):
                return
            if self.best is not None and not self._better(current, self.best):
                return
            self.best = current
        path = self._path(epoch, logs)
        if self.verbose:
            print(
                f"Epoch {epoch + 1}: saving {'weights' if self.save_weights_only else 'model'} "
                f"to {path}"
            )
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


# ---------------------------------------------------------------------------- learning rate


def _optimizer(model: Model, label: str) -> Optimizer:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise RuntimeError(f"{label} needs a compiled model (model.optimizer is None).")
    return optimizer


def _float_learning_rate(model: Model, label: str) -> float:
    lr = _optimizer(model, label).learning_rate
    if callable(lr):
        raise ValueError(
            f"{label} sets the learning rate each epoch, but the optimizer's learning_rate is a "
            f"schedule ({lr!r}). Use one or the other: pass a float learning_rate to the "
            "optimizer, or drop the callback."
        )
    return float(lr)


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of each epoch from ``schedule``.

    Args:
        schedule: ``schedule(epoch, lr) -> new_lr`` (``epoch`` 0-based, ``lr`` the current
            rate); a one-argument ``schedule(epoch)`` is accepted too.
        verbose: 1 prints the new rate each epoch.

    The rate in use is logged as ``"learning_rate"`` at each epoch's end.

    Example:
        >>> halve_every_10 = LearningRateScheduler(lambda epoch, lr: lr * 0.5 ** (epoch % 10 == 9))
    """

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                f"LearningRateScheduler: schedule must be a function (epoch, lr) -> lr; "
                f"received {type(schedule).__name__}."
            )
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        """Compute and set the epoch's learning rate."""
        lr = _float_learning_rate(self.model, "LearningRateScheduler")
        try:
            new_lr = self.schedule(epoch, lr)
        except TypeError:  # a schedule(epoch) of one argument
            new_lr = self.schedule(epoch)
        if isinstance(new_lr, bool) or not isinstance(new_lr, (int, float, np.floating)):
            raise ValueError(
                f"LearningRateScheduler: the schedule returned {new_lr!r} for epoch {epoch}; it "
                "must return a number."
            )
        _optimizer(self.model, "LearningRateScheduler").learning_rate = float(new_lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate set to {float(new_lr):.6g}.")

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        """Log the learning rate."""
        if logs is not None:
            logs["learning_rate"] = _float_learning_rate(self.model, "LearningRateScheduler")


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has stopped improving.

    Args:
        monitor: logged quantity to watch.
        factor: multiplier in (0, 1).
        patience: epochs without improvement before the rate is reduced.
        min_delta: smallest change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: lower bound of the rate.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        verbose: 1 prints a line at each reduction.

    Example:
        >>> plateau = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        mode: Mode = "auto",
        verbose: int = 0,
    ) -> None:
        super().__init__()
        if not (isinstance(factor, (int, float)) and 0 < factor < 1):
            raise ValueError(
                f"ReduceLROnPlateau: factor must be in (0, 1); received factor={factor!r}."
            )
        if not (isinstance(min_lr, (int, float)) and min_lr >= 0):
            raise ValueError(f"ReduceLROnPlateau: min_lr must be >= 0; received {min_lr!r}.")
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = patience
        self.min_delta = float(min_delta)
        self.cooldown = cooldown
        self.min_lr = float(min_lr)
        self.verbose = verbose
        self._better = _monitor_op(monitor, mode, "ReduceLROnPlateau")
        self._sign = 1.0 if self._better(1.0, 0.0) else -1.0
        self.on_train_begin()

    def on_train_begin(self, logs: Logs = None) -> None:
        """Reset the counters."""
        self.wait = 0
        self.cooldown_counter = 0
        self.best = -math.inf if self._sign > 0 else math.inf

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        """Count epochs without improvement; reduce the rate when patience runs out."""
        lr = _float_learning_rate(self.model, "ReduceLROnPlateau")
        if logs is not None:
            logs["learning_rate"] = lr
        current = _monitored(logs, self.monitor, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current - self._sign * self.min_delta, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience and lr > self.min_lr:
                new_lr = max(lr * self.factor, self.min_lr)
                _optimizer(self.model, "ReduceLROnPlateau").learning_rate = new_lr
                if self.verbose:
                    print(
                        f"Epoch {epoch + 1}: ReduceLROnPlateau reduced the learning rate to "
                        f"{new_lr:.6g}."
                    )
                self.cooldown_counter = self.cooldown
                self.wait = 0


# ------------------------------------------------------------------------------- utilities


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite."""

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Check ``logs["loss"]``."""
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: invalid loss {loss}, terminating training.")
            self.model.stop_training = True


class CSVLogger(Callback):
    """Write each epoch's logs as one CSV row (``epoch`` first, then the keys in sorted order).

    Each row is written with one ``write`` and flushed at once, so a crash leaves only complete
    lines behind.

    Args:
        filename: path of the CSV file.
        separator: field separator.
        append: add to an existing file (no second header) instead of overwriting it.

    Example:
        >>> logger = CSVLogger("training.csv")
    """

    def __init__(
        self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False
    ) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)
        self.keys: list[str] | None = None
        self._file: Any = None
        self._write_header = True

    def on_train_begin(self, logs: Logs = None) -> None:
        """Open the file."""
        exists = os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._write_header = not (self.append and exists)
        self._file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")
        self.keys = None

    def _line(self, values: list[Any]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=self.separator, lineterminator="\n").writerow(values)
        return buffer.getvalue()

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        """Write the epoch's row (and the header before the first one)."""
        logs = logs or {}
        if self._file is None:
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs)
        text = ""
        if self._write_header:
            text += self._line(["epoch", *self.keys])
            self._write_header = False
        text += self._line([epoch, *(logs.get(k, "NA") for k in self.keys)])
        self._file.write(text)
        self._file.flush()

    def on_train_end(self, logs: Logs = None) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None


class LambdaCallback(Callback):
    """A callback made of plain functions, one per hook you need.

    Args:
        on_epoch_begin, on_epoch_end: ``f(epoch, logs)``.
        on_train_begin, on_train_end: ``f(logs)``.
        on_train_batch_begin, on_train_batch_end: ``f(batch, logs)``.
        **hooks: any other hook by name (``on_test_end=...``).

    Example:
        >>> seen = []
        >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs["loss"]))
    """

    def __init__(
        self,
        on_epoch_begin: Callable[..., Any] | None = None,
        on_epoch_end: Callable[..., Any] | None = None,
        on_train_begin: Callable[..., Any] | None = None,
        on_train_end: Callable[..., Any] | None = None,
        on_train_batch_begin: Callable[..., Any] | None = None,
        on_train_batch_end: Callable[..., Any] | None = None,
        **hooks: Callable[..., Any],
    ) -> None:
        super().__init__()
        given = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
            **hooks,
        }
        for name, fn in given.items():
            if name not in HOOKS:
                raise ValueError(
                    f"LambdaCallback: unknown hook {name!r}; hooks are {', '.join(HOOKS)}."
                )
            if fn is not None:
                setattr(self, name, fn)


# -------------------------------------------------------------------------------- progress


def format_logs(logs: dict[str, Any]) -> str:
    """``"loss: 0.3412 - accuracy: 0.8601"``: the logs as Keras prints them."""
    return " - ".join(
        f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in logs.items()
    )


class ProgbarLogger(Callback):
    """Progress output of ``fit`` (added by ``fit`` itself according to ``verbose``).

    ``verbose=1``: one live tqdm bar per epoch (batches done, ETA, running loss; the epoch's
    loss and metrics at the end); ``verbose=2``: exactly one printed line per epoch. Both write
    to standard output.

    Args:
        verbose: 1 or 2.
        file: stream to write to (default ``sys.stdout`` at the time of writing).
    """

    def __init__(self, verbose: Literal[1, 2] = 1, file: TextIO | None = None) -> None:
        super().__init__()
        if verbose not in (1, 2):
            raise ValueError(f"ProgbarLogger: verbose must be 1 or 2; received {verbose!r}.")
        self.verbose = verbose
        self.file = file
        self._bar: Any = None
        self._start = 0.0
        self._last = 0.0

    def _label(self, epoch: int) -> str:
        return f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}"

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        """Start the epoch's bar (verbose=1) or its clock."""
        self._start = time.perf_counter()
        if self.verbose == 1:
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.params.get("steps"),
                desc=self._label(epoch),
                unit="batch",
                file=self.file or sys.stdout,
                leave=True,
                mininterval=0.1,
            )
            self._last = self._start

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Advance the bar; refresh the running loss at most ten times a second."""
        bar = self._bar
        if bar is None:
            return
        bar.update(1)
        now = time.perf_counter()
        if now - self._last > 0.1 and logs:
            self._last = now
            bar.set_postfix_str(f"loss: {logs['loss']:.4f}", refresh=False)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        """Show the epoch's loss and metrics; close the bar or print the line."""
        text = format_logs(dict(logs or {}))
        if self.verbose == 1 and self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
            self._bar.close()
            self._bar = None
        else:
            seconds = time.perf_counter() - self._start
            print(
                f"{self._label(epoch)} - {seconds:.2f}s - {text}",
                file=self.file or sys.stdout,
                flush=True,
            )

    def on_train_end(self, logs: Logs = None) -> None:
        """Close a bar left open by an interrupted epoch."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class FitProgressBar(Callback):
    """One live progress bar for a whole ``fit``: epochs done, time left, the latest metrics.

    Unlike ``verbose=1`` (a bar per epoch, as Keras), the line is rewritten in place, so a fit
    of 200 epochs leaves one line, not 200. The metrics are shown as ``train/validation``
    pairs, accuracies as percentages: ``loss 0.2321/0.2512  accuracy 91.25/90.00 %``. The bar
    keeps a fixed width, so a narrow terminal cuts the end of the line rather than the bar.
    :meth:`close` ends the line (``fit`` interrupted by Ctrl-C never reaches ``on_train_end``;
    call it in a ``finally``).

    Args:
        file: the stream (default ``sys.stdout`` at the start of training).

    Example:
        >>> import io, numpy as np
        >>> from scratchnn import Sequential
        >>> from scratchnn.layers import Dense
        >>> model = Sequential([Dense(1, activation="sigmoid", input_dim=2)], seed=0)
        >>> model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
        >>> out = io.StringIO()
        >>> _ = model.fit(np.zeros((8, 2)), np.ones(8), epochs=3, verbose=0,
        ...               callbacks=[FitProgressBar(file=out)])
        >>> "Epoch 3/3" in out.getvalue() and "accuracy 100.00 %" in out.getvalue()
        True
    """

    def __init__(self, file: TextIO | None = None) -> None:
        super().__init__()
        self.file = file
        self._bar: Any = None

    def on_train_begin(self, logs: Logs = None) -> None:
        """Open the bar, sized to the number of epochs."""
        from tqdm import tqdm

        self.close()
        self._bar = tqdm(
            total=self.params.get("epochs"), file=self.file or sys.stdout, leave=True,
            bar_format="Epoch {n_fmt}/{total_fmt} |{bar:20}| {elapsed}<{remaining}  {desc}",
            mininterval=0.1,
        )  # fmt: skip

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        """Advance one epoch and show its metrics."""
        if self._bar is None:
            return
        self._bar.set_description_str(self.describe(dict(logs or {})), refresh=False)
        self._bar.update(1)

    @staticmethod
    def describe(logs: dict[str, Any]) -> str:
        """``"loss 0.2321/0.2512  accuracy 91.25/90.00 %"``: train/validation pairs."""
        parts = []
        for key, value in logs.items():
            if key.startswith("val_"):
                continue
            pair = [value] + ([logs[f"val_{key}"]] if f"val_{key}" in logs else [])
            shown = [metrics.format_value(key, v) for v in pair]
            if all(text.endswith(" %") for text in shown):
                shown = [text[:-2] for text in shown[:-1]] + shown[-1:]
            parts.append(f"{key} {'/'.join(shown)}")
        return "  ".join(parts)

    def on_train_end(self, logs: Logs = None) -> None:
        """End the line."""
        self.close()

    def close(self) -> None:
        """Close the bar (idempotent): its last state stays on screen."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "FitProgressBar",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
    "format_logs",
]
