"""Fuzz the capture reader: truncated and bit-flipped real captures through libsinsp.

Each case corrupts a shared capture (truncation, bit flips, overwritten or duplicated
byte ranges, mostly past the file's first blocks so that libsinsp reads some events
first) and runs ``ruleopt import`` or ``ruleopt verify`` on it, which hand the file to
``ruleopt-sinsp``. Wanted: the events read, or one error naming the capture (and the
event number where libsinsp crashed, if it crashed). A share runs as a real
``python3 -m ruleopt`` process, to see exactly what a user sees.
"""

from __future__ import annotations

import gzip
import random
import struct
from collections import Counter
from functools import cache

import pytest

from . import fuzzlib, mutate
from .fuzzlib import REPO, SHARED, Case

CASES = 70
SUBPROCESS_EVERY = 10
RULES = (REPO / "rulesets" / "probe_rules.yaml").read_bytes()


@cache
def traces() -> list[tuple[str, bytes, list[tuple[int, int, int]]]]:
    """(name, uncompressed scap bytes, blocks as (offset, type, length)), small files."""
    out = []
    for p in sorted((SHARED / "traces").glob("*.scap")):
        data = p.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)  # corrupt the scap itself, not its deflate stream
        if len(data) > 300_000:
            continue
        blocks, off = [], 0
        while off + 8 <= len(data):
            btype, blen = struct.unpack_from("<II", data, off)
            if blen < 12:
                break
            blocks.append((off, btype, blen))
            off += blen
        out.append((p.name, data, blocks))
    return out


def poke(rng: random.Random, data: bytes, lo: int, hi: int) -> tuple[bytes, str]:
    """Flip a bit or overwrite 1-4 bytes inside ``[lo, hi)``."""
    buf = bytearray(data)
    if not buf:
        return data, "nothing to poke"
    # Offsets come from the uncorrupted file: an earlier truncation may have cut them off.
    lo = min(lo, len(buf) - 1)
    i = rng.randrange(lo, max(lo + 1, min(hi, len(buf))))
    if rng.random() < 0.5:
        buf[i] ^= 1 << rng.randrange(8)
        return bytes(buf), f"flipped a bit at byte {i}"
    n = rng.choice((1, 2, 4))
    v = rng.choice((0x00, 0xFF, 0x7F, 0x80))
    buf[i : i + n] = bytes([v]) * len(buf[i : i + n])
    return bytes(buf), f"set {n} byte(s) at {i} to {v:#x}"


def corrupt(rng: random.Random) -> tuple[bytes, str]:
    name, data, blocks = rng.choice(traces())
    notes = [name]
    kinds = Counter(t for _, t, _ in blocks)
    events = [b for b in blocks if b[1] == kinds.most_common(1)[0][0]] or blocks
    for _ in range(rng.choice((1, 1, 2))):
        r = rng.random()
        if r < 0.35:
            # An event's block and event header: lengths, type, parameter count.
            off, btype, blen = rng.choice(events)
            data, note = poke(rng, data, off, off + min(blen, 40))
            notes.append(f"event header of block at {off}: {note}")
        elif r < 0.55:
            off, btype, blen = rng.choice(events)
            data, note = poke(rng, data, off, off + blen)
            notes.append(f"event block at {off}: {note}")
        elif r < 0.7:
            off, btype, blen = rng.choice(blocks)
            data, note = poke(rng, data, off, off + 8)
            notes.append(f"block header {btype:#x} at {off}: {note}")
        elif r < 0.85:
            first = events[0][0] if events else 0
            data, note = mutate.truncate(rng, data, first)
            notes.append(note)
        else:
            data, note = rng.choice(mutate.BYTE_MUTATORS)(rng, data)
            notes.append(note)
    if rng.random() < 0.3:
        data = gzip.compress(data, compresslevel=1)
        notes.append("gzipped")
    return data, "; ".join(notes)


def make(rng: random.Random, case: int) -> Case:
    data, note = corrupt(rng)
    files = {"rules.yaml": RULES, "capture.scap": data}
    sub = case % SUBPROCESS_EVERY == SUBPROCESS_EVERY - 1
    if rng.random() < 0.3:
        # verify exits 1 without an error when a rule's matches differ: not a crash.
        argv = ["verify", "rules.yaml", "--trace", "capture.scap", "--json"]
        return Case(argv, files, locate="event", ok_codes=(0, 1), note=note, subprocess=sub)
    argv = ["import", "capture.scap", "-r", "rules.yaml", "-o", "out.npz"]
    return Case(argv, files, outputs=("out.npz",), locate="event", note=note, subprocess=sub)


@pytest.mark.fuzz_family("capture")
def test_fuzz_capture(family: fuzzlib.Family) -> None:
    family.run_all(CASES, make)
    family.assert_clean()
