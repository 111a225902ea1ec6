"""Benchmark the compiled core: throughput, cycles per rule check, tracing overhead, and
the same cycles per check measured by the real-libsinsp harness on a capture.

Not a test: prints figures. Two parts:

1. A generated workload (``generator.generate(rules, n, seed=0, break_share=0.01)``) for
   the Falco 0.26.2 ruleset: events/s of the untraced core, cycles per rule check
   (matched, unmatched) from the rules-traced build, and each traced build's overhead
   against the untraced one. The three builds run interleaved round by round (after one
   warm-up pass each), so frequency, cache and neighbour drift hit each alike; figures
   are medians with min/max, and the overhead is the median of per-round ratios.
2. A real capture replayed ``--capture-repeat`` times through libsinsp 2022's
   instrumented harness (``ruleopt.events.sinsp.run_harness``) and through the core, the
   same rules (those libsinsp can judge) on the same events: cycles per check and per
   next() side by side, and the aim: the untraced core evaluates the ruleset at no more
   cycles per rule check than libsinsp's harness measures.

    python experiments/bench_core.py                     # 10M generated events
    python experiments/bench_core.py -n 1000000 --repeat 7
    python experiments/bench_core.py --rate 20000000 --buffer 8192
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ruleopt.engine.compile import CompiledRuleset, compile_rules
from ruleopt.engine.core import STAGES, CoreResult, run_core, tsc_hz
from ruleopt.events.table import EventTable
from ruleopt.profile.core_report import profile_from_core
from ruleopt.profile.model import BRANCHES, Hist, Profile

SHARED = Path(__file__).resolve().parents[2] / "shared"
RULES = SHARED / "rulesets/falco_rules-falco-0.26.2.yaml"
CAPTURE = SHARED / "traces/run_as_user_0_container.scap"
BUILDS = ("untraced", "rules", "stacks")

err = Console(stderr=True)


def fmt(x: float | None, digits: int = 0) -> str:
    return "-" if x is None or x != x else f"{x:,.{digits}f}"


def _progress(total: int, what: str) -> tuple[Progress, int]:
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    return bar, bar.add_task(what, total=total)


def interleaved(
    compiled: CompiledRuleset,
    table: EventTable,
    repeat: int,
    passes_per_run: int = 1,
    first_match: bool = True,
) -> dict[str, list[CoreResult]]:
    """``repeat`` rounds of untraced, rules, stacks (after one warm-up each)."""
    bar, task = _progress(len(BUILDS) * (repeat + 1), f"{table.n:,} events x {repeat} rounds")
    got: dict[str, list[CoreResult]] = {b: [] for b in BUILDS}
    with bar:
        for b in BUILDS:
            run_core(compiled, table, b, first_match=first_match)
            bar.advance(task)
        for _ in range(repeat):
            for b in BUILDS:
                got[b].append(
                    run_core(compiled, table, b, repeat=passes_per_run, first_match=first_match)
                )
                bar.advance(task)
    return got


def pass_cycles(results: list[CoreResult]) -> np.ndarray:
    """Cycles of one pass per round (the mean of the run's passes)."""
    return np.array([float(r.cycles.mean()) for r in results])


def print_builds(got: dict[str, list[CoreResult]], n: int, hz: float) -> None:
    cyc = {b: pass_cycles(got[b]) for b in BUILDS}
    print(
        f"  {'build':9} {'cycles/event':>12} {'min':>8} {'max':>8} {'events/s':>13} "
        f"{'overhead (median of rounds)':>28} {'[min, max]':>18}"
    )
    for b in BUILDS:
        c = cyc[b] / n
        eps = n / (np.median(cyc[b]) / hz)
        ratio = cyc[b] / cyc["untraced"] - 1  # same round: drift cancels
        over = "" if b == "untraced" else f"{100 * np.median(ratio):+27.1f}%"
        spread = (
            "" if b == "untraced" else (f"[{100 * ratio.min():+.1f}%, {100 * ratio.max():+.1f}%]")
        )
        print(
            f"  {b:9} {np.median(c):12.1f} {c.min():8.1f} {c.max():8.1f} {fmt(eps):>13} "
            f"{over:>28} {spread:>18}"
        )


def per_check(profile: Profile, label: str) -> None:
    for matched in (False, True):
        h: Hist = profile.checks_hist(matched)
        kind = "matched" if matched else "unmatched"
        if not h.count:
            print(f"  {label} {kind:9}: no checks")
            continue
        print(
            f"  {label} {kind:9}: {h.count:>12,} checks, mean {h.mean:9.1f}, "
            f"p50 ~{h.percentile(50):7.0f}, p99 ~{h.percentile(99):8.0f} cycles"
        )


def print_stages(profile: Profile) -> None:
    print(f"  {'stage':13}" + "".join(f"{b:>26}" for b in BRANCHES))
    for name in STAGES:
        sp = profile.stages.get(name)
        cells = []
        for b in BRANCHES:
            h = sp.branches.get(b) if sp else None
            cells.append(f"{h.mean:10.1f} [{h.count:>12,}]" if h else "-")
        print(f"  {name:13}" + "".join(f"{x:>26}" for x in cells))


def generated_part(args: argparse.Namespace, rules) -> None:
    from ruleopt.events.generator import generate

    t0 = time.perf_counter()
    table = generate(rules, args.n, seed=0, break_share=0.01, progress=err.is_terminal)
    t1 = time.perf_counter()
    compiled = compile_rules(rules.rules, table)
    t2 = time.perf_counter()
    hz = tsc_hz()
    print(
        f"\n== generated workload: {table.n:,} events (seed 0, 1% breaking; "
        f"{t1 - t0:.1f}s), {compiled.n_rules} rules compiled ({t2 - t1:.1f}s), "
        f"TSC {hz / 1e9:.3f} GHz, Falco's first match per event"
    )
    got = interleaved(compiled, table, args.repeat)
    base = got["untraced"][-1]
    checks = base.rules_checked
    print(
        f"  {len(base.match_evt):,} matching events per pass, {checks:,} rule checks "
        f"({checks / table.n:.2f} per event)"
    )
    print_builds(got, table.n, hz)
    prof = profile_from_core(got["rules"] + got["stacks"], compiled, table, "bench")
    print(f"per rule check (rules-traced build, {args.repeat} passes, rdtsc pair included):")
    per_check(prof, "core")
    med_u = float(np.median(pass_cycles(got["untraced"])))
    print(
        f"  core untraced bound: {med_u / checks:.1f} cycles per check "
        f"(whole untraced pass / its checks; includes next and index lookup)"
    )
    print("per stage (stacks-traced build), mean cycles [iterations]:")
    print_stages(prof)
    if args.rate:
        r = run_core(compiled, table, "untraced", rate=args.rate, buffer=args.buffer)
        print(
            f"rate replay (untraced) {fmt(args.rate)} ev/s, ring {args.buffer:,}: "
            f"{int(r.processed.sum()):,} processed, {r.drops:,} dropped "
            f"({100 * r.drops / table.n:.2f}%), {r.timeouts:,} SCAP_TIMEOUT polls"
        )


def capture_part(args: argparse.Namespace, rules) -> None:
    from ruleopt.engine.verify import unsupported_reason
    from ruleopt.events.load import load_events
    from ruleopt.events.sinsp import run_harness
    from ruleopt.profile.harness_report import profile_from_harness
    from ruleopt.rules.ast import print_expr

    judged = [r for r in rules.enabled_rules() if not unsupported_reason(r)]
    table = load_events(args.capture, rules)
    compiled = compile_rules(judged, table)
    n_rep = args.capture_repeat
    print(
        f"\n== capture {Path(args.capture).name}: {table.n:,} events x {n_rep} replays, "
        f"{len(judged)} rules libsinsp judges"
    )
    with err.status("libsinsp harness"):
        doc = run_harness(
            args.capture, [(r.id, r.name, print_expr(r.condition)) for r in judged], n_rep
        )
    real = profile_from_harness(doc)
    over = float(doc.get("rdtsc_overhead") or 0)
    # The core replays the capture n_rep times per run, like the harness, and checks every
    # indexed rule of each event as the harness does (no first-match exit), so both
    # engines do the same checks and the matched/unmatched figures compare like for like.
    got = interleaved(compiled, table, args.repeat, passes_per_run=n_rep, first_match=False)
    core = profile_from_core(got["rules"][-1:] + got["stacks"][-1:], compiled, table, "bench")
    same = {r.id: (r.checks, r.matches) for r in real.rules} == {
        r.id: (r.checks, r.matches) for r in core.rules if r.id in {x.id for x in real.rules}
    }
    print(
        f"  per-rule checks and matches equal libsinsp's: {same} "
        f"({sum(r.checks for r in real.rules):,} checks, "
        f"{sum(r.matches for r in real.rules):,} matches)"
    )
    checks = int(got["untraced"][-1].rules_checked)
    bound = float(np.median(pass_cycles(got["untraced"]))) / checks if checks else None
    nxt = real.stages["next_event"].total
    core_next = core.stages["next_event"].total

    def mean(p: Profile, matched: bool) -> float | None:
        h = p.checks_hist(matched)
        return h.mean if h.count else None

    def net(x: float | None) -> float | None:
        return None if x is None else x - over

    print(f"  cycles (mean; rdtsc overhead {over:.0f} cycles per measurement, from the harness)")
    print(f"  {'':34} {'check, unmatched':>17} {'check, matched':>15} {'per next()':>11}")
    rows = [
        ("libsinsp harness (raw rdtsc)", mean(real, False), mean(real, True), nxt.mean),
        (
            "libsinsp harness (- rdtsc)",
            net(mean(real, False)),
            net(mean(real, True)),
            net(nxt.mean),
        ),
        ("core, rules-traced (raw rdtsc)", mean(core, False), mean(core, True), None),
        ("core, rules-traced (- rdtsc)", net(mean(core, False)), net(mean(core, True)), None),
        ("core, stacks-traced next_event", None, None, core_next.mean),
        ("core, untraced (pass / checks)", bound, None, None),
    ]
    for label, u, m, x in rows:
        print(f"  {label:34} {fmt(u, 1):>17} {fmt(m, 1):>15} {fmt(x, 1):>11}")
    ref = mean(real, False)
    if bound is not None and ref is not None:
        verdict = "MET" if bound <= ref else "NOT MET"
        print(
            f"  aim (untraced core <= harness per check): {verdict}: {bound:.1f} vs "
            f"{ref:.1f} raw, {net(ref):.1f} net of rdtsc"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "-n",
        type=lambda s: int(s.replace("_", "")),
        default=10_000_000,
        help="generated events (default 10,000,000; ~35 s and ~5 GB)",
    )
    ap.add_argument("--rules", default=str(RULES))
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds per build")
    ap.add_argument("--capture", default=str(CAPTURE))
    ap.add_argument(
        "--capture-repeat",
        type=int,
        default=50,
        help="replays of the capture, harness and core alike",
    )
    ap.add_argument("--rate", type=float, help="also replay the workload at this rate")
    ap.add_argument("--buffer", type=int, default=8192, help="ring slots for --rate")
    ap.add_argument("--skip-generated", action="store_true")
    ap.add_argument("--skip-capture", action="store_true")
    args = ap.parse_args(argv)

    from ruleopt.profile.model import machine_info
    from ruleopt.rules.loader import load_rules

    rules = load_rules(args.rules)
    m = machine_info()
    print(
        f"rules {Path(args.rules).name}: {len(rules.enabled_rules())} enabled; "
        f"{m['cpu']}, {m['cores']} cores; {args.repeat} interleaved rounds"
    )
    if not args.skip_generated:
        generated_part(args, rules)
    if not args.skip_capture:
        capture_part(args, rules)
    return 0


if __name__ == "__main__":
    sys.exit(main())
