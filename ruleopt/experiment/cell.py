"""One cell of an experiment: one measurement on one (ruleset, workload, strategy, engine,
build, repeat), and what a measurement function receives to run it.

A cell's id is stable across runs and machines that see the same files: it hashes the
key fields and the hashes of the files the cell reads, so a finished cell is found again
by id on resume, and a changed rules file or capture gives its cells new ids (they rerun).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = "ruleopt.cell/1"
# The results directory's layout (the contract): one JSON file per cell in CELLS.
CELLS = "cells"
MEASUREMENTS = ("speed", "profile", "rate", "overhead", "advise")
ENGINES = ("replica", "libsinsp")
BUILDS = ("untraced", "rule-traced", "stack-traced")
# A sampled build names its period: "sampled:64" traces one event in 64.
SAMPLED = re.compile(r"sampled:([1-9][0-9]{0,8})\Z")
_ID_HEX = 16


def canonical(doc: object) -> str:
    """The one JSON text of ``doc`` that ids hash: sorted keys, no spaces, no NaN."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Cell:
    measurement: str
    ruleset: tuple[str, ...]
    workload: dict
    strategy: str
    engine: str
    build: str
    repeat: int
    params: dict = field(default_factory=dict)
    # path -> "sha256:..." of every file the cell reads (rules files, capture or table):
    # part of the id, so a changed input reruns its cells.
    inputs: dict = field(default_factory=dict)

    def key(self) -> dict:
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

    def id(self) -> str:
        digest = hashlib.sha256(
            canonical({"key": self.key(), "inputs": self.inputs}).encode()
        ).hexdigest()
        return f"{self.measurement}-{self.engine}-{self.strategy}-{digest[:_ID_HEX]}"

    def label(self) -> str:
        """A short human name for progress lines and messages."""
        wl = self.workload
        what = (
            Path(wl["path"]).name
            if "path" in wl
            else f"generated {wl.get('events')} ev seed {wl.get('seed')}"
        )
        rules = ",".join(Path(p).name for p in self.ruleset)
        return (
            f"{self.measurement} {self.engine}/{self.strategy} {self.build} r{self.repeat} "
            f"[{rules} | {what}]"
        )

    def to_dict(self) -> dict:
        return {**self.key(), "inputs": dict(self.inputs)}

    @classmethod
    def from_dict(cls, doc: dict) -> Cell:
        return cls(
            measurement=doc["measurement"],
            ruleset=tuple(doc["ruleset"]),
            workload=dict(doc["workload"]),
            strategy=doc["strategy"],
            engine=doc["engine"],
            build=doc["build"],
            repeat=int(doc["repeat"]),
            params=dict(doc.get("params") or {}),
            inputs=dict(doc.get("inputs") or {}),
        )


@dataclass
class CellContext:
    """What a measurement function receives."""

    cell: Cell
    workdir: Path  # scratch directory private to this cell, removed after it
    inputs_dir: Path  # RESULTS/inputs/: generated workloads cached by their content key
    progress: Callable[[float], None] | None = None
