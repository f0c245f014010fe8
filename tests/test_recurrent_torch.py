"""PyTorch as the oracle of the recurrent layers: SimpleRNN, LSTM and GRU against nn.RNN, nn.LSTM
and nn.GRU, one or two stacked layers, one or both directions, float64, ``rtol=1e-9``.

Our layers are built in float64 from seeded generators and their weights copied into the torch
module with the mapping documented in :mod:`scratchnn.ops.recurrent`:

* ``weight_ih = kernel.T`` and ``weight_hh = recurrent_kernel.T`` (row blocks i, f, g, o for the
  LSTM: Keras' i, f, c, o in the same order);
* GRU row blocks are r, z, n against our z, r, h: the first two blocks swap; ``bias`` ``(2, 3H)``
  maps row 0 to ``bias_ih`` and row 1 to ``bias_hh`` (``reset_after=True`` is torch's formula);
* LSTM and RNN have one bias; torch's two are split at random (their sum is ours), so both torch
  bias gradients must equal ours.

A stack is our layers called one after the other with ``return_state=True`` (Bidirectional with
``merge_mode="concat"``: torch feeds the next layer both directions concatenated). The loss
weighs every output, every final state, and every gradient is compared: input, initial states,
all kernels and biases of every layer and direction.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scratchnn import Tensor
from scratchnn.layers import GRU, LSTM, Bidirectional, SimpleRNN

torch = pytest.importorskip(
    "torch", reason="PyTorch (test extra) is not installed: oracle tests skipped"
)

ORACLE = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = {"simple_rnn": (SimpleRNN, torch.nn.RNN, 1), "lstm": (LSTM, torch.nn.LSTM, 4),
         "gru": (GRU, torch.nn.GRU, 3)}  # fmt: skip


def assert_close(ours, theirs):
    assert ours is not None, "no gradient reached this tensor"
    ours = ours.numpy() if isinstance(ours, Tensor) else ours
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-9, atol=1e-12)


def torch_blocks(kind: str, array: np.ndarray, units: int) -> np.ndarray:
    """Our ``(..., G*H)`` gate columns reordered to torch's row blocks (GRU: z, r -> r, z)."""
    if kind != "gru":
        return array
    z, r, n = (array[..., k * units:(k + 1) * units] for k in range(3))
    return np.concatenate([r, z, n], axis=-1)


def copy_into_torch(kind, layer, module, suffix, rng):
    """Set the torch parameters of one layer and direction (``suffix`` e.g. ``_l1_reverse``)."""
    h = layer.units
    params = dict(module.named_parameters())
    with torch.no_grad():
        params[f"weight_ih{suffix}"].copy_(torch.tensor(torch_blocks(kind, layer.kernel.numpy(),
                                                                     h).T))
        params[f"weight_hh{suffix}"].copy_(
            torch.tensor(torch_blocks(kind, layer.recurrent_kernel.numpy(), h).T)
        )
        bias = layer.bias.numpy()
        if kind == "gru":
            b_ih, b_hh = torch_blocks(kind, bias[0], h), torch_blocks(kind, bias[1], h)
        else:
            b_hh = rng.normal(size=bias.shape)
            b_ih = bias - b_hh
        params[f"bias_ih{suffix}"].copy_(torch.tensor(b_ih))
        params[f"bias_hh{suffix}"].copy_(torch.tensor(b_hh))


def compare_grads(kind, layer, module, suffix):
    h = layer.units
    params = dict(module.named_parameters())
    assert_close(torch_blocks(kind, layer.kernel.grad, h).T, params[f"weight_ih{suffix}"].grad)
    assert_close(torch_blocks(kind, layer.recurrent_kernel.grad, h).T,
                 params[f"weight_hh{suffix}"].grad)
    if kind == "gru":
        assert_close(torch_blocks(kind, layer.bias.grad[0], h), params[f"bias_ih{suffix}"].grad)
        assert_close(torch_blocks(kind, layer.bias.grad[1], h), params[f"bias_hh{suffix}"].grad)
    else:
        assert_close(layer.bias.grad, params[f"bias_ih{suffix}"].grad)
        assert_close(layer.bias.grad, params[f"bias_hh{suffix}"].grad)


@ORACLE
@given(
    kind=st.sampled_from(sorted(KINDS)),
    seed=st.integers(0, 2**32 - 1),
    sizes=st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 3), st.integers(1, 4)),
    depth=st.integers(1, 2),
    bidirectional=st.booleans(),
)
def test_layers_match_torch_forward_and_every_gradient(kind, seed, sizes, depth, bidirectional):
    ours_cls, torch_cls, _ = KINDS[kind]
    b, t, d, h = sizes
    rng = np.random.default_rng(seed)
    dirs = 2 if bidirectional else 1
    n_states = 2 if kind == "lstm" else 1

    layers = []
    width = d
    for depth_index in range(depth):
        base = ours_cls(h, return_sequences=True, return_state=True, dtype="float64",
                        **({"bias_initializer": "random_normal"}))
        layer = Bidirectional(base) if bidirectional else base
        layer.build((t, width), rng=np.random.default_rng([seed, depth_index]), dtype="float64")
        layers.append(layer)
        width = h * dirs
    module = torch_cls(d, h, num_layers=depth, bidirectional=bidirectional, batch_first=True,
                       dtype=torch.float64)
    for depth_index, layer in enumerate(layers):
        parts = (
            [(layer.forward_layer, ""), (layer.backward_layer, "_reverse")]
            if bidirectional else [(layer, "")]
        )
        for part, tail in parts:
            copy_into_torch(kind, part, module, f"_l{depth_index}{tail}", rng)

    x = rng.normal(size=(b, t, d))
    states0 = [rng.normal(size=(depth * dirs, b, h)) for _ in range(n_states)]
    xo = Tensor(x, dtype="float64", requires_grad=True)
    so = [[Tensor(s[k], dtype="float64", requires_grad=True) for s in states0]
          for k in range(depth * dirs)]  # per layer and direction: [h] or [h, c]
    xt = torch.tensor(x, requires_grad=True)
    st_ = [torch.tensor(s, requires_grad=True) for s in states0]

    out, finals = xo, []
    for depth_index, layer in enumerate(layers):
        initial = [s for k in range(dirs) for s in so[depth_index * dirs + k]]
        out, *states = layer(out, initial_state=initial)
        finals += states  # forward [h, (c)] then backward [h, (c)]
    out_t, hidden = module(xt, tuple(st_) if kind == "lstm" else st_[0])
    hidden = hidden if kind == "lstm" else (hidden,)

    assert_close(out, out_t)
    weights_out = rng.normal(size=out_t.shape)
    loss_t = (out_t * torch.tensor(weights_out)).sum()
    loss = (out * weights_out).sum()
    for k in range(depth * dirs):
        for j in range(n_states):
            assert_close(finals[k * n_states + j], hidden[j][k])
            weights_state = rng.normal(size=(b, h))
            loss = loss + (finals[k * n_states + j] * weights_state).sum()
            loss_t = loss_t + (hidden[j][k] * torch.tensor(weights_state)).sum()
    loss.backward()
    loss_t.backward()

    assert_close(xo.grad, xt.grad)
    for k in range(depth * dirs):
        for j in range(n_states):
            assert_close(so[k][j].grad, st_[j].grad[k])
    for depth_index, layer in enumerate(layers):
        parts = (
            [(layer.forward_layer, ""), (layer.backward_layer, "_reverse")]
            if bidirectional else [(layer, "")]
        )
        for part, tail in parts:
            compare_grads(kind, part, module, f"_l{depth_index}{tail}")
