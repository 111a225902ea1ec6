"""Two rulesets on the same events, rule by rule, on both engines (``optimize``'s proof
on the given events, and what ``compare --against`` needs).

Rules are paired by name. For each, the evt.nums it matches in ruleset A and in B, under
the reference evaluator (through Falco's index, ``ruleopt.engine.verify``) and, on a
capture, under libsinsp 2022's own filters (the harness). Same alerts means both engines
give both files the same evt.nums for every rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ruleopt.engine.verify import reference_matches, unsupported_reason
from ruleopt.events import sinsp
from ruleopt.events.table import EventTable
from ruleopt.rules.ast import print_expr
from ruleopt.rules.model import Rule, RuleSet


@dataclass
class RuleDiff:
    rule: str
    status: str  # "same" | "differ" | "only_a" | "only_b"
    engine: str | None = None  # the engine that saw the difference first
    first_difference: int | None = None
    a_matches: int = 0
    b_matches: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _libsinsp_matches(rules: list[Rule], capture: Path | str) -> dict[str, list[int] | None]:
    judged = [r for r in rules if unsupported_reason(r) is None]
    out: dict[str, list[int] | None] = {r.name: None for r in rules}
    if not judged:
        return out
    doc = sinsp.run_harness(
        capture, [(k, r.name, print_expr(r.condition)) for k, r in enumerate(judged)]
    )
    for h in doc["rules"]:
        if h["status"] == "ok":
            out[judged[h["id"]].name] = sorted(h["matched_evtnums"])
    return out


def diff_rulesets(
    a: RuleSet, b: RuleSet, table: EventTable, capture: Path | str | None = None
) -> list[RuleDiff]:
    """Per rule name (A's order, then B's new names): same or different alerts.

    ``table`` holds the events (for a capture, what libsinsp extracted from it, with the
    fields both rulesets read); with ``capture`` libsinsp judges too."""
    ra, rb = list(a.enabled_rules()), list(b.enabled_rules())
    ref_a = {r.name: sorted(m) for r, m in zip(ra, _by_rule(ra, table), strict=True)}
    ref_b = {r.name: sorted(m) for r, m in zip(rb, _by_rule(rb, table), strict=True)}
    lib_a = _libsinsp_matches(ra, capture) if capture is not None else {}
    lib_b = _libsinsp_matches(rb, capture) if capture is not None else {}
    out: list[RuleDiff] = []
    names = [r.name for r in ra] + [r.name for r in rb if r.name not in ref_a]
    for name in dict.fromkeys(names):
        if name not in ref_b:
            # A rule only one side has: its first alert is where the two versions part.
            out.append(
                RuleDiff(
                    name, "only_a", "reference", _first(ref_a[name]), a_matches=len(ref_a[name])
                )
            )
            continue
        if name not in ref_a:
            out.append(
                RuleDiff(
                    name, "only_b", "reference", _first(ref_b[name]), b_matches=len(ref_b[name])
                )
            )
            continue
        d = RuleDiff(name, "same", a_matches=len(ref_a[name]), b_matches=len(ref_b[name]))
        for engine, ma, mb in (
            ("reference", ref_a[name], ref_b[name]),
            ("libsinsp", lib_a.get(name), lib_b.get(name)),
        ):
            if ma is None and mb is None:
                continue
            sym = set(ma or ()) ^ set(mb or ()) if (ma is not None and mb is not None) else None
            if sym is None or sym:
                d.status, d.engine = "differ", engine
                d.first_difference = min(sym) if sym else None
                break
        out.append(d)
    return out


def _by_rule(rules: list[Rule], table: EventTable) -> list[list[int]]:
    got = reference_matches(rules, table)
    return [got[r.id] for r in rules]


def _first(matches: list[int]) -> int | None:
    return matches[0] if matches else None
