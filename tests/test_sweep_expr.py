"""Report filters are parsed with ast and evaluated without eval: only columns, numbers,
comparisons, and/or/not, arithmetic and a few functions."""

from __future__ import annotations

import pytest

from scratchnn.sweep.expr import ExpressionError, compile_expression

TUTORIAL = "dev_acc > 0.95 and abs(train_acc - dev_acc) <= 0.01 and fit_time < 30"


def test_the_tutorials_filter():
    f = compile_expression(TUTORIAL, ["dev_acc", "train_acc", "fit_time"])
    assert f.names == {"dev_acc", "train_acc", "fit_time"}
    assert f({"dev_acc": 0.96, "train_acc": 0.965, "fit_time": 3.0}) is True
    assert f({"dev_acc": 0.96, "train_acc": 0.98, "fit_time": 3.0}) is False  # over-fitted
    assert f({"dev_acc": 0.96, "train_acc": 0.96, "fit_time": 31.0}) is False  # too slow
    assert f({"dev_acc": 0.94, "train_acc": 0.94, "fit_time": 1.0}) is False


@pytest.mark.parametrize(
    ("text", "row", "expected"),
    [
        ("not diverged", {"diverged": False}, True),
        ("activation == 'tanh' or n_h >= 10", {"activation": "relu", "n_h": 10}, True),
        ("0.9 < dev_acc <= 1", {"dev_acc": 0.95}, True),
        ("max(train_acc, dev_acc) - min(train_acc, dev_acc) < 0.02",
         {"train_acc": 0.9, "dev_acc": 0.91}, True),
        ("-lr * 2 + 3 ** 2 // 4 % 5 == 2 - 2 * lr", {"lr": 0.5}, True),
        ("round(log10(lr)) == -2", {"lr": 0.01}, True),
        ("dev_acc > 0.5", {}, False),  # a missing value never passes a comparison
        ("dev_acc / 0 > 1", {"dev_acc": 1.0}, False),  # division by zero gives NaN, not a crash
    ],
)
def test_expressions_evaluate(text, row, expected):
    assert bool(compile_expression(text)(row)) is expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("__import__('os').system('echo hacked')", "only abs, min, max"),
        ("__import__('os')", "calls '__import__'"),
        ("dev_acc.__class__", "not allowed"),
        ("().__class__.__bases__[0]", "not allowed"),
        ("[x for x in (1, 2)]", "not allowed"),
        ("(lambda: 1)()", "lambda"),
        ("open('/etc/passwd')", "calls 'open'"),
        ("dev_acc[0]", "not allowed"),
        ("abs", "must be called"),
        ("abs(x=1)", "keyword"),
        ("__builtins__", "not allowed"),
        ("a := 1", "invalid expression"),
        ("dev_acc >", "invalid expression"),
        ("", "non-empty"),
    ],
)
def test_anything_else_is_rejected_before_running(text, words):
    with pytest.raises(ExpressionError) as info:
        compile_expression(text)
    assert words in str(info.value), str(info.value)


def test_unknown_columns_are_named_with_the_known_ones():
    with pytest.raises(ExpressionError) as info:
        compile_expression("dev_accuracy > 0.9", ["dev_acc", "train_acc"])
    assert "dev_accuracy" in str(info.value) and "dev_acc, train_acc" in str(info.value)
