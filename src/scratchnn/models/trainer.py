"""The one training loop: epochs, batches, shuffling, callbacks, progress and divergence.

Every model trains here — ``Sequential``, functional graphs, subclasses with their own
``train_step`` and populations alike. The loop knows nothing of layers, losses or gradients: it
cuts prepared arrays into batches and hands each to ``model.train_step(batch)``, which returns
that batch's logs (``{"loss": ...}`` and whatever else the step reports). It averages those logs
over the epoch (weighted by batch size), adds the compiled metrics that the step recorded, runs the
validation pass with ``model.test_step``, and calls the callbacks at each point of the lifecycle.

Divergence: a step whose logs hold a NaN or infinite value stops training with a
``RuntimeWarning``; the weights are put back to a finite copy taken at most
:data:`SNAPSHOT_EVERY` steps earlier (the copy is refreshed while the weights are finite, so that
no step pays for it). A model may take divergence into its own hands (a population retires the
members that diverged and trains on) by overriding ``Model._diverged``.

The loop works on :class:`Arrays`, prepared once per call by the model::

    >>> import numpy as np
    >>> arrays = Arrays([np.zeros((5, 2))], [np.ones(5)], [None])
    >>> len(arrays), [a.shape for a in arrays.slice(0, 2).batch()[:2]]
    (5, [(2, 2), (2,)])

Shape legend: N samples, B rows in a batch, P members of a population.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from scratchnn import backend
from scratchnn import callbacks as callbacks_module

PREDICT_BATCH_SIZE = 8192
"""Rows per forward pass of ``predict``/``evaluate``/validation when no batch size is given."""

SNAPSHOT_EVERY = 32
"""Steps between the finite-weight copies that a diverging step is undone to."""


@dataclasses.dataclass
class Arrays:
    """Prepared arrays sharing their first axis (N): inputs, targets and sample weights.

    Attributes:
        xs: one array per model input.
        ys: one array per model output (empty for ``predict``).
        sws: per-sample weights per output (``None`` entries: unweighted).
    """

    xs: list[np.ndarray]
    ys: list[np.ndarray] = dataclasses.field(default_factory=list)
    sws: list[np.ndarray | None] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.xs[0])

    def slice(self, lo: int, hi: int) -> Arrays:
        """Rows ``lo:hi`` (views)."""
        return Arrays(
            [a[lo:hi] for a in self.xs],
            [a[lo:hi] for a in self.ys],
            [None if w is None else w[lo:hi] for w in self.sws],
        )

    def batch(self) -> tuple[Any, Any, Any]:
        """``(x, y, sample_weight)`` as ``train_step`` receives them: a single input, output or
        weight as itself, several as tuples."""
        return _unwrap(self.xs), _unwrap(self.ys), _unwrap(self.sws)


def _unwrap(items: Sequence[Any]) -> Any:
    if not items:
        return None
    return items[0] if len(items) == 1 else tuple(items)


class _Gather:
    """Batches of shuffled rows, gathered into buffers reused from batch to batch.

    A destination that stays in cache, instead of a new array per batch (a step's graph, which
    holds its batch, is gone before the next batch is gathered). ``order`` is ``(N,)``, or
    ``(P, N)`` for a population whose members shuffle with generators of their own: batches are
    then ``(P, B, ...)``.
    """

    def __init__(self, arrays: Arrays, order: np.ndarray, batch: int) -> None:
        self.arrays, self.order = arrays, order
        lead = order.shape[:-1]
        self.sources = [*arrays.xs, *arrays.ys, *(w for w in arrays.sws if w is not None)]
        self.buffers = [
            np.empty((*lead, batch, *a.shape[1:]), dtype=a.dtype) for a in self.sources
        ]

    def __call__(self, lo: int, hi: int) -> Arrays:
        idx = self.order[..., lo:hi]
        rows = (Ellipsis, slice(0, hi - lo))
        taken = iter([
            np.take(a, idx, axis=0, out=buf[rows + (slice(None),) * (a.ndim - 1)])
            for a, buf in zip(self.sources, self.buffers, strict=True)
        ])
        xs = [next(taken) for _ in self.arrays.xs]
        ys = [next(taken) for _ in self.arrays.ys]
        sws = [None if w is None else next(taken) for w in self.arrays.sws]
        return Arrays(xs, ys, sws)


class _Means:
    """Running means of step logs, weighted by batch size (numbers or per-member arrays)."""

    def __init__(self) -> None:
        self.totals: dict[str, Any] = {}
        self.seen = 0

    def add(self, logs: dict[str, Any], size: int) -> None:
        for key, value in logs.items():
            previous = self.totals.get(key)
            self.totals[key] = value * size if previous is None else previous + value * size
        self.seen += size

    def result(self) -> dict[str, Any]:
        return {key: _plain(total / self.seen) for key, total in self.totals.items()}


def _plain(value: Any) -> Any:
    """NumPy scalars as Python floats (logs hold floats, or arrays for populations)."""
    if isinstance(value, np.ndarray) and value.ndim:
        return value
    return float(value)


def _check_int(value: Any, label: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{label} must be an integer >= {minimum}; received {label}={value!r}.")
    return int(value)


# ----------------------------------------------------------------------------------------- fit
def fit(
    model: Any,
    train: Arrays,
    *,
    batch_size: int | None,
    epochs: int,
    initial_epoch: int,
    shuffle: bool,
    rng: np.random.Generator,
    callbacks: Sequence[callbacks_module.Callback],
    verbose: Literal[0, 1, 2],
    validation: Arrays | None,
) -> callbacks_module.History:
    """Train ``model`` on prepared arrays; the loop behind ``Model.fit``.

    Args:
        model: a compiled :class:`~scratchnn.models.Model`.
        train: the training arrays.
        batch_size: rows per step (``None``: all rows, full-batch gradient descent).
        epochs: index of the last epoch (epochs ``initial_epoch..epochs-1`` run).
        initial_epoch: epoch to start from.
        shuffle: reshuffle the rows each epoch (never when one batch holds all rows).
        rng: the generator that shuffles (and draws dropout masks, see ``Model._use_rng``).
        callbacks: user callbacks; a History and, with ``verbose``, a progress logger are added.
        verbose: 0 silent, 1 a bar per epoch, 2 a line per epoch.
        validation: arrays for the ``val_`` logs after each epoch, or ``None``.

    Returns:
        The :class:`~scratchnn.callbacks.History` of this call.
    """
    backend.keep_freed_memory()
    n = len(train)
    batch = n if batch_size is None else min(batch_size, n)
    steps = math.ceil(n / batch)
    history = callbacks_module.History()
    extra = [callbacks_module.ProgbarLogger(verbose)] if verbose else []
    cbs = callbacks_module.CallbackList(
        [*callbacks, history, *extra],
        model=model,
        params={"epochs": epochs, "steps": steps, "verbose": verbose},
    )
    model.history = history
    model.stop_training = False
    state = _LoopState(model)
    logs: dict[str, Any] = {}
    with model._use_rng(rng), np.errstate(over="ignore", invalid="ignore"):
        # A diverging step is detected and reported once by the loop (non-finite logs) instead
        # of NumPy warning at each of its ops.
        cbs.call("on_train_begin", None)
        for epoch in range(initial_epoch, epochs):
            cbs.call("on_epoch_begin", epoch, None)
            logs = _run_epoch(model, train, batch, shuffle, rng, cbs, state, epoch)
            if validation is not None and not model.stop_training:
                val_logs = evaluate(model, validation, PREDICT_BATCH_SIZE, cbs)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.call("on_epoch_end", epoch, logs)
            if model.stop_training:
                break
        if not model._weights_finite():  # the last update overflowed; no loss saw it
            model._restore_snapshot()
            _warn_diverged(state.epoch, state.batch, math.nan)
        cbs.call("on_train_end", logs)
    return history


class _LoopState:
    """Steps since the last finite-weight snapshot, and where the last step was (across epochs)."""

    def __init__(self, model: Any) -> None:
        model._take_snapshot()
        self.since_snapshot = 0
        self.epoch = self.batch = 0  # where the last step was taken


def _run_epoch(
    model: Any,
    train: Arrays,
    batch: int,
    shuffle: bool,
    rng: np.random.Generator,
    cbs: callbacks_module.CallbackList,
    state: _LoopState,
    epoch: int,
) -> dict[str, Any]:
    """One pass over the training rows; returns the epoch's logs."""
    n = len(train)
    order = model._epoch_order(n, rng) if shuffle and batch < n else None
    gather = None if order is None else _Gather(train, order, batch)
    hook_begin = cbs.has("on_train_batch_begin")
    hook_end = cbs.has("on_train_batch_end")
    means = _Means()
    model._reset_metrics()
    train_step = model.train_step
    for b, lo in enumerate(range(0, n, batch)):
        hi = min(lo + batch, n)
        if state.since_snapshot >= SNAPSHOT_EVERY:
            if model._weights_finite():
                model._take_snapshot()
            state.since_snapshot = 0
        if hook_begin:
            cbs.call("on_train_batch_begin", b, {"size": hi - lo})
        part = (
            (train if hi - lo == n else train.slice(lo, hi)) if gather is None else gather(lo, hi)
        )
        step_logs = train_step(part.batch())
        state.since_snapshot += 1
        state.epoch, state.batch = epoch, b
        if model._diverged(step_logs):
            model._restore_snapshot()
            model.stop_training = True
            _warn_diverged(epoch, b, step_logs.get("loss", math.nan))
            return {key: math.nan for key in (*step_logs, *model._metric_names())}
        means.add(step_logs, hi - lo)
        if hook_end:
            cbs.call("on_train_batch_end", b, {**means.result(), "size": hi - lo})
        if model.stop_training:
            break
    return {**means.result(), **model._metric_results()}


def _warn_diverged(epoch: int, batch: int, value: Any) -> None:
    warnings.warn(
        f"Training diverged at epoch {epoch + 1}, batch {batch + 1}: the loss became {value}. "
        "Training was stopped and the weights were put back to their last finite values (a copy "
        f"taken at most {SNAPSHOT_EVERY} steps before). Lower the learning rate, scale the inputs "
        "(e.g. StandardScaler) or clip gradients (optimizer clipnorm=...).",
        RuntimeWarning,
        stacklevel=5,
    )


# ------------------------------------------------------------------------------------ evaluate
def evaluate(
    model: Any,
    arrays: Arrays,
    batch_size: int,
    cbs: callbacks_module.CallbackList | None = None,
    verbose: int = 0,
) -> dict[str, Any]:
    """Logs of ``model.test_step`` over ``arrays`` in batches, plus the compiled metrics."""
    if cbs is not None:
        cbs.call("on_test_begin", None)
    n = len(arrays)
    means = _Means()
    model._reset_metrics()
    bar = progress_bar(n, batch_size, "evaluate", verbose)
    for b, lo in enumerate(range(0, n, batch_size)):
        hi = min(lo + batch_size, n)
        if cbs is not None and cbs.has("on_test_batch_begin"):
            cbs.call("on_test_batch_begin", b, {"size": hi - lo})
        part = arrays if hi - lo == n else arrays.slice(lo, hi)
        means.add(model.test_step(part.batch()), hi - lo)
        if cbs is not None and cbs.has("on_test_batch_end"):
            cbs.call("on_test_batch_end", b, {**means.result(), "size": hi - lo})
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    logs = {**means.result(), **model._metric_results()}
    if cbs is not None:
        cbs.call("on_test_end", logs)
    return logs


# ------------------------------------------------------------------------------------- predict
def predict(
    model: Any,
    arrays: Arrays,
    batch_size: int,
    cbs: callbacks_module.CallbackList | None = None,
    verbose: int = 0,
) -> list[np.ndarray]:
    """Outputs of ``model.predict_step`` over ``arrays`` in batches, one array per output."""
    if cbs is not None:
        cbs.call("on_predict_begin", None)
    n = len(arrays)
    results: list[np.ndarray] | None = None
    bar = progress_bar(n, batch_size, "predict", verbose)
    for b, lo in enumerate(range(0, n, batch_size)):
        hi = min(lo + batch_size, n)
        if cbs is not None and cbs.has("on_predict_batch_begin"):
            cbs.call("on_predict_batch_begin", b, {"size": hi - lo})
        part = arrays if hi - lo == n else arrays.slice(lo, hi)
        outs = model.predict_step(part.batch()[0])
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        if n <= batch_size:
            # One batch: the model's own new arrays (copied where an op left another layout, or
            # where the output is the caller's own array: an identity model).
            results = [
                o if o.flags.c_contiguous and not any(np.may_share_memory(o, x) for x in
                                                      arrays.xs) else np.array(o, order="C")
                for o in outs
            ]
        else:
            if results is None:
                results = [np.empty((n, *o.shape[1:]), dtype=o.dtype) for o in outs]
            for result, out in zip(results, outs, strict=True):
                result[lo:hi] = out
        if cbs is not None and cbs.has("on_predict_batch_end"):
            cbs.call("on_predict_batch_end", b, {"outputs": outs, "size": hi - lo})
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    if cbs is not None:
        cbs.call("on_predict_end", None)
    assert results is not None
    return results


def progress_bar(n: int, batch_size: int, label: str, verbose: int) -> Any:
    """A tqdm bar over the batches of ``n`` rows when ``verbose``, else ``None``."""
    if not verbose:
        return None
    import sys

    from tqdm import tqdm

    return tqdm(total=math.ceil(n / batch_size), desc=label, unit="batch", file=sys.stdout)
