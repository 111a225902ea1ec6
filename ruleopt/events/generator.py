"""Seeded synthetic workloads: a realistic background with a chosen share of rule breakers.

The background is built the way a host produces syscalls: a pool of *processes* (each
with its ancestry, command line, user and container), a pool of *files* and a pool of
*sockets* are drawn once from the seed (``ruleopt.events.pools``, from the tables in
``ruleopt.events.catalogs``); then every system call picks a syscall from the event-type
mix, a process, and a file or socket when the syscall has one, and yields an enter
(``>``) and an exit (``<``) event (``ruleopt.events.background``). Each field's column
is made by its producer (``ruleopt.events.producers``).

Then ``break_share`` of the events are overwritten, at evenly spread (jittered) rows,
with the fields of a *template* of one enabled rule (``ruleopt.events.solver``): an
assignment verified with the reference evaluator to make that rule match whatever the
other fields hold, completed so that related fields agree (``ruleopt.events.completion``)
and stamped over the rows (``ruleopt.events.stamping``); for a capture, shaped to what
libscap's events carry (``ruleopt.events.capture_shape``). Which rows break which rule
is kept in ``table.meta["breaking"]``.

This module puts the parts together: ``generate``, ``rule_templates``,
``default_workload`` and the ``GenerationReport``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ruleopt.engine.reference import evaluate
from ruleopt.errors import RuleoptError
from ruleopt.events import solver as _solver
from ruleopt.events import unbreakable as _unbreakable
from ruleopt.events.background import Columns, Spec
from ruleopt.events.capture_shape import capture_misses
from ruleopt.events.catalogs import (
    ARCHETYPES,
    FILES,
    IMAGES,
    READ_FLAGS,
    SERVERS,
    SYSCALLS,
    USERS,
    WRITE_FLAGS,
)
from ruleopt.events.completion import completer
from ruleopt.events.producers import produce
from ruleopt.events.stamping import stamp
from ruleopt.events.table import (
    Column,
    EventTable,
    StringHeap,
    coerce_value,
    is_multi,
    storage_kind,
)
from ruleopt.fields import resolve
from ruleopt.rules.ast import Field, fields_of

# The catalogs stay importable from here for callers that read them.
__all__ = [
    "ARCHETYPES",
    "CAPTURE_FIELDS",
    "DEFAULT_BREAK_SHARE",
    "DEFAULT_EVENTS",
    "DEFAULT_SEED",
    "FILES",
    "IMAGES",
    "READ_FLAGS",
    "SERVERS",
    "SYSCALLS",
    "TEMPLATES_PER_RULE",
    "USERS",
    "WRITE_FLAGS",
    "GenerationReport",
    "default_workload",
    "generate",
    "rule_templates",
]

DEFAULT_EVENTS = 200_000
DEFAULT_SEED = 0
DEFAULT_BREAK_SHARE = 0.01
# Fields a capture needs whatever the rules read: each row is one half of a call.
CAPTURE_FIELDS = ("evt.dir",)
TEMPLATES_PER_RULE = 3


@dataclass
class GenerationReport:
    """What ``generate`` did, also saved in ``table.meta["generator"]``."""

    events: int
    seed: int
    break_share: float
    breaking: int = 0
    rules_with_templates: list[str] = field(default_factory=list)
    rules_without: dict[str, str] = field(default_factory=dict)  # name -> reason
    columns_absent: list[str] = field(default_factory=list)  # keys with no model at all
    unknown_fields: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def never_match(self) -> dict[str, str]:
        """Rules no event can break (a false or contradictory condition), with why."""
        return {k: v for k, v in self.rules_without.items() if _unbreakable.is_never_match(v)}

    def to_dict(self) -> dict:
        return {
            "events": self.events,
            "seed": self.seed,
            "break_share": self.break_share,
            "breaking": self.breaking,
            "rules_with_templates": self.rules_with_templates,
            "rules_without": self.rules_without,
            "never_match": self.never_match,
            "columns_absent": self.columns_absent,
            "unknown_fields": self.unknown_fields,
            "seconds": round(self.seconds, 3),
        }


def _needed_specs(rules, extra: Sequence[str] = ()) -> tuple[dict[str, Spec], list[str]]:
    """Column specs for every field the enabled rules read (and ``extra``); names that
    do not resolve."""
    specs: dict[str, Spec] = {}
    unknown: set[str] = set()
    wanted = [Field("evt.num"), Field("evt.type"), *(Field(x) for x in extra)]
    for rule in rules.enabled_rules():
        wanted.extend(sorted(fields_of(rule.condition), key=lambda f: (f.name, f.arg or "")))
    for f in wanted:
        try:
            rf = resolve(f)
        except RuleoptError:
            unknown.add(f.name if f.arg is None else f"{f.name}[{f.arg}]")
            continue
        if rf.key not in specs:
            specs[rf.key] = Spec(rf.key, rf.info.type, storage_kind(rf.info), is_multi(rf))
    return specs, sorted(unknown)


def _spec_resolver(specs: Mapping[str, Spec]) -> Callable[[Field], _solver.FieldSpec | None]:
    cache: dict[Field, _solver.FieldSpec | None] = {}

    def spec_of(f: Field) -> _solver.FieldSpec | None:
        if f not in cache:
            try:
                key = resolve(f).key
            except RuleoptError:
                cache[f] = None
                return None
            s = specs.get(key)
            # evt.num numbers the rows; a template cannot choose it.
            cache[f] = (
                None
                if s is None
                else _solver.FieldSpec(s.key, s.type, s.kind, s.multi, settable=key != "evt.num")
            )
        return cache[f]

    return spec_of


def _samples(
    columns: Mapping[str, Column], heap: StringHeap, limit: int = 40, rows: int = 20_000
) -> dict[str, list]:
    """Realistic values per key, from the background, for the solver to try first."""
    out: dict[str, list] = {}
    for key, c in columns.items():
        if c.offsets is None:
            vals = c.values[:rows][c.present[:rows]]
        else:
            vals = c.values[: int(c.offsets[min(rows, len(c.offsets) - 1)])]
        uniq = np.unique(vals)[:limit]
        if c.kind == "str":
            out[key] = [heap.get(int(v)) for v in uniq]
        elif c.type == "bool":
            out[key] = [bool(v) for v in uniq]
        else:
            out[key] = [int(v) for v in uniq]
    return out


def rule_templates(
    rules,
    *,
    seed: int = 0,
    count: int = TEMPLATES_PER_RULE,
    samples: Mapping[str, Sequence] | None = None,
    n: int = DEFAULT_EVENTS,
    capture: bool = False,
) -> tuple[dict[int, list[dict]], dict[str, str]]:
    """Verified templates per enabled rule id, and the reason for each rule without any.

    ``n`` is the table size: evt.num runs from 1 to n and templates cannot set it, so a
    literal on it is accepted only if it holds on every row (``evt.num >= 0``).
    """
    specs, _unknown = _needed_specs(rules, CAPTURE_FIELDS if capture else ())
    spec_of = _spec_resolver(specs)
    complete = completer(set(specs), capture)
    out: dict[int, list[dict]] = {}
    missing: dict[str, str] = {}
    samples = {**(samples or {}), "evt.num": [1, max(1, n)]}
    check = None
    for rule in rules.enabled_rules():
        try:
            # For a capture, more candidates to rank by what libscap's events carry.
            res = _solver.build_templates(
                rule.condition,
                spec_of,
                evaluate,
                samples=samples,
                count=count * 2 if capture else count,
                seed=seed,
                complete=complete,
                base={"evt.num": 1},
            )
        except (ValueError, TypeError, IndexError, OverflowError, RuleoptError) as exc:
            # The solver is best effort: a condition shape it cannot handle (val() on odd
            # types, constants past a field's range) costs that rule its breaking events,
            # reported, never the whole workload.
            missing[rule.name] = f"the solver cannot handle this condition ({exc})"
            continue
        kept = [t for t in res.templates if _storable(t)]
        if capture:
            # The templates a capture carries as they are first (rules take turns over
            # the breaking rows, so the first template is the one a rule surely gets).
            kept = sorted(kept, key=capture_misses)[:count]
        if kept:
            out[rule.id] = kept
        elif (res.reason or "").startswith(("no satisfying", "condition is always")):
            # No event can break it: say which part of the condition rules it out.
            if check is None:
                check = _unbreakable.solver_check(spec_of, evaluate, samples, {"evt.num": 1})
            missing[rule.name] = _unbreakable.explain(
                rule.condition, check, getattr(rules, "macros", {}), rule.condition_text
            )
        else:
            missing[rule.name] = res.reason or "no template with values the fields can hold"
    return out, missing


def _storable(template: dict) -> bool:
    """Can every value of ``template`` be stored in its column (type and range)?"""
    for key, value in template.items():
        if value is None or isinstance(value, list):
            continue
        try:
            coerce_value(key, resolve(key).info.type, value)
        except (RuleoptError, ValueError):
            return False
    return True


def generate(
    rules,
    n: int,
    seed: int = DEFAULT_SEED,
    break_share: float = DEFAULT_BREAK_SHARE,
    mix: Mapping[str, float] | None = None,
    *,
    progress: bool = False,
    report: GenerationReport | None = None,
    capture: bool = False,
) -> EventTable:
    """A seeded synthetic workload of ``n`` events for ``rules`` (a loaded RuleSet).

    Same arguments, same arrays. ``break_share`` of the rows (rounded) are stamped with
    a verified template of an enabled rule, rules taking turns; ``table.meta`` records the
    rows (``breaking.rows``, 0-based) and the rule ids (``breaking.rule_ids``), and the
    rules no template could be built for (``generator.rules_without``). ``mix`` replaces
    the event-type weights (``{"openat": 5, "read": 20}``).
    """
    t0 = time.perf_counter()
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
        raise RuleoptError(
            f"the number of events must be a positive integer, got {n!r}", hint="e.g. -n 200000"
        )
    if not 0.0 <= float(break_share) <= 1.0:
        raise RuleoptError(
            f"the breaking share must be between 0 and 1, got {break_share}",
            hint="e.g. --break-share 0.01 for 1% of events",
        )
    n = int(n)
    rep = report if report is not None else GenerationReport(n, seed, float(break_share))
    rep.events, rep.seed, rep.break_share = n, seed, float(break_share)
    specs, rep.unknown_fields = _needed_specs(rules, CAPTURE_FIELDS if capture else ())
    heap = StringHeap()
    world = Columns(n, seed, mix, heap)

    with _progress(progress) as bar:
        task = bar.add_task("generating columns", total=len(specs) + 2)
        columns: dict[str, Column] = {}
        for key, spec in specs.items():
            c = produce(world, spec)
            if c is not None:
                columns[key] = c
            bar.advance(task)
        del world
        bar.update(task, description="building rule templates")
        templates, rep.rules_without = rule_templates(
            rules, seed=seed, samples=_samples(columns, heap), n=n, capture=capture
        )
        bar.advance(task)
        bar.update(task, description="stamping breaking events")
        by_id = {r.id: r for r in rules.enabled_rules()}
        rep.rules_with_templates = [by_id[i].name for i in sorted(templates)]
        # A capture needs some state set up before breaking events (see capture_shape.setup_rows).
        setup: list[int] | None = [] if capture else None
        rows, rule_of = stamp(columns, specs, templates, n, seed, break_share, heap, setup)
        rep.breaking = len(rows)
        bar.advance(task)

    absent = [k for k in specs if k not in columns]
    rep.columns_absent = absent
    rep.seconds = time.perf_counter() - t0
    ordered = [columns["evt.num"], columns["evt.type"]] + [
        c for k, c in columns.items() if k not in ("evt.num", "evt.type")
    ]
    meta = {
        "source": "ruleopt generate",
        "generator": rep.to_dict(),
        "absent_fields": absent,
        # setup_rows: background rows turned into the state a breaking row needs (a
        # container-info event, the enter of its call) in a capture.
        "breaking": {
            "rows": rows.tolist(),
            "rule_ids": rule_of.tolist(),
            "setup_rows": setup or [],
        },
    }
    return EventTable.from_columns(ordered, heap, meta)


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def add_task(self, *a, **k) -> int:
        return 0

    def advance(self, *a, **k) -> None:
        return None

    def update(self, *a, **k) -> None:
        return None


def _progress(enabled: bool):
    if not enabled:
        return _NoBar()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TimeElapsedColumn(),
        transient=True,
    )


def default_workload(rules) -> EventTable:
    """The bundled default: 200k events, seed 0, 1% breaking (used without an events file)."""
    return generate(rules, DEFAULT_EVENTS, DEFAULT_SEED, DEFAULT_BREAK_SHARE)
