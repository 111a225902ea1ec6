"""``ruleopt optimize``'s effect on libsinsp 2022's rule checks, original vs optimized.

    python experiments/bench_optimize.py [--rules NAME ...] [-n N] [--repeat R] [--workdir DIR]

Per ruleset (default: the shared 0.26.2, main and 1.0.0 files): two generated captures of
N events (default 100,000) with 1% breaking events, seeds 1 and 2. The rules are
optimized with the seed-1 capture (the operands are measured on it) and then measured on
both captures: seed 1 ("train") and seed 2 ("test": no training on the test). Each figure
is libsinsp 2022's rdtsc cycles in rule checks per event, stock event-type index, both
rulesets in the same harness run (and a second run in the other order, see
``ruleopt.rewrite.measure``), R passes each. The alerts of both files on the test capture
must be the same rule by rule on both engines.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ruleopt.events.load import load_events  # noqa: E402
from ruleopt.rewrite.diff import diff_rulesets  # noqa: E402
from ruleopt.rewrite.measure import measure_effect  # noqa: E402
from ruleopt.rewrite.optimize import optimize  # noqa: E402
from ruleopt.rules.loader import load_rules  # noqa: E402

RULESETS = REPO.parent / "shared" / "rulesets"
DEFAULT = ["falco_rules-falco-0.26.2.yaml", "falco_rules-main.yaml", "falco_rules-1.0.0.yaml"]


def capture(rules: Path, n: int, seed: int, workdir: Path) -> Path:
    out = workdir / f"{rules.stem}-{n}-s{seed}.scap"
    if not out.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ruleopt",
                "generate",
                "-r",
                str(rules),
                "-n",
                str(n),
                "--break-share",
                "0.01",
                "--seed",
                str(seed),
                "-o",
                str(out),
            ],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rules", nargs="*", default=DEFAULT)
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-optimize-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.rules:
        rules = RULESETS / name
        train, test = capture(rules, args.n, 1, workdir), capture(rules, args.n, 2, workdir)
        original = load_rules(rules)
        result = optimize([rules], [(load_events(train, original), train)])
        out = workdir / f"{rules.stem}.optimized.yaml"
        out.write_text(result.text, encoding="utf-8")
        optimized = load_rules(out)
        diffs = diff_rulesets(original, optimized, load_events(test, original), test)
        differ = sum(d.status != "same" for d in diffs)
        for label, cap in (("train", train), ("test", test)):
            eff = measure_effect(original, optimized, cap, args.repeat)
            rows.append((name, label, len(result.rewrites), eff, differ))
            print(f"{name} {label}: {eff.summary()}", flush=True)
    print()
    print(
        f"{'ruleset':32s} {'capture':7s} {'rewrites':>8s} {'before':>10s} {'after':>10s} "
        f"{'ratio':>6s} {'alert diffs':>11s}"
    )
    for name, label, nrw, eff, differ in rows:
        print(
            f"{name:32s} {label:7s} {nrw:8d} {eff.per_event(eff.before):10.1f} "
            f"{eff.per_event(eff.after):10.1f} {eff.ratio():5.2f}x {differ:11d}"
        )
    print(
        "(cycles per event in rule checks, libsinsp 2022, stock evttype index; "
        f"{args.n} events, {args.repeat} passes x 2 orders; captures in {workdir})"
    )


if __name__ == "__main__":
    main()
