"""Real experiment cells for the report's tests, in the cell contract's file format.

The profile, rate and overhead cells come from the measurement functions themselves; the
speed cells from ``ruleopt compare --json`` (compare's machinery), one cell per strategy
and engine, until the runner's ``measure_speed`` is on main. The cell file's bookkeeping
(schema, id, key, status, machine) is what the runner writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruleopt.errors import RuleoptError
from ruleopt.experiment.cell import SCHEMA, Cell, CellContext
from ruleopt.fsutil import write_text
from ruleopt.profile.model import machine_info

REPO = Path(__file__).resolve().parents[1]


def write_cell(root: Path, cell: Cell, result: dict | None, error: str | None = None) -> Path:
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "id": cell.id(),
        "key": cell.key(),
        "inputs": {},
        "ruleopt_version": "test",
        "machine": {**machine_info(), "load_average": list(os.getloadavg())},
        "started": "2026-12-01T00:00:00Z",
        "elapsed_s": 0.0,
        "status": "ok" if error is None else "error",
    }
    if error is None:
        assert result is not None
        doc.update(result)
    else:
        doc["error"] = error
    path = root / "cells" / f"{cell.id()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(doc, indent=1))
    return path


def run_cell(root: Path, cell: Cell, measure: Callable[[CellContext], dict]) -> dict | str:
    """Measure one cell and write its file (a RuleoptError becomes a failed cell)."""
    ctx = CellContext(cell, root / "work", root / "inputs")
    try:
        result = measure(ctx)
    except RuleoptError as exc:
        write_cell(root, cell, None, str(exc).splitlines()[0])
        return str(exc)
    write_cell(root, cell, result)
    return result


def compare_json(rules: list[str], events: Path, repeat: int = 3) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "ruleopt", "compare", *rules, str(events)]
    cmd += ["--engine", "both", "--repeat", str(repeat), "--json"]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


def speed_cells(root: Path, doc: dict, ruleset: tuple[str, ...], workload: dict) -> list[Cell]:
    """One speed cell per (strategy, engine) row of compare's JSON, contract names."""
    cells = []
    for row in doc["strategies"]:
        cpe, out = row["cycles_per_event"], row["output_cycles_per_alert"]
        figures = {
            "cycles_per_event": cpe["median"],
            "rules_checked_per_event": row["rules_checked_per_event"],
            "alerts": float(row["alerts"]),
            "events": float(doc["n_events"]),
            "equivalent": 1.0 if row["equivalent"] else 0.0,
            "capacity_events_per_s": row["capacity_events_per_second"],
        }
        spread = {"cycles_per_event": cpe["spread"]}
        if row["alerts"]:
            figures["output_cycles_per_alert"] = out["median"]
            spread["output_cycles_per_alert"] = out["spread"]
        if "next_cycles_per_event" in row:
            figures["next_cycles_per_event"] = row["next_cycles_per_event"]["median"]
        cell = Cell(
            "speed",
            ruleset,
            workload,
            row["strategy"],
            row["engine"],
            "untraced",
            0,
            {"mode": doc["mode"]},
        )
        result = {
            "figures": figures,
            "spread": spread,
            "series": {"per_round_cycles_per_event": cpe["repeats"]},
        }
        write_cell(root, cell, result)
        cells.append(cell)
    return cells
