"""The one place that names the array library.

Every op, layer, loss and optimizer reaches arrays through ``backend.xp`` (NumPy today). A library
with NumPy's interface, such as CuPy, can be swapped in with :func:`use` without touching any of
them::

    >>> from scratchnn import backend
    >>> backend.xp.__name__
    'numpy'

Besides ``xp`` this module holds the few array helpers that NumPy itself lacks (``erf``) and the
dtype rules of the library: float32 unless float64 is asked for, by ``dtype=`` or for a block of
code with :func:`default_dtype`.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
from collections.abc import Iterator
from typing import Any

import numpy

xp: Any = numpy
"""The array namespace in use (``numpy`` or a module with NumPy's interface)."""

DEFAULT_DTYPE = "float32"
"""Floating dtype of tensors and parameters unless ``dtype=`` (or :func:`default_dtype`) asks for
another."""

FLOAT_DTYPES = ("float32", "float64")

# The dtype that ``dtype=None`` means here and now. A context variable, not a module global: a
# ``with default_dtype(...)`` block changes it for the code inside the block only, in its own
# thread (each thread starts from float32) or asyncio task, and restores it on exit.
# Unset (None) means DEFAULT_DTYPE.
_default_dtype: contextvars.ContextVar[numpy.dtype | None] = contextvars.ContextVar(
    "scratchnn_default_dtype", default=None
)
_FALLBACK_DTYPE = numpy.dtype(DEFAULT_DTYPE)


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


def get_default_dtype() -> numpy.dtype:
    """The dtype that ``dtype=None`` means at this point: float32, or what the innermost
    :func:`default_dtype` block around the caller set.

    >>> get_default_dtype()
    dtype('float32')
    """
    dtype = _default_dtype.get()
    return _FALLBACK_DTYPE if dtype is None else dtype


@contextlib.contextmanager
def default_dtype(dtype: Any) -> Iterator[numpy.dtype]:
    """Make ``dtype`` the default float type of tensors and models created inside the block.

    Tensors, layers and models that are given no ``dtype=`` take the default when they are
    *created* (a model when it is constructed, with the layers it builds): a model made inside
    the block keeps float64 after it, one made outside keeps float32 even when it is built or
    trained inside. The setting is a :mod:`contextvars` variable: it is restored when the block
    ends (also on an exception), blocks nest, and other threads (each starts with float32) and
    asyncio tasks are not affected.

    Args:
        dtype: ``"float32"`` or ``"float64"`` (or the NumPy dtype).

    Yields:
        The NumPy dtype in force inside the block.

    Raises:
        TypeError: for any other dtype, naming the accepted ones.

    Example:
        >>> import scratchnn
        >>> with scratchnn.default_dtype("float64"):
        ...     inside = scratchnn.Tensor([1.0])
        >>> inside.dtype.name, scratchnn.Tensor([1.0]).dtype.name
        ('float64', 'float32')
    """
    token = _default_dtype.set(resolve_dtype(dtype))
    try:
        yield get_default_dtype()
    finally:
        _default_dtype.reset(token)


def resolve_dtype(dtype: Any = None) -> Any:
    """Return the NumPy dtype for ``dtype`` (``None`` means :func:`get_default_dtype`).

    Only float32 and float64 are accepted: they are the dtypes the engine computes in.

    Raises:
        TypeError: for any other dtype, naming the accepted ones.
    """
    if dtype is None:
        return get_default_dtype()
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
