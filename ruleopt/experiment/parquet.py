"""``RESULTS/results.parquet``: every cell's figures as one long table, one row per cell
and figure (a failed cell: one row, no figure, its status), for pandas, DuckDB or
pyarrow. Rewritten atomically from ``cells/*.json`` at the end of every run."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ruleopt.experiment.cell import canonical
from ruleopt.fsutil import atomic_write

SCHEMA = pa.schema(
    [
        ("cell_id", pa.string()),
        ("measurement", pa.string()),
        ("ruleset", pa.string()),  # the rules files, joined by ", " in load order
        ("workload", pa.string()),  # the workload as canonical JSON
        ("strategy", pa.string()),
        ("engine", pa.string()),
        ("build", pa.string()),
        ("repeat", pa.int64()),
        ("figure", pa.string()),
        ("value", pa.float64()),
        ("spread", pa.float64()),
        ("status", pa.string()),
    ]
)


def rows_of(doc: dict) -> list[dict]:
    key = doc["key"]
    base = {
        "cell_id": doc["id"],
        "measurement": key["measurement"],
        "ruleset": ", ".join(key["ruleset"]),
        "workload": canonical(key["workload"]),
        "strategy": key["strategy"],
        "engine": key["engine"],
        "build": key["build"],
        "repeat": int(key["repeat"]),
        "status": doc.get("status", "error"),
    }
    figures = doc.get("figures") or {}
    if not figures:
        return [{**base, "figure": None, "value": None, "spread": None}]
    spread = doc.get("spread") or {}
    return [
        {**base, "figure": name, "value": float(v), "spread": spread.get(name)}
        for name, v in sorted(figures.items())
    ]


def write_parquet(path: Path, cell_files: Iterable[Path]) -> Path:
    """The table of the cells whose files exist (a partial run gives a partial table)."""
    rows: list[dict] = []
    for p in cell_files:
        try:
            doc = json.loads(Path(p).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        rows.extend(rows_of(doc))
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    atomic_write(path, lambda fh: pq.write_table(table, fh))
    return path
