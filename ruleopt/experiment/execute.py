"""One cell run where the executor puts it (a local process, a Dask worker): the
measurement, the bookkeeping keys of the contract, the JSON written atomically.

Inputs are read, and the result is written, through the results directory (shared
storage on a cluster); the scratch directory is the worker's own temporary directory.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path

from ruleopt.deep import call_deep
from ruleopt.errors import InternalError, RuleoptError
from ruleopt.experiment import measures
from ruleopt.experiment.cell import CELLS, SCHEMA, Cell, CellContext
from ruleopt.experiment.machine import metadata
from ruleopt.fsutil import write_text

INPUTS = "inputs"
EXPERIMENT_COPY = "experiment.yaml"

OnDone = Callable[[dict], None]


def ruleopt_version() -> str:
    try:
        return importlib_metadata.version("ruleopt")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def cell_path(results: Path, cell_id: str) -> Path:
    return Path(results) / CELLS / f"{cell_id}.json"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_numbers(doc: object, what: str) -> dict:
    if not isinstance(doc, dict):
        raise InternalError(f"the measurement gave {what} that is not a mapping")
    for k, v in doc.items():
        if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InternalError(f"the measurement gave {what}[{k!r}] = {v!r}, not a number")
        if not math.isfinite(v):
            raise InternalError(f"the measurement gave {what}[{k!r}] = {v!r}")
    return {k: float(v) for k, v in doc.items()}


def run_cell(cell_doc: dict, results: str, run: measures.MeasureFn, experiment_hash: str) -> dict:
    """Run one cell and write its JSON into ``results/cells/`` atomically; returns it.

    Runs wherever the executor puts it (a local process, a Dask worker): the inputs are
    read, and the result written, through ``results`` (shared storage on a cluster)."""
    cell = Cell.from_dict(cell_doc)
    cid = cell.id()
    doc: dict = {
        "schema": SCHEMA,
        "id": cid,
        "key": cell.key(),
        "inputs": {**cell.inputs, "experiment": experiment_hash},
        "ruleopt_version": ruleopt_version(),
        "machine": metadata(),
        "started": _now(),
    }
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="ruleopt-cell-") as work:
            ctx = CellContext(cell, Path(work), Path(results) / INPUTS, None)
            # As the CLI runs a command: conditions are walked recursively, on a
            # large-stack thread (ruleopt.deep), wherever the cell runs.
            out = call_deep(lambda: run(ctx))
        if not isinstance(out, dict) or "figures" not in out:
            raise InternalError("the measurement returned no figures")
        figures = _check_numbers(out["figures"], "figures")
        spread = _check_numbers(out.get("spread") or {}, "spread")
        extra = {k: v for k, v in out.items() if k not in ("figures", "spread")}
        doc.update(status="ok", figures=figures, spread=spread, **extra)
        if "series" not in doc:
            doc["series"] = {}
    except RuleoptError as exc:
        doc.update(status="error", error=_one_line(exc), hint=exc.hint)
    except Exception as exc:  # a fault in a measurement: recorded, the other cells go on
        doc.update(
            status="error",
            error=f"internal error: {type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        )
    doc["elapsed_s"] = round(time.perf_counter() - t0, 3)
    try:
        text = json.dumps(doc, indent=1, allow_nan=False)
    except ValueError as exc:  # a NaN in a series: refuse it here, not in the report
        doc = {k: v for k, v in doc.items() if k not in ("figures", "spread", "series")}
        doc.update(status="error", error=f"internal error: result not JSON: {exc}")
        text = json.dumps(doc, indent=1, allow_nan=False)
    write_text(cell_path(Path(results), cid), text + "\n")
    return doc


def _one_line(exc: RuleoptError) -> str:
    loc = exc.location()
    return f"{loc}: {exc.message}" if loc else exc.message


def crashed_doc(cell: Cell, results: Path, experiment_hash: str, why: str) -> dict:
    """The record of a cell whose worker process died every time it ran it."""
    doc = {
        "schema": SCHEMA,
        "id": cell.id(),
        "key": cell.key(),
        "inputs": {**cell.inputs, "experiment": experiment_hash},
        "ruleopt_version": ruleopt_version(),
        "machine": metadata(),
        "started": _now(),
        "elapsed_s": 0.0,
        "status": "error",
        "error": why,
    }
    write_text(cell_path(results, cell.id()), json.dumps(doc, indent=1) + "\n")
    return doc


def finished(results: Path, cell: Cell) -> dict | None:
    """The cell's JSON if it exists, is whole, is this cell's and finished ``ok``."""
    path = cell_path(results, cell.id())
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("id") != cell.id() or doc.get("status") != "ok":
        return None
    return doc
