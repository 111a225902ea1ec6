"""At what event rate does each strategy start dropping events? (the study's question)

Replays a generated workload through the compiled core at a series of offered rates, in
simulated time with a ring buffer (``run_core(rate=..., buffer=...)``: an empty buffer is a
SCAP_TIMEOUT iteration, a full one drops the arriving event), for the baseline and for the
strategies given, and prints the share of events dropped at each rate plus the highest rate
with no drop. The replay covers matching only; ``ruleopt compare``'s "capacity" adds the
alerts' output cost. Writes ``drop_rate.svg`` (drops vs offered rate) into --out.

    python experiments/drop_rate.py [N_EVENTS] [--strategies best,finer] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ruleopt.engine import strategies as S
from ruleopt.engine.core import run_core
from ruleopt.events.generator import generate
from ruleopt.profile.plots import line_plot
from ruleopt.rules.loader import load_rules

RULES = (
    Path(__file__).resolve().parents[2] / "shared" / "rulesets" / "falco_rules-falco-0.26.2.yaml"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=1_000_000, help="events (default 1M)")
    ap.add_argument("--rules", default=str(RULES))
    ap.add_argument("--strategies", default="finer,best")
    ap.add_argument("--buffer", type=int, default=8192, help="ring slots (default 8192)")
    ap.add_argument("--out", default="experiments/out")
    args = ap.parse_args()

    rules = load_rules([args.rules])
    table = generate(rules, args.n, seed=0, break_share=0.01)
    compiled, kept = S.compile_for(rules, table)
    names = ["baseline"] + [s for s in args.strategies.split(",") if s and s != "baseline"]
    rates = np.geomspace(2e5, 5e7, 13)
    series: dict[str, tuple[list[float], list[float]]] = {}
    print(
        f"{args.n:,} events, 1% breaking, ring of {args.buffer} events; "
        f"drops (% of events) by offered rate (events/s):"
    )
    print(
        "strategy".ljust(14)
        + "".join(f"{r:>10.2g}" for r in rates)
        + "   highest rate before the first drop"
    )
    for name in names:
        p = S.prepare(name, compiled, table, kept)
        run_core(p.compiled, table, "untraced")  # warm-up: caches, page faults
        drops = []
        for rate in rates:
            # A replay's cycles are measured, so one noisy pass can spike: median of 3.
            runs = [
                run_core(p.compiled, table, "untraced", rate=float(rate), buffer=args.buffer).drops
                for _ in range(3)
            ]
            drops.append(100.0 * float(np.median(runs)) / table.n)
        # The highest rate below the first one that drops anything.
        first_drop = next((i for i, d in enumerate(drops) if d > 0), len(rates))
        best = f"{rates[first_drop - 1]:,.0f}" if first_drop else "< lowest"
        print(name.ljust(14) + "".join(f"{d:>10.2f}" for d in drops) + f"   {best}")
        series[name] = (rates.tolist(), drops)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = line_plot(
        series,
        f"Dropped events vs offered rate ({args.n:,} events, ring {args.buffer})",
        out / "drop_rate.svg",
        "offered rate (events/s)",
        "events dropped (%)",
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
