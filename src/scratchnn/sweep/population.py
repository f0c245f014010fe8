"""Population sweeps: members of a sweep trained together as one ``models.Population``.

Members that share a data set, a layer stack (depth, biases, output layer), a loss, metrics, an
optimizer structure and a batch size train in one ``Population.fit`` — the library's one training
loop, through autodiff — with a callback that records each member's history at its logged epochs,
evaluates and emits a :class:`~scratchnn.sweep.engine.TrialResult` at each of its checkpoints, and
retires members that are done or diverged (they then cost nothing). Every member's result equals
its own ``Sequential.fit`` up to floating-point rounding (``tests/test_sweep_population.py``).

Timing: the members of a population train in the same steps, so they share one measured time:
each trial's ``fit_seconds`` is the population's training time up to that trial's checkpoint
(evaluations excluded), and its timings say how many members shared it (``population_size``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from scratchnn import activations
from scratchnn.callbacks import Callback
from scratchnn.layers.stacked import FUSED_NAMES
from scratchnn.models import population as model_population
from scratchnn.sweep.engine import (
    Emit,
    Member,
    StopTraining,
    TrialResult,
    build_model,
    canonical_json,
    history_epochs,
    load_split,
    metric_column,
)


def _member_model(config: dict[str, Any]) -> Any:
    """A trial's compiled model (weights drawn from its own seed)."""
    input_dim = load_split(config["data"])[0].shape[1]
    return build_model(config, input_dim)


def unsupported_reason(config: dict[str, Any]) -> str | None:
    """Why a trial configuration cannot be trained in a population (``None`` when it can)."""
    layers = config["model"]["layers"]
    for i, layer in enumerate(layers):  # from the configuration first: no model is built
        if layer.get("class_name") != "Dense":
            return f"layer {i} is {layer.get('class_name')} (only Dense layers are stacked)"
        for key in ("kernel_regularizer", "bias_regularizer"):
            if layer.get(key) is not None:
                return f"layer {i} has a {key}"
    try:
        return model_population.unsupported_reason([_member_model(config)])
    except (TypeError, ValueError) as exc:
        return f"the model cannot be built ({exc})"


def population_key(config: dict[str, Any]) -> str | None:
    """Members with equal keys can train in one population; ``None``: train it alone.

    The key holds what must be shared (data, dtype, layer stack without hidden widths, loss,
    metrics, the optimizer's structure, batch size, shuffling); it leaves out what may differ per
    member (hidden widths, fusable hidden activations, initializers, seeds, every numeric
    optimizer hyper-parameter, epochs).
    """
    if unsupported_reason(config) is not None:
        return None
    model = _member_model(config)
    layers = model.layers
    fit = config["fit"]
    hidden = [
        name if name not in FUSED_NAMES else "fusable"
        for name in (activations.name_of(layer.activation) for layer in layers[:-1])
    ]
    key = {
        "data": config["data"],
        "dtype": model.dtype.name,
        "biases": [layer.use_bias for layer in layers],
        "hidden": hidden,
        "outputs": layers[-1].units,
        "output_activation": activations.name_of(layers[-1].activation),
        "loss": model.compiled_loss.config(),
        "metrics": model.compile_config()["metrics"],
        "optimizer": repr(model.optimizer.structure()),
        "batch_size": fit.get("batch_size"),
        "shuffle": bool(fit.get("shuffle", True)),
    }
    return canonical_json(key)


class PopulationRun:
    """Members with equal :func:`population_key` trained as one; :meth:`train` emits each trial.

    Args:
        members: the members.
        emit: called as ``emit("result", TrialResult)`` at every checkpoint and
            ``emit("progress", fraction)`` about twice a second.
        should_stop: polled with the progress; returning true stops training
            (:class:`~scratchnn.sweep.engine.StopTraining`).

    Raises:
        ValueError: members that cannot share a population.
    """

    def __init__(self, members: Sequence[Member], emit: Emit,
                 should_stop: Callable[[], bool] | None = None) -> None:
        keys = {population_key(m.config) for m in members}
        if None in keys or len(keys) != 1:
            raise ValueError("these members cannot share a population (their keys differ)")
        self.members = list(members)
        self.emit = emit
        self.should_stop = should_stop
        self.data = load_split(self.members[0].config["data"])
        self.model = model_population.Population(
            [_member_model(m.config) for m in self.members],
            fit_seeds=[m.config["fit"].get("seed") for m in self.members],
        )

    def train(self) -> None:
        """Train every member to its last checkpoint, emitting results on the way."""
        fit = self.members[0].config["fit"]
        x_train, y_train = self.data[0], self.data[1]
        self.model.fit(
            x_train, y_train, batch_size=fit.get("batch_size"),
            epochs=max(m.max_epochs for m in self.members), shuffle=fit.get("shuffle", True),
            verbose=0, callbacks=[_Checkpoints(self)],
        )


class _Checkpoints(Callback):
    """The sweep's view of a population's fit: histories, checkpoints, retirement, progress."""

    def __init__(self, run: PopulationRun) -> None:
        super().__init__()
        self.run = run
        members = run.members
        self.wanted = [
            {c.epochs: set(history_epochs(c.epochs, m.history_points).tolist())
             for c in m.checkpoints}
            for m in members
        ]
        self.logged = [set().union(*w.values()) for w in self.wanted]
        self.any_logged = set().union(*self.logged)
        self.due_epochs = {c.epochs for m in members for c in m.checkpoints}
        self.history: list[dict[int, dict[str, float]]] = [{} for _ in members]
        self.diverged_at: dict[int, int] = {}
        self.retired: set[int] = set()
        self.clock = {"start": 0.0, "paused": 0.0, "progress": 0.0}
        self.emitted: list[set[str]] = [set() for _ in members]
        self.work = float(sum(m.max_epochs for m in members))

    def on_train_begin(self, logs: Any = None) -> None:
        self.clock["start"] = self.clock["progress"] = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        model = self.run.model
        model.track_metrics = epoch in self.any_logged and any(
            epoch in self.logged[m] for m in model.ids
        )

    def _seconds(self) -> float:
        return time.perf_counter() - self.clock["start"] - self.clock["paused"]

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        model = self.run.model
        logs = logs or {}
        if model.dead or epoch in self.any_logged:
            for i, m in enumerate(model.ids.tolist()):
                if m in model.dead and m not in self.diverged_at:
                    self.diverged_at[m] = epoch
                    if epoch in self.logged[m]:
                        self.history[m][epoch] = {key: math.nan for key in logs}
                elif m not in model.dead and epoch in self.logged[m]:
                    self.history[m][epoch] = {key: float(value[i]) for key, value in logs.items()}
        count = epoch + 1
        if count in self.due_epochs or len(self.diverged_at) > len(self.retired):
            if not model._weights_finite():  # an update of this epoch overflowed
                model._restore_snapshot()
                self.on_epoch_end_dead(epoch)
            due = [i for i, m in enumerate(model.ids.tolist())
                   if count in self.wanted[m] or m in self.diverged_at]
            if due:
                self._checkpoint(count, due)
        now = time.perf_counter()
        if now - self.clock["progress"] > 0.5:
            self.clock["progress"] = now
            self.run.emit("progress", self._fraction(count))
            if self.run.should_stop is not None and self.run.should_stop():
                raise StopTraining
        if model.members == 0:
            model.stop_training = True

    def on_epoch_end_dead(self, epoch: int) -> None:
        """Members the end-of-epoch check retired: they diverged in this epoch."""
        for m in self.run.model.dead:
            self.diverged_at.setdefault(m, epoch)

    def _fraction(self, count: int) -> float:
        done = sum(min(count, m.max_epochs) for m in self.run.members)
        return done / self.work

    def _checkpoint(self, count: int, due: list[int]) -> None:
        """Evaluate and emit the trials due at ``count`` epochs; retire finished members."""
        model = self.run.model
        seconds = self._seconds()
        started = time.perf_counter()
        track = model.track_metrics
        model.track_metrics = True
        x_train, y_train, x_dev, y_dev = self.run.data
        results: dict[str, Any] = {}
        for split, x, y in (("train", x_train, y_train), ("dev", x_dev, y_dev)):
            for name, values in model.evaluate(x, y, return_dict=True).items():
                results[metric_column(split, name)] = values
        model.track_metrics = track
        retire = []
        for i in due:
            m = int(model.ids[i])
            member = self.run.members[m]
            diverged = m in self.diverged_at
            weights = model.dead.get(m) or model.member_weights(i)
            for checkpoint in member.checkpoints:
                if checkpoint.trial_key in self.emitted[m]:
                    continue
                if checkpoint.epochs != count and not (diverged and checkpoint.epochs > count):
                    continue
                epochs_run = min(checkpoint.epochs, self.diverged_at.get(m, checkpoint.epochs))
                keep = self.wanted[m][checkpoint.epochs]
                history = {e: dict(v) for e, v in self.history[m].items()
                           if e in keep and (e < checkpoint.epochs)}
                self.run.emit("result", TrialResult(
                    trial_key=checkpoint.trial_key,
                    metrics={key: float(values[i]) for key, values in results.items()},
                    history=history,
                    fit_seconds=seconds,
                    timings={
                        "engine": "population",
                        "population_size": len(self.run.members),
                        "shared_time": True,
                        "padded_units": list(model._widths[:-1]),
                    },
                    weights=weights,
                    epochs_run=int(epochs_run),
                    diverged=diverged,
                    engine="population",
                ))
                self.emitted[m].add(checkpoint.trial_key)
            if diverged or count >= member.max_epochs:
                retire.append(i)
                self.retired.add(m)
        if retire:
            live = [i for i in range(model.members) if i not in set(retire)]
            model.keep(live)
        self.clock["paused"] += time.perf_counter() - started


def train(members: Sequence[Member], emit: Emit,
          should_stop: Callable[[], bool] | None = None) -> None:
    """Train ``members`` as one population (see :class:`PopulationRun`)."""
    PopulationRun(members, emit, should_stop).train()


__all__ = ["PopulationRun", "population_key", "train", "unsupported_reason"]
