"""Evaluation metrics on plain arrays: accuracy, precision/recall/F1, ROC AUC, regression scores,
and two scores of generated samples (:func:`classifier_score`, :func:`frechet_distance`).

Every function takes ``(y_true, y_pred)`` as array-likes (NumPy arrays, lists, device arrays) and
returns a Python float (:func:`confusion_matrix` returns an int array). Nothing here touches
``Tensor``: metrics are computed on the arrays a model's ``predict`` returns.

The kind of a classification problem is read from the shapes, as Keras does (N samples, K classes):

==========================  ============================  ======================================
``y_pred``                  ``y_true``                    kind
==========================  ============================  ======================================
``(N,)`` or ``(N, 1)``      ``(N,)`` or ``(N, 1)``        binary: ``y_pred > threshold`` is 1
``(N, K)``, K > 1           ``(N, K)`` (one-hot)          categorical: argmax of both
``(N, K)``, K > 1           ``(N,)`` or ``(N, 1)`` ints   sparse categorical: argmax of y_pred
==========================  ============================  ======================================

A 1-D ``y_pred`` of an *integer* dtype is taken as predicted labels and compared as they are (for
0/1 labels this is the same as thresholding), so ``accuracy([0, 2, 1], [0, 1, 1])`` works.

    >>> from scratchnn import metrics
    >>> metrics.accuracy([1, 0, 1], [0.9, 0.2, 0.4])
    0.6666666666666666
    >>> metrics.accuracy([2, 0], [[0.1, 0.2, 0.7], [0.8, 0.1, 0.1]])
    1.0

Inputs are checked: different numbers of samples, empty arrays and NaN or infinite values raise
ValueError with both shapes or the offending argument named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

from scratchnn import backend

Metric = Callable[..., Any]
"""A metric function ``(y_true, y_pred) -> float``."""

Average: TypeAlias = Literal["binary", "macro", "micro", "weighted"]
"""How precision, recall and F1 combine the classes of a multi-class problem."""

AVERAGES = ("binary", "macro", "micro", "weighted")


# ---------------------------------------------------------------------------------------------
# Input checks and the shape rules


def _as_array(x: Any, name: str) -> np.ndarray:
    """``x`` as a non-empty, finite, real NumPy array (bools become ints)."""
    arr = np.asarray(backend.to_numpy(x))
    if arr.dtype == np.bool_:
        arr = arr.astype(np.int64)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must hold real numbers; received dtype {arr.dtype}.")
    if arr.ndim == 0:
        raise ValueError(f"{name} must be an array of samples; received a scalar {arr!r}.")
    if arr.size == 0:
        raise ValueError(
            f"{name} is empty (shape {arr.shape}); a metric needs at least one sample."
        )
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name} contains NaN or infinite values (shape {arr.shape}); "
            "check the model's outputs or the data before computing metrics."
        )
    return arr


def _pair(
    y_true: ArrayLike, y_pred: ArrayLike, pred_name: str = "y_pred"
) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs checked, with the same number of samples."""
    t, p = _as_array(y_true, "y_true"), _as_array(y_pred, pred_name)
    if t.shape[0] != p.shape[0]:
        raise ValueError(
            f"y_true and {pred_name} have different numbers of samples: "
            f"y_true.shape={t.shape}, {pred_name}.shape={p.shape}."
        )
    return t, p


def _shape_error(t: np.ndarray, p: np.ndarray, expected: str) -> ValueError:
    return ValueError(
        f"y_true.shape={t.shape} does not fit y_pred.shape={p.shape}; expected {expected}."
    )


def _is_column(a: np.ndarray) -> bool:
    """1-D, or 2-D with one column."""
    return a.ndim == 1 or (a.ndim == 2 and a.shape[1] == 1)


def _int_labels(a: np.ndarray, name: str, num_classes: int | None = None) -> np.ndarray:
    """A column of class labels as int64; raise unless they are non-negative integers."""
    a = a.reshape(-1)
    if np.issubdtype(a.dtype, np.floating) and not np.all(a == np.round(a)):
        raise ValueError(
            f"{name} must hold integer class labels; received non-integer values such as "
            f"{a[a != np.round(a)][0]!r}."
        )
    labels = a.astype(np.int64)
    if labels.min() < 0:
        raise ValueError(f"{name} must hold class labels >= 0; received {labels.min()}.")
    if num_classes is not None and labels.max() >= num_classes:
        raise ValueError(
            f"{name} holds label {labels.max()} but there are only {num_classes} classes "
            f"(labels 0..{num_classes - 1})."
        )
    return labels


def _binary_targets(t: np.ndarray) -> np.ndarray:
    """``t`` as int64 0/1; raise unless every value is 0 or 1."""
    if not np.all((t == 0) | (t == 1)):
        bad = t[(t != 0) & (t != 1)].reshape(-1)[0]
        raise ValueError(
            f"binary metrics need y_true of 0s and 1s; received the value {bad!r}. For class "
            "labels 0..K-1 pass y_pred as (N, K) scores or integer labels."
        )
    return t.astype(np.int64)


def _to_labels(
    y_true: ArrayLike, y_pred: ArrayLike, threshold: float
) -> tuple[np.ndarray, np.ndarray, bool, int]:
    """Apply the shape rules: ``(true_labels, pred_labels, is_binary, min_num_classes)``.

    Binary: ``y_pred > threshold`` for float scores, the labels themselves for integer ``y_pred``.
    Categorical and sparse: argmax over the K columns of ``y_pred``.
    """
    t, p = _pair(y_true, y_pred)
    if _is_column(p):  # binary, or integer labels
        if not _is_column(t):
            raise _shape_error(t, p, "y_true of shape (N,) or (N, 1) for a single-column y_pred")
        if np.issubdtype(p.dtype, np.integer):
            pred = _int_labels(p, "y_pred")
            true = _int_labels(t, "y_true")
            binary = bool(max(pred.max(), true.max()) <= 1)
            return true, pred, binary, 2 if binary else 1
        true = _binary_targets(t.reshape(-1))
        return true, (p.reshape(-1) > threshold).astype(np.int64), True, 2
    if p.ndim != 2:
        raise _shape_error(t, p, "y_pred of shape (N,), (N, 1) or (N, K)")
    k = p.shape[1]
    pred = np.argmax(p, axis=1)  # (N, K) -> (N,)
    if t.shape == p.shape:  # one-hot
        return np.argmax(t, axis=1), pred, False, k
    if _is_column(t):  # sparse labels
        return _int_labels(t, "y_true", k), pred, False, k
    raise _shape_error(t, p, f"y_true of shape {p.shape} (one-hot) or ({p.shape[0]},) (labels)")


# ---------------------------------------------------------------------------------------------
# Accuracy


def binary_accuracy(y_true: ArrayLike, y_pred: ArrayLike, threshold: float = 0.5) -> float:
    """Fraction of entries where ``y_pred > threshold`` equals ``y_true`` (element-wise).

    Works on ``(N,)`` and on multi-label ``(N, K)`` arrays alike; ``(N, 1)`` and ``(N,)`` mix.

    Args:
        y_true: 0/1 targets, shape ``(N,)``, ``(N, 1)`` or ``(N, K)``.
        y_pred: scores or probabilities of the same shape.
        threshold: a score above it predicts 1 (as Keras, strictly greater).

    Example:
        >>> binary_accuracy([[1, 0], [0, 0]], [[0.7, 0.6], [0.1, 0.2]])
        0.75
    """
    t, p = _pair(y_true, y_pred)
    if _is_column(t) and _is_column(p):
        t, p = t.reshape(-1), p.reshape(-1)
    if t.shape != p.shape:
        raise _shape_error(t, p, "both of the same shape")
    t = _binary_targets(t)
    return float(np.mean(t == (p > threshold)))


def categorical_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of rows where the argmax of ``y_pred`` is the argmax of one-hot ``y_true``.

    Args:
        y_true: one-hot (or soft) targets, shape ``(N, K)``.
        y_pred: scores, shape ``(N, K)``.

    Example:
        >>> categorical_accuracy([[0, 1], [1, 0]], [[0.2, 0.8], [0.3, 0.7]])
        0.5
    """
    t, p = _pair(y_true, y_pred)
    if p.ndim != 2 or t.shape != p.shape:
        raise _shape_error(t, p, "y_true and y_pred both of shape (N, K)")
    return float(np.mean(np.argmax(t, axis=1) == np.argmax(p, axis=1)))


def sparse_categorical_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of rows where the argmax of ``y_pred`` equals the integer label ``y_true``.

    Args:
        y_true: labels in ``0..K-1``, shape ``(N,)`` or ``(N, 1)`` (or ``(N, T)``, one per step).
        y_pred: scores, shape ``(N, K)`` (or ``(N, T, K)``: every step counts once).

    Example:
        >>> sparse_categorical_accuracy([1, 0, 2], [[0.1, 0.9, 0], [0.6, 0.4, 0], [1, 0, 0]])
        0.6666666666666666
    """
    t, p = _pair(y_true, y_pred)
    if p.ndim > 2 and t.shape == p.shape[:-1]:  # one label per step: (N, T) and (N, T, K)
        t, p = t.reshape(-1), p.reshape(-1, p.shape[-1])
    if p.ndim != 2 or not _is_column(t):
        raise _shape_error(t, p, "y_true of shape (N,) or (N, 1) and y_pred of shape (N, K)")
    labels = _int_labels(t, "y_true", p.shape[1])
    return float(np.mean(labels == np.argmax(p, axis=1)))


def accuracy(y_true: ArrayLike, y_pred: ArrayLike, threshold: float = 0.5) -> float:
    """Accuracy, with binary / categorical / sparse-categorical chosen from the shapes.

    See the module docstring for the shape rules; ``threshold`` only matters for binary scores.

    Args:
        y_true: targets: 0/1, labels or one-hot.
        y_pred: scores ``(N,)``/``(N, 1)``, integer labels ``(N,)``, or scores ``(N, K)``.
        threshold: binary decision threshold (``y_pred > threshold`` predicts 1).

    Example:
        >>> accuracy([[0, 1], [1, 0]], [[0.4, 0.6], [0.9, 0.1]])
        1.0
    """
    true, pred, _, _ = _to_labels(y_true, y_pred, threshold)
    return float(np.mean(true == pred))


# ---------------------------------------------------------------------------------------------
# Confusion matrix, precision, recall, F1


def _counts(true: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    """The ``(n, n)`` confusion counts, rows true and columns predicted."""
    return np.bincount(true * n + pred, minlength=n * n).reshape(n, n)


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None, threshold: float = 0.5
) -> np.ndarray:
    """Counts of (true class, predicted class): rows true, columns predicted, as scikit-learn.

    For binary problems the layout is ``[[tn, fp], [fn, tp]]``. Labels, probabilities and one-hot
    rows are all accepted and turned into labels by the module's shape rules.

    Args:
        y_true: targets (labels, 0/1 or one-hot).
        y_pred: predictions (labels, binary scores or ``(N, K)`` scores).
        num_classes: the matrix size; by default the largest of 2, the number of columns of
            ``y_pred`` and the largest label + 1.
        threshold: binary decision threshold.

    Returns:
        An int64 array of shape ``(num_classes, num_classes)``.

    Example:
        >>> confusion_matrix([0, 1, 1, 0], [0.2, 0.9, 0.3, 0.6]).tolist()
        [[1, 1], [1, 1]]
    """
    true, pred, _, k = _to_labels(y_true, y_pred, threshold)
    largest = int(max(true.max(), pred.max())) + 1
    if num_classes is None:
        n = max(2, k, largest)
    else:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
            raise ValueError(f"num_classes must be a positive int; received {num_classes!r}.")
        if num_classes < largest:
            raise ValueError(
                f"num_classes={num_classes} is too small: the inputs hold label {largest - 1}. "
                f"Pass num_classes >= {largest} or None."
            )
        n = int(num_classes)
    return _counts(true, pred, n)


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, 0 where ``den`` is 0 (scikit-learn's ``zero_division=0``)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def _prf(
    y_true: ArrayLike, y_pred: ArrayLike, threshold: float, average: Average | None, which: str
) -> float:
    """Precision (``which="p"``), recall (``"r"``) or F1 (``"f"``) under an averaging rule."""
    if average is not None and average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES} or None; received {average!r}.")
    true, pred, binary, _ = _to_labels(y_true, y_pred, threshold)
    if average is None:
        average = "binary" if binary else "macro"
    if average == "binary" and not binary:
        raise ValueError(
            "average='binary' needs 0/1 labels but the inputs hold labels "
            f"{np.union1d(true, pred).tolist()}; pass average='macro', 'micro' or 'weighted'."
        )
    cm = _counts(true, pred, max(2, int(max(true.max(), pred.max())) + 1))
    tp, n_pred, n_true = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)  # per class
    # Scored labels: class 1 for "binary", else the labels present in either input (sklearn).
    scored = np.array([1]) if average == "binary" else np.union1d(true, pred)
    tp, n_pred, n_true = tp[scored], n_pred[scored], n_true[scored]
    if average == "micro":  # pool the counts first
        tp, n_pred, n_true = tp.sum(), n_pred.sum(), n_true.sum()
    num, den = {"p": (tp, n_pred), "r": (tp, n_true), "f": (2 * tp, n_true + n_pred)}[which]
    scores = _divide(num, den)
    if average == "weighted":
        return float(np.sum(scores * n_true) / np.sum(n_true))
    return float(np.mean(scores))


def precision(
    y_true: ArrayLike, y_pred: ArrayLike, threshold: float = 0.5, average: Average | None = None
) -> float:
    """Precision ``tp / (tp + fp)``; 0 when nothing is predicted positive.

    Args:
        y_true: targets (0/1, labels or one-hot).
        y_pred: predictions (binary scores, labels or ``(N, K)`` scores).
        threshold: binary decision threshold.
        average: ``"binary"`` (class 1 only), ``"macro"`` (mean over the labels present),
            ``"micro"`` (pooled counts) or ``"weighted"`` (mean weighted by true counts).
            ``None`` (default): ``"binary"`` for 0/1 problems, ``"macro"`` otherwise.

    Example:
        >>> precision([1, 0, 1, 1], [0.9, 0.8, 0.2, 0.7])
        0.6666666666666666
    """
    return _prf(y_true, y_pred, threshold, average, "p")


def recall(
    y_true: ArrayLike, y_pred: ArrayLike, threshold: float = 0.5, average: Average | None = None
) -> float:
    """Recall ``tp / (tp + fn)``; 0 when there are no positives. Arguments as :func:`precision`.

    Example:
        >>> recall([1, 0, 1, 1], [0.9, 0.8, 0.2, 0.7])
        0.6666666666666666
    """
    return _prf(y_true, y_pred, threshold, average, "r")


def f1_score(
    y_true: ArrayLike, y_pred: ArrayLike, threshold: float = 0.5, average: Average | None = None
) -> float:
    """F1 ``2 tp / (2 tp + fp + fn)``, per label then averaged. Arguments as :func:`precision`.

    Example:
        >>> f1_score([0, 1, 2, 2], [[1, 0, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1]], average="micro")
        0.75
    """
    return _prf(y_true, y_pred, threshold, average, "f")


# ---------------------------------------------------------------------------------------------
# ROC AUC


def auc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the ROC curve of binary scores (trapezoid rule, tied scores one step).

    Equals ``sklearn.metrics.roc_auc_score`` for binary targets: the ROC curve has one point per
    distinct score, so tied scores count half, as in the Mann-Whitney statistic.

    Args:
        y_true: 0/1 targets, shape ``(N,)`` or ``(N, 1)``; both classes must be present.
        y_score: scores, shape ``(N,)`` or ``(N, 1)``; or ``(N, 2)``, whose column 1 is used.

    Raises:
        ValueError: when ``y_true`` holds only one class (AUC is undefined), or on bad shapes.

    Example:
        >>> auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    t, s = _pair(y_true, y_score, "y_score")
    if s.ndim == 2 and s.shape[1] == 2:
        s = s[:, 1]
    if not (_is_column(t) and _is_column(s)):
        raise ValueError(
            f"auc needs binary targets and scores of shape (N,), (N, 1) or (N, 2); received "
            f"y_true.shape={t.shape}, y_score.shape={s.shape}."
        )
    t, s = _binary_targets(t.reshape(-1)), s.reshape(-1).astype(np.float64)
    n_pos = int(t.sum())
    n_neg = t.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"auc is undefined when y_true holds only one class; received {t.size} samples, all "
            f"{int(t[0])}. Evaluate on data with both classes."
        )
    order = np.argsort(-s, kind="mergesort")  # scores from high to low
    s, t = s[order], t[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # one ROC point per score
    tps = np.cumsum(t)[last_of_each]
    fps = last_of_each + 1 - tps
    tpr = np.r_[0.0, tps / n_pos]
    fpr = np.r_[0.0, fps / n_neg]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


# ---------------------------------------------------------------------------------------------
# Regression


def _regression_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Float64 ``(N, D)`` arrays of the same shape; ``(N,)`` and ``(N, 1)`` mix."""
    t, p = _pair(y_true, y_pred)
    if _is_column(t) and _is_column(p):
        t, p = t.reshape(-1, 1), p.reshape(-1, 1)
    if t.shape != p.shape or t.ndim != 2:
        raise _shape_error(t, p, "both of shape (N,) or (N, D), the same")
    return t.astype(np.float64), p.astype(np.float64)


def mean_squared_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean of ``(y_true - y_pred) ** 2`` over all entries.

    Args:
        y_true: targets, shape ``(N,)`` or ``(N, D)``.
        y_pred: predictions of the same shape (``(N, 1)`` also fits ``(N,)``).

    Example:
        >>> mean_squared_error([1.0, 2.0], [1.0, 4.0])
        2.0
    """
    t, p = _regression_pair(y_true, y_pred)
    return float(np.mean((t - p) ** 2))


def mean_absolute_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean of ``|y_true - y_pred|`` over all entries. Arguments as :func:`mean_squared_error`.

    Example:
        >>> mean_absolute_error([1.0, 2.0], [1.0, 4.0])
        1.0
    """
    t, p = _regression_pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def r2_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot``, averaged over outputs (sklearn).

    A constant target scores 1.0 when predicted exactly and 0.0 otherwise (scikit-learn's
    ``force_finite``); with fewer than two samples R² is undefined and NaN is returned.

    Args:
        y_true: targets, shape ``(N,)`` or ``(N, D)``.
        y_pred: predictions of the same shape.

    Example:
        >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
        0.5
    """
    t, p = _regression_pair(y_true, y_pred)
    if t.shape[0] < 2:
        return float("nan")
    ss_res = np.sum((t - p) ** 2, axis=0)  # (D,)
    ss_tot = np.sum((t - np.mean(t, axis=0)) ** 2, axis=0)  # (D,)
    perfect = np.where(ss_res == 0, 1.0, 0.0)
    scores = np.where(ss_tot != 0, 1.0 - _divide(ss_res, ss_tot), perfect)
    return float(np.mean(scores))


# ---------------------------------------------------------------------------------------------
# Generated samples


def classifier_score(probabilities: Any) -> float:
    """The Inception score with a classifier of one's own: ``exp(E_x[KL(p(y|x) || p(y))])``.

    High when each sample is classified confidently (``p(y|x)`` peaked) and the samples cover
    the classes evenly (``p(y)`` flat): from 1 (every sample alike, or the classifier unsure) to
    K (confident and balanced over K classes). Salimans et al. (2016) use Inception-v3 on
    ImageNet; for digits, an MNIST classifier's probabilities.

    Args:
        probabilities: ``(N, K)`` class probabilities of N generated samples.

    Example:
        >>> round(classifier_score(np.eye(10)[np.arange(100) % 10]), 6)
        10.0
        >>> round(classifier_score(np.full((5, 4), 0.25)), 6)
        1.0
    """
    p = _as_array(probabilities, "probabilities").astype(np.float64)
    if p.ndim != 2 or not len(p) or np.any(p < 0) or not np.allclose(p.sum(axis=1), 1, atol=1e-4):
        raise ValueError(f"probabilities must be (N, K) rows of class probabilities summing to "
                         f"1; received shape {p.shape}.")
    marginal = p.mean(axis=0)  # (K,)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(marginal)), 0.0)
    return float(np.exp(terms.sum(axis=1).mean()))


def frechet_distance(features_a: Any, features_b: Any) -> float:
    """Fréchet distance between Gaussians fitted to two sets of features (the FID's formula).

    ``‖μ_a - μ_b‖² + Tr(Σ_a + Σ_b - 2 (Σ_a Σ_b)^½)``: 0 for identical statistics. Heusel et al.
    (2017) take Inception-v3 features; for digits, a classifier's penultimate layer.

    Args:
        features_a: ``(N, D)`` features of one set (e.g. generated samples).
        features_b: ``(M, D)`` features of the other (e.g. real test images).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a = rng.normal(size=(20000, 2))
        >>> round(frechet_distance(a, a + [3.0, 0.0]), 3)  # a shift of 3: 3²
        9.0
    """
    a = _as_array(features_a, "features_a").astype(np.float64)
    b = _as_array(features_b, "features_b").astype(np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"features_a and features_b must be (N, D) and (M, D), N, M >= 2; "
                         f"received shapes {a.shape} and {b.shape}.")
    mu = a.mean(axis=0) - b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    # Tr((Σa Σb)^½) = Σ √λ over the eigenvalues λ of Σa^½ Σb Σa^½, a symmetric positive
    # semi-definite matrix: stable when a feature never varies (singular covariances).
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    cross = float(np.sqrt(np.clip(middle, 0, None)).sum())
    return float(mu @ mu + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


# ---------------------------------------------------------------------------------------------
# Registry


@dataclass(frozen=True)
class MetricInfo:
    """What the rest of the library needs to know about a registered metric.

    Attributes:
        name: the canonical name (``"accuracy"``); aliases share its entry.
        fn: the metric function ``(y_true, y_pred) -> float``.
        display: how tables and plots name it (``"accuracy"``, ``"R²"``).
        higher_is_better: ``True`` for scores (accuracy, AUC, R²), ``False`` for errors (MSE).
        percent: a fraction in [0, 1] best shown as a percentage (``0.9125`` -> ``91.25 %``).
        aliases: other names that mean this metric (``"acc"``).
    """

    name: str
    fn: Metric
    display: str
    higher_is_better: bool
    percent: bool = False
    aliases: tuple[str, ...] = ()


_REGISTRY = (
    MetricInfo("accuracy", accuracy, "accuracy", True, percent=True, aliases=("acc",)),
    MetricInfo("binary_accuracy", binary_accuracy, "binary accuracy", True, percent=True),
    MetricInfo("categorical_accuracy", categorical_accuracy, "categorical accuracy", True,
               percent=True),
    MetricInfo("sparse_categorical_accuracy", sparse_categorical_accuracy,
               "sparse categorical accuracy", True, percent=True),
    MetricInfo("precision", precision, "precision", True, percent=True),
    MetricInfo("recall", recall, "recall", True, percent=True),
    MetricInfo("f1", f1_score, "F1", True, aliases=("f1_score",)),
    MetricInfo("auc", auc, "AUC", True),
    MetricInfo("mse", mean_squared_error, "MSE", False, aliases=("mean_squared_error",)),
    MetricInfo("mae", mean_absolute_error, "MAE", False, aliases=("mean_absolute_error",)),
    MetricInfo("r2", r2_score, "R²", True, aliases=("r2_score",)),
)

METRIC_INFO: dict[str, MetricInfo] = {
    key: info for info in _REGISTRY for key in (info.name, *info.aliases)
}
"""Every accepted name (aliases included) -> its :class:`MetricInfo`: the one place that says
which way a metric is better and how it is shown."""

METRICS: dict[str, Metric] = {key: info.fn for key, info in METRIC_INFO.items()}
"""Name (Keras names and aliases) -> metric function."""

KNOWN_METRICS: list[str] = sorted(METRICS)
"""Every name :func:`get` accepts, sorted."""

SPLIT_PREFIXES = ("val_", "train_", "dev_", "test_", "holdout_")
"""Prefixes that name the data a logged value was measured on (``val_accuracy``, ``dev_acc``)."""


def info(key: str) -> MetricInfo | None:
    """The :class:`MetricInfo` of a logged key such as ``"val_accuracy"`` or ``"dev_acc"``.

    One split prefix (:data:`SPLIT_PREFIXES`) is removed first; ``None`` for a loss or a name
    that is not registered.

    Example:
        >>> info("dev_acc").name, info("val_mae").higher_is_better, info("loss")
        ('accuracy', False, None)
    """
    base = key.lower()
    for prefix in SPLIT_PREFIXES:
        if base.startswith(prefix):
            base = base[len(prefix):]
            break
    return METRIC_INFO.get(base)


def higher_is_better(key: str) -> bool:
    """Whether larger values of a logged key are better: ``"val_accuracy"`` yes, ``"loss"`` no.

    Registered metrics answer from :data:`METRIC_INFO`; anything else (losses, custom metrics)
    is an error to minimise unless its name ends in ``accuracy`` or ``acc`` (as Keras reads
    ``mode="auto"``).

    Example:
        >>> higher_is_better("dev_acc"), higher_is_better("mae"), higher_is_better("val_loss")
        (True, False, False)
    """
    found = info(key)
    if found is not None:
        return found.higher_is_better
    return key.lower().endswith(("accuracy", "acc"))


def display_name(key: str) -> str:
    """How tables name a logged key: ``"val_r2"`` -> ``"val R²"``, ``"dev_acc"`` -> ``"dev
    accuracy"``; unregistered keys (losses, custom metrics) as they are.

    Example:
        >>> display_name("dev_acc"), display_name("mae"), display_name("loss")
        ('dev accuracy', 'MAE', 'loss')
    """
    found = info(key)
    if found is None:
        return key
    split = next((p for p in SPLIT_PREFIXES if key.lower().startswith(p)), "")
    return f"{split[:-1]} {found.display}" if split else found.display


def format_value(key: str, value: Any, digits: int = 4) -> str:
    """A logged value as text: percentages for accuracy-like metrics (``"91.25 %"``), else
    ``digits`` significant digits; ``"-"`` for no value.

    Example:
        >>> format_value("val_accuracy", 0.9125), format_value("loss", 0.23456)
        ('91.25 %', '0.2346')
    """
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    value = float(value)
    if value != value:
        return "nan"
    found = info(key)
    if found is not None and found.percent:
        return f"{100.0 * value:.2f} %"
    return f"{value:.{digits}g}"


MetricName: TypeAlias = Literal[
    "accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "precision", "recall", "f1_score", "f1", "auc", "mean_squared_error", "mse",
    "mean_absolute_error", "mae", "r2_score", "r2",
]
"""The names :func:`get` takes (those of :data:`METRICS`)."""

MetricLike: TypeAlias = "MetricName | Metric"
"""What ``compile(metrics=...)`` takes for one metric: a name or a function."""


def get(identifier: MetricLike) -> tuple[str, Metric]:
    """Return ``(name, function)`` for a metric name or a callable, for ``compile(metrics=...)``.

    A name keeps the spelling asked for (lower-cased), so ``"acc"`` is logged as ``acc`` as in
    Keras; a callable is named by its ``__name__``.

    Raises:
        ValueError: for an unknown name (the message lists the known ones).
        TypeError: for anything that is neither a string nor callable.

    Example:
        >>> get("acc")[0], get("acc")[1] is accuracy
        ('acc', True)
    """
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in METRICS:
            raise ValueError(
                f"Unknown metric {identifier!r}. Known metrics: {', '.join(KNOWN_METRICS)}; "
                "or pass a function (y_true, y_pred) -> float."
            )
        return key, METRICS[key]
    if callable(identifier):
        return getattr(identifier, "__name__", type(identifier).__name__), identifier
    raise TypeError(
        "a metric must be a name or a function (y_true, y_pred) -> float; received "
        f"{type(identifier).__name__}."
    )


__all__ = [
    "KNOWN_METRICS",
    "METRICS",
    "METRIC_INFO",
    "MetricInfo",
    "accuracy",
    "auc",
    "binary_accuracy",
    "categorical_accuracy",
    "classifier_score",
    "confusion_matrix",
    "display_name",
    "f1_score",
    "format_value",
    "frechet_distance",
    "get",
    "higher_is_better",
    "info",
    "mean_absolute_error",
    "mean_squared_error",
    "precision",
    "r2_score",
    "recall",
    "sparse_categorical_accuracy",
]
