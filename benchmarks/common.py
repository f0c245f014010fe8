"""Shared pieces of the benchmark suite: data, timing, FLOP counts, the machine's reference speed.

Nothing here imports scratchnn, scikit-learn or PyTorch, so a memory-measuring subprocess pays only
for the library it measures.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist.npz"
"""Real MNIST, used for the 784-input cases when present (random rows otherwise)."""


def load_mnist(rows: int = 60_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """``(x, y, source)``: ``rows`` float32 images in [0, 1] as (rows, 784) and int64 labels.

    Real MNIST training images when ``MNIST`` exists, random rows with random labels otherwise
    (the timing is the same: dense BLAS does not look at the values).
    """
    if MNIST.exists():
        with np.load(MNIST) as data:
            x = data["x_train"].reshape(len(data["x_train"]), -1)[:rows]
            y = data["y_train"][:rows].astype(np.int64)
        x = x.astype(np.float32)
        x /= np.float32(255)
        return x, y, f"MNIST ({MNIST.name}, {len(x)} rows)"
    rng = np.random.default_rng(seed)
    x = rng.random((rows, 784), dtype=np.float32)
    return x, rng.integers(0, 10, rows), f"random rows ({rows}; {MNIST} not found)"


def load_moons(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tutorial 000's data: ``make_moons(n, noise=0.25)`` as float32 (n, 2) and int64 (n,)."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=0.25, random_state=seed)
    return x.astype(np.float32), y.astype(np.int64)


def training_flops(sizes: Sequence[int], rows: int) -> float:
    """Floating-point operations of the matrix products of one training pass over ``rows``.

    Forward ``x @ W`` per layer, the weight gradient ``x.T @ g`` per layer, and the input gradient
    ``g @ W.T`` for every layer but the first (its input is the data): 2 flops per multiply-add.
    """
    macs = [a * b for a, b in itertools.pairwise(sizes)]
    return 2.0 * rows * (3 * sum(macs) - macs[0])


def forward_flops(sizes: Sequence[int], rows: int) -> float:
    """Floating-point operations of the matrix products of one forward pass over ``rows``."""
    return 2.0 * rows * sum(a * b for a, b in itertools.pairwise(sizes))


def matmul_gflops(n: int = 2048, repeats: int = 7) -> float:
    """The machine's practical float32 speed: best GFLOP/s of an (n, n) @ (n, n) product."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    a @ b  # warm the BLAS threads
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2.0 * n**3 / best / 1e9


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def blas_info() -> str:
    """The BLAS NumPy runs on: kernel and threads (threadpoolctl), and OPENBLAS_* settings."""
    try:
        from threadpoolctl import threadpool_info

        pools = [
            f"{p.get('internal_api')} {p.get('version')} kernel {p.get('architecture')}, "
            f"{p.get('num_threads')} threads"
            for p in threadpool_info()
            if p.get("user_api") == "blas"
        ]
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pools = ["threadpoolctl not installed"]
    env = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")}
    return "; ".join(pools) + (f" (environment: {env})" if env else "")


_LIMITS: list[object] = []  # threadpoolctl limiters, kept alive for the process's lifetime


def limit_threads(threads: int) -> None:
    """Use ``threads`` threads in NumPy's BLAS (threadpoolctl) and in PyTorch, for this process.

    With other work on a small machine, BLAS threads that wait for each other can multiply the
    time of small products; one thread gives steadier figures there.
    """
    from threadpoolctl import threadpool_limits

    _LIMITS.append(threadpool_limits(limits=threads))
    os.environ["OMP_NUM_THREADS"] = str(threads)  # read by PyTorch when it is imported later
    if "torch" in sys.modules:  # never import it here: memory workers measure one library
        sys.modules["torch"].set_num_threads(threads)


def torch_threads() -> str:
    """PyTorch's thread count, or why there is none."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return "not installed"
    return f"{torch.__version__}, {torch.get_num_threads()} threads"


@dataclass
class Timings:
    """Wall-clock seconds of each competitor, one entry per measured repetition."""

    seconds: dict[str, list[float]] = field(default_factory=dict)

    def median(self, name: str) -> float:
        """Median seconds of ``name``."""
        return statistics.median(self.seconds[name])

    def summary(self, name: str) -> tuple[float, float, float]:
        """``(median, min, max)`` seconds of ``name``."""
        values = self.seconds[name]
        return statistics.median(values), min(values), max(values)


def alternate(
    competitors: dict[str, Callable[[], Callable[[], object]]],
    repeats: int,
    warmup: int = 1,
    pause: float = 0.2,
) -> Timings:
    """Time each competitor ``repeats`` times, interleaved, after ``warmup`` unrecorded rounds.

    Args:
        competitors: ``name -> prepare``; ``prepare()`` does the untimed set-up (a fresh model,
            fresh weights) and returns the function to time.
        repeats: recorded rounds.
        warmup: rounds run first and dropped (imports, caches, BLAS threads).
        pause: seconds of sleep after each run, untimed (threads that spin after a parallel
            region, e.g. PyTorch's OpenMP pool, would otherwise slow the next competitor).

    Each round runs every competitor once; the order rotates from round to round, so that a
    burst of load from other processes on the machine does not always hit the same competitor.
    """
    names = list(competitors)
    timings = Timings({name: [] for name in names})
    for round_ in range(warmup + repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            run = competitors[name]()
            elapsed = _timed(run)
            if round_ >= warmup:
                timings.seconds[name].append(elapsed)
            time.sleep(pause)  # OpenMP/BLAS threads of the last run stop spinning meanwhile
    return timings


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux ``ru_maxrss`` is in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
