"""Argument checks shared by the optimizers and the learning-rate schedules.

Each check returns the value as a Python number and raises with the name of the argument, the value
received and what is accepted, e.g. ``"beta_1 must be in [0, 1); received beta_1=1.5."``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def check_number(name: str, value: Any) -> float:
    """Return ``value`` as a finite float; refuse booleans, non-numbers, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a number; received {name}={value!r} "
            f"(type {type(value).__name__}). Pass a float such as {name}=0.1."
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; received {name}={value!r}.")
    return value


def check_positive(name: str, value: Any) -> float:
    """Return ``value`` as a float after checking that it is a number > 0."""
    number = check_number(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be a positive number; received {name}={value!r}.")
    return number


def check_non_negative(name: str, value: Any) -> float:
    """Return ``value`` as a float after checking that it is a number >= 0."""
    number = check_number(name, value)
    if number < 0:
        raise ValueError(f"{name} must be a number >= 0; received {name}={value!r}.")
    return number


def check_unit_interval(name: str, value: Any, *, closed: bool = False) -> float:
    """Return ``value`` as a float after checking that it lies in [0, 1) (or [0, 1] if closed)."""
    number = check_number(name, value)
    upper_ok = number <= 1 if closed else number < 1
    if number < 0 or not upper_ok:
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{name} must be in {interval}; received {name}={value!r}.")
    return number


def check_optional_positive(name: str, value: Any) -> float | None:
    """Return ``None`` unchanged, or ``value`` as a float after checking that it is > 0."""
    if value is None:
        return None
    number = check_number(name, value)
    if number <= 0:
        raise ValueError(
            f"{name} must be a positive number or None (no clipping); received {name}={value!r}."
        )
    return number


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` after checking that it is a bool (numpy bools accepted)."""
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise TypeError(
            f"{name} must be True or False; received {name}={value!r} "
            f"(type {type(value).__name__})."
        )
    return bool(value)


def check_positive_int(name: str, value: Any, *, allow_zero: bool = False) -> int:
    """Return ``value`` as an int after checking that it is an integer > 0 (or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(float(value))
        else:
            raise TypeError(
                f"{name} must be an integer; received {name}={value!r} "
                f"(type {type(value).__name__})."
            )
    value = int(value)
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be an integer {bound}; received {name}={value!r}.")
    return value
