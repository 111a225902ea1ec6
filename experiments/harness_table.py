"""The study's per-rule table on the real engine (libsinsp 2022), and where the cycles
of a matched "Write below etc" check go.

For each ruleset (Falco 0.26.2 from ``../shared/rulesets``, the project's seed-era
``rulesets/seed_rules.yaml``; others with ``--rules LABEL=PATH``):

1. generate a seeded workload with a share of rule-breaking events (1% by default) and
   write it as a ``.scap`` capture (what ``ruleopt generate -o X.scap`` does);
2. run the harness on it (what ``ruleopt harness`` does: libsinsp's own compiled filters,
   Falco's event-type index, rdtsc around each ``filter->run()``, ``--repeat`` passes)
   and tabulate per rule: checks, matched checks, unmatched and matched mean and median
   cycles (medians from the harness's log2 histograms, interpolated within a bucket, so
   within a factor of two), share of all check cycles; "Write below etc" beside the
   study's ~300 unmatched / ~34,000 matched;
3. the operand study of "Write below etc" with ``ruleopt-sinsp checks``
   (``plugin/sinsp_checks.cpp``): the rule, the rule again right after it on the same
   event, and each of its top-level operands compiled as its own libsinsp filter, all
   run on the rule's events; on the events the rule matched: the rule's cycles per pass,
   first match against later ones, the immediate re-run, each operand's cycles and
   their sum, how many events each matched event's thread had before (0: a fresh
   thread), page faults during the checks;
4. with ``--instructions`` (needs valgrind): callgrind counts the instructions, cache
   misses and branch mispredictions of the matched checks alone (a re-run of the matched
   events inside one function that callgrind is limited to), the rule against the sum of
   its operands: a figure that does not depend on how loaded the machine is.

Writes ``harness_table.json``, ``harness_table.md`` and one ``<label>_latency.svg`` per
ruleset (matched and unmatched cycle distributions per rule, log scale: the harness's own
plot) into ``-o DIR`` (default ``experiments/out/``), all or nothing.

    python3 experiments/harness_table.py                     # both rulesets, ~1-2 minutes
    python3 experiments/harness_table.py --instructions      # + callgrind, ~5 more minutes
    python3 experiments/harness_table.py -n 20000 --repeat 1 --rules old=/tmp/falco_rules.yaml
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ruleopt.engine.verify import unsupported_reason  # noqa: E402
from ruleopt.errors import RuleoptError  # noqa: E402
from ruleopt.events.sinsp import ensure_built, netstrings, run_harness  # noqa: E402
from ruleopt.experiment.study import STUDY_MATCHED, STUDY_RULE, STUDY_UNMATCHED  # noqa: E402
from ruleopt.fsutil import staged_dir  # noqa: E402
from ruleopt.profile.harness_report import profile_from_harness  # noqa: E402
from ruleopt.profile.model import Hist, Profile, RuleProfile  # noqa: E402
from ruleopt.profile.plots import latency_plot  # noqa: E402
from ruleopt.rules import ast  # noqa: E402
from ruleopt.rules.ast import print_expr  # noqa: E402
from ruleopt.rules.loader import load_rules  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DEFAULT_RULESETS = {
    "falco-0.26.2": SHARED / "rulesets" / "falco_rules-falco-0.26.2.yaml",
    "seed_rules": REPO / "rulesets" / "seed_rules.yaml",
}
PLOT_TOP = 8


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- capture + harness


def generate_capture(
    rules_path: Path, events: int, seed: int, share: float, out: Path
) -> dict[str, Any]:
    """Write the generator's seeded workload for ``rules_path`` as a capture at ``out``."""
    from ruleopt.events.generator import GenerationReport, generate
    from ruleopt.events.workload_scap import write_capture

    rules = load_rules([rules_path])
    report = GenerationReport(events, seed, share)
    table = generate(rules, events, seed, share, progress=sys.stderr.isatty(), report=report)
    scap = write_capture(table, out)
    return {
        "events": events,
        "seed": seed,
        "break_share": share,
        "breaking_events": report.breaking,
        "threads": scap.threads,
        "bytes": scap.bytes,
    }


def harness(rules_path: Path, capture: Path, repeat: int) -> tuple[dict, Profile, list]:
    """``ruleopt harness``'s measurement: every enabled rule libsinsp 2022 can judge."""
    judged, skipped = [], []
    for rule in load_rules([rules_path]).enabled_rules():
        reason = unsupported_reason(rule)
        if reason:
            skipped.append({"rule": rule.name, "reason": reason})
        else:
            judged.append(rule)
    doc = run_harness(capture, [(r.id, r.name, print_expr(r.condition)) for r in judged], repeat)
    return doc, profile_from_harness(doc), skipped


def _side(h: Hist) -> dict[str, Any]:
    return {
        "count": h.count,
        "mean": round(h.mean, 1) if h.count else None,
        "median": round(h.percentile(50), 1) if h.count else None,
        "p90": round(h.percentile(90), 1) if h.count else None,
    }


def rule_rows(profile: Profile) -> list[dict[str, Any]]:
    """One row per rule checked at least once, by total check cycles, most first."""
    total = sum(r.total_cycles for r in profile.rules) or 1
    return [
        {
            "rule": r.name,
            "checks": r.checks,
            "matched_checks": r.matched.count,
            "unmatched": _side(r.unmatched),
            "matched": _side(r.matched),
            "share_of_cycles": round(r.total_cycles / total, 4),
        }
        for r in profile.top_rules()
        if r.checks
    ]


# ---------------------------------------------------------------- the operand study


def top_level_operands(expr: ast.Expr) -> list[ast.Expr]:
    return list(expr.items) if isinstance(expr, ast.And) else [expr]


def comparisons(expr: ast.Expr) -> int:
    """Leaf comparisons of a condition (macros and lists already expanded)."""
    if isinstance(expr, ast.Compare):
        return 1
    if isinstance(expr, ast.Not):
        return comparisons(expr.operand)
    if isinstance(expr, ast.And | ast.Or):
        return sum(comparisons(e) for e in expr.items)
    return 0


def run_checks(
    capture: Path,
    filters: Sequence[tuple[str, str]],
    repeat: int,
    extra: Sequence[str] = (),
    wrapper: Sequence[str] = (),
) -> dict[str, Any]:
    """Run ``ruleopt-sinsp checks``: ``filters`` are (name, condition), the first the
    host whose event types decide where every filter runs."""
    records: list[bytes] = []
    for i, (name, cond) in enumerate(filters):
        records += [str(i).encode(), name.encode(), cond.encode(), b"0"]
    binary = ensure_built()
    with tempfile.TemporaryDirectory(prefix="ruleopt-htable-") as tmp:
        rules = Path(tmp) / "filters.ns"
        rules.write_bytes(netstrings(records))
        out = Path(tmp) / "checks.json"
        cmd = [
            *wrapper,
            str(binary),
            "checks",
            str(capture),
            str(rules),
            "--repeat",
            str(repeat),
            "--json",
            str(out),
            *extra,
        ]
        proc = subprocess.run(cmd, capture_output=True, cwd=tmp)
        if proc.returncode != 0 or not out.exists():
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            last = err[-1] if err else f"exit code {proc.returncode}"
            if "usage:" in last and "checks" not in last:
                raise RuleoptError(
                    "this ruleopt-sinsp has no 'checks' command",
                    file=str(binary),
                    hint="rebuild it: make -C plugin, then point "
                    "RULEOPT_SINSP at build/ruleopt-sinsp",
                )
            raise RuleoptError(f"ruleopt-sinsp checks failed: {last}", file=str(capture))
        doc = json.loads(out.read_text())
        if wrapper:
            doc["callgrind"] = _callgrind_totals(Path(tmp))
    for f in doc["filters"]:
        if f["error"]:
            raise RuleoptError(f"libsinsp rejected filter {f['name']!r}: {f['error']}")
    return doc


def _med(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _matched_summary(
    doc: dict[str, Any], names: Sequence[str], prefixes: Sequence[int] = ()
) -> dict[str, Any]:
    """Figures on the events filter 0 (the rule) matched; filter 1 is the rule again,
    filters 2.. its operands (``names``), then its prefixes of ``prefixes`` operands."""
    ch = doc["checks"]
    n = len(ch["cycles"])
    # (pass, evtnum) of the events the rule matched, in order.
    matched = [
        (ch["pass"][i], ch["evtnum"][i])
        for i in range(n)
        if ch["filter"][i] == 0 and ch["result"][i]
    ]
    mset = set(matched)
    full: dict[tuple, int] = {}
    again: dict[tuple, int] = {}
    ops_sum: dict[tuple, int] = {}
    per_op: dict[int, list[int]] = {}
    per_prefix: dict[int, list[int]] = {}
    unmatched_full, first_on_thread = [], 0
    for i in range(n):
        key = (ch["pass"][i], ch["evtnum"][i])
        f, c = ch["filter"][i], ch["cycles"][i]
        if key not in mset:
            if f == 0:
                unmatched_full.append(c)
        elif f == 0:
            full[key] = c
            first_on_thread += ch["thread_events"][i] == 0
        elif f == 1:
            again[key] = c
        elif f - 2 >= len(names):
            per_prefix.setdefault(prefixes[f - 2 - len(names)], []).append(c)
        else:
            per_op.setdefault(f - 2, []).append(c)
            ops_sum[key] = ops_sum.get(key, 0) + c
    passes = sorted({p for p, _ in matched})
    firsts = [next(k for k in matched if k[0] == p) for p in passes]
    ranked = sorted(per_op.items(), key=lambda kv: -statistics.median(kv[1]))
    values = list(full.values())
    return {
        "matched_checks": len(matched),
        "unmatched_checks": len(unmatched_full),
        "unmatched_median": _med(unmatched_full),
        "matched_median": _med(values),
        "matched_mean": round(statistics.fmean(values), 1) if values else None,
        "matched_min": min(values, default=None),
        # The quiet end of the distribution: on a loaded machine the median is not.
        "matched_p10": round(statistics.quantiles(values, n=10)[0], 1)
        if len(values) >= 2
        else None,
        "matched_max": max(values, default=None),
        "matched_median_by_pass": [_med([full[k] for k in matched if k[0] == p]) for p in passes],
        "first_match_of_pass": [full[k] for k in firsts],
        "later_matches_median": _med([full[k] for k in matched if k not in set(firsts)]),
        "again_median": _med(list(again.values())),
        "operands_sum_median": _med(list(ops_sum.values())),
        "full_over_operands_sum_median": _med(
            [full[k] / ops_sum[k] for k in full if ops_sum.get(k)]
        ),
        "matched_on_fresh_thread": first_on_thread,
        "costliest_operands": [
            {"operand": names[k][:160], "median": _med(v)} for k, v in ranked[:8]
        ],
        # The first k operands as one filter: how a chain's cost grows with its length.
        "prefixes": [
            {"operands": k, "median": _med(v), "per_operand": round(statistics.median(v) / k, 1)}
            for k, v in sorted(per_prefix.items())
        ],
    }


def operand_study(
    rules_path: Path, capture: Path, repeat: int, rule_name: str = STUDY_RULE
) -> dict[str, Any] | None:
    """Where a matched check of ``rule_name`` spends its cycles, from per-check records:
    timed as the harness times (plain rdtsc), then with lfence around each rdtsc, then
    once more counting page faults (a system call per check, so not timed)."""
    ruleset = load_rules([rules_path])
    try:
        rule = ruleset.rule(rule_name)
    except KeyError:
        return None
    operands = top_level_operands(rule.condition)
    ops = [print_expr(o) for o in operands]
    cond = print_expr(rule.condition)
    prefixes = sorted({k for k in (1, 2, 5, 10, 20, 45, len(ops)) if k <= len(ops)})
    filters = [(rule_name, cond), (rule_name + " (again)", cond), *((o, o) for o in ops)]
    filters += [
        (f"first {k} operands", print_expr(ast.And(tuple(operands[:k]))) if k > 1 else ops[0])
        for k in prefixes
    ]
    plain = run_checks(capture, filters, repeat, extra=["--matched-only"])
    fenced = run_checks(capture, filters, repeat, extra=["--matched-only", "--fenced"])
    faults = run_checks(capture, filters[:1], 1, extra=["--faults"])
    fc = faults["checks"]
    out = {
        "rule": rule_name,
        "top_level_operands": len(ops),
        "comparisons": comparisons(rule.condition),
        "repeat": repeat,
        "rdtsc_overhead": plain["rdtsc_overhead"],
    }
    out.update(_matched_summary(plain, ops, prefixes))
    out["fenced"] = _matched_summary(fenced, ops, prefixes)
    out["page_faults_in_matched_checks"] = sum(
        m for m, r in zip(fc["minflt"], fc["result"], strict=True) if r
    )
    return out


# ---------------------------------------------------------------- instruction counts


def _callgrind_totals(directory: Path) -> dict[str, int]:
    """The ``summary:``/``totals:`` line of the callgrind output in ``directory``."""
    for out in sorted(directory.glob("callgrind.out*")):
        names: list[str] = []
        for line in out.read_text(errors="replace").splitlines():
            if line.startswith("events:"):
                names = line.split()[1:]
            elif line.startswith(("summary:", "totals:")) and names:
                values = [int(v) for v in line.split()[1:]]
                return dict(zip(names, values, strict=False))
    raise RuleoptError("callgrind wrote no totals", file=str(directory))


def instruction_study(
    rules_path: Path, capture: Path, rule_name: str = STUDY_RULE
) -> dict[str, Any] | None:
    """Instructions (and simulated cache misses, mispredictions) per matched check of
    the rule, and of its top-level operands as separate filters, by callgrind."""
    if shutil.which("valgrind") is None:
        return {"skipped": "valgrind is not installed"}
    try:
        rule = load_rules([rules_path]).rule(rule_name)
    except (KeyError, RuleoptError):
        return None
    cond = print_expr(rule.condition)
    ops = [(print_expr(o), print_expr(o)) for o in top_level_operands(rule.condition)]
    wrapper = [
        "valgrind",
        "--tool=callgrind",
        "--cache-sim=yes",
        "--branch-sim=yes",
        "--collect-atstart=no",
        "--toggle-collect=*rerun_matched*",
    ]
    alone = run_checks(capture, [(rule_name, cond)], 1, ["--rerun-matched"], wrapper)
    both = run_checks(capture, [(rule_name, cond), *ops], 1, ["--rerun-matched"], wrapper)
    n = sum(
        1
        for f, r in zip(alone["checks"]["filter"], alone["checks"]["result"], strict=True)
        if f == 0 and r
    )
    if not n:
        return {"skipped": "the rule matched no event"}
    # Every check of the rule (libsinsp's gen_event_filter::run), matched or not.
    every = run_checks(
        capture,
        [(rule_name, cond)],
        1,
        (),
        [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=gen_event_filter::run*",
        ],
    )
    return instruction_figures(
        alone["callgrind"],
        both["callgrind"],
        every["callgrind"]["Ir"],
        n,
        len(every["checks"]["cycles"]),
    )


def instruction_figures(
    alone: dict[str, int], both: dict[str, int], every_ir: int, matched: int, checks: int
) -> dict[str, Any]:
    """Per-check figures from callgrind totals: ``alone`` over the re-run of the
    ``matched`` events with the rule only, ``both`` with the rule and its operands,
    ``every_ir`` the instructions of all ``checks`` checks of one pass (the matched ones
    cost what their re-run did, so the rest is the unmatched checks')."""
    return {
        "matched_checks": matched,
        "checks": checks,
        "rule_per_matched_check": {k: round(v / matched, 1) for k, v in alone.items()},
        "operands_per_matched_check": {
            k: round((both[k] - v) / matched, 1) for k, v in alone.items() if k in both
        },
        "unmatched_instructions_per_check": round(
            (every_ir - alone["Ir"]) / max(1, checks - matched), 1
        ),
    }


# ---------------------------------------------------------------- output


def _c(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# The study's table on the real engine (libsinsp 2022)",
        "",
        f"`{results['command']}`",
        "",
    ]
    for label, res in results["rulesets"].items():
        cap, h = res["capture"], res["harness"]
        lines += [
            f"## {label}: `{res['rules']}`",
            "",
            f"Generated capture: {cap['events']:,} events, seed {cap['seed']}, "
            f"{cap['break_share']:.0%} asked to break rules ({cap['breaking_events']:,}"
            f" breaking), {cap['threads']:,} threads. Harness: {h['repeat']} passes, "
            f"{h['rules']} rules, TSC {h['tsc_ghz']} GHz, rdtsc overhead "
            f"{h['rdtsc_overhead']} cycles included. Medians from log2 histograms.",
            "",
            "| rule | checks | matched | unmatched mean | unmatched median | "
            "matched mean | matched median | share of cycles |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in res["rows"]:
            u, m = r["unmatched"], r["matched"]
            lines.append(
                f"| {r['rule']} | {r['checks']:,} | {r['matched_checks']:,} | "
                f"{_c(u['mean'])} | {_c(u['median'])} | {_c(m['mean'])} | "
                f"{_c(m['median'])} | {r['share_of_cycles']:.1%} |"
            )
        lines.append("")
        wbe = next((r for r in res["rows"] if r["rule"] == STUDY_RULE), None)
        if wbe:
            lines += [
                f"| {STUDY_RULE} | unmatched mean | unmatched median | matched mean | "
                "matched median |",
                "| --- | ---: | ---: | ---: | ---: |",
                f"| this run | {_c(wbe['unmatched']['mean'])} | "
                f"{_c(wbe['unmatched']['median'])} | {_c(wbe['matched']['mean'])} | "
                f"{_c(wbe['matched']['median'])} |",
                f"| study | ~{STUDY_UNMATCHED:,} | | ~{STUDY_MATCHED:,} | |",
                "",
            ]
        op = res.get("operands")
        if op:
            lines += [
                f"Operand study of {STUDY_RULE} (`ruleopt-sinsp checks`, exact cycles "
                f"per check, {op['repeat']} passes): {op['top_level_operands']} "
                f"top-level operands, {op['comparisons']} comparisons.",
                "",
                f"- matched checks: {op['matched_checks']}, median "
                f"{_c(op['matched_median'])} (min {_c(op['matched_min'])}, p10 "
                f"{_c(op['matched_p10'])}, max "
                f"{_c(op['matched_max'])}); per pass "
                f"{', '.join(_c(x) for x in op['matched_median_by_pass'])}; unmatched "
                f"median {_c(op['unmatched_median'])}",
                "- first match of each pass "
                f"{', '.join(_c(x) for x in op['first_match_of_pass'])}, later matches "
                f"median {_c(op['later_matches_median'])}",
                f"- the same rule again, right after, on the same event: median "
                f"{_c(op['again_median'])}",
                f"- its operands as separate filters on the same events: sum per event "
                f"median {_c(op['operands_sum_median'])} (rule / sum, median "
                f"{op['full_over_operands_sum_median']}); with lfence around rdtsc: "
                f"rule {_c(op['fenced']['matched_median'])}, sum "
                f"{_c(op['fenced']['operands_sum_median'])} (rule / sum "
                f"{op['fenced']['full_over_operands_sum_median']})",
                f"- matched events that are the first event of their thread: "
                f"{op['matched_on_fresh_thread']} of {op['matched_checks']}; page "
                f"faults during matched checks: {op['page_faults_in_matched_checks']}",
                "- the first k operands as one filter, median (per operand): "
                + ", ".join(
                    f"{p['operands']}: {_c(p['median'])} ({_c(p['per_operand'])})"
                    for p in op["prefixes"]
                ),
                "- costliest operands (median on matched events): "
                + "; ".join(
                    f"`{o['operand'][:70]}` {_c(o['median'])}" for o in op["costliest_operands"][:4]
                ),
                "",
            ]
        ins = res.get("instructions")
        if ins and "skipped" not in ins:
            lines += [
                f"Callgrind, per matched check ({ins['matched_checks']} matched events re-run):",
                "",
                "| | instructions | D1 misses | branch mispredictions (conditional + indirect) |",
                "| --- | ---: | ---: | ---: |",
            ]
            for what, key in (
                ("the rule", "rule_per_matched_check"),
                ("its operands, separately", "operands_per_matched_check"),
            ):
                c = ins[key]
                lines.append(
                    f"| {what} | {_c(c.get('Ir'))} | "
                    f"{_c(c.get('D1mr', 0) + c.get('D1mw', 0))} | "
                    f"{_c(c.get('Bcm', 0) + c.get('Bim', 0))} |"
                )
            lines += [
                "",
                f"An unmatched check of the rule: "
                f"{_c(ins['unmatched_instructions_per_check'])} instructions (all "
                f"{ins['checks']:,} checks of one pass counted, less the matched).",
                "",
            ]
        elif ins:
            lines += [f"Instruction counts skipped: {ins['skipped']}.", ""]
    return "\n".join(lines) + "\n"


def _plot(profile: Profile, path: Path) -> Path:
    """The harness's latency plot, for the costliest rules plus the study's rule."""
    keep: list[RuleProfile] = profile.top_rules(PLOT_TOP)
    keep += [r for r in profile.rules if r.name == STUDY_RULE and r not in keep]
    sub = Profile(
        engine=profile.engine,
        rules=keep,
        events=profile.events,
        repeat=profile.repeat,
        tsc_hz=profile.tsc_hz,
    )
    return latency_plot(sub, path, top=len(keep))


def _print_table(label: str, res: dict[str, Any], top: int = 15) -> None:
    print(f"\n{label}: {res['rules']}")
    print(
        f"{'rule':44} {'checks':>8} {'matched':>8} {'unm mean':>9} {'unm med':>8} "
        f"{'m mean':>9} {'m med':>9} {'share':>6}"
    )
    rows = res["rows"]
    shown = rows[:top] + [r for r in rows[top:] if r["rule"] == STUDY_RULE]
    for r in shown:
        u, m = r["unmatched"], r["matched"]
        print(
            f"{r['rule'][:44]:44} {r['checks']:>8,} {r['matched_checks']:>8,} "
            f"{_c(u['mean']):>9} {_c(u['median']):>8} {_c(m['mean']):>9} "
            f"{_c(m['median']):>9} {r['share_of_cycles']:>6.1%}"
        )
    wbe = next((r for r in rows if r["rule"] == STUDY_RULE), None)
    if wbe:
        print(
            f"{STUDY_RULE}: unmatched mean {_c(wbe['unmatched']['mean'])} (study "
            f"~{STUDY_UNMATCHED}), matched mean {_c(wbe['matched']['mean'])}, median "
            f"{_c(wbe['matched']['median'])} (study ~{STUDY_MATCHED:,})"
        )


# ---------------------------------------------------------------- main


def measure(
    label: str, rules_path: Path, workdir: Path, args: argparse.Namespace, step: str
) -> tuple[dict[str, Any], Profile]:
    capture = workdir / f"{label}.scap"
    t0 = time.monotonic()
    log(
        f"{step} {label}: generating {args.events:,} events (seed {args.seed}, "
        f"{args.break_share:.0%} breaking) -> capture"
    )
    cap = generate_capture(rules_path, args.events, args.seed, args.break_share, capture)
    log(f"{step} {label}: harness, {args.repeat} pass(es) over the capture")
    doc, profile, skipped = harness(rules_path, capture, args.repeat)
    res: dict[str, Any] = {
        "rules": str(rules_path),
        "capture": cap,
        "harness": {
            "repeat": doc["repeat"],
            "events": doc["events"],
            "rules": len(profile.rules),
            "skipped_rules": skipped,
            "tsc_ghz": round(doc["tsc_hz"] / 1e9, 2),
            "rdtsc_overhead": doc["rdtsc_overhead"],
            "checks": sum(r.checks for r in profile.rules),
            "unmatched": _side(profile.checks_hist(False)),
            "matched": _side(profile.checks_hist(True)),
        },
        "rows": rule_rows(profile),
    }
    if not args.no_operands:
        log(f"{step} {label}: operand study of {STUDY_RULE!r} (ruleopt-sinsp checks)")
        res["operands"] = operand_study(rules_path, capture, args.repeat)
    if args.instructions:
        log(f"{step} {label}: callgrind instruction counts (slow)")
        res["instructions"] = instruction_study(rules_path, capture)
    log(f"{step} {label}: done in {time.monotonic() - t0:.0f} s")
    return res, profile


def _rules_arg(text: str) -> tuple[str, Path]:
    label, sep, path = text.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError(f"expected LABEL=PATH, got {text!r}")
    return label, Path(path)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "-o",
        "--output",
        default=str(REPO / "experiments" / "out"),
        metavar="DIR",
        help="output directory (default experiments/out/)",
    )
    ap.add_argument(
        "-n",
        "--events",
        type=int,
        default=100_000,
        help="events per generated capture (default 100,000)",
    )
    ap.add_argument("--seed", type=int, default=101, help="generator seed (default 101)")
    ap.add_argument(
        "--break-share",
        type=float,
        default=0.01,
        help="share of rule-breaking events (default 0.01)",
    )
    ap.add_argument(
        "--repeat", type=int, default=3, help="harness passes over each capture (default 3)"
    )
    ap.add_argument(
        "--rules",
        type=_rules_arg,
        action="append",
        metavar="LABEL=PATH",
        help="rulesets to measure instead of the defaults (repeatable)",
    )
    ap.add_argument("--no-operands", action="store_true", help="skip the operand study")
    ap.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions per matched check with callgrind",
    )
    args = ap.parse_args(argv)
    if not 1 <= args.events <= 10_000_000 or not 1 <= args.repeat <= 1000:
        ap.error("-n must be 1..10,000,000 and --repeat 1..1000")
    if not 0.0 <= args.break_share <= 1.0:
        ap.error("--break-share must be within 0..1")
    rulesets = dict(args.rules) if args.rules else dict(DEFAULT_RULESETS)
    try:
        for label, path in rulesets.items():
            if not path.is_file():
                raise RuleoptError(
                    f"rules file for {label!r} not found",
                    file=str(path),
                    hint="the shared data lives in ../shared beside the clone",
                )
        results: dict[str, Any] = {
            "command": "python3 experiments/harness_table.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "study": {"rule": STUDY_RULE, "unmatched": STUDY_UNMATCHED, "matched": STUDY_MATCHED},
            "rulesets": {},
        }
        profiles = {}
        with tempfile.TemporaryDirectory(prefix="ruleopt-htable-") as work:
            for k, (label, path) in enumerate(rulesets.items(), 1):
                res, profiles[label] = measure(
                    label, path, Path(work), args, f"[{k}/{len(rulesets)}]"
                )
                results["rulesets"][label] = res
                _print_table(label, res)
        with staged_dir(args.output) as (stage, moved):
            (stage / "harness_table.json").write_text(json.dumps(results, indent=1) + "\n")
            (stage / "harness_table.md").write_text(markdown(results))
            for label, profile in profiles.items():
                _plot(profile, stage / f"{label}_latency.svg")
        for f in moved:
            print(f"wrote {f}")
    except RuleoptError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
