"""Recurrent ops: a whole time loop in one node, backpropagation through time in its backward.

:func:`simple_rnn`, :func:`lstm` and :func:`gru` each run every time step of a batch of sequences
inside one op and return one graph node (plus cheap views for the final states), like the fused
cells of the big frameworks: the graph does not grow with the sequence length. Their local
backward walks the steps in reverse (backpropagation through time) and returns the gradients of
the input sequence, the three weights and the initial states. :func:`embedding` looks rows up in a
table (the gradient is a scatter-add). Everything runs in the input's dtype (float32 or float64).

Shape legend: B batch, T time steps, D input features, H units, G gates (4 LSTM, 3 GRU, 1 RNN).

**Layouts (Keras').** ``kernel`` is ``(D, G*H)``, ``recurrent_kernel`` ``(H, G*H)``; the gates are
blocks of ``H`` columns, in this order:

* LSTM ``i, f, c, o`` (input, forget, cell candidate, output), ``bias`` ``(4H,)``::

      i = σ(x W_i + h U_i + b_i)   f = σ(x W_f + h U_f + b_f)   o = σ(x W_o + h U_o + b_o)
      c' = f * c + i * tanh(x W_c + h U_c + b_c)                  h' = o * tanh(c')

* GRU ``z, r, h`` (update, reset, candidate). ``reset_after=True`` (Keras' default, the cuDNN and
  PyTorch formula), ``bias`` ``(2, 3H)``: row 0 is added to ``x W``, row 1 to ``h U``::

      z = σ(x W_z + b0_z + h U_z + b1_z)   r = σ(x W_r + b0_r + h U_r + b1_r)
      ĥ = tanh(x W_h + b0_h + r * (h U_h + b1_h))                h' = z * h + (1 - z) * ĥ

  ``reset_after=False`` (the original GRU), ``bias`` ``(3H,)``: ``ĥ = tanh(x W_h + b_h + (r * h)
  U_h)``.
* SimpleRNN, one block: ``h' = tanh(x W + h U + b)``.

σ and tanh are the defaults of ``recurrent_activation`` and ``activation``; any of
:data:`RECURRENT_ACTIVATIONS` may replace them.

**PyTorch's layouts**, for moving weights across (the oracle tests do): ``nn.LSTM`` stores
``weight_ih`` ``(4H, D)`` and ``weight_hh`` ``(4H, H)`` with row blocks ``i, f, g, o`` (``g`` is
Keras' ``c``: the same order), and two biases that are only ever added, so ``kernel =
weight_ih.T``, ``recurrent_kernel = weight_hh.T``, ``bias = bias_ih + bias_hh``. ``nn.GRU`` orders
its row blocks ``r, z, n`` (reset, update, new) against Keras' ``z, r, h``: ``kernel =
concat([W_z, W_r, W_n]).T`` from the blocks of ``weight_ih`` (likewise ``recurrent_kernel``), and
``bias = [bias_ih, bias_hh]`` with the same reordering: PyTorch's GRU is ``reset_after=True``.
``nn.RNN``: ``kernel = weight_ih.T``, ``recurrent_kernel = weight_hh.T``, ``bias = bias_ih +
bias_hh``. PyTorch's initial states carry a leading ``(layers * directions)`` axis.

**Masks** (``mask``: ``(B, T)`` booleans, ``True`` where a step is real): at a masked step the
states are carried through unchanged, and the output repeats the previous output (Keras' default)
or is zero (``zero_output_for_mask=True``, what ``Bidirectional`` uses). **go_backwards** reads
the sequence from its last step to its first and returns the outputs in that (processing) order.
**Recurrent dropout**: ``recurrent_dropout_mask`` ``(B, H)`` multiplies the previous state where
it enters the recurrent product (every gate, every step), never the carried state.

Speed (the LSTM is the one the character model runs): ``x W + b`` for all steps is one matrix
product before the loop; each step is one ``(B, H) @ (H, G*H)`` product into a preallocated
buffer, and the gate activations run in place on that buffer, which the backward then overwrites
with the gates' pre-activation gradients. The backward mirrors it: one ``(B, G*H) @ (G*H, H)``
product per step, and the weight gradients as three products over all steps at the end.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeAlias

import numpy as np

from scratchnn.ops.core import getitem
from scratchnn.tensor import Array, Gradients, Tensor, TensorLike, is_grad_enabled

# ----------------------------------------------------------------------- activations (in place)
# Every recurrent activation is applied in place to a slice of a gate buffer, and its derivative
# is taken from its output, so the backward needs no pre-activation values. A derivative
# function ``d(g, y, out)`` writes ``g * f'(y)`` into ``out``; ``out`` may be ``y`` (not ``g``),
# and ``g`` may be overwritten.


def _sigmoid_(z: Any) -> None:
    # 1 / (1 + e^-z) written as (1 + tanh(z / 2)) / 2: four passes, no overflow, no temporary.
    z *= 0.5
    np.tanh(z, out=z)
    z *= 0.5
    z += 0.5


def _tanh_(z: Any) -> None:
    np.tanh(z, out=z)


def _relu_(z: Any) -> None:
    np.maximum(z, 0, out=z)


def _linear_(z: Any) -> None:
    pass


def _d_sigmoid(g: Any, y: Any, out: Any) -> Any:
    g *= y
    return np.subtract(g, np.multiply(g, y, out=out), out=out)  # g y - g y^2


def _d_tanh(g: Any, y: Any, out: Any) -> Any:
    np.multiply(y, y, out=out)
    np.subtract(1, out, out=out)
    out *= g
    return out


def _d_relu(g: Any, y: Any, out: Any) -> Any:
    np.multiply(g, y > 0, out=out)
    return out


def _d_linear(g: Any, y: Any, out: Any) -> Any:
    np.copyto(out, g)
    return out


_ACTIVATIONS: dict[str, tuple[Callable[[Any], None], Callable[[Any, Any, Any], Any]]] = {
    "sigmoid": (_sigmoid_, _d_sigmoid),
    "tanh": (_tanh_, _d_tanh),
    "relu": (_relu_, _d_relu),
    "linear": (_linear_, _d_linear),
}
RECURRENT_ACTIVATIONS = tuple(_ACTIVATIONS)
"""Names the recurrent ops accept for ``activation`` and ``recurrent_activation``."""

RecurrentActivation: TypeAlias = Literal["sigmoid", "tanh", "relu", "linear"]
"""A name of :data:`RECURRENT_ACTIVATIONS`."""

InitialState: TypeAlias = "TensorLike | Sequence[TensorLike] | None"
"""``None`` (zeros), or the initial states (``[h]``, ``[h, c]`` for an LSTM), each ``(B, H)``."""


def _activation(name: str, label: str, op: str) -> tuple[Any, Any]:
    if name not in _ACTIVATIONS:
        raise ValueError(
            f"{op}: {label} must be one of {', '.join(RECURRENT_ACTIVATIONS)}; received "
            f"{name!r}. Their derivatives are taken from their outputs inside the time loop."
        )
    return _ACTIVATIONS[name]


# ------------------------------------------------------------------------------- shared plumbing


def _data(value: Any) -> Any:
    return value.data if isinstance(value, Tensor) else value


def _check_inputs(
    op: str,
    x: Tensor,
    kernel: Tensor,
    recurrent_kernel: Tensor,
    gates: int,
    states: Sequence[Tensor | None],
    mask: Any,
    recurrent_dropout_mask: Any,
) -> tuple[int, int, int, int]:
    """``(B, T, D, H)`` after checking every shape; ValueError naming the mismatch."""
    if x.ndim != 3:
        raise ValueError(
            f"{op}: x must be a batch of sequences of shape (batch, timesteps, features); "
            f"received shape {x.shape}. Add a features axis with x[..., None] for one value per "
            "step, or an Embedding layer for token indices."
        )
    b, t, d = x.shape
    if kernel.dtype != x.dtype or recurrent_kernel.dtype != x.dtype:
        raise ValueError(
            f"{op}: x ({x.dtype}) and the kernels ({kernel.dtype}, {recurrent_kernel.dtype}) "
            "must share one dtype; cast x first (ops.cast(x, kernel.dtype))."
        )
    if t == 0:
        raise ValueError(f"{op}: the sequences have no time steps (shape {x.shape}).")
    if kernel.ndim != 2 or kernel.shape[0] != d or kernel.shape[1] % gates:
        raise ValueError(
            f"{op}: kernel must have shape ({d}, {gates}*units) for inputs with {d} features; "
            f"received {kernel.shape}."
        )
    h = kernel.shape[1] // gates
    if recurrent_kernel.shape != (h, gates * h):
        raise ValueError(
            f"{op}: recurrent_kernel must have shape ({h}, {gates * h}); received "
            f"{recurrent_kernel.shape}."
        )
    for state in states:
        if state is not None and state.shape != (b, h):
            raise ValueError(
                f"{op}: each initial state must have shape (batch, units) = ({b}, {h}); received "
                f"{state.shape}."
            )
    if mask is not None and np.shape(_data(mask)) != (b, t):
        raise ValueError(
            f"{op}: mask must have shape (batch, timesteps) = ({b}, {t}); received "
            f"{np.shape(_data(mask))}."
        )
    if recurrent_dropout_mask is not None and np.shape(recurrent_dropout_mask) != (b, h):
        raise ValueError(
            f"{op}: recurrent_dropout_mask must have shape (batch, units) = ({b}, {h}); received "
            f"{np.shape(recurrent_dropout_mask)}."
        )
    return b, t, d, h


def _time_major(x: Any, go_backwards: bool) -> Any:
    """``(B, T, ...)`` -> a contiguous ``(T, B, ...)`` copy in processing order."""
    tm = np.swapaxes(x, 0, 1)
    return np.ascontiguousarray(tm[::-1] if go_backwards else tm)


class _Steps:
    """What one recurrent op needs to run its loop and its backward (no graph is kept here)."""

    def __init__(self, x: Tensor, kernel: Tensor, bias_in: Any, mask: Any, rmask: Any,
                 go_backwards: bool, zero_output: bool) -> None:
        dtype = x.dtype
        self.go_backwards = go_backwards
        b, t, d = x.shape
        w = kernel.data
        if bias_in is None:
            self.x_tm = _time_major(x.data, go_backwards)  # (T, B, D)
        else:
            # [x, 1] @ [W; b]: the bias rides in the product (one pass over (T*B, G*H) fewer, in
            # the forward and for the bias gradient)
            self.x_tm = np.empty((t, b, d + 1), dtype=dtype)  # (T, B, D + 1)
            tm = np.swapaxes(x.data, 0, 1)
            self.x_tm[..., :d] = tm[::-1] if go_backwards else tm
            self.x_tm[..., d] = 1
            w = np.concatenate([w, bias_in[None, :]])  # (D + 1, G*H)
        xw = self.x_tm.reshape(t * b, -1) @ w  # (T*B, D [+ 1]) @ (D [+ 1], G*H) -> (T*B, G*H)
        self.xw = xw.reshape(t, b, -1)  # (T, B, G*H): x W + b, later the gates, then their grads
        self.features = d
        # Any, not Array | None: the loops test `mask is not None` once and index `keep` after it.
        self.mask: Any = None
        if mask is not None:  # (T, B, 1) booleans in processing order
            self.mask = _time_major(np.asarray(_data(mask), dtype=bool), go_backwards)[:, :, None]
        self.keep: Any = None if self.mask is None else ~self.mask
        self.rmask: Any = None if rmask is None else np.asarray(rmask, dtype=dtype)  # (B, H)
        self.zero_output = bool(zero_output) and self.mask is not None

    def recurrent_input(self, h: Any, out: Any) -> Any:
        """The previous state as the recurrent product sees it (times the dropout mask)."""
        if self.rmask is None:
            return h
        return np.multiply(h, self.rmask, out=out)

    def carry(self, t: int, new: Any, previous: Any) -> None:
        """At masked steps, ``new`` takes the previous state's values."""
        if self.mask is not None:
            np.copyto(new, previous, where=self.keep[t])

    def outputs(self, hs: Any) -> Any:
        """``(T, B, H)`` outputs from the states ``hs`` ``(T+1, B, H)``."""
        if self.zero_output:
            return hs[1:] * self.mask
        return hs[1:]

    def split_gradient(self, g: Any) -> Any:
        """Per-step output gradient, ``(B, H)`` or ``None``: ``g`` is ``(B, T, H)`` or ``None``."""
        zero, mask = self.zero_output, self.mask

        def at(t: int, dh: Any) -> Any:
            """Gradient on the new state of step ``t`` (``dh``: the carried one, updated)."""
            go = None if g is None else g[:, t]
            if zero:
                # outputs are new * mask: they reach the new state only where the step is real.
                new = dh if go is None else dh + go
                new = new * mask[t]
            else:
                if go is not None:
                    dh += go
                new = dh if mask is None else dh * mask[t]
            return new

        return at

    def input_gradients(self, dz: Any, kernel: Tensor, x: Tensor, need_x: bool,
                        need_w: bool, need_b: bool) -> tuple[Any, Any, Any]:
        """``dx``, ``dW``, ``db`` from the pre-activation gradients ``dz`` ``(T, B, G*H)``."""
        t, b, gh = dz.shape
        flat = dz.reshape(t * b, gh)
        dx = dw = db = None
        if need_w or need_b:
            # (D [+ 1], T*B) @ (T*B, G*H): the kernel's gradient, and the bias's in the last row
            full = self.x_tm.reshape(t * b, -1).T @ flat
            d = self.features
            dw = full[:d] if need_w else None
            db = full[d] if need_b else None
        if need_x:
            dx_tm = (flat @ kernel.data.T).reshape(t, b, -1)  # (T*B, G*H) @ (G*H, D)
            if self.go_backwards:
                dx_tm = dx_tm[::-1]
            dx = np.ascontiguousarray(np.swapaxes(dx_tm, 0, 1))  # (B, T, D)
        return dx, dw, db


def _finish(
    op: str,
    steps: _Steps,
    hs: Any,
    extra_states: Sequence[Any],
    return_sequences: bool,
    return_state: bool,
    parents: tuple[Tensor, ...],
    backward: Callable[[Array | None, Array | None, Sequence[Array | None]], Gradients],
) -> Tensor | tuple[Tensor, ...]:
    """Wrap the loop's results in one node (and views of it for the states).

    ``backward(d_outputs, d_h_final, d_extra_finals)`` receives the gradient of the outputs as
    ``(B, T, H)`` (or ``None``) and those of the final states (or ``None``).
    """
    outputs_tm = steps.outputs(hs)  # (T, B, H)
    t = outputs_tm.shape[0]
    if return_sequences:
        out = np.swapaxes(outputs_tm, 0, 1)  # (B, T, H)
    else:
        out = outputs_tm[t - 1][:, None, :]  # (B, 1, H)
    finals = [hs[t], *extra_states]
    if not return_state:
        data = np.ascontiguousarray(out if return_sequences else out[:, 0])

        def local(g: Array) -> Gradients:
            if return_sequences:
                return backward(g, None, [None] * len(extra_states))
            full = _last_step_only(g, t, steps.zero_output)
            return backward(*full, [None] * len(extra_states))

        return Tensor._from_op(data, parents, local, op)
    # (B, T_out + states, H): the outputs, then each final state; handed out as views.
    n_out = out.shape[1]
    packed = np.concatenate([out, *(f[:, None, :] for f in finals)], axis=1)

    def local_packed(g: Array) -> Gradients:
        d_out = g[:, :n_out]
        d_finals = [g[:, n_out + k] for k in range(len(finals))]
        if return_sequences:
            return backward(d_out, d_finals[0], d_finals[1:])
        d_seq, d_h = _last_step_only(d_out[:, 0], t, steps.zero_output)
        d_h = d_finals[0] if d_h is None else d_h + d_finals[0]
        return backward(d_seq, d_h, d_finals[1:])

    node = Tensor._from_op(packed, parents, local_packed, op)

    head = getitem(node, (slice(None), slice(0, n_out)) if return_sequences else (slice(None), 0))
    return (head, *(getitem(node, (slice(None), n_out + k)) for k in range(len(finals))))


def _last_step_only(g: Any, t: int, zero_output: bool) -> tuple[Any, Any]:
    """The gradient of the last output as ``(d_outputs, d_final_state)``.

    The last output is the final state (or, with ``zero_output_for_mask``, the last step's new
    state times its mask: then it is an output gradient at step ``T-1`` only).
    """
    if not zero_output:
        return None, g
    full = np.zeros((g.shape[0], t, g.shape[1]), dtype=g.dtype)
    full[:, t - 1] = g
    return full, None


def _zeros_or(state: Tensor | None, b: int, h: int, dtype: Any) -> Any:
    return np.zeros((b, h), dtype=dtype) if state is None else state.data


def _needs(*tensors: Tensor | None) -> list[bool]:
    return [t is not None and t.requires_grad for t in tensors]


def _states_arg(initial_state: Any, n: int, op: str, like: Tensor) -> list[Tensor | None]:
    """``initial_state`` (None, a Tensor/array, or a sequence of ``n``) as ``n`` Tensors/None."""
    if initial_state is None:
        return [None] * n
    if isinstance(initial_state, (Tensor, np.ndarray)):
        initial_state = [initial_state]
    states = list(initial_state)
    if len(states) != n:
        raise ValueError(
            f"{op}: initial_state must hold {n} state{'s' if n > 1 else ''} "
            f"({'[h, c]' if n == 2 else '[h]'}); received {len(states)}."
        )
    return [
        s if isinstance(s, Tensor) or s is None else Tensor(s, dtype=like.dtype) for s in states
    ]


def _pack_parents(*items: Tensor | None) -> tuple[tuple[Tensor, ...], list[int]]:
    """The Tensors among ``items`` and their positions (``None`` entries are left out)."""
    where = [i for i, t in enumerate(items) if t is not None]
    return tuple(t for t in items if t is not None), where


INFERENCE_CHUNK_BYTES = 64 << 20
"""Without a recorded graph, batches whose per-step buffers (``T * B * G * H`` values) pass
this many bytes run in chunks of rows: predicting on thousands of long sequences then needs the
memory of a few hundred, and the results are the same (the rows never interact)."""


def _rows_in_chunks(gates: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a recurrent op: under no recorded graph, run a large batch chunk by chunk."""

    def wrap(op: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(op)
        def run(x: Tensor, kernel: Tensor, recurrent_kernel: Tensor, bias: Tensor | None = None,
                initial_state: Any = None, mask: Any = None, **kw: Any) -> Any:
            args = (kernel, recurrent_kernel, bias)
            b = x.shape[0] if isinstance(x, Tensor) and x.ndim == 3 else 0
            per_row = x.shape[1] * gates * recurrent_kernel.shape[0] * x.dtype.itemsize if b else 0
            rows = max(1, INFERENCE_CHUNK_BYTES // per_row) if per_row else b
            states = [] if initial_state is None else list(
                initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
            )
            tensors = [x, *args, *states]
            if rows >= b or (is_grad_enabled() and any(
                isinstance(t, Tensor) and t.requires_grad for t in tensors
            )):
                return op(x, kernel, recurrent_kernel, bias, initial_state, mask, **kw)
            rmask = kw.pop("recurrent_dropout_mask", None)
            pieces = []
            for lo in range(0, b, rows):
                part = slice(lo, lo + rows)
                pieces.append(op(
                    Tensor(x.data[part], dtype=x.dtype), *args,
                    None if initial_state is None else [_data(s)[part] for s in states],
                    None if mask is None else _data(mask)[part],
                    recurrent_dropout_mask=None if rmask is None else _data(rmask)[part], **kw,
                ))  # fmt: skip
            if isinstance(pieces[0], Tensor):
                return Tensor(np.concatenate([p.data for p in pieces]), dtype=x.dtype)
            return tuple(
                Tensor(np.concatenate([p[k].data for p in pieces]), dtype=x.dtype)
                for k in range(len(pieces[0]))
            )

        return run

    return wrap


# ------------------------------------------------------------------------------------- the ops


@_rows_in_chunks(gates=1)
def simple_rnn(
    x: Tensor,
    kernel: Tensor,
    recurrent_kernel: Tensor,
    bias: Tensor | None = None,
    initial_state: InitialState = None,
    mask: TensorLike | None = None,
    *,
    activation: RecurrentActivation = "tanh",
    go_backwards: bool = False,
    return_sequences: bool = True,
    return_state: bool = False,
    zero_output_for_mask: bool = False,
    recurrent_dropout_mask: Array | None = None,
) -> Tensor | tuple[Tensor, ...]:
    """Fully-connected recurrence ``h' = activation(x W + h U + b)`` over all steps, one node.

    Args:
        x: ``(B, T, D)`` sequences.
        kernel: ``(D, H)``; recurrent_kernel: ``(H, H)``; bias: ``(H,)`` or ``None``.
        initial_state: ``None`` (zeros) or ``[h0]`` with ``h0`` ``(B, H)`` (gradients reach it).
        mask: ``(B, T)`` booleans, ``True`` at real steps (see the module docstring).
        activation: a name of :data:`RECURRENT_ACTIVATIONS`.
        go_backwards: process the steps from last to first (outputs in processing order).
        return_sequences: return every step's output ``(B, T, H)``, else the last ``(B, H)``.
        return_state: also return the final state: ``(output, h)``.
        zero_output_for_mask: masked steps output zeros instead of the previous output.
        recurrent_dropout_mask: ``(B, H)`` multiplier of the state entering ``h U``.

    Returns:
        The output Tensor, or ``(output, h)`` with ``return_state``.

    Example:
        >>> import numpy as np
        >>> from scratchnn import Tensor, ops
        >>> x = Tensor(np.ones((2, 5, 3)))
        >>> w, u = Tensor(np.full((3, 4), 0.1)), Tensor(np.eye(4) * 0.5)
        >>> ops.simple_rnn(x, w, u).shape
        (2, 5, 4)
    """
    op = "simple_rnn"
    act, d_act = _activation(activation, "activation", op)
    (h0,) = _states_arg(initial_state, 1, op, x)
    b, t, _, h = _check_inputs(op, x, kernel, recurrent_kernel, 1, [h0], mask,
                               recurrent_dropout_mask)
    steps = _Steps(x, kernel, None if bias is None else bias.data, mask, recurrent_dropout_mask,
                   go_backwards, zero_output_for_mask)
    u = recurrent_kernel.data
    xw = steps.xw  # (T, B, H): x W + b, then the new states before masking
    hs = np.empty((t + 1, b, h), dtype=x.dtype)
    hs[0] = _zeros_or(h0, b, h, x.dtype)
    tmp = np.empty((b, h), dtype=x.dtype)
    hu = np.empty((b, h), dtype=x.dtype)
    for s in range(t):
        z = xw[s]
        z += np.matmul(steps.recurrent_input(hs[s], hu), u, out=tmp)  # (B, H) @ (H, H)
        act(z)
        np.copyto(hs[s + 1], z)
        steps.carry(s, hs[s + 1], hs[s])

    parents, where = _pack_parents(x, kernel, recurrent_kernel, bias, h0)
    need_x, need_w, need_u, need_b, need_h0 = _needs(x, kernel, recurrent_kernel, bias, h0)

    def backward(d_out: Array | None, d_h: Array | None,
                 d_extra: Sequence[Array | None]) -> Gradients:
        grad_at = steps.split_gradient(d_out)
        dh = np.zeros((b, h), dtype=x.dtype) if d_h is None else np.array(d_h, dtype=x.dtype)
        for s in range(t - 1, -1, -1):
            dnew = grad_at(s, dh)
            z = xw[s]
            d_act(dnew, z, z)  # z: the output, overwritten with the pre-activation gradient
            dprev = z @ u.T  # (B, H) @ (H, H)
            if steps.rmask is not None:
                dprev *= steps.rmask
            if steps.mask is not None:
                dprev += dh * steps.keep[s]
            dh = dprev
        du = None
        if need_u:
            prev = _recurrent_inputs(hs, steps)
            du = prev.reshape(t * b, h).T @ xw.reshape(t * b, h)  # (H, T*B) @ (T*B, H)
        dx, dw, db = steps.input_gradients(xw, kernel, x, need_x, need_w, need_b)
        grads = (dx, dw, du, db, dh if need_h0 else None)
        return tuple(grads[i] for i in where)

    return _finish(op, steps, hs, [], return_sequences, return_state, parents, backward)


def _recurrent_inputs(hs: Any, steps: _Steps) -> Any:
    """The states as each step's recurrent product saw them, ``(T, B, H)``."""
    prev = hs[:-1]
    return prev if steps.rmask is None else prev * steps.rmask


@_rows_in_chunks(gates=4)
def lstm(
    x: Tensor,
    kernel: Tensor,
    recurrent_kernel: Tensor,
    bias: Tensor | None = None,
    initial_state: InitialState = None,
    mask: TensorLike | None = None,
    *,
    activation: RecurrentActivation = "tanh",
    recurrent_activation: RecurrentActivation = "sigmoid",
    go_backwards: bool = False,
    return_sequences: bool = True,
    return_state: bool = False,
    zero_output_for_mask: bool = False,
    recurrent_dropout_mask: Array | None = None,
) -> Tensor | tuple[Tensor, ...]:
    """Long short-term memory over all steps, one node; gates ``i, f, c, o`` (Keras' order).

    Args:
        x: ``(B, T, D)`` sequences.
        kernel: ``(D, 4H)``; recurrent_kernel: ``(H, 4H)``; bias: ``(4H,)`` or ``None``.
        initial_state: ``None`` (zeros) or ``[h0, c0]``, each ``(B, H)`` (gradients reach them).
        mask: ``(B, T)`` booleans, ``True`` at real steps (see the module docstring).
        activation: of the cell candidate and of the cell state (tanh).
        recurrent_activation: of the gates i, f, o (sigmoid).
        go_backwards, return_sequences, zero_output_for_mask, recurrent_dropout_mask: as
            :func:`simple_rnn`.
        return_state: also return the final states: ``(output, h, c)``.

    Returns:
        The output Tensor (``(B, T, H)`` or ``(B, H)``), or ``(output, h, c)``.

    Example:
        >>> import numpy as np
        >>> from scratchnn import Tensor, ops
        >>> x = Tensor(np.ones((2, 5, 3)))
        >>> w, u = Tensor(np.full((3, 16), 0.1)), Tensor(np.full((4, 16), 0.1))
        >>> out, h, c = ops.lstm(x, w, u, return_sequences=False, return_state=True)
        >>> out.shape, h.shape, c.shape
        ((2, 4), (2, 4), (2, 4))
    """
    op = "lstm"
    act, d_act = _activation(activation, "activation", op)
    ract, d_ract = _activation(recurrent_activation, "recurrent_activation", op)
    h0, c0 = _states_arg(initial_state, 2, op, x)
    b, t, _, h = _check_inputs(op, x, kernel, recurrent_kernel, 4, [h0, c0], mask,
                               recurrent_dropout_mask)
    steps = _Steps(x, kernel, None if bias is None else bias.data, mask, recurrent_dropout_mask,
                   go_backwards, zero_output_for_mask)
    u, dtype = recurrent_kernel.data, x.dtype
    gates = steps.xw  # (T, B, 4H): x W + b, then i, f, c~, o; in the backward their gradients
    hs = np.empty((t + 1, b, h), dtype=dtype)  # h_0 .. h_T (carried states)
    cs = np.empty((t + 1, b, h), dtype=dtype)  # c_0 .. c_T
    tc = np.empty((t, b, h), dtype=dtype)  # activation(new c) of each step
    hs[0] = _zeros_or(h0, b, h, dtype)
    cs[0] = _zeros_or(c0, b, h, dtype)
    tmp = np.empty((b, 4 * h), dtype=dtype)
    ig = np.empty((b, h), dtype=dtype)
    hu = np.empty((b, h), dtype=dtype)
    i_, f_, c_, o_ = slice(0, h), slice(h, 2 * h), slice(2 * h, 3 * h), slice(3 * h, 4 * h)
    if_ = slice(0, 2 * h)
    for s in range(t):
        z = gates[s]
        z += np.matmul(steps.recurrent_input(hs[s], hu), u, out=tmp)  # (B, H) @ (H, 4H)
        ract(z[:, if_])
        act(z[:, c_])
        ract(z[:, o_])
        c = cs[s + 1]
        np.multiply(z[:, f_], cs[s], out=c)  # f * c
        c += np.multiply(z[:, i_], z[:, c_], out=ig)  # + i * c~
        a = tc[s]
        np.copyto(a, c)
        act(a)
        np.multiply(z[:, o_], a, out=hs[s + 1])  # h = o * act(c)
        if steps.mask is not None:
            steps.carry(s, hs[s + 1], hs[s])
            steps.carry(s, c, cs[s])

    parents, where = _pack_parents(x, kernel, recurrent_kernel, bias, h0, c0)
    need_x, need_w, need_u, need_b, need_h0, need_c0 = _needs(
        x, kernel, recurrent_kernel, bias, h0, c0
    )

    def backward(d_out: Array | None, d_h: Array | None,
                 d_extra: Sequence[Array | None]) -> Gradients:
        grad_at = steps.split_gradient(d_out)
        dh = np.zeros((b, h), dtype=dtype) if d_h is None else np.array(d_h, dtype=dtype)
        dc = np.zeros((b, h), dtype=dtype)
        if d_extra[0] is not None:
            dc += d_extra[0]
        ut = u.T  # (4H, H)
        di, df, dg, do, t1, t2 = (np.empty((b, h), dtype=dtype) for _ in range(6))
        dprev = np.empty((b, h), dtype=dtype)
        for s in range(t - 1, -1, -1):
            dnew = grad_at(s, dh)  # gradient on this step's new h
            dcn = dc if steps.mask is None else dc * steps.mask[s]
            z = gates[s]
            i, f, g, o, a = z[:, i_], z[:, f_], z[:, c_], z[:, o_], tc[s]
            np.multiply(dnew, a, out=do)  # d o
            np.multiply(dnew, o, out=t1)
            dcn = dcn + d_act(t1, a, t2)  # d c (through h = o * act(c))
            np.multiply(dcn, g, out=di)
            np.multiply(dcn, i, out=dg)
            np.multiply(dcn, cs[s], out=df)
            dc_prev = np.multiply(dcn, f, out=dcn)  # d c_prev through c = f * c_prev + ...
            d_ract(di, i, i)  # overwrite the gates with their pre-activation gradients
            d_ract(df, f, f)
            d_act(dg, g, g)
            d_ract(do, o, o)
            np.matmul(z, ut, out=dprev)  # (B, 4H) @ (4H, H)
            if steps.rmask is not None:
                dprev *= steps.rmask
            if steps.mask is not None:
                dprev += dh * steps.keep[s]
                dc_prev += dc * steps.keep[s]
            dh, dprev = dprev, dh
            dc = dc_prev
        du = None
        if need_u:
            prev = _recurrent_inputs(hs, steps)
            du = prev.reshape(t * b, h).T @ gates.reshape(t * b, 4 * h)  # (H, T*B) @ (T*B, 4H)
        dx, dw, db = steps.input_gradients(gates, kernel, x, need_x, need_w, need_b)
        grads = (dx, dw, du, db, dh if need_h0 else None, dc if need_c0 else None)
        return tuple(grads[k] for k in where)

    return _finish(op, steps, hs, [cs[t]], return_sequences, return_state, parents, backward)


@_rows_in_chunks(gates=3)
def gru(
    x: Tensor,
    kernel: Tensor,
    recurrent_kernel: Tensor,
    bias: Tensor | None = None,
    initial_state: InitialState = None,
    mask: TensorLike | None = None,
    *,
    activation: RecurrentActivation = "tanh",
    recurrent_activation: RecurrentActivation = "sigmoid",
    reset_after: bool = True,
    go_backwards: bool = False,
    return_sequences: bool = True,
    return_state: bool = False,
    zero_output_for_mask: bool = False,
    recurrent_dropout_mask: Array | None = None,
) -> Tensor | tuple[Tensor, ...]:
    """Gated recurrent unit over all steps, one node; gates ``z, r, h`` (Keras' order).

    Args:
        x: ``(B, T, D)`` sequences.
        kernel: ``(D, 3H)``; recurrent_kernel: ``(H, 3H)``.
        bias: ``(2, 3H)`` with ``reset_after`` (input and recurrent biases), ``(3H,)`` without,
            or ``None``.
        initial_state: ``None`` (zeros) or ``[h0]``, ``(B, H)`` (gradients reach it).
        reset_after: apply the reset gate after the recurrent product (Keras' default and
            PyTorch's formula) or before it (the original GRU).
        mask, activation, recurrent_activation, go_backwards, return_sequences, return_state,
            zero_output_for_mask, recurrent_dropout_mask: as :func:`lstm` (one state ``h``).

    Returns:
        The output Tensor, or ``(output, h)`` with ``return_state``.
    """
    op = "gru"
    act, d_act = _activation(activation, "activation", op)
    ract, d_ract = _activation(recurrent_activation, "recurrent_activation", op)
    (h0,) = _states_arg(initial_state, 1, op, x)
    b, t, _, h = _check_inputs(op, x, kernel, recurrent_kernel, 3, [h0], mask,
                               recurrent_dropout_mask)
    bias_in = bias_rec = None
    if bias is not None:
        expected = (2, 3 * h) if reset_after else (3 * h,)
        if bias.shape != expected:
            raise ValueError(
                f"{op}: with reset_after={reset_after} the bias must have shape {expected}; "
                f"received {bias.shape}."
            )
        bias_in, bias_rec = (bias.data[0], bias.data[1]) if reset_after else (bias.data, None)
    steps = _Steps(x, kernel, bias_in, mask, recurrent_dropout_mask, go_backwards,
                   zero_output_for_mask)
    u, dtype = recurrent_kernel.data, x.dtype
    gates = steps.xw  # (T, B, 3H): x W + b_in, then z, r, h~; in the backward their gradients
    hs = np.empty((t + 1, b, h), dtype=dtype)
    hs[0] = _zeros_or(h0, b, h, dtype)
    # reset_after: h U_h + b1_h of each step; else: r * h, the input of the candidate's product.
    kept = np.empty((t, b, h), dtype=dtype)
    zr, hh_ = slice(0, 2 * h), slice(2 * h, 3 * h)
    tmp = np.empty((b, 3 * h), dtype=dtype)
    hu = np.empty((b, h), dtype=dtype)
    u_zr, u_h = u[:, zr], u[:, hh_]
    for s in range(t):
        z = gates[s]
        prev = steps.recurrent_input(hs[s], hu)
        if reset_after:
            rec = np.matmul(prev, u, out=tmp)  # (B, H) @ (H, 3H)
            if bias_rec is not None:
                rec += bias_rec
            z[:, zr] += rec[:, zr]
            ract(z[:, zr])
            np.copyto(kept[s], rec[:, hh_])
            z[:, hh_] += np.multiply(z[:, h:2 * h], kept[s], out=tmp[:, hh_])  # + r * (h U_h)
        else:
            z[:, zr] += np.matmul(prev, u_zr, out=tmp[:, zr])  # (B, H) @ (H, 2H)
            ract(z[:, zr])
            np.multiply(z[:, h:2 * h], prev, out=kept[s])  # r * h
            z[:, hh_] += np.matmul(kept[s], u_h, out=tmp[:, hh_])  # (B, H) @ (H, H)
        act(z[:, hh_])
        new = hs[s + 1]
        np.subtract(hs[s], z[:, hh_], out=new)
        new *= z[:, :h]
        new += z[:, hh_]  # h' = h~ + z * (h - h~)
        steps.carry(s, new, hs[s])

    parents, where = _pack_parents(x, kernel, recurrent_kernel, bias, h0)
    need_x, need_w, need_u, need_b, need_h0 = _needs(x, kernel, recurrent_kernel, bias, h0)

    def backward(d_out: Array | None, d_h: Array | None,
                 d_extra: Sequence[Array | None]) -> Gradients:
        grad_at = steps.split_gradient(d_out)
        dh = np.zeros((b, h), dtype=dtype) if d_h is None else np.array(d_h, dtype=dtype)
        # Gradients of the recurrent products' outputs (h U [+ b1]); they differ from those of
        # x W + b0 only in the candidate block, which the reset gate multiplies.
        drec: Any = np.empty((t, b, 3 * h), dtype=dtype) if reset_after else None
        dz_, dhh, t1, t2 = (np.empty((b, h), dtype=dtype) for _ in range(4))
        for s in range(t - 1, -1, -1):
            dnew = grad_at(s, dh)
            z = gates[s]
            zg, r, cand, prev = z[:, :h], z[:, h:2 * h], z[:, hh_], hs[s]
            np.subtract(prev, cand, out=t1)
            np.multiply(dnew, t1, out=dz_)  # d z
            np.subtract(1, zg, out=t1)
            np.multiply(dnew, t1, out=dhh)  # d h~
            direct = dnew * zg  # d h_prev through z * h_prev
            d_act(dhh, cand, cand)  # the candidate's pre-activation gradient
            d_ract(dz_, zg, zg)
            if reset_after:
                rec_grad = drec[s]
                np.multiply(cand, kept[s], out=t2)  # d r
                np.multiply(cand, r, out=rec_grad[:, hh_])  # d (h U_h + b1_h)
                d_ract(t2, r, r)
                rec_grad[:, zr] = z[:, zr]
                dprev = rec_grad @ u.T  # (B, 3H) @ (3H, H)
            else:
                d_kept = cand @ u_h.T  # d (r * h): (B, H) @ (H, H)
                np.multiply(d_kept, steps.recurrent_input(prev, t1), out=t2)  # d r
                d_kept *= r
                d_ract(t2, r, r)
                dprev = z[:, zr] @ u_zr.T  # (B, 2H) @ (2H, H)
                dprev += d_kept
            if steps.rmask is not None:
                dprev *= steps.rmask
            dprev += direct
            if steps.mask is not None:
                dprev += dh * steps.keep[s]
            dh = dprev
        du = db = None
        if need_u:
            prev = _recurrent_inputs(hs, steps).reshape(t * b, h)
            if reset_after:
                du = prev.T @ drec.reshape(t * b, 3 * h)  # (H, T*B) @ (T*B, 3H)
            else:
                du = np.empty((h, 3 * h), dtype=dtype)
                du[:, zr] = prev.T @ gates[:, :, zr].reshape(t * b, 2 * h)
                du[:, hh_] = kept.reshape(t * b, h).T @ gates[:, :, hh_].reshape(t * b, h)
        dx, dw, db_in = steps.input_gradients(gates, kernel, x, need_x, need_w, need_b)
        if need_b:
            db = db_in
            if reset_after:
                db = np.stack([db_in, np.ones(t * b, dtype=dtype) @ drec.reshape(t * b, 3 * h)])
        grads = (dx, dw, du, db, dh if need_h0 else None)
        return tuple(grads[k] for k in where)

    return _finish(op, steps, hs, [], return_sequences, return_state, parents, backward)


# ------------------------------------------------------------------------------------- lookup


def embedding(indices: TensorLike, table: Tensor) -> Tensor:
    """Rows of ``table`` picked by integer ``indices``: ``table[indices]``, one node.

    The backward adds each output row's gradient into the row it came from (a scatter-add,
    computed by sorting the indices and summing runs, many times faster than ``np.add.at``).

    Args:
        indices: integers in ``[0, V)``, any shape ``(...)`` (an array or a Tensor; float values
            must be whole numbers). No gradient flows to them.
        table: ``(V, E)`` Tensor.

    Returns:
        ``(..., E)`` Tensor.

    Raises:
        ValueError: an index outside ``[0, V)`` or not a whole number.

    Example:
        >>> import numpy as np
        >>> from scratchnn import Tensor, ops
        >>> ops.embedding(np.array([[2, 0]]), Tensor(np.arange(6.0).reshape(3, 2))).tolist()
        [[[4.0, 5.0], [0.0, 1.0]]]
    """
    idx = np.asarray(_data(indices))
    if table.ndim != 2:
        raise ValueError(f"embedding: table must have shape (V, E); received {table.shape}.")
    if idx.dtype.kind not in "iu":
        whole = idx.astype(np.int64)
        if idx.dtype.kind not in "fb" or not np.array_equal(whole, idx):
            raise ValueError(
                f"embedding: indices must be whole numbers; received dtype {idx.dtype}"
                f"{'' if idx.dtype.kind not in 'f' else ' with fractional values'}."
            )
        idx = whole
    vocab = table.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= vocab):
        bad = idx[(idx < 0) | (idx >= vocab)].flat[0]
        raise ValueError(
            f"embedding: index {int(bad)} is outside [0, {vocab}) for a table of {vocab} rows."
        )
    out = table.data.take(idx, axis=0)  # (..., E)

    def backward(g: Array) -> Gradients:  # g: (..., E)
        flat = idx.reshape(-1)
        rows = g.reshape(-1, g.shape[-1])  # (N, E)
        order = np.argsort(flat, kind="stable")
        sorted_idx = flat[order]
        starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]])
        grad = np.zeros(table.shape, dtype=g.dtype)
        if flat.size:
            grad[sorted_idx[starts]] = np.add.reduceat(rows[order], starts, axis=0)
        return (grad,)

    return Tensor._from_op(out, (table,), backward, "embedding")
