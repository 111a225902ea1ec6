"""The report's numbers: cells grouped across repeats (median, with a spread), and the
tables of both engines side by side.

A figure over several repeat cells is their median, its spread half their min-max range;
a figure from one cell keeps the spread the cell measured within itself. A context is one
(ruleset, workload, mode): figures are only compared within one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ruleopt.engine.strategies import STRATEGIES
from ruleopt.report.load import CellResult, Results

ENGINES: tuple[str, ...] = ("replica", "libsinsp")
BASELINE = "baseline"


@dataclass(frozen=True)
class Fig:
    """One figure: the median across repeats, its spread, how many cells it has."""

    median: float
    spread: float
    n: int

    def text(self, fmt: str = ",.0f") -> str:
        s = format(self.median, fmt)
        return f"{s} ± {format(self.spread, fmt)}" if self.spread > 0 else s


def ratio(a: Fig | None, b: Fig | None) -> Fig | None:
    """a / b with the relative spreads added (a first-order bound)."""
    if a is None or b is None or b.median == 0:
        return None
    r = a.median / b.median
    rel = (a.spread / abs(a.median) if a.median else 0.0) + b.spread / abs(b.median)
    return Fig(r, abs(r) * rel, min(a.n, b.n))


def combine(values: Sequence[float], spreads: Sequence[float]) -> Fig | None:
    if not values:
        return None
    if len(values) == 1:
        # A spread is a distance: a cell carrying a negative one means its size.
        return Fig(float(values[0]), abs(float(spreads[0])), 1)
    a = np.asarray(values, dtype=np.float64)
    return Fig(float(np.median(a)), float((a.max() - a.min()) / 2), len(values))


def workload_label(workload: dict) -> str:
    """A short name for a workload; tolerant of odd values (a cell file is data)."""
    kind = workload.get("kind")
    if kind == "generated":
        events, share = workload.get("events"), workload.get("break_share", 0.01)
        n = f"{events:,}" if isinstance(events, int) else str(events)
        pct = f"{share:.0%}" if isinstance(share, int | float) else str(share)
        return f"generated {n} events, seed {workload.get('seed', 0)}, {pct} breaking"
    return Path(str(workload.get("path", "?"))).name


def ruleset_label(ruleset: Iterable[str]) -> str:
    return " + ".join(Path(str(p)).name for p in ruleset) or "?"


@dataclass(frozen=True, order=True)
class Context:
    ruleset: str
    workload: str
    mode: str

    @property
    def label(self) -> str:
        return f"{self.ruleset} on {self.workload} ({self.mode} match)"


def context_of(cell: CellResult) -> Context:
    return context_of_key(cell.key)


def context_of_key(key: dict) -> Context:
    params = key.get("params") or {}
    mode = params.get("mode", "first") if isinstance(params, dict) else "first"
    w = key.get("workload")
    return Context(
        ruleset_label(key.get("ruleset") or ()),
        workload_label(w if isinstance(w, dict) else {}),
        str(mode),
    )


def strategy_order(names: Iterable[str]) -> list[str]:
    """Registered strategies in their order, then any others by name."""
    names = set(names)
    known = [s for s in STRATEGIES if s in names]
    return known + sorted(names - set(known))


@dataclass
class Index:
    """The ok cells, findable by what they are."""

    results: Results
    by_context: dict[Context, list[CellResult]] = field(default_factory=dict)

    @classmethod
    def of(cls, results: Results) -> Index:
        idx = cls(results)
        for c in results.cells:
            idx.by_context.setdefault(context_of(c), []).append(c)
        return idx

    def contexts(self, measurement: str | None = None) -> list[Context]:
        return sorted(
            ctx
            for ctx, cells in self.by_context.items()
            if measurement is None or any(c.measurement == measurement for c in cells)
        )

    def cells(
        self,
        measurement: str,
        ctx: Context | None = None,
        *,
        engine: str | None = None,
        strategy: str | None = None,
        build: str | None = None,
    ) -> list[CellResult]:
        pool = self.results.cells if ctx is None else self.by_context.get(ctx, [])
        return [
            c
            for c in pool
            if c.measurement == measurement
            and (engine is None or c.engine == engine)
            and (strategy is None or c.strategy == strategy)
            and (build is None or c.build == build)
        ]

    def fig(
        self, measurement: str, name: str, ctx: Context | None = None, **which: str
    ) -> Fig | None:
        cells = [c for c in self.cells(measurement, ctx, **which) if name in c.figures]
        return combine([c.figures[name] for c in cells], [c.spread.get(name, 0.0) for c in cells])

    def strategies(self, measurement: str, ctx: Context | None = None) -> list[str]:
        return strategy_order(c.strategy for c in self.cells(measurement, ctx))


# ---------------------------------------------------------------- tables


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""


DASH = "–"  # not measured (never 0)


def _t(f: Fig | None, fmt: str = ",.0f", suffix: str = "") -> str:
    return DASH if f is None else f.text(fmt) + suffix


def speed_table(idx: Index, ctx: Context) -> Table:
    """Per strategy, both engines side by side: cycles per event, their ratio, rules
    checked per event, output cycles per alert, speed-up over baseline, equivalence."""
    cols = ["strategy"]
    for what in ("cycles/event", "rules checked/event", "output cycles/alert", "speed-up"):
        cols += [f"{what} {e}" for e in ENGINES]
    cols += ["libsinsp ÷ replica (cycles/event)", "alerts equivalent"]
    rows = []
    for s in idx.strategies("speed", ctx):
        cpe = {e: idx.fig("speed", "cycles_per_event", ctx, engine=e, strategy=s) for e in ENGINES}
        base = {
            e: idx.fig("speed", "cycles_per_event", ctx, engine=e, strategy=BASELINE)
            for e in ENGINES
        }
        row = [s]
        row += [_t(cpe[e]) for e in ENGINES]
        row += [
            _t(idx.fig("speed", "rules_checked_per_event", ctx, engine=e, strategy=s), ",.2f")
            for e in ENGINES
        ]
        row += [
            _t(idx.fig("speed", "output_cycles_per_alert", ctx, engine=e, strategy=s))
            for e in ENGINES
        ]
        row += [_t(ratio(base[e], cpe[e]), ".2f", "x") for e in ENGINES]
        row.append(_t(ratio(cpe["libsinsp"], cpe["replica"]), ".2f", "x"))
        eq = [
            c.figures.get("equivalent")
            for c in idx.cells("speed", ctx, strategy=s)
            if "equivalent" in c.figures
        ]
        row.append(DASH if not eq else ("yes" if all(v == 1.0 for v in eq) else "NO"))
        rows.append(row)
    return Table(
        f"Speed: {ctx.label}",
        cols,
        rows,
        "median over repeats ± half their range; speed-up is baseline's cycles per event "
        "over the strategy's on the same engine; – is not measured",
    )


def profile_rule(idx: Index, ctx: Context, engine: str) -> tuple[str, str]:
    """Which figures a check-cost row uses: the study's rule when measured, else all."""
    if idx.fig("profile", "write_below_etc_unmatched_p50", ctx, engine=engine):
        return "Write below etc", "write_below_etc_{}_p50"
    return "all rules", "{}_check_cycles_p50"


def profile_table(idx: Index, ctx: Context, study: tuple[float, float]) -> Table:
    rows = []
    for e in ENGINES:
        if not idx.cells("profile", ctx, engine=e):
            continue
        rule, pattern = profile_rule(idx, ctx, e)
        un = idx.fig("profile", pattern.format("unmatched"), ctx, engine=e)
        ma = idx.fig("profile", pattern.format("matched"), ctx, engine=e)
        rows.append([e, rule, _t(un), _t(ma), _t(ratio(ma, un), ".1f", "x")])
    rows.append(
        [
            "study (Falco 0.2x)",
            "Write below etc",
            f"~{study[0]:,.0f}",
            f"~{study[1]:,.0f}",
            f"{study[1] / study[0]:.0f}x",
        ]
    )
    return Table(
        f"Cycles per rule check: {ctx.label}",
        ["engine", "rule", "unmatched (p50)", "matched (p50)", "matched ÷ unmatched"],
        rows,
        "p50 of the log2 histograms (a factor-of-2 resolution) ± half the p25-p75 range",
    )


def rate_table(idx: Index, ctx: Context) -> Table:
    rows = []
    for s in idx.strategies("rate", ctx):
        for e in ENGINES:
            cells = idx.cells("rate", ctx, engine=e, strategy=s)
            if not cells:
                continue
            rows.append(
                [
                    s,
                    e,
                    _t(idx.fig("rate", "first_drop_rate", ctx, engine=e, strategy=s)),
                    _t(idx.fig("rate", "lowest_dropping_rate", ctx, engine=e, strategy=s)),
                    _t(idx.fig("rate", "breaking_share", ctx, engine=e, strategy=s), ".2%"),
                    _t(idx.fig("rate", "first_drop_breaking_rate", ctx, engine=e, strategy=s)),
                    _t(idx.fig("rate", "buffer", ctx, engine=e, strategy=s)),
                ]
            )
    return Table(
        f"Drops: {ctx.label}",
        [
            "strategy",
            "engine",
            "highest rate without drops (events/s)",
            "lowest rate with drops (events/s)",
            "breaking share",
            "breaking events/s without drops",
            "ring (slots)",
        ],
        rows,
        "rates are the offered grid's; the replica's replay covers matching, not output",
    )


def overhead_table(idx: Index, ctx: Context) -> Table:
    rows = []
    builds = sorted({c.build for c in idx.cells("overhead", ctx)})
    for e in ENGINES:
        for b in builds:
            for s in idx.strategies("overhead", ctx):
                which = {"engine": e, "build": b, "strategy": s}
                ov = idx.fig("overhead", "overhead", ctx, **which)
                if ov is None:
                    continue
                err = idx.fig("overhead", "max_rule_error", ctx, **which)
                rows.append(
                    [
                        b,
                        e,
                        s,
                        _t(idx.fig("overhead", "untraced_cycles_per_event", ctx, **which)),
                        _t(idx.fig("overhead", "traced_cycles_per_event", ctx, **which)),
                        _t(Fig(ov.median * 100, ov.spread * 100, ov.n), ".0f", " %"),
                        _t(
                            None if err is None else Fig(err.median * 100, err.spread * 100, err.n),
                            ".1f",
                            " %",
                        ),
                    ]
                )
    return Table(
        f"Traced-build overhead: {ctx.label}",
        [
            "build",
            "engine",
            "strategy",
            "untraced cycles/event",
            "traced cycles/event",
            "overhead",
            "largest per-rule error (sampled)",
        ],
        rows,
        "both builds in one cell, rounds alternating; overhead is traced ÷ untraced − 1; a "
        "sampled build's error is its largest per-rule estimate's against full tracing",
    )


@dataclass(frozen=True)
class Advice:
    """One finding of the advise cells of a context, over their repeats."""

    code: str
    rule: str
    message: str
    held: int  # repeats that found it
    repeats: int  # advise cells of the context
    saving: Fig | None  # cycles per 1k events saved if applied; None: not a cycle fix


def advice(idx: Index, ctx: Context) -> list[Advice]:
    """The findings of the context's advise cells, largest median saving first: a finding
    is the same in two repeats when its code and rule are (its saving is re-measured)."""
    cells = idx.cells("advise", ctx)
    found: dict[tuple[str, str], list[dict]] = {}
    for c in cells:
        seen = set()
        for f in c.series.get("findings") or []:
            k = (str(f.get("code")), str(f.get("rule")))
            if k not in seen:  # "found in K of N" counts a repeat once per code and rule
                seen.add(k)
                found.setdefault(k, []).append(f)
    out = []
    for (code, rule), fs in found.items():
        savings = [float(f["saving_cycles"]) for f in fs if f.get("saving_cycles") is not None]
        out.append(
            Advice(
                code,
                rule,
                str(fs[0].get("message", "")),
                len(fs),
                len(cells),
                combine(savings, [0.0] * len(savings)) if savings else None,
            )
        )
    out.sort(key=lambda a: (-(a.saving.median if a.saving else -1.0), -a.held, a.code, a.rule))
    return out


def advice_table(idx: Index, ctx: Context) -> Table:
    rows = [
        [
            a.code,
            a.rule,
            _t(a.saving),
            f"{a.held} of {a.repeats}",
            a.message,
        ]
        for a in advice(idx, ctx)
    ]
    total = idx.fig("advise", "total_rule_cycles_per_1k", ctx)
    return Table(
        f"What to change in the rules: {ctx.label}",
        ["code", "rule", "saving (cycles per 1k events)", "found in", "finding"],
        rows,
        "libsinsp 2022's harness, one probe per operand; the saving is the median over "
        "the repeats that found it ± half their range; rule checks cost "
        f"{_t(total)} cycles per 1k events in all",
    )


def figure_table(
    idx: Index, ctx: Context, figure: str, what: str, fmt: str = ",.0f", better: str = "lower"
) -> Table:
    """One speed figure per strategy on both engines, and each engine's ratio to its
    baseline (baseline ÷ strategy when lower is better, so >1x is an improvement)."""
    rows = []
    for s in idx.strategies("speed", ctx):
        figs = {e: idx.fig("speed", figure, ctx, engine=e, strategy=s) for e in ENGINES}
        base = {e: idx.fig("speed", figure, ctx, engine=e, strategy=BASELINE) for e in ENGINES}
        gain = {
            e: ratio(base[e], figs[e]) if better == "lower" else ratio(figs[e], base[e])
            for e in ENGINES
        }
        rows.append(
            [s] + [_t(figs[e], fmt) for e in ENGINES] + [_t(gain[e], ".2f", "x") for e in ENGINES]
        )
    return Table(
        f"{what}: {ctx.label}",
        ["strategy"] + [f"{e}" for e in ENGINES] + [f"gain over baseline, {e}" for e in ENGINES],
        rows,
        "median over repeats ± half their range; gain >1x is better than baseline; "
        "– is not measured",
    )


def _repeat(key: dict) -> int:
    r = key.get("repeat")
    return r if isinstance(r, int) and not isinstance(r, bool) else 0


def cells_table(results: Results) -> Table:
    """Per combination, the repeats found ok, failed, and missing: a repeat index that
    another combination of the same measurement and context has, absent here."""
    combos: dict[tuple, dict[str, set[int]]] = {}
    top: dict[tuple, int] = {}
    entries = [(c.key, "ok") for c in results.cells] + [
        (f["key"], "failed") for f in results.failed
    ]
    for key, status in entries:
        ctx = context_of_key(key)
        m = str(key["measurement"])
        combo = (m, ctx.label, str(key["engine"]), str(key["strategy"]), str(key["build"]))
        combos.setdefault(combo, {"ok": set(), "failed": set()})[status].add(_repeat(key))
        top[(m, ctx.label)] = max(top.get((m, ctx.label), 0), _repeat(key))
    rows = []
    for combo in sorted(combos, key=lambda c: (c[0], c[1], c[2], strategy_order([c[3]]), c[4])):
        got = combos[combo]
        missing = set(range(top[combo[:2]] + 1)) - got["ok"] - got["failed"]
        rows.append(
            [*combo[:1], *combo[2:], combo[1]]
            + [str(len(got["ok"])), str(len(got["failed"]))]
            + [", ".join(map(str, sorted(missing))) or "–"]
        )
    return Table(
        "Cells by combination",
        [
            "measurement",
            "engine",
            "strategy",
            "build",
            "context",
            "ok",
            "failed",
            "missing repeats",
        ],
        rows,
        "a missing repeat is one another combination of the same measurement and context has",
    )
