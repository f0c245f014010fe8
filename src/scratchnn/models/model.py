"""``Model``: the base of every model — compile, fit, evaluate, predict, and the steps they take.

A model is a layer made of layers. :class:`Sequential` stacks them, a functional graph
(``Model(inputs=..., outputs=...)``) wires them, and a subclass creates them in ``__init__`` and
writes ``call``. Whatever the structure, training goes through the one loop
(:mod:`scratchnn.models.trainer`), which hands each batch to :meth:`Model.train_step`. A new
training algorithm (a GAN's two updates, contrastive divergence, a custom loss) overrides that
step and keeps the loop's callbacks, progress, history, divergence handling and run recording::

    >>> import numpy as np
    >>> from scratchnn import Model, ops
    >>> from scratchnn.layers import Dense
    >>> class MeanAbsolute(Model):
    ...     '''Regression trained on the mean absolute error, written by hand.'''
    ...     def __init__(self, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.dense = Dense(1)
    ...     def call(self, x, training=False):
    ...         return self.dense(x)
    ...     def train_step(self, batch):
    ...         x, y, _ = batch
    ...         loss = ops.mean(ops.abs(self(x, training=True) - y.reshape(-1, 1)))
    ...         self.minimize(loss)
    ...         return {"loss": loss.item()}
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(64, 3)); y = x @ np.array([1.0, -2.0, 0.5])
    >>> model = MeanAbsolute(seed=0)
    >>> model.compile(optimizer="adam")
    >>> history = model.fit(x, y, epochs=3, verbose=0)
    >>> len(history.history["loss"])
    3

Shape legend: N samples (B in a batch), K output units.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from scratchnn import backend, ops, optimizers
from scratchnn import callbacks as callbacks_module
from scratchnn.layers import Layer
from scratchnn.layers.base import snake_name
from scratchnn.layers.sequence import check_not_ragged
from scratchnn.models import data, trainer
from scratchnn.models.compiled import CompiledLoss, MetricTracker, per_output, resolve_metric
from scratchnn.tensor import Tensor, no_grad

PREDICT_BATCH_SIZE = trainer.PREDICT_BATCH_SIZE


def check_int(value: Any, label: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, or a ValueError naming ``label``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{label} must be an integer >= {minimum}; received {label}={value!r}.")
    return int(value)


def claim_names(layers: Sequence[Layer]) -> None:
    """Give automatically named layers names unique within this list (``dense``, ``dense_1``,
    ... in order), so that weight names never depend on what else the process built."""
    taken = {layer.name for layer in layers if not layer._auto_named}
    counts: dict[str, int] = {}
    for layer in layers:
        if not layer._auto_named:
            continue
        base = snake_name(type(layer))
        n = counts.get(base, 0)
        name = base if n == 0 else f"{base}_{n}"
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        counts[base] = n + 1
        taken.add(name)
        layer.name = name
        layer._auto_named = False


class Model(Layer):
    """Base class of models: compile / fit / evaluate / predict around overridable steps.

    ``Model(inputs=..., outputs=...)`` builds a functional graph (see
    :mod:`scratchnn.models.functional`); a subclass that creates layers as attributes in
    ``__init__`` and implements :meth:`call` is a model too.

    Args:
        name: the model's name (default: its class name in snake case).
        dtype: ``"float32"`` (default) or ``"float64"``: weights and computations.
        seed: seed of the model's ``numpy.random.Generator``, which draws the initial weights
            and, unless ``fit(seed=...)`` is given, shuffles batches and draws dropout masks.

    Attributes:
        optimizer: the compiled optimizer, or ``None``.
        stop_training: set by a callback to end ``fit`` after the current batch.
        history: the :class:`~scratchnn.callbacks.History` of the last ``fit``.
    """

    registry_name: ClassVar[str | None] = None
    """The name a registered subclass is saved under (see :func:`scratchnn.models.register`)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Model and ("inputs" in kwargs or "outputs" in kwargs or args):
            from scratchnn.models.functional import Functional

            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(
        self, *, name: str | None = None, dtype: Any = None, seed: int | None = None
    ) -> None:
        object.__setattr__(self, "_tracked", {})
        super().__init__(trainable=True, name=name or snake_name(type(self)), dtype=dtype)
        self._auto_named = name is None
        self.dtype = backend.resolve_dtype(dtype)
        self.seed = None if seed is None else check_int(seed, "seed", 0)
        self._rng = np.random.default_rng(self.seed)
        self.optimizer: optimizers.Optimizer | None = None
        self.compiled_loss: CompiledLoss | None = None
        self._compile_args: dict[str, Any] | None = None
        self._trackers: list[MetricTracker] = []
        self._snapshot: list[np.ndarray] | None = None
        self.stop_training = False
        self.history: callbacks_module.History | None = None

    # ------------------------------------------------------------------------------ structure
    def __setattr__(self, name: str, value: Any) -> None:
        # Layers assigned as attributes (the subclassing API) become part of the model.
        tracked = self.__dict__.get("_tracked")
        if tracked is not None and not name.startswith("_"):
            if isinstance(value, Layer) and value is not self:
                tracked[name] = value
                self._adopt([value])
                self._structure_changed()
            elif isinstance(value, (list, tuple)) and value and all(
                isinstance(v, Layer) for v in value
            ):
                tracked[name] = list(value)
                self._adopt(list(value))
                self._structure_changed()
        super().__setattr__(name, value)

    def _adopt(self, layers: Sequence[Layer]) -> None:
        """Hand this model's generator to unbuilt layers (for their lazy build)."""
        for layer in layers:
            if not layer.built and layer._build_rng is None:
                layer._build_rng = self._rng

    def _child_layers(self) -> list[Layer]:
        """The layers this model is made of, in order (models among them count as one)."""
        out: list[Layer] = []
        for value in self._tracked.values():
            out.extend(value if isinstance(value, list) else [value])
        return out

    @property
    def layers(self) -> list[Layer]:
        """The layers, in order (an ``Input`` is not listed)."""
        return [layer for layer in self._child_layers() if type(layer).__name__ != "Input"]

    def _weight_entries(self) -> list[tuple[str, Tensor]]:
        """``(name, weight)`` of every weight, ``"<layer>/<weight>"`` (nested models prefix
        their own name), each weight once."""
        out: list[tuple[str, Tensor]] = []
        seen: set[int] = set()
        for layer in self._child_layers():
            if isinstance(layer, Model):
                entries = [(f"{layer.name}/{n}", w) for n, w in layer._weight_entries()]
            else:
                entries = [(f"{layer.name}/{n}", w) for n, w in layer.weights.items()]
            for name, w in entries:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append((name, w))
        return out

    @property
    def params(self) -> list[Tensor]:
        """All weights (trainable and frozen), in :meth:`weight_dict` order."""
        cached = self.__dict__.get("_params_cache")
        if cached is None:
            cached = [w for _, w in self._weight_entries()]
            if self.built:  # the list is fixed until the structure changes (_structure_changed)
                self._params_cache = cached
        return list(cached)

    def _structure_changed(self) -> None:
        """Forget what depends on the layers (the parameter list, the divergence snapshot)."""
        self._params_cache = None
        self._snapshot = None

    @property
    def trainable_params(self) -> list[Tensor]:
        """The weights that receive gradients."""
        return [w for w in self.params if w.requires_grad]

    def parameters(self) -> list[Tensor]:
        """All weights, for a hand-written loop's ``optimizer.step(model.parameters())``.

        Frozen weights are included but have ``requires_grad=False``, so optimizers skip them and
        their state stays aligned when a layer is frozen or unfrozen.
        """
        return self.params

    @property
    def trainable(self) -> bool:
        """Whether the model's weights are trained (setting it freezes or unfreezes every layer)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._child_layers():
            layer.trainable = value

    @property
    def weights(self) -> dict[str, Tensor]:  # type: ignore[override]
        """All weights by name (see :meth:`weight_dict` for copies)."""
        return dict(self._weight_entries())

    @weights.setter
    def weights(self, value: dict[str, Tensor]) -> None:
        if value:
            raise AttributeError("a model's weights belong to its layers")

    @property
    def built(self) -> bool:  # type: ignore[override]
        """Whether every layer has its weights."""
        layers = self._child_layers()
        return bool(layers) and all(layer.built for layer in layers)

    @built.setter
    def built(self, value: bool) -> None:
        pass  # derived from the layers

    def count_params(self) -> int:
        """Number of scalars in all weights."""
        return int(sum(w.size for w in self.params))

    @property
    def input_names(self) -> list[str]:
        """Names of the model's inputs (keys of ``x`` given as a dict)."""
        return ["input"]

    @property
    def output_names(self) -> list[str]:
        """Names of the model's outputs (keys of ``y``, ``loss`` and ``metrics`` dicts)."""
        return ["output"]

    @property
    def input_shapes(self) -> list[tuple[int, ...] | None]:
        """Shape of one sample of each input (``None`` where not known yet)."""
        return [None]

    @property
    def output_shapes(self) -> list[tuple[int, ...] | None]:
        """Shape of one sample of each output (``None`` where not known yet)."""
        return [None]

    def _output_layers(self) -> list[Any]:
        """The layer producing each output (for the logits form of a loss), or ``None``."""
        return [None] * len(self.output_names)

    # ---------------------------------------------------------------------------- the forward
    def call(self, x: Any, training: bool = False) -> Any:
        """The forward pass on a batch (Tensors in, Tensors out); subclasses implement it."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement call(self, x, training=False), or be built "
            "with Model(inputs=..., outputs=...) or Sequential([...])."
        )

    def __call__(self, x: Any, training: bool = False, mask: Any = None) -> Any:
        """The forward pass on a batch, recording the graph (or a node on symbolic inputs).

        Arrays are cast to the model's dtype (``x`` is one array, or a list for several inputs).
        """
        if isinstance(x, (list, tuple)):
            x = [self._as_tensor(t) for t in x]
        elif not _is_symbolic(x):
            x = self._as_tensor(x)
        return super().__call__(x, training=training, mask=mask)

    def _as_tensor(self, x: Any) -> Any:
        if isinstance(x, Tensor) or _is_symbolic(x):
            return x
        return Tensor(data.as_features(x, self.dtype), dtype=self.dtype)

    def build(self, input_shape: Any, rng: Any = None, dtype: Any = None) -> None:
        """Create the weights for inputs of ``input_shape`` (subclasses: by calling the model on
        a zero batch)."""
        shapes = input_shape if _is_shape_list(input_shape) else [input_shape]
        zeros = [np.zeros((1, *data.sample_shape(s)), dtype=self.dtype) for s in shapes]
        with no_grad():
            self.call(zeros[0] if len(zeros) == 1 else zeros)

    def _forward_for_loss(self, xs: list[Tensor], training: bool) -> list[Tensor]:
        """The outputs the losses compare with the targets: logits where a loss takes them."""
        out = self(xs[0] if len(xs) == 1 else xs, training=training)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def regularization_loss(self) -> Tensor | None:
        """The sum of the layers' weight penalties (``None`` when there are none)."""
        total = None
        for layer in self._leaf_layers():
            if layer.regularizers:
                penalty = layer.regularization_loss()
                if penalty is not None:
                    total = penalty if total is None else ops.add(total, penalty)
        return total

    @property
    def losses(self) -> list[Tensor]:
        """The weight penalties of the layers (kernel/bias regularizers), one Tensor each.

        A hand-written loop adds them to its loss: ``loss = data_loss + sum(model.losses)``.
        """
        return [
            reg(layer.weights[name])
            for layer in self._leaf_layers()
            for name, reg in layer.regularizers.items()
        ]

    def _leaf_layers(self) -> list[Layer]:
        """Every non-model layer, nested models opened, each once."""
        out: list[Layer] = []
        seen: set[int] = set()
        for layer in self._child_layers():
            inner = layer._leaf_layers() if isinstance(layer, Model) else [layer]
            for leaf in inner:
                if id(leaf) not in seen:
                    seen.add(id(leaf))
                    out.append(leaf)
        return out

    # ---------------------------------------------------------------------------- compile
    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Any = None,
        loss_weights: Any = None,
    ) -> None:
        """Choose the optimizer, the loss and the metrics for training.

        Args:
            optimizer: a name (``"adam"``, ``"sgd"``, ...), an Optimizer or a config dict (see
                :func:`scratchnn.optimizers.get`).
            loss: a name (``"binary_crossentropy"``, ``"sparse_categorical_crossentropy"``,
                ``"mse"``, ...), a Loss or a config dict; for several outputs one per output (a
                list in output order, or a dict by output name). A model whose own
                :meth:`train_step` computes its loss may leave it out.
            metrics: names or functions ``(y_true, y_pred) -> float`` (see
                :func:`scratchnn.metrics.get`), for every output; or a dict by output name.
                ``"accuracy"``/``"acc"`` picks binary, categorical or sparse-categorical
                accuracy from the loss, as Keras does.
            loss_weights: multipliers of the outputs' losses (a number, a list or a dict).
                Regularization penalties are not scaled.

        Raises:
            ValueError: no loss, an unknown name (the message lists the known ones), bad
                ``loss_weights``.
        """
        custom_step = type(self).train_step is not Model.train_step
        if loss is None and not custom_step:
            raise ValueError(
                "compile() needs a loss, e.g. loss='binary_crossentropy' (sigmoid output), "
                "'sparse_categorical_crossentropy' (softmax output, integer labels) or 'mse'."
            )
        self.optimizer = optimizers.get(optimizer)
        self._compile_args = {"loss": loss, "metrics": metrics, "loss_weights": loss_weights}
        self._link_compiled()

    def _link_compiled(self) -> None:
        """(Re)make the compiled loss and metric trackers for the current structure."""
        args = self._compile_args
        if args is None:
            return
        names = self.output_names
        if args["loss"] is None:
            self.compiled_loss = None
            self._trackers = []
            return
        self.compiled_loss = CompiledLoss(
            args["loss"], args["loss_weights"], names, self._output_layers()
        )
        metrics = args["metrics"]
        if isinstance(metrics, (str, bytes)) or callable(metrics):
            metrics = [metrics]
        per = per_output(metrics, names, "metrics") if isinstance(metrics, dict) else (
            [metrics] * len(names)
        )
        self._trackers = []
        for i, entries in enumerate(per):
            if isinstance(entries, (str, bytes)) or callable(entries):
                entries = [entries]
            resolved = [resolve_metric(m, self.compiled_loss.losses[i]) for m in entries or []]
            prefix = f"{names[i]}_" if len(names) > 1 else ""
            self._trackers.append(MetricTracker(resolved, prefix))
        labels = self._metric_names()
        repeated = sorted({n for n in labels if labels.count(n) > 1} | ({"loss"} & set(labels)))
        if repeated:
            raise ValueError(f"Metric names must be unique and not 'loss'; repeated: {repeated}.")

    @property
    def loss(self) -> Any:
        """The compiled loss (one Loss, or a list for several outputs), or ``None``."""
        if self.compiled_loss is None:
            return None
        found = self.compiled_loss.losses
        return found[0] if len(found) == 1 else found

    @property
    def loss_weights(self) -> Any:
        """The compiled loss weights (``None`` when none were given)."""
        return None if self.compiled_loss is None else self.compiled_loss.weights_config()

    def compile_config(self) -> dict[str, Any] | None:
        """What :meth:`compile` was given, as JSON-serialisable data (``None`` before compile)."""
        if self.optimizer is None or self._compile_args is None:
            return None
        metrics = {}
        for name, tracker in zip(self.output_names, self._trackers, strict=True):
            metrics[name] = [label for label, _ in tracker.metrics]
        return {
            "optimizer": self.optimizer.get_config(),
            "loss": None if self.compiled_loss is None else self.compiled_loss.config(),
            "metrics": next(iter(metrics.values()), []) if len(metrics) <= 1 else metrics,
            "loss_weights": self.loss_weights,
        }

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """Compile from a dict returned by :meth:`compile_config`."""
        self.compile(
            optimizer=config["optimizer"],
            loss=config.get("loss"),
            metrics=config.get("metrics") or None,
            loss_weights=config.get("loss_weights"),
        )

    def _check_compiled(self, method: str) -> None:
        if self.optimizer is None and method in ("fit", "train_on_batch"):
            raise RuntimeError(
                f"{method}() needs a compiled model: call model.compile(optimizer=..., loss=...) "
                "first, e.g. model.compile(optimizer='adam', loss='binary_crossentropy')."
            )
        if self.compiled_loss is None and type(self).test_step is Model.test_step and method in (
            "evaluate", "test_on_batch"
        ):
            raise RuntimeError(
                f"{method}() needs a compiled model with a loss: call model.compile(optimizer="
                "..., loss=...) first, e.g. model.compile(optimizer='adam', "
                "loss='binary_crossentropy')."
            )

    # ------------------------------------------------------------------------- preparing data
    def _input_list(self, x: Any, label: str) -> list[Any]:
        names = self.input_names
        if isinstance(x, dict):
            missing = [n for n in names if n not in x]
            if missing:
                raise ValueError(
                    f"{label} is missing inputs {missing}; the model's inputs are {names}."
                )
            return [x[n] for n in names]
        if len(names) > 1:
            if not isinstance(x, (list, tuple)) or len(x) != len(names):
                raise ValueError(
                    f"This model has {len(names)} inputs {names}; pass {label} as a list of "
                    f"{len(names)} arrays (or a dict by input name)."
                )
            return list(x)
        return [x]

    def _prepare_inputs(self, x: Any, label: str = "x") -> list[np.ndarray]:
        """Each input cast once to the model dtype and checked against the model's inputs."""
        items = self._input_list(x, label)
        arrays = []
        for i, item in enumerate(items):
            name = label if len(items) == 1 else f"{label}[{self.input_names[i]!r}]"
            # sequences of different lengths: say which layer wanted one length, and the fix
            check_not_ragged(item, self.layers[0] if len(items) == 1 and self.layers else self)
            was_1d = np.ndim(item.data if isinstance(item, Tensor) else item) == 1
            arrays.append((data.as_features(item, self.dtype, name), name, was_1d))
        if not self.built:
            shapes = [a.shape[1:] for a, _, _ in arrays]
            self.build(shapes[0] if len(shapes) == 1 else shapes)
        rows = {len(a) for a, _, _ in arrays}
        if len(rows) > 1:
            raise ValueError(
                f"The inputs of {label} have different numbers of samples: "
                f"{[len(a) for a, _, _ in arrays]}; every input needs one row per sample."
            )
        for (arr, name, was_1d), expected in zip(arrays, self.input_shapes, strict=True):
            if expected is not None and arr.shape[1:] != tuple(expected):
                raise ValueError(self._input_shape_error(name, arr.shape, expected, was_1d))
        return [a for a, _, _ in arrays]

    def _input_shape_error(
        self, name: str, shape: tuple[int, ...], expected: tuple[int, ...], was_1d: bool
    ) -> str:
        hint = " For a single sample pass x.reshape(1, -1)." if was_1d else ""
        return (
            f"Model {self.name!r} expects {name} of shape {(None, *expected)}; received shape "
            f"{shape}.{hint}"
        )

    def _prepare_targets(self, y: Any, n: int, label: str = "y") -> list[np.ndarray]:
        """Each output's targets checked against its loss and converted once."""
        assert self.compiled_loss is not None
        names = self.output_names
        if isinstance(y, dict):
            items = [y.get(name) for name in names]
        elif len(names) > 1:
            if not isinstance(y, (list, tuple)) or len(y) != len(names):
                raise ValueError(
                    f"This model has {len(names)} outputs {names}; pass {label} as a list of "
                    f"{len(names)} arrays (or a dict by output name)."
                )
            items = list(y)
        else:
            items = [y]
        out = []
        for i, item in enumerate(items):
            name = label if len(items) == 1 else f"{label}[{names[i]!r}]"
            if item is None:
                raise ValueError(f"{name} is missing: every output needs its targets.")
            out.append(data.as_targets(
                item, self.compiled_loss.losses[i], self.output_shapes[i], names[i], self.dtype,
                n, name,
            ))
        return out

    def _prepare(
        self, x: Any, y: Any, sample_weight: Any = None, class_weight: Any = None,
        prefix: str = "",
    ) -> trainer.Arrays:
        xs = self._prepare_inputs(x, f"{prefix}x")
        n = len(xs[0])
        if y is None:
            if self.compiled_loss is not None and type(self).train_step is Model.train_step:
                raise ValueError(f"{prefix}y is missing: pass the targets, fit(x, y).")
            return trainer.Arrays(xs, [], [])
        ys = self._prepare_targets(y, n, f"{prefix}y") if self.compiled_loss is not None else [
            data.as_features(y, self.dtype, f"{prefix}y")
        ]
        sws = []
        for i, ya in enumerate(ys):
            loss = None if self.compiled_loss is None else self.compiled_loss.losses[i]
            sws.append(data.sample_weights(
                sample_weight, class_weight,
                lambda ya=ya, loss=loss: data.class_labels(ya, loss), n, self.dtype,
            ))
        return trainer.Arrays(xs, ys, sws)

    # ------------------------------------------------------------------------------ the steps
    def compute_loss(
        self, x: Any, y: Any, sample_weight: Any = None, training: bool = True
    ) -> tuple[Tensor, list[np.ndarray] | None]:
        """The compiled objective of a batch and the model's outputs (arrays, for metrics).

        The outputs are computed only when a metric needs them (``None`` otherwise); where a
        loss takes logits, the output activation is applied to them without recording a graph.
        """
        assert self.compiled_loss is not None
        xs = x if isinstance(x, tuple) else (x,)
        tensors = [t if isinstance(t, Tensor) else Tensor(t, dtype=self.dtype) for t in xs]
        preds = self._forward_for_loss(tensors, training)
        ys = y if isinstance(y, tuple) else (y,)
        sws = sample_weight if isinstance(sample_weight, tuple) else (sample_weight,) * len(ys)
        loss = self.compiled_loss(ys, preds, sws, self.regularization_loss())
        outputs = None
        if any(t.active for t in self._trackers):
            outputs = []
            with no_grad():
                for pred, fused, layer in zip(
                    preds, self.compiled_loss.fused, self._output_layers(), strict=True
                ):
                    outputs.append((layer.activation(pred) if fused else pred).data)
        return loss, outputs

    def minimize(self, loss: Tensor, params: Sequence[Tensor] | None = None) -> None:
        """One optimizer step down ``loss``: clear the gradients, back-propagate, update.

        Args:
            loss: a scalar Tensor computed from the model's weights.
            params: the weights to update (default: all of this model's; frozen ones are
                skipped). A GAN passes the generator's or the discriminator's.
        """
        if self.optimizer is None:
            raise RuntimeError("minimize() needs an optimizer: call model.compile(...) first.")
        params = self.params if params is None else list(params)
        for p in params:
            p.grad = None
        loss.backward()
        self.optimizer.step(params)

    def train_step(self, batch: tuple[Any, Any, Any]) -> dict[str, Any]:
        """One gradient step on a batch; the step ``fit`` and ``train_on_batch`` take.

        Args:
            batch: ``(x, y, sample_weight)`` prepared arrays (tuples for several inputs or
                outputs; ``y`` and ``sample_weight`` may be ``None``).

        Returns:
            This batch's logs, ``{"loss": value}`` (computed before the update); the loop
            averages them over the epoch. A non-finite loss skips the update.
        """
        x, y, sw = batch
        params = self.params
        for p in params:
            p.grad = None
        loss, outputs = self.compute_loss(x, y, sw, training=True)
        value = float(loss.data)
        if math.isfinite(value):
            loss.backward()
            self.optimizer.step(params)
        if outputs is not None:
            self._update_metrics(y, outputs)
        return {"loss": value}

    def test_step(self, batch: tuple[Any, Any, Any]) -> dict[str, Any]:
        """Loss (penalties included) of a batch without updating; the step of ``evaluate``."""
        x, y, sw = batch
        with no_grad():
            loss, outputs = self.compute_loss(x, y, sw, training=False)
        if outputs is not None:
            self._update_metrics(y, outputs)
        return {"loss": float(loss.data)}

    def predict_step(self, x: Any) -> Any:
        """Outputs of a batch (arrays; a list for several outputs), dropout inactive."""
        if isinstance(x, tuple):
            x = [Tensor(t, dtype=self.dtype) for t in x]
        else:
            x = Tensor(x, dtype=self.dtype)
        with no_grad():
            out = self(x, training=False)
        if isinstance(out, (list, tuple)):
            return [backend.to_numpy(o.data) for o in out]
        return backend.to_numpy(out.data)

    # ------------------------------------------------------------------------ metrics hooks
    def _update_metrics(self, y: Any, outputs: Sequence[np.ndarray]) -> None:
        ys = y if isinstance(y, tuple) else (y,)
        for tracker, yi, out in zip(self._trackers, ys, outputs, strict=True):
            tracker.update(yi, out)

    def _reset_metrics(self) -> None:
        for tracker in self._trackers:
            tracker.reset()

    def _metric_results(self) -> dict[str, Any]:
        logs: dict[str, Any] = {}
        for tracker in self._trackers:
            logs.update(tracker.result())
        return logs

    def _metric_names(self) -> list[str]:
        return [f"{t.prefix}{name}" for t in self._trackers for name, _ in t.metrics]

    # --------------------------------------------------------------- divergence, randomness
    def _weights_finite(self) -> bool:
        for p in self.params:
            # NaN and inf reach the sum (one pass, no temporary); a finite sum means finite
            # weights, an overflowing one is settled element by element.
            if not math.isfinite(np.add.reduce(p.data, axis=None)) and not np.isfinite(
                p.data
            ).all():
                return False
        return True

    def _take_snapshot(self) -> None:
        """Copy the weights (the loop keeps a recent finite copy to undo a divergence)."""
        params = self.params
        snap = self._snapshot
        if snap is None or len(snap) != len(params) or any(
            s.shape != p.shape for s, p in zip(snap, params, strict=True)
        ):
            self._snapshot = [np.array(p.data, copy=True) for p in params]
            return
        for saved, p in zip(snap, params, strict=True):
            np.copyto(saved, p.data)

    def _restore_snapshot(self) -> None:
        """Put the snapshot back if the current weights are not finite."""
        if self._snapshot is None or self._weights_finite():
            return
        for saved, p in zip(self._snapshot, self.params, strict=True):
            np.copyto(p.data, saved)

    def _diverged(self, logs: dict[str, Any]) -> bool:
        """Whether a step's logs say training diverged (a NaN or infinite value)."""
        for value in logs.values():
            if not math.isfinite(value):
                return True
        return False

    def _epoch_order(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """The order of the rows in a shuffled epoch."""
        return rng.permutation(n)

    @contextlib.contextmanager
    def _use_rng(self, rng: np.random.Generator) -> Iterator[None]:
        """Hand ``rng`` to the layers that draw masks (those without a seed of their own)."""
        swapped = []
        for layer in self._leaf_layers():
            if hasattr(layer, "rng") and getattr(layer, "seed", None) is None:
                swapped.append((layer, layer.rng))
                layer.rng = rng
        try:
            yield
        finally:
            for layer, previous in swapped:
                layer.rng = previous

    # ------------------------------------------------------------------- fit / evaluate / ...
    def fit(
        self,
        x: Any,
        y: Any = None,
        batch_size: int | None = 32,
        epochs: int = 1,
        validation_split: float = 0.0,
        validation_data: tuple[Any, ...] | None = None,
        shuffle: bool = True,
        class_weight: dict[int, float] | None = None,
        sample_weight: Any = None,
        callbacks: Sequence[callbacks_module.Callback] | None = None,
        verbose: int = 1,
        initial_epoch: int = 0,
        seed: int | None = None,
    ) -> callbacks_module.History:
        """Train the model by mini-batch gradient descent (the loop of
        :mod:`scratchnn.models.trainer`, one :meth:`train_step` per batch).

        Args:
            x: inputs ``(N, ...)`` (a 1-D array is N samples of one feature); a list or a dict
                by input name for several inputs.
            y: targets: 0/1 ``(N,)`` or ``(N, 1)`` (sigmoid + binary CE); integer labels
                ``(N,)`` (softmax + sparse CE); one-hot or multi-hot ``(N, K)``; real values
                (regression); a list or dict for several outputs. May be ``None`` for a model
                whose own ``train_step`` needs none.
            batch_size: rows per step; ``None`` or ``>= N`` is full-batch gradient descent.
            epochs: index of the last epoch (training runs epochs ``initial_epoch..epochs-1``).
            validation_split: fraction in [0, 1) of the rows, taken from the end before
                shuffling, held out to compute ``val_`` logs each epoch.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``; takes
                precedence over ``validation_split``.
            shuffle: reshuffle the rows each epoch (not when one batch holds all the rows).
            class_weight: ``{class: weight}`` multiplying each sample's loss by its class's
                weight.
            sample_weight: ``(N,)`` weights of each sample's loss.
            callbacks: :class:`~scratchnn.callbacks.Callback` instances.
            verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
            initial_epoch: epoch to start from (to resume training).
            seed: seed of a generator for this call's shuffling and dropout; ``None`` uses the
                model's generator.

        Returns:
            A :class:`~scratchnn.callbacks.History`: ``history.history["loss"]`` and each metric
            and ``val_`` twin, one value per epoch.

        Logs: ``loss`` is the mean of the batch losses of the epoch (weighted by batch size,
        penalties included, each computed before its step). Metrics are computed once per epoch
        on all the predictions made for the training batches of that epoch, unweighted. ``val_``
        values are computed after the epoch on the whole validation set.

        If the loss becomes NaN or infinite, training stops with a ``RuntimeWarning``, and the
        weights are put back to a finite copy from at most
        :data:`~scratchnn.models.trainer.SNAPSHOT_EVERY` steps before (the optimizer's state
        is not: compile again before training on).

        Raises:
            RuntimeError: before :meth:`compile`.
            ValueError: bad arguments or data (each message names the problem and the fix).
        """
        self._check_compiled("fit")
        epochs = check_int(epochs, "epochs", 0)
        initial_epoch = check_int(initial_epoch, "initial_epoch", 0)
        if batch_size is not None:
            batch_size = check_int(batch_size, "batch_size", 1)
        if isinstance(validation_split, bool) or not (
            isinstance(validation_split, (int, float)) and 0 <= validation_split < 1
        ):
            raise ValueError(
                f"validation_split must be a fraction in [0, 1); received "
                f"validation_split={validation_split!r}."
            )
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2; received verbose={verbose!r}.")
        train = self._prepare(x, y, sample_weight, class_weight)
        validation = None
        if validation_data is not None:
            validation = self._validation_arrays(validation_data)
        elif validation_split:
            n = len(train)
            n_val = int(n * validation_split)
            if n_val == 0 or n_val == n:
                raise ValueError(
                    f"validation_split={validation_split} of {n} samples leaves {n_val} for "
                    f"validation and {n - n_val} for training; both need at least one."
                )
            validation, train = train.slice(n - n_val, n), train.slice(0, n - n_val)
        rng = self._rng if seed is None else np.random.default_rng(check_int(seed, "seed", 0))
        return trainer.fit(
            self, train, batch_size=batch_size, epochs=epochs, initial_epoch=initial_epoch,
            shuffle=shuffle, rng=rng, callbacks=list(callbacks or []), verbose=verbose,
            validation=validation,
        )

    def _validation_arrays(self, validation_data: Any) -> trainer.Arrays:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            length = (
                f" of length {len(validation_data)}"
                if isinstance(validation_data, (tuple, list)) else ""
            )
            raise ValueError(
                "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                f"sample_weight_val); received {type(validation_data).__name__}{length}."
            )
        x_val, y_val, *rest = validation_data
        return self._prepare(x_val, y_val, rest[0] if rest else None, prefix="validation ")

    def evaluate(
        self,
        x: Any,
        y: Any = None,
        batch_size: int | None = None,
        sample_weight: Any = None,
        verbose: int = 0,
        return_dict: bool = False,
        callbacks: Sequence[callbacks_module.Callback] | None = None,
    ) -> Any:
        """Loss (penalties included) and metrics of the model on ``(x, y)``.

        Computed in batches of ``batch_size`` rows (default :data:`PREDICT_BATCH_SIZE`) without
        recording a graph; the loss is the mean over all samples and metrics are computed on all
        predictions at once.

        Returns:
            The loss when no metrics were compiled, else ``[loss, *metrics]``; with
            ``return_dict=True`` a dict ``{"loss": ..., "accuracy": ...}``.
        """
        self._check_compiled("evaluate")
        bs = PREDICT_BATCH_SIZE if batch_size is None else check_int(batch_size, "batch_size", 1)
        arrays = self._prepare(x, y, sample_weight)
        cbs = callbacks_module.CallbackList(callbacks, model=self) if callbacks else None
        logs = trainer.evaluate(self, arrays, bs, cbs, verbose)
        return self._result(logs, return_dict)

    def _result(self, logs: dict[str, Any], return_dict: bool) -> Any:
        if return_dict:
            return logs
        if len(logs) == 1 and "loss" in logs:
            return logs["loss"]
        return list(logs.values())

    def train_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: dict[int, float] | None = None,
        return_dict: bool = False,
    ) -> Any:
        """One :meth:`train_step` on one batch (the step ``fit`` takes).

        Returns:
            The batch's loss (computed before the step), or ``[loss, *metrics]`` / a dict, as
            :meth:`evaluate`. A non-finite loss skips the update with a ``RuntimeWarning``.
        """
        self._check_compiled("train_on_batch")
        arrays = self._prepare(x, y, sample_weight, class_weight)
        self._reset_metrics()
        with np.errstate(over="ignore", invalid="ignore"):
            logs = self.train_step(arrays.batch())
        if self._diverged(logs):
            import warnings

            warnings.warn(
                f"train_on_batch: the loss became {logs.get('loss')}; the update was skipped "
                "where it could be. Lower the learning rate or scale the inputs.",
                RuntimeWarning,
                stacklevel=2,
            )
        return self._result({**logs, **self._metric_results()}, return_dict)

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> Any:
        """Loss and metrics of one batch, without updating (the step ``evaluate`` takes)."""
        self._check_compiled("test_on_batch")
        arrays = self._prepare(x, y, sample_weight)
        self._reset_metrics()
        logs = self.test_step(arrays.batch())
        return self._result({**logs, **self._metric_results()}, return_dict)

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: int = 0,
        callbacks: Sequence[callbacks_module.Callback] | None = None,
    ) -> Any:
        """Outputs of the model for ``x``, as NumPy arrays (a list for several outputs).

        Runs in batches of ``batch_size`` rows (default :data:`PREDICT_BATCH_SIZE`) under
        ``no_grad()``: no graph is recorded and memory stays at the output plus one batch of
        activations, for 1 row or millions. Dropout is inactive. Callbacks get the
        ``on_predict_*`` hooks.

        Returns:
            ``(N, K)`` outputs (probabilities for sigmoid/softmax outputs).
        """
        bs = PREDICT_BATCH_SIZE if batch_size is None else check_int(batch_size, "batch_size", 1)
        arrays = trainer.Arrays(self._prepare_inputs(x))
        cbs = callbacks_module.CallbackList(callbacks, model=self) if callbacks else None
        outs = trainer.predict(self, arrays, bs, cbs, verbose)
        return outs[0] if len(outs) == 1 else outs

    # -------------------------------------------------------------------------------- summary
    def _summary_rows(self) -> list[tuple[Layer, str]]:
        """``(layer, output shape text)`` per layer, in order."""
        return [(layer, "?") for layer in self.layers]

    def summary(self, print_fn: Any = print) -> str:
        """Print and return a table of the layers: name (type), output shape, parameters.

        Frozen layers (``trainable=False``) are marked, and totals split trainable and
        non-trainable parameters.

        Args:
            print_fn: called with the text (``None`` to only return it).
        """
        rows = [("Layer (type)", "Output Shape", "Param #", "Trainable")]
        for layer, shape in self._summary_rows():
            trainable = "yes" if layer.trainable else "no (frozen)"
            rows.append(
                (f"{layer.name} ({type(layer).__name__})", shape, f"{layer.count_params():,}",
                 trainable)
            )
        widths = [max(len(row[i]) for row in rows) + 3 for i in range(4)]
        rule = "=" * sum(widths)

        def line(row: tuple[str, ...]) -> str:
            return (
                row[0].ljust(widths[0]) + row[1].ljust(widths[1])
                + row[2].rjust(widths[2] - 3) + "   " + row[3]
            ).rstrip()

        total = self.count_params()
        trainable_count = sum(p.size for p in self.params if p.requires_grad)
        text = "\n".join([
            f'Model: "{self.name}"',
            line(rows[0]),
            rule,
            *(line(row) for row in rows[1:]),
            rule,
            f"Total params: {total:,}",
            f"Trainable params: {trainable_count:,}",
            f"Non-trainable params: {total - trainable_count:,}",
        ])
        if print_fn is not None:
            print_fn(text)
        return text

    # -------------------------------------------------------------------------------- weights
    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights, in Keras order: layer by layer, kernel then bias."""
        return [np.array(backend.to_numpy(p.data), copy=True) for p in self.params]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set all weights from a list in :meth:`get_weights` order (values are copied).

        Raises:
            ValueError: a wrong number of arrays, or an array of the wrong shape (named).
        """
        if not self.built:
            raise ValueError(
                "set_weights() needs a built model: give the first layer input_dim=... or call "
                "model.build(input_shape) first."
            )
        entries = self._weight_entries()
        weights = list(weights)
        if len(weights) != len(entries):
            raise ValueError(
                f"set_weights() received {len(weights)} arrays but the model has {len(entries)} "
                f"weights ({', '.join(n for n, _ in entries)})."
            )
        arrays = [np.asarray(backend.to_numpy(w)) for w in weights]
        for i, ((name, p), w) in enumerate(zip(entries, arrays, strict=True)):
            if w.shape != p.shape:
                raise ValueError(
                    f"Weight {i} ({name}) has shape {p.shape}; received an array of shape "
                    f"{w.shape}."
                )
        for (_, p), w in zip(entries, arrays, strict=True):
            p.data[...] = backend.xp.asarray(w, dtype=p.dtype)

    def weight_dict(self) -> dict[str, np.ndarray]:
        """All weights as ``{"<layer name>/<weight name>": array}`` (copies), in layer order."""
        return {name: np.array(backend.to_numpy(w.data), copy=True)
                for name, w in self._weight_entries()}

    def load_weight_dict(self, weights: dict[str, Any]) -> None:
        """Set all weights from a dict shaped like :meth:`weight_dict`.

        Raises:
            ValueError: naming the weights missing from ``weights``, unexpected entries, or a
                weight whose shape differs.
        """
        if not self.built:
            raise ValueError(
                "load_weight_dict() needs a built model: give the first layer input_dim=... or "
                "call model.build(input_shape) first."
            )
        names = [n for n, _ in self._weight_entries()]
        missing = [n for n in names if n not in weights]
        unexpected = sorted(set(weights) - set(names))
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing weights {missing}")
            if unexpected:
                parts.append(f"unexpected weights {unexpected}")
            raise ValueError(
                f"The weights do not match the model {self.name!r}: {'; '.join(parts)}. Weights "
                "are stored under the layer names: give the layers the same names "
                "(Dense(..., name=...)) or load the whole model with scratchnn.load_model."
            )
        self.set_weights([weights[n] for n in names])

    # ------------------------------------------------------------------- configuration, files
    def get_config(self) -> dict[str, Any]:
        """The model's constructor arguments as JSON data (a registered subclass adds its own)."""
        return {"name": self.name, "dtype": self.dtype.name, "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        """Build a model from :meth:`get_config` data."""
        return cls(**copy.deepcopy(config))

    def save(self, path: Any, include_optimizer: bool = True) -> None:
        """Save architecture, weights and (optionally) optimizer state: ``scratchnn.io``."""
        from scratchnn import io

        io.save_model(self, path, include_optimizer=include_optimizer)

    def save_weights(self, path: Any) -> None:
        """Save the weights only (see ``scratchnn.io.save_weights``)."""
        from scratchnn import io

        io.save_weights(self, path)

    def load_weights(self, path: Any) -> None:
        """Load weights saved by :meth:`save_weights` (see ``scratchnn.io.load_weights``)."""
        from scratchnn import io

        io.load_weights(self, path)

    def export(self, path: Any, format: str = "onnx", **options: Any) -> None:
        """Write the model for another runtime (ONNX): see :func:`scratchnn.export.export`."""
        from scratchnn import export

        export.export(self, path, format=format, **options)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} name={self.name!r} layers={len(self.layers)} "
            f"built={self.built} dtype={self.dtype.name}>"
        )


def _is_symbolic(x: Any) -> bool:
    from scratchnn.layers.base import symbolic_inputs

    try:
        return symbolic_inputs(x) is not None
    except TypeError:
        return True


def _is_shape_list(shape: Any) -> bool:
    return isinstance(shape, (list, tuple)) and bool(shape) and isinstance(
        shape[0], (list, tuple)
    )
