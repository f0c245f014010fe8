"""Name -> loader registry for every data set, for the command line and configs."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from scratchnn.datasets.churn import load_churn
from scratchnn.datasets.digits import load_digits
from scratchnn.datasets.mnist import load_mnist
from scratchnn.datasets.synthetic import (
    blobs,
    circles,
    moons,
    regression_plane,
    spiral,
    xor,
)

DATASETS: Mapping[str, Callable[..., Any]] = MappingProxyType({
    "moons": moons,
    "circles": circles,
    "xor": xor,
    "blobs": blobs,
    "spiral": spiral,
    "plane": regression_plane,
    "digits": load_digits,
    "churn": load_churn,
    "mnist": load_mnist,
})
"""Read-only map from a data set's name to the function that makes or loads it."""


def get(name: str, **kwargs: Any) -> Any:
    """Make or load a data set by name: ``get("moons", n_samples=200, seed=0)``.

    Args:
        name: one of ``DATASETS`` ("moons", "circles", "xor", "blobs", "spiral", "plane",
            "digits", "churn", "mnist").
        **kwargs: passed to the loader (see its docstring).

    Returns:
        Whatever that loader returns: ``(X, y)`` for the synthetic sets and digits,
        :class:`ChurnData` for churn, ``((x_train, y_train), (x_test, y_test))`` for mnist.

    Raises:
        ValueError: unknown name (the message lists the known ones).
        TypeError: an argument the loader does not take (the message lists those it takes).

    Example:
        >>> X, y = get("xor", n_samples=10, seed=0)
        >>> X.shape
        (10, 2)
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(
            f"unknown data set {name!r}. Known data sets: {', '.join(sorted(DATASETS))}."
        )
    loader = DATASETS[name]
    signature = inspect.signature(loader)
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        raise TypeError(
            f"data set {name!r} got arguments {sorted(kwargs)}: {exc}. "
            f"It takes: {', '.join(signature.parameters) or 'no arguments'}."
        ) from exc
    return loader(**kwargs)
