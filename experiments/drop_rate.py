"""At what event rate does each strategy start dropping events? (the study's question)

Both engines, one model. A generated workload (0.26.2 rules, 1% of events built to break
rules) is written as a capture and both engines read its events. Each strategy's
per-event costs are measured once per engine:

* replica: the core's live replay at a rate it sustains (every event processed, each
  event's cycles recorded), element-wise median of 3 replays, plus the strategy's
  measured output cycles per alert on each alerting event (the replica formats alerts in
  Python after the core's pass);
* libsinsp: ``ruleopt-sinsp engine --event-costs`` (``next()``, index, rule checks and
  output of each event, rdtsc), one pass per process, element-wise median of --passes
  passes (a preempted event in one pass would otherwise stall the modelled consumer).

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
from ruleopt.engine.core import run_core, tsc_hz
from ruleopt.engine.event_costs import per_event
from ruleopt.events.generator import generate
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
    # Offered at 1% of its capacity, so the ring rides out a stall of the machine of
    # ~100x a ring's worth of events; a replay that still dropped is measured again.
    sustained = 0.01 * hz * table.n / float(off.cycles[0])
    lives = []
    for _ in range(10):
        live = run_core(p.compiled, table, "untraced", rate=sustained)
        if live.drops == 0:
            lives.append(live)
        if len(lives) == 3:
            break
    else:
        raise SystemExit(f"{p.strategy.name}: every sustained replay dropped events; rerun")
    match = np.median(np.stack([lv.extra["event_cycles"] for lv in lives]), axis=0)
    match = np.rint(match).astype(np.uint64)
    samples = [S.measure_once(p, table) for _ in range(3)]
    n_alerts = len(samples[0].alerts)
    per_alert = float(np.median([s.output_cycles for s in samples])) / max(n_alerts, 1)
    return R.with_output(match, samples[0].match_rows, per_alert), match, n_alerts


SHOWN = (1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7)  # the table's columns (the plot has them all)


def _row(
    label: str,
    costs: np.ndarray,
    drops: list[float],
    rates: np.ndarray,
    hz: float,
    brk: float,
    buffer: int,
) -> str:
    """Capacity (tsc_hz / mean cycles per event: what one core sustains with an endless
    ring), the highest grid rate before the first drop, and drops at the SHOWN rates."""
    cap = hz / float(np.mean(costs)) if len(costs) else float("inf")
    best = R.highest_without_drop(rates.tolist(), drops)
    at = R.drop_curve(costs, SHOWN, hz, buffer=buffer)
    first = f"{best:>12,.0f}" if best else "    < lowest"
    return f"{label:<34}{cap:>12,.0f}{first}{best * brk if best else 0:>12,.0f}" + "".join(
        f"{100 * d:>8.1f}" for d in at
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=100_000, help="events (default 100k)")
    ap.add_argument("--rules", default=str(RULES))
    ap.add_argument("--strategies", default=DEFAULT_STRATEGIES)
    ap.add_argument("--engine", choices=("both", "replica", "libsinsp"), default="both")
    ap.add_argument("--buffer", type=int, default=8192, help="ring slots (default 8192)")
    ap.add_argument("--passes", type=int, default=3, help="libsinsp passes (default 3)")
    ap.add_argument("--out", default="experiments/out")
    args = ap.parse_args()

    ruleset = load_rules([args.rules])
    rules = S.syscall_rules(ruleset.enabled_rules())
    names = ["baseline"] + [s for s in args.strategies.split(",") if s and s != "baseline"]
    engines = ("replica", "libsinsp") if args.engine == "both" else (args.engine,)
    if "libsinsp" in engines:
        rules, _ = real.engine_rules(rules)  # the same rules on both engines
    rates = np.geomspace(1e4, 5e7, 75)  # 12% steps
    series: dict[str, tuple[list[float], list[float]]] = {}
    lines: list[str] = []
    blocks: dict[str, np.ndarray] = {}
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
                lines.append(_row(f"replica/{name}", costs, drops, rates, hz, brk, args.buffer))
                m = R.drop_curve(match, rates, hz, buffer=args.buffer)
                lines.append(
                    _row(f"replica/{name} (no output)", match, m, rates, hz, brk, args.buffer)
                )
        if "libsinsp" in engines:
            on_real = [S.get_strategy(n) for n in names if not real.real_support(S.get_strategy(n))]
            # Each run: one unrecorded warm-up process, then one measured process per
            # strategy; every pass reads the capture as a fresh Falco does.
            runs = [
                real.run_engine(capture, rules, on_real, repeat=1, warmup=1, event_costs=True)
                for _ in range(args.passes)
            ]
            run = runs[0]
            for k, res in enumerate(run.results):
                stacked = np.stack([r.results[k].event_costs for r in runs])
                res.event_costs = np.rint(np.median(stacked, axis=0)).astype(np.uint64)
                brk = len(res.alerts) / max(res.n_events, 1)
                full = per_event(res.event_costs)
                blocks[f"libsinsp/{res.name}"] = full
                drops = R.drop_curve(full, rates, run.tsc_hz, buffer=args.buffer)
                series[f"libsinsp/{res.name}"] = (rates.tolist(), [100 * d for d in drops])
                lines.append(
                    _row(f"libsinsp/{res.name}", full, drops, rates, run.tsc_hz, brk, args.buffer)
                )
                no_next = per_event(res.event_costs, ("index", "rule_checks", "output"))
                d2 = R.drop_curve(no_next, rates, run.tsc_hz, buffer=args.buffer)
                series[f"libsinsp/{res.name} (no next)"] = (rates.tolist(), [100 * d for d in d2])
                lines.append(
                    _row(
                        f"libsinsp/{res.name} (no next)",
                        no_next,
                        d2,
                        rates,
                        run.tsc_hz,
                        brk,
                        args.buffer,
                    )
                )
    load = os.getloadavg()[0]
    print(
        f"{table.n:,} events (generated capture, 0.26.2 rules, 1% breaking), ring of "
        f"{args.buffer} events, load average {load:.1f}; drops (% of events) by offered "
        "rate (events/s), output included unless said; capacity: tsc_hz / mean cycles per "
        "event; first drop: the highest offered rate (12% steps) with no drop, and the "
        "rule-breaking (alerting) events/s it carries:"
    )
    print(
        f"{'':<34}{'capacity':>12}{'first drop':>12}{'breaking/s':>12}"
        + "".join(f"{r:>8.0e}" for r in SHOWN)
    )
    for line in lines:
        print(line)
    # Where in the capture the cycles go: a costly stretch drops events below capacity.
    for name, costs in blocks.items():
        per = [int(costs[k : k + 10_000].sum() // 1_000_000) for k in range(0, len(costs), 10_000)]
        print(f"{name}: M cycles per 10,000 events, in capture order: {per}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = line_plot(
        series,
        f"Dropped events vs offered rate ({table.n:,} events, ring {args.buffer}, output included)",
        out / "drop_rate.svg",
        "offered rate (events/s)",
        "events dropped (%)",
        dashed=[k for k in series if k.startswith("libsinsp/")],
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
