"""``ruleopt compare RULES_A... --against RULES_B... [EVENTS]``: two rulesets on one
event set, on the replica and on libsinsp 2022.

Three parts, all from the same events (a table input is written as a capture first, so
both engines read that capture's events):

- cost: cycles per event of rule evaluation under stock Falco's composition (the
  ``baseline`` strategy), for A and for B, on each engine, and the ratio A / B; A and B
  alternate round by round after one warm-up (noise hits both alike);
- per rule: checks, cycles per check and matches in A and in B (libsinsp: the harness,
  each rule as its own filter on every event of its types; replica: the rules-traced
  core build, ``ruleopt.profile``);
- the alert difference, rule by rule (``ruleopt.rewrite.diff``): rules paired by name,
  each judged on its own (every event of its types, not first-match) by the reference
  evaluator, by libsinsp's own filters on the capture and by the replica core;
  a rule *appears* (only in B), *vanishes* (only in A) or *differs* (another set of
  evt.nums, with the first evt.num where they part).

The exit status is 0 when no rule's alerts differ, 1 otherwise.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ruleopt.commands import compare_real as CR
from ruleopt.engine import real
from ruleopt.engine import strategies as S
from ruleopt.engine.core import tsc_hz
from ruleopt.errors import RuleoptError
from ruleopt.events import sinsp
from ruleopt.events.table import EventTable
from ruleopt.rules.ast import print_expr
from ruleopt.rules.model import Rule, RuleSet

BASELINE = "baseline"
# diff_rulesets' statuses, in the words of a rule author comparing two versions.
STATUS_WORDS = {"same": "same", "differ": "differ", "only_a": "vanish", "only_b": "appear"}


def check_against(against: list[str] | None) -> None:
    """``--against`` given with no file is one clear error (argparse would take none)."""
    if against is not None and not any(p.lower().endswith((".yaml", ".yml")) for p in against):
        raise RuleoptError(
            "--against names no rules file",
            # Located at what followed --against, if anything (names quoted: blanks show).
            file=repr(against[0]) if against else "--against",
            hint="give the rules files to compare with after --against, e.g. "
            "ruleopt compare a.yaml --against b.yaml events.scap",
        )


def _cost(values: np.ndarray) -> dict[str, Any]:
    return {
        "median": float(np.median(values)),
        "spread": CR.spread_of(values),
        "repeats": [float(v) for v in values],
    }


def _ratio(a: np.ndarray, b: np.ndarray) -> dict[str, float] | None:
    """A / B per round (the rounds alternate A and B), median and half-range: a busy
    machine's slow round moves both sides of its own ratio."""
    if not len(a) or not (b > 0).all():
        return None
    r = a / b
    return {"median": float(np.median(r)), "spread": CR.spread_of(r)}


def replica_costs(
    sides: list[list[Rule]], table: EventTable, repeat: int, mode: str
) -> list[np.ndarray]:
    """Cycles per event (core, stock composition) of each ruleset in ``sides``: one
    unrecorded warm-up round, then ``repeat`` rounds, each measuring every side once, so
    machine noise hits them alike."""
    prepared = []
    for rules in sides:
        compiled, kept = S.compile_for(rules, table)
        prepared.append(S.prepare(BASELINE, compiled, table, kept))
    caches: list[S.AlertInputs] = [{} for _ in sides]
    out: list[list[float]] = [[] for _ in sides]
    for r in range(repeat + 1):
        for k, p in enumerate(prepared):
            sample = S.measure_once(p, table, caches[k], first_match=mode == "first")
            if r:
                out[k].append(sample.cycles / max(table.n, 1))
    return [np.asarray(v) for v in out]


def libsinsp_costs(
    sides: list[list[Rule]], capture: str, repeat: int, mode: str
) -> list[np.ndarray]:
    """The same on libsinsp 2022 (``ruleopt-sinsp engine``): one run per side and round,
    alternating sides, the first round of each side after its own warm-up pass."""
    base = [S.get_strategy(BASELINE)]
    out: list[list[float]] = [[] for _ in sides]
    for r in range(repeat):
        for k, rules in enumerate(sides):
            run = real.run_engine(
                capture, rules, base, mode=mode, repeat=1, warmup=1 if r == 0 else 0
            )
            out[k] += [float(c) for c in run.results[0].cycles_per_event]
    return [np.asarray(v) for v in out]


def _replica_per_rule(rules: list[Rule], table: EventTable) -> dict[str, dict]:
    """Per rule name: checks, mean cycles per check, matches (rules-traced core, 1 pass)."""
    from ruleopt.profile.core_report import profile_core

    compiled, kept = S.compile_for(rules, table)
    if compiled.n_rules == 0:
        return {}
    # Every rule on every event of its types, as the harness does (not first-match).
    prof = profile_core(compiled, table, repeat=1, rules=kept, first_match=False)
    out = {}
    for r in prof.rules:
        cycles = r.matched.sum + r.unmatched.sum
        out[r.name] = {
            "checks": r.checks,
            "cycles_per_check": cycles / r.checks if r.checks else None,
            "matches": r.matches,
        }
    return out


def replica_matches(rules: list[Rule], table: EventTable) -> dict[str, list[int]]:
    """Per rule name, the evt.nums the replica core matches with every rule checked
    (``rule_matching: all``), so each rule is judged on its own, as by the harness."""
    from ruleopt.engine.core import run_core

    compiled, kept = S.compile_for(rules, table)
    out: dict[str, list[int]] = {r.name: [] for r in kept}
    if compiled.n_rules == 0:
        return out
    res = run_core(compiled, table, "untraced", repeat=1, first_match=False)
    name_of = {r.id: r.name for r in kept}
    evt_num = np.asarray(table.evt_num)
    for row, rid in zip(res.extra["match_row"].tolist(), res.match_rule.tolist(), strict=True):
        out[name_of[int(rid)]].append(int(evt_num[row]))
    return {k: sorted(v) for k, v in out.items()}


def _replica_verdict(row: dict, a: list[int] | None, b: list[int] | None) -> None:
    """Fold the replica's judgement of one rule into its row (status, engine, evt.num)."""
    if a is None or b is None:
        return  # a rule only one side has: already "appear" or "vanish"
    sym = set(a) ^ set(b)
    if sym and row["status"] == "same":
        row.update(status="differ", engine="replica", first_difference=min(sym))


def _libsinsp_per_rule(rules: list[Rule], capture: str) -> dict[str, dict]:
    """Per rule name: checks, mean cycles per check, matches (the harness, 1 pass)."""
    if not rules:
        return {}
    doc = sinsp.run_harness(
        capture, [(k, r.name, print_expr(r.condition)) for k, r in enumerate(rules)]
    )
    out = {}
    for h in doc["rules"]:
        if h.get("status") != "ok":
            continue
        m, u = h["cycles_matched"], h["cycles_unmatched"]
        checks = int(h["evaluations"])
        cycles = m["sum"] + u["sum"]
        out[h["name"]] = {
            "checks": checks,
            "cycles_per_check": cycles / checks if checks else None,
            "matches": int(h["matches"]),
        }
    return out


def _per_rule_rows(names: list[str], a: dict[str, dict], b: dict[str, dict]) -> list[dict]:
    return [{"rule": n, "a": a.get(n), "b": b.get(n)} for n in names if n in a or n in b]


def compare_against(
    files_a: list[str],
    files_b: list[str],
    events: str | None,
    repeat: int,
    *,
    engine: str = "both",
    mode: str = "first",
    workdir: str | None = None,
) -> dict:
    """The report of A against B (``--json``); ``doc["alert_differences"]`` counts the rules
    whose alerts differ (appear, vanish or differ)."""
    from ruleopt.events.load import load_events
    from ruleopt.rewrite.diff import diff_rulesets
    from ruleopt.rules.loader import load_rules

    if repeat < 1:
        raise RuleoptError("--repeat must be at least 1")
    engines = CR.engines_of(engine)
    set_a, set_b = load_rules(files_a), load_rules(files_b)
    both = merged(set_a, set_b)  # the table holds every field either reads
    rules = {
        "a": S.syscall_rules(set_a.enabled_rules()),
        "b": S.syscall_rules(set_b.enabled_rules()),
    }
    skipped: list[dict] = []
    capture_note = None
    with tempfile.TemporaryDirectory(prefix="ruleopt-against-", dir=workdir) as tmp:
        capture: str | None = None
        if "libsinsp" in engines:
            real.tool()  # a clear error now, not after the replica's work
            for side in ("a", "b"):
                # Cost is measured on the rules libsinsp 2022 can judge, on both engines.
                rules[side], not_real = real.engine_rules(rules[side])
                skipped += [{**s, "ruleset": side.upper()} for s in not_real]
            if events is not None and Path(events).suffix.lower() == ".scap":
                capture = events
            else:
                from ruleopt.events.workload_scap import write_capture

                capture = str(Path(tmp) / "events.scap")
                write_capture(load_events(events, both), capture)
                capture_note = (
                    f"the libsinsp engine needs a capture: "
                    f"{events or 'the default workload'} was written as one and "
                    "both engines read it"
                )
        table = load_events(capture or events, both)
        for side, rs in rules.items():
            if not rs:
                raise RuleoptError(
                    f"ruleset {side.upper()} has no enabled syscall rule to measure"
                    + (" that libsinsp 2022 can judge" if "libsinsp" in engines else ""),
                    file=(files_a if side == "a" else files_b)[0],
                    hint="--engine replica measures rules libsinsp 2022 cannot judge",
                )
        per_engine: dict[str, dict] = {}
        names = list(dict.fromkeys([r.name for r in rules["a"]] + [r.name for r in rules["b"]]))
        sides = [rules["a"], rules["b"]]
        for eng in engines:
            if eng == "replica":
                cpe = replica_costs(sides, table, repeat, mode)
                per_rule = [_replica_per_rule(rs, table) for rs in sides]
            else:
                cpe = libsinsp_costs(sides, capture, repeat, mode)
                per_rule = [_libsinsp_per_rule(rs, capture) for rs in sides]
            ca, cb = _cost(cpe[0]), _cost(cpe[1])
            per_engine[eng] = {
                "cycles_per_event": {"a": ca, "b": cb, "ratio_a_over_b": _ratio(cpe[0], cpe[1])},
                "noisy": [
                    side for side, c in (("A", ca), ("B", cb)) if CR.noisy(c["median"], c["spread"])
                ],
                "per_rule": _per_rule_rows(names, per_rule[0], per_rule[1]),
            }
        diffs = diff_rulesets(_only(set_a, rules["a"]), _only(set_b, rules["b"]), table, capture)
        rep = (
            {side: replica_matches(rules[side], table) for side in ("a", "b")}
            if "replica" in engines
            else None
        )
    rows = []
    for d in diffs:
        row = d.to_dict()
        row["status"] = STATUS_WORDS[d.status]
        judged = ["reference"] + (["libsinsp"] if capture else [])
        if rep is not None:
            judged.append("replica")
            _replica_verdict(row, rep["a"].get(d.rule), rep["b"].get(d.rule))
        row["engines_judged"] = judged
        rows.append(row)
    differing = [r for r in rows if r["status"] != "same"]
    return {
        "rules_a": files_a,
        "rules_b": files_b,
        "events": events or "default workload",
        "capture": capture_note,
        "engines": list(engines),
        "mode": mode,
        "strategy": BASELINE,
        "n_events": table.n,
        "repeats": repeat,
        "warmup": 1,
        "engines_cost": per_engine,
        "rules": rows,
        "alert_differences": len(differing),
        "differences": differing,
        "skipped_rules": skipped,
        "machine": CR.machine(),
        "tsc_hz": tsc_hz(),
    }


def merged(a: RuleSet, b: RuleSet) -> RuleSet:
    """One ruleset of A's rules then B's, renumbered (ids are positions), for the events:
    the fields either reads, and a default workload that breaks the rules of both."""
    import dataclasses

    n = len(a.rules)
    rules = tuple(a.rules) + tuple(dataclasses.replace(r, id=n + k) for k, r in enumerate(b.rules))
    return dataclasses.replace(
        a, rules=rules, macros={**b.macros, **a.macros}, lists={**b.lists, **a.lists}
    )


def _only(ruleset: RuleSet, keep: list[Rule]) -> RuleSet:
    """``ruleset`` with only ``keep`` enabled: both engines judge the same rules."""
    import dataclasses

    ids = {r.id for r in keep}
    return dataclasses.replace(
        ruleset,
        rules=tuple(
            r if r.id in ids else dataclasses.replace(r, enabled=False) for r in ruleset.rules
        ),
    )


def _fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def print_report(doc: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    from ruleopt.console import console as new_console
    from ruleopt.console import styled

    # Piped output is not cut to 80 columns: the per-rule table needs its figures whole.
    console = new_console(width=None if sys.stdout.isatty() else 150)
    a, b = ", ".join(doc["rules_a"]), ", ".join(doc["rules_b"])
    console.print(
        f"A: {a}\nB: {b}\n{doc['n_events']:,} events ({doc['events']}), "
        f"{doc['repeats']} repeats after a warm-up, stock Falco composition "
        f"({doc['strategy']}), median ± half-range",
        highlight=False,
    )
    if doc["capture"]:
        console.print(doc["capture"], highlight=False)
    t = Table(title="rule evaluation: cycles per event")
    for col in ("engine", "A", "B", "A / B (per round)"):
        t.add_column(col, justify="left" if col == "engine" else "right")
    for eng, e in doc["engines_cost"].items():
        c, r = e["cycles_per_event"], e["cycles_per_event"]["ratio_a_over_b"]
        t.add_row(
            eng,
            f"{_fmt(c['a']['median'])} ± {_fmt(c['a']['spread'])}",
            f"{_fmt(c['b']['median'])} ± {_fmt(c['b']['spread'])}",
            "-" if r is None else f"{r['median']:.2f}x ± {r['spread']:.2f}",
        )
    console.print(t)
    for eng, e in doc["engines_cost"].items():
        if e["noisy"]:
            console.print(
                styled(
                    (
                        f"{eng}: the repeats of {' and '.join(e['noisy'])} spread more than "
                        f"{CR.NOISE_SHARE:.0%} of the median (a busy machine?): more --repeat",
                        "yellow",
                    )
                )
            )
    for eng, e in doc["engines_cost"].items():
        t = Table(title=f"per rule on {eng}: checks, cycles per check, matches")
        t.add_column("rule", no_wrap=True, overflow="ellipsis", max_width=44)
        for col in ("checks A", "cyc/check A", "matches A", "checks B", "cyc/check B", "matches B"):
            t.add_column(col, justify="right")
        for r in e["per_rule"]:
            cells = []
            for side in (r["a"], r["b"]):
                cells += (
                    ["-", "-", "-"]
                    if side is None
                    else [
                        f"{side['checks']:,}",
                        _fmt(side["cycles_per_check"]),
                        f"{side['matches']:,}",
                    ]
                )
            t.add_row(r["rule"], *cells)
        console.print(t)
    n = doc["alert_differences"]
    if not n:
        judged = doc["rules"][0]["engines_judged"] if doc["rules"] else ["reference"]
        console.print(
            styled(
                ("alerts: the same, rule by rule", "green"),
                f" ({len(doc['rules'])} rules, each judged by {', '.join(judged)})",
            )
        )
        return
    t = Table(title=f"alert differences: {n} rule(s)")
    for col in ("rule", "status", "seen by", "first differing evt.num", "matches A", "matches B"):
        t.add_column(col)
    for r in doc["differences"]:
        t.add_row(
            r["rule"],
            Text(r["status"], "bold red"),
            r["engine"] or "-",
            "-" if r["first_difference"] is None else str(r["first_difference"]),
            f"{r['a_matches']:,}",
            f"{r['b_matches']:,}",
        )
    console.print(t)
