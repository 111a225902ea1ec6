"""The tree passes ``ruff check`` and ``ruff format --check`` (what ``.ci/run`` runs), so
the README's test command catches style drift too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("argv", [["check", "."], ["format", "--check", "."]], ids=" ".join)
def test_ruff(argv: list[str]) -> None:
    ruff = shutil.which("ruff")
    assert ruff is not None, "ruff is a test dependency: pip install -e '.[test]'"
    run = subprocess.run([ruff, *argv], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-1000:]
