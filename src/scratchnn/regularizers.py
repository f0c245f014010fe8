"""Weight penalties added to the loss: ``l1``, ``l2``, ``l1_l2`` (Keras names and factors).

A regularizer is called on a weight Tensor and returns a scalar Tensor:
``l1 * sum(|w|) + l2 * sum(w²)`` (no ½ factor, as in Keras).

    >>> from scratchnn import Tensor, regularizers
    >>> regularizers.l2(0.5)(Tensor([1.0, 2.0])).item()
    2.5
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeAlias

from scratchnn import ops
from scratchnn.tensor import Tensor


class L1L2:
    """Penalty ``l1 * sum(|w|) + l2 * sum(w²)``.

    Args:
        l1: factor of the absolute-value penalty (>= 0).
        l2: factor of the squared penalty (>= 0).
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        for label, value in (("l1", l1), ("l2", l2)):
            if not (isinstance(value, (int, float)) and value >= 0):
                raise ValueError(
                    f"Regularizer factor {label} must be a number >= 0; "
                    f"received {label}={value!r}."
                )
        self.l1 = float(l1)
        self.l2 = float(l2)

    def __call__(self, weight: Tensor) -> Tensor:
        """The penalty of ``weight`` as a scalar Tensor."""
        total = Tensor(0.0, dtype=weight.dtype)
        if self.l1:
            total = ops.add(total, ops.mul(ops.sum(ops.abs(weight)), self.l1))
        if self.l2:
            total = ops.add(total, ops.mul(ops.sum(ops.mul(weight, weight)), self.l2))
        return total

    def get_config(self) -> dict[str, Any]:
        """Factors as a dict (``{"name": "l1_l2", "l1": ..., "l2": ...}``)."""
        return {"name": "l1_l2", "l1": self.l1, "l2": self.l2}

    def __repr__(self) -> str:
        return f"L1L2(l1={self.l1}, l2={self.l2})"


def l1(factor: float = 0.01) -> L1L2:
    """Penalty ``factor * sum(|w|)``."""
    return L1L2(l1=factor)


def l2(factor: float = 0.01) -> L1L2:
    """Penalty ``factor * sum(w²)``."""
    return L1L2(l2=factor)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """Penalty ``l1 * sum(|w|) + l2 * sum(w²)``."""
    return L1L2(l1=l1, l2=l2)


REGULARIZERS: dict[str, Callable[..., L1L2]] = {"l1": l1, "l2": l2, "l1_l2": l1_l2}

Regularizer: TypeAlias = Callable[[Tensor], Tensor]
"""A weight penalty: a weight Tensor in, a scalar Tensor out (an :class:`L1L2` or a function)."""

RegularizerName: TypeAlias = Literal["l1", "l2", "l1_l2"]
"""The names of :data:`REGULARIZERS`."""

RegularizerLike: TypeAlias = "RegularizerName | dict[str, Any] | Regularizer | None"
"""What layers take as a regularizer: a name (factor 0.01), a config dict, a penalty, or
``None``."""


def get(identifier: RegularizerLike) -> Regularizer | None:
    """Return a regularizer for None, a name (default factor 0.01), a config dict or an instance.

    Raises:
        ValueError: for an unknown name (the message lists the accepted ones).
    """
    if identifier is None or isinstance(identifier, L1L2):
        return identifier
    if isinstance(identifier, dict):
        config = identifier.get("config", identifier)  # {"class_name", "config"} or flat
        if not isinstance(config, dict):
            raise ValueError(
                f"A regularizer config must be a dict such as {{'l1': 0.0, 'l2': 0.01}}; "
                f"received {config!r}."
            )
        config = {k: v for k, v in config.items() if k != "name"}
        return L1L2(**config)
    if isinstance(identifier, str):
        if identifier.lower() not in REGULARIZERS:
            raise ValueError(
                f"Unknown regularizer {identifier!r}. Accepted names: "
                f"{', '.join(sorted(REGULARIZERS))}."
            )
        return REGULARIZERS[identifier.lower()]()
    if callable(identifier):
        return identifier
    raise TypeError(
        f"regularizer must be None, a name or a callable; received {type(identifier).__name__}."
    )
