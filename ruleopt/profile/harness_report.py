"""The study's "offline report" for the real libsinsp: a harness run as a ``Profile``.

``ruleopt.events.sinsp.run_harness`` times two things around libsinsp 2022: every
``sinsp::next()`` and every compiled rule filter's ``run()``. So the profile has:

* stage ``next_event``, under the ``ALL`` branch key: the harness reads captures offline,
  so there is no SCAP_TIMEOUT, and next() is timed before the branch is known;
* per-rule check cycles, matched and unmatched.

Everything else (whole iterations, index lookup, the per-iteration rule_checks total,
output) the harness does not time: those stages are absent, not zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ruleopt.engine.sampling import CI_METHOD
from ruleopt.errors import RuleoptError
from ruleopt.profile.model import (
    ALL,
    Hist,
    Moments,
    Profile,
    RuleProfile,
    StageProfile,
    machine_info,
)

ENGINE = "libsinsp-2022"

NOTES = (
    "libsinsp 2022 harness: measured stages are next_event (every sinsp::next(), "
    "internal events included, branch not known: key ALL) and per-rule filter checks; "
    "iteration, index_lookup, rule_checks (per iteration) and output are not measured "
    "and are absent",
    "cycles are raw rdtsc differences including the rdtsc overhead (settings."
    "rdtsc_overhead cycles per measurement); a check's rdtscs are fenced (lfence on both "
    "sides), next()'s are not",
    "offline capture reading: no SCAP_TIMEOUT branch",
)

NOTE_SAMPLED = (
    "sampled tracing (--sample {n}): next() and the checks of 1 in {n} events on average "
    "were timed (each event independently); evaluations and matches count every check; "
    "each rule's estimate (rules[].estimate) is its exact count times the timed checks' "
    "mean, with a " + CI_METHOD + " interval"
)


def profile_from_harness(doc: Mapping[str, Any]) -> Profile:
    """Convert ``run_harness``'s JSON document. Rules libsinsp rejected (status
    ``error``) are left out and listed in ``settings["rejected_rules"]``."""
    try:
        rules = []
        rejected = []
        for r in doc["rules"]:
            if r.get("status") != "ok":
                rejected.append({"id": r["id"], "name": r["name"], "error": r.get("error")})
                continue
            matched = Hist.from_dict(r["cycles_matched"], f"rule {r['name']!r} matched")
            unmatched = Hist.from_dict(r["cycles_unmatched"], f"rule {r['name']!r} unmatched")
            mom = (r.get("cycles_unmatched_moments"), r.get("cycles_matched_moments"))
            rules.append(
                RuleProfile(
                    id=int(r["id"]),
                    name=str(r["name"]),
                    checks=int(r["evaluations"]),
                    # matches_all_passes agrees with the histograms; "matches" is pass 1 only.
                    matches=int(r.get("matches_all_passes", matched.count)),
                    unmatched=unmatched,
                    matched=matched,
                    evttypes=None if r.get("all_evttypes") else list(r.get("evttypes") or []),
                    moments=None if None in mom else Moments.of(mom[0], mom[1]),
                )
            )
        settings = {
            "capture": doc.get("capture"),
            "rdtsc_overhead": doc.get("rdtsc_overhead"),
            "events_total": doc.get("events_total"),
            "event_types": doc.get("event_types", []),
            "rejected_rules": rejected,
            "matched_evtnums_truncated": doc.get("matched_evtnums_truncated", False),
            "pass_cycles": doc.get("pass_cycles"),
            "sampling": {
                "sample": int(doc.get("sample", 1)),
                "seed": doc.get("seed"),
                "timed_events": doc.get("sampled_events"),
                "ci": CI_METHOD,
            },
        }
        notes = list(NOTES)
        if int(doc.get("sample", 1)) > 1:
            notes.append(NOTE_SAMPLED.format(n=int(doc["sample"])))
        nxt = Hist.from_dict(doc["next_cycles"], "next_cycles")
        tsc = doc.get("tsc_hz")
        return Profile(
            engine=ENGINE,
            rules=rules,
            stages={"next_event": StageProfile("next_event", {ALL: nxt})},
            events=int(doc["events"]),
            repeat=int(doc["repeat"]),
            tsc_hz=float(tsc) if tsc else None,
            settings=settings,
            machine=machine_info(),
            notes=notes,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RuleoptError(
            f"malformed harness document ({exc!r})",
            hint="it should come from ruleopt.events.sinsp.run_harness",
        ) from None
