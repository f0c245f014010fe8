"""What ``compile`` makes of its arguments: the losses of the outputs and the metric trackers.

:class:`CompiledLoss` turns one loss per output (with optional weights) into the scalar a training
step differentiates, adding the layers' weight penalties. Where an output layer is a ``Dense``
whose sigmoid or softmax pairs with a cross-entropy on probabilities, the loss is taken from the
layer's logits instead (``from_logits=True``): no clipping of probabilities, no ``log(sigmoid)``,
and, without sample weights, the loss and its batch mean are one graph node. This is the only way
such a loss is computed (Keras does the same); ``tests/test_compiled.py`` checks it against the
loss applied to the probabilities.

:class:`MetricTracker` collects the outputs and targets of the batches of an epoch and computes
each compiled metric once on all of them (not an average of per-batch values).

    >>> import numpy as np
    >>> from scratchnn import losses
    >>> from scratchnn.layers import Dense
    >>> logits_form(losses.get("binary_crossentropy"), Dense(1, activation="sigmoid"))
    BinaryCrossentropy(reduction='sum_over_batch_size', from_logits=True)
    >>> tracker = MetricTracker([("accuracy", metrics.binary_accuracy)])
    >>> tracker.update(np.array([[1.0], [0.0]]), np.array([[0.9], [0.8]]))
    >>> tracker.update(np.array([[1.0]]), np.array([[0.7]]))
    >>> tracker.result()  # two of the three batches' rows are right
    {'accuracy': 0.6666666666666666}

Shape legend: N samples (B in a batch), K output units.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from scratchnn import losses, metrics, ops
from scratchnn.layers import Dense
from scratchnn.models import data
from scratchnn.tensor import Tensor

# Cross-entropies on probabilities and the output activation whose logits they can take instead.
_LOGIT_PAIRS: dict[type[losses.Loss], Callable[[Tensor], Tensor]] = {
    losses.BinaryCrossentropy: ops.sigmoid,
    losses.CategoricalCrossentropy: ops.softmax,
    losses.SparseCategoricalCrossentropy: ops.softmax,
}
# The fused ops that compute such a loss and its batch mean as one node.
_MEAN_OPS: dict[type[losses.Loss], Callable[..., Tensor]] = {
    losses.BinaryCrossentropy: ops.sigmoid_binary_crossentropy,
    losses.CategoricalCrossentropy: ops.softmax_crossentropy,
    losses.SparseCategoricalCrossentropy: ops.sparse_softmax_crossentropy,
}
_MEAN_REDUCTIONS = ("sum_over_batch_size", "mean")


def logits_form(loss: losses.Loss, layer: Any) -> losses.Loss | None:
    """The ``from_logits`` twin of ``loss`` when ``layer``'s activation can be folded into it.

    Args:
        loss: the compiled loss of an output.
        layer: the layer producing that output.

    Returns:
        A loss of the same class with ``from_logits=True``, or ``None`` when the pair does not
        fuse (another layer, another activation, or a loss already on logits).
    """
    if not isinstance(layer, Dense) or getattr(loss, "from_logits", True):
        return None
    if _LOGIT_PAIRS.get(type(loss)) is not layer.activation:
        return None
    twin: Callable[..., losses.Loss] = type(loss)  # a class of _LOGIT_PAIRS: takes from_logits
    return twin(from_logits=True, reduction=loss.reduction, name=loss.name)


def loss_value(loss: losses.Loss, y: Any, pred: Tensor, sw: Any, from_logits: bool) -> Tensor:
    """``loss(y, pred, sample_weight=sw)`` as one node where a fused op computes it whole.

    ``pred`` holds logits when ``from_logits`` (``loss`` is then the logits form).
    """
    if from_logits and sw is None and loss.reduction in _MEAN_REDUCTIONS:
        return _MEAN_OPS[type(loss)](pred, y, reduction="mean")
    return loss(y, pred, sample_weight=sw)


def check_loss_weight(value: Any, label: str = "loss_weights") -> float | None:
    """A loss weight: ``None`` or a finite number >= 0 (as a float)."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.number))
        or not (math.isfinite(value) and value >= 0)
    ):
        raise ValueError(f"{label} must be a number >= 0; received {value!r}.")
    return float(value)


def per_output(value: Any, names: Sequence[str], label: str) -> list[Any]:
    """One entry per output from a single value, a list (in output order) or a dict by name.

    Raises:
        ValueError: a list of the wrong length, or a dict naming an unknown output.
    """
    if isinstance(value, dict) and not (
        label == "loss" and isinstance(value.get("name"), str) and not set(value) <= set(names)
    ):  # a dict by output name (a loss config dict, {"name": ..., ...}, is one loss)
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(
                f"{label} names outputs {unknown}; the model's outputs are {list(names)}."
            )
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and not (label == "metrics" and len(names) == 1):
        if len(value) != len(names):
            raise ValueError(
                f"{label} has {len(value)} entries for a model with {len(names)} outputs "
                f"{list(names)}; pass one per output (or a dict by output name)."
            )
        return list(value)
    return [value] * len(names)


class CompiledLoss:
    """The training objective: the weighted sum of the outputs' losses plus weight penalties.

    Args:
        loss: one loss identifier (every output), a list (in output order) or a dict by output
            name; each a name, a :class:`~scratchnn.losses.Loss` or a config dict.
        loss_weights: ``None``, one number, a list or a dict: multipliers of the outputs' losses
            (penalties are not scaled).
        output_names: the model's output names.
        output_layers: the layer producing each output (for the logits form), or ``None``.

    Attributes:
        losses: the Loss of each output.
        weights: the weight of each output's loss (``None``: 1, no multiplication).
        fused: the logits form of each output's loss, or ``None`` where it does not fuse.
    """

    def __init__(
        self,
        loss: Any,
        loss_weights: Any,
        output_names: Sequence[str],
        output_layers: Sequence[Any],
    ) -> None:
        self.names = list(output_names)
        entries = per_output(loss, self.names, "loss")
        missing = [n for n, entry in zip(self.names, entries, strict=True) if entry is None]
        if missing:
            raise ValueError(
                f"compile() needs a loss for every output; none for {missing}. Pass e.g. "
                "loss='binary_crossentropy' (sigmoid output), 'sparse_categorical_crossentropy' "
                "(softmax output, integer labels) or 'mse'."
            )
        self.losses = [losses.get(entry) for entry in entries]
        if isinstance(loss_weights, (list, tuple)) and len(self.names) == 1 and len(
            loss_weights
        ) == 1:
            loss_weights = loss_weights[0]
        self.weights = [
            check_loss_weight(w) for w in per_output(loss_weights, self.names, "loss_weights")
        ]
        self.fused = [
            logits_form(lo, layer)
            for lo, layer in zip(self.losses, output_layers, strict=True)
        ]

    def __call__(
        self,
        ys: Sequence[Any],
        preds: Sequence[Tensor],
        sws: Sequence[Any],
        penalty: Tensor | None = None,
    ) -> Tensor:
        """The scalar objective of one batch.

        Args:
            ys: prepared targets, one per output.
            preds: the model's outputs, logits where :attr:`fused` has an entry.
            sws: per-sample weights per output (``None`` entries: unweighted).
            penalty: the weight penalties, added unscaled.
        """
        total = None
        for i, pred in enumerate(preds):
            fused = self.fused[i]
            value = loss_value(fused or self.losses[i], ys[i], pred, sws[i], fused is not None)
            weight = self.weights[i]
            if weight is not None:
                value = ops.mul(value, weight)
            total = value if total is None else ops.add(total, value)
        assert total is not None  # a model has at least one output
        if penalty is not None:
            total = ops.add(total, penalty)
        return total

    def output_loss(self, i: int, y: Any, pred: Tensor, sw: Any) -> Tensor:
        """The (unweighted) loss of output ``i`` alone, for per-output logs."""
        fused = self.fused[i]
        return loss_value(fused or self.losses[i], y, pred, sw, fused is not None)

    def config(self) -> Any:
        """The losses as JSON data: one config, or a dict by output name."""
        configs = [lo.get_config() for lo in self.losses]
        return configs[0] if len(configs) == 1 else dict(zip(self.names, configs, strict=True))

    def weights_config(self) -> Any:
        """The loss weights as JSON data (``None`` when none were given)."""
        if all(w is None for w in self.weights):
            return None
        if len(self.weights) == 1:
            return self.weights[0]
        return dict(zip(self.names, self.weights, strict=True))


def resolve_metric(identifier: Any, loss: losses.Loss) -> tuple[str, Any]:
    """``(name, function)`` of a compiled metric; ``"accuracy"`` is picked by the loss (Keras)."""
    name, fn = metrics.get(identifier)
    if name in ("accuracy", "acc"):
        fn = {
            "binary": metrics.binary_accuracy,
            "categorical": metrics.categorical_accuracy,
            "sparse": metrics.sparse_categorical_accuracy,
        }.get(data.loss_kind(loss), fn)
    return name, fn


class MetricTracker:
    """The compiled metrics of one output, computed once per epoch on all its batches.

    Args:
        metrics: ``(name, function)`` pairs.
        prefix: prepended to the names in logs (``"<output>_"`` for multi-output models).
    """

    def __init__(self, metrics: Sequence[tuple[str, Any]], prefix: str = "") -> None:
        self.metrics = list(metrics)
        self.prefix = prefix
        self._names = [f"{prefix}{name}" for name, _ in self.metrics]
        self._ys: list[np.ndarray] = []
        self._outs: list[np.ndarray] = []

    @property
    def active(self) -> bool:
        """Whether there is anything to compute (the loop skips collecting outputs otherwise)."""
        return bool(self.metrics)

    def reset(self) -> None:
        """Forget the batches seen (at the start of each epoch and evaluation)."""
        self._ys, self._outs = [], []

    def update(self, y: np.ndarray, outputs: np.ndarray) -> None:
        """Record one batch's prepared targets and outputs (arrays; copied when needed)."""
        if self.metrics:
            self._ys.append(y if y.base is None else y.copy())
            self._outs.append(outputs)

    def result(self) -> dict[str, float]:
        """Each metric on every batch recorded since :meth:`reset`."""
        if not self.metrics or not self._outs:
            return {}
        y = self._ys[0] if len(self._ys) == 1 else np.concatenate(self._ys)
        out = self._outs[0] if len(self._outs) == 1 else np.concatenate(self._outs)
        return self.compute(y, out)

    def compute(self, y: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
        """Each metric of ``outputs`` against prepared targets ``y`` (NaN where not finite)."""
        names = self._names
        if not math.isfinite(np.add.reduce(outputs, axis=None)) and not np.isfinite(
            outputs
        ).all():
            return dict.fromkeys(names, math.nan)
        logs = {}
        for label, (_, fn) in zip(names, self.metrics, strict=True):
            value = prepared_accuracy(fn, y, outputs)
            logs[label] = float(fn(y, outputs) if value is None else value)
        return logs


def prepared_accuracy(fn: Any, y: np.ndarray, outputs: np.ndarray) -> float | None:
    """A built-in accuracy of finite ``outputs`` against targets prepared for the loss.

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
