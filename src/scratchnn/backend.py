"""The one place that names the array library.

Every op, layer, loss and optimizer reaches arrays through ``backend.xp`` (NumPy today). A library
with NumPy's interface, such as CuPy, can be swapped in with :func:`use` without touching any of
them::

    >>> from scratchnn import backend
    >>> backend.xp.__name__
    'numpy'

Besides ``xp`` this module holds the few array helpers that NumPy itself lacks (``erf``) and the
dtype rules of the library: float32 unless float64 is asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy

xp: Any = numpy
"""The array namespace in use (``numpy`` or a module with NumPy's interface)."""

DEFAULT_DTYPE = "float32"
"""Floating dtype of tensors and parameters unless ``dtype=`` asks for another."""

FLOAT_DTYPES = ("float32", "float64")


def use(name: str) -> None:
    """Switch the array library for every later operation.

    Args:
        name: ``"numpy"`` or ``"cupy"`` (needs CuPy and a GPU).

    Raises:
        ValueError: for any other name.
        ImportError: when the library cannot be imported.
    """
    global xp
    if name not in ("numpy", "cupy"):
        raise ValueError(f"Unknown array backend {name!r}; expected 'numpy' or 'cupy'.")
    xp = importlib.import_module(name)


def resolve_dtype(dtype: Any = None) -> Any:
    """Return the NumPy dtype for ``dtype`` (``None`` means :data:`DEFAULT_DTYPE`).

    Only float32 and float64 are accepted: they are the dtypes the engine computes in.

    Raises:
        TypeError: for any other dtype, naming the accepted ones.
    """
    if dtype is None:
        return numpy.dtype(DEFAULT_DTYPE)
    try:
        resolved = numpy.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in FLOAT_DTYPES:
        raise TypeError(
            f"Unsupported dtype {dtype!r}: scratchnn computes in {' or '.join(FLOAT_DTYPES)}. "
            "Pass dtype='float32' (the default) or dtype='float64'."
        )
    return resolved


def to_numpy(array: Any) -> numpy.ndarray:
    """Return ``array`` as a NumPy array (copies device arrays to the host)."""
    if isinstance(array, numpy.ndarray):
        return array
    get = getattr(array, "get", None)
    if get is not None:  # CuPy arrays copy to the host with .get()
        return get()
    return numpy.asarray(array)


def erf(x: Any) -> Any:
    """The error function, element-wise (NumPy has none; SciPy's is used, or CuPy's)."""
    if xp is numpy:
        from scipy.special import erf as _erf
    else:  # pragma: no cover - needs a GPU
        from cupyx.scipy.special import erf as _erf
    return _erf(x)
