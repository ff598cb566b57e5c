"""Row conditions over table columns (``filter --where``), parsed and checked, never eval'd.

Allowed: column names, numbers, ``True``/``False``, arithmetic ``+ - * / // % **``,
comparisons ``< <= > >= == !=`` (chained too: ``100 < photons < 5000``), ``and``, ``or``,
``not`` (or ``&``, ``|``, ``~``, read as these words, as pandas' ``query`` does) and
parentheses. Refused: function
calls, attribute access, indexing, strings and everything else, so an expression can only
read columns. The whole expression must be a condition (true or false per row). The text
is parsed by Python's :mod:`ast` and evaluated node by node with NumPy on one partition;
a comparison with NaN is false, so rows with NaN in a compared column are dropped.

>>> import pandas as pd
>>> where = parse_where("photons > 500 and uncertainty_x_nm < 20",
...                     ["photons", "uncertainty_x_nm"])
>>> where.evaluate(pd.DataFrame({"photons": [600.0, 400.0], "uncertainty_x_nm": [10.0, 5.0]}))
array([ True, False])
>>> where.thresholds
(('photons', 500.0), ('uncertainty_x_nm', 20.0))
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass

import numpy as np

from smlmscale.errors import InputError

_COMPARE = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater,
            ast.GtE: np.greater_equal, ast.Eq: np.equal, ast.NotEq: np.not_equal}
_ARITHMETIC = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
               ast.Div: np.true_divide, ast.FloorDiv: np.floor_divide, ast.Mod: np.mod,
               ast.Pow: np.power}
_WORDS = {"&": "and", "|": "or", "~": "not"}
_REFUSED = {ast.Call: "a function call", ast.Attribute: "attribute access",
            ast.Subscript: "indexing", ast.Lambda: "a lambda", ast.IfExp: "if/else",
            ast.NamedExpr: "an assignment"}
ALLOWED = ("column names, numbers, + - * / // % **, < <= > >= == !=, and/or/not (& | ~) "
           "and parentheses")


def _fail(text: str, message: str) -> None:
    raise InputError(f"--where {text!r}: {message}", hint=f"allowed: {ALLOWED}")


@dataclass(frozen=True, eq=False)
class Where:
    """A checked condition: its ``text``, the ``columns`` it reads and its ``thresholds``
    (``(column, value)`` of every comparison of a column with a number)."""

    text: str
    tree: ast.Expression
    columns: tuple[str, ...]
    thresholds: tuple[tuple[str, float], ...]

    def evaluate(self, part) -> np.ndarray:
        """The boolean mask of the rows of ``part`` (a pandas DataFrame) that satisfy it."""
        value = _evaluate(self.tree.body, part)
        return np.broadcast_to(np.asarray(value, bool), (len(part),)).copy()


def parse_where(text: str, columns) -> Where:
    """Parse and check a ``--where`` condition against a table's ``columns``.

    Raises
    ------
    InputError
        Invalid syntax, a name that is not a column, anything not allowed, or an
        expression that is not a condition.
    """
    try:
        tree = ast.parse(_words(text), mode="eval")
    except (SyntaxError, tokenize.TokenError) as exc:
        _fail(text, f"not a valid expression ({exc.msg})")
    if _kind(tree.body, text) != "condition":
        _fail(text, "not a condition (a comparison such as photons > 500)")
    names = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name)]
    unknown = [n for n in dict.fromkeys(names) if n not in set(columns)]
    if unknown:
        raise InputError(f"--where {text!r}: no column {', '.join(map(repr, unknown))}",
                         hint=f"the table has {', '.join(map(str, columns))}")
    return Where(text, tree, tuple(dict.fromkeys(names)), tuple(_thresholds(tree.body)))


def _words(text: str) -> str:
    """``&``, ``|``, ``~`` as ``and``, ``or``, ``not`` (with their precedence, as in
    :meth:`pandas.DataFrame.query`: ``a > 1 & b < 2`` joins two comparisons)."""
    tokens = []
    for tok in tokenize.generate_tokens(io.StringIO(text.strip()).readline):
        if tok.type == tokenize.OP and tok.string in _WORDS:
            tok = tok._replace(type=tokenize.NAME, string=_WORDS[tok.string])
        tokens.append((tok.type, tok.string))
    return tokenize.untokenize(tokens).strip()


def _kind(node: ast.AST, text: str) -> str:
    """``"condition"`` or ``"number"``; refuses what is not allowed."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return "condition"
        if isinstance(node.value, (int, float)):
            return "number"
        _fail(text, f"{type(node.value).__name__} values are not allowed")
    if isinstance(node, ast.Name):
        return "number"
    if isinstance(node, ast.BoolOp):
        _all(node.values, "condition", text, "and/or join conditions")
        return "condition"
    if isinstance(node, ast.UnaryOp):
        want = "condition" if isinstance(node.op, ast.Not) else "number"
        _all([node.operand], want, text, "not negates a condition, - a number")
        return want
    if isinstance(node, ast.BinOp):
        if type(node.op) in _ARITHMETIC:
            _all([node.left, node.right], "number", text, "arithmetic is on numbers")
            return "number"
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        _all([node.left, *node.comparators], "number", text, "comparisons are of numbers")
        return "condition"
    _fail(text, f"{_REFUSED.get(type(node), type(node).__name__)} is not allowed")


def _all(nodes, want: str, text: str, rule: str) -> None:
    if any(_kind(n, text) != want for n in nodes):
        _fail(text, rule)


def _number(node: ast.AST) -> float | None:
    if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _number(node.operand)
        return None if value is None else (-value if isinstance(node.op, ast.USub) else value)
    return None


def _thresholds(node: ast.AST):
    for sub in ast.walk(node):
        if isinstance(sub, ast.Compare):
            operands = [sub.left, *sub.comparators]
            for a, b in zip(operands[:-1], operands[1:]):
                for name, value in ((a, b), (b, a)):
                    if isinstance(name, ast.Name) and _number(value) is not None:
                        yield name.id, _number(value)


def _evaluate(node: ast.AST, part):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return part[node.id].to_numpy(np.float64)
    if isinstance(node, ast.BoolOp):
        values = [np.asarray(_evaluate(v, part), bool) for v in node.values]
        join = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return join.reduce(np.broadcast_arrays(*values)) if len(values) > 1 else values[0]
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, part)
        if isinstance(node.op, ast.Not):
            return np.logical_not(value)
        return np.negative(value) if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        op = _ARITHMETIC[type(node.op)]
        with np.errstate(all="ignore"):
            return op(_evaluate(node.left, part), _evaluate(node.right, part))
    # ast.Compare (the only other node parse_where lets through)
    values = [_evaluate(v, part) for v in [node.left, *node.comparators]]
    out = True
    with np.errstate(invalid="ignore"):
        for op, a, b in zip(node.ops, values[:-1], values[1:]):
            out = np.logical_and(out, _COMPARE[type(op)](a, b))
    return out


__all__ = ["ALLOWED", "Where", "parse_where"]
