"""The README's first command (after `bash setup.sh`) runs from a fresh checkout: the quick
study on the bundled default, then its report, which says where it is."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _first_command() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)\n```", readme, re.S).group(1)
    first = block.splitlines()[0].split("#", 1)[0].strip()
    assert first.startswith("bash setup.sh && "), first
    return first.removeprefix("bash setup.sh && ")


def test_the_readmes_first_command_writes_the_report(tmp_path: Path) -> None:
    cmd = _first_command()
    assert "ruleopt experiment" in cmd and "ruleopt report" in cmd
    # Run where a fresh clone would be, with its experiments/ beside the results.
    (tmp_path / "experiments").symlink_to(REPO / "experiments")
    # `ruleopt` as installed, or this tree's package when run from a source checkout.
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "ruleopt").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ruleopt "$@"\n')
    (shim / "ruleopt").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    proc = subprocess.run(
        ["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = tmp_path / "results" / "report.html"
    assert f"wrote {Path('results') / 'report.html'}" in proc.stdout or str(report) in proc.stdout
    page = report.read_text(encoding="utf-8")
    assert page.count("<svg") >= 3
    for section in ("Proposal 1: faster matching", "Proposal 2: finer tagging"):
        assert section in page, section
    assert "Proposal 3: cached output" in page
    cells = list((tmp_path / "results" / "cells").glob("*.json"))
    assert cells and not list((tmp_path / "results" / "cells").glob("*.tmp*"))
