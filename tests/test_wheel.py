"""The package as users get it: a wheel built from a clean copy of the repository,
installed into a fresh venv, runs every command from a directory outside the source tree.

Slow by nature (it compiles the Cython core and ruleopt-sinsp, then installs the
dependencies into the venv from pip's cache or the configured index): measured 6 to 9
minutes on the shared 2-core machine (pip wheel 300-420 s, pip install 33-73 s, the
commands 12 s). The step timings are printed
(``pytest -s``); nothing is asserted about them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, TRACES

CAPTURE = TRACES / "curl_google.scap"
PROBE_RULES = REPO / "rulesets" / "probe_rules.yaml"


def _clean_env() -> dict[str, str]:
    """No trace of the source tree or of a prebuilt tool: the wheel must stand alone."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RULEOPT_SINSP")}
    env.pop("RULEOPT_WITHOUT_SINSP", None)
    return env


def _run(
    cmd: list[str],
    cwd: Path,
    timings: dict[str, float],
    step: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env or _clean_env(), capture_output=True, text=True)
    timings[step] = time.monotonic() - start
    assert proc.returncode == 0, (
        f"{step} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def _clean_copy(dest: Path) -> Path:
    """The files git tracks, as they are in the work tree (nothing built, no caches)."""
    names = (
        subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, names):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin dir, work dir outside the tree, the clean source copy, timings)."""
    root = tmp_path_factory.mktemp("wheel")
    timings: dict[str, float] = {}
    src = _clean_copy(root / "src")
    dist = root / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(src)],
        root,
        timings,
        "pip wheel",
    )
    wheels = list(dist.glob("ruleopt-*.whl"))
    assert len(wheels) == 1
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], root, timings, "venv")
    _run([str(venv / "bin" / "pip"), "install", "-q", str(wheels[0])], root, timings, "pip install")
    work = root / "elsewhere"
    work.mkdir()
    yield venv / "bin", work, src, timings
    print("\nwheel check timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


def test_wheel_carries_the_tool_and_the_rulesets(installed):
    bindir, work, _, timings = installed
    code = (
        "import ruleopt, ruleopt.defaults as d, ruleopt.events.sinsp as s; "
        "import ruleopt.events.workload_scap as w; "
        "print(ruleopt.__file__); print(d.DEFAULT_RULES); print(s.ensure_built()); "
        "print(w._compiled().__file__)"
    )
    out = _run([str(bindir / "python"), "-c", code], work, timings, "import").stdout.split("\n")
    venv = bindir.parent.resolve()
    for line in out[:4]:
        assert Path(line).resolve().is_relative_to(venv), line
    assert out[2].endswith("ruleopt/_bin/ruleopt-sinsp")
    # The capture writer runs compiled from the wheel (compiled from the .py it ships).
    assert "workload_scap_c" in out[3]


def test_every_command_works_from_the_wheel(installed):
    bindir, work, _, timings = installed
    ruleopt = str(bindir / "ruleopt")

    check = json.loads(_run([ruleopt, "check", "--json"], work, timings, "check").stdout)
    assert check["enabled_rules"] > 0 and not check["errors"]

    verify = json.loads(
        _run(
            [ruleopt, "verify", str(PROBE_RULES), "--trace", str(CAPTURE), "--json"],
            work,
            timings,
            "verify",
        ).stdout
    )
    statuses = [r["status"] for r in verify["rules"]]
    assert statuses and set(statuses) == {"same"}
    assert sum(len(r["libsinsp"]) for r in verify["rules"]) > 0

    harness = json.loads(
        _run(
            [
                ruleopt,
                "harness",
                str(PROBE_RULES),
                "--trace",
                str(CAPTURE),
                "-o",
                "harness-out",
                "--no-plots",
                "--json",
            ],
            work,
            timings,
            "harness",
        ).stdout
    )
    assert harness["engine"] == "libsinsp-2022" and harness["events"] > 0
    assert harness["matches"] > 0
    assert (work / "harness-out" / "profile.json").is_file()

    # With plots: matplotlib must work from the venv too.
    _run([ruleopt, "profile", str(CAPTURE), "-o", "profile-out"], work, timings, "profile")
    assert (work / "profile-out" / "profile.json").is_file()
    assert list((work / "profile-out").glob("*.svg"))

    compare = json.loads(
        _run(
            [ruleopt, "compare", str(CAPTURE), "--repeat", "1", "--json"], work, timings, "compare"
        ).stdout
    )
    assert compare["equivalent"] is True and compare["n_events"] > 0


def test_build_without_libsinsp_headers_fails_clearly(installed):
    # The same clean copy (its Cython objects are already built), with the Falco headers
    # looked for where they are not.
    _, _, src, _ = installed
    env = dict(_clean_env(), FALCO_INC=str(src / "no-such-include-dir"))
    proc = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "-b", str(src / "lib-no-sinsp")],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    err = proc.stderr + proc.stdout
    assert "cannot build ruleopt-sinsp" in err and "libsinsp headers are missing" in err
    assert "RULEOPT_WITHOUT_SINSP" in err and "Traceback" not in err
