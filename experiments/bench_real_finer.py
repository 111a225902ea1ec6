"""Index finer on libsinsp 2022 against stock, side by side in one run, trained on one seed
and measured on another (and, for comparison, trained on the measured capture itself).

    python experiments/bench_real_finer.py [--events N] [--train-seed A] [--seed B]
                                           [--repeat R] [--rules FILE] [--workdir DIR]

Generates (or reuses, in --workdir) two captures of N events (default 100,000) of the
Falco 0.26.2 rules with 1% of events breaking rules, seeds A (training, default 1) and B
(measured, default 2); builds the finer tree on A's events (ruleopt.engine.real_finer) and
runs on B, repeats interleaved in one run (ruleopt.engine.real.run_engine): stock
(``baseline``: evttype index, libsinsp's filters), ``finer`` (held-out tree),
``finer-on-test`` (a tree trained on B itself: the figure a replica-style build reports),
``finer-unpriced`` (held-out, splits chosen as the replica chooses them: rules checked
alone, extraction and first sight free) and ``finer-cached`` (held-out tree, proposal 3's
output). Prints per strategy: rules
checked per event, rule-evaluation cycles per event (index stage, discriminator extraction
included, plus rule checks; median ± half-range over repeats), the index stage alone and
where it went (extractions, conjuncts run on first sight or in direct mode, the walk), the
cache's counters, and the
ratios against stock; then the rules that take most checks with and without the tree.
Every finer row's alerts must equal stock's, and stock's and finer's must equal the
reference evaluator's on every event of B (exit 1 otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ruleopt.cli import main as cli  # noqa: E402
from ruleopt.engine import oracle, real  # noqa: E402
from ruleopt.engine import strategies as S  # noqa: E402
from ruleopt.engine.real_finer import build_tree  # noqa: E402
from ruleopt.events.load import load_events  # noqa: E402
from ruleopt.rules.loader import load_rules  # noqa: E402

RULES = REPO.parent / "shared" / "rulesets" / "falco_rules-falco-0.26.2.yaml"


def _capture(workdir: Path, rules: Path, n: int, seed: int) -> Path:
    out = workdir / f"finer-{rules.stem}-{n}-seed{seed}.scap"
    if not out.exists():
        argv = ["generate", "-r", str(rules), "-n", str(n), "--seed", str(seed)]
        if cli([*argv, "--break-share", "0.01", "-o", str(out)]) != 0:
            raise SystemExit(f"generate failed for seed {seed}")
    return out


def _reference_ok(res: real.RealResult, table, rules) -> bool:
    want = oracle.reference_first_match(rules, table, np.arange(table.n))
    row_of = {int(n): r for r, n in enumerate(np.asarray(table.evt_num).tolist())}
    got = np.full(table.n, oracle.NO_MATCH, dtype=np.int64)
    for num, rid, _ in res.alerts:
        got[row_of[num]] = rid
    return bool(np.array_equal(got, want))


def _pm(values: np.ndarray) -> str:
    return f"{np.median(values):,.0f} ± {(values.max() - values.min()) / 2:,.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--train-seed", type=int, default=1)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rules", type=Path, default=RULES)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp"))
    a = ap.parse_args(argv)
    if a.seed == a.train_seed:
        raise SystemExit("--seed must differ from --train-seed (no training on the test)")
    a.workdir.mkdir(parents=True, exist_ok=True)
    train_cap = _capture(a.workdir, a.rules, a.events, a.train_seed)
    test_cap = _capture(a.workdir, a.rules, a.events, a.seed)
    rules, _ = real.engine_rules(S.syscall_rules(load_rules([str(a.rules)]).enabled_rules()))
    test = load_events(test_cap, rules)
    train = load_events(train_cap, rules)
    held_out = build_tree(rules, train, trained_on=f"seed {a.train_seed}")
    on_test = build_tree(rules, test, trained_on=f"seed {a.seed} (the measured capture)")
    # Splits priced as the replica prices them (rules checked alone, extraction and first
    # sight free): fewer rules checked, and what that costs on libsinsp.
    unpriced = build_tree(
        rules, train, trained_on=f"seed {a.train_seed}, replica prices", stream=None
    )
    finer = S.get_strategy("finer")
    strategies = [
        S.get_strategy("baseline"),
        finer,
        S.Strategy("finer-on-test", "finer", "recursive", "lua"),
        S.Strategy("finer-unpriced", "finer", "recursive", "lua"),
        S.Strategy("finer-cached", "finer", "recursive", "cached"),
    ]
    trees = {
        "finer": held_out,
        "finer-on-test": on_test,
        "finer-unpriced": unpriced,
        "finer-cached": held_out,
    }
    run = real.run_engine(test_cap, rules, strategies, repeat=a.repeat, tree=trees)
    load = os.getloadavg()
    base = run.results[0]
    base_cpe = base.cycles_per_event
    print(
        f"{a.events:,} events, rules {a.rules.name}, tree trained on seed {a.train_seed}, "
        f"measured on seed {a.seed}; {a.repeat} repeats interleaved; mode {run.mode}; "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    for name, tree in (("held-out", held_out), ("on-test", on_test), ("unpriced", unpriced)):
        st = tree.stats
        print(
            f"  tree {name}: {st['tree_nodes']} nodes, {st['roots']} roots, "
            f"{st['conjuncts']} conjuncts, fields {', '.join(st['discriminators'])}"
        )
    head = (
        f"{'strategy':<14} {'rules/evt':>9} {'x fewer':>7} {'rule-eval cyc/evt':>19} "
        f"{'x faster':>8} {'index cyc/evt':>15} {'extract':>8} {'conjunct':>8} {'walk':>7} "
        f"{'checks cyc/evt':>15} {'extr/evt':>8} {'misses':>7} {'conj evals':>10} {'= stock':>7}"
    )
    print(head)
    ok = True
    for res in run.results:
        cpe = res.cycles_per_event
        idx = res.index_cycles_per_event
        chk = res._per("check_cycles", "events")
        ev = res.n_events
        same = res.alert_keys() == base.alert_keys()
        ok &= same
        if res.finer:
            f = res.finer["passes"]
            ext = np.median([p["extract_cycles"] for p in f]) / ev
            miss = np.median([p["miss_cycles"] for p in f]) / ev
            direct = np.median([p["direct_cycles"] for p in f]) / ev
            miss += direct  # first sight and direct mode: conjuncts run in the index
            walk = float(np.median(idx)) - ext - miss
            c = f[0]
            extra = f"{ext:>8,.0f} {miss:>8,.0f} {walk:>7,.0f}"
            counts = f"{c['extractions'] / ev:>8.2f} {c['misses']:>7,} {c['conjunct_evals']:>10,}"
        else:
            extra = f"{'':>8} {'':>8} {'':>7}"
            counts = f"{'':>8} {'':>7} {'':>10}"
        fewer = base.rules_checked_per_event / max(res.rules_checked_per_event, 1e-9)
        faster = float(np.median(base_cpe)) / float(np.median(cpe))
        print(
            f"{res.name:<14} {res.rules_checked_per_event:>9.2f} {fewer:>7.2f} {_pm(cpe):>19} "
            f"{faster:>8.2f} {_pm(idx):>15} {extra} {_pm(chk):>15} {counts} "
            f"{'yes' if same else 'NO':>7}"
        )
    by_id = {r.id: r.name for r in rules}
    for res in (base, run.results[1]):
        checks = res.passes[0]["checks_by_rule"]
        top = sorted(checks.items(), key=lambda kv: -kv[1])[:6]
        print(f"  most checked with {res.name}: " + "; ".join(
            f"{by_id[int(k)]} {v / res.n_events:.2f}/evt" for k, v in top
        ))  # fmt: skip
    for res in (base, run.results[1]):
        good = _reference_ok(res, test, rules)
        ok &= good
        print(f"  {res.name} equal to the reference evaluator on every event: {good}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
