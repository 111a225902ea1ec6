"""What orders operands: a static cost model of libsinsp 2022's checks, and pass rates
measured with the reference evaluator on given events.

The static model counts one unit for a field extraction and plain compare, more for what
libsinsp 2022 does in loops: ``proc.aname``/``proc.apid`` walk the process tree (one
extraction per ancestor), ``contains``/``glob``/``startswith`` scan the value, ``in`` with
many values hashes the value (libsinsp keeps a set), ``pmatch`` walks a path trie.
``evt.type`` reads an integer already decoded. The figures only order operands; the
harness measures the effect.
"""

from __future__ import annotations

import numpy as np

from ruleopt.engine.reference import prepare
from ruleopt.errors import RuleoptError
from ruleopt.rules.ast import And, BoolConst, Compare, Expr, Field, Not, Or, Transform

_OP_COST = {
    "contains": 2.0,
    "icontains": 3.0,
    "startswith": 1.5,
    "endswith": 1.5,
    "glob": 4.0,
    "pmatch": 3.0,
    "in": 1.5,
    "intersects": 2.0,
}
# Fields that cost more than a lookup: the process tree walk, the command line built
# from the argument list, fd fields that format an address.
_FIELD_COST = {
    "proc.aname": 8.0,
    "proc.apid": 8.0,
    "proc.cmdline": 3.0,
    "proc.args": 3.0,
    "proc.exeline": 3.0,
    "fd.name": 1.5,
    "fd.directory": 2.0,
    "fd.filename": 2.0,
    "evt.type": 0.3,
    "evt.num": 0.3,
    "evt.dir": 0.3,
}


def compare_cost(cmp: Compare) -> float:
    operand = cmp.lhs
    while isinstance(operand, Transform):
        operand = operand.operand
    field_cost = 1.0
    if isinstance(operand, Field):
        field_cost = _FIELD_COST.get(operand.name, 1.0)
        if operand.name == "proc.aname" and operand.arg is not None:
            field_cost = 2.0  # one ancestor, reached by a short walk
    return field_cost * _OP_COST.get(cmp.op, 1.0)


def static_cost(expr: Expr) -> float:
    """Cost of evaluating every leaf of an expanded condition (an upper bound of the
    short-circuit cost, which is all a static model can promise)."""
    if isinstance(expr, Compare):
        return compare_cost(expr)
    if isinstance(expr, Not):
        return static_cost(expr.operand)
    if isinstance(expr, (And, Or)):
        return sum(static_cost(i) for i in expr.items)
    if isinstance(expr, BoolConst):
        return 0.0
    return 1.0


def is_evttype_test(expr: Expr) -> bool:
    """Whether ``expr`` reads only ``evt.type`` (possibly under not/and/or)."""
    if isinstance(expr, Compare):
        return expr.lhs == Field("evt.type")
    if isinstance(expr, Not):
        return is_evttype_test(expr.operand)
    if isinstance(expr, (And, Or)):
        return all(is_evttype_test(i) for i in expr.items)
    return False


def selects_evttype(expr: Expr) -> bool:
    """Whether ``expr`` holds only on some event types (an ``evt.type`` test that every
    way of being true passes): a cheap, usually decisive test to run first."""
    if isinstance(expr, Compare):
        return expr.lhs == Field("evt.type") and expr.op in ("=", "in")
    if isinstance(expr, And):
        return any(selects_evttype(i) for i in expr.items)
    if isinstance(expr, Or):
        return all(selects_evttype(i) for i in expr.items)
    return False


def passes(expr: Expr, events: list[dict]) -> np.ndarray | None:
    """Per event, whether the expanded ``expr`` holds (reference evaluator), or None when
    the reference cannot evaluate it (then only the static model orders it)."""
    try:
        fn = prepare(expr)
    except RuleoptError:
        return None
    return np.fromiter((bool(fn(ev)) for ev in events), dtype=bool, count=len(events))


def greedy_order(costs: list[float], truth: list[np.ndarray | None], conj: bool) -> list[int]:
    """Order of operands that minimises the expected short-circuit cost on the measured
    events: repeatedly take the operand with the lowest cost per event it decides among
    the events still undecided (for ``and`` the ones it rejects, for ``or`` the ones it
    accepts). Operands without figures keep their relative order after the measured
    ones that decide something, and before those that decide nothing."""
    n = len(costs)
    if not truth or any(t is None for t in truth):
        return list(range(n))
    live = np.ones(len(truth[0]), dtype=bool)
    left = list(range(n))
    out: list[int] = []
    while left:
        best, best_score = left[0], float("inf")
        alive = int(live.sum())
        for k in left:
            t = truth[k]
            decided = int((live & (~t if conj else t)).sum())
            # Decides nothing on the events left: last, cheapest first.
            score = (costs[k] * alive / decided) if decided else 1e12 + costs[k]
            if score < best_score:
                best, best_score = k, score
        out.append(best)
        left.remove(best)
        t = truth[best]
        live &= t if conj else ~t
    return out


def expected_cost(
    costs: list[float], truth: list[np.ndarray], conj: bool, order: list[int]
) -> float:
    """Mean cost per event of evaluating the operands in ``order`` with short-circuit."""
    if not truth:
        return 0.0
    live = np.ones(len(truth[0]), dtype=bool)
    total = 0.0
    for k in order:
        total += costs[k] * int(live.sum())
        live &= truth[k] if conj else ~truth[k]
    return total / max(1, len(truth[0]))
