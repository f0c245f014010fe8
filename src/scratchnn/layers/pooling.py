"""Pooling layers (Keras names and defaults): max and average, windowed and global, 1-D and 2-D.

They hold no weights; each calls one op of :mod:`scratchnn.ops.conv`.

Shape legend: N batch, H/W height/width, L length, C channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from scratchnn import ops
from scratchnn.backend import FloatDType
from scratchnn.layers import _spatial as sp
from scratchnn.ops.conv import DataFormat, IntOrInts
from scratchnn.tensor import Tensor

_WINDOW_OPS = {
    ("max", 1): ops.max_pool1d, ("max", 2): ops.max_pool2d,
    ("avg", 1): ops.avg_pool1d, ("avg", 2): ops.avg_pool2d,
}  # fmt: skip
_GLOBAL_OPS = {
    ("max", 1): ops.global_max_pool1d, ("max", 2): ops.global_max_pool2d,
    ("avg", 1): ops.global_avg_pool1d, ("avg", 2): ops.global_avg_pool2d,
}  # fmt: skip


class _Pooling(sp.ShapeCheckedLayer):
    """A window moved over ``rank`` spatial axes; the subclasses set ``rank`` and ``kind``."""

    rank: ClassVar[int] = 2
    kind: ClassVar[str] = "max"

    def __init__(
        self,
        pool_size: IntOrInts = 2,
        strides: IntOrInts | None = None,
        padding: Literal["valid", "same"] = "valid",
        data_format: DataFormat | None = None,
        input_shape: Sequence[int] | None = None,
        trainable: bool = True,
        name: str | None = None,
        dtype: FloatDType = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        self.pool_size = sp.ints(self, pool_size, self.rank, "pool_size")
        self.strides = self.pool_size if strides is None else sp.ints(
            self, strides, self.rank, "strides")
        self.padding = sp.padding(self, padding, self.rank)
        self.data_format = sp.data_format(self, data_format)
        self.declared_input_shape = sp.declared_shape(input_shape)

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """One output sample: the pooled spatial sizes, the same channels."""
        sp.check_sample_rank(self, tuple(input_shape), self.rank, self.data_format)
        sizes = ops.spatial_output_shape(
            sp.spatial_sizes(tuple(input_shape), self.data_format), self.pool_size, self.strides,
            sp.op_padding(self.padding), op=sp.label(self),
        )
        channels = input_shape[sp.channel_axis(self.data_format)]
        return sp.with_spatial(sizes, channels, self.data_format)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """Pool each window."""
        sp.check_batch(self, x, self.rank, self.data_format)
        if tuple(x.shape[1:]) != self.input_shape:
            self.compute_output_shape(tuple(x.shape[1:]))
        return _WINDOW_OPS[self.kind, self.rank](
            x, self.pool_size, self.strides, sp.op_padding(self.padding), self.data_format
        )

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict (Keras' keys)."""
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "input_shape": sp.declared_config(self),
        }


class MaxPooling2D(_Pooling):
    """Maximum over ``pool_size`` windows (default 2x2) moved by ``strides`` (default: the pool).

    Args:
        pool_size: an int or ``(ph, pw)``.
        strides: an int, a pair, or ``None`` for ``pool_size``.
        padding: ``"valid"`` (default) or ``"same"`` (padding never wins the maximum).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Shape:
        ``(N, H, W, C) -> (N, OH, OW, C)``, ``OH = (H - ph) // sh + 1`` (``"valid"``).

    Example:
        >>> import numpy as np
        >>> image = np.arange(16.0).reshape(1, 4, 4, 1)
        >>> MaxPooling2D()(image).numpy()[0, :, :, 0].tolist()
        [[5.0, 7.0], [13.0, 15.0]]
        >>> MaxPooling2D(3, strides=1, padding="same").compute_output_shape((4, 4, 1))
        (4, 4, 1)
    """

    rank, kind = 2, "max"


class AveragePooling2D(_Pooling):
    """Mean over ``pool_size`` windows; with ``"same"`` padding only real pixels are averaged.

    Arguments and shapes as :class:`MaxPooling2D`.
    """

    rank, kind = 2, "avg"


class MaxPooling1D(_Pooling):
    """Maximum over windows of a sequence ``(N, L, C)``; arguments as MaxPooling2D, as ints."""

    rank, kind = 1, "max"


class AveragePooling1D(_Pooling):
    """Mean over windows of a sequence ``(N, L, C)``; arguments as MaxPooling2D, as ints."""

    rank, kind = 1, "avg"


class _GlobalPooling(sp.ShapeCheckedLayer):
    """Pooling over every spatial axis at once."""

    rank: ClassVar[int] = 2
    kind: ClassVar[str] = "avg"

    def __init__(
        self,
        data_format: str | None = None,
        keepdims: bool = False,
        input_shape: Sequence[int] | None = None,
        trainable: bool = True,
        name: str | None = None,
        dtype: FloatDType = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        self.data_format = sp.data_format(self, data_format)
        self.keepdims = bool(keepdims)
        self.declared_input_shape = sp.declared_shape(input_shape)

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(C,)``, or with ``keepdims`` the sample's shape with spatial sizes of 1."""
        sp.check_sample_rank(self, tuple(input_shape), self.rank, self.data_format)
        channels = input_shape[sp.channel_axis(self.data_format)]
        if not self.keepdims:
            return (channels,)
        return sp.with_spatial((1,) * self.rank, channels, self.data_format)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """Pool over the spatial axes."""
        sp.check_batch(self, x, self.rank, self.data_format)
        return _GLOBAL_OPS[self.kind, self.rank](x, self.data_format, self.keepdims)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict (Keras' keys)."""
        return {
            **super().get_config(),
            "data_format": self.data_format,
            "keepdims": self.keepdims,
            "input_shape": sp.declared_config(self),
        }


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over height and width: ``(N, H, W, C) -> (N, C)`` (``keepdims``: ``(N, 1, 1, C)``)."""

    rank, kind = 2, "avg"


class GlobalMaxPooling2D(_GlobalPooling):
    """Maximum over height and width: ``(N, H, W, C) -> (N, C)``."""

    rank, kind = 2, "max"


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the length: ``(N, L, C) -> (N, C)``."""

    rank, kind = 1, "avg"


class GlobalMaxPooling1D(_GlobalPooling):
    """Maximum over the length: ``(N, L, C) -> (N, C)``."""

    rank, kind = 1, "max"
