"""ONNX converters of the sequence layers: SimpleRNN, LSTM and GRU (ONNX's ``RNN``, ``LSTM`` and
``GRU`` operators), Bidirectional, Embedding (``Gather``) and TimeDistributed.

Layouts. scratchnn's sequences are batch-first ``(B, T, D)``; ONNX's recurrent operators take
``(T, B, D)`` (their ``layout=1`` batch-first form is not implemented by onnxruntime's CPU
kernels), so each layer is ``Transpose`` -> operator -> ``Transpose`` back. Weights move from
Keras' ``(D, G*H)`` column blocks to ONNX's ``(1, G*H, D)`` row blocks:

* LSTM: Keras' gates ``i, f, c, o`` -> ONNX's ``i, o, f, c``; ONNX's bias is ``[Wb, Rb]``, and
  scratchnn's one bias goes in ``Wb`` (``Rb`` zero: the two are only ever added);
* GRU: both orders are ``z, r, h``. ``reset_after=True`` is ONNX's ``linear_before_reset=1``,
  the bias rows ``(2, 3H)`` are ``Wb`` and ``Rb``; ``reset_after=False`` is
  ``linear_before_reset=0`` with ``Rb`` zero;
* SimpleRNN: one block.

The activations become the operator's ``activations`` (``Sigmoid``, ``Tanh``, ``Relu``; ``linear``
is ``Affine`` with alpha 1 and beta 0). ``go_backwards`` reverses the time axis before a forward
run (``Slice`` with step -1): the outputs then come in processing order, as ``predict`` returns
them. ``Bidirectional`` is its two layers, the backward sequence reversed back, merged by
``Concat``, ``Add``, ``Mul`` or their mean.

Masks cannot export: a masked step carries the states through unchanged, which the ONNX
operators cannot express (their ``sequence_lens`` only cut a tail), so ``Masking`` and
``Embedding(mask_zero=True)`` raise a ValueError naming the layer. ``return_state`` (several
outputs) and recurrent layers called with ``initial_state`` do not occur in a ``Sequential``.

    >>> from scratchnn import Sequential
    >>> from scratchnn.export import to_onnx
    >>> from scratchnn.layers import LSTM, Embedding
    >>> model = Sequential([Embedding(20, 8, input_length=5), LSTM(4, go_backwards=True)], seed=0)
    >>> [node.op_type for node in to_onnx(model).graph.node]
    ['Cast', 'Gather', 'Transpose', 'Slice', 'LSTM', 'Squeeze', 'Identity']

Shape legend: B batch, T time steps, D input features, H units, G gates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnn.export.converters import convert_layer, register_layer
from scratchnn.export.graph import GraphBuilder
from scratchnn.layers import (
    GRU,
    LSTM,
    Bidirectional,
    Embedding,
    Masking,
    SimpleRNN,
    TimeDistributed,
)

__all__: list[str] = []  # converters register themselves; nothing to import from here

ONNX_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "linear": "Affine"}
"""scratchnn's recurrent activation names -> the ONNX recurrent operators' activation names."""

LSTM_GATES: tuple[int, ...] = (0, 3, 1, 2)
"""Keras' LSTM gate blocks ``i, f, c, o`` in ONNX's order ``i, o, f, c``."""

INT64_MIN = np.iinfo(np.int64).min


def _blocks(matrix: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """Keras' ``(rows, G*H)`` gate columns as ONNX's ``(1, G*H, rows)``, gates in ``order``."""
    gates = np.split(matrix, len(order), axis=-1)  # G blocks of (rows, H)
    return np.concatenate([gates[i] for i in order], axis=-1).T[None]


def _reversed(g: GraphBuilder, x: str, axis: int, hint: str) -> str:
    """``x`` with ``axis`` read from its end: ``Slice`` from -1 down past the first, step -1."""
    starts, ends = g.constant([-1], dtype=np.int64), g.constant([INT64_MIN], dtype=np.int64)
    axes, steps = g.constant([axis], dtype=np.int64), g.constant([-1], dtype=np.int64)
    return g.node("Slice", [x, starts, ends, axes, steps], hint=hint)


def _refuse_masks(layer: Any, why: str) -> None:
    raise ValueError(
        f"Cannot export layer {layer.name!r} ({type(layer).__name__}) to ONNX: {why} Masked "
        "steps carry the recurrent states through unchanged, which ONNX's RNN, LSTM and GRU "
        "operators cannot express. Export a copy without masking (same weights) if the inputs "
        "to run carry no padding."
    )


def _recurrent(g: GraphBuilder, layer: Any, x: str) -> str:
    """One SimpleRNN, LSTM or GRU: ``(B, T, D) -> (B, H)`` or ``(B, T, H)`` (processing order)."""
    name, units = layer.name, layer.units
    if layer.return_state:
        raise ValueError(
            f"Cannot export layer {name!r} ({type(layer).__name__}) with return_state=True to "
            "ONNX: the exported graph has one output per layer. Set return_state=False."
        )
    assert layer.kernel is not None and layer.recurrent_kernel is not None
    kernel, recurrent = layer.kernel.data, layer.recurrent_kernel.data
    bias = layer.bias.data if layer.use_bias and layer.bias is not None else None
    attributes: dict[str, Any] = {"hidden_size": units}
    act = ONNX_ACTIVATIONS[layer.activation]
    gate = ONNX_ACTIVATIONS.get(layer.recurrent_activation or "", "")  # LSTM and GRU only
    order: tuple[int, ...] = (0,)
    names, op_type = [act], "RNN"
    # ONNX adds two biases, Wb (with x W) and Rb (with h R); scratchnn's one bias is Wb but for
    # the reset-after GRU, whose second row sits inside the reset gate as Rb does.
    input_bias, recurrent_bias = bias, None if bias is None else np.zeros_like(bias)
    if isinstance(layer, LSTM):  # f (gates), g (candidate), h (cell output)
        op_type, order, names = "LSTM", LSTM_GATES, [gate, act, act]
    elif isinstance(layer, GRU):  # f (gates), g (candidate)
        op_type, order, names = "GRU", (0, 1, 2), [gate, act]
        attributes["linear_before_reset"] = int(layer.reset_after)
        if bias is not None and layer.reset_after:
            input_bias, recurrent_bias = bias[0], bias[1]
    attributes["activations"] = names
    if "Affine" in names:  # alpha and beta are read in turn by the activations that take them
        attributes["activation_alpha"] = [1.0] * names.count("Affine")
        attributes["activation_beta"] = [0.0] * names.count("Affine")
    inputs = [
        g.weight(_blocks(kernel, order), f"{name}/W"),  # (1, G*H, D)
        g.weight(_blocks(recurrent, order), f"{name}/R"),  # (1, G*H, H)
    ]
    if input_bias is not None and recurrent_bias is not None:
        b = np.concatenate([_blocks(input_bias[None], order)[0, :, 0],
                            _blocks(recurrent_bias[None], order)[0, :, 0]])  # fmt: skip
        inputs.append(g.weight(b[None], f"{name}/B"))  # (1, 2*G*H)
    seq = g.node("Transpose", [x], hint=f"{name}/time_major", perm=[1, 0, 2])  # (T, B, D)
    if layer.go_backwards:
        seq = _reversed(g, seq, 0, f"{name}/reversed")
    wanted = [True, False] if layer.return_sequences else [False, True]
    y, y_h = g.node_outputs(op_type, [seq, *inputs], wanted, hint=f"{name}/{op_type.lower()}",
                            **attributes)  # fmt: skip
    if layer.return_sequences:  # Y: (T, 1, B, H) -> (B, T, H)
        y = g.node("Squeeze", [y, g.constant([1], f"{name}/direction_axis", dtype=np.int64)],
                   hint=f"{name}/sequence")  # fmt: skip
        return g.node("Transpose", [y], hint=name, perm=[1, 0, 2])
    # Y_h: (1, B, H) -> (B, H)
    return g.node("Squeeze", [y_h, g.constant([0], f"{name}/direction_axis", dtype=np.int64)],
                  hint=name)  # fmt: skip


register_layer(SimpleRNN)(_recurrent)
register_layer(LSTM)(_recurrent)
register_layer(GRU)(_recurrent)


@register_layer(Bidirectional)
def _bidirectional(g: GraphBuilder, layer: Bidirectional, x: str) -> str:
    """Both directions, the backward sequence put back in input order, merged."""
    if layer.merge_mode is None or layer.return_state:
        raise ValueError(
            f"Cannot export layer {layer.name!r} (Bidirectional) with merge_mode=None or "
            "return_state=True to ONNX: the exported graph has one output per layer."
        )
    forward = convert_layer(g, layer.forward_layer, x)
    backward = convert_layer(g, layer.backward_layer, x)
    if layer.return_sequences:  # processing order -> input order
        backward = _reversed(g, backward, 1, f"{layer.name}/backward_in_input_order")
    if layer.merge_mode == "concat":
        return g.node("Concat", [forward, backward], hint=layer.name, axis=-1)
    if layer.merge_mode == "sum":
        return g.node("Add", [forward, backward], hint=layer.name)
    if layer.merge_mode == "mul":
        return g.node("Mul", [forward, backward], hint=layer.name)
    total = g.node("Add", [forward, backward], hint=f"{layer.name}/sum")
    return g.node("Mul", [total, g.constant(0.5, f"{layer.name}/half")], hint=layer.name)


@register_layer(Embedding)
def _embedding(g: GraphBuilder, layer: Embedding, x: str) -> str:
    """``Gather`` of the table's rows: the ids arrive as the graph's floats (as ``predict``
    takes them) and are cast to int64 first."""
    if layer.mask_zero:
        _refuse_masks(layer, "mask_zero=True makes id 0 a padding step that the following "
                             "recurrent layers skip.")  # fmt: skip
    assert layer.embeddings is not None
    ids = g.node("Cast", [x], hint=f"{layer.name}/ids", to=g.onnx.TensorProto.INT64)
    table = g.weight(layer.embeddings.data, f"{layer.name}/embeddings")
    return g.node("Gather", [table, ids], hint=layer.name, axis=0)


@register_layer(Masking)
def _masking(g: GraphBuilder, layer: Masking, x: str) -> str:
    _refuse_masks(layer, "Masking marks padding steps that the following recurrent layers skip.")
    return x  # not reached


@register_layer(TimeDistributed)
def _time_distributed(g: GraphBuilder, layer: TimeDistributed, x: str) -> str:
    """The inner layer on ``(B*T, ...)``, reshaped back to ``(B, T, ...)``."""
    shape = layer.input_shape
    assert shape is not None
    steps, inner = int(shape[0]), [int(d) for d in shape[1:]]
    folded = g.constant([-1, *inner], f"{layer.name}/fold", dtype=np.int64)
    y = convert_layer(g, layer.layer, g.node("Reshape", [x, folded], hint=f"{layer.name}/fold"))
    out = [int(d) for d in layer.compute_output_shape(tuple(shape))[1:]]
    unfolded = g.constant([-1, steps, *out], f"{layer.name}/unfold", dtype=np.int64)
    return g.node("Reshape", [y, unfolded], hint=layer.name)
