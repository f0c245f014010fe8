"""Synthetic 2-D data sets: moons, and the TensorFlow Playground's circle, xor, gauss, spiral,
plane.

Every generator takes ``n_samples``, ``noise`` and ``seed`` and draws all its randomness from one
``numpy.random.default_rng(seed)`` (never NumPy's global state), so the same seed gives the same
arrays and different seeds give different ones. ``seed`` may also be a ``numpy.random.Generator``,
which is used as is (handy for one generator per run), or None for fresh OS entropy.

Classification sets return ``(X, y)`` with ``X`` float64 ``(N, 2)`` and ``y`` int64 ``(N,)``;
``regression_plane`` returns a float64 target ``(N,)``. Shapes below: N = ``n_samples``,
K = number of classes.

The Playground recipes (``tensorflow/playground``, ``src/dataset.ts``) are followed formula by
formula, with three deliberate differences, all documented per function:

- labels are ``{0, 1}`` (the Playground uses ``{-1, +1}``; its +1 becomes 1);
- classes of "half the samples" get ``N // 2`` and ``N - N // 2`` points, so exactly N come back
  (the Playground's ``i < N / 2`` loops give ``N + 1`` points for odd N);
- points are shuffled here with the same generator (the Playground shuffles in ``playground.ts``,
  after generation); pass ``shuffle=False`` to keep them grouped by class.

The Playground's noise slider runs 0..50 and is divided by 100, so its ``noise`` lies in 0..0.5.
For circle, xor and plane the Playground's noise moves the point *used to compute the label*, not
the returned coordinates: noise shows up as wrong labels near the class boundary. Spiral and gauss
move the coordinates themselves. ``moons`` (scikit-learn's recipe) adds Gaussian noise to the
coordinates.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchnn.datasets._validation import (
    SeedLike,
    check_n_samples,
    check_noise,
    make_rng,
    split_counts,
)

Arrays = tuple[NDArray[np.float64], NDArray[np.int64]]
"""``(X, y)``: float64 features ``(N, 2)`` and int64 labels ``(N,)``."""

PLAYGROUND_CLASSIFY_SAMPLES = 500
"""The Playground's number of points for classification data sets (our default)."""
PLAYGROUND_REGRESS_SAMPLES = 1200
"""The Playground's number of points for regression data sets (our default)."""


def _finish(
    X: ArrayLike, y: ArrayLike, rng: np.random.Generator, shuffle: bool
) -> tuple[NDArray[np.float64], NDArray]:
    """Cast to the public dtypes and, if asked, shuffle rows with ``rng``."""
    X = np.ascontiguousarray(X, dtype=np.float64)  # (N, 2)
    y = np.asarray(y)
    y = y.astype(np.float64 if y.dtype.kind == "f" else np.int64)  # (N,)
    if shuffle:
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
    return X, y


def _polar(r: NDArray[np.float64], angle: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points ``(r sin a, r cos a)``, the Playground's convention, as ``(n, 2)``."""
    return np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)


def moons(
    n_samples: int = 100,
    noise: float = 0.0,
    seed: SeedLike = None,
    *,
    source: Literal["numpy", "sklearn"] = "numpy",
    shuffle: bool = True,
) -> Arrays:
    """Two interleaving half circles (the tutorials' ``make_moons``).

    Recipe (scikit-learn's): ``N // 2`` points of class 0 at angles ``linspace(0, pi)`` on the
    upper unit half circle ``(cos t, sin t)``; ``N - N // 2`` points of class 1 on the lower half
    circle ``(1 - cos t, 0.5 - sin t)``; then Gaussian noise of standard deviation ``noise`` is
    added to both coordinates.

    The tutorials (seeds 000, 001, 003) called
    ``sklearn.datasets.make_moons(N, noise=..., random_state=...)``. ``source="sklearn"`` calls
    exactly that (``random_state=seed``), to reproduce a tutorial's points bit for bit.
    The default ``source="numpy"`` is our own implementation of the same recipe, seeded through
    ``numpy.random.default_rng(seed)``: same distribution, different random numbers. With
    ``noise=0`` both give the same points, up to order.

    Args:
        n_samples: total number of points N (>= 1).
        noise: standard deviation of the Gaussian noise added to the coordinates (>= 0).
        seed: int, ``numpy.random.Generator`` or None. With ``source="sklearn"`` it must be an
            int or None (passed as ``random_state``).
        source: ``"numpy"`` (ours) or ``"sklearn"`` (``sklearn.datasets.make_moons``).
        shuffle: shuffle the rows (otherwise class 0 comes first).

    Returns:
        ``(X, y)``: ``X`` float64 ``(N, 2)``, ``y`` int64 ``(N,)`` in ``{0, 1}``.

    Example:
        >>> X, y = moons(200, noise=0.2, seed=0)
        >>> X.shape, y.shape, X.dtype, y.dtype
        ((200, 2), (200,), dtype('float64'), dtype('int64'))
        >>> int(y.sum())
        100
    """
    n_samples = check_n_samples(n_samples)
    noise = check_noise(noise)
    if source == "sklearn":
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
            raise TypeError(
                "moons(source='sklearn') passes seed to make_moons as random_state, so it must "
                f"be an int or None. Received: seed={seed!r}."
            )
        from sklearn.datasets import make_moons

        X, y = make_moons(n_samples, noise=noise, random_state=seed, shuffle=shuffle)
        return np.ascontiguousarray(X, dtype=np.float64), y.astype(np.int64)
    if source != "numpy":
        raise ValueError(
            f"source must be 'numpy' or 'sklearn'. Received: source={source!r}."
        )
    rng = make_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0.0, np.pi, n_out)  # (n_out,)
    t_in = np.linspace(0.0, np.pi, n_in)  # (n_in,)
    outer = np.stack([np.cos(t_out), np.sin(t_out)], axis=1)  # (n_out, 2)
    inner = np.stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1)  # (n_in, 2)
    X = np.concatenate([outer, inner])  # (N, 2)
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])  # (N,)
    if noise > 0:
        X = X + rng.normal(scale=noise, size=X.shape)
    return _finish(X, y, rng, shuffle)


def circles(
    n_samples: int = PLAYGROUND_CLASSIFY_SAMPLES,
    noise: float = 0.0,
    seed: SeedLike = None,
    *,
    shuffle: bool = True,
) -> Arrays:
    """A disc inside a ring: the TensorFlow Playground's "circle" data set.

    Recipe (Playground ``classifyCircleData``, radius R = 5): ``N - N // 2`` points with radius
    ``r ~ U(0, R/2)`` and ``N // 2`` points with ``r ~ U(0.7 R, R)``, angle ``a ~ U(0, 2 pi)``,
    point ``(r sin a, r cos a)``. The label is 1 when the point *plus* a noise offset
    ``U(-R, R) * noise`` (per coordinate) lies inside radius R/2, else 0; the returned point has
    no offset. So with ``noise=0`` the disc is class 1 and the ring class 0, and noise flips labels
    near the gap.

    Args:
        n_samples: total number of points N (>= 1).
        noise: label-noise scale, Playground range 0..0.5 (>= 0).
        seed: int, ``numpy.random.Generator`` or None.
        shuffle: shuffle the rows (otherwise the disc's points come first).

    Returns:
        ``(X, y)``: ``X`` float64 ``(N, 2)`` within radius 5, ``y`` int64 ``(N,)`` in ``{0, 1}``.

    Example:
        >>> X, y = circles(100, seed=0)
        >>> bool((np.hypot(X[y == 1, 0], X[y == 1, 1]) < 2.5).all())
        True
    """
    n_samples = check_n_samples(n_samples)
    noise = check_noise(noise)
    rng = make_rng(seed)
    radius = 5.0
    n_in, n_out = split_counts(n_samples, 2)
    r = np.concatenate([
        rng.uniform(0.0, radius * 0.5, n_in),
        rng.uniform(radius * 0.7, radius, n_out),
    ])  # (N,)
    angle = rng.uniform(0.0, 2.0 * np.pi, n_samples)  # (N,)
    X = _polar(r, angle)  # (N, 2)
    offset = rng.uniform(-radius, radius, size=X.shape) * noise  # (N, 2)
    y = (np.linalg.norm(X + offset, axis=1) < radius * 0.5).astype(np.int64)  # (N,)
    return _finish(X, y, rng, shuffle)


def xor(
    n_samples: int = PLAYGROUND_CLASSIFY_SAMPLES,
    noise: float = 0.0,
    seed: SeedLike = None,
) -> Arrays:
    """Four quadrants, labelled by the sign of ``x0 * x1``: the Playground's "xor" data set.

    Recipe (Playground ``classifyXORData``): each coordinate ``u ~ U(-5, 5)`` is pushed 0.3 away
    from zero (``u + 0.3`` if ``u > 0`` else ``u - 0.3``), so ``0.3 <= |x_i| <= 5.3``. The label is
    1 when ``(x0 + e0) * (x1 + e1) >= 0`` (first and third quadrants), else 0, with label-noise
    offsets ``e_i ~ U(-5, 5) * noise``; the returned point has no offset. Points are i.i.d., so
    the classes are balanced only on average.

    Args:
        n_samples: total number of points N (>= 1).
        noise: label-noise scale, Playground range 0..0.5 (>= 0).
        seed: int, ``numpy.random.Generator`` or None.

    Returns:
        ``(X, y)``: ``X`` float64 ``(N, 2)``, ``y`` int64 ``(N,)`` in ``{0, 1}``.

    Example:
        >>> X, y = xor(100, seed=0)
        >>> bool((y == (X[:, 0] * X[:, 1] > 0)).all())
        True
    """
    n_samples = check_n_samples(n_samples)
    noise = check_noise(noise)
    rng = make_rng(seed)
    padding = 0.3
    X = rng.uniform(-5.0, 5.0, size=(n_samples, 2))  # (N, 2)
    X = X + np.where(X > 0, padding, -padding)
    offset = rng.uniform(-5.0, 5.0, size=X.shape) * noise  # (N, 2)
    noisy = X + offset
    y = (noisy[:, 0] * noisy[:, 1] >= 0).astype(np.int64)  # (N,)
    return _finish(X, y, rng, shuffle=False)


def _blob_centers(
    centers: ArrayLike | int | None, n_classes: int | None
) -> NDArray[np.float64]:
    """Resolve ``centers``/``n_classes`` into a ``(K, 2)`` array of centres."""
    if centers is not None and not isinstance(centers, int | np.integer):
        arr = np.asarray(centers, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
            raise ValueError(
                f"centers must have shape (K, 2) with K >= 1. Received shape {arr.shape}."
            )
        if not np.isfinite(arr).all():
            raise ValueError("centers must be finite numbers. Received NaN or infinity.")
        if n_classes is not None and n_classes != arr.shape[0]:
            raise ValueError(
                f"n_classes={n_classes} does not match the {arr.shape[0]} rows of centers; "
                "pass one or the other."
            )
        return arr
    k_from_centers = None if centers is None else int(centers)
    if k_from_centers is not None and n_classes is not None and k_from_centers != n_classes:
        raise ValueError(
            f"centers={k_from_centers} and n_classes={n_classes} disagree; pass one of them."
        )
    k = k_from_centers if k_from_centers is not None else (2 if n_classes is None else n_classes)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"n_classes must be an integer >= 1. Received: n_classes={k!r}.")
    # Playground centres (-2, -2) and (2, 2) for K = 2, generalised to K points on that circle.
    angle = 1.25 * np.pi + 2.0 * np.pi * np.arange(k) / k  # (K,)
    return 2.0 * np.sqrt(2.0) * np.stack([np.cos(angle), np.sin(angle)], axis=1)  # (K, 2)


def blobs(
    n_samples: int = PLAYGROUND_CLASSIFY_SAMPLES,
    noise: float = 0.0,
    seed: SeedLike = None,
    *,
    centers: ArrayLike | int | None = None,
    n_classes: int | None = None,
    shuffle: bool = True,
) -> Arrays:
    """Gaussian blobs, one per class: the Playground's "gauss" data set, generalised to K classes.

    Recipe (Playground ``classifyTwoGaussData``): class 0 around ``(-2, -2)`` and class 1 around
    ``(2, 2)``, each coordinate ``~ Normal(centre, variance)`` with
    ``variance = 0.5 + 7 * noise`` (the Playground's linear map of noise 0..0.5 onto variance
    0.5..4, extended linearly beyond 0.5). So even ``noise=0`` gives spread-out blobs.

    More classes: ``n_classes=K`` (or ``centers=K``) puts K centres evenly on the circle of radius
    ``2 sqrt(2)`` through the two Playground centres, starting at ``(-2, -2)``; ``centers`` may
    also be an explicit ``(K, 2)`` array. Class k gets ``N // K`` points, the first ``N % K``
    classes one more.

    Args:
        n_samples: total number of points N (>= 1).
        noise: sets the variance ``0.5 + 7 * noise`` of every coordinate (>= 0).
        seed: int, ``numpy.random.Generator`` or None.
        centers: None (Playground's), a number of classes K, or a ``(K, 2)`` array of centres.
        n_classes: number of classes K when ``centers`` is None (default 2).
        shuffle: shuffle the rows (otherwise grouped by class, 0 first).

    Returns:
        ``(X, y)``: ``X`` float64 ``(N, 2)``, ``y`` int64 ``(N,)`` in ``{0, ..., K - 1}``.

    Example:
        >>> X, y = blobs(300, seed=0, n_classes=3)
        >>> X.shape, np.bincount(y).tolist()
        ((300, 2), [100, 100, 100])
    """
    n_samples = check_n_samples(n_samples)
    noise = check_noise(noise)
    rng = make_rng(seed)
    mu = _blob_centers(centers, n_classes)  # (K, 2)
    counts = split_counts(n_samples, len(mu))
    y = np.repeat(np.arange(len(mu), dtype=np.int64), counts)  # (N,)
    std = np.sqrt(0.5 + 7.0 * noise)
    X = mu[y] + rng.normal(scale=std, size=(n_samples, 2))  # (N, 2)
    return _finish(X, y, rng, shuffle)


def spiral(
    n_samples: int = PLAYGROUND_CLASSIFY_SAMPLES,
    noise: float = 0.0,
    seed: SeedLike = None,
    *,
    shuffle: bool = True,
) -> Arrays:
    """Two interleaved spiral arms: the Playground's "spiral" data set.

    Recipe (Playground ``classifySpiralData``): for an arm of n points and ``i = 0..n-1``,
    ``r = 5 i / n`` and ``t = 1.75 * 2 pi * i / n + delta``; the point is
    ``(r sin t, r cos t)`` plus ``U(-1, 1) * noise`` on each coordinate. Class 1 has
    ``delta = 0`` (``N - N // 2`` points), class 0 has ``delta = pi`` (``N // 2`` points), so for
    even N and ``noise=0`` class 0 is class 1 reflected through the origin.

    Args:
        n_samples: total number of points N (>= 1).
        noise: half-width of the uniform noise added to each coordinate (>= 0).
        seed: int, ``numpy.random.Generator`` or None.
        shuffle: shuffle the rows (otherwise class 1's arm comes first).

    Returns:
        ``(X, y)``: ``X`` float64 ``(N, 2)``, ``y`` int64 ``(N,)`` in ``{0, 1}``.

    Example:
        >>> X, y = spiral(200, noise=0.1, seed=0)
        >>> X.shape, int(y.sum())
        ((200, 2), 100)
    """
    n_samples = check_n_samples(n_samples)
    noise = check_noise(noise)
    rng = make_rng(seed)
    arms = []
    for n, delta, label in zip(split_counts(n_samples, 2), (0.0, np.pi), (1, 0), strict=True):
        i = np.arange(n, dtype=np.float64)  # (n,)
        r = 5.0 * i / max(n, 1)
        t = 1.75 * 2.0 * np.pi * i / max(n, 1) + delta
        arms.append((_polar(r, t), np.full(n, label, dtype=np.int64)))
    X = np.concatenate([a[0] for a in arms])  # (N, 2)
    y = np.concatenate([a[1] for a in arms])  # (N,)
    X = X + rng.uniform(-1.0, 1.0, size=X.shape) * noise
    return _finish(X, y, rng, shuffle)


def regression_plane(
    n_samples: int = PLAYGROUND_REGRESS_SAMPLES,
    noise: float = 0.0,
    seed: SeedLike = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A tilted plane ``y = (x0 + x1) / 10``: the Playground's "plane" regression data set.

    Recipe (Playground ``regressPlane``): ``x ~ U(-6, 6)^2``; the target is
    ``((x0 + e0) + (x1 + e1)) / 10`` with offsets ``e_i ~ U(-6, 6) * noise`` (the Playground's
    linear map of ``x0 + x1`` from ``[-10, 10]`` onto ``[-1, 1]``, unclamped, so targets reach
    ``+-1.2`` without noise). The returned inputs have no offset.

    Args:
        n_samples: number of points N (>= 1).
        noise: scale of the input offsets behind the target (>= 0).
        seed: int, ``numpy.random.Generator`` or None.

    Returns:
        ``(X, y)``: ``X`` float64 ``(N, 2)`` in ``[-6, 6]``, ``y`` float64 ``(N,)``.

    Example:
        >>> X, y = regression_plane(50, seed=0)
        >>> bool(np.allclose(y, X.sum(axis=1) / 10))
        True
    """
    n_samples = check_n_samples(n_samples)
    noise = check_noise(noise)
    rng = make_rng(seed)
    radius = 6.0
    X = rng.uniform(-radius, radius, size=(n_samples, 2))  # (N, 2)
    offset = rng.uniform(-radius, radius, size=X.shape) * noise  # (N, 2)
    y = (X + offset).sum(axis=1) / 10.0  # (N,)
    return _finish(X, y, rng, shuffle=False)
