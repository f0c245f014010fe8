"""Tensors as numbers and arrays: float/int/bool/item, comparisons, ``==``, ``equal`` and hashing.

The oracle is NumPy: a one-element tensor converts as a one-element array does, comparisons give
the arrays NumPy gives, and the errors are the ones NumPy raises (TypeError for float/int of many
elements, ValueError for bool and item).
"""

from __future__ import annotations

import operator
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scratchnn import Tensor, is_grad_enabled, ops

COMPARISONS = [operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne]

finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@pytest.mark.parametrize("value", [2.5, -0.0, [7.25], [[-3.75]]])
def test_float_int_item_of_one_element_match_numpy(value):
    t, a = Tensor(value), np.asarray(value, dtype=np.float32)
    assert float(t) == float(a.reshape(())) and type(float(t)) is float
    assert int(t) == int(a.reshape(())) and type(int(t)) is int
    assert t.item() == a.item() and type(t.item()) is float


def test_int_truncates_toward_zero_as_python_does():
    assert int(Tensor(2.7)) == 2
    assert int(Tensor(-2.7)) == -2


@pytest.mark.parametrize("shape", [(2,), (0,), (2, 3)])
def test_float_and_int_of_many_or_no_elements_are_type_errors_naming_the_shape(shape):
    t = Tensor(np.ones(shape))
    for convert in (float, int):
        pattern = rf"exactly one element.*shape {re.escape(str(shape))}"
        with pytest.raises(TypeError, match=pattern):
            convert(t)
    with pytest.raises(ValueError, match="item"):
        t.item()


def test_bool_of_one_element_and_error_for_many_like_numpy():
    assert bool(Tensor([1.0])) is True
    assert bool(Tensor(0.0)) is False
    assert bool(Tensor([[-0.5]])) is True
    for data in ([1.0, 1.0], [], [[0.0, 0.0]]):
        with pytest.raises(ValueError, match="ambiguous"):
            bool(Tensor(data))
        with pytest.raises(ValueError):
            bool(np.asarray(data))  # the behaviour copied


def test_a_tensor_is_not_an_index():
    with pytest.raises(TypeError):
        range(Tensor(3.0))
    with pytest.raises(TypeError):
        [1, 2, 3][Tensor(1.0)]


@given(
    hnp.arrays(np.float32, hnp.array_shapes(max_dims=3, max_side=4), elements=finite),
    st.sampled_from(COMPARISONS),
    st.data(),
)
def test_comparisons_are_elementwise_numpy_results_with_broadcasting(a, op, data):
    # The other operand: a tensor of the same shape, a broadcastable row, or a Python number.
    kind = data.draw(st.sampled_from(["tensor", "row", "scalar", "array"]))
    if kind == "tensor":
        b = data.draw(hnp.arrays(np.float32, a.shape, elements=finite))
        other, reference = Tensor(b), b
    elif kind == "row":
        b = data.draw(hnp.arrays(np.float32, a.shape[-1:], elements=finite))
        other, reference = Tensor(b), b
    elif kind == "array":
        b = data.draw(hnp.arrays(np.float32, a.shape, elements=finite))
        other, reference = b, b
    else:
        other = reference = data.draw(finite)
    got = op(Tensor(a), other)
    assert isinstance(got, np.ndarray) and got.dtype == np.bool_
    np.testing.assert_array_equal(got, op(a, reference))


@pytest.mark.parametrize("op", COMPARISONS)
def test_an_array_or_number_on_the_left_gives_the_same_arrays(op):
    a = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    b = np.array([3.0, 2.0, 1.0], dtype=np.float32)
    expected = op(b, a)
    np.testing.assert_array_equal(op(b, Tensor(a)), expected)  # ndarray defers to the tensor
    np.testing.assert_array_equal(op(2.0, Tensor(a)), op(2.0, a))
    np.testing.assert_array_equal(op(np.float64(2.0), Tensor(a)), op(np.float64(2.0), a))


def test_comparisons_record_no_graph_even_with_requires_grad():
    w = Tensor([1.0, -1.0], requires_grad=True)
    mask = w > 0
    assert is_grad_enabled()
    assert not isinstance(mask, Tensor)
    assert mask.tolist() == [True, False]
    # Usable as data in a later op: the mask is a constant.
    out = ops.mul(w, Tensor(mask.astype(np.float32)))
    out.sum().backward()
    assert w.grad.tolist() == [1.0, 0.0]


def test_eq_is_elementwise_and_equal_answers_for_the_whole_tensor():
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 3.0])
    assert (a == Tensor([1.0, 2.0])).tolist() == [True, True]  # the case: no more `False`
    assert (a == b).tolist() == [True, False]
    assert (a != b).tolist() == [False, True]
    assert a.equal(Tensor([1.0, 2.0])) is True
    assert a.equal(b) is False
    assert a.equal([1.0, 2.0]) is True
    assert a.equal(Tensor([[1.0, 2.0]])) is False  # same values, another shape
    assert Tensor([1.0], dtype="float32").equal(Tensor([1.0], dtype="float64")) is True


def test_comparison_with_objects_that_are_not_numbers_falls_back_to_python():
    t = Tensor([1.0, 2.0])
    assert (t == None) is False  # noqa: E711 - the comparison under test
    assert (t != None) is True  # noqa: E711
    assert (t == "text") is False
    with pytest.raises(TypeError):
        t < "text"  # noqa: B015


def test_hashing_is_by_identity_so_tensors_stay_dict_keys_and_set_members():
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 2.0])  # equal values, different objects
    assert hash(a) == hash(a) and hash(a) != hash(b)
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b" and len(table) == 2
    assert len({a, b, a}) == 2
    # A weight list, as optimizers hold them, keeps per-tensor state keyed by the object.
    state = {p: i for i, p in enumerate([a, b])}
    assert state[b] == 1
