"""A/B of two builds of the compiled core: this tree's and another build's extensions.

Not a test: prints figures. For a change to the core or its boundary, build the old
version somewhere else and compare, in one process, on the same compiled ruleset and
generated workload (Falco 0.26.2 rules), rounds alternating old/new so that machine
drift and neighbours hit both alike:

    git archive main | tar -x -C /tmp/old && (cd /tmp/old && \\
        RULEOPT_WITHOUT_SINSP=1 python setup.py build_ext --inplace -q)
    python experiments/bench_core_ab.py /tmp/old/ruleopt/_ext -n 1000000 --rounds 9

Per build (untraced, rules, stacks) and matcher (recursive evaluator, shared program):
min and median cycles per event of each side and the median of per-round new/old ratios.
With ``objdump`` on the PATH it also compares the machine code of the hot functions
(evaluator, comparison, one loop iteration), addresses masked: equal code cannot be
slower, whatever the noise of a shared machine does to the timings.

The old build must take the same ``CompiledRuleset`` arrays (node matrix, program).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import numpy as np

from ruleopt.engine.compile import compile_rules
from ruleopt.engine.core import VARIANTS, core_module, tsc_hz
from ruleopt.engine.program import compile_program
from ruleopt.events.generator import generate
from ruleopt.rules.loader import load_rules

SHARED = Path(__file__).resolve().parents[2] / "shared"
RULES = SHARED / "rulesets/falco_rules-falco-0.26.2.yaml"
HOT = ("_eval", "_eval_cmp", "_process")


def load_build(ext_dir: Path, name: str) -> ModuleType:
    """Another build's extension module, loaded beside this tree's (import ours first:
    the other way round the old module shadows the new one)."""
    path = next(ext_dir.glob(f"{name}.cpython-*.so"))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def hot_code(so: str, variant: str) -> dict[str, list[str]]:
    """Disassembly of the hot functions, addresses and symbol offsets masked."""
    text = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", so], capture_output=True, text=True, check=True
    ).stdout
    out: dict[str, list[str]] = {}
    for block in text.split("\n\n"):
        head = re.match(r"[0-9a-f]+ <([^>]+)>:", block.strip())
        if not head:
            continue
        m = re.fullmatch(rf"__pyx_f_\w+core_{variant}_(\w+?)(\.isra\.\d+)?", head.group(1))
        if not m or m.group(1) not in HOT:
            continue
        lines = block.strip().splitlines()[1:]
        out[m.group(1)] = [
            re.sub(r"0x[0-9a-f]+|[0-9a-f]{4,} <[^>]*>|<[^>]*>", "X", ln.split("\t", 1)[-1])
            for ln in lines
        ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path, help="the other build's ruleopt/_ext directory")
    ap.add_argument("-n", type=int, default=1_000_000, help="generated events")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--rules", default=str(RULES))
    args = ap.parse_args()

    rules = load_rules(args.rules)
    table = generate(rules, args.n, seed=0, break_share=0.01)
    compiled = compile_rules(rules.rules, table)
    shared = dataclasses.replace(compiled, program=compile_program(compiled, share=True))
    n = table.n
    print(
        f"{n:,} events, {compiled.n_rules} rules, TSC {tsc_hz() / 1e9:.3f} GHz, "
        f"{args.rounds} rounds alternating old/new (cycles per event)"
    )
    print(
        f"{'build':9} {'matcher':9} {'old min':>9} {'new min':>9} {'old med':>9} "
        f"{'new med':>9} {'new/old (median of rounds)':>27} {'[min, max]':>16}"
    )
    for variant in VARIANTS:
        new = core_module(variant)
        old = load_build(args.old, f"core_{variant}")
        for label, comp in (("recursive", compiled), ("shared", shared)):
            a, b = old.run(comp, table), new.run(comp, table)  # also the warm-up
            same = np.array_equal(a["match_evt"], b["match_evt"]) and np.array_equal(
                a["checks"], b["checks"]
            )
            if not same:
                raise SystemExit(f"{variant}/{label}: the builds disagree on matches")
            co, cn = [], []
            for r in range(args.rounds):
                order = [(old, co), (new, cn)] if r % 2 == 0 else [(new, cn), (old, co)]
                for mod, acc in order:
                    acc.append(float(mod.run(comp, table)["cycles"][0]))
            c_old, c_new = np.array(co), np.array(cn)
            ratio = c_new / c_old
            print(
                f"{variant:9} {label:9} {c_old.min() / n:9.1f} {c_new.min() / n:9.1f} "
                f"{np.median(c_old) / n:9.1f} {np.median(c_new) / n:9.1f} "
                f"{np.median(ratio):27.3f} [{ratio.min():.3f}, {ratio.max():.3f}]",
                flush=True,
            )
        if shutil.which("objdump"):
            mine, theirs = hot_code(new.__file__, variant), hot_code(old.__file__, variant)
            for fn in HOT:
                if fn in mine or fn in theirs:
                    verdict = "identical" if mine.get(fn) == theirs.get(fn) else "DIFFERENT"
                    print(
                        f"  machine code of {fn} ({variant}): {verdict} "
                        f"({len(theirs.get(fn, []))} -> {len(mine.get(fn, []))} instructions)"
                    )


if __name__ == "__main__":
    main()
