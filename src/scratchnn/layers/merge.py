"""Layers that merge several inputs into one (Keras names): Add, Subtract, Multiply, Average,
Maximum, Minimum, Concatenate.

They take a list of tensors, in functional graphs mostly::

    >>> from scratchnn import Model
    >>> from scratchnn.layers import Concatenate, Dense, Input
    >>> a, b = Input((3,)), Input((2,))
    >>> merged = Concatenate()([Dense(4)(a), b])
    >>> Model(inputs=[a, b], outputs=merged, seed=0).output_shape
    (6,)

Shapes exclude the batch axis. Element-wise merges need equal shapes (or shapes that broadcast).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import reduce
from typing import Any

from scratchnn import ops
from scratchnn.backend import FloatDType
from scratchnn.layers.base import Layer
from scratchnn.tensor import Tensor


class _Merge(Layer):
    """Base of the merge layers: checks the list of inputs, then folds them with one op."""

    _minimum_inputs = 2

    def _check(self, shapes: Any) -> list[tuple[int, ...]]:
        if not isinstance(shapes, (list, tuple)) or not shapes or not isinstance(
            shapes[0], (list, tuple)
        ):
            raise ValueError(
                f"Layer {self.name!r} ({type(self).__name__}) merges a list of inputs; received "
                f"one input of shape {shapes!r}. Call it on a list, e.g. {type(self).__name__}()"
                "([a, b])."
            )
        shapes = [tuple(s) for s in shapes]
        if len(shapes) < self._minimum_inputs:
            raise ValueError(
                f"Layer {self.name!r} ({type(self).__name__}) needs at least "
                f"{self._minimum_inputs} inputs; received {len(shapes)}."
            )
        return shapes

    def build(self, input_shape: Any, rng: Any = None, dtype: FloatDType = None) -> None:
        """Check the input shapes (no weights)."""
        self.compute_output_shape(input_shape)
        super().build(self._check(input_shape)[0], rng, dtype)
        self.input_shape = None  # several inputs: no single input shape

    def call(self, x: Sequence[Tensor], training: bool = False) -> Tensor:
        """Merge the list ``x``."""
        return reduce(self._fold, x)

    _fold: Callable[[Any, Any], Tensor]


class _ElementWise(_Merge):
    def compute_output_shape(self, input_shape: Any) -> tuple[int, ...]:
        """The shape the inputs broadcast to."""
        shapes = self._check(input_shape)
        width = max(len(s) for s in shapes)
        padded = [(1,) * (width - len(s)) + s for s in shapes]
        out = []
        for dims in zip(*padded, strict=True):
            sizes = {d for d in dims if d != 1}
            if len(sizes) > 1:
                raise ValueError(
                    f"Layer {self.name!r} ({type(self).__name__}) needs inputs of one shape; "
                    f"received shapes {[(None, *s) for s in shapes]}."
                )
            out.append(sizes.pop() if sizes else 1)
        return tuple(out)


class Add(_ElementWise):
    """Element-wise sum of its inputs."""

    _fold = staticmethod(ops.add)


class Subtract(_ElementWise):
    """The first input minus the second (exactly two inputs)."""

    _fold = staticmethod(ops.sub)

    def _check(self, shapes: Any) -> list[tuple[int, ...]]:
        checked = super()._check(shapes)
        if len(checked) != 2:
            raise ValueError(
                f"Layer {self.name!r} (Subtract) takes exactly 2 inputs; received {len(checked)}."
            )
        return checked


class Multiply(_ElementWise):
    """Element-wise product of its inputs."""

    _fold = staticmethod(ops.mul)


class Maximum(_ElementWise):
    """Element-wise maximum of its inputs."""

    _fold = staticmethod(ops.maximum)


class Minimum(_ElementWise):
    """Element-wise minimum of its inputs."""

    _fold = staticmethod(ops.minimum)


class Average(_ElementWise):
    """Element-wise mean of its inputs."""

    def call(self, x: Sequence[Tensor], training: bool = False) -> Tensor:
        """The mean of the list ``x``."""
        return ops.div(reduce(ops.add, x), len(x))


class Concatenate(_Merge):
    """Joins its inputs along ``axis`` (default the last, the feature axis).

    Args:
        axis: the axis of one sample's shape to join along (negative counts from the end; the
            batch axis cannot be joined).
    """

    _minimum_inputs = 1

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int) or axis == 0:
            raise ValueError(
                f"Concatenate: axis must be a non-zero integer (axis 0 is the batch axis); "
                f"received axis={axis!r}."
            )
        self.axis = axis

    def _sample_axis(self, rank: int) -> int:
        """The axis within one sample's shape (``axis`` counts the batch axis as 0)."""
        return self.axis - 1 if self.axis > 0 else rank + self.axis

    def compute_output_shape(self, input_shape: Any) -> tuple[int, ...]:
        """The inputs' common shape with the joined axis summed."""
        shapes = self._check(input_shape)
        rank = len(shapes[0])
        ax = self._sample_axis(rank)
        if not 0 <= ax < rank or any(len(s) != rank for s in shapes) or any(
            s[:ax] + s[ax + 1:] != shapes[0][:ax] + shapes[0][ax + 1:] for s in shapes
        ):
            raise ValueError(
                f"Layer {self.name!r} (Concatenate, axis={self.axis}) needs inputs whose shapes "
                f"agree except along that axis; received {[(None, *s) for s in shapes]}."
            )
        out = list(shapes[0])
        out[ax] = sum(s[ax] for s in shapes)
        return tuple(out)

    def call(self, x: Sequence[Tensor], training: bool = False) -> Tensor:
        """Join the list ``x``."""
        return ops.concatenate(list(x), axis=self.axis)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict."""
        return {**super().get_config(), "axis": self.axis}
