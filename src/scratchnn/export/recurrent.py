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

Masks (``Embedding(mask_zero=True)``: ``ids != 0``; ``Masking``: steps with a feature other than
``mask_value``) travel beside the values as a ``(B, T)`` boolean graph value, handed along as
``Sequential`` does (:func:`~scratchnn.export.converters.convert_chain`). A masked step carries
the states through unchanged, so a recurrent layer that receives a mask runs only the real steps:
each sequence's real steps are moved to its front in order (``TopK`` of the keys ``t`` for real
steps and ``T + t`` for masked ones, then ``GatherElements``) and the operator's
``sequence_lens`` stops each sequence after its own count. With ``return_sequences`` the packed
outputs go back to their steps: at step ``t`` the output of the last real step so far (``CumSum``
of the mask - 1, then ``GatherElements``), zeros before the first real step, and zeros at
masked steps with ``zero_output_for_mask`` (what ``Bidirectional`` sets); a sequence with no real
step outputs the zero initial state. ``return_state`` (several outputs) is refused; recurrent
layers called with ``initial_state`` do not occur in a ``Sequential``.

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

from scratchnn.export.converters import convert_layer, register_layer, register_mask
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
    masked = None
    if g.mask is not None:  # (B, T) -> (T, B), in processing order
        mask = g.node("Transpose", [g.mask], hint=f"{name}/mask", perm=[1, 0])
        mask = _reversed(g, mask, 0, f"{name}/mask_reversed") if layer.go_backwards else mask
        seq, lengths, masked = _packed(g, name, seq, mask, int(layer.input_shape[0]))
        inputs += [""] * (3 - len(inputs)) + [lengths]  # B may be absent; sequence_lens
    wanted = [True, False] if layer.return_sequences else [False, True]
    y, y_h = g.node_outputs(op_type, [seq, *inputs], wanted, hint=f"{name}/{op_type.lower()}",
                            **attributes)  # fmt: skip
    if layer.return_sequences:  # Y: (T, 1, B, H) -> (B, T, H)
        y = g.node("Squeeze", [y, g.constant([1], f"{name}/direction_axis", dtype=np.int64)],
                   hint=f"{name}/sequence")  # fmt: skip
        if masked is not None:
            y = _unpacked(g, name, y, masked, layer.zero_output_for_mask)
        return g.node("Transpose", [y], hint=name, perm=[1, 0, 2])
    # Y_h: (1, B, H) -> (B, H)
    y = g.node("Squeeze", [y_h, g.constant([0], f"{name}/direction_axis", dtype=np.int64)],
               hint=name if masked is None else f"{name}/final")  # fmt: skip
    if masked is None:
        return y
    # No real step: the zero initial state; zero_output_for_mask: zero after a masked last step.
    mask, lengths = masked
    if layer.zero_output_for_mask:
        keep = g.node("Gather", [mask, g.constant(-1, dtype=np.int64)], axis=0)  # (B,)
    else:
        keep = g.node("Greater", [lengths, g.constant(0, dtype=np.int32)])
    keep = g.node("Unsqueeze", [keep, g.constant([1], dtype=np.int64)])  # (B, 1)
    return g.node("Where", [keep, y, g.constant(0.0)], hint=name)


def _packed(
    g: GraphBuilder, name: str, seq: str, mask: str, t: int
) -> tuple[str, str, tuple[str, str]]:
    """Masked steps out of the way: each sequence's real steps moved to its front, in order.

    A masked step carries the states through unchanged, so running the real steps alone (ONNX's
    ``sequence_lens`` stops each sequence after its own) gives the same states. Returns the
    packed ``(T, B, D)`` sequence, the lengths as ``sequence_lens`` wants them (int32, at least 1:
    onnxruntime refuses 0; such rows are zeroed after) and ``(mask, lengths)`` for the outputs.
    """
    steps = g.constant(np.arange(t)[:, None], dtype=np.int64)  # (T, 1)
    count = g.constant(t, dtype=np.int64)
    # Sort keys: real step t -> t, masked step t -> T + t; their order puts real steps first.
    keys = g.node("Where", [mask, steps, g.node("Add", [steps, count])], hint=f"{name}/keys")
    k = g.constant([t], dtype=np.int64)
    _, order = g.node_outputs("TopK", [keys, k], [True, True], hint=f"{name}/order", axis=0,
                              largest=0, sorted=1)  # fmt: skip
    packed = _steps_at(g, seq, order, f"{name}/packed")
    lengths = g.node("ReduceSum", [g.node("Cast", [mask], to=g.onnx.TensorProto.INT32),
                                   g.constant([0], dtype=np.int64)], keepdims=0)  # fmt: skip
    at_least_one = g.node("Max", [lengths, g.constant(1, dtype=np.int32)], hint=f"{name}/lens")
    return packed, at_least_one, (mask, lengths)


def _steps_at(g: GraphBuilder, values: str, index: str, hint: str) -> str:
    """``out[t, b] = values[index[t, b], b]`` for time-major ``values`` ``(T, B, F)`` and an
    ``index`` ``(T, B)``: ``GatherElements`` on the time axis, the index spread over ``F``."""
    spread = g.node("Expand", [g.node("Unsqueeze", [index, g.constant([2], dtype=np.int64)]),
                               g.node("Shape", [values])])  # fmt: skip
    return g.node("GatherElements", [values, spread], hint=hint, axis=0)


def _unpacked(g: GraphBuilder, name: str, y: str, masked: tuple[str, str],
              zero_output: bool) -> str:  # fmt: skip
    """Packed outputs ``(T, B, H)`` back at their steps: at step ``t`` the output of the last
    real step so far (zeros before the first), or zeros at masked steps with
    ``zero_output``."""
    mask, _ = masked
    done = g.node("CumSum", [g.node("Cast", [mask], to=g.onnx.TensorProto.INT64),
                             g.constant(0, dtype=np.int64)], hint=f"{name}/done")  # fmt: skip
    last = g.node("Sub", [done, g.constant(1, dtype=np.int64)])  # packed index, -1: none yet
    out = _steps_at(g, y, g.node("Max", [last, g.constant(0, dtype=np.int64)]), f"{name}/steps")
    keep = mask if zero_output else g.node("Greater", [done, g.constant(0, dtype=np.int64)])
    keep = g.node("Unsqueeze", [keep, g.constant([2], dtype=np.int64)])  # (T, B, 1)
    return g.node("Where", [keep, out, g.constant(0.0)], hint=f"{name}/unpacked")


def _sequence_mask(g: GraphBuilder, layer: Any, x: str, incoming: str | None) -> str | None:
    """Recurrent layers pass the mask on with every step returned, else none."""
    return incoming if layer.return_sequences else None


for _cls in (SimpleRNN, LSTM, GRU, Bidirectional):
    register_mask(_cls)(_sequence_mask)
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
    assert layer.embeddings is not None
    ids = g.node("Cast", [x], hint=f"{layer.name}/ids", to=g.onnx.TensorProto.INT64)
    table = g.weight(layer.embeddings.data, f"{layer.name}/embeddings")
    return g.node("Gather", [table, ids], hint=layer.name, axis=0)


@register_mask(Embedding)
def _embedding_mask(g: GraphBuilder, layer: Embedding, x: str, incoming: str | None) -> str | None:
    """With ``mask_zero``: ``ids != 0`` ``(B, T)``."""
    if not layer.mask_zero:
        return None
    return g.node("Not", [g.node("Equal", [x, g.constant(0.0)])], hint=f"{layer.name}/mask")


def _steps_kept(g: GraphBuilder, layer: Masking, x: str) -> str:
    """``(B, T)``: whether a step has a feature other than ``mask_value``."""
    differs = g.node("Not", [g.node("Equal", [x, g.constant(layer.mask_value)])])
    as_numbers = g.node("Cast", [differs], to=g.elem_type)
    return g.node("ReduceMax", [as_numbers], hint=f"{layer.name}/kept", axes=[-1], keepdims=0)


@register_layer(Masking)
def _masking(g: GraphBuilder, layer: Masking, x: str) -> str:
    """``x`` with the masked steps zeroed."""
    kept = g.node("Unsqueeze", [_steps_kept(g, layer, x), g.constant([2], dtype=np.int64)])
    return g.node("Mul", [x, kept], hint=layer.name)


@register_mask(Masking)
def _masking_mask(g: GraphBuilder, layer: Masking, x: str, incoming: str | None) -> str:
    """Steps with at least one feature other than ``mask_value``."""
    return g.node("Cast", [_steps_kept(g, layer, x)], hint=f"{layer.name}/mask",
                  to=g.onnx.TensorProto.BOOL)  # fmt: skip


@register_layer(TimeDistributed)
def _time_distributed(g: GraphBuilder, layer: TimeDistributed, x: str) -> str:
    """The inner layer on ``(B*T, ...)``, reshaped back to ``(B, T, ...)``."""
    shape = layer.input_shape
    assert shape is not None
    steps, inner = int(shape[0]), [int(d) for d in shape[1:]]
    folded = g.constant([-1, *inner], f"{layer.name}/fold", dtype=np.int64)
    incoming, g.mask = g.mask, None  # the inner layer sees single steps, never the mask
    y = convert_layer(g, layer.layer, g.node("Reshape", [x, folded], hint=f"{layer.name}/fold"))
    g.mask = incoming
    out = [int(d) for d in layer.compute_output_shape(tuple(shape))[1:]]
    unfolded = g.constant([-1, steps, *out], f"{layer.name}/unfold", dtype=np.int64)
    return g.node("Reshape", [y, unfolded], hint=layer.name)
