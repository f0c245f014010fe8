"""The optimizer registry: :func:`get` and :func:`from_config` (one registry, Keras' names).

>>> import numpy as np
>>> from scratchnn.tensor import Tensor
>>> w = Tensor([1.0, -1.0], dtype="float64", requires_grad=True)
>>> opt = get("adam")
>>> w.grad = np.array([0.5, -2.0])
>>> opt.step([w])
>>> w.data.round(6).tolist(), opt.iterations
([0.999, -0.999], 1)
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from scratchnn.optimizers.adam import Adam, Adamax, AdamW, Nadam
from scratchnn.optimizers.base import Optimizer
from scratchnn.optimizers.classic import SGD, Adagrad, RMSprop

OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, RMSprop, Adagrad, Adam, AdamW, Adamax, Nadam)
}
"""Optimizer classes by lower-case name (the ``"name"`` of their config)."""

OptimizerName: TypeAlias = Literal["sgd", "rmsprop", "adagrad", "adam", "adamw", "adamax", "nadam"]
"""The names of :data:`OPTIMIZERS` (``get`` also takes them in other cases)."""

OptimizerLike: TypeAlias = "OptimizerName | Optimizer | dict[str, Any]"
"""What ``compile`` takes as an optimizer: a name, an instance or a config dict."""


def from_config(config: dict[str, Any]) -> Optimizer:
    """Build an optimizer from a dict returned by ``Optimizer.get_config()``.

    Example:
        >>> from_config(Adam(learning_rate=0.01).get_config()).learning_rate
        0.01
    """
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError(
            'An optimizer config must be a dict with a "name" key (from Optimizer.get_config()); '
            f"received {config!r}."
        )
    return _lookup(config["name"]).from_config(config)


def _lookup(name: Any) -> type[Optimizer]:
    cls = OPTIMIZERS.get(str(name).lower())
    if cls is None:
        raise ValueError(
            f"Unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)} "
            "(case-insensitive), an Optimizer instance or a config dict."
        )
    return cls


def get(identifier: OptimizerLike) -> Optimizer:
    """Return an optimizer from a name, an instance (returned as is) or a config dict.

    Names: ``"sgd"``, ``"rmsprop"``, ``"adagrad"``, ``"adam"``, ``"adamw"``, ``"adamax"``,
    ``"nadam"`` (case-insensitive), giving the optimizer with its default arguments.

    Raises:
        ValueError: for an unknown name, listing the accepted ones.
        TypeError: for any other kind of identifier.

    Example:
        >>> get("Adam").get_config()["beta_2"]
        0.999
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        # Every registered class has a default learning rate (only the base class needs one).
        return _lookup(identifier)()  # type: ignore[call-arg]
    if isinstance(identifier, dict):
        return from_config(identifier)
    raise TypeError(
        "optimizers.get expects an optimizer name, an Optimizer or a config dict; received "
        f"{identifier!r} (type {type(identifier).__name__}). Accepted names: {sorted(OPTIMIZERS)}."
    )
