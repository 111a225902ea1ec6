"""Measure every rule, and every top-level operand of it, on the same events.

Two harness runs of libsinsp 2022 on one capture: the rules as written, then the probe
rules of ``ruleopt.advise.operands`` (each operand behind its rule's event-type guard, the
guards alone, and for each ``or`` chain on one field the chain and its ``in`` form). The
replica (the rule-traced Cython core, every rule checked on every event its index gives
it, as the harness does) runs on the table of the same events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruleopt.advise.operands import (
    guard_of,
    guarded,
    names_evttype,
    or_chains,
    top_operands,
)
from ruleopt.engine.compile import compile_rules
from ruleopt.engine.verify import unsupported_reason
from ruleopt.errors import RuleoptError
from ruleopt.events.generator import rule_templates
from ruleopt.events.sinsp import MAX_RULES, run_harness
from ruleopt.events.table import EventTable
from ruleopt.events.unbreakable import is_never_match
from ruleopt.profile.core_report import profile_core
from ruleopt.profile.model import Hist
from ruleopt.rules.ast import Compare, Expr, Field, Value, ValueList, print_expr, walk
from ruleopt.rules.model import Rule, RuleSet

# Operand shapes that cost more than a plain comparison in libsinsp 2022: a substring or
# glob scan, a walk over every ancestor, a long list of prefixes.
LONG_PREFIX_LIST = 5


def expensive_reason(expr: Expr) -> str | None:
    """Why an operand is expensive by its shape (None: it is not)."""
    for node in walk(expr):
        if not isinstance(node, Compare):
            continue
        lhs = node.lhs
        name = lhs.name if isinstance(lhs, Field) else ""
        if name == "proc.cmdline" and node.op in ("contains", "icontains"):
            return "proc.cmdline contains"
        if name == "proc.aname" and isinstance(lhs, Field) and lhs.arg is None:
            return "proc.aname walks every ancestor"
        if node.op in ("glob", "iglob", "regex"):
            return node.op
        if node.op == "pmatch":
            return "pmatch"
        if (
            node.op in ("startswith", "endswith", "contains")
            and isinstance(node.rhs, ValueList)
            and len(node.rhs.items) >= LONG_PREFIX_LIST
        ):
            return f"{node.op} over {len(node.rhs.items)} values"
    ors = [n for n in walk(expr) if type(n).__name__ == "Or"]
    for o in ors:
        prefixes = [
            i
            for i in o.items
            if isinstance(i, Compare) and i.op == "startswith" and isinstance(i.rhs, Value)
        ]
        if len(prefixes) >= LONG_PREFIX_LIST:
            return f"or of {len(prefixes)} startswith"
    return None


@dataclass
class Operand:
    """One top-level operand, measured as ``GUARD and OPERAND`` on the rule's events."""

    index: int
    text: str
    evttype: bool
    expensive: str | None
    checks: int = 0  # probe checks per pass
    matches: int = 0  # probe matches per pass
    cycles: float | None = None  # mean cycles per check, the guard's taken off
    matched: frozenset[int] | None = None  # evt.nums it passed on (first pass)

    @property
    def pass_rate(self) -> float | None:
        return self.matches / self.checks if self.checks else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "operand": self.text,
            "names_evttype": self.evttype,
            "expensive": self.expensive,
            "checks": self.checks,
            "matches": self.matches,
            "pass_rate": self.pass_rate,
            "cycles_per_check": self.cycles,
        }


@dataclass
class Chain:
    """An ``or`` chain on one field, measured as written and as an ``in`` list."""

    text: str
    field: str
    values: int
    cycles_or: float | None = None
    cycles_in: float | None = None
    checks: int = 0
    operand: int | None = None  # the top-level operand that holds it


@dataclass
class RuleFigures:
    rule: Rule
    status: str  # "ok", "rejected" (libsinsp refused it), "unsupported" (2022 lacks it)
    error: str | None = None
    checks: int = 0  # all passes
    matches: int = 0  # all passes
    unmatched: Hist = field(default_factory=Hist)
    matched: Hist = field(default_factory=Hist)
    matched_evtnums: frozenset[int] = frozenset()
    operands: list[Operand] = field(default_factory=list)
    chains: list[Chain] = field(default_factory=list)
    guard_cycles: float | None = None
    replica: dict[str, Any] | None = None
    never_reason: str | None = None  # the solver's proof that nothing can match

    @property
    def total_cycles(self) -> int:
        return self.unmatched.sum + self.matched.sum


@dataclass
class Measurement:
    events: int  # events of the capture libsinsp read (one pass)
    repeat: int
    tsc_hz: float | None
    capture: str  # what the real engine ran on
    capture_note: str
    table_events: int  # rows the replica ran on
    rules: list[RuleFigures]
    truncated: bool
    event_types: dict[str, int]  # evt.type -> rows, from the table
    type_of: dict[int, str]  # evt.num -> evt.type, from the table

    @property
    def total_cycles(self) -> int:
        return sum(r.total_cycles for r in self.rules)

    def per_1k(self, cycles_per_pass: float) -> float:
        return 1000.0 * cycles_per_pass / self.events if self.events else 0.0


# A check that took this many times the median was interrupted (a preemption, a page
# fault, an interrupt on the shared machine), not slowed by its operand: such outliers
# are taken out of the per-operand figures, which compare small differences.
OUTLIER_FACTOR = 64


def robust_mean(r: dict[str, Any]) -> float | None:
    """Mean cycles per check of a harness rule record, interrupted checks left out.

    The histograms keep exact sums only in total, so the sum of the left-out buckets is
    estimated at their midpoints (1.5 x the bucket's lower bound); the result is bounded
    below by the lowest kept bucket."""
    h = Hist.from_dict(r["cycles_matched"]).merge(Hist.from_dict(r["cycles_unmatched"]))
    if not h.count:
        return None
    cut = max(1.0, h.percentile(50)) * OUTLIER_FACTOR
    dropped_n, dropped_sum = 0, 0.0
    for b, n in enumerate(h.buckets):
        lo, _hi = Hist.bucket_bounds(b)
        if n and lo >= cut:
            dropped_n += n
            dropped_sum += 1.5 * lo * n
    kept = h.count - dropped_n
    if kept <= 0 or not dropped_n:
        return h.mean
    floor = next(Hist.bucket_bounds(b)[0] for b, n in enumerate(h.buckets) if n)
    return max(float(floor), (h.sum - dropped_sum) / kept)


def _probe_rules(figs: Sequence[RuleFigures]) -> tuple[list[tuple[int, str, str]], dict]:
    """Probe rules for every measurable rule, and what each probe id stands for."""
    probes: list[tuple[int, str, str]] = []
    meaning: dict[int, tuple[RuleFigures, str, int]] = {}

    def add(fig: RuleFigures, kind: str, k: int, cond: Expr) -> None:
        pid = len(probes)
        probes.append((pid, f"{fig.rule.name} [{kind} {k}]", print_expr(cond)))
        meaning[pid] = (fig, kind, k)

    for fig in figs:
        if fig.status != "ok":
            continue
        guard = guard_of(fig.rule.evttypes)
        if guard is not None:
            add(fig, "guard", 0, guard)
        exprs = top_operands(fig.rule.condition)
        for op in fig.operands:
            add(fig, "operand", op.index, guarded(guard, exprs[op.index]))
        for k, chain in enumerate(or_chains(fig.rule.condition)):
            holder = next(
                (i for i, e in enumerate(exprs) if any(n is chain.expr for n in walk(e))), None
            )
            fig.chains.append(
                Chain(print_expr(chain.expr), chain.field.name, len(chain.values), operand=holder)
            )
            add(fig, "or", k, guarded(guard, chain.expr))
            add(fig, "in", k, guarded(guard, chain.as_in()))
    return probes, meaning


def measure(
    ruleset: RuleSet,
    capture: str | Path,
    table: EventTable,
    *,
    repeat: int = 1,
    capture_note: str = "",
    replica: bool = True,
) -> Measurement:
    """Run the rules and their probes through libsinsp on ``capture`` and the replica on
    ``table`` (the same events); rules libsinsp refuses or cannot judge are kept, with
    their status, never a crash."""
    figs: list[RuleFigures] = []
    for rule in ruleset.enabled_rules():
        if rule.source != "syscall":
            continue
        reason = unsupported_reason(rule)
        fig = RuleFigures(rule, "unsupported" if reason else "ok", reason)
        if not reason:
            fig.operands = [
                Operand(i, print_expr(op), names_evttype(op), expensive_reason(op))
                for i, op in enumerate(top_operands(rule.condition))
            ]
        figs.append(fig)
    ok = [f for f in figs if f.status == "ok"]
    if not ok:
        raise RuleoptError(
            "no enabled syscall rule that libsinsp 2022 can judge",
            file=ruleset.rules[0].file if ruleset.rules else None,
            hint="advise measures syscall rules; check the rules' source, fields and enabled flags",
        )
    doc = run_harness(
        capture, [(f.rule.id, f.rule.name, print_expr(f.rule.condition)) for f in ok], repeat
    )
    by_id = {f.rule.id: f for f in ok}
    truncated = bool(doc.get("matched_evtnums_truncated"))
    events = int(doc.get("events", 0))
    for r in doc.get("rules", []):
        fig = by_id[int(r["id"])]
        if r.get("status") != "ok":
            fig.status, fig.error, fig.operands = "rejected", str(r.get("error")), []
            continue
        fig.matched = Hist.from_dict(r["cycles_matched"], f"{fig.rule.name} matched")
        fig.unmatched = Hist.from_dict(r["cycles_unmatched"], f"{fig.rule.name} unmatched")
        fig.checks = int(r["evaluations"])
        fig.matches = fig.matched.count
        fig.matched_evtnums = frozenset(int(n) for n in r.get("matched_evtnums") or ())
    probes, meaning = _probe_rules(figs)
    probe_records: list[dict[str, Any]] = []
    # The harness takes at most MAX_RULES rules a run: big rulesets' probes go in batches,
    # each a full run over the same capture.
    for start in range(0, len(probes), MAX_RULES):
        pdoc = run_harness(capture, probes[start : start + MAX_RULES], repeat)
        truncated = truncated or bool(pdoc.get("matched_evtnums_truncated"))
        probe_records.extend(pdoc.get("rules", []))
    if probes:
        for r in probe_records:
            fig, kind, k = meaning[int(r["id"])]
            if r.get("status") != "ok":
                continue  # a probe libsinsp refuses leaves its figure unknown (None)
            mean = robust_mean(r)
            if kind == "guard":
                fig.guard_cycles = mean
            elif kind == "operand":
                op = fig.operands[k]
                op.checks = int(r["evaluations"]) // repeat
                op.matches = int(r.get("matches", 0))
                op.cycles = mean
                op.matched = frozenset(int(n) for n in r.get("matched_evtnums") or ())
            elif kind == "or":
                fig.chains[k].cycles_or = mean
                fig.chains[k].checks = int(r["evaluations"]) // repeat
            else:
                fig.chains[k].cycles_in = mean
        for fig in figs:
            g = fig.guard_cycles or 0.0
            for op in fig.operands:
                if op.cycles is not None:
                    op.cycles = max(0.0, op.cycles - g)
            for ch in fig.chains:
                ch.cycles_or = None if ch.cycles_or is None else max(0.0, ch.cycles_or - g)
                ch.cycles_in = None if ch.cycles_in is None else max(0.0, ch.cycles_in - g)
    if replica:
        _replica(ruleset, table, figs)
    _never(ruleset, figs, max(events, table.n))
    et = table.column("evt.type")
    # evt.type is single-valued and present on every row (the table's contract).
    types = [
        table.strings.get(int(i)) if p else ""
        for i, p in zip(et.values.tolist(), et.present.tolist(), strict=True)
    ]
    nums = [int(n) for n in table.evt_num.tolist()]
    counts: dict[str, int] = {}
    for t in types:
        counts[t] = counts.get(t, 0) + 1
    return Measurement(
        events=events,
        repeat=repeat,
        tsc_hz=float(doc["tsc_hz"]) if doc.get("tsc_hz") else None,
        capture=str(capture),
        capture_note=capture_note,
        table_events=table.n,
        rules=figs,
        truncated=truncated,
        event_types=counts,
        type_of=dict(zip(nums, types, strict=True)),
    )


def _replica(ruleset: RuleSet, table: EventTable, figs: list[RuleFigures]) -> None:
    """The replica's per-rule figures on the table: every rule checked on every event its
    index gives it (no first-match stop), like the harness."""
    if table.n == 0:
        return
    compiled = compile_rules(ruleset.rules, table)
    if compiled.n_rules == 0:
        return
    prof = profile_core(
        compiled, table, repeat=1, first_match=False, warmup=False, rules=ruleset.rules
    )
    total = sum(r.total_cycles for r in prof.rules) or 1
    by_id = {r.id: r for r in prof.rules}
    for fig in figs:
        rp = by_id.get(fig.rule.id)
        if rp is None:
            continue
        fig.replica = {
            "checks": rp.checks,
            "matches": rp.matches,
            "share_of_cycles": rp.total_cycles / total,
            "checks_per_1k": 1000.0 * rp.checks / table.n,
            "matches_per_1k": 1000.0 * rp.matches / table.n,
            "cycles_per_unmatched": rp.unmatched.mean if rp.unmatched.count else None,
            "cycles_per_matched": rp.matched.mean if rp.matched.count else None,
        }


# The solver's reasons that mean "no event can satisfy this", not "we could not build one".
def _never(ruleset: RuleSet, figs: list[RuleFigures], n: int) -> None:
    _templates, missing = rule_templates(ruleset, count=1, n=max(1, n))
    for fig in figs:
        why = missing.get(fig.rule.name)
        if is_never_match(why):
            fig.never_reason = why
