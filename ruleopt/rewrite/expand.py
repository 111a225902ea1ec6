"""A rule's own condition (macros and list names kept) expanded against a loaded ruleset.

``optimize`` rewrites the text the author wrote, so macros and lists stay readable, but
measures and proves on what libsinsp runs: the expansion. The loader's expander works on
its own bookkeeping; this one needs only the ``RuleSet`` (macros parsed, lists merged).
"""

from __future__ import annotations

from ruleopt.rules.ast import (
    And,
    BoolConst,
    Compare,
    Expr,
    Field,
    ListRef,
    MacroRef,
    Not,
    Or,
    Value,
    ValueList,
)
from ruleopt.rules.load_expand import unquote
from ruleopt.rules.model import RuleSet


class OwnExpander:
    """Expands sub-expressions of rule and macro conditions; memoised per macro."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self._macros: dict[str, Expr] = {}
        self._lists: dict[str, tuple[Value, ...]] = {}

    def expand(self, expr: Expr) -> Expr:
        if isinstance(expr, MacroRef):
            if expr.name not in self._macros:
                self._macros[expr.name] = self.expand(self.ruleset.macros[expr.name].condition)
            return self._macros[expr.name]
        if isinstance(expr, Not):
            return Not(self.expand(expr.operand))
        if isinstance(expr, (And, Or)):
            return type(expr)(tuple(self.expand(i) for i in expr.items))
        if isinstance(expr, Compare) and isinstance(expr.rhs, ValueList):
            values: list[Value] = []
            for item in expr.rhs.items:
                values.extend(self.list_values(item.name) if isinstance(item, ListRef) else (item,))
            return Compare(expr.lhs, expr.op, ValueList(tuple(values)))
        return expr

    def list_values(self, name: str, stack: tuple[str, ...] = ()) -> tuple[Value, ...]:
        ld = self.ruleset.lists.get(name)
        if ld is None or name in stack:
            return (Value(name),)
        if name not in self._lists:
            out: list[Value] = []
            for raw in ld.items:
                if raw in self.ruleset.lists:
                    out.extend(self.list_values(raw, stack + (name,)))
                else:
                    out.append(Value(unquote(raw)))
            self._lists[name] = tuple(out)
        return self._lists[name]

    def constant(self, expr: Expr) -> bool | None:
        """The truth value of ``expr`` on every event libsinsp delivers, or None.

        Only Falco's own constant macros are recognised (``always_true``:
        ``evt.num >= 0``, an unsigned counter; ``never_true``: ``evt.num = 0``, which no
        event has because libsinsp numbers events from 1), and their negations."""
        e = self.expand(expr)
        negate = False
        while isinstance(e, Not):
            negate = not negate
            e = e.operand
        value: bool | None = None
        if isinstance(e, BoolConst):
            value = e.value
        elif (
            isinstance(e, Compare)
            and e.lhs == Field("evt.num")
            and isinstance(e.rhs, Value)
            and e.rhs.text.strip() == "0"
            and e.op in (">=", "=")
        ):
            value = e.op == ">="
        return None if value is None else value != negate
