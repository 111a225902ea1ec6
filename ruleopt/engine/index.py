"""Which rules an event is checked against: the event-type index ("tags" of the study).

One place for the rule Falco's index follows, used by the reference run of ``verify``,
by the compiler of the Cython core and by every strategy's index:

- a rule is filed under the event types of its condition (``Rule.evttypes``);
- a rule whose set is a complement ("all but ...", including a rule that never names
  ``evt.type``) is filed under every type in libsinsp's *known* set, which leaves out
  generic syscall events (and unknown ones). Captures list those type names in
  ``EventTable.meta["outside_all_types"]`` (read by the libsinsp tool), so such events are
  never given to catch-all rules, exactly as the real engine does;
- an empty set is treated as "all", as Falco 0.31 does for a filter without types.
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
    """Does Falco's index give an event of type ``type_name`` to a rule with ``evttypes``?"""
    if evttypes.is_empty or evttypes.complement:
        return type_name not in outside and (evttypes.is_empty or evttypes.matches(type_name))
    return evttypes.matches(type_name)


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
