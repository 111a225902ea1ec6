"""Each claim's verdict, computed from the figures against a stated threshold.

A verdict is per engine and per context (ruleset, workload, mode): ``held`` when the
measured figure passes the threshold, ``not held`` when it does not, ``not measured`` when
the cells it needs are missing. Nothing here is written by hand: the sentences are made
from the numbers, and the threshold is part of each sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ruleopt.engine.strategies import STRATEGIES
from ruleopt.experiment.study import STUDY_DROP, STUDY_MATCHED, STUDY_OUTPUT_FACTOR, STUDY_UNMATCHED
from ruleopt.report.figures import BASELINE, ENGINES, Context, Fig, Index, profile_rule, ratio

HELD, NOT_HELD, NOT_MEASURED = "held", "not held", "not measured"

# The thresholds, one place each (the README's "Reports" section states them too).
FASTER_MIN = 1.10  # proposal 1: a matcher ≥10% faster than baseline (cycles per event)
FINER_MIN = 5.0  # proposal 2: ≥5x fewer rules checked per event
CACHED_MIN = 2.0  # proposal 3: ≥2x fewer output cycles per alert
CHECK_GAP_MIN = 10.0  # the study's gap is 113x: an order of magnitude at least
# "output ≈2x the check": within a factor of 2 of the study's factor.
OUTPUT_RANGE = (STUDY_OUTPUT_FACTOR / 2, STUDY_OUTPUT_FACTOR * 2)
DROP_RANGE = (STUDY_DROP / 2, STUDY_DROP * 2)  # "near": within a factor of 2


@dataclass(frozen=True)
class Finding:
    engine: str
    context: str
    status: str
    value: str


@dataclass
class Verdict:
    claim: str
    threshold: str
    findings: list[Finding] = field(default_factory=list)

    def status(self, engine: str) -> str:
        got = {f.status for f in self.findings if f.engine == engine} - {NOT_MEASURED}
        if not got:
            return NOT_MEASURED
        return got.pop() if len(got) == 1 else "mixed"

    def engine_text(self, engine: str) -> str:
        fs = [f for f in self.findings if f.engine == engine and f.status != NOT_MEASURED]
        status = self.status(engine)
        if not fs:
            why = next((f.value for f in self.findings if f.engine == engine), "no cells")
            return f"{NOT_MEASURED} on {engine} ({why})"
        many = len({f.context for f in self.findings}) > 1
        vals = "; ".join(
            (f"{f.value} on {f.context}" if many else f.value)
            + (f", {f.status}" if status == "mixed" else "")
            for f in fs
        )
        return f"{status} on {engine} ({vals})"

    def summary(self, engine: str) -> str:
        """The engine's verdict in a few words: with many contexts, how many held (the
        page shows :meth:`engine_text` beside it, folded)."""
        fs = [f for f in self.findings if f.engine == engine and f.status != NOT_MEASURED]
        status = self.status(engine)
        if len(fs) < 2:
            return self.engine_text(engine)
        held = sum(f.status == HELD for f in fs)
        return f"{status} on {engine}: held in {held} of {len(fs)} contexts"

    def sentence(self) -> str:
        return f"{self.claim} ({self.threshold}): " + ", ".join(
            self.engine_text(e) for e in ENGINES
        )


Judge = Callable[[Index, Context, str], Finding | None]


def _verdict(idx: Index, claim: str, threshold: str, measurement: str, judge: Judge) -> Verdict:
    v = Verdict(claim, threshold)
    contexts = idx.contexts(measurement) or [None]
    for ctx in contexts:
        for e in ENGINES:
            got = judge(idx, ctx, e) if ctx is not None else None
            v.findings.append(
                got or Finding(e, ctx.label if ctx else "-", NOT_MEASURED, "no cells")
            )
    return v


def _status(ok: bool) -> str:
    return HELD if ok else NOT_HELD


def _x(f: Fig) -> str:
    return f"{f.median:.2f}x" + (f" ± {f.spread:.2f}" if f.spread else "")


def _equivalent(idx: Index, ctx: Context, engine: str, strategy: str) -> bool:
    eq = [
        c.figures["equivalent"]
        for c in idx.cells("speed", ctx, engine=engine, strategy=strategy)
        if "equivalent" in c.figures
    ]
    return bool(eq) and all(v == 1.0 for v in eq)


# ---------------------------------------------------------------- the proposals

MATCHERS = [
    s.name
    for s in STRATEGIES.values()
    if s.index == "evttype" and s.output == "lua" and s.matcher != "recursive"
]
FINER = [s.name for s in STRATEGIES.values() if s.index == "finer" and s.matcher == "recursive"]
CACHED = [s.name for s in STRATEGIES.values() if s.output == "cached" and s.index == "evttype"]


def _faster(idx: Index, ctx: Context, e: str) -> Finding | None:
    base = idx.fig("speed", "cycles_per_event", ctx, engine=e, strategy=BASELINE)
    best: tuple[Fig, str] | None = None
    for s in MATCHERS:
        r = ratio(base, idx.fig("speed", "cycles_per_event", ctx, engine=e, strategy=s))
        if r is not None and (best is None or r.median > best[0].median):
            best = (r, s)
    if best is None:
        return None
    r, s = best
    eq = _equivalent(idx, ctx, e, s)
    return Finding(
        e,
        ctx.label,
        _status(r.median >= FASTER_MIN and eq),
        f"{_x(r)} with {s}" + ("" if eq else ", alerts NOT equivalent"),
    )


def _fewer(measurement: str, figure: str, candidates: list[str], minimum: float) -> Judge:
    def judge(idx: Index, ctx: Context, e: str) -> Finding | None:
        base = idx.fig(measurement, figure, ctx, engine=e, strategy=BASELINE)
        for s in candidates:
            r = ratio(base, idx.fig(measurement, figure, ctx, engine=e, strategy=s))
            if r is not None:
                eq = _equivalent(idx, ctx, e, s)
                return Finding(
                    e,
                    ctx.label,
                    _status(r.median >= minimum and eq),
                    f"{_x(r)} with {s}" + ("" if eq else ", alerts NOT equivalent"),
                )
        return None

    return judge


# ---------------------------------------------------------------- the study's claims


def _check_gap(idx: Index, ctx: Context, e: str) -> Finding | None:
    if not idx.cells("profile", ctx, engine=e):
        return None
    rule, pattern = profile_rule(idx, ctx, e)
    un = idx.fig("profile", pattern.format("unmatched"), ctx, engine=e)
    ma = idx.fig("profile", pattern.format("matched"), ctx, engine=e)
    r = ratio(ma, un)
    if r is None or un is None or ma is None:
        return Finding(e, ctx.label, NOT_MEASURED, "no matched check")
    return Finding(
        e,
        ctx.label,
        _status(r.median >= CHECK_GAP_MIN),
        f"{rule}: {un.median:,.0f} vs {ma.median:,.0f} cycles, {r.median:.1f}x",
    )


def _output_vs_check(idx: Index, ctx: Context, e: str) -> Finding | None:
    out = idx.fig("speed", "output_cycles_per_alert", ctx, engine=e, strategy=BASELINE)
    check = idx.fig("profile", "matched_check_cycles_mean", ctx, engine=e, strategy=BASELINE)
    r = ratio(out, check)
    if r is None or out is None or check is None:
        return None
    lo, hi = OUTPUT_RANGE
    return Finding(
        e,
        ctx.label,
        _status(lo <= r.median <= hi),
        f"{out.median:,.0f} output cycles per alert vs {check.median:,.0f} per matched "
        f"check, {r.median:.1f}x",
    )


def _drops(idx: Index, ctx: Context, e: str) -> Finding | None:
    cells = idx.cells("rate", ctx, engine=e, strategy=BASELINE)
    if not cells:
        return None
    share = idx.fig("rate", "breaking_share", ctx, engine=e, strategy=BASELINE)
    ok_rate = idx.fig("rate", "first_drop_rate", ctx, engine=e, strategy=BASELINE)
    drop = idx.fig("rate", "lowest_dropping_rate", ctx, engine=e, strategy=BASELINE)
    if share is None or ok_rate is None:
        return None
    lo, hi = DROP_RANGE
    s = share.median
    if drop is None:
        top = max(max(c.series.get("rates") or [0.0]) for c in cells) * s
        if top < lo:
            return Finding(e, ctx.label, NOT_MEASURED, f"no drop up to {top:,.0f} breaking/s")
        return Finding(e, ctx.label, NOT_HELD, f"no drop up to {top:,.0f} breaking events/s")
    a, b = ok_rate.median * s, drop.median * s
    # The grid only brackets the onset: held when the bracket meets the "near 1M" range.
    return Finding(
        e,
        ctx.label,
        _status(b >= lo and a <= hi),
        f"first drops between {a:,.0f} and {b:,.0f} breaking events/s ({s:.1%} breaking)",
    )


def proposal_verdicts(idx: Index) -> dict[str, Verdict]:
    return {
        "faster": _verdict(
            idx,
            "Proposal 1, faster matching",
            f"a matcher ≥{FASTER_MIN:.2f}x faster than baseline in cycles per event, alerts "
            "equivalent",
            "speed",
            _faster,
        ),
        "finer": _verdict(
            idx,
            "Proposal 2, finer tagging",
            f"finer ≥{FINER_MIN:.0f}x fewer rules checked per event than baseline",
            "speed",
            _fewer("speed", "rules_checked_per_event", FINER, FINER_MIN),
        ),
        "cached": _verdict(
            idx,
            "Proposal 3, cached output",
            f"cached formatters ≥{CACHED_MIN:.0f}x fewer output cycles per alert than Lua",
            "speed",
            _fewer("speed", "output_cycles_per_alert", CACHED, CACHED_MIN),
        ),
    }


def study_verdicts(idx: Index) -> dict[str, Verdict]:
    return {
        "check_gap": _verdict(
            idx,
            f"~{STUDY_UNMATCHED:,.0f} vs ~{STUDY_MATCHED:,.0f} cycles per check",
            f"a matched check ≥{CHECK_GAP_MIN:.0f}x an unmatched one (p50; the study's "
            f"gap is {STUDY_MATCHED / STUDY_UNMATCHED:.0f}x)",
            "profile",
            _check_gap,
        ),
        "output": _verdict(
            idx,
            f"Output ≈{STUDY_OUTPUT_FACTOR:.0f}x the check",
            f"baseline's output cycles per alert {OUTPUT_RANGE[0]:.0f}x to "
            f"{OUTPUT_RANGE[1]:.0f}x the mean matched rule check",
            "speed",
            _output_vs_check,
        ),
        "drops": _verdict(
            idx,
            f"Drops near {STUDY_DROP / 1e6:.0f}M breaking events/s",
            f"baseline's first drops between {DROP_RANGE[0] / 1e6:.1f}M and "
            f"{DROP_RANGE[1] / 1e6:.0f}M breaking events/s",
            "rate",
            _drops,
        ),
    }
