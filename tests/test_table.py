"""EventTable: storage contract, event(i) values, multi-valued columns, save/load."""

from __future__ import annotations

import random
import zipfile

import numpy as np
import pytest

from ruleopt import fields
from ruleopt.errors import RuleoptError
from ruleopt.events import table as table_mod
from ruleopt.events.table import (
    Column,
    EventTable,
    StringHeap,
    coerce_value,
    column_specs,
    storage_kind,
)

KEYS = [
    "evt.type",
    "proc.name",
    "proc.aname",
    "proc.aname[2]",
    "fd.num",
    "evt.is_open_read",
    "fd.port",
    "evt.arg.flags",
    "user.uid",
]

RECORDS = [
    {
        "evt.type": "open",
        "proc.name": "cat",
        "proc.aname": ["bash", "sshd"],
        "proc.aname[2]": "sshd",
        "fd.num": 3,
        "evt.is_open_read": True,
        "fd.port": [80, 5555],
        "evt.arg.flags": "O_RDONLY",
    },
    {
        "evt.type": "execve",
        "proc.name": "bash",
        "proc.aname": [],
        "fd.num": -1,
        "evt.is_open_read": False,
        "user.uid": 0,
    },
    {"evt.num": 77, "evt.type": "close"},
]


def sample() -> EventTable:
    return EventTable.from_records(RECORDS, KEYS)


# --------------------------------------------------------------------------- heap


def test_string_heap_ids_are_stable_and_packed():
    heap = StringHeap()
    assert heap.intern("a") == 0
    assert heap.intern("bé") == 1
    assert heap.intern("a") == 0
    assert heap.lookup("bé") == 1 and heap.lookup("zz") == -1
    assert heap.get(1) == "bé" and len(heap) == 2
    data, offsets = heap.packed()
    assert data.dtype == np.uint8 and offsets.dtype == np.int64
    assert offsets.tolist() == [0, 1, 4]
    assert data.tobytes() == "abé".encode()
    heap.intern("")  # a later intern invalidates the packed form, ids unchanged
    data, offsets = heap.packed()
    assert offsets.tolist() == [0, 1, 4, 4] and heap.lookup("a") == 0


def test_string_heap_round_trips_non_utf8_bytes():
    odd = b"\xff\xfeabc".decode("utf-8", "surrogateescape")
    heap = StringHeap(["x", odd])
    back = StringHeap.from_packed(*heap.packed())
    assert list(back) == ["x", odd] and back.lookup(odd) == 1


# --------------------------------------------------------------------------- kinds


def test_every_registry_type_has_one_storage_kind():
    kinds = {t: storage_kind(t) for t in fields.FIELD_TYPES}
    assert set(kinds.values()) <= {"num", "str"}
    assert kinds["int"] == kinds["uint"] == kinds["bool"] == kinds["port"] == "num"
    assert kinds["str"] == kinds["ipaddr"] == kinds["ipnet"] == kinds["bytebuf"] == "str"
    assert storage_kind(fields.resolve("proc.name").info) == "str"
    with pytest.raises(ValueError):
        storage_kind("float128")


def test_column_specs_put_evt_num_and_type_first_and_canonicalise():
    specs = column_specs(["proc.name", "evt.arg[flags]", "evt.arg.flags", "proc.aname"])
    assert [s[0] for s in specs] == [
        "evt.num",
        "evt.type",
        "proc.name",
        "evt.arg.flags",
        "proc.aname",
    ]
    assert specs[-1][3] is True  # proc.aname without index is multi-valued


# --------------------------------------------------------------------------- records


def test_event_returns_the_records_values():
    t = sample()
    assert t.n == 3
    assert t.evt_num.tolist() == [1, 2, 77]
    e0 = t.event(0)
    assert e0 == {**RECORDS[0], "evt.num": 1}
    assert type(e0["evt.is_open_read"]) is bool and type(e0["fd.num"]) is int
    e1 = t.event(1)
    assert e1["proc.aname"] == [] and e1["evt.is_open_read"] is False and e1["user.uid"] == 0
    assert "proc.aname[2]" not in e1 and "fd.port" not in e1  # absent keys are omitted
    assert t.event(2) == {"evt.num": 77, "evt.type": "close"}
    assert t.event(-1) == t.event(2)
    with pytest.raises(IndexError):
        t.event(3)


def test_storage_follows_the_contract():
    t = sample()
    name = t.column("proc.name")
    assert name.kind == "str" and name.values.dtype == np.int32 and name.offsets is None
    assert name.present.tolist() == [True, True, False]
    assert name.values[2] == -1  # absent str entries hold -1
    assert t.strings.get(int(name.values[0])) == "cat"
    fdnum = t.column("fd.num")
    assert fdnum.kind == "num" and fdnum.values.dtype == np.int64
    assert fdnum.values.tolist() == [3, -1, 0]
    aname = t.column("proc.aname")
    assert aname.offsets.tolist() == [0, 2, 2, 2]
    assert [t.strings.get(int(i)) for i in aname.values] == ["bash", "sshd"]
    assert aname.present.tolist() == [True, True, False]
    assert t.column("evt.type").kind == "str" and t.column("evt.num").kind == "num"
    with pytest.raises(KeyError):
        t.column("fd.name")


def test_from_records_rejects_wrong_types_naming_the_event():
    with pytest.raises(RuleoptError) as err:
        EventTable.from_records([{"evt.type": "open"}, {"fd.num": "3"}], ["fd.num"])
    assert err.value.event == 2 and "fd.num" in err.value.message
    with pytest.raises(RuleoptError):
        EventTable.from_records([{"proc.aname": "bash"}], ["proc.aname"])
    with pytest.raises(RuleoptError):
        coerce_value("evt.is_open_read", "bool", "yes")
    assert coerce_value("fd.num", "int", 3.0) == 3
    with pytest.raises(RuleoptError):
        coerce_value("fd.num", "int", True)


def test_uint64_above_int64_round_trips_through_event():
    big = (1 << 64) - 2
    t = EventTable.from_records([{"evt.type": "x", "evt.buflen": big}], ["evt.buflen"])
    assert t.column("evt.buflen").values[0] < 0  # bit pattern kept in int64 storage
    assert t.event(0)["evt.buflen"] == big


def test_double_and_bytebuf_read_back_as_the_evaluator_expects(tmp_path):
    raw = b"\x00\xffGET /"
    recs = [
        {"evt.type": "read", "evt.buffer": raw, "thread.cpu": 0.25},
        {"evt.type": "read", "evt.buffer": "text", "thread.cpu": 2},
    ]
    t = EventTable.from_records(recs, ["evt.buffer", "thread.cpu"])
    assert t.column("evt.buffer").kind == "str" and t.column("thread.cpu").kind == "str"
    e0, e1 = t.event(0), t.event(1)
    assert e0["evt.buffer"] == raw and e0["thread.cpu"] == 0.25
    assert e1["evt.buffer"] == b"text" and type(e1["thread.cpu"]) is float
    t.save(tmp_path / "t.npz")
    assert EventTable.load(tmp_path / "t.npz").event(0) == e0


# --------------------------------------------------------------------------- from_columns


def big_table(n: int, seed: int = 1) -> tuple[EventTable, list[dict]]:
    """A table built the fast way, with the records it should read back as."""
    rng = np.random.default_rng(seed)
    heap = StringHeap()
    names = heap.intern_many(["cat", "bash", "sshd", "nginx"])
    types = heap.intern_many(["open", "execve"])
    evt_type = types[rng.integers(0, 2, n)]
    name_ids = names[rng.integers(0, 4, n)]
    name_present = rng.random(n) < 0.8
    name_ids[~name_present] = -1
    counts = rng.integers(0, 4, n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    anc = names[rng.integers(0, 4, int(offsets[-1]))]
    fdnum = rng.integers(-5, 1000, n)
    cols = [
        Column(
            "evt.num", "uint", "num", np.arange(1, n + 1, dtype=np.int64), np.ones(n, dtype=bool)
        ),
        Column("evt.type", "str", "str", evt_type.astype(np.int32), np.ones(n, dtype=bool)),
        Column("proc.name", "str", "str", name_ids.astype(np.int32), name_present),
        Column("proc.aname", "str", "str", anc.astype(np.int32), counts >= 0, offsets),
        Column("fd.num", "int", "num", fdnum.astype(np.int64), np.ones(n, dtype=bool)),
    ]
    t = EventTable.from_columns(cols, heap)
    strs = list(heap)
    expect = []
    for i in range(n):
        e = {
            "evt.num": i + 1,
            "evt.type": strs[evt_type[i]],
            "fd.num": int(fdnum[i]),
            "proc.aname": [strs[x] for x in anc[offsets[i] : offsets[i + 1]]],
        }
        if name_present[i]:
            e["proc.name"] = strs[name_ids[i]]
        expect.append(e)
    return t, expect


def test_from_columns_event_across_cache_blocks(monkeypatch):
    # Small blocks so a small table crosses many of them (the real size is 16K rows).
    monkeypatch.setattr(table_mod, "_BLOCK", 64)
    n = 64 * 5 + 17
    t, expect = big_table(n)
    rnd = random.Random(3)
    order = [0, 63, 64, n - 1, 200, 3] + rnd.sample(range(n), 100)  # random access
    assert [t.event(i) for i in order] == [expect[i] for i in order]
    assert [t.event(i) for i in range(n)] == expect  # sequential, as evaluators scan


def test_event_is_cheap_on_a_wide_scan():
    t, expect = big_table(table_mod._BLOCK + 10, seed=5)
    got = [t.event(i) for i in range(t.n)]
    assert got[::997] == expect[::997] and got[-1] == expect[-1]


def test_from_columns_validates_the_contract():
    heap = StringHeap(["open"])
    num = Column("evt.num", "uint", "num", np.array([1, 2], dtype=np.int64), np.ones(2, bool))
    typ = Column("evt.type", "str", "str", np.array([0, 0], dtype=np.int32), np.ones(2, bool))
    with pytest.raises(ValueError, match="evt.type"):
        EventTable.from_columns([num], heap)
    bad_dtype = Column("fd.num", "int", "num", np.array([1, 2], dtype=np.int32), np.ones(2, bool))
    with pytest.raises(ValueError, match="int64"):
        EventTable.from_columns([num, typ, bad_dtype], heap)
    bad_id = Column("proc.name", "str", "str", np.array([0, 5], dtype=np.int32), np.ones(2, bool))
    with pytest.raises(ValueError, match="heap"):
        EventTable.from_columns([num, typ, bad_id], heap)
    bad_offs = Column(
        "proc.aname",
        "str",
        "str",
        np.array([0], dtype=np.int32),
        np.ones(2, bool),
        np.array([0, 2, 1], dtype=np.int64),
    )
    with pytest.raises(ValueError, match="offsets"):
        EventTable.from_columns([num, typ, bad_offs], heap)


# --------------------------------------------------------------------------- save / load


def test_save_load_round_trip(tmp_path):
    t = sample()
    t.meta["absent_fields"] = ["proc.is_exe_upper_layer"]
    path = tmp_path / "events.npz"
    t.save(path)
    u = EventTable.load(path)
    assert u.n == t.n and list(u.columns) == list(t.columns)
    assert list(u.strings) == list(t.strings)
    assert u.meta["absent_fields"] == ["proc.is_exe_upper_layer"]
    for key, col in t.columns.items():
        other = u.column(key)
        assert (other.type, other.kind) == (col.type, col.kind)
        assert np.array_equal(other.values, col.values)
        assert np.array_equal(other.present, col.present)
        assert (other.offsets is None) == (col.offsets is None)
    assert [u.event(i) for i in range(u.n)] == [t.event(i) for i in range(t.n)]
    assert [p.name for p in tmp_path.iterdir()] == ["events.npz"]  # no temp file left


def test_save_load_round_trip_large(tmp_path):
    t, expect = big_table(5000, seed=7)
    t.save(tmp_path / "big.npz")
    u = EventTable.load(tmp_path / "big.npz")
    assert all(u.event(i) == expect[i] for i in range(0, 5000, 7))


def test_failed_save_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "events.npz"
    path.write_bytes(b"old")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(RuleoptError, match="cannot write the output: disk full") as err:
        sample().save(path)
    assert err.value.file == str(path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["events.npz"]


def test_load_errors_are_ruleopt_errors(tmp_path):
    with pytest.raises(RuleoptError, match="no such file"):
        EventTable.load(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip")
    with pytest.raises(RuleoptError) as err:
        EventTable.load(junk)
    assert err.value.file == str(junk)
    good = tmp_path / "good.npz"
    sample().save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(RuleoptError):
        EventTable.load(truncated)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.arange(3))
    with pytest.raises(RuleoptError, match="not a ruleopt event table"):
        EventTable.load(foreign)
    assert zipfile.is_zipfile(good)


def test_events_scan_equals_event_by_index(monkeypatch):
    # The capture writer's fast full scan must give exactly what event(i) gives, key
    # order included, across blocks (small ones here), absent and multi-valued cells.
    monkeypatch.setattr(table_mod, "_BLOCK", 64)
    t, expect = big_table(64 * 3 + 5, seed=11)
    got = list(t.events())
    assert got == expect == [t.event(i) for i in range(t.n)]
    assert [list(e) for e in got] == [list(t.event(i)) for i in range(t.n)]
    assert any("proc.name" not in e for e in got) and any(e["proc.aname"] == [] for e in got)
