"""Measurement ``overhead``: what a traced build adds to the untraced one, both run side by
side in one cell (rounds alternating untraced and traced passes, so drift hits both
alike), on the replica core (libsinsp's harness has no untraced twin here).

``build`` names the traced build: ``rule-traced`` (per-rule cycles), ``stack-traced``
(per-stage cycles) or ``sampled:N`` (the rules build timing one event in N). A sampled
cell also runs the full rules-traced build in the same rounds and reports
``max_rule_error``: the largest relative error of a rule's estimated check cycles (timed
mean x exact checks) against full tracing, over the rules with at least ``MIN_CHECKS``
checks. The full trace is another run, so the figure includes the run-to-run noise of
both: ``sampled:1`` measures that floor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ruleopt.engine.core import CoreResult, run_core
from ruleopt.experiment.cell import SAMPLED, CellContext
from ruleopt.experiment.measure_common import (
    MAX_INNER,
    cell_error,
    check_engine,
    first_match,
    median,
    param_int,
    progress,
    replica_setup,
    spread_of,
)

NAME = "overhead"
PARAMS = {"mode": "mode", "repeat_inner": "int"}
BUILDS = ("rule-traced", "stack-traced")
ALLOWED_BUILDS = ("rule-traced", "stack-traced", "sampled")
# Contract build names -> the core's variant names (ruleopt.engine.core.VARIANTS).
BUILD_VARIANTS = {"rule-traced": "rules", "stack-traced": "stacks"}
# Sampled tracing is the rules build with run_core(sample=N).
DEFAULT_ROUNDS = 5
MIN_CHECKS = 30  # below this a rule's cycles are a handful of checks: noise, not sampling


def supports(engine: str, strategy: str, build: str) -> str | None:
    if engine != "replica":
        return "overhead is measured on the replica's builds (libsinsp has no untraced twin)"
    return None


def variant_of(ctx: CellContext) -> tuple[str, dict[str, Any]]:
    """The core variant and its run options for the cell's build."""
    build = ctx.cell.build
    if build in BUILD_VARIANTS:
        return BUILD_VARIANTS[build], {}
    m = SAMPLED.match(build)
    if m:
        return "rules", {"sample": int(m.group(1))}
    raise cell_error(
        ctx,
        f"overhead needs a traced build, not {build!r}",
        hint="rule-traced, stack-traced or sampled:N",
    )


def rule_cycles(res: CoreResult, passes: int = 1) -> np.ndarray:
    """Per rule id, the cycles of all its checks: exact from a full trace; from a sampled
    one, each branch's timed mean times its exact number of checks."""
    tr = res.trace_rules
    assert tr is not None  # rules build
    if getattr(res, "sample", 1) == 1:
        return tr.sum.sum(axis=-1).astype(np.float64)
    n = min(len(res.checks), tr.count.shape[0])
    matched = res.matched[:n].astype(np.float64) * passes
    counts = np.stack([res.checks[:n] * passes - matched, matched], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(tr.count[:n] > 0, tr.sum[:n] / np.maximum(tr.count[:n], 1), 0.0)
    return (counts * means).sum(axis=-1)


def measure(ctx: CellContext) -> dict[str, Any]:
    check_engine(ctx, ("replica",), "libsinsp's harness has no untraced twin here")
    variant, options = variant_of(ctx)
    rounds = param_int(ctx, "repeat_inner", DEFAULT_ROUNDS, 1, MAX_INNER)
    fm = first_match(ctx)
    setup = replica_setup(ctx)
    p, table = setup.prepared, setup.table
    n = table.n
    sampled = bool(options)

    def run(v: str, **opts: Any) -> CoreResult:
        return run_core(p.compiled, table, v, first_match=fm, **opts)

    run("untraced")  # warm-up of each build: cold caches are not the steady cost
    run(variant, **options)
    untraced, traced, errors = [], [], []
    for i in range(rounds):
        untraced.append(float(run("untraced").cycles[0]) / n)
        res = run(variant, **options)
        traced.append(float(res.cycles[0]) / n)
        if sampled:
            ref = run("rules")
            full, est = rule_cycles(ref), rule_cycles(res)
            k = min(len(full), len(est), len(ref.checks))
            seen = (full[:k] > 0) & (ref.checks[:k] >= MIN_CHECKS)
            if seen.any():
                errors.append(
                    float(np.max(np.abs(est[:k][seen] - full[:k][seen]) / full[:k][seen]))
                )
        progress(ctx, (i + 1) / rounds)
    ratios = np.asarray(traced) / np.asarray(untraced) - 1
    mu, mt = median(untraced), median(traced)
    figures = {
        "untraced_cycles_per_event": mu,
        "traced_cycles_per_event": mt,
        "overhead": mt / mu - 1 if mu > 0 else 0.0,
        "events": float(n),
        "rounds": float(rounds),
    }
    spread = {
        "untraced_cycles_per_event": spread_of(untraced),
        "traced_cycles_per_event": spread_of(traced),
        "overhead": spread_of(ratios.tolist()),
    }
    if errors:
        figures["max_rule_error"] = median(errors)
        spread["max_rule_error"] = spread_of(errors)
    return {
        "figures": figures,
        "spread": spread,
        "series": {"untraced_cycles_per_event": untraced, "traced_cycles_per_event": traced},
    }
