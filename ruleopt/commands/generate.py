"""``ruleopt generate``: write a seeded synthetic workload (an EventTable .npz) for rules."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ruleopt.errors import RuleoptError

NAME = "generate"
HELP = "generate a seeded synthetic event workload for a ruleset, with rule-breaking events"


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of events, got {value}")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-r", "--rules", nargs="+", required=True, metavar="RULES",
                        help="Falco rules files, loaded in order")  # fmt: skip
    parser.add_argument("-n", "--events", type=_positive_int, required=True, metavar="N",
                        help="number of events to generate")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--break-share", type=_share, default=0.01, metavar="F",
                        help="share of events built to break a rule (default 0.01)")  # fmt: skip
    parser.add_argument("-o", "--output", required=True, metavar="FILE.npz",
                        help="where to write the event table (written atomically)")  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ruleopt.events.generator import GenerationReport, generate
    from ruleopt.rules.loader import load_rules

    out = Path(args.output)
    # Check the destination before minutes of work, not after.
    if out.suffix.lower() != ".npz":
        # Every command finds an EventTable by its .npz suffix.
        raise RuleoptError("the output must be an .npz file", file=str(out),
                           hint=f"e.g. -o {out.with_suffix('.npz')}")  # fmt: skip
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise RuleoptError("output directory does not exist", file=str(out.parent),
                           hint="create it first, or pick another -o path")  # fmt: skip
    if out.is_dir():
        raise RuleoptError("output path is a directory", file=str(out),
                           hint="give a file name, e.g. -o workload.npz")  # fmt: skip
    for path in args.rules:
        if not Path(path).is_file():
            raise RuleoptError("no such rules file", file=str(path),
                               hint="pass existing Falco rules YAML files with -r")  # fmt: skip
    rules = load_rules(args.rules)
    report = GenerationReport(args.events, args.seed, args.break_share)
    table = generate(rules, args.events, args.seed, args.break_share,
                     progress=not args.quiet and sys.stderr.isatty(), report=report)  # fmt: skip
    table.save(out)
    _print_summary(report, out)
    return 0


def _print_summary(rep, out: Path) -> None:
    with_t = len(rep.rules_with_templates)
    without = rep.rules_without
    print(f"wrote {out}: {rep.events} events, seed {rep.seed}")
    print(f"breaking events: {rep.breaking} ({rep.break_share:.2%} asked)")
    print(f"rules with templates: {with_t}, without: {len(without)}")
    for name, reason in without.items():
        print(f"  no template: {name}: {reason}")
    if rep.columns_absent:
        print(f"fields absent everywhere: {', '.join(rep.columns_absent)}")
    if rep.unknown_fields:
        print(f"unknown fields: {', '.join(rep.unknown_fields)}")
    print(f"time: {rep.seconds:.2f}s")
