"""Which rules an event is checked against: the event-type index ("tags" of the study).

The rule Falco's index follows is ``ruleopt.rules.evttypes.sees`` (also what ``ruleopt
check`` prints, through ``RuleSet.by_evttype``); this module applies it to an event table,
for the reference run of ``verify``, the compiler of the Cython core and every strategy's
index:

- a rule is filed under the event types of its condition (``Rule.evttypes``, computed
  by ``evttypes_of`` over libsinsp 2022's universe of event types with a code of their
  own, so its names are all such types);
- events outside that universe (generic syscall events such as ``epoll_pwait``, which
  arrive as ``PPME_GENERIC_E/X``, and old event versions) are never given to a rule with
  a non-empty set, "all" and "all but ..." included. A name without a code in that
  universe is outside in every table (JSONL and generated ones too); captures also list
  the type names their driver sent as generic events in
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
from ruleopt.rules.evttypes import sees

__all__ = ["evttype_buckets", "outside_all_types", "sees"]


def outside_all_types(table: EventTable) -> frozenset[str]:
    """Type names in ``table`` that libsinsp's catch-all set does not contain."""
    return frozenset(table.meta.get("outside_all_types", ()) if table.meta else ())


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
