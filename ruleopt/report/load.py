"""Read an experiment's results: ``RESULTS/cells/*.json``, tolerant of a partial run.

A cell file that cannot be read or does not follow the contract is listed as unreadable
(with why), a failed cell as failed (with its error): the report says what is missing and
goes on with the rest. Only a results directory with no cell at all is an error.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruleopt.errors import RuleoptError
from ruleopt.experiment.cell import CELLS, SCHEMA
from ruleopt.fsutil import shown

# A cell file is a few figures and series; anything far larger is not one of ours.
MAX_CELL_BYTES = 64 * 1024 * 1024
KEY_FIELDS = ("measurement", "ruleset", "workload", "strategy", "engine", "build", "repeat")


@dataclass(frozen=True)
class CellResult:
    """One ok cell: its key and its numbers."""

    id: str
    key: dict[str, Any]
    figures: dict[str, float]
    spread: dict[str, float]
    series: dict[str, Any]
    machine: dict[str, Any]
    path: Path

    @property
    def measurement(self) -> str:
        return str(self.key["measurement"])

    @property
    def engine(self) -> str:
        return str(self.key["engine"])

    @property
    def strategy(self) -> str:
        return str(self.key["strategy"])

    @property
    def build(self) -> str:
        return str(self.key["build"])


@dataclass
class Results:
    root: Path
    cells: list[CellResult] = field(default_factory=list)
    # id, measurement, engine, strategy, build, error, and the key
    failed: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[dict[str, str]] = field(default_factory=list)  # file, reason

    def of(self, measurement: str) -> list[CellResult]:
        return [c for c in self.cells if c.measurement == measurement]


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _numbers(doc: Any, what: str) -> dict[str, float]:
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ValueError(f"{what} is not an object")
    out = {}
    for k, v in doc.items():
        if not _finite(v):
            raise ValueError(f"{what}.{k} is not a finite number")
        out[str(k)] = float(v)
    return out


def _finite(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, int | float) and math.isfinite(x)


def _check_key(key: Any) -> None:
    if not isinstance(key, dict) or any(f not in key for f in KEY_FIELDS):
        raise ValueError("its key lacks one of " + ", ".join(KEY_FIELDS))
    for f in ("measurement", "strategy", "engine", "build"):
        if not isinstance(key[f], str):
            raise ValueError(f"key.{f} is not a string")
    if not isinstance(key["ruleset"], list) or not all(isinstance(p, str) for p in key["ruleset"]):
        raise ValueError("key.ruleset is not a list of paths")
    if not isinstance(key["workload"], dict):
        raise ValueError("key.workload is not an object")
    if not isinstance(key.get("params", {}), dict):
        raise ValueError("key.params is not an object")


def _numbers_list(x: Any, what: str) -> list[float]:
    if not isinstance(x, list) or not all(_finite(v) for v in x):
        raise ValueError(f"series.{what} is not a list of finite numbers")
    return x


def _check_series(measurement: str, series: dict) -> None:
    """The series the report draws, checked before it draws them (the rest it ignores)."""
    if measurement == "profile":
        rules = series.get("rules", [])
        if not isinstance(rules, list):
            raise ValueError("series.rules is not a list")
        for i, r in enumerate(rules):
            if not isinstance(r, dict) or not isinstance(r.get("rule"), str):
                raise ValueError(f"series.rules[{i}] has no rule name")
            if not all(_finite(r.get(k, 0)) for k in ("checks", "matches")):
                raise ValueError(f"series.rules[{i}]: checks and matches must be numbers")
            for h in ("matched_hist", "unmatched_hist"):
                rows = r.get(h, [])
                if not isinstance(rows, list) or not all(
                    isinstance(b, list) and len(b) == 3 and all(_finite(v) for v in b) for b in rows
                ):
                    raise ValueError(f"series.rules[{i}].{h} is not a list of [lo, hi, count]")
    elif measurement == "advise":
        findings = series.get("findings", [])
        if not isinstance(findings, list):
            raise ValueError("series.findings is not a list")
        for i, f in enumerate(findings):
            if not isinstance(f, dict) or not all(
                isinstance(f.get(k), str) for k in ("code", "rule")
            ):
                raise ValueError(f"series.findings[{i}] has no code and rule")
            saving = f.get("saving_cycles")
            if saving is not None and not _finite(saving):
                raise ValueError(f"series.findings[{i}].saving_cycles is not a number")
    elif measurement == "rate" and "rates" in series:
        rates = _numbers_list(series["rates"], "rates")
        shares = _numbers_list(series.get("drop_share"), "drop_share")
        if len(rates) != len(shares):
            raise ValueError("series.rates and series.drop_share differ in length")


def read_cell(path: Path) -> CellResult | dict[str, Any]:
    """An ok cell, or a failed cell's {id, measurement, error}; raises ValueError with the
    reason for a file that is not a cell."""
    if path.stat().st_size > MAX_CELL_BYTES:
        raise ValueError(f"larger than {MAX_CELL_BYTES // 2**20} MiB")
    doc = json.loads(path.read_bytes(), parse_constant=_reject_constant)
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ValueError(f"not a cell (schema is not {SCHEMA!r})")
    key = doc.get("key")
    _check_key(key)
    cid = str(doc.get("id", path.stem))
    if doc.get("status") != "ok":
        return {
            "id": cid,
            "measurement": str(key["measurement"]),
            "engine": str(key["engine"]),
            "strategy": str(key["strategy"]),
            "build": str(key["build"]),
            "error": str(doc.get("error") or f"status {doc.get('status')!r}"),
            "key": key,
        }
    series = doc.get("series") or {}
    if not isinstance(series, dict):
        raise ValueError("series is not an object")
    _check_series(str(key["measurement"]), series)
    return CellResult(
        id=cid,
        key=key,
        figures=_numbers(doc.get("figures"), "figures"),
        spread=_numbers(doc.get("spread"), "spread"),
        series=series,
        machine=doc.get("machine") if isinstance(doc.get("machine"), dict) else {},
        path=path,
    )


def load_results(root: Path | str) -> Results:
    root = Path(root)
    cells_dir = root / CELLS
    if not root.is_dir():
        raise RuleoptError(
            "not a results directory",
            file=shown(root),
            hint="pass the directory `ruleopt experiment FILE.yaml -o RESULTS/` wrote",
        )
    files = sorted(cells_dir.glob("*.json")) if cells_dir.is_dir() else []
    out = Results(root)
    for path in files:
        try:
            got = read_cell(path)
        except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
            out.unreadable.append({"file": path.name, "reason": str(exc) or type(exc).__name__})
            continue
        if isinstance(got, CellResult):
            out.cells.append(got)
        else:
            out.failed.append(got)
    if not out.cells and not out.failed:
        more = f" ({len(out.unreadable)} unreadable file(s))" if out.unreadable else ""
        raise RuleoptError(
            f"no cell results in {shown(cells_dir)}{more}",
            file=shown(root),
            hint="run `ruleopt experiment FILE.yaml -o RESULTS/` first; the report reads "
            "RESULTS/cells/*.json",
        )
    return out
