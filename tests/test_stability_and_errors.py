"""Numerical stability at extreme inputs, and error messages for user mistakes.

Stability tests run with warnings turned into errors and NumPy raising on overflow, division by
zero and invalid operations (underflow to 0 is the intended behaviour of the stable forms, so it
stays allowed): a stable op must not even warn.

Error messages must say what was expected and what was received (STYLE.md, practice 7).
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

from scratchnn import Tensor, activations, layers, losses, ops


@pytest.fixture
def strict_numpy():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            yield


def leaf(values, dtype="float64"):
    return Tensor(values, dtype=dtype, requires_grad=True)


def assert_finite(*arrays):
    for array in arrays:
        assert np.all(np.isfinite(array)), array


# --- stability ---------------------------------------------------------------------------------

DTYPES = ["float32", "float64"]


@pytest.mark.usefixtures("strict_numpy")
@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_of_huge_inputs_saturates_without_overflow(dtype):
    x = leaf([-1000.0, 1000.0, -50.0, 0.0], dtype)
    y = ops.sigmoid(x)
    np.testing.assert_array_equal(y.numpy()[:2], [0.0, 1.0])
    assert y.numpy()[3] == 0.5
    assert 0 < y.numpy()[2] < 1e-20
    y.sum().backward()
    assert_finite(x.grad)
    np.testing.assert_array_equal(x.grad[:2], [0.0, 0.0])


@pytest.mark.usefixtures("strict_numpy")
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_of_huge_logits(dtype):
    x = leaf([[1000.0, 0.0], [-1000.0, 1000.0]], dtype)
    y = ops.softmax(x)
    np.testing.assert_array_equal(y.numpy(), [[1.0, 0.0], [0.0, 1.0]])
    (y * np.array([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert_finite(x.grad)


@pytest.mark.usefixtures("strict_numpy")
@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_of_huge_logits_is_finite_and_exact(dtype):
    x = leaf([[1e4, -1e4, 0.0], [3000.0, 3000.0, 3000.0]], dtype)
    y = ops.log_softmax(x)
    assert_finite(y.numpy())
    np.testing.assert_allclose(y.numpy()[0], [0.0, -2e4, -1e4], rtol=1e-6)
    np.testing.assert_allclose(y.numpy()[1], [-math.log(3)] * 3, rtol=1e-6)
    y.sum().backward()
    assert_finite(x.grad)


@pytest.mark.usefixtures("strict_numpy")
@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_and_elu_and_friends_of_huge_inputs(dtype):
    x = leaf([1000.0, -1000.0], dtype)
    np.testing.assert_array_equal(ops.softplus(x).numpy(), [1000.0, 0.0])
    np.testing.assert_array_equal(ops.elu(x).numpy(), [1000.0, -1.0])
    np.testing.assert_allclose(ops.selu(x).numpy(), [1000.0 * ops.SELU_SCALE,
                                                      -ops.SELU_ALPHA * ops.SELU_SCALE])
    np.testing.assert_array_equal(ops.swish(x).numpy(), [1000.0, 0.0])
    for fn in (ops.softplus, ops.elu, ops.selu, ops.swish, ops.tanh, ops.sigmoid):
        fn(x).sum().backward()
        assert_finite(x.grad)


@pytest.mark.usefixtures("strict_numpy")
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_on_probabilities_exactly_0_and_1_is_finite(dtype):
    p = leaf([[0.0], [1.0], [0.0], [1.0]], dtype)
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    loss = losses.BinaryCrossentropy(reduction="none")(y, p)
    values = loss.numpy()
    assert_finite(values)
    assert values[0] == pytest.approx(0.0, abs=1e-6)
    assert values[1] == pytest.approx(0.0, abs=1e-6)
    # Wrong and certain: clipped at eps = 1e-7, so -log(1e-7) ~ 16.1, not infinity (float32
    # rounds 1 - 1e-7 to 1 - 1.19e-7, hence the loose tolerance).
    assert values[2] == pytest.approx(-math.log(losses.EPSILON), rel=2e-2)
    assert values[3] == pytest.approx(-math.log(losses.EPSILON), rel=2e-2)
    loss.sum().backward()
    # The clipped probabilities pass no gradient (as a clip does), rather than -1/eps = -1e7.
    np.testing.assert_array_equal(p.grad, np.zeros((4, 1)))


@pytest.mark.usefixtures("strict_numpy")
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_from_logits_of_plus_minus_1000(dtype):
    x = leaf([[1000.0], [-1000.0], [1000.0], [-1000.0]], dtype)
    y = np.array([[1.0], [0.0], [0.0], [1.0]])
    loss = losses.BinaryCrossentropy(from_logits=True, reduction="none")(y, x)
    np.testing.assert_array_equal(loss.numpy(), [0.0, 0.0, 1000.0, 1000.0])
    loss.sum().backward()
    np.testing.assert_array_equal(x.grad.ravel(), [0.0, 0.0, 1.0, -1.0])


@pytest.mark.usefixtures("strict_numpy")
@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_crossentropy_with_a_zero_probability(dtype):
    p = leaf([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]], dtype)
    y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    loss = losses.CategoricalCrossentropy(reduction="none")(y, p)
    assert_finite(loss.numpy())
    np.testing.assert_allclose(loss.numpy(), [-math.log(losses.EPSILON)] * 2, rtol=1e-3)
    loss.sum().backward()
    assert_finite(p.grad)


@pytest.mark.usefixtures("strict_numpy")
@pytest.mark.parametrize("dtype", DTYPES)
def test_crossentropy_from_huge_logits(dtype):
    x = leaf([[1000.0, -1000.0, 0.0]], dtype)
    dense = losses.CategoricalCrossentropy(from_logits=True)(np.array([[0.0, 1.0, 0.0]]), x)
    sparse = losses.SparseCategoricalCrossentropy(from_logits=True)(np.array([1]), x)
    assert dense.item() == pytest.approx(2000.0)
    assert sparse.item() == pytest.approx(2000.0)
    (dense + sparse).backward()
    np.testing.assert_allclose(x.grad, [[2.0, -2.0, 0.0]], atol=1e-12)


# --- errors: shapes ------------------------------------------------------------------------------


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as info:
        ops.matmul(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5))))
    message = str(info.value)
    assert "(2, 3)" in message
    assert "(4, 5)" in message


def test_matmul_of_a_scalar_is_refused():
    with pytest.raises(ValueError, match=r"\(\)"):
        ops.matmul(Tensor(2.0), Tensor(np.ones(2)))


def test_reshape_to_an_impossible_shape_names_both():
    with pytest.raises(ValueError) as info:
        ops.reshape(Tensor(np.ones((2, 3))), (4, 2))
    message = str(info.value)
    assert "(2, 3)" in message
    assert "(4, 2)" in message


def test_loss_size_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as info:
        losses.MeanSquaredError()(np.ones((4, 1)), Tensor(np.ones((3, 1))))
    message = str(info.value)
    assert "(4, 1)" in message
    assert "(3, 1)" in message


def test_sample_weight_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match=r"\(2,\)"):
        losses.MeanSquaredError()(np.ones((3, 1)), Tensor(np.ones((3, 1))), sample_weight=[1, 2])


def test_backward_shape_errors_name_the_shapes():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        (x * 2.0).backward()


# --- errors: layers ----------------------------------------------------------------------------


@pytest.mark.parametrize("units", [0, -3, 2.5, True])
def test_dense_refuses_bad_units_and_echoes_them(units):
    with pytest.raises(ValueError, match=re.escape(f"units={units!r}")):
        layers.Dense(units)


def test_dense_fed_the_wrong_feature_count_names_the_layer_and_both_shapes():
    layer = layers.Dense(2, name="hidden_1")
    layer.build((3,), rng=np.random.default_rng(0))
    with pytest.raises(ValueError) as info:
        layer(np.ones((5, 4), dtype=np.float32))
    message = str(info.value)
    assert "hidden_1" in message
    assert "(5, 4)" in message  # received
    assert "(N, 3)" in message  # expected


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_dropout_refuses_rates_outside_0_1(rate):
    with pytest.raises(ValueError, match=re.escape(f"rate={rate!r}")):
        layers.Dropout(rate)
    with pytest.raises(ValueError, match=re.escape(f"rate={rate}")):
        ops.dropout(Tensor(np.ones(3)), rate, np.random.default_rng(0))


# --- errors: names ------------------------------------------------------------------------------


def test_unknown_activation_lists_the_accepted_names():
    with pytest.raises(ValueError) as info:
        activations.get("rleu")
    message = str(info.value)
    assert "'rleu'" in message
    for name in activations.ACTIVATIONS:
        assert name in message
    with pytest.raises(ValueError, match="'rleu'"):
        layers.Dense(3, activation="rleu")


def test_unknown_loss_lists_the_accepted_names():
    with pytest.raises(ValueError) as info:
        losses.get("cross_entropy_typo")
    message = str(info.value)
    assert "'cross_entropy_typo'" in message
    for name in [*losses.LOSSES, *losses.ALIASES]:
        assert name in message


def test_unknown_reduction_lists_the_accepted_ones():
    with pytest.raises(ValueError) as info:
        losses.MeanSquaredError(reduction="avg")
    for name in losses.REDUCTIONS:
        assert name in str(info.value)


# --- errors: labels and dtypes --------------------------------------------------------------------


@pytest.mark.parametrize("bad", [3, -1, 7])
def test_sparse_labels_out_of_range_name_the_label_and_the_range(bad):
    logits = Tensor(np.zeros((3, 3)))
    for from_logits in (False, True):
        loss = losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        with pytest.raises(ValueError) as info:
            loss(np.array([0, bad, 1]), logits)
        message = str(info.value)
        assert str(bad) in message
        assert "[0, 2]" in message


def test_sparse_labels_that_are_not_whole_numbers_are_refused():
    with pytest.raises(ValueError, match="whole numbers"):
        losses.SparseCategoricalCrossentropy()(np.array([0.5, 1.0]), Tensor(np.ones((2, 3))))


@pytest.mark.parametrize(
    "loss",
    [
        losses.BinaryCrossentropy(),
        losses.CategoricalCrossentropy(),
        losses.SparseCategoricalCrossentropy(),
        losses.MeanSquaredError(),
        losses.MeanAbsoluteError(),
        losses.Huber(),
    ],
    ids=lambda loss: loss.name,
)
def test_losses_with_string_targets_suggest_encoding(loss):
    y_pred = Tensor(np.full((2, 2), 0.5))
    targets = np.array(["cat", "dog"]) if loss.name.startswith("sparse") else np.array(
        [["cat", "dog"], ["dog", "cat"]]
    )
    with pytest.raises(TypeError, match=r"(?i)encode") as info:
        loss(targets, y_pred)
    assert "LabelEncoder" in str(info.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Tensor([1.0], dtype="int32"),
        lambda: Tensor([1.0]).astype("int32"),
        lambda: layers.Dense(2, dtype="int32"),
        lambda: layers.Dense(2).build((3,), rng=np.random.default_rng(0), dtype=np.int32),
    ],
    ids=["tensor", "astype", "layer", "build"],
)
def test_unsupported_dtype_is_refused_listing_float32_and_float64(make):
    with pytest.raises(TypeError) as info:
        make()
    message = str(info.value)
    assert "int32" in message
    assert "float32" in message
    assert "float64" in message


def test_clip_with_low_above_high_names_both():
    with pytest.raises(ValueError, match=r"low \(2\.0\).*high \(1\.0\)"):
        ops.clip(Tensor([1.0]), 2.0, 1.0)


def test_stack_of_different_shapes_names_them():
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        ops.stack([Tensor(np.ones(2)), Tensor(np.ones(3))])


def test_reduction_axis_out_of_range_names_it():
    with pytest.raises(ValueError, match="axis 2"):
        ops.mean(Tensor(np.ones((2, 2))), axis=2)
