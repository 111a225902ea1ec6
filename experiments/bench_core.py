"""Benchmark the compiled core: throughput, cycles per rule check, tracing overhead.

Not a test: prints figures. One run measures the three builds on the same compiled
ruleset and table, interleaving them repeat by repeat so drift (frequency, cache, other
load) hits each build alike.

    python experiments/bench_core.py                       # falco_rules-main on a capture
    python experiments/bench_core.py -n 200000 --repeat 9 --all-matches
    python experiments/bench_core.py --generated -n 100000 # the workload generator
    python experiments/bench_core.py --rate 200000 --buffer 4096
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ruleopt.engine.compile import compile_rules
from ruleopt.engine.core import BRANCHES, STAGES, run_core, tsc_hz
from ruleopt.events.table import Column, EventTable

SHARED = Path("/work/shared")


def replicate(table: EventTable, n: int) -> EventTable:
    """``table``'s rows repeated to ``n`` events (same string heap, evt.num renumbered)."""
    reps = -(-n // table.n)
    idx = np.tile(np.arange(table.n), reps)[:n]
    cols = []
    for col in table.columns.values():
        present = col.present[idx]
        if col.key == "evt.num":
            values = np.arange(1, n + 1, dtype=np.int64)
        elif col.offsets is None:
            values = col.values[idx]
        else:
            lens = np.diff(col.offsets)[idx]
            starts = col.offsets[:-1][idx]
            offsets = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(lens, out=offsets[1:])
            flat = np.repeat(starts - offsets[:-1], lens) + np.arange(offsets[-1])
            cols.append(Column(col.key, col.type, col.kind, col.values[flat], present, offsets))
            continue
        cols.append(Column(col.key, col.type, col.kind, values, present, None))
    return EventTable.from_columns(cols, table.strings, table.meta)


def load_table(args: argparse.Namespace, rules) -> EventTable:
    if args.generated:
        from ruleopt.events.generator import default_workload

        base = default_workload(rules)
    else:
        from ruleopt.events.load import load_events

        base = load_events(args.capture, rules)
    return replicate(base, args.n) if args.n else base


def fmt(x: float) -> str:
    return f"{x:,.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", default=str(SHARED / "rulesets/falco_rules-main.yaml"))
    ap.add_argument("--capture", default=str(SHARED / "traces/cat_write.scap"))
    ap.add_argument("--generated", action="store_true", help="use the workload generator")
    ap.add_argument("-n", type=int, default=100_000, help="events (table replicated to n)")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--all-matches", action="store_true",
                    help="check every rule (default: Falco's first match per event)")
    ap.add_argument("--rate", type=float, help="also replay at this many events/s")
    ap.add_argument("--buffer", type=int, default=8192, help="ring slots for --rate")
    args = ap.parse_args(argv)

    from ruleopt.rules.loader import load_rules

    t0 = time.perf_counter()
    rules = load_rules(args.rules)
    table = load_table(args, rules)
    t1 = time.perf_counter()
    compiled = compile_rules(rules.rules, table)
    t2 = time.perf_counter()
    first = not args.all_matches
    hz = tsc_hz()
    print(f"rules {Path(args.rules).name}: {compiled.n_rules} compiled "
          f"({len(compiled.nodes)} nodes, {compiled.stats})")
    print(f"table: {table.n} events, {len(table.strings)} strings "
          f"(load {t1 - t0:.1f}s, compile {t2 - t1:.1f}s); TSC {hz / 1e9:.3f} GHz; "
          f"{'first match' if first else 'all matches'}")

    # Interleave the builds repeat by repeat; one warm-up run each first.
    variants = ("untraced", "rules", "stacks")
    results: dict[str, list] = {v: [] for v in variants}
    for v in variants:
        run_core(compiled, table, v, first_match=first)
    for _ in range(args.repeat):
        for v in variants:
            results[v].append(run_core(compiled, table, v, first_match=first))
    cyc = {v: np.array([float(r.cycles[0]) for r in results[v]]) for v in variants}

    base = results["untraced"][-1]
    print(f"\nmatches: {len(base.match_evt)}; rule checks: {base.rules_checked} "
          f"({base.rules_checked / table.n:.2f} per event)")
    print(f"{'build':10} {'cycles/pass (median)':>22} {'min':>14} {'max':>14} "
          f"{'events/s':>12} {'cyc/event':>10} {'overhead':>9}")
    med_u = float(np.median(cyc["untraced"]))
    for v in variants:
        med = float(np.median(cyc[v]))
        eps = table.n / (med / hz)
        over = (med / med_u - 1) * 100
        print(f"{v:10} {fmt(med):>22} {fmt(cyc[v].min()):>14} {fmt(cyc[v].max()):>14} "
              f"{fmt(eps):>12} {med / table.n:>10.1f} {over:>8.1f}%")

    tr = results["rules"][-1].trace_rules
    print("\nper rule check (rules build, rdtsc pair included):")
    for b, name in enumerate(("unmatched", "matched")):
        count = int(tr.count[:, b].sum())
        mean = tr.sum[:, b].sum() / count if count else float("nan")
        print(f"  {name:9}: {count:>10} checks, {mean:8.1f} cycles mean")
    # Untraced estimate: loop cycles with no checks are tiny, so cycles/check bounds it.
    if base.rules_checked:
        print(f"  untraced bound: {med_u / base.rules_checked:.1f} cycles per check "
              f"(whole pass / checks)")

    st = results["stacks"][-1].trace_stages
    print("\nper stage (stacks build), mean cycles [count]:")
    print(f"  {'stage':13}" + "".join(f"{b:>24}" for b in BRANCHES))
    for s, name in enumerate(STAGES):
        cells = []
        for b in range(len(BRANCHES)):
            c = int(st.count[s, b])
            cells.append(f"{st.sum[s, b] / c:10.1f} [{c:>10}]" if c else f"{'-':>23}")
        print(f"  {name:13}" + "".join(f"{x:>24}" for x in cells))

    if args.rate:
        r = run_core(compiled, table, "stacks", rate=args.rate, buffer=args.buffer,
                     first_match=first)
        print(f"\nrate replay {fmt(args.rate)} ev/s, ring {args.buffer}: "
              f"{int(r.processed.sum())} processed, {r.drops} dropped "
              f"({100 * r.drops / table.n:.2f}%), {r.timeouts} timeouts, "
              f"{r.sim_seconds:.3f} simulated s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
