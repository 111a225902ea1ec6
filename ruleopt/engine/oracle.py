"""The reference evaluator as the judge of a strategy run: first-match alerts on a sample.

``ruleopt compare`` checks every strategy against the baseline on every event, which only
shows that the strategies agree with each other. This module checks the baseline (and
every strategy) against the oracle, ``ruleopt.engine.reference``, through Falco's
evttype index in first-match mode: per checked event, the first rule in index (load)
order whose condition the reference evaluator accepts, or none.

The reference is plain Python, tens of microseconds per rule check, so a large workload
is judged on a seeded sample: every event up to ``REFERENCE_ROWS``, else a seeded
uniform sample of that many plus every event the baseline alerted on (a wrong alert is
then always seen; a missed alert only if its event is in the sample).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ruleopt.events.table import EventTable
from ruleopt.rules.model import Rule

from .index import evttype_buckets
from .reference import prepare

REFERENCE_ROWS = 200_000
REFERENCE_SEED = 0
NO_MATCH = -1


@dataclass(frozen=True)
class ReferenceSample:
    """Which rows the reference judges, and how they were chosen (for the report)."""

    rows: np.ndarray  # sorted row numbers
    sampled: bool
    seed: int | None
    random_rows: int  # rows drawn at random (all rows when not sampled)
    alert_rows: int  # rows added because the baseline alerted on them (sampled only)

    def describe(self) -> str:
        if not self.sampled:
            return f"all {len(self.rows):,} events"
        return (f"{len(self.rows):,} events: a seeded sample of {self.random_rows:,} "
                f"(seed {self.seed}) plus the {self.alert_rows:,} events the baseline "
                "alerted on")

    def to_dict(self) -> dict:
        return {"events": len(self.rows), "sampled": self.sampled, "seed": self.seed,
                "random_events": self.random_rows, "baseline_alert_events": self.alert_rows,
                "description": self.describe()}


def reference_sample(n: int, alert_rows: Sequence[int] | np.ndarray, *,
                     limit: int = REFERENCE_ROWS,
                     seed: int = REFERENCE_SEED) -> ReferenceSample:  # fmt: skip
    """Every row if ``n <= limit``; else ``limit`` seeded random rows plus ``alert_rows``."""
    if n <= limit:
        return ReferenceSample(np.arange(n, dtype=np.int64), False, None, n, 0)
    rng = np.random.default_rng(seed)
    drawn = rng.choice(n, size=limit, replace=False).astype(np.int64)
    alerts = np.unique(np.asarray(alert_rows, dtype=np.int64))
    rows = np.union1d(drawn, alerts)
    return ReferenceSample(rows, True, seed, limit, len(alerts))


def reference_first_match(rules: Sequence[Rule], table: EventTable,
                          rows: np.ndarray) -> np.ndarray:  # fmt: skip
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


def mismatches(sample: ReferenceSample, want: np.ndarray, match_rows: np.ndarray,
               match_rules: np.ndarray) -> list[Mismatch]:  # fmt: skip
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
