"""The report as a document: one section per proposal and one for the study's claims,
each with its question, its method, tables of both engines side by side, plots and
verdicts. ``html.py`` and ``markdown.py`` only render this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ruleopt.experiment.study import STUDY_MATCHED, STUDY_RULE, STUDY_UNMATCHED
from ruleopt.report import plots
from ruleopt.report.figures import (
    BASELINE,
    ENGINES,
    Context,
    Fig,
    Index,
    Table,
    advice,
    advice_table,
    cells_table,
    figure_table,
    overhead_table,
    profile_table,
    rate_table,
    speed_table,
)
from ruleopt.report.load import Results
from ruleopt.report.verdicts import Verdict, proposal_verdicts, study_verdicts


@dataclass
class Plot:
    name: str  # file-safe, unique in the report
    title: str
    svg: str


@dataclass
class Section:
    id: str
    title: str
    question: str
    method: str
    verdicts: list[Verdict] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    title: str
    root: Path
    sections: list[Section]
    verdicts: list[Verdict]
    counts: dict[str, int]
    failed: list[dict]
    unreadable: list[dict[str, str]]
    machine: dict
    cells: Table


def _n(ctxs: list[Context], i: int) -> str:
    return "" if len(ctxs) < 2 else f"-{i + 1}"


def _bars(idx: Index, section: str, figure: str, title: str, ylabel: str, **kw) -> list[Plot]:
    out = []
    ctxs = idx.contexts("speed")
    for i, ctx in enumerate(ctxs):
        strategies = idx.strategies("speed", ctx)
        groups = {
            e: [idx.fig("speed", figure, ctx, engine=e, strategy=s) for s in strategies]
            for e in ENGINES
        }
        groups = {e: g for e, g in groups.items() if any(g)}
        if not groups:
            continue
        name = f"{section}-{figure}{_n(ctxs, i)}"
        full = f"{title}, {ctx.workload}"
        out.append(
            Plot(name, full, plots.grouped_bars(name, full, ylabel, strategies, groups, **kw))
        )
    return out


def _latency_plots(idx: Index) -> list[Plot]:
    out = []
    ctxs = idx.contexts("profile")
    for i, ctx in enumerate(ctxs):
        panels: dict[str, dict[str, list]] = {}
        rule_shown = None
        for e in ENGINES:
            cells = idx.cells("profile", ctx, engine=e, strategy=BASELINE) or idx.cells(
                "profile", ctx, engine=e
            )
            if not cells:
                continue
            rules = cells[0].series.get("rules") or []
            # The study's rule when measured, else the rule with the most checks.
            pick = [r for r in rules if r.get("rule") == STUDY_RULE] or sorted(
                rules, key=lambda r: -int(r.get("checks", 0))
            )[:1]
            if not pick:
                continue
            r = pick[0]
            rule_shown = r.get("rule")
            panels[f"{e}: {rule_shown}"] = {
                "unmatched": r.get("unmatched_hist") or [],
                "matched": r.get("matched_hist") or [],
            }
        if not panels:
            continue
        name = f"study-latency{_n(ctxs, i)}"
        title = f"Cycles per check, matched and unmatched ({ctx.workload})"
        out.append(Plot(name, title, plots.latency_plot(name, title, panels)))
    return out


def _drop_plots(idx: Index) -> list[Plot]:
    out = []
    ctxs = idx.contexts("rate")
    for i, ctx in enumerate(ctxs):
        series = {}
        for s in idx.strategies("rate", ctx):
            for e in ENGINES:
                cells = idx.cells("rate", ctx, engine=e, strategy=s)
                if cells and cells[0].series.get("rates"):
                    c = cells[0]  # repeats share the rate grid: the first repeat's curve
                    series[f"{s} ({e})"] = (c.series["rates"], c.series["drop_share"])
        if not series:
            continue
        name = f"study-drops{_n(ctxs, i)}"
        title = f"Dropped events by offered rate ({ctx.workload})"
        out.append(Plot(name, title, plots.drop_curves(name, title, series)))
    return out


ADVICE_SHOWN = 10  # findings per plot: more would not read on a phone


def _advice_plots(idx: Index) -> list[Plot]:
    out = []
    ctxs = idx.contexts("advise")
    for i, ctx in enumerate(ctxs):
        shown = [a for a in advice(idx, ctx) if a.saving is not None][:ADVICE_SHOWN]
        if not shown:
            continue
        name = f"advice{_n(ctxs, i)}"
        title = f"Measured saving of each finding, libsinsp 2022 ({ctx.workload})"
        labels = [f"{a.code} {a.rule}" for a in shown]
        groups = {"libsinsp": [a.saving for a in shown]}
        out.append(
            Plot(
                name,
                title,
                plots.grouped_bars(name, title, "cycles per 1k events", labels, groups),
            )
        )
    return out


def _overhead_plots(idx: Index) -> list[Plot]:
    out = []
    ctxs = idx.contexts("overhead")
    for i, ctx in enumerate(ctxs):
        builds = sorted({c.build for c in idx.cells("overhead", ctx)})
        groups = {}
        for e in ENGINES:
            figs = []
            for b in builds:
                f = idx.fig("overhead", "overhead", ctx, engine=e, build=b, strategy=BASELINE)
                f = f or idx.fig("overhead", "overhead", ctx, engine=e, build=b)
                figs.append(None if f is None else Fig(f.median * 100, f.spread * 100, f.n))
            if any(figs):
                groups[e] = figs
        if not groups:
            continue
        name = f"overhead{_n(ctxs, i)}"
        title = f"Traced-build overhead over untraced ({ctx.workload})"
        out.append(
            Plot(name, title, plots.grouped_bars(name, title, "overhead (%)", builds, groups))
        )
    return out


def build_report(results: Results) -> Report:
    idx = Index.of(results)
    pv, sv = proposal_verdicts(idx), study_verdicts(idx)
    speed_ctxs = idx.contexts("speed")
    sections = [
        Section(
            "study",
            "The study's own claims",
            f"Does the study's picture hold here: ~{STUDY_UNMATCHED:,} vs ~{STUDY_MATCHED:,} "
            f"cycles per check of “{STUDY_RULE}”, output about twice the check, drops near "
            "1M breaking events/s?",
            "Profile cells time every rule check: the replica's rule-traced core (rdtsc "
            "around each check) and libsinsp 2022's own filters in the instrumented harness "
            "(rdtsc around each filter run, Falco's evttype index). Output cycles per alert "
            "come from the speed cells (the Lua formatter on both engines). Rate cells replay "
            "the workload into a ring buffer at each offered rate (the replica's untraced "
            "core, in simulated time: matching only, the alerts' output is not in the replay) and "
            "count the events dropped.",
            [sv["check_gap"], sv["output"], sv["drops"]],
            [
                profile_table(idx, c, (STUDY_UNMATCHED, STUDY_MATCHED))
                for c in idx.contexts("profile")
            ]
            + [rate_table(idx, c) for c in idx.contexts("rate")],
            _latency_plots(idx) + _drop_plots(idx),
        ),
        Section(
            "faster",
            "Proposal 1: faster matching",
            "Do flat programs with jumps, shared sub-expressions and operands ordered by "
            "measured cost make matching cheaper than the recursive short-circuit walk?",
            "Speed cells run each strategy over the same events, untraced, and compare its "
            "alerts with the stock engine's and the reference evaluator's; cycles per event "
            "are rdtsc over the matching loop divided by the events.",
            [pv["faster"]],
            [figure_table(idx, c, "cycles_per_event", "Cycles per event") for c in speed_ctxs],
            _bars(
                idx,
                "faster",
                "cycles_per_event",
                "Cycles per event by strategy",
                "cycles per event",
            ),
        ),
        Section(
            "finer",
            "Proposal 2: finer tagging",
            "Does an index over more fields than the event type (a decision tree derived "
            "from the rules) cut the rules each event is checked against?",
            "The speed cells count the rule checks the index hands each event (every "
            "check, whatever its result) and divide by the events.",
            [pv["finer"]],
            [
                figure_table(idx, c, "rules_checked_per_event", "Rules checked per event", ",.3f")
                for c in speed_ctxs
            ],
            _bars(
                idx,
                "finer",
                "rules_checked_per_event",
                "Rules checked per event by strategy",
                "rule checks per event",
            ),
        ),
        Section(
            "cached",
            "Proposal 3: cached output",
            "Does a formatter prepared once per rule make an alert's output cheaper than "
            "asking the Lua engine for the rule's details on every alert?",
            "The speed cells time the output of every alert (replica: the Lua baseline "
            "through lupa or the cached formatters; libsinsp: LuaJIT as seed-era Falco, or a "
            "formatter per rule) and divide by the alerts.",
            [pv["cached"]],
            [
                figure_table(idx, c, "output_cycles_per_alert", "Output cycles per alert")
                for c in speed_ctxs
            ],
            _bars(
                idx,
                "cached",
                "output_cycles_per_alert",
                "Output cycles per alert by strategy",
                "cycles per alert (log scale)",
                logy=True,
            ),
        ),
        Section(
            "advice",
            "Advice: which rules cost what, and what to change",
            "Which rules are expensive on this workload, why, and which change to a rule "
            "saves the most on the real engine?",
            "Advise cells take `ruleopt advise`'s measurement: libsinsp 2022's harness times "
            "every rule check and, behind each rule's event-type guard, each top-level "
            "operand on its own (its cost and pass rate); the advisor's validators turn "
            "those into findings, each with the saving it measures. A finding found in fewer "
            "than all repeats has a saving near its validator's threshold.",
            [],
            [advice_table(idx, c) for c in idx.contexts("advise")],
            _advice_plots(idx),
        ),
        Section(
            "overhead",
            "Method: what tracing costs",
            "How much do the traced builds inflate the figures they measure?",
            "Overhead cells run the untraced and a traced build of the replica core side by "
            "side in one cell, rounds alternating, and report traced ÷ untraced − 1.",
            [],
            [overhead_table(idx, c) for c in idx.contexts("overhead")],
            _overhead_plots(idx),
        ),
        Section(
            "speed",
            "All speed figures",
            "Every speed figure of every strategy on both engines, for reference.",
            "As in the proposals' sections; libsinsp ÷ replica compares the engines on the "
            "same events.",
            [],
            [speed_table(idx, c) for c in speed_ctxs],
            [],
        ),
    ]
    for s in sections:
        if not s.tables or not any(t.rows for t in s.tables):
            s.notes.append("no cells measured this section")
    counts = {
        "ok": len(results.cells),
        "failed": len(results.failed),
        "unreadable": len(results.unreadable),
    }
    by_measure: dict[str, int] = {}
    for c in results.cells:
        by_measure[c.measurement] = by_measure.get(c.measurement, 0) + 1
    counts.update({f"ok {k}": v for k, v in sorted(by_measure.items())})
    machine = next((c.machine for c in results.cells if c.machine), {})
    return Report(
        "ruleopt proposal report",
        results.root,
        sections,
        [*sv.values(), *pv.values()],
        counts,
        results.failed,
        results.unreadable,
        machine,
        cells_table(results),
    )
