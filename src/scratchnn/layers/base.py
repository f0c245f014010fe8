"""The small ``Layer`` base: named weights, ``trainable``, lazy ``build``, ``call``.

A layer holds parameters (Tensors) and calls functional ops in :meth:`Layer.call`; it knows
nothing of optimizers, caches or files. Shapes exclude the batch axis: a Dense layer fed rows of 11
features has ``input_shape == (11,)``.
"""

from __future__ import annotations

import inspect
import itertools
import re
from collections import defaultdict
from typing import Any, ClassVar

import numpy as np

from scratchnn import backend, initializers
from scratchnn.backend import FloatDType
from scratchnn.tensor import Tensor, no_grad

_name_counters: dict[str, itertools.count] = defaultdict(itertools.count)


def snake_name(cls: type) -> str:
    """Keras' snake case: ``Dense`` -> ``dense``, ``BatchNormalization`` ->
    ``batch_normalization``, ``LSTM`` -> ``lstm``, ``SimpleRNN`` -> ``simple_rnn``,
    ``MaxPooling2D`` -> ``max_pooling2d``, ``Conv2D`` -> ``conv2d``."""
    words = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", cls.__name__)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", words).lower()


def _auto_name(cls: type) -> str:
    base = snake_name(cls)
    n = next(_name_counters[base])
    return base if n == 0 else f"{base}_{n}"


def require_rng(rng: np.random.Generator | None, layer: Layer) -> np.random.Generator:
    """``rng``, or a ValueError saying how to give ``layer`` a generator (never a silent,
    unseeded fallback)."""
    if rng is None:
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) needs a random generator to draw its "
            "weights: use it inside a model (e.g. Sequential([...], seed=0)), or build it "
            "yourself with layer.build(input_shape, rng=numpy.random.default_rng(0))."
        )
    return rng


class SymbolicTensor:
    """A placeholder for the batches that will flow through a functional graph.

    Calling a layer on one records a :class:`Node` (the layer and its inputs) and returns the
    symbolic outputs; ``scratchnn.Model(inputs=..., outputs=...)`` turns the recorded graph into
    a model. Nothing is computed and no weight is created until the model is built.

    Attributes:
        shape: shape of one sample (batch axis excluded).
        node: the call that produces this tensor.
        index: which output of that call it is.
    """

    __slots__ = ("index", "node", "shape")

    def __init__(self, shape: tuple[int, ...], node: Node, index: int = 0) -> None:
        self.shape = tuple(shape)
        self.node = node
        self.index = index

    def __repr__(self) -> str:
        return (
            f"<SymbolicTensor shape={(None, *self.shape)} from {self.node.layer.name!r}"
            f"{'' if self.index == 0 else f'[{self.index}]'}>"
        )


class Node:
    """One call of a layer in a functional graph: the layer, its inputs and its outputs."""

    __slots__ = ("inputs", "layer", "outputs", "single_input")

    def __init__(self, layer: Layer, inputs: list[SymbolicTensor], single_input: bool) -> None:
        self.layer = layer
        self.inputs = inputs
        self.single_input = single_input
        self.outputs: list[SymbolicTensor] = []


def symbolic_inputs(x: Any) -> tuple[list[SymbolicTensor], bool] | None:
    """The symbolic tensors in ``x`` (one, an ``Input``, or a list of them) and whether ``x`` was
    a single one; ``None`` when ``x`` holds data."""
    items = list(x) if isinstance(x, (list, tuple)) else [x]
    found = [getattr(item, "output", item) for item in items]
    if not all(isinstance(item, SymbolicTensor) for item in found):
        if any(isinstance(item, SymbolicTensor) for item in found):
            raise TypeError(
                "A layer was called on a mix of symbolic tensors (from Input) and data; call it "
                "on symbolic tensors to build a graph, or on arrays to compute."
            )
        return None
    return found, not isinstance(x, (list, tuple))


class Layer:
    """Base class of layers.

    A subclass implements :meth:`call` and, when it has weights, :meth:`weight_shapes` and
    :meth:`build` (which creates exactly the weights :meth:`weight_shapes` names, with
    :meth:`add_weight`). Layers that take a mask (padded time steps) accept ``mask=`` in ``call``;
    layers that keep the masked axis set ``supports_masking = True`` so the mask passes through,
    and layers that make one (``Embedding(mask_zero=True)``) override :meth:`compute_mask`.

    Args:
        trainable: ``False`` freezes the layer's weights (no gradient, no update), e.g. the
            pretrained layers in transfer learning.
        name: unique label (default: the class name in snake case with a counter).
        dtype: ``"float32"``/``"float64"``; ``None`` takes the model's (float32 by default).
    """

    supports_masking: ClassVar[bool] = False
    """Whether an incoming mask is passed on unchanged to the next layer (see compute_mask)."""

    def __init__(
        self, trainable: bool = True, name: str | None = None, dtype: FloatDType = None
    ) -> None:
        self.name = name or _auto_name(type(self))
        # An automatic name is replaced by one unique within the first model that takes the
        # layer (dense, dense_1, ... in model order), so that weight names do not depend on what
        # else the process built.
        self._auto_named = name is None
        # The generator a model hands over for a lazy build (see __call__).
        self._build_rng: np.random.Generator | None = None
        self.dtype = backend.resolve_dtype(dtype) if dtype is not None else None
        self.weights: dict[str, Tensor] = {}
        self.non_trainable: set[str] = set()
        self.regularizers: dict[str, Any] = {}
        self.built = False
        self.input_shape: tuple[int, ...] | None = None
        self._trainable = bool(trainable)

    # ------------------------------------------------------------------------------ weights
    @property
    def trainable(self) -> bool:
        """Whether the weights receive gradients and updates."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for name, w in self.weights.items():
            w.requires_grad = self._trainable and name not in self.non_trainable

    @property
    def params(self) -> list[Tensor]:
        """All weights, in creation order."""
        return list(self.weights.values())

    @property
    def trainable_params(self) -> list[Tensor]:
        """Weights that are trained: not the non-trainable ones, none when the layer is frozen."""
        if not self._trainable:
            return []
        return [w for name, w in self.weights.items() if name not in self.non_trainable]

    def add_weight(
        self,
        name: str,
        shape: tuple[int, ...],
        initializer: Any,
        rng: np.random.Generator | None,
        regularizer: Any = None,
        trainable: bool = True,
    ) -> Tensor:
        """Create, register and return a weight Tensor drawn by ``initializer`` from ``rng``.

        ``trainable=False`` makes a weight that no gradient or optimizer ever touches, whatever
        the layer's ``trainable`` (BatchNormalization's moving statistics, which the layer updates
        itself); it is saved and loaded with the others and counted as non-trainable.
        """
        init = initializers.get(initializer)
        data = init(shape, rng, self.dtype)
        weight = Tensor(
            data, dtype=self.dtype, requires_grad=self._trainable and trainable, name=name
        )
        self.weights[name] = weight
        if not trainable:
            self.non_trainable.add(name)
        if regularizer is not None:
            self.regularizers[name] = regularizer
        return weight

    def regularization_loss(self) -> Tensor | None:
        """Sum of this layer's weight penalties, or ``None`` when it has none."""
        total = None
        for name, reg in self.regularizers.items():
            penalty = reg(self.weights[name])
            total = penalty if total is None else total + penalty
        return total

    def weight_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """Shapes of the weights :meth:`build` creates for inputs of ``input_shape``, by name.

        Computed from the configuration alone, without allocating anything: model files are
        checked against it before any weight is created. Layers without weights return ``{}``.
        """
        return {}

    def count_params(self) -> int:
        """Number of scalars in the layer's weights."""
        return int(sum(w.size for w in self.weights.values()))

    # ------------------------------------------------------------------------ build and call
    def build(
        self, input_shape: Any, rng: np.random.Generator | None = None, dtype: FloatDType = None,
    ) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis excluded).

        Args:
            input_shape: shape of one sample (a tuple of ints; a list of them for layers that
                take several inputs, which override this method).
            rng: generator for weight draws (a fresh unseeded one when ``None``).
            dtype: dtype to use when the layer was not given one.
        """
        if self.dtype is None:
            self.dtype = backend.resolve_dtype(dtype)
        self.input_shape = tuple(int(n) for n in input_shape)
        self.built = True

    def call(self, x: Any, training: bool = False) -> Any:
        """The layer's computation on a batch ``x``.

        ``x`` is a Tensor, or a list of them for layers that take several inputs (``Add``,
        ``Concatenate``); the result is a Tensor, or a tuple of them for layers with several
        outputs (a recurrent layer with ``return_state``). Subclasses narrow both.
        """
        raise NotImplementedError

    def __call__(self, x: Any, training: bool = False, mask: Any = None, **kwargs: Any) -> Any:
        """Build on first use (from ``x``'s shape), then :meth:`call`.

        ``mask`` (a boolean array, ``(N, T)`` for sequences: ``True`` where a step is real) is
        handed to ``call`` when the layer's ``call`` takes a ``mask`` argument. Other keyword
        arguments go to ``call`` as they are (e.g. a recurrent layer's ``initial_state``). Called
        on symbolic tensors (from :class:`~scratchnn.layers.Input`), the call is recorded in a
        functional graph instead (see :class:`SymbolicTensor`).
        """
        if type(x) is Tensor:  # the usual case, first
            if not self.built:
                self.build(x.shape[1:], rng=self._build_rng, dtype=x.dtype)
            if mask is not None and _takes_mask(type(self)):
                kwargs["mask"] = mask
            return self.call(x, training=training, **kwargs)
        symbolic = symbolic_inputs(x)
        if symbolic is not None:
            return self._record(*symbolic)
        if isinstance(x, (list, tuple)):
            x = [t if isinstance(t, Tensor) else Tensor(t, dtype=self.dtype) for t in x]
            if not self.built:
                self.build([t.shape[1:] for t in x], rng=self._build_rng, dtype=x[0].dtype)
        else:
            if not isinstance(x, Tensor):
                x = Tensor(x, dtype=self.dtype)
            if not self.built:
                self.build(x.shape[1:], rng=self._build_rng, dtype=x.dtype)
        if mask is not None and _takes_mask(type(self)):
            kwargs["mask"] = mask
        return self.call(x, training=training, **kwargs)

    def call_stateful(self, x: Any, state: Any = None) -> tuple[Any, Any]:
        """Inference on a plain array, carrying a recurrent state across calls.

        Text generation feeds a model one step at a time; recurrent layers take ``state`` (their
        final states from the previous call, ``None`` for zeros) and return their new ones, so
        no step is computed twice. Runs without recording a graph, as in ``predict``.

        Returns:
            ``(output array, state)``; layers without state return ``state`` unchanged.
        """
        with no_grad():
            return self(x, training=False).data, state

    def _record(self, inputs: list[SymbolicTensor], single: bool) -> Any:
        """Record a call on symbolic tensors; return the symbolic output(s)."""
        shapes: Any = inputs[0].shape if single else [t.shape for t in inputs]
        out = self.compute_output_shape(shapes)
        node = Node(self, inputs, single)
        if isinstance(out, list):  # a layer with several outputs (e.g. return_state)
            node.outputs = [SymbolicTensor(shape, node, i) for i, shape in enumerate(out)]
            return list(node.outputs)
        node.outputs = [SymbolicTensor(out, node)]
        return node.outputs[0]

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        """The mask of this layer's output for input ``x`` with ``mask`` (``None``: no mask).

        By default the mask passes through layers with ``supports_masking`` and stops elsewhere.
        """
        return mask if self.supports_masking else None

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Shape of one output sample for one input sample of ``input_shape``.

        Layers taking several inputs receive a list of shapes; layers returning several outputs
        return a list of shapes.
        """
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-serialisable dict."""
        return {
            "name": self.name,
            "trainable": self._trainable,
            "dtype": None if self.dtype is None else self.dtype.name,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


_TAKES_MASK: dict[type[Layer], bool] = {}


def _takes_mask(cls: type[Layer]) -> bool:
    """Whether ``cls.call`` accepts a ``mask`` argument (looked up once per class)."""
    found = _TAKES_MASK.get(cls)
    if found is None:
        found = _TAKES_MASK[cls] = "mask" in inspect.signature(cls.call).parameters
    return found
