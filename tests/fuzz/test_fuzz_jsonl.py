"""Fuzz the JSON Lines reader: hostile values, types and bytes (``import``, ``compare``).

Each file holds a few events built from the fields the project's rulesets read, with
some values replaced by JSON of the wrong type, numbers out of every range, NaN and
Infinity, deep nesting, invalid UTF-8, lone surrogate escapes, and lines that are not
objects. Valid events must import; anything else must be one error naming the line.
"""

from __future__ import annotations

import json
import random

import pytest

from . import fuzzlib
from .fuzzlib import REPO, Case

CASES = 300
COMPARE_SHARE = 0.2

RULES = {
    "seed": (REPO / "rulesets" / "seed_rules.yaml").read_bytes(),
    "probe": (REPO / "rulesets" / "probe_rules.yaml").read_bytes(),
}
# Plausible values per field (as JSON), to build events that load.
GOOD = {
    "evt.num": ["1", "7", "100"],
    "evt.type": ['"open"', '"openat"', '"execve"', '"connect"', '"write"'],
    "evt.dir": ['"<"', '">"'],
    "evt.arg.name": ['"/etc/x"'],
    "evt.arg.flags": ['"O_RDWR|O_CREAT"'],
    "evt.is_open_read": ["true", "false"],
    "evt.is_open_write": ["true", "false"],
    "evt.rawres": ["0", "-2", "3"],
    "evt.res": ['"SUCCESS"', '"ENOENT"'],
    "fd.directory": ['"/etc"', '"/tmp"'],
    "fd.name": ['"/etc/shadow"', '"/tmp/a b"', '"10.0.0.1:80->1.2.3.4:443"'],
    "fd.num": ["3", "-1"],
    "fd.typechar": ['"f"', '"4"'],
    "fd.ip": ['["10.0.0.1", "1.2.3.4"]'],
    "fd.sip": ['"1.2.3.4"'],
    "fd.snet": ['"1.2.3.4"'],
    "fd.sport": ["443", "80"],
    "fd.l4proto": ['"tcp"'],
    "proc.name": ['"cat"', '"bash"', '"apt-get"'],
    "proc.pname": ['"sshd"', '"bash"'],
    "proc.aname": ['["bash", "sshd"]', "[]"],
    "proc.aname[2]": ['"sshd"'],
    "proc.cmdline": ['"cat /etc/shadow"'],
    "proc.pid": ["42"],
    "proc.tty": ["0", "34816"],
    "container.id": ['"host"', '"abc123"'],
    "user.name": ['"root"'],
    "user.uid": ["0", "1000"],
}
HOSTILE = (
    "null",
    "true",
    "false",
    "0",
    "-0",
    "1.0",
    "3.5",
    "-1",
    "1e400",
    "-1e400",
    "1e-400",
    "NaN",
    "Infinity",
    "-Infinity",
    "9" * 25,
    "-" + "9" * 25,
    "18446744073709551616",
    "-9223372036854775809",
    "9223372036854775808",
    "4294967296",
    "65536",
    "9" * 5000,
    '""',
    '"x"',
    '"1"',
    '"true"',
    '"\\u0000"',
    '"\\ud800"',
    '"\\udc80x"',
    '"\\ud83d\\ude00"',
    '"\\u00e9"',
    '"a\\tb\\nc"',
    "[]",
    "[1]",
    '["a", 1]',
    "[[]]",
    "[null]",
    "{}",
    '{"a": 1}',
    "[" * 100 + "]" * 100,
    "[" * 100000 + "]" * 100000,
    '"' + "a" * 100000 + '"',
    '"10.0.0.1/8"',
    '"::1"',
    '"300.1.1.1"',
    '"fe80::1%eth0"',
    '"/etc"',
)
BAD_KEYS = (
    "",
    "unknown.field",
    "proc.aname[x]",
    "proc.aname[-1]",
    "proc.aname[99999]",
    "evt.arg",
    "evt.arg.",
    "PROC.NAME",
    "proc.name ",
    "proc.name\u0000",
    "\ud800",
    "ka.verb",
    "evt.rawarg.res",
)
RAW_LINES = (
    b"[1, 2]",
    b'"just a string"',
    b"42",
    b"null",
    b"{",
    b'{"proc.name": "cat"',
    b'{"proc.name": "cat"} trailing',
    b'{"proc.name": "cat"}{"proc.name": "x"}',
    b"\xef\xbb\xbf{}",
    b'{"proc.name": "\xff\xfe"}',
    b'{"proc.name": "caf\xc3"}',
    b"\x00",
    b"\x1e{}",
    b"{}",
    b'{"evt.type": "open", "evt.type": "close"}',
    b'{"proc.name": "cat", "proc.name": 1}',
    b"   ",
    b"\t",
    b"\r",
    b"{}\r",
    b'{"evt.num": 1}\r\n',
    b"\xc0\x80",
    b"\xed\xa0\x80",
)


def event(rng: random.Random, fields: list[str]) -> tuple[bytes, list[str]]:
    keys = rng.sample(fields, rng.randint(1, min(6, len(fields))))
    parts = {k: rng.choice(GOOD.get(k, ['"x"'])) for k in keys}
    notes = []
    for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
        r = rng.random()
        if r < 0.75 or not parts:
            k = rng.choice(fields)
            v = rng.choice(HOSTILE)
            parts[k] = v
            notes.append(f"{k}={v[:40]}")
        else:
            k = rng.choice(BAD_KEYS)
            parts[k] = rng.choice(GOOD["proc.name"])
            notes.append(f"key {k!r}")
    body = ", ".join(f"{json.dumps(k)}: {v}" for k, v in parts.items())
    line = ("{" + body + "}").encode("utf-8", "surrogatepass")
    return line, notes


def make(rng: random.Random, case: int) -> Case:
    which = rng.choice(tuple(RULES))
    fields = [k for k in GOOD if k in needed(which)]
    lines, notes = [], []
    for i in range(rng.randint(1, 4)):
        if rng.random() < 0.06:
            raw = rng.choice(RAW_LINES)
            lines.append(raw)
            notes.append(f"line {i + 1} raw {raw[:30]!r}")
            continue
        line, ns = event(rng, fields)
        lines.append(line)
        notes += [f"line {i + 1} {n}" for n in ns]
    sep = rng.choice((b"\n", b"\n", b"\r\n", b"\n\n"))
    data = sep.join(lines) + (sep if rng.random() < 0.8 else b"")
    files = {"rules.yaml": RULES[which], "events.jsonl": data}
    note = "; ".join(notes) or "valid events"
    if rng.random() < COMPARE_SHARE:
        argv = [
            "compare",
            "rules.yaml",
            "events.jsonl",
            "--repeat",
            "1",
            "--json",
            "--strategies",
            "flat,finer,cached-output",
        ]
        return Case(argv, files, locate="line", note=note)
    argv = ["import", "events.jsonl", "-r", "rules.yaml", "-o", "out.npz"]
    return Case(argv, files, outputs=("out.npz",), locate="line", note=note)


_NEEDED: dict[str, set[str]] = {}


def needed(which: str) -> set[str]:
    if which not in _NEEDED:
        import tempfile
        from pathlib import Path

        from ruleopt.events.load import needed_keys
        from ruleopt.rules.loader import load_rules

        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "r.yaml"
            p.write_bytes(RULES[which])
            _NEEDED[which] = set(needed_keys(load_rules([str(p)])))
    return _NEEDED[which]


@pytest.mark.fuzz_family("jsonl")
def test_fuzz_jsonl(family: fuzzlib.Family) -> None:
    family.run_all(CASES, make)
    family.assert_clean()
