"""How ``ruleopt check`` and ``ruleopt compare`` grow with the size of one condition.

Each rules file holds one rule ``evt.type = open and (...)`` whose inner condition has N
comparisons on ``fd.name``, in one of three shapes:

- ``or``: one flat ``or`` of N terms (``fd.name = /a0 or fd.name = /a1 or ...``);
- ``and``: one flat ``and`` of N terms (``fd.name != /a0 and ...``);
- ``alt``: N levels of alternating nesting (``/aN and (/aN-1 or (/aN-2 and ...))``).

Every command runs in this process through the CLI entry point (so interpreter start-up
is not counted; one warm-up run builds the grammar first), timed in CPU seconds;
``compare`` uses its default workload (200,000 events generated from the rule) and every
strategy, one repeat. The ratio column is time(largest) / time(smallest): with sizes 1k
and 20k, about 20 means linear growth, 400 quadratic. A command that refuses a size
(the loader refuses conditions nested more than 1,000 levels deep, with a located error)
is shown as refused.

    python experiments/bench_scaling.py                       # check and compare, 1k 5k 20k
    python experiments/bench_scaling.py --commands check --sizes 1000,9000,20000
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ruleopt.cli import main as cli_main  # noqa: E402

SHAPES = ("or", "and", "alt")


def condition(shape: str, n: int) -> str:
    if shape == "or":
        inner = " or ".join(f"fd.name = /a{i}" for i in range(n))
    elif shape == "and":
        inner = " and ".join(f"fd.name != /a{i}" for i in range(n))
    elif shape == "alt":
        inner = "fd.name = /a0"
        for i in range(1, n):
            inner = f"fd.name = /a{i} {'and' if i % 2 else 'or'} ({inner})"
    else:
        raise ValueError(shape)
    return f"evt.type = open and ({inner})"


def write_rules(path: Path, shape: str, n: int) -> Path:
    path.write_text(
        f"- rule: {shape} {n}\n  desc: scaling benchmark\n  condition: >\n"
        f'    {condition(shape, n)}\n  output: "%proc.name opened %fd.name"\n'
        "  priority: WARNING\n"
    )
    return path


def run(argv: list[str]) -> tuple[float, int, str]:
    """(CPU seconds, exit status, first line of stderr) of one CLI run, output discarded.

    CPU time of the process (every thread), not wall time: the machine is shared, and a
    loaded neighbour would bend the growth curve the benchmark is about."""
    out, err = io.StringIO(), io.StringIO()
    t0 = time.process_time()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli_main(argv)
    return time.process_time() - t0, rc, (err.getvalue().strip().splitlines() or [""])[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,5000,20000")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--commands", default="check,compare")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    shapes = [s for s in args.shapes.split(",") if s]
    commands = [c for c in args.commands.split(",") if c]
    head = f"{'command':8} {'shape':5} " + " ".join(f"{f'{n:,}':>10}" for n in sizes)
    print(
        head + f" {'ratio':>8}  (CPU seconds; ratio = time({sizes[-1]:,})/time({sizes[0]:,}), "
        f"linear = {sizes[-1] / sizes[0]:.0f})"
    )
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        # Warm up once (grammar build, imports) so the first size is not charged for it.
        run(["check", str(write_rules(Path(tmp) / "warm.yaml", "or", 10))])
        for cmd in commands:
            for shape in shapes:
                cells, times = [], []
                for n in sizes:
                    rules = write_rules(Path(tmp) / f"{shape}{n}.yaml", shape, n)
                    argv = [cmd, str(rules)] + (
                        ["--repeat", "1", "--json"] if cmd == "compare" else []
                    )
                    secs, rc, first = run(argv)
                    if cmd == "compare" and rc == 1 and "error" in first:
                        cells.append(f"{'refused':>10}")
                        notes.append(f"{cmd} {shape} {n:,}: {first}")
                        times.append(None)
                        continue
                    if rc not in (0,):
                        notes.append(f"{cmd} {shape} {n:,}: exit {rc} {first}")
                    cells.append(f"{secs:>10.2f}")
                    times.append(secs)
                    print(f"  {cmd} {shape} {n:,}: {secs:.2f}s", file=sys.stderr)
                ratio = f"{times[-1] / times[0]:>8.1f}" if times[0] and times[-1] else f"{'-':>8}"
                print(f"{cmd:8} {shape:5} " + " ".join(cells) + f" {ratio}", flush=True)
    for note in notes:
        print("note:", note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
