"""``ruleopt optimize``: a Falco rules file with proven rewrites applied.

Writes one rules file that Falco loads unchanged (same rules, in order, with the same
names, priorities, outputs, tags, sources and enabled flags; macros and lists kept),
each rewritten item preceded by a comment saying what changed. Nothing is written unless
the rewritten file is proven equivalent: each rewrite is one of ``ruleopt.rewrite.rules``
(property-tested), and both files give the same alerts rule by rule on every EVENTS
file, under the reference evaluator and, on captures, under libsinsp 2022.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ruleopt.commands.inputs import check_events_file, check_output, check_rules_files
from ruleopt.console import console as new_console
from ruleopt.errors import RuleoptError

NAME = "optimize"
HELP = "write an equivalent, faster rules file (proven rewrites, checked on EVENTS)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="RULES.yaml|EVENTS",
        help="rules files (.yaml/.yml, loaded in order), then event files to "
        "measure and check on (.scap captures, .npz tables, .jsonl)",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="OPTIMIZED.yaml", help="the rules file to write"
    )
    parser.add_argument(
        "--json", action="store_true", help="print what was rewritten and checked as JSON"
    )


def _split(inputs: list[str]) -> tuple[list[str], list[str]]:
    rules = [p for p in inputs if p.lower().endswith((".yaml", ".yml"))]
    events = [p for p in inputs if not p.lower().endswith((".yaml", ".yml"))]
    if not rules:
        raise RuleoptError("no rules file given", hint="pass one or more Falco rules .yaml files")
    return rules, events


def run(args: argparse.Namespace) -> int:
    from ruleopt.events.load import input_kind, load_events
    from ruleopt.fsutil import write_text
    from ruleopt.rewrite.measure import measure_effect
    from ruleopt.rewrite.optimize import optimize
    from ruleopt.rules.loader import load_rules

    rules_files, event_files = _split(args.inputs)
    check_rules_files(rules_files)
    for e in event_files:
        check_events_file(e)
    check_output(args.output, directory=False, suffix=None)
    if any(Path(args.output).resolve() == Path(f).resolve() for f in rules_files):
        raise RuleoptError(
            "the output would overwrite an input rules file",
            file=args.output,
            hint="write the optimized file elsewhere",
        )
    console = new_console(stderr=True)
    original = load_rules(rules_files)
    sources = []
    for e in event_files:
        with console.status(f"reading {e}"):
            sources.append(
                (load_events(e, original), Path(e) if input_kind(e) == "capture" else None)
            )
    header = [
        "Written by `ruleopt optimize` from "
        + ", ".join(Path(f).name for f in rules_files)
        + ": the same rules, with the rewrites noted above each item; every rewrite",
        "is an equivalence, checked on "
        + (", ".join(Path(e).name for e in event_files) or "no events (structure only)")
        + ".",
    ]
    with console.status("rewriting and checking"):
        result = optimize(rules_files, sources, header)
    captures = [cap for _t, cap in sources if cap is not None]
    effect = None
    if captures and result.rewrites:
        with console.status(f"measuring on {captures[0]}"):
            effect = measure_effect(original, result.ruleset, captures[0])
        text = result.with_notes(header + [effect.summary()], effect.per_rule_notes())
    else:
        text = result.text
    write_text(args.output, text)
    report = {
        "output": args.output,
        "rewritten": [
            {
                "kind": r.kind,
                "name": r.name,
                "changes": r.changes,
                "before": r.before,
                "after": r.after,
            }
            for r in result.rewrites
        ],
        "reverted": result.reverted,
        "checked_on": [
            {"events": src, "rules": len(ds), "differ": sum(d.status != "same" for d in ds)}
            for src, ds in result.diffs
        ],
        "effect": effect.to_dict() if effect else None,
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    out = new_console()
    out.print(
        f"wrote {args.output}: {len(result.rewrites)} item(s) rewritten "
        f"({sum(r.kind == 'rule' for r in result.rewrites)} rules, "
        f"{sum(r.kind == 'macro' for r in result.rewrites)} macros)"
    )
    for src, ds in result.diffs:
        out.print(f"  same alerts rule by rule on {src}: {len(ds)} rules, 0 differ")
    if result.reverted:
        out.print("  kept as written (not proven on the events): " + ", ".join(result.reverted))
    if effect:
        out.print("  " + effect.summary())
    return 0
