"""Activation functions by name: the registry behind ``Dense(activation="relu")``.

Each entry is a function ``Tensor -> Tensor`` from :mod:`scratchnn.ops`. :func:`get` turns a name,
``None`` or a callable into such a function; unknown names list the accepted ones.

    >>> from scratchnn import activations, Tensor
    >>> activations.get("relu")(Tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeAlias

from scratchnn import ops
from scratchnn.tensor import Tensor

Activation: TypeAlias = Callable[[Tensor], Tensor]
"""An activation function: a Tensor in, a Tensor of the same shape out."""

ActivationName: TypeAlias = Literal[
    "linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh",
    "softplus", "swish", "silu", "softmax", "log_softmax",
]
"""The names of :data:`ACTIVATIONS` (``get`` also takes them in other cases)."""

ActivationLike: TypeAlias = "ActivationName | Activation | None"
"""What layers take as an activation: a name, a function, or ``None`` (linear)."""


def linear(x: Tensor) -> Tensor:
    """The identity (Keras' ``"linear"``; also what ``activation=None`` means)."""
    return x


def gelu_tanh(x: Tensor) -> Tensor:
    """GELU with the tanh approximation."""
    return ops.gelu(x, approximate=True)


ACTIVATIONS: dict[str, Activation] = {
    "linear": linear,
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "relu": ops.relu,
    "leaky_relu": ops.leaky_relu,
    "elu": ops.elu,
    "selu": ops.selu,
    "gelu": ops.gelu,
    "gelu_tanh": gelu_tanh,
    "softplus": ops.softplus,
    "swish": ops.swish,
    "silu": ops.swish,
    "softmax": ops.softmax,
    "log_softmax": ops.log_softmax,
}


def get(identifier: ActivationLike) -> Activation:
    """Return the activation function for a name, ``None`` (linear) or a callable.

    Raises:
        ValueError: for an unknown name (the message lists the accepted ones).
        TypeError: for anything that is neither a string, ``None`` nor callable.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        try:
            return ACTIVATIONS[identifier.lower()]
        except KeyError:
            raise ValueError(
                f"Unknown activation {identifier!r}. Accepted names: "
                f"{', '.join(sorted(ACTIVATIONS))}; or pass a function Tensor -> Tensor."
            ) from None
    if callable(identifier):
        return identifier
    raise TypeError(
        f"activation must be a name, None or a function Tensor -> Tensor; received "
        f"{type(identifier).__name__}."
    )


def name_of(fn: Activation) -> str:
    """The registry name of ``fn`` (its ``__name__`` when it is not registered)."""
    for name, candidate in ACTIVATIONS.items():
        if candidate is fn:
            return name
    return getattr(fn, "__name__", type(fn).__name__)
