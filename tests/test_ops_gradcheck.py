"""Every op, activation, fused loss, layer, loss class and regularizer passes ``gradcheck``.

Shapes (broadcasting ones included) are drawn by hypothesis; values come from a NumPy generator
seeded by hypothesis and are kept away from the points where a function is not differentiable
(0 for relu/abs/leaky_relu/elu/selu, clip bounds, ties of max/min/maximum/minimum, Huber's delta),
so a central difference is a valid reference there. Forward values are compared with plain NumPy
as well, so an op cannot pass by having a wrong forward that matches a wrong backward.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import erf

from scratchnn import Tensor, activations, gradcheck, layers, losses, ops, regularizers

TOLERANCE = 1e-6
CHECK = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
FEW = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SEEDS = st.integers(0, 2**32 - 1)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)  # <= 27 elements
NONSCALAR_SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)
PAIRS = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)
TRIPLES = hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3)


def assert_gradcheck(fn, *inputs):
    result = gradcheck(fn, *inputs)
    assert result.passed, str(result)
    assert result.max_error < TOLERANCE, str(result)


def t64(x):
    return Tensor(x, dtype="float64")


def uniform(rng, shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape)


def away_from_zero(rng, shape, low=0.1, high=2.0):
    """Values with |v| in [low, high] and a random sign."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def distinct(rng, shape, spacing=0.1):
    """Values at least ``spacing / 2`` apart (no ties), in random order."""
    size = math.prod(shape)
    values = (rng.permutation(size) - size / 2) * spacing
    values += rng.uniform(-spacing / 4, spacing / 4, size=size)
    return values.reshape(shape)


def on_grid(rng, shape, offset):
    """Multiples of 0.2 plus ``offset``: two grids with different offsets never tie."""
    return rng.integers(-8, 9, size=shape) * 0.2 + offset


@st.composite
def axes_for(draw, ndim):
    """``None``, one axis (maybe negative) or a tuple of distinct axes (maybe negative)."""
    if ndim == 0:
        return None
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(ax - ndim if draw(st.booleans()) else ax for ax in chosen)


# --- coverage: every public op of scratchnn.ops has a test here ---------------------------------

COVERED_OPS = {
    "abs", "add", "cast", "clip", "concatenate", "div", "dropout", "elu", "exp", "gelu",
    "getitem", "leaky_relu", "linear", "log", "log_softmax", "matmul", "max", "maximum", "mean",
    "min", "minimum", "mul", "neg", "power", "relu", "reshape", "selu", "sigmoid",
    "sigmoid_binary_crossentropy", "softmax", "softmax_crossentropy", "softplus",
    "sparse_softmax_crossentropy", "sqrt", "stack", "sub", "sum", "swish", "tanh", "transpose",
    "where",
}
NOT_DIFFERENTIABLE_HELPERS = {"unbroadcast"}


def test_every_public_op_is_gradchecked_here():
    public = {
        name
        for name, fn in inspect.getmembers(ops, inspect.isfunction)
        if fn.__module__ == "scratchnn.ops.core" and not name.startswith("_")
    }
    missing = public - COVERED_OPS - NOT_DIFFERENTIABLE_HELPERS
    assert not missing, f"ops without a gradcheck test in this file: {sorted(missing)}"


# --- element-wise binary ops with broadcasting --------------------------------------------------

BINARY = {
    # name: (op, NumPy reference, draw of the first operand, draw of the second operand)
    "add": (ops.add, np.add, uniform, uniform),
    "sub": (ops.sub, np.subtract, uniform, uniform),
    "mul": (ops.mul, np.multiply, uniform, uniform),
    "div": (ops.div, np.divide, uniform, lambda rng, s: away_from_zero(rng, s, 0.5, 2.0)),
    "power": (
        ops.power,
        np.power,
        lambda rng, s: uniform(rng, s, 0.5, 2.0),  # a tensor exponent needs a positive base
        lambda rng, s: uniform(rng, s, -2.0, 2.0),
    ),
    "maximum": (
        ops.maximum, np.maximum, lambda r, s: on_grid(r, s, 0.0), lambda r, s: on_grid(r, s, 0.1)
    ),
    "minimum": (
        ops.minimum, np.minimum, lambda r, s: on_grid(r, s, 0.0), lambda r, s: on_grid(r, s, 0.1)
    ),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@CHECK
@given(shapes=PAIRS, seed=SEEDS)
def test_binary_op_with_broadcasting(name, shapes, seed):
    op, reference, draw_a, draw_b = BINARY[name]
    rng = np.random.default_rng(seed)
    a = draw_a(rng, shapes.input_shapes[0])
    b = draw_b(rng, shapes.input_shapes[1])
    out = op(t64(a), t64(b))
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.numpy(), reference(a, b), rtol=1e-13, atol=1e-15)
    assert_gradcheck(op, a, b)


@pytest.mark.parametrize(
    "fn",
    [
        lambda a: 2.0 - a,
        lambda a: 3.0 / a,
        lambda a: 1.5**a,
        lambda a: a**2 - a * 0.5 + 1.0,
        lambda a: -a / 4.0,
        lambda a: np.full(a.shape, 2.0) - a,
        lambda a: abs(a) ** 0.5,
    ],
    ids=["rsub", "rtruediv", "rpow", "polynomial", "neg-div", "ndarray-rsub", "abs-sqrt"],
)
@CHECK
@given(shape=SHAPES, seed=SEEDS)
def test_operators_with_constants(fn, shape, seed):
    a = away_from_zero(np.random.default_rng(seed), shape, 0.5, 2.0)
    assert_gradcheck(fn, a)


@pytest.mark.parametrize("exponent", [2, 3, -1, 0.5, -1.5, 1.7])
@CHECK
@given(shape=SHAPES, seed=SEEDS)
def test_power_with_a_scalar_exponent(exponent, shape, seed):
    rng = np.random.default_rng(seed)
    if float(exponent).is_integer():
        a = away_from_zero(rng, shape, 0.3, 2.0)  # integer powers of negative bases are fine
    else:
        a = uniform(rng, shape, 0.3, 2.0)
    np.testing.assert_allclose(ops.power(t64(a), exponent).numpy(), a**exponent, rtol=1e-13)
    assert_gradcheck(lambda x: ops.power(x, exponent), a)


def test_neg():
    a = np.array([[1.5, -2.0], [0.0, 3.0]])
    np.testing.assert_array_equal(ops.neg(t64(a)).numpy(), -a)
    assert_gradcheck(ops.neg, a)


# --- matrix products -----------------------------------------------------------------------------


@CHECK
@given(
    batch=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=2),
    n=st.integers(1, 3),
    d=st.integers(1, 3),
    h=st.integers(1, 3),
    a_is_vector=st.booleans(),
    b_is_vector=st.booleans(),
    seed=SEEDS,
)
def test_matmul_batched_broadcast_and_vector_operands(
    batch, n, d, h, a_is_vector, b_is_vector, seed
):
    rng = np.random.default_rng(seed)
    a_shape = (d,) if a_is_vector else (*batch.input_shapes[0], n, d)
    b_shape = (d,) if b_is_vector else (*batch.input_shapes[1], d, h)
    a, b = uniform(rng, a_shape), uniform(rng, b_shape)
    out = ops.matmul(t64(a), t64(b))
    np.testing.assert_allclose(out.numpy(), np.matmul(a, b), rtol=1e-13, atol=1e-14)
    assert_gradcheck(ops.matmul, a, b)
    assert_gradcheck(lambda x, y: x @ y, a, b)


@CHECK
@given(
    n=st.integers(1, 4), d=st.integers(1, 4), h=st.integers(1, 4), bias=st.booleans(),
    batched=st.booleans(), seed=SEEDS,
)
def test_linear(n, d, h, bias, batched, seed):
    rng = np.random.default_rng(seed)
    x = uniform(rng, (2, n, d) if batched else (n, d))  # 3-D inputs take the matmul path
    w, b = uniform(rng, (d, h)), uniform(rng, (h,))
    expected = x @ w + (b if bias else 0.0)
    if bias:
        np.testing.assert_allclose(ops.linear(t64(x), t64(w), t64(b)).numpy(), expected)
        assert_gradcheck(ops.linear, x, w, b)
    else:
        np.testing.assert_allclose(ops.linear(t64(x), t64(w)).numpy(), expected)
        assert_gradcheck(ops.linear, x, w)


# --- reductions ----------------------------------------------------------------------------------

REDUCTIONS = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@CHECK
@given(shape=SHAPES, data=st.data(), keepdims=st.booleans(), seed=SEEDS)
def test_reduction_with_axis_and_keepdims(name, shape, data, keepdims, seed):
    axis = data.draw(axes_for(len(shape)), label="axis")
    a = distinct(np.random.default_rng(seed), shape)  # no ties for max/min
    op = getattr(ops, name)
    out = op(t64(a), axis=axis, keepdims=keepdims)
    expected = REDUCTIONS[name](a, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-13, atol=1e-15)
    assert_gradcheck(lambda x: op(x, axis=axis, keepdims=keepdims), a)
    assert_gradcheck(lambda x: getattr(x, name)(axis=axis, keepdims=keepdims), a)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_share_the_gradient_between_ties(name):
    a = np.array([[1.0, 3.0, 3.0], [-2.0, -2.0, 0.5]])
    x = Tensor(a, dtype="float64", requires_grad=True)
    getattr(ops, name)(x, axis=1).sum().backward()
    expected = {"max": [[0, 0.5, 0.5], [0, 0, 1]], "min": [[1, 0, 0], [0.5, 0.5, 0]]}[name]
    np.testing.assert_array_equal(x.grad, expected)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_and_minimum_split_the_gradient_on_ties(name):
    a = Tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
    b = Tensor([2.0, 2.0, 2.0], dtype="float64", requires_grad=True)
    getattr(ops, name)(a, b).sum().backward()
    wins_a = [0.0, 0.5, 1.0] if name == "maximum" else [1.0, 0.5, 0.0]
    np.testing.assert_array_equal(a.grad, wins_a)
    np.testing.assert_array_equal(b.grad, 1 - np.array(wins_a))


# --- element-wise unary ops ----------------------------------------------------------------------

UNARY = {
    # name: (op, NumPy reference, draw of the input)
    "exp": (ops.exp, np.exp, uniform),
    "log": (ops.log, np.log, lambda rng, s: uniform(rng, s, 0.2, 3.0)),
    "sqrt": (ops.sqrt, np.sqrt, lambda rng, s: uniform(rng, s, 0.2, 3.0)),
    "abs": (ops.abs, np.abs, away_from_zero),
    "neg": (ops.neg, np.negative, uniform),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@CHECK
@given(shape=SHAPES, seed=SEEDS)
def test_unary_op(name, shape, seed):
    op, reference, draw = UNARY[name]
    a = draw(np.random.default_rng(seed), shape)
    np.testing.assert_allclose(op(t64(a)).numpy(), reference(a), rtol=1e-14)
    assert_gradcheck(op, a)


@pytest.mark.parametrize("low, high", [(-0.5, 0.5), (None, 0.5), (-0.5, None), (0.3, 0.3)])
@CHECK
@given(shape=SHAPES, seed=SEEDS)
def test_clip_away_from_its_bounds(low, high, shape, seed):
    a = uniform(np.random.default_rng(seed), shape)
    for bound in (low, high):
        if bound is not None:
            a = np.where(np.abs(a - bound) < 0.02, a + 0.05, a)
    np.testing.assert_array_equal(ops.clip(t64(a), low, high).numpy(), np.clip(a, low, high))
    assert_gradcheck(lambda x: ops.clip(x, low, high), a)


@CHECK
@given(shapes=TRIPLES, seed=SEEDS)
def test_where_with_broadcasting(shapes, seed):
    rng = np.random.default_rng(seed)
    cond = rng.random(shapes.input_shapes[0]) > 0.5
    a, b = uniform(rng, shapes.input_shapes[1]), uniform(rng, shapes.input_shapes[2])
    np.testing.assert_array_equal(ops.where(cond, t64(a), t64(b)).numpy(), np.where(cond, a, b))
    assert_gradcheck(lambda x, y: ops.where(cond, x, y), a, b)
    assert_gradcheck(lambda x, y: ops.where(Tensor(cond), x, y), a, b)


def test_cast_passes_the_gradient_back_in_the_input_dtype():
    x = Tensor([0.5, 1.5], dtype="float64", requires_grad=True)
    y = ops.cast(x, "float32")
    assert y.dtype == np.float32
    (y * Tensor([3.0, -2.0])).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, [3.0, -2.0])
    assert_gradcheck(lambda t: ops.cast(t, "float64") * 2.0, np.array([[0.5, -1.0]]))


# --- shape changes -------------------------------------------------------------------------------


@CHECK
@given(shape=SHAPES, data=st.data(), seed=SEEDS)
def test_reshape(shape, data, seed):
    size = math.prod(shape)
    target = data.draw(
        st.sampled_from([(size,), (-1,), (1, size), (size, 1), tuple(reversed(shape)), (*shape, 1)])
    )
    a = uniform(np.random.default_rng(seed), shape)
    np.testing.assert_array_equal(ops.reshape(t64(a), target).numpy(), a.reshape(target))
    assert_gradcheck(lambda x: ops.reshape(x, target), a)
    assert_gradcheck(lambda x: x.reshape(*target), a)


@CHECK
@given(shape=SHAPES, data=st.data(), seed=SEEDS)
def test_transpose_with_any_permutation_including_negative_axes(shape, data, seed):
    ndim = len(shape)
    perm = data.draw(st.permutations(range(ndim)))
    axes = tuple(ax - ndim if data.draw(st.booleans()) else ax for ax in perm)
    a = uniform(np.random.default_rng(seed), shape)
    np.testing.assert_array_equal(ops.transpose(t64(a), axes).numpy(), np.transpose(a, axes))
    assert_gradcheck(lambda x: ops.transpose(x, axes), a)
    assert_gradcheck(lambda x: ops.transpose(x), a)
    assert_gradcheck(lambda x: x.T, a)


@CHECK
@given(shape=NONSCALAR_SHAPES, data=st.data(), seed=SEEDS)
def test_getitem_basic_indices(shape, data, seed):
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True), label="index")
    a = uniform(np.random.default_rng(seed), shape)
    np.testing.assert_array_equal(ops.getitem(t64(a), index).numpy(), a[index])
    assert_gradcheck(lambda x: x[index], a)


@CHECK
@given(shape=NONSCALAR_SHAPES, count=st.integers(1, 5), data=st.data(), seed=SEEDS)
def test_getitem_integer_arrays_with_repeats(shape, count, data, seed):
    rng = np.random.default_rng(seed)
    rows = rng.integers(-shape[0], shape[0], size=count)
    rows = np.append(rows, rows[0])  # at least one repeat: its gradients must add up
    choices = [rows, list(rows), Tensor(rows % shape[0])]
    if len(shape) >= 2:
        cols = rng.integers(0, shape[1], size=rows.size)
        choices += [(slice(None), cols), (rows, cols), (Ellipsis, rows % shape[-1])]
    index = data.draw(st.sampled_from(choices), label="index")
    a = uniform(rng, shape)
    plain = tuple(
        i.numpy().astype(int) if isinstance(i, Tensor) else i
        for i in (index if isinstance(index, tuple) else (index,))
    )
    np.testing.assert_array_equal(ops.getitem(t64(a), index).numpy(), a[plain])
    assert_gradcheck(lambda x: ops.getitem(x, index), a)


def test_getitem_repeated_index_accumulates_exactly():
    x = Tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
    x[np.array([0, 2, 0, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


@CHECK
@given(shape=NONSCALAR_SHAPES, whole=st.booleans(), seed=SEEDS)
def test_getitem_boolean_masks(shape, whole, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random(shape if whole else shape[:1]) > 0.4
    a = uniform(rng, shape)
    np.testing.assert_array_equal(ops.getitem(t64(a), mask).numpy(), a[mask])
    assert_gradcheck(lambda x: x[mask], a)


@CHECK
@given(
    base=NONSCALAR_SHAPES,
    data=st.data(),
    sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    seed=SEEDS,
)
def test_concatenate(base, data, sizes, seed):
    ndim = len(base)
    axis = data.draw(st.integers(-ndim, ndim - 1), label="axis")
    rng = np.random.default_rng(seed)
    parts = []
    for size in sizes:
        shape = list(base)
        shape[axis] = size
        parts.append(uniform(rng, tuple(shape)))
    out = ops.concatenate([t64(p) for p in parts], axis=axis)
    np.testing.assert_array_equal(out.numpy(), np.concatenate(parts, axis=axis))
    assert_gradcheck(lambda *ts: ops.concatenate(list(ts), axis=axis), *parts)


@CHECK
@given(shape=SHAPES, count=st.integers(1, 3), data=st.data(), seed=SEEDS)
def test_stack(shape, count, data, seed):
    ndim = len(shape)
    axis = data.draw(st.integers(-ndim - 1, ndim), label="axis")
    rng = np.random.default_rng(seed)
    parts = [uniform(rng, shape) for _ in range(count)]
    out = ops.stack([t64(p) for p in parts], axis=axis)
    np.testing.assert_array_equal(out.numpy(), np.stack(parts, axis=axis))
    assert_gradcheck(lambda *ts: ops.stack(list(ts), axis=axis), *parts)


def test_concatenate_and_stack_with_a_constant_operand():
    c = np.array([[9.0, 8.0]])
    assert_gradcheck(lambda x: ops.concatenate([x, c], axis=0), np.array([[1.0, 2.0]]))
    assert_gradcheck(lambda x: ops.stack([c, x], axis=-1), np.array([[1.0, 2.0]]))


# --- activations ----------------------------------------------------------------------------------

SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


ACTIVATION_REFERENCES = {
    "linear": lambda x: x,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: ops.SELU_SCALE * np.where(x > 0, x, ops.SELU_ALPHA * np.expm1(x)),
    "gelu": lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2))),
    "gelu_tanh": lambda x: 0.5 * x * (1 + np.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x**3))),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "softmax": _softmax,
    "log_softmax": lambda x: np.log(_softmax(x)),
}


def test_every_registered_activation_has_a_reference_here():
    assert set(ACTIVATION_REFERENCES) == set(activations.ACTIVATIONS)


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
@CHECK
@given(shape=NONSCALAR_SHAPES, seed=SEEDS)
def test_activation(name, shape, seed):
    fn = activations.get(name)
    x = away_from_zero(np.random.default_rng(seed), shape, 0.05, 3.0)
    np.testing.assert_allclose(
        fn(t64(x)).numpy(), ACTIVATION_REFERENCES[name](x), rtol=1e-12, atol=1e-15
    )
    assert_gradcheck(fn, x)


@pytest.mark.parametrize("op", [ops.softmax, ops.log_softmax])
@CHECK
@given(shape=NONSCALAR_SHAPES, data=st.data(), seed=SEEDS)
def test_softmax_along_any_axis(op, shape, data, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = uniform(np.random.default_rng(seed), shape, -3.0, 3.0)
    expected = _softmax(x, axis)
    if op is ops.log_softmax:
        expected = np.log(expected)
    np.testing.assert_allclose(op(t64(x), axis=axis).numpy(), expected, rtol=1e-12, atol=1e-15)
    assert_gradcheck(lambda t: op(t, axis=axis), x)


@pytest.mark.parametrize(
    "fn",
    [
        lambda t: ops.leaky_relu(t, negative_slope=0.01),
        lambda t: ops.elu(t, alpha=0.7),
        lambda t: ops.gelu(t, approximate=True),
        ops.sigmoid,
        ops.swish,
    ],
    ids=["leaky_relu-0.01", "elu-0.7", "gelu-approximate", "sigmoid", "swish"],
)
@CHECK
@given(shape=NONSCALAR_SHAPES, seed=SEEDS)
def test_activation_parameters(fn, shape, seed):
    assert_gradcheck(fn, away_from_zero(np.random.default_rng(seed), shape, 0.05, 3.0))


def test_leaky_relu_and_elu_parameters_change_the_forward():
    x = t64([-2.0, 3.0])
    assert ops.leaky_relu(x, negative_slope=0.01).tolist() == [-0.02, 3.0]
    np.testing.assert_allclose(ops.elu(x, alpha=0.7).numpy(), [0.7 * np.expm1(-2.0), 3.0])


# --- fused losses ------------------------------------------------------------------------------


@CHECK
@given(shape=SHAPES, seed=SEEDS)
def test_sigmoid_binary_crossentropy(shape, seed):
    rng = np.random.default_rng(seed)
    x, y = uniform(rng, shape, -4.0, 4.0), rng.random(shape)
    p = 1 / (1 + np.exp(-x))
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    out = ops.sigmoid_binary_crossentropy(t64(x), y)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    assert_gradcheck(lambda t: ops.sigmoid_binary_crossentropy(t, y), x)


@CHECK
@given(n=st.integers(1, 5), k=st.integers(1, 5), soft=st.booleans(), axis=st.sampled_from([-1, 0]),
       seed=SEEDS)
def test_softmax_crossentropy(n, k, soft, axis, seed):
    rng = np.random.default_rng(seed)
    x = uniform(rng, (n, k), -3.0, 3.0)
    if soft:
        y = rng.random((n, k))
    else:
        y = np.zeros((n, k))
        if axis == -1:
            y[np.arange(n), rng.integers(0, k, n)] = 1
        else:
            y[rng.integers(0, n, k), np.arange(k)] = 1
    expected = -(y * np.log(_softmax(x, axis))).sum(axis=axis)
    out = ops.softmax_crossentropy(t64(x), y, axis=axis)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-14)
    assert_gradcheck(lambda t: ops.softmax_crossentropy(t, y, axis=axis), x)


@CHECK
@given(n=st.integers(1, 6), k=st.integers(1, 5), seed=SEEDS)
def test_sparse_softmax_crossentropy(n, k, seed):
    rng = np.random.default_rng(seed)
    x = uniform(rng, (n, k), -3.0, 3.0)
    labels = rng.integers(0, k, n)
    expected = -np.log(_softmax(x))[np.arange(n), labels]
    out = ops.sparse_softmax_crossentropy(t64(x), labels)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-14)
    assert_gradcheck(lambda t: ops.sparse_softmax_crossentropy(t, labels), x)


@CHECK
@given(shape=NONSCALAR_SHAPES, rate=st.sampled_from([0.0, 0.25, 0.5, 0.9]), seed=SEEDS)
def test_dropout_op_with_a_fixed_mask(shape, rate, seed):
    x = uniform(np.random.default_rng(seed), shape)
    out = ops.dropout(t64(x), rate, np.random.default_rng(seed)).numpy()
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / (1 - rate), rtol=1e-14)
    # A fresh generator with the same seed per evaluation: the same mask every time.
    assert_gradcheck(lambda t: ops.dropout(t, rate, np.random.default_rng(seed)), x)


# --- layers ---------------------------------------------------------------------------------------


def _pre_activations_are_away_from_kinks(x, w, b):
    z = x @ w + (0 if b is None else b)
    return bool(np.all(np.abs(z) > 1e-3))


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("activation", sorted(activations.ACTIVATIONS))
@FEW
@given(n=st.integers(1, 4), d=st.integers(1, 4), units=st.integers(1, 4), seed=SEEDS)
def test_dense_layer(activation, use_bias, n, d, units, seed):
    rng = np.random.default_rng(seed)
    layer = layers.Dense(units, activation=activation, use_bias=use_bias)
    layer.build((d,), rng=rng, dtype="float64")
    x = uniform(rng, (n, d))
    w = layer.kernel.numpy().copy()
    b = uniform(rng, (units,)) if use_bias else None
    assume(_pre_activations_are_away_from_kinks(x, w, b))
    if use_bias:
        layer.bias.data[...] = b

    expected = ACTIVATION_REFERENCES[activation](x @ w + (b if use_bias else 0))
    np.testing.assert_allclose(layer(t64(x)).numpy(), expected, rtol=1e-12, atol=1e-15)

    def forward(inputs, kernel, bias=None):
        layer.kernel, layer.bias = kernel, bias
        return layer(inputs)

    assert_gradcheck(forward, x, w, b) if use_bias else assert_gradcheck(forward, x, w)


def test_dense_layer_on_a_batch_of_sequences():
    rng = np.random.default_rng(3)
    layer = layers.Dense(3, activation="tanh")
    layer.build((4,), rng=rng, dtype="float64")
    x = uniform(rng, (2, 5, 4))

    def forward(inputs, kernel, bias):
        layer.kernel, layer.bias = kernel, bias
        return layer(inputs)

    assert_gradcheck(forward, x, layer.kernel.numpy(), uniform(rng, (3,)))


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_dropout_layer_in_training_with_a_fixed_generator(rate):
    x = uniform(np.random.default_rng(0), (6, 5))
    layer = layers.Dropout(rate)
    layer.build((5,), dtype="float64")

    def forward(inputs):
        layer.rng = np.random.default_rng(42)  # the same mask for every evaluation
        return layer(inputs, training=True)

    out = forward(t64(x)).numpy()
    assert 0 < np.count_nonzero(out) < out.size
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / (1 - rate), rtol=1e-14)
    assert_gradcheck(forward, x)
    np.testing.assert_array_equal(layer(t64(x), training=False).numpy(), x)


def test_flatten_layer():
    x = uniform(np.random.default_rng(1), (3, 2, 4))
    layer = layers.Flatten()
    np.testing.assert_array_equal(layer(t64(x)).numpy(), x.reshape(3, 8))
    assert_gradcheck(layer, x)


@pytest.mark.parametrize("activation", sorted(activations.ACTIVATIONS))
def test_activation_layer(activation):
    x = away_from_zero(np.random.default_rng(2), (3, 4), 0.05, 3.0)
    layer = layers.Activation(activation)
    np.testing.assert_allclose(
        layer(t64(x)).numpy(), ACTIVATION_REFERENCES[activation](x), rtol=1e-12, atol=1e-15
    )
    assert_gradcheck(layer, x)


# --- loss classes ---------------------------------------------------------------------------------


def _one_hot(labels, k):
    out = np.zeros((labels.size, k))
    out[np.arange(labels.size), labels] = 1
    return out


def _bce_case(rng, n, k):
    return rng.integers(0, 2, (n, k)).astype(float), uniform(rng, (n, k), 0.05, 0.95)


def _bce_logits_case(rng, n, k):
    return rng.random((n, k)), uniform(rng, (n, k), -3.0, 3.0)


def _cce_case(rng, n, k):
    return _one_hot(rng.integers(0, k, n), k), uniform(rng, (n, k), 0.1, 1.0)


def _cce_logits_case(rng, n, k):
    return rng.dirichlet(np.ones(k), n), uniform(rng, (n, k), -3.0, 3.0)


def _sparse_case(rng, n, k):
    return rng.integers(0, k, n), uniform(rng, (n, k), 0.05, 0.95)


def _sparse_logits_case(rng, n, k):
    return rng.integers(0, k, n), uniform(rng, (n, k), -3.0, 3.0)


def _regression_case(rng, n, k):
    y = uniform(rng, (n, k))
    return y, y + away_from_zero(rng, (n, k), 0.05, 2.0)


def _huber_case(rng, n, k):
    # |error| in (0.05, 0.65) or (0.75, 2): away from 0 and from delta = 0.7.
    y = uniform(rng, (n, k))
    small = rng.uniform(0.05, 0.65, (n, k))
    large = rng.uniform(0.75, 2.0, (n, k))
    error = np.where(rng.random((n, k)) < 0.5, small, large) * rng.choice([-1, 1], (n, k))
    return y, y + error


def _clip(p):
    return np.clip(p, losses.EPSILON, 1 - losses.EPSILON)


LOSS_CASES = {
    # name: (loss factory, data draw, NumPy per-sample reference)
    "bce": (
        losses.BinaryCrossentropy,
        _bce_case,
        lambda y, p: -(y * np.log(_clip(p)) + (1 - y) * np.log(1 - _clip(p))).mean(-1),
    ),
    "bce_logits": (
        lambda **kw: losses.BinaryCrossentropy(from_logits=True, **kw),
        _bce_logits_case,
        lambda y, x: (np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))).mean(-1),
    ),
    "cce": (
        losses.CategoricalCrossentropy,
        _cce_case,
        lambda y, p: -(y * np.log(_clip(p / p.sum(-1, keepdims=True)))).sum(-1),
    ),
    "cce_logits": (
        lambda **kw: losses.CategoricalCrossentropy(from_logits=True, **kw),
        _cce_logits_case,
        lambda y, x: -(y * np.log(_softmax(x))).sum(-1),
    ),
    "sparse": (
        losses.SparseCategoricalCrossentropy,
        _sparse_case,
        lambda y, p: -np.log(_clip(p[np.arange(len(y)), y])),
    ),
    "sparse_logits": (
        lambda **kw: losses.SparseCategoricalCrossentropy(from_logits=True, **kw),
        _sparse_logits_case,
        lambda y, x: -np.log(_softmax(x))[np.arange(len(y)), y],
    ),
    "mse": (losses.MeanSquaredError, _regression_case, lambda y, p: ((p - y) ** 2).mean(-1)),
    "mae": (losses.MeanAbsoluteError, _regression_case, lambda y, p: np.abs(p - y).mean(-1)),
    "huber": (
        lambda **kw: losses.Huber(delta=0.7, **kw),
        _huber_case,
        lambda y, p: np.where(
            np.abs(p - y) <= 0.7, 0.5 * (p - y) ** 2, 0.7 * (np.abs(p - y) - 0.35)
        ).mean(-1),
    ),
}


def test_every_loss_class_has_a_case_here():
    classes = {type(factory()) for factory, _, _ in LOSS_CASES.values()}
    assert classes == set(losses.LOSSES.values())


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
@CHECK
@given(
    n=st.integers(1, 5),
    k=st.integers(2, 4),
    reduction=st.sampled_from(losses.REDUCTIONS),
    weighted=st.booleans(),
    seed=SEEDS,
)
def test_loss_class(name, n, k, reduction, weighted, seed):
    factory, draw, reference = LOSS_CASES[name]
    rng = np.random.default_rng(seed)
    y_true, y_pred = draw(rng, n, k)
    weights = rng.uniform(0.5, 2.0, n) if weighted else None
    loss = factory(reduction=reduction)

    per_sample = reference(y_true, y_pred) * (1.0 if weights is None else weights)
    expected = {"none": per_sample, "sum": per_sample.sum()}.get(reduction, per_sample.mean())
    out = loss(y_true, t64(y_pred), sample_weight=weights)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-15)
    assert_gradcheck(lambda p: loss(y_true, p, sample_weight=weights), y_pred)


# --- regularizers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "penalty, l1, l2",
    [
        (regularizers.l1(0.03), 0.03, 0.0),
        (regularizers.l2(0.02), 0.0, 0.02),
        (regularizers.l1_l2(0.01, 0.05), 0.01, 0.05),
        (regularizers.get("l1_l2"), 0.01, 0.01),
    ],
    ids=["l1", "l2", "l1_l2", "l1_l2-by-name"],
)
@CHECK
@given(shape=NONSCALAR_SHAPES, seed=SEEDS)
def test_regularizer(penalty, l1, l2, shape, seed):
    w = away_from_zero(np.random.default_rng(seed), shape)  # |w| has a kink at 0
    expected = l1 * np.abs(w).sum() + l2 * (w**2).sum()
    np.testing.assert_allclose(penalty(t64(w)).item(), expected, rtol=1e-13)
    assert_gradcheck(penalty, w)


# --- gradcheck catches a wrong backward ---------------------------------------------------------


def _square_with_a_wrong_backward(a: Tensor) -> Tensor:
    # d(a^2)/da is 2a; this backward forgets the 2.
    return Tensor._from_op(a.data**2, (a,), lambda g: (g * a.data,), "bad_square")


def test_gradcheck_fails_on_a_wrong_backward_and_says_where():
    rng = np.random.default_rng(5)
    # Small inputs keep |gradient| < 1, where the error is absolute and so differs per entry.
    good, bad = uniform(rng, (3,)), away_from_zero(rng, (2, 3), 0.1, 0.15)

    result = gradcheck(lambda a, b: ops.tanh(a) + _square_with_a_wrong_backward(b), good, bad)

    assert not result.passed
    assert not bool(result)
    assert result.max_error > 1e-2
    assert result.input_index == 1
    # The worst entry is where |autodiff - numeric| / max(|autodiff|, |numeric|, 1) is largest;
    # gradcheck weights the (2, 3) output with standard_normal draws of default_rng(0).
    weights = np.random.default_rng(0).standard_normal((2, 3))
    analytic, numeric = weights * bad, 2 * weights * bad
    errors = np.abs(analytic - numeric) / np.maximum(np.maximum(abs(analytic), abs(numeric)), 1)
    worst = np.unravel_index(np.argmax(errors), errors.shape)
    assert np.abs(2 * weights * bad).max() < 1
    assert result.position == tuple(int(i) for i in worst)
    assert result.max_error == pytest.approx(errors.max(), rel=1e-6)
    assert result.numeric == pytest.approx(2 * result.analytic, rel=1e-6)
    message = str(result)
    assert "FAILED" in message
    assert "input 1" in message
    assert f"index {result.position}" in message


def test_gradcheck_passes_on_the_same_op_with_the_right_backward():
    def square(a: Tensor) -> Tensor:
        return Tensor._from_op(a.data**2, (a,), lambda g: (2 * g * a.data,), "square")

    result = gradcheck(square, np.array([[0.5, -1.5, 2.0]]))
    assert result.passed
    assert "passed" in str(result)


def test_gradcheck_refuses_no_inputs_and_non_tensor_outputs():
    with pytest.raises(ValueError, match="at least one input"):
        gradcheck(lambda: Tensor(1.0))
    with pytest.raises(ValueError, match="must return a Tensor"):
        gradcheck(lambda a: a.numpy(), np.ones(2))
