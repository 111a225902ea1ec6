"""What the measurement modules share: a cell's settings read with their bounds, its
rules and events loaded, its strategy prepared, and the spread every figure carries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ruleopt.commands import compare_train as CT
from ruleopt.engine import strategies as S
from ruleopt.errors import RuleoptError
from ruleopt.events.load import load_events
from ruleopt.events.table import EventTable
from ruleopt.experiment.cell import ENGINES, CellContext
from ruleopt.experiment.inputs import rules_of, workload_path
from ruleopt.rules.model import RuleSet

MODES = ("first", "all")
# Inner repeats of one cell: the spread of a figure is measured within the cell (the
# runner's repeats give the spread across cells). Bounded so one cell stays one task.
MAX_INNER = 1000


def cell_error(ctx: CellContext, message: str, hint: str | None = None) -> RuleoptError:
    """A located error about a cell: the cell's id is where it is."""
    return RuleoptError(message, file=f"cell {ctx.cell.id()}", hint=hint)


def param_int(ctx: CellContext, name: str, default: int, lo: int, hi: int) -> int:
    value = ctx.cell.params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise cell_error(
            ctx, f"params.{name} must be an integer from {lo} to {hi:,}, not {value!r}"
        )
    return value


def first_match(ctx: CellContext) -> bool:
    mode = ctx.cell.params.get("mode", "first")
    if mode not in MODES:
        raise cell_error(ctx, f"params.mode must be first or all, not {mode!r}")
    return mode == "first"


def check_engine(ctx: CellContext, allowed: Sequence[str], why: str) -> None:
    if ctx.cell.engine not in ENGINES:
        raise cell_error(
            ctx, f"unknown engine {ctx.cell.engine!r}", hint="one of " + ", ".join(ENGINES)
        )
    if ctx.cell.engine not in allowed:
        raise cell_error(ctx, f"{ctx.cell.measurement} is not on {ctx.cell.engine} yet: {why}")


ROBUST_FROM = 4  # samples from which the spread is the IQR's half, not the range's


def spread_of(values: Sequence[float]) -> float:
    """The spread a figure carries (what ``±`` shows): half the interquartile range from
    four samples on (one preempted pass on a shared machine does not swamp it), half the
    min-max range below that."""
    a = np.asarray(values, dtype=np.float64)
    if not len(a):
        return 0.0
    if len(a) >= ROBUST_FROM:
        q1, q3 = np.percentile(a, [25, 75])
        return float((q3 - q1) / 2)
    return float((a.max() - a.min()) / 2)


def median(values: Sequence[float]) -> float:
    return float(np.median(np.asarray(values, dtype=np.float64)))


def progress(ctx: CellContext, fraction: float) -> None:
    if ctx.progress is not None:
        ctx.progress(min(1.0, max(0.0, fraction)))


@dataclass
class ReplicaSetup:
    """A cell's inputs on the replica: rules, events and the strategy, built once."""

    rules: RuleSet
    table: EventTable
    prepared: S.Prepared
    path: Path
    trained_on: str | None = None  # what a learning strategy learned from (None: nothing)


def training_for(ctx: CellContext, rules: RuleSet, table: EventTable) -> CT.Training | None:
    """The cell's training input for a strategy that learns: held out, as ``compare``'s
    default (the generator with another seed at the measured size and breaking share)."""
    if not S.learns(S.get_strategy(ctx.cell.strategy)):
        return None
    return CT.training(None, rules, table)


def replica_setup(ctx: CellContext) -> ReplicaSetup:
    rules = rules_of(ctx)
    path = workload_path(ctx)
    table = load_events(path, rules)
    if table.n == 0:
        raise cell_error(ctx, f"the workload {path} has no events", hint="use a non-empty one")
    compiled, kept = S.compile_for(rules, table)
    trained = training_for(ctx, rules, table)
    prepared = S.prepare(
        ctx.cell.strategy,
        compiled,
        table,
        kept,
        train=trained.table if trained else None,
        trained_on=trained.label if trained else None,
    )
    return ReplicaSetup(rules, table, prepared, path, trained.label if trained else None)


def breaking_share(match_rows: Any, n: int) -> float:
    """Share of the events that make a rule match (the study's 'breaking' events)."""
    return float(len(np.unique(np.asarray(match_rows)))) / n if n else 0.0
