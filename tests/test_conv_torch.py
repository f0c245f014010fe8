"""PyTorch as the oracle of the convolution family: forward values and every gradient.

Our ops take channels-last arrays and Keras kernel layouts; torch takes channels-first arrays and
``(out, in, KH, KW)`` weights (``(in, out, KH, KW)`` for transposed convolutions). Inputs are
converted, both libraries run in float64, and outputs, input gradients, kernel and bias gradients
must agree to ``rtol=1e-9, atol=1e-12``. Batch norm is compared in both modes with Keras' momentum
``m`` against torch's ``1 - m``; the moving variance differs by design (Keras averages the biased
batch variance, torch the unbiased one) and the test checks exactly that difference.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from scratchnn import ops
from test_torch_oracle import FEW, ORACLE, SEEDS, assert_close, leaf_pair

torch = pytest.importorskip(
    "torch", reason="PyTorch (test extra) is not installed: oracle tests skipped"
)
F = torch.nn.functional


def nchw(t):
    """A torch NCHW (or NCL) tensor as NHWC (or NLC)."""
    return t.permute(0, *range(2, t.ndim), 1)


def torch_input(array):
    """Our NHWC (or NLC) array as a torch NCHW (or NCL) leaf."""
    a = np.moveaxis(np.asarray(array, dtype=np.float64), -1, 1).copy()
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def torch_kernel(kernel):
    """Keras' ``(KH, KW, C, F)`` as torch's ``(F, C, KH, KW)``; a transposed convolution's
    ``(KH, KW, F, C)`` as torch's ``(C, F, KH, KW)``: the same permutation (1-D kernels too)."""
    k = np.asarray(kernel, dtype=np.float64)
    order = (k.ndim - 1, k.ndim - 2, *range(k.ndim - 2))
    return torch.tensor(k.transpose(order).copy(), requires_grad=True)


def back_to_keras(grad, ndim):
    """torch's kernel gradient in Keras' layout (the inverse permutation of torch_kernel)."""
    return grad.permute(*range(2, ndim), 1, 0)


def backward_both(ours, theirs, seed):
    """Back-propagate the same random weighting of the output in both libraries."""
    r = np.random.default_rng(seed).standard_normal(ours.shape)
    (ours * r).sum().backward()
    (theirs * torch.tensor(np.moveaxis(r, -1, 1).copy())).sum().backward()


@given(
    st.integers(3, 8), st.integers(3, 8), st.integers(1, 3), st.integers(1, 3),
    st.integers(1, 2), st.integers(0, 2), st.booleans(), SEEDS,
)
@ORACLE
def test_conv2d_against_torch(h, w, k, stride, dilation, pad, use_bias, seed):
    assume(h + 2 * pad >= (k - 1) * dilation + 1 and w + 2 * pad >= (k - 1) * dilation + 1)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, h, w, 3))
    kernel = rng.standard_normal((k, k, 3, 4))
    b = rng.standard_normal(4)
    ox, tx = leaf_pair(x)[0], torch_input(x)
    ok, tk = leaf_pair(kernel)[0], torch_kernel(kernel)
    ob, tb = leaf_pair(b) if use_bias else (None, None)
    ours = ops.conv2d(ox, ok, ob, stride, pad, dilation)
    theirs = F.conv2d(tx, tk, tb, stride=stride, padding=pad, dilation=dilation)
    assert_close(ours, nchw(theirs))
    backward_both(ours, theirs, seed)
    assert_close(ox.grad, nchw(tx.grad))
    assert_close(ok.grad, back_to_keras(tk.grad, 4))
    if use_bias:
        assert_close(ob.grad, tb.grad)


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")  # torch's own notice
@given(st.integers(4, 10), st.integers(1, 3), st.integers(1, 2), st.integers(1, 2),
       st.sampled_from([0, 1, "same"]), SEEDS)
@ORACLE
def test_conv1d_against_torch(length, k, stride, dilation, pad, seed):
    assume(pad != "same" or stride == 1)  # torch's "same" takes stride 1 only
    assume(length + 2 * (pad if pad != "same" else 0) >= (k - 1) * dilation + 1)
    rng = np.random.default_rng(seed)
    x, kernel, b = rng.standard_normal((2, length, 3)), rng.standard_normal((k, 3, 2)), \
        rng.standard_normal(2)
    ox, ok, ob = (leaf_pair(a)[0] for a in (x, kernel, b))
    tx, tk, tb = torch_input(x), torch_kernel(kernel), leaf_pair(b)[1]
    ours = ops.conv1d(ox, ok, ob, stride, pad, dilation)
    theirs = F.conv1d(tx, tk, tb, stride=stride, padding=pad, dilation=dilation)
    assert_close(ours, nchw(theirs))
    backward_both(ours, theirs, seed)
    assert_close(ox.grad, nchw(tx.grad))
    assert_close(ok.grad, back_to_keras(tk.grad, 3))
    assert_close(ob.grad, tb.grad)


@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 2), st.integers(0, 1), SEEDS)
@ORACLE
def test_conv_transpose2d_against_torch(h, w, k, stride, dilation, pad, seed):
    assume((k - 1) * dilation + 1 > 2 * pad)
    rng = np.random.default_rng(seed)
    x, kernel, b = rng.standard_normal((2, h, w, 3)), rng.standard_normal((k, k, 4, 3)), \
        rng.standard_normal(4)
    ox, ok, ob = (leaf_pair(a)[0] for a in (x, kernel, b))
    tx, tk, tb = torch_input(x), torch_kernel(kernel), leaf_pair(b)[1]
    ours = ops.conv2d_transpose(ox, ok, ob, stride, pad, dilation)
    theirs = F.conv_transpose2d(tx, tk, tb, stride=stride, padding=pad, dilation=dilation)
    assert_close(ours, nchw(theirs))
    backward_both(ours, theirs, seed)
    assert_close(ox.grad, nchw(tx.grad))
    assert_close(ok.grad, back_to_keras(tk.grad, 4))
    assert_close(ob.grad, tb.grad)


@given(st.sampled_from(["max", "avg"]), st.sampled_from([1, 2]), st.integers(1, 3),
       st.sampled_from([None, 1, 2]), st.integers(0, 1), SEEDS)
@ORACLE
def test_pools_against_torch(kind, rank, size, stride, pad, seed):
    assume(pad <= size // 2)  # torch's limit on padding
    rng = np.random.default_rng(seed)
    shape = (2, *(6,) * rank, 3)
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.1 + rng.uniform(0, 0.01, shape)
    ox = leaf_pair(x)[0]
    tx = torch_input(x)
    ours = getattr(ops, f"{kind}_pool{rank}d")(ox, size, stride, pad)
    if kind == "max":
        theirs = getattr(F, f"max_pool{rank}d")(tx, size, stride, pad)
    else:  # Keras averages the real entries only
        theirs = getattr(F, f"avg_pool{rank}d")(tx, size, stride, pad, count_include_pad=False)
    assert_close(ours, nchw(theirs))
    backward_both(ours, theirs, seed)
    assert_close(ox.grad, nchw(tx.grad))


def test_max_pool_ties_go_where_torch_sends_them():
    x = np.zeros((1, 4, 4, 2))  # all ties
    ox = leaf_pair(x)[0]
    tx = torch_input(x)
    ours, theirs = ops.max_pool2d(ox, 2), F.max_pool2d(tx, 2)
    backward_both(ours, theirs, 0)
    assert_close(ox.grad, nchw(tx.grad))


@given(st.booleans(), st.sampled_from([(6, 4), (3, 5, 4, 2), (2, 3, 3)]), st.floats(0.5, 0.99),
       SEEDS)
@FEW
def test_batch_norm_against_torch_both_modes(training, shape, momentum, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2 + 1
    c = shape[-1]
    gamma, beta = rng.uniform(0.5, 2, c), rng.standard_normal(c)
    mean0, var0 = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    (ox, _), (og, tg), (ob, tb) = leaf_pair(x), leaf_pair(gamma), leaf_pair(beta)
    tx = torch_input(x)
    ours_mean, ours_var = mean0.copy(), var0.copy()
    torch_mean, torch_var = torch.tensor(mean0), torch.tensor(var0)
    ours = ops.batch_norm(ox, og, ob, ours_mean, ours_var, training=training, momentum=momentum,
                          epsilon=1e-3)
    theirs = F.batch_norm(tx, torch_mean, torch_var, tg, tb, training=training,
                          momentum=1 - momentum, eps=1e-3)
    assert_close(ours, nchw(theirs))
    backward_both(ours, theirs, seed)
    assert_close(ox.grad, nchw(tx.grad))
    assert_close(og.grad, tg.grad)
    assert_close(ob.grad, tb.grad)
    np.testing.assert_allclose(ours_mean, torch_mean.numpy(), rtol=1e-9, atol=1e-12)
    if training:  # torch averages the unbiased variance, Keras the biased one
        count = x.size // c
        biased = x.reshape(-1, c).var(axis=0)
        expected = torch_var.numpy() - (1 - momentum) * biased * (count / (count - 1) - 1)
        np.testing.assert_allclose(ours_var, expected, rtol=1e-9, atol=1e-12)
    else:
        np.testing.assert_array_equal(ours_var, var0)
