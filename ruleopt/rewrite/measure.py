"""The measured effect of a rewrite: libsinsp 2022's cycles in rule checks, original and
optimized rules side by side in one harness run on the same capture.

Both rulesets' rules go to one ``ruleopt-sinsp run`` (ids ``0..n-1`` the original,
``n..2n-1`` the optimized), then a second run with the optimized first: every event is
checked against both, so the machine's state is the same for both and the ratio is
measured side by side. Cycles are
raw rdtsc per check (matched and unmatched), summed per rule over every pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ruleopt.engine.verify import unsupported_reason
from ruleopt.events.sinsp import run_harness
from ruleopt.rules.ast import print_expr
from ruleopt.rules.model import RuleSet


@dataclass
class Effect:
    capture: str
    events: int
    repeat: int
    before: dict[str, float] = field(default_factory=dict)  # rule -> cycles, all passes
    after: dict[str, float] = field(default_factory=dict)
    checks: dict[str, int] = field(default_factory=dict)

    def per_event(self, side: dict[str, float]) -> float:
        return sum(side.values()) / max(1, self.events * self.repeat)

    def ratio(self) -> float:
        a = self.per_event(self.after)
        return self.per_event(self.before) / a if a else float("inf")

    def summary(self) -> str:
        return (
            f"libsinsp 2022 rule checks on {Path(self.capture).name} ({self.events} events"
            f" x {self.repeat}): {self.per_event(self.before):.1f} -> "
            f"{self.per_event(self.after):.1f} cycles per event ({self.ratio():.2f}x)"
        )

    def per_rule_notes(self) -> dict[str, str]:
        out = {}
        for name, b in self.before.items():
            n = self.checks.get(name, 0)
            if n and name in self.after:
                out[name] = (
                    f"libsinsp 2022 on {Path(self.capture).name}: "
                    f"{b / n:.0f} -> {self.after[name] / n:.0f} cycles per check "
                    f"over {n} checks"
                )
        return out

    def to_dict(self) -> dict:
        return {
            "capture": self.capture,
            "events": self.events,
            "repeat": self.repeat,
            "cycles_per_event_before": self.per_event(self.before),
            "cycles_per_event_after": self.per_event(self.after),
            "ratio": self.ratio(),
            "rules": {
                k: {"before": v, "after": self.after.get(k), "checks": self.checks.get(k)}
                for k, v in self.before.items()
            },
        }


def measure_effect(
    original: RuleSet, optimized: RuleSet, capture: Path | str, repeat: int = 3
) -> Effect:
    """Cycles per rule, original and optimized, over two harness runs of ``repeat``
    passes: one with the original rules checked first on each event, one with the
    optimized first. The first rule checked on an event pays for what the next ones find
    cached (thread and fd lookups, cache lines): measured in one order only, that cost
    would land on one side."""
    a = [r for r in original.enabled_rules() if unsupported_reason(r) is None]
    names = {r.name for r in a}
    b = [r for r in optimized.enabled_rules() if r.name in names]
    eff: Effect | None = None
    for first, second in ((a, b), (b, a)):
        batch = [(k, r.name, print_expr(r.condition)) for k, r in enumerate(first)]
        batch += [(len(first) + k, r.name, print_expr(r.condition)) for k, r in enumerate(second)]
        doc = run_harness(capture, batch, repeat)
        if eff is None:
            eff = Effect(str(capture), int(doc["events"]), 0)
        eff.repeat += int(doc["repeat"])
        for h in doc["rules"]:
            if h["status"] != "ok":
                continue
            cycles = float(h["cycles_matched"]["sum"]) + float(h["cycles_unmatched"]["sum"])
            is_first = h["id"] < len(first)
            side = eff.before if is_first == (first is a) else eff.after
            side[h["name"]] = side.get(h["name"], 0.0) + cycles
            if is_first == (first is a):
                eff.checks[h["name"]] = eff.checks.get(h["name"], 0) + int(h["evaluations"])
    assert eff is not None
    return eff
