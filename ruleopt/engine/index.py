"""Which rules an event is checked against: the event-type index ("tags" of the study).

One place for the rule Falco's index follows, used by the reference run of ``verify``,
by the compiler of the Cython core and by every strategy's index:

- a rule is filed under the event types of its condition (``Rule.evttypes``, computed
  by ``evttypes_of`` over libsinsp 2022's universe of event types with a code of their
  own, so its names are all such types);
- events outside that universe (generic syscall events such as ``epoll_pwait``, which
  arrive as ``PPME_GENERIC_E/X``, and old event versions) are never given to a rule with
  a non-empty set, "all" and "all but ..." included. Captures list their type names in
  ``EventTable.meta["outside_all_types"]`` (read by the libsinsp tool). This is by name:
  a capture comes from one driver, so a syscall is generic in all of its events or none;
- an empty set (``evt.type = epoll_pwait``, ``evt.type = open and evt.type = close``) is
  filed under *every* event, generic ones included, as Falco 0.31 does for a filter
  without types (the harness does the same).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ruleopt.events.table import EventTable
from ruleopt.rules.evttypes import EvtTypeSet


def outside_all_types(table: EventTable) -> frozenset[str]:
    """Type names in ``table`` that libsinsp's catch-all set does not contain."""
    return frozenset(table.meta.get("outside_all_types", ()) if table.meta else ())


def sees(evttypes: EvtTypeSet, type_name: str, outside: frozenset[str] = frozenset()) -> bool:
    """Does Falco's index give an event of type ``type_name`` to a rule with ``evttypes``?

    ``evttypes`` is a set as ``evttypes_of`` computes it (within libsinsp's universe);
    ``outside`` names the types of events outside that universe (see module doc)."""
    if evttypes.is_empty:
        return True
    return type_name not in outside and evttypes.matches(type_name)


def evttype_buckets(rules: Sequence, table: EventTable) -> dict[int, list[int]]:
    """For each evt.type string id present in ``table``: positions in ``rules`` (in order)
    of the rules the index checks for that event type."""
    outside = outside_all_types(table)
    et = table.column("evt.type")
    type_ids = np.unique(et.values[et.present]).tolist()
    buckets: dict[int, list[int]] = {}
    for tid in type_ids:
        name = table.strings.get(tid)
        buckets[tid] = [pos for pos, r in enumerate(rules) if sees(r.evttypes, name, outside)]
    return buckets
