"""``ruleopt check``: load rules files and summarise what the evttype index makes of them."""

from __future__ import annotations

import argparse
import json
import sys

from ruleopt.commands.inputs import check_rules_files
from ruleopt.defaults import DEFAULT_RULES
from ruleopt.errors import RuleoptError
from ruleopt.rules.loader import load_rules, load_rules_collect
from ruleopt.rules.model import GENERIC_TYPES, OTHER_TYPES, SYSCALL_SOURCE, RuleSet

NAME = "check"
HELP = "load Falco rules files, report errors, warnings and rules per event type"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="rules files, loaded in order (default: the bundled seed_rules.yaml)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (counts, rules per event type, warnings, errors)",
    )


def summary(ruleset: RuleSet) -> dict:
    """The JSON-able facts ``check`` reports about a loaded ruleset."""
    per_type = {name: [r.name for r in rules] for name, rules in ruleset.by_evttype().items()}
    return {
        "rules": len(ruleset.rules),
        "enabled_rules": len(ruleset.enabled_rules()),
        "macros": len(ruleset.macros),
        "lists": len(ruleset.lists),
        "required_engine_version": ruleset.required_engine_version,
        "rules_per_evttype": per_type,
        "all_evttype_rules": [r.name for r in ruleset.all_evttype_rules()],
        # Only syscall rules enter the evttype index; plugin-source rules are listed here.
        "rules_per_source": {
            src: [r.name for r in rules] for src, rules in ruleset.by_source().items()
        },
        "rule_evttypes": {r.name: r.evttypes.to_dict() for r in ruleset.enabled_rules()},
        "warnings": [w.to_dict() for w in ruleset.warnings],
    }


def run(args: argparse.Namespace) -> int:
    files = args.files or [str(DEFAULT_RULES)]
    if args.json:
        # A path that cannot be read is one more error in the document; the readable
        # files are still loaded.
        path_errors, readable = [], []
        for f in files:
            try:
                check_rules_files([f])
                readable.append(f)
            except RuleoptError as err:
                path_errors.append(err)
        ruleset, errors = load_rules_collect(readable)
        out = summary(ruleset)
        out["files"] = files
        out["errors"] = [e.to_dict() for e in path_errors + errors]
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 1 if path_errors or errors else 0
    # Without --json the first error stops the load; the CLI prints it located.
    check_rules_files(files)
    ruleset = load_rules(files)
    _print_summary(ruleset, files)
    return 0


def _print_summary(ruleset: RuleSet, files: list[str]) -> None:
    from rich.table import Table

    from ruleopt.console import clip, console, styled

    out = console()
    data = summary(ruleset)
    out.print(styled(("Loaded", "bold"), f" {', '.join(files)}"))
    out.print(
        f"rules: {data['rules']} ({data['enabled_rules']} enabled)  "
        f"macros: {data['macros']}  lists: {data['lists']}"
    )
    others = {s: r for s, r in data["rules_per_source"].items() if s != SYSCALL_SOURCE}
    for src, names in others.items():
        out.print(
            f"source {clip(src)}: {len(names)} enabled rule(s), not in the syscall event-type index"
        )
    table = Table(title="Enabled syscall rules per event type")
    table.add_column("event type")
    table.add_column("rules", justify="right")
    table.add_column("rule names", overflow="fold")
    for name, rules in sorted(
        data["rules_per_evttype"].items(), key=lambda kv: (-len(kv[1]), kv[0])
    ):
        label = {OTHER_TYPES: "(any other)", GENERIC_TYPES: "(generic syscalls)"}.get(name, name)
        table.add_row(label, str(len(rules)), ", ".join(clip(r) for r in rules))
    out.print(table)
    if data["all_evttype_rules"]:
        out.print(styled(("Rules that run on every event type:", "yellow")))
        for name in data["all_evttype_rules"]:
            out.print(f"  {clip(name)}")
    if ruleset.warnings:
        out.print(styled((f"{len(ruleset.warnings)} warning(s):", "yellow")))
        for w in ruleset.warnings:
            out.print(f"  {clip(str(w), 2000)}")
