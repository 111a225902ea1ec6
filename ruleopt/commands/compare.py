"""``ruleopt compare``: strategies side by side on one ruleset and one workload, on the
replica (the compiled core), on the real engine (libsinsp 2022 through ``ruleopt-sinsp
engine``, ``ruleopt.engine.real``) or on both (``--engine``), in Falco's first-match mode
or in ``rule_matching: all`` (``--mode``).

Every strategy is built from the same compiled ruleset, then, after one unrecorded warm-up
round, the repeats are interleaved (repeat 1 of every strategy, then repeat 2, ...) so
machine noise hits all of them alike; speedups are per-repeat ratios against the baseline
of the same round and engine. The verdict is equivalence: on each engine, each strategy's
alerts (evt.num, rule, output line) must equal that engine's baseline's on every event, and
every run's alerts must equal the reference evaluator's (``ruleopt.engine.oracle``: every
event up to 200,000, else every event the baseline alerted on plus a seeded sample; the
report says which). With both engines, each strategy's alerts must also be the same
(evt.num, rule) on both; their lines are compared field by field (``compare_real``), since
the replica renders from the table's columns. Otherwise the first difference is printed
and the exit status is 1.

The real engine reads a capture: a table input is written as one first (the generated
capture writer) and both engines then read that capture's events.

No training on the test: the strategies that learn from a workload learn from ``--train``
(``compare_train``: held out by default, another seed of the generator), on both engines
alike, and the report says which (``trained_on``).

``--against RULES_B...`` compares two rulesets instead (``compare_against``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from rich.text import Text

from ruleopt.commands import bounds
from ruleopt.commands import compare_profile as CP
from ruleopt.commands import compare_real as CR
from ruleopt.commands import compare_train as CT
from ruleopt.commands.inputs import (
    check_events_file,
    check_output,
    check_rules_files,
    split_inputs,
)
from ruleopt.console import console as new_console
from ruleopt.console import styled
from ruleopt.defaults import DEFAULT_RULES
from ruleopt.engine import oracle, real
from ruleopt.engine import strategies as S
from ruleopt.engine.core import tsc_hz
from ruleopt.errors import RuleoptError
from ruleopt.events.table import EventTable
from ruleopt.events.workload_scap import write_capture
from ruleopt.rules.model import Rule

NAME = "compare"
HELP = (
    "run matching strategies side by side: speed, rules checked, output cost, equivalence; "
    "with --against, two rulesets on the same events"
)
BASELINE = "baseline"
ENGINES = CR.ENGINES
_engines = CR.engines_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="RULES... [EVENTS]",
        help="rules files (.yaml/.yml, default: the bundled ruleset) and at most one event "
        "file (.npz, .scap, .jsonl; default: the bundled generated workload)",
    )
    parser.add_argument(
        "--strategies",
        default=",".join(S.DEFAULT_STRATEGIES),
        metavar="A,B,...",
        help=f"strategies to run (baseline is always run first); known: {', '.join(S.STRATEGIES)}",
    )
    parser.add_argument(
        "--repeat",
        type=bounds.repeat,
        default=3,
        metavar="N",
        help="measured passes per strategy (default 3)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="libsinsp (the real engine: ruleopt-sinsp on a capture), replica (the compiled "
        "core on the table) or both, side by side (default: both when libsinsp is "
        "available, else replica)",
    )
    parser.add_argument(
        "--mode",
        choices=real.MODES,
        default="first",
        help="first: seed-era Falco, the rule loop stops at the first match (default); "
        "all: Falco 0.36+'s rule_matching: all, every matching rule alerts",
    )
    parser.add_argument(
        "--against",
        nargs="*",
        default=None,
        metavar="RULES_B",
        help="compare the rules files given first (A) with these (B) on the same events, "
        "on both engines: cycles per event (stock Falco composition) of A and B, per "
        "rule checks, cycles per check and matches, and the alerts rule by rule (which "
        "rules appear, vanish or differ, with the first differing evt.num); an events "
        "file may come before or after; exit status 0 when no rule's alerts differ, "
        "1 otherwise",
    )
    parser.add_argument(
        "--train",
        default=None,
        metavar="EVENTS|seed:N|same",
        help="what the learning strategies (finer, reorder, rewrite, best, ...) learn from: "
        "an events file (.npz, .scap, .jsonl), seed:N (the generated workload of these "
        "rules with seed N, the measured size and breaking share), or same (the measured "
        "events: the trained-on figure); default: held out, the generator with another "
        "seed (the next one of a generated workload's)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="write bar plots (compare_cycles.svg, compare_output.svg) here",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="write a profile per engine and strategy into DIR/<engine>-<strategy>/: "
        "profile.json, stacks.dot (graphviz), stacks.folded (flamegraph); DIR must be new "
        "or empty",
    )


def strategy_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise RuleoptError(
            "--strategies names no strategy",
            hint=f"e.g. --strategies finer,best; known: {', '.join(S.STRATEGIES)}",
        )
    for n in names:
        S.get_strategy(n)
    return [BASELINE] + [n for n in dict.fromkeys(names) if n != BASELINE]


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        console=new_console(stderr=True),
        transient=True,
        disable=not enabled,
    )


def default_engine() -> str:
    """``both`` when the real engine runs here, else ``replica``."""
    return "both" if real.available() else "replica"


def compare(
    rule_files: list[str],
    events: str | None,
    names: list[str],
    repeat: int,
    progress: bool = True,
    *,
    engine: str = "replica",
    mode: str = "first",
    workdir: str | None = None,
    engine_chosen: bool = True,
    profile_dir: str | None = None,
    train: str | None = None,
) -> dict:
    """Measure ``names`` (baseline first) on ``engine``; returns the report (``--json``).

    The libsinsp engine reads a capture: a table input (``.npz``, the default workload)
    is written as one first (into ``workdir``, a temporary directory by default), and then
    both engines read the events back from that capture, so they judge the same events.
    ``train``: what the learning strategies learn from (``compare_train``)."""
    from ruleopt.events.load import load_events
    from ruleopt.rules.loader import load_rules

    if repeat < 1:
        raise RuleoptError("--repeat must be at least 1")
    if mode not in real.MODES:
        raise RuleoptError(f"unknown match mode '{mode}'", hint="one of: first, all")
    engines = _engines(engine)
    files = rule_files or [str(DEFAULT_RULES)]
    ruleset = load_rules(files)
    rules = S.syscall_rules(ruleset.enabled_rules())
    skipped = [
        {"rule": r.name, "reason": f"source '{r.source}' cannot run on syscall events"}
        for r in ruleset.enabled_rules()
        if r.source != "syscall"
    ]
    capture_note = None
    with tempfile.TemporaryDirectory(prefix="ruleopt-compare-", dir=workdir) as tmp:
        if "libsinsp" in engines:
            real.tool()  # a clear error now, not after minutes of replica work
            # Rules libsinsp 2022 cannot judge run on neither engine: equal rules, fair figures.
            judged, not_real = real.engine_rules(rules)
            if judged or engine_chosen:
                if not judged:
                    first = not_real[0] if not_real else None
                    raise RuleoptError(
                        "libsinsp 2022 can judge none of these rules"
                        + (f" ({first['rule']}: {first['reason']})" if first else ""),
                        file=files[0] if len(files) == 1 else None,
                        hint="--engine replica measures them on the replica alone",
                    )
                rules = judged
                skipped += not_real
            else:
                # Not asked for by name: the default falls back to the replica, and says so.
                engines = ("replica",)
                capture_note = (
                    "libsinsp 2022 can judge none of these rules: the replica "
                    "alone ran (--engine libsinsp makes that an error)"
                )
        first = None
        if "libsinsp" in engines and (events is None or Path(events).suffix.lower() != ".scap"):
            table = first = load_events(events, ruleset)
            capture = str(Path(tmp) / "events.scap")
            write_capture(table, capture)
            capture_note = (
                f"the libsinsp engine needs a capture: {events or 'the default workload'}"
                " was written as one (ruleopt.events.workload_scap) and both engines read it"
            )
            events_path: str | None = capture
        elif "libsinsp" in engines:
            capture = events_path = events
        else:
            events_path = events
        table = load_events(events_path, ruleset)
        # The measured input as given (a generated table records its seed; the capture
        # written from it does not): what the default held-out workload is chosen from.
        if any(S.learns(S.get_strategy(n)) for n in names):
            trained = CT.training(train, ruleset, first if first is not None else table)
        else:  # nothing to learn: no training workload is generated
            trained = CT.Training(None, "nothing: none of these strategies learns")
        train_table = table if trained.same else trained.table
        rows: list[dict] = []
        results: list[S.StrategyResult] = []
        runs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if "replica" in engines:
            passes = repeat + 2  # the build, the warm-up and the repeats
            bounds.check_work(
                len(names) * passes * table.n,
                f"{len(names)} strategies x {passes} passes x {table.n:,} events",
                "use a smaller --repeat, fewer --strategies or fewer events",
            )
            results = _measure_replica(
                rules, table, names, repeat, mode, progress, train=trained.table
            )
            for res in results:
                runs[f"replica/{res.name}"] = (
                    res.match_rows,
                    np.asarray([m[1] for m in res.matches]),
                )
        real_run = None
        not_real = [
            {"strategy": n, "reason": why}
            for n in names
            if (why := real.real_support(S.get_strategy(n)))
        ]
        if "libsinsp" in engines:
            on_real = [S.get_strategy(n) for n in names if not real.real_support(S.get_strategy(n))]
            real_run = real.run_engine(
                capture,
                rules,
                on_real,
                mode=mode,
                repeat=repeat,
                train=train_table,
                trained_on=trained.label,
            )
            row_of = _rows_by_evt_num(table)
            for res in real_run.results:
                got_rows = np.asarray([row_of.get(a[0], -1) for a in res.alerts], dtype=np.int64)
                runs[f"libsinsp/{res.name}"] = (got_rows, np.asarray([a[1] for a in res.alerts]))
        base_rows = next(iter(runs.values()))[0]
        ref = reference_check(runs, base_rows, rules, table, mode)
        if profile_dir is not None:
            replica_names = names if results else []
            written = CP.write_compare_profiles(
                profile_dir, rules, table, replica_names, real_run, mode=mode
            )
    if results:
        rows += report_rows(results, ref)
    if real_run is not None:
        base = real_run.results[0]
        rows += [
            CR.real_row(r, base, ref["strategies"][f"libsinsp/{r.name}"]) for r in real_run.results
        ]
    for r in rows:
        r["trained_on"] = trained.label if S.learns(S.get_strategy(r["strategy"])) else None
    doc = {
        "rules": files,
        "events": events or "default workload",
        "capture": capture_note,
        "engines": list(engines),
        "mode": mode,
        "n_events": table.n,
        "repeats": repeat,
        "warmup": 1,
        "baseline": BASELINE,
        "trained_on": trained.label,
        "strategies": rows,
        "reference_check": {k: v for k, v in ref.items() if k != "strategies"},
        "not_on_libsinsp": not_real if "libsinsp" in engines else [],
        "skipped_rules": skipped,
        "machine": CR.machine(),
        "tsc_hz": tsc_hz(),
    }
    if real_run is not None:
        doc["libsinsp_runtime_errors"] = real_run.runtime_errors
        doc["libsinsp_finer_tree"] = real_run.finer_tree  # what finer was trained on
    if profile_dir is not None:
        doc["profiles"] = written
    if results and real_run is not None:
        doc["cross_engine"] = cross_engine(results, real_run, rules)
    doc["noisy"] = [
        f"{r['engine']}/{r['strategy']}"
        for r in rows
        if CR.noisy(r["cycles_per_event"]["median"], r["cycles_per_event"]["spread"])
        or CR.noisy(r["output_cycles_per_alert"]["median"], r["output_cycles_per_alert"]["spread"])
    ]
    doc["equivalent"] = all(r["equivalent"] for r in rows) and all(
        c["same_alerts"] for c in doc.get("cross_engine", {}).get("strategies", [])
    )
    return doc


def _measure_replica(
    rules: list[Rule],
    table: EventTable,
    names: list[str],
    repeat: int,
    mode: str,
    progress: bool,
    *,
    train: EventTable | None = None,
) -> list[S.StrategyResult]:
    compiled, kept = S.compile_for(rules, table)
    first = mode == "first"
    with _progress(progress) as bar:
        task = bar.add_task("building strategies", total=len(names) * (repeat + 2))
        prepared = []
        for n in names:
            bar.update(task, description=f"building {n}")
            prepared.append(S.prepare(n, compiled, table, kept, train=train))
            bar.advance(task)
        samples: list[list[S.Sample]] = [[] for _ in names]
        cache: S.AlertInputs = {}
        # Round 0 is the warm-up (caches, branch predictors, lazily built parts): unrecorded.
        for r in range(repeat + 1):
            for k, p in enumerate(prepared):
                what = "warm-up" if r == 0 else f"repeat {r}/{repeat}"
                bar.update(task, description=f"{what}: {p.strategy.name}")
                sample = S.measure_once(p, table, cache, first_match=first)
                if r:
                    samples[k].append(sample)
                bar.advance(task)
    return [S.summarize(p, table, s) for p, s in zip(prepared, samples, strict=True)]


def _rows_by_evt_num(table: EventTable) -> dict[int, int]:
    return {int(num): row for row, num in enumerate(np.asarray(table.evt_num).tolist())}


def reference_check(
    runs: dict[str, tuple[np.ndarray, np.ndarray]],
    base_rows: np.ndarray,
    rules: list[Rule],
    table: EventTable,
    mode: str = "first",
) -> dict:
    """Each run's alerts (table rows, rule ids) against the reference evaluator's on a
    sample: first-match alerts, or with ``mode`` "all" every matching rule."""
    compiled_order = rules  # load order is index order in both engines
    sample = oracle.reference_sample(
        table.n,
        base_rows,
        row_cost=oracle.row_costs(rules, table),
        limit=oracle.REFERENCE_ROWS,
        budget=oracle.REFERENCE_BUDGET,
    )
    evt_num = np.asarray(table.evt_num)
    per: dict[str, dict] = {}
    if mode == "first":
        want = oracle.reference_first_match(compiled_order, table, sample.rows)
        n_ref = int(np.count_nonzero(want >= 0))
        for name, (rows, rids) in runs.items():
            bad = oracle.mismatches(sample, want, rows, rids)
            first = None
            if bad:
                m = bad[0]
                first = {
                    "evt_num": int(evt_num[m.row]),
                    "reference_rule_id": None if m.reference < 0 else m.reference,
                    "strategy_rule_id": None if m.strategy < 0 else m.strategy,
                }
            per[name] = {"mismatches": len(bad), "first_mismatch": first}
    else:
        want_all = reference_all_matches(compiled_order, table, sample.rows)
        n_ref = sum(len(v) for v in want_all.values())
        judged = set(sample.rows.tolist())
        for name, (rows, rids) in runs.items():
            got: dict[int, list[int]] = {}
            for row, rid in zip(rows.tolist(), rids.tolist(), strict=True):
                if row in judged:
                    got.setdefault(row, []).append(rid)
            bad = sorted(r for r in judged if sorted(got.get(r, [])) != want_all.get(r, []))
            first = None
            if bad:
                r = bad[0]
                first = {
                    "evt_num": int(evt_num[r]),
                    "reference_rule_ids": want_all.get(r, []),
                    "strategy_rule_ids": sorted(got.get(r, [])),
                }
            per[name] = {"mismatches": len(bad), "first_mismatch": first}
    return {**sample.to_dict(), "reference_alerts": n_ref, "strategies": per}


def reference_all_matches(
    rules: list[Rule], table: EventTable, rows: np.ndarray
) -> dict[int, list[int]]:
    """Per row of ``rows`` with a match: every rule (sorted ids) the reference evaluator
    matches among those Falco's index gives the event (``rule_matching: all``)."""
    from ruleopt.engine.index import evttype_buckets
    from ruleopt.engine.reference import prepare

    buckets = evttype_buckets(rules, table)
    preds = [prepare(r.condition) for r in rules]
    et = table.column("evt.type")
    present, types = np.asarray(et.present), np.asarray(et.values)
    out: dict[int, list[int]] = {}
    for row in rows.tolist():
        positions = buckets.get(int(types[row]), ()) if present[row] else ()
        if not positions:
            continue
        event = table.event(row)
        hit = sorted(rules[p].id for p in positions if preds[p](event))
        if hit:
            out[row] = hit
    return out


def report_rows(results: list[S.StrategyResult], ref: dict) -> list[dict]:
    base = results[0]
    rows = []
    for res in results:
        ratio = base.cycles_per_event / res.cycles_per_event
        diff = S.first_difference(base, res)
        vs_ref = ref["strategies"][f"replica/{res.name}"]
        # The study's question: at what event rate does this engine fall behind? Matching
        # every event plus formatting its share of alerts, on one core.
        out = 0.0 if np.isnan(res.out_median) else res.out_median
        per_event = res.cpe_median + out * len(res.alerts) / max(res.n_events, 1)
        capacity = res.tsc_hz / per_event if per_event > 0 else float("inf")
        rows.append(
            {
                "engine": "replica",
                "strategy": res.name,
                "index": res.strategy.index,
                "matcher": res.strategy.matcher,
                "output": res.strategy.output,
                "events_per_second": res.events_per_second,
                "capacity_events_per_second": capacity,
                "cycles_per_event": {
                    "median": res.cpe_median,
                    "spread": res.cpe_spread,
                    "repeats": res.cycles_per_event.tolist(),
                },
                "rules_checked_per_event": res.rules_checked_per_event,
                "alerts": len(res.alerts),
                "output_cycles_per_alert": {
                    "median": None if np.isnan(res.out_median) else res.out_median,
                    "spread": None if np.isnan(res.out_spread) else res.out_spread,
                },
                "speedup": {
                    "median": float(np.median(ratio)),
                    "spread": float((ratio.max() - ratio.min()) / 2),
                },
                **CR.verdict_fields(diff, vs_ref),
                "stats": res.stats,
            }
        )
    return rows


def cross_engine(results: list[S.StrategyResult], run: real.RealRun, rules: list[Rule]) -> dict:
    """Per strategy on both engines: the ratio libsinsp / replica, and whether both give
    the same alerts (evt.num, rule); the lines compared field by field."""
    ours = {r.name: r for r in results}
    out = []
    for res in run.results:
        rep = ours.get(res.name)
        if rep is None:
            continue
        a = sorted((num, rid) for num, rid, _ in rep.alert_keys())
        b = sorted((num, rid) for num, rid, _ in res.alerts)
        diff = CR.first_difference(a, b)
        r_out = rep.out_median
        l_out = CR.median_or_none(res.output_cycles_per_alert)
        out.append(
            {
                "strategy": res.name,
                "cycles_per_event_ratio": float(np.median(res.cycles_per_event)) / rep.cpe_median
                if rep.cpe_median > 0
                else None,
                "output_cycles_per_alert_ratio": l_out / r_out
                if l_out is not None and not np.isnan(r_out) and r_out > 0
                else None,
                "same_alerts": diff is None,
                "first_difference": None
                if diff is None
                else {
                    "replica": None if diff[0] is None else list(diff[0]),
                    "libsinsp": None if diff[1] is None else list(diff[1]),
                },
            }
        )
    base = run.results[0]
    lines = CR.line_differences(rules, ours[BASELINE].alert_keys(), base.alerts)
    return {"strategies": out, "lines": lines}


def _fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _table(doc: dict, engine: str, rows: list[dict]):
    from rich.table import Table

    what = {
        "replica": "replica (compiled core on the table)",
        "libsinsp": "libsinsp 2022 (real engine on the capture)",
    }[engine]
    mode = "first match" if doc["mode"] == "first" else "rule_matching: all"
    t = Table(
        title=f"compare on {what}: {doc['n_events']:,} events ({doc['events']}), "
        f"{mode}, {doc['repeats']} repeats after a warm-up, median ± half-range"
    )
    for col, justify in (
        ("strategy", "left"),
        ("events/s", "right"),
        ("capacity ev/s", "right"),
        ("cycles/event", "right"),
        ("rules checked/event", "right"),
        ("alerts", "right"),
        ("output cycles/alert", "right"),
        ("speedup", "right"),
        ("equivalent", "left"),
    ):
        t.add_column(col, justify=justify)
    for r in rows:
        c, o, s = r["cycles_per_event"], r["output_cycles_per_alert"], r["speedup"]
        t.add_row(
            r["strategy"],
            _fmt(r["events_per_second"], 0),
            _fmt(r["capacity_events_per_second"], 0),
            f"{_fmt(c['median'])} ± {_fmt(c['spread'])}",
            _fmt(r["rules_checked_per_event"], 2),
            str(r["alerts"]),
            f"{_fmt(o['median'], 0)} ± {_fmt(o['spread'], 0)}" if o["median"] is not None else "-",
            f"{s['median']:.2f}x ± {s['spread']:.2f}",
            _yes_no(r["equivalent"]),
        )
    return t


def _yes_no(ok: bool) -> Text:
    return Text("yes", "green") if ok else Text("NO", "bold red")


def print_table(doc: dict) -> None:
    console = new_console()
    if not console.is_terminal:
        # Piped or captured: rich would fold the table to 80 columns; keep rows whole.
        console = new_console(width=170)
    for engine in doc["engines"]:
        rows = [r for r in doc["strategies"] if r["engine"] == engine]
        if rows:
            console.print(_table(doc, engine, rows))
    console.print(
        "events/s: rule evaluation only (index + checks; libsinsp's next() and "
        "output are stages of their own in --json); capacity: the event rate one "
        "core sustains with this workload's alerts formatted too (above it, Falco "
        "drops events)",
        highlight=False,
    )
    if doc.get("capture"):
        console.print(f"note: {doc['capture']}", highlight=False)
    learning = sorted({r["strategy"] for r in doc["strategies"] if r.get("trained_on")})
    if learning:
        console.print(
            f"trained on: {doc['trained_on']} ({', '.join(learning)} learned from it; "
            "--train same gives the trained-on figure, --train EVENTS|seed:N another input)",
            highlight=False,
        )
    for n in doc.get("not_on_libsinsp") or []:
        console.print(f"note: {n['strategy']} is not on libsinsp: {n['reason']}", highlight=False)
    tree = doc.get("libsinsp_finer_tree")
    if tree and "trained_on" in tree:
        console.print(
            f"note: libsinsp's finer tree was built on {tree['trained_on']}", highlight=False
        )
    cross = doc.get("cross_engine")
    if cross:
        _print_cross(console, cross)
    if doc.get("noisy"):
        console.print(
            styled(
                ("warning", "bold yellow"),
                f": noisy measurement (spread over {CR.NOISE_SHARE:.0%} of the median) "
                f"for {', '.join(doc['noisy'])}: the machine is busy; use more --repeat "
                f"or a quiet machine (load average {doc['machine']['load_average']})",
            )
        )
    skipped = doc.get("skipped_rules") or []
    if skipped:
        console.print(
            f"note: {len(skipped)} enabled rule(s) skipped (they cannot run on "
            f"{'syscall events' if doc['engines'] == ['replica'] else 'libsinsp 2022'}"
            f"), first: {skipped[0]['rule']}: {skipped[0]['reason']}",
            highlight=False,
        )
    rc = doc["reference_check"]
    console.print(
        f"equivalent: on each engine, alerts equal to {doc['baseline']}'s on all "
        f"{doc['n_events']:,} events, and alerts equal to the reference "
        f"evaluator's on {rc['description']} ({rc['reference_alerts']:,} reference "
        "alerts)",
        highlight=False,
    )
    for r in doc["strategies"]:
        m = r["first_reference_mismatch"]
        if m is not None:
            console.print(
                styled(
                    (
                        f"{r['engine']}/{r['strategy']} differs from the reference evaluator",
                        "bold red",
                    ),
                    f" on {r['reference_mismatches']:,} checked events; first at evt.num "
                    f"{m['evt_num']}: {_mismatch_text(m, r['strategy'])}",
                )
            )
    for r in doc["strategies"]:
        d = r["first_difference"]
        if d is not None:
            console.print(
                styled(
                    (f"{r['strategy']} differs from {doc['baseline']}", "bold red"),
                    f" on {r['engine']}; first differing alert:",
                )
            )
            for side in ("baseline", "strategy"):
                a = d[side]
                text = (
                    "(none)"
                    if a is None
                    else f"evt.num {a['evt_num']} rule {a['rule_id']}: {a['line']}"
                )
                console.print(f"  {side}: {text}", markup=False, highlight=False)


def _mismatch_text(m: dict, name: str) -> str:
    def rule(x: int | None) -> str:
        return "no alert" if x is None else f"rule {x}"

    if "reference_rule_id" in m:
        return f"reference {rule(m['reference_rule_id'])}, {name} {rule(m['strategy_rule_id'])}"
    return f"reference rules {m['reference_rule_ids']}, {name} rules {m['strategy_rule_ids']}"


def _print_cross(console, cross: dict) -> None:
    from rich.table import Table

    t = Table(title="libsinsp / replica, per strategy (same events, same rules)")
    for col in (
        "strategy",
        "cycles/event ratio",
        "output cycles/alert ratio",
        "same alerts (evt.num, rule)",
    ):
        t.add_column(col)
    for c in cross["strategies"]:
        t.add_row(
            c["strategy"],
            _fmt(c["cycles_per_event_ratio"], 2) + "x",
            "-"
            if c["output_cycles_per_alert_ratio"] is None
            else _fmt(c["output_cycles_per_alert_ratio"], 2) + "x",
            _yes_no(c["same_alerts"]),
        )
    console.print(t)
    for c in cross["strategies"]:
        if c["first_difference"] is not None:
            d = c["first_difference"]
            console.print(
                styled(
                    (f"{c['strategy']}: the engines' alerts differ", "bold red"),
                    f"; first: replica {d['replica']}, libsinsp {d['libsinsp']} "
                    "([evt.num, rule id])",
                )
            )
    li = cross["lines"]
    fields = ", ".join(f"{f['field']} ({f['alerts']:,})" for f in li["fields"][:8])
    console.print(
        f"alert lines: {li['equal']:,} of {li['compared']:,} equal byte for byte "
        "across engines" + (f"; fields rendered differently (alerts): {fields}" if fields else ""),
        highlight=False,
    )
    if li["fields"]:
        console.print(
            "  (the replica renders from the table: fields rules do not read are "
            "not in it and print <NA>, its time is the event number; %container.info "
            "is Falco's placeholder for %container.name (id=%container.id))",
            highlight=False,
        )


def write_plots(doc: dict, outdir: Path) -> list[Path]:
    """The bar plots, written all or nothing into ``outdir`` (created only now)."""
    from ruleopt.fsutil import staged_dir

    with staged_dir(outdir) as (staging, moved):
        _render_plots(doc, staging)
    return moved


def _render_plots(doc: dict, outdir: Path) -> list[Path]:
    from ruleopt.profile.plots import bar_compare

    rows = doc["strategies"]

    def label(r: dict) -> str:
        return r["strategy"] if len(doc["engines"]) == 1 else f"{r['engine']}/{r['strategy']}"

    names = [label(r) for r in rows]
    paths = [
        bar_compare(
            names,
            [r["cycles_per_event"]["median"] for r in rows],
            [r["cycles_per_event"]["spread"] for r in rows],
            f"Cycles per event by strategy ({doc['n_events']:,} events)",
            outdir / "compare_cycles.svg",
            ylabel="cycles per event",
        )
    ]
    with_out = [r for r in rows if r["output_cycles_per_alert"]["median"] is not None]
    if with_out:
        paths.append(
            bar_compare(
                [label(r) for r in with_out],
                [r["output_cycles_per_alert"]["median"] for r in with_out],
                [r["output_cycles_per_alert"]["spread"] for r in with_out],
                "Output cycles per alert by strategy",
                outdir / "compare_output.svg",
                ylabel="cycles per alert",
            )
        )
    return paths


def run(args: argparse.Namespace) -> int:
    if args.against is not None:
        return _run_against(args)
    rule_files, events = split_inputs(args.inputs)
    names = strategy_names(args.strategies)
    # Checked before minutes of measuring, not after; nothing is created until the end.
    check_rules_files(rule_files)
    check_events_file(events)
    CT.check_train(args.train)
    # '' is an empty path (refused by the checks), not "no option".
    if args.output is not None:
        check_output(args.output, directory=True)
    if args.profile is not None:
        CP.check_profile_dir(args.profile)
    engine = args.engine or default_engine()
    doc = compare(
        rule_files,
        events,
        names,
        args.repeat,
        progress=sys.stderr.isatty(),
        engine=engine,
        mode=args.mode,
        engine_chosen=args.engine is not None,
        profile_dir=args.profile,
        train=args.train,
    )
    if args.output is not None:
        doc["plots"] = [str(p) for p in write_plots(doc, Path(args.output))]
    if args.json:
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_table(doc)
    return 0 if doc["equivalent"] else 1


def _run_against(args: argparse.Namespace) -> int:
    from ruleopt.commands import compare_against as CA

    CA.check_against(args.against)
    # argparse gives --against every later word: its events file is one input like others.
    rules_b, events_b = split_inputs(args.against)
    rules_a, events = split_inputs(args.inputs + ([events_b] if events_b is not None else []))
    if not rules_a:
        rules_a = [str(DEFAULT_RULES)]
    check_rules_files(rules_a)
    check_rules_files(rules_b)
    check_events_file(events)
    if args.train is not None:
        raise RuleoptError(
            "--train is what learning strategies learn from: it does not apply to --against",
            file="--train",
            hint="drop --train (--against runs the stock composition, which learns nothing)",
        )
    if args.output is not None or args.profile is not None:
        raise RuleoptError(
            "-o/--output and --profile are per strategy: they do not apply to --against",
            file=args.output if args.output is not None else args.profile,
            hint="drop them, or use --json to keep the report",
        )
    doc = CA.compare_against(
        rules_a,
        rules_b,
        events,
        args.repeat,
        engine=args.engine or default_engine(),
        mode=args.mode,
    )
    if args.json:
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        CA.print_report(doc)
    return 0 if doc["alert_differences"] == 0 else 1
