"""Checks and conversions of the arrays handed to ``fit``/``evaluate``/``predict``.

Everything here works on plain NumPy arrays and runs once per call, before any batch: inputs are
cast once to the model's dtype (a copy only when the dtype or layout differs), targets once to the
dtype the loss wants, and every problem a user can make is reported with what was expected, what
was received and how to fix it.

Shape legend: N samples, D features, K output units.
"""

from __future__ import annotations

import math
from typing import Any, SupportsInt

import numpy as np

from scratchnn import backend, losses
from scratchnn.tensor import Tensor


def _raw(values: Any) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.data
    return np.asarray(backend.to_numpy(values) if not isinstance(values, list) else values)


def _first_string(arr: np.ndarray) -> tuple[tuple[SupportsInt, ...], Any]:
    """Index and value of the first entry that is not a number."""
    flat = arr.reshape(-1)
    for i, value in enumerate(flat):
        if isinstance(value, (str, bytes)):
            return np.unravel_index(i, arr.shape), value
        try:
            float(value)
        except (TypeError, ValueError):
            return np.unravel_index(i, arr.shape), value
    return np.unravel_index(0, arr.shape), flat[0]


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (messages show ``nan``, not ``np.float32``)."""
    return value.item() if isinstance(value, np.generic) else value


def _where(index: tuple[SupportsInt, ...]) -> str:
    """``row 3, column 1`` (or ``row 3`` / ``row 3, position (1, 2)``)."""
    index = tuple(int(i) for i in index)
    if len(index) == 1:
        return f"row {index[0]}"
    if len(index) == 2:
        return f"row {index[0]}, column {index[1]}"
    return f"row {index[0]}, position {index[1:]}"


def _numeric(arr: np.ndarray, name: str, hint: str) -> np.ndarray:
    """``arr`` unchanged when numeric; object arrays of numbers converted; strings refused."""
    if arr.dtype.kind in "biuf":
        return arr
    if arr.dtype.kind == "O":
        try:
            return arr.astype(np.float64)
        except (TypeError, ValueError):
            pass
    if arr.dtype.kind in "USO":
        index, value = _first_string(arr)
        raise ValueError(
            f"{name} must hold numbers; it holds {_plain(value)!r} at {_where(index)}. {hint}"
        )
    raise ValueError(f"{name} must hold real numbers; received dtype {arr.dtype}.")


_BLAS_SUM_MIN = 1 << 20
"""Arrays with at least this many values are checked for NaN/inf by a BLAS product."""

_SMALL = 4096
"""Arrays up to this many values are checked by ``isfinite`` directly (no error-state block)."""


def check_finite(arr: np.ndarray, name: str, original: np.ndarray | None = None) -> None:
    """Raise ValueError if ``arr`` holds NaN or infinite values: how many, and where the first is.

    Args:
        arr: the array to check (integer arrays always pass).
        name: its name in the message (``"x"``, ``"y"``, ...).
        original: the array before a cast, to tell overflow in the cast from NaN/inf input.
    """
    if arr.dtype.kind != "f" or arr.size == 0:
        return
    if arr.size <= _SMALL and np.isfinite(arr).all():  # a few rows: no sum to guard (a predict)
        return
    with np.errstate(over="ignore", invalid="ignore"):
        # One pass, no temporary of arr's size: NaN and inf propagate to a sum (an overflowing
        # sum of finite values is settled below). Large 2-D arrays are summed by BLAS, row by
        # row against a vector of ones: the same pass, on every core.
        if arr.ndim == 2 and arr.size >= _BLAS_SUM_MIN and arr.flags.c_contiguous:
            total = np.add.reduce(arr @ np.ones(arr.shape[1], dtype=arr.dtype))
        else:
            total = np.add.reduce(arr, axis=None)
        if math.isfinite(total):
            return
    bad = ~np.isfinite(arr)
    count = int(np.count_nonzero(bad))
    if count == 0:  # the sum overflowed, the values are finite
        return
    index = np.unravel_index(int(np.argmax(bad.reshape(-1))), arr.shape)
    if original is not None and np.isfinite(original[index]):
        raise ValueError(
            f"{name} holds {count} value{'s' if count > 1 else ''} too large for {arr.dtype}; the "
            f"first is {_plain(original[index])!r} at {_where(index)}. Scale the data (e.g. "
            "sklearn.preprocessing.StandardScaler) or use Sequential(dtype='float64')."
        )
    raise ValueError(
        f"{name} contains {count} NaN or infinite value{'s' if count > 1 else ''}; the first is "
        f"{_plain(arr[index])!r} at {_where(index)}. Remove or impute them before training, e.g. "
        "sklearn.impute.SimpleImputer, or keep the rows where numpy.isfinite(x).all(axis=1)."
    )


def as_features(x: Any, dtype: Any, name: str = "x") -> np.ndarray:
    """``x`` as a C-contiguous array of ``dtype``, at least 2-D, non-empty and finite.

    A 1-D ``x`` is taken as N samples of one feature, ``(N,) -> (N, 1)``. No copy is made when
    ``x`` already has the dtype and layout.

    Raises:
        ValueError: strings, an empty array, NaN/inf values (count and first position).
    """
    if (
        type(x) is np.ndarray
        and x.dtype == dtype
        and x.ndim >= 2
        and x.shape[0] > 0
        and x.flags.c_contiguous
    ):  # already what the model computes on: only the finiteness check is left
        check_finite(x, name)
        return x
    arr = _numeric(
        _raw(x),
        name,
        "Encode text columns first, e.g. sklearn.preprocessing.LabelEncoder or OneHotEncoder.",
    )
    if arr.ndim == 0:
        raise ValueError(f"{name} must be an array of samples; received the scalar {arr!r}.")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass at least one sample.")
    with np.errstate(over="ignore"):  # overflow in the cast is reported by check_finite
        out = np.ascontiguousarray(arr, dtype=dtype)
    check_finite(out, name, arr if out is not arr and arr.dtype.kind == "f" else None)
    return out


def sample_shape(input_shape: Any) -> tuple[int, ...]:
    """One sample's shape; a leading ``None`` batch axis (Keras' ``(None, 11)``) is dropped.

    Raises:
        ValueError: for anything but a tuple of positive integers.
    """
    if isinstance(input_shape, (int, np.integer)):
        input_shape = (input_shape,)
    try:
        dims = list(input_shape)
    except TypeError:
        raise ValueError(
            f"input_shape must be a tuple such as (11,) or (None, 11); received {input_shape!r}."
        ) from None
    if dims and dims[0] is None:
        dims = dims[1:]
    if not dims or any(
        isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0 for d in dims
    ):
        raise ValueError(
            f"input_shape must hold positive integers, e.g. (11,) or (None, 11); received "
            f"{input_shape!r}."
        )
    return tuple(int(d) for d in dims)


def loss_kind(loss: Any) -> str:
    """``"sparse"``, ``"categorical"``, ``"binary"`` or ``"other"`` for a Loss."""
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        return "sparse"
    if isinstance(loss, losses.CategoricalCrossentropy):
        return "categorical"
    if isinstance(loss, losses.BinaryCrossentropy):
        return "binary"
    return "other"


def as_targets(
    y: Any,
    loss: Any,
    output_shape: tuple[int, ...] | None,
    output_layer: str,
    dtype: Any,
    n_rows: int,
    name: str = "y",
) -> np.ndarray:
    """``y`` checked against the loss and the output layer, converted once for every batch.

    * sparse categorical: int64 labels ``(N,)`` in ``[0, K-1]``;
    * categorical: ``(N, K)`` of ``dtype``;
    * binary: values in [0, 1], shaped like the output (``(N,)`` becomes ``(N, 1)``);
    * other (regression): shaped like the output when the sizes agree.

    Args:
        y: targets.
        loss: the compiled Loss.
        output_shape: shape of one output sample, e.g. ``(1,)`` or ``(K,)`` (``None`` when
            unknown: only the row count, numbers and finiteness are checked).
        output_layer: name of the last layer, for messages.
        dtype: the model's dtype.
        n_rows: number of samples of ``x``.
        name: ``"y"`` or e.g. ``"validation y"`` in messages.

    Raises:
        ValueError: strings, wrong row count, NaN/inf, labels outside the output's range,
            shapes that do not fit the output layer.
    """
    kind = loss_kind(loss)
    arr = _numeric(
        _raw(y),
        name,
        f"The loss {loss.name} needs numbers: encode the labels first, e.g. "
        "sklearn.preprocessing.LabelEncoder().fit_transform(y).",
    )
    if arr.ndim == 0:
        raise ValueError(f"{name} must hold one target per sample; received the scalar {arr!r}.")
    if arr.shape[0] != n_rows:
        raise ValueError(
            f"x and {name} have different numbers of samples: x has {n_rows} rows, {name} has "
            f"{arr.shape[0]}. Pass one target per row of x."
        )
    check_finite(arr, name)
    if output_shape is None:  # a model whose output shape is not known before it runs
        if kind == "sparse":
            return np.ascontiguousarray(arr.reshape(n_rows), dtype=np.int64)
        return np.ascontiguousarray(arr, dtype=dtype)
    units = output_shape[-1] if output_shape else 1
    out_desc = f"the output layer {output_layer!r} produces shape {(None, *output_shape)}"
    if kind == "sparse":
        return _sparse_labels(arr, units, output_layer, name, loss.name, output_shape[:-1])
    looks_like_labels = arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1)
    if kind == "categorical" and units > 1 and looks_like_labels:
        raise ValueError(
            f"{loss.name} needs one-hot targets of shape (N, {units}); received {name} of shape "
            f"{arr.shape}. For integer labels use loss='sparse_categorical_crossentropy', or "
            f"one-hot encode them (numpy.eye({units})[labels])."
        )
    if arr.shape[1:] != tuple(output_shape):
        if arr[0].size == int(np.prod(output_shape)):
            arr = arr.reshape((n_rows, *output_shape))
        else:
            raise ValueError(
                f"{name} has shape {arr.shape} but {out_desc}; each target must match one "
                f"output. Change the last layer's units or reshape {name}."
            )
    if kind == "binary" and arr.size:
        low, high = arr.min(), arr.max()
        if low < 0 or high > 1:
            bad = np.unravel_index(int(np.argmax((arr < 0) | (arr > 1))), arr.shape)
            raise ValueError(
                f"{loss.name} needs targets in [0, 1]; {name} holds {_plain(arr[bad])!r} at "
                f"{_where(bad[:1] if arr.ndim == 2 and arr.shape[1] == 1 else bad)}. "
                "For more than two classes use a softmax output with "
                "loss='sparse_categorical_crossentropy' (integer labels)."
            )
    return np.ascontiguousarray(arr, dtype=dtype)


def _sparse_labels(
    arr: np.ndarray, units: int, layer: str, name: str, loss: str, steps: tuple[int, ...] = ()
) -> np.ndarray:
    """Labels ``(N, *steps)``: one per output row (``steps`` is ``(T,)`` for ``(T, K)`` outputs)."""
    if arr.ndim == 2 + len(steps) and arr.shape[-1] == 1:
        arr = arr.reshape(arr.shape[:-1])
    if arr.shape[1:] != tuple(steps):
        expected = ", ".join(["N", *map(str, steps)]) + ("," if not steps else "")
        raise ValueError(
            f"{loss} needs integer labels of shape ({expected}); received {name} of shape "
            f"{arr.shape}. For one-hot targets use loss='categorical_crossentropy' (or pass "
            "y.argmax(axis=-1))."
        )
    if arr.dtype.kind == "f":
        whole = arr == np.round(arr)
        if not whole.all():
            i = np.unravel_index(int(np.argmin(whole)), arr.shape)
            raise ValueError(
                f"{loss} needs integer class labels; {name} holds {_plain(arr[i])!r} at "
                f"{_where(i)}. For probabilities or one-hot rows use "
                "loss='categorical_crossentropy'."
            )
    labels = np.ascontiguousarray(arr, dtype=np.int64)
    outside = (labels < 0) | (labels >= units)
    if outside.any():
        i = np.unravel_index(int(np.argmax(outside)), labels.shape)
        raise ValueError(
            f"{name} holds the class label {labels[i]} at {_where(i)}, but the output layer "
            f"{layer!r} has {units} units (labels 0..{units - 1}). Give the last layer as many "
            f"units as there are classes (labels go up to {int(labels.max())}), or re-encode "
            "the labels to 0..K-1 (sklearn.preprocessing.LabelEncoder)."
        )
    return labels


def class_labels(y: np.ndarray, loss: Any) -> np.ndarray:
    """Integer class of each sample of prepared targets, for ``class_weight``."""
    kind = loss_kind(loss)
    if kind == "sparse":
        return y
    if kind == "categorical":
        return np.argmax(y, axis=1)
    if kind == "binary" and y[0].size == 1:
        flat = y.reshape(-1)
        if not np.all((flat == 0) | (flat == 1)):
            raise ValueError("class_weight needs 0/1 targets with binary_crossentropy.")
        return flat.astype(np.int64)
    raise ValueError(
        f"class_weight needs class labels, so it works with binary_crossentropy (one output), "
        f"categorical_crossentropy and sparse_categorical_crossentropy; the loss is {loss.name}. "
        "Pass per-sample weights as sample_weight instead."
    )


def sample_weights(
    sample_weight: Any,
    class_weight: dict[int, float] | None,
    labels: Any,
    n_rows: int,
    dtype: Any,
) -> np.ndarray | None:
    """One weight per sample: ``sample_weight`` times the ``class_weight`` of each sample's class.

    Classes missing from ``class_weight`` get weight 1 (as scikit-learn).

    Args:
        sample_weight: ``None`` or ``(N,)`` weights >= 0.
        class_weight: ``None`` or ``{class: weight}``.
        labels: a function returning the class of each sample (called only with class_weight).
        n_rows: N.
        dtype: the model's dtype.
    """
    weights = None
    if sample_weight is not None:
        weights = _numeric(_raw(sample_weight), "sample_weight", "Pass one number per sample.")
        weights = weights.reshape(-1) if weights.ndim == 2 and weights.shape[1] == 1 else weights
        if weights.shape != (n_rows,):
            raise ValueError(
                f"sample_weight must hold one weight per sample, shape ({n_rows},); received "
                f"shape {weights.shape}."
            )
        check_finite(weights, "sample_weight")
        if (weights < 0).any():
            raise ValueError(f"sample_weight must be >= 0; received {weights.min()!r}.")
        weights = np.ascontiguousarray(weights, dtype=dtype)
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            raise TypeError(
                f"class_weight must be a dict {{class: weight}}; received "
                f"{type(class_weight).__name__}."
            )
        classes = labels()
        table = np.ones(int(max([*class_weight, int(classes.max())])) + 1, dtype=dtype)
        for key, value in class_weight.items():
            if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or key < 0:
                raise ValueError(f"class_weight keys must be class indices >= 0; received {key!r}.")
            if not (
                isinstance(value, (int, float, np.number)) and np.isfinite(value) and value >= 0
            ):
                raise ValueError(f"class_weight[{key}] must be a number >= 0; received {value!r}.")
            table[int(key)] = value
        per_class = table[classes]
        weights = per_class if weights is None else weights * per_class
    return weights
