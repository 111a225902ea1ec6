"""A strategy measured on the real engine (``ruleopt-sinsp engine``) as a ``Profile``.

The engine times every iteration per stage with rdtsc, as the harness does: ``next()``,
index lookup, rule checks, output and the whole iteration, each by branch RULES_UNBROKEN
/ RULES_BROKEN (``ruleopt.engine.real.RealResult.stages``, summed over the measured
passes). It does not time each rule's checks (the harness does, ``harness_report``), so
the profile has stages and no per-rule cells.
"""

from __future__ import annotations

from ruleopt.engine.real import RealResult
from ruleopt.errors import RuleoptError
from ruleopt.profile.model import Hist, Profile, StageProfile, machine_info

ENGINE_PREFIX = "libsinsp-2022"
# The engine's stage names (plugin/sinsp_engine.cpp) -> the model's (plugin/trace.h's).
STAGE_NAMES = {
    "next": "next_event",
    "index": "index_lookup",
    "rule_checks": "rule_checks",
    "output": "output",
    "iteration": "iteration",
}

NOTES = (
    "libsinsp 2022 engine command: every stage of every iteration timed with rdtsc "
    "(raw differences, each including one rdtsc pair's overhead), by branch "
    "RULES_UNBROKEN / RULES_BROKEN; no per-rule cells (the harness measures those)",
    "offline capture reading: no SCAP_TIMEOUT branch",
)


def profile_from_real(res: RealResult, *, mode: str, capture: str | None = None) -> Profile:
    """The stage x branch cells of one real-engine strategy, all measured passes."""
    stages = {}
    for name, by_branch in res.stages.items():
        if name not in STAGE_NAMES:
            raise RuleoptError(f"the real engine reported an unknown stage {name!r}")
        branches = {
            br.upper(): Hist.from_dict(cell, f"stage {name!r} {br}")
            for br, cell in by_branch.items()
            if cell["count"]
        }
        stages[STAGE_NAMES[name]] = StageProfile(STAGE_NAMES[name], branches)
    s = res.strategy
    return Profile(
        engine=f"{ENGINE_PREFIX}:{res.name}",
        stages=stages,
        events=res.n_events,
        repeat=len(res.passes),
        tsc_hz=res.tsc_hz or None,
        settings={
            "strategy": {"index": s.index, "matcher": s.matcher, "output": s.output},
            "mode": mode,
            "capture": capture,
            "output_per_alert": Hist.from_dict(res.output_per_alert, "output_per_alert").to_dict(),
        },
        machine=machine_info(),
        notes=list(NOTES),
    )
