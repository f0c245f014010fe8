"""The recurrent ops and the embedding lookup: forward against a plain reference, gradcheck of all.

The reference below is a step-by-step NumPy loop written from Keras' semantics (its NumPy
backend's ``rnn``): at a masked step the states are carried and the output repeats the previous
state (or is zero with ``zero_output_for_mask``); ``go_backwards`` reads the steps from the end and
returns the outputs in that order. Every op is compared with it for every combination of flags,
and gradchecked (float64, short sequences) for every gradient it returns: input, kernels, bias,
initial states, with masks, ``go_backwards``, final-state outputs and recurrent dropout.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scratchnn import Tensor, gradcheck, no_grad, ops
from scratchnn.ops import recurrent

CHECK = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEEDS = st.integers(0, 2**32 - 1)
KINDS = ["simple_rnn", "lstm", "gru", "gru_reset_before"]
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3, "gru_reset_before": 3}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


ACT = {"tanh": np.tanh, "sigmoid": sigmoid, "relu": lambda z: np.maximum(z, 0),
       "linear": lambda z: z}  # fmt: skip


def reference(kind, x, w, u, b, states, mask=None, go_backwards=False, zero_output=False,
              rmask=None, act="tanh", ract="sigmoid"):
    """Keras' recurrence, one step at a time: ``(outputs (B, T, H), *final states)``."""
    f, g = ACT[act], ACT[ract]
    bsz, steps, _ = x.shape
    hu = u.shape[0]
    h = states[0].copy()
    c = states[1].copy() if kind == "lstm" else None
    outs = []
    for t in (range(steps - 1, -1, -1) if go_backwards else range(steps)):
        hr = h if rmask is None else h * rmask
        xt = x[:, t]
        if kind == "simple_rnn":
            h_new = f(xt @ w + hr @ u + (0 if b is None else b))
        elif kind == "lstm":
            z = xt @ w + hr @ u + (0 if b is None else b)
            i, fg, cc, o = (z[:, k * hu:(k + 1) * hu] for k in range(4))
            c_new = g(fg) * c + g(i) * f(cc)
            h_new = g(o) * f(c_new)
        elif kind == "gru":
            b0, b1 = (0, 0) if b is None else (b[0], b[1])
            xz = xt @ w + b0
            rec = hr @ u + b1
            z = g(xz[:, :hu] + rec[:, :hu])
            r = g(xz[:, hu:2 * hu] + rec[:, hu:2 * hu])
            cand = f(xz[:, 2 * hu:] + r * rec[:, 2 * hu:])
            h_new = z * h + (1 - z) * cand
        else:
            xz = xt @ w + (0 if b is None else b)
            z = g(xz[:, :hu] + hr @ u[:, :hu])
            r = g(xz[:, hu:2 * hu] + hr @ u[:, hu:2 * hu])
            cand = f(xz[:, 2 * hu:] + (r * hr) @ u[:, 2 * hu:])
            h_new = z * h + (1 - z) * cand
        m = np.ones((bsz, 1), bool) if mask is None else mask[:, t, None]
        outs.append(np.where(m, h_new, 0 if zero_output else h))
        h = np.where(m, h_new, h)
        if kind == "lstm":
            c = np.where(m, c_new, c)
    finals = [h] if kind != "lstm" else [h, c]
    return np.stack(outs, axis=1), *finals


def run_op(kind, x, w, u, b, states, **kwargs):
    """The op for ``kind`` (``gru_reset_before`` is ``gru(reset_after=False)``)."""
    if kind == "simple_rnn":
        kwargs.pop("recurrent_activation", None)
        return ops.simple_rnn(x, w, u, b, states, **kwargs)
    if kind == "lstm":
        return ops.lstm(x, w, u, b, states, **kwargs)
    return ops.gru(x, w, u, b, states, reset_after=kind == "gru", **kwargs)


@st.composite
def problems(draw):
    """A random op problem: shapes, weights, states, mask and flags (float64)."""
    kind = draw(st.sampled_from(KINDS))
    bsz, steps, d, h = (draw(st.integers(1, 3)) for _ in range(4))
    rng = np.random.default_rng(draw(SEEDS))
    gates = GATES[kind]
    bias_shape = {"gru": (2, 3 * h), "lstm": (4 * h,)}.get(kind, (gates * h,))
    arrays = {
        "x": rng.normal(size=(bsz, steps, d)),
        "w": rng.normal(size=(d, gates * h)) * 0.6,
        "u": rng.normal(size=(h, gates * h)) * 0.6,
        "b": rng.normal(size=bias_shape) * 0.5 if draw(st.booleans()) else None,
        "states": [rng.normal(size=(bsz, h)) for _ in range(2 if kind == "lstm" else 1)],
    }
    flags = {
        "mask": rng.random((bsz, steps)) > 0.35 if draw(st.booleans()) else None,
        "go_backwards": draw(st.booleans()),
        "zero_output_for_mask": draw(st.booleans()),
        "recurrent_dropout_mask": (
            (rng.random((bsz, h)) > 0.3) / 0.7 if draw(st.booleans()) else None
        ),
    }
    return kind, arrays, flags


def as_tensors(arrays, dtype="float64"):
    def t(a):
        return None if a is None else Tensor(a, dtype=dtype, requires_grad=True)

    return t(arrays["x"]), t(arrays["w"]), t(arrays["u"]), t(arrays["b"]), [
        t(s) for s in arrays["states"]
    ]


# --- coverage ----------------------------------------------------------------------------------


def test_every_public_recurrent_op_is_tested_here():
    public = {
        name for name, fn in inspect.getmembers(recurrent, inspect.isfunction)
        if fn.__module__ == "scratchnn.ops.recurrent" and not name.startswith("_")
    }
    assert public == {"simple_rnn", "lstm", "gru", "embedding"}
    assert {name: getattr(ops, name) for name in public} == {
        name: getattr(recurrent, name) for name in public
    }


# --- forward against the reference ------------------------------------------------------------


@CHECK
@given(problem=problems(), return_sequences=st.booleans())
def test_forward_matches_the_step_by_step_reference(problem, return_sequences):
    kind, arrays, flags = problem
    x, w, u, b, states = as_tensors(arrays)
    out, *finals = run_op(kind, x, w, u, b, states, return_sequences=return_sequences,
                          return_state=True, **flags)
    expected, *expected_finals = reference(
        kind, arrays["x"], arrays["w"], arrays["u"], arrays["b"], arrays["states"],
        mask=flags["mask"], go_backwards=flags["go_backwards"],
        zero_output=flags["zero_output_for_mask"], rmask=flags["recurrent_dropout_mask"],
    )  # fmt: skip
    if not return_sequences:
        expected = expected[:, -1]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-13)
    assert len(finals) == len(expected_finals)
    for got, want in zip(finals, expected_finals, strict=True):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid", "linear"])
def test_every_activation_pair_matches_the_reference(kind, act):
    rng = np.random.default_rng(1)
    gates, h = GATES[kind], 3
    arrays = {"x": rng.normal(size=(2, 4, 3)), "w": rng.normal(size=(3, gates * h)) * 0.5,
              "u": rng.normal(size=(h, gates * h)) * 0.5, "b": None,
              "states": [rng.normal(size=(2, h)) for _ in range(2 if kind == "lstm" else 1)]}
    x, w, u, b, states = as_tensors(arrays)
    ract = "linear" if act == "sigmoid" else "sigmoid" if act != "relu" else "tanh"
    kwargs = {"activation": act, "recurrent_activation": ract}
    out = run_op(kind, x, w, u, b, states, **kwargs)
    expected = reference(kind, arrays["x"], arrays["w"], arrays["u"], None, arrays["states"],
                         act=act, ract=ract if kind != "simple_rnn" else "sigmoid")[0]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-13)


def test_the_default_output_is_every_step_and_without_states_one_tensor():
    x = Tensor(np.ones((2, 3, 1)))
    out = ops.lstm(x, Tensor(np.full((1, 8), 0.1)), Tensor(np.full((2, 8), 0.1)))
    assert isinstance(out, Tensor) and out.shape == (2, 3, 2)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_stays_float32_and_agrees_with_float64(kind):
    rng = np.random.default_rng(2)
    gates, h = GATES[kind], 4
    arrays = {"x": rng.normal(size=(3, 6, 2)), "w": rng.normal(size=(2, gates * h)) * 0.5,
              "u": rng.normal(size=(h, gates * h)) * 0.5,
              "b": rng.normal(size=(2, 3 * h) if kind == "gru" else (gates * h,)),
              "states": [rng.normal(size=(3, h)) for _ in range(2 if kind == "lstm" else 1)]}
    results = {}
    for dtype in ("float32", "float64"):
        x, w, u, b, states = as_tensors(arrays, dtype)
        out, *finals = run_op(kind, x, w, u, b, states, return_state=True,
                              mask=np.array([[1, 1, 0, 1, 1, 0]] * 3, bool))
        (out * np.linspace(-1, 1, out.size).reshape(out.shape)).sum().backward()
        assert out.dtype == np.dtype(dtype) and all(f.dtype == np.dtype(dtype) for f in finals)
        assert all(t.grad.dtype == np.dtype(dtype) for t in (x, w, u, b, *states))
        results[dtype] = [out.numpy(), x.grad, w.grad, u.grad, b.grad]
    for lo, hi in zip(results["float32"], results["float64"], strict=True):
        np.testing.assert_allclose(lo, hi, rtol=2e-4, atol=2e-5)


# --- gradients ----------------------------------------------------------------------------------


@CHECK
@given(problem=problems(), return_sequences=st.booleans(), return_state=st.booleans())
def test_gradcheck_every_input_with_masks_directions_and_states(
    problem, return_sequences, return_state
):
    kind, arrays, flags = problem
    inputs = [arrays["x"], arrays["w"], arrays["u"], *arrays["states"]]
    has_bias = arrays["b"] is not None
    if has_bias:
        inputs.append(arrays["b"])
    n_states = len(arrays["states"])

    def fn(x, w, u, *rest):
        states, bias = list(rest[:n_states]), (rest[n_states] if has_bias else None)
        result = run_op(kind, x, w, u, bias, states, return_sequences=return_sequences,
                        return_state=return_state, **flags)
        parts = result if return_state else (result,)
        return ops.concatenate([ops.reshape(p, (-1,)) for p in parts])

    result = gradcheck(fn, *inputs)
    assert result.passed, str(result)


@pytest.mark.parametrize("kind", KINDS)
def test_only_the_final_state_can_carry_the_gradient(kind):
    """A loss on the final state alone (not on the outputs) reaches every input."""
    rng = np.random.default_rng(3)
    gates, h = GATES[kind], 2
    n = 2 if kind == "lstm" else 1
    inputs = [rng.normal(size=(2, 3, 2)), rng.normal(size=(2, gates * h)),
              rng.normal(size=(h, gates * h)), *(rng.normal(size=(2, h)) for _ in range(n))]

    def fn(x, w, u, *states):
        return run_op(kind, x, w, u, None, list(states), return_state=True,
                      mask=np.array([[1, 0, 1], [0, 1, 1]], bool), go_backwards=True)[-1]

    assert gradcheck(fn, *inputs).passed


def test_gradients_are_only_computed_for_tensors_that_need_them():
    rng = np.random.default_rng(4)
    x = Tensor(rng.normal(size=(2, 3, 2)))
    w = Tensor(rng.normal(size=(2, 8)), requires_grad=True)
    u = Tensor(rng.normal(size=(2, 8)))
    ops.lstm(x, w, u).sum().backward()
    assert w.grad is not None and x.grad is None and u.grad is None


def test_no_graph_is_recorded_under_no_grad():
    x = Tensor(np.ones((1, 2, 1)), requires_grad=True)
    with no_grad():
        out = ops.gru(x, Tensor(np.ones((1, 6)), requires_grad=True), Tensor(np.ones((2, 6))))
    assert not out.requires_grad


def test_large_batches_without_a_graph_run_in_row_chunks_with_the_same_result(monkeypatch):
    rng = np.random.default_rng(5)
    x = Tensor(rng.normal(size=(7, 5, 3)))
    w, u = Tensor(rng.normal(size=(3, 16)) * 0.5), Tensor(rng.normal(size=(4, 16)) * 0.5)
    states = [rng.normal(size=(7, 4)), rng.normal(size=(7, 4))]
    mask = rng.random((7, 5)) > 0.3
    kwargs = {"return_state": True, "mask": mask, "go_backwards": True}
    whole = ops.lstm(x, w, u, None, states, **kwargs)
    monkeypatch.setattr(recurrent, "INFERENCE_CHUNK_BYTES", 5 * 16 * 8 * 2)  # two rows a chunk
    chunked = ops.lstm(x, w, u, None, states, **kwargs)
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# --- bad input ----------------------------------------------------------------------------------


def test_bad_shapes_and_names_are_refused_with_the_expected_shape():
    x = Tensor(np.ones((2, 3, 4)))
    w, u = Tensor(np.ones((4, 8))), Tensor(np.ones((2, 8)))
    with pytest.raises(ValueError, match=r"\(batch, timesteps, features\); received shape"):
        ops.lstm(Tensor(np.ones((2, 4))), w, u)
    with pytest.raises(ValueError, match=r"kernel must have shape \(4, 4\*units\)"):
        ops.lstm(x, Tensor(np.ones((3, 8))), u)
    with pytest.raises(ValueError, match=r"recurrent_kernel must have shape \(2, 8\)"):
        ops.lstm(x, w, Tensor(np.ones((3, 8))))
    with pytest.raises(ValueError, match=r"initial_state must hold 2 states"):
        ops.lstm(x, w, u, initial_state=[np.zeros((2, 2))])
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, timesteps\) = \(2, 3\)"):
        ops.lstm(x, w, u, mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="activation must be one of"):
        ops.lstm(x, w, u, activation="gelu")
    with pytest.raises(ValueError, match=r"reset_after=True the bias must have shape \(2, 6\)"):
        ops.gru(x, Tensor(np.ones((4, 6))), Tensor(np.ones((2, 6))), Tensor(np.ones(6)))
    with pytest.raises(ValueError, match="share one dtype"):
        ops.lstm(Tensor(np.ones((2, 3, 4)), dtype="float32"), Tensor(np.ones((4, 8)),
                 dtype="float64"), Tensor(np.ones((2, 8)), dtype="float64"))


# --- embedding ----------------------------------------------------------------------------------


@CHECK
@given(seed=SEEDS, shape=st.sampled_from([(5,), (2, 3), (2, 2, 2)]), vocab=st.integers(1, 6))
def test_embedding_forward_is_indexing_and_passes_gradcheck(seed, shape, vocab):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, vocab, size=shape)  # repeated ids: their gradients must add up
    table = rng.normal(size=(vocab, 3))
    np.testing.assert_array_equal(ops.embedding(idx, Tensor(table, "float64")).numpy(), table[idx])
    assert gradcheck(lambda t: ops.embedding(idx, t), table).passed


def test_embedding_gradient_is_a_scatter_add():
    table = Tensor(np.zeros((4, 2)), requires_grad=True)
    out = ops.embedding(np.array([[1, 3, 1]]), table)
    out.backward(np.array([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]]))
    np.testing.assert_array_equal(table.grad, [[0, 0], [6, 8], [0, 0], [3, 4]])


def test_embedding_accepts_whole_floats_and_refuses_the_rest():
    table = Tensor(np.arange(6.0).reshape(3, 2))
    assert ops.embedding(np.array([2.0, 0.0]), table).tolist() == [[4.0, 5.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match="whole numbers"):
        ops.embedding(np.array([0.5]), table)
    with pytest.raises(ValueError, match=r"index 3 is outside \[0, 3\)"):
        ops.embedding(np.array([3]), table)
    with pytest.raises(ValueError, match=r"index -1 is outside"):
        ops.embedding(np.array([-1]), table)
