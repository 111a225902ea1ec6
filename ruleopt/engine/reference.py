"""The reference evaluator: the oracle every strategy and the Cython core are tested against.

Plain, recursive, short-circuit Python over ONE event, given as a mapping from canonical
field key (``ruleopt.fields.resolve(f).key``: ``proc.name``, ``proc.aname[2]``,
``evt.arg.flags``) to value. A missing key or ``None`` means the field is absent for that
event; a multi-valued field (``proc.aname`` without index) holds a list. Comparison
semantics live in ``ruleopt.engine.values`` so every evaluator shares them.

``evaluate`` is the clear definition. ``prepare`` turns a condition into nested closures
with constants parsed once, for the 10^5-events x 100-rules loops of the tests; the two
must always agree (tests check it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cache, lru_cache
from typing import Any

from ruleopt.errors import RuleoptError
from ruleopt.fields import FieldInfo, resolve
from ruleopt.rules import ast

from . import values

Event = Mapping[str, Any]


# ------------------------------------------------------------------------- operands


@cache
def operand_info(operand: ast.Operand) -> tuple[str, FieldInfo, tuple[str, ...]]:
    """(event key, field type after transformers, transformers innermost first)."""
    funcs: list[str] = []
    while isinstance(operand, ast.Transform):
        funcs.append(operand.func)
        operand = operand.operand
    rf = resolve(operand)
    info = rf.info
    if not rf.multi and info.multi:
        # An indexed ancestor (proc.aname[2]) is one value, not a list.
        info = _single(info)
    applied = tuple(reversed(funcs))
    for i, func in enumerate(applied):
        info = values.transformed_info(func, info, applied[:i])
    return rf.key, info, applied


@cache
def _single(info: FieldInfo) -> FieldInfo:
    return replace(info, multi=False, multi_kind="")


def read_operand(operand: ast.Operand, event: Event) -> tuple[Any, FieldInfo]:
    """The operand's value in ``event`` (None if absent) and its type."""
    key, info, funcs = operand_info(operand)
    value = event.get(key)
    for func in funcs:
        value = values.apply_transformer(func, value)
    if isinstance(value, (list, tuple)) and not value:
        value = None
    return value, info


@lru_cache(maxsize=65536)
def _parsed_rhs(info: FieldInfo, op: str, rhs: str | tuple[str, ...] | None) -> Any:
    return values.prepare_rhs(info, op, rhs)


def _value_texts(rhs: ast.ValueList) -> tuple[str, ...]:
    texts = []
    for item in rhs.items:
        if isinstance(item, ast.ListRef):
            raise RuleoptError(
                f"unresolved list '{item.name}' in a condition",
                hint="evaluate expanded conditions only (lists and macros inlined)",
            )
        texts.append(item.text)
    return tuple(texts)


def check_field_pair(op: str, info: FieldInfo, rhs_info: FieldInfo) -> None:
    """What libsinsp's compiler refuses in ``x op val(y)``: decided before any event."""
    values.check_operator(op, info)
    if info.type != rhs_info.type:
        raise RuleoptError(
            f"cannot compare field '{info.name}' ({info.type}) with field "
            f"'{rhs_info.name}' ({rhs_info.type})",
            hint="val() needs a field of the same type",
        )
    if op == "pmatch":
        raise RuleoptError("pmatch does not accept a field on the right side")


def _rhs_field_value(op: str, info: FieldInfo, value: Any, rhs_info: FieldInfo) -> Any:
    """A val(field) right side as a constant of the left side's type."""
    check_field_pair(op, info, rhs_info)
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if info.type in ("ipaddr", "ipnet"):
        items = [values.parse_ip(str(v)) if isinstance(v, str) else v for v in items]
    if op in ("in", "intersects"):
        return tuple(items) if info.type in ("ipaddr", "ipnet") else frozenset(items)
    # Several values on the right: libsinsp compares with the first one.
    return items[0]


# -------------------------------------------------------------------------- oracle


def evaluate(expr: ast.Expr, event: Event) -> bool:
    """Does ``event`` satisfy the expanded condition ``expr``?"""
    if isinstance(expr, ast.Compare):
        return _evaluate_compare(expr, event)
    if isinstance(expr, ast.And):
        return all(evaluate(item, event) for item in expr.items)
    if isinstance(expr, ast.Or):
        return any(evaluate(item, event) for item in expr.items)
    if isinstance(expr, ast.Not):
        return not evaluate(expr.operand, event)
    if isinstance(expr, ast.BoolConst):
        return expr.value
    if isinstance(expr, ast.MacroRef):
        raise RuleoptError(
            f"unresolved macro '{expr.name}' in a condition",
            hint="evaluate expanded conditions only (lists and macros inlined)",
        )
    raise TypeError(f"not an expression node: {expr!r}")


def _evaluate_compare(cmp: ast.Compare, event: Event) -> bool:
    op = cmp.op
    _, info, _ = operand_info(cmp.lhs)
    rhs = cmp.rhs
    # Constants are parsed (and operators checked) before looking at the event:
    # libsinsp rejects a bad constant when the rule compiles, whatever the events.
    if rhs is None:
        if op != "exists":
            raise RuleoptError(f"operator '{op}' needs a value")
        const = _parsed_rhs(info, op, None)
    elif isinstance(rhs, ast.Value):
        const = _parsed_rhs(info, op, rhs.text)
    elif isinstance(rhs, ast.ValueList):
        const = _parsed_rhs(info, op, _value_texts(rhs))
    else:  # FieldValue: val(other.field) of this same event
        values.check_operator(op, info)
        rvalue, rinfo = read_operand(rhs.operand, event)
        if rvalue is None:
            return False
        const = _rhs_field_value(op, info, rvalue, rinfo)
    lhs, _ = read_operand(cmp.lhs, event)
    return values.compare(op, info, lhs, const)


# ---------------------------------------------------------------- compile-once form

Predicate = Callable[[Event], bool]


class Prepared:
    """A condition compiled to closures, constants parsed once. Call it on an event."""

    __slots__ = ("expr", "_fn")

    def __init__(self, expr: ast.Expr) -> None:
        self.expr = expr
        self._fn = _build(expr)

    def __call__(self, event: Event) -> bool:
        return self._fn(event)


def prepare(expr: ast.Expr) -> Prepared:
    """Compile ``expr`` once; raises RuleoptError now for bad constants or operators."""
    return Prepared(expr)


def _build(expr: ast.Expr) -> Predicate:
    if isinstance(expr, ast.Compare):
        return _build_compare(expr)
    if isinstance(expr, (ast.And, ast.Or)):
        parts = tuple(_build(item) for item in expr.items)
        if isinstance(expr, ast.And):
            return lambda ev: all(p(ev) for p in parts)
        return lambda ev: any(p(ev) for p in parts)
    if isinstance(expr, ast.Not):
        inner = _build(expr.operand)
        return lambda ev: not inner(ev)
    if isinstance(expr, ast.BoolConst):
        value = expr.value
        return lambda ev: value
    if isinstance(expr, ast.MacroRef):
        evaluate(expr, {})  # raises the same error as the oracle
    raise TypeError(f"not an expression node: {expr!r}")


def _has_surrogates(const: Any) -> bool:
    items = (const,) if isinstance(const, str) else const
    if not isinstance(items, (tuple, frozenset)):
        return False
    return any(
        isinstance(t, str) and not t.isascii() and any("\ud800" <= c <= "\udfff" for c in t)
        for t in items
    )


def _build_compare(cmp: ast.Compare) -> Predicate:
    op = cmp.op
    key, info, funcs = operand_info(cmp.lhs)
    rhs = cmp.rhs
    compare = values.compare

    if isinstance(rhs, ast.FieldValue):
        # Rare; the oracle path is fast enough and keeps one implementation.
        check_field_pair(op, info, operand_info(rhs.operand)[1])
        return lambda ev: _evaluate_compare(cmp, ev)

    if rhs is None:
        if op != "exists":
            raise RuleoptError(f"operator '{op}' needs a value")
        const = _parsed_rhs(info, op, None)
    elif isinstance(rhs, ast.Value):
        const = _parsed_rhs(info, op, rhs.text)
    else:
        const = _parsed_rhs(info, op, _value_texts(rhs))

    if funcs:
        lhs_operand = cmp.lhs

        def with_transform(ev: Event) -> bool:
            lhs, _ = read_operand(lhs_operand, ev)
            return compare(op, info, lhs, const)

        return with_transform

    if info.type == "str" and not info.multi and not _has_surrogates(const):
        # Python's str operations equal libsinsp's byte ones for these constants (a
        # surrogate-free constant's bytes can only match at a character boundary).
        # The hot path of Falco rules: plain string fields.
        if op in ("=", "=="):
            return lambda ev: (v := ev.get(key)) is not None and v == const
        if op == "!=":
            return lambda ev: (v := ev.get(key)) is not None and v != const
        if op in ("in", "intersects"):
            return lambda ev: (v := ev.get(key)) is not None and v in const
        if op == "contains":
            return lambda ev: (v := ev.get(key)) is not None and const in v
        if op == "startswith":
            return lambda ev: (v := ev.get(key)) is not None and v.startswith(const)
        if op == "endswith":
            return lambda ev: (v := ev.get(key)) is not None and v.endswith(const)
        if op == "exists":
            return lambda ev: ev.get(key) is not None

    def generic(ev: Event) -> bool:
        v = ev.get(key)
        if v is None:
            return False
        return compare(op, info, v, const)

    return generic
