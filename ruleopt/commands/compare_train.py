"""``compare --train``: the events the learning strategies learn from.

The strategies that learn from a workload (the finer tree's choice of fields, the order
``reorder`` and ``rewrite`` give operands) are built from one workload and measured on
another, on both engines:

- ``--train EVENTS``: a table (``.npz``), capture (``.scap``, read through libsinsp) or
  JSON Lines file;
- ``--train seed:N``: the generator's workload of these rules with seed N, the measured
  workload's size (at most ``MAX_TRAIN_EVENTS``: learning reads samples of at most
  200,000 rows) and its breaking share when it was generated (else 1%);
- ``--train same``: the measured events themselves: the trained-on figure;
- default (held out): the same generator with another seed. A generated workload (the
  default one, or a table that records its seed) is held out by the next seed; for any
  other input (a capture, JSON Lines) the seed is derived from its events, so no event
  of the measured input is ever learned from (a capture generated with that very seed
  is a one-in-2^32 chance; ``--train`` names the input outright).

The report says which (``trained_on``), per strategy that learns.
"""

from __future__ import annotations

import argparse
import zlib
from dataclasses import dataclass

import numpy as np

from ruleopt.commands import bounds
from ruleopt.commands.inputs import check_events_file
from ruleopt.errors import RuleoptError
from ruleopt.events.table import EventTable

SAME = "same"
SEED_PREFIX = "seed:"
MAX_TRAIN_EVENTS = 1_000_000
DEFAULT_BREAK_SHARE = 0.01
_HINT = "--train takes an events file (.npz, .scap, .jsonl), seed:N (a generated workload) or same"


@dataclass
class Training:
    """The training table (None: the measured events) and what it is, for the report."""

    table: EventTable | None
    label: str

    @property
    def same(self) -> bool:
        return self.table is None


def check_train(spec: str | None) -> None:
    """Refuse a bad ``--train`` before any work: a located error naming what followed it."""
    if spec is None or spec == SAME:
        return
    if spec.startswith(SEED_PREFIX):
        _seed_of(spec)
        return
    if not spec.strip():
        raise RuleoptError("--train names no training events", file="--train", hint=_HINT)
    check_events_file(spec)


def _seed_of(spec: str) -> int:
    text = spec[len(SEED_PREFIX) :]
    try:
        return bounds.seed(text)
    except argparse.ArgumentTypeError as exc:
        raise RuleoptError(
            f"--train {spec!r}: the seed {exc}", file=repr(spec), hint="e.g. --train seed:1"
        ) from None


def _generated(meta: object) -> dict | None:
    """The generator's record in a table's meta, if it is one (a table file's meta is
    untrusted: anything out of the generator's own bounds is no record)."""
    if isinstance(meta, dict) and isinstance(meta.get("generator"), dict):
        gen = meta["generator"]
        seed, share = gen.get("seed"), gen.get("break_share")
        if (
            isinstance(seed, int)
            and not isinstance(seed, bool)
            and 0 <= seed <= bounds.MAX_SEED
            and isinstance(share, (int, float))
            and 0.0 <= float(share) <= 1.0
        ):
            return gen
    return None


def derived_seed(table: EventTable) -> int:
    """A seed from the events themselves (their types and numbers), for inputs whose own
    seed, if any, is not known."""
    et = table.column("evt.type")
    head = min(table.n, 1 << 16)
    blob = np.asarray(et.values[:head]).tobytes() + np.asarray(table.evt_num[:head]).tobytes()
    return zlib.crc32(blob, table.n & 0xFFFFFFFF)


def training(spec: str | None, ruleset: object, measured: EventTable) -> Training:
    """The training events ``spec`` names for ``measured`` (loaded or generated now)."""
    from ruleopt.events.generator import generate
    from ruleopt.events.load import load_events

    if spec == SAME:
        return Training(None, "same: the measured events (trained on the test)")
    gen = _generated(measured.meta)
    share = float(gen["break_share"]) if gen else DEFAULT_BREAK_SHARE
    size = min(measured.n, MAX_TRAIN_EVENTS)
    if spec is None:
        seed = (gen["seed"] + 1) & bounds.MAX_SEED if gen else derived_seed(measured)
        why = "the measured workload's seed + 1" if gen else "derived from the events"
        label = f"held out: generated, seed {seed} ({why}), {size:,} events, {share:.2%} breaking"
    elif spec.startswith(SEED_PREFIX):
        seed = _seed_of(spec)
        label = f"generated, seed {seed}, {size:,} events, {share:.2%} breaking"
    else:
        return Training(load_events(spec, ruleset), f"{spec}")
    if gen and gen["seed"] == seed and gen.get("events") == size:
        label += " (the measured workload's own seed: trained on the test)"
    return Training(generate(ruleset, max(size, 1), seed=seed, break_share=share), label)
