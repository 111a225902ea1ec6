"""The differential check: our reference evaluator against libsinsp's own filters.

For every rule, the set of evt.num it matches under the reference evaluator (over the
table libsinsp extracted from the capture, through the same event-type index) must equal
the set libsinsp's compiled filter matches in the instrumented harness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ruleopt.engine.index import evttype_buckets
from ruleopt.engine.reference import prepare
from ruleopt.events import sinsp
from ruleopt.events.capture import table_from_capture
from ruleopt.events.load import needed_keys
from ruleopt.events.table import EventTable
from ruleopt.fields import resolve
from ruleopt.rules.ast import (
    ALL_OPS,
    Compare,
    Expr,
    FieldValue,
    Transform,
    fields_of,
    libsinsp2022_misread,
    print_expr,
    walk,
)
from ruleopt.rules.model import Rule, RuleSet


@dataclass
class RuleVerdict:
    rule: str
    status: str  # "same" | "differ" | "unsupported"
    ours: list[int] = field(default_factory=list)
    libsinsp: list[int] = field(default_factory=list)
    first_difference: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "ours": self.ours,
            "libsinsp": self.libsinsp,
            "status": self.status,
            "first_difference": self.first_difference,
            "reason": self.reason,
        }


def unsupported_reason(rule: Rule) -> str | None:
    """Why libsinsp 2022 cannot judge ``rule``, or None if it can."""
    if rule.source != "syscall":
        return f"source '{rule.source}' is not read from syscall captures"
    unknown = sorted(
        {resolve(f).key for f in fields_of(rule.condition) if not resolve(f).info.libsinsp2022}
    )
    if unknown:
        return "fields unknown to libsinsp 2022: " + ", ".join(unknown)
    ops, funcs = _syntax_of(rule.condition)
    missing = sorted(ops - LIBSINSP_2022_OPS)
    if missing:
        return "operators unknown to libsinsp 2022: " + ", ".join(missing)
    if funcs:
        return "libsinsp 2022 has no field transformers: " + ", ".join(sorted(funcs))
    # The condition text would mean something else there: judging it would be unfair.
    return libsinsp2022_misread(rule.condition)


# The comparison operators libsinsp 2022's filter parser knows (sinsp_filter_compiler::
# next_comparison_operator); regex, iglob, bcontains, bstartswith and the transformers
# (tolower(), len(), ...) came later.
LIBSINSP_2022_OPS = frozenset(ALL_OPS) - {"regex", "iglob", "bcontains", "bstartswith"}


def _syntax_of(expr: Expr) -> tuple[set[str], set[str]]:
    """The operators and the transformers a condition uses."""
    ops: set[str] = set()
    funcs: set[str] = set()
    for node in walk(expr):
        if isinstance(node, Compare):
            ops.add(node.op)
            operands = [node.lhs]
            if isinstance(node.rhs, FieldValue):
                operands.append(node.rhs.operand)
            for operand in operands:
                while isinstance(operand, Transform):
                    funcs.add(operand.func)
                    operand = operand.operand
    return ops, funcs


def reference_matches(rules: Sequence[Rule], table: EventTable) -> dict[int, list[int]]:
    """evt.nums each rule matches under the reference evaluator, through Falco's index."""
    buckets = evttype_buckets(rules, table)
    preds = [prepare(r.condition) for r in rules]
    et = table.column("evt.type")
    out: dict[int, list[int]] = {r.id: [] for r in rules}
    for i in range(table.n):
        positions = buckets.get(int(et.values[i]), ()) if et.present[i] else ()
        if not positions:
            continue
        event = table.event(i)
        num = int(table.evt_num[i])
        for pos in positions:
            if preds[pos](event):
                out[rules[pos].id].append(num)
    return out


def verify_capture(ruleset: RuleSet, capture: str | Path) -> list[RuleVerdict]:
    """Verdict per enabled rule of ``ruleset`` on ``capture``."""
    rules = ruleset.enabled_rules()
    verdicts: dict[int, RuleVerdict] = {}
    judged: list[Rule] = []
    for r in rules:
        reason = unsupported_reason(r)
        if reason:
            verdicts[r.id] = RuleVerdict(r.name, "unsupported", reason=reason)
        else:
            judged.append(r)
    table = table_from_capture(capture, needed_keys(judged))
    ours = reference_matches(judged, table)
    harness = sinsp.run_harness(capture, [(r.id, r.name, print_expr(r.condition)) for r in judged])
    theirs = {h["id"]: h for h in harness["rules"]}
    for r in judged:
        h = theirs[r.id]
        mine = sorted(ours[r.id])
        if h["status"] != "ok":
            verdicts[r.id] = RuleVerdict(
                r.name, "unsupported", ours=mine, reason=f"libsinsp 2022 rejects it: {h['error']}"
            )
            continue
        real = sorted(h["matched_evtnums"])
        diff = set(mine) ^ set(real)
        v = RuleVerdict(
            r.name,
            "differ" if diff else "same",
            ours=mine,
            libsinsp=real,
            first_difference=min(diff) if diff else None,
        )
        if h.get("runtime_errors"):
            v.reason = (
                f"libsinsp threw on {h['runtime_errors']} checks (first at evt.num "
                f"{h['first_error_evtnum']}: {h['runtime_error']}); counted as no match"
            )
        verdicts[r.id] = v
    return [verdicts[r.id] for r in rules]
