"""Core differentiable operations: each forward written beside its local backward.

Every op takes tensors (or array-likes / Python numbers, which become constants of the other
operand's dtype), computes its output with ``backend.xp`` and returns a :class:`Tensor` whose local
``backward(g)`` maps the upstream gradient ``g`` (shape of the output) to one gradient per input,
each of that input's shape. Broadcast inputs get their gradient summed back to their own shape.
Gradients an input does not need (``requires_grad=False``) are not computed.

Shape legend used in comments: N batch rows, D input features, H units, K classes, ``...`` any
leading (batch) axes.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeAlias

import numpy as np

from scratchnn import backend
from scratchnn.backend import FloatDType
from scratchnn.tensor import Array, Axis, Gradients, Index, Tensor, TensorLike

# --------------------------------------------------------------------------------------- helpers


def _lift(value: TensorLike, like: Tensor) -> Tensor:
    """A constant operand (number, list, array) as a Tensor of ``like``'s dtype."""
    if isinstance(value, Tensor):
        return value
    return Tensor._from_op(backend.xp.asarray(value, dtype=like.dtype), (), _none, "const")


def _pair(a: TensorLike, b: TensorLike) -> tuple[Tensor, Tensor]:
    if isinstance(a, Tensor):
        return a, _lift(b, a)
    if isinstance(b, Tensor):
        return _lift(a, b), b
    a = Tensor(a)
    return a, _lift(b, a)


def _none(g: Any) -> tuple[()]:
    return ()


def unbroadcast(grad: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``grad`` over the axes along which an operand of ``shape`` was broadcast."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if grad.shape != shape:  # an internal invariant, as tinygrad asserts
        raise RuntimeError(f"gradient shape {grad.shape} cannot be reduced to {shape}")
    return grad


def _normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for ax in axes:
        if not -ndim <= ax < builtins.max(ndim, 1):
            raise ValueError(f"axis {ax} is out of range for a tensor with {ndim} dimension(s).")
        out.append(ax % builtins.max(ndim, 1))
    return tuple(out)


def _expand_reduced(g: Any, shape: tuple[int, ...], axis: Any, keepdims: bool) -> Any:
    """Re-insert the reduced axes into ``g`` so that it broadcasts against ``shape``."""
    if not keepdims and len(shape) > 0:
        reduced = _normalize_axes(axis, len(shape))
        g = g.reshape(tuple(1 if i in reduced else n for i, n in enumerate(shape)))
    return g


def _spread(g: Any, shape: tuple[int, ...]) -> Any:
    """``g`` (shaped to broadcast against ``shape``) written out as a new array of ``shape``."""
    out = backend.xp.empty(shape, dtype=g.dtype)
    out[...] = g
    return out


# ------------------------------------------------------------------------------------ arithmetic


def add(a: TensorLike, b: TensorLike) -> Tensor:
    """Element-wise ``a + b`` with broadcasting."""
    a, b = _pair(a, b)

    def backward(g: Array) -> Gradients:
        return (
            unbroadcast(g, a.shape) if a.requires_grad else None,
            unbroadcast(g, b.shape) if b.requires_grad else None,
        )

    return Tensor._from_op(a.data + b.data, (a, b), backward, "add")


def sub(a: TensorLike, b: TensorLike) -> Tensor:
    """Element-wise ``a - b`` with broadcasting."""
    a, b = _pair(a, b)

    def backward(g: Array) -> Gradients:
        return (
            unbroadcast(g, a.shape) if a.requires_grad else None,
            unbroadcast(-g, b.shape) if b.requires_grad else None,
        )

    return Tensor._from_op(a.data - b.data, (a, b), backward, "sub")


def mul(a: TensorLike, b: TensorLike) -> Tensor:
    """Element-wise ``a * b`` with broadcasting."""
    a, b = _pair(a, b)

    def backward(g: Array) -> Gradients:
        return (
            unbroadcast(g * b.data, a.shape) if a.requires_grad else None,
            unbroadcast(g * a.data, b.shape) if b.requires_grad else None,
        )

    return Tensor._from_op(a.data * b.data, (a, b), backward, "mul")


def div(a: TensorLike, b: TensorLike) -> Tensor:
    """Element-wise ``a / b`` with broadcasting."""
    a, b = _pair(a, b)

    def backward(g: Array) -> Gradients:
        ga = gb = None
        if a.requires_grad:
            ga = unbroadcast(g / b.data, a.shape)
        if b.requires_grad:
            gb = unbroadcast(-g * a.data / (b.data * b.data), b.shape)
        return ga, gb

    return Tensor._from_op(a.data / b.data, (a, b), backward, "div")


def neg(a: Tensor) -> Tensor:
    """Element-wise ``-a``."""
    return Tensor._from_op(-a.data, (a,), lambda g: (-g,), "neg")


def power(a: TensorLike, b: TensorLike) -> Tensor:
    """Element-wise ``a ** b``; the exponent may itself be a tensor (needs ``a > 0`` then)."""
    a, b = _pair(a, b)
    xp = backend.xp
    out = a.data**b.data

    def backward(g: Array) -> Gradients:
        ga = gb = None
        if a.requires_grad:
            ga = unbroadcast(g * b.data * a.data ** (b.data - 1), a.shape)
        if b.requires_grad:
            safe = xp.where(a.data > 0, a.data, 1)
            gb = unbroadcast(g * out * xp.log(safe), b.shape)
        return ga, gb

    return Tensor._from_op(out, (a, b), backward, "pow")


def matmul(a: TensorLike, b: TensorLike) -> Tensor:
    """Matrix product ``a @ b`` (NumPy's rules: 1-D operands, batched leading axes broadcast)."""
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: operands must have at least one dimension; received shapes {a.shape} and "
            f"{b.shape}. Use * for scalar multiplication."
        )
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} do not align: the last axis of the first "
            f"({a.shape[-1]}) must equal the "
            f"{'second-to-last' if b.ndim > 1 else 'only'} axis of the second "
            f"({b.shape[-2 if b.ndim > 1 else 0]})."
        )
    xp = backend.xp

    def backward(g: Array) -> Gradients:
        # Promote 1-D operands to matrices, as the forward did implicitly.
        a2 = a.data[None, :] if a.ndim == 1 else a.data  # (..., N, D)
        b2 = b.data[:, None] if b.ndim == 1 else b.data  # (..., D, H)
        g2 = g
        if b.ndim == 1:  # first: for 1-D @ 1-D, g is 0-d and has no axis -2 yet
            g2 = xp.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)  # (..., N, H)
        ga = gb = None
        if a.requires_grad:
            ga = g2 @ xp.swapaxes(b2, -1, -2)  # (..., N, H) @ (..., H, D) -> (..., N, D)
            if a.ndim == 1:
                ga = ga[..., 0, :]
            ga = unbroadcast(ga, a.shape)
        if b.requires_grad:
            gb = xp.swapaxes(a2, -1, -2) @ g2  # (..., D, N) @ (..., N, H) -> (..., D, H)
            if b.ndim == 1:
                gb = gb[..., 0]
            gb = unbroadcast(gb, b.shape)
        return ga, gb

    return Tensor._from_op(a.data @ b.data, (a, b), backward, "matmul")


NARROW_UNITS = 16
""":func:`linear` computes a layer of fewer units than this units-first ..."""
NARROW_MIN_ROWS = 256
"""... when it has at least this many rows."""


def linear(
    x: Tensor, w: Tensor, b: Tensor | None = None, activation: str | None = None
) -> Tensor:
    """Affine map ``x @ w + b`` for a (N, D) input, (D, H) kernel and (H,) bias, as one node.

    Equal to ``add(matmul(x, w), b)``; fused so that a Dense layer costs one graph node and its
    bias gradient one product with a vector of ones. With ``activation`` (a name in
    :data:`FUSED_ACTIVATIONS`: ``"relu"``, ``"tanh"`` or ``"sigmoid"``) the activation is applied
    in place to the same node's output and its derivative taken from that output: bit for bit
    equal to ``relu(linear(x, w, b))`` (etc.), one node and one (N, H) array fewer.

    Memory layout: a narrow layer (fewer than :data:`NARROW_UNITS` units, at least
    :data:`NARROW_MIN_ROWS` rows) is computed units-first, ``(H, D) @ (D, N)``, as tutorial
    000's ``W1 @ X``: its bias, activation and backward then walk rows of N numbers instead of
    N rows of a few (about 3x quicker for (2000, 3)). Its (N, H) output is that array's
    transpose, column-major; every op accepts either layout, and models hand out C-ordered
    arrays (``predict`` copies a column-major output). As everywhere in this library, the
    input gradient has the input's layout (as PyTorch's gradients follow their tensor's
    strides), so the units-first layout holds through the backward pass as well.
    """
    if activation is not None and activation not in FUSED_ACTIVATIONS:
        raise ValueError(
            f"linear: activation must be one of {sorted(FUSED_ACTIVATIONS)} or None; received "
            f"{activation!r}. Apply other activations as their own op."
        )
    xs, ws = x.data.shape, w.data.shape
    if len(xs) != 2 or len(ws) != 2 or xs[1] != ws[0]:
        node = matmul(x, w) if b is None else add(matmul(x, w), b)
        return node if activation is None else FUSED_ACTIVATIONS[activation](node)
    if ws[1] < NARROW_UNITS and xs[0] >= NARROW_MIN_ROWS:
        out = (w.data.T @ x.data.T).T  # ((H, D) @ (D, N)).T: (N, H), column-major
    else:
        out = x.data @ w.data  # (N, D) @ (D, H) -> (N, H)
    if b is not None:
        out += b.data
    derivative = None
    if activation is not None:
        apply, derivative = _FUSED_FORMS[activation]
        out = apply(out)

    def backward(g: Array) -> Gradients:  # g: (N, H)
        if derivative is not None:
            g = derivative(g, out)  # through the activation: (N, H)
        gx = None
        if x.requires_grad:
            if _column_major(x.data):  # the input's layout: ((D, H) @ (H, N)).T
                # one unit: an outer product, the same single products without a BLAS call
                gx = (w.data * g.T).T if g.shape[1] == 1 else (w.data @ g.T).T
            else:
                gx = g @ w.data.T  # (N, H) @ (H, D) -> (N, D)
        gw = x.data.T @ g if w.requires_grad else None  # (D, N) @ (N, H) -> (D, H)
        if b is None:
            return gx, gw
        gb = None
        if b.requires_grad:
            # The column sums as a product with ones: BLAS, where NumPy's axis-0 sum of a narrow
            # (N, H) array walks it row by row (30 us instead of 1.5 us for (2000, 3)).
            gb = _ones(g.shape[0], g.dtype) @ g  # (N,) @ (N, H) -> (H,)
        return gx, gw, gb

    parents = (x, w) if b is None else (x, w, b)
    return Tensor._from_op(out, parents, backward, activation or "linear")


_ONES: dict[tuple[int, Any], Any] = {}


def _ones(n: int, dtype: Any) -> Any:
    """A read-only vector of ``n`` ones, made once per length and dtype (a few kept)."""
    key = (n, dtype)
    ones = _ONES.get(key)
    if ones is None:
        if len(_ONES) >= 8:
            _ONES.clear()
        ones = backend.xp.ones(n, dtype=dtype)
        ones.flags.writeable = False
        _ONES[key] = ones
    return ones


def _column_major(a: Any) -> bool:
    flags = a.flags
    return flags.f_contiguous and not flags.c_contiguous


# ------------------------------------------------------------------------------------ reductions


def sum(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all axes when ``None``)."""
    xp = backend.xp

    def backward(g: Array) -> Gradients:
        return (_spread(_expand_reduced(g, a.shape, axis, keepdims), a.shape),)

    out = xp.asarray(a.data.sum(axis=axis, keepdims=keepdims))
    return Tensor._from_op(out, (a,), backward, "sum")


def mean(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (all axes when ``None``)."""
    xp = backend.xp
    count = math.prod(a.shape[ax] for ax in _normalize_axes(axis, a.ndim)) if a.ndim else 1

    def backward(g: Array) -> Gradients:
        return (_spread(_expand_reduced(g, a.shape, axis, keepdims) / count, a.shape),)

    out = xp.asarray(a.data.mean(axis=axis, keepdims=keepdims))
    return Tensor._from_op(out, (a,), backward, "mean")


def _extremum(a: Tensor, axis: Axis, keepdims: bool, largest: bool) -> Tensor:
    xp = backend.xp
    if a.size == 0:
        raise ValueError(f"{'max' if largest else 'min'}() of an empty tensor (shape {a.shape}).")
    out = a.data.max(axis=axis, keepdims=True) if largest else a.data.min(axis=axis, keepdims=True)

    def backward(g: Array) -> Gradients:
        # Ties share the gradient equally (as torch.amax / amin do).
        mask = (a.data == out).astype(a.dtype)
        mask /= mask.sum(axis=axis, keepdims=True)
        return (mask * _expand_reduced(g, a.shape, axis, keepdims),)

    value = out if keepdims else xp.asarray(xp.squeeze(out, axis=_normalize_axes(axis, a.ndim)))
    return Tensor._from_op(value, (a,), backward, "max" if largest else "min")


def max(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``; the gradient goes to the maximal entries (shared on ties)."""
    return _extremum(a, axis, keepdims, largest=True)


def min(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``; the gradient goes to the minimal entries (shared on ties)."""
    return _extremum(a, axis, keepdims, largest=False)


# -------------------------------------------------------------------------------- element-wise


def exp(a: Tensor) -> Tensor:
    """Element-wise exponential."""
    out = backend.xp.exp(a.data)
    return Tensor._from_op(out, (a,), lambda g: (g * out,), "exp")


def log(a: Tensor) -> Tensor:
    """Element-wise natural logarithm."""
    return Tensor._from_op(backend.xp.log(a.data), (a,), lambda g: (g / a.data,), "log")


def sqrt(a: Tensor) -> Tensor:
    """Element-wise square root."""
    out = backend.xp.sqrt(a.data)
    return Tensor._from_op(out, (a,), lambda g: (g / (2 * out),), "sqrt")


def abs(a: Tensor) -> Tensor:
    """Element-wise absolute value (gradient 0 at 0)."""
    xp = backend.xp
    return Tensor._from_op(xp.abs(a.data), (a,), lambda g: (g * xp.sign(a.data),), "abs")


def clip(a: Tensor, low: float | None = None, high: float | None = None) -> Tensor:
    """Clamp into ``[low, high]``; the gradient passes where ``low <= a <= high`` (as torch)."""
    xp = backend.xp
    if low is not None and high is not None and low > high:
        raise ValueError(f"clip: low ({low}) must not exceed high ({high}).")
    out = xp.clip(a.data, low, high)

    def backward(g: Array) -> Gradients:
        inside = xp.ones(a.shape, dtype=bool)
        if low is not None:
            inside &= a.data >= low
        if high is not None:
            inside &= a.data <= high
        return (g * inside,)

    return Tensor._from_op(out, (a,), backward, "clip")


def where(condition: TensorLike, a: TensorLike, b: TensorLike) -> Tensor:
    """Pick ``a`` where ``condition`` is true, ``b`` elsewhere (broadcasting all three)."""
    xp = backend.xp
    cond = condition.data if isinstance(condition, Tensor) else xp.asarray(condition)
    cond = cond.astype(bool)
    a, b = _pair(a, b)

    def backward(g: Array) -> Gradients:
        return (
            unbroadcast(xp.where(cond, g, 0), a.shape) if a.requires_grad else None,
            unbroadcast(xp.where(cond, 0, g), b.shape) if b.requires_grad else None,
        )

    return Tensor._from_op(xp.where(cond, a.data, b.data), (a, b), backward, "where")


def _binary_extremum(a: TensorLike, b: TensorLike, largest: bool) -> Tensor:
    xp = backend.xp
    a, b = _pair(a, b)
    out = xp.maximum(a.data, b.data) if largest else xp.minimum(a.data, b.data)

    def backward(g: Array) -> Gradients:
        wins = (a.data > b.data) if largest else (a.data < b.data)
        share_a = wins + 0.5 * (a.data == b.data)  # ties split the gradient, as torch does
        share_a = share_a.astype(g.dtype, copy=False)  # bool + 0.5*bool is float64
        return (
            unbroadcast(g * share_a, a.shape) if a.requires_grad else None,
            unbroadcast(g * (1 - share_a), b.shape) if b.requires_grad else None,
        )

    return Tensor._from_op(out, (a, b), backward, "maximum" if largest else "minimum")


def maximum(a: TensorLike, b: TensorLike) -> Tensor:
    """Element-wise maximum of two operands (ties share the gradient)."""
    return _binary_extremum(a, b, largest=True)


def minimum(a: TensorLike, b: TensorLike) -> Tensor:
    """Element-wise minimum of two operands (ties share the gradient)."""
    return _binary_extremum(a, b, largest=False)


def cast(a: Tensor, dtype: FloatDType) -> Tensor:
    """Cast to float32/float64; the gradient is cast back to the input's dtype."""
    target = backend.resolve_dtype(dtype)
    return Tensor._from_op(
        a.data.astype(target), (a,), lambda g: (g.astype(a.dtype),), "cast"
    )


# ------------------------------------------------------------------------------- shape changes


def reshape(a: Tensor, *shape: int | Sequence[int]) -> Tensor:
    """Reshape (one axis may be -1)."""
    dims: Any = shape  # ints, or one sequence of them; NumPy checks them
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        dims = tuple(shape[0])
    try:
        out = a.data.reshape(dims)
    except ValueError as exc:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) into "
            f"{tuple(dims)}."
        ) from exc
    return Tensor._from_op(out, (a,), lambda g: (g.reshape(a.shape),), "reshape")


def transpose(a: Tensor, axes: Sequence[int] | None = None) -> Tensor:
    """Permute axes (reverse them when ``axes`` is ``None``)."""
    xp = backend.xp
    out = xp.transpose(a.data, axes)
    # Normalise negative axes first: argsort of (-1, 0) is not the inverse of (1, 0).
    inverse = None if axes is None else tuple(
        int(i) for i in xp.argsort(xp.asarray([ax % a.ndim for ax in axes]))
    )
    return Tensor._from_op(out, (a,), lambda g: (xp.transpose(g, inverse),), "transpose")


def _is_basic_index(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(
        isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in items
    )


def getitem(a: Tensor, index: Index) -> Tensor:
    """Indexing and slicing (basic and advanced); repeated indices accumulate their gradients."""
    xp = backend.xp
    key: Any = index  # NumPy checks it (its stubs know fewer kinds of index than it takes)
    if isinstance(index, Tensor):
        key = index.data.astype(int)
    elif isinstance(index, tuple):
        key = tuple(i.data.astype(int) if isinstance(i, Tensor) else i for i in index)
    out = a.data[key]

    def backward(g: Array) -> Gradients:
        grad = xp.zeros(a.shape, dtype=g.dtype)
        if _is_basic_index(key):
            grad[key] = g  # a view: no index is written twice
        else:
            xp.add.at(grad, key, g)
        return (grad,)

    return Tensor._from_op(out, (a,), backward, "getitem")


def concatenate(tensors: Sequence[TensorLike], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    xp = backend.xp
    if len(tensors) == 0:
        raise ValueError("concatenate needs at least one tensor.")
    first = tensors[0] if isinstance(tensors[0], Tensor) else Tensor(tensors[0])
    items = tuple(_lift(t, first) for t in tensors)
    out = xp.concatenate([t.data for t in items], axis=axis)
    bounds = [0]
    for t in items:
        bounds.append(bounds[-1] + t.shape[axis])

    def backward(g: Array) -> Gradients:
        return tuple(
            xp.take(g, xp.arange(lo, hi), axis=axis) if t.requires_grad else None
            for t, lo, hi in zip(items, bounds[:-1], bounds[1:], strict=True)
        )

    return Tensor._from_op(out, items, backward, "concatenate")


def stack(tensors: Sequence[TensorLike], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    xp = backend.xp
    if len(tensors) == 0:
        raise ValueError("stack needs at least one tensor.")
    first = tensors[0] if isinstance(tensors[0], Tensor) else Tensor(tensors[0])
    items = tuple(_lift(t, first) for t in tensors)
    shapes = {t.shape for t in items}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape; received {sorted(shapes)}.")
    out = xp.stack([t.data for t in items], axis=axis)

    def backward(g: Array) -> Gradients:
        return tuple(
            xp.take(g, i, axis=axis) if t.requires_grad else None for i, t in enumerate(items)
        )

    return Tensor._from_op(out, items, backward, "stack")


# ---------------------------------------------------------------------------------- activations


def sigmoid(a: Tensor) -> Tensor:
    """Logistic function 1 / (1 + e^-a), computed without overflow for any input."""
    out = _stable_sigmoid(a.data)
    return Tensor._from_op(out, (a,), lambda g: (_sigmoid_grad(g, out),), "sigmoid")


def _stable_sigmoid(x: Any, out: Any = None) -> Any:
    """``1 / (1 + e^-x)``, into ``out`` (may be ``x`` itself) or a new array: four passes, one
    transcendental.

    Where ``e^-x`` overflows (x below about -88 in float32, -709 in float64) the result is 0, the
    correctly rounded value; no NaN, no warning.
    """
    xp = backend.xp
    out = xp.negative(x, out=_dest(out, x))
    with xp.errstate(over="ignore"):
        xp.exp(out, out=out)
    out += 1
    return xp.reciprocal(out, out=out)


def _sigmoid_by_tanh(x: Any) -> Any:
    """``sigmoid(x) = (1 + tanh(x / 2)) / 2`` in a new array: one transcendental pass, quicker
    than ``e^-x`` here, and no overflow. Its precision is absolute (about one ulp of 1), not
    relative: tails below ~1e-8 (float32) come out as 0. Used where that is what counts: a
    gradient ``sigmoid(x) - y``, a hidden unit's value (``ops.stacked_perceptron``)."""
    xp = backend.xp
    out = xp.multiply(x, 0.5, out=xp.empty_like(x))
    xp.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def _dest(dest: Any, like: Any) -> Any:
    """``dest``, or a new array shaped like ``like`` (a 0-d array for a scalar: ``out=`` needs
    an array)."""
    return backend.xp.empty_like(like) if dest is None else dest


def _sigmoid_grad(g: Any, out: Any, dest: Any = None) -> Any:
    """``g * out * (1 - out)``, the sigmoid's backward from its output (into ``dest``)."""
    d = backend.xp.subtract(1, out, out=_dest(dest, out))
    d *= out
    return backend.xp.multiply(g, d, out=d)


def _tanh_grad(g: Any, out: Any, dest: Any = None) -> Any:
    """``g * (1 - out**2)``, tanh's backward from its output (into ``dest``)."""
    xp = backend.xp
    d = xp.multiply(out, out, out=_dest(dest, out))
    xp.subtract(1, d, out=d)
    return xp.multiply(g, d, out=d)


def _relu_grad(g: Any, out: Any, dest: Any = None) -> Any:
    """``g * (out > 0)``, relu's backward from its output (into ``dest``)."""
    return backend.xp.multiply(g, out > 0, out=dest)


def tanh(a: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    out = backend.xp.tanh(a.data)
    return Tensor._from_op(out, (a,), lambda g: (_tanh_grad(g, out),), "tanh")


def relu(a: Tensor) -> Tensor:
    """Rectified linear unit max(a, 0) (gradient 0 at 0, as torch)."""
    out = _relu(a.data)
    return Tensor._from_op(out, (a,), lambda g: (_relu_grad(g, out),), "relu")


def leaky_relu(a: Tensor, negative_slope: float = 0.2) -> Tensor:
    """``a`` where positive, ``negative_slope * a`` elsewhere (Keras' default slope 0.2)."""
    xp = backend.xp
    out = xp.where(a.data > 0, a.data, negative_slope * a.data)
    return Tensor._from_op(
        out, (a,), lambda g: (xp.where(a.data > 0, g, negative_slope * g),), "leaky_relu"
    )


def elu(a: Tensor, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit: ``a`` if ``a > 0`` else ``alpha * (e^a - 1)``."""
    xp = backend.xp
    neg_part = alpha * xp.expm1(xp.minimum(a.data, 0))  # no overflow from the unused branch
    out = xp.where(a.data > 0, a.data, neg_part)
    return Tensor._from_op(
        out, (a,), lambda g: (xp.where(a.data > 0, g, g * (neg_part + alpha)),), "elu"
    )


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(a: Tensor) -> Tensor:
    """Scaled ELU with the self-normalising constants of Klambauer et al. (2017)."""
    return mul(elu(a, SELU_ALPHA), SELU_SCALE)


def gelu(a: Tensor, approximate: bool = False) -> Tensor:
    """Gaussian error linear unit; exact (erf) by default, tanh approximation on request."""
    xp = backend.xp
    x = a.data
    if approximate:
        c = math.sqrt(2 / math.pi)
        inner = c * (x + 0.044715 * x**3)
        t = xp.tanh(inner)
        out = 0.5 * x * (1 + t)

        def backward(g: Array) -> Gradients:
            d_inner = c * (1 + 3 * 0.044715 * x**2)
            return (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner),)

    else:
        cdf = 0.5 * (1 + backend.erf(x / math.sqrt(2)))
        out = x * cdf

        def backward(g: Array) -> Gradients:
            pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
            return (g * (cdf + x * pdf),)

    return Tensor._from_op(out.astype(a.dtype, copy=False), (a,), backward, "gelu")


def softplus(a: Tensor) -> Tensor:
    """log(1 + e^a), computed stably."""
    xp = backend.xp
    out = xp.logaddexp(0, a.data).astype(a.dtype, copy=False)
    return Tensor._from_op(out, (a,), lambda g: (g * _stable_sigmoid(a.data),), "softplus")


def swish(a: Tensor) -> Tensor:
    """``a * sigmoid(a)`` (also called SiLU)."""
    s = _stable_sigmoid(a.data)
    out = a.data * s
    return Tensor._from_op(out, (a,), lambda g: (g * (s + out * (1 - s)),), "swish")


def _relu_in_place(z: Any) -> Any:
    return _relu(z, out=z)


_RELU_CLIP_MIN = 4096
"""From this many values on, :func:`_relu` clips; below, ``maximum``'s smaller call overhead
wins (measured: 0.5 vs 1.8 µs for 256 float32 values, 11 vs 39 µs for 131 072)."""


def _relu(x: Any, out: Any = None) -> Any:
    """``max(x, 0)``: for large arrays a clip with bounds of ``x``'s dtype (NumPy's vectorised
    clip, several times quicker than ``maximum``), for small ones ``maximum`` (a predict of one
    row). NaN stays NaN and -inf becomes 0 both ways; only the sign of a zero may differ
    (``maximum`` gives +0.0 for -0.0, the clip keeps -0.0): the two compare equal, and the
    derivative (``out > 0``) is the same."""
    kind = x.dtype.type
    if x.size < _RELU_CLIP_MIN:
        return backend.xp.maximum(x, kind(0), out=out)
    return backend.xp.clip(x, kind(0), kind(math.inf), out=out)


def _tanh_in_place(z: Any) -> Any:
    return backend.xp.tanh(z, out=z)


# name -> (forward, in place on a fresh pre-activation array; backward from the output, into an
# optional destination). The stand-alone ops use the same functions: both paths agree bit for bit.
_FUSED_FORMS = {
    "relu": (_relu_in_place, _relu_grad),
    "tanh": (_tanh_in_place, _tanh_grad),
    "sigmoid": (lambda z: _stable_sigmoid(z, out=z), _sigmoid_grad),
}

FUSED_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": relu, "tanh": tanh, "sigmoid": sigmoid
}
"""Activations :func:`linear` can fuse into its node, by name, with the stand-alone op."""


def softmax(a: Tensor, axis: int = -1) -> Tensor:
    """Softmax along ``axis`` (shifted by the maximum: no overflow)."""
    xp = backend.xp
    e = xp.exp(a.data - a.data.max(axis=axis, keepdims=True))
    out = e / e.sum(axis=axis, keepdims=True)

    def backward(g: Array) -> Gradients:
        return (out * (g - (g * out).sum(axis=axis, keepdims=True)),)

    return Tensor._from_op(out, (a,), backward, "softmax")


def _log_softmax_array(x: Any, axis: int) -> Any:
    xp = backend.xp
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def log_softmax(a: Tensor, axis: int = -1) -> Tensor:
    """Logarithm of the softmax along ``axis``, computed stably."""
    xp = backend.xp
    out = _log_softmax_array(a.data, axis)

    def backward(g: Array) -> Gradients:
        return (g - xp.exp(out) * g.sum(axis=axis, keepdims=True),)

    return Tensor._from_op(out, (a,), backward, "log_softmax")


# ------------------------------------------------------------------- fused losses (stable forms)


FusedReduction: TypeAlias = Literal["none", "mean"]
"""What the fused losses return: one value per row, or their mean as one scalar node."""


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in ("none", "mean"):
        raise ValueError(f"{op}: reduction must be 'none' or 'mean'; received {reduction!r}.")


def sigmoid_binary_crossentropy(
    logits: Tensor, targets: TensorLike, reduction: FusedReduction = "none"
) -> Tensor:
    """Element-wise binary cross-entropy of ``sigmoid(logits)`` against ``targets`` in [0, 1].

    Uses ``max(x, 0) - x*y + log(1 + e^-|x|)``: finite for any logit. Gradient w.r.t. the logits
    is ``sigmoid(x) - y``, with sigmoid as ``(1 + tanh(x / 2)) / 2`` (one transcendental pass,
    absolute precision). ``targets`` is a constant (no gradient). With ``reduction="mean"`` the
    value is computed when first read: the backward pass does not need it.

    Args:
        logits: ``(..., K)`` logits.
        targets: same shape, in [0, 1].
        reduction: ``"none"``: the element-wise values; ``"mean"``: one scalar, the mean over the
            last axis per sample then over the samples (Keras' reduction), in the same node.
    """
    _check_reduction(reduction, "sigmoid_binary_crossentropy")
    xp = backend.xp
    x = logits.data
    y = targets.data if isinstance(targets, Tensor) else xp.asarray(targets, dtype=x.dtype)
    k = x.shape[-1] if x.ndim > 1 else 1
    count = builtins.max(x.size // k, 1)  # samples: the mean is over the last axis, then them

    def elementwise() -> Any:
        # In-place passes, no where/maximum (slow ufuncs): max(x, 0) = (x + |x|) / 2 exactly.
        positive = xp.abs(x, out=xp.empty_like(x))  # (out=: arrays also for 0-d inputs)
        out = xp.negative(positive, out=xp.empty_like(x))
        xp.exp(out, out=out)  # e^-|x| in (0, 1]: never overflows
        xp.log1p(out, out=out)
        out -= x * y
        positive += x
        positive *= 0.5
        out += positive
        return out

    def mean() -> Any:
        out = elementwise()
        per_sample = out  # the mean over one column is the column itself: skip it
        if out.ndim > 1:
            per_sample = out[..., 0] if k == 1 else out.mean(axis=-1)
        return xp.asarray(per_sample.sum() / count)

    def backward(g: Array) -> Gradients:
        if reduction == "mean":
            g = g / count  # d mean / d per-sample value
            if k > 1:
                g = g / k  # d per-sample mean / d element
        grad = _sigmoid_by_tanh(x)  # sigmoid(x) - y: what matters is absolute precision
        grad -= y
        grad *= g
        return (grad,)

    if reduction == "mean":  # computed when read: a step may need only the gradient
        return Tensor._from_deferred_op(mean, (), x.dtype, (logits,), backward,
                                        "sigmoid_bce_mean")
    return Tensor._from_op(elementwise(), (logits,), backward, "sigmoid_bce")


def softmax_crossentropy(
    logits: Tensor, targets: TensorLike, axis: int = -1, reduction: FusedReduction = "none"
) -> Tensor:
    """Per-row cross-entropy of ``softmax(logits)`` against target distributions (one-hot or soft).

    ``-sum(y * log_softmax(x))`` along ``axis``; gradient ``softmax(x) * sum(y) - y``.
    ``reduction="mean"`` returns the mean over the rows as one scalar node instead.
    """
    _check_reduction(reduction, "softmax_crossentropy")
    xp = backend.xp
    y = targets.data if isinstance(targets, Tensor) else xp.asarray(targets, dtype=logits.dtype)
    shifted = logits.data - logits.data.max(axis=axis, keepdims=True)
    e = xp.exp(shifted)
    total = e.sum(axis=axis, keepdims=True)
    rows_shape = total.shape[:axis % shifted.ndim] + total.shape[axis % shifted.ndim + 1:]
    rows = builtins.max(math.prod(rows_shape), 1)

    def per_row() -> Any:
        return -(y * (shifted - xp.log(total))).sum(axis=axis)

    def backward(g: Array) -> Gradients:
        if reduction == "mean":
            g = xp.broadcast_to(g / rows, rows_shape)
        g = xp.expand_dims(g, axis)
        return (g * (e / total * y.sum(axis=axis, keepdims=True) - y),)

    if reduction == "mean":  # computed when read: a step may need only the gradient
        return Tensor._from_deferred_op(lambda: xp.asarray(per_row().sum() / rows), (),
                                        shifted.dtype, (logits,), backward, "softmax_ce_mean")
    return Tensor._from_op(per_row(), (logits,), backward, "softmax_ce")


def sparse_softmax_crossentropy(
    logits: Tensor, labels: TensorLike, reduction: FusedReduction = "none"
) -> Tensor:
    """Per-row cross-entropy of ``softmax(logits)`` (N, K) against integer ``labels`` (N,).

    Logits ``(..., K)`` with labels ``(...)`` (e.g. ``(B, T, K)`` and ``(B, T)`` for one label
    per time step) work the same way, row by row. ``reduction="mean"`` returns the mean over all
    rows as one scalar node instead.
    """
    _check_reduction(reduction, "sparse_softmax_crossentropy")
    xp = backend.xp
    ids = xp.asarray(labels.data if isinstance(labels, Tensor) else labels).astype(int)
    lead = logits.shape[:-1]
    x = logits.data if logits.ndim == 2 else logits.data.reshape(-1, logits.shape[-1])
    ids = ids.reshape(-1) if logits.ndim != 2 else ids
    shifted = x - x.max(axis=1, keepdims=True)  # (N, K)
    e = xp.exp(shifted)
    total = e.sum(axis=1)  # (N,)
    rows = xp.arange(shifted.shape[0])
    count = builtins.max(shifted.shape[0], 1)

    def per_row() -> Any:
        return xp.log(total) - shifted[rows, ids]  # (N,) = -log softmax at the label

    def backward(g: Array) -> Gradients:  # g: (...) rows, or () for the mean
        grad = e / total[:, None]  # softmax, (N, K)
        grad[rows, ids] -= 1
        if reduction == "mean":
            grad *= g / count
        else:
            grad *= g.reshape(-1)[:, None]
        return (grad.reshape(logits.shape),)

    if reduction == "mean":  # computed when read: a step may need only the gradient
        return Tensor._from_deferred_op(lambda: xp.asarray(per_row().sum() / count), (),
                                        shifted.dtype, (logits,), backward,
                                        "sparse_softmax_ce_mean")
    return Tensor._from_op(per_row().reshape(lead), (logits,), backward, "sparse_softmax_ce")


def dropout(
    a: Tensor, rate: float, rng: np.random.Generator, noise_shape: Sequence[int] | None = None
) -> Tensor:
    """Inverted dropout: zero each entry with probability ``rate``, scale the rest by 1/(1-rate).

    The expected value is unchanged, so nothing is rescaled at prediction time.

    Args:
        a: input tensor.
        rate: drop probability in [0, 1).
        rng: the ``numpy.random.Generator`` that draws the mask.
        noise_shape: shape of the mask, broadcast against ``a`` (Keras' ``noise_shape``):
            ``(N, 1, 1, C)`` on ``(N, H, W, C)`` images drops whole feature maps
            (``SpatialDropout2D``). ``None``: the shape of ``a``.
    """
    if not 0 <= rate < 1:
        raise ValueError(f"dropout rate must be in [0, 1); received rate={rate}.")
    if rate == 0:
        return a
    shape = a.shape if noise_shape is None else tuple(noise_shape)
    if len(shape) != a.ndim or any(m not in (1, n) for m, n in zip(shape, a.shape, strict=True)):
        raise ValueError(
            f"dropout: noise_shape {shape} must broadcast against the input {a.shape}: the same "
            "number of axes, each 1 or the input's size."
        )
    keep = rng.random(shape, dtype=a.dtype) >= rate
    mask = backend.xp.asarray(keep, dtype=a.dtype) * a.dtype.type(1 / (1 - rate))
    return Tensor._from_op(a.data * mask, (a,), lambda g: (g * mask,), "dropout")
