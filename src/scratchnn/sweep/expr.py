"""Filter and sort expressions over report columns, evaluated safely (no ``eval``).

An expression is parsed with :mod:`ast` and checked against a short list of allowed nodes before
anything is computed: column names, numbers, strings, ``True``/``False``, comparisons (chains
too), ``and``/``or``/``not``, ``+ - * / // % **``, unary minus, and the calls ``abs``, ``min``,
``max``, ``round``, ``log``, ``log10``, ``exp``, ``sqrt``. No attribute access, subscripts,
lambdas, comprehensions or other calls: ``__import__('os')`` is rejected before it could run.

    >>> f = compile_expression("dev_acc > 0.95 and abs(train_acc - dev_acc) <= 0.01")
    >>> f({"dev_acc": 0.97, "train_acc": 0.975})
    True
    >>> sorted(f.names)
    ['dev_acc', 'train_acc']
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "min": min,
    "max": max,
    "round": round,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "sqrt": math.sqrt,
}
"""The functions an expression may call."""

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_
}


class ExpressionError(ValueError):
    """An expression that is not valid or uses something not allowed."""


class Expression:
    """A checked expression; call it with a row (a mapping of column values).

    Attributes:
        source: the text.
        names: the column names it reads.
    """

    def __init__(self, source: str, tree: ast.Expression, names: set[str]) -> None:
        self.source = source
        self._tree = tree
        self.names = frozenset(names)

    def __call__(self, row: Mapping[str, Any]) -> Any:
        """The value of the expression for ``row``; a missing or ``None`` column makes a
        comparison false (and arithmetic on it ``None``)."""
        return _evaluate(self._tree.body, row)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


def compile_expression(source: str, columns: Iterable[str] | None = None) -> Expression:
    """Parse and check ``source``; with ``columns``, also check every name is one of them.

    Raises:
        ExpressionError: a syntax error, a construct that is not allowed, an unknown function,
            or (with ``columns``) an unknown column; the message lists what is allowed.
    """
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError(f"an expression must be non-empty text; received {source!r}.")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"invalid expression {source!r}: {exc.msg}.") from None
    names: set[str] = set()
    _check(tree.body, names, source)
    if columns is not None:
        known = set(columns)
        unknown = sorted(names - known)
        if unknown:
            raise ExpressionError(
                f"expression {source!r} uses unknown column(s) {unknown}; the columns are: "
                f"{', '.join(sorted(known))}."
            )
    return Expression(source, tree, names)


def _check(node: ast.AST, names: set[str], source: str) -> None:
    """Reject anything but the allowed nodes; collect the column names."""
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, names, source)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left, names, source)
        _check(node.right, names, source)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check(node.operand, names, source)
    elif isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        _check(node.left, names, source)
        for comparator in node.comparators:
            _check(comparator, names, source)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            called = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise ExpressionError(
                f"expression {source!r} calls {called!r}; only {', '.join(FUNCTIONS)} may be "
                "called."
            )
        if node.keywords:
            raise ExpressionError(f"expression {source!r}: keyword arguments are not allowed.")
        for arg in node.args:
            _check(arg, names, source)
    elif isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise ExpressionError(f"expression {source!r}: {node.id!r} must be called.")
        if node.id.startswith("__"):
            raise ExpressionError(f"expression {source!r}: the name {node.id!r} is not allowed.")
        if node.id not in ("True", "False", "None"):
            names.add(node.id)
    elif isinstance(node, ast.Constant) and (
        node.value is None or isinstance(node.value, (int, float, str, bool))
    ):
        pass
    else:
        raise ExpressionError(
            f"expression {source!r} contains {ast.unparse(node)!r} "
            f"({type(node).__name__}), which is not allowed. Use column names, numbers, "
            "comparisons, and/or/not, + - * / and the functions "
            f"{', '.join(FUNCTIONS)}."
        )


def _arithmetic(op: Any, left: Any, right: Any) -> Any:
    """``op(left, right)`` in floating point, so that no text (``9**9**9``, ``"x" * 10**12``)
    can make a huge number or string: numbers become floats, anything else gives NaN, and so do
    a division by zero and an overflow."""
    if not all(isinstance(v, (int, float)) for v in (left, right)):
        return math.nan
    try:
        result = op(float(left), float(right))
    except (ZeroDivisionError, OverflowError):
        return math.nan
    return result if isinstance(result, float) else math.nan  # (-8) ** 0.5 is complex


def _evaluate(node: ast.AST, row: Mapping[str, Any]) -> Any:
    """Evaluate a checked node; ``None`` (a missing value) propagates, comparisons give False."""
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            result: Any = True
            for value in node.values:
                result = _evaluate(value, row)
                if not result:
                    return result
            return result
        result = False
        for value in node.values:
            result = _evaluate(value, row)
            if result:
                return result
        return result
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, row), _evaluate(node.right, row)
        if left is None or right is None:
            return None
        return _arithmetic(_BINARY[type(node.op)], left, right)
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, row)
        if value is None and not isinstance(node.op, ast.Not):
            return None
        return _UNARY[type(node.op)](value)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, row)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(comparator, row)
            if left is None or right is None:
                return False
            try:
                if not _COMPARE[type(op)](left, right):
                    return False
            except TypeError:
                return False
            left = right
        return True
    if isinstance(node, ast.Call):
        args = [_evaluate(arg, row) for arg in node.args]
        if any(a is None for a in args):
            return None
        name = cast(ast.Name, node.func).id  # checked by _check: a Name among FUNCTIONS
        try:
            return FUNCTIONS[name](*args)
        except (ValueError, TypeError, OverflowError):  # log(-1), exp(1000), min("a", 1)
            return math.nan
    if isinstance(node, ast.Name):
        if node.id == "True":
            return True
        if node.id == "False":
            return False
        if node.id == "None":
            return None
        return row.get(node.id)
    if isinstance(node, ast.Constant):
        return node.value
    raise AssertionError(f"unchecked node {node!r}")  # pragma: no cover
