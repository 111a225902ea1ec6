"""``ruleopt profile``: where the replica core's cycles go, per rule and per stage.

Loads the rules (default: the bundled seed ruleset) and the events (an EventTable
``.npz``, a ``.scap`` capture, ``.jsonl``, or the bundled default workload), compiles the
enabled rules, runs the untraced, rules-traced and stacks-traced builds of the core
(``ruleopt.profile.core_report.profile_core``), writes the profile directory
(profile.json, stacks.dot, stacks.folded, plots) and prints the top rules and the
headline: events/s, cycles per rule check and, with ``--rate``, whether the ruleset
would make Falco drop events at that rate.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ruleopt.commands import bounds
from ruleopt.commands.inputs import (
    check_events_file,
    check_output,
    check_rules_files,
    split_inputs,
)
from ruleopt.commands.rule_rows import rule_row, rules_table, sampling_caption
from ruleopt.console import console as new_console
from ruleopt.errors import RuleoptError
from ruleopt.profile.model import Profile

NAME = "profile"
HELP = (
    "profile the replica core: cycles per rule check and per loop stage; events/s; "
    "with --rate, dropped events"
)

DEFAULT_OUTPUT = "profile-out"
DEFAULT_REPEAT = 3
DEFAULT_BUFFER = 8192
TOP = 15


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="RULES... [EVENTS]",
        help="rules files (.yaml/.yml, loaded in order; default: the bundled seed rules) and "
        "at most one events file (.npz, .scap or .jsonl; default: the bundled workload)",
    )
    parser.add_argument(
        "-o",
        "--output",
        default=DEFAULT_OUTPUT,
        metavar="DIR",
        help=f"directory for profile.json, stacks.dot, stacks.folded and "
        f"plots (default {DEFAULT_OUTPUT}/)",
    )
    parser.add_argument(
        "--repeat",
        type=bounds.repeat,
        default=DEFAULT_REPEAT,
        metavar="N",
        help=f"measured passes per build (default {DEFAULT_REPEAT})",
    )
    parser.add_argument(
        "--rate",
        type=bounds.rate,
        metavar="EV_PER_S",
        help="also replay the events at this rate into a ring buffer: "
        "reports drops and SCAP_TIMEOUT polls",
    )
    parser.add_argument(
        "--buffer",
        type=bounds.buffer,
        metavar="N",
        help=f"ring slots for --rate (default {DEFAULT_BUFFER})",
    )
    parser.add_argument(
        "--sample",
        type=bounds.sample,
        default=1,
        metavar="N",
        help="sampled tracing: the rules-traced passes time the checks of 1 in N events "
        "(each event independently), and each rule's cycles are estimated with a 95%% "
        "confidence interval (default 1: every event)",
    )
    parser.add_argument(
        "--seed",
        type=bounds.count(0, (1 << 64) - 1, "", " (a 64-bit seed)"),
        metavar="S",
        help="seed of --sample's draws (default: fresh each run)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--no-plots", action="store_true", help="skip the SVG plots")


def _check_paths(rules: list[str], events: str | None, output: str) -> None:
    # Everything a user can get wrong is checked before minutes of measuring.
    check_rules_files(rules)
    check_events_file(events)
    check_output(output, directory=True)


def run(args: argparse.Namespace) -> int:
    from ruleopt.defaults import DEFAULT_RULES

    if args.buffer is not None and args.rate is None:
        raise RuleoptError("--buffer sets the ring of a rate replay: give --rate too")
    if args.seed is not None and args.sample == 1:
        raise RuleoptError("--seed draws --sample's timed events: give --sample N (N > 1) too")
    buffer = args.buffer or DEFAULT_BUFFER
    rule_files, events = split_inputs(args.inputs)
    if not rule_files:
        rule_files = [str(DEFAULT_RULES)]
    _check_paths(rule_files, events, args.output)

    from ruleopt.engine.compile import compile_rules
    from ruleopt.events.load import load_events
    from ruleopt.profile.core_report import profile_core
    from ruleopt.profile.writers import write_profile_dir
    from ruleopt.rules.loader import load_rules

    err = new_console(stderr=True)
    console = err if args.json else new_console()
    with err.status("loading rules and events"):
        ruleset = load_rules(rule_files)
        table = load_events(events, ruleset)
    with err.status(f"compiling {len(ruleset.enabled_rules())} enabled rules"):
        compiled = compile_rules(ruleset.rules, table)
    if compiled.n_rules == 0:
        raise RuleoptError(
            "no enabled syscall rule to profile",
            file=rule_files[0],
            hint="check that the rules files enable at least one rule",
        )
    per_round = 3 + (args.rate is not None)
    total = per_round * (args.repeat + 1)  # + one warm-up pass per build
    bounds.check_work(
        total * table.n,
        f"--repeat {args.repeat:,} x {per_round} builds x {table.n:,} events",
        "use a smaller --repeat or fewer events",
    )
    if args.rate is not None:
        bounds.check_rate(args.rate, table.n, buffer)
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with progress:
        task = progress.add_task(
            f"profiling {compiled.n_rules} rules on {table.n} events", total=total
        )
        profile = profile_core(
            compiled,
            table,
            repeat=args.repeat,
            rate=args.rate,
            buffer=buffer,
            rules=ruleset.rules,
            on_pass=lambda label: progress.advance(task),
            sample=args.sample,
            seed=args.seed,
            settings={
                "rules_files": [str(f) for f in rule_files],
                "events": events or "default workload",
            },
        )
    with err.status(f"writing {args.output}"):
        files = write_profile_dir(profile, args.output, plots=not args.no_plots)
    summary = report(profile, files)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        _print(console, summary)
    return 0


def report(profile: Profile, files: list[Path]) -> dict[str, Any]:
    """The JSON summary: the model's summary, the core's headline, top rules, files."""
    out = profile.summary()
    s = profile.settings
    out.update(
        {
            "headline": s.get("headline", {}),
            "builds": {
                b: {k: v for k, v in d.items() if k != "cycles_per_pass"}
                for b, d in (s.get("builds") or {}).items()
            },
            "rate_replay": s.get("rate_replay"),
            "sampling": s.get("sampling"),
            "stages": {
                name: {key: {"count": h.count, "mean": h.mean} for key, h in sp.branches.items()}
                for name, sp in profile.stages.items()
            },
            "top_rules": [rule_row(r) for r in profile.top_rules(TOP)],
            "files": [str(f) for f in files],
        }
    )
    return out


def _fmt(x: float | None, digits: int = 0) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _print(console: Console, s: dict[str, Any]) -> None:
    sampling = s.get("sampling") or {}
    sampled = sampling.get("sample", 1) > 1
    console.print(
        rules_table(
            f"{s['engine']}: top {len(s['top_rules'])} rules by total cycles "
            f"({s['events']:,} events x {s['repeat']} passes; mean cycles per "
            f"check, unmatched and matched)",
            s["top_rules"],
            sampled,
        )
    )
    if sampled:
        console.print(sampling_caption(sampling))

    stages = Table(title="cycles per stage: mean \\[iterations], stacks-traced build")
    stages.add_column("stage")
    keys = [
        k
        for k in ("SCAP_TIMEOUT", "RULES_UNBROKEN", "RULES_BROKEN")
        if any(k in b for b in s["stages"].values())
    ]
    for k in keys:
        stages.add_column(k, justify="right")
    for name, branches in s["stages"].items():
        stages.add_row(
            name,
            *[
                f"{_fmt(branches[k]['mean'])} [{branches[k]['count']:,}]" if k in branches else "-"
                for k in keys
            ],
        )
    console.print(stages)

    h = s["headline"]
    head = Table(title="headline", show_header=False)
    head.add_column("")
    head.add_column("", justify="right")
    sp = h.get("events_per_second_spread") or {}
    head.add_row(
        "events/s (untraced, median)",
        f"{_fmt(h.get('events_per_second'))} "
        f"(min {_fmt(sp.get('min'))}, max {_fmt(sp.get('max'))})",
    )
    head.add_row("cycles per event (untraced)", _fmt(h.get("cycles_per_event"), 1))
    head.add_row("rule checks per event", _fmt(h.get("rule_checks_per_event"), 2))
    head.add_row(
        "cycles per check, unmatched (rules build)", _fmt(h.get("cycles_per_check_unmatched"), 1)
    )
    head.add_row(
        "cycles per check, matched (rules build)",
        _fmt(h.get("cycles_per_check_matched"), 1)
        if h.get("cycles_per_check_matched") is not None
        else "- (no match)",
    )
    head.add_row(
        "cycles per check, untraced bound", _fmt(h.get("untraced_cycles_per_check_bound"), 1)
    )
    for b, d in s["builds"].items():
        if b != "untraced" and d.get("overhead_vs_untraced") is not None:
            label = f"{b}-traced build overhead"
            if b == "rules" and sampled:
                label = f"rules-traced build overhead (1 in {sampling['sample']:,} sampled)"
            head.add_row(label, f"{100 * d['overhead_vs_untraced']:+.1f}%")
    rr = s.get("rate_replay")
    if rr:
        verdict = "DROPS events" if rr["drops"] else "keeps up"
        head.add_row(
            f"at {_fmt(rr['rate'])} ev/s, ring {rr['buffer']:,}",
            f"{verdict}: {rr['drops']:,} dropped ({100 * rr['drop_share']:.2f}%)",
        )
        head.add_row("SCAP_TIMEOUT iterations (empty ring)", f"{rr['scap_timeouts']:,}")
    console.print(head)
    for f in s["files"]:
        console.print(f"wrote {f}")
