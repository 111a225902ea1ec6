"""The fuzz suite's runner: one case = one CLI invocation in a forked child, judged strictly.

Every case runs ``ruleopt.cli.main(argv)`` in a child forked from the test process (fast:
ruleopt and numpy are already imported; safe: a signal from compiled code, a hang or a
runaway allocation kills the child, never pytest). The child works in a fresh directory
with a private ``TMPDIR``; the parent compares both directory listings before and after.

A case passes when it ends in exactly one of:

* success (exit 0, or a documented non-error exit such as verify's "differ"), having
  written nothing but the requested output;
* exactly one located ``RuleoptError`` (the family decides what "located" means: a file
  and a line, or an event number), exit 1, and no file left behind;
* an argparse usage error (exit 2, one ``error:`` line naming the argument).

Anything else is a failure, classified into a short deduplicated key (exception type and
the innermost ruleopt frame, "signal 11", "timeout", "unlocated error: ...") so that one
bug found a hundred times prints as one line plus its first reproducer.

Reproducing: every case's input comes from ``random.Random(f"{seed}:{family}:{case}")``;
``RULEOPT_FUZZ_SEED=S RULEOPT_FUZZ_CASE=N pytest tests/fuzz/test_fuzz_F.py`` reruns one
case, and the first failing input of each class is saved under the failure directory.
"""

from __future__ import annotations

import faulthandler
import json
import os
import random
import re
import resource
import secrets
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

# --------------------------------------------------------------------------- settings

SEED: int = int(os.environ.get("RULEOPT_FUZZ_SEED") or secrets.randbits(32))
# Multiplies every family's case count; 0.1 for a quick look, 5 for a long night.
SCALE: float = float(os.environ.get("RULEOPT_FUZZ_SCALE") or "1")
# Per-case wall-time limit. Generous: two cores are shared with other work.
TIMEOUT: float = float(os.environ.get("RULEOPT_FUZZ_TIMEOUT") or "20")
# After this many hangs in a family, later cases get SHORT_TIMEOUT: one hang class (a FIFO,
# an unbounded --repeat) must not eat the whole suite's budget.
HANG_CAP = 1
SHORT_TIMEOUT = 5.0
# Wall-time budget of the whole suite in seconds (scaled like the case counts), shared
# out by the families; a family past its share stops early and the summary says how many
# cases it skipped. On an idle machine every case runs well within it; under heavy load
# it keeps CI bounded. 0 disables it.
BUDGET: float = float(os.environ.get("RULEOPT_FUZZ_BUDGET") or "220") * SCALE
# Each family's share of the budget: its share of the time of a full run (measured).
BUDGET_SHARE = {
    "loader": 0.29,
    "parser": 0.16,
    "jsonl": 0.17,
    "npz": 0.11,
    "capture": 0.09,
    "cli": 0.18,
}
# Only this case number (reproducing a printed failure), if set.
ONLY_CASE: int | None = (
    int(os.environ["RULEOPT_FUZZ_CASE"]) if os.environ.get("RULEOPT_FUZZ_CASE") else None
)
# Reduce the first input of each failure class by deleting lines (opt-in: it re-runs the
# case up to MINIMIZE_RUNS times per class) and save it beside the input as minimal.NAME.
MINIMIZE: bool = os.environ.get("RULEOPT_FUZZ_MINIMIZE", "") not in ("", "0")
MINIMIZE_RUNS = 60
# Address-space cap for a case's child: a runaway allocation must fail there (as a
# MemoryError the suite reports), not push the shared machine into swap.
MEMORY_LIMIT = int(float(os.environ.get("RULEOPT_FUZZ_MEMORY_GB") or "3") * 2**30)

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
TRACEBACK_MARK = "Traceback (most recent call last)"


def n_cases(base: int) -> int:
    """The number of cases a family runs at this scale (at least one)."""
    return max(1, round(base * SCALE))


def rng_for(family: str, case: int) -> random.Random:
    """The one source of randomness of one case: reproducible from (seed, family, case)."""
    return random.Random(f"{SEED}:{family}:{case}")


def failure_root() -> Path:
    return Path(tempfile.gettempdir()) / f"ruleopt-fuzz-failures-{SEED}"


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    """One CLI invocation. Paths in ``argv`` are relative to the case's fresh directory."""

    argv: list[str]
    files: dict[str, bytes] = field(default_factory=dict)
    # Paths (relative) a successful run may create; a directory output as "name/".
    outputs: tuple[str, ...] = ()
    # What an error must name: "line" (file and line), "event" (file or event number,
    # and an event number if the message reports a crash), "file" (a file or event).
    locate: str = "line"
    # Exit codes that mean success without an error message (verify: 1 = "differ").
    ok_codes: tuple[int, ...] = (0,)
    # One line saying what was done to the input, for the failure report.
    note: str = ""
    # A short label added to the keys of timeouts and signals (which have no traceback
    # to tell them apart): e.g. the hostile option of a CLI case.
    tag: str = ""
    # Set up special paths (FIFOs, directories) inside the case dir before the run.
    prepare: Callable[[Path], None] | None = None
    # Extra check on a success: returns a failure key or None. Runs in the parent.
    check_ok: Callable[[Path, str, str], str | None] | None = None
    # Extra check on exit 1 with no RuleoptError (check --json's collected errors).
    check_collected: Callable[[Path, str, str], str | None] | None = None
    # Run ``python3 -m ruleopt`` as a real process (exec'd in the child) instead of
    # calling main() in-process: what a user sees, signals and exit status included.
    subprocess: bool = False
    # This case's wall-time limit when its work is big by design (a CLI case that runs on
    # the bundled 200,000-event workload); None: the family's limit.
    timeout: float | None = None
    # Runs in the child before main(): the runner's own tests plant bugs with it.
    child_setup: Callable[[], None] | None = None


@dataclass
class Result:
    kind: str  # "ok" | "located" | "usage" | "fail"
    key: str = ""  # failure class
    detail: str = ""  # the traceback's last line or the message
    seconds: float = 0.0


# --------------------------------------------------------------------------- statistics

# family -> Counter(run, ok, located, usage, fail); read by conftest's terminal summary.
STATS: dict[str, Counter] = {}
# family -> {failure key: (count, first detail, first reproducer)}
FINDINGS: dict[str, dict[str, list]] = {}


def _record(family: str, case: int, res: Result, saved: Path | None) -> None:
    st = STATS.setdefault(family, Counter())
    st["run"] += 1
    st[res.kind] += 1
    st["seconds"] += res.seconds
    if res.kind == "fail":
        found = FINDINGS.setdefault(family, {})
        if res.key in found:
            found[res.key][0] += 1
        else:
            repro = f"seed={SEED}, family={family}, case={case}"
            if saved is not None:
                repro += f", input={saved}"
            found[res.key] = [1, res.detail, repro]


# --------------------------------------------------------------------------- running


def _listing(root: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for d in dirnames:
            out[os.path.normpath(os.path.join(rel, d)) + "/"] = -1
        for f in filenames:
            p = os.path.join(dirpath, f)
            try:
                size = os.lstat(p).st_size
            except OSError:
                size = -2
            out[os.path.normpath(os.path.join(rel, f))] = size
    return out


def _innermost_frame(tb: traceback.StackSummary) -> str:
    """``module.py:function`` of the deepest frame in ruleopt (else the deepest frame)."""
    import ruleopt

    package = str(Path(ruleopt.__file__).resolve().parent) + os.sep
    ours = [f for f in tb if f.filename.startswith(package)]
    frame = (ours or list(tb) or [None])[-1]
    if frame is None:
        return "?"
    return f"{Path(frame.filename).name}:{frame.name}"


def _child(case: Case, work: Path, tmp: Path, io_dir: Path, wfd: int) -> None:
    """Runs in the forked child; never returns."""
    report: dict = {}
    try:
        os.setpgid(0, 0)  # the parent kills the whole group (ruleopt-sinsp too) on timeout
        # pytest's faulthandler writes to pytest's own stderr: a crash is reported by the
        # verdict instead, not as a dump in the middle of the test output.
        faulthandler.disable()
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
        os.chdir(work)
        os.environ["TMPDIR"] = str(tmp)
        tempfile.tempdir = None  # re-read TMPDIR
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        out = os.open(io_dir / "stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err = os.open(io_dir / "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(err, 2)
        # Strict UTF-8 like a user's terminal: printing an unencodable string is a bug.
        sys.stdout = open(1, "w", encoding="utf-8", errors="strict", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
        sys.stdin = open(0, closefd=False)
        if case.subprocess:
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
            os.execve(sys.executable, [sys.executable, "-m", "ruleopt", *case.argv], env)

        from ruleopt import cli

        if case.child_setup:
            case.child_setup()
        raised: list[BaseException] = []

        def wrap(run):
            def wrapped(args):
                try:
                    return run(args)
                except BaseException as exc:
                    raised.append(exc)
                    raise

            return wrapped

        for mod in cli._load_commands():
            mod.run = wrap(mod.run)
        try:
            rc = cli.main(list(case.argv))
            report["rc"] = rc
        except SystemExit as exc:
            # sys.exit() / exit(None) is success; a message instead of a number is exit 1.
            code = exc.code
            report["rc"] = 0 if code is None else code if isinstance(code, int) else 1
            report["system_exit"] = True
        except BaseException as exc:
            tb = traceback.extract_tb(exc.__traceback__)
            report["escaped"] = {
                "type": type(exc).__name__,
                "frame": _innermost_frame(tb),
                "last": traceback.format_exception_only(type(exc), exc)[-1].strip()[:300],
            }
        if raised:
            exc = raised[-1]
            from ruleopt.errors import RuleoptError

            if isinstance(exc, RuleoptError):
                report["error"] = {**exc.to_dict(), "text": str(exc)[:500]}
            else:
                tb = traceback.extract_tb(exc.__traceback__)
                report["caught"] = {
                    "type": type(exc).__name__,
                    "frame": _innermost_frame(tb),
                    "last": traceback.format_exception_only(type(exc), exc)[-1].strip()[:300],
                }
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException as exc:
            report.setdefault(
                "escaped",
                {"type": type(exc).__name__, "frame": "flush", "last": str(exc)[:300]},
            )
    except BaseException as exc:  # the runner itself broke: report, do not hide it
        report["runner"] = f"{type(exc).__name__}: {exc}"
    finally:
        try:
            os.write(wfd, json.dumps(report, default=str).encode())
        finally:
            os._exit(0)


def _run_forked(case: Case, work: Path, tmp: Path, io_dir: Path, timeout: float) -> dict:
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(rfd)
        _child(case, work, tmp, io_dir, wfd)
    os.close(wfd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([rfd], [], [], left)
        if not ready:
            continue
        data = os.read(rfd, 65536)
        if not data:
            break
        chunks.append(data)
    os.close(rfd)
    status = None
    while not timed_out:
        # An exec'd child closes the pipe at once: wait for its exit within the limit.
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            timed_out = True
        time.sleep(0.01)
    if timed_out:
        # The whole group: ruleopt-sinsp started by the case dies with it.
        for target in (-pid, pid):
            try:
                os.kill(target, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.waitpid(pid, 0)
        return {"timeout": True}
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    if case.subprocess:
        return {"rc": os.WEXITSTATUS(status), "subprocess": True}
    try:
        return json.loads(b"".join(chunks) or b"{}")
    except json.JSONDecodeError:
        return {"runner": "unreadable child report"}


_NUM = re.compile(r"\d+")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


_HEX = re.compile(r"#x[0-9a-fA-F]+|0x[0-9a-fA-F]+")


def _norm(text: str) -> str:
    """A message's class: its first two ``:``-separated parts with the input-specific
    bits (quoted text, numbers) blanked, so that one bug's many messages are one line."""
    first = text.splitlines()[0] if text else ""
    first = ":".join(first.split(":")[:2])
    return _NUM.sub("N", _HEX.sub("#xN", _QUOTED.sub("'…'", first)))[:90]


def _located(err: dict, locate: str, argv: list[str]) -> bool:
    has_file = bool(err.get("file"))
    has_event = err.get("event") is not None
    if locate == "line":
        # A file with no line to name (empty, only blank lines) is located by the file.
        whole_file = re.search(r"\bempty\b|no events", err.get("message") or "")
        return (has_file and (err.get("line") is not None or bool(whole_file))) or has_event
    if locate == "event":
        if "crash" in (err.get("message") or "").lower():
            return has_event
        return has_file or has_event
    if locate == "arg":
        # A command-line value is located by the option it was given to.
        text = f"{err.get('message')} {err.get('hint')}"
        # (an option such as --repeat, or the argument itself for a positional one).
        named = {a.strip() for a in argv[1:] if len(a.strip()) >= 2}
        return has_file or has_event or any(a in text for a in named)
    return has_file or has_event


def judge(
    case: Case, rep: dict, work: Path, tmp: Path, io_dir: Path, before: dict[str, int]
) -> Result:
    """The verdict on one finished case (see the module docstring)."""
    if rep.get("timeout"):
        tag = f" [{case.tag}]" if case.tag else ""
        return Result(
            "fail",
            f"no result within the time limit (hang or unbounded work){tag}",
            f"killed after the per-case limit; argv={case.argv}",
        )
    if "signal" in rep:
        name = signal.Signals(rep["signal"]).name
        tag = f" [{case.tag}]" if case.tag else ""
        return Result("fail", f"the ruleopt process died of {name}{tag}", f"argv={case.argv}")
    if "runner" in rep:
        return Result("fail", f"fuzz runner error: {rep['runner'][:80]}", rep["runner"])
    stderr = (io_dir / "stderr").read_text("utf-8", "replace")
    stdout = (io_dir / "stdout").read_text("utf-8", "replace")
    if "escaped" in rep:
        e = rep["escaped"]
        return Result("fail", f"traceback: {e['type']} at {e['frame']}", e["last"])
    if "caught" in rep:
        # cli.main turned a non-RuleoptError (RecursionError) into a message with no place.
        e = rep["caught"]
        return Result(
            "fail", f"unlocated: {e['type']} at {e['frame']} (caught by cli.main)", e["last"]
        )
    if TRACEBACK_MARK in stderr or TRACEBACK_MARK in stdout:
        line = [ln for ln in stderr.splitlines() if ln.strip()][-1:] or ["?"]
        return Result("fail", "a traceback was printed", line[0][:200])
    after = _listing(work)
    new = sorted(p for p in after if p not in before)
    changed = sorted(
        p for p in before if p in after and after[p] != before[p] and not p.endswith("/")
    )
    gone = sorted(p for p in before if p not in after)
    leftover_tmp = sorted(_listing(tmp))
    if "PWNED" in after:
        return Result(
            "fail", "untrusted input executed code (canary file created)", f"argv={case.argv}"
        )
    rc = rep.get("rc")

    def files_problem(allowed: tuple[str, ...]) -> Result | None:
        # The output itself, anything inside it (a directory output), and the parent
        # directories a command may create for it.
        def allowed_path(p: str) -> bool:
            for a in allowed:
                a = os.path.normpath(a)
                q = p.rstrip("/")
                if q == a or q.startswith(a + "/") or (p.endswith("/") and a.startswith(q + "/")):
                    return True
            return False

        stray = [p for p in new if not allowed_path(p)]
        if stray:
            return Result(
                "fail",
                "file(s) written outside the requested output",
                f"{stray[:3]} argv={case.argv}",
            )
        if leftover_tmp:
            return Result(
                "fail", "temporary file(s) left in TMPDIR", f"{leftover_tmp[:3]} argv={case.argv}"
            )
        if changed or gone:
            return Result(
                "fail",
                "an input file was modified or removed",
                f"{(changed + gone)[:3]} argv={case.argv}",
            )
        return None

    if rep.get("subprocess"):
        # Only what a user sees: an exit status and stderr (location is judged in-process).
        n_err = len(re.findall(r"^ruleopt [a-z_]+: error: ", stderr, re.M))
        if rc in case.ok_codes and n_err == 0:
            return files_problem(case.outputs) or Result("ok")
        if rc == 1 and n_err == 1:
            return files_problem(()) or Result("located")
        return Result(
            "fail", f"subprocess: exit {rc} with {n_err} error message(s)", stderr.strip()[-200:]
        )
    if "error" in rep:
        err = rep["error"]
        if rc != 1:
            return Result("fail", f"RuleoptError but exit {rc}", err.get("text", ""))
        n_err = len(re.findall(r"^ruleopt [a-z_]+: error: ", stderr, re.M))
        if n_err != 1:
            return Result(
                "fail", f"{n_err} error messages printed for one error", stderr.strip()[:200]
            )
        if not (err.get("message") or "").strip():
            return Result("fail", "an error with an empty message", err.get("text", "")[:200])
        if not _located(err, case.locate, case.argv):
            return Result(
                "fail", f"unlocated error: {_norm(err['message'])}", err.get("text", "")[:200]
            )
        return files_problem(()) or Result("located", detail=err["message"])
    if rep.get("system_exit"):
        if rc == 2 and stderr.count("error:") == 1 and "usage:" in stderr:
            return files_problem(()) or Result("usage", detail=stderr.strip().splitlines()[-1])
        return Result("fail", f"SystemExit({rc}) without one usage error", stderr.strip()[:200])
    if rc in case.ok_codes:
        problem = files_problem(case.outputs)
        if problem:
            return problem
        missing = [o for o in case.outputs if rc == 0 and not (work / o).exists()]
        if missing:
            return Result(
                "fail",
                "exit 0 but the requested output was not written",
                f"{missing[:2]} argv={case.argv}",
            )
        if case.check_ok:
            key = case.check_ok(work, stdout, stderr)
            if key:
                return Result("fail", key, f"argv={case.argv}")
        return Result("ok")
    if rc == 1 and case.check_collected:
        key = case.check_collected(work, stdout, stderr)
        if key:
            return Result("fail", key, f"argv={case.argv}")
        return files_problem(()) or Result("located")
    if rc == 1 and "interrupted" not in stderr:
        line = stderr.strip().splitlines()[:1] or ["(nothing on stderr)"]
        return Result("fail", f"exit 1 without a RuleoptError: {_norm(line[0])}", line[0][:200])
    return Result("fail", f"unexpected exit code {rc}", stderr.strip()[:200])


class Family:
    """Runs a family's cases and keeps its verdicts; ``assert_clean`` fails the test."""

    def __init__(self, name: str, root: Path, record: bool = True) -> None:
        self.name = name
        self.root = root
        self.hangs = 0
        self.record = record  # False: the runner's own tests, kept out of the summary

    def _execute(self, case: Case) -> tuple[Result, dict[str, bytes]]:
        """Run one case in a fresh directory; the verdict and the run's stdout/stderr."""
        base = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=self.root))
        work, tmp, io_dir = base / "w", base / "t", base / "io"
        for d in (work, tmp, io_dir):
            d.mkdir()
        for rel, data in case.files.items():
            p = work / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        if case.prepare:
            case.prepare(work)
        before = _listing(work)
        timeout = TIMEOUT if self.hangs < HANG_CAP else SHORT_TIMEOUT
        if case.timeout is not None:
            timeout = max(timeout, case.timeout)
        t0 = time.monotonic()
        rep = _run_forked(case, work, tmp, io_dir, timeout)
        res = judge(case, rep, work, tmp, io_dir, before)
        res.seconds = time.monotonic() - t0
        if rep.get("timeout"):
            self.hangs += 1
        outputs = {
            n: (io_dir / n).read_bytes() for n in ("stdout", "stderr") if (io_dir / n).exists()
        }
        shutil.rmtree(base, ignore_errors=True)
        return res, outputs

    def run(self, case_no: int, case: Case) -> Result:
        res, outputs = self._execute(case)
        saved = None
        if self.record:
            if res.kind == "fail" and res.key not in FINDINGS.get(self.name, {}):
                saved = self._save(case_no, case, res, outputs)
                if MINIMIZE and "time limit" not in res.key:
                    self._minimize(case, res.key, saved)
            _record(self.name, case_no, res, saved)
        return res

    def _minimize(self, case: Case, key: str, dest: Path) -> None:
        """Delete lines of the case's largest text input while the failure class stays the
        same (ddmin, bounded to MINIMIZE_RUNS runs); save it as ``minimal.NAME``."""
        texts = [r for r in case.files if r.endswith((".yaml", ".jsonl"))]
        if not texts:
            return
        rel = max(texts, key=lambda r: len(case.files[r]))
        lines = case.files[rel].splitlines(keepends=True)
        runs, n = 0, 2
        while len(lines) >= 2 and runs < MINIMIZE_RUNS:
            size = -(-len(lines) // n)
            for start in range(0, len(lines), size):
                candidate = lines[:start] + lines[start + size :]
                trial = replace(case, files={**case.files, rel: b"".join(candidate)})
                runs += 1
                if self._execute(trial)[0].key == key:
                    lines, n = candidate, max(n - 1, 2)
                    break
                if runs >= MINIMIZE_RUNS:
                    break
            else:
                if n >= len(lines):
                    break
                n = min(len(lines), n * 2)
        (dest / f"minimal.{rel}").write_bytes(b"".join(lines))

    def _save(self, case_no: int, case: Case, res: Result, outputs: dict[str, bytes]) -> Path:
        dest = failure_root() / self.name / f"case-{case_no}"
        if dest.exists():
            shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        for rel, data in case.files.items():
            p = dest / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        (dest / "argv.json").write_text(json.dumps(case.argv) + "\n")  # ASCII: \udcff escaped
        (dest / "verdict.txt").write_bytes(
            f"{res.key}\n{res.detail}\nnote: {case.note}\n".encode("utf-8", "surrogateescape")
        )
        for name, data in outputs.items():
            (dest / f"run.{name}").write_bytes(data)
        return dest

    def run_all(self, base_count: int, make: Callable[[random.Random, int], Case]) -> None:
        cases: Iterable[int] = [ONLY_CASE] if ONLY_CASE is not None else range(n_cases(base_count))
        cases = list(cases)
        budget = BUDGET * BUDGET_SHARE.get(self.name, 0.1) if BUDGET > 0 else None
        t0 = time.monotonic()
        for done, i in enumerate(cases):
            if budget is not None and ONLY_CASE is None and time.monotonic() - t0 > budget:
                STATS.setdefault(self.name, Counter())["skipped"] += len(cases) - done
                break
            self.run(i, make(rng_for(self.name, i), i))

    def assert_clean(self) -> None:
        found = FINDINGS.get(self.name)
        if not found:
            return
        lines = [
            f"{self.name}: {sum(v[0] for v in found.values())} failing case(s) in "
            f"{len(found)} class(es), seed={SEED} (rerun: RULEOPT_FUZZ_SEED={SEED} "
            f"RULEOPT_FUZZ_CASE=N)"
        ]
        for key, (count, detail, repro) in sorted(found.items(), key=lambda kv: -kv[1][0]):
            detail = (detail.splitlines() or [""])[0][:160]
            lines.append(f"  [{count}x] {key} | {detail} | first: {repro}")
        # No Python traceback of the suite itself: the lines above are the whole story.
        pytest.fail("\n".join(lines), pytrace=False)
