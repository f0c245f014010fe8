"""Loss functions (Keras names): per-sample values, reduced with optional sample weights.

Each loss is a small class called as ``loss(y_true, y_pred, sample_weight=None)`` and returning a
scalar :class:`Tensor` (or per-sample values with ``reduction="none"``). ``y_true`` is a constant
(array or Tensor); ``y_pred`` is the network's output Tensor. Values are averaged over the last axis
per sample, as Keras does, then reduced over the batch:

* ``"sum_over_batch_size"`` (alias ``"mean"``, the default): ``sum(w * l) / N``;
* ``"sum"``: ``sum(w * l)``;
* ``"none"``: the per-sample values ``w * l`` (shape ``(N,)``).

Cross-entropies are stable: ``from_logits=True`` uses fused log-sigmoid / log-softmax forms, and
probability inputs are clipped into ``[eps, 1 - eps]`` (eps = 1e-7) so ``log(0)`` never happens.

    >>> import numpy as np
    >>> from scratchnn import Tensor, losses
    >>> y_pred = Tensor([[0.9], [0.2]], dtype="float64")
    >>> round(losses.get("binary_crossentropy")(np.array([1, 0]), y_pred).item(), 6)
    0.164252
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from scratchnn import backend, ops
from scratchnn.tensor import Array, Gradients, Tensor, TensorLike

EPSILON = 1e-7
REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "none")

Reduction: TypeAlias = Literal["sum_over_batch_size", "mean", "sum", "none"]
"""How a loss reduces the per-sample values: their mean (``"mean"`` is an alias), their sum, or
not at all (``"none"``: one value per sample)."""

LossName: TypeAlias = Literal[
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "mean_squared_error", "mean_absolute_error", "huber", "bce", "mse", "mae", "huber_loss",
]
"""The names of :data:`LOSSES` and their :data:`ALIASES` (``get`` also takes other cases)."""


def _as_target(y_true: TensorLike, y_pred: Tensor, loss_name: str) -> Array:
    """``y_true`` as an array of ``y_pred``'s dtype and shape (reshaped when only sizes agree)."""
    xp = backend.xp
    data = y_true.data if isinstance(y_true, Tensor) else y_true
    data = xp.asarray(data)
    if data.dtype.kind in "USO":
        raise TypeError(
            f"{loss_name}: targets must be numeric; received dtype {data.dtype}. Encode string "
            "labels as integers (sklearn.preprocessing.LabelEncoder) or one-hot vectors first."
        )
    data = data.astype(y_pred.dtype, copy=False)
    if data.shape != y_pred.shape:
        if data.size != y_pred.size:
            raise ValueError(
                f"{loss_name}: y_true has shape {data.shape} but y_pred has shape "
                f"{y_pred.shape}; they must hold the same number of values."
            )
        data = data.reshape(y_pred.shape)
    return data


def _mean_last(values: Tensor) -> Tensor:
    """Per-sample loss: the mean over the last axis (inputs of one axis are already per-sample)."""
    return values if values.ndim <= 1 else ops.mean(values, axis=-1)


class Loss:
    """Base class: subclasses implement :meth:`per_sample` and get reduction and weights for free.

    Args:
        reduction: ``"sum_over_batch_size"`` (alias ``"mean"``), ``"sum"`` or ``"none"``.
        name: label used in logs and model files.
    """

    name = "loss"

    def __init__(
        self, reduction: Reduction = "sum_over_batch_size", name: str | None = None
    ) -> None:
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"Unknown reduction {reduction!r}; expected one of {', '.join(REDUCTIONS)}."
            )
        self.reduction = reduction
        if name is not None:
            self.name = name

    def per_sample(self, y_true: TensorLike, y_pred: Tensor) -> Tensor:
        """Loss of each sample, shape ``(N,)`` (or ``()`` for a single unbatched sample)."""
        raise NotImplementedError

    def __call__(
        self, y_true: TensorLike, y_pred: TensorLike, sample_weight: TensorLike | None = None
    ) -> Tensor:
        """Reduced loss of ``y_pred`` against ``y_true``, optionally weighted per sample."""
        if not isinstance(y_pred, Tensor):
            y_pred = Tensor(y_pred, dtype="float64" if _is_f64(y_pred) else None)
        values = self.per_sample(y_true, y_pred)
        if sample_weight is not None:
            w = backend.xp.asarray(
                sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight,
                dtype=values.dtype,
            )
            if w.ndim > values.ndim or (w.size not in (1, values.size)):
                raise ValueError(
                    f"{self.name}: sample_weight has shape {w.shape}; expected one weight per "
                    f"sample, shape {values.shape}."
                )
            values = ops.mul(values, w.reshape(values.shape) if w.size > 1 else w)
        if self.reduction == "none":
            return values
        total = ops.sum(values)
        if self.reduction == "sum":
            return total
        return ops.div(total, max(values.size, 1))

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-serialisable dict (with ``"name"``)."""
        return {"name": self.name, "reduction": self.reduction}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _is_f64(values: Any) -> bool:
    return getattr(values, "dtype", None) is not None and str(values.dtype) == "float64"


class BinaryCrossentropy(Loss):
    """Binary cross-entropy ``-(y log p + (1 - y) log(1 - p))`` for targets in [0, 1].

    Args:
        from_logits: ``y_pred`` holds logits (no sigmoid applied); uses the stable fused form.
    """

    name = "binary_crossentropy"

    def __init__(
        self, from_logits: bool = False, reduction: Reduction = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.from_logits = bool(from_logits)

    def per_sample(self, y_true: TensorLike, y_pred: Tensor) -> Tensor:
        """Per-sample BCE, averaged over the last axis."""
        y = _as_target(y_true, y_pred, self.name)
        if self.from_logits:
            return _mean_last(ops.sigmoid_binary_crossentropy(y_pred, y))
        return _mean_last(_bce_on_probabilities(y_pred, y))

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict."""
        return {**super().get_config(), "from_logits": self.from_logits}


def _bce_on_probabilities(p: Tensor, y: Any) -> Tensor:
    """Element-wise BCE of probabilities clipped into [eps, 1 - eps] (no log(0))."""
    xp = backend.xp
    pc = xp.clip(p.data, EPSILON, 1 - EPSILON)
    out = -(y * xp.log(pc) + (1 - y) * xp.log1p(-pc))

    def backward(g: Array) -> Gradients:
        inside = (p.data >= EPSILON) & (p.data <= 1 - EPSILON)
        return (g * inside * ((1 - y) / (1 - pc) - y / pc),)

    return Tensor._from_op(out, (p,), backward, "bce")


class CategoricalCrossentropy(Loss):
    """Cross-entropy against one-hot (or soft) targets of shape ``(N, K)``.

    Args:
        from_logits: ``y_pred`` holds logits; uses the fused, stable log-softmax.
    """

    name = "categorical_crossentropy"

    def __init__(
        self, from_logits: bool = False, reduction: Reduction = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.from_logits = bool(from_logits)

    def per_sample(self, y_true: TensorLike, y_pred: Tensor) -> Tensor:
        """Per-sample cross-entropy."""
        y = _as_target(y_true, y_pred, self.name)
        if self.from_logits:
            return ops.softmax_crossentropy(y_pred, y)
        # Keras: renormalise the rows, clip away from 0 and 1, then -sum(y log p).
        p = ops.div(y_pred, ops.sum(y_pred, axis=-1, keepdims=True))
        return ops.neg(ops.sum(ops.mul(ops.log(ops.clip(p, EPSILON, 1 - EPSILON)), y), axis=-1))

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict."""
        return {**super().get_config(), "from_logits": self.from_logits}


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy against integer class labels ``(N,)`` for predictions ``(N, K)``.

    Sequence outputs ``(N, T, K)`` take labels ``(N, T)``: the loss of each step, averaged over
    all steps of all samples (Keras' ``sum_over_batch_size``).

    Args:
        from_logits: ``y_pred`` holds logits; uses the fused, stable log-softmax.
    """

    name = "sparse_categorical_crossentropy"

    def __init__(
        self, from_logits: bool = False, reduction: Reduction = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.from_logits = bool(from_logits)

    def per_sample(self, y_true: TensorLike, y_pred: Tensor) -> Tensor:
        """Per-sample cross-entropy (per sample and step for ``(N, T, K)`` predictions)."""
        labels = sparse_labels(y_true, y_pred, self.name)
        if self.from_logits:
            return ops.sparse_softmax_crossentropy(y_pred, labels)
        xp = backend.xp
        lead = y_pred.shape[:-1]
        rows = y_pred if y_pred.ndim == 2 else ops.reshape(y_pred, (-1, y_pred.shape[-1]))
        picked = ops.getitem(rows, (xp.arange(rows.shape[0]), labels))  # (N,)
        values = ops.neg(ops.log(ops.clip(picked, EPSILON, 1 - EPSILON)))
        return values if y_pred.ndim == 2 else ops.reshape(values, lead)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict."""
        return {**super().get_config(), "from_logits": self.from_logits}


def sparse_labels(y_true: TensorLike, y_pred: Tensor, loss_name: str) -> Array:
    """Integer labels checked against the predictions they index, flattened to ``(rows,)``.

    ``y_pred`` is ``(N, K)`` with labels ``(N,)``, or ``(..., K)`` (e.g. ``(N, T, K)``) with one
    label per row of predictions (``(N, T)``).
    """
    xp = backend.xp
    data = xp.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if data.dtype.kind in "USO":
        raise TypeError(
            f"{loss_name}: labels must be integers; received dtype {data.dtype}. Encode string "
            "labels first (sklearn.preprocessing.LabelEncoder)."
        )
    if y_pred.ndim < 2:
        raise ValueError(
            f"{loss_name}: y_pred must have shape (N, K); received {y_pred.shape}."
        )
    data = data.reshape(-1)
    n_rows = y_pred.size // y_pred.shape[-1]
    if data.shape[0] != n_rows:
        raise ValueError(
            f"{loss_name}: {data.shape[0]} labels for {n_rows} predictions (y_pred of shape "
            f"{y_pred.shape})."
        )
    labels = data.astype(int)
    if data.dtype.kind == "f" and not bool(xp.all(labels == data)):
        raise ValueError(f"{loss_name}: labels must be whole numbers; received {data[:5]}...")
    k = y_pred.shape[-1]
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= k):
        bad = labels[(labels < 0) | (labels >= k)]
        raise ValueError(
            f"{loss_name}: labels must lie in [0, {k - 1}] for {k} output units; received "
            f"{int(bad[0])}. Check the output layer's size or re-encode the labels."
        )
    return labels


class MeanSquaredError(Loss):
    """Mean of squared errors over the last axis."""

    name = "mean_squared_error"

    def per_sample(self, y_true: TensorLike, y_pred: Tensor) -> Tensor:
        """Per-sample MSE."""
        diff = ops.sub(y_pred, _as_target(y_true, y_pred, self.name))
        return _mean_last(ops.mul(diff, diff))


class MeanAbsoluteError(Loss):
    """Mean of absolute errors over the last axis."""

    name = "mean_absolute_error"

    def per_sample(self, y_true: TensorLike, y_pred: Tensor) -> Tensor:
        """Per-sample MAE."""
        return _mean_last(ops.abs(ops.sub(y_pred, _as_target(y_true, y_pred, self.name))))


class Huber(Loss):
    """Huber loss: ``0.5 e²`` where ``|e| <= delta``, ``delta (|e| - 0.5 delta)`` elsewhere.

    Args:
        delta: where the quadratic part turns linear (> 0).
    """

    name = "huber"

    def __init__(
        self, delta: float = 1.0, reduction: Reduction = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        if not delta > 0:
            raise ValueError(f"Huber: delta must be positive; received delta={delta}.")
        self.delta = float(delta)

    def per_sample(self, y_true: TensorLike, y_pred: Tensor) -> Tensor:
        """Per-sample Huber loss."""
        err = ops.abs(ops.sub(y_pred, _as_target(y_true, y_pred, self.name)))
        quadratic = ops.mul(ops.mul(err, err), 0.5)
        linear = ops.mul(ops.sub(err, 0.5 * self.delta), self.delta)
        return _mean_last(ops.where(err.data <= self.delta, quadratic, linear))

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict."""
        return {**super().get_config(), "delta": self.delta}


LOSSES: dict[str, type[Loss]] = {
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber,
}
ALIASES = {
    "bce": "binary_crossentropy",
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "huber_loss": "huber",
}


LossLike: TypeAlias = "LossName | Loss | dict[str, Any]"
"""What ``compile`` takes as a loss: a name, an instance or a config dict."""


def get(identifier: LossLike) -> Loss:
    """Return a :class:`Loss` for a name, a config dict (``{"name": ..., ...}``) or an instance.

    Raises:
        ValueError: for an unknown name (the message lists the accepted ones).
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        config = dict(identifier)
        cls = _lookup(config.pop("name", ""))
        return cls(**config)
    if isinstance(identifier, str):
        return _lookup(identifier)()
    raise TypeError(
        f"loss must be a name, a Loss or a config dict; received {type(identifier).__name__}."
    )


def _lookup(name: Any) -> type[Loss]:
    key = ALIASES.get(name.lower(), name.lower()) if isinstance(name, str) else None
    if key not in LOSSES:
        accepted = sorted([*LOSSES, *ALIASES])
        raise ValueError(f"Unknown loss {name!r}. Accepted names: {', '.join(accepted)}.")
    return LOSSES[key]


def binary_crossentropy(y_true: TensorLike, y_pred: Tensor, from_logits: bool = False) -> Tensor:
    """Per-sample binary cross-entropy (functional form)."""
    return BinaryCrossentropy(from_logits=from_logits, reduction="none")(y_true, y_pred)


def categorical_crossentropy(
    y_true: TensorLike, y_pred: Tensor, from_logits: bool = False
) -> Tensor:
    """Per-sample categorical cross-entropy (functional form)."""
    return CategoricalCrossentropy(from_logits=from_logits, reduction="none")(y_true, y_pred)


def sparse_categorical_crossentropy(
    y_true: TensorLike, y_pred: Tensor, from_logits: bool = False
) -> Tensor:
    """Per-sample sparse categorical cross-entropy (functional form)."""
    return SparseCategoricalCrossentropy(from_logits=from_logits, reduction="none")(y_true, y_pred)


def mean_squared_error(y_true: TensorLike, y_pred: Tensor) -> Tensor:
    """Per-sample mean squared error (functional form)."""
    return MeanSquaredError(reduction="none")(y_true, y_pred)


def mean_absolute_error(y_true: TensorLike, y_pred: Tensor) -> Tensor:
    """Per-sample mean absolute error (functional form)."""
    return MeanAbsoluteError(reduction="none")(y_true, y_pred)


def huber(y_true: TensorLike, y_pred: Tensor, delta: float = 1.0) -> Tensor:
    """Per-sample Huber loss (functional form)."""
    return Huber(delta=delta, reduction="none")(y_true, y_pred)
