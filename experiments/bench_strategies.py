"""The study's three proposals against the baseline, measured side by side in one run.

    python experiments/bench_strategies.py [N_EVENTS] [--repeat R] [--rules FILE]
                                           [--seed S] [--train-seed T]

On the Falco 0.26.2 ruleset and a generated workload of N events (default 1M, seed S) with
1% of events breaking rules: each strategy's cycles per event against the baseline
(repeats interleaved, speedup = per-round ratio), rules checked per event (evttype vs
finer index), output cycles per alert (Lua vs cached), and whether the aims are met:
finer >= 5x fewer rules checked, best matcher >= 10x fewer cycles, cached output >= 10x
cheaper per alert. Every strategy's alerts must equal the baseline's.

No training on the test: each strategy that learns from a workload (finer, reorder,
rewrite, ...) is built twice, held out (learned on the generator's workload with seed T,
default S + 1, same size) and trained on the measured workload itself; both run in the
same interleaved rounds and both figures are printed. The aims are judged on held out.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ruleopt.engine import strategies as S  # noqa: E402
from ruleopt.events.generator import generate  # noqa: E402
from ruleopt.rules.loader import load_rules  # noqa: E402

RULES = REPO.parent / "shared" / "rulesets" / "falco_rules-falco-0.26.2.yaml"
NAMES = list(S.STRATEGIES)
# The matcher-only strategies: "best matcher" is the fastest of these on the evttype index.
MATCHER_ONLY = [n for n, s in S.STRATEGIES.items() if s.index == "evttype" and s.output == "lua"]
MATCHER_ONLY.remove("baseline")
HELD, SAME = "held out", "trained on"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events", nargs="?", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rules", default=str(RULES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-seed", type=int, default=None, help="default: --seed + 1")
    args = ap.parse_args(argv)
    train_seed = args.seed + 1 if args.train_seed is None else args.train_seed

    t0 = time.perf_counter()
    rules = load_rules([args.rules])
    table = generate(rules, args.events, seed=args.seed, break_share=0.01)
    train = generate(rules, args.events, seed=train_seed, break_share=0.01)
    print(
        f"workload: {table.n:,} events (seed {args.seed}), "
        f"{len(table.meta['breaking']['rows']):,} breaking rows; training workload seed "
        f"{train_seed}; generated in {time.perf_counter() - t0:.1f}s; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    compiled, kept = S.compile_for(rules, table)
    keys: list[tuple[str, str]] = []  # (strategy, "held out" | "trained on" | "-")
    prepared = []
    for n in NAMES:
        learns = S.learns(S.get_strategy(n))
        for how in (HELD, SAME) if learns else ("-",):
            t = time.perf_counter()
            src = train if how == HELD else None
            prepared.append(S.prepare(n, compiled, table, kept, train=src))
            keys.append((n, how))
            print(f"  built {n:15s} {how:10s} in {time.perf_counter() - t:6.2f}s", flush=True)
    samples: list[list[S.Sample]] = [[] for _ in prepared]
    cache: S.AlertInputs = {}
    for r in range(args.repeat + 1):  # round 0 warms up, unrecorded
        for k, p in enumerate(prepared):
            one = S.measure_once(p, table, cache)
            if r:
                samples[k].append(one)
        print(f"  round {r}/{args.repeat} done" + (" (warm-up)" if not r else ""), flush=True)
    by = {key: S.summarize(p, table, s) for key, p, s in zip(keys, prepared, samples, strict=True)}
    res = {n: r for (n, how), r in by.items() if how != SAME}  # held out where it learns
    base = res["baseline"]

    print(
        f"\n{'strategy':15s} {'index':8s} {'matcher':15s} {'output':7s} {'learned':10s} "
        f"{'cycles/event':>17s} {'speedup':>15s} {'rules/event':>11s} "
        f"{'alerts':>7s} {'out cyc/alert':>16s} equal"
    )
    for (n, how), r in by.items():
        ratio = base.cycles_per_event / r.cycles_per_event
        same = S.first_difference(base, r) is None
        print(
            f"{n:15s} {r.strategy.index:8s} {r.strategy.matcher:15s} {r.strategy.output:7s} "
            f"{how:10s} {r.cpe_median:9.1f} ± {r.cpe_spread:5.1f} "
            f"{np.median(ratio):7.2f}x ± {(ratio.max() - ratio.min()) / 2:4.2f} "
            f"{r.rules_checked_per_event:11.2f} {len(r.alerts):7d} "
            f"{r.out_median:9.0f} ± {r.out_spread:5.0f} {'yes' if same else 'NO'}"
        )

    finer_x = base.rules_checked_per_event / res["finer"].rules_checked_per_event
    best_m = min(MATCHER_ONLY, key=lambda n: res[n].cpe_median)
    matcher_x = base.cpe_median / res[best_m].cpe_median
    best_x = base.cpe_median / res["best"].cpe_median
    best_p = base.cpe_median / res["best-program"].cpe_median
    out_x = base.out_median / res["cached-output"].out_median
    print("\naims:")
    print(
        f"  finer index: {base.rules_checked_per_event:.2f} -> "
        f"{res['finer'].rules_checked_per_event:.2f} rules checked per event = "
        f"{finer_x:.1f}x fewer (aim >= 5x: {'met' if finer_x >= 5 else 'NOT met'})"
    )
    print(
        f"  best matcher alone ({best_m}): {matcher_x:.2f}x fewer cycles per event; "
        f"best (finer + rewrite + cached): {best_x:.2f}x, best-program (finer + "
        f"shared-reorder + cached): {best_p:.2f}x "
        f"(aim >= 10x: {'met' if max(matcher_x, best_x, best_p) >= 10 else 'NOT met'})"
    )
    print(
        f"  cached output: {base.out_median:.0f} -> {res['cached-output'].out_median:.0f} "
        f"cycles per alert = {out_x:.1f}x cheaper "
        f"(aim >= 10x: {'met' if out_x >= 10 else 'NOT met'})"
    )
    print("  held out against trained on (cycles per event, medians; > 1: held out is slower):")
    for (n, how), r in by.items():
        if how == SAME:
            held = by[(n, HELD)]
            print(
                f"    {n:15s} {held.cpe_median / r.cpe_median:5.2f}x, rules checked "
                f"{held.rules_checked_per_event:.2f} vs {r.rules_checked_per_event:.2f}"
            )
    equal = all(S.first_difference(base, r) is None for r in by.values())
    print(f"  equivalence: {'every strategy equals the baseline' if equal else 'DIFFERS'}")
    for n in ("shared", "best"):
        print(f"  {n} stats: {res[n].stats}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
