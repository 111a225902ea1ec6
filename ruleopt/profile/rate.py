"""Rate replay from per-event costs: the study's "at what rate does it start dropping".

One ring-buffer model for both engines (``plugin/ring.h``): the replica's live replay
(``run_core(rate=...)``) runs its steps while it measures each event, and
:func:`replay` runs the same steps over recorded costs (``ruleopt._ext.ring``): the real
engine's (``ruleopt-sinsp engine --event-costs``, ``ruleopt.engine.event_costs``) or the
replica's. Event i arrives at ``i / rate`` seconds into a ring of ``buffer`` slots and
takes ``costs[i]`` cycles; a full ring drops the arrival, an empty one is a SCAP_TIMEOUT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ruleopt._ext import abi as _abi
from ruleopt._ext import ring as _ring
from ruleopt.errors import InternalError, RuleoptError


def _checked_ring():
    """The model's extension, refused if it was built from other headers than the core
    (ring.h is one of the ABI headers, so a stale model would not be the live replay's)."""
    if getattr(_ring, "ABI_DIGEST", None) != _abi.ABI_DIGEST:
        raise InternalError(
            f"ruleopt._ext.ring was built from other ABI headers than ruleopt._ext.abi "
            f"({getattr(_ring, 'ABI_DIGEST', 'none')} != {_abi.ABI_DIGEST})",
            hint="rebuild the extensions (python setup.py build_ext --inplace)",
        )
    return _ring


DEFAULT_BUFFER = 8192


def ring_slots(n_events: int, buffer: int) -> int:
    """Slots a replay of ``n_events`` into a ring of ``buffer`` allocates (plugin/ring.h)."""
    return int(_checked_ring().slots(n_events, buffer))


@dataclass(frozen=True)
class Replay:
    """One replay at one offered rate."""

    rate: float
    events: int
    drops: int
    timeouts: int
    processed: np.ndarray  # bool per event
    sim_seconds: float

    @property
    def drop_share(self) -> float:
        return self.drops / self.events if self.events else 0.0


def replay(
    costs: np.ndarray,
    rate: float,
    tsc_hz: float,
    *,
    buffer: int = DEFAULT_BUFFER,
    wait_s: float = 0.0,
) -> Replay:
    """Replay per-event ``costs`` (cycles, event order) offered at ``rate`` events/s."""
    if not rate > 0:
        raise RuleoptError("rate must be a positive number of events per second")
    if not tsc_hz > 0:
        raise RuleoptError("tsc_hz must be positive")
    if buffer < 1:
        raise RuleoptError("buffer must hold at least one event")
    if wait_s < 0:
        raise RuleoptError("the empty-ring wait must not be negative")
    c = np.ascontiguousarray(costs, dtype=np.uint64)
    if c.ndim != 1:
        raise RuleoptError("costs must be one number per event")
    raw = _checked_ring().replay(c, tsc_hz / float(rate), int(buffer), wait_s * tsc_hz)
    return Replay(
        rate=float(rate),
        events=int(c.shape[0]),
        drops=raw["drops"],
        timeouts=raw["timeouts"],
        processed=raw["processed"],
        sim_seconds=raw["sim_cycles"] / tsc_hz,
    )


def drop_curve(
    costs: np.ndarray, rates: Sequence[float], tsc_hz: float, *, buffer: int = DEFAULT_BUFFER
) -> list[float]:
    """The share of events dropped (0..1) at each offered rate."""
    return [replay(costs, r, tsc_hz, buffer=buffer).drop_share for r in rates]


def highest_without_drop(rates: Sequence[float], drops: Sequence[float]) -> float | None:
    """The highest offered rate below the first one that drops anything (None: the
    lowest rate already drops)."""
    for i, d in enumerate(drops):
        if d > 0:
            return float(rates[i - 1]) if i else None
    return float(rates[-1]) if len(rates) else None


def with_output(costs: np.ndarray, alert_rows: np.ndarray, cycles_per_alert: float) -> np.ndarray:
    """The replica's per-event costs with its output added: ``cycles_per_alert`` for
    each alert on its event's row (the replica formats alerts in Python after the core's
    pass, so its output cost is measured per pass, not per event)."""
    out = np.asarray(costs, dtype=np.float64).copy()
    np.add.at(out, np.asarray(alert_rows, dtype=np.int64), float(cycles_per_alert))
    return np.rint(out).astype(np.uint64)
