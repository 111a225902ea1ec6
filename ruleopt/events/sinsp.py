"""Bridge to the real libsinsp (Falco's 2022 libraries) through ``build/ruleopt-sinsp``.

Two uses:

* :func:`extract` reads a capture and returns, per event, the values libsinsp extracts
  for a list of rule fields — the exact values its filters compare against.
* :func:`run_harness` compiles rule conditions with libsinsp's own filter compiler,
  indexes them by event type as Falco does, runs them over a capture and returns match
  lists plus rdtsc cycle histograms per rule.

The C++ program is built on first use (``make -C plugin``) and rebuilt when its sources
are newer than the binary. Semantics worth knowing (details in plugin/sinsp_tool.cpp):

* Internal events (procinfo snapshots at the start of a capture) are skipped unless
  ``internal=True``, as sysdig does; their evt.nums are still consumed.
* ``proc.aname`` / ``proc.apid`` without an index come back as the list of all
  ancestors (parent first, not the process itself), as libsinsp compares them: any
  ancestor for which the operator holds makes the check true.
* ``fd.ip``/``fd.net`` and ``fd.port``/``fd.proto`` come back as the list of client and
  server values of the socket (one value for a listening socket). libsinsp's ``=``,
  ``in``, ``<``… hold if any holds; its ``!=`` holds only if none is equal. (libsinsp
  2022 compares ``fd.proto`` on ports: that is its behaviour, reproduced here.)
* ``None`` means libsinsp's extract returned nothing (e.g. ``fd.name`` on an event
  with no fd), so any comparison on it is false.
* Strings with bytes that are not UTF-8 carry them as lone surrogates;
  ``s.encode("utf-8", "surrogateescape")`` gives back the bytes.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ruleopt.errors import RuleoptError

REPO_ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPO_ROOT / "plugin"
BINARY = REPO_ROOT / "build" / "ruleopt-sinsp"
MAX_RULES = 4096

_SETUP_HINT = "run ./setup.sh (installs libfalcosecurity0-dev, a C++ compiler and make)"


def _sources() -> list[Path]:
    return (
        sorted(PLUGIN_DIR.glob("sinsp_*.cpp"))
        + sorted(PLUGIN_DIR.glob("sinsp_*.h"))
        + [PLUGIN_DIR / "Makefile"]
    )


def _stale(binary: Path) -> bool:
    if not binary.exists():
        return True
    built = binary.stat().st_mtime
    return any(src.exists() and src.stat().st_mtime > built for src in _sources())


def ensure_built() -> Path:
    """Return the path of ``ruleopt-sinsp``, building it first if missing or stale.

    ``RULEOPT_SINSP`` in the environment names a prebuilt binary to use instead.
    """
    override = os.environ.get("RULEOPT_SINSP")
    if override:
        path = Path(override)
        if not os.access(path, os.X_OK):
            raise RuleoptError(
                "RULEOPT_SINSP does not name an executable", file=str(path), hint=_SETUP_HINT
            )
        return path
    if not _stale(BINARY):
        return BINARY
    if shutil.which("make") is None or shutil.which(os.environ.get("CXX", "g++")) is None:
        raise RuleoptError(
            "cannot build ruleopt-sinsp: make or the C++ compiler is missing",
            file=str(PLUGIN_DIR / "Makefile"),
            hint=_SETUP_HINT,
        )
    BINARY.parent.mkdir(parents=True, exist_ok=True)
    # Several processes (parallel tests, helpers) may ask at once: build under a lock
    # and re-check staleness once we hold it.
    with open(BINARY.parent / ".ruleopt-sinsp.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _stale(BINARY):
            proc = subprocess.run(
                ["make", "-s", "-C", str(PLUGIN_DIR), f"OUT={BINARY}"],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0 or not BINARY.exists():
                tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
                raise RuleoptError(
                    "cannot build ruleopt-sinsp against libsinsp:\n" + tail,
                    file=str(PLUGIN_DIR / "Makefile"),
                    hint=_SETUP_HINT,
                )
    return BINARY


def _error_from(proc: subprocess.CompletedProcess, default_file: str) -> RuleoptError:
    """Turn the program's stderr (a human line, then a JSON line) into a RuleoptError."""
    stderr = (
        proc.stderr.decode("utf-8", "replace")
        if isinstance(proc.stderr, bytes)
        else (proc.stderr or "")
    )
    for line in reversed(stderr.strip().splitlines()):
        if line.startswith("{"):
            try:
                info = json.loads(line)
            except json.JSONDecodeError:
                break
            hint = None
            if "Is the file truncated" in info["error"] or "invalid block" in info["error"]:
                hint = (
                    "the file is not a complete scap capture this libsinsp (2022) can read; "
                    "re-record it or use another capture"
                )
            return RuleoptError(
                info["error"],
                file=info.get("file") or default_file,
                line=info.get("line"),
                event=info.get("event"),
                hint=hint,
            )
    text = stderr.strip() or f"exit code {proc.returncode}"
    if proc.returncode < 0:
        text = f"ruleopt-sinsp crashed (signal {-proc.returncode}): {text}"
    return RuleoptError(text, file=default_file)


def extract(
    capture: Path | str, fields: Sequence[str], *, internal: bool = False
) -> tuple[list[dict[str, Any]], list[list[Any]]]:
    """``extract_full`` without its trailer: ``(meta, rows)``."""
    meta, rows, _ = extract_full(capture, fields, internal=internal)
    return meta, rows


def extract_full(
    capture: Path | str, fields: Sequence[str], *, internal: bool = False
) -> tuple[list[dict[str, Any]], list[list[Any]], dict[str, Any]]:
    """Extract ``fields`` from every event of ``capture`` with libsinsp's filterchecks.

    Returns ``(meta, rows)``. ``meta`` has one dict per field: ``name``, ``known`` (does
    this libsinsp know it), ``type`` (e.g. ``"PT_CHARBUF"``), ``canonical``, ``multi``
    (value is a list, see module doc) and ``error`` (why unknown). Each row is
    ``[evt.num, evt.type, dir, v1, v2, ...]`` in capture order, ``dir`` being ``">"``
    (enter) or ``"<"`` (exit). The trailer holds ``events``, ``events_read``,
    ``outside_all_types`` (event type names that Falco's index never gives to a rule
    without an evt.type condition: generic syscall events) and ``field_errors`` (fields
    whose extraction threw on some events; those values are absent).
    """
    for f in fields:
        if not f.strip() or "\n" in f or "\r" in f:
            raise RuleoptError(f"invalid field name {f!r}", hint="one field name per entry")
    binary = ensure_built()
    with tempfile.NamedTemporaryFile("w", suffix=".fields", delete=False) as tmp:
        tmp.write("".join(f.strip() + "\n" for f in fields))
        fields_path = tmp.name
    try:
        cmd = [str(binary), "extract", str(capture), fields_path]
        if internal:
            cmd.append("--internal")
        proc = subprocess.run(cmd, capture_output=True)
    finally:
        os.unlink(fields_path)
    if proc.returncode != 0:
        raise _error_from(proc, str(capture))
    lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
    header = json.loads(lines[0])
    trailer = json.loads(lines[-1])
    rows = [json.loads(line) for line in lines[1:-1]]
    if len(rows) != trailer["events"]:
        raise RuleoptError(
            f"ruleopt-sinsp output is incomplete: {len(rows)} rows for {trailer['events']} events",
            file=str(capture),
        )
    return header["fields"], rows, trailer


def run_harness(
    capture: Path | str,
    rules: Sequence[tuple[int, str, str]],
    repeat: int = 1,
    *,
    internal: bool = False,
) -> dict[str, Any]:
    """Run ``(id, name, condition)`` rules through libsinsp's compiler and filters.

    Conditions must be fully expanded (no macros or lists); line breaks in them are
    turned into spaces. Returns the program's JSON document: ``events``, ``repeat``,
    ``tsc_hz``, ``rdtsc_overhead``, ``next_cycles`` {count,sum,hist}, ``event_types``,
    and ``rules``: per rule ``id``, ``name``, ``status`` ("ok"/"error"), ``error``,
    ``evttypes``, ``evaluations`` (all passes), ``matches`` and ``matched_evtnums``
    (first pass), ``cycles_matched`` and ``cycles_unmatched`` (all passes; ``hist[b]``
    counts checks of ``2^(b-1) <= cycles < 2^b``).
    """
    if not isinstance(repeat, int) or repeat < 1:
        raise RuleoptError(f"repeat must be a positive integer, not {repeat!r}")
    if len(rules) > MAX_RULES:
        raise RuleoptError(f"too many rules ({len(rules)}): the harness supports {MAX_RULES}")
    seen: set[int] = set()
    lines = []
    for rid, name, cond in rules:
        if not isinstance(rid, int) or rid < 0:
            raise RuleoptError(f"rule id must be a non-negative integer, not {rid!r}")
        if rid in seen:
            raise RuleoptError(f"duplicate rule id {rid}")
        seen.add(rid)
        if any(c in name for c in "\t\r\n"):
            raise RuleoptError(f"rule name {name!r} contains a tab or line break")
        flat = " ".join(cond.splitlines()).replace("\t", " ")
        lines.append(f"{rid}\t{name}\t{flat}\n")
    binary = ensure_built()
    with tempfile.TemporaryDirectory(prefix="ruleopt-sinsp-") as tmp:
        rules_path = Path(tmp) / "rules.tsv"
        out_path = Path(tmp) / "out.json"
        rules_path.write_text("".join(lines), encoding="utf-8", errors="surrogateescape")
        cmd = [
            str(binary),
            "run",
            str(capture),
            str(rules_path),
            "--repeat",
            str(repeat),
            "--json",
            str(out_path),
        ]
        if internal:
            cmd.append("--internal")
        proc = subprocess.run(cmd, capture_output=True)
        if proc.returncode != 0:
            raise _error_from(proc, str(capture))
        return json.loads(out_path.read_text(encoding="utf-8", errors="surrogateescape"))
