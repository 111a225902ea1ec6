"""Measurement ``advise``: what ``ruleopt advise`` finds in a ruleset on a workload, as
one cell: libsinsp 2022's instrumented harness runs the rules and one probe per
top-level operand over the capture, the replica runs the same events, and the validators
of ``ruleopt.advise.validators`` rank what to change by its measured saving.

The measurement is the advisor's own (``ruleopt.advise.measure`` and ``build_report``,
the code the command runs), so a cell's findings are what the command prints for the
same inputs. Repeats of the cell say how stable a finding is: one whose saving is near a
validator's threshold may come and go between runs, and the report says in how many of
the repeats each finding held.
"""

from __future__ import annotations

from typing import Any

from ruleopt.advise.run import advise_report, capture_for
from ruleopt.events.load import load_events
from ruleopt.experiment.cell import CellContext
from ruleopt.experiment.inputs import rules_of, workload_path
from ruleopt.experiment.measure_common import (
    cell_error,
    check_engine,
    param_int,
    progress,
)

NAME = "advise"
PARAMS = {"repeat_inner": "int"}
# The advisor reads the instrumented harness (rdtsc around each filter run): the
# rule-traced build of libsinsp is what it measures with.
BUILDS = ("rule-traced",)
ALLOWED_BUILDS = ("rule-traced",)
STRATEGY = "baseline"  # advice is about the rules as stock Falco runs them
DEFAULT_PASSES = 3  # as `ruleopt advise --repeat`
MAX_PASSES = 50  # each pass runs the rules and every probe over the whole capture
TOP_RULES = 15  # the rules the series keeps (the command's table shows as many)


def supports(engine: str, strategy: str, build: str) -> str | None:
    if engine != "libsinsp":
        return "advise measures on libsinsp 2022 (the replica's figures come alongside)"
    if strategy != STRATEGY:
        return f"advise judges the rules as stock Falco runs them (strategy {STRATEGY})"
    return None


def measure(ctx: CellContext) -> dict[str, Any]:
    check_engine(ctx, ("libsinsp",), "the advisor measures on the real engine")
    why = supports(ctx.cell.engine, ctx.cell.strategy, ctx.cell.build)
    if why:
        raise cell_error(ctx, why, hint=f"use strategy {STRATEGY} for advise cells")
    passes = param_int(ctx, "repeat_inner", DEFAULT_PASSES, 1, MAX_PASSES)
    rules = rules_of(ctx)
    path = workload_path(ctx)
    table = load_events(path, rules)
    if table.n == 0:
        raise cell_error(ctx, f"the workload {path} has no events", hint="use a non-empty one")
    progress(ctx, 0.1)
    # A table: libsinsp reads it as the generated capture of the same events.
    capture, note = capture_for(table, path, ctx.workdir)
    progress(ctx, 0.2)
    report = advise_report(
        rules, list(ctx.cell.ruleset), table, path, str(path), capture, note, repeat=passes
    )
    progress(ctx, 1.0)
    return result_of(report)


def result_of(report: dict[str, Any]) -> dict[str, Any]:
    """The cell's figures and series from an advise report (``build_report``'s dict)."""
    findings = [
        {
            "code": f["code"],
            "rule": f["rule"],
            "saving_cycles": f["saving"],  # per 1k events, one pass; None: not a cycle fix
            "message": f["message"],
        }
        for f in report["findings"]
    ]
    savings = [f["saving_cycles"] for f in findings if f["saving_cycles"] is not None]
    # Two findings of one rule may save the same cycles (no event type, and can never
    # match: both count the rule's checks), so a rule counts with its largest saving.
    per_rule: dict[str, float] = {}
    for f in findings:
        if f["saving_cycles"] is not None:
            per_rule[f["rule"]] = max(per_rule.get(f["rule"], 0.0), f["saving_cycles"])
    rules = [
        {
            "rule": r["name"],
            "status": r["status"],
            "share_of_cycles": r["share_of_cycles"],
            "cycles_per_1k": r["cycles_per_1k"],
            "checks_per_1k": r["checks_per_1k"],
            "cycles_per_matched": r["cycles_per_matched"],
            "cycles_per_unmatched": r["cycles_per_unmatched"],
        }
        for r in report["rules"][:TOP_RULES]
    ]
    measured = [r for r in report["rules"] if r["status"] == "ok"]
    total = float(report["total_rule_cycles_per_1k"] or 0.0)
    figures = {
        "findings": float(len(findings)),
        "findings_with_saving": float(len(savings)),
        "saving_cycles_per_1k": float(sum(per_rule.values())),
        "saving_share": float(sum(per_rule.values())) / total if total > 0 else 0.0,
        "total_rule_cycles_per_1k": total,
        "rules_measured": float(len(measured)),
        "top_rule_share": float(measured[0]["share_of_cycles"]) if measured else 0.0,
        "events": float(report["events"]["real_engine_events"]),
        "passes": float(report["events"]["repeat"]),
    }
    # One measurement of each figure per cell: the spread across runs is the repeats'.
    spread = {k: 0.0 for k in figures}
    return {"figures": figures, "spread": spread, "series": {"findings": findings, "rules": rules}}
