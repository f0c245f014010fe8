"""Argument checks shared by the dataset generators (internal).

Each check raises for a user mistake with what was expected, what was received and, where it
helps, the fix (STYLE.md practice 7).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

SeedLike = int | np.random.Generator | None
"""A seed: an int, a ``numpy.random.Generator`` (used as is) or None (fresh OS entropy)."""


def _show(value: object) -> str:
    """``repr`` of a value, with NumPy scalars shown as the Python number they hold."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def check_n_samples(n_samples: object, *, minimum: int = 1) -> int:
    """Return ``n_samples`` as an int, or raise if it is not an integer >= ``minimum``."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral):
        raise TypeError(
            f"n_samples must be an integer >= {minimum}. "
            f"Received: n_samples={_show(n_samples)} (type {type(n_samples).__name__})."
        )
    if n_samples < minimum:
        raise ValueError(
            f"n_samples must be an integer >= {minimum}. Received: n_samples={n_samples}."
        )
    return int(n_samples)


def check_noise(noise: object) -> float:
    """Return ``noise`` as a float, or raise if it is not a finite number >= 0."""
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real):
        raise TypeError(
            f"noise must be a real number >= 0. "
            f"Received: noise={_show(noise)} (type {type(noise).__name__})."
        )
    value = float(noise)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"noise must be a finite number >= 0. Received: noise={_show(noise)}.")
    return value


def make_rng(seed: SeedLike) -> np.random.Generator:
    """Return ``numpy.random.default_rng(seed)``; never touches NumPy's global state."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(
            "seed must be an int, a numpy.random.Generator or None. "
            f"Received: seed={_show(seed)} (type {type(seed).__name__})."
        )
    if seed is not None and seed < 0:
        raise ValueError(f"seed must be a non-negative integer. Received: seed={seed}.")
    return np.random.default_rng(None if seed is None else int(seed))


def split_counts(n_samples: int, n_classes: int) -> list[int]:
    """Split ``n_samples`` into ``n_classes`` counts that differ by at most one (first get more)."""
    base, extra = divmod(n_samples, n_classes)
    return [base + (1 if k < extra else 0) for k in range(n_classes)]
