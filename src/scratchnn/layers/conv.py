"""Convolution layers (Keras names and defaults): Conv1D, Conv2D, Conv2DTranspose.

Each holds a kernel in Keras' layout and a bias and calls one op of :mod:`scratchnn.ops.conv`;
relu, tanh and sigmoid are fused into the convolution's node, as Dense fuses them.

Shape legend: N batch, H/W height/width, L length, C input channels, F filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from scratchnn import activations, initializers, ops, regularizers
from scratchnn.activations import ActivationLike
from scratchnn.backend import FloatDType
from scratchnn.initializers import InitializerLike
from scratchnn.layers import _spatial as sp
from scratchnn.layers.base import Layer
from scratchnn.layers.core import _FUSED_NAMES, _config_of, _positive_int
from scratchnn.ops.conv import DataFormat, IntOrInts, Padding
from scratchnn.regularizers import RegularizerLike
from scratchnn.tensor import Tensor


class _Conv(Layer):
    """A convolution over ``rank`` spatial axes; the subclasses only name their op."""

    rank: ClassVar[int] = 2
    transposed: ClassVar[bool] = False

    def __init__(
        self,
        filters: int,
        kernel_size: IntOrInts,
        strides: IntOrInts = 1,
        padding: Padding = "valid",
        data_format: DataFormat | None = None,
        dilation_rate: IntOrInts = 1,
        activation: ActivationLike = None,
        use_bias: bool = True,
        kernel_initializer: InitializerLike = "glorot_uniform",
        bias_initializer: InitializerLike = "zeros",
        kernel_regularizer: RegularizerLike = None,
        bias_regularizer: RegularizerLike = None,
        input_shape: Sequence[int] | None = None,
        trainable: bool = True,
        name: str | None = None,
        dtype: FloatDType = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        self.filters = _positive_int(filters, "filters")
        self.kernel_size = sp.ints(self, kernel_size, self.rank, "kernel_size")
        self.strides = sp.ints(self, strides, self.rank, "strides")
        self.dilation_rate = sp.ints(self, dilation_rate, self.rank, "dilation_rate")
        self.padding = sp.padding(self, padding, self.rank, causal=self.rank == 1)
        self.data_format = sp.data_format(self, data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.declared_input_shape = sp.declared_shape(input_shape)
        self.kernel: Tensor | None = None
        self.bias: Tensor | None = None

    # ---------------------------------------------------------------------------------- shapes
    def _channels(self, input_shape: tuple[int, ...]) -> int:
        return int(input_shape[sp.channel_axis(self.data_format)])

    def _output_sizes(self, sizes: tuple[int, ...]) -> tuple[int, ...]:
        return ops.spatial_output_shape(
            sizes, self.kernel_size, self.strides, sp.op_padding(self.padding),
            self.dilation_rate, transposed=self.transposed, op=sp.label(self),
        )

    def weight_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """``kernel`` ``(*kernel_size, C, filters)`` (transposed: ``(*kernel_size, filters, C)``)
        and, with ``use_bias``, ``bias`` ``(filters,)``."""
        c = self._channels(input_shape)
        inner = (self.filters, c) if self.transposed else (c, self.filters)
        shapes = {"kernel": (*self.kernel_size, *inner)}
        if self.use_bias:
            shapes["bias"] = (self.filters,)
        return shapes

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """One output sample: the spatial output sizes and ``filters`` channels."""
        sizes = self._output_sizes(sp.spatial_sizes(tuple(input_shape), self.data_format))
        return sp.with_spatial(sizes, self.filters, self.data_format)

    # ------------------------------------------------------------------------------ build, call
    def build(
        self, input_shape: tuple[int, ...], rng: np.random.Generator | None = None,
        dtype: FloatDType = None,
    ) -> None:
        """Create ``kernel`` and ``bias`` for samples of ``input_shape``, drawn from ``rng``.

        Raises:
            ValueError: samples of the wrong rank, a kernel larger than the (padded) input, or
                no generator (a model passes its own; standalone, pass
                ``rng=numpy.random.default_rng(seed)``).
        """
        sp.check_sample_rank(self, tuple(input_shape), self.rank, self.data_format)
        self.compute_output_shape(tuple(input_shape))  # a window larger than the input raises
        if rng is None:
            raise ValueError(
                f"{sp.label(self)} needs a numpy.random.Generator to draw its kernel: add it to "
                "a model (Sequential([...], seed=0) passes the model's) or call "
                "layer.build(input_shape, rng=numpy.random.default_rng(seed)) first."
            )
        super().build(input_shape, rng, dtype)
        shapes = self.weight_shapes(tuple(input_shape))
        self.kernel = self.add_weight(
            "kernel", shapes["kernel"], self.kernel_initializer, rng, self.kernel_regularizer
        )
        if self.use_bias:
            self.bias = self.add_weight(
                "bias", shapes["bias"], self.bias_initializer, rng, self.bias_regularizer
            )

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """The convolution, its bias and its activation (one node for relu/tanh/sigmoid).

        Raises:
            ValueError: a batch of the wrong rank or channel count, or spatial sizes too small
                for the kernel; the message names the layer, the expected and received shapes
                and the fix.
        """
        sp.check_batch(self, x, self.rank, self.data_format)
        built, kernel = self.input_shape, self.kernel
        assert built is not None and kernel is not None  # __call__ builds first
        sample = tuple(x.shape[1:])
        expected = self._channels(built)
        if self._channels(sample) != expected:
            raise ValueError(
                f"{sp.label(self)} was built for samples with {expected} channels "
                f"{(None, *built)}; received a batch of shape {x.shape} with "
                f"{self._channels(sample)}. Feed {expected}-channel inputs ({self.data_format}) "
                "or build a new layer for these."
            )
        if sample != built:
            self.compute_output_shape(sample)  # other spatial sizes: still large enough?
        if x.data.dtype != kernel.data.dtype:
            x = ops.cast(x, kernel.data.dtype)
        fused = _FUSED_NAMES.get(self.activation)
        out = self._op(
            x, kernel, self.bias, strides=self.strides, padding=sp.op_padding(self.padding),
            dilation_rate=self.dilation_rate, data_format=self.data_format, activation=fused,
        )
        return out if fused is not None else self.activation(out)

    def _op(self, *args: Any, **kwargs: Any) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-serialisable dict (Keras' keys)."""
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "activation": activations.name_of(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _config_of(self.kernel_initializer),
            "bias_initializer": _config_of(self.bias_initializer),
            "kernel_regularizer": _config_of(self.kernel_regularizer),
            "bias_regularizer": _config_of(self.bias_regularizer),
            "input_shape": sp.declared_config(self),
        }


class Conv2D(_Conv):
    """2-D convolution layer: ``activation(conv2d(x, kernel) + bias)``.

    Args:
        filters: number of output channels F.
        kernel_size: an int or ``(KH, KW)``.
        strides: an int or ``(sh, sw)`` (default 1).
        padding: ``"valid"`` (default), ``"same"``, or explicit amounts (see
            :func:`scratchnn.ops.conv2d`).
        data_format: ``"channels_last"`` (default, ``(N, H, W, C)``) or ``"channels_first"``.
        dilation_rate: an int or ``(dh, dw)``.
        activation: a name or function; relu, tanh and sigmoid are fused into the op.
        use_bias, kernel_initializer (``"glorot_uniform"``), bias_initializer (``"zeros"``),
        kernel_regularizer, bias_regularizer: as :class:`~scratchnn.layers.Dense`.
        input_shape: one sample's shape, for a first layer, e.g. ``(28, 28, 1)``.

    Shape:
        input ``(N, H, W, C)``, kernel ``(KH, KW, C, F)``, output ``(N, OH, OW, F)`` with
        ``OH = (H - (KH - 1) * dh - 1) // sh + 1`` (``"valid"``) or ``ceil(H / sh)`` (``"same"``).

    Example:
        >>> import numpy as np
        >>> from scratchnn import Sequential
        >>> model = Sequential([Conv2D(8, 3, activation="relu", input_shape=(28, 28, 1))], seed=0)
        >>> model.output_shape, model.count_params()
        ((26, 26, 8), 80)
    """

    rank = 2

    def _op(self, *args: Any, **kwargs: Any) -> Tensor:
        return ops.conv2d(*args, **kwargs)


class Conv1D(_Conv):
    """1-D convolution layer over sequences ``(N, L, C)``.

    Arguments as :class:`Conv2D`, with ints for ``kernel_size``, ``strides`` and
    ``dilation_rate``; ``padding`` also takes ``"causal"`` (output ``t`` sees inputs ``<= t``).

    Shape:
        input ``(N, L, C)``, kernel ``(K, C, F)``, output ``(N, OL, F)``.
    """

    rank = 1

    def _op(self, *args: Any, **kwargs: Any) -> Tensor:
        return ops.conv1d(*args, **kwargs)


class Conv2DTranspose(_Conv):
    """Transposed 2-D convolution (learned upsampling): the input gradient of a Conv2D.

    Arguments as :class:`Conv2D`. With ``strides=2, padding="same"`` the output is twice the
    input's height and width.

    Shape:
        input ``(N, H, W, C)``, kernel ``(KH, KW, F, C)`` (Keras' layout), output
        ``(N, OH, OW, F)`` with ``OH = H * sh`` (``"same"``) or ``(H - 1) * sh + (KH - 1) * dh + 1``
        (``"valid"``).
    """

    rank = 2
    transposed = True

    def _op(self, *args: Any, **kwargs: Any) -> Tensor:
        return ops.conv2d_transpose(*args, **kwargs)
