"""ONNX converters of the image and sequence-window layers: convolutions, pooling, batch
normalisation, reshaping, padding, upsampling and the inference-time identities.

Between layers the graph keeps scratchnn's layout, so ``Flatten`` (and ``Dense`` on the flattened
features) read the values in the order ``predict`` does: channels-last ``(N, H, W, C)`` by
default. ONNX's ``Conv``, ``ConvTranspose``, ``MaxPool`` and ``AveragePool`` take channels-first
``(N, C, H, W)`` (``(N, C, L)`` for sequences), so a channels-last layer is written as
``Transpose`` -> operator -> ``Transpose`` back; runtimes cancel the back-to-back transposes of
consecutive layers (onnxruntime's transpose optimizer does). Channels-first layers need none.

Padding is always written as explicit ``pads`` computed by scratchnn's own rule
(:func:`scratchnn.ops.conv.spatial_padding`: for ``"same"`` the extra zero of an odd total goes
after, as TensorFlow), never as ONNX's ``auto_pad``. Average pooling excludes the padding from
each window's count (``count_include_pad=0``, Keras' rule); max pooling never picks it.

Kernels: Keras' ``(KH, KW, C, F)`` becomes ONNX's ``(F, C, KH, KW)``; a transposed convolution's
``(KH, KW, F, C)`` becomes ``(C, F, KH, KW)``; a 1-D ``(K, C, F)`` becomes ``(F, C, K)``.

    >>> from scratchnn import Sequential
    >>> from scratchnn.export import to_onnx
    >>> from scratchnn.layers import Conv2D, Flatten, MaxPooling2D
    >>> model = Sequential([Conv2D(4, 3, padding="same", input_shape=(8, 8, 1)), MaxPooling2D(),
    ...                     Flatten()], seed=0)
    >>> [node.op_type for node in to_onnx(model).graph.node]  # doctest: +NORMALIZE_WHITESPACE
    ['Transpose', 'Conv', 'Transpose', 'Transpose', 'MaxPool', 'Transpose', 'Flatten',
     'Identity']

Shape legend: N batch, H/W height/width, L length, C channels, F filters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnn.export.converters import convert_activation, register_layer
from scratchnn.export.graph import GraphBuilder
from scratchnn.layers import (
    AveragePooling1D,
    AveragePooling2D,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
    Reshape,
    UpSampling2D,
    ZeroPadding2D,
)
from scratchnn.layers import _spatial as sp
from scratchnn.ops.conv import spatial_padding

__all__: list[str] = []  # converters register themselves; nothing to import from here


def _built_shape(layer: Any) -> tuple[int, ...]:
    """One sample's shape the layer was built for (export needs a built model)."""
    shape = layer.input_shape
    assert shape is not None  # to_onnx refuses unbuilt models before converting
    return tuple(int(d) for d in shape)


def _to_channels_first(g: GraphBuilder, layer: Any, x: str, rank: int) -> str:
    """``(N, *spatial, C) -> (N, C, *spatial)`` for a channels-last layer (else ``x``)."""
    if layer.data_format == "channels_first":
        return x
    return g.node("Transpose", [x], hint=f"{layer.name}/to_nchw",
                  perm=[0, rank + 1, *range(1, rank + 1)])  # fmt: skip


def _from_channels_first(g: GraphBuilder, layer: Any, y: str, rank: int) -> str:
    """The inverse of :func:`_to_channels_first`."""
    if layer.data_format == "channels_first":
        return y
    return g.node("Transpose", [y], hint=f"{layer.name}/to_nhwc",
                  perm=[0, *range(2, rank + 2), 1])  # fmt: skip


def _onnx_pads(pads: tuple[tuple[int, int], ...]) -> list[int]:
    """``((top, bottom), (left, right))`` -> ONNX's ``[top, left, bottom, right]``."""
    return [a for a, _ in pads] + [b for _, b in pads]


# --- convolutions -------------------------------------------------------------------------------


@register_layer(Conv2D)
@register_layer(Conv1D)
def _conv(g: GraphBuilder, layer: Conv2D | Conv1D, x: str) -> str:
    """``Conv`` with explicit pads, strides and dilations; bias, then the activation."""
    rank = layer.rank
    sizes = sp.spatial_sizes(_built_shape(layer), layer.data_format)
    pads = spatial_padding(sizes, layer.kernel_size, layer.strides, sp.op_padding(layer.padding),
                           layer.dilation_rate, op=sp.label(layer))  # fmt: skip
    assert layer.kernel is not None
    # (*K, C, F) -> (F, C, *K)
    kernel = np.transpose(layer.kernel.data, (rank + 1, rank, *range(rank)))
    inputs = [_to_channels_first(g, layer, x, rank), g.weight(kernel, f"{layer.name}/kernel")]
    if layer.use_bias and layer.bias is not None:
        inputs.append(g.weight(layer.bias.data, f"{layer.name}/bias"))
    y = g.node("Conv", inputs, hint=layer.name, kernel_shape=list(layer.kernel_size),
               strides=list(layer.strides), dilations=list(layer.dilation_rate),
               pads=_onnx_pads(pads))  # fmt: skip
    return convert_activation(g, layer.activation, _from_channels_first(g, layer, y, rank),
                              layer.name)  # fmt: skip


@register_layer(Conv2DTranspose)
def _conv_transpose(g: GraphBuilder, layer: Conv2DTranspose, x: str) -> str:
    """``ConvTranspose``: the full map ``(H - 1) * s + (K - 1) * d + 1`` cropped by the pads;
    where ``"same"`` wants more than the full map (kernel smaller than the stride), the missing
    rows and columns at the end are ``output_padding``."""
    sizes = sp.spatial_sizes(_built_shape(layer), layer.data_format)
    args = (sizes, layer.kernel_size, layer.strides, sp.op_padding(layer.padding),
            layer.dilation_rate, True, sp.label(layer))  # fmt: skip
    pads = spatial_padding(*args)
    out = layer._output_sizes(sizes)
    extra = []
    for n, o, (a, b), k, s, d in zip(sizes, out, pads, layer.kernel_size, layer.strides,
                                     layer.dilation_rate, strict=True):  # fmt: skip
        extra.append(o + a + b - ((n - 1) * s + (k - 1) * d + 1))
    assert layer.kernel is not None
    kernel = np.transpose(layer.kernel.data, (3, 2, 0, 1))  # (KH, KW, F, C) -> (C, F, KH, KW)
    inputs = [_to_channels_first(g, layer, x, 2), g.weight(kernel, f"{layer.name}/kernel")]
    if layer.use_bias and layer.bias is not None:
        inputs.append(g.weight(layer.bias.data, f"{layer.name}/bias"))
    y = g.node("ConvTranspose", inputs, hint=layer.name, kernel_shape=list(layer.kernel_size),
               strides=list(layer.strides), dilations=list(layer.dilation_rate),
               pads=_onnx_pads(pads), output_padding=extra)  # fmt: skip
    return convert_activation(g, layer.activation, _from_channels_first(g, layer, y, 2),
                              layer.name)  # fmt: skip


# --- pooling ------------------------------------------------------------------------------------


@register_layer(MaxPooling2D)
@register_layer(MaxPooling1D)
@register_layer(AveragePooling2D)
@register_layer(AveragePooling1D)
def _pool(g: GraphBuilder, layer: Any, x: str) -> str:
    """``MaxPool`` / ``AveragePool`` (padding not counted) with explicit pads."""
    rank = layer.rank
    sizes = sp.spatial_sizes(_built_shape(layer), layer.data_format)
    pads = spatial_padding(sizes, layer.pool_size, layer.strides, sp.op_padding(layer.padding),
                           op=sp.label(layer))  # fmt: skip
    attributes: dict[str, Any] = {
        "kernel_shape": list(layer.pool_size), "strides": list(layer.strides),
        "pads": _onnx_pads(pads),
    }
    if layer.kind == "avg":
        attributes["count_include_pad"] = 0
    op_type = "MaxPool" if layer.kind == "max" else "AveragePool"
    y = g.node(op_type, [_to_channels_first(g, layer, x, rank)], hint=layer.name, **attributes)
    return _from_channels_first(g, layer, y, rank)


@register_layer(GlobalMaxPooling2D)
@register_layer(GlobalMaxPooling1D)
@register_layer(GlobalAveragePooling2D)
@register_layer(GlobalAveragePooling1D)
def _global_pool(g: GraphBuilder, layer: Any, x: str) -> str:
    """``ReduceMean`` / ``ReduceMax`` over the spatial axes, in place (no transpose)."""
    first = 2 if layer.data_format == "channels_first" else 1
    axes = list(range(first, first + layer.rank))
    op_type = "ReduceMean" if layer.kind == "avg" else "ReduceMax"
    return g.node(op_type, [x], hint=layer.name, axes=axes, keepdims=int(layer.keepdims))


# --- normalisation, reshaping, padding, resampling ----------------------------------------------


@register_layer(BatchNormalization)
def _batch_norm(g: GraphBuilder, layer: BatchNormalization, x: str) -> str:
    """Inference: ``(x - moving_mean) * (1 / sqrt(moving_variance + epsilon)) * gamma + beta``,
    the operations of ``predict`` in its order, broadcast along the layer's channel axis."""
    shape = _built_shape(layer)
    axis = layer._sample_axis(shape)
    bshape = tuple(n if i == axis else 1 for i, n in enumerate(shape))  # batch axis broadcast
    assert layer.moving_mean is not None and layer.moving_variance is not None
    mean, var = layer.moving_mean.data, layer.moving_variance.data
    inv = 1 / np.sqrt(var + var.dtype.type(layer.epsilon))
    y = g.node("Sub", [x, g.weight(mean.reshape(bshape), f"{layer.name}/moving_mean")],
               hint=f"{layer.name}/centered")  # fmt: skip
    y = g.node("Mul", [y, g.weight(inv.reshape(bshape), f"{layer.name}/inv_std")],
               hint=f"{layer.name}/normalized")  # fmt: skip
    if layer.gamma is not None:
        y = g.node("Mul", [y, g.weight(layer.gamma.data.reshape(bshape), f"{layer.name}/gamma")],
                   hint=f"{layer.name}/scaled")  # fmt: skip
    if layer.beta is not None:
        y = g.node("Add", [y, g.weight(layer.beta.data.reshape(bshape), f"{layer.name}/beta")],
                   hint=layer.name)  # fmt: skip
    return y


@register_layer(Reshape)
def _reshape(g: GraphBuilder, layer: Reshape, x: str) -> str:
    """``Reshape`` to ``(N, *target)`` (``-1`` resolved at export; ``0`` keeps the batch)."""
    target = layer.compute_output_shape(_built_shape(layer))
    shape = g.constant([0, *target], f"{layer.name}/shape", dtype=np.int64)
    return g.node("Reshape", [x, shape], hint=layer.name)


@register_layer(ZeroPadding2D)
def _zero_padding(g: GraphBuilder, layer: ZeroPadding2D, x: str) -> str:
    """``Pad`` with zeros (the batch axis unpadded)."""
    pairs = layer._pad_width()  # one (before, after) per axis, the batch's first
    pads = g.constant([a for a, _ in pairs] + [b for _, b in pairs], f"{layer.name}/pads",
                      dtype=np.int64)  # fmt: skip
    return g.node("Pad", [x, pads], hint=layer.name, mode="constant")


@register_layer(UpSampling2D)
def _upsampling(g: GraphBuilder, layer: UpSampling2D, x: str) -> str:
    """Nearest neighbour as ``predict`` does it: ``(N, H, W, C) -> (N, H, 1, W, 1, C)``,
    ``Expand`` to ``(N, H, sh, W, sw, C)``, ``Reshape`` to ``(N, H*sh, W*sw, C)`` (no
    interpolation rule to agree on)."""
    shape = _built_shape(layer)
    (h, w), (sh, sw) = sp.spatial_sizes(shape, layer.data_format), layer.size
    c = shape[sp.channel_axis(layer.data_format)]
    if layer.data_format == "channels_first":
        split, repeat = [0, c, h, 1, w, 1], [1, 1, 1, sh, 1, sw]
    else:
        split, repeat = [0, h, 1, w, 1, c], [1, 1, sh, 1, sw, 1]
    y = g.node("Reshape", [x, g.constant(split, f"{layer.name}/split", dtype=np.int64)],
               hint=f"{layer.name}/split")  # fmt: skip
    y = g.node("Expand", [y, g.constant(repeat, f"{layer.name}/repeat", dtype=np.int64)],
               hint=f"{layer.name}/repeat")  # fmt: skip
    merged = [0, *sp.with_spatial((h * sh, w * sw), c, layer.data_format)]
    return g.node("Reshape", [y, g.constant(merged, f"{layer.name}/shape", dtype=np.int64)],
                  hint=layer.name)  # fmt: skip
