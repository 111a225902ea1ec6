"""Running experiments locally: real speed cells on both engines, resume (a deleted cell
alone reruns, a changed input reruns its cells), atomic cell files under interruption, a
worker process killed mid-cell, the Parquet table read back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ruleopt.cli import main
from ruleopt.defaults import DEFAULT_RULES
from ruleopt.engine import real
from ruleopt.experiment import measures
from ruleopt.experiment.cell import CellContext
from ruleopt.experiment.grid import expand
from ruleopt.experiment.runner import run_experiment
from ruleopt.experiment.spec import load_spec

REPO = Path(__file__).resolve().parents[1]
SPEED_FIGURES = {
    "cycles_per_event",
    "rules_checked_per_event",
    "alerts",
    "events",
    "equivalent",
    "capacity_events_per_s",
}

REAL = """\
rulesets: [rules.yaml]
workloads:
  - generated: {events: 2000, seed: 3, break_share: 0.05}
strategies: [baseline, cached-output]
engines: [replica, libsinsp]
measurements:
  speed: {repeat_inner: 1}
"""


# A test-only measurement: no engine, a few milliseconds. Each run appends its cell id to
# RESULTS/runs.log, so a test sees exactly which cells ran. ``kill``: "first" kills its
# own worker process on its first try, "always" on every try.
def fake(ctx: CellContext) -> dict:
    results = ctx.inputs_dir.parent
    cid = ctx.cell.id()
    with open(results / "runs.log", "a", encoding="utf-8") as fh:
        fh.write(cid + "\n")
    kill = ctx.cell.params.get("kill", "never")
    marker = results / f".tried-{cid}"
    if kill == "always" or (kill == "first" and not marker.exists()):
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(float(ctx.cell.params.get("sleep", 0.0)))
    return {
        "figures": {"repeat": float(ctx.cell.repeat), "pid_free": 1.0},
        "spread": {"repeat": 0.0},
        "series": {"x": [1.0, 2.0]},
    }


measures.register("fake", fake, params={"kill": "str", "sleep": "number"})

FAKE = """\
rulesets: [rules.yaml]
workloads:
  - generated: {events: 100}
strategies: [baseline]
engines: [replica]
repeats: 6
measurements:
  fake: {kill: never}
"""


def _exp(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    rules = tmp_path / "rules.yaml"
    if not rules.exists():
        rules.write_bytes(DEFAULT_RULES.read_bytes())
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _run(path: Path, results: Path, **kw):
    spec = load_spec(path)
    return run_experiment(spec, expand(spec), results, progress=False, **kw)


def _runs(results: Path) -> list[str]:
    log = results / "runs.log"
    return log.read_text(encoding="utf-8").split() if log.exists() else []


def _cells(results: Path) -> dict[str, dict]:
    return {
        p.stem: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((results / "cells").glob("*.json"))
    }


def speed_view(cells: dict[str, dict]) -> dict[str, tuple]:
    """What must not depend on where a cell ran: its figure names and its alerts."""
    return {
        cid: (
            doc["status"],
            sorted(doc["figures"]),
            doc["figures"]["alerts"],
            doc["figures"]["equivalent"],
            doc["alerts_digest"],
        )
        for cid, doc in cells.items()
    }


@pytest.mark.skipif(not real.available(), reason="ruleopt-sinsp not built")
def test_speed_cells_on_both_engines_via_the_cli(tmp_path: Path, capsys) -> None:
    exp = _exp(tmp_path, REAL)
    results = tmp_path / "res"
    assert main(["experiment", str(exp), "-o", str(results), "--workers", "2"]) == 0
    cells = _cells(results)
    assert len(cells) == 4
    for cid, doc in cells.items():
        assert doc["schema"] == "ruleopt.cell/1" and doc["id"] == cid and doc["status"] == "ok"
        assert SPEED_FIGURES <= set(doc["figures"]), doc["figures"]
        assert doc["figures"]["equivalent"] == 1.0 and doc["figures"]["events"] == 2000
        assert ("next_cycles_per_event" in doc["figures"]) == (doc["key"]["engine"] == "libsinsp")
        assert len(doc["series"]["per_round_cycles_per_event"]) == 1
        assert doc["machine"]["cpu_count"] == os.cpu_count() and doc["machine"]["tsc_hz"] > 0
        assert str(tmp_path / "rules.yaml") in doc["inputs"] and "experiment" in doc["inputs"]
    # Both engines read the one generated capture: the same alerts.
    alerts = {doc["figures"]["alerts"] for doc in cells.values()}
    assert len(alerts) == 1 and alerts.pop() > 0
    assert len(list((results / "inputs").glob("generated-*.scap"))) == 1
    assert (results / "experiment.yaml").read_text(encoding="utf-8") == REAL
    out = capsys.readouterr().out
    assert "4 cells: 0 already done, 4 run, 0 failed" in out
    table = pq.read_table(results / "results.parquet").to_pylist()
    assert {r["cell_id"] for r in table} == set(cells)
    for r in table:
        doc = cells[r["cell_id"]]
        assert r["value"] == doc["figures"][r["figure"]]
        assert r["spread"] == doc["spread"].get(r["figure"])
        assert (r["engine"], r["strategy"], r["status"]) == (
            doc["key"]["engine"],
            doc["key"]["strategy"],
            "ok",
        )
    # Run again: nothing reruns.
    assert main(["experiment", str(exp), "-o", str(results)]) == 0
    assert "4 cells: 4 already done, 0 run" in capsys.readouterr().out
    assert speed_view(_cells(results)) == speed_view(cells)


def test_resume_reruns_only_missing_and_changed_cells(tmp_path: Path) -> None:
    exp = _exp(tmp_path, FAKE)
    results = tmp_path / "res"
    s = _run(exp, results, workers=2)
    first = _cells(results)
    assert (s.cells, s.ran, s.reused) == (6, 6, 0) and len(first) == 6
    assert sorted(_runs(results)) == sorted(first)
    # Delete one cell: only that one runs.
    gone = sorted(first)[2]
    (results / "cells" / f"{gone}.json").unlink()
    (results / "runs.log").unlink()
    s = _run(exp, results, workers=2)
    assert (s.ran, s.reused) == (1, 5) and _runs(results) == [gone]
    # A failed cell reruns.
    doc = first[sorted(first)[0]]
    doc["status"], doc["error"] = "error", "boom"
    (results / "cells" / f"{doc['id']}.json").write_text(json.dumps(doc), encoding="utf-8")
    (results / "runs.log").unlink()
    s = _run(exp, results, workers=1)
    assert _runs(results) == [doc["id"]] and not s.failed
    # Change an input file: every cell reading it has a new id and reruns; the old
    # files move to stale/.
    with open(tmp_path / "rules.yaml", "a", encoding="utf-8") as fh:
        fh.write("\n# edited\n")
    (results / "runs.log").unlink()
    s = _run(exp, results, workers=2)
    now = _cells(results)
    assert (s.ran, s.reused, s.stale) == (6, 0, 6)
    assert not set(now) & set(first) and sorted(_runs(results)) == sorted(now)
    assert len(list((results / "stale").glob("*.json"))) == 6


def test_a_worker_killed_mid_cell_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    text = FAKE.replace("repeats: 6", "repeats: 5")
    exp = _exp(tmp_path, text)
    results = tmp_path / "res"
    spec = load_spec(exp)
    grid = expand(spec)
    # One cell kills its worker on its first try (the pool breaks under the others).
    victim = grid.cells[1]
    cells = list(grid.cells)
    cells[1] = type(victim)(**{**victim.__dict__, "params": {"kill": "first", "sleep": 0.0}})
    cells = [
        type(c)(**{**c.__dict__, "params": {**c.params, "sleep": 0.3}}) if i != 1 else c
        for i, c in enumerate(cells)
    ]
    grid = type(grid)(tuple(cells), grid.notes)
    s = run_experiment(spec, grid, results, workers=2, progress=False)
    got = _cells(results)
    assert set(got) == {c.id() for c in cells}  # every cell, exactly one file each
    assert all(d["status"] == "ok" for d in got.values()) and not s.failed
    runs = _runs(results)
    assert runs.count(cells[1].id()) == 2  # killed once, rerun once
    assert s.ran == len(cells)


def test_a_cell_that_always_kills_its_worker_fails_alone(tmp_path: Path) -> None:
    exp = _exp(tmp_path, FAKE.replace("repeats: 6", "repeats: 3"))
    spec = load_spec(exp)
    grid = expand(spec)
    cells = list(grid.cells)
    cells[0] = type(cells[0])(**{**cells[0].__dict__, "params": {"kill": "always"}})
    grid = type(grid)(tuple(cells), grid.notes)
    results = tmp_path / "res"
    s = run_experiment(spec, grid, results, workers=2, progress=False)
    got = _cells(results)
    assert set(got) == {c.id() for c in cells}
    assert [d["id"] for d in s.failed] == [cells[0].id()]
    assert "worker process died" in got[cells[0].id()]["error"]
    assert all(got[c.id()]["status"] == "ok" for c in cells[1:])
    assert _runs(results).count(cells[0].id()) == 3
    rows = pq.read_table(results / "results.parquet").to_pylist()
    failed = [r for r in rows if r["cell_id"] == cells[0].id()]
    assert failed == [{**failed[0], "figure": None, "value": None, "status": "error"}]


def test_an_interrupted_run_leaves_only_whole_cells(tmp_path: Path) -> None:
    """SIGTERM to a CLI run mid-way: every cell file there is whole JSON, no temp file is
    left, and the rerun runs exactly the cells that were missing."""
    text = (
        "rulesets: [rules.yaml]\n"
        "workloads:\n  - generated: {events: 1500, seed: 4}\n"
        "strategies: [baseline, cached-output]\nengines: [replica]\nrepeats: 6\n"
        "measurements:\n  speed: {repeat_inner: 1}\n"
    )
    exp = _exp(tmp_path, text)
    results = tmp_path / "res"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ruleopt", "experiment", str(exp), "-o", str(results)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list((results / "cells").glob("*.json"))) >= 2:
                break
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    left = sorted((results / "cells").iterdir())
    done = [p for p in left if p.suffix == ".json"]
    assert left == done, "a temp file was left in cells/"
    assert done, "the run was killed before any cell finished"
    assert len(done) < 12, "the run finished before it was interrupted"
    for p in done:
        assert json.loads(p.read_text(encoding="utf-8"))["status"] == "ok"
    assert not [p for p in (results / "inputs").iterdir() if p.suffix == ".tmp"]
    s = _run(exp, results, workers=2)
    assert s.reused == len(done) and s.ran == 12 - len(done) and not s.failed
    assert len(_cells(results)) == 12
