"""Measurement ``profile``: per-rule cycles per check, matched and unmatched apart (the
study's latency distributions), from the rule-traced build of the replica core or from
the instrumented libsinsp harness (the stock engine: libsinsp's filters and Falco's
index).

Both engines' runs become one ``ruleopt.profile.model.Profile`` (through
``core_report.profile_from_core`` and ``harness_report.profile_from_harness``, the
converters ``ruleopt profile`` and ``ruleopt harness`` use), so the cell's figures mean
the same thing on either engine.
"""

from __future__ import annotations

from typing import Any

from ruleopt.engine.core import run_core
from ruleopt.engine.verify import unsupported_reason
from ruleopt.events.sinsp import run_harness
from ruleopt.experiment.cell import CellContext
from ruleopt.experiment.inputs import rules_of, workload_path
from ruleopt.experiment.measure_common import (
    MAX_INNER,
    cell_error,
    check_engine,
    first_match,
    param_int,
    progress,
    replica_setup,
)
from ruleopt.experiment.study import STUDY_RULE
from ruleopt.profile.core_report import profile_from_core
from ruleopt.profile.harness_report import profile_from_harness
from ruleopt.profile.model import Hist, Profile
from ruleopt.rules.ast import print_expr

NAME = "profile"
PARAMS = {"mode": "mode", "repeat_inner": "int"}
BUILDS = ("rule-traced",)
ALLOWED_BUILDS = ("rule-traced",)  # the harness and the rule-traced core are what it reads
HARNESS_STRATEGY = "baseline"  # the harness runs the stock engine only


def supports(engine: str, strategy: str, build: str) -> str | None:
    if engine == "libsinsp" and strategy != HARNESS_STRATEGY:
        return f"libsinsp's harness profiles the stock engine only (strategy {HARNESS_STRATEGY})"
    return None


def _cycles(h: Hist) -> dict[str, float]:
    return {"p50": h.percentile(50), "p90": h.percentile(90), "mean": h.mean}


def _hist(h: Hist) -> list[list[int]]:
    """Non-empty log2 buckets as [lo, hi, count] (cycles per check in [lo, hi))."""
    return [[*Hist.bucket_bounds(b), c] for b, c in enumerate(h.buckets) if c]


def result_of(profile: Profile) -> dict[str, Any]:
    """The cell's figures and series from a profile (either engine's)."""
    rules = [
        {
            "rule": r.name,
            "checks": r.checks,
            "matches": r.matches,
            "matched_cycles": _cycles(r.matched),
            "unmatched_cycles": _cycles(r.unmatched),
            "matched_hist": _hist(r.matched),
            "unmatched_hist": _hist(r.unmatched),
        }
        for r in profile.top_rules()
    ]
    matched, unmatched = profile.checks_hist(True), profile.checks_hist(False)
    figures: dict[str, float] = {
        "events": float(profile.events),
        "passes": float(profile.repeat),
        "checks": float(sum(r.checks for r in profile.rules)),
        "matches": float(sum(r.matches for r in profile.rules)),
        "unmatched_check_cycles_p50": unmatched.percentile(50),
        "unmatched_check_cycles_mean": unmatched.mean,
    }
    # No matched check is "not measured", not "0 cycles": the figure stays out.
    if matched.count:
        figures["matched_check_cycles_p50"] = matched.percentile(50)
        figures["matched_check_cycles_mean"] = matched.mean
    spread: dict[str, float] = {}
    for r in profile.rules:
        if r.name != STUDY_RULE:
            continue
        for kind, h in (("matched", r.matched), ("unmatched", r.unmatched)):
            if h.count:
                figures[f"write_below_etc_{kind}_p50"] = h.percentile(50)
                # The histogram keeps a factor of 2 of resolution: the p25-p75 half range.
                spread[f"write_below_etc_{kind}_p50"] = (h.percentile(75) - h.percentile(25)) / 2
    for kind, h in (("matched", matched), ("unmatched", unmatched)):
        if h.count:
            spread[f"{kind}_check_cycles_p50"] = (h.percentile(75) - h.percentile(25)) / 2
    return {"figures": figures, "spread": spread, "series": {"rules": rules}}


def _replica(ctx: CellContext, passes: int) -> Profile:
    setup = replica_setup(ctx)
    p = setup.prepared
    run_core(p.compiled, setup.table, "rules", first_match=first_match(ctx))  # warm-up
    progress(ctx, 0.2)
    res = run_core(p.compiled, setup.table, "rules", repeat=passes, first_match=first_match(ctx))
    rules = p.rules.values()
    return profile_from_core(res, p.compiled, setup.table, ctx.cell.strategy, rules=rules)


def _libsinsp(ctx: CellContext, passes: int) -> Profile:
    if ctx.cell.strategy != HARNESS_STRATEGY:
        raise cell_error(
            ctx,
            f"profile on libsinsp measures the stock engine only, not strategy "
            f"{ctx.cell.strategy!r}",
            hint=f"use strategy {HARNESS_STRATEGY} for libsinsp profile cells",
        )
    if ctx.cell.workload.get("kind") == "table" or ctx.cell.workload.get("format") == "npz":
        raise cell_error(
            ctx, "libsinsp reads captures only", hint="give a .scap capture or format scap"
        )
    path = workload_path(ctx)
    # The rules libsinsp 2022 can judge, as `ruleopt harness` picks them.
    judged = [r for r in rules_of(ctx).enabled_rules() if not unsupported_reason(r)]
    if not judged:
        raise cell_error(ctx, "no enabled rule that libsinsp 2022 can judge")
    progress(ctx, 0.2)
    doc = run_harness(path, [(r.id, r.name, print_expr(r.condition)) for r in judged], passes)
    return profile_from_harness(doc)


def measure(ctx: CellContext) -> dict[str, Any]:
    check_engine(ctx, ("replica", "libsinsp"), "")
    if ctx.cell.build not in ALLOWED_BUILDS:
        # The harness and the rule-traced core are what a profile is; other builds are
        # the overhead measurement's.
        raise cell_error(
            ctx,
            f"profile cells use the rule-traced build, not {ctx.cell.build!r}",
            hint="set build: rule-traced",
        )
    passes = param_int(ctx, "repeat_inner", 1, 1, MAX_INNER)
    profile = _replica(ctx, passes) if ctx.cell.engine == "replica" else _libsinsp(ctx, passes)
    progress(ctx, 1.0)
    return result_of(profile)
