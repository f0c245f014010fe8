"""Data preparation: scikit-learn's tools, used as they are, plus ``to_categorical``.

Splits, scalers and encoders are scikit-learn's, not copies: :func:`train_test_split` is a thin
wrapper that calls ``sklearn.model_selection.train_test_split`` (imported on first use, to keep
``import scratchnn`` fast), and ``sklearn.preprocessing.StandardScaler``, ``OneHotEncoder`` and
``LabelEncoder`` are meant to be used directly (as seeds 002 and 004 do). The one helper written
here is :func:`to_categorical`, Keras' one-hot of integer labels for softmax outputs.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = ["to_categorical", "train_test_split"]


def train_test_split(
    *arrays: Any,
    test_size: float | int | None = None,
    train_size: float | int | None = None,
    random_state: int | np.random.RandomState | None = None,
    shuffle: bool = True,
    stratify: ArrayLike | None = None,
) -> list[Any]:
    """Split arrays into random train and test subsets: scikit-learn's ``train_test_split``.

    A thin wrapper: the arguments go unchanged to ``sklearn.model_selection.train_test_split``
    (see its documentation); only the import is deferred.

    Args:
        *arrays: arrays with the same first dimension N (e.g. ``X`` ``(N, D)``, ``y`` ``(N,)``).
        test_size: fraction (0..1) or number of test samples; default 0.25 when both sizes are
            None.
        train_size: fraction or number of train samples; default the complement of test_size.
        random_state: int seed (or ``RandomState``) for the shuffle.
        shuffle: shuffle before splitting.
        stratify: labels to keep class proportions equal in both parts.

    Returns:
        ``[a_train, a_test, b_train, b_test, ...]``: two parts of each input, in input order.

    Example:
        >>> X, y = np.arange(20).reshape(10, 2), np.arange(10)
        >>> X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=0)
        >>> X_tr.shape, X_te.shape
        ((8, 2), (2, 2))
    """
    from sklearn.model_selection import train_test_split as sklearn_train_test_split

    return sklearn_train_test_split(
        *arrays,
        test_size=test_size,
        train_size=train_size,
        random_state=random_state,
        shuffle=shuffle,
        stratify=stratify,
    )


def _integer_labels(y: ArrayLike) -> NDArray[np.int64]:
    """``y`` as int64, accepting integer and boolean arrays and floats with whole values."""
    arr = np.asarray(y)
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            raise ValueError(
                "to_categorical expects integer class labels. "
                f"Received the non-integer label {arr[bad].flat[0].item()!r}."
            )
        return arr.astype(np.int64)
    raise TypeError(
        f"to_categorical expects integer class labels. Received an array of dtype {arr.dtype}."
    )


def to_categorical(
    y: ArrayLike, num_classes: int | None = None, dtype: DTypeLike = "float32"
) -> NDArray:
    """One-hot encode integer class labels (Keras' ``to_categorical``).

    Row i of the result is all zeros except a one in column ``y[i]``. The inverse is
    ``np.argmax(onehot, axis=-1)``, which gives back ``y``.

    Args:
        y: integer labels in ``0..num_classes-1``, shape ``(N,)`` or ``(N, 1)`` (any shape
            works: a trailing axis of size 1 is dropped). Floats with whole values are accepted.
        num_classes: number of classes K; None means ``max(y) + 1``.
        dtype: dtype of the result.

    Returns:
        ``(N, K)`` array (``y.shape + (K,)`` in general) of zeros and ones.

    Raises:
        ValueError: a negative label, a label >= ``num_classes``, a non-integer label, or an
            invalid ``num_classes``; the message names the offending value.

    Example:
        >>> to_categorical([0, 2, 1])
        array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 1., 0.]], dtype=float32)
        >>> np.argmax(to_categorical([0, 2, 1]), axis=-1).tolist()
        [0, 2, 1]
    """
    labels = _integer_labels(y)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])  # (N, 1) -> (N,)
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral)
        or num_classes < 1
    ):
        raise ValueError(
            f"num_classes must be an integer >= 1 or None. Received: num_classes={num_classes!r}."
        )
    if labels.size and labels.min() < 0:
        raise ValueError(
            f"class labels must be >= 0. Received the label {int(labels.min())}."
        )
    if num_classes is None:
        if not labels.size:
            raise ValueError("cannot infer num_classes from empty labels; pass num_classes.")
        num_classes = int(labels.max()) + 1
    elif labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"class labels must be < num_classes={num_classes}. "
            f"Received the label {int(labels.max())}."
        )
    onehot = np.zeros((*labels.shape, int(num_classes)), dtype=dtype)  # (..., K)
    np.put_along_axis(onehot, labels[..., None], 1, axis=-1)
    return onehot
