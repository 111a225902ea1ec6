"""``ruleopt report RESULTS/ -o REPORT.html [--format md]``: an experiment's cells as the
proposal report (one section per proposal and one for the study's claims, verdicts
computed from the figures). Reads ``RESULTS/cells/*.json``, so a partial run reports too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "report"
HELP = "write the proposal report (HTML or Markdown) from an experiment's results directory"

FORMATS = {"html": ".html", "md": ".md"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results", metavar="RESULTS", help="the directory `ruleopt experiment` wrote"
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="REPORT",
        help="REPORT.html, or REPORT.md with --format md",
    )
    parser.add_argument(
        "--format",
        choices=tuple(FORMATS),
        default=None,
        help="html (one self-contained page) or md (Markdown, plots as SVG files beside it); "
        "default: from the output's suffix, else html",
    )


def output_format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    return "md" if Path(args.output).suffix.lower() == ".md" else "html"


def run(args: argparse.Namespace) -> int:
    from ruleopt.errors import RuleoptError
    from ruleopt.fsutil import check_input_file, check_output_file, shown, staged_dir, write_text

    fmt = output_format(args)
    out = check_output_file(args.output, suffix=FORMATS[fmt])
    if not Path(args.results).is_dir():
        check_input_file(args.results, "results directory")  # a located reason if missing
        raise RuleoptError(
            "the results must be a directory",
            file=shown(args.results),
            hint="pass the directory `ruleopt experiment FILE.yaml -o RESULTS/` wrote",
        )
    from ruleopt.report.load import load_results
    from ruleopt.report.sections import build_report

    results = load_results(args.results)
    report = build_report(results)
    if fmt == "html":
        from ruleopt.report.html import render_html

        write_text(out, render_html(report))
        written = [out]
    else:
        from ruleopt.report.markdown import render_markdown

        files = render_markdown(report, out.stem)
        # The .md and its plots appear together or not at all.
        with staged_dir(out.parent if str(out.parent) else Path(".")) as (staging, moved):
            for name, text in files.items():
                write_text(staging / name, text)
        written = [p for p in moved if p.name == out.name] + [
            p for p in moved if p.name != out.name
        ]
    for v in report.verdicts:
        print(v.sentence())
    missing = results.failed + results.unreadable
    print(
        f"cells: {len(results.cells)} ok, {len(results.failed)} failed, "
        f"{len(results.unreadable)} unreadable"
        + (" (listed in the report's Cells section)" if missing else "")
    )
    print(
        f"wrote {written[0]}"
        + (f" and {len(written) - 1} plot(s) beside it" if len(written) > 1 else "")
    )
    return 0
