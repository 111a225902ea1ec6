"""``ruleopt verify``: every rule's matches, ours against libsinsp's, on real captures."""

from __future__ import annotations

import argparse
import json
from collections import Counter

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ruleopt.commands.inputs import check_capture, check_rules_files
from ruleopt.console import clip
from ruleopt.console import console as new_console
from ruleopt.defaults import DEFAULT_RULES
from ruleopt.engine.verify import verify_capture
from ruleopt.rules.loader import load_rules

NAME = "verify"
HELP = "differential check: reference evaluator vs libsinsp's filters on .scap captures"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        metavar="RULES",
        help="rules files, loaded in order (default: the bundled ruleset)",
    )
    parser.add_argument(
        "--trace",
        action="append",
        required=True,
        metavar="CAPTURE.scap",
        help="capture to check on (repeat the option for several)",
    )
    parser.add_argument("--json", action="store_true", help="print the verdicts as JSON")


def run(args: argparse.Namespace) -> int:
    files = args.files or [DEFAULT_RULES]
    check_rules_files(files)
    for trace in args.trace:
        check_capture(trace)
    ruleset = load_rules(files)
    reports = []
    console = new_console(stderr=args.json)
    for trace in args.trace:
        with console.status(f"verifying on {trace}"):
            verdicts = verify_capture(ruleset, trace)
        counts = Counter(v.status for v in verdicts)
        reports.append(
            {
                "trace": trace,
                "rules": [v.to_dict() for v in verdicts],
                "counts": {k: counts.get(k, 0) for k in ("same", "differ", "unsupported")},
            }
        )
        if not args.json:
            _print(console, trace, verdicts, counts)
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=1))
    return 1 if any(r["counts"]["differ"] for r in reports) else 0


def _print(console: Console, trace: str, verdicts, counts) -> None:
    table = Table(title=f"verify: {trace}")
    table.add_column("rule")
    table.add_column("ours", justify="right")
    table.add_column("libsinsp", justify="right")
    table.add_column("status")
    table.add_column("note")
    style = {"same": "green", "differ": "bold red", "unsupported": "yellow"}
    for v in verdicts:
        note = v.reason or ""
        if v.status == "differ":
            note = f"first differing evt.num {v.first_difference}" + (f"; {note}" if note else "")
        lib = "-" if v.status == "unsupported" else str(len(v.libsinsp))
        table.add_row(clip(v.rule), str(len(v.ours)), lib, Text(v.status, style[v.status]), note)
    console.print(table)
    console.print(
        f"same {counts.get('same', 0)}, differ {counts.get('differ', 0)}, "
        f"unsupported {counts.get('unsupported', 0)}"
    )
