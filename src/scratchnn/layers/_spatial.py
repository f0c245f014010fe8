"""What the image and sequence layers share: argument checks and input checks that name the layer.

Shapes in this file exclude the batch axis (``input_shape`` of one sample), as everywhere in
:mod:`scratchnn.layers`: ``(H, W, C)`` for channels-last images, ``(C, H, W)`` for channels-first,
``(L, C)`` / ``(C, L)`` for sequences.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnn.backend import FloatDType
from scratchnn.layers.base import Layer
from scratchnn.ops import conv as conv_ops
from scratchnn.tensor import Tensor

SAMPLE_LAYOUTS = {
    (1, "channels_last"): "(length, channels)",
    (1, "channels_first"): "(channels, length)",
    (2, "channels_last"): "(height, width, channels)",
    (2, "channels_first"): "(channels, height, width)",
}


def label(layer: Any) -> str:
    """``Layer 'conv2d' (Conv2D)``: how messages name a layer."""
    return f"Layer {layer.name!r} ({type(layer).__name__})"


def example_shape(rank: int, data_format: str) -> tuple[int, ...]:
    """A plausible sample shape for messages: ``(28, 28, 1)``, ``(1, 28, 28)``, ``(100, 8)``..."""
    spatial = (28, 28) if rank == 2 else (100,)
    channels = 1 if rank == 2 else 8
    return (channels, *spatial) if data_format == "channels_first" else (*spatial, channels)


def check_sample_rank(layer: Any, input_shape: tuple[int, ...], rank: int, fmt: str) -> None:
    """Raise when one sample is not ``rank`` spatial axes plus a channel axis."""
    if len(input_shape) != rank + 1:
        example = example_shape(rank, fmt)
        raise ValueError(
            f"{label(layer)} expects samples of shape {SAMPLE_LAYOUTS[rank, fmt]}, i.e. inputs "
            f"(batch, {SAMPLE_LAYOUTS[rank, fmt][1:]}; received samples of shape "
            f"{tuple(input_shape)} (inputs {(None, *input_shape)}). Reshape the data, e.g. "
            f"x.reshape(-1, {', '.join(map(str, example))}) for {example} samples"
            + (", or put a Reshape layer first." if rank == 2 else ".")
        )


def check_batch(layer: Any, x: Tensor, rank: int, fmt: str) -> None:
    """Raise when a batch ``x`` is not ``(N, *sample)`` with ``rank`` spatial axes."""
    if x.ndim != rank + 2:
        built = "" if layer.input_shape is None else (
            f" (built for {(None, *layer.input_shape)})"
        )
        example = layer.input_shape or example_shape(rank, fmt)
        raise ValueError(
            f"{label(layer)} expects a {rank + 2}-D batch (batch, "
            f"{SAMPLE_LAYOUTS[rank, fmt][1:]}{built}; received an array of shape {x.shape}. "
            f"Reshape it, e.g. x.reshape(-1, {', '.join(map(str, example))})."
        )


def channel_axis(fmt: str) -> int:
    """Index of the channel axis in one sample."""
    return 0 if fmt == "channels_first" else -1


def spatial_sizes(shape: tuple[int, ...], fmt: str) -> tuple[int, ...]:
    """The spatial sizes of one sample (batch axis excluded)."""
    return tuple(shape[1:]) if fmt == "channels_first" else tuple(shape[:-1])


def with_spatial(sizes: tuple[int, ...], channels: int, fmt: str) -> tuple[int, ...]:
    """One sample's shape from spatial sizes and a channel count.

        >>> with_spatial((28, 28), 3, "channels_last"), with_spatial((28, 28), 3, "channels_first")
        ((28, 28, 3), (3, 28, 28))
    """
    return (channels, *sizes) if fmt == "channels_first" else (*sizes, channels)


def ints(layer: Any, value: Any, n: int, name: str) -> tuple[int, ...]:
    """``value`` as ``n`` positive ints, or a ValueError naming the layer."""
    return conv_ops.check_ints(value, n, name, label(layer))


def padding(layer: Any, value: Any, n: int, causal: bool = False) -> Any:
    """A checked padding: a name, or ``n`` (before, after) pairs as lists (JSON-friendly)."""
    spec = conv_ops.check_padding(value, n, label(layer), causal=causal)
    return spec if isinstance(spec, str) else [list(pair) for pair in spec]


def op_padding(padding: Any) -> Any:
    """A layer's stored padding (a name or lists of pairs) as the ops take it."""
    return padding if isinstance(padding, str) else tuple(tuple(p) for p in padding)


def data_format(layer: Any, value: Any) -> conv_ops.DataFormat:
    """``"channels_last"`` (for ``None``) or ``"channels_first"``, or a ValueError."""
    return conv_ops.check_data_format(value, label(layer))


def declared_shape(value: Any) -> tuple[int, ...] | None:
    """An ``input_shape=`` argument as a tuple (``None`` stays ``None``)."""
    if value is None:
        return None
    try:
        return tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"input_shape must be a tuple of positive integers; received {value!r}."
        ) from None


def declared_config(layer: Any) -> list[int] | None:
    """The ``input_shape`` entry of a layer's config: its declared input shape, or ``None``."""
    declared = getattr(layer, "declared_input_shape", None)
    return None if declared is None else list(declared)


class ShapeCheckedLayer(Layer):
    """A layer without weights whose ``build`` checks the input shape: building runs
    :meth:`compute_output_shape`, which raises a ValueError naming the layer for a shape it
    cannot take (so a model reports it when it is built, not at the first batch)."""

    def build(
        self, input_shape: tuple[int, ...], rng: np.random.Generator | None = None,
        dtype: FloatDType = None,
    ) -> None:
        """Check ``input_shape`` (see :meth:`compute_output_shape`), then record it."""
        self.compute_output_shape(tuple(input_shape))
        super().build(input_shape, rng, dtype)
