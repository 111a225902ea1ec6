"""Named strategies: index x matcher x output, each a composition of registered parts.

A strategy never copies the baseline: it names one part of each kind, and the parts are
the single implementations of their concept.

- index (``INDEXES``): ``evttype`` (Falco's, ``ruleopt.engine.index``, as compiled) or
  ``finer`` (``ruleopt.engine.finer``: evt.type plus discriminators derived from rules);
- matcher (``MATCHERS``): ``recursive`` (the core's replica of libsinsp's short-circuit
  walk), ``flat``, ``shared``, ``reorder``, ``shared-reorder``
  (``ruleopt.engine.program``), ``rewrite`` (the conditions rewritten by ruleopt's proven
  rewrites, ``ruleopt.engine.matcher_rewrite``, then the recursive evaluator);
- output (``ruleopt.output.OUTPUTS``): ``lua`` (seed-era) or ``cached`` (proposal 3).

No training on the test: the parts that learn from a workload (the finer tree's fields,
``reorder``'s child order, ``rewrite``'s operand order) learn from the ``train`` table
given to :func:`prepare` and are applied to the measured one (``Learned``); without it
they learn from the measured table itself (the trained-on figure).

The core runs in Falco's first-match mode (one alert per event at most) unless
``measure_once`` is told otherwise (``rule_matching: all``), so equal alerts across
strategies also means equal rule order within what the index gives. The same names run
on the real engine where their parts exist there (``ruleopt.engine.real``).

Alerts: each (event, rule) match is formatted by the strategy's output path from the
event's values in the table (a format field that is not a column renders ``<NA>``, the
same in both paths). The alert time is the ``evt.rawtime`` column when the table has it,
else the event's ``evt.num`` read as nanoseconds: tables usually lack a time column
(only fields rules read are imported) and evt.num keeps lines deterministic.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ruleopt.errors import RuleoptError
from ruleopt.events.table import EventTable
from ruleopt.output import OUTPUTS, Alert, rule_metas
from ruleopt.rules.model import Rule

from . import program as _program
from .compile import CompiledRuleset, compile_rules
from .core import call_core, run_core, tsc_hz
from .finer import finer_index
from .matcher_rewrite import changed_conditions, rewritten_rules

PROBE_ROWS = 4096  # sample rows the reorder matcher measures truth and cost on
TIME_KEY = "evt.rawtime"

# ---------------------------------------------------------------- parts


@dataclass(frozen=True)
class Learned:
    """What the learning parts learn from: the training table and the ruleset compiled
    (and indexed, for a matcher) on it. Same rules, so the same node layout and rule
    positions as the measured ruleset: a child order or a rule set found on one applies
    to the other. ``same``: the training table is the measured one (``--train same``)."""

    table: EventTable
    compiled: CompiledRuleset
    same: bool


IndexPart = Callable[[CompiledRuleset, EventTable, "Learned | None"], CompiledRuleset]
MatcherPart = Callable[[CompiledRuleset, EventTable, Learned], CompiledRuleset]


def evttype_index(
    compiled: CompiledRuleset, table: EventTable, learned: Learned | None = None
) -> CompiledRuleset:
    """Falco's event-type index: what ``compile_rules`` already built."""
    return compiled


def finer_index_part(
    compiled: CompiledRuleset, table: EventTable, learned: Learned | None = None
) -> CompiledRuleset:
    """The finer tree on ``table``; with ``learned`` (built on another table), its choice
    of fields (the plan) is that tree's, and only the rules' allowed values are read
    from ``table``, as the core reads every constant from the measured table."""
    plan = None
    if learned is not None and not learned.same:
        dtree = learned.compiled.dtree
        plan = dtree.plan if dtree is not None else {}
    offsets, rules, tree = finer_index(compiled, table, plan=plan)
    return dataclasses.replace(compiled, idx_offsets=offsets, idx_rules=rules, dtree=tree)


def recursive_matcher(
    compiled: CompiledRuleset, table: EventTable, learned: Learned | None = None
) -> CompiledRuleset:
    """The replica of libsinsp's recursive short-circuit evaluator (no program)."""
    return dataclasses.replace(compiled, program=None)


def _program_matcher(*, share: bool, reorder: bool) -> MatcherPart:
    def build(compiled: CompiledRuleset, table: EventTable, learned: Learned) -> CompiledRuleset:
        # The order is measured on the training table's compiled ruleset: node ids are
        # the same in both (compile places nodes by the condition's shape alone).
        order = measure_order(learned.compiled, learned.table) if reorder else None
        prog = _program.compile_program(compiled, share=share, order=order)
        return dataclasses.replace(compiled, program=prog)

    return build


def sample_rows(table: EventTable, size: int = PROBE_ROWS, seed: int = 0) -> np.ndarray:
    if table.n <= size:
        return np.arange(table.n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(table.n, size=size, replace=False)).astype(np.int64)


def bucket_of_rows(compiled: CompiledRuleset, table: EventTable, rows: np.ndarray) -> np.ndarray:
    """The bucket the core's index gives each row (mirrors ``_bucket`` in the core)."""
    et = table.column("evt.type")
    types = np.where(np.asarray(et.present)[rows], np.asarray(et.values)[rows], -1)
    tree = compiled.dtree
    if tree is None or len(tree.col) == 0:
        return types.astype(np.int64)
    out = np.full(len(rows), -1, dtype=np.int64)
    cols = {}
    for k, (row, t) in enumerate(zip(rows.tolist(), types.tolist(), strict=True)):
        if not 0 <= t < len(tree.col):
            continue
        node = t
        while tree.col[node] >= 0:
            c = int(tree.col[node])
            if c not in cols:
                cols[c] = table.column(compiled.columns[c])
            col = cols[c]
            nxt = int(tree.arg[node])
            if col.present[row]:
                lo, hi = int(tree.koff[node]), int(tree.koff[node + 1])
                j = lo + int(np.searchsorted(tree.keys[lo:hi], int(col.values[row])))
                if j < hi and tree.keys[j] == int(col.values[row]):
                    nxt = int(tree.child[j])
            node = nxt
        out[k] = int(tree.arg[node])
    return out


def measure_order(compiled: CompiledRuleset, table: EventTable) -> dict[int, list[int]]:
    """Child order from truth and cycles measured by the core on a sample of the rows,
    each rule judged on the sample rows its index gives it."""
    rows = sample_rows(table)
    try:
        probe = call_core("untraced", compiled, table, probe=rows)
    except ValueError as exc:
        raise RuleoptError(f"cannot measure the conditions: {exc}") from None
    buckets = bucket_of_rows(compiled, table, rows)
    rule_rows: list[list[int]] = [[] for _ in range(compiled.n_rules)]
    offs = compiled.idx_offsets
    for k, bk in enumerate(buckets.tolist()):
        if 0 <= bk < len(offs) - 1:
            for r in compiled.idx_rules[offs[bk] : offs[bk + 1]].tolist():
                rule_rows[r].append(k)
    return _program.measured_order(
        compiled,
        probe["truth"],
        probe["cycles"],
        [np.asarray(r, dtype=np.int64) for r in rule_rows],
    )


INDEXES: dict[str, IndexPart] = {"evttype": evttype_index, "finer": finer_index_part}
MATCHERS: dict[str, MatcherPart] = {
    "recursive": recursive_matcher,
    # The conditions are rewritten before compiling (CONDITION_PASSES); the rewritten
    # tree then runs on the recursive evaluator, as libsinsp runs the rewritten text.
    "rewrite": recursive_matcher,
    "flat": _program_matcher(share=False, reorder=False),
    "shared": _program_matcher(share=True, reorder=False),
    "reorder": _program_matcher(share=False, reorder=True),  # (MEASURED_MATCHERS)
    "shared-reorder": _program_matcher(share=True, reorder=True),
}
# Matchers whose program is ordered by figures measured on the training table.
MEASURED_MATCHERS = frozenset({"reorder", "shared-reorder"})
# Matchers that rewrite the rules' conditions first, learning from the training table.
CONDITION_PASSES: dict[str, Callable[[Sequence[Rule], EventTable], list[Rule]]] = {
    "rewrite": rewritten_rules,
}


# ---------------------------------------------------------------- strategies


@dataclass(frozen=True)
class Strategy:
    name: str
    index: str
    matcher: str
    output: str
    about: str = ""


STRATEGIES: dict[str, Strategy] = {}


def register(strategy: Strategy) -> Strategy:
    for kind, name, known in (
        ("index", strategy.index, INDEXES),
        ("matcher", strategy.matcher, MATCHERS),
        ("output", strategy.output, OUTPUTS),
    ):
        if name not in known:
            raise RuleoptError(
                f"strategy '{strategy.name}': unknown {kind} '{name}'",
                hint=f"one of {', '.join(known)}",
            )
    STRATEGIES[strategy.name] = strategy
    return strategy


for _s in (
    Strategy(
        "baseline",
        "evttype",
        "recursive",
        "lua",
        "Falco 0.26: evttype index, recursive short-circuit, Lua output",
    ),
    Strategy("flat", "evttype", "flat", "lua", "proposal 1a: flat program with jumps"),
    Strategy(
        "shared",
        "evttype",
        "shared",
        "lua",
        "proposal 1b: flat + shared sub-expressions memoised per event",
    ),
    Strategy(
        "reorder",
        "evttype",
        "reorder",
        "lua",
        "proposal 1d: flat + and/or operands ordered by measured cost/selectivity",
    ),
    Strategy("shared-reorder", "evttype", "shared-reorder", "lua", "proposals 1b + 1d"),
    Strategy(
        "rewrite",
        "evttype",
        "rewrite",
        "lua",
        "proposal 1 in Falco's language: conditions rewritten (merged `in`, measured order)",
    ),
    Strategy("finer", "finer", "recursive", "lua", "proposal 2: evttype + derived keys"),
    Strategy("cached-output", "evttype", "recursive", "cached", "proposal 3: cached formatters"),
    Strategy(
        "best",
        "finer",
        "rewrite",
        "cached",
        "proposals 1 + 2 + 3, each as both engines can run it",
    ),
    Strategy(
        "best-program",
        "finer",
        "shared-reorder",
        "cached",
        "proposals 1 + 2 + 3 with the replica's program matcher (no libsinsp form)",
    ),
):
    register(_s)

DEFAULT_STRATEGIES: tuple[str, ...] = tuple(STRATEGIES)


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise RuleoptError(
            f"unknown strategy '{name}'", hint=f"one of {', '.join(STRATEGIES)}"
        ) from None


# ---------------------------------------------------------------- running


@dataclass
class Prepared:
    """A strategy's parts built for one ruleset on one table, ready to measure.
    ``learned``: what its learning parts took from the training table (``trained_on``
    names it): the finer tree's plan, the child order, the rewritten conditions."""

    strategy: Strategy
    compiled: CompiledRuleset
    output: object
    rules: dict[int, Rule]
    build_seconds: float
    trained_on: str = "same"
    learned: dict = field(default_factory=dict)


@dataclass
class StrategyResult:
    name: str
    strategy: Strategy
    n_events: int
    matches: list[tuple[int, int]]  # (evt.num, Rule.id), emission order
    match_rows: np.ndarray  # table row of each match, aligned with ``matches``
    alerts: list[Alert]
    cycles_per_event: np.ndarray  # one per repeat
    rules_checked_per_event: float
    output_cycles_per_alert: np.ndarray  # one per repeat (empty without alerts)
    tsc_hz: float
    stats: dict = field(default_factory=dict)

    @property
    def cpe_median(self) -> float:
        return float(np.median(self.cycles_per_event))

    @property
    def cpe_spread(self) -> float:
        """Half the min-max range over repeats (what ``±`` shows)."""
        c = self.cycles_per_event
        return float((c.max() - c.min()) / 2) if len(c) else 0.0

    @property
    def events_per_second(self) -> float:
        cpe = self.cpe_median
        return self.tsc_hz / cpe if cpe > 0 else float("inf")

    @property
    def out_median(self) -> float:
        o = self.output_cycles_per_alert
        return float(np.median(o)) if len(o) else float("nan")

    @property
    def out_spread(self) -> float:
        o = self.output_cycles_per_alert
        return float((o.max() - o.min()) / 2) if len(o) else float("nan")

    def alert_keys(self) -> list[tuple[int, int, str]]:
        """(evt.num, rule id, line), sorted: what equivalence compares."""
        return sorted((a.evt_num, a.rule_id, a.line) for a in self.alerts)


def syscall_rules(rules: object) -> list[Rule]:
    return [r for r in getattr(rules, "rules", rules) if r.source == "syscall"]


def learns(strategy: Strategy) -> bool:
    """Whether ``strategy`` learns from a workload (and so has a trained/held-out split)."""
    return (
        strategy.index == "finer"
        or strategy.matcher in CONDITION_PASSES
        or strategy.matcher in MEASURED_MATCHERS
    )


def prepare(
    strategy: Strategy | str,
    compiled: CompiledRuleset,
    table: EventTable,
    rules: Iterable[Rule],
    *,
    train: EventTable | None = None,
    trained_on: str | None = None,
) -> Prepared:
    """Build the strategy's index and matcher on ``compiled`` and its output path.

    The parts that learn (the finer tree's fields, reorder's child order, rewrite's
    conditions) learn from ``train`` alone (None: from ``table`` itself, the trained-on
    figure); ``trained_on`` says which input that was, for the report."""
    s = get_strategy(strategy) if isinstance(strategy, str) else strategy
    t0 = time.perf_counter()
    by_id = {r.id: r for r in rules}
    kept = {rid: by_id[rid] for rid in compiled.rule_ids.tolist()}
    # A strategy that learns nothing needs no ruleset on the training table.
    same = train is None or train is table or not learns(s)
    source = table if same else train
    learned: dict = {}
    if s.matcher in CONDITION_PASSES:
        before = list(kept.values())
        after = CONDITION_PASSES[s.matcher](before, source)
        learned["conditions"] = changed_conditions(before, after)
        if learned["conditions"]:
            compiled = compile_rules(after, table, sources=None)
        rules_used = after
    else:
        rules_used = list(kept.values())
    # The ruleset on the training table: same rules, so the same nodes and positions.
    trained = compiled if same else compile_rules(rules_used, source, sources=None)
    trained_index = INDEXES[s.index](trained, source, None)
    indexed = (
        trained_index
        if same
        else INDEXES[s.index](compiled, table, Learned(source, trained_index, False))
    )
    built = MATCHERS[s.matcher](indexed, table, Learned(source, trained_index, same))
    if trained_index.dtree is not None:
        learned["finer_plan"] = trained_index.dtree.plan
    out = OUTPUTS[s.output](rule_metas(kept.values()))
    name = trained_on or ("same" if same else "training table")
    return Prepared(
        s, built, out, kept, time.perf_counter() - t0, name if learns(s) else "-", learned
    )


@dataclass
class Sample:
    """One repeat of one strategy."""

    cycles: float
    checks: np.ndarray
    match_rows: np.ndarray
    match_rules: np.ndarray
    alerts: list[Alert]
    output_cycles: float


AlertInputs = dict[int, tuple[int, int, dict]]


def _alert_inputs(
    table: EventTable, rows: Sequence[int], cache: AlertInputs
) -> list[tuple[int, int, dict]]:
    """(evt.num, time ns, values) of each alerting row, decoded before the timed part.

    Decoding a row costs a block of the table, so ``cache`` (one per table, shared by
    every strategy and repeat) decodes each alerting row once."""
    evt_num = np.asarray(table.evt_num)
    for row in sorted(set(rows) - cache.keys()):  # in row order: each block decoded once
        ev = table.event(int(row))
        t = ev.get(TIME_KEY)
        cache[row] = (int(evt_num[row]), int(t) if t is not None else int(evt_num[row]), ev)
    return [cache[row] for row in rows]


def measure_once(
    p: Prepared, table: EventTable, cache: AlertInputs | None = None, *, first_match: bool = True
) -> Sample:
    """One pass of the core (untraced) and the output of its alerts. ``first_match``:
    Falco's seed-era loop (one alert per event); False: ``rule_matching: all``."""
    res = run_core(p.compiled, table, "untraced", repeat=1, first_match=first_match)
    rows = res.extra["match_row"]
    inputs = _alert_inputs(table, rows.tolist(), {} if cache is None else cache)
    alert = p.output.alert
    rids = res.match_rule.tolist()
    t0 = time.perf_counter_ns()
    alerts = [
        alert(rid, num, tns, ev.get) for rid, (num, tns, ev) in zip(rids, inputs, strict=True)
    ]
    dt_ns = time.perf_counter_ns() - t0
    return Sample(
        float(res.cycles[0]),
        res.per_event_checks,
        rows,
        res.match_rule,
        alerts,
        dt_ns * 1e-9 * tsc_hz(),
    )


def summarize(p: Prepared, table: EventTable, samples: Sequence[Sample]) -> StrategyResult:
    if not samples:
        raise RuleoptError("no repeat was measured")
    first = samples[0]
    n = max(table.n, 1)
    evt_num = np.asarray(table.evt_num)
    n_alerts = len(first.alerts)
    out = np.array([s.output_cycles / n_alerts for s in samples]) if n_alerts else np.zeros(0)
    stats = {"build_seconds": p.build_seconds}
    if p.compiled.program is not None:
        stats.update(p.compiled.program.stats)
    if p.compiled.dtree is not None:
        stats.update(p.compiled.dtree.stats)
    return StrategyResult(
        name=p.strategy.name,
        strategy=p.strategy,
        n_events=table.n,
        matches=list(
            zip(evt_num[first.match_rows].tolist(), first.match_rules.tolist(), strict=True)
        ),
        match_rows=np.asarray(first.match_rows, dtype=np.int64),
        alerts=first.alerts,
        cycles_per_event=np.array([s.cycles / n for s in samples]),
        rules_checked_per_event=float(first.checks.mean()) if table.n else 0.0,
        output_cycles_per_alert=out,
        tsc_hz=tsc_hz(),
        stats=stats,
    )


def compile_for(rules: object, table: EventTable) -> tuple[CompiledRuleset, list[Rule]]:
    kept = syscall_rules(rules)
    return compile_rules(kept, table), kept


def run_strategy(
    strategy: Strategy | str,
    rules_or_compiled: object,
    table: EventTable,
    repeat: int = 3,
    *,
    rules: Iterable[Rule] | None = None,
) -> StrategyResult:
    """Build and measure one strategy ``repeat`` times. ``rules_or_compiled``: a RuleSet
    or rules (compiled here), or a CompiledRuleset with ``rules`` for the output."""
    if repeat < 1:
        raise RuleoptError("repeat must be at least 1")
    if isinstance(rules_or_compiled, CompiledRuleset):
        if rules is None:
            raise RuleoptError("a compiled ruleset needs its rules for the output path")
        compiled, kept = rules_or_compiled, list(rules)
    else:
        compiled, kept = compile_for(rules_or_compiled, table)
    p = prepare(strategy, compiled, table, kept)
    cache: AlertInputs = {}
    return summarize(p, table, [measure_once(p, table, cache) for _ in range(repeat)])


def first_difference(
    base: StrategyResult, other: StrategyResult
) -> tuple[tuple | None, tuple | None] | None:
    """None when both strategies give the same alerts; else the first differing pair
    (baseline's alert, other's alert; None where one side has none), in event order."""
    a, b = base.alert_keys(), other.alert_keys()
    if a == b:
        return None
    for x, y in zip(a, b, strict=False):
        if x != y:
            return x, y
    return (a[len(b)], None) if len(a) > len(b) else (None, b[len(a)])
