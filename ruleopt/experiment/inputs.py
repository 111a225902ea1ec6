"""A cell's inputs: its rules, loaded, and its workload as a file (generated ones made once
into the results' ``inputs/`` directory, atomically, keyed by what they are made from).

The contract's ``workload_path``/``rules_of``, small, so the measurement modules run on
their own; the runner's module provides the same two functions.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ruleopt.errors import RuleoptError
from ruleopt.events.generator import generate
from ruleopt.events.workload_scap import write_capture
from ruleopt.experiment.cell import CellContext
from ruleopt.rules.loader import load_rules
from ruleopt.rules.model import RuleSet

FORMATS = ("scap", "npz")


def rules_of(ctx: CellContext) -> RuleSet:
    if not ctx.cell.ruleset:
        raise RuleoptError(f"cell {ctx.cell.id()}: no rules files", hint="list a ruleset")
    return load_rules(list(ctx.cell.ruleset))


def _rules_hash(paths: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def workload_path(ctx: CellContext) -> Path:
    """The workload's file: a capture or table as given, a generated one made once."""
    w = ctx.cell.workload
    kind = w.get("kind")
    if kind in ("capture", "table"):
        return Path(w["path"])
    if kind != "generated":
        raise RuleoptError(
            f"cell {ctx.cell.id()}: unknown workload kind {kind!r}",
            hint="one of capture, table, generated",
        )
    fmt = w.get("format", "scap")
    if fmt not in FORMATS:
        raise RuleoptError(f"unknown generated format {fmt!r}", hint="scap or npz")
    spec = {
        "rules": _rules_hash(ctx.cell.ruleset),
        "events": int(w["events"]),
        "seed": int(w.get("seed", 0)),
        "break_share": float(w.get("break_share", 0.01)),
        "format": fmt,
    }
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    path = Path(ctx.inputs_dir) / f"generated-{digest}.{fmt}"
    if path.exists():
        return path
    Path(ctx.inputs_dir).mkdir(parents=True, exist_ok=True)
    rules = rules_of(ctx)
    table = generate(
        rules, spec["events"], spec["seed"], spec["break_share"], capture=fmt == "scap"
    )
    if fmt == "scap":
        write_capture(table, path)
    else:
        table.save(path)  # EventTable.save writes atomically
    return path
