"""Fuzz suite fixtures: a session directory for cases, warm imports, the summary table."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import fuzzlib


@pytest.fixture(scope="session")
def fuzz_root() -> Iterator[Path]:
    """Where every case's fresh directory is made; removed at the end of the session."""
    # Warm the imports once here so that each forked case starts with them loaded.
    from ruleopt import cli
    from ruleopt.rules import parser

    cli._load_commands()
    parser.parse_condition("proc.name = x")
    root = Path(tempfile.mkdtemp(prefix="ruleopt-fuzz-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def family(request: pytest.FixtureRequest, fuzz_root: Path) -> fuzzlib.Family:
    name = request.node.get_closest_marker("fuzz_family")
    return fuzzlib.Family(name.args[0] if name else request.node.name, fuzz_root)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz_family(name): the fuzz family a test runs")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if not fuzzlib.STATS:
        return
    tr = terminalreporter
    tr.section("ruleopt fuzz")
    tr.write_line(
        f"seed={fuzzlib.SEED} scale={fuzzlib.SCALE} timeout={fuzzlib.TIMEOUT}s "
        f"(rerun one case: RULEOPT_FUZZ_SEED={fuzzlib.SEED} RULEOPT_FUZZ_CASE=N)"
    )
    tr.write_line(
        f"{'family':<10} {'cases':>6} {'ok':>6} {'located':>8} {'usage':>6} "
        f"{'failed':>7} {'classes':>8} {'seconds':>8}"
    )
    total = 0
    for name, st in sorted(fuzzlib.STATS.items()):
        total += st["run"]
        classes = len(fuzzlib.FINDINGS.get(name, {}))
        tr.write_line(
            f"{name:<10} {st['run']:>6} {st['ok']:>6} {st['located']:>8} "
            f"{st['usage']:>6} {st['fail']:>7} {classes:>8} {st['seconds']:>8.1f}"
        )
    tr.write_line(f"{'total':<10} {total:>6}")
    if any(st["skipped"] for st in fuzzlib.STATS.values()):
        tr.write_line(
            f"skipped: cases left when a family used its share of the "
            f"{fuzzlib.BUDGET:.0f} s budget (RULEOPT_FUZZ_BUDGET=0 runs them all)"
        )
    if fuzzlib.FINDINGS:
        tr.write_line(f"failing inputs saved under {fuzzlib.failure_root()}")
