"""Seeds for the parts of a composite model (a GAN's two networks, a DBN's RBMs)."""

from __future__ import annotations

import numpy as np


def derived_seeds(seed: int | None, n: int) -> list[int | None]:
    """``n`` independent seeds spawned from ``seed`` (``None``: ``None`` each, unseeded parts).

    >>> derived_seeds(0, 2) == derived_seeds(0, 2), derived_seeds(None, 2)
    (True, [None, None])
    """
    if seed is None:
        return [None] * n
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]
