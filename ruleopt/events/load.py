"""One entry point for events: ``load_events(path_or_None, rules) -> EventTable``.

The suffix decides the reader: ``.npz`` a saved EventTable, ``.scap`` (or ``.scap.gz``) a
capture read through libsinsp, ``.jsonl``/``.ndjson`` JSON Lines. ``None`` means the
bundled default workload from the generator. Whatever the source, the table has (at
least) the columns the enabled rules read, so every evaluator can run on it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ruleopt.errors import RuleoptError
from ruleopt.events.capture import table_from_capture
from ruleopt.events.generator import default_workload
from ruleopt.events.jsonl import read_jsonl
from ruleopt.events.table import EventTable
from ruleopt.fields import resolve
from ruleopt.rules.ast import fields_of

CAPTURE_SUFFIXES = (".scap", ".scap.gz")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
TABLE_SUFFIXES = (".npz",)


def needed_keys(rules: object) -> list[str]:
    """Canonical keys of every field read by an enabled rule's expanded condition, plus
    evt.num and evt.type, in a stable order (evt.num, evt.type, then sorted)."""
    keys: set[str] = set()
    for rule in getattr(rules, "rules", rules):
        if not getattr(rule, "enabled", True) or rule.condition is None:
            continue
        for f in fields_of(rule.condition):
            keys.add(resolve(f).key)
    keys.discard("evt.num")
    keys.discard("evt.type")
    return ["evt.num", "evt.type", *sorted(keys)]


def input_kind(path: str | os.PathLike) -> str:
    """``"table"``, ``"capture"`` or ``"jsonl"`` from the file name, or a RuleoptError."""
    name = Path(path).name.lower()
    if name.endswith(TABLE_SUFFIXES):
        return "table"
    if name.endswith(CAPTURE_SUFFIXES):
        return "capture"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    raise RuleoptError(
        "cannot tell what kind of event file this is from its name",
        file=str(path),
        hint="use .scap for a capture, .jsonl for JSON Lines, .npz for an imported table",
    )


def read_events(path: str | os.PathLike, keys: list[str]) -> EventTable:
    """Read a capture or JSONL file into a table with the columns ``keys``."""
    kind = input_kind(path)
    if kind == "capture":
        return table_from_capture(path, keys)
    if kind == "jsonl":
        return read_jsonl(path, keys)
    table = EventTable.load(path)
    check_columns(table, keys, str(path))
    return table


_REIMPORT_HINT = "re-import the capture with these rules: ruleopt import CAPTURE -r RULES -o FILE"


def check_columns(
    table: EventTable, keys: list[str], where: str, hint: str = _REIMPORT_HINT
) -> None:
    """Every evaluator indexes columns by key: a missing one is an error now, not later.

    Keys the table's producer declares absent everywhere (``meta["absent_fields"]``, the
    generator's fields with no model) are not missing: the field is simply never there,
    which every evaluator reads as absent."""
    declared = set(table.meta.get("absent_fields") or ()) if isinstance(table.meta, dict) else set()
    missing = [k for k in keys if k not in table.columns and k not in declared]
    if missing:
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        shown = ", ".join(missing[:8]) + more
        raise RuleoptError(
            f"the event table lacks {len(missing)} field(s) these rules read: {shown}",
            file=where,
            hint=hint,
        )


def load_events(path: str | os.PathLike | None, rules: object) -> EventTable:
    """The events to evaluate ``rules`` on: from ``path`` or, if None, the default workload."""
    keys = needed_keys(rules)
    if path is not None:
        return read_events(path, keys)
    table = default_workload(rules)
    check_columns(
        table,
        keys,
        "default workload",
        hint="the workload generator must cover every field the rules read; pass an event file",
    )
    return table
