"""BatchNormalization (Keras names and defaults: momentum 0.99, epsilon 1e-3).

Weights, in Keras' order: ``gamma`` and ``beta`` (trainable), ``moving_mean`` and
``moving_variance`` (non-trainable: no gradient, never touched by the optimizer, updated by the
layer in training, saved and loaded with the model).

Shape legend: N batch, C channels (the ``axis``), ``...`` any other axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchnn import initializers, ops, regularizers
from scratchnn.backend import FloatDType
from scratchnn.initializers import InitializerLike
from scratchnn.layers import _spatial as sp
from scratchnn.layers.base import Layer
from scratchnn.layers.core import _config_of
from scratchnn.regularizers import RegularizerLike
from scratchnn.tensor import Tensor


class BatchNormalization(Layer):
    """Normalise each channel to zero mean and unit variance, then scale and shift it.

    In training (``fit``) the batch's mean and biased variance are used and the moving averages
    move toward them: ``moving = moving * momentum + batch * (1 - momentum)``. At inference
    (``predict``, ``evaluate``, validation) the moving averages are used. A frozen layer
    (``trainable = False``) runs in inference mode even in training, as in Keras.

    Args:
        axis: the channel axis (default -1: channels-last; 1 for channels-first images).
        momentum: of the moving averages (Keras' convention; PyTorch's is ``1 - momentum``).
        epsilon: added to the variance.
        center: learn an offset ``beta``; scale: learn a factor ``gamma``.
        beta_initializer ("zeros"), gamma_initializer ("ones"), moving_mean_initializer
        ("zeros"), moving_variance_initializer ("ones"), beta_regularizer, gamma_regularizer.
        input_shape: one sample's shape, for a first layer.

    Shape:
        any input ``(N, ..., C, ...)``; the output has the same shape.

    Example:
        >>> import numpy as np
        >>> layer = BatchNormalization()
        >>> layer.build((3,), rng=np.random.default_rng(0))
        >>> y = layer(np.array([[1.0, 2, 3], [3, 6, 9]]), training=True)
        >>> np.round(y.numpy(), 2).tolist()
        [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]
        >>> [round(v, 3) for v in layer.moving_mean.numpy().tolist()]  # 0.01 * batch mean
        [0.02, 0.04, 0.06]
    """

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: InitializerLike = "zeros",
        gamma_initializer: InitializerLike = "ones",
        moving_mean_initializer: InitializerLike = "zeros",
        moving_variance_initializer: InitializerLike = "ones",
        beta_regularizer: RegularizerLike = None,
        gamma_regularizer: RegularizerLike = None,
        input_shape: Sequence[int] | None = None,
        trainable: bool = True,
        name: str | None = None,
        dtype: FloatDType = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis == 0:
            raise ValueError(
                f"{sp.label(self)}: axis must be the channel axis, an integer other than 0 (the "
                f"batch axis); received axis={axis!r}. Use -1 for channels-last data."
            )
        for label, value, ok, expected in (
            ("momentum", momentum, lambda v: 0 <= v <= 1, "in [0, 1]"),
            ("epsilon", epsilon, lambda v: v > 0, "> 0"),
        ):
            if (
                isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or not ok(value)
            ):
                raise ValueError(
                    f"{sp.label(self)}: {label} must be a number {expected}; received "
                    f"{label}={value!r}."
                )
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.declared_input_shape = sp.declared_shape(input_shape)
        self.gamma: Tensor | None = None
        self.beta: Tensor | None = None
        self.moving_mean: Tensor | None = None
        self.moving_variance: Tensor | None = None

    def _sample_axis(self, input_shape: tuple[int, ...]) -> int:
        """The channel axis as an index into one sample's shape (batch axis excluded)."""
        rank = len(input_shape) + 1
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"{sp.label(self)}: axis {self.axis} is out of range for inputs of shape "
                f"{(None, *input_shape)}. Use -1 for channels-last data."
            )
        full = self.axis % rank
        if full == 0:
            raise ValueError(
                f"{sp.label(self)}: axis {self.axis} is the batch axis of inputs of shape "
                f"{(None, *input_shape)}; it must name the channel axis (e.g. -1)."
            )
        return full - 1

    def weight_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """``gamma``, ``beta`` (when ``scale``/``center``), ``moving_mean``,
        ``moving_variance``: each ``(C,)``."""
        c = (int(input_shape[self._sample_axis(tuple(input_shape))]),)
        shapes: dict[str, tuple[int, ...]] = {}
        if self.scale:
            shapes["gamma"] = c
        if self.center:
            shapes["beta"] = c
        shapes["moving_mean"] = c
        shapes["moving_variance"] = c
        return shapes

    def build(
        self, input_shape: tuple[int, ...], rng: np.random.Generator | None = None,
        dtype: FloatDType = None,
    ) -> None:
        """Create the four ``(C,)`` weights (no randomness with the default initializers)."""
        shapes = self.weight_shapes(tuple(input_shape))
        super().build(input_shape, rng, dtype)
        if self.scale:
            self.gamma = self.add_weight(
                "gamma", shapes["gamma"], self.gamma_initializer, rng, self.gamma_regularizer
            )
        if self.center:
            self.beta = self.add_weight(
                "beta", shapes["beta"], self.beta_initializer, rng, self.beta_regularizer
            )
        self.moving_mean = self.add_weight(
            "moving_mean", shapes["moving_mean"], self.moving_mean_initializer, rng,
            trainable=False,
        )
        self.moving_variance = self.add_weight(
            "moving_variance", shapes["moving_variance"], self.moving_variance_initializer, rng,
            trainable=False,
        )

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """Normalise with the batch's statistics (training) or the moving ones (inference).

        Raises:
            ValueError: inputs whose channel count differs from the built layer's, or, in
                training, a batch with a single value per channel.
        """
        shape, mean, variance = self.input_shape, self.moving_mean, self.moving_variance
        assert shape is not None and mean is not None and variance is not None  # __call__ builds
        axis = self._sample_axis(shape) + 1
        c = mean.shape[0]
        if x.ndim != len(shape) + 1 or x.shape[axis] != c:
            raise ValueError(
                f"{sp.label(self)} was built for inputs of shape {(None, *shape)} "
                f"({c} channels on axis {axis}); received shape {x.shape}. Feed inputs of that "
                "shape or build a new layer."
            )
        training = bool(training) and self.trainable
        if training and x.size // c < 2:
            raise ValueError(
                f"{sp.label(self)} cannot normalise in training a batch that holds a single "
                f"value per channel (input shape {x.shape}: {x.size // c} value per channel, "
                "so its variance is 0). Train with batches of at least 2 samples (batch_size "
                ">= 2; watch a last batch of 1), or call the layer with training=False."
            )
        if x.data.dtype != mean.data.dtype:
            x = ops.cast(x, mean.data.dtype)
        return ops.batch_norm(
            x, self.gamma, self.beta, mean.data, variance.data,
            training=training, momentum=self.momentum, epsilon=self.epsilon, axis=axis,
        )

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict (Keras' keys)."""
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": _config_of(self.beta_initializer),
            "gamma_initializer": _config_of(self.gamma_initializer),
            "moving_mean_initializer": _config_of(self.moving_mean_initializer),
            "moving_variance_initializer": _config_of(self.moving_variance_initializer),
            "beta_regularizer": _config_of(self.beta_regularizer),
            "gamma_regularizer": _config_of(self.gamma_regularizer),
            "input_shape": sp.declared_config(self),
        }
