"""The profile: what one measured run of a rule engine says about where its cycles go.

A plain dataclass model that round-trips through JSON (``to_dict``/``from_dict``), shared
by every producer (the replica engine's tracer, the real-libsinsp harness) and every
consumer (the JSON/.dot/.folded writers, the plots, ``compare``).

Shape, after the study (Falco's main loop, one event per iteration):

* ``StageProfile``: cycles a stage of the loop spent per iteration, split by the branch
  the iteration ended in (``SCAP_TIMEOUT``, ``RULES_UNBROKEN``, ``RULES_BROKEN``). A
  measurement that cannot tell branches apart files its histogram under ``ALL``.
* ``RuleProfile``: cycles per check of one rule, matched and unmatched apart (the
  study's "write below etc": ~300 cycles unmatched, ~34,000 matched).
* Stages a producer does not measure are absent from ``Profile.stages``, never zero.

Every histogram is a log2 histogram of 64 buckets (``Hist``), the format the harness
writes, so distributions merge across runs and repeats exactly.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ruleopt._ext import abi as _abi
from ruleopt.engine.sampling import Estimate, combine, estimate
from ruleopt.errors import RuleoptError

FORMAT = "ruleopt-profile/1"
# log2 cycle buckets, plugin/trace.h's (the core and the libsinsp harness record them).
NBUCKETS: int = _abi.HIST_BUCKETS
# Moments beside each rule cell (plugin/trace.h): sum of squares, outliers' sum and sum of
# squares; an outlier is a check of at least OUTLIER_CYCLES (descheduled, not evaluated),
# i.e. every value of the buckets from OUTLIER_BUCKET up.
MOMENTS: int = _abi.MOMENTS
OUTLIER_CYCLES: int = _abi.OUTLIER_CYCLES
OUTLIER_BUCKET: int = OUTLIER_CYCLES.bit_length()

# How an iteration of Falco's main loop ends (the study's three branches): trace.h's
# branches, in its order, named in the study's upper case.
BRANCHES: tuple[str, ...] = tuple(b.upper() for b in _abi.BRANCHES)
# The key for a stage measured without knowing the branch (e.g. the harness's next()).
ALL = "ALL"
BRANCH_KEYS: tuple[str, ...] = BRANCHES + (ALL,)

ROOT = "main"
# The stack structure, in one place for the .dot and .folded writers: each stage's parent
# (``None`` = child of the main loop root). ``output`` hangs off ``iteration``, not off
# ``rule_checks``: Falco calls falco_outputs::handle_event() after the ruleset's run()
# returns, and only in RULES_BROKEN iterations. Order is the order stages run in.
STAGE_PARENT: dict[str, str | None] = {
    "iteration": None,
    "next_event": "iteration",
    "index_lookup": "iteration",
    "rule_checks": "iteration",
    "output": "iteration",
}
STAGES: tuple[str, ...] = tuple(STAGE_PARENT)


def stage_path(stage: str) -> list[str]:
    """Stage names from the top of the loop down to ``stage`` (``iteration`` first)."""
    if stage not in STAGE_PARENT:
        raise RuleoptError(f"unknown stage {stage!r}", hint="one of: " + ", ".join(STAGES))
    path = [stage]
    while (parent := STAGE_PARENT[path[-1]]) is not None:
        path.append(parent)
    return path[::-1]


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RuleoptError(f"profile: {what} must be a non-negative integer, not {value!r}")
    return value


@dataclass
class Hist:
    """A log2 histogram of cycle counts: bucket ``b`` counts values ``2^(b-1) <= v < 2^b``
    (``b = 0`` counts ``v = 0``); values past the last bucket land in it. ``sum`` is the
    exact total, so ``mean`` is exact while percentiles are estimates."""

    count: int = 0
    sum: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * NBUCKETS)

    @staticmethod
    def bucket_of(value: int) -> int:
        return min(int(value).bit_length(), NBUCKETS - 1)

    @staticmethod
    def bucket_bounds(b: int) -> tuple[int, int]:
        """``[lo, hi)`` of bucket ``b``; bucket 0 is ``[0, 1)``."""
        return (0, 1) if b == 0 else (1 << (b - 1), 1 << b)

    def add(self, value: int, times: int = 1) -> None:
        value = _int(value, "a histogram value")
        self.count += times
        self.sum += value * times
        self.buckets[self.bucket_of(value)] += times

    @classmethod
    def of(cls, values: Iterable[int]) -> Hist:
        h = cls()
        for v in values:
            h.add(v)
        return h

    @property
    def mean(self) -> float:
        """Exact mean (0.0 when empty, so summaries never carry NaN into JSON)."""
        return self.sum / self.count if self.count else 0.0

    def percentile(self, p: float) -> float:
        """Estimated ``p``-th percentile (0..100), 0.0 when empty.

        The value of rank ``p/100 * count`` is found in its bucket and interpolated
        linearly across the bucket's range ``[2^(b-1), 2^b)`` by its position among the
        bucket's values (bucket 0 is exactly 0). The error is therefore under a factor of
        two, the resolution the histogram keeps.
        """
        if not 0 <= p <= 100:
            raise RuleoptError(f"percentile must be within 0..100, not {p!r}")
        if not self.count:
            return 0.0
        rank = p / 100 * self.count
        seen = 0
        for b, n in enumerate(self.buckets):
            if n and seen + n >= rank:
                lo, hi = self.bucket_bounds(b)
                if b == 0:
                    return 0.0
                return lo + (hi - lo) * max(0.0, rank - seen) / n
            seen += n
        # Unreachable when buckets sum to count (checked on load); keep a sane answer.
        return float(self.bucket_bounds(NBUCKETS - 1)[1])

    def merge(self, other: Hist) -> Hist:
        """A new histogram holding both (e.g. two runs, or matched + unmatched)."""
        return Hist(
            self.count + other.count,
            self.sum + other.sum,
            [a + b for a, b in zip(self.buckets, other.buckets, strict=True)],
        )

    def to_dict(self) -> dict[str, Any]:
        # The harness's own shape, so its histograms load unchanged.
        return {"count": self.count, "sum": self.sum, "hist": list(self.buckets)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], what: str = "histogram") -> Hist:
        try:
            count, total, buckets = d["count"], d["sum"], d["hist"]
        except (KeyError, TypeError):
            raise RuleoptError(f"profile: {what} needs count, sum and hist") from None
        if not isinstance(buckets, list) or len(buckets) != NBUCKETS:
            raise RuleoptError(f"profile: {what}: hist must be a list of {NBUCKETS} counts")
        buckets = [_int(n, f"{what} bucket") for n in buckets]
        h = cls(_int(count, f"{what} count"), _int(total, f"{what} sum"), buckets)
        if sum(buckets) != h.count:
            raise RuleoptError(
                f"profile: {what}: buckets hold {sum(buckets)} values but count is {h.count}"
            )
        return h


@dataclass(frozen=True)
class Moments:
    """A rule's cell moments per branch (plugin/trace.h's ``TRACE_MOMENTS``): the sum of
    squared cycles, and the outliers' sum and sum of squares."""

    unmatched: tuple[float, ...]
    matched: tuple[float, ...]

    @classmethod
    def of(cls, unmatched: Any, matched: Any, what: str = "rule") -> Moments:
        def branch(values: Any) -> tuple[float, ...]:
            try:
                v = tuple(float(x) for x in values)
            except (TypeError, ValueError):
                v = ()
            if len(v) != MOMENTS or not all(x >= 0 for x in v):
                raise RuleoptError(
                    f"profile: {what}: moments must be {MOMENTS} non-negative numbers per branch"
                )
            return v

        return cls(branch(unmatched), branch(matched))

    def to_dict(self) -> dict[str, list[float]]:
        return {"unmatched": list(self.unmatched), "matched": list(self.matched)}

    @classmethod
    def from_dict(cls, d: Any, name: str) -> Moments:
        if not isinstance(d, Mapping):
            raise RuleoptError(f"profile: rule {name!r}: moments must be an object")
        return cls.of(d.get("unmatched"), d.get("matched"), f"rule {name!r}")


@dataclass
class RuleProfile:
    """Cycles per check of one rule; ``checks`` counts every evaluation (all repeats)."""

    id: int
    name: str
    checks: int
    matches: int
    unmatched: Hist = field(default_factory=Hist)
    matched: Hist = field(default_factory=Hist)
    evttypes: list[str] | None = None
    # The cells' moments, when the producer records them: the intervals of (sampled)
    # estimates and the means without outliers (ruleopt.engine.sampling).
    moments: Moments | None = None

    @property
    def sampled(self) -> bool:
        """True when the histograms hold only some of the checks (sampled tracing)."""
        un, ma = self.unmatched.count, self.matched.count
        exact_un, exact_ma = self.checks - self.matches, self.matches
        # Fewer values than checks, never more (a producer whose counters and histograms
        # disagree the other way is not sampling: its sums stand as they are).
        return un <= exact_un and ma <= exact_ma and (un, ma) != (exact_un, exact_ma)

    def estimates(self, trim: bool = False) -> tuple[Estimate, Estimate, Estimate]:
        """(unmatched, matched, whole rule): the counts are exact, the cycles estimated
        from the timed checks (equal to the histograms' sums when every check was timed).
        ``trim``: without the outliers (checks of ``OUTLIER_CYCLES`` or more, i.e. the
        check was descheduled), which needs the moments; their population is the exact
        count less the outliers' timed share of it."""
        mom = self.moments
        parts = []
        for h, exact, m in (
            (self.unmatched, self.checks - self.matches, mom and mom.unmatched),
            (self.matched, self.matches, mom and mom.matched),
        ):
            if not m:
                parts.append(estimate(exact, h.count, h.sum, None))
            elif not trim:
                parts.append(estimate(exact, h.count, h.sum, m[0]))
            else:
                n_out = sum(h.buckets[OUTLIER_BUCKET:])
                kept = h.count - n_out
                pop = max(kept, exact - round(n_out * exact / h.count)) if h.count else exact
                parts.append(estimate(pop, kept, h.sum - m[1], max(0.0, m[0] - m[2])))
        return parts[0], parts[1], combine(parts)

    @property
    def outliers(self) -> int:
        """Timed checks of ``OUTLIER_CYCLES`` or more (descheduled or interrupted)."""
        return sum(self.unmatched.buckets[OUTLIER_BUCKET:]) + sum(
            self.matched.buckets[OUTLIER_BUCKET:]
        )

    @property
    def total_cycles(self) -> int:
        if not self.sampled:
            return self.matched.sum + self.unmatched.sum
        return round(self.estimates()[2].total)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "name": self.name,
            "checks": self.checks,
            "matches": self.matches,
            "unmatched": self.unmatched.to_dict(),
            "matched": self.matched.to_dict(),
            "evttypes": self.evttypes,
        }
        if self.moments is not None:
            un, ma, whole = self.estimates()
            out["moments"] = self.moments.to_dict()
            out["estimate"] = {
                "unmatched": un.to_dict(),
                "matched": ma.to_dict(),
                "rule": whole.to_dict(),
                "outliers": self.outliers,
                "rule_without_outliers": self.estimates(trim=True)[2].to_dict(),
            }
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RuleProfile:
        try:
            name = str(d["name"])
            return cls(
                id=_int(d["id"], "rule id"),
                name=name,
                checks=_int(d["checks"], f"rule {name!r} checks"),
                matches=_int(d["matches"], f"rule {name!r} matches"),
                unmatched=Hist.from_dict(d["unmatched"], f"rule {name!r} unmatched"),
                matched=Hist.from_dict(d["matched"], f"rule {name!r} matched"),
                evttypes=None if d.get("evttypes") is None else [str(e) for e in d["evttypes"]],
                moments=None if d.get("moments") is None else Moments.from_dict(d["moments"], name),
            )
        except (KeyError, TypeError) as exc:
            raise RuleoptError(f"profile: malformed rule entry ({exc})") from None


@dataclass
class StageProfile:
    """Cycles one stage took per iteration, per branch key (``BRANCH_KEYS``)."""

    name: str
    branches: dict[str, Hist] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in STAGE_PARENT:
            raise RuleoptError(
                f"profile: unknown stage {self.name!r}", hint="one of: " + ", ".join(STAGES)
            )
        for key in self.branches:
            if key not in BRANCH_KEYS:
                raise RuleoptError(
                    f"profile: stage {self.name!r}: unknown branch {key!r}",
                    hint="one of: " + ", ".join(BRANCH_KEYS),
                )

    @property
    def total(self) -> Hist:
        out = Hist()
        for h in self.branches.values():
            out = out.merge(h)
        return out

    def to_dict(self) -> dict[str, Any]:
        # Branches in canonical order so equal profiles serialise to equal bytes.
        return {
            "name": self.name,
            "branches": {k: self.branches[k].to_dict() for k in BRANCH_KEYS if k in self.branches},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StageProfile:
        try:
            name = str(d["name"])
            return cls(
                name,
                {
                    str(k): Hist.from_dict(v, f"stage {name!r} {k}")
                    for k, v in d["branches"].items()
                },
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise RuleoptError(f"profile: malformed stage entry ({exc})") from None


@dataclass
class Profile:
    """One measured run: per-rule and per-stage cycles plus how and where it was taken.

    ``engine`` is ``"replica:<variant>"`` or ``"libsinsp-2022"``. ``events`` counts the
    events of one pass; ``repeat`` passes were measured. ``notes`` say what the producer
    does not measure (absent stages) and how to read the numbers.
    """

    engine: str
    rules: list[RuleProfile] = field(default_factory=list)
    stages: dict[str, StageProfile] = field(default_factory=dict)
    events: int = 0
    repeat: int = 1
    tsc_hz: float | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    # ---- derived figures -------------------------------------------------------------

    def checks_hist(self, matched: bool) -> Hist:
        """All rules' checks together, matched or unmatched."""
        out = Hist()
        for r in self.rules:
            out = out.merge(r.matched if matched else r.unmatched)
        return out

    def cycles_per_check(self, matched: bool) -> float:
        return self.checks_hist(matched).mean

    def top_rules(self, n: int | None = None) -> list[RuleProfile]:
        """Rules by total check cycles, most expensive first (ties by id, for stability)."""
        ranked = sorted(self.rules, key=lambda r: (-r.total_cycles, r.id))
        return ranked if n is None else ranked[:n]

    def summary(self) -> dict[str, Any]:
        """The headline figures, JSON-ready."""
        nxt = self.stages.get("next_event")
        matched, unmatched = self.checks_hist(True), self.checks_hist(False)
        # None, not 0, when there was nothing to average: "no matched check" is not
        # "matched checks cost nothing".
        return {
            "engine": self.engine,
            "events": self.events,
            "repeat": self.repeat,
            "rules": len(self.rules),
            "checks": sum(r.checks for r in self.rules),
            "matches": sum(r.matches for r in self.rules),
            "cycles_per_check_matched": matched.mean if matched.count else None,
            "cycles_per_check_unmatched": unmatched.mean if unmatched.count else None,
            "cycles_per_next": nxt.total.mean if nxt and nxt.total.count else None,
            "total_check_cycles": sum(r.total_cycles for r in self.rules),
        }

    # ---- JSON ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "engine": self.engine,
            "events": self.events,
            "repeat": self.repeat,
            "tsc_hz": self.tsc_hz,
            "settings": self.settings,
            "machine": self.machine,
            "notes": list(self.notes),
            "stack": {"root": ROOT, "parent": dict(STAGE_PARENT)},
            "stages": [self.stages[s].to_dict() for s in STAGES if s in self.stages],
            "rules": [r.to_dict() for r in self.rules],
            "summary": self.summary(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Profile:
        if not isinstance(d, Mapping) or d.get("format") != FORMAT:
            raise RuleoptError(
                f"not a ruleopt profile (expected format {FORMAT!r})",
                hint="profile.json files are written by `ruleopt profile` and `ruleopt harness`",
            )
        try:
            stages = [StageProfile.from_dict(s) for s in d["stages"]]
            tsc = d.get("tsc_hz")
            return cls(
                engine=str(d["engine"]),
                rules=[RuleProfile.from_dict(r) for r in d["rules"]],
                stages={s.name: s for s in stages},
                events=_int(d["events"], "events"),
                repeat=_int(d["repeat"], "repeat"),
                tsc_hz=None if tsc is None else float(tsc),
                settings=dict(d.get("settings") or {}),
                machine=dict(d.get("machine") or {}),
                notes=[str(n) for n in d.get("notes") or []],
            )
        except (KeyError, TypeError) as exc:
            raise RuleoptError(f"profile: malformed document ({exc})") from None


def cpu_model(default: str | None = None) -> str | None:
    """The CPU's model name from /proc/cpuinfo (``default`` where there is none: not
    Linux); every figure's metadata names it, since cycles only compare on one kind."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return default


def machine_info() -> dict[str, Any]:
    """Where a profile was measured: cycles only compare on the same kind of CPU."""
    cpu = cpu_model(platform.processor() or platform.machine())
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
