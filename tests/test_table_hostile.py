"""Hostile EventTable files: every member is data, checked before it is allocated or read.

Each case rewrites one member (or the zip around it) of a valid table and asserts one
RuleoptError naming the file and the member: never a numpy/zipfile traceback, a pickle,
or a multi-terabyte allocation.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy

from ruleopt.cli import main
from ruleopt.errors import RuleoptError
from ruleopt.events.table import EventTable

REPO = Path(__file__).resolve().parents[1]
RECORDS = [
    {"evt.type": "open", "proc.name": "cat", "proc.aname": ["bash", "sshd"], "fd.num": 3},
    {"evt.type": "execve", "proc.name": "bash", "proc.aname": [], "fd.num": -1},
    {"evt.num": 77, "evt.type": "close"},
]
KEYS = ["evt.type", "proc.name", "proc.aname", "fd.num"]


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    npy.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _raw_npy(header: str | bytes, data: bytes = b"", version: bytes = b"\x01\x00") -> bytes:
    """A .npy member with a header of our choosing (valid framing, any text)."""
    h = header.encode("latin1") if isinstance(header, str) else header
    return b"\x93NUMPY" + version + struct.pack("<H", len(h)) + h + data


@pytest.fixture()
def good(tmp_path) -> dict[str, bytes]:
    path = tmp_path / "good.npz"
    EventTable.from_records(RECORDS, KEYS).save(path)
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _column(members: dict[str, bytes], key: str) -> int:
    header = json.loads(np.load(io.BytesIO(members["header.npy"])).tobytes())
    return [c["key"] for c in header["columns"]].index(key)


def _write(
    tmp_path: Path,
    members: dict[str, bytes],
    name: str = "bad.npz",
    compression: int = zipfile.ZIP_STORED,
) -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return path


def _load_error(path: Path) -> RuleoptError:
    with pytest.raises(RuleoptError) as info:
        EventTable.load(path)
    err = info.value
    assert err.file == str(path)
    return err


def test_the_fixture_table_loads(tmp_path, good):
    table = EventTable.load(_write(tmp_path, good))
    assert table.n == 3 and table.event(0)["proc.aname"] == ["bash", "sshd"]


@pytest.mark.parametrize("dtype", ["float64", "int32", "bool", "complex128", "<U3", "int8"])
def test_present_of_the_wrong_dtype_is_refused(tmp_path, good, dtype):
    idx = _column(good, "proc.name")
    good[f"c{idx}_present.npy"] = _npy(np.zeros(1, dtype=dtype))
    err = _load_error(_write(tmp_path, good))
    assert f"member c{idx}_present" in err.message and "uint8" in err.message


def test_big_endian_values_are_refused(tmp_path, good):
    idx = _column(good, "fd.num")
    good[f"c{idx}_values.npy"] = _npy(np.zeros(3, dtype=">i8"))
    assert f"member c{idx}_values" in _load_error(_write(tmp_path, good)).message


@pytest.mark.parametrize(
    "arr",
    [np.uint8(1), np.zeros((1, 1), np.uint8), np.zeros(0, np.uint8)],
    ids=["0-d", "2-d", "empty"],
)
def test_present_of_the_wrong_shape_is_refused(tmp_path, good, arr):
    idx = _column(good, "fd.num")
    good[f"c{idx}_present.npy"] = _npy(np.asarray(arr))
    err = _load_error(_write(tmp_path, good))
    assert f"member c{idx}_present" in err.message


def test_a_header_claiming_a_trillion_rows_allocates_nothing(tmp_path, good):
    idx = _column(good, "fd.num")
    good[f"c{idx}_values.npy"] = _raw_npy(
        "{'descr': '<i8', 'fortran_order': False, 'shape': (1000000000000,), }".ljust(117) + "\n",
        b"\0" * 24,
    )
    err = _load_error(_write(tmp_path, good))
    assert f"member c{idx}_values" in err.message and "1,000,000,000,000" in err.message


@pytest.mark.parametrize(
    "header",
    [
        "{'descr': '<i8', 'fortran_order': False, 'shape': (3,",  # tokenize error
        "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), 'x': __import__('os')}",
        "not a dict at all",
        "{'descr': '<i8'}",
        "{'descr': 'nonsense', 'fortran_order': False, 'shape': (3,), }",
    ],
    ids=["unterminated", "call", "text", "keys", "descr"],
)
def test_a_garbled_npy_header_is_refused(tmp_path, good, header):
    idx = _column(good, "fd.num")
    good[f"c{idx}_values.npy"] = _raw_npy(header.ljust(117) + "\n", b"\0" * 24)
    err = _load_error(_write(tmp_path, good))
    assert f"member c{idx}_values" in err.message


def test_bad_magic_and_unknown_npy_versions_are_refused(tmp_path, good):
    idx = _column(good, "fd.num")
    good[f"c{idx}_values.npy"] = b"PK not npy at all"
    assert f"c{idx}_values" in _load_error(_write(tmp_path, good, "a.npz")).message
    good[f"c{idx}_values.npy"] = _raw_npy(
        "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", b"\0" * 24, version=b"\x09\x00"
    )
    assert f"c{idx}_values" in _load_error(_write(tmp_path, good, "b.npz")).message


def test_a_pickle_member_is_never_unpickled(tmp_path, good):
    marker = tmp_path / "pwned"
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    idx = _column(good, "proc.name")
    good[f"c{idx}_values.npy"] = _raw_npy(
        "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }".ljust(117) + "\n", payload
    )
    err = _load_error(_write(tmp_path, good))
    assert f"member c{idx}_values" in err.message and "object" in err.message
    good["strings_data.npy"] = payload  # a raw pickle where a .npy should be
    _load_error(_write(tmp_path, good, "raw.npz"))
    assert not marker.exists()


def test_unsupported_zip_version_and_compression_are_refused(tmp_path, good):
    path = _write(tmp_path, good)
    data = bytearray(path.read_bytes())
    # Every central directory entry: "version needed to extract" (offset 6) = 9.9.
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        data[pos + 6 : pos + 8] = struct.pack("<H", 99)
        pos = data.find(b"PK\x01\x02", pos + 4)
    path.write_bytes(bytes(data))
    _load_error(path)
    bz = _write(tmp_path, good, "bz.npz", compression=zipfile.ZIP_BZIP2)
    assert "compression method" in _load_error(bz).message


def test_deflated_tables_load(tmp_path, good):
    table = EventTable.load(_write(tmp_path, good, "z.npz", compression=zipfile.ZIP_DEFLATED))
    assert table.n == 3


def test_truncated_and_corrupted_archives_are_refused(tmp_path, good):
    path = _write(tmp_path, good)
    whole = path.read_bytes()
    for cut in (10, len(whole) // 2, len(whole) - 10):
        path.write_bytes(whole[:cut])
        _load_error(path)
    flipped = bytearray(whole)
    at = whole.find(b"cat")  # a string's bytes, inside a stored member: the CRC fails
    flipped[at] ^= 0xFF
    path.write_bytes(bytes(flipped))
    _load_error(path)


def test_relations_between_members_are_checked(tmp_path, good):
    name_idx, aname_idx = _column(good, "proc.name"), _column(good, "proc.aname")
    cases = {
        # A string id past the heap.
        f"c{name_idx}_values": _npy(np.array([0, 999, -1], np.int32)),
        # A column shorter than the table.
        f"c{name_idx}_values ": _npy(np.array([0, 1], np.int32)),
        # Offsets past the values, and falling.
        f"c{aname_idx}_offsets": _npy(np.array([0, 2, 1, 5], np.int64)),
        # The heap's offsets past its data.
        "strings_offsets": _npy(np.array([0, 3, 10_000], np.int64)),
    }
    for k, (member, data) in enumerate(cases.items()):
        bad = dict(good)
        bad[member.strip() + ".npy"] = data
        err = _load_error(_write(tmp_path, bad, f"r{k}.npz"))
        assert f"member {member.strip()}" in err.message, err.message


@pytest.mark.parametrize(
    "header",
    [
        b"not json",
        b"\xff\xfe",
        b"[" * 100_000,
        b'{"format": "ruleopt-eventtable", "version": 1, "n": 1e400}',
        json.dumps({"format": "ruleopt-eventtable", "version": 1, "n": -5, "columns": []}).encode(),
        json.dumps(
            {
                "format": "ruleopt-eventtable",
                "version": 1,
                "n": 3,
                "columns": [{"key": "evt.num", "type": "uint", "kind": "str", "multi": False}],
            }
        ).encode(),
        json.dumps(
            {
                "format": "ruleopt-eventtable",
                "version": 1,
                "n": 3,
                "columns": [{"key": "evt.num", "type": "uint", "kind": "num", "multi": False}],
                "meta": {"absent_fields": 5},
            }
        ).encode(),
    ],
    ids=["text", "utf8", "deep", "inf", "negative-n", "kind", "meta"],
)
def test_a_hostile_header_member_is_refused(tmp_path, good, header):
    good["header.npy"] = _npy(np.frombuffer(header, np.uint8))
    err = _load_error(_write(tmp_path, good))
    assert "header" in err.message or "event table" in err.message


@pytest.mark.parametrize(
    "change, message",
    [
        ({"type": "uint", "kind": "num"}, "the field is 'str'"),
        ({"multi": True}, "(multi-valued)"),
        ({"key": "proc.nosuchfield"}, "not a field this ruleopt knows"),
    ],
)
def test_columns_must_be_typed_as_the_field_registry_types_them(tmp_path, good, change, message):
    # Otherwise proc.name stored as numbers would be evaluated, silently and wrongly.
    header = json.loads(np.load(io.BytesIO(good["header.npy"])).tobytes())
    header["columns"][_column(good, "proc.name")].update(change)
    good["header.npy"] = _npy(np.frombuffer(json.dumps(header).encode(), np.uint8))
    err = _load_error(_write(tmp_path, good))
    assert "member header" in err.message and message in err.message


def test_a_hostile_table_through_the_cli_is_one_located_line(tmp_path, good, capsys):
    idx = _column(good, "proc.name")
    good[f"c{idx}_present.npy"] = _npy(np.zeros(1, np.float64))
    path = _write(tmp_path, good)
    rules = REPO / "rulesets" / "seed_rules.yaml"
    assert main(["compare", str(rules), str(path), "--repeat", "1"]) == 1
    err = capsys.readouterr().err
    assert f"{path}: member c{idx}_present" in err and "Traceback" not in err
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruleopt",
            "profile",
            str(rules),
            str(path),
            "-o",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"member c{idx}_present" in proc.stderr
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ any damage at all

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_EDITS = st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=4)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    member=st.integers(0, 50),
    edits=_EDITS,
    cut=st.none() | st.integers(0, 1 << 12),
    deflate=st.booleans(),
)
def test_any_damaged_member_loads_or_is_one_ruleopt_error(
    tmp_path, good, member, edits, cut, deflate
):
    names = sorted(good)
    name = names[member % len(names)]
    data = bytearray(good[name])
    for pos, byte in edits:
        data[pos % len(data)] = byte
    if cut is not None:
        data = data[:cut]
    path = _write(
        tmp_path,
        {**good, name: bytes(data)},
        "fuzz.npz",
        zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED,
    )
    try:
        table = EventTable.load(path)
    except RuleoptError as err:
        assert err.file == str(path)
        return
    for i in range(table.n):  # a table that loads is a table every reader can use
        table.event(i)
