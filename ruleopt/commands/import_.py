"""``ruleopt import``: a capture or JSON Lines file -> an EventTable (.npz) for these rules.

Importing once and evaluating many times keeps libsinsp (slow, and only on machines that
have it) out of every later run: the table holds exactly the columns the rules read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ruleopt.commands.inputs import check_output, check_rules_files
from ruleopt.errors import RuleoptError

NAME = "import"
HELP = "extract the fields a ruleset reads from a capture (.scap) or JSON Lines file into a table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input",
        metavar="CAPTURE_OR_JSONL",
        help="a libsinsp capture (.scap) or JSON Lines events (.jsonl)",
    )
    parser.add_argument(
        "-r",
        "--rules",
        metavar="RULES",
        nargs="+",
        action="extend",
        required=True,
        help="Falco rules files, in load order",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE.npz", required=True, help="where to write the event table"
    )


def run(args: argparse.Namespace) -> int:
    from ruleopt.console import console as new_console
    from ruleopt.events.load import input_kind, needed_keys, read_events
    from ruleopt.rules.loader import load_rules

    src = Path(args.input)
    out = Path(args.output)
    # Every path is checked now, not at save time: extraction may take a while.
    check_output(out, directory=False, suffix=".npz")
    check_input(src)
    check_rules_files(args.rules)
    if input_kind(src) == "table":
        raise RuleoptError(
            "already an event table; nothing to import",
            file=str(src),
            hint="pass it directly to the commands that read events",
        )

    rules = load_rules(args.rules)
    keys = needed_keys(rules)
    console = new_console(stderr=True)
    with console.status(f"reading {src.name}"):
        table = read_events(src, keys)
    table.save(out)

    absent = list(table.meta.get("absent_fields", []))
    # Fields libsinsp knows but that never occur in this input are worth a line too:
    # every rule reading only them is silently dead on this workload.
    never = [k for k, c in table.columns.items() if k not in absent and not c.present.any()]
    print(f"wrote {out}")
    print(f"  events:  {table.n}")
    print(f"  columns: {len(table.columns)}")
    print(f"  strings: {len(table.strings)}")
    print(
        f"  absent fields (unknown to libsinsp 2022): {len(absent)}"
        + (f"  {', '.join(absent)}" if absent else "")
    )
    print(
        f"  fields absent on every event: {len(never)}" + (f"  {', '.join(never)}" if never else "")
    )
    return 0


def check_input(src: Path) -> None:
    """Clear errors before any reader sees the file: an invalid name, missing, not a
    regular readable file (a directory, a FIFO, a device), an unknown kind, empty."""
    from ruleopt.events.load import input_kind
    from ruleopt.fsutil import check_input_file

    check_input_file(src, "file", hint="pass an existing .scap capture or .jsonl file")
    input_kind(src)
    if src.stat().st_size == 0:
        raise RuleoptError("the file is empty: no events", file=str(src))
