"""``Sequential``: a stack of layers with Keras' compile / fit / evaluate / predict.

This file holds the library's one training loop. ``fit`` and ``train_on_batch`` both take their
steps through :meth:`Sequential._train_step`; ``evaluate``, ``test_on_batch`` and the validation
pass of ``fit`` go through :meth:`Sequential._test_step`. Both compute the loss with
:meth:`Sequential._forward_loss`.

Shape legend: N samples (B in a batch), D input features, K output units.

    >>> import numpy as np
    >>> from scratchnn import Sequential
    >>> from scratchnn.layers import Dense
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 2)); y = (x[:, 0] + x[:, 1] > 0).astype(int)
    >>> model = Sequential([Dense(8, activation="tanh", input_dim=2),
    ...                     Dense(1, activation="sigmoid")], seed=0)
    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    >>> history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    >>> history.history["accuracy"][-1] > 0.9
    True
"""

from __future__ import annotations

import copy
import itertools
import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from scratchnn import backend, losses, metrics, ops, optimizers
from scratchnn import callbacks as callbacks_module
from scratchnn.layers import LAYERS, Dense, Input, Layer
from scratchnn.models import data
from scratchnn.tensor import Tensor, no_grad

# Fused losses whose op also takes the batch mean in the same node (see _forward_loss).
_MEAN_OPS = {
    losses.BinaryCrossentropy: ops.sigmoid_binary_crossentropy,
    losses.CategoricalCrossentropy: ops.softmax_crossentropy,
    losses.SparseCategoricalCrossentropy: ops.sparse_softmax_crossentropy,
}
_MEAN_REDUCTIONS = ("sum_over_batch_size", "mean")

PREDICT_BATCH_SIZE = 8192
"""Rows per forward pass of ``predict``/``evaluate``/validation when no batch size is given."""

_model_counter = itertools.count()


def _auto_model_name() -> str:
    n = next(_model_counter)
    return "sequential" if n == 0 else f"sequential_{n}"


def _sample_shape(input_shape: Any) -> tuple[int, ...]:
    """One sample's shape; a leading ``None`` batch axis (Keras' ``(None, 11)``) is dropped."""
    if isinstance(input_shape, (int, np.integer)):
        input_shape = (input_shape,)
    try:
        dims = list(input_shape)
    except TypeError:
        raise ValueError(
            f"input_shape must be a tuple such as (11,) or (None, 11); received {input_shape!r}."
        ) from None
    if dims and dims[0] is None:
        dims = dims[1:]
    if not dims or any(
        isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0 for d in dims
    ):
        raise ValueError(
            f"input_shape must hold positive integers, e.g. (11,) or (None, 11); received "
            f"{input_shape!r}."
        )
    return tuple(int(d) for d in dims)


def _check_int(value: Any, label: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{label} must be an integer >= {minimum}; received {label}={value!r}.")
    return int(value)


class Sequential:
    """A linear stack of layers, trained with ``compile`` then ``fit``.

    Args:
        layers: layers to add in order; an :class:`~scratchnn.layers.Input` first (or a first
            layer with ``input_dim``/``input_shape``) builds the model at once.
        name: the model's name (default ``"sequential"``, ``"sequential_1"``, ...).
        dtype: ``"float32"`` (default) or ``"float64"``: the dtype of weights and of the arrays
            the model computes on. Inputs are cast once per call to ``fit``/``predict``.
        seed: seed of the model's ``numpy.random.Generator``, which draws the initial weights and,
            unless ``fit(seed=...)`` is given, shuffles batches and draws dropout masks.

    Attributes:
        layers: the layers (an ``Input`` is not listed, as in Keras).
        optimizer: the compiled :class:`~scratchnn.optimizers.Optimizer`, or ``None``.
        loss: the compiled :class:`~scratchnn.losses.Loss`, or ``None``.
        stop_training: set by a callback to end ``fit`` after the current batch.
        history: the :class:`~scratchnn.callbacks.History` of the last ``fit``.

    Example:
        >>> from scratchnn.layers import Dense
        >>> model = Sequential(seed=0)
        >>> model.add(Dense(6, activation="relu", input_dim=11))
        >>> model.add(Dense(1, activation="sigmoid"))
        >>> model.count_params()
        79
    """

    def __init__(
        self,
        layers: Iterable[Layer] | None = None,
        name: str | None = None,
        dtype: Any = None,
        seed: int | None = None,
    ) -> None:
        self.name = name or _auto_model_name()
        self.dtype = backend.resolve_dtype(dtype)
        if seed is not None:
            seed = _check_int(seed, "seed", 0)
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._layers: list[Layer] = []
        self._input_layer: Input | None = None
        self._input_shape: tuple[int, ...] | None = None
        self._params: list[Tensor] = []
        self._regularized: list[Layer] = []
        self._backup: list[np.ndarray] | None = None
        self.optimizer: optimizers.Optimizer | None = None
        self.loss: losses.Loss | None = None
        self.loss_weights: float | None = None
        self._metric_names: list[Any] = []
        self._metrics: list[tuple[str, Any]] = []
        self._fused: losses.Loss | None = None
        self.stop_training = False
        self.history: callbacks_module.History | None = None
        for layer in layers or ():
            self.add(layer)

    # ---------------------------------------------------------------------------- structure
    @property
    def layers(self) -> list[Layer]:
        """The layers, in order (without the ``Input``)."""
        return list(self._layers)

    @property
    def built(self) -> bool:
        """Whether every layer has its weights."""
        return bool(self._layers) and all(layer.built for layer in self._layers)

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """Shape of one input sample (batch axis excluded), or ``None`` before it is known."""
        return self._input_shape

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        """Shape of one output sample, or ``None`` before the input shape is known."""
        if self._input_shape is None:
            return None
        shape = self._input_shape
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return tuple(shape)

    @property
    def params(self) -> list[Tensor]:
        """All weights (trainable and frozen), in :meth:`weight_dict` order."""
        return list(self._params)

    @property
    def trainable_params(self) -> list[Tensor]:
        """The weights of trainable layers, in order."""
        return [p for layer in self._layers for p in layer.trainable_params]

    def parameters(self) -> list[Tensor]:
        """All weights, for a hand-written loop's ``optimizer.step(model.parameters())``.

        Frozen weights are included but have ``requires_grad=False``, so optimizers skip them and
        their state stays aligned when a layer is frozen or unfrozen.
        """
        return list(self._params)

    def add(self, layer: Layer) -> None:
        """Append a layer; build it at once when the input shape is known.

        Raises:
            TypeError: for anything that is not a Layer.
            ValueError: a second ``Input``, an ``Input`` after other layers, or a duplicate name.
        """
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add expects a Layer (e.g. scratchnn.layers.Dense); received "
                f"{type(layer).__name__}."
            )
        if isinstance(layer, Input):
            if self._layers or self._input_layer is not None:
                raise ValueError(
                    "An Input layer must come first and only once; this model already has "
                    f"{'an Input' if self._input_layer is not None else 'layers'}."
                )
            self._input_layer = layer
            self._input_shape = layer.shape
            return
        names = {other.name for other in self._layers}
        if layer.name in names:
            raise ValueError(
                f"The model already has a layer named {layer.name!r}; layer names must be unique "
                "(weights are stored under them). Pass another name=..."
            )
        self._layers.append(layer)
        if self._input_shape is None and len(self._layers) == 1:
            declared = getattr(layer, "declared_input_shape", None)
            if declared is not None:
                self._input_shape = tuple(declared)
            elif layer.built and layer.input_shape is not None:
                self._input_shape = tuple(layer.input_shape)
        if self._input_shape is not None:
            self.build(self._input_shape)
        else:
            self._refresh()

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise ValueError("pop() on a model without layers.")
        layer = self._layers.pop()
        self._refresh()
        return layer

    def build(self, input_shape: Any) -> None:
        """Create the weights of every layer for inputs of ``input_shape``.

        Args:
            input_shape: shape of one sample, e.g. ``(11,)``; Keras' ``(None, 11)`` (with the
                batch axis as ``None``) is accepted too.

        Raises:
            ValueError: for a model without layers, or a bad shape.
        """
        shape = _sample_shape(input_shape)
        if not self._layers:
            raise ValueError("The model has no layers to build; add layers first (model.add).")
        if self._input_shape is not None and self.built and shape != self._input_shape:
            raise ValueError(
                f"The model is built for inputs of shape {(None, *self._input_shape)}; received "
                f"input_shape {(None, *shape)}. Build a new model for other inputs."
            )
        self._input_shape = shape
        for layer in self._layers:
            if not layer.built:
                own_seed = getattr(layer, "seed", None) is not None
                layer.build(shape, rng=None if own_seed else self._rng, dtype=self.dtype)
            elif layer.input_shape is not None and tuple(layer.input_shape) != shape:
                raise ValueError(
                    f"Layer {layer.name!r} was built for inputs of shape "
                    f"{(None, *layer.input_shape)} but receives {(None, *shape)} here."
                )
            shape = tuple(layer.compute_output_shape(shape))
        self._refresh()

    def _refresh(self) -> None:
        """Recompute what depends on the layers: the parameter list and the fused loss."""
        self._params = [p for layer in self._layers for p in layer.params]
        self._regularized = [layer for layer in self._layers if layer.regularizers]
        self._backup = None
        self._fused = self._fused_loss()

    def count_params(self) -> int:
        """Number of scalars in all weights."""
        return sum(layer.count_params() for layer in self._layers)

    def __call__(self, x: Any, training: bool = False) -> Tensor:
        """Forward pass on a batch, recording the graph (for a hand-written training loop).

        Args:
            x: ``(B, D)`` array or Tensor.
            training: ``True`` activates dropout.

        Returns:
            The output Tensor, ``(B, K)``.
        """
        if not isinstance(x, Tensor):
            x = Tensor(data.as_features(x, self.dtype), dtype=self.dtype)
        if not self.built:
            self.build(x.shape[1:])
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def summary(self, print_fn: Any = print) -> str:
        """Print and return a table of the layers: name (type), output shape, parameters.

        Frozen layers (``trainable=False``) are marked, and totals split trainable and
        non-trainable parameters.

        Args:
            print_fn: called with the text (``None`` to only return it).
        """
        rows = [("Layer (type)", "Output Shape", "Param #", "Trainable")]
        shape = self._input_shape
        for layer in self._layers:
            if shape is not None:
                shape = tuple(layer.compute_output_shape(shape))
            out = str((None, *shape)) if shape is not None else "? (unbuilt)"
            trainable = "yes" if layer.trainable else "no (frozen)"
            rows.append(
                (
                    f"{layer.name} ({type(layer).__name__})",
                    out,
                    f"{layer.count_params():,}",
                    trainable,
                )
            )
        widths = [max(len(row[i]) for row in rows) + 3 for i in range(4)]
        rule = "=" * sum(widths)

        def line(row: tuple[str, ...]) -> str:
            return (
                row[0].ljust(widths[0])
                + row[1].ljust(widths[1])
                + row[2].rjust(widths[2] - 3)
                + "   "
                + row[3]
            ).rstrip()

        total = self.count_params()
        trainable_count = sum(p.size for p in self.trainable_params)
        text = "\n".join(
            [
                f'Model: "{self.name}"',
                line(rows[0]),
                rule,
                *(line(row) for row in rows[1:]),
                rule,
                f"Total params: {total:,}",
                f"Trainable params: {trainable_count:,}",
                f"Non-trainable params: {total - trainable_count:,}",
            ]
        )
        if print_fn is not None:
            print_fn(text)
        return text

    # ------------------------------------------------------------------------------ compile
    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Sequence[Any] | None = None,
        loss_weights: float | Sequence[float] | None = None,
    ) -> None:
        """Choose the optimizer, the loss and the metrics for training.

        Args:
            optimizer: a name (``"adam"``, ``"sgd"``, ``"rmsprop"``, ...), an Optimizer or a config
                dict (see :func:`scratchnn.optimizers.get`).
            loss: a name (``"binary_crossentropy"``, ``"sparse_categorical_crossentropy"``,
                ``"mse"``, ...), a Loss or a config dict (see :func:`scratchnn.losses.get`).
            metrics: names or functions ``(y_true, y_pred) -> float`` (see
                :func:`scratchnn.metrics.get`). ``"accuracy"``/``"acc"`` picks binary,
                categorical or sparse-categorical accuracy from the loss, as Keras does.
            loss_weights: a scalar multiplier of the loss (this model has a single output; a
                one-element list is accepted). Regularization penalties are not scaled.

        Raises:
            ValueError: no loss, an unknown name (the message lists the known ones), a bad
                ``loss_weights``.
        """
        if loss is None:
            raise ValueError(
                "compile() needs a loss, e.g. loss='binary_crossentropy' (sigmoid output), "
                "'sparse_categorical_crossentropy' (softmax output, integer labels) or 'mse'."
            )
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        if isinstance(metrics, (str, bytes)) or callable(metrics):
            metrics = [metrics]
        self._metric_names = list(metrics or [])
        self._metrics = [self._resolve_metric(m) for m in self._metric_names]
        names = [name for name, _ in self._metrics]
        duplicates = sorted({n for n in names if names.count(n) > 1} | ({"loss"} & set(names)))
        if duplicates:
            raise ValueError(f"Metric names must be unique and not 'loss'; repeated: {duplicates}.")
        self.loss_weights = self._check_loss_weights(loss_weights)
        self._backup = None
        self._fused = self._fused_loss()

    def _resolve_metric(self, identifier: Any) -> tuple[str, Any]:
        name, fn = metrics.get(identifier)
        if name in ("accuracy", "acc"):
            fn = {
                "binary": metrics.binary_accuracy,
                "categorical": metrics.categorical_accuracy,
                "sparse": metrics.sparse_categorical_accuracy,
            }.get(data._kind(self.loss), fn)
        return name, fn

    @staticmethod
    def _check_loss_weights(value: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, dict) and len(value) == 1:
            value = next(iter(value.values()))
        if isinstance(value, (list, tuple)) and len(value) == 1:
            value = value[0]
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.number))
            or not (math.isfinite(value) and value >= 0)
        ):
            raise ValueError(
                "loss_weights must be a number >= 0 (a multiplier of the loss of this "
                f"single-output model); received loss_weights={value!r}."
            )
        return float(value)

    def _fused_loss(self) -> losses.Loss | None:
        """The logits form of the loss when the last layer's activation can be folded into it.

        A Dense with sigmoid + binary cross-entropy on probabilities, or softmax + (sparse)
        categorical cross-entropy, is computed from the Dense's ``pre_activation`` with
        ``from_logits=True``: no clipping of probabilities, no ``log(sigmoid)``, two graph nodes
        fewer (Keras does the same).
        """
        loss, last = self.loss, self._layers[-1] if self._layers else None
        if loss is None or not isinstance(last, Dense) or getattr(loss, "from_logits", True):
            return None
        pairs = {
            losses.BinaryCrossentropy: ops.sigmoid,
            losses.CategoricalCrossentropy: ops.softmax,
            losses.SparseCategoricalCrossentropy: ops.softmax,
        }
        if pairs.get(type(loss)) is not last.activation:
            return None
        return type(loss)(from_logits=True, reduction=loss.reduction, name=loss.name)

    def compile_config(self) -> dict[str, Any] | None:
        """What :meth:`compile` was given, as JSON-serialisable data (``None`` before compile)."""
        if self.optimizer is None or self.loss is None:
            return None
        return {
            "optimizer": self.optimizer.get_config(),
            "loss": self.loss.get_config(),
            "metrics": [name for name, _ in self._metrics],
            "loss_weights": self.loss_weights,
        }

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """Compile from a dict returned by :meth:`compile_config`."""
        self.compile(
            optimizer=config["optimizer"],
            loss=config["loss"],
            metrics=config.get("metrics") or None,
            loss_weights=config.get("loss_weights"),
        )

    def _check_compiled(self, method: str) -> None:
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(
                f"{method}() needs a compiled model: call model.compile(optimizer=..., loss=...) "
                f"first, e.g. model.compile(optimizer='adam', loss='binary_crossentropy')."
            )

    # ------------------------------------------------------------------------ preparing data
    def _prepare_x(self, x: Any, name: str = "x") -> np.ndarray:
        """``x`` cast once to the model dtype and checked against the first layer."""
        if not self._layers:
            raise ValueError("The model has no layers; add some with model.add(...) first.")
        was_1d = np.ndim(x.data if isinstance(x, Tensor) else x) == 1
        arr = data.as_features(x, self.dtype, name)
        if not self.built:
            self.build(arr.shape[1:])
        if arr.shape[1:] != self._input_shape:
            first = self._layers[0]
            hint = " For a single sample pass x.reshape(1, -1)." if was_1d else ""
            raise ValueError(
                f"Layer {first.name!r} ({type(first).__name__}) expects input of shape "
                f"{(None, *self._input_shape)}; received {name} of shape {arr.shape}. Pass "
                f"{self._input_shape[-1]} features per sample (the model was built for that)."
                + hint
            )
        return arr

    def _prepare_y(self, y: Any, n_rows: int, name: str = "y") -> np.ndarray:
        assert self.loss is not None and self.output_shape is not None
        return data.as_targets(
            y, self.loss, self.output_shape, self._layers[-1].name, self.dtype, n_rows, name
        )

    def _prepare(
        self,
        x: Any,
        y: Any,
        sample_weight: Any = None,
        class_weight: Any = None,
        prefix: str = "",
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        xa = self._prepare_x(x, f"{prefix}x")
        ya = self._prepare_y(y, len(xa), f"{prefix}y")
        sw = data.sample_weights(
            sample_weight,
            class_weight,
            lambda: data.class_labels(ya, self.loss),
            len(xa),
            self.dtype,
        )
        return xa, ya, sw

    # --------------------------------------------------------------------- the steps (shared)
    def _regularization_loss(self) -> Tensor | None:
        total = None
        for layer in self._regularized:
            penalty = layer.regularization_loss()
            if penalty is not None:
                total = penalty if total is None else ops.add(total, penalty)
        return total

    def _forward_loss(
        self,
        x: np.ndarray,
        y: np.ndarray,
        sw: np.ndarray | None,
        training: bool,
        need_outputs: bool = True,
        fused: bool = True,
        mean_node: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """Loss of a batch (weighted, plus penalties) and the model's outputs.

        Args:
            x: ``(B, D)`` inputs of the model dtype; y, sw: prepared targets and weights.
            training: dropout active.
            need_outputs: compute the outputs (the fused path otherwise skips the activation).
            fused: allow the logits fast path (``False`` forces the plain path; for tests).
            mean_node: with the logits path, unweighted and mean-reduced, compute the loss and
                its mean as one node of the fused op (``False`` calls the Loss object; for tests).

        Returns:
            ``(loss, outputs)``: a scalar Tensor and the ``(B, K)`` outputs (or ``None``).
        """
        h = Tensor(x, dtype=self.dtype)
        layers = self._layers
        fused_loss = self._fused if fused else None
        if fused_loss is not None:
            for layer in layers[:-1]:
                h = layer(h, training=training)
            last = layers[-1]
            logits = last.pre_activation(h)  # (B, K)
            if mean_node and sw is None and fused_loss.reduction in _MEAN_REDUCTIONS:
                # The targets were checked once by _prepare: the loss and its mean are one node.
                loss = _MEAN_OPS[type(fused_loss)](logits, y, reduction="mean")
            else:
                loss = fused_loss(y, logits, sample_weight=sw)
            outputs = None
            if need_outputs:
                with no_grad():
                    outputs = last.activation(logits)
        else:
            for layer in layers:
                h = layer(h, training=training)
            outputs = h
            loss = self.loss(y, outputs, sample_weight=sw)
        if self.loss_weights is not None:
            loss = ops.mul(loss, self.loss_weights)
        penalty = self._regularization_loss()
        if penalty is not None:
            loss = ops.add(loss, penalty)
        return loss, outputs

    def _train_step(
        self, x: np.ndarray, y: np.ndarray, sw: np.ndarray | None, need_outputs: bool
    ) -> tuple[float, np.ndarray | None]:
        """One gradient step on a batch: forward, loss, backward, update.

        The weights are copied before the update, so that a step that makes them non-finite
        can be undone. When the loss itself is not finite the update is skipped and the weights
        are put back to their last finite values.

        Returns:
            ``(loss value, outputs as an array or None)``.
        """
        params = self._params
        for p in params:
            p.grad = None
        loss, outputs = self._forward_loss(x, y, sw, training=True, need_outputs=need_outputs)
        value = float(loss.data)
        out = None if outputs is None else outputs.data
        if not math.isfinite(value):
            self._restore_finite_weights()
            return value, out
        loss.backward()
        backup = self._backup
        if backup is None:
            backup = self._backup = [np.empty_like(p.data) for p in params]
        for saved, p in zip(backup, params, strict=True):
            np.copyto(saved, p.data)
        self.optimizer.step(params)
        return value, out

    def _weights_finite(self) -> bool:
        for p in self._params:
            # NaN and inf reach the sum (one pass, no temporary); a finite sum means finite
            # weights, an overflowing one is settled element by element.
            if not math.isfinite(np.add.reduce(p.data, axis=None)) and not np.isfinite(
                p.data
            ).all():
                return False
        return True

    def _restore_finite_weights(self) -> bool:
        """Put back the weights saved before the last update if the current ones are not finite.

        Returns:
            ``True`` when the weights were restored.
        """
        if self._weights_finite() or self._backup is None:
            return False
        for saved, p in zip(self._backup, self._params, strict=True):
            np.copyto(p.data, saved)
        return True

    def _test_step(
        self, x: np.ndarray, y: np.ndarray, sw: np.ndarray | None
    ) -> tuple[float, np.ndarray]:
        """Loss and outputs of a batch, without recording a graph."""
        with no_grad():
            loss, outputs = self._forward_loss(x, y, sw, training=False)
        return float(loss.data), outputs.data

    def _metric_logs(
        self, y: np.ndarray, outputs: np.ndarray, prefix: str = "", fast: bool = True
    ) -> dict[str, Any]:
        """Each compiled metric of ``outputs`` against prepared targets ``y``.

        Args:
            fast: let the built-in accuracies use :func:`_prepared_accuracy` (``False`` calls the
                metric functions themselves; for tests).
        """
        if not self._metrics:
            return {}
        if not math.isfinite(np.add.reduce(outputs, axis=None)) and not np.isfinite(
            outputs
        ).all():
            return {f"{prefix}{name}": math.nan for name, _ in self._metrics}
        logs = {}
        for name, fn in self._metrics:
            value = _prepared_accuracy(fn, y, outputs) if fast else None
            logs[f"{prefix}{name}"] = float(fn(y, outputs) if value is None else value)
        return logs

    # ----------------------------------------------------------------------------------- fit
    def fit(
        self,
        x: Any,
        y: Any,
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
        """Train the model by mini-batch gradient descent.

        Args:
            x: inputs ``(N, D)`` (a 1-D array is N samples of one feature).
            y: targets: 0/1 ``(N,)`` or ``(N, 1)`` (sigmoid + binary CE); integer labels ``(N,)``
                (softmax + sparse CE); one-hot or multi-hot ``(N, K)``; real values (regression).
            batch_size: rows per step; ``None`` or ``>= N`` is full-batch gradient descent.
            epochs: index of the last epoch (training runs epochs ``initial_epoch..epochs-1``).
            validation_split: fraction in [0, 1) of the rows, taken from the end before shuffling,
                held out to compute ``val_`` logs each epoch.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``; takes
                precedence over ``validation_split``.
            shuffle: reshuffle the rows each epoch (not when one batch holds all the rows:
                full-batch steps see the same rows in any order, and the generator is not drawn).
            class_weight: ``{class: weight}`` multiplying each sample's loss by its class's weight.
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
        penalties included, each computed before its step). Metrics are computed once per epoch on
        all the predictions made for the training batches of that epoch (concatenated, not an
        average of per-batch values), unweighted. ``val_`` values are computed after the epoch on
        the whole validation set.

        If the loss becomes NaN or infinite, training stops with a ``RuntimeWarning`` naming the
        epoch and batch, and the weights are left at their last finite values (the optimizer's
        state may not be: compile again before training on).

        Raises:
            RuntimeError: before :meth:`compile`.
            ValueError: bad arguments or data (each message names the problem and the fix).
        """
        self._check_compiled("fit")
        epochs = _check_int(epochs, "epochs", 0)
        initial_epoch = _check_int(initial_epoch, "initial_epoch", 0)
        if batch_size is not None:
            batch_size = _check_int(batch_size, "batch_size", 1)
        if isinstance(validation_split, bool) or not (
            isinstance(validation_split, (int, float)) and 0 <= validation_split < 1
        ):
            raise ValueError(
                f"validation_split must be a fraction in [0, 1); received "
                f"validation_split={validation_split!r}."
            )
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2; received verbose={verbose!r}.")
        xa, ya, sw = self._prepare(x, y, sample_weight, class_weight)
        val = None
        if validation_data is not None:
            val = self._validation_arrays(validation_data)
        elif validation_split:
            n_val = int(len(xa) * validation_split)
            if n_val == 0 or n_val == len(xa):
                raise ValueError(
                    f"validation_split={validation_split} of {len(xa)} samples leaves "
                    f"{n_val} for validation and {len(xa) - n_val} for training; both need at "
                    "least one."
                )
            cut = len(xa) - n_val
            val = (xa[cut:], ya[cut:], None if sw is None else sw[cut:])
            xa, ya, sw = xa[:cut], ya[:cut], None if sw is None else sw[:cut]
        n = len(xa)
        batch = n if batch_size is None else min(batch_size, n)
        steps = math.ceil(n / batch)
        rng = self._rng if seed is None else np.random.default_rng(_check_int(seed, "seed", 0))

        history = callbacks_module.History()
        extra = [callbacks_module.ProgbarLogger(verbose)] if verbose else []
        cbs = callbacks_module.CallbackList(
            [*(callbacks or []), history, *extra],
            model=self,
            params={"epochs": epochs, "steps": steps, "verbose": verbose},
        )
        self.history = history
        swapped = self._use_dropout_rng(rng)
        self.stop_training = False
        logs: dict[str, Any] = {}
        # A diverging step is detected and reported once by the loop (non-finite loss or
        # weights) instead of NumPy warning at each of its ops.
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                cbs.call("on_train_begin", None)
                for epoch in range(initial_epoch, epochs):
                    cbs.call("on_epoch_begin", epoch, None)
                    logs = self._run_epoch(epoch, xa, ya, sw, batch, shuffle, rng, cbs)
                    if val is not None:
                        val_logs = self._evaluate_arrays(*val, PREDICT_BATCH_SIZE, cbs)
                        logs.update({f"val_{k}": v for k, v in val_logs.items()})
                    cbs.call("on_epoch_end", epoch, logs)
                    if self.stop_training:
                        break
                cbs.call("on_train_end", logs)
        finally:
            for layer, previous in swapped:
                layer.rng = previous
        return history

    def _validation_arrays(
        self, validation_data: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                f"sample_weight_val); received {type(validation_data).__name__}"
                f"{'' if not isinstance(validation_data, (tuple, list)) else ' of length '}"
                f"{len(validation_data) if isinstance(validation_data, (tuple, list)) else ''}."
            )
        x_val, y_val, *rest = validation_data
        return self._prepare(x_val, y_val, rest[0] if rest else None, prefix="validation ")

    def _use_dropout_rng(self, rng: np.random.Generator) -> list[tuple[Layer, Any]]:
        """Hand ``rng`` to the layers that draw masks (those without their own seed)."""
        swapped = []
        for layer in self._layers:
            if hasattr(layer, "rng") and getattr(layer, "seed", None) is None:
                swapped.append((layer, layer.rng))
                layer.rng = rng
        return swapped

    def _run_epoch(
        self,
        epoch: int,
        x: np.ndarray,
        y: np.ndarray,
        sw: np.ndarray | None,
        batch: int,
        shuffle: bool,
        rng: np.random.Generator,
        cbs: callbacks_module.CallbackList,
    ) -> dict[str, Any]:
        """One pass over the training rows; returns the epoch's logs."""
        n = len(x)
        order = rng.permutation(n) if shuffle and batch < n else None
        need_outputs = bool(self._metrics)
        outputs = None
        hook_begin = cbs.has("on_train_batch_begin")
        hook_end = cbs.has("on_train_batch_end")
        total, seen = 0.0, 0
        train_step = self._train_step
        if order is not None:
            # Shuffled batches are gathered into buffers reused from batch to batch: a destination
            # that stays in cache, instead of a new array per batch (a step's graph, which holds
            # its batch, is gone before the next batch is gathered).
            xbuf = np.empty((batch, *x.shape[1:]), dtype=x.dtype)
            ybuf = np.empty((batch, *y.shape[1:]), dtype=y.dtype)
        for b, lo in enumerate(range(0, n, batch)):
            hi = min(lo + batch, n)
            if order is None:
                xb, yb = x[lo:hi], y[lo:hi]
                wb = None if sw is None else sw[lo:hi]
            else:
                idx = order[lo:hi]
                xb = np.take(x, idx, axis=0, out=xbuf[: hi - lo])
                yb = np.take(y, idx, axis=0, out=ybuf[: hi - lo])
                wb = None if sw is None else sw.take(idx)
            if hook_begin:
                cbs.call("on_train_batch_begin", b, {"size": hi - lo})
            value, out = train_step(xb, yb, wb, need_outputs)
            if not math.isfinite(value):
                return self._diverged(epoch, b, value)
            total += value * (hi - lo)
            seen = hi
            if out is not None:
                if hi - lo == n:
                    outputs = out  # full batch: the step's outputs are the epoch's, no copy
                else:
                    if outputs is None:
                        outputs = np.empty((n, *out.shape[1:]), dtype=out.dtype)
                    outputs[lo:hi] = out
            if hook_end:
                cbs.call("on_train_batch_end", b, {"loss": total / seen, "size": hi - lo})
            if self.stop_training:
                break
        if not self._weights_finite():  # the last update of the epoch overflowed
            self._restore_finite_weights()
            return self._diverged(epoch, b, math.nan)
        logs = {"loss": total / seen}
        if outputs is not None:
            y_seen = y[:seen] if order is None else y.take(order[:seen], axis=0)
            logs.update(self._metric_logs(y_seen, outputs[:seen]))
        return logs

    def _diverged(self, epoch: int, batch: int, value: float) -> dict[str, Any]:
        """Stop training after a non-finite loss; the logs of the epoch are all NaN."""
        self.stop_training = True
        warnings.warn(
            f"Training diverged at epoch {epoch + 1}, batch {batch + 1}: the loss became "
            f"{value}. Training was stopped and the weights were left at their last finite "
            "values (from before the step that diverged). Lower the learning rate, scale the "
            "inputs (e.g. StandardScaler) or clip gradients (optimizer clipnorm=...).",
            RuntimeWarning,
            stacklevel=4,
        )
        logs = {"loss": math.nan, **{name: math.nan for name, _ in self._metrics}}
        return logs

    # ------------------------------------------------------------------------------ evaluate
    def _evaluate_arrays(
        self,
        x: np.ndarray,
        y: np.ndarray,
        sw: np.ndarray | None,
        batch_size: int,
        cbs: callbacks_module.CallbackList | None = None,
        verbose: int = 0,
    ) -> dict[str, float]:
        """Loss and metrics over prepared arrays, batch by batch (one shared test step)."""
        if cbs is not None:
            cbs.call("on_test_begin", None)
        n = len(x)
        outputs = None
        total = 0.0
        bar = _bar(n, batch_size, "evaluate", verbose)
        for b, lo in enumerate(range(0, n, batch_size)):
            hi = min(lo + batch_size, n)
            if cbs is not None and cbs.has("on_test_batch_begin"):
                cbs.call("on_test_batch_begin", b, {"size": hi - lo})
            value, out = self._test_step(x[lo:hi], y[lo:hi], None if sw is None else sw[lo:hi])
            total += value * (hi - lo)
            if self._metrics:
                if outputs is None:
                    outputs = np.empty((n, *out.shape[1:]), dtype=out.dtype)
                outputs[lo:hi] = out
            if cbs is not None and cbs.has("on_test_batch_end"):
                cbs.call("on_test_batch_end", b, {"loss": total / hi, "size": hi - lo})
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        logs = {"loss": total / n}
        if outputs is not None:
            logs.update(self._metric_logs(y, outputs))
        if cbs is not None:
            cbs.call("on_test_end", logs)
        return logs

    def evaluate(
        self,
        x: Any,
        y: Any,
        batch_size: int | None = None,
        sample_weight: Any = None,
        verbose: int = 0,
        return_dict: bool = False,
        callbacks: Sequence[callbacks_module.Callback] | None = None,
    ) -> float | list[float] | dict[str, float]:
        """Loss (penalties included) and metrics of the model on ``(x, y)``.

        Computed in batches of ``batch_size`` rows (default :data:`PREDICT_BATCH_SIZE`) without
        recording a graph; the loss is the mean over all samples and metrics are computed on all
        predictions at once.

        Returns:
            The loss when no metrics were compiled, else ``[loss, *metrics]``; with
            ``return_dict=True`` a dict ``{"loss": ..., "accuracy": ...}``.
        """
        self._check_compiled("evaluate")
        bs = PREDICT_BATCH_SIZE if batch_size is None else _check_int(batch_size, "batch_size", 1)
        xa, ya, sw = self._prepare(x, y, sample_weight)
        cbs = callbacks_module.CallbackList(callbacks or [], model=self) if callbacks else None
        logs = self._evaluate_arrays(xa, ya, sw, bs, cbs, verbose)
        return self._result(logs, return_dict)

    def _result(self, logs: dict[str, float], return_dict: bool) -> Any:
        if return_dict:
            return logs
        if not self._metrics:
            return logs["loss"]
        return list(logs.values())

    def train_on_batch(
        self,
        x: Any,
        y: Any,
        sample_weight: Any = None,
        class_weight: dict[int, float] | None = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """One gradient step on one batch (the same step ``fit`` takes).

        Returns:
            The batch's loss (computed before the step), or ``[loss, *metrics]`` / a dict, as
            :meth:`evaluate`. A non-finite loss skips the update with a ``RuntimeWarning``.
        """
        self._check_compiled("train_on_batch")
        xa, ya, sw = self._prepare(x, y, sample_weight, class_weight)
        with np.errstate(over="ignore", invalid="ignore"):
            value, out = self._train_step(xa, ya, sw, need_outputs=bool(self._metrics))
        if not math.isfinite(value):
            warnings.warn(
                f"train_on_batch: the loss became {value}; the update was skipped and the weights "
                "are at their last finite values. Lower the learning rate or scale the inputs.",
                RuntimeWarning,
                stacklevel=2,
            )
        logs = {"loss": value}
        if out is not None:
            logs.update(self._metric_logs(ya, out))
        return self._result(logs, return_dict)

    def test_on_batch(
        self, x: Any, y: Any, sample_weight: Any = None, return_dict: bool = False
    ) -> float | list[float] | dict[str, float]:
        """Loss and metrics of one batch, without updating (the step ``evaluate`` takes)."""
        self._check_compiled("test_on_batch")
        xa, ya, sw = self._prepare(x, y, sample_weight)
        value, out = self._test_step(xa, ya, sw)
        logs = {"loss": value, **self._metric_logs(ya, out)}
        return self._result(logs, return_dict)

    # ------------------------------------------------------------------------------- predict
    def predict(self, x: Any, batch_size: int | None = None, verbose: int = 0) -> np.ndarray:
        """Outputs of the model for ``x``, as a NumPy array.

        Runs in batches of ``batch_size`` rows (default :data:`PREDICT_BATCH_SIZE`) under
        ``no_grad()``: no graph is recorded and memory stays at the output plus one batch of
        activations, for 1 row or millions. Dropout is inactive.

        Args:
            x: ``(N, D)`` inputs (a 1-D array is N samples of one feature).
            batch_size: rows per forward pass.
            verbose: 1 shows a progress bar.

        Returns:
            ``(N, K)`` outputs (probabilities for sigmoid/softmax outputs).

        Example:
            >>> import numpy as np
            >>> from scratchnn.layers import Dense
            >>> model = Sequential([Dense(3, activation="softmax", input_dim=4)], seed=0)
            >>> model.predict(np.ones((2, 4))).shape
            (2, 3)
        """
        bs = PREDICT_BATCH_SIZE if batch_size is None else _check_int(batch_size, "batch_size", 1)
        xa = self._prepare_x(x)
        n = len(xa)
        result = None
        bar = _bar(n, bs, "predict", verbose)
        with no_grad():
            for lo in range(0, n, bs):
                h = Tensor(xa[lo : lo + bs], dtype=self.dtype)
                for layer in self._layers:
                    h = layer(h, training=False)
                out = backend.to_numpy(h.data)
                if n <= bs and out.base is None and out.flags.c_contiguous and out is not xa:
                    result = out  # one batch: the model's own new array, no copy needed
                else:
                    if result is None:
                        result = np.empty((n, *out.shape[1:]), dtype=out.dtype)
                    result[lo : lo + bs] = out
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
        return result

    # ------------------------------------------------------------------------------- weights
    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights, in Keras order: layer by layer, kernel then bias."""
        return [np.array(backend.to_numpy(p.data), copy=True) for p in self._params]

    def _weight_names(self) -> list[str]:
        return [f"{layer.name}/{name}" for layer in self._layers for name in layer.weights]

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
        weights = list(weights)
        names = self._weight_names()
        if len(weights) != len(self._params):
            raise ValueError(
                f"set_weights() received {len(weights)} arrays but the model has "
                f"{len(self._params)} weights ({', '.join(names)})."
            )
        arrays = [np.asarray(backend.to_numpy(w)) for w in weights]
        for i, (name, p, w) in enumerate(zip(names, self._params, arrays, strict=True)):
            if w.shape != p.shape:
                raise ValueError(
                    f"Weight {i} ({name}) has shape {p.shape}; received an array of shape "
                    f"{w.shape}."
                )
        for p, w in zip(self._params, arrays, strict=True):
            p.data[...] = backend.xp.asarray(w, dtype=p.dtype)

    def weight_dict(self) -> dict[str, np.ndarray]:
        """All weights as ``{"<layer name>/<weight name>": array}`` (copies), in layer order."""
        return dict(zip(self._weight_names(), self.get_weights(), strict=True))

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
        names = self._weight_names()
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
                "(Dense(..., name=...)) or load the whole model with scratchnn.io.load_model."
            )
        self.set_weights([weights[n] for n in names])

    # --------------------------------------------------------------------------- configuration
    def get_config(self) -> dict[str, Any]:
        """The architecture as JSON-serialisable data (no weights).

        Returns:
            ``{"name", "dtype", "seed", "layers": [{"class_name", "config"}, ...]}``; when the
            input shape is known the first entry is an ``Input`` that carries it.
        """
        layers = []
        if self._input_shape is not None:
            first = self._input_layer or Input(
                self._input_shape, name=f"{self.name}_input", dtype=self.dtype.name
            )
            config = first.get_config()
            config["shape"] = list(self._input_shape)
            layers.append({"class_name": "Input", "config": config})
        for layer in self._layers:
            layers.append({"class_name": type(layer).__name__, "config": layer.get_config()})
        return {"name": self.name, "dtype": self.dtype.name, "seed": self.seed, "layers": layers}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """Build a model from :meth:`get_config` data (built when the config has input shapes).

        Raises:
            ValueError: for an unknown layer class (the message lists the known ones).
        """
        layers = []
        for entry in config.get("layers", []):
            class_name = entry.get("class_name")
            if class_name not in LAYERS:
                raise ValueError(
                    f"Unknown layer class {class_name!r} in the model config; known layers: "
                    f"{', '.join(sorted(LAYERS))}."
                )
            layers.append(LAYERS[class_name](**copy.deepcopy(entry.get("config", {}))))
        return cls(
            layers, name=config.get("name"), dtype=config.get("dtype"), seed=config.get("seed")
        )

    # ------------------------------------------------------------------------------- files
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

    def __repr__(self) -> str:
        return (
            f"<Sequential name={self.name!r} layers={len(self._layers)} "
            f"built={self.built} dtype={self.dtype.name}>"
        )


def _prepared_accuracy(fn: Any, y: np.ndarray, outputs: np.ndarray) -> float | None:
    """A built-in accuracy of finite ``outputs`` against targets prepared by ``_prepare``.

    The metric functions of :mod:`scratchnn.metrics` check and convert their inputs on every call
    (tens of microseconds, once per epoch: most of a full-batch step on small data); targets
    prepared for the loss need none of it. Gives exactly the value of ``fn(y, outputs)`` (a count
    divided by the number of entries), or ``None`` where the plain function must decide (an
    unknown metric, targets that are not 0/1 for binary accuracy, other shapes).
    """
    if fn is metrics.binary_accuracy and y.shape == outputs.shape and y.dtype.kind == "f":
        ones = y == 1
        if not (ones | (y == 0)).all():
            return None  # the metric itself raises its error
        return np.count_nonzero(ones == (outputs > 0.5)) / ones.size
    if outputs.ndim != 2 or len(y) != len(outputs):
        return None
    if fn is metrics.sparse_categorical_accuracy and y.ndim == 1 and y.dtype.kind == "i":
        return np.count_nonzero(y == outputs.argmax(axis=1)) / len(y)
    if fn is metrics.categorical_accuracy and y.shape == outputs.shape:
        return np.count_nonzero(y.argmax(axis=1) == outputs.argmax(axis=1)) / len(y)
    return None


def _bar(n: int, batch_size: int, label: str, verbose: int) -> Any:
    if not verbose:
        return None
    import sys

    from tqdm import tqdm

    return tqdm(total=math.ceil(n / batch_size), desc=label, unit="batch", file=sys.stdout)
