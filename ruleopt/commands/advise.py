"""``ruleopt advise``: which rules cost what on the real engine, why, and what to change.

Per rule, libsinsp 2022 (the instrumented harness) and the replica side by side: share of
all rule-check cycles, checks and matches per 1k events, cycles per matched and unmatched
check; per top-level operand its measured cost and pass rate (each operand run as its own
libsinsp filter behind the rule's event-type guard); then ranked findings from the
validators of ``ruleopt.advise.validators``, each with its measured saving.

The real engine needs a capture: a ``.scap`` is used as is; a table (``.npz``/``.jsonl``)
or the bundled default workload is first written as a generated capture (README
"Generated captures"), and the report says which events each engine ran on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ruleopt.commands import bounds
from ruleopt.commands.inputs import check_events_file, check_output, check_rules_files
from ruleopt.console import console as new_console
from ruleopt.errors import RuleoptError

NAME = "advise"
HELP = (
    "per-rule cost on libsinsp 2022 and the replica, per-operand cost and pass rate, "
    "and ranked findings with their measured saving"
)
TOP = 15


def _codes(text: str) -> set[str]:
    from ruleopt.advise.validators import VALIDATORS

    codes = {c.strip().upper() for c in text.split(",") if c.strip()}
    unknown = sorted(codes - set(VALIDATORS))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown code(s) {', '.join(unknown)}; known: {', '.join(VALIDATORS)}"
        )
    return codes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="RULES|EVENTS",
        help="rules files (.yaml/.yml, loaded in order) and events files "
        "(.scap, .npz, .jsonl; default: the bundled workload as a "
        "generated capture); each events file is advised on in turn",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "-o", "--output", metavar="REPORT.html", help="also write a self-contained HTML page"
    )
    parser.add_argument(
        "--repeat",
        type=bounds.repeat,
        default=3,
        metavar="N",
        help="passes of libsinsp over the capture (default 3)",
    )
    parser.add_argument(
        "--select",
        type=_codes,
        metavar="CODES",
        help="only these finding codes (comma-separated, e.g. RO101,RO103)",
    )
    parser.add_argument(
        "--ignore", type=_codes, metavar="CODES", help="leave out these finding codes"
    )
    parser.add_argument(
        "--no-replica", action="store_true", help="skip the replica's side of the figures"
    )


def _split(inputs: list[str]) -> tuple[list[str], list[str]]:
    from ruleopt.commands.inputs import RULES_SUFFIXES

    rules = [p for p in inputs if p.lower().endswith(RULES_SUFFIXES)]
    events = [p for p in inputs if not p.lower().endswith(RULES_SUFFIXES)]
    return rules, events


def run(args: argparse.Namespace) -> int:
    rule_files, events_files = _split(args.inputs)
    if not rule_files:
        raise RuleoptError("no rules file given", hint="pass Falco rules files (.yaml/.yml)")
    check_rules_files(rule_files)
    for e in events_files:
        check_events_file(e)
    if args.output is not None:  # '' is an empty path, refused by the check
        check_output(args.output, directory=False, suffix=".html")

    from ruleopt.rules.loader import load_rules

    err = new_console(stderr=True)
    with err.status("loading rules"):
        ruleset = load_rules(rule_files)
    reports = [_advise(ruleset, rule_files, e, args, err) for e in (events_files or [None])]
    if args.output is not None:
        from ruleopt.advise.html import render
        from ruleopt.fsutil import atomic_write

        page = render(reports)
        atomic_write(args.output, lambda fh: fh.write(page.encode("utf-8", "surrogateescape")))
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=1))
    else:
        # A table of nine columns needs ~150 characters; piped output (rich's 80 by
        # default) would squeeze the figures out of it.
        console = new_console()
        console = new_console(width=max(console.width, 150))
        for r in reports:
            _print(console, r)
        if args.output is not None:
            console.print(f"wrote {args.output}")
    return 0


def _advise(
    ruleset: Any, rule_files: list[str], events: str | None, args: argparse.Namespace, err: Console
) -> dict[str, Any]:
    from ruleopt.advise.run import advise_report, capture_for, is_capture
    from ruleopt.events.load import load_events

    with err.status(f"reading {events or 'the bundled default workload'}"):
        table = load_events(events, ruleset)
    source = events or "bundled default workload (generated, seed 0, 1% breaking)"
    # Refused before minutes of writing: the rules run, then the probes, each --repeat
    # passes over the events.
    if is_capture(events):
        bounds.check_work(
            bounds.capture_events_bound(events) * args.repeat * 2,
            f"--repeat {args.repeat:,} over the capture, twice",
            "use a smaller --repeat",
        )
    else:
        bounds.check_work(
            table.n * args.repeat * 2,
            f"--repeat {args.repeat:,} over {table.n:,} events, twice",
            "use a smaller --repeat or fewer events",
        )
    with tempfile.TemporaryDirectory(prefix="ruleopt-advise-") as tmp:
        writing = (
            contextlib.nullcontext()
            if is_capture(events)
            else err.status(f"writing {table.n:,} events as a generated capture")
        )
        with writing:
            capture, note = capture_for(table, events, Path(tmp))
        with err.status("libsinsp harness: the rules, then one probe per operand"):
            return advise_report(
                ruleset,
                rule_files,
                table,
                events,
                source,
                capture,
                note,
                repeat=args.repeat,
                replica=not args.no_replica,
                select=args.select,
                ignore=args.ignore,
            )


def _fmt(x: float | None, digits: int = 0) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _print(console: Console, rep: dict[str, Any]) -> None:
    ev = rep["events"]
    table = Table(
        title=f"top rules by cost: libsinsp 2022 on {ev['real_engine']} "
        f"({ev['real_engine_events']:,} events x {ev['repeat']}), replica on "
        f"{ev['replica_events']:,} rows"
    )
    # Figures never wrap (a number cut in two reads as two); the names take what is left.
    table.add_column("rule", overflow="ellipsis", no_wrap=True, max_width=40)
    for col in (
        "share",
        "checks/1k",
        "matches/1k",
        "cyc/unm",
        "cyc/match",
        "replica share",
        "replica cyc/unm",
    ):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("event types", overflow="ellipsis", no_wrap=True, max_width=18)
    for r in rep["rules"][:TOP]:
        rp = r.get("replica") or {}
        table.add_row(
            r["name"] if r["status"] == "ok" else f"{r['name']} ({r['status']})",
            f"{100 * r['share_of_cycles']:.1f}%",
            _fmt(r["checks_per_1k"], 1),
            _fmt(r["matches_per_1k"], 2),
            _fmt(r["cycles_per_unmatched"]),
            _fmt(r["cycles_per_matched"]),
            f"{100 * rp['share_of_cycles']:.1f}%" if rp else "-",
            _fmt(rp.get("cycles_per_unmatched")) if rp else "-",
            r["evttypes"],
        )
    console.print(table)
    finds = Table(title="findings, largest measured saving first (cycles per 1k events)")
    finds.add_column("code")
    finds.add_column("rule", max_width=30, overflow="ellipsis")
    finds.add_column("saving", justify="right")
    finds.add_column("finding", overflow="fold")
    for f in rep["findings"]:
        finds.add_row(f["code"], f["rule"], _fmt(f["saving"]), f["message"])
    console.print(finds)
    console.print(
        f"rule checks cost {_fmt(rep['total_rule_cycles_per_1k'])} cycles per 1k "
        f"events on libsinsp 2022; {len(rep['findings'])} finding(s)"
    )
