"""Learning-rate schedules: callables ``step -> learning rate`` with Keras' names and formulas.

An optimizer given a schedule as ``learning_rate`` calls it with its ``iterations`` count before
each update (0 on the first update), as Keras does::

    >>> from scratchnn.optimizers import schedules
    >>> schedule = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    >>> schedule(0), schedule(10), schedule(20)
    (0.1, 0.05, 0.025)

Schedules serialise to ``{"class_name": ..., "config": ...}`` with :func:`serialize` and are rebuilt
by :func:`get` (or :func:`deserialize`). Every schedule returns a plain Python float.
"""

from __future__ import annotations

import bisect
import itertools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from scratchnn.optimizers._validation import (
    check_bool,
    check_non_negative,
    check_number,
    check_positive,
    check_positive_int,
    check_unit_interval,
)


def _check_step(step: Any) -> float:
    """Return the step as a float; it must be a real number >= 0."""
    if isinstance(step, bool) or not isinstance(step, numbers.Real):
        raise TypeError(
            f"A schedule is called with the step number (an integer >= 0); received step={step!r} "
            f"(type {type(step).__name__})."
        )
    value = float(step)
    if not value >= 0:  # also refuses NaN
        raise ValueError(
            f"A schedule is called with the step number (an integer >= 0); received step={step!r}."
        )
    return value


def _check_decay_steps(value: Any) -> float | int:
    """decay_steps must be > 0; an integer stays an integer (so configs read naturally)."""
    checked = check_positive("decay_steps", value)
    return int(value) if isinstance(value, numbers.Integral) else checked


class LearningRateSchedule:
    """Base class of learning-rate schedules: ``schedule(step) -> float``.

    Subclasses implement :meth:`__call__` and :meth:`get_config` (the constructor's arguments, so
    that ``type(s)(**s.get_config())`` rebuilds ``s``). Register a subclass with :func:`register`
    to make :func:`get` able to rebuild it from its config.
    """

    def __call__(self, step: int) -> float:
        """Return the learning rate at ``step`` (0 for the first update)."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step).")

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments as a JSON-serialisable dict."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_config().")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        """Rebuild a schedule from the dict :meth:`get_config` returned."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LearningRateSchedule) or type(self) is not type(other):
            return NotImplemented
        return self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self)))


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant learning rate on each interval between boundaries.

    ``values[0]`` for ``step <= boundaries[0]``, ``values[i]`` for
    ``boundaries[i-1] < step <= boundaries[i]`` and ``values[-1]`` for ``step > boundaries[-1]``
    (Keras' convention). Step decay ("divide by 10 at epochs 30 and 60") is this schedule.

    Args:
        boundaries: strictly increasing step numbers.
        values: learning rates, one more than ``boundaries``, each > 0.

    Example:
        >>> s = PiecewiseConstantDecay([100, 200], [0.1, 0.01, 0.001])
        >>> s(0), s(100), s(101), s(500)
        (0.1, 0.1, 0.01, 0.001)
    """

    def __init__(self, boundaries: Sequence[float], values: Sequence[float]) -> None:
        boundaries = [check_number(f"boundaries[{i}]", b) for i, b in enumerate(boundaries)]
        values = [check_positive(f"values[{i}]", v) for i, v in enumerate(values)]
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                "PiecewiseConstantDecay needs one more value than boundaries (a value before the "
                f"first boundary and one after each); received {len(boundaries)} boundaries and "
                f"{len(values)} values."
            )
        if any(b2 <= b1 for b1, b2 in itertools.pairwise(boundaries)):
            raise ValueError(
                f"boundaries must be strictly increasing; received boundaries={boundaries}."
            )
        self.boundaries = [int(b) if b.is_integer() else b for b in boundaries]
        self.values = values

    def __call__(self, step: int) -> float:
        """Return the value of the interval containing ``step``."""
        return self.values[bisect.bisect_left(self.boundaries, _check_step(step))]

    def get_config(self) -> dict[str, Any]:
        """Return ``{"boundaries": [...], "values": [...]}``."""
        return {"boundaries": list(self.boundaries), "values": list(self.values)}


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    With ``staircase=True`` the exponent is ``floor(step / decay_steps)``: the rate drops by
    ``decay_rate`` every ``decay_steps`` steps.

    Args:
        initial_learning_rate: the rate at step 0, > 0.
        decay_steps: steps per factor of ``decay_rate``, > 0.
        decay_rate: factor, > 0 (< 1 decays).
        staircase: decay in discrete jumps.

    Example:
        >>> ExponentialDecay(1.0, decay_steps=2, decay_rate=0.5, staircase=True)(3)
        0.5
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        decay_rate: float,
        staircase: bool = False,
    ) -> None:
        self.initial_learning_rate = check_positive("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _check_decay_steps(decay_steps)
        self.decay_rate = check_positive("decay_rate", decay_rate)
        self.staircase = check_bool("staircase", staircase)

    def __call__(self, step: int) -> float:
        """Return the decayed learning rate at ``step``."""
        p = _check_step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate**p

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (the classic annealing).

    With ``staircase=True``, ``step / decay_steps`` is floored.

    Args:
        initial_learning_rate: the rate at step 0, > 0.
        decay_steps: time scale of the decay, > 0.
        decay_rate: >= 0 (0 gives a constant rate).
        staircase: decay in discrete jumps.

    Example:
        >>> InverseTimeDecay(0.1, decay_steps=1, decay_rate=1.0)(4)
        0.02
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        decay_rate: float,
        staircase: bool = False,
    ) -> None:
        self.initial_learning_rate = check_positive("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _check_decay_steps(decay_steps)
        self.decay_rate = check_non_negative("decay_rate", decay_rate)
        self.staircase = check_bool("staircase", staircase)

    def __call__(self, step: int) -> float:
        """Return the decayed learning rate at ``step``."""
        p = _check_step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


class CosineDecay(LearningRateSchedule):
    """Cosine decay with an optional linear warm-up, as ``keras.optimizers.schedules.CosineDecay``.

    Without warm-up (``warmup_target=None``)::

        s = min(step, decay_steps)
        lr = initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)

    With warm-up, the rate rises linearly from ``initial_learning_rate`` to ``warmup_target`` over
    ``warmup_steps`` steps, then decays from ``warmup_target`` by the formula above applied to
    ``step - warmup_steps``.

    Args:
        initial_learning_rate: the rate at step 0; > 0, or >= 0 with a warm-up.
        decay_steps: length of the decay, > 0.
        alpha: final rate as a fraction of the decay's starting rate, in [0, 1].
        warmup_target: rate reached at the end of the warm-up (> 0), or ``None`` for no warm-up.
        warmup_steps: length of the warm-up, an integer >= 0.

    Example:
        >>> s = CosineDecay(1.0, decay_steps=10, alpha=0.1)
        >>> s(0), round(s(5), 6), s(10), s(99)
        (1.0, 0.55, 0.1, 0.1)
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        alpha: float = 0.0,
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        if warmup_target is None:
            self.initial_learning_rate = check_positive(
                "initial_learning_rate", initial_learning_rate
            )
        else:
            self.initial_learning_rate = check_non_negative(
                "initial_learning_rate", initial_learning_rate
            )
        self.decay_steps = _check_decay_steps(decay_steps)
        self.alpha = check_unit_interval("alpha", alpha, closed=True)
        self.warmup_target = (
            None if warmup_target is None else check_positive("warmup_target", warmup_target)
        )
        self.warmup_steps = check_positive_int("warmup_steps", warmup_steps, allow_zero=True)

    def _decay(self, step: float, decay_from: float) -> float:
        fraction = min(step, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * fraction))
        return decay_from * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: int) -> float:
        """Return the learning rate at ``step``."""
        s = _check_step(step)
        if self.warmup_target is None:
            return self._decay(s, self.initial_learning_rate)
        if s < self.warmup_steps:
            fraction = s / self.warmup_steps
            delta = self.warmup_target - self.initial_learning_rate
            return self.initial_learning_rate + delta * fraction
        return self._decay(s - self.warmup_steps, self.warmup_target)

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


_SCHEDULES: dict[str, type[LearningRateSchedule]] = {
    cls.__name__: cls
    for cls in (PiecewiseConstantDecay, ExponentialDecay, InverseTimeDecay, CosineDecay)
}


def register(cls: type[LearningRateSchedule]) -> type[LearningRateSchedule]:
    """Make :func:`get` able to rebuild ``cls`` from its config (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, LearningRateSchedule)):
        raise TypeError(f"register expects a LearningRateSchedule subclass; received {cls!r}.")
    _SCHEDULES[cls.__name__] = cls
    return cls


def serialize(schedule: LearningRateSchedule | Callable[[int], float]) -> dict[str, Any]:
    """Return ``{"class_name": <class name>, "config": schedule.get_config()}``.

    Raises:
        TypeError: for a plain function (it has no config to save).
    """
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(
            "serialize expects a LearningRateSchedule; received "
            f"{schedule!r} (type {type(schedule).__name__}). Plain functions cannot be saved: "
            "subclass LearningRateSchedule and define get_config()."
        )
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict[str, Any]) -> LearningRateSchedule:
    """Rebuild a schedule from ``{"class_name": ..., "config": {...}}`` (see :func:`serialize`)."""
    if not isinstance(config, dict) or set(config) != {"class_name", "config"}:
        raise ValueError(
            'A schedule config must be a dict {"class_name": ..., "config": {...}}; '
            f"received {config!r}."
        )
    name = config["class_name"]
    cls = _SCHEDULES.get(name)
    if cls is None:
        raise ValueError(
            f"Unknown learning-rate schedule {name!r}; expected one of {sorted(_SCHEDULES)}. "
            "Register custom schedules with scratchnn.optimizers.schedules.register."
        )
    return cls.from_config(dict(config["config"]))


def get(identifier: LearningRateSchedule | dict[str, Any]) -> LearningRateSchedule:
    """Return a schedule: a schedule instance as is, or one rebuilt from its serialized dict.

    Example:
        >>> s = get({"class_name": "InverseTimeDecay",
        ...          "config": {"initial_learning_rate": 0.1, "decay_steps": 1, "decay_rate": 1}})
        >>> s(1)
        0.05
    """
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TypeError(
        "schedules.get expects a LearningRateSchedule or a dict from schedules.serialize; "
        f"received {identifier!r} (type {type(identifier).__name__})."
    )


__all__ = [
    "CosineDecay",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "deserialize",
    "get",
    "register",
    "serialize",
]
