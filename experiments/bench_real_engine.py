"""Every strategy on both engines, side by side in one run, on a generated capture.

    python experiments/bench_real_engine.py [N_EVENTS] [--repeat R] [--rules FILE]
                                            [--break-share S] [--capture FILE.scap]
                                            [--train EVENTS|seed:N]

Writes (or reuses, with --capture) a generated capture of N events (default 100,000) of
the Falco 0.26.2 rules with 1% of events breaking rules, then runs ``ruleopt compare``'s
measurement with ``--engine both``: the replica on the capture's events read back through
libsinsp, and libsinsp 2022 itself (repeats interleaved, one warm-up round). Prints per
engine and strategy: cycles per event (rule evaluation), rules checked per event, output
cycles per alert, each with its half-range over repeats, and the speedup against stock
libsinsp (libsinsp's baseline: evttype index, its filters, the Lua output path). Then
the aim "cached output >= 10x cheaper per alert than the Lua path" on each engine, and
where libsinsp's cycles go (its stages per event). Every row must be equivalent.

No training on the test: the strategies that learn (finer, reorder, rewrite, best, ...)
are measured held out (the generator's workload with the next seed, or ``--train``) in the
main table; then each is built both held out and trained on the measured events, and
both are measured in the same interleaved rounds with the baseline, on each engine.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ruleopt.commands import compare_train as CT  # noqa: E402
from ruleopt.commands.compare import compare  # noqa: E402
from ruleopt.engine import real  # noqa: E402
from ruleopt.engine import strategies as S  # noqa: E402
from ruleopt.events.load import load_events  # noqa: E402
from ruleopt.rules.loader import load_rules  # noqa: E402

RULES = REPO.parent / "shared" / "rulesets" / "falco_rules-falco-0.26.2.yaml"


def _pm(d: dict, digits: int = 0) -> str:
    if d["median"] is None:
        return "-"
    return f"{d['median']:,.{digits}f} ± {d['spread']:,.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events", nargs="?", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rules", default=str(RULES))
    ap.add_argument("--break-share", type=float, default=0.01)
    ap.add_argument("--capture", help="an existing .scap to measure on (else one is generated)")
    ap.add_argument("--seed", type=int, default=0, help="the generated capture's seed")
    ap.add_argument(
        "--train",
        default=None,
        help="what the learning strategies learn from (default: held out, seed:SEED+1)",
    )
    args = ap.parse_args(argv)
    train = args.train or f"seed:{args.seed + 1}"
    learning = [n for n, s in S.STRATEGIES.items() if S.learns(s)]
    with tempfile.TemporaryDirectory(prefix="bench-real-") as tmp:
        capture = args.capture
        if capture is None:
            capture = str(Path(tmp) / "workload.scap")
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ruleopt",
                    "generate",
                    "-r",
                    args.rules,
                    "-n",
                    str(args.events),
                    "--break-share",
                    str(args.break_share),
                    "--seed",
                    str(args.seed),
                    "-o",
                    capture,
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                cwd=REPO,
            )
        doc = compare(
            [args.rules],
            capture,
            list(S.DEFAULT_STRATEGIES),
            args.repeat,
            progress=False,
            engine="both",
            train=train,
        )
        _print_run(doc, args.rules)
        held_vs_trained(args.rules, capture, train, learning, args.repeat)
    return 0 if doc["equivalent"] else 1


def held_vs_trained(
    rules_file: str, capture: str, train: str, learning: list[str], repeat: int
) -> None:
    """Each learning strategy built held out and trained on the measured events, both
    measured in the same interleaved rounds (the load moves between runs, so two runs of
    compare cannot be compared): speedups against the same rounds' baseline."""
    rules = load_rules([rules_file])
    table = load_events(capture, rules)
    trained = CT.training(train, rules, table)
    kept = S.syscall_rules(rules.enabled_rules())
    judged, _skipped = real.engine_rules(kept)
    compiled, judged = S.compile_for(judged, table)
    builds = [("baseline", "-", S.prepare("baseline", compiled, table, judged))]
    for n in learning:
        for how, src in (("held out", trained.table), ("trained on", None)):
            builds.append((n, how, S.prepare(n, compiled, table, judged, train=src)))
    samples: list[list] = [[] for _ in builds]
    for r in range(repeat + 1):  # round 0 warms up
        for k, (_n, _how, p) in enumerate(builds):
            one = S.measure_once(p, table)
            if r:
                samples[k].append(one)
    res = [S.summarize(p, table, s) for (_n, _h, p), s in zip(builds, samples, strict=True)]
    base = res[0].cycles_per_event
    print(
        f"\nheld out ({trained.label}) and trained on, in the same {repeat} rounds; "
        f"speedup = median of per-round ratios to the baseline; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print("replica:")
    for (n, how, _p), r in zip(builds[1:], res[1:], strict=True):
        x = float(np.median(base / r.cycles_per_event))
        print(f"  {n:15} {how:10} {r.cpe_median:9.1f} cycles/event, {x:5.2f}x")
    on_real = [S.get_strategy("baseline")]
    trains: dict = {}
    for n in learning:
        s = S.get_strategy(n)
        if real.real_support(s):
            continue
        for how, src in (("held out", trained.table), ("trained on", table)):
            name = f"{n} ({how})"
            on_real.append(dataclasses.replace(s, name=name))
            trains[name] = src
    if len(on_real) > 1:
        run = real.run_engine(capture, judged, on_real, repeat=repeat, train=trains)
        b = run.results[0].cycles_per_event
        print("libsinsp:")
        for r in run.results[1:]:
            x = float(np.median(b / r.cycles_per_event))
            same = r.alert_keys() == run.results[0].alert_keys()
            print(
                f"  {r.name:26} {float(np.median(r.cycles_per_event)):9.1f} cycles/event, "
                f"{x:5.2f}x, same alerts as the baseline {same}"
            )


def _print_run(doc: dict, rules: str) -> None:
    rows = doc["strategies"]
    stock = next(r for r in rows if r["engine"] == "libsinsp" and r["strategy"] == "baseline")
    stock_cpe = stock["cycles_per_event"]["median"]
    print(
        f"\n{doc['n_events']:,} events of {Path(rules).name} ({doc['events']}), "
        f"first match, {doc['repeats']} repeats after a warm-up, median ± half-range; "
        f"load average {doc['machine']['load_average']}\nlearning strategies trained on: "
        f"{doc['trained_on']}"
    )
    head = (
        f"{'engine':9} {'strategy':15} {'cycles/event':>20} {'rules/event':>11} "
        f"{'output cycles/alert':>22} {'vs stock':>9} {'alerts':>7} equivalent"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        vs = stock_cpe / r["cycles_per_event"]["median"] if r["cycles_per_event"]["median"] else 0
        print(
            f"{r['engine']:9} {r['strategy']:15} {_pm(r['cycles_per_event'], 1):>20} "
            f"{r['rules_checked_per_event']:>11.2f} {_pm(r['output_cycles_per_alert']):>22} "
            f"{vs:>8.2f}x {r['alerts']:>7} {'yes' if r['equivalent'] else 'NO'}"
        )
    for engine in doc["engines"]:
        by = {r["strategy"]: r for r in rows if r["engine"] == engine}
        if "cached-output" not in by:
            continue
        lua = by["baseline"]["output_cycles_per_alert"]["median"]
        cached = by["cached-output"]["output_cycles_per_alert"]["median"]
        if lua and cached:
            ratio = lua / cached
            print(
                f"{engine}: cached output is {ratio:.2f}x cheaper per alert than the Lua path "
                f"(aim >= 10x: {'met' if ratio >= 10 else 'not met'})"
            )
            lua_m = by["baseline"]["output_cycles_per_alert"].get("median_alert")
            cached_m = by["cached-output"]["output_cycles_per_alert"].get("median_alert")
            if lua_m and cached_m:
                print(
                    f"{engine}: the median alert: Lua {lua_m:,.0f}, cached {cached_m:,.0f} "
                    f"cycles ({lua_m / cached_m:.2f}x)"
                )
    print("libsinsp stages per event (mean cycles, all measured passes; broken = a rule matched):")
    for r in rows:
        if r["engine"] != "libsinsp":
            continue
        parts = []
        for stage in ("next", "index", "rule_checks", "output"):
            cells = r["stages"][stage]
            count = sum(c["count"] for c in cells.values())
            total = sum(c["sum"] for c in cells.values())
            parts.append(f"{stage} {total / max(count, 1):,.0f}")
        broken = r["stages"]["output"]["rules_broken"]["mean"]
        parts.append(f"output on broken events {broken or 0:,.0f}")
        print(f"  {r['strategy']:15} " + ", ".join(parts))
    for c in doc["cross_engine"]["strategies"]:
        ratio = c["cycles_per_event_ratio"]
        print(
            f"libsinsp/replica {c['strategy']}: cycles per event {ratio:.2f}x, "
            f"same alerts {c['same_alerts']}"
        )
    if doc["noisy"]:
        print(f"warning: noisy rows (spread > 10% of median): {', '.join(doc['noisy'])}")


if __name__ == "__main__":
    raise SystemExit(main())
