"""Capture import: a libsinsp ``.scap`` file -> an EventTable, via ruleopt.events.sinsp.

libsinsp does the extraction (its values are the ones its filters compare), we only
convert them to the table's storage. Fields the 2022 libsinsp does not know (newer Falco
fields such as ``proc.is_exe_upper_layer``) cannot be extracted: their columns are absent
on every event and their keys are listed in ``table.meta["absent_fields"]``, so a rule
reading them is visibly dead on this capture rather than silently wrong.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ruleopt.errors import RuleoptError
from ruleopt.events import sinsp
from ruleopt.events.table import EventTable, StringHeap, column_from_values, column_specs
from ruleopt.fields import resolve
from ruleopt.fsutil import check_input_file, located_os_error

# A scap file starts with a section header block; the ones Falco ships are gzipped.
_SCAP_MAGIC = b"\x0a\x0d\x0d\x0a"
_GZIP_MAGIC = b"\x1f\x8b"

# Positions of the fixed leading cells of every row extract() returns.
_ROW_NUM, _ROW_TYPE, _ROW_DIR, _ROW_FIRST = 0, 1, 2, 3


def check_capture_file(path: Path) -> None:
    """Clear errors for the inputs libsinsp would reject with a cryptic message."""
    where = str(path)
    # A FIFO or device would block libsinsp (or never end): refused here, with the rest.
    check_input_file(path, "capture", hint="pass a .scap capture file")
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise located_os_error(exc, path, "read the capture") from None
    if not head:
        raise RuleoptError("the capture is empty: no events", file=where)
    if not (head.startswith(_GZIP_MAGIC) or head == _SCAP_MAGIC):
        raise RuleoptError(
            "not a scap capture (wrong magic bytes)",
            file=where,
            hint="record one with sysdig -w or falco's capture; JSON Lines files end in .jsonl",
        )


def table_from_capture(path: str | os.PathLike, keys: Sequence[str]) -> EventTable:
    """Read ``path`` with libsinsp and keep the columns for ``keys`` (+ evt.num, evt.type)."""
    path = Path(path)
    where = str(path)
    check_capture_file(path)
    specs = column_specs(keys)

    # evt.num and evt.type come with every row; other fields are asked of libsinsp only if
    # the registry says libsinsp 2022 has them (asking for an unknown one is harmless, but
    # the registry is the single authority on what "absent" means).
    absent: dict[str, str] = {}
    ask: list[str] = []
    for key, _type, _kind, _multi in specs:
        if key in ("evt.num", "evt.type"):
            continue
        if resolve(key).info.libsinsp2022:
            ask.append(key)
        else:
            absent[key] = "not a libsinsp 2022 field"

    meta, rows, trailer = sinsp.extract_full(path, ask)
    if not rows:
        raise RuleoptError("the capture holds no events", file=where)
    position: dict[str, int] = {}
    for j, (key, fm) in enumerate(zip(ask, meta, strict=True)):
        if fm.get("known"):
            position[key] = _ROW_FIRST + j
        else:
            absent[key] = fm.get("error") or "unknown to libsinsp"

    n = len(rows)
    strings = StringHeap()
    columns = []
    for key, type_name, kind, multi in specs:
        if key == "evt.num":
            vals: list = [int(r[_ROW_NUM]) for r in rows]
        elif key == "evt.type":
            vals = [r[_ROW_TYPE] for r in rows]
        elif key in position:
            vals = _convert(key, kind, multi, [r[position[key]] for r in rows], rows, where)
        else:
            vals = [None] * n
        columns.append(column_from_values(key, type_name, kind, multi, vals, strings))

    return EventTable.from_columns(
        columns,
        strings,
        meta={
            "source": where,
            "format": "scap",
            "absent_fields": sorted(absent),
            "absent_reasons": absent,
            "outside_all_types": trailer.get("outside_all_types", []),
            "field_errors": trailer.get("field_errors", {}),
        },
    )


def _convert(key: str, kind: str, multi: bool, raw: list, rows: list, where: str) -> list:
    """libsinsp's JSON values to the column's Python values (None stays absent)."""
    out: list = []
    for i, v in enumerate(raw):
        if v is None:
            out.append(None)
            continue
        items = v if isinstance(v, list) else [v]
        try:
            conv = [_scalar(kind, x) for x in items]
        except (TypeError, ValueError):
            raise RuleoptError(
                f"libsinsp returned {v!r} for {key}, which is stored as a {kind}",
                file=where,
                event=int(rows[i][_ROW_NUM]),
                hint="the field registry's type for this field disagrees with libsinsp's",
            ) from None
        if multi:
            out.append(conv)
        else:
            # A field the registry reads as one value but libsinsp returns as a list (a
            # socket's client and server sides): its first value is the one sinsp prints.
            out.append(conv[0] if conv else None)
    return out


def _scalar(kind: str, x: object) -> object:
    if kind == "num":
        if isinstance(x, bool):
            return int(x)
        if isinstance(x, int):
            return x
        if isinstance(x, float) and x.is_integer():
            return int(x)
        raise ValueError(x)
    return x if isinstance(x, str) else str(x)
