"""The verify-power table: per upstream ruleset, on a generated 1%-breaking capture, how
many rules libsinsp 2022 matches out of those that can match at all.

    python experiments/verify_power.py [--seed S] [--per-rule 100] [RULESET.yaml ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from ruleopt.engine.power import measure

# The shared data, found as tests/conftest.py finds it: next to the repository.
RULESETS = Path(__file__).resolve().parents[1].parent / "shared" / "rulesets"
DEFAULT = ["falco_rules-falco-0.26.2.yaml", "falco_rules-main.yaml", "falco_rules-1.0.0.yaml"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rulesets", nargs="*")
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--per-rule", type=int, default=100, help="events per enabled rule")
    args = ap.parse_args(argv)
    paths = [Path(p) for p in args.rulesets] or [RULESETS / x for x in DEFAULT]
    print("| rules | enabled syscall rules | never match | unsupported | non-empty | % |")
    print("| --- | --- | --- | --- | --- | --- |")
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            from ruleopt.rules.loader import load_rules

            n = args.per_rule * len(load_rules([path]).enabled_rules())
            p = measure(path, args.seed, Path(tmp) / "power.scap", n=n)
            ok = len(p.judged) - len(p.empty)
            print(
                f"| {p.ruleset} | {len(p.rules)} | {len(p.never)} | {len(p.unsupported)} "
                f"| {ok} of {len(p.judged)} | {100 * p.share:.0f}% |"
            )
            notes.append((p, n))
    for p, n in notes:
        print(f"\n{p.ruleset} ({n:,} events, seed {p.seed}, differ: {len(p.differ)}):")
        for r in p.empty:
            print(f"  empty: {r}")
        for r, why in p.unsupported.items():
            print(f"  unsupported: {r}: {why}")
        for r, why in p.never.items():
            print(f"  never: {r}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
