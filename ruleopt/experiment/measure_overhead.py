"""Measurement ``overhead``: what a traced build adds to the untraced one, both run side by
side in one cell (rounds alternating untraced and traced passes, so drift hits both
alike), on the replica core (libsinsp has no untraced twin of the harness here).

``build`` names the traced build: ``rule-traced`` (per-rule cycles), ``stack-traced``
(per-stage cycles) or ``sampled:N`` when the core has a sampled build.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ruleopt.engine.core import VARIANTS, run_core
from ruleopt.experiment.cell import SAMPLED_PREFIX, CellContext
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
# Contract build names -> the core's variant names (ruleopt.engine.core.VARIANTS).
BUILD_VARIANTS = {"rule-traced": "rules", "stack-traced": "stacks"}
SAMPLED_VARIANT = "sampled"  # the sampled build's variant name, when the core has one


def variant_of(ctx: CellContext) -> tuple[str, dict[str, Any]]:
    """The core variant and its run options for the cell's build."""
    build = ctx.cell.build
    if build in BUILD_VARIANTS:
        return BUILD_VARIANTS[build], {}
    if build.startswith(SAMPLED_PREFIX):
        if SAMPLED_VARIANT not in VARIANTS:
            raise cell_error(
                ctx, "the sampled build is not in this tree yet", hint="use rule-traced"
            )
        n = build[len(SAMPLED_PREFIX) :]
        if not n.isdigit() or int(n) < 1:
            raise cell_error(ctx, f"build {build!r}: N must be a positive integer")
        return SAMPLED_VARIANT, {"sample_every": int(n)}
    raise cell_error(
        ctx,
        f"overhead needs a traced build, not {build!r}",
        hint="rule-traced, stack-traced or sampled:N",
    )


def measure(ctx: CellContext) -> dict[str, Any]:
    check_engine(ctx, ("replica",), "libsinsp's harness has no untraced twin here")
    variant, options = variant_of(ctx)
    rounds = param_int(ctx, "repeat_inner", 5, 1, MAX_INNER)
    fm = first_match(ctx)
    setup = replica_setup(ctx)
    p, table = setup.prepared, setup.table
    n = table.n

    def cpe(v: str, **opts: Any) -> float:
        return float(run_core(p.compiled, table, v, first_match=fm, **opts).cycles[0]) / n

    cpe("untraced")  # warm-up of each build: cold caches are not the steady cost
    cpe(variant, **options)
    untraced, traced = [], []
    for i in range(rounds):
        untraced.append(cpe("untraced"))
        traced.append(cpe(variant, **options))
        progress(ctx, (i + 1) / rounds)
    ratios = np.asarray(traced) / np.asarray(untraced) - 1
    mu, mt = median(untraced), median(traced)
    return {
        "figures": {
            "untraced_cycles_per_event": mu,
            "traced_cycles_per_event": mt,
            "overhead": mt / mu - 1 if mu > 0 else 0.0,
            "events": float(n),
            "rounds": float(rounds),
        },
        "spread": {
            "untraced_cycles_per_event": spread_of(untraced),
            "traced_cycles_per_event": spread_of(traced),
            "overhead": spread_of(ratios.tolist()),
        },
        "series": {"untraced_cycles_per_event": untraced, "traced_cycles_per_event": traced},
    }
