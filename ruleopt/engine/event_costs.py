"""The real engine's per-event costs: ``ruleopt-sinsp engine --event-costs FILE``.

The file (``plugin/sinsp_event_costs.cpp``; layout in ``plugin/ruleopt_abi.h``, read here
through ``ruleopt._ext.abi``) has no header: for each measured event, in event order,
``EVENT_COST_FIELDS`` little-endian unsigned integers of ``EVENT_COST_BYTES`` bytes, the
cycles of its stages (``EVENT_COST_STAGES``: next, index, rule_checks, output). They feed
the rate replay (``ruleopt.profile.rate``), the ring model both engines share.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ruleopt._ext import abi as _abi
from ruleopt.errors import RuleoptError

FIELDS: int = _abi.EVENT_COST_FIELDS
STAGES: tuple[str, ...] = _abi.EVENT_COST_STAGES
DTYPE = np.dtype(f"<u{_abi.EVENT_COST_BYTES}")


def read_event_costs(path: str | Path, events: int | None = None) -> np.ndarray:
    """The costs as a ``(events, FIELDS)`` uint64 array (stage cycles per event).

    ``events``, when given, is the count the engine's JSON reported for the same pass: a
    file of another length is refused (a truncated or foreign file)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise RuleoptError(
            f"cannot read the event costs: {exc.strerror}",
            file=str(path),
            hint="it is written by ruleopt-sinsp engine --event-costs FILE",
        ) from None
    width = FIELDS * DTYPE.itemsize
    if len(raw) % width:
        raise RuleoptError(
            f"event costs file of {len(raw)} bytes is not a whole number of {width}-byte records",
            file=str(path),
            hint="a truncated file, or not written by this ruleopt-sinsp: run it again",
        )
    costs = np.frombuffer(raw, dtype=DTYPE).reshape(-1, FIELDS).astype(np.uint64)
    if events is not None and costs.shape[0] != events:
        raise RuleoptError(
            f"event costs file holds {costs.shape[0]} events, the engine measured {events}",
            file=str(path),
            hint="the file and the report come from different runs: run it again",
        )
    return costs


def per_event(costs: np.ndarray, stages: tuple[str, ...] = STAGES) -> np.ndarray:
    """Each event's cycles summed over ``stages`` (default: all of them), uint64."""
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise RuleoptError(
            f"unknown event cost stage {unknown[0]!r}", hint="one of: " + ", ".join(STAGES)
        )
    cols = [STAGES.index(s) for s in stages]
    return costs[:, cols].sum(axis=1, dtype=np.uint64)
