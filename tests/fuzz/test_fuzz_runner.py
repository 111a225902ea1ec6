"""The fuzz runner's own verdicts, on planted bugs: each must be caught and classified."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from . import fuzzlib
from .fuzzlib import REPO, Case

RULES = (REPO / "rulesets" / "seed_rules.yaml").read_bytes()


def _plant(behaviour):
    """A child_setup replacing ``ruleopt check``'s run with ``behaviour(args)``."""

    def setup() -> None:
        from ruleopt.commands import check

        check.run = behaviour

    return setup


def _raise_value_error(args):
    raise ValueError("planted")


def _segfault(args):
    os.kill(os.getpid(), signal.SIGSEGV)


def _hang(args):
    time.sleep(60)


def _temp_leftover(args):
    tempfile.mkstemp()  # in the private TMPDIR, never removed
    return 0


def _stray_file(args):
    Path("stray.txt").write_text("x")
    from ruleopt.errors import RuleoptError

    raise RuleoptError("planted", file="rules.yaml", line=1)


def _unlocated(args):
    from ruleopt.errors import RuleoptError

    raise RuleoptError("planted without a place")


def _recursion(args):
    def f(n):
        return f(n + 1)

    return f(0)


def _canary(args):
    Path("PWNED").write_text("")
    return 0


CASES = [
    (None, ["check", "rules.yaml"], "ok", ""),
    (None, ["check", "missing.yaml"], "located", ""),
    (None, ["generate", "-r", "rules.yaml", "-n", "abc", "-o", "o.npz"], "usage", ""),
    (_raise_value_error, ["check", "rules.yaml"], "fail", "traceback: ValueError"),
    (_segfault, ["check", "rules.yaml"], "fail", "died of SIGSEGV"),
    (_hang, ["check", "rules.yaml"], "fail", "no result within the time limit"),
    (_temp_leftover, ["check", "rules.yaml"], "fail", "temporary file(s) left"),
    (_stray_file, ["check", "rules.yaml"], "fail", "file(s) written outside"),
    (_unlocated, ["check", "rules.yaml"], "fail", "unlocated error: planted"),
    (_recursion, ["check", "rules.yaml"], "fail", "unlocated: RecursionError"),
    (_canary, ["check", "rules.yaml"], "fail", "executed code"),
]


@pytest.mark.parametrize(
    ("behaviour", "argv", "kind", "key"), CASES, ids=[c[3] or c[2] for c in CASES]
)
def test_runner_verdict(fuzz_root: Path, behaviour, argv, kind, key, monkeypatch) -> None:
    if behaviour is _hang:
        # The planted hang, quickly. Only there: the other cases (a recursion run to the
        # deep worker's limit above all) take seconds on a loaded machine and must not be
        # judged by a clock.
        monkeypatch.setattr(fuzzlib, "TIMEOUT", 3.0)
    fam = fuzzlib.Family("selftest", fuzz_root, record=False)
    setup = _plant(behaviour) if behaviour else None
    res = fam.run(0, Case(argv, {"rules.yaml": RULES}, locate="file", child_setup=setup))
    assert res.kind == kind, res
    assert key in res.key, res
