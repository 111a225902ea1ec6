"""JSON Lines events: one JSON object per line, field name -> value.

Field names are written as in rules (``proc.name``, ``proc.aname[2]``, ``evt.arg.flags``)
and canonicalised through ``ruleopt.fields.resolve``, so a JSONL file and a capture give
the same columns. ``evt.num`` is optional and defaults to the 1-based line number. A JSON
``null`` means the field is absent on that event, the same as leaving it out.

Every error names the file and line: users write these files by hand.

Hostile text is refused line by line, never with a traceback: a line longer than
``MAX_LINE`` bytes (``/dev/zero``, a file with no newlines), bytes that are not UTF-8,
nesting deeper than ``jsontext.MAX_DEPTH``, ``NaN``/``Infinity``, integers of thousands of
digits. Strings are Unicode; a JSON escape of a lone surrogate in ``\\udc80``-``\\udcff``
stands for one raw byte (0x80-0xff), the form in which libsinsp's non-UTF-8 bytes reach
us from captures (surrogateescape), and is kept; any other lone surrogate is an error.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ruleopt.errors import RuleoptError
from ruleopt.events.jsontext import JsonProblem, loads
from ruleopt.events.table import EventTable, _as_list, coerce_value, column_specs, is_multi
from ruleopt.fields import resolve
from ruleopt.fsutil import check_input_file, located_os_error

# One event per line: the longest real one (a process with a huge command line and
# environment) is far below this. A longer line is refused rather than read into memory.
MAX_LINE = 16 << 20


def _resolver():
    """A memoised ``name -> ResolvedField | Exception``: names repeat on every line."""
    cache: dict[str, object] = {}

    def get(name: str):
        hit = cache.get(name)
        if hit is None:
            try:
                hit = resolve(name)
            except Exception as exc:  # the registry's own error, reported with the line
                hit = exc
            cache[name] = hit
        return hit

    return get


def read_jsonl(path: str | os.PathLike, keys: Sequence[str]) -> EventTable:
    """Read ``path`` into an EventTable with the columns for ``keys`` (plus evt.num and
    evt.type). Fields present in the file but not needed are validated and dropped."""
    path = check_input_file(path, "file", hint="pass a JSON Lines file (.jsonl)")
    where = str(path)
    specs = {key: (type_name, multi) for key, type_name, _kind, multi in column_specs(keys)}
    resolve = _resolver()
    records: list[dict[str, object]] = []
    try:
        # Binary, decoded per line: text mode decodes ahead in chunks, and a bad byte would
        # be reported at the wrong line.
        fh = path.open("rb")
    except OSError as exc:
        raise RuleoptError(f"cannot open: {exc.strerror}", file=where) from None
    with fh:
        for lineno, raw in enumerate(_lines(fh, where), start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RuleoptError(
                    f"not UTF-8 text ({exc.reason})",
                    file=where,
                    line=lineno,
                    hint="JSON Lines files are UTF-8; is this a capture? name it .scap",
                ) from None
            if not text.strip():
                continue  # blank lines (a trailing newline, spacing) are not events
            records.append(_parse_line(text, where, lineno, specs, resolve))
    if not records:
        raise RuleoptError(
            "no events: the file is empty",
            file=where,
            hint='write one JSON object per line, e.g. {"evt.type": "open", "proc.name": "cat"}',
        )
    return EventTable.from_records(records, list(specs), meta={"source": where, "format": "jsonl"})


def _lines(fh, where: str):
    """The file's lines as bytes, each at most ``MAX_LINE`` long, or a located error."""
    lineno = 0
    while True:
        try:
            raw = fh.readline(MAX_LINE + 1)
        except OSError as exc:
            raise located_os_error(exc, where, "read the JSON Lines file") from None
        if not raw:
            return
        lineno += 1
        if len(raw) > MAX_LINE:
            raise RuleoptError(
                f"the line is longer than {MAX_LINE:,} bytes",
                file=where,
                line=lineno,
                hint="one event per line; is this really a JSON Lines file?",
            )
        yield raw


def _parse_line(text: str, where: str, lineno: int, specs: dict, resolve) -> dict[str, object]:
    try:
        obj = loads(text)
    except JsonProblem as exc:
        raise RuleoptError(
            f"not valid JSON: {exc.message}",
            file=where,
            line=lineno,
            column=exc.column,
            hint="each line must be one complete JSON object",
        ) from None
    if not isinstance(obj, dict):
        raise RuleoptError(
            f"expected a JSON object mapping field names to values, got {type(obj).__name__}",
            file=where,
            line=lineno,
            hint='e.g. {"evt.type": "open", "proc.name": "cat"}',
        )
    record: dict[str, object] = {}
    seen: set[str] = set()
    for name, value in obj.items():
        rf = resolve(name)
        if isinstance(rf, Exception):
            detail = getattr(rf, "message", None) or str(rf)
            raise RuleoptError(
                f"unknown field {name!r}: {detail}",
                file=where,
                line=lineno,
                hint=getattr(rf, "hint", None)
                or "use field names as written in Falco rules, e.g. proc.name, fd.name",
            )
        key = rf.key
        if key in seen:
            raise RuleoptError(
                f"field {key} given twice (as {name!r} and another spelling)",
                file=where,
                line=lineno,
            )
        seen.add(key)
        if value is None:
            continue
        multi = is_multi(rf)
        try:
            if multi:
                coerced: object = [
                    coerce_value(key, rf.info.type, v) for v in _as_list(value, key, lineno - 1)
                ]
            else:
                coerced = coerce_value(key, rf.info.type, value)
        except RuleoptError as err:
            # Re-locate the error at the line; the message already names the field.
            raise RuleoptError(err.message, file=where, line=lineno, hint=err.hint) from None
        if key in specs:
            record[key] = coerced
    record.setdefault("evt.num", lineno)
    return record
