"""``ruleopt experiment FILE.yaml -o RESULTS/``: run an experiment's grid of cells (see
``ruleopt.experiment``), locally in processes or on a Dask cluster; resumable."""

from __future__ import annotations

import argparse
import sys

from ruleopt.errors import RuleoptError

NAME = "experiment"
HELP = (
    "run an experiment (experiments/*.yaml): every cell of its grid, one JSON each in "
    "RESULTS/cells/, resumable, locally or on a Dask cluster; then RESULTS/results.parquet"
)
MAX_WORKERS = 1024
MAX_ERRORS_SHOWN = 8


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= n <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_WORKERS}, got {n}")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="FILE.yaml", help="the experiment definition")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="RESULTS",
        help="results directory (created; an existing one is resumed: finished cells "
        "whose inputs did not change are not rerun)",
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default=None,
        metavar="N",
        help="local processes running cells at once (default: the machine's cores); "
        "cells measured side by side share the machine, so 1 gives the quietest figures",
    )
    parser.add_argument(
        "--dask",
        metavar="SCHEDULER",
        default=None,
        help="run the cells on an existing Dask distributed cluster, e.g. "
        "tcp://10.0.0.1:8786 (RESULTS, the rules files and captures must be on storage "
        "every worker sees at the same paths)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ruleopt.experiment.grid import expand
    from ruleopt.experiment.runner import run_experiment
    from ruleopt.experiment.spec import load_spec
    from ruleopt.fsutil import check_output_dir

    if args.dask is not None and args.workers is not None:
        raise RuleoptError(
            "--workers is for local runs; with --dask the cluster's workers run the cells",
            hint="drop --workers (start more `dask worker` processes instead)",
        )
    check_output_dir(args.output)
    spec = load_spec(args.experiment)
    grid = expand(spec)
    summary = run_experiment(
        spec,
        grid,
        args.output,
        workers=args.workers,
        dask=args.dask,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    for note in summary.notes:
        print(f"note: {note}")
    if summary.stale:
        print(f"note: {summary.stale} cell file(s) of an earlier grid moved to stale/")
    print(
        f"{spec.name}: {summary.cells} cells: {summary.reused} already done, "
        f"{summary.ran} run, {len(summary.failed)} failed ({summary.elapsed_s:.1f} s)"
    )
    # Failed cells grouped by their error (a bad capture fails every cell reading it).
    by_error: dict[str, list[str]] = {}
    for doc in summary.failed:
        by_error.setdefault(str(doc.get("error")), []).append(doc["id"])
    for error, ids in list(by_error.items())[:MAX_ERRORS_SHOWN]:
        more = f" (and {len(ids) - 1} more cells)" if len(ids) > 1 else ""
        print(f"  failed {ids[0]}{more}: {error}", file=sys.stderr)
    if len(by_error) > MAX_ERRORS_SHOWN:
        print(
            f"  ... {len(by_error) - MAX_ERRORS_SHOWN} other errors: see the cells' JSON",
            file=sys.stderr,
        )
    print(f"results: {summary.results}/cells/ and {summary.parquet}")
    return 1 if summary.failed else 0
