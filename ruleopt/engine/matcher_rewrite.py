"""Matcher ``rewrite``: each rule's condition rewritten by ruleopt's proven rewrites, then
run by the engine's own matcher (the replica's recursive evaluator; on libsinsp, its own
compiler and filter tree on the printed text, ``ruleopt.engine.real``).

The rewrites are ``ruleopt optimize``'s, applied to the expanded condition (what both
engines run), never a second copy of them (``ruleopt.rewrite.rules``, ``.cost``):

- the structural ones (``rules.STRUCTURAL``): nested ``and``/``or`` flattened, constants
  folded, repeated operands removed, an ``or`` of ``=``/``in`` on one single-valued field
  merged into one ``in`` (libsinsp 2022 hashes ``in``);
- every ``and``/``or``'s operands ordered by the cost model calibrated on libsinsp 2022
  (``cost.static_cost``) and the pass rates measured with the reference evaluator on the
  events the index sends the rule (``cost.order_tree``), each nested one on the events
  that reach it. An event-type test moves first exactly where that measurement says it
  decides most per cycle: elsewhere the index has already applied it (``optimize``
  measured forcing them first as slower on 0.26.2).

The order is the part learned from a workload: :func:`rewritten_rules` reads only the
table it is given (the training table, ``compare --train``). Equivalence: each rewrite
is an identity of libsinsp's side-effect-free Boolean checks (argued per function in
``ruleopt.rewrite.rules``; ``tests/test_matcher_rewrite.py`` checks the composition used
here against the reference evaluator); a rewrite that would change the rule's event-type
set (libsinsp 2022's index) is not taken, so both engines index the rule as before.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Sequence

import numpy as np

from ruleopt.events.table import EventTable
from ruleopt.rewrite import cost, rules
from ruleopt.rules.ast import Expr, print_expr
from ruleopt.rules.evttypes import evttypes_of
from ruleopt.rules.model import Rule

from .index import evttype_buckets

# Events per rule the operands are measured on (``optimize`` uses the same figure):
# pass rates to two digits, and the measuring stays seconds on 0.26.2.
SAMPLE = 4000


def rule_events(rules_: Sequence[Rule], table: EventTable, size: int = SAMPLE) -> list[list[dict]]:
    """Per rule (by position), the first ``size`` events of ``table`` its index gives it
    (each row decoded once, shared between rules)."""
    out: list[list[dict]] = [[] for _ in rules_]
    if table.n == 0 or not rules_:
        return out
    buckets = evttype_buckets(rules_, table)
    et = table.column("evt.type")
    cache: dict[int, dict] = {}
    for i in np.flatnonzero(et.present).tolist():
        for pos in buckets.get(int(et.values[i]), ()):
            if len(out[pos]) < size:
                if i not in cache:
                    cache[i] = table.event(i)
                out[pos].append(cache[i])
    return out


def rewrite_condition(expr: Expr, events: list[dict]) -> Expr:
    """``expr`` (expanded) with the structural rewrites, then ordered on ``events``; the
    original where the result would change its event-type set."""
    out = expr
    for _name, fn in rules.STRUCTURAL:
        out = fn(out)
    out = cost.order_tree(out, events)[0]
    return out if evttypes_of(out) == evttypes_of(expr) else expr


# Rewritten rules per training table and rules: compare asks once per engine.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def rewritten_rules(rules_: Sequence[Rule], train: EventTable) -> list[Rule]:
    """``rules_`` with conditions rewritten, the order measured on ``train`` only; a rule
    whose condition no rewrite changes is returned as it was."""
    key = tuple((r.id, r.condition) for r in rules_)
    memo = _CACHE.setdefault(train, {})
    if key not in memo:
        samples = rule_events(rules_, train)
        out = []
        for r, events in zip(rules_, samples, strict=True):
            new = rewrite_condition(r.condition, events)
            out.append(
                r
                if new == r.condition
                else dataclasses.replace(r, condition=new, condition_text=print_expr(new))
            )
        memo[key] = out
    return list(memo[key])


def changed_conditions(before: Sequence[Rule], after: Sequence[Rule]) -> dict[int, str]:
    """Rule id -> the rewritten condition's text, for the rules the rewrite changed."""
    return {
        b.id: print_expr(a.condition)
        for b, a in zip(before, after, strict=True)
        if a.condition != b.condition
    }
