"""``StackedDense``: the Dense layer of a population, every weight with a leading member axis.

A population (``scratchnn.models.Population``) trains P networks of one structure as one model;
its Dense layers hold ``(P, H, D)`` kernels (each member's kernel transposed: units-first, see
:mod:`scratchnn.ops.stacked`) and ``(P, H)`` biases and compute all members in one node
(:func:`scratchnn.ops.stacked_linear`). The layer is made from the members' own weights
(:meth:`StackedDense.from_members`), not drawn, and is not saved in model files: each member's
weights are taken back out of it.

    >>> import numpy as np
    >>> layer = StackedDense(np.ones((3, 4, 2)), np.zeros((3, 4)), activation="relu")
    >>> layer(np.ones((2, 5))).shape   # 3 members, 4 units, 5 rows (units-first)
    (3, 4, 5)

Shape legend: P members, B rows, D inputs, H units (of the widest member); arrays units-first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnn import activations, ops
from scratchnn.layers.base import Layer
from scratchnn.tensor import Tensor

FUSED_NAMES = (*ops.FUSED_ACTIVATIONS, "linear")
"""Activations that may differ between runs of members (applied inside ``stacked_linear``)."""


class StackedDense(Layer):
    """P Dense layers side by side.

    Args:
        kernel: ``(P, H, D)`` initial kernels, each member's transposed (members narrower than H
            padded with zeros).
        bias: ``(P, H)`` initial biases, or ``None``.
        activation: one activation for every member (any name of :mod:`scratchnn.activations`),
            or runs ``(name, start, stop)`` over the member axis, each name in
            :data:`FUSED_NAMES`.
        kernel_mask: ``None`` or a ``(P, 1, D)`` 0/1 array: the inputs each member really has
            (the units of the layer below that are not padding).
        name: the layer's name.
    """

    def __init__(
        self,
        kernel: np.ndarray,
        bias: np.ndarray | None,
        activation: Any,
        kernel_mask: np.ndarray | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, dtype=kernel.dtype)
        self.units = kernel.shape[1]
        self.kernel = Tensor(kernel, dtype=kernel.dtype, requires_grad=True, name="kernel")
        self.weights["kernel"] = self.kernel
        self.bias = None
        if bias is not None:
            self.bias = Tensor(bias, dtype=kernel.dtype, requires_grad=True, name="bias")
            self.weights["bias"] = self.bias
        self.kernel_mask = kernel_mask
        self.built = True
        self.input_shape = (kernel.shape[2],)
        if isinstance(activation, (list, tuple)):
            self.runs: tuple[tuple[str, int, int], ...] | None = tuple(activation)
            self.activation = None
        else:
            self.runs = None
            self.activation = activations.get(activation)

    @property
    def activation_name(self) -> str | None:
        """The registry name of the one activation; ``None`` when runs of activations apply."""
        return None if self.activation is None else activations.name_of(self.activation)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """``activation(kernel @ x + bias)``: ``(D, B)`` or ``(P, D, B)`` -> ``(P, H, B)``.

        Activations other than relu/tanh/sigmoid/linear are applied on the ``(P, B, H)`` view, so
        that row-wise ones (softmax) act over the units, as in a Dense layer.
        """
        name = self.activation_name
        if self.runs is not None or name in FUSED_NAMES:
            fused = self.runs if self.runs is not None else name
            return ops.stacked_linear(x, self.kernel, self.bias, fused, self.kernel_mask)
        return self.activate(self.pre_activation(x))

    def activate(self, z: Tensor) -> Tensor:
        """This layer's activation on pre-activations ``z`` ``(P, H, B)`` (one for every member;
        applied on the ``(P, B, H)`` view, so that row-wise ones like softmax act over units)."""
        if self.activation is None:
            raise ValueError(f"Layer {self.name!r} has a different activation per run of members.")
        rows = ops.transpose(z, (0, 2, 1))  # (P, B, H) view
        return ops.transpose(self.activation(rows), (0, 2, 1))

    def pre_activation(self, x: Tensor) -> Tensor:
        """``kernel @ x + bias`` per member (the logits of an output layer)."""
        return ops.stacked_linear(x, self.kernel, self.bias, None, self.kernel_mask)

    def keep(self, members: np.ndarray) -> None:
        """Keep only ``members`` (indices): the weights are cut along the member axis."""
        for w in self.weights.values():
            w.data = w.data[members]
        if self.kernel_mask is not None:
            self.kernel_mask = self.kernel_mask[members]

    def compute_output_shape(self, input_shape: Any) -> tuple[int, ...]:
        """``(units,)`` per member."""
        return (self.units,)
