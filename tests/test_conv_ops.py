"""The ops of ``scratchnn.ops.conv``: gradchecks over random geometries, plain-NumPy forwards.

Every op is gradchecked (float64, central differences) over shapes, strides, paddings and
dilations drawn by hypothesis, and its forward is compared with a direct loop over output
positions written here, so a wrong forward cannot pass with a matching wrong backward. Max-pool
inputs are distinct values (no ties within a window, so the maximum is differentiable). The block
path of the convolution (images processed a block at a time) and the fused activation are checked
against the plain forms.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from scratchnn import Tensor, ops
from scratchnn.ops import conv as conv_ops
from test_ops_gradcheck import CHECK, FEW, SEEDS, assert_gradcheck, distinct, t64

# --- coverage ------------------------------------------------------------------------------------

COVERED = {
    "conv1d", "conv2d", "conv2d_transpose", "max_pool1d", "max_pool2d", "avg_pool1d",
    "avg_pool2d", "global_avg_pool1d", "global_avg_pool2d", "global_max_pool1d",
    "global_max_pool2d", "upsample2d", "pad", "batch_norm",
}  # fmt: skip
HELPERS = {
    "check_ints", "check_padding", "check_data_format", "spatial_output_shape",
    "spatial_padding",
}  # fmt: skip


def test_every_public_conv_op_is_gradchecked_here():
    public = {
        name
        for name, fn in inspect.getmembers(conv_ops, inspect.isfunction)
        if fn.__module__ == "scratchnn.ops.conv" and not name.startswith("_")
    }
    assert public - COVERED - HELPERS == set()
    assert all(hasattr(ops, name) for name in COVERED | {"spatial_output_shape", "spatial_padding"})


# --- references: direct loops over output positions ----------------------------------------------


def explicit_pads(padding, sizes, window, strides, dilation):
    """``(before, after)`` per axis, computed independently of the library (TensorFlow's rule)."""
    eff = [(k - 1) * d + 1 for k, d in zip(window, dilation, strict=True)]
    if padding == "valid":
        return [(0, 0)] * len(sizes)
    if padding == "causal":
        return [(eff[0] - 1, 0)]
    if padding == "same":
        pads = []
        for n, k, s in zip(sizes, eff, strides, strict=True):
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        return pads
    if isinstance(padding, int):
        return [(padding, padding)] * len(sizes)
    return [tuple(p) if not isinstance(p, int) else (p, p) for p in padding]


@pytest.mark.parametrize("padding", ["valid", "same", "causal", 2, ((1, 0),)])
@pytest.mark.parametrize("size, window, stride, dilation", [
    (7, 3, 2, 1), (6, 3, 2, 1), (8, 4, 3, 1), (9, 3, 1, 2), (5, 2, 3, 1), (1, 1, 1, 1),
])  # fmt: skip
def test_spatial_padding_is_the_reference_rule(padding, size, window, stride, dilation):
    """The pads exporters write: the extra zero of an odd "same" total after (TensorFlow)."""
    expected = explicit_pads(padding, (size,), (window,), (stride,), (dilation,))
    got = ops.spatial_padding((size,), window, stride, padding, dilation)
    assert [tuple(p) for p in got] == [tuple(p) for p in expected]


def reference_conv2d(x, w, b, strides, pads, dilation):
    """``(N, H, W, C)`` * ``(KH, KW, C, F)`` by a loop over output pixels."""
    (t, bo), (le, r) = pads
    xp = np.pad(x, ((0, 0), (t, bo), (le, r), (0, 0)))
    kh, kw, _, f = w.shape
    eh, ew = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
    oh = (xp.shape[1] - eh) // strides[0] + 1
    ow = (xp.shape[2] - ew) // strides[1] + 1
    out = np.zeros((x.shape[0], oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * strides[0] : i * strides[0] + eh : dilation[0],
                       j * strides[1] : j * strides[1] + ew : dilation[1], :]
            out[:, i, j] = np.einsum("nabc,abcf->nf", patch, w)
    return out + (0 if b is None else b)


def reference_pool2d(x, size, strides, pads, kind):
    """Max (padding never wins) or mean over real entries, by a loop over output pixels."""
    (t, bo), (le, r) = pads
    fill = -np.inf if kind == "max" else np.nan
    xp = np.pad(x, ((0, 0), (t, bo), (le, r), (0, 0)), constant_values=fill)
    oh = (xp.shape[1] - size[0]) // strides[0] + 1
    ow = (xp.shape[2] - size[1]) // strides[1] + 1
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * strides[0] : i * strides[0] + size[0],
                       j * strides[1] : j * strides[1] + size[1]]
            out[:, i, j] = patch.max(axis=(1, 2)) if kind == "max" else np.nanmean(
                patch, axis=(1, 2))
    return out


# --- strategies -----------------------------------------------------------------------------------

PADDINGS_2D = st.one_of(
    st.sampled_from(["valid", "same"]),
    st.integers(0, 2),
    st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
              st.tuples(st.integers(0, 2), st.integers(0, 2))),
)


@st.composite
def conv2d_cases(draw):
    n = draw(st.integers(1, 2))
    c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    window = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    sizes = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    padding = draw(PADDINGS_2D)
    pads = explicit_pads(padding, sizes, window, strides, dilation)
    for size, k, d, (a, b) in zip(sizes, window, dilation, pads, strict=True):
        assume(size + a + b >= (k - 1) * d + 1)
    return n, sizes, c, f, window, strides, dilation, padding, pads


@given(conv2d_cases(), st.booleans(), SEEDS)
@CHECK
def test_conv2d_forward_and_gradcheck(case, use_bias, seed):
    n, sizes, c, f, window, strides, dilation, padding, pads = case
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, *sizes, c))
    w = rng.uniform(-1, 1, (*window, c, f))
    b = rng.uniform(-1, 1, f) if use_bias else None
    out = ops.conv2d(t64(x), t64(w), None if b is None else t64(b), strides, padding, dilation)
    np.testing.assert_allclose(
        out.numpy(), reference_conv2d(x, w, b, strides, pads, dilation), rtol=1e-12, atol=1e-12
    )
    if use_bias:
        assert_gradcheck(lambda a, k, bb: ops.conv2d(a, k, bb, strides, padding, dilation),
                         x, w, b)
    else:
        assert_gradcheck(lambda a, k: ops.conv2d(a, k, None, strides, padding, dilation), x, w)


@given(st.integers(1, 9), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2),
       st.sampled_from(["valid", "same", "causal", 1, (2, 0)]), SEEDS)
@CHECK
def test_conv1d_is_conv2d_on_a_height_of_one_and_gradchecks(length, k, stride, dilation,
                                                             padding, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (2, length, 2))
    w = rng.uniform(-1, 1, (k, 2, 3))
    b = rng.uniform(-1, 1, 3)
    pad = explicit_pads(padding if not isinstance(padding, tuple) else [padding], (length,),
                        (k,), (stride,), (dilation,))[0]
    assume(length + sum(pad) >= (k - 1) * dilation + 1)
    out = ops.conv1d(t64(x), t64(w), t64(b), stride, padding, dilation)
    expected = reference_conv2d(x[:, None], w[None], b, (1, stride), [(0, 0), pad],
                                (1, dilation))[:, 0]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert_gradcheck(lambda a, kk, bb: ops.conv1d(a, kk, bb, stride, padding, dilation), x, w, b)


def test_causal_conv1d_output_does_not_see_the_future():
    x = np.zeros((1, 6, 1))
    x[0, 4, 0] = 1.0  # a spike at t = 4
    out = ops.conv1d(t64(x), t64(np.ones((3, 1, 1))), padding="causal", dilation_rate=2)
    assert out.shape == (1, 6, 1)
    assert out.numpy()[0, :, 0].tolist() == [0, 0, 0, 0, 1, 0]


@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 2), st.sampled_from(["valid", "same", 0, 1, ((1, 0), (0, 1))]),
       st.booleans(), SEEDS)
@CHECK
def test_conv2d_transpose_is_the_input_gradient_of_conv2d_and_gradchecks(
    h, w, k, stride, dilation, padding, use_bias, seed
):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (2, h, w, 2))
    kernel = rng.uniform(-1, 1, (k, k, 3, 2))  # (KH, KW, F, C)
    b = rng.uniform(-1, 1, 3) if use_bias else None
    try:
        out = ops.conv2d_transpose(t64(x), t64(kernel), None if b is None else t64(b), stride,
                                   padding, dilation)
    except ValueError:
        assume(False)  # padding that crops the whole output
    # The defining identity: <conv2d_transpose(x), y> = <x, conv2d(y)> for the conv2d that maps
    # the output's size back to x's (the kernel read as (KH, KW, F, C) -> C channels).
    y = rng.uniform(-1, 1, out.shape)
    back = ops.conv2d(t64(y), t64(kernel), None, stride, padding, dilation)
    assert back.shape == x.shape
    bias_term = 0.0 if b is None else float((y.sum(axis=(0, 1, 2)) * b).sum())
    np.testing.assert_allclose(
        float((out.numpy() * y).sum()), float((back.numpy() * x).sum()) + bias_term, rtol=1e-10
    )
    if use_bias:
        assert_gradcheck(
            lambda a, kk, bb: ops.conv2d_transpose(a, kk, bb, stride, padding, dilation),
            x, kernel, b,
        )
    else:
        assert_gradcheck(
            lambda a, kk: ops.conv2d_transpose(a, kk, None, stride, padding, dilation), x, kernel
        )


def test_conv2d_transpose_output_sizes_follow_keras():
    x = t64(np.ones((1, 5, 7, 2)))
    kernel = t64(np.ones((3, 3, 4, 2)))
    assert ops.conv2d_transpose(x, kernel, strides=2, padding="same").shape == (1, 10, 14, 4)
    assert ops.conv2d_transpose(x, kernel, strides=2).shape == (1, 11, 15, 4)
    assert ops.spatial_output_shape((5, 7), 3, 2, "same", transposed=True) == (10, 14)


@st.composite
def pool_cases(draw):
    size = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    strides = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    sizes = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    padding = draw(st.sampled_from(["valid", "same", ((0, 1), (1, 0))]))
    step = size if strides is None else strides
    pads = explicit_pads(padding, sizes, size, step, (1, 1))
    for n, k, (a, b) in zip(sizes, size, pads, strict=True):
        assume(n + a + b >= k)
        assume(a < k and b < k)  # every window holds a real entry
    return size, strides, sizes, padding, pads


@given(pool_cases(), st.sampled_from(["max", "avg"]), SEEDS)
@CHECK
def test_pool2d_forward_and_gradcheck(case, kind, seed):
    size, strides, sizes, padding, pads = case
    rng = np.random.default_rng(seed)
    x = distinct(rng, (2, *sizes, 2)) if kind == "max" else rng.uniform(-1, 1, (2, *sizes, 2))
    op = ops.max_pool2d if kind == "max" else ops.avg_pool2d
    out = op(t64(x), size, strides, padding)
    step = size if strides is None else strides
    np.testing.assert_allclose(out.numpy(), reference_pool2d(x, size, step, pads, kind),
                               rtol=1e-12, atol=1e-12)
    assert_gradcheck(lambda a: op(a, size, strides, padding), x)


@given(st.integers(1, 8), st.integers(1, 3), st.sampled_from([None, 1, 2]),
       st.sampled_from(["valid", "same"]), st.sampled_from(["max", "avg"]), SEEDS)
@CHECK
def test_pool1d_is_pool2d_on_a_height_of_one_and_gradchecks(length, size, stride, padding, kind,
                                                             seed):
    assume(padding == "same" or length >= size)
    rng = np.random.default_rng(seed)
    x = distinct(rng, (2, length, 3))
    op1, op2 = {"max": (ops.max_pool1d, ops.max_pool2d),
                "avg": (ops.avg_pool1d, ops.avg_pool2d)}[kind]
    out = op1(t64(x), size, stride, padding)
    wide = op2(t64(x[:, None]), (1, size), None if stride is None else (1, stride), padding)
    np.testing.assert_array_equal(out.numpy(), wide.numpy()[:, 0])
    assert_gradcheck(lambda a: op1(a, size, stride, padding), x)


def test_max_pool_gives_a_tied_window_gradient_to_its_first_maximum_only():
    x = np.zeros((1, 2, 4, 1))
    x[0, :, 2:, 0] = [[1.0, 3.0], [3.0, 2.0]]  # second window: 3 twice, first in reading order
    t = Tensor(x, dtype="float64", requires_grad=True)
    ops.max_pool2d(t, 2).sum().backward()
    assert t.grad[0, :, :, 0].tolist() == [[1, 0, 0, 1], [0, 0, 0, 0]]


@given(st.sampled_from([1, 2]), st.booleans(), st.sampled_from(["avg", "max"]), SEEDS)
@FEW
def test_global_pooling_forward_and_gradcheck(rank, keepdims, kind, seed):
    rng = np.random.default_rng(seed)
    x = distinct(rng, (2, *(3,) * rank, 2))
    op = getattr(ops, f"global_{kind}_pool{rank}d")
    out = op(t64(x), keepdims=keepdims).numpy()
    axes = tuple(range(1, rank + 1))
    expected = x.max(axis=axes, keepdims=keepdims) if kind == "max" else x.mean(
        axis=axes, keepdims=keepdims)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    first = op(t64(np.moveaxis(x, -1, 1)), data_format="channels_first", keepdims=False).numpy()
    np.testing.assert_allclose(first, expected.reshape(2, -1) if keepdims else expected)
    assert_gradcheck(lambda a: op(a, keepdims=keepdims), x)


@given(st.integers(1, 3), st.integers(1, 3), SEEDS)
@FEW
def test_upsample2d_repeats_pixels_and_gradchecks(sh, sw, seed):
    x = np.random.default_rng(seed).uniform(-1, 1, (2, 3, 2, 2))
    out = ops.upsample2d(t64(x), (sh, sw)).numpy()
    np.testing.assert_array_equal(out, x.repeat(sh, axis=1).repeat(sw, axis=2))
    assert_gradcheck(lambda a: ops.upsample2d(a, (sh, sw)), x)


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=3),
       st.floats(-2, 2), SEEDS)
@FEW
def test_pad_matches_numpy_and_gradchecks(pad_width, value, seed):
    x = np.random.default_rng(seed).uniform(-1, 1, (2,) * len(pad_width))
    out = ops.pad(t64(x), pad_width, value).numpy()
    np.testing.assert_array_equal(out, np.pad(x, pad_width, constant_values=value))
    assert_gradcheck(lambda a: ops.pad(a, pad_width, value), x)


@given(st.sampled_from([(4, 3), (3, 2, 2, 3), (2, 3, 4)]), st.sampled_from([-1, 1]),
       st.booleans(), st.booleans(), SEEDS)
@CHECK
def test_batch_norm_both_modes_forward_and_gradcheck(shape, axis, training, affine, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, shape)
    c = shape[axis]
    gamma, beta = rng.uniform(0.5, 1.5, c), rng.uniform(-1, 1, c)
    moving_mean, moving_var = rng.uniform(-1, 1, c), rng.uniform(0.5, 2, c)
    axes = tuple(i for i in range(len(shape)) if i != axis % len(shape))
    bshape = [c if i == axis % len(shape) else 1 for i in range(len(shape))]
    mean = x.mean(axis=axes) if training else moving_mean
    var = x.var(axis=axes) if training else moving_var
    expected = (x - mean.reshape(bshape)) / np.sqrt(var.reshape(bshape) + 1e-3)
    if affine:
        expected = expected * gamma.reshape(bshape) + beta.reshape(bshape)
    mm, mv = moving_mean.copy(), moving_var.copy()
    out = ops.batch_norm(t64(x), t64(gamma) if affine else None, t64(beta) if affine else None,
                         mm, mv, training=training, momentum=0.9, axis=axis)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    if training:  # Keras' update, biased variance
        np.testing.assert_allclose(mm, 0.9 * moving_mean + 0.1 * x.mean(axis=axes), rtol=1e-12)
        np.testing.assert_allclose(mv, 0.9 * moving_var + 0.1 * x.var(axis=axes), rtol=1e-12)
    else:
        assert np.array_equal(mm, moving_mean) and np.array_equal(mv, moving_var)

    def fn(a, *params):
        return ops.batch_norm(a, *(params or (None, None)), moving_mean.copy(),
                              moving_var.copy(), training=training, axis=axis)

    assert_gradcheck(fn, x, *((gamma, beta) if affine else ()))


# --- fast forms agree with the plain ones ---------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_fused_conv_activation_equals_the_separate_op_bit_for_bit(activation):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((3, 6, 5, 2)), rng.standard_normal((3, 3, 2, 4)), rng.random(4)
    r = rng.standard_normal((3, 6, 5, 4))
    results = []
    for fused in (True, False):
        ts = [Tensor(a, dtype="float64", requires_grad=True) for a in (x, w, b)]
        out = ops.conv2d(*ts, padding="same", activation=activation if fused else None)
        if not fused:
            out = getattr(ops, activation)(out)
        (out * r).sum().backward()
        results.append([out.numpy(), *(t.grad for t in ts)])
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_block_by_block_convolution_equals_one_block(monkeypatch):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((7, 9, 8, 3)), rng.standard_normal((3, 2, 3, 5)), rng.random(5)
    g = rng.standard_normal((7, 5, 4, 5))

    def run():
        ts = [Tensor(a, dtype="float64", requires_grad=True) for a in (x, w, b)]
        out = ops.conv2d(*ts, strides=(2, 2), padding="same", activation="relu")
        out.backward(g)
        return [out.numpy(), *(t.grad for t in ts)]

    monkeypatch.setattr(conv_ops, "BLOCK_BYTES", 1 << 30)
    whole = run()
    monkeypatch.setattr(conv_ops, "BLOCK_BYTES", 1)  # one image per block
    assert len(conv_ops._blocks(7, 100)) == 7
    blocked = run()
    for a, c in zip(whole, blocked, strict=True):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", ["conv2d", "conv2d_transpose", "max_pool2d", "avg_pool2d",
                                "upsample2d"])
def test_channels_first_equals_channels_last_transposed(op):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 5, 6, 3))
    g = None
    results = []
    for fmt in ("channels_last", "channels_first"):
        data = x if fmt == "channels_last" else np.moveaxis(x, -1, 1)
        t = Tensor(data, dtype="float64", requires_grad=True)
        args = {
            "conv2d": lambda t, f: ops.conv2d(t, t64(np.ones((2, 2, 3, 4))), strides=2,
                                              padding="same", data_format=f),
            "conv2d_transpose": lambda t, f: ops.conv2d_transpose(
                t, t64(np.ones((2, 2, 4, 3))), strides=2, data_format=f),
            "max_pool2d": lambda t, f: ops.max_pool2d(t, 2, padding="same", data_format=f),
            "avg_pool2d": lambda t, f: ops.avg_pool2d(t, 3, 1, "same", data_format=f),
            "upsample2d": lambda t, f: ops.upsample2d(t, 2, data_format=f),
        }[op]
        out = args(t, fmt)
        if g is None:
            g = rng.standard_normal(out.shape)
        out.backward(g if fmt == "channels_last" else np.moveaxis(g, -1, 1))
        last = out.numpy() if fmt == "channels_last" else np.moveaxis(out.numpy(), 1, -1)
        grad = t.grad if fmt == "channels_last" else np.moveaxis(t.grad, 1, -1)
        results.append((last, grad))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ops_keep_the_dtype(dtype):
    x = Tensor(np.ones((2, 6, 6, 3)), dtype=dtype, requires_grad=True)
    w = Tensor(np.ones((3, 3, 3, 2)), dtype=dtype, requires_grad=True)
    outs = [ops.conv2d(x, w), ops.conv2d_transpose(x, Tensor(np.ones((3, 3, 2, 3)), dtype=dtype)),
            ops.max_pool2d(x), ops.avg_pool2d(x, padding="same"), ops.upsample2d(x),
            ops.batch_norm(x, training=True), ops.pad(x, [(0, 0)] * 3 + [(1, 1)])]
    for out in outs:
        assert out.dtype == np.dtype(dtype)
        out.sum().backward()
    assert x.grad.dtype == np.dtype(dtype) and w.grad.dtype == np.dtype(dtype)


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ops.conv2d(t64(np.ones((1, 2, 2, 1))), t64(np.ones((3, 3, 1, 1)))),
         r"window 3x3 .* larger than the padded input 2x2 .*padding='same'"),
        (lambda: ops.conv2d(t64(np.ones((1, 5, 5, 1))), t64(np.ones((3, 3, 1, 1))), strides=0),
         r"strides must be a positive integer .* received strides=0"),
        (lambda: ops.conv2d(t64(np.ones((4, 25))), t64(np.ones((3, 3, 1, 1)))),
         r"expected a 4-D input \(N, H, W, C\); received shape \(4, 25\)"),
        (lambda: ops.conv2d(t64(np.ones((1, 5, 5, 2))), t64(np.ones((3, 3, 1, 1)))),
         r"2 channels .* expects 1"),
        (lambda: ops.max_pool2d(t64(np.ones((1, 1, 5, 1))), 2),
         r"window 2x2 .* larger than the padded input 1x5"),
        (lambda: ops.conv2d(t64(np.ones((1, 5, 5, 1))), t64(np.ones((3, 3, 1, 1))),
                            padding="full"),
         r"padding must be 'valid', 'same'"),
        (lambda: ops.conv2d(t64(np.ones((1, 5, 5, 1))), t64(np.ones((3, 3, 1, 1))),
                            data_format="NHWC"),
         r"data_format must be 'channels_last'"),
        (lambda: ops.batch_norm(t64(np.ones((1, 3))), training=True),
         r"more than one value per channel .* \(1, 3\)"),
        (lambda: ops.conv2d_transpose(t64(np.ones((1, 2, 2, 1))), t64(np.ones((2, 2, 1, 1))),
                                      padding=2),
         r"crops the whole"),
        (lambda: ops.pad(t64(np.ones((2, 2))), [(1, 1)]), r"one \(before, after\) pair"),
    ],
)
def test_bad_arguments_raise_value_errors_that_say_what_and_how(call, match):
    with pytest.raises(ValueError, match=match):
        call()
