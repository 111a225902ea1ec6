"""How much the real engine sees on a generated capture: the verify-power figure.

Generate a 1%-breaking capture for a ruleset, run the differential check on it, and
count the enabled syscall rules whose match set is non-empty, out of those that can
match at all: rules no event can break (the generator names why) and rules libsinsp
2022 cannot compile (``verify`` reports them unsupported) are left out, by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ruleopt.engine.verify import verify_capture
from ruleopt.events.generator import GenerationReport, generate
from ruleopt.events.workload_scap import write_capture
from ruleopt.rules.loader import load_rules


@dataclass
class Power:
    ruleset: str
    seed: int
    events: int
    rules: list[str] = field(default_factory=list)  # enabled syscall rules
    never: dict[str, str] = field(default_factory=dict)  # can never match: why
    unsupported: dict[str, str] = field(default_factory=dict)  # libsinsp cannot judge
    matched: set[str] = field(default_factory=set)  # non-empty match set
    differ: list[str] = field(default_factory=list)

    @property
    def judged(self) -> list[str]:
        return [r for r in self.rules if r not in self.never and r not in self.unsupported]

    @property
    def empty(self) -> list[str]:
        return [r for r in self.judged if r not in self.matched]

    @property
    def share(self) -> float:
        return len([r for r in self.judged if r in self.matched]) / max(len(self.judged), 1)


def events_for(rules, per_rule: int = 100) -> int:
    """Events for a 1% capture in which every rule with a template breaks at least once:
    rules take turns over the breaking rows, one row per 100 events."""
    return per_rule * len(rules.enabled_rules())


def measure(
    ruleset: str | Path, seed: int, out: Path, n: int | None = None, share: float = 0.01
) -> Power:
    """Generate ``out`` (a .scap) for ``ruleset`` and verify it with libsinsp 2022."""
    rules = load_rules([ruleset])
    n = n or events_for(rules)
    rep = GenerationReport(n, seed, share)
    table = generate(rules, n, seed, share, report=rep, capture=True)
    write_capture(table, out)
    verdicts = verify_capture(rules, str(out))
    res = Power(Path(ruleset).name, seed, n, [r.name for r in rules.syscall_rules()])
    res.never = {k: v for k, v in rep.never_match.items() if k in res.rules}
    res.unsupported = {v.rule: v.reason or "" for v in verdicts if v.status == "unsupported"}
    res.matched = {v.rule for v in verdicts if v.status == "same" and v.libsinsp}
    res.differ = [v.rule for v in verdicts if v.status == "differ"]
    return res
