"""The one place that names the array library.

Ops, layers, losses and optimizers reach arrays through ``backend.xp``: NumPy. The name is the
seam where another array library with NumPy's interface could come in; no second library is
supported today (the models, the loop and the data checks also work on NumPy arrays directly, and
nothing here has run on a GPU), so there is no switch to pick one::

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
import ctypes
from collections.abc import Iterator
from typing import Any, Literal, TypeAlias

import numpy

xp: Any = numpy
"""The array namespace the engine computes with (NumPy)."""

DEFAULT_DTYPE = "float32"
"""Floating dtype of tensors and parameters unless ``dtype=`` (or :func:`default_dtype`) asks for
another."""

FLOAT_DTYPES = ("float32", "float64")

DTypeName: TypeAlias = Literal["float32", "float64"]
"""The names of the dtypes scratchnn computes in."""

FloatDType: TypeAlias = "DTypeName | numpy.dtype[Any] | type[numpy.floating[Any]] | None"
"""What a ``dtype=`` argument accepts: a name, a NumPy dtype or scalar type (float32 or float64
only; others raise a TypeError), or ``None`` for the default (:func:`get_default_dtype`)."""

# The dtype that ``dtype=None`` means here and now. A context variable, not a module global: a
# ``with default_dtype(...)`` block changes it for the code inside the block only, in its own
# thread (each thread starts from float32) or asyncio task, and restores it on exit.
# Unset (None) means DEFAULT_DTYPE.
_default_dtype: contextvars.ContextVar[numpy.dtype[Any] | None] = contextvars.ContextVar(
    "scratchnn_default_dtype", default=None
)
_FALLBACK_DTYPE = numpy.dtype(DEFAULT_DTYPE)


def get_default_dtype() -> numpy.dtype[Any]:
    """The dtype that ``dtype=None`` means at this point: float32, or what the innermost
    :func:`default_dtype` block around the caller set.

    >>> get_default_dtype()
    dtype('float32')
    """
    dtype = _default_dtype.get()
    return _FALLBACK_DTYPE if dtype is None else dtype


@contextlib.contextmanager
def default_dtype(dtype: FloatDType) -> Iterator[numpy.dtype[Any]]:
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


_FREED_MEMORY_KEPT: bool | None = None
MMAP_THRESHOLD = 32 << 20
"""Allocations below this come from the heap once :func:`keep_freed_memory` ran (glibc's
largest allowed value on 64-bit systems)."""
TRIM_THRESHOLD = 512 << 20
"""Free memory the heap keeps at its top instead of handing it back to the system."""


def keep_freed_memory() -> bool:
    """Let glibc's ``malloc`` keep freed memory for the next allocation (once per process).

    A training step allocates the same temporaries as the step before. By default glibc maps
    every array above 128 KiB fresh from the system and returns it when freed, so each step
    pays a page fault per 4 KiB of every temporary: measured here, a third of a convnet step
    and up to 10x on steps of many small-batch arrays. Raising ``M_MMAP_THRESHOLD`` to
    :data:`MMAP_THRESHOLD` and ``M_TRIM_THRESHOLD`` to :data:`TRIM_THRESHOLD` makes freed memory
    reused instead; the process then gives memory back to the system less eagerly (its peak
    stays as it was).

    The training loop calls this when it starts (``Model.fit``). It changes process-wide
    allocator settings, nothing else; where the C library is not glibc it does nothing.

    Returns:
        Whether the settings are in effect.
    """
    global _FREED_MEMORY_KEPT
    if _FREED_MEMORY_KEPT is None:
        kept = False
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6")
            m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
            kept = bool(libc.mallopt(m_mmap_threshold, MMAP_THRESHOLD)) and bool(
                libc.mallopt(m_trim_threshold, TRIM_THRESHOLD)
            )
        _FREED_MEMORY_KEPT = kept
    return _FREED_MEMORY_KEPT


def resolve_dtype(dtype: FloatDType = None) -> numpy.dtype[Any]:
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


def to_numpy(array: Any) -> numpy.ndarray[Any, Any]:
    """Return ``array`` as a NumPy array (copies device arrays to the host)."""
    if isinstance(array, numpy.ndarray):
        return array
    get = getattr(array, "get", None)
    if get is not None:  # CuPy arrays copy to the host with .get()
        return get()
    return numpy.asarray(array)


def erf(x: Any) -> Any:
    """The error function, element-wise (NumPy has none; SciPy's is used)."""
    from scipy.special import erf as _erf

    return _erf(x)
