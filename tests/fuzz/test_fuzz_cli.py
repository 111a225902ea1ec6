"""Fuzz the command line: hostile numbers and paths in every command's arguments.

Each case takes one command with good arguments (tiny inputs) and makes one or more of
them hostile: numbers negative, zero, NaN, infinite, huge, not numbers; paths missing,
directories, FIFOs, empty files, names too long for the file system, non-UTF-8 names,
outputs in missing directories or with the wrong suffix. Wanted: the command's result,
or one error naming the path (or the option), or argparse's usage error.
"""

from __future__ import annotations

import os
import random

import pytest

from . import fuzzlib
from .fuzzlib import REPO, SHARED, Case

CASES = 220

RULES = (REPO / "rulesets" / "seed_rules.yaml").read_bytes()
EVENTS = (
    b'{"evt.type": "open", "proc.name": "cat", "fd.name": "/etc/shadow", "evt.dir": "<"}\n'
    b'{"evt.type": "execve", "proc.name": "bash"}\n'
    b'{"evt.type": "openat", "proc.name": "vi", "fd.name": "/etc/x", "evt.is_open_write": true}\n'
)
CAPTURE = (SHARED / "traces" / "cat_write.scap").read_bytes()
LONG = "a" * 300  # longer than NAME_MAX (255)
DEEP = "d/" * 2100  # longer than PATH_MAX (4096)

NUM_HOSTILE = (
    "-1",
    "0",
    "nan",
    "inf",
    "-inf",
    "abc",
    "",
    "1.5",
    "0x10",
    " 5",
    # Digit grouping, accepted as 10: small on purpose. "1_000" asked for 1,000 repeats,
    # which on libsinsp are 1,000 processes per strategy (one fresh Falco per pass,
    # ruleopt.engine.real): minutes of legitimate work, not a hang, beyond a case's limit.
    "1_0",
    "-0",
    "1e309",
    "1e-300",
    "\uff11",
    "\u0663",
    "2**3",
    "5 ",
    "+3",
    "0b1",
)
# Valid numbers that ask for far too much work or memory: a few, since each may cost a
# full time limit until the bounds exist.
NUM_HUGE = ("1000000000", "9223372036854775808", "18446744073709551616", "1e12")
FLOAT_HOSTILE = (
    "nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "1e309",
    "1e-300",
    "2",
    "abc",
    "",
    "0x1p3",
    "1e-5",
)


# The limit of a case on the bundled 200,000-event workload: it writes the workload as a
# capture and runs both engines (~20 s on a quiet 2-core machine); a hang still ends.
DEFAULT_WORKLOAD_TIMEOUT = 120.0


def _special(work) -> None:
    """Paths a case may name: a directory (also with a file suffix), a FIFO, an empty file."""
    for d in ("dir", "dir.yaml", "dir.jsonl", "dir.scap", "dir.npz"):
        (work / d).mkdir()
    (work / "empty.yaml").write_bytes(b"")
    (work / "empty.jsonl").write_bytes(b"")
    (work / "empty.scap").write_bytes(b"")
    for f in ("fifo.yaml", "fifo.jsonl", "fifo.scap"):
        os.mkfifo(work / f)


def hostile_input(rng: random.Random, suffix: str) -> str:
    if rng.random() < 0.03:
        return f"fifo{suffix}"  # blocks a reader that opens it: rare, it costs a timeout
    if rng.random() < 0.02:
        return "/proc/self/mem"
    return rng.choice(
        (
            f"missing{suffix}",
            f"dir{suffix}",
            "dir",
            f"empty{suffix}",
            "/dev/null",
            LONG + suffix,
            DEEP + "x" + suffix,
            f"nodir/x{suffix}",
            f"rules.yaml/x{suffix}",
            f"\udcff{suffix}",
            "-",
            f"x{suffix}\n",
            "capture.scap",
            "events.jsonl",
            "rules.yaml",
            "",
            " ",
        )
    )


def hostile_output(rng: random.Random, suffix: str) -> str:
    return rng.choice(
        (
            "dir",
            f"dir{suffix}",
            f"nodir/out{suffix}",
            "out.txt",
            LONG + suffix,
            DEEP + "out" + suffix,
            "rules.yaml",
            f"empty{suffix}",
            f"out{suffix}/",
            f"\udcffout{suffix}",
            "",
            f"events.jsonl/out{suffix}",
        )
    )


class Slots:
    """Fills a command's argument slots, each good or (with some chance) hostile."""

    def __init__(self, rng: random.Random, share: float) -> None:
        self.rng = rng
        self.share = share
        self.hostile: list[str] = []
        self.outputs: list[str] = []
        self.default_workload = False

    def _pick(self, name: str, good: str, bad) -> str:
        if self.rng.random() < self.share:
            value = bad()
            self.hostile.append(f"{name}={value[:40]!r}")
            return value
        return good

    def inp(self, name: str, good: str, suffix: str) -> str:
        return self._pick(name, good, lambda: hostile_input(self.rng, suffix))

    def out(self, name: str, good: str, suffix: str) -> str:
        value = self._pick(name, good, lambda: hostile_output(self.rng, suffix))
        self.outputs.append(value)
        return value

    def num(self, name: str, good: str) -> str:
        def bad() -> str:
            if self.rng.random() < 0.04:
                return self.rng.choice(NUM_HUGE)
            return self.rng.choice(NUM_HOSTILE)

        return self._pick(name, good, bad)

    def flt(self, name: str, good: str) -> str:
        return self._pick(name, good, lambda: self.rng.choice(FLOAT_HOSTILE))


def command(rng: random.Random, s: Slots) -> list[str]:
    cmd = rng.choice(
        (
            "check",
            "import",
            "import",
            "generate",
            "generate",
            "verify",
            "harness",
            "profile",
            "profile",
            "compare",
            "compare",
        )
    )
    rules = s.inp("RULES", "rules.yaml", ".yaml")
    if cmd == "check":
        return ["check", rules]
    if cmd == "import":
        src = s.inp(
            "INPUT", rng.choice(("events.jsonl", "capture.scap")), rng.choice((".jsonl", ".scap"))
        )
        return ["import", src, "-r", rules, "-o", s.out("-o", "out.npz", ".npz")]
    if cmd == "generate":
        return [
            "generate",
            "-r",
            rules,
            "-n",
            s.num("-n", "20"),
            "--seed",
            s.num("--seed", "1"),
            "--break-share",
            s.flt("--break-share", "0.1"),
            "-o",
            s.out("-o", "out.npz", ".npz"),
            "-q",
        ]
    if cmd == "verify":
        return ["verify", rules, "--trace", s.inp("--trace", "capture.scap", ".scap")]
    if cmd == "harness":
        return [
            "harness",
            rules,
            "--trace",
            s.inp("--trace", "capture.scap", ".scap"),
            "--repeat",
            s.num("--repeat", "1"),
            "-o",
            s.out("-o", "hout", ""),
            "--no-plots",
        ]
    events = s.inp("EVENTS", "events.jsonl", rng.choice((".jsonl", ".npz", ".scap")))
    # A rules file in the events slot is one more rules file: the run takes the bundled
    # default workload, which is real work (compare on both engines: ~20 s here).
    s.default_workload = events.lower().endswith((".yaml", ".yml"))
    if cmd == "profile":
        argv = [
            "profile",
            rules,
            events,
            "-o",
            s.out("-o", "pout", ""),
            "--repeat",
            s.num("--repeat", "1"),
            "--no-plots",
        ]
        if rng.random() < 0.5:
            argv += ["--rate", s.flt("--rate", "100000"), "--buffer", s.num("--buffer", "64")]
        return argv
    if rng.random() < 0.3:
        # Two rulesets (compare --against): B's path is hostile like any other.
        return [
            "compare",
            rules,
            "--against",
            s.inp("RULES_B", "rules.yaml", ".yaml"),
            events,
            "--repeat",
            s.num("--repeat", "1"),
            "--json",
            "--engine",
            rng.choice(("replica", "both")),
        ]
    argv = [
        "compare",
        rules,
        events,
        "--repeat",
        s.num("--repeat", "1"),
        "--json",
        "--strategies",
        rng.choice(("flat", "finer", "best", ",", "nope", "flat,,finer")),
    ]
    if rng.random() < 0.3:
        argv += ["-o", s.out("-o", "cout", "")]
    return argv


def make(rng: random.Random, case: int) -> Case:
    s = Slots(rng, share=rng.choice((0.3, 0.5, 1.0)))
    argv = command(rng, s)
    files = {
        "rules.yaml": RULES,
        "events.jsonl": EVENTS,
        "capture.scap": CAPTURE,
        "\udcff.yaml": RULES,
    }
    ok_codes = (0, 1) if argv[0] == "verify" else (0,)
    outputs = tuple(o for o in s.outputs if o and not o.startswith("/"))
    tag = f"{argv[0]} {' '.join(h.split('=')[0] for h in s.hostile)}".strip()
    return Case(
        argv,
        files,
        outputs=outputs,
        locate="arg",
        ok_codes=ok_codes,
        note=" ".join(s.hostile) or "all arguments good",
        prepare=_special,
        tag=tag,
        timeout=DEFAULT_WORKLOAD_TIMEOUT if s.default_workload else None,
    )


@pytest.mark.fuzz_family("cli")
def test_fuzz_cli(family: fuzzlib.Family) -> None:
    family.run_all(CASES, make)
    family.assert_clean()
