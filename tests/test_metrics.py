"""Tests for scratchnn.metrics, with scikit-learn as the reference."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scratchnn import metrics

FAST = settings(max_examples=60, deadline=None)


# --- strategies -----------------------------------------------------------------------------


@st.composite
def binary_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """0/1 targets and scores in [0, 1], rounded so that ties and exact 0.5s happen."""
    n = draw(st.integers(1, 40))
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 1)))
    decimals = draw(st.sampled_from([1, 2, 6]))
    s = draw(hnp.arrays(np.float64, n, elements=st.floats(0, 1))).round(decimals)
    return y, s


@st.composite
def multiclass_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer labels in 0..K-1 and (N, K) scores."""
    n = draw(st.integers(1, 40))
    k = draw(st.integers(2, 5))
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))
    s = draw(hnp.arrays(np.float64, (n, k), elements=st.floats(0, 1, width=32)))
    return y, s, k


@st.composite
def regression_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 30))
    shape = draw(st.sampled_from([(n,), (n, 1), (n, 3)]))
    values = st.floats(-100, 100, allow_subnormal=False)
    y = draw(hnp.arrays(np.float64, shape, elements=values))
    p = draw(hnp.arrays(np.float64, shape, elements=values))
    return y, p


def one_hot(y: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[y]


# --- accuracy -------------------------------------------------------------------------------


@FAST
@given(binary_case(), st.sampled_from([0.3, 0.5, 0.7]))
def test_binary_accuracy_matches_sklearn(case: tuple, threshold: float) -> None:
    y, s = case
    expected = skm.accuracy_score(y, (s > threshold).astype(int))
    assert metrics.binary_accuracy(y, s, threshold) == pytest.approx(expected)
    # the dispatching accuracy picks binary for (N,) and (N, 1) predictions
    assert metrics.accuracy(y, s, threshold) == pytest.approx(expected)
    assert metrics.accuracy(y[:, None], s[:, None], threshold) == pytest.approx(expected)
    assert metrics.accuracy(y, s[:, None], threshold) == pytest.approx(expected)


@FAST
@given(multiclass_case())
def test_categorical_and_sparse_accuracy_match_sklearn(case: tuple) -> None:
    y, s, k = case
    expected = skm.accuracy_score(y, s.argmax(axis=1))
    assert metrics.categorical_accuracy(one_hot(y, k), s) == pytest.approx(expected)
    assert metrics.sparse_categorical_accuracy(y, s) == pytest.approx(expected)
    assert metrics.sparse_categorical_accuracy(y[:, None], s) == pytest.approx(expected)
    assert metrics.accuracy(one_hot(y, k), s) == pytest.approx(expected)  # categorical
    assert metrics.accuracy(y, s) == pytest.approx(expected)  # sparse
    assert metrics.accuracy(y[:, None], s) == pytest.approx(expected)  # sparse, (N, 1)
    assert metrics.accuracy(y, s.argmax(axis=1)) == pytest.approx(expected)  # integer labels


def test_accuracy_dispatch_examples() -> None:
    # binary: threshold is strict (0.5 predicts 0), as Keras
    assert metrics.accuracy([1, 0, 1, 0], [0.9, 0.5, 0.51, 0.2]) == 1.0
    assert metrics.accuracy([1, 0], [0.4, 0.6], threshold=0.3) == 0.5
    # categorical: argmax of both
    assert metrics.accuracy([[0, 0, 1], [1, 0, 0]], [[0.2, 0.3, 0.5], [0.1, 0.8, 0.1]]) == 0.5
    # sparse: integer labels against (N, K) scores; float labels that are integers are fine
    assert metrics.accuracy([2.0, 0.0], [[0.2, 0.3, 0.5], [0.1, 0.8, 0.1]]) == 0.5
    # two columns: categorical with one-hot targets, sparse with labels
    assert metrics.accuracy([[0, 1], [1, 0]], [[0.4, 0.6], [0.3, 0.7]]) == 0.5
    assert metrics.accuracy([1, 0], [[0.4, 0.6], [0.3, 0.7]]) == 0.5
    # integer labels (multi-class) compared as they are
    assert metrics.accuracy([0, 2, 1], [0, 1, 1]) == pytest.approx(2 / 3)
    # booleans are 0/1
    assert metrics.accuracy(np.array([True, False]), np.array([0.9, 0.1])) == 1.0


def test_binary_accuracy_multilabel_elementwise() -> None:
    y = np.array([[1, 0, 1], [0, 1, 1]])
    p = np.array([[0.9, 0.6, 0.7], [0.1, 0.2, 0.8]])
    assert metrics.binary_accuracy(y, p) == pytest.approx(4 / 6)
    # the dispatching accuracy treats (N, K) against (N, K) as categorical instead
    assert metrics.accuracy(y, p) == 0.5


def test_returns_python_float() -> None:
    assert type(metrics.accuracy([1, 0], [0.9, 0.1])) is float
    assert type(metrics.auc([1, 0], [0.9, 0.1])) is float
    assert type(metrics.r2_score([1.0, 2.0], [1.0, 2.5])) is float
    assert type(metrics.f1_score([1, 0], [0.9, 0.1])) is float


# --- precision, recall, F1 ------------------------------------------------------------------

PRF = [
    (metrics.precision, skm.precision_score),
    (metrics.recall, skm.recall_score),
    (metrics.f1_score, skm.f1_score),
]


@FAST
@given(binary_case())
def test_binary_prf_match_sklearn(case: tuple) -> None:
    y, s = case
    labels = (s > 0.5).astype(int)
    for ours, theirs in PRF:
        expected = theirs(y, labels, zero_division=0)
        assert ours(y, s) == pytest.approx(expected)  # average=None -> binary
        assert ours(y, s[:, None], average="binary") == pytest.approx(expected)
        assert ours(y, labels) == pytest.approx(expected)  # integer 0/1 labels
        for average in ("macro", "micro", "weighted"):
            expected = theirs(y, labels, average=average, zero_division=0)
            assert ours(y, s, average=average) == pytest.approx(expected), average


@FAST
@given(multiclass_case(), st.sampled_from(["macro", "micro", "weighted"]))
def test_multiclass_prf_match_sklearn(case: tuple, average: str) -> None:
    y, s, k = case
    pred = s.argmax(axis=1)
    for ours, theirs in PRF:
        expected = theirs(y, pred, average=average, zero_division=0)
        assert ours(y, s, average=average) == pytest.approx(expected)
        assert ours(one_hot(y, k), s, average=average) == pytest.approx(expected)
        assert ours(y, pred, average=average) == pytest.approx(expected)
        if average == "macro":
            assert ours(y, s) == pytest.approx(expected)  # the default for K > 1


def test_prf_examples() -> None:
    y, s = [1, 0, 1, 1], [0.9, 0.8, 0.2, 0.7]  # tp=2, fp=1, fn=1
    assert metrics.precision(y, s) == pytest.approx(2 / 3)
    assert metrics.recall(y, s) == pytest.approx(2 / 3)
    assert metrics.f1_score(y, s) == pytest.approx(2 / 3)
    assert metrics.precision([1, 0], [0.1, 0.2]) == 0.0  # nothing predicted positive
    assert metrics.recall([0, 0], [0.9, 0.2]) == 0.0  # no positives


def test_prf_errors() -> None:
    with pytest.raises(ValueError, match="average must be one of"):
        metrics.precision([1, 0], [0.9, 0.1], average="samples")
    with pytest.raises(ValueError, match="average='binary' needs 0/1 labels"):
        metrics.recall([0, 2, 1], [[1, 0, 0], [0, 0, 1], [0, 1, 0]], average="binary")


# --- confusion matrix -----------------------------------------------------------------------


@FAST
@given(binary_case())
def test_binary_confusion_matrix_matches_sklearn(case: tuple) -> None:
    y, s = case
    expected = skm.confusion_matrix(y, (s > 0.5).astype(int), labels=[0, 1])
    np.testing.assert_array_equal(metrics.confusion_matrix(y, s), expected)
    np.testing.assert_array_equal(metrics.confusion_matrix(y[:, None], s[:, None]), expected)


@FAST
@given(multiclass_case())
def test_multiclass_confusion_matrix_matches_sklearn(case: tuple) -> None:
    y, s, k = case
    expected = skm.confusion_matrix(y, s.argmax(axis=1), labels=list(range(k)))
    np.testing.assert_array_equal(metrics.confusion_matrix(y, s), expected)
    np.testing.assert_array_equal(metrics.confusion_matrix(one_hot(y, k), s), expected)
    got = metrics.confusion_matrix(y, s.argmax(axis=1), num_classes=k)
    np.testing.assert_array_equal(got, expected)


def test_confusion_matrix_layout_and_size() -> None:
    cm = metrics.confusion_matrix([0, 0, 1, 1, 1], [0.1, 0.7, 0.2, 0.8, 0.9])
    (tn, fp), (fn, tp) = cm.tolist()
    assert (tn, fp, fn, tp) == (1, 1, 1, 2)
    assert cm.dtype == np.int64
    assert metrics.confusion_matrix([0, 0], [0.1, 0.2]).shape == (2, 2)  # always >= 2x2
    assert metrics.confusion_matrix([0, 3], [0, 1]).shape == (4, 4)  # largest label + 1
    assert metrics.confusion_matrix([0, 1], [0, 1], num_classes=5).shape == (5, 5)
    with pytest.raises(ValueError, match="num_classes=2 is too small"):
        metrics.confusion_matrix([0, 3], [0, 1], num_classes=2)
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        metrics.confusion_matrix([0, 1], [0, 1], num_classes=2.0)  # type: ignore[arg-type]


# --- AUC ------------------------------------------------------------------------------------


@FAST
@given(binary_case())
def test_auc_matches_sklearn_with_ties(case: tuple) -> None:
    y, s = case
    if y.min() == y.max():
        with pytest.raises(ValueError, match="only one class"):
            metrics.auc(y, s)
        return
    expected = skm.roc_auc_score(y, s)
    assert metrics.auc(y, s) == pytest.approx(expected, abs=1e-12)
    assert metrics.auc(y[:, None], s[:, None]) == pytest.approx(expected, abs=1e-12)
    two_columns = np.stack([1 - s, s], axis=1)
    assert metrics.auc(y, two_columns) == pytest.approx(expected, abs=1e-12)


def test_auc_examples() -> None:
    assert metrics.auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert metrics.auc([0, 1], [0.2, 0.9]) == 1.0
    assert metrics.auc([0, 1], [0.9, 0.2]) == 0.0
    assert metrics.auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5  # all tied
    # heavy ties against sklearn
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 1000)
    s = rng.integers(0, 5, 1000) / 4
    assert metrics.auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)


def test_auc_errors() -> None:
    with pytest.raises(ValueError, match="only one class"):
        metrics.auc([1, 1, 1], [0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="0s and 1s"):
        metrics.auc([0, 2], [0.2, 0.3])
    with pytest.raises(ValueError, match=r"y_score.shape=\(2, 3\)"):
        metrics.auc([0, 1], [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])


# --- regression -----------------------------------------------------------------------------


@FAST
@given(regression_case())
def test_regression_match_sklearn(case: tuple) -> None:
    y, p = case
    assert metrics.mean_squared_error(y, p) == pytest.approx(
        skm.mean_squared_error(y, p), rel=1e-9, abs=1e-9
    )
    assert metrics.mean_absolute_error(y, p) == pytest.approx(
        skm.mean_absolute_error(y, p), rel=1e-9, abs=1e-9
    )
    if y.shape[0] < 2:
        assert math.isnan(metrics.r2_score(y, p))
    else:
        assert metrics.r2_score(y, p) == pytest.approx(skm.r2_score(y, p), rel=1e-7, abs=1e-7)


def test_regression_examples() -> None:
    assert metrics.mean_squared_error([1.0, 2.0], [1.0, 4.0]) == 2.0
    assert metrics.mean_absolute_error([1.0, 2.0], [1.0, 4.0]) == 1.0
    assert metrics.r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]) == 0.5
    # (N,) and (N, 1) mix, as model outputs are usually (N, 1)
    assert metrics.mean_squared_error([1.0, 2.0], [[1.0], [4.0]]) == 2.0
    # a constant target: 1.0 if predicted exactly, else 0.0 (sklearn's force_finite)
    assert metrics.r2_score([3.0, 3.0], [3.0, 3.0]) == 1.0
    assert metrics.r2_score([3.0, 3.0], [3.0, 2.0]) == 0.0
    with pytest.raises(ValueError, match=r"y_true.shape=\(2, 2\) does not fit y_pred.shape"):
        metrics.mean_squared_error([[1.0, 2.0], [3.0, 4.0]], [1.0, 2.0])


# --- input errors ---------------------------------------------------------------------------

ALL_FUNCTIONS = sorted(set(metrics.METRICS.values()) | {metrics.confusion_matrix}, key=str)


@pytest.mark.parametrize("fn", ALL_FUNCTIONS, ids=lambda f: f.__name__)
def test_mismatched_lengths_name_both_shapes(fn: metrics.Metric) -> None:
    with pytest.raises(ValueError, match=r"y_true.shape=\(3,\), y_(pred|score).shape=\(2,\)"):
        fn([0, 1, 1], [0.2, 0.8])


@pytest.mark.parametrize("fn", ALL_FUNCTIONS, ids=lambda f: f.__name__)
def test_empty_input(fn: metrics.Metric) -> None:
    with pytest.raises(ValueError, match="empty"):
        fn([], [])


@pytest.mark.parametrize("fn", ALL_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_inf_input(fn: metrics.Metric, bad: float) -> None:
    with pytest.raises(ValueError, match=r"y_(pred|score) contains NaN"):
        fn([0, 1], [0.2, bad])
    with pytest.raises(ValueError, match="y_true contains NaN"):
        fn([bad, 1.0], [0.2, 0.8])


def test_other_input_errors() -> None:
    with pytest.raises(ValueError, match="scalar"):
        metrics.accuracy(1, 0.9)
    with pytest.raises(ValueError, match="real numbers"):
        metrics.accuracy(["a", "b"], [0.1, 0.2])
    with pytest.raises(ValueError, match="0s and 1s"):
        metrics.binary_accuracy([0, 2], [0.1, 0.9])
    with pytest.raises(ValueError, match="only 3 classes"):
        metrics.sparse_categorical_accuracy([0, 3], np.eye(3)[:2])
    with pytest.raises(ValueError, match="integer class labels"):
        metrics.accuracy([0.5, 1.0], [[0.1, 0.9], [0.2, 0.8]])
    with pytest.raises(ValueError, match=">= 0"):
        metrics.accuracy([-1, 1], [[0.1, 0.9], [0.2, 0.8]])
    with pytest.raises(ValueError, match=r"y_true.shape=\(2, 3\) does not fit y_pred.shape"):
        metrics.accuracy(np.eye(3)[:2], np.eye(2))
    with pytest.raises(ValueError, match=r"y_true.shape=\(2, 2\) does not fit"):
        metrics.categorical_accuracy(np.eye(2), [0.1, 0.2])
    with pytest.raises(ValueError, match="does not fit"):
        metrics.accuracy(np.eye(2), [0.1, 0.2])


# --- registry -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("accuracy", metrics.accuracy),
        ("acc", metrics.accuracy),
        ("binary_accuracy", metrics.binary_accuracy),
        ("categorical_accuracy", metrics.categorical_accuracy),
        ("sparse_categorical_accuracy", metrics.sparse_categorical_accuracy),
        ("precision", metrics.precision),
        ("recall", metrics.recall),
        ("f1", metrics.f1_score),
        ("f1_score", metrics.f1_score),
        ("auc", metrics.auc),
        ("mse", metrics.mean_squared_error),
        ("mean_squared_error", metrics.mean_squared_error),
        ("mae", metrics.mean_absolute_error),
        ("mean_absolute_error", metrics.mean_absolute_error),
        ("r2", metrics.r2_score),
        ("r2_score", metrics.r2_score),
        ("ACC", metrics.accuracy),
    ],
)
def test_get_by_name(name: str, fn: metrics.Metric) -> None:
    assert metrics.get(name) == (name.lower(), fn)


def test_known_metrics_sorted_and_complete() -> None:
    assert metrics.KNOWN_METRICS == sorted(metrics.METRICS)
    assert {"acc", "f1", "mse", "mae", "r2", "auc"} <= set(metrics.KNOWN_METRICS)


def test_get_callable_and_errors() -> None:
    def my_metric(y_true: object, y_pred: object) -> float:
        return 0.0

    assert metrics.get(my_metric) == ("my_metric", my_metric)
    with pytest.raises(ValueError, match="Unknown metric 'top5'") as info:
        metrics.get("top5")
    assert "sparse_categorical_accuracy" in str(info.value)
    with pytest.raises(TypeError, match="received int"):
        metrics.get(5)  # type: ignore[arg-type]


# --- module boundaries ----------------------------------------------------------------------


def test_metrics_module_imports_no_tensor() -> None:
    """metrics works on plain arrays: it imports only numpy and scratchnn.backend."""
    source = Path(metrics.__file__).read_text(encoding="utf-8")
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported |= {f"{node.module}.{alias.name}" for alias in node.names}
    scratchnn_imports = {name for name in imported if name.startswith("scratchnn")}
    assert scratchnn_imports <= {"scratchnn.backend"}, scratchnn_imports
    assert not any("tensor" in name.lower() for name in imported)


def test_every_registered_metric_has_a_direction_and_a_display_name():
    from scratchnn.metrics import METRIC_INFO, METRICS, display_name, higher_is_better

    assert set(METRIC_INFO) == set(METRICS)
    for name, entry in METRIC_INFO.items():
        assert entry.fn is METRICS[name] and isinstance(entry.higher_is_better, bool), name
        assert entry.display, name
        for prefix in ("", "val_", "dev_", "train_"):
            assert higher_is_better(prefix + name) is entry.higher_is_better, prefix + name
    errors = {"mse", "mae", "mean_squared_error", "mean_absolute_error"}
    assert {n for n, e in METRIC_INFO.items() if not e.higher_is_better} == errors
    assert not higher_is_better("loss") and not higher_is_better("val_loss")
    assert higher_is_better("dev_acc") and higher_is_better("val_f1")
    assert display_name("val_r2") == "val R²"
