"""Layers that change the shape of samples (Keras names): Reshape, UpSampling2D, ZeroPadding2D.

They hold no weights. Shape legend: N batch, H/W height/width, C channels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from scratchnn import ops
from scratchnn.backend import FloatDType
from scratchnn.layers import _spatial as sp
from scratchnn.ops.conv import DataFormat, IntOrInts
from scratchnn.tensor import Tensor


class Reshape(sp.ShapeCheckedLayer):
    """Reshape each sample to ``target_shape`` (one entry may be -1: inferred).

    Args:
        target_shape: the new shape of one sample, e.g. ``(28, 28, 1)`` for rows of 784 pixels.
        input_shape: one sample's shape, for a first layer (e.g. ``(784,)``).

    Shape:
        ``(N, *input_shape) -> (N, *target_shape)``; the sizes must hold as many values.

    Example:
        >>> import numpy as np
        >>> Reshape((2, 3))(np.zeros((4, 6))).shape
        (4, 2, 3)
    """

    def __init__(
        self, target_shape: Sequence[int], input_shape: Sequence[int] | None = None,
        trainable: bool = True, name: str | None = None, dtype: FloatDType = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        try:
            dims = tuple(int(d) for d in target_shape)
            ok = all(d >= 1 or d == -1 for d in dims) and dims.count(-1) <= 1 and len(dims) > 0
        except (TypeError, ValueError):
            dims, ok = (), False
        if not ok:
            raise ValueError(
                f"{sp.label(self)}: target_shape must be a tuple of positive integers with at "
                f"most one -1 (inferred), e.g. (28, 28, 1); received {target_shape!r}."
            )
        self.target_shape = dims
        self.declared_input_shape = sp.declared_shape(input_shape)

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``target_shape`` with its -1 resolved; a ValueError when the sizes disagree."""
        size = math.prod(input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape and size % known == 0:
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if -1 not in self.target_shape and known == size:
            return self.target_shape
        raise ValueError(
            f"{sp.label(self)} cannot reshape samples of shape {tuple(input_shape)} ({size} "
            f"values) into {self.target_shape}; the target must hold the same number of values."
        )

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """``x.reshape(N, *target_shape)``."""
        target = self.compute_output_shape(tuple(x.shape[1:]))
        return ops.reshape(x, (x.shape[0], *target))

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict."""
        return {
            **super().get_config(),
            "target_shape": list(self.target_shape),
            "input_shape": sp.declared_config(self),
        }


class UpSampling2D(sp.ShapeCheckedLayer):
    """Repeat each pixel ``size`` times along height and width (nearest neighbour).

    Args:
        size: an int or ``(sh, sw)`` (default 2).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        interpolation: ``"nearest"`` (the only one implemented).

    Shape:
        ``(N, H, W, C) -> (N, H * sh, W * sw, C)``.
    """

    def __init__(
        self, size: IntOrInts = 2, data_format: DataFormat | None = None,
        interpolation: Literal["nearest"] = "nearest",
        trainable: bool = True, name: str | None = None, dtype: FloatDType = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        self.size = sp.ints(self, size, 2, "size")
        self.data_format = sp.data_format(self, data_format)
        if interpolation != "nearest":
            raise ValueError(
                f"{sp.label(self)}: interpolation must be 'nearest' (the only one implemented); "
                f"received {interpolation!r}."
            )
        self.interpolation = interpolation

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Height and width multiplied by ``size``."""
        sp.check_sample_rank(self, tuple(input_shape), 2, self.data_format)
        sizes = sp.spatial_sizes(tuple(input_shape), self.data_format)
        channels = input_shape[sp.channel_axis(self.data_format)]
        return sp.with_spatial(
            tuple(n * s for n, s in zip(sizes, self.size, strict=True)), channels,
            self.data_format,
        )

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """Nearest-neighbour upsampling."""
        sp.check_batch(self, x, 2, self.data_format)
        return ops.upsample2d(x, self.size, self.data_format)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict (Keras' keys)."""
        return {
            **super().get_config(),
            "size": list(self.size),
            "data_format": self.data_format,
            "interpolation": self.interpolation,
        }


class ZeroPadding2D(sp.ShapeCheckedLayer):
    """Add rows and columns of zeros around each image.

    Args:
        padding: an int (all four sides), ``(ph, pw)`` (top and bottom, left and right) or
            ``((top, bottom), (left, right))`` (default 1).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Shape:
        ``(N, H, W, C) -> (N, H + top + bottom, W + left + right, C)``.
    """

    def __init__(
        self, padding: int | Sequence[int] | Sequence[tuple[int, int]] = 1,
        data_format: DataFormat | None = None, trainable: bool = True,
        name: str | None = None, dtype: FloatDType = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        spec = sp.padding(self, padding, 2)
        if isinstance(spec, str):
            raise ValueError(
                f"{sp.label(self)}: padding must be amounts of zeros (an int, (ph, pw) or "
                f"((top, bottom), (left, right))); received {padding!r}."
            )
        self.padding = spec
        self.data_format = sp.data_format(self, data_format)

    def _pad_width(self) -> list[tuple[int, int]]:
        """One (before, after) pair per axis of a batch."""
        spatial = [tuple(p) for p in self.padding]
        if self.data_format == "channels_first":
            return [(0, 0), (0, 0), *spatial]
        return [(0, 0), *spatial, (0, 0)]

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The sample's shape with the padding added to height and width."""
        sp.check_sample_rank(self, tuple(input_shape), 2, self.data_format)
        return tuple(n + a + b for n, (a, b) in zip(input_shape, self._pad_width()[1:],
                                                    strict=True))

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """Pad with zeros."""
        sp.check_batch(self, x, 2, self.data_format)
        return ops.pad(x, self._pad_width())

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict (Keras' keys)."""
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}
