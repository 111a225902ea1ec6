"""Text from users' files is printed as it is: rich reads no markup in it, and a huge name
does not make rich's wrapping take minutes.

Found by fresh-seed fuzz runs: a rule named ``[/bold] x`` ended five commands in a rich
MarkupError traceback, and ``check`` on a rule whose ``source`` was 200,000 letters ran
9.5 minutes, wrapping its warning.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TRACES

from ruleopt.cli import main

CAPTURE = str(TRACES / "cat_write.scap")
NAME = "[/bold] x [red]"


@pytest.fixture()
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "markup.yaml"
    path.write_text(
        f'- rule: "{NAME}"\n  desc: d\n'
        "  condition: evt.type = open and proc.name = cat\n"
        '  output: "o [/red] %proc.name"\n  priority: WARNING\n'
        '- rule: "other [/]"\n  desc: d\n  condition: proc.name = cat\n  output: o\n'
        '  priority: WARNING\n  source: "[/plugin]"\n'
    )
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "RULES"],
        ["verify", "RULES", "--trace", CAPTURE],
        ["profile", "RULES", CAPTURE, "--repeat", "1", "--no-plots", "-o", "OUT"],
        ["harness", "RULES", "--trace", CAPTURE, "--repeat", "1", "--no-plots", "-o", "OUT"],
        ["advise", "RULES", CAPTURE],
        ["compare", "RULES", "--against", "RULES", CAPTURE, "--repeat", "1"],
    ],
    ids=lambda a: a[0] + (" --against" if "--against" in a else ""),
)
def test_names_with_brackets_print_as_written(argv, rules, tmp_path, capsys) -> None:
    argv = [str(rules) if a == "RULES" else str(tmp_path / "o") if a == "OUT" else a for a in argv]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "MarkupError" not in out.err
    # Tables may fold a long cell; the name's opening bracket pair is never eaten.
    assert "[/bold]" in out.out


def test_a_huge_source_name_is_checked_in_bounded_time(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(
        "- rule: r\n  desc: d\n  condition: proc.name = cat\n  output: o\n"
        f"  priority: WARNING\n  source: {'a' * 200_000}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "ruleopt", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "(200,000 characters)" in proc.stdout and len(proc.stdout) < 20_000
