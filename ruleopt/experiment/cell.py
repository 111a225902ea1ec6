"""One experiment cell: one measurement on one (ruleset, workload, strategy, engine, build,
repeat), and what a measurement function receives (the cell contract, shared with the
runner).

This is the contract's interface as a small module of its own, field for field, so the
measurement modules and their tests run before the runner's fuller ``cell.py`` lands;
identical field names make the two interchangeable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MEASUREMENTS: tuple[str, ...] = ("speed", "profile", "rate", "overhead", "advise")
ENGINES: tuple[str, ...] = ("replica", "libsinsp")
BUILDS: tuple[str, ...] = ("untraced", "rule-traced", "stack-traced")
SAMPLED_PREFIX = "sampled:"  # "sampled:N": the sampled build tracing one check in N
CELL_SCHEMA = "ruleopt.cell/1"


@dataclass(frozen=True)
class Cell:
    measurement: str
    ruleset: tuple[str, ...]
    workload: dict
    strategy: str
    engine: str
    build: str
    repeat: int
    params: dict

    def key(self) -> dict[str, Any]:
        """The key fields, JSON-ready (what a cell file's ``key`` holds)."""
        return {
            "measurement": self.measurement,
            "ruleset": list(self.ruleset),
            "workload": dict(self.workload),
            "strategy": self.strategy,
            "engine": self.engine,
            "build": self.build,
            "repeat": self.repeat,
            "params": dict(self.params),
        }

    def id(self, input_hashes: Mapping[str, str] | None = None) -> str:
        """Stable and filesystem-safe: the sha256 of the canonical JSON of the key (and the
        input hashes, so changed inputs make a new cell), prefixed by what the cell is."""
        doc = {"key": self.key(), "inputs": dict(sorted((input_hashes or {}).items()))}
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        digest = hashlib.sha256(text.encode("ascii")).hexdigest()[:16]
        return f"{self.measurement}-{self.engine}-{self.strategy}-{digest}"


@dataclass
class CellContext:
    cell: Cell
    workdir: Path
    inputs_dir: Path
    progress: Callable[[float], None] | None = None
