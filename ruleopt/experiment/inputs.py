"""A cell's inputs: file hashes, the rules, and its workload on disk.

A generated workload is made once per content key (the rules' hashes, events, seed,
break share, format) into ``RESULTS/inputs/``, atomically, under a lock file so two cells
running at once wait for one generation instead of making two. The lock is ``flock``:
on shared storage that does not honour it across hosts (some NFS set-ups), two hosts may
both generate; the result is the same file (generation is deterministic) and the rename
is atomic, so that costs time, never correctness.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from pathlib import Path

from ruleopt.errors import RuleoptError
from ruleopt.events.generator import generate
from ruleopt.events.workload_scap import write_capture
from ruleopt.experiment.cell import Cell, CellContext, canonical
from ruleopt.fsutil import check_input_file, shown
from ruleopt.rules.loader import load_rules
from ruleopt.rules.model import RuleSet

_CHUNK = 1 << 20
_hash_cache: dict[tuple[str, int, int], str] = {}


def file_hash(path: str | os.PathLike) -> str:
    """``sha256:<hex>`` of the file's bytes (cached per path, size and mtime)."""
    p = check_input_file(path)
    try:
        st = os.stat(p)
        memo = (os.fspath(p), st.st_size, st.st_mtime_ns)
        if memo in _hash_cache:
            return _hash_cache[memo]
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    except OSError as exc:
        raise RuleoptError(
            f"cannot read an input to hash it: {exc.strerror or exc}", file=shown(path)
        ) from None
    _hash_cache[memo] = f"sha256:{h.hexdigest()}"
    return _hash_cache[memo]


def cell_inputs(ruleset: tuple[str, ...], workload: dict) -> dict[str, str]:
    """path -> hash of every file a cell reads: its rules files and capture or table."""
    out = {p: file_hash(p) for p in ruleset}
    if "path" in workload:
        out[workload["path"]] = file_hash(workload["path"])
    return out


def generated_key(cell: Cell) -> str:
    """The content key of a generated workload: what decides its bytes."""
    wl = cell.workload
    doc = {
        "rules": [cell.inputs.get(p) or file_hash(p) for p in cell.ruleset],
        "events": wl["events"],
        "seed": wl["seed"],
        "break_share": wl["break_share"],
        "format": wl.get("format", "scap"),
    }
    return hashlib.sha256(canonical(doc).encode()).hexdigest()[:20]


def rules_of(ctx: CellContext) -> RuleSet:
    return load_rules(list(ctx.cell.ruleset))


def workload_path(ctx: CellContext) -> Path:
    """The cell's events on disk: the capture or table it names, or its generated
    workload (made now if no cell made it before)."""
    wl = ctx.cell.workload
    if wl["kind"] in ("capture", "table"):
        return Path(wl["path"])
    if wl["kind"] != "generated":
        raise RuleoptError(f"unknown workload kind {wl['kind']!r}")
    fmt = wl.get("format", "scap")
    path = Path(ctx.inputs_dir) / f"generated-{generated_key(ctx.cell)}.{fmt}"
    if path.exists():
        return path
    Path(ctx.inputs_dir).mkdir(parents=True, exist_ok=True)
    with _locked(path.with_name(f".{path.name}.lock")):
        if path.exists():  # made by another cell while this one waited
            return path
        rules = rules_of(ctx)
        table = generate(
            rules,
            int(wl["events"]),
            int(wl["seed"]),
            float(wl["break_share"]),
            capture=fmt == "scap",
        )
        if fmt == "scap":
            write_capture(table, path)
        else:
            table.save(path)
    return path


@contextlib.contextmanager
def _locked(lock: Path):
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
