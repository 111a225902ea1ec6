"""``ruleopt compare``: strategies side by side on one ruleset and one workload.

Every strategy is built from the same compiled ruleset, then the repeats are interleaved
(repeat 1 of every strategy, then repeat 2, ...) so machine noise hits all of them alike;
speedups are per-repeat ratios against the baseline of the same round. The verdict is
equivalence: each strategy's alerts (evt.num, rule, output line) must equal the
baseline's on every event, and the first-match alerts of the baseline and of every
strategy must equal the reference evaluator's (``ruleopt.engine.oracle``: every event up
to 200,000, else every event the baseline alerted on plus a seeded sample; the report
says which). Otherwise the first difference is printed and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ruleopt.commands import bounds
from ruleopt.commands.inputs import (
    check_events_file,
    check_output,
    check_rules_files,
    split_inputs,
)
from ruleopt.defaults import DEFAULT_RULES
from ruleopt.engine import oracle
from ruleopt.engine import strategies as S
from ruleopt.engine.compile import CompiledRuleset
from ruleopt.errors import RuleoptError
from ruleopt.events.table import EventTable
from ruleopt.rules.model import Rule

NAME = "compare"
HELP = "run matching strategies side by side: speed, rules checked, output cost, equivalence"
BASELINE = "baseline"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs", nargs="*", metavar="RULES... [EVENTS]",
        help="rules files (.yaml/.yml, default: the bundled ruleset) and at most one event "
             "file (.npz, .scap, .jsonl; default: the bundled generated workload)",
    )  # fmt: skip
    parser.add_argument(
        "--strategies", default=",".join(S.DEFAULT_STRATEGIES), metavar="A,B,...",
        help=f"strategies to run (baseline is always run first); known: "
             f"{', '.join(S.STRATEGIES)}",
    )  # fmt: skip
    parser.add_argument("--repeat", type=bounds.repeat, default=3, metavar="N",
                        help="measured passes per strategy (default 3)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("-o", "--output", metavar="DIR",
                        help="write bar plots (compare_cycles.svg, compare_output.svg) here")


def strategy_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise RuleoptError("--strategies names no strategy",
                           hint=f"e.g. --strategies finer,best; known: {', '.join(S.STRATEGIES)}")
    for n in names:
        S.get_strategy(n)
    return [BASELINE] + [n for n in dict.fromkeys(names) if n != BASELINE]


def _progress(enabled: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    console=Console(stderr=True), transient=True, disable=not enabled)  # fmt: skip


def compare(rule_files: list[str], events: str | None, names: list[str], repeat: int,
            progress: bool = True) -> dict:  # fmt: skip
    """Measure ``names`` (baseline first); returns the report dict (see ``--json``)."""
    from ruleopt.events.load import load_events
    from ruleopt.rules.loader import load_rules

    if repeat < 1:
        raise RuleoptError("--repeat must be at least 1")
    ruleset = load_rules(rule_files or [str(DEFAULT_RULES)])
    table = load_events(events, ruleset)
    bounds.check_work(len(names) * (repeat + 1) * table.n,
                      f"{len(names)} strategies x {repeat + 1} passes x {table.n:,} events",
                      "use a smaller --repeat, fewer --strategies or fewer events")
    compiled, kept = S.compile_for(ruleset, table)
    with _progress(progress) as bar:
        task = bar.add_task("building strategies", total=len(names) * (repeat + 1))
        prepared = []
        for n in names:
            bar.update(task, description=f"building {n}")
            prepared.append(S.prepare(n, compiled, table, kept))
            bar.advance(task)
        samples: list[list[S.Sample]] = [[] for _ in names]
        cache: S.AlertInputs = {}
        for r in range(repeat):
            for k, p in enumerate(prepared):
                bar.update(task, description=f"repeat {r + 1}/{repeat}: {p.strategy.name}")
                samples[k].append(S.measure_once(p, table, cache))
                bar.advance(task)
        results = [S.summarize(p, table, s) for p, s in zip(prepared, samples, strict=True)]
        bar.update(task, description="checking against the reference evaluator")
        ref = reference_check(results, compiled, kept, table)
    doc = report(results, rule_files or [str(DEFAULT_RULES)], events, ref)
    # Rules of plugin sources (k8s_audit, aws_cloudtrail...) never see syscall events.
    doc["skipped_rules"] = [
        {"rule": r.name, "reason": f"source '{r.source}' cannot run on syscall events"}
        for r in ruleset.enabled_rules() if r.source != "syscall"]
    return doc


def reference_check(results: list[S.StrategyResult], compiled: CompiledRuleset,
                    kept: list[Rule], table: EventTable) -> dict:  # fmt: skip
    """Each run's first-match alerts against the reference evaluator's on a sample."""
    by_id = {r.id: r for r in kept}
    rules = [by_id[rid] for rid in compiled.rule_ids.tolist()]
    sample = oracle.reference_sample(table.n, results[0].match_rows,
                                     row_cost=oracle.row_costs(rules, table),
                                     limit=oracle.REFERENCE_ROWS,
                                     budget=oracle.REFERENCE_BUDGET)
    want = oracle.reference_first_match(rules, table, sample.rows)
    evt_num = np.asarray(table.evt_num)
    per: dict[str, dict] = {}
    for res in results:
        rules_of = np.asarray([m[1] for m in res.matches], dtype=np.int64)
        bad = oracle.mismatches(sample, want, res.match_rows, rules_of)
        first = None
        if bad:
            m = bad[0]
            first = {"evt_num": int(evt_num[m.row]),
                     "reference_rule_id": None if m.reference < 0 else m.reference,
                     "strategy_rule_id": None if m.strategy < 0 else m.strategy}
        per[res.name] = {"mismatches": len(bad), "first_mismatch": first}
    return {**sample.to_dict(), "reference_alerts": int(np.count_nonzero(want >= 0)),
            "strategies": per}


def _alert_doc(a: tuple | None) -> dict | None:
    return None if a is None else {"evt_num": a[0], "rule_id": a[1], "line": a[2]}


def report(results: list[S.StrategyResult], rule_files: list[str], events: str | None,
           ref: dict) -> dict:  # fmt: skip
    base = results[0]
    rows = []
    for res in results:
        ratio = base.cycles_per_event / res.cycles_per_event
        diff = S.first_difference(base, res)
        vs_ref = ref["strategies"][res.name]
        # The study's question: at what event rate does this engine fall behind? Matching
        # every event plus formatting its share of alerts, on one core.
        out = 0.0 if np.isnan(res.out_median) else res.out_median
        per_event = res.cpe_median + out * len(res.alerts) / max(res.n_events, 1)
        capacity = res.tsc_hz / per_event if per_event > 0 else float("inf")
        rows.append({
            "strategy": res.name,
            "index": res.strategy.index,
            "matcher": res.strategy.matcher,
            "output": res.strategy.output,
            "events_per_second": res.events_per_second,
            "capacity_events_per_second": capacity,
            "cycles_per_event": {"median": res.cpe_median, "spread": res.cpe_spread,
                                 "repeats": res.cycles_per_event.tolist()},
            "rules_checked_per_event": res.rules_checked_per_event,
            "alerts": len(res.alerts),
            "output_cycles_per_alert": {
                "median": None if np.isnan(res.out_median) else res.out_median,
                "spread": None if np.isnan(res.out_spread) else res.out_spread,
            },
            "speedup": {"median": float(np.median(ratio)),
                        "spread": float((ratio.max() - ratio.min()) / 2)},
            "equivalent": diff is None and vs_ref["mismatches"] == 0,
            "equal_to_baseline": diff is None,
            "equal_to_reference": vs_ref["mismatches"] == 0,
            "reference_mismatches": vs_ref["mismatches"],
            "first_reference_mismatch": vs_ref["first_mismatch"],
            "first_difference": None if diff is None else {
                "baseline": _alert_doc(diff[0]), "strategy": _alert_doc(diff[1])},
            "stats": res.stats,
        })  # fmt: skip
    return {
        "rules": rule_files,
        "events": events or "default workload",
        "n_events": base.n_events,
        "repeats": len(base.cycles_per_event),
        "baseline": base.name,
        "strategies": rows,
        # What "equivalent" was checked against: the reference evaluator on these events.
        "reference_check": {k: v for k, v in ref.items() if k != "strategies"},
        "equivalent": all(r["equivalent"] for r in rows),
    }


def _fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def print_table(doc: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        # Piped or captured: rich would fold the table to 80 columns; keep rows whole.
        console = Console(width=170)
    t = Table(title=f"compare: {doc['n_events']:,} events ({doc['events']}), "
                    f"{doc['repeats']} repeats, median ± half-range")  # fmt: skip
    for col, justify in (("strategy", "left"), ("events/s", "right"),
                         ("capacity ev/s", "right"),
                         ("cycles/event", "right"), ("rules checked/event", "right"),
                         ("alerts", "right"), ("output cycles/alert", "right"),
                         ("speedup", "right"), ("equivalent", "left")):  # fmt: skip
        t.add_column(col, justify=justify)
    for r in doc["strategies"]:
        c, o, s = r["cycles_per_event"], r["output_cycles_per_alert"], r["speedup"]
        t.add_row(
            r["strategy"], f"{r['events_per_second']:,.0f}",
            f"{r['capacity_events_per_second']:,.0f}",
            f"{_fmt(c['median'])} ± {_fmt(c['spread'])}",
            _fmt(r["rules_checked_per_event"], 2), str(r["alerts"]),
            f"{_fmt(o['median'], 0)} ± {_fmt(o['spread'], 0)}" if o["median"] is not None
            else "-",
            f"{s['median']:.2f}x ± {s['spread']:.2f}",
            "[green]yes[/]" if r["equivalent"] else "[bold red]NO[/]",
        )  # fmt: skip
    console.print(t)
    console.print("events/s: matching only; capacity: the event rate one core sustains with "
                  "this workload's alerts formatted too (above it, Falco drops events)",
                  highlight=False)
    skipped = doc.get("skipped_rules") or []
    if skipped:
        sources = sorted({s["reason"].split("'")[1] for s in skipped})
        console.print(f"note: {len(skipped)} enabled rule(s) of source(s) "
                      f"{', '.join(sources)} skipped: they cannot run on syscall events",
                      highlight=False)
    rc = doc["reference_check"]
    console.print(f"equivalent: alerts equal to {doc['baseline']}'s on all "
                  f"{doc['n_events']:,} events, and first-match alerts equal to the reference "
                  f"evaluator's on {rc['description']} ({rc['reference_alerts']:,} reference "
                  "alerts)", highlight=False)
    for r in doc["strategies"]:
        m = r["first_reference_mismatch"]
        if m is not None:
            def rule(x: int | None) -> str:
                return "no alert" if x is None else f"rule {x}"
            console.print(f"[bold red]{r['strategy']} differs from the reference evaluator[/] "
                          f"on {r['reference_mismatches']:,} checked events; first at "
                          f"evt.num {m['evt_num']}: reference {rule(m['reference_rule_id'])}, "
                          f"{r['strategy']} {rule(m['strategy_rule_id'])}",
                          highlight=False)  # fmt: skip
    for r in doc["strategies"]:
        d = r["first_difference"]
        if d is not None:
            console.print(f"[bold red]{r['strategy']} differs from {doc['baseline']}[/]; "
                          f"first differing alert:", highlight=False)  # fmt: skip
            for side in ("baseline", "strategy"):
                a = d[side]
                text = "(none)" if a is None else \
                    f"evt.num {a['evt_num']} rule {a['rule_id']}: {a['line']}"
                console.print(f"  {side}: {text}", markup=False, highlight=False)


def write_plots(doc: dict, outdir: Path) -> list[Path]:
    """The bar plots, written all or nothing into ``outdir`` (created only now)."""
    from ruleopt.fsutil import staged_dir

    with staged_dir(outdir) as (staging, moved):
        _render_plots(doc, staging)
    return moved


def _render_plots(doc: dict, outdir: Path) -> list[Path]:
    from ruleopt.profile.plots import bar_compare

    rows = doc["strategies"]
    names = [r["strategy"] for r in rows]
    paths = [bar_compare(
        names, [r["cycles_per_event"]["median"] for r in rows],
        [r["cycles_per_event"]["spread"] for r in rows],
        f"Cycles per event by strategy ({doc['n_events']:,} events)",
        outdir / "compare_cycles.svg", ylabel="cycles per event")]  # fmt: skip
    with_out = [r for r in rows if r["output_cycles_per_alert"]["median"] is not None]
    if with_out:
        paths.append(bar_compare(
            [r["strategy"] for r in with_out],
            [r["output_cycles_per_alert"]["median"] for r in with_out],
            [r["output_cycles_per_alert"]["spread"] for r in with_out],
            "Output cycles per alert by strategy", outdir / "compare_output.svg",
            ylabel="cycles per alert"))  # fmt: skip
    return paths


def run(args: argparse.Namespace) -> int:
    rule_files, events = split_inputs(args.inputs)
    names = strategy_names(args.strategies)
    # Checked before minutes of measuring, not after; nothing is created until the end.
    check_rules_files(rule_files)
    check_events_file(events)
    if args.output:
        check_output(args.output, directory=True)
    doc = compare(rule_files, events, names, args.repeat, progress=sys.stderr.isatty())
    if args.output:
        doc["plots"] = [str(p) for p in write_plots(doc, Path(args.output))]
    if args.json:
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_table(doc)
    return 0 if doc["equivalent"] else 1
