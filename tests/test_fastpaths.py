"""Every fast path of the engine and the training loop agrees with the plain path beside it.

The fast paths (issue 6, measured by ``benchmarks/run.py``):

* ``ops.linear(..., activation=...)``: relu / tanh / sigmoid fused into the affine node (Dense);
* the fused losses with ``reduction="mean"``: loss and batch mean as one node (Sequential);
* ``Tensor.backward``: stamp-ordered walk, leaf gradients not copied when nobody else holds them;
* built-in accuracies on prepared targets (``compiled.prepared_accuracy``);
* ``predict`` returning a single batch's own array; ``as_features`` accepting ready arrays;
* full-batch ``fit`` skipping the pointless reshuffle; the sum-based finiteness checks.
"""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import Sequential, Tensor, losses, metrics, ops, optimizers
from scratchnn.layers import Activation, Dense, Dropout, Input
from scratchnn.models import data
from scratchnn.models.compiled import MetricTracker, prepared_accuracy

DTYPES = ("float32", "float64")


def tensors(*arrays, dtype="float64"):
    return [Tensor(a, dtype=dtype, requires_grad=True) for a in arrays]


def grads_of(out, *leaves):
    out.backward(np.ones_like(out.data))
    return [leaf.grad for leaf in leaves]


# ------------------------------------------------------------------- linear + activation
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("rows, units", [(7, 5), (300, 3), (300, 1), (1, 40)])
def test_fused_activation_equals_the_activation_op_bit_for_bit(dtype, activation, rows, units):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(rows, 4)), rng.normal(size=(4, units)), rng.normal(size=units)
    fast = tensors(x, w, b, dtype=dtype)
    plain = tensors(x, w, b, dtype=dtype)
    out_fast = ops.linear(*fast, activation=activation)
    out_plain = ops.FUSED_ACTIVATIONS[activation](ops.linear(*plain))
    np.testing.assert_array_equal(out_fast.data, out_plain.data)
    for g_fast, g_plain in zip(grads_of(out_fast, *fast), grads_of(out_plain, *plain),
                               strict=True):
        np.testing.assert_array_equal(g_fast, g_plain)
    assert out_fast._op == activation  # one node


def test_linear_refuses_an_activation_it_cannot_fuse():
    x, w = tensors(np.ones((2, 3)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="activation must be one of"):
        ops.linear(x, w, activation="softmax")


def test_dense_fuses_its_activation_and_matches_a_separate_activation_layer():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 6))
    fused = Sequential([Input((6,)), Dense(4, activation="tanh")], seed=3, dtype="float64")
    plain = Sequential([Input((6,)), Dense(4), Activation("tanh")], seed=3, dtype="float64")
    out_fused, out_plain = fused(x), plain(x)
    np.testing.assert_array_equal(out_fused.data, out_plain.data)
    out_fused.sum().backward()
    out_plain.sum().backward()
    for a, b in zip(fused.params, plain.params, strict=True):
        np.testing.assert_array_equal(a.grad, b.grad)


# --------------------------------------------------------------------------------- layout
@pytest.mark.parametrize("rows, units", [(10, 3), (500, 64), (300, 1), (300, 3)])
def test_a_narrow_layer_is_units_first_and_its_input_gradient_keeps_the_input_layout(rows,
                                                                                    units):
    rng = np.random.default_rng(3)
    x, w, b = tensors(rng.normal(size=(rows, 5)), rng.normal(size=(5, units)),
                      rng.normal(size=units))
    hidden = ops.linear(x, w, b, "tanh")
    narrow = units < ops.core.NARROW_UNITS and rows >= ops.core.NARROW_MIN_ROWS
    assert hidden.data.flags.f_contiguous == narrow or units == 1
    # the next layer hands back a gradient in its input's layout, and the values are the maths
    v = Tensor(rng.normal(size=(units, 2)), requires_grad=True)
    out = ops.linear(hidden, v)
    g = rng.normal(size=out.shape)
    gx = out._backward(g)[0]
    assert gx.flags.f_contiguous == hidden.data.flags.f_contiguous
    assert gx.flags.c_contiguous == hidden.data.flags.c_contiguous
    np.testing.assert_allclose(gx, g @ v.data.T, rtol=1e-12)
    np.testing.assert_allclose(hidden.data, np.tanh(x.data @ w.data + b.data), rtol=1e-12)


def test_predict_hands_out_row_major_arrays_of_narrow_layers():
    model = Sequential([Input((4,)), Dense(3, activation="tanh")], seed=0)
    x = np.random.default_rng(0).normal(size=(600, 4))
    assert model.predict(x).flags.c_contiguous  # one batch
    assert model.predict(x, batch_size=256).flags.c_contiguous  # several


# ---------------------------------------------------------------------- fused loss + mean
def _loss_case(name, k, dtype, rng):
    n = 23
    x = rng.normal(size=(n, k) if k else (n,)) * 4
    if name == "sparse_categorical_crossentropy":
        return x, rng.integers(0, k, n), ops.sparse_softmax_crossentropy
    if name == "categorical_crossentropy":
        return x, np.eye(k)[rng.integers(0, k, n)].astype(dtype), ops.softmax_crossentropy
    return x, rng.integers(0, 2, x.shape).astype(dtype), ops.sigmoid_binary_crossentropy


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "name, k",
    [("sparse_categorical_crossentropy", 5), ("categorical_crossentropy", 4),
     ("binary_crossentropy", 1), ("binary_crossentropy", 3), ("binary_crossentropy", 0)],
)
def test_mean_reduction_in_the_op_equals_the_loss_object_bit_for_bit(dtype, name, k):
    x, y, op = _loss_case(name, k, dtype, np.random.default_rng(4))
    fast, plain = tensors(x, x, dtype=dtype)
    value_fast = op(fast, y, reduction="mean")
    value_plain = losses.get({"name": name, "from_logits": True})(y, plain)
    assert value_fast.shape == () and value_fast.data == value_plain.data
    value_fast.backward()
    value_plain.backward()
    np.testing.assert_array_equal(fast.grad, plain.grad)


@pytest.mark.parametrize("name, k", [("sparse_categorical_crossentropy", 5),
                                     ("categorical_crossentropy", 4), ("binary_crossentropy", 3)])
def test_a_mean_loss_value_is_computed_when_read_and_the_gradient_does_not_need_it(name, k):
    x, y, op = _loss_case(name, k, "float64", np.random.default_rng(5))
    unread, read = tensors(x, x)
    lazy = op(unread, y, reduction="mean")
    assert lazy._compute is not None  # nothing computed yet ...
    assert (lazy.shape, lazy.ndim, lazy.size, lazy.dtype) == ((), 0, 1, np.dtype("float64"))
    lazy.backward(np.asarray(1.0))  # ... not even by a backward pass given its seed
    assert lazy._compute is not None
    eager = op(read, y, reduction="mean")
    value = float(eager.data)  # read: computed now, once
    eager.backward()
    np.testing.assert_array_equal(unread.grad, read.grad)
    assert eager._compute is None and float(eager.data) == value
    expected = float(np.mean(op(Tensor(x, dtype="float64"), y).data))  # element-wise, meaned
    assert value == pytest.approx(expected, rel=1e-12)
    assert float(lazy.data) == value


def test_fused_loss_refuses_an_unknown_reduction():
    (x,) = tensors(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="reduction must be 'none' or 'mean'"):
        ops.softmax_crossentropy(x, np.eye(3)[[0, 1]], reduction="sum")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "loss, activation, k",
    [("sparse_categorical_crossentropy", "softmax", 4), ("categorical_crossentropy", "softmax", 4),
     ("binary_crossentropy", "sigmoid", 1), ("binary_crossentropy", "sigmoid", 2)],
)
def test_sequential_one_node_loss_equals_the_loss_object(dtype, loss, activation, k):
    rng = np.random.default_rng(5)
    layers = [Input((6,)), Dense(300, activation="relu"), Dense(k, activation=activation)]
    model = Sequential(layers, seed=0, dtype=dtype)
    model.compile(optimizer="sgd", loss=loss)
    x = rng.normal(size=(40, 6))
    labels = rng.integers(0, k, 40)
    y = {"sparse_categorical_crossentropy": labels,
         "categorical_crossentropy": np.eye(k)[labels]}.get(loss, rng.integers(0, 2, (40, k)))
    batch = model._prepare(x, y).batch()
    for p in model.params:
        p.grad = None
    value, _ = model.compute_loss(*batch, training=True)  # one fused node
    assert value._op.endswith("_mean")
    value.backward()
    fast = (value.data, [p.grad.copy() for p in model.params])
    for p in model.params:
        p.grad = None
    hidden = model.layers[0](Tensor(batch[0], dtype=dtype))
    logits = model.layers[1].pre_activation(hidden)
    plain = losses.get({"name": loss, "from_logits": True})(batch[1], logits)
    plain.backward()
    assert fast[0] == plain.data
    for a, p in zip(fast[1], model.params, strict=True):
        np.testing.assert_array_equal(a, p.grad)


# --------------------------------------------------------------------------------- backward
def test_leaf_gradients_are_not_copied_when_nobody_else_holds_them():
    x, w = tensors(np.ones((3, 2)), np.ones((2, 4)))
    out = ops.linear(x, w)
    out.backward(np.ones((3, 4)))
    assert w.grad.base is None and x.grad.base is None


def test_one_array_handed_to_two_leaves_is_copied_for_each():
    a, b = tensors(np.ones(3), np.ones(3))
    (a + b).backward(np.ones(3))
    assert a.grad is not b.grad
    a.grad *= 2  # in place: must not change b's gradient
    np.testing.assert_array_equal(b.grad, np.ones(3))


def test_backward_order_holds_for_tensors_created_out_of_order():
    # a parent is always created before its child; the walk takes the newest pending node first
    x = Tensor(2.0, dtype="float64", requires_grad=True)
    late_constant = Tensor(3.0, dtype="float64")
    y = x * x  # created after the constant
    z = y * late_constant + y
    z.backward()
    assert x.grad == pytest.approx(2 * 2.0 * 4.0)


# ------------------------------------------------------------------------------ metrics
@pytest.mark.parametrize("shape", [(50, 1), (50, 3)])
def test_prepared_binary_accuracy_equals_the_metric(shape):
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, shape).astype(np.float32)
    p = rng.random(shape).astype(np.float32)
    p[0, 0] = 0.5  # the threshold itself counts as 0, as in the metric
    assert prepared_accuracy(metrics.binary_accuracy, y, p) == metrics.binary_accuracy(y, p)


def test_prepared_binary_accuracy_leaves_soft_targets_to_the_metric():
    y = np.array([[0.3], [1.0]], dtype=np.float32)
    p = np.array([[0.2], [0.9]], dtype=np.float32)
    assert prepared_accuracy(metrics.binary_accuracy, y, p) is None


def test_prepared_categorical_accuracies_equal_the_metrics():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 4, 60)
    p = rng.random((60, 4))
    assert prepared_accuracy(metrics.sparse_categorical_accuracy, labels, p) == (
        metrics.sparse_categorical_accuracy(labels, p)
    )
    onehot = np.eye(4)[labels]
    assert prepared_accuracy(metrics.categorical_accuracy, onehot, p) == (
        metrics.categorical_accuracy(onehot, p)
    )
    assert prepared_accuracy(metrics.auc, labels, p) is None


def test_fit_logs_the_same_accuracy_through_either_path():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(120, 2))
    y = (x[:, 0] > x[:, 1]).astype(int)
    model = Sequential([Input((2,)), Dense(3, activation="tanh"), Dense(1, activation="sigmoid")],
                       seed=0)
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    ya = model._prepare(x, y).ys[0]
    out = model.predict(x)
    tracker = MetricTracker([("accuracy", metrics.binary_accuracy)])
    assert tracker.compute(ya, out) == {"accuracy": metrics.binary_accuracy(ya, out)}


# ------------------------------------------------------------------------ predict, data
def test_predict_one_batch_equals_many_batches_and_is_row_major():
    rng = np.random.default_rng(9)
    model = Sequential([Input((5,)), Dense(7, activation="relu"), Dense(3, activation="softmax")],
                       seed=0)
    x = rng.normal(size=(600, 5)).astype(np.float32)
    whole, pieces = model.predict(x), model.predict(x, batch_size=64)
    np.testing.assert_allclose(whole, pieces, rtol=1e-6)
    assert whole.flags.c_contiguous and pieces.flags.c_contiguous
    narrow = Sequential([Input((5,)), Dense(2)], seed=0).predict(x)
    assert narrow.flags.c_contiguous


def test_predict_never_returns_the_callers_array():
    x = np.ones((4, 3), dtype=np.float32)
    out = Sequential([Input((3,)), Dropout(0.5)], seed=0).predict(x)
    assert out is not x and not np.shares_memory(out, x)


def test_as_features_takes_a_ready_array_as_is_and_still_checks_it():
    x = np.ones((3, 2), dtype=np.float32)
    assert data.as_features(x, np.float32) is x
    np.testing.assert_array_equal(data.as_features(x.tolist(), np.float32), x)
    x[1, 1] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite value; the first is nan at row 1"):
        data.as_features(x, np.float32)


def test_check_finite_handles_a_sum_that_overflows():
    big = np.full((4,), 3e38, dtype=np.float32)
    data.check_finite(big, "x")  # finite values whose sum overflows pass
    big[2] = np.inf
    with pytest.raises(ValueError, match="1 NaN or infinite value"):
        data.check_finite(big, "x")


def test_weights_finite_with_huge_and_infinite_weights():
    model = Sequential([Input((2,)), Dense(3)], seed=0)
    model.params[0].data[...] = 3e38
    with np.errstate(over="ignore"):  # as in fit, which checks under this errstate
        assert model._weights_finite()
        model.params[0].data[0, 0] = np.inf
        assert not model._weights_finite()


# ------------------------------------------------------------------------------ full batch
def test_full_batch_fit_does_not_reshuffle_and_leaves_the_generator_alone():
    rng = np.random.default_rng(10)
    x = rng.normal(size=(64, 2))
    y = (x.sum(axis=1) > 0).astype(int)
    weights = []
    for shuffle in (True, False):
        model = Sequential([Input((2,)), Dense(4, activation="tanh"),
                            Dense(1, activation="sigmoid")], seed=1)
        model.compile(optimizer=optimizers.SGD(0.5), loss="binary_crossentropy")
        before = model._rng.bit_generator.state
        model.fit(x, y, batch_size=None, epochs=5, shuffle=shuffle, verbose=0)
        weights.append(model.get_weights())
        assert model._rng.bit_generator.state == before
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_check_finite_by_blas_on_large_arrays():
    big = np.ones((2048, 600), dtype=np.float32)  # over data._BLAS_SUM_MIN values
    assert big.size >= data._BLAS_SUM_MIN
    data.check_finite(big, "x")
    big[5, 7], big[5, 9] = np.inf, -np.inf  # cancel in a row sum: still caught
    with pytest.raises(ValueError, match="2 NaN or infinite values; the first is inf at row 5"):
        data.check_finite(big, "x")
    big[5] = 3e38  # finite, but the row sums overflow
    data.check_finite(big, "x")


def test_shuffled_batches_from_the_reused_buffer_equal_plainly_indexed_batches():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(70, 3)).astype(np.float32)
    y = rng.integers(0, 3, 70)

    def model():
        m = Sequential([Input((3,)), Dense(5, activation="relu"), Dense(3, activation="softmax")],
                       seed=2)
        m.compile(optimizer=optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        return m

    fitted, stepped = model(), model()
    fitted.fit(x, y, batch_size=16, epochs=1, seed=7, verbose=0)  # last batch: 6 rows
    order = np.random.default_rng(7).permutation(len(x))
    for lo in range(0, len(x), 16):
        stepped.train_on_batch(x[order[lo : lo + 16]], y[order[lo : lo + 16]])
    for a, b in zip(fitted.get_weights(), stepped.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [1, 7, 4095, 4096, 20_000])
def test_relu_takes_max_with_zero_on_both_sides_of_the_clip_threshold(dtype, size):
    """Small arrays use ``maximum``, large ones a clip: the same values (NaN, ±inf included)."""
    from scratchnn.ops.core import _RELU_CLIP_MIN, _relu

    assert 7 < _RELU_CLIP_MIN <= 20_000  # the sizes above reach both paths
    x = np.random.default_rng(size).normal(size=size).astype(dtype)
    x[: min(size, 4)] = [np.nan, -np.inf, np.inf, -0.0][: min(size, 4)]
    expected = np.maximum(x, 0)
    np.testing.assert_array_equal(_relu(x), expected)
    y = x.copy()
    assert _relu(y, out=y) is y
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("rows", [1, 3, 5000])
def test_small_and_large_inputs_are_both_checked_for_nan_and_inf(rows):
    """The small-array finiteness check (``isfinite``) and the sum-based one refuse alike."""
    x = np.ones((rows, 2), dtype=np.float32)
    data.check_finite(x, "x")
    x[-1, 1] = np.inf
    with pytest.raises(ValueError, match=r"x contains 1 NaN or infinite value"):
        data.check_finite(x, "x")
