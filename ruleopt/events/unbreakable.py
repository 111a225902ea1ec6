"""Why a rule can never match: the part of its condition no event satisfies.

The solver reports "no satisfying assignment" for a whole expanded condition. This module
names the cause the way a rule author reads it: the conjunct that is false on its own
(``evt.num = 0``, the ``never_true`` macro rulesets use to switch a rule off), or the two
conjuncts that contradict each other (``fd.sport = 22 and not fd.sport = 22``, a macro
and its negation), with the macro each one came from when a macro's condition is
exactly that conjunct. It only re-asks the solver about parts of the condition, so it
adds no semantics of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from ruleopt.events import solver as _solver
from ruleopt.rules.ast import And, Expr, MacroRef, Not, Or, fields_of, print_expr

NEVER = "can never match"
CONTRADICTORY = "contradictory"
# Conjuncts tried; conditions of upstream rules have a few dozen at most.
_MAX_CONJUNCTS = 200
_MAX_TEXT = 160


def is_never_match(reason: str | None) -> bool:
    """Does a generator reason say the rule is unbreakable by construction?"""
    return bool(reason) and reason.startswith((NEVER, CONTRADICTORY))


def conjuncts(expr: Expr) -> list[Expr]:
    """The parts that must all hold: ``and`` flattened, ``not (a or b)`` as ``not a``,
    ``not b`` (De Morgan), ``not not x`` as ``x``."""
    if isinstance(expr, And):
        return [c for item in expr.items for c in conjuncts(item)]
    if isinstance(expr, Not) and isinstance(expr.operand, Or):
        return [c for item in expr.operand.items for c in conjuncts(Not(item))]
    if isinstance(expr, Not) and isinstance(expr.operand, Not):
        return conjuncts(expr.operand.operand)
    return [expr]


def _macro_names(macros: Mapping[str, object]) -> dict[Expr, list[str]]:
    """Conditions of macros (aliases followed) -> the macros with that condition."""
    raw = {name: getattr(m, "condition", None) for name, m in macros.items()}
    out: dict[Expr, list[str]] = {}
    for name, cond in raw.items():
        seen, root = {name}, name
        while isinstance(cond, MacroRef) and cond.name in raw and cond.name not in seen:
            seen.add(cond.name)
            root, cond = cond.name, raw[cond.name]
        if cond is not None and not isinstance(cond, MacroRef):
            # A condition that uses no list or macro reads the same expanded.
            out.setdefault(cond, []).append(name if root == name else f"{name} = {root}")
    return out


def _pick(names: list[str], text: str, negated: bool) -> str:
    """Of macros with one condition, the one the rule's text uses that way."""
    for name in names:
        used = re.search(r"(\bnot\s+)?\b" + re.escape(name.split(" = ")[0]) + r"\b", text)
        if used and bool(used.group(1)) == negated:
            return name
    return names[0]


def _text(part: Expr, names: Mapping[Expr, list[str]], text: str) -> str:
    shown = print_expr(part)
    if len(shown) > _MAX_TEXT:
        shown = shown[: _MAX_TEXT - 3] + "..."
    macro = None
    if part in names:
        macro = _pick(names[part], text, False)
    elif isinstance(part, Not) and part.operand in names:
        macro = "not " + _pick(names[part.operand], text, True)
    return f"`{shown}`" + (f" (macro {macro})" if macro else "")


def explain(
    expr: Expr,
    satisfiable: Callable[[Expr], bool],
    macros: Mapping[str, object] | None = None,
    text: str = "",
) -> str:
    """Why ``expr`` (which the solver could not satisfy) never matches, in one sentence;
    ``text`` is the rule's condition as written (to name its macros)."""
    names = _macro_names(macros or {})
    parts = conjuncts(expr)[:_MAX_CONJUNCTS]
    for part in parts:
        if not satisfiable(part):
            numbered = any(f.name == "evt.num" for f in fields_of(part))
            which = (
                "which no event has (events are numbered from 1)"
                if numbered
                else "which no event can satisfy"
            )
            return f"{NEVER}: its condition requires {_text(part, names, text)}, {which}"
    # The shortest unsatisfiable prefix ends at one side of a contradiction; the other
    # side is the first earlier part that contradicts it alone.
    for j in range(1, len(parts)):
        if satisfiable(And(tuple(parts[: j + 1]))):
            continue
        for i in range(j):
            if not satisfiable(And((parts[i], parts[j]))):
                return (
                    f"{CONTRADICTORY}: its condition requires both "
                    f"{_text(parts[i], names, text)} and {_text(parts[j], names, text)}"
                )
        return (
            f"{CONTRADICTORY}: its condition requires {_text(parts[j], names, text)} "
            f"together with earlier parts that exclude it"
        )
    return f"{CONTRADICTORY}: the solver finds no event for its condition"


def solver_check(
    spec_of: _solver.SpecOf,
    evaluate: Callable,
    samples: Mapping[str, Sequence],
    base: Mapping[str, object],
) -> Callable[[Expr], bool]:
    """``satisfiable(part)`` through the generator's own solver (one verified template)."""

    def satisfiable(part: Expr) -> bool:
        try:
            res = _solver.build_templates(
                part, spec_of, evaluate, samples=samples, count=1, base=base
            )
        except (ValueError, TypeError, IndexError, OverflowError):
            return True  # the solver cannot judge it: never blame this part
        if res.templates:
            return True
        return not (res.reason or "").startswith(("no satisfying", "condition is always"))

    return satisfiable
