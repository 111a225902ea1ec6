"""``ruleopt harness``: profile the real libsinsp 2022 on a capture (the study's offline report).

Loads the rules, runs every enabled rule libsinsp can judge through the instrumented
harness (its own filter compiler, Falco's event-type index), writes the profile
directory (profile.json, stacks.dot, stacks.folded, plots) and prints where the cycles
went next to the study's figures.
"""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ruleopt.commands import bounds
from ruleopt.commands.inputs import check_capture, check_output, check_rules_files
from ruleopt.commands.rule_rows import rule_row, rules_table, sampling_caption
from ruleopt.console import console as new_console
from ruleopt.engine.verify import unsupported_reason
from ruleopt.errors import RuleoptError
from ruleopt.events.sinsp import run_harness
from ruleopt.experiment.study import STUDY_MATCHED, STUDY_RULE, STUDY_UNMATCHED
from ruleopt.profile.harness_report import profile_from_harness
from ruleopt.profile.model import Profile
from ruleopt.profile.writers import write_profile_dir
from ruleopt.rules.ast import print_expr
from ruleopt.rules.loader import load_rules

NAME = "harness"
HELP = "profile libsinsp 2022's rule checks on a .scap capture (cycles per rule and per next())"

TOP = 15


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="RULES", help="rules files, loaded in order")
    parser.add_argument(
        "--trace", required=True, metavar="CAPTURE.scap", help="capture to replay through libsinsp"
    )
    parser.add_argument(
        "--repeat",
        type=bounds.repeat,
        default=1,
        metavar="N",
        help="passes over the capture (default 1)",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DIR",
        help="directory for profile.json, stacks.dot, stacks.folded and plots",
    )
    parser.add_argument(
        "--sample",
        type=bounds.sample,
        default=1,
        metavar="N",
        help="sampled tracing: time next() and the checks of 1 in N events (each event "
        "independently); every check is still counted and each rule's cycles are estimated "
        "with a 95%% confidence interval (default 1: every event)",
    )
    parser.add_argument(
        "--seed",
        type=bounds.count(0, (1 << 64) - 1, "", " (a 64-bit seed)"),
        metavar="S",
        help="seed of --sample's draws (default: fresh each run)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the SVG plots")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    if args.seed is not None and args.sample == 1:
        raise RuleoptError("--seed draws --sample's timed events: give --sample N (N > 1) too")
    check_rules_files(args.files)
    check_capture(args.trace)
    check_output(args.output, directory=True)
    most = bounds.capture_events_bound(args.trace)
    bounds.check_work(
        most * args.repeat,
        f"--repeat {args.repeat:,} over up to {most:,} events (from the capture's size)",
        "use a smaller --repeat",
    )
    ruleset = load_rules(args.files)
    judged, skipped = [], []
    for rule in ruleset.enabled_rules():
        reason = unsupported_reason(rule)
        if reason:
            skipped.append({"rule": rule.name, "reason": reason})
        else:
            judged.append(rule)
    if not judged:
        raise RuleoptError(
            "no enabled rule that libsinsp 2022 can judge",
            file=args.files[0],
            hint="check the rules' source and fields",
        )
    console = new_console(stderr=args.json)
    with console.status(
        f"libsinsp harness: {len(judged)} rules, {args.trace}, {args.repeat} pass(es)"
    ):
        doc = run_harness(
            args.trace,
            [(r.id, r.name, print_expr(r.condition)) for r in judged],
            args.repeat,
            sample=args.sample,
            seed=secrets.randbits(64) if args.seed is None else args.seed,
        )
    profile = profile_from_harness(doc)
    profile.settings.update({"rules_files": [str(f) for f in args.files], "skipped_rules": skipped})
    with console.status(f"writing {args.output}"):
        files = write_profile_dir(profile, args.output, plots=not args.no_plots)
    summary = report(profile, files)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        _print(console, profile, summary)
    return 0


def report(profile: Profile, files: list[Path]) -> dict:
    """The JSON summary: headline figures, the study's for scale, top rules, files."""
    out = profile.summary()
    out.update(
        {
            "study": {
                "cycles_per_check_unmatched": STUDY_UNMATCHED,
                "cycles_per_check_matched": STUDY_MATCHED,
                "rule": STUDY_RULE,
            },
            "rdtsc_overhead": profile.settings.get("rdtsc_overhead"),
            "rejected_rules": profile.settings.get("rejected_rules", []),
            "skipped_rules": profile.settings.get("skipped_rules", []),
            "sampling": profile.settings.get("sampling"),
            "pass_cycles": profile.settings.get("pass_cycles"),
            "top_rules": [rule_row(r) for r in profile.top_rules(TOP)],
            "files": [str(f) for f in files],
        }
    )
    return out


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _print(console: Console, profile: Profile, s: dict) -> None:
    sampling = s.get("sampling") or {}
    sampled = sampling.get("sample", 1) > 1
    console.print(
        rules_table(
            f"libsinsp 2022: top {len(s['top_rules'])} rules by total cycles "
            f"({s['events']} events x {s['repeat']} passes; mean cycles per check)",
            s["top_rules"],
            sampled,
        )
    )
    if sampled:
        console.print(sampling_caption(sampling))
    per = Table(title="cycles per operation (mean, raw rdtsc)")
    per.add_column("")
    per.add_column("this run", justify="right")
    per.add_column("study (Write below etc)", justify="right")
    per.add_row(
        "per check, unmatched", _fmt(s["cycles_per_check_unmatched"]), f"~{STUDY_UNMATCHED:,}"
    )
    per.add_row(
        "per check, matched",
        _fmt(s["cycles_per_check_matched"])
        if s["cycles_per_check_matched"] is not None
        else "- (no match)",
        f"~{STUDY_MATCHED:,}",
    )
    per.add_row("per next()", _fmt(s["cycles_per_next"]), "-")
    console.print(per)
    console.print(
        f"rules profiled {s['rules']}, rejected by libsinsp {len(s['rejected_rules'])}, "
        f"skipped (not judgeable) {len(s['skipped_rules'])}; "
        f"rdtsc overhead {s['rdtsc_overhead']} cycles per measurement"
    )
    for f in s["files"]:
        console.print(f"wrote {f}")
