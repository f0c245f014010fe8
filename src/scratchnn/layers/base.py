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
from scratchnn.tensor import Tensor

_name_counters: dict[str, itertools.count] = defaultdict(itertools.count)


def _auto_name(cls: type) -> str:
    base = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()
    n = next(_name_counters[base])
    return base if n == 0 else f"{base}_{n}"


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

    def __init__(self, trainable: bool = True, name: str | None = None, dtype: Any = None) -> None:
        self.name = name or _auto_name(type(self))
        self.dtype = backend.resolve_dtype(dtype) if dtype is not None else None
        self.weights: dict[str, Tensor] = {}
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
        for w in self.weights.values():
            w.requires_grad = self._trainable

    @property
    def params(self) -> list[Tensor]:
        """All weights, in creation order."""
        return list(self.weights.values())

    @property
    def trainable_params(self) -> list[Tensor]:
        """Weights that are trained (empty when the layer is frozen)."""
        return self.params if self._trainable else []

    def add_weight(
        self,
        name: str,
        shape: tuple[int, ...],
        initializer: Any,
        rng: np.random.Generator,
        regularizer: Any = None,
    ) -> Tensor:
        """Create, register and return a weight Tensor drawn by ``initializer`` from ``rng``."""
        init = initializers.get(initializer)
        data = init(shape, rng, self.dtype)
        weight = Tensor(data, dtype=self.dtype, requires_grad=self._trainable, name=name)
        self.weights[name] = weight
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
        self, input_shape: tuple[int, ...], rng: np.random.Generator | None = None,
        dtype: Any = None,
    ) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis excluded).

        Args:
            input_shape: shape of one sample.
            rng: generator for weight draws (a fresh unseeded one when ``None``).
            dtype: dtype to use when the layer was not given one.
        """
        if self.dtype is None:
            self.dtype = backend.resolve_dtype(dtype)
        self.input_shape = tuple(int(n) for n in input_shape)
        self.built = True

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """The layer's computation on a batch ``x``."""
        raise NotImplementedError

    def __call__(self, x: Any, training: bool = False, mask: Any = None) -> Tensor:
        """Build on first use (from ``x``'s shape), then :meth:`call`.

        ``mask`` (a boolean array, ``(N, T)`` for sequences: ``True`` where a step is real) is
        handed to ``call`` when the layer's ``call`` takes a ``mask`` argument.
        """
        if not isinstance(x, Tensor):
            x = Tensor(x, dtype=self.dtype)
        if not self.built:
            self.build(x.shape[1:], dtype=x.dtype)
        if mask is not None and _takes_mask(type(self)):
            return self.call(x, training=training, mask=mask)
        return self.call(x, training=training)

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        """The mask of this layer's output for input ``x`` with ``mask`` (``None``: no mask).

        By default the mask passes through layers with ``supports_masking`` and stops elsewhere.
        """
        return mask if self.supports_masking else None

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one output sample for one input sample of ``input_shape``."""
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


_TAKES_MASK: dict[type, bool] = {}


def _takes_mask(cls: type) -> bool:
    """Whether ``cls.call`` accepts a ``mask`` argument (looked up once per class)."""
    found = _TAKES_MASK.get(cls)
    if found is None:
        found = _TAKES_MASK[cls] = "mask" in inspect.signature(cls.call).parameters
    return found
