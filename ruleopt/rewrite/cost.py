"""What orders operands: a static cost model of libsinsp 2022's checks, and pass rates
measured with the reference evaluator on given events.

The model's figures are libsinsp 2022's own, rounded: cycles per check of one operand
on open events of a generated 0.26.2 capture, in units of about 100 cycles
(``experiments/calibrate_costs.py`` prints them). What stands out: ``evt.arg.*`` formats
the parameter as text on every check (20x a plain field), ``proc.aname`` walks the
process tree, ``proc.pname`` and ``container.*`` look up another table, ``contains`` scans
the value. The figures only order operands; the harness measures the effect.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ruleopt.engine.reference import prepare
from ruleopt.errors import RuleoptError
from ruleopt.rules.ast import And, BoolConst, Compare, Expr, Field, Not, Or, Transform

_OP_COST = {
    "contains": 2.0,
    "icontains": 2.5,
    "startswith": 1.0,
    "endswith": 1.5,
    "glob": 3.0,
    "pmatch": 2.0,
    "in": 1.4,
    "intersects": 2.0,
}
_FIELD_COST = {
    "evt.type": 0.5,
    "evt.num": 0.3,
    "evt.dir": 0.3,
    "evt.is_open_write": 0.5,
    "evt.is_open_read": 0.5,
    "evt.rawres": 2.5,
    "evt.res": 2.5,
    "fd.num": 0.3,
    "fd.name": 1.0,
    "fd.typechar": 1.0,
    "fd.directory": 1.2,
    "fd.filename": 2.5,
    "fd.l4proto": 4.0,
    "fd.sip": 0.5,
    "fd.net": 0.5,
    "fd.port": 0.5,
    "fd.sport": 0.5,
    "proc.name": 1.0,
    "proc.args": 1.0,
    "proc.cmdline": 2.0,
    "proc.pcmdline": 2.0,
    "proc.pname": 6.0,
    "proc.aname": 13.0,
    "container.image.repository": 4.0,
    "container.id": 1.0,
    "user.name": 1.0,
}
# Every evt.arg.X / evt.arg[N] renders the parameter as text first.
_ARG_COST = 20.0


def compare_cost(cmp: Compare) -> float:
    operand = cmp.lhs
    while isinstance(operand, Transform):
        operand = operand.operand
    field_cost = 1.0
    if isinstance(operand, Field):
        name = operand.name
        if name == "evt.arg" or name.startswith("evt.arg."):
            field_cost = _ARG_COST
        elif name == "proc.aname" and operand.arg is not None:
            field_cost = 3.0  # one ancestor, reached by a short walk
        else:
            field_cost = _FIELD_COST.get(name, 1.0)
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


def passes(expr: Expr, events: list[dict]) -> np.ndarray | None:
    """Per event, whether the expanded ``expr`` holds (reference evaluator), or None when
    the reference cannot evaluate it (then that and/or keeps its order)."""
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


def _same(expr: Expr) -> Expr:
    return expr


def order_tree(
    expr: Expr, events: list[dict], expand: Callable[[Expr], Expr] = _same
) -> tuple[Expr, float, float]:
    """Every and/or of ``expr`` ordered by ``greedy_order`` on ``events`` (each nested
    one on the events that reach it in the chosen order), with the model's cost per
    event before and after. ``expand`` gives what an operand runs as (``optimize`` keeps
    macros in ``expr``; the engine's ``rewrite`` matcher passes expanded conditions)."""
    full = expand(expr)
    if not isinstance(expr, (And, Or)) or len(expr.items) < 2 or not events:
        c = static_cost(full)
        return expr, c, c
    items = list(expr.items)
    costs = [static_cost(expand(i)) for i in items]
    truth = [passes(expand(i), events) for i in items]
    if any(t is None for t in truth):
        c = static_cost(full)
        return expr, c, c
    conj = isinstance(expr, And)
    # Event-type tests get no special place: the index already sent the rule only events
    # of its types, where such a test is often always true and decides nothing.
    order = greedy_order(costs, truth, conj)
    before = expected_cost(costs, truth, conj, list(range(len(items))))
    after = expected_cost(costs, truth, conj, order)
    # A gain under 2% of the model's cost is noise in the figures: keep the author's order.
    if after >= 0.98 * before:
        order, after = list(range(len(items))), before
    # Each operand is then ordered on the events that reach it in the chosen order.
    live = np.ones(len(events), dtype=bool)
    new_items = []
    for k in order:
        reach = [ev for ev, on in zip(events, live.tolist(), strict=True) if on]
        sub, _b, _a = order_tree(items[k], reach, expand)
        new_items.append(sub)
        live &= truth[k] if conj else ~truth[k]
    out = type(expr)(tuple(new_items))
    return (expr if out == expr else out), before, after
