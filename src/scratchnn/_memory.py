"""How much memory this process may use, for limits that must hold before allocating."""

from __future__ import annotations

import os


def available_memory() -> int | None:
    """Bytes this process may use: physical memory, or a lower address-space limit (POSIX).

    ``None`` when neither can be read (callers then apply no memory limit).

    Example:
        >>> available_memory() is None or available_memory() > 0
        True
    """
    limits = []
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    except (ImportError, OSError, ValueError):
        pass
    limits = [n for n in limits if n > 0]
    return min(limits) if limits else None
