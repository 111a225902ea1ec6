"""``ruleopt generate``: write a seeded synthetic workload for rules, as an EventTable
(``.npz``) or as a libscap capture (``.scap``) that libsinsp 2022 reads back."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ruleopt.commands import bounds
from ruleopt.commands.inputs import check_output, check_rules_files

NAME = "generate"
HELP = "generate a seeded synthetic event workload for a ruleset, with rule-breaking events"


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-r",
        "--rules",
        nargs="+",
        required=True,
        metavar="RULES",
        help="Falco rules files, loaded in order",
    )
    parser.add_argument(
        "-n",
        "--events",
        type=bounds.events,
        required=True,
        metavar="N",
        help="number of events to generate",
    )
    parser.add_argument(
        "--seed",
        type=bounds.seed,
        default=0,
        help=f"random seed, 0 to {bounds.MAX_SEED} (default 0)",
    )
    parser.add_argument(
        "--break-share",
        type=_share,
        default=0.01,
        metavar="F",
        help="share of events built to break a rule (default 0.01)",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE.npz|FILE.scap",
        help="where to write the workload: an event table (.npz) or a "
        "libscap capture (.scap); written atomically",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ruleopt.events.generator import GenerationReport, generate
    from ruleopt.events.load import needed_keys
    from ruleopt.rules.loader import load_rules

    out = Path(args.output)
    # Check the destination before minutes of work, not after. Every command finds an
    # EventTable by its .npz suffix.
    suffix = out.suffix.lower() if out.suffix.lower() in (".npz", ".scap") else ".npz"
    check_output(out, directory=False, suffix=suffix)
    check_rules_files(args.rules)
    rules = load_rules(args.rules)
    if suffix == ".scap":
        _check_capture_rules(rules, args.rules)
    bounds.check_memory(
        bounds.table_bytes(args.events, len(needed_keys(rules))),
        f"generating {args.events:,} events for these rules",
        "generate fewer events (-n)",
    )
    report = GenerationReport(args.events, args.seed, args.break_share)
    # A capture writes each call's enter or exit half: the table says which, even when
    # no rule reads evt.dir.
    table = generate(
        rules,
        args.events,
        args.seed,
        args.break_share,
        progress=not args.quiet and sys.stderr.isatty(),
        report=report,
        capture=suffix == ".scap",
    )
    if suffix == ".scap":
        from ruleopt.events.workload_scap import write_capture

        scap = write_capture(table, out, progress=not args.quiet and sys.stderr.isatty())
        _print_summary(report, out)
        _print_unsupported(rules)
        _print_capture(scap)
        return 0
    table.save(out)
    _print_summary(report, out)
    return 0


def _check_capture_rules(rules, paths: list[str]) -> None:
    """A capture carries syscall events only: refuse, before any work, rules it cannot
    serve at all (every enabled rule of another source, such as k8s_audit)."""
    from ruleopt.errors import RuleoptError

    if rules.syscall_rules():
        return
    sources = sorted(rules.by_source()) or ["none enabled"]
    raise RuleoptError(
        "these rules have no enabled syscall rule, and a .scap capture carries syscall "
        f"events only (rule sources: {', '.join(sources)})",
        file=paths[-1],
        hint="write the workload as an event table instead: -o WORKLOAD.npz",
    )


def _print_unsupported(rules) -> None:
    """Rules the real engine cannot judge on any capture (verify calls them unsupported)."""
    from ruleopt.engine.verify import unsupported_reason

    out = [(r.name, unsupported_reason(r)) for r in rules.syscall_rules()]
    out = [(name, why) for name, why in out if why]
    if out:
        print(f"rules libsinsp 2022 cannot judge ({len(out)}; verify reports them unsupported):")
        for name, why in out:
            print(f"  {name}: {why}")


def _print_capture(rep) -> None:
    """What the capture holds and, per field, what libsinsp will not read as generated."""
    print(
        f"capture: {rep.events} events, {rep.threads} threads, {rep.bytes:,} bytes "
        f"({rep.bytes / max(rep.events, 1):.1f} bytes per event)"
    )
    if rep.not_produced:
        print("fields not produced in the capture (absent or libsinsp's own value):")
        for key, why in sorted(rep.not_produced.items()):
            print(f"  {key}: {why}")
    if rep.unfaithful:
        print("fields libsinsp reads differently from the generator on some events:")
        for key, (rows, why) in sorted(rep.unfaithful.items()):
            print(f"  {key}: {rows} of {rep.events} events: {why}")


def _print_summary(rep, out: Path) -> None:
    with_t = len(rep.rules_with_templates)
    without = rep.rules_without
    print(f"wrote {out}: {rep.events} events, seed {rep.seed}")
    print(f"breaking events: {rep.breaking} ({rep.break_share:.2%} asked)")
    never = rep.never_match
    print(
        f"rules with templates: {with_t}, without: {len(without)}"
        + (f" ({len(never)} of them can never match)" if never else "")
    )
    for name, reason in without.items():
        if name not in never:
            print(f"  no template: {name}: {reason}")
    for name, reason in never.items():
        print(f"  never matches: {name}: {reason}")
    if rep.columns_absent:
        print(f"fields absent everywhere: {', '.join(rep.columns_absent)}")
    if rep.unknown_fields:
        print(f"unknown fields: {', '.join(rep.unknown_fields)}")
    print(f"time: {rep.seconds:.2f}s")
