"""Findings: one small validator per stable code, each with its measured saving.

A validator takes a rule's figures and the whole measurement and returns its findings
(``Finding``: code, message, saving in cycles per 1k events or None when no cycle figure
applies). Codes are stable so users can ``--select``/``--ignore`` them, in the manner of
Falco's load warnings and pySigma's validators:

- RO001 libsinsp refused the rule; RO002 libsinsp 2022 cannot judge it (fields it lacks)
- RO101 no event type: the rule runs on every event (or all but a few)
- RO102 the event-type test is not the first operand
- RO103 the operand that rejects most checks is evaluated last
- RO104 an ``or`` chain of ``=`` on one field that an ``in`` list would serve
- RO105 an expensive operand before a cheaper one that rejects more
- RO106 exceptions with many multi-field tuples: a linear ``or`` of ``and``s
- RO107 the rule can never match (contradictory condition)
- RO108 the rule is shadowed in Falco's first-match mode on these events

Savings come from the per-operand probes: an ``and`` of operands ``o_1..o_k`` costs
``sum_i c_i * n_i`` where ``c_i`` is operand i's measured cycles per check and ``n_i`` the
checks that reach it, counted exactly from the evt.nums each probe passed on (libsinsp's
own matches). A reordering's saving is the difference of that sum for the two orders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ruleopt.advise.measure import Measurement, Operand, RuleFigures
from ruleopt.advise.operands import top_operands
from ruleopt.rules.ast import And, Not, Or
from ruleopt.rules.evttypes import sees

# A reordering is worth a finding only if it saves at least this share of the rule's
# operand cycles: below it, the figure is within the noise of rdtsc on a shared machine.
MIN_SHARE = 0.05
MIN_EXCEPTION_TUPLES = 3


@dataclass(frozen=True)
class Finding:
    code: str
    rule: str
    message: str
    saving: float | None  # cycles per 1k events if applied (one pass), None: not a cycle fix

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "rule": self.rule,
            "message": self.message,
            "saving": None if self.saving is None else round(self.saving, 1),
        }


Validator = Callable[[RuleFigures, Measurement], list[Finding]]
VALIDATORS: dict[str, tuple[str, Validator]] = {}


def validator(code: str, title: str) -> Callable[[Validator], Validator]:
    def register(fn: Validator) -> Validator:
        VALIDATORS[code] = (title, fn)
        return fn

    return register


# ----------------------------------------------------------------- the order model


def measured(fig: RuleFigures) -> bool:
    return (
        fig.status == "ok"
        and bool(fig.operands)
        and fig.checks > 0
        and all(o.cycles is not None and o.matched is not None for o in fig.operands)
    )


def order_cost(fig: RuleFigures, order: Sequence[int], m: Measurement) -> float:
    """Cycles per pass the rule's top-level ``and`` costs with operands in ``order``."""
    reach: frozenset[int] | None = None  # None: every check reaches it
    checks = fig.checks // max(1, m.repeat)
    total = 0.0
    ops = fig.operands
    for i in order:
        n = checks if reach is None else len(reach)
        total += (ops[i].cycles or 0.0) * n
        matched = ops[i].matched or frozenset()
        reach = matched if reach is None else reach & matched
    return total


def _rank(op: Operand, alive: frozenset[int] | None) -> float:
    """Cycles per rejected check of ``op`` among the checks still ``alive``."""
    matched = op.matched or frozenset()
    if alive is None:
        n, kept = op.checks, len(matched)
    else:
        n, kept = len(alive), len(alive & matched)
    rejected = (n - kept) / n if n else 0.0
    return (op.cycles or 0.0) / rejected if rejected else float("inf")


def reach_of(fig: RuleFigures, m: Measurement, k: int) -> int | None:
    """Checks per pass that reach top-level operand ``k`` in the written order (None
    when the operands before it were not all measured)."""
    if k >= len(fig.operands):
        return None
    reach: frozenset[int] | None = None
    for op in fig.operands[:k]:
        if op.matched is None:
            return None
        reach = op.matched if reach is None else reach & op.matched
    return fig.checks // max(1, m.repeat) if reach is None else len(reach)


def best_order(fig: RuleFigures) -> list[int]:
    """Greedy order: next the operand with the least cycles per rejected check among the
    checks still alive (the classic rank for independent filters, made exact by using
    the measured joint pass sets)."""
    left = list(range(len(fig.operands)))
    alive: frozenset[int] | None = None
    order: list[int] = []
    while left:
        pick = min(left, key=lambda i, a=alive: (_rank(fig.operands[i], a), i))
        order.append(pick)
        left.remove(pick)
        m = fig.operands[pick].matched or frozenset()
        alive = m if alive is None else alive & m
    return order


def order_saving(fig: RuleFigures, m: Measurement, order: Sequence[int]) -> float:
    now = order_cost(fig, range(len(fig.operands)), m)
    return m.per_1k(max(0.0, now - order_cost(fig, order, m)))


def _worth(fig: RuleFigures, m: Measurement, saving: float) -> bool:
    now = m.per_1k(order_cost(fig, range(len(fig.operands)), m))
    return now > 0 and saving >= MIN_SHARE * now


def _short(op: Operand, width: int = 60) -> str:
    return op.text if len(op.text) <= width else op.text[: width - 3] + "..."


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


# ----------------------------------------------------------------- validators


@validator("RO001", "libsinsp refused the rule")
def rejected(fig: RuleFigures, m: Measurement) -> list[Finding]:
    if fig.status != "rejected":
        return []
    return [
        Finding("RO001", fig.rule.name, f"libsinsp 2022 refused the condition: {fig.error}", None)
    ]


@validator("RO002", "libsinsp 2022 cannot judge the rule")
def unsupported(fig: RuleFigures, m: Measurement) -> list[Finding]:
    if fig.status != "unsupported":
        return []
    return [Finding("RO002", fig.rule.name, f"not measured: {fig.error}", None)]


@validator("RO101", "no event type: runs on every event")
def no_evttype(fig: RuleFigures, m: Measurement) -> list[Finding]:
    s = fig.rule.evttypes
    if fig.status != "ok" or not (s.is_all or s.is_empty or s.complement):
        return []
    checks = fig.checks // max(1, m.repeat)
    share = checks / m.events if m.events else 0.0
    # What a guard naming only the types the rule matched on would save, on these events:
    # the checks on every other type it sees, at its mean unmatched cost.
    matched_types = {m.type_of.get(n) for n in fig.matched_evtnums}
    wasted = sum(c for t, c in m.event_types.items() if t not in matched_types and sees(s, t))
    saving = m.per_1k(wasted * fig.unmatched.mean) if m.event_types else None
    what = (
        "no event type at all"
        if s.is_all or s.is_empty
        else f"only excludes event types ({s.describe()})"
    )
    kinds = ", ".join(sorted(t for t in matched_types if t)) or "none here"
    return [
        Finding(
            "RO101",
            fig.rule.name,
            f"{what}: checked on {_pct(share)} of events (Falco warns only past 100 "
            f"types); it matched on types: {kinds}; add an evt.type test",
            saving,
        )
    ]


@validator("RO102", "the event-type test is not first")
def evttype_not_first(fig: RuleFigures, m: Measurement) -> list[Finding]:
    if fig.status != "ok" or not fig.operands or fig.operands[0].evttype:
        return []
    firsts = [o.index for o in fig.operands if o.evttype]
    if not firsts:
        return []
    k = firsts[0]
    order = [k] + [i for i in range(len(fig.operands)) if i != k]
    saving = order_saving(fig, m, order) if measured(fig) else None
    return [
        Finding(
            "RO102",
            fig.rule.name,
            f"the event-type test `{_short(fig.operands[k])}` is operand {k + 1} of "
            f"{len(fig.operands)}; put it first (libsinsp 2022's index already "
            f"filters by it, so the saving is the operands before it on checks it "
            f"rejects)",
            saving,
        )
    ]


@validator("RO103", "the most discriminating operand is evaluated last")
def decisive_last(fig: RuleFigures, m: Measurement) -> list[Finding]:
    if not measured(fig) or len(fig.operands) < 2:
        return []
    rates = [o.pass_rate if o.pass_rate is not None else 1.0 for o in fig.operands]
    last = len(rates) - 1
    if rates[last] >= min(rates[:last]) or rates[last] >= 1.0:
        return []
    order = [last] + list(range(last))
    saving = order_saving(fig, m, order)
    if not _worth(fig, m, saving):
        return []
    op = fig.operands[last]
    return [
        Finding(
            "RO103",
            fig.rule.name,
            f"the last operand `{_short(op)}` passes only {_pct(rates[last])} of "
            f"checks, the fewest; evaluated first it saves the operands before it",
            saving,
        )
    ]


@validator("RO104", "an or chain of = on one field: use in")
def or_chain(fig: RuleFigures, m: Measurement) -> list[Finding]:
    out = []
    for ch in fig.chains:
        if ch.cycles_or is None or ch.cycles_in is None:
            continue
        # The checks that reach the operand holding the chain (counted from the operands
        # before it), or every check of the rule when that is not known: an upper bound,
        # since inside the operand the chain may be short-circuited too.
        checks = reach_of(fig, m, ch.operand) if ch.operand is not None else None
        if checks is None:
            checks = fig.checks // max(1, m.repeat)
        saving = m.per_1k(max(0.0, ch.cycles_or - ch.cycles_in) * checks)
        text = ch.text if len(ch.text) <= 70 else ch.text[:67] + "..."
        out.append(
            Finding(
                "RO104",
                fig.rule.name,
                f"`{text}`: {ch.values} `=` on {ch.field}; as `{ch.field} in (...)` "
                f"measured {ch.cycles_in:,.0f} vs {ch.cycles_or:,.0f} cycles per "
                f"check (saving at most: every check reaching its operand)",
                saving,
            )
        )
    return out


@validator("RO105", "an expensive operand before a cheaper, more discriminating one")
def expensive_first(fig: RuleFigures, m: Measurement) -> list[Finding]:
    if not measured(fig):
        return []
    ops = fig.operands
    for i, op in enumerate(ops):
        if not op.expensive:
            continue
        for j in range(i + 1, len(ops)):
            later = ops[j]
            if (later.cycles or 0.0) < (op.cycles or 0.0) and (later.pass_rate or 0.0) < (
                op.pass_rate or 1.0
            ):
                order = list(range(len(ops)))
                order.remove(j)
                order.insert(i, j)
                saving = order_saving(fig, m, order)
                if _worth(fig, m, saving):
                    return [
                        Finding(
                            "RO105",
                            fig.rule.name,
                            f"operand {i + 1} `{_short(op)}` ({op.expensive}, "
                            f"{op.cycles:,.0f} cycles per check, passes {_pct(op.pass_rate)}) "
                            f"runs before operand {j + 1} `{_short(later)}` ({later.cycles:,.0f} "
                            f"cycles, passes {_pct(later.pass_rate)}); swap them",
                            saving,
                        )
                    ]
    return []


def _exception_tuples(fig: RuleFigures) -> int:
    """Alternatives of the largest ``not (A or B ...)`` operand made of ``and``s."""
    most = 0
    for op in top_operands(fig.rule.condition):
        if isinstance(op, Not) and isinstance(op.operand, Or):
            items = op.operand.items
            if all(isinstance(i, And) for i in items):
                most = max(most, len(items))
    return most


@validator("RO106", "exceptions with many multi-field tuples")
def exception_tuples(fig: RuleFigures, m: Measurement) -> list[Finding]:
    if fig.status != "ok" or len(fig.rule.exception_fields) < 2:
        return []
    tuples = _exception_tuples(fig)
    if tuples < MIN_EXCEPTION_TUPLES:
        return []
    saving = None
    if measured(fig):
        # The exception operands' own cycles: what a hashed tuple lookup would save at
        # most (it still costs one lookup).
        reach: frozenset[int] | None = None
        checks = fig.checks // max(1, m.repeat)
        total = 0.0
        for op, expr in zip(fig.operands, top_operands(fig.rule.condition), strict=True):
            n = checks if reach is None else len(reach)
            if isinstance(expr, Not) and isinstance(expr.operand, Or):
                total += (op.cycles or 0.0) * n
            reach = op.matched if reach is None else reach & (op.matched or frozenset())
        saving = m.per_1k(total)
    return [
        Finding(
            "RO106",
            fig.rule.name,
            f"exceptions on {len(fig.rule.exception_fields)} fields make a linear "
            f"`or` of {tuples} `and`s, walked on every check that reaches them "
            f"(saving at most: their measured cycles)",
            saving,
        )
    ]


@validator("RO107", "the rule can never match")
def never_matches(fig: RuleFigures, m: Measurement) -> list[Finding]:
    why = fig.never_reason
    if fig.status != "ok" or not why or fig.matches:
        return []
    return [
        Finding(
            "RO107",
            fig.rule.name,
            f"no event can match it ({why}); remove or fix it",
            m.per_1k(fig.total_cycles / max(1, m.repeat)),
        )
    ]


@validator("RO108", "shadowed in first-match mode")
def shadowed(fig: RuleFigures, m: Measurement) -> list[Finding]:
    if fig.status != "ok" or not fig.matched_evtnums or m.truncated:
        return []
    for other in m.rules:
        if other is fig:
            return []
        if other.status == "ok" and fig.matched_evtnums <= other.matched_evtnums:
            return [
                Finding(
                    "RO108",
                    fig.rule.name,
                    f"every one of its {len(fig.matched_evtnums):,} matches here is "
                    f"also matched by the earlier rule '{other.rule.name}': in Falco's "
                    f"first-match mode it never alerts on these events",
                    None,
                )
            ]
    return []


def run_validators(
    m: Measurement, select: set[str] | None = None, ignore: set[str] | None = None
) -> list[Finding]:
    """Every finding of the selected codes, ranked: largest saving first, then the ones
    without a cycle figure, by code."""
    out: list[Finding] = []
    for code, (_title, fn) in VALIDATORS.items():
        if (select and code not in select) or (ignore and code in ignore):
            continue
        for fig in m.rules:
            out.extend(fn(fig, m))
    return sorted(out, key=lambda f: (f.saving is None, -(f.saving or 0.0), f.code, f.rule))
