"""Sampled tracing: what it costs and how close its per-rule estimates stay to full tracing.

Not a test: prints figures. Side by side in one run, rounds interleaved (every
configuration once per round, in rotating order, after one warm-up each), so frequency,
cache and neighbour drift hit all alike:

* replica (the Cython core), on the bundled default workload (seed rules) and on a
  generated 0.26.2 workload (1% of the events built to break rules): the untraced build,
  the rules-traced build at full tracing (N = 1), the stacks-traced build, and the
  rules-traced build sampling 1 in N events for each ``--n``;
* libsinsp 2022 (the harness, ``ruleopt-sinsp run``), on a generated 0.26.2 capture
  (``ruleopt generate -r falco_rules-falco-0.26.2.yaml -n 100000 --break-share 0.01``):
  untimed (``--sample 0``: no rdtsc at all), full (N = 1) and sampled at each N.

For each configuration: the overhead against the untraced (untimed) pass, the median of
per-round ratios with their min and max. For each sampled N: the largest relative error of
a rule's estimated cycles per check against full tracing (all rounds merged on both
sides), over the rules with at least ``--min-share`` of all checks (the threshold is
printed), and the share of those rules whose 95% interval holds the full-tracing mean
(coverage). The same error between two halves of the full-tracing rounds is printed too:
the run-to-run noise floor that no sampled estimate can beat. Last, the smallest N with
"overhead <= 5% and every error <= 10%".

    python experiments/bench_sampling.py                       # ~5 minutes on 2 cores
    python experiments/bench_sampling.py --rounds 7 --n 10 100 1000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from ruleopt.defaults import DEFAULT_RULES
from ruleopt.engine.compile import CompiledRuleset, compile_rules
from ruleopt.engine.core import CoreResult, run_core
from ruleopt.engine.verify import unsupported_reason
from ruleopt.events.generator import generate
from ruleopt.events.load import load_events
from ruleopt.events.sinsp import run_harness
from ruleopt.events.table import EventTable
from ruleopt.profile.core_report import profile_from_core
from ruleopt.profile.harness_report import profile_from_harness
from ruleopt.profile.model import MOMENTS, Moments, RuleProfile
from ruleopt.rules.ast import print_expr
from ruleopt.rules.loader import load_rules

SHARED = Path(__file__).resolve().parents[2] / "shared"
RULES_0262 = SHARED / "rulesets/falco_rules-falco-0.26.2.yaml"
AIM_OVERHEAD = 0.05
AIM_ERROR = 0.10

console = Console(width=200)
err = Console(stderr=True)


def fmt_pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:+.1f}%"


def load_average() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


# ---------------------------------------------------------------- per-rule figures


def merge(profiles: Sequence[Sequence[RuleProfile]]) -> dict[int, RuleProfile]:
    """Rule profiles of several runs summed rule by rule (counts, cells, sums of squares)."""
    out: dict[int, RuleProfile] = {}
    for rules in profiles:
        for r in rules:
            zero = Moments((0.0,) * MOMENTS, (0.0,) * MOMENTS)
            m = out.setdefault(r.id, RuleProfile(r.id, r.name, 0, 0, moments=zero))
            m.checks += r.checks
            m.matches += r.matches
            m.unmatched = m.unmatched.merge(r.unmatched)
            m.matched = m.matched.merge(r.matched)
            assert m.moments is not None and r.moments is not None
            m.moments = Moments.of(
                np.add(m.moments.unmatched, r.moments.unmatched),
                np.add(m.moments.matched, r.moments.matched),
            )
    return out


def accuracy(
    full: dict[int, RuleProfile], sampled: dict[int, RuleProfile], min_share: float, trim: bool
) -> dict:
    """Largest relative error of a rule's cycles per check (sampled estimate against the
    full-tracing mean) over the rules with at least ``min_share`` of all checks, and the
    share of them whose 95% interval holds the full mean. ``trim``: both means without
    the outliers (checks of 2^20 cycles or more: the thread was descheduled)."""
    total = sum(r.checks for r in full.values())
    keep = [i for i, r in full.items() if total and r.checks >= min_share * total]
    errs, covered, worst = [], 0, None
    for i in keep:
        f = full[i].estimates(trim)[2]
        s = sampled[i].estimates(trim)[2]
        if f.mean is None or not f.mean or s.mean is None:
            continue
        e = abs(s.mean - f.mean) / f.mean
        if worst is None or e > max(errs, default=0):
            worst = full[i].name
        errs.append(e)
        covered += s.mean_low is not None and s.mean_low <= f.mean <= s.mean_high
    return {
        "rules": len(errs),
        "threshold_checks": int(min_share * total),
        "max_error": max(errs) if errs else None,
        "median_error": float(np.median(errs)) if errs else None,
        "worst_rule": worst,
        "coverage": covered / len(errs) if errs else None,
        "timed_checks": sum(r.estimates()[2].timed for i, r in sampled.items() if i in keep),
    }


def overheads(cycles: dict[str, list[float]], base: str) -> dict[str, dict]:
    """Per configuration: median, min and max over rounds of cycles / base cycles - 1."""
    out = {}
    for label, cs in cycles.items():
        ratios = np.asarray(cs) / np.asarray(cycles[base]) - 1
        out[label] = {
            "median": float(np.median(ratios)),
            "min": float(ratios.min()),
            "max": float(ratios.max()),
            "cycles_median": float(np.median(cs)),
        }
    return out


def rounds_of(
    configs: Sequence[str], rounds: int, run: Callable[[str], tuple[float, object]]
) -> tuple[dict[str, list[float]], dict[str, list[object]]]:
    """Each config once per round (the order rotates round by round), after a warm-up."""
    for c in configs:
        run(c)
    cycles: dict[str, list[float]] = {c: [] for c in configs}
    got: dict[str, list[object]] = {c: [] for c in configs}
    for k in range(rounds):
        order = list(configs[k % len(configs) :]) + list(configs[: k % len(configs)])
        for c in order:
            cyc, res = run(c)
            cycles[c].append(cyc)
            got[c].append(res)
        err.print(f"  round {k + 1}/{rounds} done ({load_average()})")
    return cycles, got


def smallest_n(ns: Sequence[int], over: dict[str, dict], acc: dict[str, dict]) -> int | None:
    for n in sorted(ns):
        o, a = over[f"N={n}"]["median"], acc[str(n)]["max_error"]
        if o <= AIM_OVERHEAD and a is not None and a <= AIM_ERROR:
            return n
    return None


# ---------------------------------------------------------------- the two engines


def replica(
    label: str, compiled: CompiledRuleset, table: EventTable, args: argparse.Namespace
) -> dict:
    configs = ["untraced", "rules", "stacks"] + [f"N={n}" for n in args.n]
    seeds = iter(np.random.SeedSequence(args.seed).generate_state(100_000, np.uint64).tolist())

    def run(c: str) -> tuple[float, CoreResult]:
        variant, sample = ("rules", int(c[2:])) if c.startswith("N=") else (c, 1)
        r = run_core(
            compiled,
            table,
            variant,
            repeat=args.passes,
            sample=sample,
            seed=next(seeds) if variant == "rules" else 0,
        )
        return float(np.median(r.cycles)), r

    err.print(
        f"replica, {label}: {table.n:,} events x {args.passes} passes, {len(configs)} configs"
    )
    cycles, got = rounds_of(configs, args.rounds, run)

    def rules_of(results: Sequence[CoreResult]) -> dict[int, RuleProfile]:
        return merge([profile_from_core(r, compiled, table).rules for r in results])

    return _figures(label, "untraced", cycles, got, rules_of, args)


def harness(capture: Path, rules_file: Path, args: argparse.Namespace) -> dict:
    ruleset = load_rules(rules_file)
    judged = [r for r in ruleset.enabled_rules() if not unsupported_reason(r)]
    spec = [(r.id, r.name, print_expr(r.condition)) for r in judged]
    configs = ["untimed", "rules"] + [f"N={n}" for n in args.n]
    seeds = iter(np.random.SeedSequence(args.seed).generate_state(100_000, np.uint64).tolist())

    def run(c: str) -> tuple[float, dict]:
        sample = {"untimed": 0, "rules": 1}.get(c) if not c.startswith("N=") else int(c[2:])
        doc = run_harness(capture, spec, args.harness_passes, sample=sample, seed=next(seeds))
        return float(np.median(doc["pass_cycles"])), doc

    err.print(f"libsinsp harness: {capture.name}, {len(spec)} rules, {args.harness_passes} passes")
    cycles, got = rounds_of(configs, args.rounds, run)

    def rules_of(docs: Sequence[dict]) -> dict[int, RuleProfile]:
        return merge([profile_from_harness(d).rules for d in docs])

    return _figures(f"libsinsp, {capture.name}", "untimed", cycles, got, rules_of, args)


def _figures(label, base, cycles, got, rules_of, args) -> dict:
    over = overheads(cycles, base)
    full = rules_of(got["rules"])
    sampled = {n: rules_of(got[f"N={n}"]) for n in args.n}
    # Two halves of the full-tracing rounds against each other: the run-to-run noise floor.
    half = len(got["rules"]) // 2
    halves = (rules_of(got["rules"][:half]), rules_of(got["rules"][half:])) if half else None
    out = {"label": label, "base": base, "overhead": over}
    for key, trim in (("raw", False), ("trimmed", True)):
        acc = {str(n): accuracy(full, sampled[n], args.min_share, trim) for n in args.n}
        out[key] = {
            "accuracy": acc,
            "full_vs_full_halves": accuracy(*halves, args.min_share, trim) if halves else None,
            "smallest_n": smallest_n(args.n, over, acc),
        }
    return out


def show(fig: dict, min_share: float) -> None:
    t = Table(title=f"{fig['label']}: overhead vs {fig['base']} (median of per-round ratios)")
    for col in ("config", "overhead", "min", "max", "cycles/pass"):
        t.add_column(col, justify="right")
    for key in ("raw", "trimmed"):
        t.add_column(f"max err. ({key})", justify="right")
        t.add_column(f"median err. ({key})", justify="right")
        t.add_column(f"CI cover ({key})", justify="right")
    t.add_column("rules", justify="right")
    for c, o in fig["overhead"].items():
        cells = []
        rules = ""
        for key in ("raw", "trimmed"):
            f = fig[key]
            a = f["accuracy"].get(c[2:]) if c.startswith("N=") else None
            if c == "rules" and f["full_vs_full_halves"]:
                a = {**f["full_vs_full_halves"], "coverage": None}
            cells += [
                fmt_pct(a["max_error"]).lstrip("+") if a else "",
                fmt_pct(a["median_error"]).lstrip("+") if a else "",
                f"{100 * a['coverage']:.0f}%" if a and a.get("coverage") is not None else "",
            ]
            rules = str(a["rules"]) if a else rules
        t.add_row(
            c + (" (full; errors: half vs half)" if c == "rules" else ""),
            fmt_pct(o["median"]),
            fmt_pct(o["min"]),
            fmt_pct(o["max"]),
            f"{o['cycles_median']:,.0f}",
            *cells,
            rules,
        )
    console.print(t)
    some = next(iter(fig["raw"]["accuracy"].values()), None)
    if some:
        console.print(
            f"errors: cycles per check of each rule with >= {min_share:.1%} of all checks "
            f"(>= {some['threshold_checks']:,} checks in the merged full runs), sampled "
            f"estimate vs full tracing, all rounds merged; trimmed = without checks of "
            f">= 2^20 cycles (descheduled). Smallest N with overhead <= 5% and max error "
            f"<= 10%: raw {fig['raw']['smallest_n'] or 'none tested'}, trimmed "
            f"{fig['trimmed']['smallest_n'] or 'none tested'}"
        )


def generate_capture(path: Path, n: int) -> None:
    cmd = [sys.executable, "-m", "ruleopt", "generate", "-r", str(RULES_0262), "-n", str(n)]
    cmd += ["--break-share", "0.01", "-q", "-o", str(path)]
    subprocess.run(cmd, check=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10, 100, 1000], help="sampling rates")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--passes", type=int, default=3, help="replica passes per run (default 3)")
    ap.add_argument("--harness-passes", type=int, default=2, help="harness passes per run")
    ap.add_argument("--events", type=int, default=500_000, help="generated 0.26.2 workload size")
    ap.add_argument("--capture", type=Path, help="the 0.26.2 capture (default: generate 100k)")
    ap.add_argument("--min-share", type=float, default=0.01, help="rules with this share of checks")
    ap.add_argument("--seed", type=int, default=0, help="seed of the sampled runs' seeds")
    ap.add_argument("--skip-replica", action="store_true")
    ap.add_argument("--skip-harness", action="store_true")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)
    console.print(f"bench_sampling: {load_average()}, N = {args.n}, {args.rounds} rounds")
    out: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "figures": []}
    if not args.skip_replica:
        seed_rules = load_rules(DEFAULT_RULES)
        table = load_events(None, seed_rules)
        out["figures"].append(
            replica(
                "default workload (seed rules)", compile_rules(seed_rules.rules, table), table, args
            )
        )
        show(out["figures"][-1], args.min_share)
        rs = load_rules(RULES_0262)
        gen = generate(rs, args.events, seed=0, break_share=0.01)
        out["figures"].append(
            replica(
                f"generated 0.26.2 ({args.events:,} events)",
                compile_rules(rs.rules, gen),
                gen,
                args,
            )
        )
        show(out["figures"][-1], args.min_share)
    if not args.skip_harness:
        with tempfile.TemporaryDirectory() as tmp:
            capture = args.capture
            if capture is None:
                capture = Path(tmp) / "gen_0262_100k.scap"
                err.print("generating the 100k-event 0.26.2 capture")
                generate_capture(capture, 100_000)
            out["figures"].append(harness(capture, RULES_0262, args))
        show(out["figures"][-1], args.min_share)
    out["load_average_end"] = load_average()
    console.print(f"end: {load_average()}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
