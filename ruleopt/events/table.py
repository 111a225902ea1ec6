"""The EventTable: events stored by column, the one input of every evaluator.

One column per canonical field key (``ruleopt.fields.resolve(name).key``). Strings are
interned once in a ``StringHeap`` so a column of strings is an ``int32`` array of ids and
the compiled core compares ids or reads bytes from one packed buffer. Numbers are
``int64``. A ``present`` mask says, per event, whether the field exists at all (libsinsp's
extract returned NULL when it does not), which ``exists`` and every comparison need:
an absent field is not the same as an empty string or zero.

Storage of absent entries (so the compiled core can rely on it): a single-valued "str"
column holds id ``-1`` and a "num" column holds ``0`` where ``present`` is False; a
multi-valued column contributes no values for an absent event (``offsets[i] ==
offsets[i+1]``).

``event(i)`` turns one row back into the ``{key: value}`` mapping the reference evaluator
reads. It is called ~10^5 times in a verification run, so rows are decoded a block at a
time with numpy (``tolist`` on slices) and cached, instead of one numpy scalar at a time.
"""

from __future__ import annotations

import ipaddress
import json
import operator
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ruleopt.engine.text import canonical
from ruleopt.errors import RuleoptError
from ruleopt.events.jsontext import JsonProblem, loads
from ruleopt.events.npz import NpzReader
from ruleopt.fields import resolve
from ruleopt.fsutil import atomic_write, check_input_file
from ruleopt.resources import check_memory

FORMAT = "ruleopt-eventtable"
FORMAT_VERSION = 1

# Rows decoded per cache block in ``event(i)``: large enough that numpy's per-call overhead
# vanishes, small enough that a block of ~100 columns stays a few tens of MB.
_BLOCK = 1 << 14


# --------------------------------------------------------------------------- strings


class StringHeap:
    """Interned strings; an id is the index of first interning, an int32 that never changes."""

    __slots__ = ("_strings", "_ids", "_packed", "_objarray")

    def __init__(self, strings: Iterable[str] = ()) -> None:
        self._strings: list[str] = []
        self._ids: dict[str, int] = {}
        self._packed: tuple[np.ndarray, np.ndarray] | None = None
        self._objarray: np.ndarray | None = None
        for s in strings:
            self.intern(s)

    def intern(self, s: str) -> int:
        # One str per byte string ("\udcc3\udca9" is "é"): ids compare bytes, and the
        # packed heap (bytes) reads back without duplicates.
        s = canonical(s)
        sid = self._ids.get(s)
        if sid is None:
            sid = len(self._strings)
            if sid > np.iinfo(np.int32).max:
                raise RuleoptError("too many distinct strings for an EventTable (int32 ids)")
            self._ids[s] = sid
            self._strings.append(s)
            # Derived forms are rebuilt on demand; ids already handed out stay valid.
            self._packed = None
            self._objarray = None
        return sid

    def intern_many(self, strings: Iterable[str]) -> np.ndarray:
        """Intern every string, returning their ids as an int32 array (for bulk builders)."""
        intern = self.intern
        return np.fromiter((intern(s) for s in strings), dtype=np.int32)

    def get(self, id: int) -> str:
        if id < 0:
            raise IndexError(f"string id {id} is negative")
        return self._strings[id]

    def lookup(self, s: str) -> int:
        return self._ids.get(canonical(s), -1)

    def __len__(self) -> int:
        return len(self._strings)

    def __iter__(self):
        return iter(self._strings)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StringHeap) and self._strings == other._strings

    __hash__ = None  # type: ignore[assignment]  # mutable

    def packed(self) -> tuple[np.ndarray, np.ndarray]:
        """``(data, offsets)``: UTF-8 bytes of all strings concatenated (uint8) and int64
        offsets of length ``len + 1``; string ``i`` is ``data[offsets[i]:offsets[i+1]]``."""
        if self._packed is None:
            # surrogateescape keeps byte strings from captures that are not valid UTF-8
            # round-tripping exactly.
            encoded = [s.encode("utf-8", "surrogateescape") for s in self._strings]
            lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
            offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            data = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
            self._packed = (data, offsets)
        return self._packed

    @classmethod
    def from_packed(cls, data: np.ndarray, offsets: np.ndarray) -> StringHeap:
        raw = np.asarray(data, dtype=np.uint8).tobytes()
        offs = np.asarray(offsets, dtype=np.int64).tolist()
        heap = cls()
        strings = [
            raw[offs[i] : offs[i + 1]].decode("utf-8", "surrogateescape")
            for i in range(len(offs) - 1)
        ]
        heap._strings = strings
        heap._ids = {s: i for i, s in enumerate(strings)}
        if len(heap._ids) != len(strings):
            raise ValueError("string heap holds duplicate strings")
        return heap

    def as_object_array(self) -> np.ndarray:
        """All strings as a numpy object array, so ``arr[ids]`` decodes a column slice."""
        if self._objarray is None:
            arr = np.empty(len(self._strings), dtype=object)
            arr[:] = self._strings
            self._objarray = arr
        return self._objarray


# --------------------------------------------------------------------------- storage kinds

# The registry's closed set of types (ruleopt.fields.FIELD_TYPES), by storage. Integers of
# every width, booleans (0/1), ports and times are numbers; strings, addresses, networks
# and byte buffers are text to the evaluator (bytes that are not UTF-8 ride as lone
# surrogates, as ruleopt.events.sinsp delivers them). ``evt.rawarg.NAME`` has its
# argument's type (ruleopt.fields); ``dynamic`` is one libsinsp cannot compare, stored as
# a number for outputs only.
# ``double`` is text: libsinsp 2022 cannot even parse a double constant, so no condition
# compares one; keeping the value's text is enough to print it.
_KINDS: dict[str, str] = {
    "int": "num",
    "uint": "num",
    "bool": "num",
    "port": "num",
    "reltime": "num",
    "abstime": "num",
    "dynamic": "num",
    "str": "str",
    "ipaddr": "str",
    "ipnet": "str",
    "bytebuf": "str",
    "double": "str",
}
# Stored as int64 but unsigned 64-bit in libsinsp: values >= 2**63 keep their bit pattern
# in storage and are turned back into Python ints >= 2**63 by event().
_UNSIGNED_TYPES = frozenset({"uint", "reltime", "abstime"})


def python_number(type_name: str, stored: int) -> int | bool:
    """The evaluator's value of one stored number (bools, and unsigned 64-bit values kept
    by bit pattern in int64 storage)."""
    if is_bool_type(type_name):
        return bool(stored)
    if type_name in _UNSIGNED_TYPES and stored < 0:
        return stored + (1 << 64)
    return stored


def has_wrapped_unsigned(column: Column) -> bool:
    """Does this unsigned column hold values >= 2**63 (negative in int64 storage)? Native
    signed comparisons would order those wrongly."""
    return (
        column.kind == "num"
        and column.type in _UNSIGNED_TYPES
        and column.values.size > 0
        and int(column.values.min()) < 0
    )


def storage_kind(info: object) -> str:
    """``"num"`` or ``"str"``: how a field of this FieldInfo (or type name) is stored.

    The one place that decides it; ``event()``, JSONL and capture import all follow it.
    """
    type_name = info if isinstance(info, str) else info.type  # type: ignore[attr-defined]
    try:
        return _KINDS[type_name]
    except KeyError:
        raise ValueError(f"no storage for field type {type_name!r}") from None


def is_bool_type(type_name: str) -> bool:
    return type_name == "bool"


# --------------------------------------------------------------------------- columns


# eq=False: numpy arrays have no single truth value, so field-wise == would raise.
@dataclass(eq=False)
class Column:
    key: str
    type: str
    kind: str
    values: np.ndarray
    present: np.ndarray
    offsets: np.ndarray | None = None

    @property
    def multi(self) -> bool:
        return self.offsets is not None

    def validate(self, n: int, n_strings: int) -> None:
        """Raise ValueError unless shapes, dtypes and ids follow the storage contract."""
        want = np.int32 if self.kind == "str" else np.int64
        if self.kind not in ("str", "num"):
            raise ValueError(f"column {self.key}: kind must be 'str' or 'num', not {self.kind!r}")
        if self.values.dtype != want or self.values.ndim != 1:
            raise ValueError(f"column {self.key}: values must be 1-d {np.dtype(want).name}")
        if self.present.dtype != np.bool_ or self.present.shape != (n,):
            raise ValueError(f"column {self.key}: present must be bool of shape ({n},)")
        if self.offsets is None:
            if self.values.shape != (n,):
                raise ValueError(f"column {self.key}: values must have shape ({n},)")
            ids = self.values[self.present] if self.kind == "str" else None
        else:
            offs = self.offsets
            if offs.dtype != np.int64 or offs.shape != (n + 1,):
                raise ValueError(f"column {self.key}: offsets must be int64 of shape ({n + 1},)")
            if n and (offs[0] != 0 or offs[-1] != len(self.values) or np.any(np.diff(offs) < 0)):
                raise ValueError(f"column {self.key}: offsets must rise from 0 to len(values)")
            ids = self.values if self.kind == "str" else None
        if ids is not None and ids.size and (ids.min() < 0 or ids.max() >= n_strings):
            raise ValueError(f"column {self.key}: string id outside the heap")


def _bools(xs: list) -> list:
    return [None if x is None else bool(x) for x in xs]


def _unsigned(xs: list) -> list:
    return [x + (1 << 64) if x is not None and x < 0 else x for x in xs]


def _floats(xs: list) -> list:
    return [None if x is None else float(x) for x in xs]


def _bytes(xs: list) -> list:
    return [None if x is None else x.encode("utf-8", "surrogateescape") for x in xs]


def _converter(type_name: str, raw: np.ndarray) -> Callable[[list], list] | None:
    """How stored values (``raw``: the stored ints of a slice) become the evaluator's Python
    values, as ruleopt.engine.values lists them; None when they already are."""
    if type_name == "double":
        return _floats  # kept as text (see _KINDS), compared as a number
    if type_name == "bytebuf":
        return _bytes
    if is_bool_type(type_name):
        return _bools
    if type_name in _UNSIGNED_TYPES and raw.size and raw.min() < 0:
        return _unsigned
    return None


def _row_maker(keys: list[str], idx: list[int]) -> tuple[tuple[str, ...], Callable]:
    """The present keys of a presence pattern and a getter of their values from a row
    tuple (always a tuple, even for 0 or 1 keys)."""
    pkeys = tuple(keys[i] for i in idx)
    if len(idx) >= 2:
        return pkeys, operator.itemgetter(*idx)
    return pkeys, lambda row: tuple(row[i] for i in idx)


# --------------------------------------------------------------------------- table


@dataclass(eq=False)
class EventTable:
    n: int
    evt_num: np.ndarray
    strings: StringHeap
    columns: dict[str, Column]
    # Where the events came from and what could not be filled in ("absent_fields": keys
    # libsinsp 2022 cannot extract, so the column is absent everywhere). Saved with the table.
    meta: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_columns(
        cls,
        columns: Iterable[Column],
        strings: StringHeap,
        meta: Mapping | None = None,
    ) -> EventTable:
        """Assemble a table from ready columns (the fast path for generated workloads).

        Must include "evt.num" (kind "num") and "evt.type" (kind "str"); every column is
        checked against the storage contract so the compiled core can trust it.
        """
        cols = {c.key: c for c in columns}
        if "evt.num" not in cols or "evt.type" not in cols:
            raise ValueError("an EventTable needs the columns evt.num and evt.type")
        if cols["evt.type"].kind != "str" or cols["evt.num"].kind != "num":
            raise ValueError("evt.type must be stored as 'str' and evt.num as 'num'")
        n = int(cols["evt.num"].present.shape[0])
        for col in cols.values():
            col.validate(n, len(strings))
        if not cols["evt.num"].present.all() or cols["evt.num"].multi:
            raise ValueError("evt.num must be single-valued and present on every event")
        return cls(n, cols["evt.num"].values, strings, cols, dict(meta or {}))

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, object]],
        keys: Sequence[str],
        meta: Mapping | None = None,
    ) -> EventTable:
        """Build a table from ``{key: value}`` rows; keys missing from a row (or None) are
        absent. ``evt.num`` defaults to the 1-based row number. Values must already have the
        evaluator's Python types (see ``coerce_value``); a wrong type raises RuleoptError
        naming the event."""
        specs = column_specs(keys)
        records = records if isinstance(records, list) else list(records)
        strings = StringHeap()
        columns = []
        for key, type_name, kind, multi in specs:
            vals: list = []
            append = vals.append
            for i, rec in enumerate(records):
                v = rec.get(key)
                if v is None:
                    append(i + 1 if key == "evt.num" else None)
                elif multi:
                    append(
                        [coerce_value(key, type_name, x, event=i + 1) for x in _as_list(v, key, i)]
                    )
                else:
                    append(coerce_value(key, type_name, v, event=i + 1))
            columns.append(column_from_values(key, type_name, kind, multi, vals, strings))
        return cls.from_columns(columns, strings, meta)

    # ---------------------------------------------------------------- access

    def column(self, key: str) -> Column:
        try:
            return self.columns[key]
        except KeyError:
            raise KeyError(f"EventTable has no column {key!r}") from None

    @property
    def keys(self) -> list[str]:
        return list(self.columns)

    def __len__(self) -> int:
        return self.n

    def event(self, i: int) -> dict[str, object]:
        """Event ``i`` (0-based row) as ``{canonical key: value}``, absent keys omitted.

        A table is treated as immutable once built: decoded blocks are cached."""
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(f"event index {i} out of range for {self.n} events")
        block_no, j = divmod(i, _BLOCK)
        block = self._cache.get("block")
        if block is None or block[0] != block_no:
            block = (block_no, self._decode_block(block_no))
            self._cache["block"] = block
        out = {}
        for key, vals in block[1]:
            v = vals[j]
            if v is not None:
                out[key] = v
        return out

    def events(self) -> Iterator[dict[str, object]]:
        """Every event in order, each as ``event(i)`` gives it (same keys, same order).

        The fast path for a full scan (the capture writer's 10^6 rows). Per block, the
        columns are decoded once and zipped into row tuples; rows that have the same
        columns present (few patterns in a table) share one ``itemgetter`` of those
        columns, so each row's dict is built in C, not key by key. The decode cache of
        ``event(i)`` is not touched."""
        for block_no in range((self.n + _BLOCK - 1) // _BLOCK):
            lo = block_no * _BLOCK
            hi = min(lo + _BLOCK, self.n)
            decoded = self._decode_block(block_no)
            keys = [k for k, _ in decoded]
            present = np.stack([self.columns[k].present[lo:hi] for k in keys], axis=1)
            # One pattern per row: its present bits as one opaque value (np.unique on a
            # void view sorts bytes; with axis=0 it is ten times slower).
            packed = np.ascontiguousarray(np.packbits(present, axis=1))
            width = packed.shape[1]
            uniq, which = np.unique(
                packed.view(np.dtype((np.void, width))).ravel(), return_inverse=True
            )
            patterns = uniq.view(np.uint8).reshape(len(uniq), width)
            makers = [
                _row_maker(keys, np.flatnonzero(np.unpackbits(p)[: len(keys)]).tolist())
                for p in patterns
            ]
            rows = zip(*(v for _, v in decoded), strict=True)
            for row, p in zip(rows, which.reshape(-1).tolist(), strict=True):
                pkeys, getter = makers[p]
                yield dict(zip(pkeys, getter(row), strict=True))

    def _decode_block(self, block_no: int) -> list[tuple[str, list]]:
        lo = block_no * _BLOCK
        hi = min(lo + _BLOCK, self.n)
        heap = self.strings.as_object_array()
        decoded = []
        for key, col in self.columns.items():
            pres = col.present[lo:hi]
            if col.offsets is None:
                raw = col.values[lo:hi]
                if col.kind == "str":
                    # Absent entries hold -1; clamp so indexing works, then mask below.
                    vals = heap[np.maximum(raw, 0)] if len(heap) else np.full(hi - lo, None)
                else:
                    vals = raw.astype(object)
                vals[~pres] = None
                lst = vals.tolist()
                conv = _converter(col.type, raw)
                if conv is not None:
                    lst = conv(lst)
            else:
                offs = col.offsets[lo : hi + 1]
                base = int(offs[0])
                flat_raw = col.values[base : int(offs[-1])]
                flat = heap[flat_raw].tolist() if col.kind == "str" else flat_raw.tolist()
                conv = _converter(col.type, flat_raw)
                if conv is not None:
                    flat = conv(flat)
                rel = (offs - base).tolist()
                plist = pres.tolist()
                lst = [
                    flat[a:b] if p else None for a, b, p in zip(rel, rel[1:], plist, strict=False)
                ]
            decoded.append((key, lst))
        return decoded

    # ---------------------------------------------------------------- persistence

    def save(self, path: str | os.PathLike) -> None:
        """Write the table to ``path`` (.npz) atomically: a temp file in the same directory,
        then ``os.replace``, so an interrupted save never leaves a half-written table."""
        path = Path(path)
        data, offs = self.strings.packed()
        arrays: dict[str, np.ndarray] = {"strings_data": data, "strings_offsets": offs}
        colmeta = []
        for idx, col in enumerate(self.columns.values()):
            arrays[f"c{idx}_values"] = col.values
            # Bit-packed: present masks are most of a wide table's bytes otherwise.
            arrays[f"c{idx}_present"] = np.packbits(col.present)
            if col.offsets is not None:
                arrays[f"c{idx}_offsets"] = col.offsets
            colmeta.append(
                {
                    "key": col.key,
                    "type": col.type,
                    "kind": col.kind,
                    "multi": col.offsets is not None,
                }
            )
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "n": self.n,
            "columns": colmeta,
            "meta": self.meta,
        }
        arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
        atomic_write(path, lambda fh: np.savez(fh, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> EventTable:
        """Read a table written by ``save``. The file is untrusted data: every member is
        checked (``ruleopt.events.npz``: header, dtype, shape, byte size) and so are the
        relations between them (lengths, offsets, string ids, absent entries) before the
        table exists; any problem is one RuleoptError naming the file and the member."""
        path = check_input_file(
            path, "file", hint="pass an .npz written by `ruleopt import` or `ruleopt generate`"
        )
        with NpzReader(path) as npz:
            return _load_checked(cls, npz)


# --------------------------------------------------------------------------- helpers


def column_specs(keys: Sequence[str]) -> list[tuple[str, str, str, bool]]:
    """``(key, type, kind, multi)`` for each distinct key, with evt.num and evt.type first."""
    ordered = ["evt.num", "evt.type"] + [k for k in keys if k not in ("evt.num", "evt.type")]
    seen: set[str] = set()
    specs = []
    for name in ordered:
        rf = resolve(name)
        if rf.key in seen:
            continue
        seen.add(rf.key)
        specs.append((rf.key, rf.info.type, storage_kind(rf.info), is_multi(rf)))
    return specs


def is_multi(rf: object) -> bool:
    """A multi-valued field read without an index (``proc.aname``) yields a list."""
    return bool(rf.info.multi) and rf.arg is None  # type: ignore[attr-defined]


def column_from_values(
    key: str, type_name: str, kind: str, multi: bool, values: Sequence, strings: StringHeap
) -> Column:
    """A column from per-event Python values already of the right type: None = absent,
    a list per event for a multi-valued column."""
    n = len(values)
    present = np.fromiter((v is not None for v in values), dtype=np.bool_, count=n)
    if not multi:
        return Column(key, type_name, kind, _store(values, kind, strings, type_name), present, None)
    lengths = np.fromiter((0 if v is None else len(v) for v in values), dtype=np.int64, count=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = [x for v in values if v is not None for x in v]
    return Column(key, type_name, kind, _store(flat, kind, strings, type_name), present, offsets)


def _as_list(v: object, key: str, i: int) -> list:
    if isinstance(v, (list, tuple)):
        return list(v)
    raise RuleoptError(
        f"{key} is multi-valued: expected a list, got {type(v).__name__}", event=i + 1
    )


def _to_text(v: object) -> str:
    """The stored text of a value of a "str" column that the evaluator sees as non-str."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape")
    return repr(float(v)) if isinstance(v, (int, float)) else str(v)


def _store(values: list, kind: str, strings: StringHeap, type_name: str = "str") -> np.ndarray:
    """Python values (None = absent) to the column dtype, interning strings."""
    if kind == "str":
        intern = strings.intern
        if type_name in ("double", "bytebuf"):
            values = [None if v is None else _to_text(v) for v in values]
        return np.fromiter(
            (-1 if v is None else intern(v) for v in values), dtype=np.int32, count=len(values)
        )
    return np.fromiter(
        (0 if v is None else int(v) for v in values), dtype=np.int64, count=len(values)
    )


_INT64 = (-(1 << 63), (1 << 63) - 1)
_UINT64_MAX = (1 << 64) - 1
# The values a field of each numeric type can hold (libsinsp's widths that matter here).
_RANGES: dict[str, tuple[int, int]] = {
    "int": _INT64,
    "uint": (0, _UINT64_MAX),
    "reltime": (0, _UINT64_MAX),
    "abstime": (0, _UINT64_MAX),
    "port": (0, 65535),
}


def coerce_value(key: str, type_name: str, value: object, *, event: int | None = None) -> object:
    """Check ``value`` against the field type and return the evaluator's Python value.

    Numeric fields take ints (bools only for bool fields; an integral float such as 3.0
    is accepted since JSON writers produce them); ``double`` takes any number (-> float);
    ``bytebuf`` takes bytes or text (-> bytes); other string fields take str only. Raises
    RuleoptError naming the field and event otherwise.
    """
    kind = storage_kind(type_name)
    if type_name == "double":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise RuleoptError(
            f"field {key} ({type_name}) takes a number, got {_describe(value)}", event=event
        )
    if type_name == "bytebuf":
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            # JSON has no bytes: text stands for its UTF-8 bytes (surrogates for raw bytes).
            try:
                return value.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                raise RuleoptError(
                    f"field {key}: the text is not valid Unicode (a lone surrogate that "
                    f"stands for no byte)",
                    event=event,
                    hint="write the value as valid UTF-8 text; \\udc80-\\udcff stand for "
                    "raw bytes 0x80-0xff",
                ) from None
        raise RuleoptError(
            f"field {key} ({type_name}) takes a string, got {_describe(value)}", event=event
        )
    if kind == "str":
        if isinstance(value, str):
            try:
                value.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                raise RuleoptError(
                    f"field {key}: the text is not valid Unicode (a lone surrogate escape)",
                    event=event,
                    hint="write the value as valid UTF-8 text",
                ) from None
            if type_name in ("ipaddr", "ipnet"):
                try:
                    ipaddress.ip_address(value)
                except ValueError:
                    raise RuleoptError(
                        f"field {key} ({type_name}) takes an IP address, got {_describe(value)}",
                        event=event,
                        hint='e.g. "10.0.0.1" or "::1"',
                    ) from None
            return value
        raise RuleoptError(
            f"field {key} ({type_name}) takes a string, got {_describe(value)}",
            event=event,
            hint=f'write it as a JSON string, e.g. "{key}": "{value}"',
        )
    if is_bool_type(type_name):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise RuleoptError(
            f"field {key} ({type_name}) takes true or false, got {_describe(value)}", event=event
        )
    if isinstance(value, bool):
        raise RuleoptError(
            f"field {key} ({type_name}) takes a number, got {_describe(value)}", event=event
        )
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise RuleoptError(
            f"field {key} ({type_name}) takes an integer, got {_describe(value)}",
            event=event,
            hint="write numbers without quotes" if isinstance(value, str) else None,
        )
    lo, hi = _RANGES.get(type_name, (_INT64[0], _UINT64_MAX))
    if not lo <= value <= hi:
        raise RuleoptError(
            f"field {key} ({type_name}): {value} is out of range [{lo}, {hi}]", event=event
        )
    if value > _INT64[1]:
        # uint64 values above 2^63 keep their bit pattern in int64 storage (as libsinsp's
        # memory does); they read back negative, which only matters for huge values.
        value -= 1 << 64
    return value


def _describe(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, (set, bytes)) else repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__ if value is not None else 'null'} {text}"


# --------------------------------------------------------------------------- loading

# The header is a small JSON document (columns, meta); a bigger one is not ours.
_MAX_HEADER_BYTES = 256 << 20
_TABLE_HINT = "create one with `ruleopt import` or `ruleopt generate`"


def _load_header(npz: NpzReader) -> dict:
    where = npz.where
    if "header" not in npz.names():
        raise RuleoptError("not a ruleopt event table (no header)", file=where, hint=_TABLE_HINT)
    member = npz.header("header", np.uint8)
    if member.length > _MAX_HEADER_BYTES:
        raise npz.error(
            "header", f"is {member.length:,} bytes; a table header is at most {_MAX_HEADER_BYTES:,}"
        )
    raw = npz.read(member).tobytes()
    try:
        header = loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise npz.error("header", "is not UTF-8 JSON") from None
    except JsonProblem as exc:
        raise npz.error("header", f"is not valid JSON: {exc.message}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RuleoptError("not a ruleopt event table", file=where, hint=_TABLE_HINT)
    if header.get("version") != FORMAT_VERSION:
        raise RuleoptError(
            f"event table format version {header.get('version')!r} is not supported "
            f"(this ruleopt reads version {FORMAT_VERSION})",
            file=where,
            hint="re-create the table with this version of ruleopt",
        )
    n = header.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < 1 << 48:
        raise npz.error("header", f"'n' must be a number of events, not {n!r}")
    columns = header.get("columns")
    if not isinstance(columns, list) or not columns:
        raise npz.error("header", "'columns' must be a non-empty list")
    keys: set[str] = set()
    for idx, cm in enumerate(columns):
        what = f"column {idx}"
        if not isinstance(cm, dict):
            raise npz.error("header", f"{what} must be an object")
        key, type_name, kind, multi = (
            cm.get("key"),
            cm.get("type"),
            cm.get("kind"),
            cm.get("multi"),
        )
        if not isinstance(key, str) or not key or key in keys:
            raise npz.error("header", f"{what} has a missing or repeated key {key!r}")
        keys.add(key)
        if not isinstance(type_name, str) or type_name not in _KINDS or kind != _KINDS[type_name]:
            raise npz.error(
                "header",
                f"column {key} has type {type_name!r} and kind {kind!r}, which do not go together",
            )
        if not isinstance(multi, bool):
            raise npz.error("header", f"column {key}: 'multi' must be true or false")
        # The evaluators read a column as the field registry types it: a table that says
        # otherwise (proc.name stored as a number) would be evaluated wrongly, silently.
        want = _registry_spec(key)
        if want is None:
            raise npz.error("header", f"column {key!r} is not a field this ruleopt knows")
        if want != (type_name, multi):
            raise npz.error(
                "header",
                f"column {key} is stored as {type_name!r}"
                f"{' (multi-valued)' if multi else ''}; the field is "
                f"{want[0]!r}{' (multi-valued)' if want[1] else ''}",
            )
    meta = header.get("meta", {})
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise npz.error("header", "'meta' must be an object")
    for name in ("absent_fields", "outside_all_types"):
        value = meta.get(name)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(x, str) for x in value)
        ):
            raise npz.error("header", f"meta.{name} must be a list of strings")
    header["meta"] = meta
    return header


def _registry_spec(key: str) -> tuple[str, bool] | None:
    """``(type, multi)`` of a canonical column key, as ``column_specs`` would store it."""
    try:
        rf = resolve(key)
    except Exception:  # noqa: BLE001 - the registry's error for a name it does not know
        return None
    if rf.key != key:
        return None
    return rf.info.type, is_multi(rf)


def _load_checked(cls: type[EventTable], npz: NpzReader) -> EventTable:
    """Headers first (every member's dtype and length against the header's n), then the
    memory the data needs against what is available, then the data and its relations."""
    header = _load_header(npz)
    n: int = header["n"]
    cols = header["columns"]
    # Pass 1: headers only, nothing allocated beyond them.
    s_data = npz.header("strings_data", np.uint8)
    s_offs = npz.header("strings_offsets", np.int64)
    if s_offs.length < 1:
        raise npz.error("strings_offsets", "must hold at least one offset (0)")
    if s_offs.length - 1 > np.iinfo(np.int32).max:
        raise npz.error("strings_offsets", "holds more strings than int32 ids can name")
    plan = []
    for idx, cm in enumerate(cols):
        kind = cm["kind"]
        present = npz.header(f"c{idx}_present", np.uint8)
        if present.length != (n + 7) // 8:
            raise npz.error(
                present.name,
                f"holds {present.length:,} bytes of bits; {n:,} events need {(n + 7) // 8:,}",
            )
        values = npz.header(f"c{idx}_values", np.int32 if kind == "str" else np.int64)
        offsets = None
        if cm["multi"]:
            offsets = npz.header(f"c{idx}_offsets", np.int64)
            if offsets.length != n + 1:
                raise npz.error(
                    offsets.name, f"holds {offsets.length:,} offsets; {n:,} events need {n + 1:,}"
                )
        elif values.length != n:
            raise npz.error(
                values.name, f"holds {values.length:,} values; the table has {n:,} events"
            )
        plan.append((cm, present, values, offsets))
    members = [s_data, s_offs] + [m for _, p, v, o in plan for m in (p, v, o) if m]
    need = sum(m.length * m.dtype.itemsize for m in members)
    # The bits unpack to one byte per event per column, and strings become Python objects.
    need += n * len(cols) + s_data.length * 4 + s_offs.length * 64
    check_memory(need, f"loading {npz.where}", "this table is too large for this machine")

    # Pass 2: the data, and the relations between members.
    sd, so = npz.read(s_data), npz.read(s_offs)
    if so[0] != 0 or so[-1] != len(sd) or (len(so) > 1 and np.any(np.diff(so) < 0)):
        raise npz.error("strings_offsets", "must rise from 0 to the size of strings_data")
    try:
        strings = StringHeap.from_packed(sd, so)
    except ValueError as exc:
        raise npz.error("strings_data", str(exc)) from None
    n_strings = len(strings)
    columns = []
    for cm, present_m, values_m, offsets_m in plan:
        key, kind = cm["key"], cm["kind"]
        present = np.unpackbits(npz.read(present_m), count=n).astype(np.bool_)
        values = npz.read(values_m)
        offsets = None
        if offsets_m is not None:
            offsets = npz.read(offsets_m)
            steps = np.diff(offsets)
            if offsets[0] != 0 or offsets[-1] != len(values) or np.any(steps < 0):
                raise npz.error(
                    offsets_m.name,
                    f"must rise from 0 to the {len(values):,} values of column {key}",
                )
            if np.any(steps[~present] != 0):
                raise npz.error(
                    offsets_m.name, f"column {key} has values on events where it is absent"
                )
            ids = values
        else:
            # The storage contract (module doc): absent entries hold -1 or 0. Restored
            # rather than refused: they are never read as values.
            values[~present] = -1 if kind == "str" else 0
            ids = values[present]
        if kind == "str" and ids.size and (int(ids.min()) < 0 or int(ids.max()) >= n_strings):
            raise npz.error(
                values_m.name,
                f"column {key} names a string id outside the heap of {n_strings:,} strings",
            )
        columns.append(Column(key, cm["type"], kind, values, present, offsets))
    by_key = {c.key: c for c in columns}
    num, typ = by_key.get("evt.num"), by_key.get("evt.type")
    if num is None or typ is None or num.kind != "num" or typ.kind != "str":
        raise npz.error(
            "header", "an event table needs the columns evt.num (a number) and evt.type (a string)"
        )
    if num.multi or not num.present.all():
        raise npz.error("header", "evt.num must be single-valued and present on every event")
    try:
        return cls.from_columns(columns, strings, header["meta"])
    except ValueError as exc:
        raise RuleoptError(
            f"not a valid event table: {exc}", file=npz.where, hint=_HINT_LOAD
        ) from None


_HINT_LOAD = "the file is not an event table written by ruleopt, or it is damaged; re-create it"
