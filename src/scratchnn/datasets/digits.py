"""scikit-learn's bundled handwritten digits (seed 002): 1797 images of 8x8 pixels, 10 classes."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def load_digits() -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Load ``sklearn.datasets.load_digits`` (bundled with scikit-learn, no download).

    Each image is 8x8 pixels flattened row by row; pixel values are the integers 0..16 (UCI's
    count of set pixels in each 4x4 block of a 32x32 bitmap). Seed 002 scales them with
    ``StandardScaler`` and one-hot encodes the labels (:func:`to_categorical`).

    Returns:
        ``(X, y)``: ``X`` float64 ``(1797, 64)`` in ``0..16``; ``y`` int64 ``(1797,)`` in ``0..9``.
        ``X.reshape(-1, 8, 8)`` gives the images.

    Example:
        >>> X, y = load_digits()
        >>> X.shape, y.shape, float(X.max()), int(y.max())
        ((1797, 64), (1797,), 16.0, 9)
    """
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    X = np.ascontiguousarray(bunch.data, dtype=np.float64)  # (1797, 64)
    y = np.asarray(bunch.target, dtype=np.int64)  # (1797,)
    return X, y
