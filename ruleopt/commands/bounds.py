"""Numbers on the command line: argparse types that refuse what cannot be done, and the
up-front estimates (memory, work) that refuse a run that would never finish or would end
in ``MemoryError`` after minutes.

Why estimates rather than trying: a ``--repeat`` of 10^9 or a ring of 10^12 slots is
accepted by the type but cannot complete on any machine; saying so before the work, with
the limit and the reason, beats an hour-long run or a traceback.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

from ruleopt.engine.sampling import MAX_SAMPLE
from ruleopt.errors import RuleoptError
from ruleopt.profile.rate import ring_slots
from ruleopt.resources import available_memory, check_memory

__all__ = ["available_memory", "check_memory"]  # re-exported for the commands

# Event passes (events x repeats x builds or strategies) a single run may ask for. The
# core evaluates ~2M events/s with tracing, so this is over ten minutes of one core: far
# beyond the largest documented run (10M events x 8 strategies), yet finite.
WORK_LIMIT = 2_000_000_000
MAX_REPEAT = 100_000
# Ring slots for a rate replay (8 bytes each, at most one per event: plugin/ring.h).
MAX_BUFFER = 1 << 31
# More than anyone generates on one machine (a 10M-event table is ~10 GB in memory).
MAX_EVENTS = 1_000_000_000
# The generator seeds numpy with the low 32 bits: larger seeds would repeat workloads.
MAX_SEED = (1 << 32) - 1
# Events per second a replay can be asked for: below, the simulated duration of a
# realistic table overflows the 64-bit cycle clock; above, nothing is measured.
MIN_RATE = 1e-3
MAX_RATE = 1e15
# Bytes of memory per event and per column while a table is built (measured on the
# generator: ~10.5 bytes per column per event at peak), with a margin.
TABLE_BYTES_PER_CELL = 14
TABLE_BYTES_PER_EVENT = 64

_INT = re.compile(r"[+-]?[0-9][0-9_]*")


def _number(text: str) -> float | int:
    """An int (``1_000``, or an integral ``1e6``) or a float; ArgumentTypeError if not."""
    t = text.strip()
    if len(t) > 40:
        raise argparse.ArgumentTypeError(f"not a usable number (too long): {t[:20]!r}...")
    if _INT.fullmatch(t):
        return int(t.replace("_", ""))
    try:
        value = float(t.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if math.isnan(value):
        raise argparse.ArgumentTypeError("not a number: NaN")
    return value


def count(lo: int, hi: int, what: str, why: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number of ``what`` in ``[lo, hi]`` (``1e6`` and ``1_000``
    accepted); ``why`` says where the upper limit comes from."""

    def parse(text: str) -> int:
        try:
            value = _number(text)
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(
                str(exc).replace("not a number", "not an integer")
            ) from None
        if isinstance(value, float):
            if math.isinf(value) or not value.is_integer():
                raise argparse.ArgumentTypeError(f"must be a whole number of {what}, got {text}")
            value = int(value)
        if value < lo and lo == 1:
            raise argparse.ArgumentTypeError(f"must be a positive number of {what}, got {value:,}")
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be {lo:,} to {hi:,} {what}{why}, got {value:,}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def real(lo: float, hi: float, what: str, why: str = "") -> Callable[[str], float]:
    """An argparse type: a finite number of ``what`` in ``[lo, hi]``."""

    def parse(text: str) -> float:
        value = float(_number(text))
        if math.isinf(value) or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be {lo:g} to {hi:g} {what}{why}, got {text}")
        return value

    parse.__name__ = what
    return parse


repeat = count(1, MAX_REPEAT, "repeats", " (more would not finish)")
events = count(1, MAX_EVENTS, "events")
seed = count(0, MAX_SEED, "", " (the generator uses a 32-bit seed)")
buffer = count(1, MAX_BUFFER, "ring slots")
rate = real(MIN_RATE, MAX_RATE, "events/s", " (the replay's simulated clock is 64-bit)")
# Sampled tracing: time 1 in N events (ruleopt.engine.sampling, plugin/trace.h's bound).
sample = count(1, MAX_SAMPLE, "events", " (1 times every event)")


def table_bytes(n_events: int, n_columns: int) -> int:
    """Peak memory estimate for building an EventTable of this shape."""
    return n_events * (n_columns * TABLE_BYTES_PER_CELL + TABLE_BYTES_PER_EVENT)


def check_work(passes: int, what: str, hint: str) -> None:
    """Refuse a run of more than ``WORK_LIMIT`` event passes (it would not finish)."""
    if passes > WORK_LIMIT:
        raise RuleoptError(
            f"{what} is {passes:,} event evaluations; the limit is "
            f"{WORK_LIMIT:,} (over ten minutes of one core)",
            hint=hint,
        )


def check_rate(rate_: float, n_events: int, buffer_: int) -> None:
    """A rate replay must end: its simulated clock (64-bit cycles at up to ~10 GHz) must
    hold the replay's duration, and the ring must fit in memory."""
    if n_events / rate_ * 1e10 >= 2.0**62:
        raise RuleoptError(
            f"at {rate_:g} events/s, replaying {n_events:,} events takes "
            f"{n_events / rate_:,.0f} simulated seconds, beyond the replay clock's range",
            hint=f"use --rate of at least {n_events * 1e10 / 2.0**62:.3g}",
        )
    # The ring allocates at most one slot per event (plugin/ring.h).
    check_memory(
        8 * ring_slots(n_events, buffer_),
        f"a ring of {buffer_:,} slots",
        "use a smaller --buffer (Falco's ring holds 8,192 events by default)",
    )


# The smallest scap event: its header alone (timestamp, thread id, length, type, params).
_SCAP_EVENT_MIN = 26


def capture_events_bound(path: str) -> int:
    """At most how many events a capture can hold, from its (uncompressed) size."""
    import struct

    size = 0
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
            fh.seek(0, 2)
            size = fh.tell()
            if magic == b"\x1f\x8b" and size >= 18:
                # gzip's trailer holds the uncompressed size (mod 2^32): enough here.
                fh.seek(-4, 2)
                size = max(size, struct.unpack("<I", fh.read(4))[0])
    except (OSError, struct.error):
        pass
    return max(1, size // _SCAP_EVENT_MIN)
