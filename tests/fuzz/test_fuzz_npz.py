"""Fuzz the EventTable reader (``.npz``): hostile members, dtypes, shapes, headers, zips.

A small valid table (generated for the seed rules) is taken apart member by member and
put back with one or two members changed: wrong dtypes, 0-d/empty/2-d arrays, object
arrays and raw pickles (whose unpickling would create the canary file PWNED), ``.npy``
headers claiming 10^12 rows or garbled, header JSON with wrong types and counts, string
ids and offsets out of range, missing and extra members, truncated and bit-flipped zips.
Each runs through ``ruleopt compare`` (load, validate, every evaluator on the table).
"""

from __future__ import annotations

import io
import json
import pickle
import random
import zipfile
from functools import cache

import numpy as np
import pytest

from . import fuzzlib, mutate
from .fuzzlib import REPO, Case

CASES = 300
RULES = (REPO / "rulesets" / "seed_rules.yaml").read_bytes()


class Canary:
    """Unpickling this creates the file PWNED in the working directory: code ran."""

    def __reduce__(self):
        return (open, ("PWNED", "w"))


@cache
def base_members() -> dict[str, bytes]:
    """The members of a valid small table, name (``x.npy``) -> bytes."""
    from ruleopt.events.generator import generate
    from ruleopt.rules.loader import load_rules

    path = REPO / "rulesets" / "seed_rules.yaml"
    table = generate(load_rules([str(path)]), 24, 1, 0.25)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "t.npz"
        table.save(p)
        buf = p.read_bytes()
    with zipfile.ZipFile(io.BytesIO(buf)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    b = io.BytesIO()
    np.save(b, arr, allow_pickle=allow_pickle)
    return b.getvalue()


def load_npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def npy_with_header(header: str, payload: bytes = b"\0" * 16) -> bytes:
    """A version 1.0 ``.npy`` with this header text (padded as numpy pads it)."""
    h = header.encode("latin1")
    pad = 64 - (10 + len(h) + 1) % 64
    h = h + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + payload


DTYPES = (
    "float64",
    "int32",
    "bool",
    "complex128",
    "<U3",
    "S2",
    "uint8",
    "int64",
    "uint64",
    "float16",
    ">i8",
    "int8",
)


def mutate_array(rng: random.Random, name: str, data: bytes) -> tuple[bytes, str]:
    arr = load_npy(data)
    r = rng.random()
    if r < 0.25:
        dt = rng.choice(DTYPES)
        try:
            return npy(arr.astype(dt)), f"{name} as {dt}"
        except (ValueError, TypeError, OverflowError):
            return npy(np.zeros(arr.shape, dtype=dt)), f"{name} zeros as {dt}"
    if r < 0.35:
        return npy(np.array(arr.flat[0] if arr.size else 0)), f"{name} as a 0-d array"
    if r < 0.45:
        return npy(arr[:0]), f"{name} empty"
    if r < 0.55:
        return npy(np.stack([arr, arr]) if arr.ndim == 1 else arr), f"{name} as 2-d"
    if r < 0.65:
        k = rng.randrange(1, max(2, arr.size))
        return npy(arr[:-k] if rng.random() < 0.5 else np.concatenate([arr, arr[:k]])), (
            f"{name} with {k} element(s) fewer or more"
        )
    if r < 0.85 and arr.size and arr.dtype.kind in "iu":
        out = arr.copy()
        i = rng.randrange(arr.size)
        v = rng.choice(
            (
                -1,
                -(2**31),
                2**31 - 1,
                10**9,
                int(arr.max()) + 1,
                np.iinfo(arr.dtype).max,
                np.iinfo(arr.dtype).min,
            )
        )
        out.flat[i] = np.array(v).astype(arr.dtype)
        return npy(out), f"{name}[{i}] = {v}"
    if r < 0.9:
        return npy(np.array([Canary()], dtype=object), allow_pickle=True), (
            f"{name} an object array (pickle)"
        )
    if r < 0.95:
        return pickle.dumps(Canary()), f"{name} a raw pickle"
    return npy(np.array([b"\xff\xfe", b"x"], dtype=object), allow_pickle=True), (
        f"{name} object array of bytes"
    )


def mutate_npy_header(rng: random.Random, name: str, data: bytes) -> tuple[bytes, str]:
    r = rng.random()
    if r < 0.4:
        shape = rng.choice(
            (
                "(1000000000000,)",
                "(-1,)",
                "(10, 10**9)",
                "(3.5,)",
                "()",
                "(1, 2, 3)",
                "(2**63,)",
                "('a',)",
            )
        )
        descr = rng.choice(
            ("'<i8'", "'<i4'", "'|u1'", "'|O'", "'<U1000000000'", "'V8'", "[('a', '<i8')]", "'xx'")
        )
        hdr = f"{{'descr': {descr}, 'fortran_order': False, 'shape': {shape}, }}"
        return npy_with_header(hdr), f"{name} header {hdr}"
    if r < 0.7:
        # Bytes inside the header dict text (offset 10 on): a garbled header.
        end = 10 + int.from_bytes(data[8:10], "little")
        out, note = mutate.flip_bits(rng, data[:end], lo=10)
        return out + data[end:], f"{name} header {note}"
    if r < 0.85:
        return data[: rng.randrange(0, min(len(data), 140))], f"{name} truncated"
    return b"\x93NUMPY\x09\x00" + data[8:], f"{name} claims .npy version 9"


def mutate_table_header(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    hdr = json.loads(load_npy(data).tobytes().decode())
    r = rng.random()
    if r < 0.25:
        hdr["n"] = rng.choice((-1, 0, 10**12, "24", 2.5, None, 2**64, hdr["n"] + 1))
        note = f"header n = {hdr['n']!r}"
    elif r < 0.55 and hdr["columns"]:
        i = rng.randrange(len(hdr["columns"]))
        col = hdr["columns"][i]
        k = rng.choice(("key", "type", "kind", "multi", "drop", "dup", "swap"))
        if k == "drop":
            del hdr["columns"][i]
        elif k == "dup":
            hdr["columns"].append(col)
        elif k == "swap":
            j = rng.randrange(len(hdr["columns"]))
            hdr["columns"][i], hdr["columns"][j] = hdr["columns"][j], col
        elif k == "multi":
            col["multi"] = not col["multi"]
        else:
            col[k] = rng.choice(
                (
                    "str",
                    "num",
                    "nope",
                    "",
                    None,
                    3,
                    "proc.aname",
                    "evt.num",
                    "unknown.field",
                    "ipaddr",
                    "bytebuf",
                    ["x"],
                )
            )
        note = f"header column {i} {k}"
    elif r < 0.7:
        hdr["meta"] = rng.choice(
            (
                [],
                "x",
                {"absent_fields": 5},
                {"absent_fields": ["x"]},
                None,
                {"absent_fields": [None]},
            )
        )
        note = f"header meta = {hdr['meta']!r}"
    elif r < 0.8:
        k = rng.choice(("version", "format", "columns"))
        hdr[k] = rng.choice((None, 2, "x", [], {}, 1))
        note = f"header {k} = {hdr[k]!r}"
    else:
        raw = rng.choice(
            (b"\xff\xfe{}", b"not json", b"[]", b"null", b'{"format": 1}', b"[" * 100000)
        )
        return npy(np.frombuffer(raw, dtype=np.uint8)), f"header bytes {raw[:20]!r}"
    text = json.dumps(hdr).encode()
    return npy(np.frombuffer(text, dtype=np.uint8)), note


def build_zip(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compression=method) as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    return b.getvalue()


def mutated(rng: random.Random) -> tuple[bytes, str]:
    base = base_members()
    members = dict(base)
    notes = []
    for _ in range(rng.choice((1, 1, 1, 2))):
        name = rng.choice(sorted(members))
        # A second edit of one member starts from a valid array, not from the first edit.
        members[name] = base.get(name) or npy(np.arange(3))
        r = rng.random()
        if r < 0.1:
            del members[name]
            notes.append(f"dropped {name}")
        elif r < 0.3 and "header.npy" in members:
            members["header.npy"], note = mutate_table_header(rng, base["header.npy"])
            notes.append(note)
        elif r < 0.7:
            members[name], note = mutate_array(rng, name, members[name])
            notes.append(note)
        elif r < 0.85:
            members[name], note = mutate_npy_header(rng, name, members[name])
            notes.append(note)
        else:
            extra = rng.choice(("x.npy", "c99_values.npy", "header", "../evil.npy"))
            members[extra] = npy(np.arange(3))
            notes.append(f"extra member {extra}")
        if len(members) == 0:
            break
    method = zipfile.ZIP_DEFLATED if rng.random() < 0.3 else zipfile.ZIP_STORED
    data = build_zip(members, method)
    r = rng.random()
    if r < 0.15:
        data, note = rng.choice(mutate.BYTE_MUTATORS)(rng, data)
        notes.append(f"zip {note}")
    elif r < 0.2:
        # An unsupported compression method in the first local header (offset 8).
        data = data[:8] + rng.choice((b"\x63\x00", b"\x0e\x00", b"\x5d\x00")) + data[10:]
        notes.append("zip compression method changed")
    return data, "; ".join(notes)


def make(rng: random.Random, case: int) -> Case:
    data, note = mutated(rng)
    files = {"rules.yaml": RULES, "events.npz": data}
    strategies = rng.choice(("flat", "finer", "best", "shared,cached-output"))
    argv = [
        "compare",
        "rules.yaml",
        "events.npz",
        "--repeat",
        "1",
        "--json",
        "--strategies",
        strategies,
    ]
    return Case(argv, files, locate="file", note=note)


@pytest.mark.fuzz_family("npz")
def test_fuzz_npz(family: fuzzlib.Family) -> None:
    base_members()  # built in the parent, once
    family.run_all(CASES, make)
    family.assert_clean()
