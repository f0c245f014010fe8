"""Tests for scratchnn.tensor: the autodiff record, backward(), grad modes, dtypes and conversions.

Includes the figures of the seed texts that are pure autodiff: the computational graph of seed 004
(p = x + y, g = p * z), its two ReLU forward-propagation exercises (-3 and 364), and the gradient
descent on f(x) = x^4 - 3x^3 + 2 of seed 002 (minimum at 2.25, "local minimum at 2.249965").
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from scratchnn import Tensor, is_grad_enabled, no_grad, ops


def leaf(value, dtype="float64"):
    return Tensor(value, dtype=dtype, requires_grad=True)


# --- seed 004: the computational graph p = x + y, g = p * z --------------------------------------


def test_seed_004_computational_graph():
    x, y, z = leaf(1.0), leaf(3.0), leaf(-3.0)
    p = x + y
    g = p * z
    assert p.item() == 4.0
    assert g.item() == -12.0
    g.backward()
    assert x.grad == -3.0
    assert y.grad == -3.0
    assert z.grad == 4.0
    # Intermediate results keep no gradient (memory stays flat) ...
    assert p.grad is None
    assert not p.is_leaf


def test_seed_004_gradient_at_the_intermediate_node():
    # ... so dg/dp is read by making p a leaf of the second half of the graph.
    x, y, z = leaf(1.0), leaf(3.0), leaf(-3.0)
    p = leaf((x + y).data)
    g = p * z
    g.backward()
    assert p.grad == -3.0
    assert z.grad == 4.0
    # And the chain rule through p gives dg/dx = dg/dp * dp/dx = -3 * 1.
    (x + y).backward(p.grad)
    assert x.grad == -3.0
    assert y.grad == -3.0


# --- seed 004: forward-propagation exercises -----------------------------------------------------


def test_seed_004_relu_network_with_one_hidden_layer_gives_minus_3():
    x = Tensor([-1.0, 2.0])
    hidden_weights = Tensor([[3.0, 1.0], [3.0, 5.0]])  # columns: node_0 [3, 3], node_1 [1, 5]
    output_weights = Tensor([2.0, -1.0])
    hidden = ops.relu(x @ hidden_weights)
    assert hidden.tolist() == [3.0, 9.0]
    assert (hidden @ output_weights).item() == -3.0


def test_seed_004_relu_network_with_two_hidden_layers_gives_364():
    x = Tensor([3.0, 5.0])
    w0 = Tensor([[2.0, 4.0], [4.0, -5.0]])  # columns: node_0_0 [2, 4], node_0_1 [4, -5]
    w1 = Tensor([[-1.0, 2.0], [1.0, 2.0]])  # columns: node_1_0 [-1, 1], node_1_1 [2, 2]
    out_w = Tensor([2.0, 7.0])
    h0 = ops.relu(x @ w0)
    h1 = ops.relu(h0 @ w1)
    assert h0.tolist() == [26.0, 0.0]
    assert h1.tolist() == [0.0, 52.0]
    assert (h1 @ out_w).item() == 364.0


# --- seed 002: gradient descent on f(x) = x^4 - 3x^3 + 2 --------------------------------------


def test_seed_002_gradient_descent_with_backward_finds_the_minimum():
    # The tutorial's recipe: start at 6, step 0.01, stop when a step moves x by <= 1e-5; the
    # derivative comes from Tensor.backward instead of the hand-written 4x^3 - 9x^2.
    x_old, x_new, gamma, precision = 0.0, 6.0, 0.01, 1e-5
    steps = 0
    while abs(x_new - x_old) > precision:
        x_old = x_new
        x = leaf(x_old)
        f = x**4 - 3 * x**3 + 2
        f.backward()
        assert x.grad == pytest.approx(4 * x_old**3 - 9 * x_old**2, rel=1e-12, abs=1e-12)
        x_new = x_old - gamma * float(x.grad)
        steps += 1
        assert steps < 100_000
    assert abs(x_new - 2.25) < 1e-3
    assert round(x_new, 6) == 2.249965  # the figure the tutorial prints


# --- accumulation and clearing -----------------------------------------------------------------


def test_grad_accumulates_across_backward_calls():
    x = leaf([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    first = x.grad.copy()
    np.testing.assert_array_equal(first, [2.0, -4.0, 6.0])
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, first + 3.0)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * first + 3.0)


def test_zero_grad_clears_and_the_next_backward_starts_fresh():
    x = leaf([1.0, 2.0])
    (x * 5.0).sum().backward()
    (x * 5.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [10.0, 10.0])
    x.zero_grad()
    assert x.grad is None
    (x * 5.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 5.0])


def test_diamond_graph_accumulates_both_paths():
    x = leaf(2.0)
    a = x * 2.0
    b = x * 3.0
    (a * b).backward()  # 6 x^2 -> 12 x
    assert x.grad == 24.0

    x = leaf(1.5)
    (x * x + x).backward()  # x used three times: 2x + 1
    assert x.grad == 4.0

    x, y = leaf(1.0), leaf(3.0)
    p = x + y
    (p * p).backward()  # p used twice: 2p
    assert x.grad == 8.0
    assert y.grad == 8.0


def test_shared_subgraph_reached_by_two_routes_is_walked_once():
    x = leaf([0.5, -1.0])
    h = ops.tanh(x)
    out = (h * 2.0).sum() + (h * h).sum()
    # count the calls of h's local backward, and keep the gradient each call receives
    received = []
    local_backward = h._backward

    def counting(g):
        received.append(np.array(g))
        return local_backward(g)

    h._backward = counting
    out.backward()
    t = np.tanh([0.5, -1.0])
    # one visit, with both routes' gradients already summed (a walk per route would call it
    # twice, once with 2 and once with 2h, and give the same x.grad)
    assert len(received) == 1
    np.testing.assert_allclose(received[0], 2.0 + 2 * t, rtol=1e-14)
    np.testing.assert_allclose(x.grad, (2.0 + 2 * t) * (1 - t * t), rtol=1e-14)


# --- deep graphs --------------------------------------------------------------------------------


def test_ten_thousand_op_chain_backpropagates_without_recursion_error():
    n = 10_000
    assert n > sys.getrecursionlimit()
    x = leaf(1.0)
    y = x
    for _ in range(n):
        y = y * 1.0001 + 0.0
    y.backward()
    assert y.item() == pytest.approx(1.0001**n, rel=1e-10)
    assert x.grad == pytest.approx(1.0001**n, rel=1e-10)


def test_deep_tanh_chain_gradient_is_the_product_of_local_derivatives():
    n = 10_000
    x = leaf(0.8)
    y = x
    for _ in range(n):
        y = ops.tanh(y)
    y.backward()
    value, expected = 0.8, 1.0
    for _ in range(n):
        value = math.tanh(value)
        expected *= 1 - value * value
    assert y.item() == pytest.approx(value, rel=1e-12)
    assert x.grad == pytest.approx(expected, rel=1e-9)


# --- broadcasting ------------------------------------------------------------------------------


def test_broadcast_gradients_are_reduced_to_the_operand_shapes():
    a = leaf(np.arange(3.0).reshape(3, 1))
    b = leaf(np.arange(4.0).reshape(1, 4))
    (a + b).sum().backward()
    assert a.grad.shape == (3, 1)
    assert b.grad.shape == (1, 4)
    np.testing.assert_array_equal(a.grad, np.full((3, 1), 4.0))
    np.testing.assert_array_equal(b.grad, np.full((1, 4), 3.0))


def test_broadcast_gradient_of_a_product_sums_over_the_broadcast_axes():
    rng = np.random.default_rng(0)
    av, bv = rng.standard_normal(4), rng.standard_normal((2, 3, 4))
    a, b = leaf(av), leaf(bv)
    weights = rng.standard_normal((2, 3, 4))
    (a * b * weights).sum().backward()
    assert a.grad.shape == (4,)
    np.testing.assert_allclose(a.grad, (bv * weights).sum(axis=(0, 1)), rtol=1e-13)
    np.testing.assert_allclose(b.grad, av * weights, rtol=1e-13)


def test_vector_plus_rank_3_tensor_gradient():
    a = leaf(np.ones(4))
    b = leaf(np.ones((2, 3, 4)))
    (a + b).sum().backward()
    np.testing.assert_array_equal(a.grad, np.full(4, 6.0))
    np.testing.assert_array_equal(b.grad, np.ones((2, 3, 4)))


# --- grad modes, detach, requires_grad --------------------------------------------------------


def test_no_grad_records_no_graph():
    w = leaf([1.0, 2.0])
    with no_grad():
        assert not is_grad_enabled()
        y = w * 2.0 + 1.0
    assert is_grad_enabled()
    assert not y.requires_grad
    assert y.is_leaf
    assert y._parents == ()
    np.testing.assert_array_equal(y.numpy(), [3.0, 5.0])
    with pytest.raises(RuntimeError):
        y.sum().backward()


def test_no_grad_nests_and_restores_the_previous_mode():
    assert is_grad_enabled()
    with no_grad():
        with no_grad():
            assert not is_grad_enabled()
        assert not is_grad_enabled()  # the inner exit restores "disabled", not "enabled"
    assert is_grad_enabled()


def test_no_grad_as_a_decorator_restores_the_mode_when_the_function_calls_itself():
    @no_grad()
    def depth(n: int) -> int:
        assert not is_grad_enabled()
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(3) == 3
    assert is_grad_enabled()  # one shared instance entered four times, left four times
    assert (leaf(1.0) * 2.0).requires_grad


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(KeyError), no_grad():
        raise KeyError("boom")
    assert is_grad_enabled()
    assert (leaf(1.0) * 2.0).requires_grad


def test_detach_cuts_the_graph_and_shares_data():
    x = leaf([1.0, 2.0])
    d = x.detach()
    assert not d.requires_grad
    assert np.shares_memory(d.data, x.data)
    (x * 2.0 + x.detach() * 5.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_requires_grad_propagates_only_from_inputs_that_need_it():
    c = Tensor([1.0, 2.0])
    assert not (c * 3.0).requires_grad
    x = leaf([1.0, 1.0], dtype=None)
    y = x * c + c
    assert y.requires_grad
    y.sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])


# --- conversions -------------------------------------------------------------------------------


def test_numpy_item_and_tolist():
    t = Tensor([[1.5, 2.0], [3.0, 4.0]])
    array = t.numpy()
    assert isinstance(array, np.ndarray)
    np.testing.assert_array_equal(array, [[1.5, 2.0], [3.0, 4.0]])
    assert t.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert isinstance(t.tolist()[0][0], float)
    item = Tensor([[2.5]]).item()
    assert item == 2.5
    assert type(item) is float
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        t.item()


def test_shape_properties():
    t = Tensor(np.zeros((2, 3, 4)))
    assert t.shape == (2, 3, 4)
    assert t.ndim == 3
    assert t.size == 24
    assert len(t) == 2
    assert t.T.shape == (4, 3, 2)


# --- dtypes ------------------------------------------------------------------------------------


def test_float32_is_the_default_and_float64_on_request():
    assert Tensor([1, 2]).dtype == np.float32
    assert Tensor(np.arange(3)).dtype == np.float32
    assert Tensor(np.ones(2, dtype=np.float64)).dtype == np.float32
    assert Tensor([1.0], dtype="float64").dtype == np.float64
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64
    assert Tensor([1.0], dtype="float64").astype("float32").dtype == np.float32


@pytest.mark.parametrize(
    "make",
    [
        lambda x: x + 2.5,
        lambda x: 2.5 - x,
        lambda x: x * np.float64(3.0),
        lambda x: x / np.ones(3, dtype=np.float64),
        lambda x: np.ones(3, dtype=np.float64) + x,
        lambda x: np.full(3, 2.0) * x,
        lambda x: x**2,
        lambda x: x**0.5,
        lambda x: 2.0**x,
        lambda x: x @ np.ones(3, dtype=np.float64),
        lambda x: ops.maximum(x, np.zeros(3)),
        lambda x: ops.minimum(np.zeros(3), x),
        lambda x: ops.where(np.array([True, False, True]), x, np.float64(7.0)),
        lambda x: ops.concatenate([x, np.ones(2)]),
        lambda x: ops.stack([x, np.ones(3)]),
        lambda x: ops.clip(x, 0.1, 0.2),
        lambda x: ops.mean(x),
        lambda x: ops.gelu(x),
        lambda x: ops.softplus(x),
        lambda x: ops.sigmoid_binary_crossentropy(x, np.ones(3)),
        lambda x: ops.softmax_crossentropy(x, np.ones(3)),
    ],
)
def test_float32_tensor_meeting_python_or_float64_values_stays_float32(make):
    x = Tensor([0.5, 1.0, 2.0], requires_grad=True)
    out = make(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_gradient_dtype_survives_accumulation():
    # A float64 gradient reaching a float32 leaf (mixed-dtype op) must not up-cast .grad.
    x = Tensor([0.5, 1.0, 2.0], requires_grad=True)
    other = Tensor([1.0, 1.0, 1.0], dtype="float64")
    for _ in range(2):
        (x * other).sum().backward()
        ops.maximum(x, np.array([1.0, 0.0, 3.0])).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 2.0])


def test_unsupported_dtype_is_refused_listing_the_accepted_ones():
    with pytest.raises(TypeError, match="float32") as info:
        Tensor([1, 2], dtype="int32")
    assert "float64" in str(info.value)
    assert "int32" in str(info.value)


# --- backward() misuse --------------------------------------------------------------------------


def test_backward_on_a_non_scalar_without_grad_names_the_shape():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        (x * 2.0).backward()


def test_backward_with_a_gradient_of_the_wrong_shape_names_both_shapes():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(3, 2\)") as info:
        (x * 2.0).backward(np.ones((3, 2)))
    assert "(2, 3)" in str(info.value)


def test_backward_with_an_explicit_gradient_weights_the_outputs():
    x = leaf([1.0, 2.0])
    (x * x).backward(np.array([10.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [20.0, -4.0])


def test_backward_on_a_tensor_not_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="requires_grad"):
        Tensor(1.0).backward()


@pytest.mark.parametrize(
    "data",
    [
        np.array(["cat", "dog"]),
        ["cat", "dog"],
        "cat",
        np.array(["cat", "dog"], dtype=object),
        np.array([b"cat"]),
    ],
    ids=["str-array", "str-list", "str", "object-array", "bytes-array"],
)
def test_string_data_raises_type_error_suggesting_encoding(data):
    with pytest.raises(TypeError, match=r"(?i)encode"):
        Tensor(data)
