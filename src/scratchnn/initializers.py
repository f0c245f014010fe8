"""Weight initializers with Keras names, each drawing from an explicit ``numpy.random.Generator``.

An initializer is a small frozen object called as ``init(shape, rng, dtype="float32")``; it returns
a NumPy array of that shape and dtype. Randomness comes only from ``rng`` (never a global seed),
and every draw is made in float64 and then cast, so one seed gives the same values in float32 and
float64 (up to the cast)::

    >>> import numpy as np
    >>> from scratchnn import initializers
    >>> w = initializers.get("glorot_uniform")((784, 128), np.random.default_rng(0))
    >>> w.shape, w.dtype
    ((784, 128), dtype('float32'))

Exact draws (documented so results can be reproduced outside the library), with ``z`` from
``rng.standard_normal(shape)`` and ``u`` from ``rng.random(shape)``:

* ``RandomNormal``: ``mean + stddev * z``.
* ``RandomUniform``: ``minval + (maxval - minval) * u``.
* truncated normals (``TruncatedNormal`` and the ``*Normal`` variance-scaling ones): ``z`` is drawn
  as above, then every entry with ``|z| > 2`` is redrawn (in flat order, from the same ``rng``)
  until none is left; the result is ``mean + stddev * z``.

Fans follow Keras: a 2-D kernel ``(fan_in, fan_out)``; a kernel of rank >= 3 ``(*receptive_field,
in_channels, out_channels)`` has ``fan_in = in_channels * prod(receptive_field)`` and ``fan_out =
out_channels * prod(receptive_field)``; a 1-D shape ``(n,)`` has both fans ``n``; a scalar both 1.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal, TypeAlias

import numpy as np

from scratchnn import backend
from scratchnn.backend import FloatDType

# The standard deviation of a standard normal truncated to [-2, 2]. Dividing by it makes a
# truncated draw's variance equal the variance asked for (Keras' VarianceScaling does the same).
TRUNCATED_STD = 0.87962566103423978

InitializerFn = Callable[..., np.ndarray]
"""Anything called as ``fn(shape, rng, dtype)`` that returns an array of ``shape``."""

InitializerName: TypeAlias = Literal[
    "zeros", "ones", "constant", "random_normal", "random_uniform", "truncated_normal",
    "variance_scaling", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
    "lecun_uniform", "lecun_normal", "orthogonal", "uniform", "normal",
    "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal",
    "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
    "LecunNormal", "Orthogonal",
]
"""The names :func:`get` takes: those of :data:`INITIALIZERS` and the classes'."""


# ---------------------------------------------------------------------------------------------
# Helpers


def _check_shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    """Return ``shape`` as a tuple of positive ints, or raise ValueError saying what was wrong."""
    dims = (shape,) if isinstance(shape, (int, np.integer)) else shape
    try:
        dims = tuple(dims)
    except TypeError:
        raise ValueError(
            f"shape must be an int or a sequence of positive ints; received shape={shape!r}."
        ) from None
    for d in dims:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d <= 0:
            raise ValueError(
                f"shape must contain only positive ints; received shape={shape!r}. "
                "Every dimension of a parameter needs at least one entry."
            )
    return tuple(int(d) for d in dims)


def _check_rng(rng: Any) -> np.random.Generator:
    """Return ``rng`` when it is a Generator; raise TypeError naming the fix otherwise."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator; received {type(rng).__name__}. "
            "Create one with numpy.random.default_rng(seed) and pass it explicitly."
        )
    return rng


def _check_number(name: str, value: Any) -> float:
    """Return ``value`` as a finite float, or raise ValueError naming the argument."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{name} must be a finite real number; received {name}={value!r}.")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be a finite real number; received {name}={value!r}.")
    return out


def compute_fans(shape: int | Sequence[int]) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a parameter shape, as Keras computes them.

    Args:
        shape: a dense kernel ``(in, out)``, a convolution kernel ``(*receptive_field, in, out)``,
            a vector ``(n,)`` (both fans ``n``) or ``()`` (both fans 1).

    Example:
        >>> compute_fans((3, 3, 16, 32))
        (144, 288)
    """
    dims = _check_shape(shape)
    if len(dims) == 0:
        return 1, 1
    if len(dims) == 1:
        return dims[0], dims[0]
    receptive_field = math.prod(dims[:-2])  # 1 for a 2-D kernel
    return dims[-2] * receptive_field, dims[-1] * receptive_field


def _truncated_standard_normal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Standard normal draws in float64, those outside [-2, 2] redrawn until none is left."""
    z = np.asarray(rng.standard_normal(shape), dtype=np.float64)
    flat = z.reshape(-1)  # a view: writing into it writes into z
    bad = np.flatnonzero(np.abs(flat) > 2.0)
    while bad.size:
        flat[bad] = rng.standard_normal(bad.size)
        bad = bad[np.abs(flat[bad]) > 2.0]
    return z


# ---------------------------------------------------------------------------------------------
# Initializers


@dataclasses.dataclass(frozen=True)
class Initializer:
    """Base class: a frozen, configurable callable ``(shape, rng, dtype) -> array``.

    Subclasses implement :meth:`_draw` (a float64 array of the checked shape); the base checks the
    arguments, resolves the dtype and casts.
    """

    def __call__(
        self,
        shape: int | Sequence[int],
        rng: np.random.Generator | None,
        dtype: FloatDType = "float32",
    ) -> np.ndarray:
        """Return a new array of ``shape`` and ``dtype`` drawn with ``rng``.

        Args:
            shape: the parameter's shape; every dimension positive.
            rng: the Generator all randomness comes from (ignored by constant initializers).
            dtype: ``"float32"`` (default) or ``"float64"``.
        """
        dims = _check_shape(shape)
        resolved = backend.resolve_dtype(dtype)
        return np.asarray(self._draw(dims, rng), dtype=np.float64).astype(resolved, copy=False)

    def _draw(self, shape: tuple[int, ...], rng: Any) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as a JSON-ready dict (``cls(**config)`` rebuilds it)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        """Rebuild an initializer from :meth:`get_config`'s output."""
        return cls(**config)


@dataclasses.dataclass(frozen=True)
class Zeros(Initializer):
    """All zeros.

    Example:
        >>> Zeros()((2,), None)
        array([0., 0.], dtype=float32)
    """

    def _draw(self, shape: tuple[int, ...], rng: Any) -> np.ndarray:
        return np.zeros(shape)


@dataclasses.dataclass(frozen=True)
class Ones(Initializer):
    """All ones.

    Example:
        >>> Ones()((2,), None)
        array([1., 1.], dtype=float32)
    """

    def _draw(self, shape: tuple[int, ...], rng: Any) -> np.ndarray:
        return np.ones(shape)


@dataclasses.dataclass(frozen=True)
class Constant(Initializer):
    """Every entry equal to ``value``.

    Args:
        value: a finite real number.

    Example:
        >>> Constant(0.1)((2,), None, "float64")
        array([0.1, 0.1])
    """

    value: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _check_number("value", self.value))

    def _draw(self, shape: tuple[int, ...], rng: Any) -> np.ndarray:
        return np.full(shape, self.value)


@dataclasses.dataclass(frozen=True)
class RandomNormal(Initializer):
    """Normal draws: ``mean + stddev * rng.standard_normal(shape)``.

    Args:
        mean: the mean (default 0).
        stddev: the standard deviation, > 0 (default 0.05, as Keras).

    Example:
        >>> import numpy as np
        >>> w = RandomNormal(stddev=0.01)((3,), np.random.default_rng(0), "float64")
        >>> bool(np.all(w == np.random.default_rng(0).standard_normal(3) * 0.01))
        True
    """

    mean: float = 0.0
    stddev: float = 0.05

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _check_number("mean", self.mean))
        object.__setattr__(self, "stddev", _check_number("stddev", self.stddev))
        if self.stddev <= 0:
            raise ValueError(f"stddev must be > 0; received stddev={self.stddev}.")

    def _draw(self, shape: tuple[int, ...], rng: Any) -> np.ndarray:
        return self.mean + self.stddev * _check_rng(rng).standard_normal(shape)


@dataclasses.dataclass(frozen=True)
class RandomUniform(Initializer):
    """Uniform draws in ``[minval, maxval)``: ``minval + (maxval - minval) * rng.random(shape)``.

    Args:
        minval: lower bound (default -0.05, as Keras).
        maxval: upper bound, > ``minval`` (default 0.05).

    Example:
        >>> import numpy as np
        >>> w = RandomUniform(-1.0, 1.0)((1000,), np.random.default_rng(0))
        >>> bool(w.min() >= -1.0 and w.max() < 1.0)
        True
    """

    minval: float = -0.05
    maxval: float = 0.05

    def __post_init__(self) -> None:
        object.__setattr__(self, "minval", _check_number("minval", self.minval))
        object.__setattr__(self, "maxval", _check_number("maxval", self.maxval))
        if self.minval >= self.maxval:
            raise ValueError(
                f"minval must be < maxval; received minval={self.minval}, maxval={self.maxval}."
            )

    def _draw(self, shape: tuple[int, ...], rng: Any) -> np.ndarray:
        u = _check_rng(rng).random(shape)
        return self.minval + (self.maxval - self.minval) * u


@dataclasses.dataclass(frozen=True)
class TruncatedNormal(Initializer):
    """Normal draws more than two ``stddev`` from ``mean`` redrawn (as Keras' TruncatedNormal).

    ``stddev`` is that of the normal *before* truncation: the draws' own standard deviation is
    ``0.8796 * stddev`` and every draw lies in ``[mean - 2 stddev, mean + 2 stddev]``.

    Args:
        mean: the mean (default 0).
        stddev: the untruncated standard deviation, > 0 (default 0.05).

    Example:
        >>> import numpy as np
        >>> w = TruncatedNormal(stddev=1.0)((1000,), np.random.default_rng(0))
        >>> bool(np.abs(w).max() <= 2.0)
        True
    """

    mean: float = 0.0
    stddev: float = 0.05

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _check_number("mean", self.mean))
        object.__setattr__(self, "stddev", _check_number("stddev", self.stddev))
        if self.stddev <= 0:
            raise ValueError(f"stddev must be > 0; received stddev={self.stddev}.")

    def _draw(self, shape: tuple[int, ...], rng: Any) -> np.ndarray:
        return self.mean + self.stddev * _truncated_standard_normal(shape, _check_rng(rng))


@dataclasses.dataclass(frozen=True)
class VarianceScaling(Initializer):
    """Draws whose variance is ``scale / n``, ``n`` a fan of the shape (Keras' VarianceScaling).

    ``n`` is ``fan_in``, ``fan_out`` or their mean (``mode="fan_avg"``), at least 1. The draws are:

    * ``"truncated_normal"``: a normal of stddev ``sqrt(scale / n) / 0.8796`` truncated at two
      stddevs (see :class:`TruncatedNormal`), so the truncated draws have stddev
      ``sqrt(scale / n)``;
    * ``"untruncated_normal"``: a normal of stddev ``sqrt(scale / n)``;
    * ``"uniform"``: uniform in ``[-limit, limit)``, ``limit = sqrt(3 * scale / n)``.

    Args:
        scale: > 0 (default 1).
        mode: ``"fan_in"`` (default), ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"`` (default), ``"untruncated_normal"`` or ``"uniform"``.

    Example:
        >>> import numpy as np
        >>> init = VarianceScaling(2.0, "fan_in", "untruncated_normal")  # He normal, untruncated
        >>> w = init((4096, 512), np.random.default_rng(0))
        >>> bool(abs(w.std() - np.sqrt(2 / 4096)) < 1e-3)
        True
    """

    MODES: ClassVar[tuple[str, ...]] = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS: ClassVar[tuple[str, ...]] = ("truncated_normal", "untruncated_normal", "uniform")

    scale: float = 1.0
    mode: str = "fan_in"
    distribution: str = "truncated_normal"

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _check_number("scale", self.scale))
        if self.scale <= 0:
            raise ValueError(f"scale must be > 0; received scale={self.scale}.")
        if self.mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}; received mode={self.mode!r}.")
        if self.distribution not in self.DISTRIBUTIONS:
            raise ValueError(
                f"distribution must be one of {self.DISTRIBUTIONS}; "
                f"received distribution={self.distribution!r}."
            )

    def _draw(self, shape: tuple[int, ...], rng: Any) -> np.ndarray:
        rng = _check_rng(rng)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(variance) / TRUNCATED_STD
            return stddev * _truncated_standard_normal(shape, rng)
        if self.distribution == "untruncated_normal":
            return math.sqrt(variance) * rng.standard_normal(shape)
        limit = math.sqrt(3.0 * variance)
        return -limit + 2.0 * limit * rng.random(shape)


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling whose arguments are fixed by its name: no config, a short repr."""

    def get_config(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class GlorotUniform(_FixedVarianceScaling):
    """Glorot (Xavier) uniform: uniform in ``[-limit, limit)``, ``limit = sqrt(6 / (fan_in +
    fan_out))``.

    Example:
        >>> import numpy as np
        >>> w = GlorotUniform()((100, 50), np.random.default_rng(0))
        >>> bool(np.abs(w).max() <= np.sqrt(6 / 150))
        True
    """

    def __init__(self) -> None:
        super().__init__(scale=1.0, mode="fan_avg", distribution="uniform")


class GlorotNormal(_FixedVarianceScaling):
    """Glorot (Xavier) normal, truncated as in Keras: a normal of stddev
    ``sqrt(2 / (fan_in + fan_out)) / 0.8796`` with draws beyond two of its stddevs redrawn, so the
    draws themselves have stddev ``sqrt(2 / (fan_in + fan_out))``.

    Example:
        >>> import numpy as np
        >>> GlorotNormal()((100, 50), np.random.default_rng(0)).shape
        (100, 50)
    """

    def __init__(self) -> None:
        super().__init__(scale=1.0, mode="fan_avg", distribution="truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """He (Kaiming) uniform: uniform in ``[-limit, limit)``, ``limit = sqrt(6 / fan_in)``.

    Example:
        >>> import numpy as np
        >>> w = HeUniform()((100, 50), np.random.default_rng(0))
        >>> bool(np.abs(w).max() <= np.sqrt(6 / 100))
        True
    """

    def __init__(self) -> None:
        super().__init__(scale=2.0, mode="fan_in", distribution="uniform")


class HeNormal(_FixedVarianceScaling):
    """He (Kaiming) normal, truncated as in Keras: draws with stddev ``sqrt(2 / fan_in)``, none
    beyond ``2 * sqrt(2 / fan_in) / 0.8796``.

    Example:
        >>> import numpy as np
        >>> HeNormal()((100, 50), np.random.default_rng(0)).dtype
        dtype('float32')
    """

    def __init__(self) -> None:
        super().__init__(scale=2.0, mode="fan_in", distribution="truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """LeCun uniform: uniform in ``[-limit, limit)``, ``limit = sqrt(3 / fan_in)``.

    Example:
        >>> import numpy as np
        >>> w = LecunUniform()((100, 50), np.random.default_rng(0))
        >>> bool(np.abs(w).max() <= np.sqrt(3 / 100))
        True
    """

    def __init__(self) -> None:
        super().__init__(scale=1.0, mode="fan_in", distribution="uniform")


class LecunNormal(_FixedVarianceScaling):
    """LeCun normal, truncated as in Keras: draws with stddev ``sqrt(1 / fan_in)``, none beyond
    ``2 * sqrt(1 / fan_in) / 0.8796``.

    Example:
        >>> import numpy as np
        >>> LecunNormal()((100, 50), np.random.default_rng(0)).shape
        (100, 50)
    """

    def __init__(self) -> None:
        super().__init__(scale=1.0, mode="fan_in", distribution="truncated_normal")


@dataclasses.dataclass(frozen=True)
class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``gain``: Keras' default for recurrent kernels.

    The shape is read as a matrix ``(prod(shape[:-1]), shape[-1])``; a normal draw
    ``rng.standard_normal((max(rows, cols), min(rows, cols)))`` is QR-factorised, ``Q``'s columns
    are signed by ``diag(R)`` (so the result is uniform over orthogonal matrices), and ``Q`` is
    transposed when there are fewer rows than columns. Rows (or columns, whichever are fewer)
    are then orthonormal. A shape of one dimension is one row; a scalar is ``±gain``.

    Args:
        gain: multiplier, > 0 (default 1).

    Example:
        >>> import numpy as np
        >>> q = Orthogonal()((4, 4), np.random.default_rng(0), "float64")
        >>> bool(np.allclose(q.T @ q, np.eye(4)))
        True
    """

    gain: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "gain", _check_number("gain", self.gain))
        if self.gain <= 0:
            raise ValueError(f"gain must be > 0; received gain={self.gain}.")

    def _draw(self, shape: tuple[int, ...], rng: Any) -> np.ndarray:
        rows, cols = math.prod(shape[:-1]), (shape[-1] if shape else 1)
        a = _check_rng(rng).standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # a zero on the diagonal (probability 0) would zero a column
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)


# ---------------------------------------------------------------------------------------------
# Factories: lower-case names that build the classes (``random_normal(stddev=0.01)``)


def zeros() -> Zeros:
    """Return :class:`Zeros`. Example: ``zeros()((3,), rng)``."""
    return Zeros()


def ones() -> Ones:
    """Return :class:`Ones`. Example: ``ones()((3,), rng)``."""
    return Ones()


def constant(value: float = 0.0) -> Constant:
    """Return :class:`Constant` of ``value``. Example: ``constant(0.1)((3,), rng)``."""
    return Constant(value)


def random_normal(mean: float = 0.0, stddev: float = 0.05) -> RandomNormal:
    """Return :class:`RandomNormal`.

    ``random_normal(stddev=0.01)`` with a zero bias reproduces the ``randn * 0.01`` weights of a
    from-scratch network: in float64 the draw is exactly ``rng.standard_normal(shape) * 0.01``.

    Example:
        >>> import numpy as np
        >>> random_normal(stddev=0.01)((2, 3), np.random.default_rng(0)).shape
        (2, 3)
    """
    return RandomNormal(mean=mean, stddev=stddev)


def random_uniform(minval: float = -0.05, maxval: float = 0.05) -> RandomUniform:
    """Return :class:`RandomUniform`. Example: ``random_uniform(-0.1, 0.1)((3,), rng)``."""
    return RandomUniform(minval=minval, maxval=maxval)


def truncated_normal(mean: float = 0.0, stddev: float = 0.05) -> TruncatedNormal:
    """Return :class:`TruncatedNormal`. Example: ``truncated_normal(stddev=0.02)((3,), rng)``."""
    return TruncatedNormal(mean=mean, stddev=stddev)


def variance_scaling(
    scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal"
) -> VarianceScaling:
    """Return :class:`VarianceScaling`. Example: ``variance_scaling(2.0)((3, 4), rng)``."""
    return VarianceScaling(scale=scale, mode=mode, distribution=distribution)


def glorot_uniform() -> VarianceScaling:
    """Return :class:`GlorotUniform`. Example: ``glorot_uniform()((3, 4), rng)``."""
    return GlorotUniform()


def glorot_normal() -> VarianceScaling:
    """Return :class:`GlorotNormal` (truncated). Example: ``glorot_normal()((3, 4), rng)``."""
    return GlorotNormal()


def he_uniform() -> VarianceScaling:
    """Return :class:`HeUniform`. Example: ``he_uniform()((3, 4), rng)``."""
    return HeUniform()


def he_normal() -> VarianceScaling:
    """Return :class:`HeNormal` (truncated). Example: ``he_normal()((3, 4), rng)``."""
    return HeNormal()


def lecun_uniform() -> VarianceScaling:
    """Return :class:`LecunUniform`. Example: ``lecun_uniform()((3, 4), rng)``."""
    return LecunUniform()


def lecun_normal() -> VarianceScaling:
    """Return :class:`LecunNormal` (truncated). Example: ``lecun_normal()((3, 4), rng)``."""
    return LecunNormal()


def orthogonal(gain: float = 1.0) -> Orthogonal:
    """Return :class:`Orthogonal`. Example: ``orthogonal()((4, 16), rng)``."""
    return Orthogonal(gain=gain)


# ---------------------------------------------------------------------------------------------
# Registry

INITIALIZERS: dict[str, Callable[[], Initializer]] = {
    "zeros": zeros,
    "ones": ones,
    "constant": constant,
    "random_normal": random_normal,
    "random_uniform": random_uniform,
    "truncated_normal": truncated_normal,
    "variance_scaling": variance_scaling,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "lecun_uniform": lecun_uniform,
    "lecun_normal": lecun_normal,
    "orthogonal": orthogonal,
    # Keras 2 aliases
    "uniform": random_uniform,  # RandomUniform(-0.05, 0.05)
    "normal": random_normal,  # RandomNormal(0.0, 0.05)
}
"""Name -> factory with Keras defaults; ``get(name)`` calls it with no arguments."""

_CLASSES: dict[str, type[Initializer]] = {
    cls.__name__: cls
    for cls in (
        Zeros,
        Ones,
        Constant,
        RandomNormal,
        RandomUniform,
        TruncatedNormal,
        VarianceScaling,
        GlorotUniform,
        GlorotNormal,
        HeUniform,
        HeNormal,
        LecunUniform,
        LecunNormal,
        Orthogonal,
    )
}


def _class_for(name: str) -> type[Initializer] | None:
    """The class for a class name (``"HeNormal"``) or a registry name (``"he_normal"``)."""
    if name in _CLASSES:
        return _CLASSES[name]
    factory = INITIALIZERS.get(name.lower())
    return type(factory()) if factory is not None else None


def serialize(initializer: Initializer) -> dict[str, Any]:
    """Return ``{"class_name": ..., "config": ...}``, the form :func:`get` accepts back.

    Example:
        >>> serialize(RandomNormal(stddev=0.01))
        {'class_name': 'RandomNormal', 'config': {'mean': 0.0, 'stddev': 0.01}}
    """
    if not isinstance(initializer, Initializer):
        raise TypeError(
            f"only Initializer instances can be serialized; received "
            f"{type(initializer).__name__}. Wrap custom functions in an Initializer subclass."
        )
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


InitializerLike: TypeAlias = "InitializerName | dict[str, Any] | Initializer | InitializerFn"
"""What layers take as an initializer: a name, a config dict, an instance or a function."""


def get(identifier: InitializerLike) -> InitializerFn:
    """Return the initializer for a name, a config dict, an instance or a callable.

    Args:
        identifier: a registry name (``"he_normal"``, also ``"uniform"``/``"normal"`` as in
            Keras 2, or a class name such as ``"HeNormal"``); a dict
            ``{"class_name": ..., "config": {...}}``; an :class:`Initializer` (returned as is); or
            any callable ``(shape, rng, dtype) -> array`` (returned as is).

    Raises:
        ValueError: for an unknown name (the message lists the accepted ones) or a bad config.
        TypeError: for anything else.

    Example:
        >>> get("normal")
        RandomNormal(mean=0.0, stddev=0.05)
        >>> get({"class_name": "RandomUniform", "config": {"minval": -1, "maxval": 1}})
        RandomUniform(minval=-1.0, maxval=1.0)
    """
    accepted = ", ".join(sorted(INITIALIZERS))
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in INITIALIZERS:
            return INITIALIZERS[key]()
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ValueError(
            f"Unknown initializer {identifier!r}. Accepted names: {accepted}; or pass an "
            "Initializer, a config dict or a function (shape, rng, dtype) -> array."
        )
    if isinstance(identifier, dict):
        if set(identifier) - {"class_name", "config"} or "class_name" not in identifier:
            raise ValueError(
                "an initializer config must be {'class_name': ..., 'config': {...}}; "
                f"received keys {sorted(identifier)}."
            )
        class_name = identifier["class_name"]
        cls = _class_for(class_name) if isinstance(class_name, str) else None
        if cls is None:
            raise ValueError(
                f"Unknown initializer class_name {class_name!r}. Accepted: "
                f"{', '.join(sorted(_CLASSES))} or the names {accepted}."
            )
        config = identifier.get("config") or {}
        try:
            return cls.from_config(dict(config))
        except TypeError as err:
            raise ValueError(f"invalid config for {cls.__name__}: {config!r} ({err}).") from None
    if callable(identifier):
        return identifier
    raise TypeError(
        "initializer must be a name, a config dict, an Initializer or a function "
        f"(shape, rng, dtype) -> array; received {type(identifier).__name__}."
    )


__all__ = [
    "INITIALIZERS",
    "TRUNCATED_STD",
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "compute_fans",
    "constant",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "ones",
    "orthogonal",
    "random_normal",
    "random_uniform",
    "serialize",
    "truncated_normal",
    "variance_scaling",
    "zeros",
]
