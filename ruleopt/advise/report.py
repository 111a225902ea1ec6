"""The advise report as plain data (``--json``, and what the terminal and HTML show)."""

from __future__ import annotations

from typing import Any

from ruleopt.advise.measure import Measurement, RuleFigures
from ruleopt.advise.validators import VALIDATORS, Finding, best_order, measured, order_saving

# Falco's loaders warn about a rule whose event types number more than this.
FALCO_WARN_TYPES = 100


def evttypes_note(fig: RuleFigures) -> str:
    """Whether the rule's event-type set looks like what its author meant."""
    s = fig.rule.evttypes
    if s.is_all:
        return "no event type: runs on every event"
    if s.is_empty:
        return (
            "empty set (contradictory evt.type tests or only generic syscalls): "
            "Falco's index runs it on every event"
        )
    if s.complement:
        return (
            f"all but {len(s.names)} type(s): an evt.type != / not in test only "
            "excludes, so it runs on nearly every event"
        )
    if len(s.names) > FALCO_WARN_TYPES:
        return f"{len(s.names)} types: Falco warns past {FALCO_WARN_TYPES}"
    return f"restricted to {len(s.names)} type(s), as written"


def _rule(fig: RuleFigures, m: Measurement, total: int, findings: list[Finding]) -> dict:
    passes = max(1, m.repeat)
    checks = fig.checks / passes
    s = fig.rule.evttypes
    return {
        "name": fig.rule.name,
        "file": fig.rule.file,
        "line": fig.rule.line,
        "status": fig.status,
        "error": fig.error,
        "evttypes": s.describe(),
        "runs_on_every_event": bool(s.is_all or s.is_empty),
        "evttypes_note": evttypes_note(fig),
        "checks": fig.checks,
        "matches": fig.matches,
        "share_of_cycles": fig.total_cycles / total if total else 0.0,
        "checks_per_1k": 1000.0 * checks / m.events if m.events else 0.0,
        "matches_per_1k": 1000.0 * fig.matches / passes / m.events if m.events else 0.0,
        "cycles_per_unmatched": fig.unmatched.mean if fig.unmatched.count else None,
        "cycles_per_matched": fig.matched.mean if fig.matched.count else None,
        "cycles_per_1k": m.per_1k(fig.total_cycles / passes),
        "operands": [o.to_dict() for o in fig.operands],
        # The measured best order of the top-level operands (1-based) and what it saves.
        "best_order": [i + 1 for i in best_order(fig)] if measured(fig) else None,
        "best_order_saving": order_saving(fig, m, best_order(fig)) if measured(fig) else None,
        "replica": fig.replica,
        "findings": [f.to_dict() for f in findings if f.rule == fig.rule.name],
    }


def build_report(
    m: Measurement, findings: list[Finding], rules_files: list[str], events_source: str
) -> dict[str, Any]:
    total = m.total_cycles
    rules = [_rule(f, m, total, findings) for f in m.rules]
    rules.sort(key=lambda r: -r["share_of_cycles"])
    return {
        "format": "ruleopt-advise/1",
        "rules_files": rules_files,
        "events": {
            "source": events_source,
            "real_engine": m.capture,
            "real_engine_note": m.capture_note,
            "real_engine_events": m.events,
            "replica_events": m.table_events,
            "repeat": m.repeat,
        },
        "tsc_hz": m.tsc_hz,
        "total_rule_cycles_per_1k": m.per_1k(total / max(1, m.repeat)),
        "matched_evtnums_truncated": m.truncated,
        "codes": {c: t for c, (t, _fn) in VALIDATORS.items()},
        "rules": rules,
        "findings": [f.to_dict() for f in findings],
    }
