"""Strategies on the real engine: the exchange with ``ruleopt-sinsp engine``.

The tool (``plugin/sinsp_engine.cpp``) compiles every rule with libsinsp 2022's own
compiler, indexes it by event type as Falco does, runs the filters over a capture and
formats each alert through the strategy's output path (``lua``: seed-era Falco's, with a
real LuaJIT engine; ``cached``: proposal 3's formatter array), timing every stage with
rdtsc. Strategy names are the replica's (``ruleopt.engine.strategies``): a strategy runs
on the real engine when its index and matcher exist there (today indexes ``evttype`` and
``finer``, the latter's tree trained by ``ruleopt.engine.real_finer``, and matchers
``recursive``, which on libsinsp means its own compiled filter tree, and ``rewrite``:
libsinsp's own compiler and filter tree on the condition text ruleopt rewrote); both
learning parts learn from the training table given to :func:`run_engine`; the others are
reported as not built there yet, by :func:`real_support`.

Figures per strategy (one value per measured repeat; each repeat of each strategy is one
process of the tool, rounds interleaved, see :func:`run_engine`):
``cycles_per_event`` is rule evaluation, index lookup plus the bucket's filter checks,
the figure the replica's core reports; ``next()`` and output are separate stages.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ruleopt.errors import RuleoptError
from ruleopt.events import sinsp
from ruleopt.events.load import load_events
from ruleopt.events.table import EventTable
from ruleopt.output import rule_metas
from ruleopt.rules.ast import print_expr
from ruleopt.rules.model import Rule

from .event_costs import read_event_costs
from .real_finer import FinerTree, build_tree
from .strategies import CONDITION_PASSES, Strategy
from .verify import unsupported_reason

ENGINE_VERSION = "ruleopt-sinsp engine 1"
MODES = ("first", "all")
# What the real engine has of each part kind (the tool refuses anything else by name).
REAL_INDEXES = ("evttype", "finer")
REAL_MATCHERS = ("recursive", "rewrite")
REAL_OUTPUTS = ("lua", "cached")
STAGES = ("next", "index", "rule_checks", "output", "iteration")
BRANCHES = ("rules_unbroken", "rules_broken")


def real_support(strategy: Strategy) -> str | None:
    """Why ``strategy`` cannot run on the real engine yet, or None if it can."""
    if strategy.index not in REAL_INDEXES:
        return f"index '{strategy.index}' is not built in the real engine yet"
    if strategy.matcher not in REAL_MATCHERS:
        return f"matcher '{strategy.matcher}' is not built in the real engine yet"
    if strategy.output not in REAL_OUTPUTS:
        return f"output '{strategy.output}' is not built in the real engine yet"
    return None


def tool() -> Path:
    """The ``ruleopt-sinsp`` binary, checked to have the engine command."""
    binary = sinsp.ensure_built()
    proc = sinsp._run_tool([str(binary), "engine", "--version"], b"")
    if proc.returncode != 0 or proc.stdout.decode("utf-8", "replace").strip() != ENGINE_VERSION:
        raise RuleoptError(
            f"this ruleopt-sinsp has no '{ENGINE_VERSION}' command",
            file=str(binary),
            hint="rebuild it: make -C plugin (writes build/ruleopt-sinsp; point RULEOPT_SINSP "
            "at it), or unset RULEOPT_SINSP to use the package's own",
        )
    return binary


def available() -> bool:
    """True when the real engine can run here (the tool builds and has the command)."""
    try:
        tool()
    except RuleoptError:
        return False
    return True


@dataclass
class RealResult:
    """One strategy measured on libsinsp."""

    name: str
    strategy: Strategy
    n_events: int
    passes: list[dict]
    stages: dict
    output_per_alert: dict
    alerts: list[tuple[int, int, str]]  # (evt.num, rule id, line), emission order
    tsc_hz: float
    lua_alert_count: int | None = None
    # run_engine(event_costs=True): the first measured pass's stage cycles per event,
    # (events, len(event_costs.STAGES)), for the rate replay (ruleopt.profile.rate).
    event_costs: np.ndarray | None = None
    # Index finer: {"conjunct_filters", "load_errors", "passes": the tool's per-pass
    # counters (extractions, misses, conjunct_evals, ...)}; None for another index.
    finer: dict | None = None

    def _per(self, num: str, den: str) -> np.ndarray:
        return np.array([p[num] / p[den] if p[den] else 0.0 for p in self.passes])

    @property
    def cycles_per_event(self) -> np.ndarray:
        """Rule evaluation (index lookup + filter checks) per event, one per repeat."""
        return np.array(
            [(p["index_cycles"] + p["check_cycles"]) / max(p["events"], 1) for p in self.passes]
        )

    @property
    def next_cycles_per_event(self) -> np.ndarray:
        return self._per("next_cycles", "events")

    @property
    def output_cycles_per_alert(self) -> np.ndarray:
        """The output stage per alert, one per repeat (empty without alerts)."""
        if not self.passes or not self.passes[0]["alerts"]:
            return np.zeros(0)
        return self._per("output_cycles", "alerts")

    @property
    def output_median_per_alert(self) -> np.ndarray:
        """The median alert's formatting cycles, one per repeat (robust to preemption)."""
        if not self.passes or not self.passes[0]["alerts"]:
            return np.zeros(0)
        return np.array([float(p["output_median_per_alert"]) for p in self.passes])

    @property
    def index_cycles_per_event(self) -> np.ndarray:
        """The index stage alone (for finer: extraction, cache lookups, misses)."""
        return self._per("index_cycles", "events")

    @property
    def rules_checked_per_event(self) -> float:
        p = self.passes[0]
        return p["checks"] / p["events"] if p["events"] else 0.0

    def alert_keys(self) -> list[tuple[int, int, str]]:
        return sorted(self.alerts)


@dataclass
class RealRun:
    capture: str
    mode: str
    tsc_hz: float
    results: list[RealResult]
    rules: list[Rule]  # the rules the engine ran, load order
    skipped: list[dict] = field(default_factory=list)  # rules libsinsp 2022 cannot judge
    runtime_errors: list[dict] = field(default_factory=list)
    finer_tree: dict | None = None  # the finer tree's stats and what it was trained on


# Seed-era Falco's loader (rule_loader.lua, no -p option) replaced this placeholder, which
# is not a libsinsp field, before building the formatter.
CONTAINER_INFO = "%container.info"
CONTAINER_INFO_AS = "%container.name (id=%container.id)"


def falco_output(fmt: str) -> str:
    """The format Falco hands libsinsp for a rule's output."""
    return fmt.replace(CONTAINER_INFO, CONTAINER_INFO_AS)


def _add_cells(a: dict, b: dict) -> dict:
    return {
        "count": a["count"] + b["count"],
        "sum": a["sum"] + b["sum"],
        "hist": [x + y for x, y in zip(a["hist"], b["hist"], strict=True)],
    }


def _merge(s: Strategy, passes: list[dict], tsc_hz: float) -> RealResult:
    """One strategy's measured passes (one process each) as one result."""
    first = passes[0]
    stages = first["stages"]
    per_alert = first["output_per_alert"]
    lua = first.get("lua_alert_count")
    for p in passes[1:]:
        stages = {
            st: {br: _add_cells(c, p["stages"][st][br]) for br, c in by.items()}
            for st, by in stages.items()
        }
        per_alert = _add_cells(per_alert, p["output_per_alert"])
        if lua is not None:
            lua += p["lua_alert_count"]
    flat = [p["passes"][0] for p in passes]
    finer = None
    if s.index == "finer":
        finer = {
            "conjunct_filters": first["finer_conjunct_filters"],
            "load_errors": first["finer_load_errors"],
            "passes": [p["finer"] for p in flat],
        }
    return RealResult(
        name=s.name,
        strategy=s,
        n_events=flat[0]["events"],
        passes=flat,
        stages=stages,
        output_per_alert=per_alert,
        alerts=[(num, rid, line) for rid, num, line in first["alerts"]],
        tsc_hz=tsc_hz,
        lua_alert_count=lua,
        finer=finer,
    )


def engine_rules(rules: Sequence[Rule]) -> tuple[list[Rule], list[dict]]:
    """The rules libsinsp 2022 can run, and the others with the reason."""
    kept, skipped = [], []
    for r in rules:
        why = unsupported_reason(r)
        if why is None:
            kept.append(r)
        else:
            skipped.append({"rule": r.name, "reason": why})
    return kept, skipped


def run_engine(
    capture: str | Path,
    rules: Sequence[Rule],
    strategies: Sequence[Strategy],
    *,
    mode: str = "first",
    repeat: int = 3,
    warmup: int = 1,
    event_costs: bool = False,
    train: EventTable | Mapping[str, EventTable] | None = None,
    trained_on: str | None = None,
    tree: FinerTree | Mapping[str, FinerTree] | None = None,
) -> RealRun:
    """Measure ``strategies`` on libsinsp over ``capture`` (rules in load order).

    ``event_costs``: also record each strategy's per-event stage cycles on its first
    measured pass (``RealResult.event_costs``).

    ``train``: the table the learning parts learn from (``compare --train``: a held-out
    workload, or the capture's own events for the trained-on figure; described by
    ``trained_on``), or one per strategy name (a benchmark measuring held out and trained
    on in the same rounds). A strategy whose matcher rewrites conditions needs it, and gets
    the text rewritten on it alone. Index ``finer`` runs ``tree`` (or ``tree[strategy
    name]``: trees side by side in one run), or one built on its training table; with
    neither, on the measured capture itself, and the run says it trained on the test."""
    if mode not in MODES:
        raise RuleoptError(f"unknown match mode '{mode}'", hint="one of: first, all")
    if repeat < 1:
        raise RuleoptError("repeat must be at least 1")
    if not strategies:
        raise RuleoptError("no strategy to run on libsinsp")
    for s in strategies:
        why = real_support(s)
        if why:
            raise RuleoptError(f"strategy '{s.name}' cannot run on libsinsp: {why}")
    kept, skipped = engine_rules(rules)
    if not kept:
        raise RuleoptError(
            "no rule of these rules can run on libsinsp 2022",
            hint="; ".join(f"{s['rule']}: {s['reason']}" for s in skipped[:3]) or None,
        )
    if len(kept) > sinsp.MAX_RULES:
        raise RuleoptError(f"too many rules ({len(kept)}): the engine supports {sinsp.MAX_RULES}")
    metas = rule_metas(kept)

    def rules_data(rules_: Sequence[Rule]) -> bytes:
        records: list[bytes] = []
        for r in rules_:
            m = metas[r.id]
            records += [
                str(r.id).encode(),
                sinsp._to_bytes(r.name, f"rule name {r.name!r}"),
                sinsp._to_bytes(m.priority, f"the priority of rule {r.name!r}"),
                sinsp._to_bytes(falco_output(m.output), f"the output of rule {r.name!r}"),
                sinsp._to_bytes(print_expr(r.condition), f"the condition of rule {r.name!r}"),
            ]
        return sinsp.netstrings(records)

    def train_of(s: Strategy) -> EventTable | None:
        return train.get(s.name) if isinstance(train, Mapping) else train

    binary = str(tool())
    stock = rules_data(kept)
    # Each strategy's rules: a rewriting matcher's text is learned on its training table alone.
    data_of: dict[str, bytes] = {}
    for s in strategies:
        if s.matcher in CONDITION_PASSES:
            learn = train_of(s)
            if learn is None:
                raise RuleoptError(
                    f"strategy '{s.name}' learns its conditions from a workload: "
                    "run_engine needs a training table (train=)"
                )
            data_of[s.name] = rules_data(CONDITION_PASSES[s.matcher](kept, learn))
        else:
            data_of[s.name] = stock
    names = {r.id: r.name for r in kept}
    finer = [s for s in strategies if s.index == "finer"]
    if finer and tree is None:
        # One tree per distinct training table (strategies sharing a table share a tree).
        built: dict[int, FinerTree] = {}
        trees: dict[str, FinerTree] = {}
        for s in finer:
            learn = train_of(s)
            on = trained_on or "a training table"
            if learn is None:
                learn = load_events(capture, kept)
                on = f"the measured capture {capture} (no training input: trained on the test)"
            if id(learn) not in built:
                built[id(learn)] = build_tree(kept, learn, trained_on=on)
            trees[s.name] = built[id(learn)]
    else:
        trees = {s.name: tree for s in finer} if isinstance(tree, FinerTree) else dict(tree or {})
    finer = [s.name for s in finer]
    if missing := [n for n in finer if n not in trees]:
        raise RuleoptError(f"no finer tree for strategy '{missing[0]}'")
    with tempfile.TemporaryDirectory(prefix="ruleopt-finer-") as tmp:
        files: dict[str, Path] = {}
        for k, n in enumerate(finer):
            files[n] = Path(tmp) / f"finer{k}.tree"
            files[n].write_bytes(sinsp.netstrings(trees[n].records()))
        run = _measure(
            binary,
            data_of,
            names,
            capture,
            kept,
            strategies,
            mode,
            repeat,
            warmup,
            files,
            event_costs,
        )
    run.skipped = skipped
    if finer:
        # One tree (the usual case): its stats; several: by strategy.
        docs = {n: {"trained_on": trees[n].trained_on, **trees[n].stats} for n in finer}
        distinct = {id(trees[n]) for n in finer}
        run.finer_tree = docs[finer[0]] if len(distinct) == 1 else docs
    return run


def _measure(
    binary: str,
    data_of: dict[str, bytes],
    names: dict[int, str],
    capture: str | Path,
    kept: list[Rule],
    strategies: Sequence[Strategy],
    mode: str,
    repeat: int,
    warmup: int,
    tree_files: dict[str, Path],
    event_costs: bool,
) -> RealRun:

    def once(s: Strategy, alerts: bool, costs_to: Path | None = None) -> dict:
        spec = f"{s.name}:{s.index}:{s.matcher}:{s.output}"
        cmd = [
            binary,
            "engine",
            str(capture),
            "-",
            "--mode",
            mode,
            "--repeat",
            "1",
            "--warmup",
            "0",
            "--strategy",
            spec,
        ]
        if alerts:
            cmd.append("--alerts")
        if costs_to is not None:
            cmd += ["--event-costs", str(costs_to)]
        if s.name in tree_files:
            cmd += ["--finer", str(tree_files[s.name])]
        proc = sinsp._run_tool(cmd, data_of[s.name])
        if proc.returncode != 0:
            raise sinsp._error_from(proc, str(capture), rule_names=names)
        return json.loads(proc.stdout.decode("utf-8", "surrogateescape"))

    # One process per pass: libsinsp 2022 keeps process-wide state from one pass over a
    # capture to the next, even on a new inspector (a container event's user.name renders
    # <NA> on a second pass, where sysdig and a first pass say "root"), so only a
    # process's first pass reads the capture as a freshly started Falco does. Rounds are
    # interleaved (round 1 of every strategy, round 2, ...); the warm-up rounds warm the
    # page cache and the CPU, and are not recorded.
    runs: dict[str, list[dict]] = {s.name: [] for s in strategies}
    by_id = {r.id: r for r in kept}
    doc: dict = {}
    costs: dict[str, np.ndarray] = {}
    for rnd in range(warmup + repeat):
        for k, s in enumerate(strategies):
            if event_costs and rnd == warmup:
                with tempfile.TemporaryDirectory(prefix="ruleopt-costs-") as tmp:
                    path = Path(tmp) / "costs.bin"
                    one = once(s, alerts=True, costs_to=path)
                    n = one["strategies"][0]["passes"][0]["events"]
                    costs[s.name] = read_event_costs(path, n)
            else:
                one = once(s, alerts=rnd == warmup)
            if rnd == 0:
                _check_statuses(one, by_id, s)  # each strategy's rules, before more passes
            if rnd == warmup and k == 0:
                doc = one  # runtime errors: the first measured pass
            if rnd >= warmup:
                runs[s.name].append(one["strategies"][0])
    errors = [
        {
            "rule": by_id[st["id"]].name,
            "count": st["runtime_errors"],
            "first_evt_num": st["first_error_evtnum"],
            "message": st["runtime_error"],
        }
        for st in doc["rules"]
        if st["runtime_errors"]
    ]
    tsc = float(one["tsc_hz"])
    results = [_merge(s, runs[s.name], tsc) for s in strategies]
    for res in results:
        res.event_costs = costs.get(res.name)
    return RealRun(str(capture), mode, tsc, results, kept, [], errors)


def _check_statuses(doc: dict, by_id: dict[int, Rule], s: Strategy) -> None:
    for st in doc["rules"]:
        if st["status"] != "ok":
            r = by_id[st["id"]]
            if s.matcher in CONDITION_PASSES:
                raise RuleoptError(
                    f"libsinsp 2022 rejects rule '{r.name}' as strategy '{s.name}' "
                    f"rewrote it: {st['error']}",
                    file=r.file,
                    line=r.line,
                    hint="a rewrite must keep every condition libsinsp compiles: report "
                    "this as a bug; the other strategies run without it",
                )
            # Falco refuses to load a ruleset with a rule its engine rejects.
            raise RuleoptError(
                f"libsinsp 2022 rejects rule '{r.name}': {st['error']}",
                file=r.file,
                line=r.line,
                hint="Falco would refuse this ruleset: fix or disable the rule, or compare "
                "with --engine replica",
            )
