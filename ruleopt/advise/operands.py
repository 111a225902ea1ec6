"""Top-level operands of a rule's condition and the probe rules that measure them.

A rule's expanded condition is an ``and`` (possibly nested, which evaluates left to right
the same as one flat ``and``) of operands; libsinsp evaluates them in order and stops at
the first false one. To learn what each operand costs and how often it passes, each one
becomes a probe rule of its own, ``GUARD and OPERAND``, where GUARD restricts the probe to
the rule's event types: without it an operand that names no event type would run on every
event, not on the events the rule sees. GUARD alone is probed too, so its cost can be
taken off (it also holds the rdtsc overhead).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ruleopt.rules.ast import And, Compare, Expr, Field, Not, Or, Value, ValueList, walk
from ruleopt.rules.evttypes import EvtTypeSet, evttypes_of


def top_operands(expr: Expr) -> list[Expr]:
    """The operands of the condition's top-level ``and``, nested ``and``s flattened, in
    evaluation order; a condition that is not an ``and`` is its own single operand."""
    if not isinstance(expr, And):
        return [expr]
    out: list[Expr] = []
    for item in expr.items:
        out.extend(top_operands(item))
    return out


def names_evttype(expr: Expr) -> bool:
    """Does this operand restrict event types on its own (Falco's index would use it)?"""
    s = evttypes_of(expr)
    return not s.is_all and not s.is_empty


def guard_of(evttypes: EvtTypeSet) -> Expr | None:
    """The condition that restricts a probe to ``evttypes``; None when the rule sees
    every event (no guard needed, and none would be honest)."""
    if evttypes.is_all or evttypes.is_empty or not evttypes.names:
        return None
    test = Compare(
        Field("evt.type"), "in", ValueList(tuple(Value(n) for n in sorted(evttypes.names)))
    )
    return Not(test) if evttypes.complement else test


def guarded(guard: Expr | None, operand: Expr) -> Expr:
    return operand if guard is None else And((guard, operand))


@dataclass(frozen=True)
class OrChain:
    """An ``or`` of ``=`` comparisons of one field with literals, which ``in`` serves."""

    expr: Or
    field: Field
    values: tuple[str, ...]

    def as_in(self) -> Compare:
        return Compare(self.field, "in", ValueList(tuple(Value(v) for v in self.values)))


MIN_OR_CHAIN = 3


def or_chains(expr: Expr) -> Iterator[OrChain]:
    """Every ``or`` in ``expr`` whose items are all ``FIELD = literal`` on one field (at
    least ``MIN_OR_CHAIN`` of them)."""
    for node in walk(expr):
        if not isinstance(node, Or) or len(node.items) < MIN_OR_CHAIN:
            continue
        fields, values = set(), []
        for item in node.items:
            if (
                isinstance(item, Compare)
                and item.op in ("=", "==")
                and isinstance(item.lhs, Field)
                and isinstance(item.rhs, Value)
            ):
                fields.add(item.lhs)
                values.append(item.rhs.text)
            else:
                fields.add(None)
        if len(fields) == 1 and None not in fields:
            yield OrChain(node, next(iter(fields)), tuple(values))
