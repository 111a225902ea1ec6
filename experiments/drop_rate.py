"""At what event rate does each strategy start dropping events? (the study's question)

Both engines, one model. A generated workload (0.26.2 rules, 1% of events built to break
rules) is written as a capture and both engines read its events. Each strategy's
per-event costs are measured once per engine:

* replica: the core's live replay at a rate it sustains (every event processed, each
  event's cycles recorded), element-wise median of 3 replays, plus the strategy's
  measured output cycles per alert on each alerting event (the replica formats alerts in
  Python after the core's pass);
* libsinsp: ``ruleopt-sinsp engine --event-costs`` (``next()``, index, rule checks and
  output of each event of the first measured pass, rdtsc), one pass per process.

Then the ring-buffer model (``plugin/ring.h`` through ``ruleopt.profile.rate``: events
arrive at i/rate into a ring of --buffer slots, a full ring drops the arrival, an empty one
is a SCAP_TIMEOUT) replays those costs at every offered rate. The replica's live replay
runs the same model (``tests/test_ring_model.py`` checks that it is the model fed its own
costs). Output is included (the study's "near 1M rule-breaking events/s" was with alerts
written); libsinsp's curve is also given without ``next()``, whose cost on generated
captures is the writer's (every row runs on its own copy of a process, so libsinsp's
thread table grows with every event).

Prints, per engine and strategy, the share of events dropped by offered rate and the
highest rate before the first drop (with the rule-breaking events/s it carries), and
writes ``drop_rate.svg`` (both engines' curves on one plot) into --out.

    python experiments/drop_rate.py [N_EVENTS] [--strategies baseline,cached-output,finer,best]
                                    [--engine both|replica|libsinsp] [--buffer 8192] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from ruleopt.engine import real
from ruleopt.engine import strategies as S
from ruleopt.engine.core import run_core
from ruleopt.engine.event_costs import per_event
from ruleopt.events.load import load_events
from ruleopt.events.workload_scap import write_capture
from ruleopt.profile import rate as R
from ruleopt.profile.plots import line_plot
from ruleopt.rules.loader import load_rules

RULES = (
    Path(__file__).resolve().parents[2] / "shared" / "rulesets" / "falco_rules-falco-0.26.2.yaml"
)
DEFAULT_STRATEGIES = "baseline,cached-output,finer,best"


def replica_costs(p: S.Prepared, table, hz: float) -> tuple[np.ndarray, np.ndarray, int]:
    """(costs with output, costs of matching alone, alerts) per event for one strategy."""
    run_core(p.compiled, table, "untraced")  # warm-up: caches, page faults
    off = run_core(p.compiled, table, "untraced")
    sustained = 0.25 * hz * table.n / float(off.cycles[0])  # a quarter of its capacity
    lives = [run_core(p.compiled, table, "untraced", rate=sustained) for _ in range(3)]
    for live in lives:
        if live.drops:  # the machine stalled the core for a whole ring: measure again
            raise SystemExit(f"{p.strategy.name}: the sustained replay dropped events; rerun")
    match = np.median(np.stack([lv.extra["event_cycles"] for lv in lives]), axis=0)
    match = np.rint(match).astype(np.uint64)
    sample = S.measure_once(p, table)
    n_alerts = len(sample.alerts)
    per_alert = sample.output_cycles / n_alerts if n_alerts else 0.0
    return R.with_output(match, sample.match_rows, per_alert), match, n_alerts


def _row(label: str, drops: list[float], rates: np.ndarray, breaking: float) -> str:
    best = R.highest_without_drop(rates.tolist(), drops)
    tail = f"{best:,.0f} ({best * breaking:,.0f} breaking/s)" if best else "< lowest"
    return label.ljust(30) + "".join(f"{100 * d:>8.1f}" for d in drops) + f"   {tail}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=100_000, help="events (default 100k)")
    ap.add_argument("--rules", default=str(RULES))
    ap.add_argument("--strategies", default=DEFAULT_STRATEGIES)
    ap.add_argument("--engine", choices=("both", "replica", "libsinsp"), default="both")
    ap.add_argument("--buffer", type=int, default=8192, help="ring slots (default 8192)")
    ap.add_argument("--out", default="experiments/out")
    args = ap.parse_args()

    ruleset = load_rules([args.rules])
    rules = S.syscall_rules(ruleset.enabled_rules())
    names = ["baseline"] + [s for s in args.strategies.split(",") if s and s != "baseline"]
    engines = ("replica", "libsinsp") if args.engine == "both" else (args.engine,)
    if "libsinsp" in engines:
        rules, _ = real.engine_rules(rules)  # the same rules on both engines
    rates = np.geomspace(1e4, 5e7, 19)
    series: dict[str, tuple[list[float], list[float]]] = {}
    lines: list[str] = []
    from ruleopt.engine.core import tsc_hz
    from ruleopt.events.generator import generate

    hz = tsc_hz()
    with tempfile.TemporaryDirectory(prefix="drop-rate-") as tmp:
        capture = Path(tmp) / "g.scap"
        write_capture(generate(ruleset, args.n, seed=0, break_share=0.01), capture)
        table = load_events(str(capture), ruleset)
        if "replica" in engines:
            compiled, kept = S.compile_for(rules, table)
            for name in names:
                p = S.prepare(name, compiled, table, kept)
                costs, match, n_alerts = replica_costs(p, table, hz)
                brk = n_alerts / table.n
                drops = R.drop_curve(costs, rates, hz, buffer=args.buffer)
                series[f"replica/{name}"] = (rates.tolist(), [100 * d for d in drops])
                lines.append(_row(f"replica/{name}", drops, rates, brk))
                m = R.drop_curve(match, rates, hz, buffer=args.buffer)
                lines.append(_row(f"replica/{name} (no output)", m, rates, brk))
        if "libsinsp" in engines:
            on_real = [S.get_strategy(n) for n in names if not real.real_support(S.get_strategy(n))]
            run = real.run_engine(capture, rules, on_real, repeat=1, warmup=1, event_costs=True)
            for res in run.results:
                assert res.event_costs is not None
                brk = len(res.alerts) / max(res.n_events, 1)
                full = per_event(res.event_costs)
                drops = R.drop_curve(full, rates, run.tsc_hz, buffer=args.buffer)
                series[f"libsinsp/{res.name}"] = (rates.tolist(), [100 * d for d in drops])
                lines.append(_row(f"libsinsp/{res.name}", drops, rates, brk))
                no_next = per_event(res.event_costs, ("index", "rule_checks", "output"))
                d2 = R.drop_curve(no_next, rates, run.tsc_hz, buffer=args.buffer)
                series[f"libsinsp/{res.name} (no next)"] = (rates.tolist(), [100 * d for d in d2])
                lines.append(_row(f"libsinsp/{res.name} (no next)", d2, rates, brk))
    load = os.getloadavg()[0]
    print(
        f"{table.n:,} events (generated capture, 0.26.2 rules, 1% breaking), ring of "
        f"{args.buffer} events, load average {load:.1f}; drops (% of events) by offered "
        "rate (events/s), output included unless said:"
    )
    print("".ljust(30) + "".join(f"{r:>8.2g}" for r in rates) + "   highest rate before a drop")
    for line in lines:
        print(line)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = line_plot(
        series,
        f"Dropped events vs offered rate ({table.n:,} events, ring {args.buffer}, output included)",
        out / "drop_rate.svg",
        "offered rate (events/s)",
        "events dropped (%)",
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
