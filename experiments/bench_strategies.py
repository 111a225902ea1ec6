"""The study's three proposals against the baseline, measured side by side in one run.

    python experiments/bench_strategies.py [N_EVENTS] [--repeat R] [--rules FILE]

On the Falco 0.26.2 ruleset and a generated workload of N events (default 1M) with 1%
of events breaking rules: each strategy's cycles per event against the baseline (repeats
interleaved, speedup = per-round ratio), rules checked per event (evttype vs finer
index), output cycles per alert (Lua vs cached), and whether the aims are met:
finer >= 5x fewer rules checked, best matcher >= 10x fewer cycles, cached output >= 10x
cheaper per alert. Every strategy's alerts must equal the baseline's.
"""

from __future__ import annotations

import argparse
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
NAMES = [
    "baseline",
    "flat",
    "shared",
    "reorder",
    "shared-reorder",
    "finer",
    "cached-output",
    "best",
]
# The matcher-only strategies: "best matcher" is the fastest of these on the evttype index.
MATCHER_ONLY = ["flat", "shared", "reorder", "shared-reorder"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events", nargs="?", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rules", default=str(RULES))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    rules = load_rules([args.rules])
    table = generate(rules, args.events, seed=args.seed, break_share=0.01)
    print(
        f"workload: {table.n:,} events, {len(table.meta['breaking']['rows']):,} breaking "
        f"rows, generated in {time.perf_counter() - t0:.1f}s"
    )
    compiled, kept = S.compile_for(rules, table)
    prepared = []
    for n in NAMES:
        t = time.perf_counter()
        prepared.append(S.prepare(n, compiled, table, kept))
        print(f"  built {n:15s} in {time.perf_counter() - t:6.2f}s", flush=True)
    samples: list[list[S.Sample]] = [[] for _ in NAMES]
    cache: S.AlertInputs = {}
    for r in range(args.repeat):
        for k, p in enumerate(prepared):
            samples[k].append(S.measure_once(p, table, cache))
        print(f"  round {r + 1}/{args.repeat} done", flush=True)
    res = {
        p.strategy.name: S.summarize(p, table, s) for p, s in zip(prepared, samples, strict=True)
    }
    base = res["baseline"]

    print(
        f"\n{'strategy':15s} {'index':8s} {'matcher':15s} {'output':7s} "
        f"{'cycles/event':>17s} {'speedup':>15s} {'rules/event':>11s} "
        f"{'alerts':>7s} {'out cyc/alert':>16s} equal"
    )
    for n in NAMES:
        r = res[n]
        ratio = base.cycles_per_event / r.cycles_per_event
        same = S.first_difference(base, r) is None
        print(
            f"{n:15s} {r.strategy.index:8s} {r.strategy.matcher:15s} {r.strategy.output:7s} "
            f"{r.cpe_median:9.1f} ± {r.cpe_spread:5.1f} "
            f"{np.median(ratio):7.2f}x ± {(ratio.max() - ratio.min()) / 2:4.2f} "
            f"{r.rules_checked_per_event:11.2f} {len(r.alerts):7d} "
            f"{r.out_median:9.0f} ± {r.out_spread:5.0f} {'yes' if same else 'NO'}"
        )

    finer_x = base.rules_checked_per_event / res["finer"].rules_checked_per_event
    best_m = min(MATCHER_ONLY, key=lambda n: res[n].cpe_median)
    matcher_x = base.cpe_median / res[best_m].cpe_median
    best_x = base.cpe_median / res["best"].cpe_median
    out_x = base.out_median / res["cached-output"].out_median
    print("\naims:")
    print(
        f"  finer index: {base.rules_checked_per_event:.2f} -> "
        f"{res['finer'].rules_checked_per_event:.2f} rules checked per event = "
        f"{finer_x:.1f}x fewer (aim >= 5x: {'met' if finer_x >= 5 else 'NOT met'})"
    )
    print(
        f"  best matcher alone ({best_m}): {matcher_x:.2f}x fewer cycles per event; "
        f"best strategy (finer + {res['best'].strategy.matcher}): {best_x:.2f}x "
        f"(aim >= 10x: {'met' if max(matcher_x, best_x) >= 10 else 'NOT met'})"
    )
    print(
        f"  cached output: {base.out_median:.0f} -> {res['cached-output'].out_median:.0f} "
        f"cycles per alert = {out_x:.1f}x cheaper "
        f"(aim >= 10x: {'met' if out_x >= 10 else 'NOT met'})"
    )
    equal = all(S.first_difference(base, r) is None for r in res.values())
    print(f"  equivalence: {'every strategy equals the baseline' if equal else 'DIFFERS'}")
    for n in ("shared", "best"):
        print(f"  {n} stats: {res[n].stats}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
