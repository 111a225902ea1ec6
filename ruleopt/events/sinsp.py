"""Bridge to the real libsinsp (Falco's 2022 libraries) through the ``ruleopt-sinsp`` tool.

Two uses:

* :func:`extract` reads a capture and returns, per event, the values libsinsp extracts
  for a list of rule fields — the exact values its filters compare against.
* :func:`run_harness` compiles rule conditions with libsinsp's own filter compiler,
  indexes them by event type as Falco does, runs them over a capture and returns match
  lists plus rdtsc cycle histograms per rule.

Where the tool comes from (:func:`ensure_built`): ``RULEOPT_SINSP`` names a prebuilt
binary (an override, used as is); otherwise it is ``ruleopt/_bin/ruleopt-sinsp`` inside
the package, which ``setup.py``'s build step produces (in a wheel, or in place for an
editable install). In a source checkout it is rebuilt with ``make -C plugin`` when its
sources are newer.

The exchange with the tool carries any text unchanged: rule ids, names and conditions
and field names go to its stdin as netstrings (``<byte length>:<bytes>,``), so tabs,
line breaks, NUL and non-UTF-8 bytes (held in Python as lone surrogates, see below)
reach libsinsp exactly as written; results come back as JSON on its stdout. Nothing is
written to disk, and the tool is killed if we are (it also dies with its parent on its
own, ``PR_SET_PDEATHSIG``).

Semantics worth knowing (details in plugin/sinsp_extract.cpp and sinsp_run.cpp):

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
  ``s.encode("utf-8", "surrogateescape")`` gives back the bytes, in both directions.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ruleopt._ext import abi as _abi
from ruleopt.deep import on_cancel
from ruleopt.errors import RuleoptError

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_DIR.parent
# Present only in a source checkout; an installed wheel has just the built tool.
PLUGIN_DIR = REPO_ROOT / "plugin"
BINARY = PACKAGE_DIR / "_bin" / "ruleopt-sinsp"
# The exchange's constants are defined once, in plugin/ruleopt_abi.h, which the tool is
# compiled with; Python reads them through the small extension ruleopt._ext.abi (built
# from the same header) rather than parsing the header, so no copy can drift and an
# installed wheel (no plugin/ sources) has them too.
MAX_RULES: int = _abi.SINSP_MAX_RULES
MAX_SAMPLE: int = _abi.MAX_SAMPLE  # --sample's bound (plugin/trace.h)
RULE_RECORDS: int = _abi.SINSP_RULE_RECORDS  # netstrings per rule: id, name, condition

_SETUP_HINT = "run ./setup.sh (installs libfalcosecurity0-dev, a C++ compiler and make)"
_REINSTALL_HINT = (
    "install Debian's libfalcosecurity0-dev, then reinstall ruleopt so that its build "
    "step compiles ruleopt-sinsp (from a source checkout, bash setup.sh does both); "
    "or set RULEOPT_SINSP to a built ruleopt-sinsp"
)


def _sources() -> list[Path]:
    # What plugin/Makefile builds the tool from (its SRCS, HDRS and shared headers).
    return (
        sorted(PLUGIN_DIR.glob("sinsp_*.cpp"))
        + sorted(PLUGIN_DIR.glob("sinsp_*.h"))
        + [PLUGIN_DIR / n for n in ("ruleopt_abi.h", "trace.h", "trace.c", "Makefile")]
    )


def _in_source_tree() -> bool:
    return (PLUGIN_DIR / "Makefile").is_file() and (PLUGIN_DIR / "sinsp_tool.cpp").is_file()


def _stale(binary: Path) -> bool:
    if not binary.exists():
        return True
    built = binary.stat().st_mtime
    return any(src.exists() and src.stat().st_mtime > built for src in _sources())


# What ``ruleopt-sinsp version`` must print: the exchange format of this module.
EXCHANGE_VERSION: str = _abi.SINSP_EXCHANGE
_checked: dict[tuple[str, int], None] = {}


def ensure_built() -> Path:
    """Return the path of ``ruleopt-sinsp``, building it first in a source checkout.

    ``RULEOPT_SINSP`` in the environment names a prebuilt binary to use instead. The
    binary must speak this module's exchange format (a stale build does not).
    """
    binary = _locate()
    try:
        key = (str(binary), binary.stat().st_mtime_ns)
    except OSError:
        key = (str(binary), 0)
    if key not in _checked:
        try:
            proc = subprocess.run([str(binary), "version"], capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise RuleoptError(
                f"cannot run ruleopt-sinsp: {e}", file=str(binary), hint=_SETUP_HINT
            ) from None
        if proc.returncode != 0 and b"error while loading shared libraries" in proc.stderr:
            raise _error_from(proc, str(binary))
        if proc.stdout.decode("utf-8", "replace").strip() != EXCHANGE_VERSION:
            raise RuleoptError(
                "this ruleopt-sinsp was built from older sources: it does not speak "
                f"'{EXCHANGE_VERSION}'",
                file=str(binary),
                hint="rebuild it: make -C plugin (writes build/ruleopt-sinsp; point "
                "RULEOPT_SINSP at it), or unset RULEOPT_SINSP to use the package's own",
            )
        _checked[key] = None
    return binary


def _locate() -> Path:
    """The binary to use: the override, the package's, or a fresh build of it."""
    override = os.environ.get("RULEOPT_SINSP")
    if override:
        path = Path(override)
        if not os.access(path, os.X_OK):
            raise RuleoptError(
                "RULEOPT_SINSP does not name an executable", file=str(path), hint=_SETUP_HINT
            )
        return path
    if not _in_source_tree():
        # An installed package: the tool was built with it, or not at all.
        if os.access(BINARY, os.X_OK):
            return BINARY
        raise RuleoptError(
            "this installation of ruleopt has no ruleopt-sinsp (the libsinsp tool): it was "
            "built without libfalcosecurity0-dev",
            file=str(BINARY),
            hint=_REINSTALL_HINT,
        )
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


# ---------------------------------------------------------------------------- exchange


def _to_bytes(text: str, what: str) -> bytes:
    """``text`` as the bytes libsinsp sees; lone surrogates \\udc80-\\udcff stand for bytes."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as e:
        raise RuleoptError(
            f"{what} holds {text[e.start]!r}, a lone surrogate that stands for no byte",
            hint="Falco reads rules as bytes; write the character itself, not a "
            "\\u escape of half of a UTF-16 pair",
        ) from None


def netstrings(items: Iterable[bytes]) -> bytes:
    """The tool's input format: each item as ``<length>:<bytes>,`` (any bytes)."""
    return b"".join(b"%d:%s," % (len(x), x) for x in items)


def _run_tool(cmd: list[str], data: bytes) -> subprocess.CompletedProcess:
    """Run the tool with ``data`` on stdin; it never outlives this call.

    Whatever ends the call (an error, Ctrl-C, SIGTERM turned into SystemExit by the
    CLI), the child is killed and reaped before the exception goes on. If this process
    is killed outright (SIGKILL), the kernel kills the child (PR_SET_PDEATHSIG, set by
    the tool; RULEOPT_PARENT_PID lets it notice a parent that died before that).
    """
    env = dict(os.environ, RULEOPT_PARENT_PID=str(os.getpid()))
    with subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    ) as proc:
        try:
            # On Ctrl-C the main thread kills the child, which ends communicate() here.
            with on_cancel(proc.kill):
                out, err = proc.communicate(data)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _crash_error(
    info: dict[str, Any],
    capture: str,
    rule_names: dict[int, str],
    fields: Sequence[str],
) -> RuleoptError:
    """A located error for the tool's crash record (on_fatal_signal, sinsp_common.cpp)."""
    sig = int(info.get("crash") or 0)
    what = f"signal {sig}, {_signal_name(sig)}"
    phase = info.get("phase")
    event = info.get("event")
    offset = info.get("offset")
    rule = info.get("rule")
    rule_text = repr(rule_names.get(rule, f"id {rule}"))
    if phase == "read" and event is not None:
        cut = ""
        if offset:
            cut = (
                f", or keep the intact events 1-{event} with: "
                f"zcat -f {capture} | head -c {offset} > cut.scap"
            )
        return RuleoptError(
            f"libsinsp crashed reading this capture past this event ({what})",
            file=capture,
            event=event,
            hint=f"the capture is corrupted after event {event}: re-record it{cut}",
        )
    if phase in ("read", "open"):
        return RuleoptError(
            f"libsinsp crashed opening this capture ({what})",
            file=capture,
            hint="the capture's header or first events are corrupted; re-record it",
        )
    if phase == "compile":
        return RuleoptError(
            f"libsinsp crashed compiling the condition of rule {rule_text} ({what})",
            hint="a very deeply nested condition overflows libsinsp's recursive compiler; "
            "flatten it or split the rule",
        )
    if phase == "filter":
        return RuleoptError(
            f"libsinsp crashed running rule {rule_text} on this event ({what})",
            file=capture,
            event=event,
            hint="this event's data is probably corrupted; re-record the capture",
        )
    if phase == "extract":
        item = info.get("item")
        name = fields[item] if isinstance(item, int) and 0 <= item < len(fields) else "evt.type"
        return RuleoptError(
            f"libsinsp crashed extracting {name} from this event ({what})",
            file=capture,
            event=event,
            hint="this event's data is probably corrupted; re-record the capture",
        )
    return RuleoptError(f"ruleopt-sinsp crashed at start-up ({what})", hint=_SETUP_HINT)


def _error_from(
    proc: subprocess.CompletedProcess,
    default_file: str,
    *,
    rule_names: dict[int, str] | None = None,
    fields: Sequence[str] = (),
) -> RuleoptError:
    """Turn the program's stderr (a human line, then a JSON line) into a RuleoptError."""
    stderr = (
        proc.stderr.decode("utf-8", "surrogateescape")
        if isinstance(proc.stderr, bytes)
        else (proc.stderr or "")
    )
    for line in reversed(stderr.strip().splitlines()):
        if not line.startswith("{"):
            continue
        try:
            info = json.loads(line)
        except json.JSONDecodeError:
            break
        if "crash" in info:
            return _crash_error(info, default_file, rule_names or {}, fields)
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
    if "error while loading shared libraries" in text:
        return RuleoptError(
            "ruleopt-sinsp cannot start: " + text.splitlines()[-1],
            file=proc.args[0] if proc.args else None,
            hint="install the Falco libraries: apt-get install libfalcosecurity0 "
            "(or bash setup.sh)",
        )
    if proc.returncode < 0:
        text = f"ruleopt-sinsp was killed ({_signal_name(-proc.returncode)}): {text}"
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
    names = [f.strip() for f in fields]
    for f in names:
        if not f:
            raise RuleoptError("empty field name", hint="one field name per entry")
    data = netstrings(_to_bytes(f, f"field name {f!r}") for f in names)
    binary = ensure_built()
    cmd = [str(binary), "extract", str(capture), "-"]
    if internal:
        cmd.append("--internal")
    proc = _run_tool(cmd, data)
    if proc.returncode != 0:
        raise _error_from(proc, str(capture), fields=names)
    # Split on b"\n" only: the tool escapes it inside strings, but str.splitlines()
    # would also split on U+2028, U+0085... which it leaves raw (valid UTF-8).
    lines = [line.decode("utf-8", "surrogateescape") for line in proc.stdout.split(b"\n") if line]
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
    sample: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Run ``(id, name, condition)`` rules through libsinsp's compiler and filters.

    Conditions must be fully expanded (no macros or lists). Names and conditions reach
    libsinsp byte for byte (any characters; see the module doc) and names come back
    unchanged in the result. Returns the program's JSON document: ``events``, ``repeat``,
    ``tsc_hz``, ``rdtsc_overhead``, ``next_cycles`` {count,sum,hist}, ``event_types``,
    and ``rules``: per rule ``id``, ``name``, ``status`` ("ok"/"error"), ``error``,
    ``evttypes``, ``evaluations`` (all passes), ``matches`` and ``matched_evtnums``
    (first pass), ``cycles_matched`` and ``cycles_unmatched`` (all passes; ``hist[b]``
    counts checks of ``2^(b-1) <= cycles < 2^b``).

    ``sample`` N times next() and the checks of each event with probability 1/N (``seed``
    draws the gaps; 1 times every event, 0 none); every check is still counted. The
    document then also has ``sample``, ``sampled_events``, ``pass_cycles`` (each pass's
    loop cycles) and per rule ``cycles_matched_moments``/``cycles_unmatched_moments``
    (plugin/trace.h's: sum of squares, outliers' sum and sum of squares).
    """
    if not isinstance(repeat, int) or repeat < 1:
        raise RuleoptError(f"repeat must be a positive integer, not {repeat!r}")
    if len(rules) > MAX_RULES:
        raise RuleoptError(f"too many rules ({len(rules)}): the harness supports {MAX_RULES}")
    seen: set[int] = set()
    records: list[bytes] = []
    names: dict[int, str] = {}
    for rid, name, cond in rules:
        if not isinstance(rid, int) or rid < 0:
            raise RuleoptError(f"rule id must be a non-negative integer, not {rid!r}")
        if rid in seen:
            raise RuleoptError(f"duplicate rule id {rid}")
        seen.add(rid)
        names[rid] = name
        rule_records = [
            str(rid).encode(),
            _to_bytes(name, f"rule name {name!r}"),
            _to_bytes(cond, f"the condition of rule {name!r}"),
        ]
        assert len(rule_records) == RULE_RECORDS
        records += rule_records
    binary = ensure_built()
    if isinstance(sample, bool) or not isinstance(sample, int) or not 0 <= sample <= MAX_SAMPLE:
        raise RuleoptError(f"sample must be an integer from 0 to {MAX_SAMPLE:,}, not {sample!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 1 << 64:
        raise RuleoptError(f"seed must be a 64-bit non-negative integer, not {seed!r}")
    cmd = [str(binary), "run", str(capture), "-", "--repeat", str(repeat)]
    cmd += ["--sample", str(sample), "--seed", str(seed)]
    if internal:
        cmd.append("--internal")
    proc = _run_tool(cmd, netstrings(records))
    if proc.returncode != 0:
        raise _error_from(proc, str(capture), rule_names=names)
    return json.loads(proc.stdout.decode("utf-8", "surrogateescape"))
