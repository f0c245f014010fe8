"""Core layers (Keras names): Input, Dense, Activation, Dropout, Flatten.

Shape legend: N batch rows, D input features, H units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np

from scratchnn import activations, ops, regularizers
from scratchnn.activations import ActivationLike
from scratchnn.backend import FloatDType
from scratchnn.initializers import InitializerLike
from scratchnn.layers.base import Layer, Node, SymbolicTensor, require_rng
from scratchnn.regularizers import RegularizerLike
from scratchnn.tensor import Tensor

# Activation functions that Dense fuses into its affine node, with the name ops.linear takes.
_FUSED_NAMES = {fn: name for name, fn in ops.FUSED_ACTIVATIONS.items()}


def _positive_int(value: Any, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{label} must be a positive integer; received {label}={value!r}.")
    return int(value)


def _shape_tuple(shape: Any, label: str) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(
            f"{label} must be a tuple of positive integers; received {shape!r}."
        ) from None
    return tuple(_positive_int(n, label) for n in dims)


class Input(Layer):
    """Declares the shape of one input sample: the first entry of a ``Sequential``, or the start
    of a functional graph.

    Calling a layer on an ``Input`` records a functional graph (``input.output`` is its symbolic
    tensor); ``scratchnn.Model(inputs=..., outputs=...)`` makes a model of it.

    Args:
        shape: shape of one sample, batch axis excluded, e.g. ``(11,)`` or ``(28, 28)``.

    Example:
        >>> from scratchnn.layers import Input, Dense
        >>> from scratchnn import Model, Sequential
        >>> model = Sequential([Input((11,)), Dense(6, activation="relu")])
        >>> x = Input((4,))
        >>> y = Dense(2)(x)
        >>> Model(inputs=x, outputs=y, seed=0).output_shape
        (2,)
    """

    def __init__(
        self, shape: int | Sequence[int], name: str | None = None, dtype: FloatDType = None,
        trainable: bool = False,
    ) -> None:
        super().__init__(trainable=False, name=name, dtype=dtype)
        self.shape = _shape_tuple(shape, "shape")
        node = Node(self, [], single_input=True)
        node.outputs = [SymbolicTensor(self.shape, node)]
        self.output = node.outputs[0]

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """Returns ``x`` unchanged."""
        return x

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict."""
        return {**super().get_config(), "shape": list(self.shape)}


GraphTensors: TypeAlias = "SymbolicTensor | Input | Sequence[SymbolicTensor | Input]"
"""The inputs or the outputs of a functional graph: symbolic tensors (an :class:`Input` stands
for the one it makes), one or a list."""


class Dense(Layer):
    """Fully connected layer: ``activation(x @ kernel + bias)``.

    Args:
        units: number of output units (> 0).
        activation: name (``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"softmax"``, ...), a function
            Tensor -> Tensor, or ``None`` for linear.
        use_bias: add a bias vector.
        kernel_initializer: initializer name or object (default ``"glorot_uniform"``);
            ``initializers.random_normal(stddev=0.01)`` is tutorial 000's ``randn * 0.01``.
        bias_initializer: initializer for the bias (default ``"zeros"``).
        kernel_regularizer / bias_regularizer: ``None``, ``"l1"``, ``"l2"``, ``"l1_l2"`` or an
            object from :mod:`scratchnn.regularizers`; the penalty is added to the loss.
        input_dim: number of input features, for a first layer (Keras' shorthand for ``Input``).

    Shape:
        input ``(N, D)`` (or ``(..., D)``), output ``(N, units)`` (or ``(..., units)``).

    Example:
        >>> import numpy as np
        >>> layer = Dense(3, activation="tanh")
        >>> layer.build((2,), rng=np.random.default_rng(0))
        >>> layer(np.ones((4, 2))).shape
        (4, 3)
    """

    def __init__(
        self,
        units: int,
        activation: ActivationLike = None,
        use_bias: bool = True,
        kernel_initializer: InitializerLike = "glorot_uniform",
        bias_initializer: InitializerLike = "zeros",
        kernel_regularizer: RegularizerLike = None,
        bias_regularizer: RegularizerLike = None,
        input_dim: int | None = None,
        input_shape: Sequence[int] | None = None,
        trainable: bool = True,
        name: str | None = None,
        dtype: FloatDType = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        self.units = _positive_int(units, "units")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        # Resolve now so that a bad name fails at construction, not deep inside fit().
        from scratchnn import initializers

        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        if input_dim is not None:
            input_shape = (input_dim,)
        self.declared_input_shape = (
            None if input_shape is None else _shape_tuple(input_shape, "input_shape")
        )
        self.kernel: Tensor | None = None
        self.bias: Tensor | None = None

    def build(
        self, input_shape: tuple[int, ...], rng: np.random.Generator | None = None,
        dtype: FloatDType = None,
    ) -> None:
        """Create ``kernel`` (D, units) and ``bias`` (units,)."""
        super().build(input_shape, rng, dtype)
        assert self.input_shape is not None  # set by Layer.build
        if len(self.input_shape) == 0:
            raise ValueError(
                f"{self.name}: Dense needs inputs with a feature axis; received a scalar."
            )
        rng = require_rng(rng, self)
        shapes = self.weight_shapes(self.input_shape)
        self.kernel = self.add_weight(
            "kernel", shapes["kernel"], self.kernel_initializer, rng, self.kernel_regularizer
        )
        if self.use_bias:
            self.bias = self.add_weight(
                "bias", shapes["bias"], self.bias_initializer, rng, self.bias_regularizer
            )

    def weight_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """``kernel`` ``(D, units)`` and, with ``use_bias``, ``bias`` ``(units,)``."""
        shapes: dict[str, tuple[int, ...]] = {"kernel": (int(input_shape[-1]), self.units)}
        if self.use_bias:
            shapes["bias"] = (self.units,)
        return shapes

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """``activation(x @ kernel + bias)``.

        relu, tanh and sigmoid are fused into the affine node (:func:`scratchnn.ops.linear`);
        other activations are applied as their own op. Both give the same values and gradients.
        """
        fused = _FUSED_NAMES.get(self.activation)
        if fused is not None:
            return self.pre_activation(x, fused)
        return self.activation(self.pre_activation(x))

    def pre_activation(self, x: Tensor, activation: str | None = None) -> Tensor:
        """``x @ kernel + bias`` (the logits when the activation is sigmoid or softmax).

        Args:
            x: ``(N, D)`` input, or ``(..., D)`` (e.g. ``(B, T, D)`` sequences, through
                ``ops.linear``'s batched fallback: as fast as folding the leading axes into rows,
                measured on the character model's output layer).
            activation: a name of :data:`scratchnn.ops.FUSED_ACTIVATIONS` to fuse into the node.
        """
        assert self.kernel is not None, "Dense.call before build"  # __call__ builds first
        kernel = self.kernel.data
        if x.data.shape[-1] != kernel.shape[0]:
            raise ValueError(
                f"Layer {self.name!r} expects inputs with {kernel.shape[0]} features "
                f"(shape (N, {kernel.shape[0]})); received shape {x.shape}."
            )
        if x.data.dtype != kernel.dtype:
            x = ops.cast(x, kernel.dtype)
        # (N, D) @ (D, H) + (H,) -> (N, H)
        return ops.linear(x, self.kernel, self.bias, activation=activation)

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(*input_shape[:-1], units)``."""
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-serialisable dict."""
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.name_of(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _config_of(self.kernel_initializer),
            "bias_initializer": _config_of(self.bias_initializer),
            "kernel_regularizer": _config_of(self.kernel_regularizer),
            "bias_regularizer": _config_of(self.bias_regularizer),
            "input_shape": _shape_config(self),
        }


def _config_of(obj: Any) -> Any:
    if obj is None:
        return None
    get_config = getattr(obj, "get_config", None)
    if get_config is None:
        return getattr(obj, "__name__", repr(obj))
    return {"class_name": type(obj).__name__, "config": get_config()}


def _shape_config(layer: Any) -> list[int] | None:
    """The ``input_shape`` entry of a layer's config: the built shape, else the declared one."""
    shape = layer.input_shape or layer.declared_input_shape
    return None if shape is None else list(shape)


class Activation(Layer):
    """Applies an activation function element-wise (or row-wise for softmax).

    Args:
        activation: a name from :mod:`scratchnn.activations` or a function Tensor -> Tensor.
    """

    def __init__(
        self, activation: ActivationLike, trainable: bool = True, name: str | None = None,
        dtype: FloatDType = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        self.activation = activations.get(activation)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """``activation(x)``."""
        return self.activation(x)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict."""
        return {**super().get_config(), "activation": activations.name_of(self.activation)}


class Dropout(Layer):
    """Inverted dropout: in training, zero entries with probability ``rate`` and scale the rest.

    Active only when called with ``training=True`` (``fit``); ``predict``/``evaluate`` pass the
    input through unchanged.

    Args:
        rate: fraction of units to drop, in [0, 1). Seed 004's "keep probability q" is ``1 - rate``.
        seed: seed of a mask generator of the layer's own; without it the layer draws from the
            generator of the model it belongs to (``Sequential(..., seed=...)``).
    """

    def __init__(
        self,
        rate: float,
        seed: int | None = None,
        trainable: bool = True,
        name: str | None = None,
        dtype: FloatDType = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(
                f"Dropout rate must be a number in [0, 1); received rate={rate!r}. "
                "rate is the fraction dropped (keep probability = 1 - rate)."
            )
        self.rate = float(rate)
        self.seed = seed
        self.rng: np.random.Generator | None = None

    def build(
        self, input_shape: tuple[int, ...], rng: np.random.Generator | None = None,
        dtype: FloatDType = None,
    ) -> None:
        """Take the mask generator: one seeded with ``seed``, else the model's ``rng``."""
        super().build(input_shape, rng, dtype)
        self.rng = np.random.default_rng(self.seed) if self.seed is not None else rng

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """Drop and rescale in training; identity otherwise."""
        if not training or self.rate == 0:
            return x
        return ops.dropout(x, self.rate, require_rng(self.rng, self))

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict."""
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class Flatten(Layer):
    """Flattens each sample to one axis: ``(N, d1, d2, ...) -> (N, d1*d2*...)``."""

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """Reshape to ``(N, -1)``."""
        return ops.reshape(x, (x.shape[0], -1))

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(prod(input_shape),)``."""
        return (math.prod(input_shape),)
