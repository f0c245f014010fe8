"""Tensor: an array that remembers how it was made; reverse-mode differentiation over that record.

A :class:`Tensor` holds ``data`` (an array of the backend), and, when it was produced by an op on
tensors that require gradients, its ``parents`` and a local ``backward`` function. The local
backward receives the gradient of the final result with respect to this tensor's output and returns
one gradient per parent (``None`` where a parent needs none). :meth:`Tensor.backward` walks the
graph once in reverse topological order, iteratively, so chains of any depth work.

Gradients of leaf tensors *accumulate* into ``.grad``; clearing is explicit (:meth:`zero_grad`).
Intermediate results keep no gradient (as in PyTorch), which keeps memory flat.

Tensors also behave as numbers and arrays: ``float``, ``int``, ``bool`` and :meth:`Tensor.item`
read a one-element tensor; the comparisons ``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=`` work
element-wise and return boolean arrays (no graph). See :class:`Tensor` for ``==`` and hashing.

    >>> from scratchnn import Tensor
    >>> x = Tensor(1.0, requires_grad=True)
    >>> y = Tensor(3.0, requires_grad=True)
    >>> z = Tensor(-3.0, requires_grad=True)
    >>> g = (x + y) * z
    >>> g.backward()
    >>> float(g.item()), float(x.grad), float(y.grad), float(z.grad)
    (-12.0, -3.0, -3.0, 4.0)
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
from collections.abc import Callable, Sequence
from types import EllipsisType
from typing import TYPE_CHECKING, Any, TypeAlias, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchnn import backend
from scratchnn.backend import FloatDType

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

    from scratchnn import ops
else:

    class _OpsOnFirstUse:
        """Stands for :mod:`scratchnn.ops` until an operator first needs it.

        ``ops`` imports this module, so this module imports ``ops`` lazily: the first attribute
        looked up here imports it and rebinds the module-level name ``ops`` to the real module.
        From then on every operator costs one global lookup and one call, as a direct import
        would (an import statement inside each operator would cost a lookup in ``sys.modules``
        on every call).
        """

        def __getattr__(self, name: str) -> Any:
            global ops
            from scratchnn import ops

            return getattr(ops, name)

    ops = _OpsOnFirstUse()

TensorLike: TypeAlias = "Tensor | ArrayLike"
"""What ops and operators accept: a :class:`Tensor`, or anything NumPy makes an array of (Python
numbers, nested lists, arrays), taken as a constant of the other operand's dtype."""

Axis: TypeAlias = "int | Sequence[int] | None"
"""The axes a reduction runs over: one, several, or ``None`` for all."""

Index: TypeAlias = "int | slice | EllipsisType | ArrayLike | Tensor | tuple[Any, ...] | None"
"""What ``t[index]`` accepts: NumPy's basic and advanced indices, or an integer Tensor."""

Array: TypeAlias = "NDArray[Any]"
"""An array of the backend (a NumPy ``ndarray``): what :attr:`Tensor.data` and ``.grad`` hold."""

Gradients: TypeAlias = "Sequence[Array | None]"
"""What a local backward returns: one gradient per parent, ``None`` where a parent needs none."""

# A local backward: gradient of the result w.r.t. this node's output -> one gradient per parent.
BackwardFn: TypeAlias = "Callable[[Array], Gradients]"

_grad_enabled = True

# Creation stamps: every tensor gets the next number, so a tensor's parents always carry smaller
# numbers than the tensor itself: walking from the largest stamp down is a reverse topological
# order.
_stamps = itertools.count()

# dtype objects that need no resolving (a set lookup, far cheaper than backend.resolve_dtype).
_FLOAT_DTYPES = frozenset(np.dtype(name) for name in backend.FLOAT_DTYPES)


class no_grad(contextlib.ContextDecorator):  # lower case: used like a function, as torch's
    """Context manager in which ops record no graph (inference, parameter updates).

    Also a decorator (``@no_grad()``). A class rather than a generator function: entered once
    per batch by the training loop's metrics and by ``predict``, where a generator's frame costs
    a few microseconds.

    >>> from scratchnn import Tensor, no_grad
    >>> w = Tensor([1.0, 2.0], requires_grad=True)
    >>> with no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    def __init__(self) -> None:
        self._previous: list[bool] = []  # a stack: one decorated function may call itself

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = False

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous.pop()


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph (False inside :func:`no_grad`)."""
    return _grad_enabled


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Args:
        data: array-like (nested lists, scalars, NumPy arrays or another Tensor's data).
        dtype: ``"float32"`` (default) or ``"float64"``. Input of another dtype is cast.
        requires_grad: record operations on this tensor so that ``backward()`` reaches it.
        name: optional label, shown in ``repr`` and error messages.

    Attributes:
        data: the array (backend ``xp`` array).
        grad: accumulated gradient, same shape and dtype as ``data``, or ``None``.

    Numbers and comparisons (as NumPy and PyTorch):

    * ``float(t)``, ``int(t)`` and :meth:`item` need exactly one element (``TypeError`` for
      ``float``/``int`` and ``ValueError`` for ``item`` otherwise, as NumPy); ``bool(t)`` of a
      tensor with zero or several elements raises ``ValueError`` (use ``.any()``/``.all()`` on a
      comparison). There is no ``__index__``: a tensor is not an index (``range(t)`` fails; use
      ``int(t)``).
    * ``<``, ``<=``, ``>``, ``>=``, ``==`` and ``!=`` compare element-wise, with broadcasting, and
      return a boolean array of the backend (a NumPy ``ndarray`` by default). They record no graph
      (comparisons have no gradient).
    * ``==`` is element-wise, as in PyTorch and NumPy; for one answer about two whole tensors use
      :meth:`equal` (same shape and values). Hashing stays by identity, so tensors remain usable as
      dict keys and set members (a lookup finds the very same tensor object). As with PyTorch,
      ``t in a_list`` compares element-wise and fails for many-element tensors; test identity
      instead (``any(t is u for u in a_list)``).

    Example:
        >>> t = Tensor([[1.0, 2.0]], requires_grad=True)
        >>> (t * t).sum().backward()
        >>> t.grad.tolist()
        [[2.0, 4.0]]
        >>> (t > 1.5).tolist(), float(t.sum()), Tensor([1.0, 2.0]).equal(Tensor([1.0, 2.0]))
        ([[False, True]], 3.0, True)
    """

    __slots__ = (
        "_backward", "_op", "_parents", "_stamp", "data", "grad", "name", "requires_grad"
    )
    data: Array
    grad: Array | None
    requires_grad: bool
    name: str | None
    # Make ``ndarray + Tensor`` dispatch to ``Tensor.__radd__`` instead of broadcasting elementwise.
    __array_priority__ = 1000

    def __init__(
        self,
        data: TensorLike,
        dtype: FloatDType = None,
        requires_grad: bool = False,
        name: str | None = None,
    ) -> None:
        if isinstance(data, Tensor):
            data = data.data
        if isinstance(data, np.ndarray) and data.dtype.kind in "US":
            raise TypeError(
                f"Tensor data must be numeric; received an array of strings (dtype {data.dtype}). "
                "Encode labels as integers first (e.g. sklearn.preprocessing.LabelEncoder)."
            )
        try:
            if not (isinstance(dtype, np.dtype) and dtype in _FLOAT_DTYPES):  # names, None, ...
                dtype = backend.resolve_dtype(dtype)
            self.data = backend.xp.asarray(data, dtype=dtype)
        except (TypeError, ValueError) as exc:
            if "dtype" in str(exc) and "Unsupported" in str(exc):
                raise
            hint = "Pass numbers, nested lists of numbers or a numeric array."
            if "string" in str(exc):  # e.g. a list or object array of labels
                hint = "Encode string labels as integers first (sklearn LabelEncoder)."
            raise TypeError(
                f"Cannot make a Tensor from {type(data).__name__}: {exc}. {hint}"
            ) from exc
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._parents: tuple[Tensor, ...] = ()
        self._backward: BackwardFn | None = None
        self._op = ""
        self._stamp = next(_stamps)

    @classmethod
    def _from_op(
        cls, data: Any, parents: tuple[Tensor, ...], backward: BackwardFn, op: str
    ) -> Self:
        """Wrap an op's output; record the graph only when a parent needs gradients."""
        out = cls.__new__(cls)
        out.data = data
        out.grad = None
        out.name = None
        out._op = op
        out._stamp = next(_stamps)
        out.requires_grad = False
        out._parents = ()
        out._backward = None
        if _grad_enabled:
            for p in parents:
                if p.requires_grad:
                    out.requires_grad = True
                    out._parents = parents
                    out._backward = backward
                    break
        return out

    @classmethod
    def _from_deferred_op(
        cls, compute: Callable[[], Any], shape: tuple[int, ...], dtype: Any,
        parents: tuple[Tensor, ...], backward: BackwardFn, op: str,
    ) -> Tensor:
        """An op's output whose value ``compute()`` gives when ``data`` is first read (see
        :class:`_Deferred`); its shape and dtype are known without it."""
        out = _Deferred._from_op(None, parents, backward, op)
        out._compute, out._meta = compute, (tuple(shape), backend.xp.dtype(dtype))
        return out

    # ----------------------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``data``."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """Number of dimensions of ``data``."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """Number of elements of ``data``."""
        return self.data.size

    @property
    def dtype(self) -> np.dtype[Any]:
        """dtype of ``data`` (float32 or float64)."""
        return self.data.dtype

    @property
    def T(self) -> Tensor:
        """The transpose (reversed axes)."""
        return ops.transpose(self)

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op that records gradients."""
        return self._backward is None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self._op and self.requires_grad:
            extra += f", op={self._op}"
        label = f", name={self.name!r}" if self.name else ""
        body = np.array2string(backend.to_numpy(self.data), precision=4, separator=", ")
        return f"Tensor({body}, dtype={self.dtype.name}{extra}{label})"

    # ------------------------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """Return the data as a NumPy array (shares memory on the CPU backend)."""
        return backend.to_numpy(self.data)

    def item(self) -> float:
        """Return the value of a one-element tensor as a Python float.

        Raises:
            ValueError: the tensor has zero or several elements.
        """
        return float(self._one_element("item()", ValueError))

    def _one_element(self, what: str, error: type[Exception]) -> Any:
        """The value (a 0-d array) of a one-element tensor; else ``error`` naming ``what``."""
        if self.data.size != 1:
            raise error(
                f"{what} needs a tensor with exactly one element; this one has shape "
                f"{self.shape} ({self.data.size} elements). Reduce it first (e.g. t.sum(), "
                "t.mean()) or index one element (t[0])."
            )
        return self.data.reshape(())

    def __float__(self) -> float:
        return float(self._one_element("float()", TypeError))

    def __int__(self) -> int:
        return int(self._one_element("int()", TypeError))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"The truth value of a tensor with {self.data.size} elements (shape "
                f"{self.shape}) is ambiguous. Use (t > 0).any() or (t > 0).all() on a "
                "comparison, or t.equal(other) to compare two whole tensors."
            )
        return bool(self.data.reshape(()))

    # ----------------------------------------------------------------------------- comparisons
    # Element-wise, broadcasting, returning boolean arrays: a comparison has no gradient, so no
    # graph is recorded. NotImplemented for operands that are not numbers or arrays lets Python
    # fall back (``t == None`` is False, ``t < "a"`` a TypeError).
    def _compare_with(self, other: Any) -> Any:
        if isinstance(other, Tensor):
            return other.data
        if isinstance(other, (int, float, np.number, np.bool_, np.ndarray, list, tuple)) or (
            isinstance(other, backend.xp.ndarray)  # a device array of another backend
        ):
            return other
        return NotImplemented

    def __lt__(self, other: TensorLike) -> NDArray[np.bool_]:
        other = self._compare_with(other)
        return NotImplemented if other is NotImplemented else self.data < other

    def __le__(self, other: TensorLike) -> NDArray[np.bool_]:
        other = self._compare_with(other)
        return NotImplemented if other is NotImplemented else self.data <= other

    def __gt__(self, other: TensorLike) -> NDArray[np.bool_]:
        other = self._compare_with(other)
        return NotImplemented if other is NotImplemented else self.data > other

    def __ge__(self, other: TensorLike) -> NDArray[np.bool_]:
        other = self._compare_with(other)
        return NotImplemented if other is NotImplemented else self.data >= other

    def __eq__(self, other: object) -> Any:  # element-wise: an array, not one bool
        other = self._compare_with(other)
        return NotImplemented if other is NotImplemented else self.data == other

    def __ne__(self, other: object) -> Any:
        other = self._compare_with(other)
        return NotImplemented if other is NotImplemented else self.data != other

    # Defining __eq__ would otherwise make tensors unhashable: hashing stays by identity.
    __hash__ = object.__hash__

    def equal(self, other: TensorLike) -> bool:
        """Whether ``other`` has the same shape and the same values (one ``bool``, as
        ``torch.equal``); dtypes may differ.

        Example:
            >>> Tensor([1.0, 2.0]).equal([1.0, 2.0]), Tensor([1.0]).equal(Tensor([1.0, 1.0]))
            (True, False)
        """
        other_data = other.data if isinstance(other, Tensor) else backend.xp.asarray(other)
        return self.shape == other_data.shape and bool((self.data == other_data).all())

    def tolist(self) -> Any:
        """Return the data as nested Python lists."""
        return self.numpy().tolist()

    def detach(self) -> Tensor:
        """Return a tensor sharing this data but cut from the graph (no gradient flows back)."""
        return Tensor._from_op(self.data, (), _no_backward, "detach")

    def astype(self, dtype: FloatDType) -> Tensor:
        """Return a copy cast to ``dtype`` (float32/float64); gradients flow back, cast back."""
        return ops.cast(self, dtype)

    def zero_grad(self) -> None:
        """Clear the accumulated gradient (sets ``grad`` to ``None``)."""
        self.grad = None

    # -------------------------------------------------------------------------------- backward
    def backward(self, grad: TensorLike | None = None) -> None:
        """Back-propagate from this tensor, accumulating into the ``.grad`` of every leaf reached.

        The walk takes the pending node with the largest creation stamp: every node that used
        it was created after it and is done, so its gradient is complete (a reverse topological
        order without a sort, and no recursion for chains of any depth).

        Args:
            grad: gradient of the final objective w.r.t. this tensor; may be omitted only when the
                tensor has exactly one element (it is then 1).

        Raises:
            RuntimeError: when this tensor does not require gradients.
            ValueError: for a non-scalar tensor without ``grad``, or a ``grad`` of the wrong shape.
        """
        seed = self._seed(grad)
        grads: dict[int, Any] = {id(self): seed}
        handed: dict[int, Any] = {}  # arrays given out, kept alive so that ids stay unique
        shared: set[int] = {id(seed)}  # arrays that more than one tensor received
        pending: list[tuple[int, int, Tensor]] = [(-self._stamp, id(self), self)]
        pop, push = heapq.heappop, heapq.heappush
        while pending:
            _, key, node = pop(pending)
            g = grads.pop(key)
            if node._backward is None:
                node._accumulate(g, id(g) in shared)
                continue
            for parent, pg in zip(node._parents, node._backward(g), strict=True):
                if pg is None or not parent.requires_grad:
                    continue
                handed_id = id(pg)
                if handed_id in handed:
                    shared.add(handed_id)
                else:
                    handed[handed_id] = pg
                parent_id = id(parent)
                previous = grads.get(parent_id)
                if previous is None:
                    grads[parent_id] = pg
                    push(pending, (-parent._stamp, parent_id, parent))
                else:
                    grads[parent_id] = previous + pg

    def _seed(self, grad: TensorLike | None) -> Array:
        """The gradient ``backward`` starts from (checked), as an array of this tensor's dtype."""
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require gradients: no input of the "
                "computation had requires_grad=True (or it ran inside no_grad())."
            )
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() on a non-scalar tensor of shape {self.shape} needs a gradient: "
                    "reduce it first (e.g. loss.sum() or loss.mean()) or pass "
                    "backward(grad) with an array of that shape."
                )
            return backend.xp.ones_like(self.data)
        seed: Array = backend.xp.asarray(
            grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype
        )
        if seed.shape != self.shape:
            raise ValueError(
                f"backward(grad): grad has shape {seed.shape} but the tensor has shape "
                f"{self.shape}; they must match."
            )
        return seed

    def _accumulate(self, g: Any, shared: bool) -> None:
        """Add ``g`` to this leaf's ``.grad`` (accumulate, never overwrite).

        The first gradient is kept as it is when nothing else holds it (not a view, not handed
        to another tensor, writeable, of this dtype); otherwise it is copied.
        """
        if g.shape != self.data.shape:
            raise RuntimeError(
                f"internal error: gradient of shape {g.shape} for a tensor of shape "
                f"{self.data.shape}"
            )
        if self.grad is not None:
            self.grad = self.grad + g.astype(self.data.dtype, copy=False)
        elif shared or not g.flags.owndata or not g.flags.writeable or g.dtype != self.data.dtype:
            self.grad = backend.xp.array(g, dtype=self.data.dtype, copy=True)
        else:
            self.grad = g

    # ------------------------------------------------------------------------------- operators
    # Each one delegates to its op in scratchnn.ops, where forward sits beside backward; being
    # defined here, they are seen by type checkers and editors (``x @ w + b`` is a Tensor).
    def __add__(self, other: TensorLike) -> Tensor:
        return ops.add(self, other)

    def __radd__(self, other: TensorLike) -> Tensor:
        return ops.add(other, self)

    def __sub__(self, other: TensorLike) -> Tensor:
        return ops.sub(self, other)

    def __rsub__(self, other: TensorLike) -> Tensor:
        return ops.sub(other, self)

    def __mul__(self, other: TensorLike) -> Tensor:
        return ops.mul(self, other)

    def __rmul__(self, other: TensorLike) -> Tensor:
        return ops.mul(other, self)

    def __truediv__(self, other: TensorLike) -> Tensor:
        return ops.div(self, other)

    def __rtruediv__(self, other: TensorLike) -> Tensor:
        return ops.div(other, self)

    def __pow__(self, other: TensorLike) -> Tensor:
        return ops.power(self, other)

    def __rpow__(self, other: TensorLike) -> Tensor:
        return ops.power(other, self)

    def __matmul__(self, other: TensorLike) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: TensorLike) -> Tensor:
        return ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return ops.neg(self)

    def __abs__(self) -> Tensor:
        return ops.abs(self)

    def __getitem__(self, index: Index) -> Tensor:
        return ops.getitem(self, index)

    # ---------------------------------------------------------------------- methods of the ops
    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (all axes when ``None``): :func:`scratchnn.ops.sum`."""
        return ops.sum(self, axis, keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis`` (all axes when ``None``): :func:`scratchnn.ops.mean`."""
        return ops.mean(self, axis, keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis``: :func:`scratchnn.ops.max`."""
        return ops.max(self, axis, keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Minimum over ``axis``: :func:`scratchnn.ops.min`."""
        return ops.min(self, axis, keepdims)

    def exp(self) -> Tensor:
        """Element-wise ``e**x``: :func:`scratchnn.ops.exp`."""
        return ops.exp(self)

    def log(self) -> Tensor:
        """Element-wise natural logarithm: :func:`scratchnn.ops.log`."""
        return ops.log(self)

    def sqrt(self) -> Tensor:
        """Element-wise square root: :func:`scratchnn.ops.sqrt`."""
        return ops.sqrt(self)

    def abs(self) -> Tensor:
        """Element-wise absolute value: :func:`scratchnn.ops.abs`."""
        return ops.abs(self)

    def clip(self, low: float | None = None, high: float | None = None) -> Tensor:
        """Clip into ``[low, high]``: :func:`scratchnn.ops.clip`."""
        return ops.clip(self, low, high)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """Reshape (one axis may be -1), as ``t.reshape(2, 3)`` or ``t.reshape((2, 3))``:
        :func:`scratchnn.ops.reshape`."""
        return ops.reshape(self, *shape)

    @overload
    def transpose(self, axes: Sequence[int] | None = None, /) -> Tensor: ...
    @overload
    def transpose(self, *axes: int) -> Tensor: ...

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes, as ``t.transpose(1, 0)`` or ``t.transpose((1, 0))``; reverse them when
        none are given: :func:`scratchnn.ops.transpose`."""
        return ops.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def sigmoid(self) -> Tensor:
        """Logistic sigmoid: :func:`scratchnn.ops.sigmoid`."""
        return ops.sigmoid(self)

    def tanh(self) -> Tensor:
        """Hyperbolic tangent: :func:`scratchnn.ops.tanh`."""
        return ops.tanh(self)

    def relu(self) -> Tensor:
        """``max(x, 0)``: :func:`scratchnn.ops.relu`."""
        return ops.relu(self)

    def softmax(self, axis: int = -1) -> Tensor:
        """Softmax along ``axis``: :func:`scratchnn.ops.softmax`."""
        return ops.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """Log of the softmax along ``axis``, computed stably: :func:`scratchnn.ops.log_softmax`."""
        return ops.log_softmax(self, axis)


class _Deferred(Tensor):
    """A node whose value is computed when ``data`` is first read, once.

    For the mean of a fused loss (``ops.sigmoid_binary_crossentropy(..., reduction="mean")``
    and the softmax ones): its backward needs only what the forward pass computed on the way,
    and a step that does not read the value (a population's, which watches its logits for
    divergence) skips the element-wise loss and its sum. Everything else sees a Tensor.
    """

    __slots__ = ("_compute", "_meta")
    _compute: Callable[[], Array] | None
    _meta: tuple[tuple[int, ...], np.dtype[Any]]  # shape and dtype, known before the value
    _value: Any = vars(Tensor)["data"]  # the slot the value lives in, once computed

    @property
    def data(self) -> Array:
        """The value (computed now if it was not yet)."""
        compute = self._compute
        if compute is not None:
            self._compute = None
            _Deferred._value.__set__(self, compute())
        return _Deferred._value.__get__(self, _Deferred)

    @data.setter
    def data(self, value: Array) -> None:
        self._compute = None
        _Deferred._value.__set__(self, value)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the value (known before it is computed)."""
        return self._meta[0]

    @property
    def ndim(self) -> int:
        """Number of dimensions of the value."""
        return len(self._meta[0])

    @property
    def size(self) -> int:
        """Number of elements of the value."""
        return math.prod(self._meta[0])

    @property
    def dtype(self) -> np.dtype[Any]:
        """dtype of the value."""
        return self._meta[1]


def _no_backward(g: Any) -> tuple[()]:
    return ()
