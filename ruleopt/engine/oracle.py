"""The reference evaluator as the judge of a strategy run: first-match alerts on a sample.

``ruleopt compare`` checks every strategy against the baseline on every event, which only
shows that the strategies agree with each other. This module checks the baseline (and
every strategy) against the oracle, ``ruleopt.engine.reference``, through Falco's
evttype index in first-match mode: per checked event, the first rule in index (load)
order whose condition the reference evaluator accepts, or none.

The reference is plain Python, tens of microseconds per rule check, so a large workload
is judged on a seeded sample: every event up to ``REFERENCE_ROWS`` (200,000) whose
conditions fit ``REFERENCE_BUDGET`` nodes, else every event the baseline alerted on plus
a seeded uniform sample of the others (a wrong alert is then always seen; a missed alert
only if its event is in the sample). Huge conditions shrink the sample, not the check's
linear cost: the report says how many events were judged and how they were chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ruleopt.events.table import EventTable
from ruleopt.rules.ast import walk
from ruleopt.rules.model import Rule

from .index import evttype_buckets
from .reference import prepare

REFERENCE_ROWS = 200_000
# Condition nodes the reference may visit (an upper bound: every node of every rule the
# index gives each judged event). The reference visits about 5 million nodes a second, so
# the check stays within seconds even for a rule of 20,000 terms on 200,000 events.
REFERENCE_BUDGET = 50_000_000
REFERENCE_SEED = 0
NO_MATCH = -1


@dataclass(frozen=True)
class ReferenceSample:
    """Which rows the reference judges, and how they were chosen (for the report)."""

    rows: np.ndarray  # sorted row numbers
    sampled: bool
    seed: int | None
    random_rows: int  # rows drawn at random (every row when not sampled)
    alert_rows: int  # rows judged because the baseline alerted on them (sampled only)
    baseline_alerts: int  # rows the baseline alerted on
    budget: int | None  # the node budget, when it (not the row limit) bounded the sample

    def describe(self) -> str:
        if not self.sampled:
            return f"all {len(self.rows):,} events"
        alerts = (
            "every one"
            if self.alert_rows == self.baseline_alerts
            else f"a seeded sample of {self.alert_rows:,}"
        )
        text = (
            f"{len(self.rows):,} events: a seeded sample (seed {self.seed}) of "
            f"{self.random_rows:,} events, plus {alerts} of the "
            f"{self.baseline_alerts:,} events the baseline alerted on"
        )
        if self.budget is not None:
            text += f" (sized to visit at most {self.budget:,} condition nodes)"
        return text

    def to_dict(self) -> dict:
        return {
            "events": len(self.rows),
            "sampled": self.sampled,
            "seed": self.seed,
            "random_events": self.random_rows,
            "baseline_alert_events": self.alert_rows,
            "baseline_alerts": self.baseline_alerts,
            "node_budget": self.budget,
            "description": self.describe(),
        }


def row_costs(rules: Sequence[Rule], table: EventTable) -> np.ndarray:
    """Per row, the condition nodes of every rule the index gives it (an upper bound on
    what the reference visits there)."""
    size = [sum(1 for _ in walk(r.condition)) for r in rules]
    et = table.column("evt.type")
    by_type = np.zeros(max(len(table.strings), 1), dtype=np.int64)
    for tid, positions in evttype_buckets(rules, table).items():
        by_type[tid] = sum(size[p] for p in positions)
    present, types = np.asarray(et.present), np.asarray(et.values)
    return np.where(present, by_type[np.where(present, types, 0)], 0).astype(np.int64)


def _fit(
    rng: np.random.Generator, rows: np.ndarray, cost: np.ndarray, budget: float, cap: int
) -> np.ndarray:
    """A seeded random subset of ``rows``, at most ``cap``, whose cost fits ``budget``."""
    perm = rng.permutation(rows)[:cap]
    keep = perm[np.cumsum(cost[perm]) <= budget]
    return np.sort(keep)


def reference_sample(
    n: int,
    alert_rows: Sequence[int] | np.ndarray,
    *,
    row_cost: np.ndarray | None = None,
    limit: int = REFERENCE_ROWS,
    budget: int = REFERENCE_BUDGET,
    seed: int = REFERENCE_SEED,
) -> ReferenceSample:
    """Every row, if there are at most ``limit`` and their cost fits ``budget``. Else
    every row the baseline alerted on (a seeded sample of them if they alone cost more
    than half the budget) plus a seeded sample of the other rows, at most ``limit`` and
    within what is left of the budget."""
    alerts = np.unique(np.asarray(alert_rows, dtype=np.int64))
    cost = np.ones(n, dtype=np.int64) if row_cost is None else np.asarray(row_cost)
    total = int(cost.sum())
    if n <= limit and total <= budget:
        return ReferenceSample(np.arange(n, dtype=np.int64), False, None, n, 0, len(alerts), None)
    rng = np.random.default_rng(seed)
    judged_alerts = alerts
    if int(cost[alerts].sum()) > budget / 2:
        judged_alerts = _fit(rng, alerts, cost, budget / 2, len(alerts))
    others = np.setdiff1d(np.arange(n, dtype=np.int64), alerts, assume_unique=True)
    left = budget - int(cost[judged_alerts].sum())
    drawn = _fit(rng, others, cost, left, limit)
    bounded = total > budget and (
        len(drawn) < min(limit, len(others)) or len(judged_alerts) < len(alerts)
    )
    return ReferenceSample(
        np.union1d(drawn, judged_alerts),
        True,
        seed,
        len(drawn),
        len(judged_alerts),
        len(alerts),
        budget if bounded else None,
    )


def reference_first_match(rules: Sequence[Rule], table: EventTable, rows: np.ndarray) -> np.ndarray:
    """Per row of ``rows``: the id of the first rule of ``rules`` (index order) the
    reference evaluator matches, or ``NO_MATCH``. ``rules`` in compiled (load) order."""
    buckets = evttype_buckets(rules, table)
    preds = [prepare(r.condition) for r in rules]
    ids = [r.id for r in rules]
    et = table.column("evt.type")
    present, types = np.asarray(et.present), np.asarray(et.values)
    out = np.full(len(rows), NO_MATCH, dtype=np.int64)
    for k, row in enumerate(rows.tolist()):  # sorted: the table decodes each block once
        positions = buckets.get(int(types[row]), ()) if present[row] else ()
        if not positions:
            continue
        event = table.event(row)
        for pos in positions:
            if preds[pos](event):
                out[k] = ids[pos]
                break
    return out


@dataclass(frozen=True)
class Mismatch:
    row: int
    reference: int  # rule id, or NO_MATCH
    strategy: int  # rule id, or NO_MATCH


def mismatches(
    sample: ReferenceSample, want: np.ndarray, match_rows: np.ndarray, match_rules: np.ndarray
) -> list[Mismatch]:
    """Rows of the sample where a run's first-match alerts differ from the reference's
    (``want``, aligned with ``sample.rows``), in row order."""
    n = len(sample.rows)
    if n == 0:
        return []
    match_rows = np.asarray(match_rows, dtype=np.int64)
    match_rules = np.asarray(match_rules, dtype=np.int64)
    at = np.minimum(np.searchsorted(sample.rows, match_rows), n - 1)
    inside = sample.rows[at] == match_rows  # alerts on rows the reference did not judge
    got = np.full(n, NO_MATCH, dtype=np.int64)
    got[at[inside]] = match_rules[inside]
    # First-match mode gives one alert per event at most: a run that gave two on a row
    # differs from the reference there, whatever the reference says.
    counts = np.bincount(at[inside], minlength=n)
    bad = np.flatnonzero((got != want) | (counts > 1))
    return [Mismatch(int(sample.rows[k]), int(want[k]), int(got[k])) for k in bad]
