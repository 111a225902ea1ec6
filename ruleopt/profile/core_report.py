"""The replica core's profile: traced runs of the compiled core as one ``Profile``.

The study built Falco twice, once with rule tracing and once with stack tracing (two
mutually exclusive macros), because timing every rule check inside a timed stage would
inflate the stage figures. The core keeps that split (``ruleopt._ext.core_rules`` and
``core_stacks``), so one profile run measures several passes and merges them:

* per rule, unmatched and matched: cycle histograms from the rules-traced build;
* per stage (``ruleopt.profile.model.STAGES``) and branch (SCAP_TIMEOUT, RULES_UNBROKEN,
  RULES_BROKEN): cycle histograms from the stacks-traced build;
* the headline throughput from the untraced build, which is what Falco would run.

``profile_core`` runs the passes (interleaved build by build, so drift hits each alike)
and ``profile_from_core`` turns any set of ``CoreResult``s into the ``Profile``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ruleopt.engine.compile import CompiledRuleset
from ruleopt.engine.core import STAGES as CORE_STAGES
from ruleopt.engine.core import CoreResult, TraceCells, run_core
from ruleopt.engine.sampling import CI_METHOD
from ruleopt.errors import InternalError, RuleoptError
from ruleopt.events.table import EventTable
from ruleopt.profile.model import (
    BRANCHES,
    MOMENTS,
    NBUCKETS,
    STAGES,
    Hist,
    Moments,
    Profile,
    RuleProfile,
    StageProfile,
    machine_info,
)

ENGINE_PREFIX = "replica"
DEFAULT_VARIANT = "baseline"

# Stage and branch names both come from plugin/trace.h (through ruleopt._ext.abi); the
# model adds only the stack tree over the stages, which must name each stage once.
if set(CORE_STAGES) != set(STAGES):
    raise InternalError(
        "the profile model's stage tree does not name the core's stages",
        hint="edit STAGE_PARENT in ruleopt/profile/model.py",
    )

NOTES_BASE = (
    "replica core: one profile merges separate builds, as the study built Falco twice "
    "(rule tracing and stack tracing are mutually exclusive macros): per-rule cycles come "
    "from the rules-traced build, per-stage cycles from the stacks-traced build, and the "
    "headline events/s from the untraced build (settings.builds)",
    "cycles are raw rdtsc differences around each rule check (fenced: lfence on both "
    "sides) or stage, so each includes one rdtsc pair's overhead; "
    "settings.headline.untraced_cycles_per_check_bound is the "
    "untraced pass's cycles divided by its checks (an upper bound without tracing)",
    "rule checks and matches count every pass of the rules-traced build (events x repeat)",
)
NOTE_OFFLINE = (
    "every pass replays the events offline, as fast as possible: no "
    "SCAP_TIMEOUT branch (the ring never runs dry)"
)
NOTE_RATE = (
    "the stacks-traced passes replay the events at settings.rate events/s into a "
    "ring of settings.buffer slots: SCAP_TIMEOUT counts polls of an empty ring, "
    "RULES_* count the processed (not dropped) events; the rules-traced passes "
    "stay offline, so rule counts cover every event"
)

NOTE_SAMPLED = (
    "sampled tracing: the rules-traced passes timed the checks of 1 in {n} events on "
    "average (each event independently); checks and matches count every check; each "
    "rule's estimate (rules[].estimate) is its exact count times the timed checks' mean, "
    "with a " + CI_METHOD + " interval"
)


def hist_from_trace(count: int, total: int, trace_hist: Sequence[int]) -> Hist:
    """A model ``Hist`` from one trace cell (plugin/trace.h buckets by bit_length, as the
    model and the harness do), checked for consistency."""
    buckets = [int(x) for x in trace_hist]
    if len(buckets) != NBUCKETS:
        raise RuleoptError(f"trace histogram has {len(buckets)} buckets, expected {NBUCKETS}")
    h = Hist(int(count), int(total), buckets)
    if sum(buckets) != h.count:
        raise RuleoptError(
            f"trace cell is inconsistent: {sum(buckets)} bucketed values, count {h.count}"
        )
    return h


def _cell(trace: TraceCells, index: tuple[int, ...]) -> Hist:
    return hist_from_trace(int(trace.count[index]), int(trace.sum[index]), trace.hist[index])


def _passes(result: CoreResult) -> int:
    # One cycles entry per offline pass, one for a rate replay: the traces (which
    # accumulate across passes) cover this many passes; counters cover the last one.
    return len(result.cycles)


def _evttypes(rule: Any) -> list[str] | None:
    """The rule's event types as the harness reports them (None: every type)."""
    ets = getattr(rule, "evttypes", None)
    if ets is None or ets.complement:
        return None
    return sorted(ets.names)


def profile_from_core(
    result: CoreResult | Iterable[CoreResult],
    compiled: CompiledRuleset,
    table: EventTable,
    variant: str = DEFAULT_VARIANT,
    settings: dict[str, Any] | None = None,
    *,
    rules: Iterable[Any] | None = None,
    notes: Sequence[str] = (),
) -> Profile:
    """Merge core results (any builds, any number of passes) into one ``Profile``.

    Rule histograms and per-rule checks/matches come from the results of the rules-traced
    build (all passes summed); without one, checks/matches come from the other results'
    counters and the histograms stay empty. Stage histograms come from the stacks-traced
    results; without one, ``stages`` is empty (not measured is absent, never zero).
    ``variant`` names the engine configuration (``engine = "replica:<variant>"``);
    ``rules`` (the loaded Rule objects) adds each rule's event types.
    """
    results = [result] if isinstance(result, CoreResult) else list(result)
    if not results:
        raise RuleoptError("no core results to build a profile from")
    for r in results:
        if r.n_events != table.n:
            raise RuleoptError(
                f"a core result covers {r.n_events} events, the table has "
                f"{table.n}: results and table do not belong together"
            )
    traced_rules = [r for r in results if r.trace_rules is not None]
    traced_stages = [r for r in results if r.trace_stages is not None]
    counted = traced_rules or results[:1]
    by_id = {int(getattr(r, "id", -1)): r for r in (rules or ())}

    rule_profiles = []
    for pos, rid in enumerate(np.asarray(compiled.rule_ids).tolist()):
        rp = RuleProfile(
            id=int(rid),
            name=compiled.rule_names[pos],
            checks=0,
            matches=0,
            evttypes=_evttypes(by_id[rid]) if rid in by_id else None,
        )
        for r in counted:
            k = _passes(r)
            rp.checks += int(r.checks[rid]) * k
            rp.matches += int(r.matched[rid]) * k
        mom = np.zeros((2, MOMENTS))
        for r in traced_rules:
            assert r.trace_rules is not None  # for the type checker; filtered above
            rp.unmatched = rp.unmatched.merge(_cell(r.trace_rules, (rid, 0)))
            rp.matched = rp.matched.merge(_cell(r.trace_rules, (rid, 1)))
            if r.trace_rules_mom is not None:
                mom += r.trace_rules_mom[rid]
        if traced_rules and all(r.trace_rules_mom is not None for r in traced_rules):
            rp.moments = Moments.of(mom[0].tolist(), mom[1].tolist())
        rule_profiles.append(rp)

    stages: dict[str, StageProfile] = {}
    for s, stage in enumerate(CORE_STAGES):
        branches: dict[str, Hist] = {}
        for b, key in enumerate(BRANCHES):
            h = Hist()
            for r in traced_stages:
                assert r.trace_stages is not None
                h = h.merge(_cell(r.trace_stages, (s, b)))
            # A branch no iteration took stays out: "never happened" is not "0 cycles".
            if h.count:
                branches[key] = h
        if traced_stages:
            stages[stage] = StageProfile(stage, branches)

    repeat = sum(_passes(r) for r in counted)
    all_notes = list(NOTES_BASE)
    rate_stacks = any(r.sim_seconds > 0 or r.timeouts or r.drops for r in traced_stages)
    all_notes.append(NOTE_RATE if rate_stacks else NOTE_OFFLINE)
    sample = max((r.sample for r in traced_rules), default=1)
    if sample > 1:
        all_notes.append(NOTE_SAMPLED.format(n=sample))
    all_notes.extend(notes)
    return Profile(
        engine=f"{ENGINE_PREFIX}:{variant}",
        rules=rule_profiles,
        stages=stages,
        events=table.n,
        repeat=repeat,
        tsc_hz=results[0].tsc_hz or None,
        settings=dict(settings or {}),
        machine=machine_info(),
        notes=all_notes,
    )


# ------------------------------------------------------------------------ a profile run


def _spread(values: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {
        "median": float(np.median(a)),
        "min": float(a.min()),
        "max": float(a.max()),
        "std": float(a.std()),
    }


def profile_core(
    compiled: CompiledRuleset,
    table: EventTable,
    *,
    repeat: int = 3,
    rate: float | None = None,
    buffer: int = 8192,
    first_match: bool = True,
    warmup: bool = True,
    variant: str = DEFAULT_VARIANT,
    settings: dict[str, Any] | None = None,
    rules: Iterable[Any] | None = None,
    on_pass: Callable[[str], None] | None = None,
    sample: int = 1,
    seed: int | None = None,
) -> Profile:
    """Measure ``compiled`` on ``table`` with every build and return the merged profile.

    Each of ``repeat`` rounds runs, in this order, an untraced offline pass (headline
    events/s), a rules-traced offline pass (per-rule cycles) and a stacks-traced pass
    (per-stage cycles); with ``rate`` the stacks pass is a rate replay and an untraced
    rate replay is added, whose drops and SCAP_TIMEOUT polls are the headline (tracing
    would add cycles per iteration and so drops Falco would not have). Interleaving the
    builds round by round spreads frequency and cache drift over all of them. With
    ``warmup``, one unrecorded pass per build first (cold caches and page faults of the
    first pass are not the engine's steady cost). ``on_pass(label)`` is called after
    every pass, for a progress bar. The headline goes to ``settings["headline"]``.

    ``sample`` N > 1: the rules-traced passes time 1 in N events (sampled tracing), each
    pass with its own seed (from ``seed``, or fresh), so passes time different events;
    ``settings["sampling"]`` says so and each rule carries its estimate.
    """
    if repeat < 1:
        raise RuleoptError(f"repeat must be at least 1, not {repeat}")
    if table.n == 0:
        raise RuleoptError("no events to profile", hint="pass an event file with events")
    if rate is not None and not rate > 0:
        raise RuleoptError("rate must be a positive number of events per second")
    rules = list(rules) if rules is not None else None

    seeds = np.random.SeedSequence(seed)

    def run(variant_: str, with_rate: bool) -> CoreResult:
        rules_build = variant_ == "rules"
        return run_core(
            compiled,
            table,
            variant_,
            rate=rate if with_rate else None,
            buffer=buffer,
            first_match=first_match,
            sample=sample if rules_build else 1,
            # A seed per pass: a fixed one would time the same events on every pass.
            seed=int(seeds.spawn(1)[0].generate_state(1, np.uint64)[0]) if rules_build else 0,
        )

    plan: list[tuple[str, str, bool]] = [("untraced", "untraced", False)]
    if rate is not None:
        plan.append(("untraced@rate", "untraced", True))
    plan += [("rules", "rules", False), ("stacks", "stacks", rate is not None)]
    if warmup:
        for label, build, with_rate in plan:
            run(build, with_rate)
            if on_pass:
                on_pass(f"warm-up {label}")
    got: dict[str, list[CoreResult]] = {label: [] for label, _, _ in plan}
    for _ in range(repeat):
        for label, build, with_rate in plan:
            got[label].append(run(build, with_rate))
            if on_pass:
                on_pass(label)

    hz = got["untraced"][0].tsc_hz
    cycles = {label: [float(r.cycles[0]) for r in rs] for label, rs in got.items()}
    offline = {
        b: _spread(cycles[b])
        for b in ("untraced", "rules", "stacks")
        if not (b == "stacks" and rate is not None)
    }
    med_u = offline["untraced"]["median"]
    builds = {
        b: {
            "cycles_per_pass": cycles[b],
            **s,
            "overhead_vs_untraced": s["median"] / med_u - 1 if med_u else None,
        }
        for b, s in offline.items()
    }
    checks_per_pass = got["untraced"][0].rules_checked
    base = got["untraced"][0]
    profile = profile_from_core(
        got["rules"] + got["stacks"], compiled, table, variant, settings, rules=rules
    )
    matched, unmatched = profile.checks_hist(True), profile.checks_hist(False)
    eps = [table.n / (c / hz) for c in cycles["untraced"]] if hz else []
    headline: dict[str, Any] = {
        "events_per_second": table.n / (med_u / hz) if hz and med_u else None,
        "events_per_second_spread": _spread(eps) if eps else None,
        "cycles_per_event": med_u / table.n,
        "rule_checks_per_event": checks_per_pass / table.n,
        "matches_per_pass": len(base.match_evt),
        "cycles_per_check_matched": matched.mean if matched.count else None,
        "cycles_per_check_unmatched": unmatched.mean if unmatched.count else None,
        "untraced_cycles_per_check_bound": med_u / checks_per_pass if checks_per_pass else None,
    }
    rate_info: dict[str, Any] | None = None
    if rate is not None:
        ur = got["untraced@rate"]
        sr = got["stacks"]
        drops = [r.drops for r in ur]
        timeouts = [r.timeouts for r in ur]
        rate_info = {
            "rate": rate,
            "buffer": buffer,
            "replays": len(ur),
            "drops": int(np.median(drops)),
            "drops_per_replay": drops,
            "drop_share": float(np.median(drops)) / table.n,
            "scap_timeouts": int(np.median(timeouts)),
            "scap_timeouts_per_replay": timeouts,
            "processed": int(np.median([int(r.processed.sum()) for r in ur])),
            "sim_seconds": float(np.median([r.sim_seconds for r in ur])),
            "stacks_build_drops_per_replay": [r.drops for r in sr],
            "stacks_build_scap_timeouts_per_replay": [r.timeouts for r in sr],
        }
        headline.update(
            drops=rate_info["drops"],
            drop_share=rate_info["drop_share"],
            scap_timeouts=rate_info["scap_timeouts"],
        )
    profile.settings.update(
        {
            "first_match": first_match,
            "warmup": warmup,
            "repeat": repeat,
            "rate": rate,
            "buffer": buffer if rate is not None else None,
            "builds": builds,
            "sampling": {
                "sample": sample,
                "seed": seeds.entropy,
                "timed_events": sum(r.sampled_events for r in got["rules"]),
                "events": table.n * len(got["rules"]),
                "ci": CI_METHOD,
            },
            "rate_replay": rate_info,
            "headline": headline,
            "compiled": {
                "rules": compiled.n_rules,
                "nodes": int(len(compiled.nodes)),
                **{k: int(v) for k, v in compiled.stats.items()},
            },
        }
    )
    return profile
